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
//! Leases use a connection of their own, in autocommit mode: taking one must be seen by other
//! processes at once, and must not wait for (or cut short) the main connection's group commits.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use time::OffsetDateTime;

use super::{Result, StoreError};

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

/// The lease side of the database, for the politeness gate (`polite::Hosts`, which uses the
/// store; the store knows nothing of it).
pub struct Leases {
    conn: Mutex<Connection>,
    holder: String,
}

impl Leases {
    pub(super) fn open(path: &Path, holder: String) -> Result<Leases> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        // A group commit of the main connection holds the write lock for up to half a second.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Leases {
            conn: Mutex::new(conn),
            holder,
        })
    }

    /// This process's name on its leases (the same as on its claims).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes `origin`'s lease for this process unless another live process holds it.
    /// Blocking: call it off the async workers.
    pub fn take(&self, origin: &str) -> Result<Lease> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let now = OffsetDateTime::now_utc();
        let until = crate::timefmt::format(now + super::LEASE);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
            (Some(h), Some(u)) if *h != self.holder && u > now && !super::claims::is_gone(h) => {
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
    pub fn release(&self, origin: &str, last_request_at: Option<OffsetDateTime>) -> Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // Sub-second precision: the next holder keeps `per_host_delay` after this start, and
        // delays are often under a second.
        let last = last_request_at.map(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        });
        conn.execute(
            "UPDATE hosts SET lease_holder = NULL, lease_until = NULL,
                 last_request_at = COALESCE(?3, last_request_at)
             WHERE origin = ?1 AND lease_holder = ?2",
            params![origin, self.holder, last],
        )?;
        Ok(())
    }

    /// The holder of `origin`'s lease, if a live one is held (for `status` and tests).
    pub fn holder_of(&self, origin: &str) -> Result<Option<String>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(conn
            .query_row(
                "SELECT lease_holder FROM hosts WHERE origin = ?1 AND lease_until > ?2",
                params![origin, crate::timefmt::now()],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
}
