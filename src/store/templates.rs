//! The `template_blocks` table: which short blocks stand on which documents of a host, and
//! whether each document carried the block from its first recorded version (`born`).

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};

use super::{Result, SqliteStore};

impl SqliteStore {
    /// Block keys that at least `min_pages` documents of `host` other than `document_id` have
    /// carried since their first recorded version (see [`crate::template`]).
    pub fn host_template(&self, host: &str, document_id: i64, min_pages: i64) -> Result<HashSet<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash FROM template_blocks WHERE host = ?1 AND document_id != ?2 AND born = 1
             GROUP BY hash HAVING COUNT(*) >= ?3",
        )?;
        let rows = stmt.query_map(params![host, document_id, min_pages], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Replaces a document's recorded blocks with the ones it has now. The first blocks recorded
/// for a document are all born with it; a block that arrives later is not, and a block that
/// stays keeps what it was.
pub(super) fn replace(tx: &Connection, document_id: i64, host: &str, keys: &[i64]) -> Result<()> {
    let before: HashMap<i64, bool> = {
        let mut stmt = tx.prepare_cached("SELECT hash, born FROM template_blocks WHERE document_id = ?1")?;
        let rows = stmt.query_map([document_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let first = before.is_empty();
    tx.execute(
        "DELETE FROM template_blocks WHERE document_id = ?1",
        [document_id],
    )?;
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO template_blocks (host, hash, document_id, born) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for k in keys {
        let born = first || before.get(k).copied().unwrap_or(false);
        stmt.execute(params![host, k, document_id, born])?;
    }
    Ok(())
}
