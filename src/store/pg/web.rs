//! What the web pages read on PostgreSQL, and their one write (an event's triage marks): the
//! methods of src/store/web.rs with the same names, arguments and results, over the indexes and
//! the per-watch counts of migrations/postgres/0002_web.sql.
//!
//! The SQL is SQLite's where it can be (the column lists are shared), with one difference of
//! shape: a page of rows is chosen by id first and described after (`... FROM (SELECT id ...
//! LIMIT .. OFFSET ..) p JOIN ...`). PostgreSQL computes a query's select list below its
//! `OFFSET`, so listing the columns directly would run the per-row subqueries (a document's
//! newest title, an event's version) for every row skipped, not only the 50 shown.

use std::collections::HashMap;

use postgres::Row;

use super::PgStore;
use crate::config::PostgresUrl;
use crate::model::{DocRole, EventKind, ModelError, Timestamp};
use crate::store::web::{DOC_COLUMNS, EVENT_COLUMNS};
use crate::store::{
    Result, SnapshotMeta, StoreError, WatchCounts, WebDocument, WebEvent, WebVersion, decompress_text,
};

impl PgStore {
    /// As [`crate::store::Store::open_read_only`]: a store for the pages, on a connection of
    /// its own whose transactions are all read-only (`default_transaction_read_only`), so that
    /// a page cannot write even by mistake; the triage marks go through the process's writer.
    /// The schema must be migrated already (the writer's [`PgStore::open`] does it): a reader
    /// never takes the migration lock, and refuses a schema older or newer than it reads.
    ///
    /// Set after connecting rather than as a startup option: `options` in `storage.url` is
    /// the user's (a search path, say), and a connection pooler may refuse startup options.
    pub fn open_read_only(url: &PostgresUrl) -> Result<PgStore> {
        let mut client = super::connect(url)?;
        client.batch_execute(super::READ_ONLY)?;
        let store = PgStore {
            client: std::cell::RefCell::new(super::Conn(Some(client))),
            url: url.clone(),
            holder: crate::store::claims::new_holder(),
            statements: Default::default(),
            down: Default::default(),
            read_only: true,
        };
        let known = super::MIGRATIONS.last().map_or(0, |m| m.0);
        let found = store
            .client
            .borrow_mut()
            .query_one("SELECT COALESCE(MAX(version), 0) FROM govwatch_migrations", &[])
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0);
        if found > known {
            return Err(StoreError::PgTooNew {
                url: url.to_string(),
                found,
                known,
            });
        }
        if found < known {
            return Err(StoreError::Unsupported(format!(
                "{url}: the database's schema is at version {found}, not {known}; \
                 start govwatch (or any command that writes) once to bring it up to date"
            )));
        }
        Ok(store)
    }

    /// As [`crate::store::Store::watch_counts`]: documents (counted by triggers, 0002) and
    /// failing documents of every watch that has any, in one round trip.
    pub fn watch_counts(&self) -> Result<HashMap<String, WatchCounts>> {
        let rows = self.query(
            "SELECT watch, false, sum(documents)::bigint FROM watch_documents
             GROUP BY watch HAVING sum(documents) > 0
             UNION ALL
             SELECT watch, true, count(*) FROM documents WHERE failures > 0 GROUP BY watch",
            &[],
        )?;
        let mut out: HashMap<String, WatchCounts> = HashMap::new();
        for r in rows {
            let counts = out.entry(r.get(0)).or_default();
            match r.get::<_, bool>(1) {
                false => counts.documents = r.get(2),
                true => counts.failing = r.get(2),
            }
        }
        Ok(out)
    }

    /// As [`crate::store::Store::web_document_by_url`].
    pub fn web_document_by_url(&self, url: &str) -> Result<Option<WebDocument>> {
        self.query_opt(
            &format!("SELECT {DOC_COLUMNS} FROM documents d WHERE d.url = $1"),
            &[&url],
        )?
        .map(|r| web_document(&r))
        .transpose()
    }

    /// As [`crate::store::Store::web_document`].
    pub fn web_document(&self, id: i64) -> Result<Option<WebDocument>> {
        self.query_opt(
            &format!("SELECT {DOC_COLUMNS} FROM documents d WHERE d.id = $1"),
            &[&id],
        )?
        .map(|r| web_document(&r))
        .transpose()
    }

    /// As [`crate::store::Store::watch_document_count`]: how many documents `watch` first
    /// found, from the counter rows of 0002.
    pub fn watch_document_count(&self, watch: &str) -> Result<i64> {
        Ok(self
            .query_one(
                "SELECT COALESCE(sum(documents), 0)::bigint FROM watch_documents WHERE watch = $1",
                &[&watch],
            )?
            .get(0))
    }

    /// As [`crate::store::Store::watch_documents`]: a page of the documents first found by
    /// `watch`, newest first, and how many there are. As on SQLite, a page past the middle is
    /// read from the oldest end, so that no page skips more than half the watch's documents
    /// (in the index on `(watch, id)`, without reading their rows).
    pub fn watch_documents(
        &self,
        watch: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<WebDocument>, i64)> {
        let total = self.watch_document_count(watch)?;
        let (offset, limit) = (offset as i64, limit as i64);
        let from_oldest = offset > total / 2;
        let (order, skip, take) = match from_oldest {
            true => (
                "ASC",
                (total - offset - limit).max(0),
                limit.min(total - offset).max(0),
            ),
            false => ("DESC", offset, limit),
        };
        let rows = self.query(
            &format!(
                "SELECT {DOC_COLUMNS}
                 FROM (SELECT id FROM documents WHERE watch = $1 ORDER BY id {order} LIMIT $2 OFFSET $3) p
                 JOIN documents d ON d.id = p.id
                 ORDER BY d.id DESC"
            ),
            &[&watch, &take, &skip],
        )?;
        let docs = rows.iter().map(web_document).collect::<Result<_>>()?;
        Ok((docs, total))
    }

    /// As [`crate::store::Store::document_versions`]: a page of a document's versions, newest
    /// first, by version number (numbered 1, 2, … with none deleted) rather than by OFFSET.
    pub fn document_versions(
        &self,
        document_id: i64,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<WebVersion>> {
        let rows = self.query(
            "SELECT s.id, s.version, s.fetched_at, s.text_hash, s.title, s.published, s.lang, s.words,
                    e.id, e.kind, e.added, e.removed
             FROM snapshots s
             LEFT JOIN events e ON e.id = (SELECT MIN(id) FROM events WHERE snapshot_id = s.id)
             WHERE s.document_id = $1
               AND s.version <= (SELECT MAX(version) FROM snapshots WHERE document_id = $1) - $3
             ORDER BY s.version DESC LIMIT $2",
            &[&document_id, &(limit as i64), &(offset as i64)],
        )?;
        let lines = |s: Option<String>| s.map_or(0, |s| s.lines().count());
        rows.iter()
            .map(|r| {
                Ok(WebVersion {
                    meta: snapshot_meta(r),
                    event_id: r.get(8),
                    event_kind: r
                        .get::<_, Option<&str>>(9)
                        .map(|k| word(EventKind::parse(k)))
                        .transpose()?,
                    added: lines(r.get(10)),
                    removed: lines(r.get(11)),
                })
            })
            .collect()
    }

    /// As [`crate::store::Store::version`]: one version of a document, with its text.
    pub fn version(&self, document_id: i64, version: i64) -> Result<Option<(SnapshotMeta, String)>> {
        let row = self.query_opt(
            "SELECT id, version, fetched_at, text_hash, title, published, lang, words, text
             FROM snapshots WHERE document_id = $1 AND version = $2",
            &[&document_id, &version],
        )?;
        match row {
            Some(r) => Ok(Some((snapshot_meta(&r), decompress_text(r.get::<_, &[u8]>(8))?))),
            None => Ok(None),
        }
    }

    /// As [`crate::store::Store::changed_details`].
    pub fn changed_details(&self, snapshot_id: i64) -> Result<Option<serde_json::Value>> {
        let details: Option<String> = self
            .query_opt(
                "SELECT details FROM events WHERE snapshot_id = $1 AND kind = 'changed' ORDER BY id LIMIT 1",
                &[&snapshot_id],
            )?
            .and_then(|r| r.get(0));
        Ok(details.and_then(|d| serde_json::from_str(&d).ok()))
    }

    /// As [`crate::store::Store::version_at`]: the newest version fetched at or before `at`,
    /// read from the newest down (an event usually cites a recent version).
    pub fn version_at(&self, document_id: i64, at: &str) -> Result<Option<i64>> {
        Ok(self
            .query_opt(
                "SELECT version FROM snapshots WHERE document_id = $1 AND fetched_at <= $2
                 ORDER BY version DESC LIMIT 1",
                &[&document_id, &at],
            )?
            .map(|r| r.get(0)))
    }

    /// As [`crate::store::Store::triage_events`]: a page of events, the unreviewed first,
    /// newest first within each (the order of 0002's `events_triage`).
    pub fn triage_events(&self, offset: usize, limit: usize) -> Result<Vec<WebEvent>> {
        let rows = self.query(
            &format!(
                "SELECT {EVENT_COLUMNS}
                 FROM (SELECT id FROM events ORDER BY (reviewed_at IS NOT NULL), id DESC
                       LIMIT $1 OFFSET $2) p
                 JOIN events e ON e.id = p.id
                 ORDER BY (e.reviewed_at IS NOT NULL), e.id DESC"
            ),
            &[&(limit as i64), &(offset as i64)],
        )?;
        rows.iter().map(web_event).collect()
    }

    /// As [`crate::store::Store::event_counts`]: how many events there are, and how many are
    /// not reviewed.
    pub fn event_counts(&self) -> Result<(i64, i64)> {
        let r = self.query_one(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events WHERE reviewed_at IS NULL)",
            &[],
        )?;
        Ok((r.get(0), r.get(1)))
    }

    /// As [`crate::store::Store::web_event`].
    pub fn web_event(&self, id: i64) -> Result<Option<WebEvent>> {
        self.query_opt(
            &format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = $1"),
            &[&id],
        )?
        .map(|r| web_event(&r))
        .transpose()
    }

    /// As [`crate::store::Store::triage_of`]: reviewed and important, for each of these events
    /// that exists.
    pub fn triage_of(&self, ids: &[i64]) -> Result<HashMap<i64, (bool, bool)>> {
        Ok(self
            .query(
                "SELECT id, reviewed_at IS NOT NULL, important <> 0 FROM events WHERE id = ANY($1)",
                &[&ids],
            )?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect())
    }

    /// As [`crate::store::Store::set_reviewed`]: marks an event reviewed at `now` (keeping the
    /// first time), or not reviewed; `false` if there is no such event.
    pub fn set_reviewed(&self, id: i64, reviewed: bool, now: Timestamp) -> Result<bool> {
        let n = self.execute(
            "UPDATE events SET reviewed_at = CASE WHEN $2 THEN COALESCE(reviewed_at, $3) END WHERE id = $1",
            &[&id, &reviewed, &now.to_string()],
        )?;
        Ok(n == 1)
    }

    /// As [`crate::store::Store::set_important`]: flags an event important (or not); `false`
    /// if there is no such event.
    pub fn set_important(&self, id: i64, important: bool) -> Result<bool> {
        let n = self.execute(
            "UPDATE events SET important = $2 WHERE id = $1",
            &[&id, &i64::from(important)],
        )?;
        Ok(n == 1)
    }
}

/// A word of the model read back; one this govwatch does not know (a newer one wrote it) is an
/// error naming it, never a guess.
fn word<T>(parsed: std::result::Result<T, ModelError>) -> Result<T> {
    parsed.map_err(|e| StoreError::Unsupported(format!("in the database: {e}")))
}

/// A row of [`DOC_COLUMNS`].
fn web_document(r: &Row) -> Result<WebDocument> {
    Ok(WebDocument {
        id: r.get(0),
        url: r.get(1),
        watch: r.get(2),
        role: word(DocRole::parse(r.get(3)))?.as_str(),
        title: r.get(4),
        discovered_at: r.get(5),
        last_checked_at: r.get(6),
        last_changed_at: r.get(7),
        next_due_at: r.get(8),
        failures: r.get(9),
        failing_since: r.get(10),
        last_error: r.get(11),
        versions: r.get(12),
    })
}

/// A row of [`EVENT_COLUMNS`].
fn web_event(r: &Row) -> Result<WebEvent> {
    Ok(WebEvent {
        id: r.get(0),
        kind: word(EventKind::parse(r.get(1)))?,
        document_id: r.get(2),
        snapshot_id: r.get(3),
        version: r.get(4),
        watch: r.get(5),
        url: r.get(6),
        title: r.get(7),
        detected_at: r.get(8),
        relevant: r.get::<_, i64>(9) != 0,
        reviewed_at: r.get(10),
        important: r.get::<_, i64>(11) != 0,
    })
}

/// A version's metadata from its first eight columns (id, version, fetched_at, text_hash,
/// title, published, lang, words).
pub(super) fn snapshot_meta(r: &Row) -> SnapshotMeta {
    SnapshotMeta {
        id: r.get(0),
        version: r.get(1),
        fetched_at: r.get(2),
        text_hash: r.get(3),
        title: r.get(4),
        published: r.get(5),
        lang: r.get(6),
        words: r.get(7),
    }
}
