//! `govwatch outbox`: every delivery and its state, and `outbox retry`, which puts failed
//! deliveries back in the queue.

use std::path::Path;

use super::{CliError, Out, OutboxCommand, Result, open_store};
use crate::config::Config;
use crate::model::{Clock, SystemClock};
use crate::store::{RetryRefusal, Store};

/// `govwatch outbox [retry …]` on the store of the config at `config_path`.
pub(super) fn run(json: bool, command: Option<OutboxCommand>, config_path: &Path) -> Result<()> {
    let mut store = open_store(&Config::load(config_path)?)?;
    match command {
        Some(OutboxCommand::Retry { failed: _, ids }) => outbox_retry(&mut store, &ids),
        None => outbox(&store, json),
    }
}

fn outbox(store: &Store, json: bool) -> Result<()> {
    let rows = store.deliveries()?;
    let mut out = Out::stdout();
    if json {
        out.json(&rows, true)?;
        out.flush()?;
        return Ok(());
    }
    let c = store.outbox_counts()?;
    writeln!(out, "{} pending, {} sent, {} failed", c.pending, c.sent, c.failed)?;
    for d in rows.iter().filter(|d| d.state != "sent") {
        writeln!(
            out,
            "  event {:<6} {:<30} {:<7} {:<9} {:<7} attempts {} next {}{}",
            d.event_id,
            d.recipient,
            d.channel,
            d.mode,
            d.state,
            d.attempts,
            d.next_attempt_at,
            d.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// `ids` empty: every failed delivery (clap requires `--failed` then).
fn outbox_retry(store: &mut Store, ids: &[i64]) -> Result<()> {
    let refused = store.retry_refusals(ids)?;
    if !refused.is_empty() {
        let why: Vec<String> = refused
            .iter()
            .map(|r| match r {
                RetryRefusal::Unknown(id) => format!("{id}: no such delivery"),
                RetryRefusal::NotFailed { id, state } => format!("{id}: {state}, not failed"),
            })
            .collect();
        return Err(CliError::Usage(format!(
            "nothing requeued: {} (see govwatch outbox)",
            why.join("; ")
        )));
    }
    let requeued = store.retry_failed((!ids.is_empty()).then_some(ids), SystemClock.now())?;
    let mut out = Out::stdout();
    if requeued.is_empty() {
        writeln!(out, "no failed deliveries")?;
    } else {
        writeln!(
            out,
            "{} deliveries back in the queue, due now; they go out with the next send \
             (govwatch digest --send, govwatch check, or the running daemon)",
            requeued.len()
        )?;
    }
    out.flush()?;
    Ok(())
}
