//! Host templates on PostgreSQL: the `template_blocks` of src/store/templates.rs, the same
//! rows, written by a check's one write (src/store/pg/check.rs) with the same rule for which
//! blocks were born with their document.

use std::collections::HashSet;

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
