//! Versions on PostgreSQL: the methods of src/store/snapshots.rs. A check stores its version, and
//! indexes its text for search as SQLite's triggers do, in its one write (src/store/pg/check.rs).

use super::PgStore;
use super::web::snapshot_meta as meta;
use crate::store::{Result, SnapshotMeta, StoredBody, decompress_text};

/// The columns a [`SnapshotMeta`] is read from ([`meta`]), in its order.
const META: &str = "id, version, fetched_at, text_hash, title, published, lang, words";

impl PgStore {
    /// As [`crate::store::Store::latest_snapshot`].
    pub fn latest_snapshot(&self, document_id: i64) -> Result<Option<(SnapshotMeta, String)>> {
        let row = self.query_opt(
            &format!(
                "SELECT {META}, text FROM snapshots WHERE document_id = $1 ORDER BY version DESC LIMIT 1"
            ),
            &[&document_id],
        )?;
        match row {
            Some(r) => Ok(Some((meta(&r), decompress_text(r.get::<_, &[u8]>(8))?))),
            None => Ok(None),
        }
    }

    /// As [`crate::store::Store::latest_snapshot_id`].
    pub fn latest_snapshot_id(&self, document_id: i64) -> Result<Option<i64>> {
        Ok(self
            .query_opt(
                "SELECT id FROM snapshots WHERE document_id = $1 ORDER BY version DESC LIMIT 1",
                &[&document_id],
            )?
            .map(|r| r.get(0)))
    }

    /// As [`crate::store::Store::snapshots`]: oldest first.
    pub fn snapshots(&self, document_id: i64) -> Result<Vec<SnapshotMeta>> {
        Ok(self
            .query(
                &format!("SELECT {META} FROM snapshots WHERE document_id = $1 ORDER BY version"),
                &[&document_id],
            )?
            .iter()
            .map(meta)
            .collect())
    }

    /// As [`crate::store::Store::snapshot_body`].
    pub fn snapshot_body(&self, snapshot_id: i64) -> Result<Option<StoredBody>> {
        Ok(self
            .query_opt(
                "SELECT body, content_type FROM snapshots WHERE id = $1",
                &[&snapshot_id],
            )?
            .and_then(|r| {
                let body: Option<Vec<u8>> = r.get(0);
                body.map(|body_z| StoredBody {
                    body_z,
                    content_type: r.get(1),
                })
            }))
    }

    /// As [`crate::store::Store::snapshot_text`].
    pub fn snapshot_text(&self, document_id: i64, version: i64) -> Result<Option<String>> {
        self.query_opt(
            "SELECT text FROM snapshots WHERE document_id = $1 AND version = $2",
            &[&document_id, &version],
        )?
        .map(|r| decompress_text(r.get::<_, &[u8]>(0)))
        .transpose()
    }
}
