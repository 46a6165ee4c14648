//! The `template_blocks` table: which short blocks stand on which documents of a host.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::{Result, Store};

impl Store {
    /// Block keys found on at least `min_pages` documents of `host` other than `document_id`.
    pub fn host_template(&self, host: &str, document_id: i64, min_pages: i64) -> Result<HashSet<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash FROM template_blocks WHERE host = ?1 AND document_id != ?2
             GROUP BY hash HAVING COUNT(*) >= ?3",
        )?;
        let rows = stmt.query_map(params![host, document_id, min_pages], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Replaces a document's recorded blocks with the ones it has now.
pub(super) fn replace(tx: &Connection, document_id: i64, host: &str, keys: &[i64]) -> Result<()> {
    tx.execute(
        "DELETE FROM template_blocks WHERE document_id = ?1",
        [document_id],
    )?;
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO template_blocks (host, hash, document_id) VALUES (?1, ?2, ?3)",
    )?;
    for k in keys {
        stmt.execute(params![host, k, document_id])?;
    }
    Ok(())
}
