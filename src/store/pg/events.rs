//! Events on PostgreSQL: the methods of src/store/events.rs, with the same names, arguments and
//! results. A check inserts its events in its one write (src/store/pg/check.rs).

use postgres::types::ToSql;

use super::PgStore;
use super::time::{PgTime, opt};
use crate::model::{EventKind, KindSet};
use crate::store::events::SELECT;
use crate::store::{EventFilter, EventRow, Result, StoreError};

/// A row of [`SELECT`].
fn event(r: &postgres::Row) -> Result<EventRow> {
    let notified_at = opt(r.try_get::<_, Option<PgTime>>(6)?);
    // As on SQLite: notified once settled with every delivery sent, and at least one.
    let unsent: bool = r.get(15);
    let delivered: bool = r.get(17);
    Ok(EventRow {
        id: r.get(0),
        kind: EventKind::parse(r.get(1))
            .map_err(|e| StoreError::Unsupported(format!("in the database: {e}")))?,
        url: r.get(2),
        title: r.get(3),
        watch: r.get(4),
        detected_at: r.try_get::<_, PgTime>(5)?.0,
        notified: notified_at.is_some() && !unsent && delivered,
        notified_at,
        source: r.get(7),
        source_title: r.get(16),
        overlap: r.get(8),
        added: r.get(9),
        removed: r.get(10),
        published: r.get(11),
        relevant: r.get::<_, i64>(12) != 0,
        significance: r.get(13),
        details: r
            .get::<_, Option<String>>(14)
            .and_then(|d| serde_json::from_str(&d).ok()),
    })
}

impl PgStore {
    fn events_where(&self, filter: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<EventRow>> {
        self.query(&format!("{SELECT} {filter}"), params)?
            .iter()
            .map(event)
            .collect()
    }

    /// As [`crate::store::Store::events_by_ids`]: most significant first.
    pub fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRow>> {
        self.events_where("WHERE e.id = ANY($1) ORDER BY e.significance DESC, e.id", &[&ids])
    }

    /// As [`crate::store::Store::recent_relevant_events`]: newest first.
    pub fn recent_relevant_events(&self, limit: usize, kinds: KindSet) -> Result<Vec<EventRow>> {
        let kinds: Vec<&str> = kinds.kinds().into_iter().map(EventKind::as_str).collect();
        let limit = limit.min(i64::MAX as usize) as i64;
        self.events_where(
            "WHERE e.relevant = 1 AND e.kind = ANY($1) ORDER BY e.id DESC LIMIT $2",
            &[&kinds, &limit],
        )
    }

    /// As [`crate::store::Store::events`]: oldest first.
    pub fn events(&self) -> Result<Vec<EventRow>> {
        self.events_where("ORDER BY e.id", &[])
    }

    /// As [`crate::store::Store::events_matching`]: oldest first (with a limit, the newest that
    /// many).
    pub fn events_matching(&self, filter: &EventFilter) -> Result<Vec<EventRow>> {
        let since = filter.since.map(|t| t.to_string());
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        let limit = filter.limit.map(|n| n.min(i64::MAX as usize) as i64);
        let mut rows = self.events_where(
            "WHERE ($1::text IS NULL OR e.detected_at >= $1)
               AND (cardinality($2::text[]) = 0 OR e.watch = ANY($2))
               AND (cardinality($3::text[]) = 0 OR e.kind = ANY($3))
             ORDER BY e.id DESC LIMIT $4",
            &[&since, &filter.watches, &kinds, &limit],
        )?;
        rows.reverse();
        Ok(rows)
    }

    /// As [`crate::store::Store::has_events_of`].
    pub fn has_events_of(&self, watch: &str) -> Result<bool> {
        Ok(self
            .query_one("SELECT EXISTS (SELECT 1 FROM events WHERE watch = $1)", &[&watch])?
            .get(0))
    }

    /// As [`crate::store::Store::pending_events`]: most significant first.
    pub fn pending_events(&self) -> Result<Vec<EventRow>> {
        self.events_where(
            "WHERE e.notified_at IS NULL AND e.relevant = 1 ORDER BY e.significance DESC, e.id",
            &[],
        )
    }

    /// As [`crate::store::Store::pending_count`].
    pub fn pending_count(&self) -> Result<usize> {
        let n: i64 = self
            .query_one(
                "SELECT count(*) FROM events WHERE notified_at IS NULL AND relevant = 1",
                &[],
            )?
            .get(0);
        Ok(n as usize)
    }

    /// As [`crate::store::Store::probe`]: the health probe. A server that answers is healthy;
    /// a write lock held elsewhere does not stop the others' writes here as it does on SQLite.
    pub fn probe(&self) -> Result<usize> {
        self.pending_count()
    }
}
