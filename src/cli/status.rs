//! `govwatch status`: one row per watch and tracked document: last check, last change, last
//! error, next due, and a host paused by Retry-After; then the nodes (govwatch processes, named
//! by `[daemon] node`) that hold leases on the database, and since when.

use super::{Out, Result};
use crate::config::Config;
use crate::model::{Clock, SystemClock, Timestamp};
use crate::notify;
use crate::pipeline::PipelineError;
use crate::store::{DocumentRow, NodeLeases, Store};

pub(super) fn status(store: &Store, config: &Config, names: &[String], json: bool) -> Result<()> {
    if let Some(n) = config.unknown_watch(names) {
        return Err(PipelineError::UnknownWatch(n.to_string()).into());
    }
    let hosts = store.hosts()?;
    let now = SystemClock.now();
    // The politeness gate's rows keep their times as text (see `polite`).
    let now_text = now.to_string();
    let paused = |url: &str| -> Option<String> {
        let origin = url::Url::parse(url).ok()?.origin().ascii_serialization();
        let h = hosts.iter().find(|h| h.origin == origin)?;
        h.not_before.clone().filter(|t| *t > now_text)
    };
    // Rows of watches no longer in the config are history, not status.
    let docs: Vec<DocumentRow> = store
        .all_documents()?
        .into_iter()
        .filter(|d| config.watches.iter().any(|w| w.name == d.watch))
        .filter(|d| names.is_empty() || names.contains(&d.watch))
        .collect();
    match json {
        true => status_json(&docs, &paused),
        false => {
            status_table(&docs, &paused, now)?;
            nodes_table(&store.lease_holders(now)?)
        }
    }
}

/// `status --json`: one object per document.
fn status_json(docs: &[DocumentRow], paused: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let rows: Vec<_> = docs
        .iter()
        .map(|d| {
            serde_json::json!({
                "watch": d.watch,
                "role": d.role.as_str(),
                "url": d.url,
                "last_check": d.last_checked_at,
                "last_change": d.last_changed_at,
                "last_error": d.last_error,
                "failures_in_a_row": d.failures,
                "next_due": d.next_due_at,
                "host_paused_until": paused(&d.url),
            })
        })
        .collect();
    let mut out = Out::stdout();
    out.json(&rows, true)?;
    out.flush()?;
    Ok(())
}

/// `status`: one line per document, and a line under it for an error or a paused host.
fn status_table(docs: &[DocumentRow], paused: &dyn Fn(&str) -> Option<String>, now: Timestamp) -> Result<()> {
    let short = |t: &Option<Timestamp>| match t {
        // "2026-11-23T10:04:05Z" → "2026-11-23 10:04"
        Some(t) => t.to_string().get(..16).unwrap_or_default().replace('T', " "),
        None => "-".into(),
    };
    let mut out = Out::stdout();
    writeln!(
        out,
        "{:<16} {:<8} {:<16} {:<16} {:<16} URL",
        "WATCH", "ROLE", "LAST CHECK", "LAST CHANGE", "NEXT DUE"
    )?;
    for d in docs {
        let due = match &d.next_due_at {
            None => "now".into(),
            Some(t) if *t <= now => "now".into(),
            t => short(t),
        };
        writeln!(
            out,
            "{:<16} {:<8} {:<16} {:<16} {:<16} {}",
            notify::one_line(&d.watch, 16),
            d.role.as_str(),
            short(&d.last_checked_at),
            short(&d.last_changed_at),
            due,
            d.url
        )?;
        if let Some(err) = &d.last_error {
            let what = if d.failures > 0 {
                format!("failed {} in a row", d.failures)
            } else {
                "deferred".to_string()
            };
            writeln!(out, "{:<16} {what}: {}", "", notify::one_line(err, 160))?;
        }
        if let Some(until) = paused(&d.url) {
            writeln!(out, "{:<16} host paused until {until} (Retry-After)", "")?;
        }
    }
    if docs.is_empty() {
        writeln!(out, "nothing checked yet")?;
    }
    out.flush()?;
    Ok(())
}

/// The nodes at work: one line per process that holds leases, with what it holds. Nothing when
/// none does (a daemon between passes holds nothing).
fn nodes_table(nodes: &[NodeLeases]) -> Result<()> {
    if nodes.is_empty() {
        return Ok(());
    }
    let short = |t: Timestamp| t.to_string().get(..16).unwrap_or_default().replace('T', " ");
    let mut out = Out::stdout();
    writeln!(
        out,
        "\n{:<24} {:<8} {:<16} {:<16} HOLDS",
        "NODE", "PROCESS", "SINCE", "UNTIL"
    )?;
    for n in nodes {
        let count = |k: usize, one: &str, many: &str| match k {
            0 => None,
            1 => Some(format!("1 {one}")),
            k => Some(format!("{k} {many}")),
        };
        let holds: Vec<String> = [
            count(n.documents, "document", "documents"),
            count(n.deliveries, "delivery", "deliveries"),
            count(n.origins, "origin", "origins"),
        ]
        .into_iter()
        .flatten()
        .collect();
        writeln!(
            out,
            "{:<24} {:<8} {:<16} {:<16} {}",
            notify::one_line(&n.node, 24),
            n.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
            n.since.map_or_else(|| "-".to_string(), short),
            short(n.until),
            holds.join(", ")
        )?;
    }
    out.flush()?;
    Ok(())
}
