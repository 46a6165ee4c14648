//! The `hosts` table: each origin's robots.txt as last fetched, and a Retry-After in force. It
//! lets a `govwatch check` run from cron be as polite as the daemon, which keeps the same facts
//! in memory.

use rusqlite::{OptionalExtension, params};

use super::{Result, SqliteStore};

/// One origin's stored facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostRow {
    pub origin: String,
    /// HTTP status of /robots.txt; `None` when it could not be fetched at all.
    pub robots_status: Option<u16>,
    pub robots: Option<String>,
    pub robots_error: Option<String>,
    pub robots_fetched_at: Option<String>,
    pub not_before: Option<String>,
    pub not_before_reason: Option<String>,
}

impl SqliteStore {
    pub fn hosts(&self) -> Result<Vec<HostRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT origin, robots_status, robots, robots_error, robots_fetched_at, not_before,
                    not_before_reason FROM hosts",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HostRow {
                origin: r.get(0)?,
                robots_status: r.get(1)?,
                robots: r.get(2)?,
                robots_error: r.get(3)?,
                robots_fetched_at: r.get(4)?,
                not_before: r.get(5)?,
                not_before_reason: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn save_robots(&mut self, h: &HostRow) -> Result<()> {
        self.conn.execute(
            "INSERT INTO hosts (origin, robots_status, robots, robots_error, robots_fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (origin) DO UPDATE SET robots_status = ?2, robots = ?3, robots_error = ?4,
                 robots_fetched_at = ?5",
            params![
                h.origin,
                h.robots_status,
                h.robots,
                h.robots_error,
                h.robots_fetched_at
            ],
        )?;
        Ok(())
    }

    pub fn save_not_before(&mut self, origin: &str, not_before: &str, reason: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO hosts (origin, not_before, not_before_reason) VALUES (?1, ?2, ?3)
             ON CONFLICT (origin) DO UPDATE SET not_before = ?2, not_before_reason = ?3",
            params![origin, not_before, reason],
        )?;
        Ok(())
    }

    /// The Retry-After in force for `origin`, if any.
    pub fn not_before(&self, origin: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT not_before, not_before_reason FROM hosts WHERE origin = ?1 AND not_before IS NOT NULL",
                [origin],
                |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())),
            )
            .optional()?)
    }
}
