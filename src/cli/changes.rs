//! `govwatch changes`: what was found, oldest first, with its deliveries; its filters (`--since`,
//! `--watch`, `--kind`, `--limit`) turned into a store query.

use std::collections::HashSet;

use super::{CliError, Out, Result};
use crate::config::Config;
use crate::model::{Clock, SystemClock, Timestamp};
use crate::notify;
use crate::store::{EventDelivery, EventFilter, EventKind, Store};

/// `changes`' flags as a store filter; a kind or a watch nobody knows is a usage error rather
/// than an empty list, which would read as "nothing happened".
pub(super) fn event_filter(
    store: &Store,
    config: &Config,
    since: Option<String>,
    watches: Vec<String>,
    kinds: &[String],
    limit: Option<usize>,
) -> Result<EventFilter> {
    for w in &watches {
        if !config.watches.iter().any(|c| &c.name == w) && !store.has_events_of(w)? {
            return Err(CliError::Usage(format!(
                "--watch {w}: no watch of that name in the config or in what was found"
            )));
        }
    }
    let kinds = kinds
        .iter()
        .map(|k| {
            EventKind::from_name(k).ok_or_else(|| {
                let all: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                CliError::Usage(format!("--kind {k}: not a kind; one of {}", all.join(", ")))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let since = since.as_deref().map(since_time).transpose()?;
    Ok(EventFilter {
        since,
        watches,
        kinds,
        limit,
    })
}

/// `--since` as a stored timestamp: RFC 3339, a date (midnight UTC), a date and time without
/// zone (UTC, as every stored time), or a duration back from now.
fn since_time(s: &str) -> Result<Timestamp> {
    use time::macros::format_description;
    let t = s.trim();
    if let Ok(at) = Timestamp::parse(t) {
        return Ok(at);
    }
    if let Ok(d) = time::Date::parse(t, format_description!("[year]-[month]-[day]")) {
        return Ok(Timestamp::from_datetime(d.midnight().assume_utc()));
    }
    for f in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ] {
        if let Ok(dt) = time::PrimitiveDateTime::parse(t, f) {
            return Ok(Timestamp::from_datetime(dt.assume_utc()));
        }
    }
    match humantime::parse_duration(t) {
        // Further back than time can go: everything.
        Ok(d) => Ok(SystemClock.now().minus(d)),
        Err(_) => Err(CliError::Usage(format!(
            "--since {s}: not a date (2026-11-23), a time (2026-11-23T10:00:00Z) or a duration (7d, 12h)"
        ))),
    }
}

/// An event as `changes --json` lists it: its fields, its triage marks (from the web pages),
/// and its deliveries.
#[derive(serde::Serialize)]
struct ListedEvent<'a> {
    #[serde(flatten)]
    event: &'a crate::store::EventRow,
    reviewed: bool,
    important: bool,
    deliveries: Vec<EventDelivery>,
}

pub(super) fn changes(store: &Store, filter: &EventFilter, json: bool) -> Result<()> {
    let events = store.events_matching(filter)?;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let mut deliveries = store.deliveries_of_events(&ids)?;
    let mut out = Out::stdout();
    if json {
        let triage = store.triage_of(&ids)?;
        let listed: Vec<ListedEvent> = events
            .iter()
            .map(|event| {
                let (reviewed, important) = triage.get(&event.id).copied().unwrap_or_default();
                ListedEvent {
                    event,
                    reviewed,
                    important,
                    deliveries: deliveries.remove(&event.id).unwrap_or_default(),
                }
            })
            .collect();
        out.json(&listed, true)?;
        out.flush()?;
        return Ok(());
    }
    if events.is_empty() {
        let filtered = filter.since.is_some() || !filter.watches.is_empty() || !filter.kinds.is_empty();
        if filtered {
            writeln!(out, "nothing found that matches")?;
        } else {
            writeln!(out, "nothing found yet")?;
        }
    }
    for e in &events {
        print_event(&mut out, e, deliveries.get(&e.id).map_or(&[][..], Vec::as_slice))?;
    }
    out.flush()?;
    Ok(())
}

/// One event as `changes` lists it: its line, its URL, failed deliveries, its source, and what
/// changed.
fn print_event(
    out: &mut Out,
    e: &crate::store::EventRow,
    deliveries: &[crate::store::EventDelivery],
) -> Result<()> {
    writeln!(
        out,
        "{}  {:<13} {:<9} {}",
        e.detected_at,
        e.kind.as_str(),
        match (e.notified, e.relevant) {
            (true, _) => "mailed",
            // Settled with nobody to tell: a kind no recipient asked for (a duplicate), or a
            // watch nobody follows.
            (false, _) if e.notified_at.is_some() && deliveries.is_empty() => "unmailed",
            // Settled, but not every delivery went: refused or given up on.
            (false, _) if e.notified_at.is_some() => "failed",
            (false, true) => "pending",
            (false, false) => "off-topic",
        },
        notify_title(e)
    )?;
    writeln!(out, "    {}", e.url)?;
    for d in deliveries.iter().filter(|d| d.state == "failed") {
        writeln!(
            out,
            "    delivery {} to {} ({}) {}{}",
            d.id,
            d.recipient,
            d.channel,
            d.state,
            d.last_error
                .as_deref()
                .map(|e| format!(": {}", notify::one_line(e, 160)))
                .unwrap_or_default()
        )?;
    }
    if let Some(src) = &e.source {
        let share = e
            .overlap
            .map(|o| format!(" ({:.0}%)", o * 100.0))
            .unwrap_or_default();
        writeln!(out, "    source: {src}{share}")?;
    }
    // Altered statements as word diffs (the runs the mail shows), then the sentences
    // added and removed that are not one side of an alteration.
    let altered = notify::altered_statements(e);
    for (_, _, line) in &altered {
        writeln!(out, "    ~ {line}")?;
    }
    let before: HashSet<&str> = altered.iter().filter_map(|a| a.0.as_deref()).collect();
    let after: HashSet<&str> = altered.iter().filter_map(|a| a.1.as_deref()).collect();
    for (sign, body, paired) in [('-', &e.removed, &before), ('+', &e.added, &after)] {
        for line in body.iter().flat_map(|b| b.lines()) {
            if !paired.contains(line) {
                writeln!(out, "    {sign} {line}")?;
            }
        }
    }
    Ok(())
}

fn notify_title(e: &crate::store::EventRow) -> String {
    e.title
        .as_deref()
        .map(|t| notify::one_line(t, 100))
        .unwrap_or_else(|| "(no title)".into())
}
