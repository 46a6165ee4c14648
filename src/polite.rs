//! Politeness toward the servers govwatch reads: robots.txt, a cap on requests in flight and a
//! least delay between them per origin (shared by every watch on it), and a server's Retry-After.
//!
//! Government servers are often small and slow; a monitor that hammers them gets blocked, and
//! deserves to. Every request govwatch makes to a site goes through [`Hosts::admit`], redirect
//! hops included ([`Hosts::fetch`] follows them one by one).
//!
//! A pause (Retry-After) is never waited out: the checks of a paused origin are deferred at once,
//! including those already waiting for its slot or its turn, so one slow-down request never holds
//! up a pass or the other origins.
//!
//! With several govwatch processes on one database, one of them at a time talks to an origin: it
//! holds the origin's lease (kept by an [`OriginLeases`], the database) from its first request there until it has
//! no more checks for it ([`Hosts::release_idle`]). The others wait for the lease (at most
//! [`LEASE_WAIT`], then defer), and on taking it keep the delay after the last holder's last
//! request and honour any pause it stored.
//!
//! The gate reads real time itself (`Instant` and the wall clock), unlike the rest of govwatch,
//! which takes `now` from a passed-in [`crate::model::Clock`]: its delays are slept out with
//! tokio timers, and the wall-clock times it keeps (a Retry-After pause, robots.txt's age, the
//! start of the last request handed to the next lease holder) must agree with those sleeps and
//! with other processes. A test clock here could let govwatch ask a server again before the
//! pause it was given ran out; the gate is tested against real servers and real time instead.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use time::OffsetDateTime;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::{debug, info, warn};
use url::Url;

use crate::config;
use crate::fetch::addr::AddrClass;
use crate::fetch::{self, FetchError, Fetched, Fetcher, Hop, Validators, Want};
use crate::model::Timestamp;
use crate::store::{HostRow, Lease, StoreError};
use crate::timefmt;

/// Bytes of robots.txt read; RFC 9309 lets crawlers stop at 500 KiB.
const ROBOTS_CAP: usize = 500 * 1024;
/// A robots.txt that could not be fetched is asked for again after this long.
const ROBOTS_RETRY: Duration = Duration::from_secs(10 * 60);
/// A `Crawl-delay` longer than this is read as this: the site still gets spaced requests, and a
/// watch on it still gets checked.
const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);
/// A 429 without Retry-After still means "slower": the origin is left alone this long.
const DEFAULT_429_PAUSE: Duration = Duration::from_secs(60);
/// How long a check waits for another process to let go of an origin before it is deferred.
pub const LEASE_WAIT: Duration = Duration::from_secs(60);
/// An origin no check of this process has used for this long is let go during a pass.
pub const LEASE_IDLE: Duration = Duration::from_secs(2);
/// How often a waiting check asks whether the origin's lease is free.
const LEASE_POLL: Duration = Duration::from_millis(250);

/// What taking an origin for a pass found ([`Hosts::hold`]).
pub enum Hold {
    /// The pass has it until the [`OriginHold`] is dropped.
    Taken(OriginHold),
    /// Another pass of this process has it: that pass checks what it claimed of the origin,
    /// and what comes due meanwhile is left to a later pass rather than queued beside it (a
    /// pass that takes its turns at the origin's gate between another's would slow both).
    Sibling,
    /// Another process holds the origin's lease.
    Elsewhere,
}

/// An origin taken by a pass; let go of when dropped (the database's lease stays with the
/// process until [`Hosts::release_idle`]).
pub struct OriginHold(Arc<Origin>);

impl Drop for OriginHold {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        st.pass_held = false;
        st.let_go = true;
    }
}

/// Whether a request may go ahead.
pub enum Admission {
    /// Go: the permit holds one of the origin's request slots until dropped.
    Go(HostPermit),
    /// robots.txt disallows the URL for govwatch, or could not be read.
    Denied(String),
    /// The origin asked for a pause (Retry-After) that has not run out: no request is made, and
    /// the document is due again at `until`.
    Deferred { until: Timestamp, why: String },
}

/// A pause in force: no request before `until`.
struct Paused {
    until: Timestamp,
    why: String,
}

impl From<Paused> for Admission {
    fn from(p: Paused) -> Admission {
        Admission::Deferred {
            until: p.until,
            why: p.why,
        }
    }
}

/// Where origin leases are kept: the database, shared by every govwatch process on it. Taking
/// and letting go are writes, made in the store's turn by whoever owns the store.
pub trait OriginLeases: Send + Sync {
    /// Takes `origin`'s lease for this process unless another live process holds it.
    fn take(&self, origin: &str) -> BoxFuture<'static, Result<Lease, StoreError>>;
    /// Lets go of it, noting when this process's last request there started.
    fn release(
        &self,
        origin: &str,
        last_request_at: Option<OffsetDateTime>,
    ) -> BoxFuture<'static, Result<(), StoreError>>;
}

/// One of an origin's request slots.
pub struct HostPermit {
    _permit: OwnedSemaphorePermit,
    _use: Use,
}

/// A check of this process that uses an origin, from its admission until its request ends:
/// while an origin has any, its lease is kept.
struct Use(Arc<Origin>);

impl Use {
    fn new(origin: &Arc<Origin>) -> Use {
        let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
        st.users += 1;
        st.idle_since = None;
        Use(origin.clone())
    }
}

impl Drop for Use {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        st.users = st.users.saturating_sub(1);
        if st.users == 0 {
            st.idle_since = Some(Instant::now());
        }
    }
}

/// A GET to make through the gate: what to ask, and whether robots.txt applies.
pub struct Request<'a> {
    pub url: &'a Url,
    /// Sent with every hop: a redirect is the same resource, moved.
    pub validators: &'a Validators,
    pub want: Want,
    pub robots: bool,
}

/// What a fetch through the gate came to.
pub enum Gated {
    /// The answer of the last hop, and the caller's slot (see [`Hosts::fetch`]), still held.
    Fetched(Fetched, OwnedSemaphorePermit),
    /// robots.txt of the URL's origin, or of a redirect's, disallows it or could not be read.
    Denied(String),
    /// The origin of the URL, or of a redirect, is paused: no request was made to it.
    Deferred { until: Timestamp, why: String },
    /// A request failed (a pause the server asked for has been noted).
    Failed(FetchError),
    /// Stopped (shutdown) before a request could start.
    Stopped,
}

/// A facts change worth keeping in the database.
#[derive(Debug, Clone, PartialEq)]
pub enum HostUpdate {
    Robots(HostRow),
    NotBefore {
        origin: String,
        until: String,
        reason: String,
    },
}

/// Every origin's state, for the life of the process (the daemon keeps it across passes).
pub struct Hosts {
    settings: Settings,
    agent: String,
    origins: Mutex<HashMap<String, Arc<Origin>>>,
    /// Changes not yet written to the database; [`Hosts::take_updates`] drains them.
    updates: Mutex<Vec<HostUpdate>>,
    /// Origin leases shared with other processes on the database; `None`: this process alone.
    leases: Option<Arc<dyn OriginLeases>>,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    per_host: usize,
    delay: Duration,
    robots_ttl: Duration,
}

struct Origin {
    slots: Arc<Semaphore>,
    /// Held while robots.txt is fetched, so concurrent checks on one origin fetch it once.
    robots_lock: tokio::sync::Mutex<()>,
    /// Woken when the origin is paused, so every check waiting on it gives up at once.
    paused: Notify,
    /// Held while the origin's lease is taken or let go, so that the two never cross.
    lease: tokio::sync::Mutex<()>,
    state: Mutex<OriginState>,
}

#[derive(Default)]
struct OriginState {
    /// When the latest request booked started (or will start).
    last_start: Option<Instant>,
    /// The same moment on the wall clock, for the next process to hold the origin.
    last_start_wall: Option<OffsetDateTime>,
    /// When the latest request actually went out: later than booked when its check waited for
    /// one of the pass's slots after its turn (see [`Hosts::send_turn`]).
    last_sent: Option<Instant>,
    /// Checks of this process between admission and the end of their request.
    users: usize,
    /// Whether this process holds the origin's lease.
    leased: bool,
    /// Whether a pass of this process has taken the origin ([`Hosts::hold`]).
    pass_held: bool,
    /// The pass that took it is done with it: its lease is let go as soon as no check uses
    /// it, not after [`LEASE_IDLE`], for another process to take.
    let_go: bool,
    /// Since when no check of this process has used the origin.
    idle_since: Option<Instant>,
    /// No request before this (a Retry-After); checks meanwhile are deferred, never kept waiting.
    not_before: Option<(OffsetDateTime, String)>,
    robots: Option<Robots>,
}

struct Robots {
    rules: RobotsRules,
    fetched_at: OffsetDateTime,
}

enum RobotsRules {
    /// No robots.txt (4xx), an empty one, or one with no group for us: everything allowed.
    AllowAll,
    Parsed(Box<texting_robots::Robot>),
    /// 5xx or unreachable: RFC 9309 says to assume everything is disallowed for now.
    Unreachable(String),
}

impl Hosts {
    /// `rows` are the facts stored by earlier runs.
    pub fn new(cfg: &config::Fetch, rows: Vec<HostRow>) -> Hosts {
        let hosts = Hosts {
            settings: Settings {
                per_host: cfg.per_host_concurrency,
                delay: cfg.per_host_delay,
                robots_ttl: cfg.robots_ttl,
            },
            agent: robots_agent(&cfg.user_agent),
            origins: Mutex::new(HashMap::new()),
            updates: Mutex::new(Vec::new()),
            leases: None,
        };
        for row in rows {
            let origin = hosts.origin(&row.origin);
            let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
            if let (Some(t), reason) = (
                row.not_before.as_deref().and_then(timefmt::parse),
                &row.not_before_reason,
            ) {
                st.not_before = Some((t, reason.clone().unwrap_or_default()));
            }
            if let Some(fetched_at) = row.robots_fetched_at.as_deref().and_then(timefmt::parse) {
                let rules = hosts.rules_from(row.robots_status, row.robots.as_deref(), row.robots_error);
                st.robots = Some(Robots { rules, fetched_at });
            }
        }
        hosts
    }

    /// Shares the origins with the other processes on the database (see the module's doc).
    pub fn with_leases(mut self, leases: Arc<dyn OriginLeases>) -> Hosts {
        self.leases = Some(leases);
        self
    }

    /// The leases this table shares origins through, if any.
    pub fn leases(&self) -> Option<Arc<dyn OriginLeases>> {
        self.leases.clone()
    }

    fn origin(&self, key: &str) -> Arc<Origin> {
        let mut map = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Origin {
                    slots: Arc::new(Semaphore::new(self.settings.per_host)),
                    robots_lock: tokio::sync::Mutex::new(()),
                    paused: Notify::new(),
                    lease: tokio::sync::Mutex::new(()),
                    state: Mutex::new(OriginState::default()),
                })
            })
            .clone()
    }

    /// Waits for a request slot on `url`'s origin and for the delay since the last request to
    /// have passed; checks robots.txt first when `robots` is on (fetching it if it is unknown or
    /// stale, which itself counts as a request). A pause of the origin, known before or learnt
    /// during any of these waits, ends them at once with [`Admission::Deferred`].
    pub async fn admit(&self, fetcher: &Fetcher, url: &Url, robots: bool) -> Admission {
        let key = url.origin().ascii_serialization();
        let origin = self.origin(&key);
        let gate = async {
            // Counted as using the origin from now, so its lease is not let go while this check
            // waits for a slot; the lease is made sure of once the slot is ours, so checks still
            // take the origin's slots in the order they asked.
            let using = Use::new(&origin);
            let permit = self
                .until_paused(&origin, origin.slots.clone().acquire_owned())
                .await
                .map_err(Admission::from)?
                .expect("host semaphore is never closed");
            self.lease(&key, &origin).await?;
            if robots {
                let allowed = self
                    .until_paused(&origin, self.robots_allow(fetcher, &key, &origin, url))
                    .await
                    .map_err(Admission::from)?;
                // robots.txt itself may have answered with a pause: that is no verdict on the URL.
                if let Some(d) = self.deferred(&origin) {
                    return Err(d);
                }
                allowed.map_err(Admission::Denied)?;
            }
            self.until_paused(&origin, self.wait_turn(&origin))
                .await
                .map_err(Admission::from)?;
            Ok((permit, using))
        };
        match gate.await {
            Ok((permit, using)) => Admission::Go(HostPermit {
                _permit: permit,
                _use: using,
            }),
            Err(refused) => refused,
        }
    }

    /// Makes sure this process holds `origin`'s lease, waiting up to [`LEASE_WAIT`] for another
    /// process to let go of it.
    async fn lease(&self, key: &str, origin: &Arc<Origin>) -> Result<(), Admission> {
        let leased = || origin.state.lock().unwrap_or_else(|p| p.into_inner()).leased;
        let Some(leases) = self.leases.as_ref().filter(|_| !leased()) else {
            return Ok(());
        };
        let _turn = origin.lease.lock().await;
        if leased() {
            return Ok(());
        }
        let deadline = Instant::now() + LEASE_WAIT;
        loop {
            match leases.take(key).await {
                Ok(Lease::Granted {
                    last_request_at,
                    not_before,
                }) => {
                    self.granted(origin, last_request_at, not_before);
                    return Ok(());
                }
                Ok(Lease::Held { by, until }) if Instant::now() >= deadline => {
                    return Err(Admission::Deferred {
                        until: Timestamp::from_datetime(until),
                        why: format!("another govwatch process ({by}) is fetching from this origin"),
                    });
                }
                Ok(Lease::Held { .. }) => tokio::time::sleep(LEASE_POLL).await,
                // The database being busy for longer than its timeout must not stop checks: this
                // process goes on alone, as it would without other processes.
                Err(e) => {
                    warn!(origin = %key, error = %e, "origin lease not taken; going on without it");
                    return Ok(());
                }
            }
        }
    }

    /// Takes `origin` for one pass of this process (see [`Hold`]), without waiting: a pass
    /// takes an origin before it claims the origin's documents, so that it claims only the
    /// work of origins it may talk to (src/pipeline/feed.rs). The database's lease is taken
    /// for it unless this process holds it already; when the database cannot be asked, the
    /// pass goes on without it (as in [`Hosts::admit`]). The origin counts as used from now, so
    /// that its lease is not let go before its first check begins.
    pub async fn hold(&self, key: &str) -> Hold {
        let origin = self.origin(key);
        let mine = || {
            let st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
            (st.pass_held, st.leased)
        };
        if mine().0 {
            return Hold::Sibling;
        }
        if let Some(leases) = self.leases.as_ref() {
            let _turn = origin.lease.lock().await;
            if !mine().1 {
                match leases.take(key).await {
                    Ok(Lease::Granted {
                        last_request_at,
                        not_before,
                    }) => self.granted(&origin, last_request_at, not_before),
                    Ok(Lease::Held { .. }) => return Hold::Elsewhere,
                    Err(e) => warn!(origin = %key, error = %e, "origin lease not taken; going on without it"),
                }
            }
        }
        let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.pass_held {
            return Hold::Sibling;
        }
        st.pass_held = true;
        st.let_go = false;
        if st.users == 0 {
            st.idle_since = Some(Instant::now());
        }
        drop(st);
        Hold::Taken(OriginHold(origin))
    }

    /// This process now holds `origin`: it keeps the delay after the last holder's last request
    /// and honours a pause stored by any process.
    fn granted(
        &self,
        origin: &Origin,
        last_request_at: Option<OffsetDateTime>,
        not_before: Option<(OffsetDateTime, String)>,
    ) {
        let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
        st.leased = true;
        if let Some(last) = last_request_at {
            let ago = Duration::try_from(OffsetDateTime::now_utc() - last).unwrap_or(Duration::ZERO);
            if let Some(then) = Instant::now().checked_sub(ago) {
                st.last_start = Some(st.last_start.map_or(then, |t| t.max(then)));
                st.last_sent = Some(st.last_sent.map_or(then, |t| t.max(then)));
            }
        }
        let Some((until, why)) = not_before else { return };
        if st.not_before.as_ref().is_none_or(|(t, _)| *t < until) {
            st.not_before = Some((until, why));
            drop(st);
            origin.paused.notify_waiters();
        }
    }

    /// Lets go of the leases of origins that no check of this process has used for `idle`, so
    /// other processes can talk to them. Called as checks end (with a short `idle`, so that an
    /// origin whose checks come one after another keeps its lease between them: each taking and
    /// letting go is a write) and at the end of a pass (with none); costs nothing without leases.
    pub async fn release_idle(&self, idle: Duration) {
        let Some(leases) = &self.leases else { return };
        let unused: Vec<(String, Arc<Origin>)> = {
            let map = self.origins.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .filter(|(_, o)| {
                    let st = o.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.leased
                        && st.users == 0
                        && (st.let_go || st.idle_since.is_none_or(|t| t.elapsed() >= idle))
                })
                .map(|(k, o)| (k.clone(), o.clone()))
                .collect()
        };
        for (key, origin) in unused {
            let _turn = origin.lease.lock().await;
            let last = {
                let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
                if !st.leased
                    || st.users > 0
                    || (!st.let_go && st.idle_since.is_some_and(|t| t.elapsed() < idle))
                {
                    continue;
                }
                st.leased = false;
                st.let_go = false;
                st.last_start_wall
            };
            match leases.release(&key, last).await {
                Ok(()) => debug!(origin = %key, "origin let go"),
                Err(e) => warn!(origin = %key, error = %e, "origin lease not let go; it runs out by itself"),
            }
        }
    }

    /// GETs `url` through the gate, following redirects by hand: every hop is admitted by its
    /// own origin (robots.txt, slots, delay, pause), a redirect from a public address into an
    /// internal one is refused, and at most `max_redirects` are followed. `global` is the
    /// caller's limit on fetches at once: a slot is taken once a hop is admitted and, for the
    /// last hop, handed back with the answer; between hops it is let go, since waiting for an
    /// origin while holding one could starve the checks that hold that origin's slot.
    /// `stopped` resolves on shutdown, which ends any wait before a request.
    pub async fn fetch(
        &self,
        fetcher: &Fetcher,
        req: Request<'_>,
        global: &Arc<Semaphore>,
        stopped: impl Future<Output = ()>,
    ) -> Gated {
        let Request {
            validators,
            want,
            robots,
            ..
        } = req;
        tokio::pin!(stopped);
        let mut url = req.url.clone();
        // The kind of address the fetch began on, learnt at its first redirect.
        let mut start: Option<AddrClass> = None;
        let mut redirects = 0;
        loop {
            let origin = self.origin(&url.origin().ascii_serialization());
            let admission = tokio::select! {
                biased;
                () = &mut stopped => return Gated::Stopped,
                a = self.admit(fetcher, &url, robots) => a,
            };
            let host = match admission {
                Admission::Go(permit) => permit,
                Admission::Denied(why) => return Gated::Denied(why),
                Admission::Deferred { until, why } => return Gated::Deferred { until, why },
            };
            let slot = tokio::select! {
                biased;
                () = &mut stopped => return Gated::Stopped,
                s = self.until_paused(&origin, global.clone().acquire_owned()) => match s {
                    Ok(s) => s.expect("the pass's semaphore is never closed"),
                    Err(Paused { until, why }) => return Gated::Deferred { until, why },
                },
            };
            // The turn was booked before the pass's slot was had; a long wait for the slot
            // must not bring this request closer to the origin's previous one than the delay.
            tokio::select! {
                biased;
                () = &mut stopped => return Gated::Stopped,
                s = self.until_paused(&origin, self.send_turn(&origin)) => if let Err(Paused { until, why }) = s {
                    return Gated::Deferred { until, why };
                },
            }
            if stopped.as_mut().now_or_never().is_some() {
                return Gated::Stopped;
            }
            let started = std::time::Instant::now();
            let hop = fetcher.get(&url, validators, want, start).await;
            crate::metrics::fetch_latency(started.elapsed());
            drop(host);
            match hop {
                Ok(Hop::Done(fetched)) => return Gated::Fetched(fetched, slot),
                Ok(Hop::Redirect { to, via }) => {
                    drop(slot);
                    redirects += 1;
                    if redirects > fetcher.max_redirects() {
                        return Gated::Failed(FetchError::Redirects(fetcher.max_redirects()));
                    }
                    let from = match start {
                        Some(c) => c,
                        None => *start.insert(fetch::start_class(&url, via).await),
                    };
                    if let Err(e) = fetch::check_redirect(from, &to).await {
                        warn!(from = %url, to = %to, reason = %e, "redirect refused");
                        return Gated::Failed(e);
                    }
                    debug!(from = %url, to = %to, "following redirect");
                    url = to;
                }
                Err(e) => {
                    if let FetchError::Status {
                        status, retry_after, ..
                    } = &e
                    {
                        self.after_status(&url, *status, *retry_after);
                    }
                    return Gated::Failed(e);
                }
            }
        }
    }

    /// Runs `fut` unless the origin is paused, before or while it runs: then it is dropped (its
    /// wait abandoned) and the deferral returned. This is what keeps a Retry-After from turning
    /// into a sleep for every check queued behind the request that brought it.
    async fn until_paused<T>(&self, origin: &Origin, fut: impl Future<Output = T>) -> Result<T, Paused> {
        tokio::pin!(fut);
        loop {
            let paused = origin.paused.notified();
            tokio::pin!(paused);
            // Registered before looking, so a pause noted between the two still wakes us.
            paused.as_mut().enable();
            if let Some(p) = self.paused(origin) {
                return Err(p);
            }
            tokio::select! {
                biased;
                () = &mut paused => {}
                out = &mut fut => return Ok(out),
            }
        }
    }

    /// Notes a failed response: a 429 or 503 with Retry-After (and a 429 without one) pauses
    /// the whole origin, since every watch on it would get the same answer.
    pub fn after_status(&self, url: &Url, status: u16, retry_after: Option<Duration>) {
        let pause = match (status, retry_after) {
            (429 | 503, Some(d)) => d,
            (429, None) => DEFAULT_429_PAUSE,
            _ => return,
        };
        let key = url.origin().ascii_serialization();
        let origin = self.origin(&key);
        let until = OffsetDateTime::now_utc() + pause;
        let reason = format!("HTTP {status}: the server asked for a pause");
        warn!(origin = %key, pause = %humantime::format_duration(pause), "host asked to slow down");
        {
            let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
            st.not_before = Some((until, reason.clone()));
        }
        self.push(HostUpdate::NotBefore {
            origin: key,
            until: timefmt::format(until),
            reason,
        });
        // After the state is set, so that every waiter woken sees the pause.
        origin.paused.notify_waiters();
    }

    /// Facts changed since the last call, for the database.
    pub fn take_updates(&self) -> Vec<HostUpdate> {
        std::mem::take(&mut *self.updates.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn push(&self, u: HostUpdate) {
        self.updates.lock().unwrap_or_else(|p| p.into_inner()).push(u);
    }

    fn deferred(&self, origin: &Origin) -> Option<Admission> {
        self.paused(origin).map(Admission::from)
    }

    fn paused(&self, origin: &Origin) -> Option<Paused> {
        let st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
        let (until, why) = st.not_before.as_ref()?;
        (*until > OffsetDateTime::now_utc()).then(|| Paused {
            until: Timestamp::from_datetime(*until),
            why: format!("{why}; no request before {}", timefmt::format(*until)),
        })
    }

    /// Sleeps until this origin's next request may start, and books that moment. The delay is
    /// read now rather than when the previous request was booked, so a `Crawl-delay` learnt from
    /// robots.txt in between already counts. A pause is not waited for here: callers run this
    /// under [`Hosts::until_paused`].
    async fn wait_turn(&self, origin: &Origin) {
        let start = {
            let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let spaced = st.last_start.map_or(now, |t| t + self.delay_for(&st));
            let start = spaced.max(now);
            st.last_start = Some(start);
            st.last_start_wall = Some(OffsetDateTime::now_utc() + (start - now));
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// Right before a request goes out, with every slot it needs: waits until the delay has
    /// passed since the origin's previous request actually went out, and records this one's
    /// start as the origin's last (for the next booking, and for the next process to hold the
    /// origin). Its booked turn ([`Hosts::wait_turn`]) may have come and gone while the check
    /// waited for one of the pass's slots; the next booking then counted from the booked moment,
    /// and two requests went out less than the delay apart (found by the nodes benchmark:
    /// starts 0.43 s apart under a 1 s delay). Usually nothing is waited for here.
    async fn send_turn(&self, origin: &Origin) {
        let start = {
            let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = st.last_sent.map_or(now, |t| (t + self.delay_for(&st)).max(now));
            st.last_sent = Some(start);
            if st.last_start.is_none_or(|booked| booked < start) {
                st.last_start = Some(start);
                st.last_start_wall = Some(OffsetDateTime::now_utc() + (start - now));
            }
            start
        };
        tokio::time::sleep_until(start).await;
    }

    fn delay_for(&self, st: &OriginState) -> Duration {
        let crawl_delay = match st.robots.as_ref().map(|r| &r.rules) {
            Some(RobotsRules::Parsed(r)) => r
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| Duration::from_secs_f32(d).min(MAX_CRAWL_DELAY)),
            _ => None,
        };
        crawl_delay.map_or(self.settings.delay, |d| d.max(self.settings.delay))
    }

    /// `Ok` if robots.txt lets govwatch fetch `url`; otherwise why not.
    async fn robots_allow(
        &self,
        fetcher: &Fetcher,
        key: &str,
        origin: &Origin,
        url: &Url,
    ) -> Result<(), String> {
        let _one_fetch = origin.robots_lock.lock().await;
        if self.robots_stale(origin) {
            self.wait_turn(origin).await;
            self.fetch_robots(fetcher, key, origin, url).await;
        }
        let st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
        match st.robots.as_ref().map(|r| &r.rules) {
            None | Some(RobotsRules::AllowAll) => Ok(()),
            Some(RobotsRules::Parsed(r)) if r.allowed(url.as_str()) => Ok(()),
            Some(RobotsRules::Parsed(_)) => Err(format!("disallowed by {key}/robots.txt")),
            // The cause first: when the whole site is down, that is the news, not robots.txt.
            Some(RobotsRules::Unreachable(why)) => Err(format!(
                "{why} (fetching {key}/robots.txt; the site is treated as closed until it can be read)"
            )),
        }
    }

    fn robots_stale(&self, origin: &Origin) -> bool {
        let st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(r) = &st.robots else { return true };
        let ttl = match r.rules {
            RobotsRules::Unreachable(_) => ROBOTS_RETRY.min(self.settings.robots_ttl),
            _ => self.settings.robots_ttl,
        };
        OffsetDateTime::now_utc() - r.fetched_at >= ttl
    }

    async fn fetch_robots(&self, fetcher: &Fetcher, key: &str, origin: &Origin, url: &Url) {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let mut row = HostRow {
            origin: key.to_string(),
            robots_fetched_at: Some(timefmt::now()),
            ..HostRow::default()
        };
        match fetcher.get_robots(&robots_url, ROBOTS_CAP).await {
            Ok(file) => {
                row.robots_status = Some(file.status);
                if (200..300).contains(&file.status) {
                    row.robots = Some(String::from_utf8_lossy(&file.body).into_owned());
                }
                // A slow-down asked on robots.txt is asked of the whole origin.
                self.after_status(&robots_url, file.status, file.retry_after);
            }
            Err(e) => row.robots_error = Some(e.to_string()),
        }
        let rules = self.rules_from(row.robots_status, row.robots.as_deref(), row.robots_error.clone());
        match &rules {
            RobotsRules::Unreachable(why) => warn!(origin = %key, reason = %why, "robots.txt unreachable"),
            _ => debug!(origin = %key, status = ?row.robots_status, "robots.txt fetched"),
        }
        let mut st = origin.state.lock().unwrap_or_else(|p| p.into_inner());
        // A stale copy beats no copy when the server fails to answer now.
        let keep_stale = matches!(rules, RobotsRules::Unreachable(_))
            && matches!(st.robots.as_ref().map(|r| &r.rules), Some(RobotsRules::Parsed(_)));
        if keep_stale {
            info!(origin = %key, "robots.txt unreachable; keeping the copy fetched before");
            if let Some(r) = st.robots.as_mut() {
                r.fetched_at = OffsetDateTime::now_utc() - self.settings.robots_ttl + ROBOTS_RETRY;
            }
            return;
        }
        st.robots = Some(Robots {
            rules,
            fetched_at: OffsetDateTime::now_utc(),
        });
        drop(st);
        self.push(HostUpdate::Robots(row));
    }

    fn rules_from(&self, status: Option<u16>, body: Option<&str>, error: Option<String>) -> RobotsRules {
        match status {
            None => RobotsRules::Unreachable(error.unwrap_or_else(|| "no answer".into())),
            Some(s) if (200..300).contains(&s) => {
                match texting_robots::Robot::new(&self.agent, body.unwrap_or("").as_bytes()) {
                    Ok(r) => RobotsRules::Parsed(Box::new(r)),
                    // Unparseable rules are no rules (RFC 9309 parsers skip what they cannot read).
                    Err(_) => RobotsRules::AllowAll,
                }
            }
            // 429 is "slow down", not "no robots.txt": treat it like a server error.
            Some(429) => RobotsRules::Unreachable("robots.txt answered HTTP 429".into()),
            Some(s) if (400..500).contains(&s) => RobotsRules::AllowAll,
            Some(s) => RobotsRules::Unreachable(format!("robots.txt answered HTTP {s}")),
        }
    }
}

/// The product token robots.txt groups are matched against: the User-Agent's first word without
/// its version ("govwatch/0.1 (+…)" → "govwatch").
fn robots_agent(user_agent: &str) -> String {
    let first = user_agent.split_whitespace().next().unwrap_or("govwatch");
    let token = first.split('/').next().unwrap_or(first);
    if token.is_empty() {
        "govwatch".into()
    } else {
        token.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_token_from_user_agent() {
        assert_eq!(robots_agent("govwatch/0.1 (+https://x; mailto:a@b)"), "govwatch");
        assert_eq!(robots_agent("MyMonitor"), "MyMonitor");
        assert_eq!(robots_agent(""), "govwatch");
    }

    fn hosts(delay: Duration) -> Hosts {
        let cfg = crate::config::Config::parse("", std::path::Path::new("t.toml"))
            .unwrap()
            .fetch;
        let mut cfg = cfg;
        cfg.per_host_delay = delay;
        Hosts::new(&cfg, Vec::new())
    }

    #[test]
    fn robots_rules_for_our_agent_and_status_codes() {
        let h = hosts(Duration::ZERO);
        let txt = "User-agent: *\nDisallow: /private/\n\nUser-agent: govwatch\nDisallow: /drafts/\nCrawl-delay: 5\n";
        let RobotsRules::Parsed(r) = h.rules_from(Some(200), Some(txt), None) else {
            panic!("parsed")
        };
        assert!(!r.allowed("https://x.org/drafts/a.html"));
        // Our own group replaces the `*` group.
        assert!(r.allowed("https://x.org/private/a.html"));
        assert_eq!(r.delay, Some(5.0));
        assert!(matches!(
            h.rules_from(Some(404), None, None),
            RobotsRules::AllowAll
        ));
        assert!(matches!(
            h.rules_from(Some(503), None, None),
            RobotsRules::Unreachable(_)
        ));
        assert!(matches!(
            h.rules_from(Some(429), None, None),
            RobotsRules::Unreachable(_)
        ));
        assert!(matches!(
            h.rules_from(None, None, Some("cannot connect".into())),
            RobotsRules::Unreachable(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_origin_are_spaced_and_others_are_not() {
        let h = hosts(Duration::from_secs(2));
        let a = h.origin("http://a");
        let b = h.origin("http://b");
        let t0 = Instant::now();
        h.wait_turn(&a).await;
        h.wait_turn(&b).await;
        assert_eq!(Instant::now() - t0, Duration::ZERO);
        h.wait_turn(&a).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(2));
        h.wait_turn(&a).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(4));
    }

    /// A request whose check waited for a pass slot after its turn goes out late; the next
    /// one to the origin is spaced from when it went out, not from its booked turn, and one
    /// booked before it went out waits again before going.
    #[tokio::test(start_paused = true)]
    async fn a_request_sent_late_pushes_the_next_one_back() {
        let h = hosts(Duration::from_secs(1));
        let a = h.origin("http://a");
        let t0 = Instant::now();
        h.wait_turn(&a).await;
        h.send_turn(&a).await;
        // The next check books its turn at t0 + 1 s, then waits 0.6 s for a pass slot.
        h.wait_turn(&a).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(600)).await;
        h.send_turn(&a).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(1600));
        // Booked after it went out: a full delay after the late start.
        h.wait_turn(&a).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(2600));
        h.send_turn(&a).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(2600));
        // Two booked at once (two slots per origin), the first sent late: the second, though
        // booked for earlier, still waits a full delay after the first went out.
        let first = h.wait_turn(&a);
        first.await;
        let booked_second = Instant::now() + Duration::from_secs(1);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        h.send_turn(&a).await;
        let sent_first = Instant::now();
        assert!(sent_first > booked_second);
        h.send_turn(&a).await;
        assert_eq!(Instant::now() - sent_first, Duration::from_secs(1));
    }

    /// Issue 12: a check waiting for a paused origin's slot, or for its turn, used to sleep
    /// until the pause ended; it must give up as soon as the pause is learnt.
    #[tokio::test(start_paused = true)]
    async fn a_pause_ends_every_wait_on_the_origin_at_once() {
        let mut cfg = crate::config::Config::parse("", std::path::Path::new("t.toml"))
            .unwrap()
            .fetch;
        cfg.per_host_concurrency = 2;
        cfg.per_host_delay = Duration::from_secs(3600);
        let h = Arc::new(Hosts::new(&cfg, Vec::new()));
        let fetcher = Fetcher::new(&cfg).unwrap();
        let url = Url::parse("http://a.example/x").unwrap();
        let Admission::Go(_first) = h.admit(&fetcher, &url, false).await else {
            panic!("the first request goes ahead")
        };
        let t0 = Instant::now();
        // The second has a slot and waits for its turn an hour away; the third waits for a slot.
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let (h, fetcher, url) = (h.clone(), fetcher.clone(), url.clone());
                tokio::spawn(async move { h.admit(&fetcher, &url, false).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        h.after_status(&url, 429, Some(Duration::from_secs(600)));
        for w in waiting {
            assert!(matches!(w.await.unwrap(), Admission::Deferred { .. }));
        }
        assert!(Instant::now() - t0 < Duration::from_secs(2));
        // Another origin is not held up by it.
        let b = Url::parse("http://b.example/x").unwrap();
        assert!(matches!(h.admit(&fetcher, &b, false).await, Admission::Go(_)));
    }

    #[test]
    fn retry_after_defers_the_origin_and_is_reported_for_storage() {
        let h = hosts(Duration::ZERO);
        let url = Url::parse("http://a.example/x").unwrap();
        h.after_status(&url, 503, None);
        assert!(
            h.deferred(&h.origin("http://a.example")).is_none(),
            "503 without Retry-After"
        );
        h.after_status(&url, 429, Some(Duration::from_secs(120)));
        let Some(Admission::Deferred { why, .. }) = h.deferred(&h.origin("http://a.example")) else {
            panic!("deferred")
        };
        assert!(why.contains("HTTP 429"), "{why}");
        let updates = h.take_updates();
        assert!(
            matches!(&updates[..], [HostUpdate::NotBefore { origin, .. }] if origin == "http://a.example")
        );
        // Stored facts come back in a new process.
        let row = HostRow {
            origin: "http://a.example".into(),
            not_before: Some(timefmt::after(Duration::from_secs(60))),
            not_before_reason: Some("HTTP 429".into()),
            ..HostRow::default()
        };
        let cfg = crate::config::Config::parse("", std::path::Path::new("t.toml"))
            .unwrap()
            .fetch;
        let h2 = Hosts::new(&cfg, vec![row]);
        assert!(h2.deferred(&h2.origin("http://a.example")).is_some());
    }
}
