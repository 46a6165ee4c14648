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
mod transport;
mod webhook;

use std::time::Duration;

use chrono::Utc;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

pub use digest::{Caps, Model, altered_statements, id_ranges, one_line};
pub use render::{Templates, template_dir};
pub use transport::Mailer;

use crate::config::{Config, Email, Recipient};
use crate::model::{EventKind, KindSet};
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

/// Who gets a new event of this watch, and when: the outbox rows written with it (the rule is
/// [`crate::store::targets_at`], which the check applies inside its write).
pub fn targets(config: &Config, watch: &str, tags: &[String]) -> Vec<Target> {
    crate::store::targets_at(config, watch, tags, Utc::now())
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
        let prefix = email.map_or("[govwatch]", |e| e.subject_prefix.as_str());
        let delivery = email.map(|e| e.delivery.clone()).unwrap_or_default();
        let caps = Caps {
            max_items: delivery.max_items,
            max_bytes: delivery.max_bytes,
        };
        let Some(model) = Model::build(events, prefix, recipient, caps) else {
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
) -> Result<Vec<(Option<String>, Digest)>, NotifyError> {
    let templates = Templates::load(&template_dir(&config.source))?;
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
    adopt_orphans(store, config).await?;
    let batches = store.run(|s| s.due_batches(&everything())).await?;
    for b in batches.into_iter().filter(|b| b.channel == Channel::Email) {
        let ids = b.event_ids.clone();
        let events = store.run(move |s| s.events_by_ids(&ids)).await?;
        if let Some(mut d) = Digest::build(&events, email, Some(&b.recipient), &templates)? {
            if let Some(id) = b.message_id {
                d.message_id = id;
            }
            out.push((Some(b.recipient), d));
        }
    }
    Ok(out)
}

/// Due bounds that take everything pending, retries and digests included.
pub fn everything() -> Due {
    Due {
        retries_until: "9999".into(),
        digests_until: "9999".into(),
    }
}

/// What the daemon sends: what is due now.
pub fn due_now() -> Due {
    let now = crate::timefmt::now();
    Due {
        retries_until: now.clone(),
        digests_until: now,
    }
}

/// What a one-shot `govwatch check` sends: immediate mail even if its retry is not due yet (the
/// user asked now), digests only at their time.
pub fn due_for_check() -> Due {
    Due {
        retries_until: "9999".into(),
        digests_until: crate::timefmt::now(),
    }
}

/// Events with no delivery rows (found before the outbox existed, or while nobody was
/// configured to receive them) get them now, for the recipients configured now.
async fn adopt_orphans(store: &StoreHandle, config: &Config) -> Result<(), NotifyError> {
    let orphans = store.run(|s| s.orphan_events()).await?;
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
            let wanted: Vec<Target> = targets(config, &watch, &tags)
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
        store.run(move |s| s.settle_unfollowed(&ids)).await?;
    }
    if !items.is_empty() {
        tracing::info!(
            events = items.len(),
            "queued events found before their recipients were"
        );
        store.run(move |s| s.enqueue(&items)).await?;
    }
    Ok(())
}

/// Sends what is due in the outbox. Failures are recorded on their rows (and retried with
/// backoff) and reported; only a database error is an `Err`.
pub async fn send_due(store: &StoreHandle, config: &Config, due: Due) -> Result<SendReport, NotifyError> {
    let has_webhooks = config.recipients.iter().any(|r| r.webhook.is_some());
    if config.email.is_none() && !has_webhooks {
        return Err(NotifyError::NotConfigured);
    }
    adopt_orphans(store, config).await?;
    let batches = store.run(move |s| s.claim_due_batches(&due)).await?;
    let mut report = SendReport::default();
    if batches.is_empty() {
        return Ok(report);
    }
    let tools = (|| -> Result<_, NotifyError> {
        let templates = Templates::load(&template_dir(&config.source))?;
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
        if let Err(e) = send_batch(
            store,
            config,
            &batch,
            mailer.as_ref(),
            &templates,
            &hooks,
            &mut report,
        )
        .await
        {
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

/// Sends one batch and records how it went.
async fn send_batch(
    store: &StoreHandle,
    config: &Config,
    batch: &Batch,
    mailer: Option<&Mailer>,
    templates: &Templates,
    hooks: &webhook::Client,
    report: &mut SendReport,
) -> Result<(), NotifyError> {
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
        record(store, config, batch, outcome, report).await
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
    let Some(mut digest) = Digest::build(&events, Some(email), Some(&batch.recipient), templates)? else {
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

/// Writes an attempt's outcome to the batch's rows.
async fn record(
    store: &StoreHandle,
    config: &Config,
    batch: &Batch,
    outcome: Outcome,
    report: &mut SendReport,
) -> Result<(), NotifyError> {
    let ids = batch.delivery_ids.clone();
    match outcome {
        Ok(message_id) => {
            let mid = message_id.clone();
            store.run(move |s| s.mark_sent(&ids, &mid)).await?;
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
            let wait = backoff(&delivery, batch.attempts, batch.delivery_ids[0]);
            let retry_at = crate::timefmt::after(wait);
            let last = f.permanent || batch.attempts + 1 >= delivery.max_attempts;
            let (reason, max) = (f.reason.clone(), delivery.max_attempts);
            let permanent = f.permanent;
            store
                .run(move |s| s.mark_failed(&ids, &reason, permanent, max, &retry_at))
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
/// recipients failing together do not retry in lockstep.
fn backoff(d: &crate::config::Delivery, attempts: u32, salt: i64) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let r = xxhash_rust::xxh3::xxh3_64(&[salt.to_le_bytes(), i64::from(nanos).to_le_bytes()].concat());
    let rule = crate::backoff::Backoff {
        first: d.retry_after,
        cap: d.retry_max,
        jitter: 0.8..=1.2,
    };
    rule.wait(attempts, (r % 10_000) as f64 / 10_000.0)
        .max(Duration::from_secs(1))
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
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T02:31:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = crate::store::targets_at(&c, "w", &[], now);
        let modes: Vec<(Mode, &str)> = t.iter().map(|t| (t.mode, t.due_at.as_str())).collect();
        // 07:00 in Shanghai is 23:00 UTC the day before: the next one is tonight.
        assert_eq!(
            modes,
            [
                (Mode::Immediate, "2026-11-23T02:31:05Z"),
                (Mode::Digest, "2026-11-23T23:00:00Z")
            ]
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let d = crate::config::Delivery::default();
        let first = backoff(&d, 0, 1).as_secs_f64();
        assert!((48.0..=72.0).contains(&first), "{first}");
        let late = backoff(&d, 20, 1).as_secs_f64();
        assert!(
            (6.0 * 3600.0 * 0.8..=6.0 * 3600.0 * 1.2).contains(&late),
            "{late}"
        );
    }
}
