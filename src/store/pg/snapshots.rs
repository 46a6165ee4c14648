//! Versions on PostgreSQL: the methods of src/store/snapshots.rs, and the insert a check makes
//! in its transaction (which also indexes the new text for search, as SQLite's triggers do).

use super::sql::Sql;

use super::web::snapshot_meta as meta;
use super::{PgStore, search};
use crate::store::{NewSnapshot, Result, SnapshotMeta, StoredBody, decompress_text};

/// The columns a [`SnapshotMeta`] is read from ([`meta`]), in its order.
const META: &str = "id, version, fetched_at, text_hash, title, published, lang, words";

/// Stores a new version of a document (its text `text`, `s.text_z` uncompressed) in the
/// caller's transaction, which holds the document's row lock; returns its id. The version
/// number is one past the newest, and (document, version) is unique, so two writers that got
/// past the lock's purpose could not both store version n.
pub(super) fn insert_in(
    tx: &mut impl Sql,
    document_id: i64,
    s: &NewSnapshot,
    now: &str,
    text: &str,
) -> Result<i64> {
    let id: i64 = tx
        .query_one(
            "INSERT INTO snapshots (document_id, version, fetched_at, text_hash, title, published, lang,
                 canonical, encoding, content_type, words, text, body)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2::text, $3::text, $4::text, $5::text, $6::text,
                    $7::text, $8::text, $9::text, $10::bigint, $11::bytea, $12::bytea
             FROM snapshots WHERE document_id = $1
             RETURNING id",
            &[
                &document_id,
                &now,
                &s.text_hash,
                &s.title,
                &s.published,
                &s.lang,
                &s.canonical,
                &s.encoding,
                &s.content_type,
                &s.words,
                &s.text_z,
                &s.body_z,
            ],
        )?
        .get(0);
    search::index_texts(
        tx,
        &[search::Indexed {
            id,
            document_id: Some(document_id),
            at: now,
            text,
        }],
    )?;
    Ok(id)
}

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
