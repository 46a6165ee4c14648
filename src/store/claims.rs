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

/// Who holds a claim: a process, as `node:pid:start:since`. The node (`[daemon] node`, the host
/// name by default) tells machines apart and is what `govwatch status` shows; the pid and the
/// process's start (in clock ticks since boot, from /proc on Linux; random elsewhere) tell
/// processes of one node apart, since a daemon and a `govwatch check` from cron share the node's
/// name, and tell this process from an earlier one that had the same pid; `since` is when this
/// process first named itself (Unix seconds, its own clock), for `status`. The same for every
/// store the process opens, so that what one store claimed another may let go of.
pub fn holder_for(node: &str) -> String {
    static ME: std::sync::OnceLock<(u32, String, i64)> = std::sync::OnceLock::new();
    let (pid, start, since) = ME.get_or_init(|| {
        let pid = std::process::id();
        let start = start_time(pid).unwrap_or_else(|| format!("r{:08x}", fastrand::u32(..)));
        (pid, start, time::OffsetDateTime::now_utc().unix_timestamp())
    });
    format!("{node}:{pid}:{start}:{since}")
}

/// This process's holder name with the default node name (the host's), until a command that
/// read the config names it ([`Store::with_holder`]).
pub(super) fn new_holder() -> String {
    holder_for(&crate::config::default_node())
}

/// A holder name taken apart (see [`holder_for`]). Holders written before node names (as
/// `host:pid:start`) have no `since`; a name given by hand (tests) is not a holder of this form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HolderName<'a> {
    pub node: &'a str,
    pub pid: u32,
    pub start: &'a str,
    pub since: Option<Timestamp>,
}

impl HolderName<'_> {
    pub fn parse(holder: &str) -> Option<HolderName<'_>> {
        let parts: Vec<&str> = holder.split(':').collect();
        let (node, pid, start, since) = match parts[..] {
            [node, pid, start] => (node, pid, start, None),
            [node, pid, start, since] => (node, pid, start, Some(since.parse::<i64>().ok()?)),
            _ => return None,
        };
        Some(HolderName {
            node,
            pid: pid.parse().ok()?,
            start,
            since: since.and_then(|s| {
                time::OffsetDateTime::from_unix_timestamp(s)
                    .ok()
                    .map(Timestamp::from_datetime)
            }),
        })
    }
}

/// Whether `holder` is known to be gone: a process of this node (the node of `me`, the caller's
/// own holder name) that no longer runs. A killed process's claims are then taken over at once
/// rather than when its lease runs out. A holder of another node, or one that cannot be told,
/// is taken to be alive: so two machines must not share a node name (the default, the host
/// name, sees to that), or one could take over the other's live claims.
pub(super) fn is_gone(holder: &str, me: &str) -> bool {
    let (Some(h), Some(me)) = (HolderName::parse(holder), HolderName::parse(me)) else {
        return false;
    };
    if h.node != me.node || h.start.starts_with('r') {
        return false;
    }
    start_time(h.pid).as_deref() != Some(h.start)
}

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// What one process holds on the database: its claims on documents and deliveries and its
/// origin leases, for `govwatch status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeLeases {
    /// The holder as stored.
    pub holder: String,
    /// Its node, or the whole holder name if it is not of the usual form.
    pub node: String,
    pub pid: Option<u32>,
    /// When the process started holding work (see [`holder_for`]), if its name says.
    pub since: Option<Timestamp>,
    pub documents: usize,
    pub deliveries: usize,
    pub origins: usize,
    /// The latest end of its leases.
    pub until: Timestamp,
}

impl NodeLeases {
    pub(super) fn new(holder: String, counts: [i64; 3], until: Timestamp) -> NodeLeases {
        let name = HolderName::parse(&holder);
        NodeLeases {
            node: name.as_ref().map_or(holder.as_str(), |n| n.node).to_string(),
            pid: name.as_ref().map(|n| n.pid),
            since: name.and_then(|n| n.since),
            documents: counts[0] as usize,
            deliveries: counts[1] as usize,
            origins: counts[2] as usize,
            until,
            holder,
        }
    }
}

/// How the work of a pass is shared out now (see src/pipeline/feed.rs): how many origins each
/// other process in a pass had due work on, and which origins other live processes hold the
/// lease of (they are fetching from them, or have just been). Gone processes of this node (see
/// [`is_gone`]) count for neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sharing {
    pub others: Vec<usize>,
    pub held_elsewhere: std::collections::HashSet<String>,
}

impl Sharing {
    /// From the live rows read: (holder, origins) in a pass, and (origin, holder) of leases.
    pub(super) fn new(me: &str, passes: Vec<(String, i64)>, held: Vec<(String, String)>) -> Sharing {
        let live = |h: &String| h != me && !is_gone(h, me);
        Sharing {
            others: passes
                .into_iter()
                .filter(|(h, _)| live(h))
                .map(|(_, n)| usize::try_from(n).unwrap_or(0))
                .collect(),
            held_elsewhere: held
                .into_iter()
                .filter(|(_, h)| live(h))
                .map(|(o, _)| o)
                .collect(),
        }
    }

    /// How many origins a process with due work on `mine` of them may hold at once. The
    /// processes' configs mostly overlap, so the work is taken to be the largest of their
    /// numbers, shared out evenly, except that a process with less work than an even part
    /// leaves the rest of its part to the others: a `check` of one watch beside a node's pass
    /// takes one origin from it, not half of them.
    pub fn share(&self, mine: usize) -> usize {
        let mut all: Vec<usize> = self.others.clone();
        all.push(mine);
        all.sort_unstable();
        let mut left = all.last().copied().unwrap_or(0);
        let mut level = left;
        for (k, &n) in all.iter().enumerate() {
            let rest = all.len() - k;
            if n * rest >= left {
                level = left.div_ceil(rest);
                break;
            }
            left -= n;
        }
        mine.min(level).max(1)
    }
}

/// The live leases by holder, both backends' SQL: `?1`/`$1` is now (text), and the columns are
/// holder, documents, deliveries, origins and the latest lease end.
pub(super) const LEASES_BY_HOLDER: &str =
    "SELECT holder, sum(docs), sum(dels), sum(origins), max(until) FROM (
         SELECT claimed_by AS holder, 1 AS docs, 0 AS dels, 0 AS origins, claimed_until AS until
           FROM documents WHERE claimed_by IS NOT NULL AND claimed_until >= $1
         UNION ALL SELECT claimed_by, 0, 1, 0, claimed_until
           FROM deliveries WHERE claimed_by IS NOT NULL AND claimed_until >= $1
         UNION ALL SELECT lease_holder, 0, 0, 1, lease_until
           FROM hosts WHERE lease_holder IS NOT NULL AND lease_until >= $1
     ) AS held GROUP BY holder ORDER BY holder";

impl SqliteStore {
    /// This process's name on its claims.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The same store, claiming under another name: [`holder_for`] the config's node, or a name
    /// of a test's choosing.
    pub fn with_holder(mut self, holder: String) -> SqliteStore {
        self.holder = holder;
        self
    }

    /// Who holds leases on the database now, and what: `govwatch status`'s nodes.
    pub fn lease_holders(&self, now: Timestamp) -> Result<Vec<NodeLeases>> {
        let mut stmt = self.conn.prepare(LEASES_BY_HOLDER)?;
        let rows = stmt.query_map([now], |r| {
            Ok(NodeLeases::new(
                r.get(0)?,
                [r.get(1)?, r.get(2)?, r.get(3)?],
                r.get(4)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Lets go of the claims of processes of this machine that are gone (a `kill -9`, a crash),
    /// so their documents, mail and origins are taken over now, not when their leases run out.
    pub fn clear_gone_holders(&mut self, now: Timestamp) -> Result<usize> {
        let holders: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT claimed_by FROM documents WHERE claimed_by IS NOT NULL AND claimed_until >= ?1
                 UNION SELECT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL AND claimed_until >= ?1
                 UNION SELECT lease_holder FROM hosts WHERE lease_holder IS NOT NULL AND lease_until >= ?1
                 UNION SELECT holder FROM passes WHERE until >= ?1",
            )?;
            stmt.query_map([&now], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut cleared = 0;
        for gone in holders
            .iter()
            .filter(|h| **h != self.holder && is_gone(h, &self.holder))
        {
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
            self.conn
                .execute("DELETE FROM passes WHERE holder = ?1", [gone])?;
        }
        Ok(cleared)
    }

    /// Claims the documents among `due` (each id with its `last_checked_at` as the caller read
    /// it) that nobody holds (never claimed, let go, or whose claim ran out) and that nobody
    /// checked since they were read, and returns those now claimed, in the order given. A
    /// document this process holds already is being checked by it (an earlier pass still
    /// running) and is not claimed again; one another process checked and let go of between
    /// the read and the claim is done, and is not fetched a second time. Committed at once: any
    /// open group of checks is committed first.
    pub fn claim_documents(&mut self, due: &[(i64, Option<Timestamp>)], now: Timestamp) -> Result<Vec<i64>> {
        self.end_batch()?;
        self.clear_gone_holders(now)?;
        self.claim_some(due, usize::MAX, now)
    }

    /// As [`SqliteStore::claim_documents`], but at most `limit` of them (the first that can be
    /// had, in the order given), and without looking for gone processes first: a pass claims an
    /// origin's documents a share at a time (src/pipeline.rs), and has let go of the gone ones'
    /// claims at its start.
    pub fn claim_some(
        &mut self,
        due: &[(i64, Option<Timestamp>)],
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<i64>> {
        self.end_batch()?;
        let until = now.plus(LEASE);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut claimed = Vec::with_capacity(due.len().min(limit));
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE documents SET claimed_by = ?2, claimed_until = ?3
                 WHERE id = ?1 AND (claimed_by IS NULL OR claimed_until < ?4) AND last_checked_at IS ?5",
            )?;
            for &(id, checked) in due {
                if claimed.len() == limit {
                    break;
                }
                if stmt.execute(params![id, self.holder, until, now, checked])? == 1 {
                    claimed.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// Counts this process as in a pass with due work on `origins` origins, until its claims'
    /// lease runs out (renewed with them), for [`Sharing`]. A process with passes side by side
    /// (the daemon) is counted with the most work of any of them until the last one ends. Committed at once, for other processes to see.
    pub fn begin_pass(&mut self, origins: usize, now: Timestamp) -> Result<()> {
        self.end_batch()?;
        self.conn.execute(
            "INSERT INTO passes (holder, origins, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (holder) DO UPDATE SET origins = max(origins, excluded.origins), until = excluded.until",
            params![self.holder, origins as i64, now.plus(LEASE)],
        )?;
        Ok(())
    }

    /// This process's pass has ended.
    pub fn end_pass(&mut self) -> Result<()> {
        self.end_batch()?;
        self.conn
            .execute("DELETE FROM passes WHERE holder = ?1", [&self.holder])?;
        Ok(())
    }

    /// How the work of a pass is shared now: the processes in a pass and the origins other
    /// processes hold (see [`Sharing`]).
    pub fn sharing(&self, now: Timestamp) -> Result<Sharing> {
        let mut passes = self
            .conn
            .prepare_cached("SELECT holder, origins FROM passes WHERE until >= ?1")?;
        let passes: Vec<(String, i64)> = passes
            .query_map([&now], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut held = self.conn.prepare_cached(
            "SELECT origin, lease_holder FROM hosts
             WHERE lease_holder IS NOT NULL AND lease_holder <> ?1 AND lease_until >= ?2",
        )?;
        let held: Vec<(String, String)> = held
            .query_map(params![self.holder, now], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Sharing::new(&self.holder, passes, held))
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
        tx.execute(
            "UPDATE passes SET until = ?2 WHERE holder = ?1",
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
        tx.execute("DELETE FROM passes WHERE holder = ?1", [&self.holder])?;
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

    /// A document another process checked (and let go of) between this one's read of what is
    /// due and its claim is done: it is not claimed, so it is not fetched twice in a pass.
    #[test]
    fn a_document_checked_since_it_was_read_is_not_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let mut a = SqliteStore::open(&path).unwrap();
        let mut b = SqliteStore::open(&path).unwrap();
        let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let read = a
            .ensure_watch_document("w", "http://127.0.0.1/a", DocRole::Page, t)
            .unwrap();
        // B claims it, checks it and lets go of it while A is still reading.
        let seen = [(read.id, read.last_checked_at)];
        assert_eq!(b.claim_documents(&seen, t).unwrap(), [read.id]);
        let record = crate::store::CheckRecord {
            document_id: read.id,
            etag: None,
            last_modified: None,
            next_due_at: t.plus(Duration::from_secs(3600)),
            snapshot: None,
            corpus: None,
            events: Vec::new(),
            targets: Vec::new(),
            template_blocks: None,
            body_hash: None,
        };
        b.commit_check(record, t).unwrap();
        assert!(a.claim_documents(&seen, t).unwrap().is_empty());
        // Read again, it is claimed as any document nobody holds.
        let again = a.document_by_url("http://127.0.0.1/a").unwrap().unwrap();
        assert_eq!(
            a.claim_documents(&[(again.id, again.last_checked_at)], t)
                .unwrap(),
            [read.id]
        );
    }

    /// Two processes ("a" and "b", holders of another node each) on one database in `dir`.
    fn two_processes(dir: &tempfile::TempDir) -> (SqliteStore, SqliteStore) {
        let path = dir.path().join("g.db");
        let a = SqliteStore::open(&path).unwrap().with_holder("a:1:1:1".into());
        let b = SqliteStore::open(&path).unwrap().with_holder("b:2:2:2".into());
        (a, b)
    }

    /// A pass claims an origin's documents a share at a time: at most the limit, the first
    /// that can be had in the order given, passing over those another process holds.
    #[test]
    fn claim_some_takes_at_most_the_limit_in_order_passing_over_others_claims() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, mut b) = two_processes(&dir);
        let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let ids: Vec<(i64, Option<Timestamp>)> = (0..6)
            .map(|i| {
                let d = a
                    .ensure_watch_document(
                        &format!("w{i}"),
                        &format!("http://127.0.0.1/{i}"),
                        DocRole::Page,
                        t,
                    )
                    .unwrap();
                (d.id, None)
            })
            .collect();
        assert_eq!(b.claim_some(&ids[1..2], 5, t).unwrap(), [ids[1].0]);
        assert_eq!(a.claim_some(&ids, 3, t).unwrap(), [ids[0].0, ids[2].0, ids[3].0]);
        assert_eq!(a.claim_some(&ids, 3, t).unwrap(), [ids[4].0, ids[5].0]);
        assert!(b.claim_some(&ids, 3, t).unwrap().is_empty());
    }

    /// Each process in a pass is counted with its number of due origins until its pass ends or
    /// its lease runs out; another process's origin lease is seen, this process's own is not.
    #[test]
    fn sharing_counts_the_passes_and_the_origins_others_hold() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, mut b) = two_processes(&dir);
        let clock = ManualClock::at(Timestamp::parse("2026-01-01T00:00:00Z").unwrap());
        assert_eq!(a.sharing(clock.now()).unwrap(), Sharing::default());
        a.begin_pass(100, clock.now()).unwrap();
        b.begin_pass(40, clock.now()).unwrap();
        b.take_origin("http://one.test", clock.now()).unwrap();
        a.take_origin("http://two.test", clock.now()).unwrap();
        let seen = a.sharing(clock.now()).unwrap();
        assert_eq!(seen.others, [40]);
        assert_eq!(seen.held_elsewhere, ["http://one.test".to_string()].into());
        assert_eq!(b.sharing(clock.now()).unwrap().others, [100]);
        b.end_pass().unwrap();
        assert!(a.sharing(clock.now()).unwrap().others.is_empty());
        // A pass whose process stopped renewing it stops counting when its lease runs out.
        b.begin_pass(40, clock.now()).unwrap();
        clock.advance(LEASE + Duration::from_secs(1));
        assert_eq!(a.sharing(clock.now()).unwrap(), Sharing::default());
    }

    /// The origins are shared out evenly between passes with the same work, and a pass with
    /// less work than an even part leaves the rest of its part to the others.
    #[test]
    fn a_share_is_an_even_part_unless_another_pass_needs_less() {
        let with = |others: &[usize]| Sharing {
            others: others.to_vec(),
            ..Sharing::default()
        };
        assert_eq!(with(&[]).share(100), 100);
        assert_eq!(with(&[100]).share(100), 50);
        assert_eq!(with(&[100, 100]).share(100), 34);
        assert_eq!(with(&[1]).share(100), 99);
        assert_eq!(with(&[0]).share(100), 100);
        assert_eq!(with(&[100]).share(1), 1);
        assert_eq!(with(&[5, 100]).share(100), 48);
        assert_eq!(with(&[100, 100, 100]).share(0), 1);
    }

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
        assert_eq!(s.claim_documents(&[(id, None)], clock.now()).unwrap(), [id]);
        // Held (by this process, checking it already): not claimed again, up to the last second.
        clock.advance(LEASE);
        assert!(s.claim_documents(&[(id, None)], clock.now()).unwrap().is_empty());
        // Renewed at the last second, it holds another lease from then.
        assert_eq!(s.renew_claims(clock.now()).unwrap(), 1);
        clock.advance(LEASE);
        assert!(s.claim_documents(&[(id, None)], clock.now()).unwrap().is_empty());
        // One second past the renewed lease, it has run out: anyone may claim it.
        clock.advance(Duration::from_secs(1));
        assert_eq!(s.claim_documents(&[(id, None)], clock.now()).unwrap(), [id]);
        s.release_documents(&[id]).unwrap();
        assert_eq!(s.claim_documents(&[(id, None)], clock.now()).unwrap(), [id]);
    }

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_gone() {
        let me = holder_for("alpha");
        assert!(!is_gone(&me, &me), "{me}");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        if let Some(start) = start {
            assert!(is_gone(&format!("alpha:{pid}:{start}:1764000000"), &me));
            // As named before node names (`host:pid:start`), by a process of this node.
            assert!(is_gone(&format!("alpha:{pid}:{start}"), &me));
            // Another node's process is presumed alive: its pids are not this machine's.
            assert!(!is_gone(&format!("beta:{pid}:{start}:1764000000"), &me));
        }
        // One whose start cannot be told, or a name of another form, is presumed alive.
        assert!(!is_gone(&format!("alpha:{pid}:r0001:1764000000"), &me));
        assert!(!is_gone("nonsense", &me));
        assert!(!is_gone(&format!("alpha:{pid}:1"), "a-test-name"));
    }

    /// One name per process, whichever store makes it; the parts `status` shows come back out.
    #[test]
    fn a_holder_names_its_node_process_and_start() {
        let a = holder_for("alpha");
        assert_eq!(holder_for("alpha"), a);
        let n = HolderName::parse(&a).unwrap();
        assert_eq!((n.node, n.pid), ("alpha", std::process::id()));
        let since = n.since.unwrap();
        assert!(since <= Timestamp::from_datetime(time::OffsetDateTime::now_utc()));
        assert_eq!(HolderName::parse("h:12:345").unwrap().since, None);
        assert_eq!(HolderName::parse("a:b:c:d"), None);
        let l = NodeLeases::new("x".into(), [1, 2, 3], since);
        assert_eq!((l.node.as_str(), l.pid, l.origins), ("x", None, 3));
    }
}
