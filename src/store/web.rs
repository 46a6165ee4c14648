//! What the web pages read (watches' state, a watch's documents, a document's versions, events
//! unreviewed first) on read-only connections of their own, and the one thing they write: an
//! event's triage marks (reviewed, important).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{EventKind, Result, SnapshotMeta, SqliteStore, StoreError, decompress_text};
use crate::model::{DocRole, Timestamp};

impl SqliteStore {
    /// A store on a read-only connection to the database at `path`, which must exist and be
    /// migrated already ([`Store::open`] does both). A page waits for a writer's lock as long as
    /// the store would (readers of a WAL database wait only for a checkpoint's restart).
    pub fn open_read_only(path: &Path) -> Result<SqliteStore> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        super::search::register(&conn)?;
        Ok(SqliteStore {
            conn,
            readers: super::corpus::Readers::new(path),
            batch: None,
            holder: super::claims::new_holder(),
        })
    }
}

/// A document as the pages list it: its state and the title of its newest version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebDocument {
    pub id: i64,
    pub url: String,
    pub watch: String,
    pub role: &'static str,
    pub title: Option<String>,
    pub discovered_at: String,
    pub last_checked_at: Option<String>,
    pub last_changed_at: Option<String>,
    pub next_due_at: Option<String>,
    pub failures: i64,
    pub failing_since: Option<String>,
    pub last_error: Option<String>,
    pub versions: i64,
}

pub(super) const DOC_COLUMNS: &str = "d.id, d.url, d.watch, d.role, \
     (SELECT title FROM snapshots WHERE document_id = d.id ORDER BY version DESC LIMIT 1), \
     d.discovered_at, d.last_checked_at, d.last_changed_at, d.next_due_at, d.failures, d.failing_since, \
     d.last_error, (SELECT COALESCE(MAX(version), 0) FROM snapshots WHERE document_id = d.id)";

fn web_document(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebDocument> {
    Ok(WebDocument {
        id: r.get(0)?,
        url: r.get(1)?,
        watch: r.get(2)?,
        role: super::parsed(r, 3, DocRole::parse)?.as_str(),
        title: r.get(4)?,
        discovered_at: r.get(5)?,
        last_checked_at: r.get(6)?,
        last_changed_at: r.get(7)?,
        next_due_at: r.get(8)?,
        failures: r.get(9)?,
        failing_since: r.get(10)?,
        last_error: r.get(11)?,
        versions: r.get(12)?,
    })
}

/// An event as the pages list it, with its triage marks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebEvent {
    pub id: i64,
    pub kind: EventKind,
    pub document_id: i64,
    pub snapshot_id: Option<i64>,
    /// The version (`v3`) the event's snapshot is, if it stored one.
    pub version: Option<i64>,
    pub watch: String,
    pub url: String,
    pub title: Option<String>,
    pub detected_at: String,
    pub relevant: bool,
    pub reviewed_at: Option<String>,
    pub important: bool,
}

pub(super) const EVENT_COLUMNS: &str = "e.id, e.kind, e.document_id, e.snapshot_id, \
     (SELECT version FROM snapshots WHERE id = e.snapshot_id), e.watch, e.url, e.title, e.detected_at, \
     e.relevant, e.reviewed_at, e.important";

fn web_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebEvent> {
    Ok(WebEvent {
        id: r.get(0)?,
        kind: super::parsed(r, 1, EventKind::parse)?,
        document_id: r.get(2)?,
        snapshot_id: r.get(3)?,
        version: r.get(4)?,
        watch: r.get(5)?,
        url: r.get(6)?,
        title: r.get(7)?,
        detected_at: r.get(8)?,
        relevant: r.get(9)?,
        reviewed_at: r.get(10)?,
        important: r.get(11)?,
    })
}

/// A version as a document's page lists it: its metadata and the event recorded with it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebVersion {
    #[serde(flatten)]
    pub meta: SnapshotMeta,
    pub event_id: Option<i64>,
    pub event_kind: Option<EventKind>,
    /// Sentences added and removed, as the event counted them.
    pub added: usize,
    pub removed: usize,
}

/// Per watch: documents, and documents whose last check failed.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct WatchCounts {
    pub documents: i64,
    pub failing: i64,
}

impl SqliteStore {
    /// Documents and failing documents of every watch that has any.
    pub fn watch_counts(&self) -> Result<HashMap<String, WatchCounts>> {
        let mut out: HashMap<String, WatchCounts> = HashMap::new();
        // Counted by triggers as documents come (migration 0014), not on every view.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT watch, documents FROM watch_documents WHERE documents > 0")?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (w, n) = r?;
            out.entry(w).or_default().documents = n;
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT watch, count(*) FROM documents WHERE failures > 0 GROUP BY watch")?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (w, n) = r?;
            out.entry(w).or_default().failing = n;
        }
        Ok(out)
    }

    /// The document at `url`, as the pages list it.
    pub fn web_document_by_url(&self, url: &str) -> Result<Option<WebDocument>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {DOC_COLUMNS} FROM documents d WHERE d.url = ?1"))?
            .query_row([url], web_document)
            .optional()?)
    }

    pub fn web_document(&self, id: i64) -> Result<Option<WebDocument>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {DOC_COLUMNS} FROM documents d WHERE d.id = ?1"))?
            .query_row([id], web_document)
            .optional()?)
    }

    /// How many documents `watch` first found.
    pub fn watch_document_count(&self, watch: &str) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT documents FROM watch_documents WHERE watch = ?1")?
            .query_row([watch], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// A page of the documents first found by `watch`, newest first, and how many there are.
    pub fn watch_documents(
        &self,
        watch: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<WebDocument>, i64)> {
        let total = self.watch_document_count(watch)?;
        let (offset, limit) = (offset as i64, limit as i64);
        // The rows skipped are walked in the index: a page past the middle is read from the
        // oldest end, so that the last page of 100,000 documents skips none, not 99,950.
        let from_oldest = offset > total / 2;
        let (order, skip) = match from_oldest {
            true => ("ASC", (total - offset - limit).max(0)),
            false => ("DESC", offset),
        };
        let take = match from_oldest {
            true => limit.min(total - offset).max(0),
            false => limit,
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DOC_COLUMNS} FROM documents d WHERE d.watch = ?1 ORDER BY d.id {order} LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = stmt.query_map(params![watch, take, skip], web_document)?;
        let mut docs: Vec<WebDocument> = rows.collect::<rusqlite::Result<_>>()?;
        if from_oldest {
            docs.reverse();
        }
        Ok((docs, total))
    }

    /// A page of a document's versions, newest first, each with the event recorded with it.
    pub fn document_versions(
        &self,
        document_id: i64,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<WebVersion>> {
        // By key, not by OFFSET: versions are numbered 1, 2, … with none deleted, so the page
        // `offset` versions below the newest starts at that number. An OFFSET joined every
        // version skipped with its event (10,000 of them for the last page of a long history).
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.version, s.fetched_at, s.text_hash, s.title, s.published, s.lang, s.words,
                    e.id, e.kind, e.added, e.removed
             FROM snapshots s
             LEFT JOIN events e ON e.id = (SELECT MIN(id) FROM events WHERE snapshot_id = s.id)
             WHERE s.document_id = ?1
               AND s.version <= (SELECT MAX(version) FROM snapshots WHERE document_id = ?1) - ?3
             ORDER BY s.version DESC LIMIT ?2",
        )?;
        let lines = |s: Option<String>| s.map_or(0, |s| s.lines().count());
        let rows = stmt.query_map(params![document_id, limit as i64, offset as i64], |r| {
            Ok(WebVersion {
                meta: SnapshotMeta {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    fetched_at: r.get(2)?,
                    text_hash: r.get(3)?,
                    title: r.get(4)?,
                    published: r.get(5)?,
                    lang: r.get(6)?,
                    words: r.get(7)?,
                },
                event_id: r.get(8)?,
                event_kind: match r.get::<_, Option<String>>(9)? {
                    Some(_) => Some(super::parsed(r, 9, EventKind::parse)?),
                    None => None,
                },
                added: lines(r.get(10)?),
                removed: lines(r.get(11)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One version of a document, with its text.
    pub fn version(&self, document_id: i64, version: i64) -> Result<Option<(SnapshotMeta, String)>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, version, fetched_at, text_hash, title, published, lang, words, text
                 FROM snapshots WHERE document_id = ?1 AND version = ?2",
            )?
            .query_row(params![document_id, version], |r| {
                Ok((
                    SnapshotMeta {
                        id: r.get(0)?,
                        version: r.get(1)?,
                        fetched_at: r.get(2)?,
                        text_hash: r.get(3)?,
                        title: r.get(4)?,
                        published: r.get(5)?,
                        lang: r.get(6)?,
                        words: r.get(7)?,
                    },
                    r.get::<_, Vec<u8>>(8)?,
                ))
            })
            .optional()?;
        match row {
            Some((m, blob)) => Ok(Some((m, decompress_text(&blob)?))),
            None => Ok(None),
        }
    }

    /// What the `changed` event recorded with a version (`details`), if one was: the statements
    /// of its change from the version before, with their section headings.
    pub fn changed_details(&self, snapshot_id: i64) -> Result<Option<serde_json::Value>> {
        let details: Option<Option<String>> = self
            .conn
            .prepare_cached(
                "SELECT details FROM events WHERE snapshot_id = ?1 AND kind = 'changed' ORDER BY id LIMIT 1",
            )?
            .query_row([snapshot_id], |r| r.get(0))
            .optional()?;
        Ok(details.flatten().and_then(|d| serde_json::from_str(&d).ok()))
    }

    /// The newest version of a document fetched at or before `at`: what a source looked like
    /// when an event cited it.
    pub fn version_at(&self, document_id: i64, at: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT MAX(version) FROM snapshots WHERE document_id = ?1 AND fetched_at <= ?2")?
            .query_row(params![document_id, at], |r| r.get(0))?)
    }

    /// A page of events, the unreviewed first, newest first within each.
    pub fn triage_events(&self, offset: usize, limit: usize) -> Result<Vec<WebEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events e
             ORDER BY (e.reviewed_at IS NOT NULL), e.id DESC LIMIT ?1 OFFSET ?2"
        ))?;
        let rows = stmt.query_map(params![limit as i64, offset as i64], web_event)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many events there are, and how many are not reviewed.
    pub fn event_counts(&self) -> Result<(i64, i64)> {
        Ok(self.conn.prepare_cached(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events WHERE reviewed_at IS NULL)",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    pub fn web_event(&self, id: i64) -> Result<Option<WebEvent>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = ?1"))?
            .query_row([id], web_event)
            .optional()?)
    }

    /// Reviewed and important, for each of these events that exists.
    pub fn triage_of(&self, ids: &[i64]) -> Result<HashMap<i64, (bool, bool)>> {
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, reviewed_at IS NOT NULL, important FROM events
             WHERE id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map([json], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks an event reviewed at `now` (or not reviewed); `false` if there is no such event.
    /// Marking a reviewed event reviewed again keeps the first time.
    pub fn set_reviewed(&mut self, id: i64, reviewed: bool, now: Timestamp) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE events SET reviewed_at = CASE WHEN ?2 THEN COALESCE(reviewed_at, ?3) END WHERE id = ?1",
            params![id, reviewed, now.to_string()],
        )?;
        Ok(n == 1)
    }

    /// Flags an event important (or not); `false` if there is no such event.
    pub fn set_important(&mut self, id: i64, important: bool) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE events SET important = ?2 WHERE id = ?1",
            params![id, important],
        )?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CheckRecord, NewSnapshot};
    use super::*;

    fn record(document_id: i64, text: &str, now: Timestamp) -> CheckRecord {
        CheckRecord {
            document_id,
            etag: None,
            last_modified: None,
            next_due_at: now,
            snapshot: Some(NewSnapshot::new(text, format!("h{text}"), b"")),
            corpus: None,
            events: Vec::new(),
            targets: Vec::new(),
            template_blocks: None,
            body_hash: None,
        }
    }

    /// The pages read by key, from the nearer end and from counts kept by triggers: what they
    /// list is what counting and OFFSET listed.
    #[test]
    fn pages_by_key_list_what_offsets_listed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let doc = s
            .ensure_watch_document("w", "http://127.0.0.1/a", DocRole::Page, now)
            .unwrap();
        for v in 0..123 {
            s.commit_check(record(doc.id, &format!("Text number {v}."), now), now)
                .unwrap();
        }
        let all: Vec<i64> = s
            .snapshots(doc.id)
            .unwrap()
            .iter()
            .rev()
            .map(|m| m.version)
            .collect();
        assert_eq!(all.len(), 123);
        for offset in [0, 50, 100, 120, 123, 200] {
            let page: Vec<i64> = s
                .document_versions(doc.id, offset, 50)
                .unwrap()
                .iter()
                .map(|v| v.meta.version)
                .collect();
            let expected: Vec<i64> = all.iter().skip(offset).take(50).copied().collect();
            assert_eq!(page, expected, "versions from {offset}");
        }

        for i in 0..57 {
            s.insert_discovered(&format!("http://127.0.0.1/d/{i}"), "listing", false, now)
                .unwrap();
        }
        assert_eq!(s.watch_counts().unwrap()["listing"].documents, 57);
        assert_eq!(s.watch_counts().unwrap()["w"].documents, 1);
        assert_eq!(s.watch_document_count("listing").unwrap(), 57);
        assert_eq!(s.watch_document_count("none").unwrap(), 0);
        let newest_first: Vec<i64> = {
            let mut ids: Vec<i64> = s
                .all_documents()
                .unwrap()
                .iter()
                .filter(|d| d.watch == "listing")
                .map(|d| d.id)
                .collect();
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids
        };
        for (offset, limit) in [
            (0, 20),
            (20, 20),
            (40, 20),
            (50, 50),
            (56, 50),
            (57, 50),
            (10, 50),
        ] {
            let (page, total) = s.watch_documents("listing", offset, limit).unwrap();
            let ids: Vec<i64> = page.iter().map(|d| d.id).collect();
            let expected: Vec<i64> = newest_first.iter().skip(offset).take(limit).copied().collect();
            assert_eq!((ids, total), (expected, 57), "documents from {offset}");
        }
    }
}
