//! The outbox on PostgreSQL: the methods of src/store/outbox.rs, with the same names, arguments
//! and results, for several nodes sending from one database.
//!
//! A node sends a batch only after claiming its deliveries ([`PgStore::claim_due_batches`]):
//! the due rows are read `FOR UPDATE SKIP LOCKED`, so nodes claiming at the same moment pass
//! over each other's rows instead of queueing behind them, and a row one node claimed is
//! skipped by the others until its lease (on the server's clock, see [`super::time`]) runs out.
//! So a message goes out once across the cluster; what remains is the window SQLite has too:
//! a node that dies after the server's 250 and before [`PgStore::mark_sent`] leaves the rows
//! pending, and the next sender sends them again under the same Message-ID
//! ([`PgStore::assign_batch`] fixed it before the first attempt), which receivers deduplicate.
//!
//! Two things a single SQLite writer never meets, and that this file guards against:
//! - a batch that already has a Message-ID is claimed whole or not at all: were its rows split
//!   between two nodes, each would send a different message under one Message-ID, and the
//!   receiver would keep only one of them;
//! - two nodes settling deliveries of the same event at once would each see the other's row
//!   still pending and neither would mark the event notified; the event's row is locked first.
//!
//! What does not depend on the database is src/store/outbox.rs's: the types, routing
//! ([`crate::store::targets_at`], [`Target::wants`]) and the grouping of due rows into batches.

use std::collections::HashMap;

use super::sql::Sql;
use postgres::types::{FromSql, Type};

use super::PgStore;
use super::time::{PgTime, opt, server_now, server_now_plus};
use crate::model::{EventKind, Timestamp};
use crate::store::outbox::{
    Batch, DeliveryRow, Due, DueRow, EventDelivery, OutboxCounts, RetryRefusal, Target, batches_of,
};
use crate::store::{LEASE, Result};

/// The due rows, in the order batches are formed in (src/store/outbox.rs's); `$1` and `$2` are
/// the retries' and the digests' bounds.
const DUE: &str = "SELECT d.id, d.event_id, d.recipient, d.channel, d.mode, d.message_id, d.attempts
     FROM deliveries d JOIN events e ON e.id = d.event_id
     WHERE d.state = 'pending'
       AND d.next_attempt_at <= CASE WHEN d.mode = 'digest' AND d.attempts = 0 THEN $2 ELSE $1 END";
const DUE_ORDER: &str = " ORDER BY d.recipient, d.channel, d.mode, e.significance DESC, d.event_id";

/// Writes the deliveries of an event of `kind` to those of `targets` who want it, in the
/// caller's transaction: as [`crate::store::outbox::enqueue`], which says why an event nobody
/// wants is settled at once and one with no targets is left for later. For `commit_check` on
/// PostgreSQL too, which writes an event and its deliveries together.
pub(super) fn enqueue_in(
    tx: &mut impl Sql,
    event_id: i64,
    kind: EventKind,
    targets: &[Target],
    now: &str,
) -> Result<()> {
    if !targets.is_empty() && !targets.iter().any(|t| t.wants(kind)) {
        tx.execute(
            "UPDATE events SET notified_at = $2 WHERE id = $1 AND notified_at IS NULL",
            &[&event_id, &now],
        )?;
        return Ok(());
    }
    let wanted: Vec<&Target> = targets.iter().filter(|t| t.wants(kind)).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let recipients: Vec<&str> = wanted.iter().map(|t| t.recipient.as_str()).collect();
    let channels: Vec<&str> = wanted.iter().map(|t| t.channel.as_str()).collect();
    let modes: Vec<&str> = wanted.iter().map(|t| t.mode.as_str()).collect();
    let due: Vec<String> = wanted.iter().map(|t| t.due_at.to_string()).collect();
    tx.execute(
        "INSERT INTO deliveries (event_id, recipient, channel, mode, next_attempt_at, created_at)
         SELECT $1, r, c, m, d, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t (r, c, m, d)
         ON CONFLICT DO NOTHING",
        &[&event_id, &recipients, &channels, &modes, &due, &now],
    )?;
    Ok(())
}

/// Locks the events of these deliveries, in id order (so that two nodes never wait for each
/// other crosswise), until the transaction ends: see the module's doc.
fn lock_events(tx: &mut impl Sql, delivery_ids: &[i64]) -> Result<()> {
    tx.execute(
        "SELECT id FROM events WHERE id IN (SELECT event_id FROM deliveries WHERE id = ANY($1))
         ORDER BY id FOR UPDATE",
        &[&delivery_ids],
    )?;
    Ok(())
}

/// As src/store/outbox.rs's `settle_events`: the events of these rows with no pending delivery
/// left are done, with the Message-ID of the message that completed them. Their rows are locked
/// ([`lock_events`]) before the deliveries were written, so this statement sees every other
/// node's writes to their deliveries.
fn settle_events(tx: &mut impl Sql, delivery_ids: &[i64], now: &str, message_id: Option<&str>) -> Result<()> {
    tx.execute(
        "UPDATE events SET notified_at = $2, message_id = coalesce($3, message_id)
         WHERE id IN (SELECT event_id FROM deliveries WHERE id = ANY($1))
           AND notified_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state = 'pending')",
        &[&delivery_ids, &now, &message_id],
    )?;
    Ok(())
}

fn due_row(r: &postgres::Row) -> DueRow {
    DueRow {
        id: r.get(0),
        event_id: r.get(1),
        recipient: r.get(2),
        channel: r.get(3),
        mode: r.get(4),
        message_id: r.get(5),
        attempts: count(r.get(6)),
    }
}

/// An attempts count as the model has it (`u32`); bigint on the server.
fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// An event kind, read from its text column: an unknown kind is an error, not a guess.
struct Kind(EventKind);

impl<'a> FromSql<'a> for Kind {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Kind, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Kind(EventKind::parse(<&str as FromSql>::from_sql(ty, raw)?)?))
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

impl PgStore {
    /// As [`crate::store::Store::orphan_events`].
    pub fn orphan_events(&self) -> Result<Vec<(i64, String, EventKind)>> {
        let rows = self.client.borrow_mut().query(
            "SELECT e.id, e.watch, e.kind FROM events e
             WHERE e.notified_at IS NULL AND e.relevant = 1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
             ORDER BY e.id",
            &[],
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<_, Kind>(2)?.0)))
            .collect()
    }

    /// As [`crate::store::Store::enqueue`]: in one transaction.
    pub fn enqueue(&self, items: &[(i64, EventKind, Vec<Target>)], now: Timestamp) -> Result<()> {
        let now = now.to_string();
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        for (event_id, kind, targets) in items {
            enqueue_in(&mut tx, *event_id, *kind, targets, &now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// As [`crate::store::Store::settle_unfollowed`].
    pub fn settle_unfollowed(&self, event_ids: &[i64], now: Timestamp) -> Result<()> {
        self.client.borrow_mut().execute(
            "UPDATE events SET notified_at = $2 WHERE id = ANY($1) AND notified_at IS NULL",
            &[&event_ids, &now.to_string()],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::due_batches`]: what is shown, not sent, so rows another node is
    /// sending are included.
    pub fn due_batches(&self, due: &Due) -> Result<Vec<Batch>> {
        let (retries, digests) = due.bounds();
        let rows = self.client.borrow_mut().query(
            &format!("{DUE}{DUE_ORDER}"),
            &[&retries.to_string(), &digests.to_string()],
        )?;
        Ok(batches_of(rows.iter().map(due_row)))
    }

    /// As [`crate::store::Store::claim_due_batches`]: the due batches nobody else is sending,
    /// claimed for this process and committed at once; two nodes claiming at the same moment
    /// never get the same delivery (see the module's doc). The claims' lease runs on the
    /// server's clock, so `now` is not used here (it is the caller's, as on SQLite).
    pub fn claim_due_batches(&self, due: &Due, now: Timestamp) -> Result<Vec<Batch>> {
        self.clear_gone_holders(now)?;
        let (retries, digests) = (due.bounds().0.to_string(), due.bounds().1.to_string());
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let rows = tx.query(
            &format!(
                "{DUE} AND (d.claimed_by IS NULL OR d.claimed_until < {now}){DUE_ORDER}
                 FOR UPDATE OF d SKIP LOCKED",
                now = server_now!()
            ),
            &[&retries, &digests],
        )?;
        let mut batches = batches_of(rows.iter().map(due_row));
        // A batch with a Message-ID goes whole or waits: any of its due rows that another node
        // holds (locked now, or claimed) would otherwise leave here as a second message under
        // the same Message-ID.
        let fixed: Vec<&str> = batches.iter().filter_map(|b| b.message_id.as_deref()).collect();
        if !fixed.is_empty() {
            let due_rows: HashMap<String, i64> = tx
                .query(
                    &format!(
                        "SELECT message_id, count(*) FROM ({DUE} AND d.message_id = ANY($3)) AS due
                         GROUP BY message_id"
                    ),
                    &[&retries, &digests, &fixed],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            batches.retain(|b| match &b.message_id {
                Some(m) => due_rows.get(m).copied() == Some(b.delivery_ids.len() as i64),
                None => true,
            });
        }
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.delivery_ids.iter().copied())
            .collect();
        tx.execute(
            concat!(
                "UPDATE deliveries SET claimed_by = $2, claimed_until = ",
                server_now_plus!("$3"),
                " WHERE id = ANY($1)"
            ),
            &[&ids, &self.holder, &(LEASE.as_secs() as i64)],
        )?;
        tx.commit()?;
        Ok(batches)
    }

    /// As [`crate::store::Store::assign_batch`].
    pub fn assign_batch(&self, delivery_ids: &[i64], message_id: &str) -> Result<()> {
        self.client.borrow_mut().execute(
            "UPDATE deliveries SET message_id = $2 WHERE id = ANY($1) AND message_id IS NULL",
            &[&delivery_ids, &message_id],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::mark_sent`].
    pub fn mark_sent(&self, delivery_ids: &[i64], message_id: &str, now: Timestamp) -> Result<()> {
        let now = now.to_string();
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        lock_events(&mut tx, delivery_ids)?;
        tx.execute(
            "UPDATE deliveries SET state = 'sent', sent_at = $2, attempts = attempts + 1, last_error = NULL,
                    claimed_by = NULL, claimed_until = NULL
             WHERE id = ANY($1) AND state = 'pending'",
            &[&delivery_ids, &now],
        )?;
        settle_events(&mut tx, delivery_ids, &now, Some(message_id))?;
        tx.commit()?;
        Ok(())
    }

    /// As [`crate::store::Store::mark_failed`].
    pub fn mark_failed(
        &self,
        delivery_ids: &[i64],
        error: &str,
        permanent: bool,
        max_attempts: u32,
        retry_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let now = now.to_string();
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        lock_events(&mut tx, delivery_ids)?;
        tx.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3,
                    state = CASE WHEN $4 OR attempts + 1 >= $5 THEN 'failed' ELSE 'pending' END,
                    claimed_by = NULL, claimed_until = NULL
             WHERE id = ANY($1) AND state = 'pending'",
            &[
                &delivery_ids,
                &error,
                &retry_at.to_string(),
                &permanent,
                &i64::from(max_attempts),
            ],
        )?;
        settle_events(&mut tx, delivery_ids, &now, None)?;
        tx.commit()?;
        Ok(())
    }

    /// As [`crate::store::Store::release_deliveries`].
    pub fn release_deliveries(&self, delivery_ids: &[i64]) -> Result<()> {
        self.client.borrow_mut().execute(
            "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE id = ANY($1) AND claimed_by = $2",
            &[&delivery_ids, &self.holder],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::next_delivery_due`].
    pub fn next_delivery_due(&self) -> Result<Option<Timestamp>> {
        let row = self.client.borrow_mut().query_one(
            "SELECT min(next_attempt_at) FROM deliveries WHERE state = 'pending'",
            &[],
        )?;
        Ok(opt(row.try_get(0)?))
    }

    /// As [`crate::store::Store::outbox_counts`].
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        let mut c = OutboxCounts::default();
        for r in self
            .client
            .borrow_mut()
            .query("SELECT state, count(*) FROM deliveries GROUP BY state", &[])?
        {
            let (state, n): (String, i64) = (r.get(0), r.get(1));
            match state.as_str() {
                "pending" => c.pending = n as usize,
                "sent" => c.sent = n as usize,
                _ => c.failed = n as usize,
            }
        }
        Ok(c)
    }

    /// As [`crate::store::Store::deliveries`]: every delivery row, oldest first.
    pub fn deliveries(&self) -> Result<Vec<DeliveryRow>> {
        let rows = self.client.borrow_mut().query(
            "SELECT id, event_id, recipient, channel, mode, state, attempts, next_attempt_at, last_error,
                    message_id, sent_at
             FROM deliveries ORDER BY id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    id: r.try_get(0)?,
                    event_id: r.try_get(1)?,
                    recipient: r.try_get(2)?,
                    channel: r.try_get(3)?,
                    mode: r.try_get(4)?,
                    state: r.try_get(5)?,
                    attempts: count(r.try_get(6)?),
                    next_attempt_at: r.try_get::<_, PgTime>(7)?.0,
                    last_error: r.try_get(8)?,
                    message_id: r.try_get(9)?,
                    sent_at: opt(r.try_get(10)?),
                })
            })
            .collect()
    }

    /// As [`crate::store::Store::deliveries_of_events`]: each event's in id order.
    pub fn deliveries_of_events(&self, event_ids: &[i64]) -> Result<HashMap<i64, Vec<EventDelivery>>> {
        let rows = self.client.borrow_mut().query(
            "SELECT event_id, id, recipient, channel, mode, state, last_error, attempts, sent_at
             FROM deliveries WHERE event_id = ANY($1) ORDER BY id",
            &[&event_ids],
        )?;
        let mut out: HashMap<i64, Vec<EventDelivery>> = HashMap::new();
        for r in rows {
            out.entry(r.try_get(0)?).or_default().push(EventDelivery {
                id: r.try_get(1)?,
                recipient: r.try_get(2)?,
                channel: r.try_get(3)?,
                mode: r.try_get(4)?,
                state: r.try_get(5)?,
                last_error: r.try_get(6)?,
                attempts: count(r.try_get(7)?),
                sent_at: opt(r.try_get(8)?),
            });
        }
        Ok(out)
    }

    /// As [`crate::store::Store::retry_refusals`]: in the order of `ids`, checked before
    /// anything is changed.
    pub fn retry_refusals(&self, ids: &[i64]) -> Result<Vec<RetryRefusal>> {
        let states: HashMap<i64, String> = self
            .client
            .borrow_mut()
            .query("SELECT id, state FROM deliveries WHERE id = ANY($1)", &[&ids])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Ok(ids
            .iter()
            .filter_map(|&id| match states.get(&id) {
                None => Some(RetryRefusal::Unknown(id)),
                Some(state) if state != "failed" => Some(RetryRefusal::NotFailed {
                    id,
                    state: state.clone(),
                }),
                Some(_) => None,
            })
            .collect())
    }

    /// As [`crate::store::Store::retry_failed`]: the ids requeued, in id order.
    pub fn retry_failed(&self, ids: Option<&[i64]>, now: Timestamp) -> Result<Vec<i64>> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let mut requeued: Vec<i64> = tx
            .query(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1,
                        claimed_by = NULL, claimed_until = NULL
                 WHERE state = 'failed' AND ($2::bigint[] IS NULL OR id = ANY($2))
                 RETURNING id",
                &[&now.to_string(), &ids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        requeued.sort_unstable();
        // Their events are pending mail again (see the SQLite version).
        tx.execute(
            "UPDATE events SET notified_at = NULL
             WHERE id IN (SELECT event_id FROM deliveries WHERE id = ANY($1))",
            &[&requeued],
        )?;
        tx.commit()?;
        Ok(requeued)
    }
}
