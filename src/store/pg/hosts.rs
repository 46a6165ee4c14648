//! What is known of each origin, on PostgreSQL: the methods of src/store/hosts.rs (robots.txt as
//! last fetched, a Retry-After in force) with the same names, arguments and results. One row per
//! origin for the whole cluster, so a pause one node learnt holds for every node: each reads it
//! when it starts ([`PgStore::hosts`]) and whenever it takes the origin's lease
//! ([`PgStore::take_origin`]).
//!
//! A pause is written as the node that learnt it computed it (the server's Retry-After, an
//! absolute time, on that node's clock), as on SQLite: it is a fact about the site, shown to
//! people in `status`, not a lease between nodes.

use super::PgStore;
use crate::store::{HostRow, Result};

impl PgStore {
    /// As [`crate::store::Store::hosts`].
    pub fn hosts(&self) -> Result<Vec<HostRow>> {
        let rows = self.client.borrow_mut().query(
            "SELECT origin, robots_status, robots, robots_error, robots_fetched_at, not_before,
                    not_before_reason FROM hosts",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(HostRow {
                    origin: r.try_get(0)?,
                    // An HTTP status; anything else stored there is no status at all.
                    robots_status: r
                        .try_get::<_, Option<i64>>(1)?
                        .and_then(|s| u16::try_from(s).ok()),
                    robots: r.try_get(2)?,
                    robots_error: r.try_get(3)?,
                    robots_fetched_at: r.try_get(4)?,
                    not_before: r.try_get(5)?,
                    not_before_reason: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// As [`crate::store::Store::save_robots`].
    pub fn save_robots(&self, h: &HostRow) -> Result<()> {
        self.client.borrow_mut().execute(
            "INSERT INTO hosts (origin, robots_status, robots, robots_error, robots_fetched_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (origin) DO UPDATE SET robots_status = $2, robots = $3, robots_error = $4,
                 robots_fetched_at = $5",
            &[
                &h.origin,
                &h.robots_status.map(i64::from),
                &h.robots,
                &h.robots_error,
                &h.robots_fetched_at,
            ],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::save_not_before`].
    pub fn save_not_before(&self, origin: &str, not_before: &str, reason: &str) -> Result<()> {
        self.client.borrow_mut().execute(
            "INSERT INTO hosts (origin, not_before, not_before_reason) VALUES ($1, $2, $3)
             ON CONFLICT (origin) DO UPDATE SET not_before = $2, not_before_reason = $3",
            &[&origin, &not_before, &reason],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::not_before`]: the Retry-After in force for `origin`, if any.
    pub fn not_before(&self, origin: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .client
            .borrow_mut()
            .query_opt(
                "SELECT not_before, not_before_reason FROM hosts WHERE origin = $1 AND not_before IS NOT NULL",
                &[&origin],
            )?
            .map(|r| (r.get(0), r.get::<_, Option<String>>(1).unwrap_or_default())))
    }
}
