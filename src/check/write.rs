//! The check's one write: a [`Decision`] applied to the store in one turn, whatever it decided
//! (a new version, an unchanged page, a failure, a deferral). A good check is one savepoint
//! (in the store's group commit): its snapshot, corpus entry, events and their deliveries, and
//! the document's state, all or nothing.

use tracing::{info, warn};

use crate::check::Outcome;
use crate::check::decide::{Decision, Write};
use crate::metrics;
use crate::model::{CheckLabel, DocRole, EventKind, Timestamp};
use crate::store::{DocumentRow, Store, StoreError};

/// Applies `d` for `doc` (of the watch named `watch`), written at `now`; returns what the check
/// came to and the documents a listing added.
pub fn write(
    store: &mut Store,
    doc: &DocumentRow,
    watch: &str,
    d: Decision,
    now: Timestamp,
) -> Result<(Outcome, Vec<DocumentRow>), StoreError> {
    let mut outcome = d.outcome;
    let mut new_docs = Vec::new();
    match d.write {
        Write::Failure { why, next_due, .. } => store.record_failure(doc.id, &why, next_due, now)?,
        Write::Defer { until, why } => store.defer(doc.id, until, &why)?,
        Write::Check {
            record,
            compared_with,
            listing,
        } => {
            // Another process may have checked this document since its basis was read (its
            // claim on it ran out and was taken over): then that result stands and this one is
            // dropped, so one edit is one event, however many processes saw it.
            if let Some(previous) = compared_with
                && (!store.may_write(doc.id, now)? || store.latest_snapshot_id(doc.id)? != previous)
            {
                info!("another process recorded this document meanwhile; this check is dropped");
                return Ok((Outcome::Skipped, Vec::new()));
            }
            if let Some(l) = listing {
                for link in &l.links {
                    let role = if link.listing {
                        DocRole::Index
                    } else {
                        DocRole::Document
                    };
                    let row = store.upsert_listed(
                        link.url.as_str(),
                        watch,
                        role,
                        l.announce,
                        link.lastmod.as_deref(),
                        now,
                    )?;
                    new_docs.extend(row);
                }
                outcome = Outcome::Indexed {
                    new_links: new_docs
                        .iter()
                        .filter(|d| d.announce && d.role == DocRole::Document)
                        .count(),
                };
            }
            store.commit_check(*record, now)?;
        }
    }
    Ok((outcome, new_docs))
}

/// Logs and counts a decision about to be written (what only the decision knows: why a check
/// failed, when it is tried again).
pub fn note(d: &Decision) {
    match &d.write {
        Write::Failure {
            reason,
            why,
            failures,
            retry_in,
            ..
        } => {
            warn!(
                outcome = "failed",
                reason = %why,
                failures,
                retry_in = %humantime::format_duration(std::time::Duration::from_secs(retry_in.as_secs())),
                "check failed"
            );
            metrics::failure(*reason);
        }
        Write::Defer { why, .. } => {
            info!(outcome = "deferred", reason = %why, "host asked for a pause; not checked");
            metrics::check(CheckLabel::Deferred);
        }
        Write::Check { .. } => {}
    }
}

/// Logs and counts a good check once written; `why_unchanged` says how an unchanged page was
/// known to be so without comparing (a 304, the same bytes).
pub fn report(outcome: &Outcome, why_unchanged: Option<&'static str>) {
    match outcome {
        Outcome::Unchanged => info!(outcome = "unchanged", "{}", why_unchanged.unwrap_or("checked")),
        Outcome::Baseline => info!(outcome = "baseline", "stored first version"),
        Outcome::Changed { event } => info!(outcome = "changed", alert = event, "new version"),
        Outcome::Found(kind) => info!(outcome = kind.as_str(), "new document"),
        Outcome::Indexed { new_links } => info!(outcome = "indexed", new_links, "index checked"),
        Outcome::Failed(_) | Outcome::Deferred(_) | Outcome::Skipped => {}
    }
    match outcome {
        Outcome::Baseline => metrics::check(CheckLabel::Baseline),
        Outcome::Unchanged => metrics::check(CheckLabel::Unchanged),
        Outcome::Changed { event } => {
            metrics::check(CheckLabel::Changed);
            if *event {
                metrics::event(EventKind::Changed);
            }
        }
        Outcome::Found(kind) => {
            metrics::check(CheckLabel::Found);
            metrics::event(*kind);
        }
        Outcome::Indexed { .. } => metrics::check(CheckLabel::Indexed),
        // Counted with their reasons, in [`note`].
        Outcome::Failed(_) | Outcome::Deferred(_) | Outcome::Skipped => {}
    }
}
