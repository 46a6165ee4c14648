//! One check of one document, in three parts that read top to bottom:
//!
//! 1. **fetch** ([`fetch`]): wait for the host's gate, fetch, decode, extract ([`parse`]). Nothing
//!    is written but what the gate learnt of the host.
//! 2. **decide** ([`decide::decide`]): a pure function of what was fetched (or the failure, the
//!    deferral, the 304), what the store knows and `now`: the outcome, what to write, the
//!    events and when the document is due next. A page is first made ready to judge
//!    ([`prepare`]) and the corpus read for it.
//! 3. **write** ([`write::write`]): the one write of every decision, in one turn of the store.
//!
//! A pass over everything due (the pass runner, one module up) runs checks side by side.

pub mod decide;
pub mod parse;
pub mod prepare;
pub mod presence;
pub mod write;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Semaphore;
use url::Url;

use crate::config::{Config, Watch};
use crate::fetch::{Fetched, Fetcher, Validators, Want};
use crate::model::{DocRole, EventKind, FailureReason};
use crate::polite::{Gated, HostUpdate, Hosts, Request};
use crate::store::{DocumentRow, StoreError, StoreHandle};
use crate::template;
use decide::{CorpusView, Decision, Input, Seen};
use parse::Parsed;
use prepare::Basis;

/// What one check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// First good fetch of a document: stored, nothing alerted.
    Baseline,
    /// Same text as last time (or a 304).
    Unchanged,
    /// A new version with changed sentences (`event`), or one whose only change was moved or
    /// re-spaced text (no event).
    Changed { event: bool },
    /// A newly listed document: new, a duplicate or a republication.
    Found(EventKind),
    /// An index page: how many links were new.
    Indexed { new_links: usize },
    /// The check failed; nothing was stored but the reason.
    Failed(String),
    /// Not made: the host asked for a pause (Retry-After) that has not run out.
    Deferred(String),
    /// Not started because govwatch is shutting down (or its result was dropped: another
    /// process recorded the document meanwhile).
    Skipped,
}

/// Where time comes from (defined with the model, so that the store and the sender take it too).
pub use crate::model::{Clock, SystemClock};

/// Set once on SIGTERM/SIGINT: checks not yet started are skipped, running ones finish.
#[derive(Clone, Default)]
pub struct StopFlag(Arc<(AtomicBool, tokio::sync::Notify)>);

impl StopFlag {
    pub fn stop(&self) {
        self.0.0.store(true, Ordering::SeqCst);
        self.0.1.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.0.0.load(Ordering::SeqCst)
    }

    /// Resolves once [`StopFlag::stop`] has been called.
    pub async fn stopped(&self) {
        loop {
            // Register before looking, so a stop between the two is not missed.
            let notified = self.0.1.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// What every check needs, shared across tasks.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub fetcher: Fetcher,
    /// Politeness state per origin; lives as long as the process, across passes.
    pub hosts: Arc<Hosts>,
    pub store: StoreHandle,
    pub stop: StopFlag,
    /// Checks in flight at once, over every pass of the process (`fetch.concurrency`).
    pub slots: Arc<Semaphore>,
    pub clock: Arc<dyn Clock>,
    /// Documents a pass claimed and could not let go of (the database was away at its end):
    /// let go of before the next pass claims, rather than left until their leases run out.
    pub unreleased: Arc<std::sync::Mutex<Vec<i64>>>,
    /// Passes of this process running now (the daemon starts one every tick): the process is
    /// in a pass, for the others sharing the work, until the last of them ends.
    pub passes: Arc<std::sync::atomic::AtomicUsize>,
}

/// Parsing and comparing are CPU work; more of it at once than there are cores only costs memory.
static PARSE_TURN: std::sync::LazyLock<Semaphore> =
    std::sync::LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// Runs CPU work (extracting, comparing) on a thread of its own, at most as many at once as
/// there are cores, and never on the async workers or in a turn of the store: a page of many
/// megabytes takes a while, and other checks and the daemon loop go on meanwhile. Not on
/// tokio's blocking pool either: the runtime waits for that pool's tasks when it shuts down, so
/// work abandoned at the stop timeout would hold up the exit for as long as it still ran; a
/// thread of its own just ends with the process. A panic in `f` is resumed here.
pub async fn cpu<T, F>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let turn = PARSE_TURN.acquire().await.expect("never closed");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("govwatch-cpu".into())
        .spawn(move || {
            // The turn is the thread's: a check abandoned meanwhile does not free it early.
            let _turn = turn;
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        })
        // As tokio's own blocking pool does when the system has no thread to give.
        .expect("cannot start a thread for CPU work");
    match rx.await.expect("the CPU thread always answers") {
        Ok(out) => out,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Where a check stands after fetching.
pub enum Step {
    /// Nothing to compare: a 304, the same bytes, a failure, a deferral.
    Settled(Seen, Option<&'static str>),
    /// A page to compare and store.
    Parsed(Box<Parsed>),
    /// Not started, or cut short, because govwatch is stopping.
    Stopped,
}

/// The first part of a check: wait for the host, fetch, decode, extract. `global` is the pass's
/// slots; the page keeps its slot until it is stored, so pages parsed faster than the database
/// takes them do not pile up in memory.
pub async fn fetch(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    global: Arc<Semaphore>,
) -> Result<Step, StoreError> {
    let failed = |reason, why: String, retry_after| {
        Step::Settled(
            Seen::Failed {
                reason,
                why,
                gone: false,
                retry_after,
            },
            None,
        )
    };
    let url = match Url::parse(&doc.url) {
        Ok(u) => u,
        Err(e) => return Ok(failed(FailureReason::BadUrl, format!("bad URL: {e}"), None)),
    };
    let validators = Validators {
        etag: doc.etag.clone(),
        last_modified: doc.last_modified.clone(),
    };
    let want = if doc.role == DocRole::Index {
        Want::Listing
    } else {
        Want::Page
    };
    let request = Request {
        url: &url,
        validators: &validators,
        want,
        robots: watch.robots,
    };
    let gated = ctx
        .hosts
        .fetch(&ctx.fetcher, request, &global, ctx.stop.stopped())
        .await;
    // A pause (or robots.txt) learnt is stored now, not at the end of the pass: a pass killed
    // meanwhile must not leave the next one asking a host that asked for a pause.
    save_host_updates(ctx).await?;
    let (page, slot) = match gated {
        Gated::Fetched(Fetched::Page(p), slot) => (p, slot),
        // A 304 costs no extraction and no comparison: only the schedule moves.
        Gated::Fetched(Fetched::NotModified, _) => {
            return Ok(Step::Settled(Seen::NotModified, Some("not modified (304)")));
        }
        Gated::Stopped => return Ok(Step::Stopped),
        Gated::Denied(why) => return Ok(failed(FailureReason::Robots, why, None)),
        Gated::Deferred { until, why } => return Ok(Step::Settled(Seen::Deferred { until, why }, None)),
        Gated::Failed(e) => return Ok(Step::Settled(Seen::failed(&e), None)),
    };
    // Served byte for byte as last time: unchanged, without decoding or extracting. (A site
    // template learnt since could only remove boilerplate, which is no change either.)
    if !doc.announce && doc.body_hash.as_deref() == Some(parse::body_hash(&page.body).as_str()) {
        return Ok(Step::Settled(
            Seen::SameBytes(page.validators),
            Some("same bytes as last time"),
        ));
    }
    let (doc2, watch2, pdf) = (doc.clone(), watch.clone(), ctx.config.pdf.clone());
    // Parsing is CPU work on owned data; it never holds the store.
    match cpu(move || parse::parse_page(page, &doc2, &watch2, &pdf)).await {
        Ok(mut p) => {
            p.slot = Some(slot);
            Ok(Step::Parsed(Box::new(p)))
        }
        Err(f) => Ok(failed(f.reason, f.why, None)),
    }
}

/// Decides and writes a check that had nothing to compare (see [`Step::Settled`]).
pub async fn settle(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    seen: Seen,
    why_unchanged: Option<&'static str>,
) -> Result<(Outcome, Vec<DocumentRow>), StoreError> {
    // A failure may withdraw the document, told with its last version; a withdrawn document's
    // return is told with it too. Both are rare: other checks read nothing more.
    let needs_last = match &seen {
        Seen::Failed { .. } => true,
        _ => doc.presence.removed_at.is_some() || doc.presence.failing_noticed,
    };
    let last = match needs_last {
        true => {
            let id = doc.id;
            ctx.store.run(move |s| s.latest_snapshot(id)).await?
        }
        false => None,
    };
    let input = Input {
        config: &ctx.config,
        doc,
        watch,
        seen,
        jitter: fastrand::f64(),
        last,
    };
    let decision = decide::decide(input, ctx.clock.now());
    apply(ctx, doc, watch, decision, why_unchanged).await
}

/// Compares and stores a parsed page: the rest of a check. The store is taken for short turns
/// only: to read what the page is compared with (and, where judging needs it, what the corpus
/// holds), and to write the decision; the work in between (template, signature, diff, pairing
/// sentences, verdict, compression) runs on [`cpu`] threads, beside other checks.
pub async fn compare_and_write(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    mut parsed: Parsed,
) -> Result<(Outcome, Vec<DocumentRow>), StoreError> {
    // Held until the page is stored (see [`fetch`]).
    let _slot = parsed.slot.take();
    // Indexes are not documents: they have no template and never enter the corpus.
    let host = (doc.role != DocRole::Index).then(|| template::host_of(&doc.url));
    let (id, for_basis) = (doc.id, host.clone());
    let basis = ctx
        .store
        .grouped(move |s| {
            let template = match &for_basis {
                Some(h) => s.host_template(h, id, template::MIN_OTHER_PAGES)?,
                None => HashSet::new(),
            };
            let previous = s.latest_snapshot(id)?;
            let previous_body = match &previous {
                Some((m, _)) => s.snapshot_body(m.id)?,
                None => None,
            };
            Ok(Basis {
                template,
                previous,
                previous_body,
            })
        })
        .await?;
    let prepared = cpu(move || prepare::prepare(parsed, basis, host)).await;
    // What the corpus holds is read in a short turn; the verdict, which compares texts, is
    // worked out after it, so the turn to write does nothing but write.
    let (prepared, corpus) = match prepare::corpus_needs(doc, &prepared) {
        None => (prepared, None),
        Some(verdict) => {
            let id = doc.id;
            ctx.store
                .grouped(move |s| {
                    let (Some(sig), Some(snapshot)) = (&prepared.signature, &prepared.snapshot) else {
                        return Ok((prepared, None));
                    };
                    let candidates = s.corpus_candidates(sig, Some(id))?;
                    let known = match verdict {
                        true => Some(Box::new(s.known(
                            &snapshot.text_hash,
                            sig,
                            &candidates,
                            Some(id),
                        )?)),
                        false => None,
                    };
                    Ok((prepared, Some(CorpusView { candidates, known })))
                })
                .await?
        }
    };
    let (config, doc2, watch2, now) = (ctx.config.clone(), doc.clone(), watch.clone(), ctx.clock.now());
    let decision = cpu(move || {
        let input = Input {
            config: &config,
            doc: &doc2,
            watch: &watch2,
            seen: Seen::Page(Box::new(prepared), corpus),
            jitter: 0.0,
            last: None,
        };
        decide::decide(input, now)
    })
    .await;
    apply(ctx, doc, watch, decision, None).await
}

/// The one write of a decision, in a turn of the store's group commit.
async fn apply(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    decision: Decision,
    why_unchanged: Option<&'static str>,
) -> Result<(Outcome, Vec<DocumentRow>), StoreError> {
    write::note(&decision);
    let events = write::event_kinds(&decision);
    let (doc2, watch, clock) = (doc.clone(), watch.name.clone(), ctx.clock.clone());
    // The time of the write is read in the store's turn: a group waits its turn, and what it
    // stamps (checked at, claims) is when it was written.
    let (outcome, new_docs) = ctx
        .store
        .grouped(move |s| write::write(s, &doc2, &watch, decision, clock.now()))
        .await?;
    write::report(&outcome, &events, why_unchanged);
    Ok((outcome, new_docs))
}

/// Writes what was learnt about hosts (robots.txt, Retry-After) to the database.
pub async fn save_host_updates(ctx: &Context) -> Result<(), StoreError> {
    let updates = ctx.hosts.take_updates();
    if updates.is_empty() {
        return Ok(());
    }
    ctx.store
        .run(move |s| {
            for u in updates {
                match u {
                    HostUpdate::Robots(row) => s.save_robots(&row)?,
                    HostUpdate::NotBefore {
                        origin,
                        until,
                        reason,
                    } => s.save_not_before(&origin, &until, &reason)?,
                }
            }
            Ok(())
        })
        .await
}
