//! What goes out: `govwatch digest` (a preview, or `--send`), `govwatch feed`,
//! `govwatch test-mail`, and how a send is reported (shared with `check`).

use std::path::Path;

use super::{CliError, Out, Result};
use crate::config::Config;
use crate::model::{Clock, SystemClock};
use crate::notify::{self, NotifyError, SendReport};
use crate::pipeline::Context;
use crate::store::Store;

pub(super) fn print_send_report(out: &mut Out, r: &SendReport) -> std::io::Result<()> {
    let events = r.events_sent();
    if !r.sent.is_empty() {
        writeln!(out, "mailed {events} events in {} messages", r.sent.len())?;
    }
    for f in &r.failed {
        let what = if f.permanent {
            "failed for good"
        } else {
            "stays pending"
        };
        writeln!(
            out,
            "mail not sent to {} ({}): {}; {what}",
            f.recipient,
            f.channel.as_str(),
            f.reason
        )?;
    }
    Ok(())
}

pub(super) fn feed(store: &Store, config: &Config, file: Option<&Path>) -> Result<()> {
    let events = store.recent_relevant_events(
        config.feed.max_entries,
        crate::model::KindSet::mailed_by_default(),
    )?;
    let xml = notify::feed::atom(&events, &config.feed, &config.http);
    let mut out = Out::stdout();
    match file {
        Some(path) => {
            notify::feed::write_atomically(path, &xml)?;
            writeln!(out, "wrote {} entries to {}", events.len(), path.display())?;
        }
        None => out.xml(&xml)?,
    }
    out.flush()?;
    Ok(())
}

pub(super) async fn digest(ctx: &Context, send: bool) -> Result<()> {
    let mut out = Out::stdout();
    if !send {
        let previews = notify::preview(&ctx.store, &ctx.config, &*ctx.clock).await?;
        if previews.is_empty() {
            writeln!(out, "nothing pending: every event has been mailed")?;
        }
        let from = ctx.config.email.as_ref().map(|e| &e.from);
        for (i, (to, d)) in previews.iter().enumerate() {
            if i > 0 {
                writeln!(out, "\n{}\n", "-".repeat(72))?;
            }
            write!(out, "{}", d.preview(from, to.as_deref()))?;
        }
        out.flush()?;
        return Ok(());
    }
    let report = notify::send_due(&ctx.store, &ctx.config, notify::everything(), &*ctx.clock).await?;
    // Before printing, so that a closed pipe cannot skip it.
    notify::feed::update(&ctx.store, &ctx.config).await;
    if report.sent.is_empty() && report.failed.is_empty() {
        writeln!(out, "nothing pending: every event has been mailed")?;
    }
    for d in &report.sent {
        writeln!(
            out,
            "sent {} events to {} as {}",
            d.events, d.recipient, d.message_id
        )?;
    }
    print_send_report(
        &mut out,
        &SendReport {
            sent: Vec::new(),
            failed: report.failed.clone(),
        },
    )?;
    out.flush()?;
    if let Some(f) = report.failed.first() {
        return Err(NotifyError::Smtp {
            server: f.recipient.clone(),
            reason: f.reason.clone(),
        }
        .into());
    }
    Ok(())
}

/// One message, outside the outbox (nothing is recorded): a setup check. Exit 1 when it did not
/// go, with the server's or the connection's reason.
pub(super) async fn test_mail(config: &Config, address: Option<&str>) -> Result<()> {
    let Some(email) = &config.email else {
        return Err(CliError::Usage(
            "no [email] section in the config: there is nothing to test".into(),
        ));
    };
    let to: lettre::message::Mailbox = match address {
        Some(a) => a
            .parse()
            .map_err(|e| CliError::Usage(format!("`{a}` is not an address: {e}")))?,
        None => config
            .recipients
            .first()
            .map(|r| r.address.clone())
            .ok_or_else(|| CliError::Usage("no recipient configured: give an ADDRESS".into()))?,
    };
    let mailer = notify::Mailer::new(email, &config.storage.outbox_dir())?;
    let host = hostname();
    let message = lettre::Message::builder()
        .from(email.from.clone())
        .to(to.clone())
        .subject("govwatch test message")
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(format!(
            "This is a test message from govwatch on {host}, sent {} through {mailer}.\n\
             If you read it, alerts can reach this address.\n",
            SystemClock.now()
        ))
        .map_err(|e| NotifyError::Build(e.to_string()))?;
    let mut out = Out::stdout();
    match mailer.send_answered(message).await {
        Ok(answer) => {
            writeln!(out, "sent to {} via {mailer}: {answer}", to.email)?;
            out.flush()?;
            Ok(())
        }
        Err(f) => Err(NotifyError::Smtp {
            server: mailer.to_string(),
            reason: format!("test message to {} not sent: {}", to.email, f.reason),
        }
        .into()),
    }
}

/// For the test message's text: which machine sent it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".into())
}
