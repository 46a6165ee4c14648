//! Origin leases: which govwatch process talks to an origin now, so that politeness holds over
//! every process on the database (the daemon, `check` from cron, another node), not only within
//! one.
//!
//! One process at a time holds an origin's lease (`hosts.lease_holder`, until `lease_until`) and
//! applies `per_host_concurrency` and `per_host_delay` itself, as it always did; the others wait
//! for the lease. On letting go, the holder writes when its last request started, so the next
//! holder keeps the delay after it; on taking it, a process reads the pause (Retry-After) that
//! any other process stored. A lease is taken once per origin and stretch of work, not once per
//! request, so a busy pass costs a handful of writes.
//!
//! Leases are taken and let go on the store's one connection, in its turn like any other write:
//! a second connection waiting for the write lock between two group commits was starved by them
//! (SQLite's busy handler kept missing the short gaps), and a pass stalled ten seconds per origin.

use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::{Result, SqliteStore};
use crate::model::Timestamp;

/// What taking an origin's lease found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lease {
    /// This process holds it now (or held it already).
    Granted {
        /// When any process's last request to the origin started, as it left the lease.
        last_request_at: Option<OffsetDateTime>,
        /// A pause in force, stored by whichever process learnt it: (until, reason).
        not_before: Option<(OffsetDateTime, String)>,
    },
    /// Another process holds it, until at least then.
    Held { by: String, until: OffsetDateTime },
}

impl SqliteStore {
    /// Takes `origin`'s lease for this process unless another live process holds it.
    /// Committed at once (any open group of checks first), for other processes to see.
    pub fn take_origin(&mut self, origin: &str, now: Timestamp) -> Result<Lease> {
        self.end_batch()?;
        let until = now.plus(super::LEASE);
        let now = now.datetime();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO hosts (origin) VALUES (?1) ON CONFLICT (origin) DO NOTHING",
            [origin],
        )?;
        let row: [Option<String>; 5] = tx.query_row(
            "SELECT lease_holder, lease_until, last_request_at, not_before, not_before_reason
             FROM hosts WHERE origin = ?1",
            [origin],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
        )?;
        let [holder, held_until, last, not_before, reason] = row;
        let live_other = match (&holder, held_until.as_deref().and_then(crate::timefmt::parse)) {
            (Some(h), Some(u))
                if *h != self.holder && u > now && !super::claims::is_gone(h, &self.holder) =>
            {
                Some((h.clone(), u))
            }
            _ => None,
        };
        if let Some((by, until)) = live_other {
            return Ok(Lease::Held { by, until });
        }
        tx.execute(
            "UPDATE hosts SET lease_holder = ?2, lease_until = ?3 WHERE origin = ?1",
            params![origin, self.holder, until],
        )?;
        tx.commit()?;
        let not_before = not_before
            .as_deref()
            .and_then(crate::timefmt::parse)
            .filter(|t| *t > now)
            .map(|t| (t, reason.unwrap_or_default()));
        Ok(Lease::Granted {
            last_request_at: last.as_deref().and_then(crate::timefmt::parse),
            not_before,
        })
    }

    /// Lets go of `origin`'s lease, noting when this process's last request there started.
    pub fn release_origin(&mut self, origin: &str, last_request_at: Option<OffsetDateTime>) -> Result<()> {
        self.end_batch()?;
        // Sub-second precision: the next holder keeps `per_host_delay` after this start, and
        // delays are often under a second.
        let last = last_request_at.map(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        });
        self.conn.execute(
            "UPDATE hosts SET lease_holder = NULL, lease_until = NULL,
                 last_request_at = COALESCE(?3, last_request_at)
             WHERE origin = ?1 AND lease_holder = ?2",
            params![origin, self.holder, last],
        )?;
        Ok(())
    }

    /// The holder of `origin`'s lease, if a live one is held (for `status` and tests).
    pub fn origin_holder(&self, origin: &str, now: Timestamp) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT lease_holder FROM hosts WHERE origin = ?1 AND lease_until > ?2",
                params![origin, now],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
}
