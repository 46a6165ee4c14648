//! The `deliveries` table, the outbox: one row per event and recipient (and channel), written with
//! the event in [`super::Store::commit_check`]; a sender takes the rows that are due, gives them a
//! batch (a Message-ID) before the first attempt, and marks them sent only after the server
//! accepted the message.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Result, SqliteStore};
use crate::model::{EventKind, KindSet, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// With the next send after the pass that found it.
    Immediate,
    /// At the recipient's next scheduled digest.
    Digest,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Immediate => "immediate",
            Mode::Digest => "digest",
        }
    }
}

/// Who gets an event, how, and from when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub recipient: String,
    pub channel: Channel,
    pub mode: Mode,
    /// Now, or the digest's scheduled time.
    pub due_at: Timestamp,
    /// The kinds of document event the recipient is told of (`[[recipient]] kinds`).
    pub kinds: KindSet,
}

impl Target {
    /// Whether an event of this kind goes to this target: a kind the recipient chose, or a
    /// watch's notice, which everyone who follows the watch is told.
    pub fn wants(&self, kind: EventKind) -> bool {
        kind.is_watch_notice() || self.kinds.contains(kind)
    }
}

/// Delivery rows that go out as one message (or one webhook call).
#[derive(Debug, Clone)]
pub struct Batch {
    pub recipient: String,
    pub channel: Channel,
    pub mode: Mode,
    /// Set when an earlier attempt was made: a resend must be the same message.
    pub message_id: Option<String>,
    pub delivery_ids: Vec<i64>,
    pub event_ids: Vec<i64>,
    /// The most attempts any row has had.
    pub attempts: u32,
}

/// How far ahead rows count as due: the daemon sends what is due now; a one-shot command may
/// send retries early (`retries_until`) and digests before their time (`digests_until`).
/// `None` is no bound: whatever the row's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub retries_until: Option<Timestamp>,
    pub digests_until: Option<Timestamp>,
}

impl Due {
    /// (retries, digests): due at or before these. No bound is the last moment there is: every
    /// stored time is at or before it.
    pub(super) fn bounds(&self) -> (Timestamp, Timestamp) {
        (
            self.retries_until.unwrap_or_else(Timestamp::max),
            self.digests_until.unwrap_or_else(Timestamp::max),
        )
    }
}

/// Writes the deliveries of an event of `kind` to those of `targets` who want it. An event that
/// someone follows but nobody wants (a duplicate, by default) is settled at once: it is stored
/// and listed, and nobody is waiting for it. With no targets at all it is left for the sender to
/// route when recipients are configured (see `Store::orphan_events`).
pub(super) fn enqueue(
    tx: &Connection,
    event_id: i64,
    kind: EventKind,
    targets: &[Target],
    now: &str,
) -> Result<()> {
    if !targets.is_empty() && !targets.iter().any(|t| t.wants(kind)) {
        tx.prepare_cached("UPDATE events SET notified_at = ?2 WHERE id = ?1 AND notified_at IS NULL")?
            .execute(params![event_id, now])?;
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO deliveries (event_id, recipient, channel, mode, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for t in targets.iter().filter(|t| t.wants(kind)) {
        stmt.execute(params![
            event_id,
            t.recipient,
            t.channel.as_str(),
            t.mode.as_str(),
            t.due_at,
            now
        ])?;
    }
    Ok(())
}

/// Counts of the outbox by state, for `govwatch outbox` and the logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    pub pending: usize,
    pub sent: usize,
    pub failed: usize,
}

/// A delivery as listed by `govwatch outbox`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: i64,
    pub recipient: String,
    pub channel: String,
    pub mode: String,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Timestamp>,
}

impl SqliteStore {
    /// Relevant events waiting for mail that have no delivery rows: found before the outbox
    /// existed, or while no recipient was configured. `(event id, watch, kind)`, oldest first.
    pub fn orphan_events(&self) -> Result<Vec<(i64, String, EventKind)>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.watch, e.kind FROM events e
             WHERE e.notified_at IS NULL AND e.relevant = 1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
             ORDER BY e.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, super::parsed(r, 2, EventKind::parse)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Gives orphan events their delivery rows (to those of the targets who want their kind),
    /// in one transaction.
    pub fn enqueue(&mut self, items: &[(i64, EventKind, Vec<Target>)], now: Timestamp) -> Result<()> {
        let now = now.to_string();
        let tx = self.conn.transaction()?;
        for (event_id, kind, targets) in items {
            enqueue(&tx, *event_id, *kind, targets, &now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Events no configured recipient follows are done with: nobody is waiting for them, and
    /// they must not count as pending mail forever.
    pub fn settle_unfollowed(&mut self, event_ids: &[i64], now: Timestamp) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare("UPDATE events SET notified_at = ?2 WHERE id = ?1 AND notified_at IS NULL")?;
            for id in event_ids {
                stmt.execute(params![id, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Pending rows that are due, as batches: rows that already carry a Message-ID stay
    /// together under it; the others are grouped by recipient, channel and mode.
    /// What is shown, not sent: rows another process is sending are included.
    pub fn due_batches(&self, due: &Due) -> Result<Vec<Batch>> {
        due_batches_in(&self.conn, due, None)
    }

    /// The due batches nobody else is sending, claimed for this process (see
    /// [`super::claims`]): two processes sending at once never send the same delivery twice.
    /// Committed at once; [`Store::mark_sent`] and [`Store::mark_failed`] let go of the claims.
    pub fn claim_due_batches(&mut self, due: &Due, now: Timestamp) -> Result<Vec<Batch>> {
        self.end_batch()?;
        self.clear_gone_holders(now)?;
        let until = now.plus(super::LEASE);
        let now = now.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let batches = due_batches_in(&tx, due, Some(&now))?;
        {
            let mut claim =
                tx.prepare("UPDATE deliveries SET claimed_by = ?2, claimed_until = ?3 WHERE id = ?1")?;
            for id in batches.iter().flat_map(|b| &b.delivery_ids) {
                claim.execute(params![id, self.holder, until])?;
            }
        }
        tx.commit()?;
        Ok(batches)
    }

    /// Fixes a batch's Message-ID before its first attempt, so that a resend after a crash is
    /// the same message, carrying the same events.
    pub fn assign_batch(&mut self, delivery_ids: &[i64], message_id: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare("UPDATE deliveries SET message_id = ?2 WHERE id = ?1 AND message_id IS NULL")?;
            for id in delivery_ids {
                stmt.execute(params![id, message_id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The server accepted the message: its rows are sent, and events with nothing left
    /// pending are marked notified.
    pub fn mark_sent(&mut self, delivery_ids: &[i64], message_id: &str, now: Timestamp) -> Result<()> {
        let now = now.to_string();
        let tx = self.conn.transaction()?;
        {
            let mut sent = tx.prepare(
                "UPDATE deliveries SET state = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL,
                        claimed_by = NULL, claimed_until = NULL
                 WHERE id = ?1 AND state = 'pending'",
            )?;
            for id in delivery_ids {
                sent.execute(params![id, now])?;
            }
            settle_events(&tx, delivery_ids, &now, Some(message_id))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// An attempt failed. A permanent failure (the server rejected the recipient) or the last
    /// allowed attempt makes the rows `failed`; otherwise they are retried at `retry_at`.
    pub fn mark_failed(
        &mut self,
        delivery_ids: &[i64],
        error: &str,
        permanent: bool,
        max_attempts: u32,
        retry_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let now = now.to_string();
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
                        state = CASE WHEN ?4 OR attempts + 1 >= ?5 THEN 'failed' ELSE 'pending' END,
                        claimed_by = NULL, claimed_until = NULL
                 WHERE id = ?1 AND state = 'pending'",
            )?;
            for id in delivery_ids {
                stmt.execute(params![id, error, retry_at, permanent, max_attempts])?;
            }
            settle_events(&tx, delivery_ids, &now, None)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Lets go of this process's claims on deliveries it did not get to (a sender that failed
    /// before them), so that the next round, here or in another process, sends them.
    pub fn release_deliveries(&mut self, delivery_ids: &[i64]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE id = ?1 AND claimed_by = ?2",
            )?;
            for id in delivery_ids {
                stmt.execute(params![id, self.holder])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// When the next pending delivery falls due, if any.
    pub fn next_delivery_due(&self) -> Result<Option<Timestamp>> {
        Ok(self.conn.query_row(
            "SELECT min(next_attempt_at) FROM deliveries WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        let mut c = OutboxCounts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM deliveries GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            match state.as_str() {
                "pending" => c.pending = n as usize,
                "sent" => c.sent = n as usize,
                _ => c.failed = n as usize,
            }
        }
        Ok(c)
    }

    /// Every delivery row, oldest first.
    pub fn deliveries(&self) -> Result<Vec<DeliveryRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, event_id, recipient, channel, mode, state, attempts, next_attempt_at, last_error,
                    message_id, sent_at
             FROM deliveries ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DeliveryRow {
                id: r.get(0)?,
                event_id: r.get(1)?,
                recipient: r.get(2)?,
                channel: r.get(3)?,
                mode: r.get(4)?,
                state: r.get(5)?,
                attempts: r.get(6)?,
                next_attempt_at: r.get(7)?,
                last_error: r.get(8)?,
                message_id: r.get(9)?,
                sent_at: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// One delivery of an event, as `govwatch changes --json` shows it under the event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventDelivery {
    /// The delivery's id: what `govwatch outbox retry ID` takes.
    pub id: i64,
    pub recipient: String,
    pub channel: String,
    pub mode: String,
    pub state: String,
    /// Kept as `null` rather than left out, so that a reader can rely on the key.
    pub last_error: Option<String>,
    pub attempts: u32,
    pub sent_at: Option<Timestamp>,
}

/// Why `govwatch outbox retry ID...` will not requeue what it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryRefusal {
    /// No delivery has this id.
    Unknown(i64),
    /// The delivery is pending or sent: there is nothing to retry.
    NotFailed { id: i64, state: String },
}

impl SqliteStore {
    /// The deliveries of these events, each event's in id order.
    pub fn deliveries_of_events(&self, event_ids: &[i64]) -> Result<HashMap<i64, Vec<EventDelivery>>> {
        let ids = serde_json::to_string(event_ids).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn.prepare(
            "SELECT event_id, id, recipient, channel, mode, state, last_error, attempts, sent_at
             FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?;
        let rows = stmt.query_map([ids], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                EventDelivery {
                    id: r.get(1)?,
                    recipient: r.get(2)?,
                    channel: r.get(3)?,
                    mode: r.get(4)?,
                    state: r.get(5)?,
                    last_error: r.get(6)?,
                    attempts: r.get(7)?,
                    sent_at: r.get(8)?,
                },
            ))
        })?;
        let mut out: HashMap<i64, Vec<EventDelivery>> = HashMap::new();
        for row in rows {
            let (event, d) = row?;
            out.entry(event).or_default().push(d);
        }
        Ok(out)
    }

    /// Which of `ids` cannot be retried (unknown, or not failed), checked before anything is
    /// changed, so that a mistyped id requeues nothing.
    pub fn retry_refusals(&self, ids: &[i64]) -> Result<Vec<RetryRefusal>> {
        let mut stmt = self.conn.prepare("SELECT state FROM deliveries WHERE id = ?1")?;
        let mut out = Vec::new();
        for &id in ids {
            match stmt.query_row([id], |r| r.get::<_, String>(0)).optional()? {
                None => out.push(RetryRefusal::Unknown(id)),
                Some(state) if state != "failed" => out.push(RetryRefusal::NotFailed { id, state }),
                Some(_) => {}
            }
        }
        Ok(out)
    }

    /// Puts failed deliveries back in the queue (`ids`, or every failed one): pending, due now,
    /// with their attempts reset so they get the full set of retries again, and their events
    /// waiting for mail again. The last error stays until the next attempt replaces or clears
    /// it. Returns the ids requeued.
    pub fn retry_failed(&mut self, ids: Option<&[i64]>, now: Timestamp) -> Result<Vec<i64>> {
        let only = ids.map(|i| serde_json::to_string(i).unwrap_or_else(|_| "[]".into()));
        let tx = self.conn.transaction()?;
        let requeued: Vec<i64> = {
            let mut stmt = tx.prepare(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                        claimed_by = NULL, claimed_until = NULL
                 WHERE state = 'failed' AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2)))
                 RETURNING id",
            )?;
            stmt.query_map(params![now, only], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        // Their events are pending mail again: `digest` shows them, and the sender settles them
        // (with the Message-ID that completes them) once the deliveries go.
        tx.execute(
            "UPDATE events SET notified_at = NULL
             WHERE id IN (SELECT event_id FROM deliveries WHERE id IN (SELECT value FROM json_each(?1)))",
            [serde_json::to_string(&requeued).unwrap_or_else(|_| "[]".into())],
        )?;
        tx.commit()?;
        Ok(requeued)
    }
}

/// Events of these rows with no pending delivery left are done: `notified_at` is set (the
/// column `govwatch changes` shows), with the Message-ID of the message that completed them.
fn settle_events(
    tx: &Transaction<'_>,
    delivery_ids: &[i64],
    now: &str,
    message_id: Option<&str>,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE events SET notified_at = ?2, message_id = coalesce(?3, message_id)
         WHERE id = (SELECT event_id FROM deliveries WHERE id = ?1)
           AND notified_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state = 'pending')",
    )?;
    for id in delivery_ids {
        stmt.execute(params![id, now, message_id])?;
    }
    Ok(())
}

/// Pending rows that are due, as batches. With `unclaimed_at` (now), only rows nobody has a live
/// claim on: rows this process claimed are being sent by it already.
fn due_batches_in(conn: &Connection, due: &Due, unclaimed_at: Option<&str>) -> Result<Vec<Batch>> {
    let now = unclaimed_at.unwrap_or("");
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.event_id, d.recipient, d.channel, d.mode, d.message_id, d.attempts
         FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.state = 'pending'
           AND d.next_attempt_at <= CASE WHEN d.mode = 'digest' AND d.attempts = 0 THEN ?2 ELSE ?1 END
           AND (?3 = 0 OR d.claimed_by IS NULL OR d.claimed_until < ?4)
         ORDER BY d.recipient, d.channel, d.mode, e.significance DESC, d.event_id",
    )?;
    let (retries, digests) = due.bounds();
    let rows = stmt.query_map(params![retries, digests, unclaimed_at.is_some(), now], |r| {
        Ok(DueRow {
            id: r.get(0)?,
            event_id: r.get(1)?,
            recipient: r.get(2)?,
            channel: r.get(3)?,
            mode: r.get(4)?,
            message_id: r.get(5)?,
            attempts: r.get(6)?,
        })
    })?;
    Ok(batches_of(rows.collect::<rusqlite::Result<Vec<_>>>()?))
}

/// A pending delivery that is due, as the due query reads it (both backends').
pub(super) struct DueRow {
    pub id: i64,
    pub event_id: i64,
    pub recipient: String,
    pub channel: String,
    pub mode: String,
    pub message_id: Option<String>,
    pub attempts: u32,
}

/// Due rows, in the due query's order, as batches: rows that carry a Message-ID stay together
/// under it; the others are grouped by recipient, channel and mode.
pub(super) fn batches_of(rows: impl IntoIterator<Item = DueRow>) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    for row in rows {
        let DueRow {
            id,
            event_id,
            recipient,
            channel,
            mode,
            message_id,
            attempts,
        } = row;
        let channel = if channel == "webhook" {
            Channel::Webhook
        } else {
            Channel::Email
        };
        let mode = if mode == "digest" {
            Mode::Digest
        } else {
            Mode::Immediate
        };
        let found = batches.iter_mut().find(|b| {
            b.recipient == recipient && b.channel == channel && b.mode == mode && b.message_id == message_id
        });
        match found {
            Some(b) => {
                b.delivery_ids.push(id);
                b.event_ids.push(event_id);
                b.attempts = b.attempts.max(attempts);
            }
            None => batches.push(Batch {
                recipient,
                channel,
                mode,
                message_id,
                delivery_ids: vec![id],
                event_ids: vec![event_id],
                attempts,
            }),
        }
    }
    batches
}

/// Who follows `watch` (with `tags`), how and from when, as of `now`, with the kinds each is told
/// of: the outbox rows written with an event (to those who want its kind, [`Target::wants`]),
/// so that an event never exists without its deliveries.
pub fn targets_at(
    config: &crate::config::Config,
    watch: &str,
    tags: &[String],
    now: Timestamp,
) -> Vec<Target> {
    let mut out = Vec::new();
    let has_email = config.email.is_some();
    for r in config.recipients.iter().filter(|r| r.follows(watch, tags)) {
        if has_email && r.immediate {
            out.push(Target {
                recipient: r.key(),
                channel: Channel::Email,
                mode: Mode::Immediate,
                due_at: now,
                kinds: r.kinds,
            });
        }
        if let (true, Some(s)) = (has_email, &r.digest) {
            // A schedule with no future time (a date long past) would hold mail forever: then now.
            let at = s.next_after(now.to_chrono()).map_or(now, Timestamp::from_chrono);
            out.push(Target {
                recipient: r.key(),
                channel: Channel::Email,
                mode: Mode::Digest,
                due_at: at,
                kinds: r.kinds,
            });
        }
        if r.webhook.is_some() {
            out.push(Target {
                recipient: r.key(),
                channel: Channel::Webhook,
                mode: Mode::Immediate,
                due_at: now,
                kinds: r.kinds,
            });
        }
    }
    out
}
