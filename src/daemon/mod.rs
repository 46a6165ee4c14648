//! The daemon: one scheduler loop that runs a pass over what is due on every tick and mails what
//! it found, and its lifecycle under systemd: READY/STATUS/WATCHDOG/STOPPING notifications,
//! config reload on SIGHUP, a bounded stop on SIGTERM or SIGINT, and `/metrics` + `/healthz`
//! (with the web pages beside them).

pub mod http;
pub mod sd_notify;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::{MissedTickBehavior, interval};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::model::Clock;
use crate::notify::{self, NotifyError};
use crate::pipeline::{Context, PassReport, Selection, StopFlag, run_pass};
use crate::store::{NODE_LIVE, RENEW_EVERY, StoreHandle, differences, node_watches};
use crate::{logging, metrics};
use sd_notify::Notifier;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen on {addr} (`http.listen`): {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How often the loop proves it is alive, even in the middle of a long pass.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A loop silent for this long is wedged: the watchdog stops pinging and /healthz says 503.
const LOOP_STALE: Duration = Duration::from_secs(10);
/// The database must answer a one-row query within this to count as healthy.
const DB_ANSWER: Duration = Duration::from_secs(5);
/// The longest the loop sleeps without looking at the outbox (a digest scheduled while it
/// slept, a retry whose time came): it otherwise wakes exactly when the next delivery is due.
const OUTBOX_LOOK: Duration = Duration::from_secs(300);
/// Passes running at once at most. A pass held up by a slow or paused site keeps its own
/// documents; the next ticks' passes take the others. Past this many, ticks are skipped.
const MAX_PASSES: usize = 4;
/// After the sender itself failed (not one delivery), the outbox is looked at again this late.
const SENDER_BROKEN_WAIT: Duration = Duration::from_secs(60);

/// What the loop shares with the watchdog task and the HTTP endpoints.
pub struct State {
    config: Mutex<Arc<Config>>,
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    /// The loop's own liveness is measured on the monotonic clock (`Instant`), not the passed-in
    /// one: it is about real time elapsed in this process, which no test clock should fake.
    started: Instant,
    /// Milliseconds after `started` of the loop's last sign of life.
    heartbeat_ms: AtomicU64,
    /// Unix seconds at the end of the last pass; 0 before the first.
    last_pass_unix: AtomicU64,
    last_pass: Mutex<Option<String>>,
    /// The pages, served beside `/metrics` when `[http] listen` is set.
    web: Option<Arc<crate::web::Web>>,
}

impl State {
    fn new(ctx: &Context) -> State {
        State {
            config: Mutex::new(ctx.config.clone()),
            store: ctx.store.clone(),
            clock: ctx.clock.clone(),
            started: Instant::now(),
            heartbeat_ms: AtomicU64::new(0),
            last_pass_unix: AtomicU64::new(0),
            last_pass: Mutex::new(None),
            web: ctx
                .config
                .http
                .listen
                .map(|_| crate::web::Web::new(ctx.config.clone(), ctx.store.clone())),
        }
    }

    fn beat(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.heartbeat_ms.store(ms, Ordering::Relaxed);
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn last_pass_unix(&self) -> Option<u64> {
        Some(self.last_pass_unix.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    fn pass_done(&self, report: &PassReport) {
        let at = self.clock.now();
        self.last_pass_unix
            .store(u64::try_from(at.unix()).unwrap_or(0), Ordering::Relaxed);
        let summary = format!("{at}: {} checked, {} failed", report.checked, report.failed);
        *self.last_pass.lock().unwrap_or_else(|p| p.into_inner()) = Some(summary);
    }

    /// The number of events waiting to be mailed, if the loop is alive and the database answers;
    /// otherwise why not. The watchdog pings and /healthz says 200 only on `Ok`.
    pub async fn health(&self) -> Result<usize, String> {
        let beat = Duration::from_millis(self.heartbeat_ms.load(Ordering::Relaxed));
        let silent = self.started.elapsed().saturating_sub(beat);
        if silent > LOOP_STALE {
            return Err(format!("scheduler loop silent for {}s", silent.as_secs()));
        }
        match tokio::time::timeout(DB_ANSWER, self.store.run(|s| s.probe())).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(format!("database: {e}")),
            Err(_) => Err(format!("database did not answer within {}s", DB_ANSWER.as_secs())),
        }
    }

    /// The one-line STATUS systemd shows: watches, last pass, pending mail.
    async fn status(&self) -> String {
        let watches = self.config().watches.len();
        let last = self
            .last_pass
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| "none yet".into());
        let pending = match self.health().await {
            Ok(n) => format!("{n} events pending mail"),
            Err(why) => format!("unhealthy: {why}"),
        };
        format!("{watches} watches; last pass {last}; {pending}")
    }
}

/// How often the loop looks for due work: often enough for the shortest `every`, at most 30 s.
fn tick_period(config: &Config) -> Duration {
    let shortest = config
        .watches
        .iter()
        .map(|w| w.every)
        .min()
        .unwrap_or(Duration::from_secs(60));
    (shortest / 2).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

fn ticker(config: &Config) -> tokio::time::Interval {
    let mut ticks = interval(tick_period(config));
    // After a long pass, run the next one at once rather than a burst of catch-up passes.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticks
}

/// Runs until a stop signal; returns once in-flight work is done or abandoned.
pub async fn run(mut ctx: Context) -> Result<(), DaemonError> {
    let notifier = Arc::new(Notifier::from_env());
    let state = Arc::new(State::new(&ctx));
    state.beat();
    logging::apply_config(&ctx.config.log);
    if let Some(addr) = ctx.config.http.listen {
        http::serve(addr, state.clone()).await?;
    }
    let reload = Arc::new(tokio::sync::Notify::new());
    spawn_signal_listener(ctx.stop.clone(), reload.clone());

    let mut ticks = ticker(&ctx.config);
    let mut beat = interval(HEARTBEAT);
    beat.set_missed_tick_behavior(MissedTickBehavior::Skip);
    info!(node = %ctx.config.daemon.node, watches = ctx.config.watches.len(), tick = ?ticks.period(), "govwatch running");
    record_node(&ctx).await;
    spawn_node_heartbeat(state.clone());
    // The config is loaded and the database open and migrated: that is ready.
    notifier.ready(&state.status().await);
    // Only after READY: systemd ignores pings before it, and a ping first would read as
    // "alive" to anything listening before the service is.
    if let Some(period) = sd_notify::watchdog_period() {
        spawn_watchdog(period, state.clone(), notifier.clone());
    }

    let stop_timeout = ctx.config.daemon.stop_timeout;
    let give_up = give_up(ctx.stop.clone(), stop_timeout);
    tokio::pin!(give_up);

    // When the next delivery (a retry, a scheduled digest) falls due.
    let mut mail_at = next_delivery(&ctx).await;
    // Passes and mail rounds run as tasks beside the loop: a pass held up by a slow site must
    // not hold up the next tick's pass over other sites, nor the heartbeat. Two passes never
    // check the same document: each claims what it checks (see `store::claims`), and a later
    // pass passes over what an earlier one still holds.
    let mut work: JoinSet<Done> = JoinSet::new();
    // The mail round running, if any: one at a time, and never a second while one is slow.
    let mut mailing: Option<tokio::task::Id> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let passes = work.len() - usize::from(mailing.is_some());
                if passes < MAX_PASSES {
                    work.spawn(pass(ctx.clone()));
                } else {
                    warn!(passes, "every pass slot is busy; this tick is skipped");
                }
            }
            _ = tokio::time::sleep_until(mail_at), if mailing.is_none() => {
                let ctx = ctx.clone();
                let task = work.spawn(async move { Done::Mail { sender_broken: !mail(&ctx).await } });
                mailing = Some(task.id());
            }
            _ = beat.tick() => state.beat(),
            _ = reload.notified() => {
                notifier.reloading();
                if reload_config(&mut ctx, &state).await {
                    ticks = ticker(&ctx.config);
                    record_node(&ctx).await;
                }
                notifier.ready(&state.status().await);
            }
            Some(done) = work.join_next_with_id() => {
                let sender_broken = finished(done, &mut mailing, &state);
                mail_at = next_delivery(&ctx).await;
                if sender_broken {
                    // The sender itself failed (a template that does not render, an unreadable
                    // CA file): its rows are still due, and retrying every second would only
                    // fill the log.
                    mail_at = mail_at.max(tokio::time::Instant::now() + SENDER_BROKEN_WAIT);
                }
                notifier.status(&state.status().await);
            }
            _ = ctx.stop.stopped() => break,
        }
    }
    wind_down(
        &ctx,
        work,
        &mut beat,
        &state,
        (give_up.as_mut(), stop_timeout),
        &notifier,
    )
    .await;
    Ok(())
}

/// Resolves `stop_timeout` after a stop is requested: then work still running is abandoned.
async fn give_up(stop: StopFlag, stop_timeout: Duration) {
    stop.stopped().await;
    tokio::time::sleep(stop_timeout).await;
}

/// What a task of the loop came to: the last pass's report is kept for the status, and the mail
/// round's slot freed. Returns whether the sender itself broke.
fn finished(
    done: Result<(tokio::task::Id, Done), tokio::task::JoinError>,
    mailing: &mut Option<tokio::task::Id>,
    state: &State,
) -> bool {
    match done {
        Ok((
            _,
            Done::Pass {
                report,
                sender_broken,
            },
        )) => {
            if let Some(r) = &report {
                state.pass_done(r);
            }
            sender_broken
        }
        Ok((_, Done::Mail { sender_broken })) => {
            *mailing = None;
            sender_broken
        }
        Err(e) => {
            // A panic in a task is a bug; the daemon goes on with the next tick.
            error!(error = %e, "a pass or mail round ended abnormally");
            if *mailing == Some(e.id()) {
                *mailing = None;
            }
            false
        }
    }
}

/// The stop: running work is waited for until `give_up` (`stop_timeout` after the stop, as the
/// loop started with it), claims are let go, and systemd is told.
async fn wind_down(
    ctx: &Context,
    mut work: JoinSet<Done>,
    beat: &mut tokio::time::Interval,
    state: &State,
    (give_up, stop_timeout): (std::pin::Pin<&mut impl Future<Output = ()>>, Duration),
    notifier: &Notifier,
) {
    let drain = async { while work.join_next().await.is_some() {} };
    if drive(drain, beat, state, give_up).await.is_none() {
        warn!(
            stop_timeout = ?stop_timeout,
            "checks still running at the stop timeout are abandoned; nothing of them was committed"
        );
        work.abort_all();
    }
    // Checks skipped or abandoned at the stop leave their documents to whoever runs next.
    let released = tokio::time::timeout(Duration::from_secs(1), ctx.store.run(|s| s.release_claims())).await;
    if let Ok(Err(e)) = released {
        warn!(error = %e, "claims not let go; they run out by themselves");
    }
    notifier.stopping();
    // Every recorded check and sent mail is in the database: the pass committed its last group
    // of checks before returning. What is left to say is what stays pending for the next start.
    let pending = tokio::time::timeout(Duration::from_secs(2), ctx.store.run(|s| s.pending_count())).await;
    match pending {
        Ok(Ok(n)) => info!(mail_pending = n, "govwatch stopped"),
        _ => info!("govwatch stopped"),
    }
}

/// What a task of the loop reports when it ends.
enum Done {
    Pass {
        report: Option<PassReport>,
        sender_broken: bool,
    },
    Mail {
        sender_broken: bool,
    },
}

/// One pass over what is due, then the mail it found (and any other that is due).
async fn pass(ctx: Context) -> Done {
    let report = match run_pass(&ctx, &Selection::default()).await {
        Ok(report) => Some(report),
        // The database is what failed; the next tick tries again rather than dying, so a full
        // disk that is freed later heals by itself.
        Err(e) => {
            error!(error = %e, "pass failed");
            None
        }
    };
    // Each delivery row has its own retry time: sending what is due costs one query.
    let sender_broken = !mail(&ctx).await;
    if report.as_ref().is_some_and(|r| r.checked > 0) {
        notify::feed::update(&ctx.store, &ctx.config).await;
    }
    Done::Pass {
        report,
        sender_broken,
    }
}

/// Polls `work` to completion while keeping the heartbeat going; `None` if `give_up` resolved
/// first (the work future is dropped, which aborts its checks between awaits).
async fn drive<F: Future<Output = ()>>(
    work: F,
    beat: &mut tokio::time::Interval,
    state: &State,
    mut give_up: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<()> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            () = &mut work => return Some(()),
            _ = beat.tick() => state.beat(),
            () = &mut give_up => return None,
        }
    }
}

/// Says which watches a reload added, removed and changed.
fn log_reload(old: &Config, new: &Config) {
    let names = |c: &Config| c.watches.iter().map(|w| w.name.clone()).collect::<Vec<_>>();
    let (old_names, new_names) = (names(old), names(new));
    let added: Vec<_> = new_names.iter().filter(|n| !old_names.contains(n)).collect();
    let removed: Vec<_> = old_names.iter().filter(|n| !new_names.contains(n)).collect();
    let changed: Vec<_> = new
        .watches
        .iter()
        .filter(|w| {
            // The whole watch: a change to its topics, robots or tags is a change too.
            old.watches.iter().any(|o| o.name == w.name && o != *w)
        })
        .map(|w| w.name.clone())
        .collect();
    info!(
        watches = new.watches.len(),
        ?added,
        ?removed,
        ?changed,
        "config reloaded"
    );
}

/// Re-reads the config file after SIGHUP. Watches added, removed or changed take effect from
/// the next pass; their history stays in the database. An invalid file changes nothing.
/// True if the new config is in force.
async fn reload_config(ctx: &mut Context, state: &State) -> bool {
    let old = ctx.config.clone();
    // A file with no watches left would make the daemon idle without saying so: refused too.
    let mut new = match Config::load(&old.source).and_then(|c| c.require_watches().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "config not reloaded; the running config stays in force");
            return false;
        }
    };
    if new.storage.path != old.storage.path {
        warn!(
            running = %old.storage.path.display(),
            configured = %new.storage.path.display(),
            "storage.path changed; the database cannot change on reload, restart govwatch to use the new one"
        );
        new.storage = old.storage.clone();
    }
    if new.http.listen != old.http.listen {
        warn!(
            running = ?old.http.listen,
            configured = ?new.http.listen,
            "http.listen changed; it takes effect on restart"
        );
        new.http = old.http.clone();
    }
    if new.daemon.node != old.daemon.node {
        warn!(
            running = %old.daemon.node,
            configured = %new.daemon.node,
            "daemon.node changed; this process keeps claiming under its name, restart govwatch to use the new one"
        );
        new.daemon.node = old.daemon.node.clone();
    }
    // The fetch settings may have changed; a fresh client costs little (no state lives in it).
    let fetcher = match Fetcher::new(&new.fetch) {
        Ok(f) => f,
        Err(e) => {
            error!(error = %e, "config not reloaded; the running config stays in force");
            return false;
        }
    };
    logging::apply_config(&new.log);
    log_reload(&old, &new);
    // Politeness settings may have changed too. What was learnt of hosts is in the database
    // (saved after every pass), so a fresh table starts from it.
    if new.fetch.per_host_concurrency != old.fetch.per_host_concurrency
        || new.fetch.per_host_delay != old.fetch.per_host_delay
        || new.fetch.robots_ttl != old.fetch.robots_ttl
        || new.fetch.user_agent != old.fetch.user_agent
    {
        let rows = ctx.store.run(|s| s.hosts()).await;
        match rows {
            Ok(rows) => {
                let mut hosts = crate::polite::Hosts::new(&new.fetch, rows);
                if let Some(leases) = ctx.hosts.leases() {
                    hosts = hosts.with_leases(leases);
                }
                ctx.hosts = Arc::new(hosts);
            }
            Err(e) => {
                error!(error = %e, "config not reloaded; the running config stays in force");
                return false;
            }
        }
    }
    let new = Arc::new(new);
    ctx.config = new.clone();
    ctx.fetcher = fetcher;
    if let Some(web) = &state.web {
        web.set_config(new.clone());
    }
    *state.config.lock().unwrap_or_else(|p| p.into_inner()) = new;
    true
}

/// Records this node and what its config watches on the database (see `store::nodes`), and
/// warns of each watch another live node's config lacks, has and this one does not, or sets
/// differently, as `config check` does: nodes may watch different things, but whoever runs them
/// should know, since the documents of a watch set differently are fetched and judged by
/// whichever node claims them. A failure to record is a warning, not a stop: the node still
/// works, but the other nodes do not know its watches, and may settle the events of a watch
/// only it has as followed by nobody (as they do once it was not seen for [`NODE_LIVE`]).
async fn record_node(ctx: &Context) {
    let node = ctx.config.daemon.node.clone();
    let mine = node_watches(&ctx.config);
    let now = ctx.clock.now();
    let (me, watches) = (node.clone(), mine.clone());
    let recorded = ctx
        .store
        .run(move |s| {
            s.record_node(&me, &watches, now)?;
            s.live_nodes(now)
        })
        .await;
    match recorded {
        Ok(nodes) => {
            for d in differences(&node, &mine, &nodes) {
                warn!("{d}");
            }
        }
        Err(e) => warn!(error = %e, "this node and its watches were not recorded on the database"),
    }
}

/// Stamps this node seen every [`RENEW_EVERY`], as claims are renewed, for as long as the
/// process runs. Not in the passes' claim renewal: that runs only while a pass does, and a
/// daemon whose passes are short and far apart would look stopped to the other nodes between
/// them. A row that is gone (removed by hand) is recorded again with the config in force.
fn spawn_node_heartbeat(state: Arc<State>) {
    tokio::spawn(async move {
        let mut every = interval(RENEW_EVERY);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The first tick is now, just after the node was recorded.
        every.tick().await;
        loop {
            every.tick().await;
            let config = state.config();
            let now = state.clock.now();
            let seen = state
                .store
                .run(move |s| {
                    let node = &config.daemon.node;
                    if !s.node_seen(node, now)? {
                        s.record_node(node, &node_watches(&config), now)?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = seen {
                warn!(error = %e, live_for = ?NODE_LIVE, "this node was not stamped seen; other nodes take it for stopped once it was not seen for that long");
            }
        }
    });
}

/// Pings the systemd watchdog every half period, but only while [`State::health`] is good: a
/// wedged loop or a database that does not answer gets the service restarted.
fn spawn_watchdog(period: Duration, state: Arc<State>, notifier: Arc<Notifier>) {
    tokio::spawn(async move {
        let mut every = interval(period / 2);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match state.health().await {
                Ok(_) => notifier.watchdog(),
                Err(why) => warn!(reason = %why, "not pinging the watchdog"),
            }
        }
    });
}

/// Sends what is due; failed deliveries are recorded on their outbox rows (retried with
/// backoff) and logged. False only if the sender itself failed, before any delivery.
pub async fn mail(ctx: &Context) -> bool {
    let due = notify::due_now(ctx.clock.now());
    match notify::send_due(&ctx.store, &ctx.config, due, &*ctx.clock).await {
        Ok(r) => {
            if !r.sent.is_empty() {
                info!(events = r.events_sent(), messages = r.sent.len(), "mail sent");
            }
            true
        }
        Err(NotifyError::NotConfigured) => true,
        Err(e) => {
            metrics::mail_failed();
            warn!(error = %e, "mail not sent; it stays pending");
            false
        }
    }
}

/// The instant the next pending delivery is due, at most [`OUTBOX_LOOK`] away.
async fn next_delivery(ctx: &Context) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let latest = now + OUTBOX_LOOK;
    // Rows left for a sender that is not configured any more would be due forever.
    if ctx.config.email.is_none() && ctx.config.recipients.iter().all(|r| r.webhook.is_none()) {
        return latest;
    }
    let Ok(Some(at)) = ctx.store.run(|s| s.next_delivery_due()).await else {
        return latest;
    };
    // A second late rather than early: stored times are whole seconds.
    let wait = at.since(ctx.clock.now()) + Duration::from_secs(1);
    (now + wait).min(latest)
}

fn spawn_signal_listener(stop: StopFlag, reload: Arc<tokio::sync::Notify>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered before READY=1, so a SIGHUP right after start is never the default
        // action (which would kill the process).
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        info!("SIGHUP: reloading the config");
                        // notify_one keeps one permit: signals during a pass coalesce into one
                        // reload after it.
                        reload.notify_one();
                    }
                });
            }
            Err(e) => warn!(error = %e, "cannot listen for SIGHUP; reload needs a restart"),
        }
    }
    #[cfg(not(unix))]
    let _ = reload;
    // Also registered now rather than inside the task, for the same reason.
    let stopping = stop_signal();
    tokio::spawn(async move {
        stopping.await;
        info!("stop requested; finishing running checks");
        stop.stop();
    });
}

/// A future resolving at SIGTERM or SIGINT, with its handlers installed before it returns: the
/// daemon's stop, and `govwatch serve`'s.
#[cfg(unix)]
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
pub fn stop_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
