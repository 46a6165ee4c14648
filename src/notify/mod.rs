//! Telling people: events become delivery rows in the outbox (written with the event), and a
//! sender works from the outbox: one message per recipient and batch (text + HTML, by SMTP or as
//! `.eml` files), webhook calls, retries with backoff, and the Atom feed.
//!
//! Exactly-once, as far as it can be had: a batch gets its Message-ID in the database before the
//! first attempt, and its rows are marked sent only after the server's 250. A kill between the
//! 250 and that commit resends the same message (same Message-ID, same events) at the next
//! start; that window is the one place a message can arrive twice.

mod digest;
pub mod feed;
mod render;
mod shared;
mod transport;
mod webhook;

use std::time::Duration;

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

pub use digest::{Caps, Model, altered_statements, id_ranges, one_line};
pub use render::{Templates, template_dir};
pub use shared::{SharedSentence, shared_sentences};
pub use transport::Mailer;

use crate::config::{Config, Email, Recipient};
use crate::model::{Clock, EventKind, KindSet, Timestamp};
use crate::store::{Batch, Channel, Due, EventRow, StoreError, StoreHandle, Target};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("template {0}")]
    Template(String),
    #[error("SMTP server {server}: {reason}")]
    Smtp { server: String, reason: String },
    #[error("cannot write to the outbox {path}: {source}")]
    Outbox {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the feed {path}: {source}")]
    Feed {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("no [email] section in the config: nothing can be sent")]
    NotConfigured,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One message (or webhook call) that went, or did not.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub recipient: String,
    pub channel: Channel,
    pub message_id: String,
    pub events: usize,
}

#[derive(Debug, Clone)]
pub struct Undelivered {
    pub recipient: String,
    pub channel: Channel,
    pub reason: String,
    /// Failed for good (the server rejected it, or attempts ran out); otherwise retried later.
    pub permanent: bool,
}

/// What a send did.
#[derive(Debug, Clone, Default)]
pub struct SendReport {
    pub sent: Vec<Delivered>,
    pub failed: Vec<Undelivered>,
}

impl SendReport {
    pub fn events_sent(&self) -> usize {
        self.sent.iter().map(|d| d.events).sum()
    }
}

/// Who gets a new event of this watch, found at `now`, and when: the outbox rows written with it
/// (the rule is [`crate::store::targets_at`], which the check applies inside its write).
pub fn targets(config: &Config, watch: &str, tags: &[String], now: Timestamp) -> Vec<Target> {
    crate::store::targets_at(config, watch, tags, now)
}

/// One rendered message.
#[derive(Debug, Clone)]
pub struct Digest {
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    pub event_ids: Vec<i64>,
}

/// The Message-ID of a batch: the same recipient and events always make the same one.
pub fn message_id(recipient: &str, event_ids: &[i64], domain: &str) -> String {
    let mut ids = event_ids.to_vec();
    ids.sort_unstable();
    let key = format!("{recipient}\n{ids:?}");
    let h = xxhash_rust::xxh3::xxh3_128(key.as_bytes());
    format!("<govwatch.{h:032x}.{}@{domain}>", ids.len())
}

fn domain_of(email: Option<&Email>) -> String {
    email
        .map(|e| e.from.email.domain().to_string())
        .unwrap_or_else(|| "govwatch.invalid".into())
}

impl Digest {
    /// The message for `events` (to `recipient`, if known), or `None` when there is nothing.
    pub fn build(
        events: &[EventRow],
        email: Option<&Email>,
        recipient: Option<&str>,
        templates: &Templates,
    ) -> Result<Option<Digest>, NotifyError> {
        Digest::build_in(events, email, recipient, chrono_tz::UTC, templates)
    }

    /// [`Digest::build`] with every time in `tz`, the recipient's time zone.
    pub fn build_in(
        events: &[EventRow],
        email: Option<&Email>,
        recipient: Option<&str>,
        tz: chrono_tz::Tz,
        templates: &Templates,
    ) -> Result<Option<Digest>, NotifyError> {
        let prefix = email.map_or("[govwatch]", |e| e.subject_prefix.as_str());
        let delivery = email.map(|e| e.delivery.clone()).unwrap_or_default();
        let caps = Caps {
            max_items: delivery.max_items,
            max_bytes: delivery.max_bytes,
        };
        let Some(model) = Model::build_in(events, prefix, recipient, tz, caps) else {
            return Ok(None);
        };
        let (text, html) = templates.render(&model)?;
        let event_ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        Ok(Some(Digest {
            subject: model.subject,
            message_id: message_id(recipient.unwrap_or(""), &event_ids, &domain_of(email)),
            text,
            html,
            event_ids,
        }))
    }

    /// The multipart (text + HTML) message to one recipient.
    pub fn message(&self, from: &Mailbox, to: &Mailbox) -> Result<Message, NotifyError> {
        Message::builder()
            .from(from.clone())
            .to(to.clone())
            .subject(self.subject.clone())
            .message_id(Some(self.message_id.clone()))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Govwatch-Events"),
                id_ranges(&self.event_ids),
            ))
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))
            .map_err(|e| NotifyError::Build(e.to_string()))
    }

    /// The message as `govwatch digest` prints it: headers, then the text part.
    pub fn preview(&self, from: Option<&Mailbox>, to: Option<&str>) -> String {
        let mut out = String::new();
        if let Some(f) = from {
            out.push_str(&format!("From: {f}\n"));
        }
        if let Some(t) = to {
            out.push_str(&format!("To: {t}\n"));
        }
        out.push_str(&format!(
            "Subject: {}\nMessage-ID: {}\n\n",
            self.subject, self.message_id
        ));
        out.push_str(&self.text);
        out
    }
}

/// The messages that would go out if everything pending were sent now: one per recipient, or
/// one for all pending events when no recipient is configured.
pub async fn preview(
    store: &StoreHandle,
    config: &Config,
    clock: &dyn Clock,
) -> Result<Vec<(Option<String>, Digest)>, NotifyError> {
    let templates = Templates::load(&template_dir(&config.source))?.linking_events(&config.http);
    let email = config.email.as_ref();
    let mut out = Vec::new();
    if config.recipients.is_empty() || email.is_none() {
        // What would go to a recipient of the default kinds.
        let mut pending = store.run(|s| s.pending_events()).await?;
        pending.retain(|e| KindSet::mailed_by_default().contains(e.kind));
        if let Some(d) = Digest::build(&pending, email, None, &templates)? {
            out.push((None, d));
        }
        return Ok(out);
    }
    adopt_orphans(store, config, clock.now()).await?;
    let batches = store.run(|s| s.due_batches(&everything())).await?;
    for b in batches.into_iter().filter(|b| b.channel == Channel::Email) {
        let ids = b.event_ids.clone();
        let events = store.run(move |s| s.events_by_ids(&ids)).await?;
        let tz = zone_of(config, &b.recipient);
        if let Some(mut d) = Digest::build_in(&events, email, Some(&b.recipient), tz, &templates)? {
            if let Some(id) = b.message_id {
                d.message_id = id;
            }
            out.push((Some(b.recipient), d));
        }
    }
    Ok(out)
}

/// The time zone a recipient reads times in; UTC for one no longer in the config.
fn zone_of(config: &Config, recipient: &str) -> chrono_tz::Tz {
    config
        .recipients
        .iter()
        .find(|r| r.key() == recipient)
        .map_or(chrono_tz::UTC, |r| r.timezone)
}

/// Due bounds that take everything pending, retries and digests included.
pub fn everything() -> Due {
    Due {
        retries_until: None,
        digests_until: None,
    }
}

/// What the daemon sends: what is due `now`.
pub fn due_now(now: Timestamp) -> Due {
    Due {
        retries_until: Some(now),
        digests_until: Some(now),
    }
}

/// What a one-shot `govwatch check` sends: immediate mail even if its retry is not due yet (the
/// user asked now), digests only at their time.
pub fn due_for_check(now: Timestamp) -> Due {
    Due {
        retries_until: None,
        digests_until: Some(now),
    }
}

/// Events with no delivery rows (found before the outbox existed, or while nobody was
/// configured to receive them) get them now, for the recipients configured now.
///
/// Except the events of a watch this config lacks while another live node's config has it
/// (nodes sharing one database may watch different things): that node's config knows the
/// watch's tags and who follows it, and routes them. Routed here they could be settled as
/// followed by nobody, and that node's recipients would never be told. Once no live node has
/// the watch, it is no longer watched anywhere, and this node routes (or settles) them.
async fn adopt_orphans(store: &StoreHandle, config: &Config, now: Timestamp) -> Result<(), NotifyError> {
    let mut orphans = store.run(|s| s.orphan_events()).await?;
    let not_mine = |watch: &str| !config.watches.iter().any(|w| w.name == watch);
    if orphans.iter().any(|(_, watch, _)| not_mine(watch)) {
        let nodes = store.run(move |s| s.live_nodes(now)).await?;
        let elsewhere = |watch: &str| {
            nodes
                .iter()
                .any(|n| n.name != config.daemon.node && n.watches.contains_key(watch))
        };
        let before = orphans.len();
        orphans.retain(|(_, watch, _)| !(not_mine(watch) && elsewhere(watch)));
        if orphans.len() < before {
            tracing::debug!(
                events = before - orphans.len(),
                "events of watches only other nodes have are left to them"
            );
        }
    }
    if orphans.is_empty() {
        return Ok(());
    }
    type Routed = (i64, EventKind, Vec<Target>);
    let (items, unfollowed): (Vec<Routed>, Vec<_>) = orphans
        .into_iter()
        .map(|(id, watch, kind)| {
            let tags = config
                .watches
                .iter()
                .find(|w| w.name == watch)
                .map(|w| w.tags.clone())
                .unwrap_or_default();
            let wanted: Vec<Target> = targets(config, &watch, &tags, now)
                .into_iter()
                .filter(|t| t.wants(kind))
                .collect();
            (id, kind, wanted)
        })
        .partition(|(_, _, t)| !t.is_empty());
    // With nobody configured at all, events wait for a recipient; with recipients who all
    // follow other watches (or do not want this kind), nobody ever will be told.
    if !config.recipients.is_empty() && !unfollowed.is_empty() {
        let ids: Vec<i64> = unfollowed.into_iter().map(|(id, _, _)| id).collect();
        tracing::info!(events = ids.len(), "events no recipient follows are not mailed");
        store.run(move |s| s.settle_unfollowed(&ids, now)).await?;
    }
    if !items.is_empty() {
        tracing::info!(
            events = items.len(),
            "queued events found before their recipients were"
        );
        store.run(move |s| s.enqueue(&items, now)).await?;
    }
    Ok(())
}

/// Sends what is due in the outbox. Failures are recorded on their rows (and retried with
/// backoff) and reported; only a database error is an `Err`. Times (a claim's lease, when a row
/// was sent, when it is retried) are `clock`'s.
pub async fn send_due(
    store: &StoreHandle,
    config: &Config,
    due: Due,
    clock: &dyn Clock,
) -> Result<SendReport, NotifyError> {
    let has_webhooks = config.recipients.iter().any(|r| r.webhook.is_some());
    if config.email.is_none() && !has_webhooks {
        return Err(NotifyError::NotConfigured);
    }
    adopt_orphans(store, config, clock.now()).await?;
    let now = clock.now();
    let batches = store.run(move |s| s.claim_due_batches(&due, now)).await?;
    let mut report = SendReport::default();
    if batches.is_empty() {
        return Ok(report);
    }
    let tools = (|| -> Result<_, NotifyError> {
        let templates = Templates::load(&template_dir(&config.source))?.linking_events(&config.http);
        let mailer = match &config.email {
            Some(e) if batches.iter().any(|b| b.channel == Channel::Email) => {
                Some(Mailer::new(e, &config.storage.outbox_dir())?)
            }
            _ => None,
        };
        Ok((templates, mailer, webhook::Client::new(config)?))
    })();
    let (templates, mailer, hooks) = match tools {
        Ok(t) => t,
        Err(e) => {
            release(store, &batches).await;
            return Err(e);
        }
    };
    let mut batches = batches.into_iter();
    while let Some(batch) = batches.next() {
        let sent = match send_batch(store, config, &batch, mailer.as_ref(), &templates, &hooks).await {
            // The outcome is written at the time it is known.
            Ok(outcome) => record(store, config, &batch, outcome, clock.now(), &mut report).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            // The sender broke (a template, the database): what it did not get to stays pending,
            // claimed by nobody, for the next round here or in another process.
            let rest: Vec<Batch> = std::iter::once(batch).chain(batches).collect();
            release(store, &rest).await;
            return Err(e);
        }
    }
    Ok(report)
}

/// Lets go of the claims on `batches`, which this process will not send after all.
async fn release(store: &StoreHandle, batches: &[Batch]) {
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.delivery_ids.iter().copied())
        .collect();
    if let Err(e) = store.run(move |s| s.release_deliveries(&ids)).await {
        tracing::warn!(error = %e, "could not let go of mail claims; they run out by themselves");
    }
}

/// Sends one batch; what came of it is for [`record`] to write.
async fn send_batch(
    store: &StoreHandle,
    config: &Config,
    batch: &Batch,
    mailer: Option<&Mailer>,
    templates: &Templates,
    hooks: &webhook::Client,
) -> Result<Outcome, NotifyError> {
    {
        let recipient = config.recipients.iter().find(|r| r.key() == batch.recipient);
        let outcome = match (recipient, batch.channel) {
            (None, _) => Err(transport::SendFailure {
                reason: format!("{} is no longer a recipient in the config", batch.recipient),
                permanent: true,
            }),
            (Some(r), Channel::Email) => match (&config.email, mailer) {
                (Some(email), Some(mailer)) => send_email(store, email, r, batch, mailer, templates).await?,
                _ => Err(transport::SendFailure {
                    reason: "no [email] section in the config".into(),
                    permanent: false,
                }),
            },
            (Some(r), Channel::Webhook) => send_webhook(store, config, r, batch, hooks).await?,
        };
        Ok(outcome)
    }
}

type Outcome = Result<String, transport::SendFailure>;

async fn events_of(store: &StoreHandle, batch: &Batch) -> Result<Vec<EventRow>, NotifyError> {
    let ids = batch.event_ids.clone();
    Ok(store.run(move |s| s.events_by_ids(&ids)).await?)
}

/// Fixes the batch's Message-ID in the database, before anything leaves.
async fn fix_id(store: &StoreHandle, batch: &Batch, computed: &str) -> Result<String, NotifyError> {
    if let Some(id) = &batch.message_id {
        return Ok(id.clone());
    }
    let (ids, mid) = (batch.delivery_ids.clone(), computed.to_string());
    store.run(move |s| s.assign_batch(&ids, &mid)).await?;
    Ok(computed.to_string())
}

async fn send_email(
    store: &StoreHandle,
    email: &Email,
    r: &Recipient,
    batch: &Batch,
    mailer: &Mailer,
    templates: &Templates,
) -> Result<Outcome, NotifyError> {
    let events = events_of(store, batch).await?;
    let Some(mut digest) = Digest::build_in(
        &events,
        Some(email),
        Some(&batch.recipient),
        r.timezone,
        templates,
    )?
    else {
        return Ok(Err(transport::SendFailure {
            reason: "its events are gone from the database".into(),
            permanent: true,
        }));
    };
    digest.message_id = fix_id(store, batch, &digest.message_id).await?;
    let message = digest.message(&email.from, &r.address)?;
    Ok(mailer.send(message).await.map(|()| digest.message_id))
}

async fn send_webhook(
    store: &StoreHandle,
    config: &Config,
    r: &Recipient,
    batch: &Batch,
    hooks: &webhook::Client,
) -> Result<Outcome, NotifyError> {
    let Some(url) = &r.webhook else {
        return Ok(Err(transport::SendFailure {
            reason: "the recipient has no webhook any more".into(),
            permanent: true,
        }));
    };
    let events = events_of(store, batch).await?;
    let id = message_id(
        &format!("webhook:{}", batch.recipient),
        &batch.event_ids,
        &domain_of(config.email.as_ref()),
    );
    let id = fix_id(store, batch, &id).await?;
    Ok(hooks.post(url, &id, &batch.recipient, &events).await.map(|()| id))
}

/// Writes an attempt's outcome, known at `now`, to the batch's rows.
async fn record(
    store: &StoreHandle,
    config: &Config,
    batch: &Batch,
    outcome: Outcome,
    now: Timestamp,
    report: &mut SendReport,
) -> Result<(), NotifyError> {
    let ids = batch.delivery_ids.clone();
    match outcome {
        Ok(message_id) => {
            let mid = message_id.clone();
            store.run(move |s| s.mark_sent(&ids, &mid, now)).await?;
            tracing::info!(recipient = %batch.recipient, channel = batch.channel.as_str(), mode = batch.mode.as_str(),
                events = batch.event_ids.len(), message_id = %message_id, "delivered");
            crate::metrics::mail_sent();
            report.sent.push(Delivered {
                recipient: batch.recipient.clone(),
                channel: batch.channel,
                message_id,
                events: batch.event_ids.len(),
            });
        }
        Err(f) => {
            let delivery = config
                .email
                .as_ref()
                .map(|e| e.delivery.clone())
                .unwrap_or_default();
            let wait = backoff(&delivery, batch.attempts, fastrand::f64());
            let retry_at = now.plus(wait);
            let last = f.permanent || batch.attempts + 1 >= delivery.max_attempts;
            let (reason, max) = (f.reason.clone(), delivery.max_attempts);
            let permanent = f.permanent;
            store
                .run(move |s| s.mark_failed(&ids, &reason, permanent, max, retry_at, now))
                .await?;
            crate::metrics::mail_failed();
            if last {
                tracing::error!(recipient = %batch.recipient, channel = batch.channel.as_str(), events = batch.event_ids.len(),
                    reason = %f.reason, "delivery failed for good");
            } else {
                tracing::warn!(recipient = %batch.recipient, channel = batch.channel.as_str(), events = batch.event_ids.len(),
                    reason = %f.reason, retry_in = ?wait, "delivery failed; it stays pending");
            }
            report.failed.push(Undelivered {
                recipient: batch.recipient.clone(),
                channel: batch.channel,
                reason: f.reason,
                permanent: last,
            });
        }
    }
    Ok(())
}

/// Exponential backoff from `retry_after`, capped at `retry_max`, with ±20% jitter so that
/// recipients failing together do not retry in lockstep. `random` is a draw in `0.0..1.0`
/// (passed in, so the schedule is tested exactly).
fn backoff(d: &crate::config::Delivery, attempts: u32, random: f64) -> Duration {
    let rule = crate::backoff::Backoff {
        first: d.retry_after,
        cap: d.retry_max,
        jitter: 0.8..=1.2,
    };
    rule.wait(attempts, random).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Mode;
    use std::path::Path;

    #[test]
    fn digest_recipients_are_due_at_their_next_scheduled_time_in_their_zone() {
        let c = Config::parse(
            "[email]\nfrom = \"g@example.org\"\n\n[[watch]]\nname = \"w\"\nurl = \"https://example.org/\"\n\n\
             [[recipient]]\naddress = \"a@example.org\"\nmode = \"both\"\nschedule = \"0 7 * * *\"\ntimezone = \"Asia/Shanghai\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let now = Timestamp::parse("2026-11-23T02:31:05Z").unwrap();
        let t = crate::store::targets_at(&c, "w", &[], now);
        let modes: Vec<(Mode, String)> = t.iter().map(|t| (t.mode, t.due_at.to_string())).collect();
        // 07:00 in Shanghai is 23:00 UTC the day before: the next one is tonight.
        assert_eq!(
            modes,
            [
                (Mode::Immediate, "2026-11-23T02:31:05Z".to_string()),
                (Mode::Digest, "2026-11-23T23:00:00Z".to_string())
            ]
        );
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// A config with one recipient of watch `w`, mode `mode`, and the digest schedule given
    /// (`None` for immediate mail only).
    fn config_with(mode: &str, schedule: Option<(&str, &str)>) -> Config {
        let schedule = schedule.map_or(String::new(), |(cron, tz)| {
            format!("schedule = \"{cron}\"\ntimezone = \"{tz}\"\n")
        });
        Config::parse(
            &format!(
                "[email]\nfrom = \"g@example.org\"\n\n[[watch]]\nname = \"w\"\nurl = \"https://example.org/\"\n\n\
                 [[recipient]]\naddress = \"a@example.org\"\nmode = \"{mode}\"\n{schedule}"
            ),
            Path::new("t.toml"),
        )
        .unwrap()
    }

    /// When a digest found at `now` is due, for a recipient at 07:00 in Berlin.
    fn digest_due(c: &Config, now: &str) -> String {
        let t = crate::store::targets_at(c, "w", &[], at(now));
        t.iter()
            .find(|t| t.mode == Mode::Digest)
            .unwrap()
            .due_at
            .to_string()
    }

    /// 07:00 in Berlin is 06:00 UTC in winter and 05:00 UTC in summer: the schedule follows the
    /// recipient's wall clock across both changes (29 March and 25 October 2026), to the second.
    #[test]
    fn a_digest_follows_local_time_across_summer_time_changes() {
        let c = config_with("digest", Some(("0 7 * * *", "Europe/Berlin")));
        assert_eq!(digest_due(&c, "2026-03-28T05:59:59Z"), "2026-03-28T06:00:00Z");
        // At its time exactly, the next one is tomorrow's: after the change, an hour earlier in UTC.
        assert_eq!(digest_due(&c, "2026-03-28T06:00:00Z"), "2026-03-29T05:00:00Z");
        // The night of the change itself (02:00 local does not exist).
        assert_eq!(digest_due(&c, "2026-03-29T00:30:00Z"), "2026-03-29T05:00:00Z");
        assert_eq!(digest_due(&c, "2026-10-24T12:00:00Z"), "2026-10-25T06:00:00Z");
        // A daily time inside the hour that repeats in October (02:30 local happens twice) is
        // still one digest that day.
        let late = config_with("digest", Some(("30 2 * * *", "Europe/Berlin")));
        let first = digest_due(&late, "2026-10-24T23:00:00Z");
        let next = digest_due(&late, &first);
        assert!(first.starts_with("2026-10-25T0"), "{first}");
        assert!(next.starts_with("2026-10-26T01:30:00Z"), "{next}");
    }

    /// The outbox row of a digest is not due a second before its scheduled time and is due at
    /// it; an immediate row is due at once. Driven by a clock set by hand: no sleeping.
    #[test]
    fn a_digest_row_is_due_at_its_time_and_not_before() {
        let c = config_with("both", Some(("0 7 * * *", "Europe/Berlin")));
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::store::Store::open(&dir.path().join("g.db")).unwrap();
        let clock = crate::model::ManualClock::at(at("2026-03-28T12:00:00Z"));
        let doc = s
            .ensure_watch_document(
                "w",
                "https://example.org/",
                crate::model::DocRole::Page,
                clock.now(),
            )
            .unwrap();
        let event = crate::store::NewEvent {
            kind: crate::model::EventKind::New,
            watch: "w".into(),
            url: "https://example.org/".into(),
            title: None,
            source: None,
            overlap: None,
            added: None,
            removed: None,
            relevant: true,
            significance: 0.5,
            details: None,
        };
        let record = crate::store::CheckRecord {
            document_id: doc.id,
            etag: None,
            last_modified: None,
            next_due_at: clock.now(),
            snapshot: None,
            corpus: None,
            events: vec![event],
            targets: targets(&c, "w", &[], clock.now()),
            template_blocks: None,
            body_hash: None,
        };
        s.commit_check(record, clock.now()).unwrap();
        let modes = |s: &crate::store::Store, now: &str| -> Vec<Mode> {
            s.due_batches(&due_now(at(now)))
                .unwrap()
                .iter()
                .map(|b| b.mode)
                .collect()
        };
        assert_eq!(modes(&s, "2026-03-28T12:00:00Z"), [Mode::Immediate]);
        assert_eq!(modes(&s, "2026-03-29T04:59:59Z"), [Mode::Immediate]);
        assert_eq!(modes(&s, "2026-03-29T05:00:00Z"), [Mode::Digest, Mode::Immediate]);
        // `govwatch check` sends digests only at their time too; `digest --send` sends them now.
        let batches = s.due_batches(&due_for_check(at("2026-03-28T12:00:00Z"))).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(s.due_batches(&everything()).unwrap().len(), 2);
    }

    /// A failed delivery comes back at the backoff's time, with one more attempt counted, and
    /// fails for good at the last allowed attempt.
    #[test]
    fn a_failed_delivery_is_retried_on_schedule_and_given_up_after_the_last_attempt() {
        let c = config_with("immediate", None);
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::store::Store::open(&dir.path().join("g.db")).unwrap();
        let clock = crate::model::ManualClock::at(at("2026-01-01T00:00:00Z"));
        let doc = s
            .ensure_watch_document(
                "w",
                "https://example.org/",
                crate::model::DocRole::Page,
                clock.now(),
            )
            .unwrap();
        let record = crate::store::CheckRecord {
            document_id: doc.id,
            etag: None,
            last_modified: None,
            next_due_at: clock.now(),
            snapshot: None,
            corpus: None,
            events: vec![crate::store::NewEvent {
                kind: crate::model::EventKind::New,
                watch: "w".into(),
                url: "https://example.org/".into(),
                title: None,
                source: None,
                overlap: None,
                added: None,
                removed: None,
                relevant: true,
                significance: 0.5,
                details: None,
            }],
            targets: targets(&c, "w", &[], clock.now()),
            template_blocks: None,
            body_hash: None,
        };
        s.commit_check(record, clock.now()).unwrap();
        let delivery = crate::config::Delivery {
            max_attempts: 3,
            ..Default::default()
        };
        // Attempts 1 and 2 fail: waits of 60 s and 120 s (jitter drawn at its middle).
        for (attempt, wait) in [(0, 60), (1, 120)] {
            let batches = s.claim_due_batches(&due_now(clock.now()), clock.now()).unwrap();
            assert_eq!(batches.len(), 1, "attempt {attempt}");
            assert_eq!(batches[0].attempts, attempt);
            let b = backoff(&delivery, batches[0].attempts, 0.5);
            assert_eq!(b, Duration::from_secs(wait));
            let ids = batches[0].delivery_ids.clone();
            s.mark_failed(
                &ids,
                "421 busy",
                false,
                delivery.max_attempts,
                clock.now().plus(b),
                clock.now(),
            )
            .unwrap();
            clock.advance(b - Duration::from_secs(1));
            assert!(s.due_batches(&due_now(clock.now())).unwrap().is_empty());
            clock.advance(Duration::from_secs(1));
        }
        // The third and last attempt fails too: the row is failed, not retried.
        let batches = s.claim_due_batches(&due_now(clock.now()), clock.now()).unwrap();
        assert_eq!(batches[0].attempts, 2);
        let ids = batches[0].delivery_ids.clone();
        let retry = clock.now().plus(backoff(&delivery, 2, 0.5));
        s.mark_failed(&ids, "421 busy", false, delivery.max_attempts, retry, clock.now())
            .unwrap();
        assert!(s.due_batches(&everything()).unwrap().is_empty());
        assert_eq!(s.outbox_counts().unwrap().failed, 1);
    }

    /// The delivery backoff doubles from `retry_after` and stops at `retry_max`, the jitter
    /// (±20%) applied after the cap, exactly for a given draw.
    #[test]
    fn the_delivery_backoff_stops_at_its_cap() {
        let d = crate::config::Delivery::default();
        assert_eq!(backoff(&d, 0, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(&d, 3, 0.5), Duration::from_secs(480));
        assert_eq!(backoff(&d, 8, 0.5), Duration::from_secs(15_360));
        assert_eq!(backoff(&d, 9, 0.5), Duration::from_secs(6 * 3600));
        assert_eq!(backoff(&d, 29, 0.0), Duration::from_secs(6 * 3600).mul_f64(0.8));
        assert_eq!(
            backoff(&d, u32::MAX, 1.0),
            Duration::from_secs(6 * 3600).mul_f64(1.2)
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let d = crate::config::Delivery::default();
        let first = backoff(&d, 0, fastrand::f64()).as_secs_f64();
        assert!((48.0..=72.0).contains(&first), "{first}");
        let late = backoff(&d, 20, fastrand::f64()).as_secs_f64();
        assert!(
            (6.0 * 3600.0 * 0.8..=6.0 * 3600.0 * 1.2).contains(&late),
            "{late}"
        );
    }
}
