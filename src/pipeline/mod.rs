//! A pass over everything due: which documents, claimed for this process, listings first (so
//! that documents they newly list are checked in the same pass), then every due page and
//! document, side by side within the politeness gate's limits, an origin at a time and shared
//! with the other processes in a pass ([`feed`]). One check of one document is
//! [`crate::check`]'s.

mod feed;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::task::JoinSet;
use tracing::{Instrument, info, info_span, warn};

use crate::check::{self, Step, parse::Parsed};
pub use crate::check::{Context, Outcome, StopFlag};
use crate::config::{Config, Watch, WatchKind};
use crate::metrics;
use crate::model::{Clock, DocRole, Timestamp};
use crate::store::{DocumentRow, Store, StoreError, StoreHandle};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("no watch named `{0}` in the config")]
    UnknownWatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// Which watches a pass looks at.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Check everything now, due or not.
    pub all: bool,
    /// Only these watches (and their documents); empty means every watch.
    pub names: Vec<String>,
}

/// Origin leases (see [`crate::polite`]) kept in the store, taken and let go in its turn like
/// any other write, so they neither wait behind nor cut short a busy pass's group commits.
/// A lease runs from the clock's now.
pub struct StoreLeases(pub StoreHandle, pub Arc<dyn Clock>);

impl crate::polite::OriginLeases for StoreLeases {
    fn take(
        &self,
        origin: &str,
    ) -> futures_util::future::BoxFuture<'static, Result<crate::store::Lease, StoreError>> {
        let (store, origin, now) = (self.0.clone(), origin.to_string(), self.1.now());
        Box::pin(async move { store.run(move |s| s.take_origin(&origin, now)).await })
    }

    fn release(
        &self,
        origin: &str,
        last_request_at: Option<time::OffsetDateTime>,
    ) -> futures_util::future::BoxFuture<'static, Result<(), StoreError>> {
        let (store, origin) = (self.0.clone(), origin.to_string());
        Box::pin(async move {
            store
                .run(move |s| s.release_origin(&origin, last_request_at))
                .await
        })
    }
}

/// One pass: index pages first, so documents they newly list are checked in the same pass; then
/// every due page and document.
pub async fn run_pass(ctx: &Context, sel: &Selection) -> Result<PassReport, PipelineError> {
    let watches = select_watches(&ctx.config, sel)?;
    let earlier = std::mem::take(&mut *ctx.unreleased.lock().unwrap_or_else(|p| p.into_inner()));
    if !earlier.is_empty() {
        let ids = earlier.clone();
        match ctx.store.run(move |s| s.release_documents(&ids)).await {
            Ok(()) => info!(
                documents = earlier.len(),
                "let go of the claims an earlier pass could not"
            ),
            Err(e) => {
                ctx.unreleased
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(earlier);
                return Err(e.into());
            }
        }
    }
    let in_pass = InPass::enter(&ctx.passes);
    let (listings, pages) = {
        let watches = watches.clone();
        let fetch = ctx.config.fetch.clone();
        let (all, now) = (sel.all, ctx.clock.now());
        ctx.store
            .run(move |s| {
                let (listings, pages): (Vec<_>, Vec<_>) = due_documents(s, &watches, all, now)?
                    .into_iter()
                    .partition(|(d, _)| d.role == DocRole::Index);
                // Listings are few and list the rest: claimed now. Pages are claimed an origin
                // at a time as the pass goes, shared with the other processes in a pass.
                let listings = claim(s, listings, now)?;
                let pages = feed::Feed::unclaimed(pages, &fetch);
                s.begin_pass(pages.origins(), now)?;
                Ok((listings, pages))
            })
            .await?
    };
    let _renewer = Renewer::start(&ctx.store, ctx.clock.clone());
    // Every document this pass claimed; those no result let go of are let go at the end.
    let mut claimed: Vec<i64> = listings.iter().map(|(d, _)| d.id).collect();
    let result = run_claimed(ctx, listings, pages, &mut claimed).await;
    ctx.hosts.release_idle(std::time::Duration::ZERO).await;
    let ids = claimed.clone();
    let last = in_pass.leave();
    let released = ctx
        .store
        .run(move |s| {
            s.release_documents(&ids)?;
            if last { s.end_pass() } else { Ok(()) }
        })
        .await;
    if released.is_err() {
        // Tried again before the next pass claims (see `Context::unreleased`).
        ctx.unreleased
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(claimed);
    }
    let report = result?;
    released?;
    Ok(report)
}

/// A pass of this process running, counted in [`Context::passes`] until it ends, however it
/// ends (a pass the daemon gives up on is dropped mid-way).
struct InPass<'a>(Option<&'a AtomicUsize>);

impl<'a> InPass<'a> {
    fn enter(passes: &'a AtomicUsize) -> InPass<'a> {
        passes.fetch_add(1, Ordering::SeqCst);
        InPass(Some(passes))
    }

    /// Ends the pass; true if it was the process's last one running.
    fn leave(mut self) -> bool {
        self.0
            .take()
            .is_some_and(|p| p.fetch_sub(1, Ordering::SeqCst) == 1)
    }
}

impl Drop for InPass<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            p.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Renews this process's claims every [`crate::store::RENEW_EVERY`] while a pass runs, so a
/// pass longer than a claim's lease keeps what it claimed; stops when dropped.
struct Renewer(tokio::task::JoinHandle<()>);

impl Renewer {
    fn start(store: &StoreHandle, clock: Arc<dyn Clock>) -> Renewer {
        let store = store.clone();
        Renewer(tokio::spawn(async move {
            let mut every = tokio::time::interval(crate::store::RENEW_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let now = clock.now();
                if let Err(e) = store.run(move |s| s.renew_claims(now)).await {
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
fn claim(
    store: &mut Store,
    due: Vec<(DocumentRow, Watch)>,
    now: Timestamp,
) -> Result<Vec<(DocumentRow, Watch)>, StoreError> {
    let seen: Vec<(i64, Option<Timestamp>)> = due.iter().map(|(d, _)| (d.id, d.last_checked_at)).collect();
    let got: HashSet<i64> = store.claim_documents(&seen, now)?.into_iter().collect();
    if got.len() < seen.len() {
        info!(
            documents = seen.len() - got.len(),
            "left to the process that is checking them"
        );
    }
    Ok(due.into_iter().filter(|(d, _)| got.contains(&d.id)).collect())
}

/// A pass over its listings (claimed) and pages (claimed as it goes); `claimed` grows with
/// every document claimed.
async fn run_claimed(
    ctx: &Context,
    mut listings: Vec<(DocumentRow, Watch)>,
    mut pages: feed::Feed,
    claimed: &mut Vec<i64>,
) -> Result<PassReport, PipelineError> {
    let mut report = PassReport::default();
    let mut seen: HashSet<i64> = HashSet::new();
    // Listings first, so the documents they newly list (or list with a later date) are checked
    // in the same pass. A sitemap index names sitemaps, which are listings in turn; each URL
    // comes back at most once, so this ends.
    while !listings.is_empty() {
        let mut found = Vec::new();
        let mut batch = feed::Feed::claimed(std::mem::take(&mut listings), &ctx.config.fetch);
        let result = run_checks(ctx, &mut batch).await;
        claimed.append(&mut batch.claimed);
        for (doc, watch, outcome, new_docs) in result? {
            report.add(&doc.url, &outcome);
            found.extend(new_docs.into_iter().map(|d| (d, watch.clone())));
        }
        let now = ctx.clock.now();
        let found = ctx.store.run(move |s| claim(s, found, now)).await?;
        let (more, found): (Vec<_>, Vec<_>) = found.into_iter().partition(|(d, _)| d.role == DocRole::Index);
        claimed.extend(more.iter().map(|(d, _)| d.id));
        listings = more;
        pages.add_claimed(found.into_iter().filter(|(d, _)| seen.insert(d.id)).collect());
    }
    let result = run_checks(ctx, &mut pages).await;
    claimed.append(&mut pages.claimed);
    check::save_host_updates(ctx).await?;
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
/// Two statements for every watch at once, not a few per watch: on a server each is a round
/// trip, and a node may watch thousands of pages.
fn due_documents(
    store: &mut Store,
    watches: &[Watch],
    all: bool,
    now: Timestamp,
) -> Result<Vec<(DocumentRow, Watch)>, StoreError> {
    let role = |w: &Watch| {
        if w.kind.is_listing() {
            DocRole::Index
        } else {
            DocRole::Page
        }
    };
    let own: Vec<(&str, &str, DocRole)> = watches
        .iter()
        .map(|w| (w.name.as_str(), w.url.as_str(), role(w)))
        .collect();
    store.ensure_watch_documents(&own, now)?;
    let names: Vec<&str> = watches.iter().map(|w| w.name.as_str()).collect();
    let mut by_watch: std::collections::HashMap<String, Vec<DocumentRow>> = std::collections::HashMap::new();
    for d in store.documents_of(&names)? {
        by_watch.entry(d.watch.clone()).or_default().push(d);
    }
    let mut out = Vec::new();
    for w in watches {
        for d in by_watch.remove(&w.name).unwrap_or_default() {
            let current = match d.role {
                DocRole::Document => w.kind.is_listing(),
                // The sitemaps a sitemap index names are the watch's listings too.
                DocRole::Index if w.kind == WatchKind::Sitemap => true,
                r => r == role(w) && d.url == w.url.as_str(),
            };
            let due = all || d.next_due_at.is_none_or(|t| t <= now);
            if current && due {
                out.push((d, w.clone()));
            }
        }
    }
    Ok(out)
}

type Checked = (DocumentRow, Watch, Outcome, Vec<DocumentRow>);

/// Checks what `feed` gives concurrently: at most `fetch.concurrency` at once, and per origin as
/// [`Hosts`] allows (by default one at a time, a second apart).
async fn run_checks(ctx: &Context, feed: &mut feed::Feed) -> Result<Vec<Checked>, PipelineError> {
    let global = ctx.slots.clone();
    // Tasks are started as others finish, not all at once: a pass over 10,000 pages must not
    // hold 10,000 of them in memory. The window is wide enough that every origin can have its
    // checks in flight and one waiting its turn, so a host that asks for slow requests does not
    // hold up the others.
    let window = (ctx.config.fetch.concurrency * 4).max((feed.origins() * feed.per_origin()).min(2048));
    let mut set = JoinSet::new();
    let spawn = |set: &mut JoinSet<_>, (key, (doc, watch)): (String, (DocumentRow, Watch))| {
        let global = global.clone();
        let ctx = ctx.clone();
        let span = info_span!("check", watch = %watch.name, url = %doc.url);
        set.spawn(
            async move {
                let done = check_one(&ctx, &doc, &watch, global).await;
                (key, done.map(|d| (doc, watch, d)))
            }
            .instrument(span),
        );
    };
    let mut out = Vec::new();
    let mut waiting = Vec::new();
    let mut first_err = None;
    // Since when the pass has had nothing to do but wait for origins other processes hold.
    let mut idle: Option<tokio::time::Instant> = None;
    loop {
        // A failing database stops the feed; the checks running are finished, then reported.
        while first_err.is_none() && set.len() < window {
            match feed.next(ctx).await {
                Ok(Some(item)) => {
                    idle = None;
                    spawn(&mut set, item);
                }
                Ok(None) => break,
                Err(e) => {
                    first_err = Some(e.into());
                }
            }
        }
        if set.is_empty() {
            let waited = idle.get_or_insert_with(tokio::time::Instant::now).elapsed();
            // Nothing left but origins other processes hold: they are taken when let go (the
            // rest of what they have due, which a process that works on an origin's documents
            // a share at a time may leave to this one). After as long as a check would wait
            // for an origin, they are left to those processes.
            if first_err.is_none()
                && feed.waiting_elsewhere()
                && waited < crate::polite::LEASE_WAIT
                && !ctx.stop.is_stopped()
            {
                // The origins this pass is done with are let go meanwhile: the other process
                // may be waiting for them in turn.
                ctx.hosts.release_idle(crate::polite::LEASE_IDLE).await;
                tokio::time::sleep(feed::WAIT_ELSEWHERE).await;
                continue;
            }
            break;
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (key, result) = joined.expect("check task panicked");
        feed.finished(&key);
        // An origin this pass has not used for a while is let go, for other processes to use.
        ctx.hosts.release_idle(crate::polite::LEASE_IDLE).await;
        match result {
            Ok((doc, watch, Done::Checked(outcome, new_docs))) => out.push((doc, watch, outcome, new_docs)),
            Ok((doc, watch, Done::Waiting(mut parsed))) => {
                // Waiting pages must not hold slots that the checks still running need.
                parsed.slot = None;
                waiting.push((doc, watch, parsed));
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
    // Newly listed documents are judged here, after every fetch of the pass, one at a time and
    // oldest first: a paper and its republication are often found in the same pass, and the
    // verdict on each is made against the corpus as the one before left it. Judged in the order
    // they were fetched, or side by side, the republication could be stored first and the paper
    // then found to be its duplicate. Published first, then found first; undated documents after
    // dated ones.
    waiting.sort_by(|a, b| {
        let key = |d: &DocumentRow, p: &Parsed| (p.published.is_none(), p.published.clone(), d.id);
        key(&a.0, &a.2).cmp(&key(&b.0, &b.2))
    });
    for (doc, watch, parsed) in waiting {
        let span = info_span!("check", watch = %watch.name, url = %doc.url);
        let (outcome, new_docs) = check::compare_and_write(ctx, &doc, &watch, *parsed)
            .instrument(span)
            .await?;
        out.push((doc, watch, outcome, new_docs));
    }
    Ok(out)
}

/// One task of [`run_checks`]: fetch, then decide and write at once, unless the document is
/// newly listed (then it waits for the others, see [`run_checks`]).
async fn check_one(
    ctx: &Context,
    doc: &DocumentRow,
    watch: &Watch,
    global: std::sync::Arc<tokio::sync::Semaphore>,
) -> Result<Done, PipelineError> {
    if ctx.stop.is_stopped() {
        return Ok(Done::Checked(Outcome::Skipped, Vec::new()));
    }
    Ok(match check::fetch(ctx, doc, watch, global).await? {
        Step::Stopped => Done::Checked(Outcome::Skipped, Vec::new()),
        Step::Settled(seen, why) => {
            let (outcome, new_docs) = check::settle(ctx, doc, watch, seen, why).await?;
            Done::Checked(outcome, new_docs)
        }
        Step::Parsed(parsed) if doc.announce => Done::Waiting(parsed),
        Step::Parsed(parsed) => {
            let (outcome, new_docs) = check::compare_and_write(ctx, doc, watch, *parsed).await?;
            Done::Checked(outcome, new_docs)
        }
    })
}

/// Where one task of [`run_checks`] left its check.
enum Done {
    Checked(Outcome, Vec<DocumentRow>),
    /// A newly listed document, parsed, waiting to be judged in order.
    Waiting(Box<Parsed>),
}
