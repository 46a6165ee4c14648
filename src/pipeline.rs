//! One check of one document (fetch → decode → extract → compare → store), and a pass over
//! everything due. Network work is async and concurrent; parsing and the database run on
//! blocking threads with owned data.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{Instrument, info, info_span, warn};
use url::Url;

use crate::compare::corpus::{self, Verdict};
use crate::compare::index::Signature;
use crate::compare::{self, diff, relevance, statements};
use crate::config::{Config, Watch, WatchKind};
use crate::discover::Listed;
use crate::fetch::{FetchError, Fetched, Fetcher, Page, Validators, Want};
use crate::model::{CheckLabel, FailureReason};
use crate::polite::{Gated, HostUpdate, Hosts, Request};
use crate::store::{
    Candidate, CheckRecord, DocRole, DocumentRow, EventKind, NewCorpusEntry, NewEvent, NewSnapshot,
    SnapshotMeta, Store, StoreError, StoreHandle,
};
use crate::{decode, discover, extract, metrics, template, timefmt};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("no watch named `{0}` in the config")]
    UnknownWatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
    /// Not started because govwatch is shutting down.
    Skipped,
}

/// What a pass did, for the log and the command line.
#[derive(Debug, Default, Clone)]
pub struct PassReport {
    pub checked: usize,
    pub baseline: usize,
    pub unchanged: usize,
    pub changed: usize,
    pub found: usize,
    pub failed: usize,
    pub deferred: usize,
    pub discovered: usize,
    pub failures: Vec<(String, String)>,
    pub deferrals: Vec<(String, String)>,
}

impl PassReport {
    fn add(&mut self, url: &str, o: &Outcome) {
        if *o != Outcome::Skipped {
            self.checked += 1;
        }
        match o {
            Outcome::Baseline => self.baseline += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Changed { event } => self.changed += usize::from(*event),
            Outcome::Found(_) => self.found += 1,
            Outcome::Indexed { new_links } => self.discovered += new_links,
            Outcome::Failed(why) => {
                self.failed += 1;
                self.failures.push((url.to_string(), why.clone()));
            }
            Outcome::Deferred(why) => {
                self.deferred += 1;
                self.deferrals.push((url.to_string(), why.clone()));
            }
            Outcome::Skipped => {}
        }
    }
}

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

/// Which watches a pass looks at.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Check everything now, due or not.
    pub all: bool,
    /// Only these watches (and their documents); empty means every watch.
    pub names: Vec<String>,
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
async fn cpu<T, F>(f: F) -> T
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

/// One pass: index pages first, so documents they newly list are checked in the same pass; then
/// every due page and document.
pub async fn run_pass(ctx: &Context, sel: &Selection) -> Result<PassReport, PipelineError> {
    let watches = select_watches(&ctx.config, sel)?;
    let due = {
        let watches = watches.clone();
        let all = sel.all;
        ctx.store
            .run(move |s| {
                let due = due_documents(s, &watches, all)?;
                claim(s, due)
            })
            .await?
    };
    let _renewer = Renewer::start(&ctx.store);
    // Every document this pass claimed; those no result let go of are let go at the end.
    let mut claimed: Vec<i64> = due.iter().map(|(d, _)| d.id).collect();
    let result = run_claimed(ctx, due, &mut claimed).await;
    ctx.hosts.release_idle().await;
    let ids = claimed;
    let released = ctx.store.run(move |s| s.release_documents(&ids)).await;
    let report = result?;
    released?;
    Ok(report)
}

/// Renews this process's claims every [`crate::store::RENEW_EVERY`] while a pass runs, so a
/// pass longer than a claim's lease keeps what it claimed; stops when dropped.
struct Renewer(tokio::task::JoinHandle<()>);

impl Renewer {
    fn start(store: &StoreHandle) -> Renewer {
        let store = store.clone();
        Renewer(tokio::spawn(async move {
            let mut every = tokio::time::interval(crate::store::RENEW_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = store.run(|s| s.renew_claims()).await {
                    warn!(error = %e, "claims not renewed; other processes may take them over");
                }
            }
        }))
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Claims `due` for this process (see [`Store::claim_documents`]) and keeps what it got: a
/// document another process is checking is left to it.
fn claim(store: &mut Store, due: Vec<(DocumentRow, Watch)>) -> Result<Vec<(DocumentRow, Watch)>, StoreError> {
    let ids: Vec<i64> = due.iter().map(|(d, _)| d.id).collect();
    let got: HashSet<i64> = store.claim_documents(&ids)?.into_iter().collect();
    if got.len() < ids.len() {
        info!(
            documents = ids.len() - got.len(),
            "left to the process that is checking them"
        );
    }
    Ok(due.into_iter().filter(|(d, _)| got.contains(&d.id)).collect())
}

/// A pass over documents claimed for it; `claimed` grows with the documents listings add.
async fn run_claimed(
    ctx: &Context,
    due: Vec<(DocumentRow, Watch)>,
    claimed: &mut Vec<i64>,
) -> Result<PassReport, PipelineError> {
    let (mut listings, mut queue): (Vec<_>, Vec<_>) =
        due.into_iter().partition(|(d, _)| d.role == DocRole::Index);

    let mut report = PassReport::default();
    let mut queued: HashSet<i64> = queue.iter().map(|(d, _)| d.id).collect();
    // Listings first, so the documents they newly list (or list with a later date) are checked
    // in the same pass. A sitemap index names sitemaps, which are listings in turn; each URL
    // comes back at most once, so this ends.
    while !listings.is_empty() {
        let mut found = Vec::new();
        for (doc, watch, outcome, new_docs) in run_checks(ctx, std::mem::take(&mut listings)).await? {
            report.add(&doc.url, &outcome);
            found.extend(new_docs.into_iter().map(|d| (d, watch.clone())));
        }
        let found = ctx.store.run(move |s| claim(s, found)).await?;
        claimed.extend(found.iter().map(|(d, _)| d.id));
        for (d, watch) in found {
            if d.role == DocRole::Index {
                listings.push((d, watch));
            } else if queued.insert(d.id) {
                queue.push((d, watch));
            }
        }
    }
    let result = run_checks(ctx, queue).await;
    save_host_updates(ctx).await?;
    // The pass's last group of checks is committed before anything reads them (the digest).
    ctx.store.run(|_| Ok(())).await?;
    for (doc, _, outcome, _) in result? {
        report.add(&doc.url, &outcome);
    }
    metrics::pass();
    info!(
        checked = report.checked,
        baseline = report.baseline,
        unchanged = report.unchanged,
        changed = report.changed,
        found = report.found,
        discovered = report.discovered,
        failed = report.failed,
        deferred = report.deferred,
        "pass finished"
    );
    Ok(report)
}

fn select_watches(config: &Config, sel: &Selection) -> Result<Vec<Watch>, PipelineError> {
    if let Some(n) = config.unknown_watch(&sel.names) {
        return Err(PipelineError::UnknownWatch(n.to_string()));
    }
    Ok(config
        .watches
        .iter()
        .filter(|w| sel.names.is_empty() || sel.names.contains(&w.name))
        .cloned()
        .collect())
}

/// The documents of `watches` that are due now (or all of them). A watch's own page row is
/// created on first sight; rows left over from a watch whose URL or kind changed are ignored.
fn due_documents(
    store: &mut Store,
    watches: &[Watch],
    all: bool,
) -> Result<Vec<(DocumentRow, Watch)>, StoreError> {
    let now = timefmt::now();
    let mut out = Vec::new();
    for w in watches {
        let role = if w.kind.is_listing() {
            DocRole::Index
        } else {
            DocRole::Page
        };
        store.ensure_watch_document(&w.name, w.url.as_str(), role)?;
        for d in store.documents_of(&[&w.name])? {
            let current = match d.role {
                DocRole::Document => w.kind.is_listing(),
                // The sitemaps a sitemap index names are the watch's listings too.
                DocRole::Index if w.kind == WatchKind::Sitemap => true,
                r => r == role && d.url == w.url.as_str(),
            };
            let due = all || d.next_due_at.as_deref().is_none_or(|t| t <= now.as_str());
            if current && due {
                out.push((d, w.clone()));
            }
        }
    }
    Ok(out)
}

type Checked = (DocumentRow, Watch, Outcome, Vec<DocumentRow>);

/// Writes what was learnt about hosts (robots.txt, Retry-After) to the database.
async fn save_host_updates(ctx: &Context) -> Result<(), StoreError> {
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

/// Checks documents concurrently: at most `fetch.concurrency` at once, and per origin as
/// [`Hosts`] allows (by default one at a time, a second apart).
async fn run_checks(ctx: &Context, docs: Vec<(DocumentRow, Watch)>) -> Result<Vec<Checked>, PipelineError> {
    let global = ctx.slots.clone();
    let (docs, origins) = interleave_by_origin(docs);
    // Tasks are started as others finish, not all at once: a pass over 10,000 pages must not
    // hold 10,000 of them in memory. The window is wide enough that every origin can have one
    // waiting its turn, so a host that asks for slow requests does not hold up the others.
    let window = (ctx.config.fetch.concurrency * 4).max(origins.min(2048));
    let mut queue = docs.into_iter();
    let mut set = JoinSet::new();
    let spawn = |set: &mut JoinSet<_>, (doc, watch): (DocumentRow, Watch)| {
        let global = global.clone();
        let ctx = ctx.clone();
        let span = info_span!("check", watch = %watch.name, url = %doc.url);
        set.spawn(
            async move {
                if ctx.stop.is_stopped() {
                    return Ok((doc, watch, Step::Done(Outcome::Skipped, Vec::new())));
                }
                // Newly listed documents are judged after the pass's fetches, oldest first, so
                // that of a paper and its republication found together the paper is the source.
                let step = fetch_and_parse(&ctx, &doc, &watch, global).await?;
                let step = match step {
                    Step::Parsed(parsed, next_due) if !doc.announce => {
                        let (outcome, new_docs) =
                            record_parsed(&ctx, &doc, &watch, *parsed, next_due).await?;
                        Step::Done(outcome, new_docs)
                    }
                    step => step,
                };
                Ok::<_, PipelineError>((doc, watch, step))
            }
            .instrument(span),
        );
    };
    for item in queue.by_ref().take(window) {
        spawn(&mut set, item);
    }
    let mut out = Vec::new();
    let mut deferred = Vec::new();
    let mut first_err = None;
    while let Some(joined) = set.join_next().await {
        if let Some(item) = queue.next() {
            spawn(&mut set, item);
        }
        // An origin this pass is done with is let go at once, for other processes to use.
        ctx.hosts.release_idle().await;
        match joined.expect("check task panicked") {
            Ok((doc, watch, Step::Done(outcome, new_docs))) => out.push((doc, watch, outcome, new_docs)),
            Ok((doc, watch, Step::Parsed(mut parsed, next_due))) => {
                // Waiting pages must not hold slots that the checks still running need.
                parsed.slot = None;
                deferred.push((doc, watch, parsed, next_due));
            }
            // A database error is govwatch failing, not a site: finish the others, then report.
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    // Published first, then found first; undated documents after dated ones.
    deferred.sort_by(|a, b| {
        let key = |p: &Parsed| p.published.clone().unwrap_or_else(|| "9999".into());
        key(&a.2).cmp(&key(&b.2)).then(a.0.id.cmp(&b.0.id))
    });
    for (doc, watch, parsed, next_due) in deferred {
        let span = info_span!("check", watch = %watch.name, url = %doc.url);
        let (outcome, new_docs) = record_parsed(ctx, &doc, &watch, *parsed, next_due)
            .instrument(span)
            .await?;
        out.push((doc, watch, outcome, new_docs));
    }
    Ok(out)
}

/// Orders checks round-robin over their origins (one of each host, then the next of each...),
/// so that the start of a pass is spread over every site; returns them and how many origins.
fn interleave_by_origin(docs: Vec<(DocumentRow, Watch)>) -> (Vec<(DocumentRow, Watch)>, usize) {
    let mut by_origin: Vec<std::collections::VecDeque<(DocumentRow, Watch)>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let total = docs.len();
    for item in docs {
        let origin =
            Url::parse(&item.0.url).map_or_else(|_| String::new(), |u| u.origin().ascii_serialization());
        let i = *index.entry(origin).or_insert_with(|| {
            by_origin.push(std::collections::VecDeque::new());
            by_origin.len() - 1
        });
        by_origin[i].push_back(item);
    }
    let origins = by_origin.len();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        for q in &mut by_origin {
            out.extend(q.pop_front());
        }
    }
    (out, origins)
}

/// Where a check stands after fetching and parsing.
enum Step {
    /// Finished: a failure, or a 304.
    Done(Outcome, Vec<DocumentRow>),
    /// A page to compare and store, and when the document is due next.
    Parsed(Box<Parsed>, String),
}

/// The first half of a check: wait for the host, fetch, decode, extract. Failures are recorded
/// here.
async fn fetch_and_parse(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    global: Arc<Semaphore>,
) -> Result<Step, PipelineError> {
    let url = match Url::parse(&doc.url) {
        Ok(u) => u,
        Err(e) => {
            let outcome = fail(
                ctx,
                doc,
                watch,
                FailureReason::BadUrl,
                format!("bad URL: {e}"),
                None,
            )
            .await?;
            return Ok(Step::Done(outcome, Vec::new()));
        }
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
    // The pass's slot comes back with the page and is held until the page is stored (it travels
    // in `Parsed`): pages parsed faster than the database takes them must not pile up in memory.
    let gated = ctx
        .hosts
        .fetch(
            &ctx.fetcher,
            Request {
                url: &url,
                validators: &validators,
                want,
                robots: watch.robots,
            },
            &global,
            ctx.stop.stopped(),
        )
        .await;
    // A pause (or robots.txt) learnt is stored now, not at the end of the pass: a pass killed
    // meanwhile must not leave the next one asking a host that asked for a pause.
    save_host_updates(ctx).await?;
    let (page, slot) = match gated {
        Gated::Fetched(Fetched::Page(p), slot) => (p, slot),
        Gated::Fetched(Fetched::NotModified, _) => {
            // A 304 costs no extraction and no comparison: only the schedule moves.
            let outcome = unchanged(ctx, doc, watch, Validators::default()).await?;
            info!(outcome = "unchanged", "not modified (304)");
            return Ok(Step::Done(outcome, Vec::new()));
        }
        Gated::Stopped => return Ok(Step::Done(Outcome::Skipped, Vec::new())),
        Gated::Denied(why) => {
            let outcome = fail(ctx, doc, watch, FailureReason::Robots, why, None).await?;
            return Ok(Step::Done(outcome, Vec::new()));
        }
        Gated::Deferred { until, why } => {
            info!(outcome = "deferred", reason = %why, "host asked for a pause; not checked");
            metrics::check(CheckLabel::Deferred);
            let (id, reason) = (doc.id, why.clone());
            ctx.store.grouped(move |s| s.defer(id, &until, &reason)).await?;
            return Ok(Step::Done(Outcome::Deferred(why), Vec::new()));
        }
        Gated::Failed(e) => {
            let retry = match &e {
                FetchError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let outcome = fail(ctx, doc, watch, e.kind(), e.to_string(), retry).await?;
            return Ok(Step::Done(outcome, Vec::new()));
        }
    };

    // Served byte for byte as last time: unchanged, without decoding or extracting. (A site
    // template learnt since could only remove boilerplate, which is no change either.)
    let body_hash = body_hash(&page.body);
    if !doc.announce && doc.body_hash.as_deref() == Some(body_hash.as_str()) {
        let outcome = unchanged(ctx, doc, watch, page.validators).await?;
        info!(outcome = "unchanged", "same bytes as last time");
        return Ok(Step::Done(outcome, Vec::new()));
    }

    let (doc2, watch2) = (doc.clone(), watch.clone());
    // Parsing is CPU work on owned data; it never holds the store lock.
    let parsed = cpu(move || parse_page(page, &doc2, &watch2)).await;
    match parsed {
        Ok(mut p) => {
            p.slot = Some(slot);
            let next_due = timefmt::after(interval(&ctx.config, doc, watch, p.published.as_deref()));
            Ok(Step::Parsed(Box::new(p), next_due))
        }
        Err(why) => Ok(Step::Done(
            fail(ctx, doc, watch, FailureReason::Extract, why, None).await?,
            Vec::new(),
        )),
    }
}

/// Records a check that found nothing new (a 304, or the same bytes): only the validators (the
/// stored ones are kept where these have none) and the schedule move.
async fn unchanged(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    v: Validators,
) -> Result<Outcome, StoreError> {
    let id = doc.id;
    let next_due = timefmt::after(interval(&ctx.config, doc, watch, None));
    ctx.store
        .grouped(move |s| {
            s.commit_check(CheckRecord {
                document_id: id,
                etag: v.etag,
                last_modified: v.last_modified,
                next_due_at: next_due,
                snapshot: None,
                corpus: None,
                events: Vec::new(),
                targets: Vec::new(),
                template_blocks: None,
                body_hash: None,
            })
        })
        .await?;
    metrics::check(CheckLabel::Unchanged);
    Ok(Outcome::Unchanged)
}

/// A body's identity: 128-bit xxh3, hex.
fn body_hash(body: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(body))
}

/// How long until `doc` is due again after a good check. A watch's own page or listing follows
/// the watch's `every`; a document found on a listing follows `[schedule] recheck` by its age,
/// counted from its publication date when the page gives one, else from when it was found.
fn interval(config: &Config, doc: &DocumentRow, watch: &Watch, published: Option<&str>) -> Duration {
    if doc.role != DocRole::Document {
        return watch.every;
    }
    let born = published
        .and_then(crate::extract::Published::parse)
        .map(|p| p.first_day().midnight().assume_utc())
        .or_else(|| timefmt::parse(&doc.discovered_at));
    let age = born.map_or(Duration::ZERO, |b| {
        (time::OffsetDateTime::now_utc() - b)
            .try_into()
            .unwrap_or(Duration::ZERO)
    });
    config.schedule.recheck_every(age)
}

/// When a document that has failed `failures` times in a row is tried again: its interval
/// doubled per failure after the first, capped at `[fetch] max_backoff` (but never sooner than
/// the interval), with up to a quarter added at random so that many documents failing together
/// (a site down) do not all come back in the same second. A server's Retry-After wins if later.
fn backoff(every: Duration, failures: i64, max: Duration, retry_after: Option<Duration>) -> Duration {
    let rule = crate::backoff::Backoff {
        first: every,
        cap: max.max(every),
        jitter: 1.0..=1.25,
    };
    let jittered = rule.wait(failures.saturating_sub(1).clamp(0, 20) as u32, fastrand::f64());
    retry_after.map_or(jittered, |r| jittered.max(r))
}

/// Compares and stores a parsed page: the second half of a check. The store is taken for short
/// turns only: to read what the page is compared with (and, where judging needs it, what the
/// corpus holds), and to write the result; the work in between (template, signature, diff,
/// pairing sentences, verdict, compression) runs on [`cpu`] threads, beside other checks.
async fn record_parsed(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    parsed: Parsed,
    next_due: String,
) -> Result<(Outcome, Vec<DocumentRow>), PipelineError> {
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
            Ok(Basis {
                template,
                previous: s.latest_snapshot(id)?,
            })
        })
        .await?;
    let prepared = cpu(move || prepare(parsed, basis, host)).await;
    // What the corpus holds is read in a short turn; the verdict, which compares texts, is
    // worked out after it, so the turn to write does nothing but write.
    let (doc2, needs) = (doc.clone(), corpus_needs(doc, &prepared));
    let (prepared, candidates, known) = match needs {
        None => (prepared, Vec::new(), None),
        Some(verdict) => {
            ctx.store
                .grouped(move |s| {
                    let (candidates, known) = corpus_lookup(s, &doc2, &prepared, verdict)?;
                    Ok((prepared, candidates, known))
                })
                .await?
        }
    };
    let (doc2, topics) = (doc.clone(), ctx.config.topics_for(watch));
    let thresholds = corpus::Thresholds {
        republication_share: ctx.config.corpus.republication_share,
        quote_share: ctx.config.corpus.quote_share,
    };
    let prepared = match prepared.signature {
        Some(_) => cpu(move || judge(prepared, &doc2, &topics, thresholds, candidates, known)).await,
        None => prepared,
    };
    let (doc2, watch2, config) = (doc.clone(), watch.clone(), ctx.config.clone());
    let (outcome, new_docs) = ctx
        .store
        .grouped(move |s| record(s, &config, &doc2, &watch2, prepared, next_due))
        .await?;
    match &outcome {
        Outcome::Unchanged => info!(outcome = "unchanged", "checked"),
        Outcome::Baseline => info!(outcome = "baseline", "stored first version"),
        Outcome::Changed { event } => info!(outcome = "changed", alert = event, "new version"),
        Outcome::Found(kind) => info!(outcome = kind.as_str(), "new document"),
        Outcome::Indexed { new_links } => info!(outcome = "indexed", new_links, "index checked"),
        Outcome::Failed(_) | Outcome::Deferred(_) | Outcome::Skipped => {}
    }
    count(&outcome);
    Ok((outcome, new_docs))
}

/// Counts a stored check for `/metrics` (failures are counted in [`fail`], with their reason).
fn count(outcome: &Outcome) {
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
        Outcome::Failed(_) | Outcome::Deferred(_) | Outcome::Skipped => {}
    }
}

/// Records a failed check; `reason` is its kind for metrics, `why` the message for people. The
/// document is due again after [`backoff`].
async fn fail(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    reason: FailureReason,
    why: String,
    retry_after: Option<Duration>,
) -> Result<Outcome, StoreError> {
    let failures = doc.failures + 1;
    let wait = backoff(
        interval(&ctx.config, doc, watch, None),
        failures,
        ctx.config.fetch.max_backoff,
        retry_after,
    );
    warn!(
        outcome = "failed",
        reason = %why,
        failures,
        retry_in = %humantime::format_duration(Duration::from_secs(wait.as_secs())),
        "check failed"
    );
    metrics::failure(reason);
    let (id, reason, next_due) = (doc.id, why.clone(), timefmt::after(wait));
    ctx.store
        .grouped(move |s| s.record_failure(id, &reason, &next_due))
        .await?;
    Ok(Outcome::Failed(why))
}

/// A fetched page, decoded and extracted, ready to compare and store.
struct Parsed {
    page: Page,
    encoding: &'static str,
    /// The text's blocks (paragraphs, headings, items), in order; for an index, its links.
    blocks: Vec<String>,
    title: Option<String>,
    published: Option<String>,
    lang: Option<String>,
    canonical: Option<String>,
    /// Listings: the documents (and child sitemaps) they list.
    links: Vec<Listed>,
    /// One of the pass's `fetch.concurrency` slots, released once the page is stored.
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Parsed {
    /// A page whose stored text is the URLs it lists (none, for a document, until its blocks
    /// are filled in); metadata is filled in by the caller where the page has any.
    fn listing(page: Page, encoding: &'static str, links: Vec<Listed>) -> Parsed {
        Parsed {
            encoding,
            blocks: links.iter().map(|l| l.url.to_string()).collect(),
            title: None,
            published: None,
            lang: None,
            canonical: None,
            links,
            page,
            slot: None,
        }
    }
}

fn parse_page(page: Page, doc: &DocumentRow, watch: &Watch) -> Result<Parsed, String> {
    let listing = doc.role == DocRole::Index;
    let limit = watch.max_documents;
    // Feeds and sitemaps are XML (or JSON, or gzip) that their parsers decode themselves.
    let xml_links = match watch.kind {
        WatchKind::Feed if listing => Some(discover::feed_entries(&page.body, &page.url, limit)),
        WatchKind::Sitemap if listing => Some(discover::sitemap_entries(&page.body, &page.url, limit)),
        _ => None,
    };
    if let Some(links) = xml_links {
        return Ok(Parsed::listing(page, "utf-8", links.map_err(|e| e.to_string())?));
    }

    let decoded = decode::decode(&page.body, page.content_type.as_deref()).map_err(|e| e.to_string())?;
    let is_plain = page
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/plain"));
    let extracted = if is_plain {
        Ok(extract::Document::from_plain_text(&decoded.text))
    } else {
        extract::extract(&decoded.text, Some(&page.url))
    };
    let (extracted, links) = if listing {
        // A listing's meaning is the documents it links to: they are its stored text, and a
        // listing with no prose of its own is still a good check.
        let links = discover::document_links(&decoded.text, &page.url, limit)
            .into_iter()
            .map(Listed::document)
            .collect();
        (extracted.ok(), links)
    } else {
        (Some(extracted.map_err(|e| e.to_string())?), Vec::new())
    };
    let mut parsed = Parsed::listing(page, decoded.encoding.name(), links);
    if let Some(d) = extracted {
        if !listing {
            parsed.blocks = d.blocks.into_iter().map(|b| b.text).collect();
        }
        parsed.title = d.title;
        parsed.published = d.published.map(|p| p.to_string());
        parsed.lang = d.lang;
        parsed.canonical = d.canonical;
    }
    Ok(parsed)
}

/// What a page is compared with: its host's template and its last stored version.
struct Basis {
    template: HashSet<i64>,
    previous: Option<(SnapshotMeta, String)>,
}

/// A parsed page made ready to store, without the database: its text seen through the host's
/// template and, if the text is new, its signature, its changes from the last version and its
/// compressed snapshot.
struct Prepared {
    text: String,
    title: Option<String>,
    links: Vec<Listed>,
    validators: Validators,
    had_previous: bool,
    /// The stored version this page was compared with (its snapshot id).
    previous_id: Option<i64>,
    unchanged: bool,
    signature: Option<Signature>,
    /// The fingerprints of the corpus entry this version replaces (see [`NewCorpusEntry`]).
    replaces_fps: Vec<i64>,
    /// A new version of a document stored before: what changed; after [`judge`], also what a
    /// newly listed document was found to be.
    change: Option<Finding>,
    /// Set by [`judge`] where there is a finding.
    relevance: Option<relevance::Relevance>,
    snapshot: Option<NewSnapshot>,
    /// The page's host and block keys, from which the host's template is learnt.
    template_blocks: Option<(String, Vec<i64>)>,
    body_hash: String,
    /// Held until the page is stored, as [`Parsed::slot`].
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// The CPU half of comparing a page (see [`Prepared`]); `host` is `None` for an index.
fn prepare(p: Parsed, basis: Basis, host: Option<String>) -> Prepared {
    let is_index = host.is_none();
    let body_hash = body_hash(&p.page.body);
    let template = &basis.template;
    let text =
        compare::normalize(&template::strip(p.blocks.iter().map(String::as_str), template).join("\n\n"));
    let hash = compare::text_hash(&text);
    // The previous version is seen through today's template: a block that has since turned out
    // to be the site's boilerplate is not a removal.
    let basis_previous_text = basis.previous.as_ref().map(|(_, old)| old.clone());
    let previous = basis.previous.map(|(m, old)| {
        let old = compare::normalize(&template::strip(old.split("\n\n"), template).join("\n\n"));
        (m, old)
    });
    let unchanged = previous
        .as_ref()
        .is_some_and(|(m, old)| m.text_hash == hash || compare::text_hash(old) == hash);
    let signature = (!is_index && !unchanged).then(|| Signature::of(&text));
    // The corpus entry this version replaces was made from the previous version's text as
    // stored: its fingerprints find the old index rows, and are worked out here, not in the
    // store's turn.
    let replaces_fps = match (&signature, &basis_previous_text) {
        (Some(_), Some(old)) => Signature::of(old).fp_set,
        _ => Vec::new(),
    };
    let change = match &previous {
        Some((_, old)) if !is_index && !unchanged => {
            Some(Finding::changed(diff::changes(old, &text), old, &text))
        }
        _ => None,
    };
    let snapshot = (!unchanged).then(|| NewSnapshot {
        title: p.title.clone(),
        published: p.published.clone(),
        lang: p.lang.clone(),
        canonical: p.canonical.clone(),
        encoding: Some(p.encoding.to_string()),
        content_type: p.page.content_type.clone(),
        ..NewSnapshot::new(&text, hash, &p.page.body)
    });
    let template_blocks = host.map(|h| (h, template::candidate_keys(p.blocks.iter().map(String::as_str))));
    Prepared {
        text,
        title: p.title,
        links: p.links,
        validators: p.page.validators,
        had_previous: previous.is_some(),
        previous_id: previous.as_ref().map(|(m, _)| m.id),
        unchanged,
        signature,
        replaces_fps,
        change,
        relevance: None,
        snapshot,
        template_blocks,
        body_hash,
        _slot: p.slot,
    }
}

/// Whether judging a prepared page needs the corpus: `Some(true)` for a newly listed document's
/// verdict, `Some(false)` for only the relevance of a listed document's new version (how much of
/// an imported document it reproduces). A page watched by name is relevant by definition.
fn corpus_needs(doc: &DocumentRow, p: &Prepared) -> Option<bool> {
    let needed = p.signature.is_some() && (doc.announce || (p.had_previous && doc.role != DocRole::Page));
    needed.then_some(doc.announce && p.change.is_none())
}

/// What the corpus holds for a prepared page ([`corpus_needs`]): its candidates and, for a
/// verdict, what the verdict reads besides.
fn corpus_lookup(
    store: &Store,
    doc: &DocumentRow,
    p: &Prepared,
    verdict: bool,
) -> Result<(Vec<Candidate>, Option<compare::Known>), StoreError> {
    let (Some(sig), Some(snapshot)) = (&p.signature, &p.snapshot) else {
        return Ok((Vec::new(), None));
    };
    let candidates = store.corpus_candidates(sig, Some(doc.id))?;
    let known = match verdict {
        true => Some(store.known(&snapshot.text_hash, sig, &candidates, Some(doc.id))?),
        false => None,
    };
    Ok((candidates, known))
}

/// The CPU half of judging a prepared page, after [`corpus_lookup`]: a newly listed document's
/// verdict (for a version of a known text, a diff of the two) and the relevance of what was
/// found.
fn judge(
    mut p: Prepared,
    doc: &DocumentRow,
    topics: &relevance::Topics,
    thresholds: corpus::Thresholds,
    candidates: Vec<Candidate>,
    known: Option<compare::Known>,
) -> Prepared {
    let Some(sig) = &p.signature else {
        return p;
    };
    if let (None, Some(known)) = (&p.change, known) {
        let verdict = known.verdict(&p.text, sig, &candidates, thresholds);
        p.change = Some(Finding::judged(verdict, &p.text));
    }
    if p.change.is_some() {
        // Pages the user named are theirs to follow; documents found on listings must concern
        // the topics to be mailed. Quoting an imported document is a topic of its own.
        let corpus_share = crate::store::imported_share(&candidates);
        let mut rel = relevance::score(&p.text, topics, corpus_share);
        if doc.role == DocRole::Page {
            rel.relevant = true;
        }
        p.relevance = Some(rel);
    }
    p
}

/// Writes a judged page ([`judge`]) in one transaction (a savepoint, in a group commit).
fn record(
    store: &mut Store,
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    p: Prepared,
    next_due_at: String,
) -> Result<(Outcome, Vec<DocumentRow>), StoreError> {
    // Another process may have checked this document since its basis was read (its claim on
    // it ran out and was taken over): then that result stands and this one is dropped, so one
    // edit is one event, however many processes saw it.
    if !store.may_write(doc.id)? || store.latest_snapshot_id(doc.id)? != p.previous_id {
        info!("another process recorded this document meanwhile; this check is dropped");
        return Ok((Outcome::Skipped, Vec::new()));
    }
    let is_index = doc.role == DocRole::Index;
    let mut events = Vec::new();
    let mut outcome = if p.unchanged {
        Outcome::Unchanged
    } else {
        Outcome::Baseline
    };
    let mut new_docs = Vec::new();
    if is_index {
        // The first look at an index is its baseline: the documents it lists then are recorded
        // and fetched, but only documents listed later are news.
        // A sitemap that a sitemap index starts naming later is news all the way down.
        let announce = p.had_previous || doc.announce;
        for link in &p.links {
            let role = if link.listing {
                DocRole::Index
            } else {
                DocRole::Document
            };
            let row = store.upsert_listed(
                link.url.as_str(),
                &watch.name,
                role,
                announce,
                link.lastmod.as_deref(),
            )?;
            new_docs.extend(row);
        }
        outcome = Outcome::Indexed {
            new_links: new_docs
                .iter()
                .filter(|d| d.announce && d.role == DocRole::Document)
                .count(),
        };
    } else if let (Some(f), Some(rel)) = (p.change, &p.relevance) {
        outcome = match f.kind {
            EventKind::Changed => Outcome::Changed { event: f.has_event },
            kind => Outcome::Found(kind),
        };
        if f.has_event {
            events.push(f.into_event(watch, doc, p.title.clone(), rel));
        }
    }

    // A signature is made only for a new version, which has its snapshot.
    let corpus_entry = p
        .signature
        .zip(p.snapshot.as_ref())
        .map(|(signature, s)| NewCorpusEntry {
            title: p.title.clone(),
            words: s.words as usize,
            text_hash: s.text_hash.clone(),
            signature,
            replaces_fps: p.replaces_fps,
        });
    store.commit_check(CheckRecord {
        document_id: doc.id,
        etag: p.validators.etag,
        last_modified: p.validators.last_modified,
        next_due_at,
        snapshot: p.snapshot,
        corpus: corpus_entry,
        targets: if events.is_empty() {
            Vec::new()
        } else {
            crate::store::targets_at(config, &watch.name, &watch.tags, chrono::Utc::now())
        },
        events,
        template_blocks: p.template_blocks,
        body_hash: Some(p.body_hash),
    })?;
    Ok((outcome, new_docs))
}

/// What comparison found about a document, before it becomes an event.
struct Finding {
    kind: EventKind,
    has_event: bool,
    source: Option<String>,
    overlap: Option<f64>,
    change: diff::TextChange,
    statements: Option<statements::StatementChange>,
    quoted: Vec<(String, f64)>,
    changed_share: f64,
}

impl Finding {
    /// A new version of a watched document.
    fn changed(change: diff::TextChange, old: &str, new: &str) -> Finding {
        let changed_words: usize = change
            .added
            .iter()
            .chain(&change.removed)
            .map(|s| compare::word_count(s))
            .sum();
        let total = compare::word_count(old).max(compare::word_count(new)).max(1);
        Finding {
            kind: EventKind::Changed,
            has_event: !change.is_empty(),
            source: None,
            overlap: None,
            statements: Some(statements::classify(&change)),
            change,
            quoted: Vec::new(),
            changed_share: (changed_words as f64 / total as f64).min(1.0),
        }
    }

    /// A newly listed document, judged against the corpus.
    fn judged(verdict: Verdict, text: &str) -> Finding {
        let mut f = Finding {
            kind: EventKind::New,
            has_event: true,
            source: None,
            overlap: None,
            change: diff::TextChange::default(),
            statements: None,
            quoted: Vec::new(),
            changed_share: 1.0,
        };
        match verdict {
            Verdict::Duplicate { source, resemblance } => {
                (f.kind, f.source, f.overlap, f.changed_share) =
                    (EventKind::Duplicate, Some(source), Some(resemblance), 0.0);
            }
            Verdict::Revision {
                source,
                resemblance,
                change,
            } => {
                f.kind = EventKind::Revision;
                f.source = Some(source);
                f.overlap = Some(resemblance);
                f.statements = Some(statements::classify(&change));
                f.changed_share = 1.0 - resemblance;
                f.change = change;
            }
            Verdict::Republication { source, share } => {
                (f.kind, f.source, f.overlap, f.changed_share) =
                    (EventKind::Republication, Some(source), Some(share), 0.0);
            }
            Verdict::Quotes { sources } => {
                f.kind = EventKind::Quotes;
                f.source = sources.first().map(|(s, _)| s.clone());
                f.overlap = sources.first().map(|(_, share)| *share);
                f.quoted = sources;
            }
            Verdict::New => {
                // A new document's position statements are what the analyst reads first.
                let statements = diff::sentences(text)
                    .into_iter()
                    .filter(|s| statements::is_position(s))
                    .map(|s| statements::Statement {
                        text: s,
                        position: true,
                    })
                    .collect();
                f.statements = Some(statements::StatementChange {
                    added: statements,
                    ..Default::default()
                });
            }
        }
        f
    }

    fn into_event(
        self,
        watch: &Watch,
        doc: &DocumentRow,
        title: Option<String>,
        rel: &relevance::Relevance,
    ) -> NewEvent {
        let positions = self.statements.as_ref().map_or(0, |s| s.positions_affected());
        let join = |v: &[String]| (!v.is_empty()).then(|| v.join("\n"));
        let mut details = serde_json::Map::new();
        if let Some(st) = &self.statements {
            details.insert("statements".into(), serde_json::to_value(st).unwrap_or_default());
        }
        if !self.quoted.is_empty() {
            let q: Vec<_> = self
                .quoted
                .iter()
                .map(|(s, share)| serde_json::json!({ "source": s, "share": share }))
                .collect();
            details.insert("quotes".into(), q.into());
        }
        details.insert("topics".into(), rel.terms.clone().into());
        details.insert("relevance".into(), rel.score.into());
        NewEvent {
            kind: self.kind,
            watch: watch.name.clone(),
            url: doc.url.clone(),
            title,
            source: self.source,
            overlap: self.overlap,
            added: join(&self.change.added),
            removed: join(&self.change.removed),
            relevant: rel.relevant,
            significance: compare::significance(self.kind, rel.score, positions, self.changed_share),
            details: Some(details.into()),
        }
    }
}
