//! Host templates on PostgreSQL: the `template_blocks` of src/store/templates.rs, the same
//! rows and the same rule for which blocks were born with their document.

use std::collections::{HashMap, HashSet};

use super::sql::Sql;

use super::PgStore;
use crate::store::Result;

impl PgStore {
    /// As [`crate::store::Store::host_template`].
    pub fn host_template(&self, host: &str, document_id: i64, min_pages: i64) -> Result<HashSet<i64>> {
        Ok(self
            .query(
                "SELECT hash FROM template_blocks WHERE host = $1 AND document_id != $2 AND born = 1
                 GROUP BY hash HAVING COUNT(*) >= $3",
                &[&host, &document_id, &min_pages],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}

/// Replaces a document's recorded blocks with `keys`, in the caller's transaction: as
/// src/store/templates.rs's `replace`, the first blocks recorded are born with the document,
/// later ones are not, and a block that stays keeps what it was.
pub(super) fn replace_in(tx: &mut impl Sql, document_id: i64, host: &str, keys: &[i64]) -> Result<()> {
    let before: HashMap<i64, bool> = tx
        .query(
            "DELETE FROM template_blocks WHERE document_id = $1 RETURNING hash, born",
            &[&document_id],
        )?
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) != 0))
        .collect();
    let first = before.is_empty();
    let born: Vec<i64> = keys
        .iter()
        .map(|k| (first || before.get(k).copied().unwrap_or(false)) as i64)
        .collect();
    tx.execute(
        "INSERT INTO template_blocks (host, hash, document_id, born)
         SELECT $1, k, $2, b FROM unnest($3::bigint[], $4::bigint[]) AS t (k, b)
         ON CONFLICT DO NOTHING",
        &[&host, &document_id, &keys, &born],
    )?;
    Ok(())
}
