//! The `snapshots` table: one row per distinct version of a document's extracted text, with the
//! bytes as served so later extractors can re-read history.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, SqliteStore, compress, decompress_text};

#[derive(Default)]
pub struct NewSnapshot {
    pub text_hash: String,
    pub title: Option<String>,
    pub published: Option<String>,
    pub lang: Option<String>,
    pub canonical: Option<String>,
    pub encoding: Option<String>,
    pub content_type: Option<String>,
    pub words: i64,
    /// The text, and the body as served, compressed.
    pub text_z: Vec<u8>,
    pub body_z: Vec<u8>,
}

impl NewSnapshot {
    /// A version with `text` and `body`, compressed here, on the caller's thread: compressing is
    /// CPU work that need not hold up the one connection.
    pub fn new(text: &str, text_hash: String, body: &[u8]) -> NewSnapshot {
        NewSnapshot {
            text_hash,
            title: None,
            published: None,
            lang: None,
            canonical: None,
            encoding: None,
            content_type: None,
            words: crate::text::word_count(text) as i64,
            text_z: compress(text.as_bytes()),
            body_z: compress(body),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotMeta {
    pub id: i64,
    pub version: i64,
    pub fetched_at: String,
    pub text_hash: String,
    pub title: Option<String>,
    pub published: Option<String>,
    pub lang: Option<String>,
    pub words: i64,
}

pub(super) fn insert(tx: &Connection, document_id: i64, s: &NewSnapshot, now: &str) -> Result<i64> {
    let version: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM snapshots WHERE document_id = ?1",
        [document_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO snapshots (document_id, version, fetched_at, text_hash, title, published, lang,
             canonical, encoding, content_type, words, text, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            document_id,
            version,
            now,
            s.text_hash,
            s.title,
            s.published,
            s.lang,
            s.canonical,
            s.encoding,
            s.content_type,
            s.words,
            s.text_z,
            s.body_z,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// A stored version's body as served, still compressed, and its content type: read again where
/// the stored text is not enough (its headings, which the text does not mark).
#[derive(Debug, Clone)]
pub struct StoredBody {
    pub body_z: Vec<u8>,
    pub content_type: Option<String>,
}

impl StoredBody {
    /// The bytes as served; `None` if the stored blob cannot be read back.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        zstd::decode_all(self.body_z.as_slice()).ok()
    }
}

const META: &str = "id, version, fetched_at, text_hash, title, published, lang, words";

fn meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotMeta> {
    Ok(SnapshotMeta {
        id: r.get(0)?,
        version: r.get(1)?,
        fetched_at: r.get(2)?,
        text_hash: r.get(3)?,
        title: r.get(4)?,
        published: r.get(5)?,
        lang: r.get(6)?,
        words: r.get(7)?,
    })
}

impl SqliteStore {
    /// The newest version of a document, with its text.
    pub fn latest_snapshot(&self, document_id: i64) -> Result<Option<(SnapshotMeta, String)>> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {META}, text FROM snapshots WHERE document_id = ?1 ORDER BY version DESC LIMIT 1"
                ),
                [document_id],
                |r| Ok((meta(r)?, r.get::<_, Vec<u8>>(8)?)),
            )
            .optional()?;
        match row {
            Some((m, blob)) => Ok(Some((m, decompress_text(&blob)?))),
            None => Ok(None),
        }
    }

    /// The id of a document's newest version: what a result about to be written was compared
    /// with must still be the newest, or another process wrote in between.
    pub fn latest_snapshot_id(&self, document_id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM snapshots WHERE document_id = ?1 ORDER BY version DESC LIMIT 1")?
            .query_row([document_id], |r| r.get(0))
            .optional()?)
    }

    /// Every version of a document, oldest first.
    pub fn snapshots(&self, document_id: i64) -> Result<Vec<SnapshotMeta>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {META} FROM snapshots WHERE document_id = ?1 ORDER BY version"
        ))?;
        let rows = stmt.query_map([document_id], meta)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The body a version was read from (see [`StoredBody`]).
    pub fn snapshot_body(&self, snapshot_id: i64) -> Result<Option<StoredBody>> {
        let row: Option<(Option<Vec<u8>>, Option<String>)> = self
            .conn
            .prepare_cached("SELECT body, content_type FROM snapshots WHERE id = ?1")?
            .query_row([snapshot_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(body, content_type)| body.map(|body_z| StoredBody { body_z, content_type })))
    }

    /// The text of one version.
    pub fn snapshot_text(&self, document_id: i64, version: i64) -> Result<Option<String>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT text FROM snapshots WHERE document_id = ?1 AND version = ?2",
                params![document_id, version],
                |r| r.get(0),
            )
            .optional()?;
        blob.map(|b| decompress_text(&b)).transpose()
    }
}
