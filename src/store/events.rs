//! The `events` table: what was found, and whether it has been mailed.

use rusqlite::{Connection, params};

use super::{Result, SqliteStore};
use crate::model::Timestamp;

pub use crate::model::EventKind;

#[derive(Debug)]
pub struct NewEvent {
    pub kind: EventKind,
    pub watch: String,
    pub url: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub overlap: Option<f64>,
    pub added: Option<String>,
    pub removed: Option<String>,
    pub relevant: bool,
    pub significance: f64,
    /// Position statements, quoted sources, matched topic terms.
    pub details: Option<serde_json::Value>,
}

/// Deserialize: `govwatch changes --json` output read back (webhook receivers, golden tests).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub kind: EventKind,
    pub url: String,
    pub title: Option<String>,
    pub watch: String,
    pub detected_at: Timestamp,
    /// Every delivery of the event was sent (one refused or given up on makes it `false`).
    #[serde(default)]
    pub notified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The title of `source` as the corpus knows it (a stored document's latest, an imported
    /// file's): what a mail heads the story with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlap: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
    pub relevant: bool,
    pub significance: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

pub(super) fn insert(
    tx: &Connection,
    document_id: i64,
    snapshot_id: Option<i64>,
    e: &NewEvent,
    now: &str,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO events (kind, document_id, snapshot_id, watch, url, title, detected_at, source, overlap, added,
             removed, relevant, significance, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            e.kind.as_str(),
            document_id,
            snapshot_id,
            e.watch,
            e.url,
            e.title,
            now,
            e.source,
            e.overlap,
            e.added,
            e.removed,
            e.relevant,
            e.significance,
            e.details.as_ref().map(|d| d.to_string()),
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Which events `govwatch changes` lists; empty fields filter nothing.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Detected at or after this time.
    pub since: Option<Timestamp>,
    pub watches: Vec<String>,
    pub kinds: Vec<EventKind>,
    /// Only the newest this many (of those that pass the rest).
    pub limit: Option<usize>,
}

/// An [`EventRow`]'s columns, over `events e LEFT JOIN snapshots s`, the same SQL on both
/// backends: the event, its version's date, whether any delivery is unsent, the title of its
/// source as the corpus knows it, and whether it has any delivery at all.
pub(super) const SELECT: &str = "SELECT e.id, e.kind, e.url, e.title, e.watch, e.detected_at, e.notified_at,
        e.source, e.overlap, e.added, e.removed, s.published, e.relevant, e.significance, e.details,
        EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state != 'sent'),
        COALESCE(
            (SELECT c.title FROM corpus c WHERE c.origin = 'import' AND c.name = e.source),
            (SELECT s2.title FROM documents d2 JOIN snapshots s2 ON s2.document_id = d2.id
             WHERE d2.url = e.source AND s2.title IS NOT NULL ORDER BY s2.version DESC LIMIT 1)),
        EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
     FROM events e LEFT JOIN snapshots s ON s.id = e.snapshot_id";

impl SqliteStore {
    fn events_where(&self, filter: &str) -> Result<Vec<EventRow>> {
        self.events_where_with(filter, &[])
    }

    fn events_where_with(&self, filter: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare(&format!("{SELECT} {filter}"))?;
        let rows = stmt.query_map(args, |r| {
            let notified_at: Option<Timestamp> = r.get(6)?;
            // `notified_at` says the event is settled (nothing left to try); it was notified only
            // if every delivery went. A recipient the server refused for good is not notified.
            let unsent: bool = r.get(15)?;
            // Settled with no delivery at all (a duplicate nobody asked for, a watch nobody
            // follows): nobody was told, and it must not read as mailed.
            let delivered: bool = r.get(17)?;
            Ok(EventRow {
                id: r.get(0)?,
                kind: super::parsed(r, 1, EventKind::parse)?,
                url: r.get(2)?,
                title: r.get(3)?,
                watch: r.get(4)?,
                detected_at: r.get(5)?,
                notified: notified_at.is_some() && !unsent && delivered,
                notified_at,
                source: r.get(7)?,
                source_title: r.get(16)?,
                overlap: r.get(8)?,
                added: r.get(9)?,
                removed: r.get(10)?,
                published: r.get(11)?,
                relevant: r.get(12)?,
                significance: r.get(13)?,
                details: r
                    .get::<_, Option<String>>(14)?
                    .and_then(|d| serde_json::from_str(&d).ok()),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// These events (in any order of `ids`), most significant first.
    pub fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRow>> {
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        // The ids are integers serialised by serde_json: nothing else can reach the SQL text.
        self.events_where(&format!(
            "WHERE e.id IN (SELECT value FROM json_each('{json}')) ORDER BY e.significance DESC, e.id"
        ))
    }

    /// The newest `limit` relevant events of these kinds, newest first: the Atom feed (which
    /// carries what mail carries by default).
    pub fn recent_relevant_events(
        &self,
        limit: usize,
        kinds: crate::model::KindSet,
    ) -> Result<Vec<EventRow>> {
        let kinds: Vec<&str> = kinds.kinds().into_iter().map(EventKind::as_str).collect();
        let kinds = serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".into());
        let limit = limit.min(i64::MAX as usize) as i64;
        self.events_where_with(
            "WHERE e.relevant = 1 AND e.kind IN (SELECT value FROM json_each(?1)) ORDER BY e.id DESC LIMIT ?2",
            &[&kinds, &limit],
        )
    }

    /// Every event, oldest first.
    pub fn events(&self) -> Result<Vec<EventRow>> {
        self.events_where("ORDER BY e.id")
    }

    /// The events `filter` lets through, oldest first (with a limit, the newest that many).
    pub fn events_matching(&self, filter: &EventFilter) -> Result<Vec<EventRow>> {
        // Lists travel as JSON arrays (json_each), so the SQL text is the same whatever they hold.
        let watches = serde_json::to_string(&filter.watches).unwrap_or_else(|_| "[]".into());
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        let kinds = serde_json::to_string(&kinds).unwrap_or_else(|_| "[]".into());
        let limit = filter.limit.map_or(-1, |n| n.min(i64::MAX as usize) as i64);
        let mut rows = self.events_where_with(
            "WHERE (?1 IS NULL OR e.detected_at >= ?1)
               AND (json_array_length(?2) = 0 OR e.watch IN (SELECT value FROM json_each(?2)))
               AND (json_array_length(?3) = 0 OR e.kind IN (SELECT value FROM json_each(?3)))
             ORDER BY e.id DESC LIMIT ?4",
            &[&filter.since, &watches, &kinds, &limit],
        )?;
        rows.reverse();
        Ok(rows)
    }

    /// Whether any event was found by a watch of this name (one since removed from the config
    /// included).
    pub fn has_events_of(&self, watch: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE watch = ?1)",
            [watch],
            |r| r.get(0),
        )?)
    }

    /// Relevant events not yet mailed, most significant first.
    pub fn pending_events(&self) -> Result<Vec<EventRow>> {
        self.events_where("WHERE e.notified_at IS NULL AND e.relevant = 1 ORDER BY e.significance DESC, e.id")
    }

    /// How many relevant events are not yet mailed (irrelevant ones never are): a cheap query, asked by the watchdog and `/metrics`.
    pub fn pending_count(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM events WHERE notified_at IS NULL AND relevant = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// [`Store::pending_count`] inside a write transaction that is rolled back: the health probe.
    /// govwatch is a writer, so a database another process keeps write-locked (a stuck backup,
    /// a forgotten sqlite3 shell) counts as not answering, although it can still be read.
    pub fn probe(&mut self) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n: i64 = tx.query_row(
            "SELECT count(*) FROM events WHERE notified_at IS NULL AND relevant = 1",
            [],
            |r| r.get(0),
        )?;
        tx.rollback()?;
        Ok(n as usize)
    }
}
