//! Origin leases on PostgreSQL: the methods of src/store/leases.rs with the same names, arguments
//! and results, so that politeness toward a site holds across every node on the database.
//!
//! As on SQLite, one process at a time holds an origin (`hosts.lease_holder`) and keeps
//! `per_host_concurrency` and `per_host_delay` itself ([`crate::polite`]); across the cluster
//! that makes at most `per_host_concurrency` requests in flight per origin, and starts at least
//! `per_host_delay` apart, also from one holder to the next: the holder lets go only once its
//! requests have ended, writing when its last one started, and the next reads that under the
//! row's lock and waits out the delay after it. A lease for the whole origin rather than a row
//! per request slot: the gate takes it once per origin and stretch of work, so a busy pass costs
//! a handful of writes, not one per request, and the signatures stay SQLite's.
//!
//! The row is locked (`INSERT ... ON CONFLICT DO UPDATE` takes the lock whether or not the row
//! existed) rather than skipped with `SKIP LOCKED`: another node holds it only for the
//! milliseconds of its own take or release, and waiting that long gives a true answer (held or
//! free) where skipping would report a lease as held that is about to be free.
//!
//! Time, on the server's clock (see [`super::time`]): the lease's end is stamped and judged
//! there, so a node whose clock is off can neither take a lease early nor keep one past its
//! end. The start of the last request is handed over as an age, not a moment: the releasing
//! node says how long ago (on its clock) its last request started, the server stores its own
//! clock less that age, and the taking node gets its own clock less the age the server now
//! counts. So the delay is kept between two nodes whose clocks disagree by minutes.

use time::OffsetDateTime;

use super::PgStore;
use super::time::{server_now, server_now_precise};
use crate::model::Timestamp;
use crate::store::{LEASE, Lease, Result};

impl PgStore {
    /// As [`crate::store::Store::take_origin`]: takes `origin`'s lease for this process unless
    /// another live process holds it; committed at once. `now` (the caller's clock) only judges
    /// whether a stored pause is still in force, as the gate does; the lease is the server's.
    pub fn take_origin(&self, origin: &str, now: Timestamp) -> Result<Lease> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let row = tx.query_one(
            concat!(
                "INSERT INTO hosts (origin) VALUES ($1)
                 ON CONFLICT (origin) DO UPDATE SET origin = EXCLUDED.origin
                 RETURNING lease_holder, lease_until, last_request_at, not_before, not_before_reason, ",
                server_now_precise!()
            ),
            &[&origin],
        )?;
        // Read right after the server's: the two clocks are compared as one moment.
        let local_now = OffsetDateTime::now_utc();
        let holder: Option<String> = row.try_get(0)?;
        let held_until = row
            .try_get::<_, Option<String>>(1)?
            .as_deref()
            .and_then(crate::timefmt::parse);
        let last = row
            .try_get::<_, Option<String>>(2)?
            .as_deref()
            .and_then(crate::timefmt::parse);
        let (not_before, reason): (Option<String>, Option<String>) = (row.try_get(3)?, row.try_get(4)?);
        let server_now = row
            .try_get::<_, String>(5)
            .ok()
            .as_deref()
            .and_then(crate::timefmt::parse)
            .unwrap_or(local_now);
        // A moment on the server's clock, on this node's.
        let here = |t: OffsetDateTime| local_now + (t - server_now);
        if let (Some(by), Some(until)) = (&holder, held_until)
            && *by != self.holder
            && until > server_now
            && !crate::store::claims::is_gone(by, &self.holder)
        {
            return Ok(Lease::Held {
                by: by.clone(),
                until: here(until),
            });
        }
        let until = Timestamp::from_datetime(server_now).plus(LEASE);
        tx.execute(
            "UPDATE hosts SET lease_holder = $2, lease_until = $3 WHERE origin = $1",
            &[&origin, &self.holder, &until.to_string()],
        )?;
        tx.commit()?;
        let now = now.datetime();
        Ok(Lease::Granted {
            last_request_at: last.map(here),
            not_before: not_before
                .as_deref()
                .and_then(crate::timefmt::parse)
                .filter(|t| *t > now)
                .map(|t| (t, reason.unwrap_or_default())),
        })
    }

    /// As [`crate::store::Store::release_origin`]: lets go of `origin`'s lease, noting when this
    /// process's last request there started (as an age: see the module's doc).
    pub fn release_origin(&self, origin: &str, last_request_at: Option<OffsetDateTime>) -> Result<()> {
        // Microseconds before now, on this node's clock; negative for a start booked ahead. Cut
        // at a month either way: past a delay's bound (an hour) the exact age changes nothing,
        // and the server's arithmetic stays in range.
        const MONTH_MICROS: i128 = 30 * 86_400 * 1_000_000;
        let age: Option<i64> = last_request_at.map(|t| {
            let d = (OffsetDateTime::now_utc() - t).whole_microseconds();
            d.clamp(-MONTH_MICROS, MONTH_MICROS) as i64
        });
        self.client.borrow_mut().execute(
            "UPDATE hosts SET lease_holder = NULL, lease_until = NULL,
                 last_request_at = COALESCE(
                     to_char((clock_timestamp() - $3::bigint * interval '1 microsecond') AT TIME ZONE 'UTC',
                             'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                     last_request_at)
             WHERE origin = $1 AND lease_holder = $2",
            &[&origin, &self.holder, &age],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::origin_holder`]: the holder of a live lease on `origin`, judged
    /// on the server's clock (`now`, the caller's, is not used).
    pub fn origin_holder(&self, origin: &str, _now: Timestamp) -> Result<Option<String>> {
        Ok(self
            .client
            .borrow_mut()
            .query_opt(
                concat!(
                    "SELECT lease_holder FROM hosts WHERE origin = $1 AND lease_until > ",
                    server_now!()
                ),
                &[&origin],
            )?
            .and_then(|r| r.get(0)))
    }
}
