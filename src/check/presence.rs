//! Whether a document is there, decided from what a check saw and what the store knows of it:
//! a withdrawal (one `removed` event), a return (a `changed` event that says so), and a watch's
//! own page or listing failing for a while (one `failing` notice) and answering again (one
//! `recovered` notice). Pure: part of the check's decision ([`super::decide`]).
//!
//! The rules, and why:
//! - **Gone twice in a row.** A document is withdrawn when two checks in a row find it gone (404,
//!   410, or a page-not-found page served as 200). One such answer is not enough: a site in the
//!   middle of a deploy, or a page that flaps between 200 and 404, must not make a stream of
//!   removals and returns. Any other answer in between (a timeout, a 500, a 200) starts the
//!   count again.
//! - **Left its listing, then stopped answering.** A document that the listing it was found on no
//!   longer shows is withdrawn at the first check that finds it gone, or at the second failure in
//!   a row of any kind: leaving the listing is the first sign, the failure the second. One
//!   timeout alone is no withdrawal (a site down for an hour would otherwise "remove" every old
//!   document it checked meanwhile).
//! - **Once.** While it stays gone, nothing more is said; a good check later is its return.
//! - **A watch failing** is told once, at its first failed check `failing_notice_after` after the
//!   first failure of the run; its recovery once, at its next good check.

use crate::compare::{self, diff, relevance, statements};
use crate::config::{Config, Watch};
use crate::model::{DocRole, EventKind, Timestamp};
use crate::store::{DocumentRow, NewEvent, SnapshotMeta};
use crate::timefmt::{self, DayStyle};

/// The newest stored version of a document: what a removal or a return is told with.
pub type LastVersion = (SnapshotMeta, String);

/// What a failed check changes about the document's presence, and the events it makes.
#[derive(Debug)]
pub struct AfterFailure {
    /// The check found the document gone (404, 410, a page-not-found page).
    pub gone: bool,
    /// `events` holds the document's removal.
    pub removed: bool,
    /// The first failure of this run of failures.
    pub failing_since: Timestamp,
    pub failing_noticed: bool,
    /// Each event with the stored version it is about.
    pub events: Vec<(NewEvent, Option<i64>)>,
}

/// A failed check of `doc`: `gone` if it found the document gone, `why` in words.
pub fn after_failure(
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    gone: bool,
    why: &str,
    last: Option<&LastVersion>,
    now: Timestamp,
) -> AfterFailure {
    let p = &doc.presence;
    let failures = doc.failures + 1;
    let failing_since = p.failing_since.filter(|_| doc.failures > 0).unwrap_or(now);
    let mut out = AfterFailure {
        gone,
        removed: false,
        failing_since,
        failing_noticed: p.failing_noticed,
        events: Vec::new(),
    };
    if let (Some(last), Some(reason)) = (last, removal(doc, gone, failures, why)) {
        out.events
            .push((removed_event(config, doc, watch, last, &reason), Some(last.0.id)));
        out.removed = true;
    }
    if is_watch_page(doc, watch)
        && !p.failing_noticed
        && now.since(failing_since) >= watch.failing_notice_after
    {
        let note = format!(
            "The watch `{}` has failed since {failing_since} ({failures} check{} in a row): {why}",
            watch.name,
            if failures == 1 { "" } else { "s" }
        );
        let title = last.and_then(|(m, _)| m.title.clone());
        out.events
            .push((notice(EventKind::Failing, doc, watch, title, &note, why), None));
        out.failing_noticed = true;
    }
    out
}

/// Why a failed check withdraws `doc`, or `None`: the rules in the module's notes. Only a
/// document not already withdrawn; the caller makes sure it has a stored version.
fn removal(doc: &DocumentRow, gone: bool, failures: i64, why: &str) -> Option<String> {
    let p = &doc.presence;
    if doc.role == DocRole::Index || p.removed_at.is_some() {
        return None;
    }
    let gone_checks = if gone { p.gone_checks + 1 } else { 0 };
    if gone_checks >= 2 {
        return Some(format!("answered {why} on {gone_checks} checks in a row"));
    }
    match p.unlisted_at {
        Some(since) if gone || failures >= 2 => Some(format!(
            "left the listing it was found on ({}) and then failed: {why}",
            day(&since.to_string())
        )),
        _ => None,
    }
}

/// The `removed` event: told with the last stored version's title and date, and the position
/// statements that went with it (shown like the removed lines of a change).
fn removed_event(
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    last: &LastVersion,
    reason: &str,
) -> NewEvent {
    let (meta, text) = last;
    let rel = relevance_of(config, doc, watch, text);
    // The strongest first, as for a new document: what the analyst reads is what went.
    let mut removed: Vec<statements::Statement> = diff::sentences(text)
        .into_iter()
        .filter(|s| statements::is_position(s))
        .map(|s| statements::Statement {
            text: s,
            position: true,
            heading: None,
        })
        .collect();
    statements::strongest_first(&mut removed, &config.topics_for(watch));
    let positions = removed.len();
    let change = statements::StatementChange {
        removed,
        ..Default::default()
    };
    let dated = meta.published.as_deref().unwrap_or(&meta.fetched_at);
    let note = format!(
        "Withdrawn: it {reason}. Last stored version {} ({}).",
        meta.version,
        day(dated)
    );
    let presence = serde_json::json!({
        "note": note,
        "last_version": meta.version,
        "last_fetched_at": meta.fetched_at,
        "last_published": meta.published,
        "listed": doc.presence.unlisted_at.is_none(),
    });
    NewEvent {
        kind: EventKind::Removed,
        watch: watch.name.clone(),
        url: doc.url.clone(),
        title: meta.title.clone(),
        source: None,
        overlap: None,
        added: None,
        removed: None,
        relevant: rel.relevant,
        significance: compare::significance(EventKind::Removed, rel.score, positions, 1.0),
        details: Some(serde_json::json!({
            "presence": presence,
            "statements": change,
            "topics": rel.terms,
            "relevance": rel.score,
        })),
    }
}

/// What a good check of `doc` says about its presence: its return after a removal (`restored`,
/// for the caller to tell as a `changed` event or to add to the one it has), and a watch's
/// recovery notice.
#[derive(Debug, Default)]
pub struct AfterSuccess {
    /// The note of the return, when `doc` had been withdrawn.
    pub restored: Option<serde_json::Value>,
    pub recovered: Option<NewEvent>,
}

pub fn after_success(doc: &DocumentRow, watch: &Watch, title: Option<String>) -> AfterSuccess {
    let p = &doc.presence;
    let restored = p.removed_at.map(|at| {
        let at = at.to_string();
        serde_json::json!({
            "note": format!("Back: it answers again after it was withdrawn on {}.", day(&at)),
            "restored": true,
            "removed_at": at,
        })
    });
    let recovered = (p.failing_noticed && is_watch_page(doc, watch)).then(|| {
        let since = p
            .failing_since
            .map_or_else(|| "a while".to_string(), |t| day(&t.to_string()));
        let note = format!(
            "The watch `{}` answers again (it had failed since {since}).",
            watch.name
        );
        notice(EventKind::Recovered, doc, watch, title, &note, "")
    });
    AfterSuccess { restored, recovered }
}

/// A `changed` event telling a withdrawn document's return with the same text as before (a
/// return with other text is told by the version's own `changed` event, which says so too).
pub fn restored_event(
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    title: Option<String>,
    text: &str,
    presence: serde_json::Value,
) -> NewEvent {
    let rel = relevance_of(config, doc, watch, text);
    NewEvent {
        kind: EventKind::Changed,
        watch: watch.name.clone(),
        url: doc.url.clone(),
        title,
        source: None,
        overlap: None,
        added: None,
        removed: None,
        relevant: rel.relevant,
        significance: compare::significance(EventKind::Changed, rel.score, 0, 0.0),
        details: Some(serde_json::json!({
            "presence": presence,
            "topics": rel.terms,
            "relevance": rel.score,
        })),
    }
}

/// A notice about a watch: told to everyone who follows it.
fn notice(
    kind: EventKind,
    doc: &DocumentRow,
    watch: &Watch,
    title: Option<String>,
    note: &str,
    error: &str,
) -> NewEvent {
    NewEvent {
        kind,
        watch: watch.name.clone(),
        url: doc.url.clone(),
        title,
        source: None,
        overlap: None,
        added: None,
        removed: None,
        relevant: true,
        significance: compare::significance(kind, 1.0, 0, 0.0),
        details: Some(serde_json::json!({
            "presence": { "note": note, "error": (!error.is_empty()).then_some(error) },
        })),
    }
}

/// Pages the user named are theirs to follow; documents found on listings must concern the
/// topics, as when they were found.
fn relevance_of(config: &Config, doc: &DocumentRow, watch: &Watch, text: &str) -> relevance::Relevance {
    let mut rel = relevance::score(text, &config.topics_for(watch), 0.0);
    if doc.role == DocRole::Page {
        rel.relevant = true;
    }
    rel
}

/// The watch's own page or listing (not a document it found, nor a sitemap a sitemap index
/// names): the one whose failing is the watch's.
fn is_watch_page(doc: &DocumentRow, watch: &Watch) -> bool {
    doc.role != DocRole::Document && doc.url == watch.url.as_str()
}

/// The day of a stored timestamp or date, as stored (UTC), for notes; else the text's first
/// ten characters (a date's length), or all of it if shorter (a month-only date, `2003-11`).
fn day(t: &str) -> String {
    timefmt::day(t, None, DayStyle::Iso).unwrap_or_else(|| t.get(..10).unwrap_or(t).to_string())
}
