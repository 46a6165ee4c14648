//! The `documents` table: every URL govwatch checks, with its per-URL state (validators,
//! schedule, failures).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, SqliteStore, StoreError};
use crate::model::Timestamp;

pub use crate::model::DocRole;

#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub id: i64,
    pub url: String,
    pub watch: String,
    pub role: DocRole,
    pub announce: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_checked_at: Option<Timestamp>,
    pub last_changed_at: Option<Timestamp>,
    pub next_due_at: Option<Timestamp>,
    pub failures: i64,
    pub last_error: Option<String>,
    pub discovered_at: Timestamp,
    /// The date a feed or sitemap last gave for it.
    pub lastmod: Option<String>,
    /// Hash of the body last fetched in full.
    pub body_hash: Option<String>,
    /// Whether it is there: what a removal or a watch's failing notice is decided from.
    pub presence: Presence,
}

/// What the store knows of whether a document is there: what the check decides a withdrawal,
/// a return or a watch's notice from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    /// Checks in a row that found it gone (404, 410, a page-not-found page).
    pub gone_checks: i64,
    /// When its `removed` event was made; `None` while it is there.
    pub removed_at: Option<Timestamp>,
    /// When the listing it was found on was first seen without it; `None` while listed.
    pub unlisted_at: Option<Timestamp>,
    /// The first failed check of the current run of failures.
    pub failing_since: Option<Timestamp>,
    /// The watch's `failing` notice was made for this run of failures.
    pub failing_noticed: bool,
}

pub(super) const COLUMNS: &str = "id, url, watch, role, announce, etag, last_modified, last_checked_at, \
                       last_changed_at, next_due_at, failures, last_error, discovered_at, lastmod, body_hash, \
                       gone_checks, removed_at, unlisted_at, failing_since, failing_noticed";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentRow> {
    Ok(DocumentRow {
        id: r.get(0)?,
        url: r.get(1)?,
        watch: r.get(2)?,
        role: super::parsed(r, 3, DocRole::parse)?,
        announce: r.get(4)?,
        etag: r.get(5)?,
        last_modified: r.get(6)?,
        last_checked_at: r.get(7)?,
        last_changed_at: r.get(8)?,
        next_due_at: r.get(9)?,
        failures: r.get(10)?,
        last_error: r.get(11)?,
        discovered_at: r.get(12)?,
        lastmod: r.get(13)?,
        body_hash: r.get(14)?,
        presence: Presence {
            gone_checks: r.get(15)?,
            removed_at: r.get(16)?,
            unlisted_at: r.get(17)?,
            failing_since: r.get(18)?,
            failing_noticed: r.get(19)?,
        },
    })
}

impl SqliteStore {
    /// The document row for a watch's own page, created on first sight.
    pub fn ensure_watch_document(
        &mut self,
        watch: &str,
        url: &str,
        role: DocRole,
        now: Timestamp,
    ) -> Result<DocumentRow> {
        self.conn.execute(
            "INSERT INTO documents (url, watch, role, discovered_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (url) DO NOTHING",
            params![url, watch, role.as_str(), now],
        )?;
        self.document_by_url(url)?
            .ok_or_else(|| StoreError::NotFound(format!("document {url}")))
    }

    /// [`SqliteStore::ensure_watch_document`] for many watches at once: (watch, url, role)
    /// each, rows made for those not seen before; a pass's start, read back with
    /// [`SqliteStore::documents_of`].
    pub fn ensure_watch_documents(
        &mut self,
        watches: &[(&str, &str, DocRole)],
        now: Timestamp,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO documents (url, watch, role, discovered_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (url) DO NOTHING",
        )?;
        for (watch, url, role) in watches {
            stmt.execute(params![url, watch, role.as_str(), now])?;
        }
        Ok(())
    }

    /// Records a link found on an index. Returns the new row, or `None` if the URL was known.
    pub fn insert_discovered(
        &mut self,
        url: &str,
        watch: &str,
        announce: bool,
        now: Timestamp,
    ) -> Result<Option<DocumentRow>> {
        self.upsert_listed(url, watch, DocRole::Document, announce, None, now)
    }

    /// Records a URL a listing points to, with the listing's date for it. Returns the row when it
    /// should be checked now: it is new, or the listing's date moved past the one seen before
    /// (a sitemap's lastmod saying the page was edited).
    pub fn upsert_listed(
        &mut self,
        url: &str,
        watch: &str,
        role: DocRole,
        announce: bool,
        lastmod: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<DocumentRow>> {
        let n = self.conn.execute(
            "INSERT INTO documents (url, watch, role, announce, discovered_at, lastmod)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (url) DO NOTHING",
            params![url, watch, role.as_str(), announce, now, lastmod],
        )?;
        if n == 1 {
            return self.document_by_url(url);
        }
        let Some(lastmod) = lastmod else { return Ok(None) };
        let moved = self.conn.execute(
            "UPDATE documents SET lastmod = ?2, next_due_at = NULL
             WHERE url = ?1 AND lastmod IS NOT NULL AND lastmod < ?2",
            params![url, lastmod],
        )?;
        // First date for a known document: remember it, nothing to do yet.
        self.conn.execute(
            "UPDATE documents SET lastmod = ?2 WHERE url = ?1 AND lastmod IS NULL",
            params![url, lastmod],
        )?;
        if moved == 1 {
            self.document_by_url(url)
        } else {
            Ok(None)
        }
    }

    /// Puts a check off until `until` without counting a failure: the host asked for a pause.
    pub fn defer(&mut self, id: i64, until: Timestamp, reason: &str) -> Result<()> {
        let tx = self.conn.savepoint()?;
        tx.execute(
            "UPDATE documents SET next_due_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, until, reason],
        )?;
        super::claims::release_document(&tx, id, &self.holder)?;
        tx.commit()?;
        Ok(())
    }

    /// Every document, for `govwatch status`: watches' own rows first, in id order.
    pub fn all_documents(&self) -> Result<Vec<DocumentRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM documents ORDER BY role = 'document', id"
        ))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn document_by_url(&self, url: &str) -> Result<Option<DocumentRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM documents WHERE url = ?1"),
                [url],
                row,
            )
            .optional()?)
    }

    /// Every document first found by one of `watches`.
    pub fn documents_of(&self, watches: &[&str]) -> Result<Vec<DocumentRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM documents WHERE watch = ?1 ORDER BY id"
        ))?;
        let mut out = Vec::new();
        for w in watches {
            for r in stmt.query_map([w], row)? {
                out.push(r?);
            }
        }
        Ok(out)
    }

    /// Records a failed check, at once: the reason, one more failure in a row, when to try
    /// again, whether the document is there, and the events the failure made (a removal, a
    /// watch's failing notice) with their deliveries.
    pub fn commit_failure(&mut self, rec: FailureRecord, now: Timestamp) -> Result<()> {
        let now = now.to_string();
        let tx = self.conn.savepoint()?;
        tx.execute(
            "UPDATE documents SET failures = failures + 1, total_failures = total_failures + 1,
                 last_error = ?2, last_checked_at = ?3, next_due_at = ?4,
                 gone_checks = CASE WHEN ?5 THEN gone_checks + 1 ELSE 0 END,
                 removed_at = CASE WHEN ?6 THEN ?3 ELSE removed_at END,
                 failing_since = ?7, failing_noticed = ?8
             WHERE id = ?1",
            params![
                rec.document_id,
                rec.why,
                now,
                rec.next_due_at,
                rec.gone,
                rec.removed,
                rec.failing_since,
                rec.failing_noticed
            ],
        )?;
        for (e, snapshot_id) in &rec.events {
            let event_id = super::events::insert(&tx, rec.document_id, *snapshot_id, e, &now)?;
            if e.relevant {
                super::outbox::enqueue(&tx, event_id, e.kind, &rec.targets, &now)?;
            }
        }
        super::claims::release_document(&tx, rec.document_id, &self.holder)?;
        tx.commit()?;
        Ok(())
    }

    /// What a listing (the document `listing`) lists now: the documents among `urls` are listed
    /// by it (unless another listing found them first), and the documents it listed before
    /// that are not among them have left it: they are due at once, to learn whether they are
    /// still there. A listing that shows none of the documents it listed before (a new layout,
    /// a broken page, an empty list) says nothing about them, and nothing is marked.
    pub fn note_listing(&mut self, listing: i64, urls: &[&str], now: Timestamp) -> Result<usize> {
        let urls = serde_json::to_string(urls).unwrap_or_else(|_| "[]".into());
        let tx = self.conn.savepoint()?;
        let still: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM documents
                            WHERE listed_by = ?1 AND url IN (SELECT value FROM json_each(?2)))",
            params![listing, urls],
            |r| r.get(0),
        )?;
        let left = match still {
            false => 0,
            true => tx.execute(
                "UPDATE documents SET unlisted_at = ?3, next_due_at = NULL
                 WHERE listed_by = ?1 AND unlisted_at IS NULL AND removed_at IS NULL
                   AND url NOT IN (SELECT value FROM json_each(?2))",
                params![listing, urls, now],
            )?,
        };
        tx.execute(
            "UPDATE documents SET listed_by = ?1, unlisted_at = NULL
             WHERE url IN (SELECT value FROM json_each(?2)) AND role = 'document'
               AND (listed_by IS NULL OR listed_by = ?1)",
            params![listing, urls],
        )?;
        tx.commit()?;
        Ok(left)
    }
}

/// Everything one failed check writes, committed at once.
pub struct FailureRecord {
    pub document_id: i64,
    pub why: String,
    pub next_due_at: Timestamp,
    /// The check found the document gone (404, 410, a page-not-found page); any other failure
    /// ends a run of such checks.
    pub gone: bool,
    /// `events` holds the document's `removed` event: it is marked removed now.
    pub removed: bool,
    /// The first failure of this run.
    pub failing_since: Timestamp,
    pub failing_noticed: bool,
    /// The events the failure made, each with the stored version it is about.
    pub events: Vec<(super::NewEvent, Option<i64>)>,
    /// Who follows the document's watch (see [`super::targets_at`]).
    pub targets: Vec<super::Target>,
}

/// Records a good check of `rec.document_id`; `changed` if it stored a new version.
pub(super) fn record_success(
    tx: &Connection,
    rec: &super::CheckRecord,
    changed: bool,
    now: &str,
) -> Result<()> {
    let (id, etag, last_modified) = (rec.document_id, rec.etag.as_deref(), rec.last_modified.as_deref());
    let (next_due_at, body_hash) = (rec.next_due_at, rec.body_hash.as_deref());
    // A 304 carries no validators of its own worth keeping over the ones we sent, so keep the
    // stored ones when the response had none.
    // Cached: this runs once per check, thousands of times a pass.
    tx.prepare_cached(
        "UPDATE documents SET failures = 0, last_error = NULL, announce = 0,
             gone_checks = 0, removed_at = NULL, failing_since = NULL, failing_noticed = 0,
             etag = COALESCE(?2, etag), last_modified = COALESCE(?3, last_modified),
             last_checked_at = ?4, next_due_at = ?5,
             last_changed_at = CASE WHEN ?6 THEN ?4 ELSE last_changed_at END,
             body_hash = COALESCE(?7, body_hash)
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        etag,
        last_modified,
        now,
        next_due_at,
        changed,
        body_hash
    ])?;
    Ok(())
}

/// A document with the title of its newest version: what `history`, `show` and `diff` match a
/// title against.
#[derive(Debug, Clone)]
pub struct TitledDocument {
    pub url: String,
    pub title: String,
}

impl SqliteStore {
    /// Every document whose newest version has a title. The newest title is the one `history`
    /// and the mails show, so it is the one a user types.
    pub fn document_titles(&self) -> Result<Vec<TitledDocument>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.url, s.title FROM documents d JOIN snapshots s ON s.document_id = d.id
             WHERE s.title IS NOT NULL
               AND s.version = (SELECT MAX(version) FROM snapshots WHERE document_id = d.id)
             ORDER BY d.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TitledDocument {
                url: r.get(0)?,
                title: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
