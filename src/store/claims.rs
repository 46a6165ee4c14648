//! Claims: how several govwatch processes share one database without doing the same work twice.
//!
//! Before a process checks a document it claims it (`documents.claimed_by`), and before it sends
//! a batch of mail it claims the batch's deliveries; another process passes over what is claimed.
//! A claim is a lease, not a lock: it names its holder and runs out at `claimed_until`, so the
//! claims of a process that was killed free themselves, and a live process renews its own while
//! it works ([`Store::renew_claims`]). A claim is taken in a transaction of its own and committed
//! at once (other processes must see it), and let go in the same transaction that writes the
//! work's result, so between the two nobody else can have written a result for the same row.
//!
//! Claims rather than a lock held for a whole pass: two processes then share the work instead of
//! queueing behind each other, and the same rows and statements serve several nodes on one
//! PostgreSQL later (there as `UPDATE ... WHERE claimed_until < now() RETURNING`).

use std::time::Duration;

use rusqlite::{Connection, params};

use super::{Result, SqliteStore};
use crate::model::Timestamp;

/// How long a claim lasts without renewal. A live process renews its claims every
/// [`RENEW_EVERY`]; one that died lets go of them this long after its last renewal.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often a working process renews its claims: a few times per lease, so one slow renewal
/// (a database busy with another process's commit) never lets a claim run out.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// Who holds a claim: this process, as `host:pid:start`. The host tells nodes apart; the pid and
/// the process's start time (from /proc on Linux, random elsewhere) tell this process from an
/// earlier one that had the same pid.
pub(super) fn new_holder() -> String {
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or_else(|| format!("r{:08x}", fastrand::u32(..)));
    format!("{}:{pid}:{start}", host_name())
}

fn host_name() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Whether `holder` is known to be gone: a process of this machine that no longer runs. A
/// killed process's claims are then taken over at once rather than when its lease runs out.
/// A holder on another machine, or one that cannot be told, is taken to be alive.
pub(super) fn is_gone(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if host != host_name() || start.starts_with('r') {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    start_time(pid).as_deref() != Some(start)
}

impl SqliteStore {
    /// This process's name on its claims.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Lets go of the claims of processes of this machine that are gone (a `kill -9`, a crash),
    /// so their documents, mail and origins are taken over now, not when their leases run out.
    pub fn clear_gone_holders(&mut self, now: Timestamp) -> Result<usize> {
        let holders: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT claimed_by FROM documents WHERE claimed_by IS NOT NULL AND claimed_until >= ?1
                 UNION SELECT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL AND claimed_until >= ?1
                 UNION SELECT lease_holder FROM hosts WHERE lease_holder IS NOT NULL AND lease_until >= ?1",
            )?;
            stmt.query_map([&now], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut cleared = 0;
        for gone in holders.iter().filter(|h| **h != self.holder && is_gone(h)) {
            tracing::info!(holder = %gone, "taking over the work of a govwatch process that is gone");
            cleared += self.conn.execute(
                "UPDATE documents SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?1",
                [gone],
            )?;
            cleared += self.conn.execute(
                "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?1",
                [gone],
            )?;
            cleared += self.conn.execute(
                "UPDATE hosts SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = ?1",
                [gone],
            )?;
        }
        Ok(cleared)
    }

    /// Claims the documents among `ids` that nobody holds (never claimed, let go, or whose claim
    /// ran out), and returns those now claimed, in the order given. A document this process
    /// holds already is being checked by it (an earlier pass still running) and is not claimed
    /// again. Committed at once: any open group of checks is committed first.
    pub fn claim_documents(&mut self, ids: &[i64], now: Timestamp) -> Result<Vec<i64>> {
        self.end_batch()?;
        self.clear_gone_holders(now)?;
        let until = now.plus(LEASE);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut claimed = Vec::with_capacity(ids.len());
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE documents SET claimed_by = ?2, claimed_until = ?3
                 WHERE id = ?1 AND (claimed_by IS NULL OR claimed_until < ?4)",
            )?;
            for &id in ids {
                if stmt.execute(params![id, self.holder, until, now])? == 1 {
                    claimed.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// Whether this process still holds its claim on `document_id`, or nobody does: a result
    /// may be written. False when another process claimed the document after this one's claim
    /// ran out; that process's result is the one that counts.
    pub fn may_write(&self, document_id: i64, now: Timestamp) -> Result<bool> {
        let holder: Option<Option<String>> = rusqlite::OptionalExtension::optional(self.conn.query_row(
            "SELECT claimed_by FROM documents WHERE id = ?1
                 AND (claimed_by IS NULL OR claimed_by = ?2 OR claimed_until < ?3)",
            params![document_id, self.holder, now],
            |r| r.get(0),
        ))?;
        Ok(holder.is_some())
    }

    /// Lets go of this process's claims on `ids` that no result let go of (checks skipped at a
    /// stop, a pass that failed).
    pub fn release_documents(&mut self, ids: &[i64]) -> Result<()> {
        self.end_batch()?;
        let tx = self.conn.transaction()?;
        for &id in ids {
            release_document(&tx, id, &self.holder)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Extends every claim this process holds by another [`LEASE`]; returns how many.
    pub fn renew_claims(&mut self, now: Timestamp) -> Result<usize> {
        let until = now.plus(LEASE);
        let tx = self.conn.savepoint()?;
        let mut n = tx.execute(
            "UPDATE documents SET claimed_until = ?2 WHERE claimed_by = ?1",
            params![self.holder, until],
        )?;
        n += tx.execute(
            "UPDATE deliveries SET claimed_until = ?2 WHERE claimed_by = ?1",
            params![self.holder, until],
        )?;
        n += tx.execute(
            "UPDATE hosts SET lease_until = ?2 WHERE lease_holder = ?1",
            params![self.holder, until],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Lets go of every claim this process still holds (checks skipped at a stop, a pass cut
    /// short): the next process need not wait for them to run out.
    pub fn release_claims(&mut self) -> Result<()> {
        self.end_batch()?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE documents SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?1",
            [&self.holder],
        )?;
        tx.execute(
            "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?1",
            [&self.holder],
        )?;
        tx.execute(
            "UPDATE hosts SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = ?1",
            [&self.holder],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Lets go of this process's claim on one document, in the transaction that writes its result.
pub(super) fn release_document(tx: &Connection, document_id: i64, holder: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE documents SET claimed_by = NULL, claimed_until = NULL WHERE id = ?1 AND claimed_by = ?2",
    )?
    .execute(params![document_id, holder])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Clock, DocRole, ManualClock};

    /// A claim holds for [`LEASE`] from when it was taken or last renewed, and runs out by
    /// itself after: checked with a clock set by hand, no sleeping.
    #[test]
    fn a_claim_runs_out_after_its_lease_unless_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let clock = ManualClock::at(Timestamp::parse("2026-01-01T00:00:00Z").unwrap());
        let id = s
            .ensure_watch_document("w", "http://127.0.0.1/a", DocRole::Page, clock.now())
            .unwrap()
            .id;
        assert_eq!(s.claim_documents(&[id], clock.now()).unwrap(), [id]);
        // Held (by this process, checking it already): not claimed again, up to the last second.
        clock.advance(LEASE);
        assert!(s.claim_documents(&[id], clock.now()).unwrap().is_empty());
        // Renewed at the last second, it holds another lease from then.
        assert_eq!(s.renew_claims(clock.now()).unwrap(), 1);
        clock.advance(LEASE);
        assert!(s.claim_documents(&[id], clock.now()).unwrap().is_empty());
        // One second past the renewed lease, it has run out: anyone may claim it.
        clock.advance(Duration::from_secs(1));
        assert_eq!(s.claim_documents(&[id], clock.now()).unwrap(), [id]);
        s.release_documents(&[id]).unwrap();
        assert_eq!(s.claim_documents(&[id], clock.now()).unwrap(), [id]);
    }

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_gone() {
        let me = new_holder();
        assert!(!is_gone(&me), "{me}");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        if let Some(start) = start {
            assert!(is_gone(&format!("{}:{pid}:{start}", host_name())));
        }
        // Another machine's process, or one whose start cannot be told, is presumed alive.
        assert!(!is_gone(&format!("elsewhere.example:{pid}:1")));
        assert!(!is_gone(&format!("{}:{pid}:r0001", host_name())));
        assert!(!is_gone("nonsense"));
    }
}
