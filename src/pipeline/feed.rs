//! Which check a pass starts next, and the claims behind it: a pass's work shared out between
//! the govwatch processes on one database, an origin at a time.
//!
//! Claiming everything due at the start of a pass made the first node to start take the whole
//! pass, and when two started together their claims interleaved, so that every origin had
//! documents on both and its lease went back and forth between them (each waiting for the other
//! to be idle, then deferring). Here a pass takes an origin (its lease, [`Hosts::hold`]) before
//! it claims any of its documents, claims them a share at a time as it goes, and holds at most
//! its share of the due origins: their number over the processes in a pass now (the `passes`
//! table). A node started alone takes every origin it can keep busy, as before; when a second
//! one starts, the first lets go of origins as their shares run out until it holds half, and
//! the second takes them. An origin is talked to by one process at a time, so politeness holds
//! without waiting; a process never claims a document of an origin another one holds. Two
//! passes of one process (the daemon starts one every tick) do not share an origin either: the
//! later leaves it to the earlier, and what comes due meanwhile to a pass after it.
//!
//! How many origins a pass keeps busy at once is the caller's window; of an origin's checks, at
//! most `per_host_concurrency` and one more run at once: the one more waits its turn at the
//! origin's gate, so that the pass keeps its place in the gate's queue beside the other passes
//! of the process (the daemon starts one every tick), and more would only wait there too and
//! take the places of other origins' checks in the window.
//!
//! [`Hosts::hold`]: crate::polite::Hosts::hold

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;
use url::Url;

use crate::check::Context;
use crate::config::{self, Watch};
use crate::polite::{Hold, OriginHold};
use crate::store::{DocumentRow, Sharing, StoreError};

/// A document to check and the watch it is checked for.
pub(super) type Item = (DocumentRow, Watch);

/// How the work is shared (processes in a pass, origins held elsewhere) is read again at most
/// this often: it changes when a node starts or ends a pass, and reading it is a query.
const SHARING_EVERY: Duration = Duration::from_millis(500);
/// A pass with nothing left but origins another process holds asks again after this long.
pub(super) const WAIT_ELSEWHERE: Duration = Duration::from_millis(500);
/// A share of an origin lasts about this long at its `per_host_delay`: long enough that claims
/// are a small part of the work, short enough that a node started later gets its part soon.
const SHARE_TIME: Duration = Duration::from_secs(5);

/// One origin's work in this pass.
struct Share {
    key: String,
    /// Claimed by this process, not started.
    ready: VecDeque<Item>,
    /// Due, not claimed yet.
    rest: VecDeque<Item>,
    /// Checks of it running now.
    running: usize,
    /// The origin, taken for this pass while it is held.
    hold: Option<OriginHold>,
}

impl Share {
    fn new(key: String) -> Share {
        Share {
            key,
            ready: VecDeque::new(),
            rest: VecDeque::new(),
            running: 0,
            hold: None,
        }
    }

    fn done(&self) -> bool {
        self.ready.is_empty() && self.rest.is_empty() && self.running == 0
    }
}

/// The checks of a pass, by origin (see the module's doc).
pub(super) struct Feed {
    /// Origins this process holds, taken in turn.
    held: Vec<Share>,
    turn: usize,
    /// Origins with due documents not taken yet.
    untaken: VecDeque<Share>,
    /// Origins another process held when this one tried: taken when they are let go.
    elsewhere: VecDeque<Share>,
    per_origin: usize,
    /// Documents claimed at a time.
    chunk: usize,
    /// How many origins had due work at the start, shared out over the processes in a pass.
    origins: usize,
    /// Whether the work still has to be claimed (pages), or came claimed (listings).
    claiming: bool,
    sharing: Option<(Instant, Sharing)>,
    /// Every document claimed for this pass, for letting go of what was not checked.
    pub claimed: Vec<i64>,
}

impl Feed {
    /// Work claimed already: started as it is, round-robin over its origins.
    pub fn claimed(items: Vec<Item>, fetch: &config::Fetch) -> Feed {
        let mut feed = Feed::empty(fetch, false);
        feed.add_claimed(items);
        feed.origins = feed.held.len();
        // The caller counted these claims already.
        feed.claimed.clear();
        feed
    }

    /// Due work not claimed yet: claimed an origin's share at a time as the pass goes.
    pub fn unclaimed(items: Vec<Item>, fetch: &config::Fetch) -> Feed {
        let mut feed = Feed::empty(fetch, true);
        // By origin through an index: a node may watch pages on thousands of hosts.
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for item in items {
            let key = origin_of(&item.0);
            let i = *index.entry(key.clone()).or_insert_with(|| {
                feed.untaken.push_back(Share::new(key));
                feed.untaken.len() - 1
            });
            feed.untaken[i].rest.push_back(item);
        }
        feed.origins = feed.untaken.len();
        // Nodes that start together start at different origins rather than all racing for the
        // first one.
        if !feed.untaken.is_empty() {
            let n = fastrand::usize(..feed.untaken.len());
            feed.untaken.rotate_left(n);
        }
        feed
    }

    fn empty(fetch: &config::Fetch, claiming: bool) -> Feed {
        let per_origin = fetch.per_host_concurrency.max(1) + 1;
        let by_time = match fetch.per_host_delay.as_millis() {
            0 => usize::MAX,
            ms => (SHARE_TIME.as_millis() / ms).max(1) as usize,
        };
        Feed {
            held: Vec::new(),
            turn: 0,
            untaken: VecDeque::new(),
            elsewhere: VecDeque::new(),
            per_origin,
            chunk: (per_origin * 4).max(by_time.min(256)).clamp(4, 256),
            origins: 0,
            claiming,
            sharing: None,
            claimed: Vec::new(),
        }
    }

    /// How many origins the pass has work on.
    pub fn origins(&self) -> usize {
        self.origins
    }

    /// How many checks of one origin run at once at most.
    pub fn per_origin(&self) -> usize {
        self.per_origin
    }

    /// Adds documents claimed already (found by a listing): started before unclaimed work of
    /// their origin, which is now this process's.
    pub fn add_claimed(&mut self, items: Vec<Item>) {
        for item in items {
            self.claimed.push(item.0.id);
            let key = origin_of(&item.0);
            let i = match self.held.iter().position(|s| s.key == key) {
                Some(i) => i,
                None => {
                    let share = take_by_key(&mut self.untaken, &key)
                        .or_else(|| take_by_key(&mut self.elsewhere, &key))
                        .unwrap_or_else(|| Share::new(key));
                    self.held.push(share);
                    self.held.len() - 1
                }
            };
            self.held[i].ready.push_back(item);
        }
    }

    /// Whether work is left that only another process's letting go of an origin will free.
    pub fn waiting_elsewhere(&self) -> bool {
        !self.elsewhere.is_empty()
    }

    /// A check of `key`'s origin has ended.
    pub fn finished(&mut self, key: &str) {
        if let Some(i) = self.held.iter().position(|s| s.key == key) {
            let s = &mut self.held[i];
            s.running = s.running.saturating_sub(1);
            if s.done() {
                self.held.remove(i);
                if self.turn > i {
                    self.turn -= 1;
                }
            }
        } else if let Some(s) = self
            .untaken
            .iter_mut()
            .chain(self.elsewhere.iter_mut())
            .find(|s| s.key == key)
        {
            s.running = s.running.saturating_sub(1);
        }
    }

    /// The next check to start, with its origin; `None` when none may start now (the pass
    /// stopping, every held origin busy, the share of origins reached, or nothing left).
    pub async fn next(&mut self, ctx: &Context) -> Result<Option<(String, Item)>, StoreError> {
        loop {
            if ctx.stop.is_stopped() {
                return Ok(None);
            }
            if let Some(next) = self.pop_ready() {
                return Ok(Some(next));
            }
            if !self.claiming {
                return Ok(None);
            }
            // A held origin whose claimed documents have all started: its next share, unless
            // this process holds more than its share of origins (a node has started since),
            // then it is let go of, for another process to take.
            let per_origin = self.per_origin;
            if let Some(i) = self
                .held
                .iter()
                .position(|s| s.ready.is_empty() && !s.rest.is_empty() && s.running < per_origin)
            {
                if self.held.len() > self.share(ctx).await? {
                    let mut share = self.held.remove(i);
                    share.hold = None;
                    if self.turn > i {
                        self.turn -= 1;
                    }
                    debug!(origin = %share.key, left = share.rest.len(), "origin left to other processes");
                    self.elsewhere.push_back(share);
                } else {
                    self.claim_share(ctx, i).await?;
                }
                continue;
            }
            if self.held.len() >= self.share(ctx).await? {
                return Ok(None);
            }
            if self.untaken.is_empty() {
                self.recall_elsewhere();
            }
            let Some(mut share) = self.untaken.pop_front() else {
                return Ok(None);
            };
            let held_elsewhere = self
                .sharing
                .as_ref()
                .is_some_and(|(_, s)| s.held_elsewhere.contains(&share.key));
            if held_elsewhere {
                self.elsewhere.push_back(share);
                continue;
            }
            match ctx.hosts.hold(&share.key).await {
                Hold::Taken(hold) => share.hold = Some(hold),
                Hold::Elsewhere => {
                    self.elsewhere.push_back(share);
                    continue;
                }
                Hold::Sibling => {
                    debug!(origin = %share.key, left = share.rest.len(), "origin left to the pass that has it");
                    continue;
                }
            }
            self.held.push(share);
            self.claim_share(ctx, self.held.len() - 1).await?;
        }
    }

    /// How the work is shared now, read again when older than [`SHARING_EVERY`].
    async fn refresh(&mut self, ctx: &Context) -> Result<(), StoreError> {
        if self
            .sharing
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < SHARING_EVERY)
        {
            return Ok(());
        }
        let now = ctx.clock.now();
        let sharing = ctx.store.run(move |s| s.sharing(now)).await?;
        self.sharing = Some((Instant::now(), sharing));
        Ok(())
    }

    /// How many origins this process may hold: its part of those due.
    async fn share(&mut self, ctx: &Context) -> Result<usize, StoreError> {
        self.refresh(ctx).await?;
        let sharing = self.sharing.as_ref().map(|(_, s)| s);
        Ok(sharing.map_or(self.origins, |s| s.share(self.origins)).max(1))
    }

    /// Origins waiting elsewhere that nobody else holds now go back to be taken.
    fn recall_elsewhere(&mut self) {
        let held = self.sharing.as_ref().map(|(_, s)| &s.held_elsewhere);
        let (free, still): (VecDeque<Share>, VecDeque<Share>) = std::mem::take(&mut self.elsewhere)
            .into_iter()
            .partition(|s| held.is_none_or(|h| !h.contains(&s.key)));
        self.elsewhere = still;
        self.untaken.extend(free);
    }

    /// The next of `held[i]`'s round-robin turn with a check ready and room to start it.
    fn pop_ready(&mut self) -> Option<(String, Item)> {
        let n = self.held.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            let s = &mut self.held[i];
            if s.running < self.per_origin
                && let Some(item) = s.ready.pop_front()
            {
                s.running += 1;
                self.turn = i + 1;
                return Some((s.key.clone(), item));
            }
        }
        None
    }

    /// Claims the next share of `held[i]`'s due documents. Those passed over are another
    /// process's (claimed, or checked since this pass read them) and are dropped from this
    /// pass; an origin with nothing left is let go.
    async fn claim_share(&mut self, ctx: &Context, i: usize) -> Result<(), StoreError> {
        let share = &mut self.held[i];
        // Candidates a few shares' worth at a time: an origin of thousands of documents is not
        // sent whole with every claim.
        let n = share.rest.len().min(self.chunk * 4);
        let candidates: Vec<Item> = share.rest.drain(..n).collect();
        let pairs: Vec<(i64, Option<crate::model::Timestamp>)> = candidates
            .iter()
            .map(|(d, _)| (d.id, d.last_checked_at))
            .collect();
        let (limit, now) = (self.chunk, ctx.clock.now());
        let got = ctx.store.run(move |s| s.claim_some(&pairs, limit, now)).await?;
        let got: std::collections::HashSet<i64> = got.into_iter().collect();
        // Every candidate up to the last one claimed was looked at; after it, only if fewer
        // than the limit were claimed.
        let looked = if got.len() < limit {
            candidates.len()
        } else {
            candidates
                .iter()
                .rposition(|(d, _)| got.contains(&d.id))
                .map_or(0, |p| p + 1)
        };
        let mut candidates = candidates.into_iter();
        for item in candidates.by_ref().take(looked) {
            if got.contains(&item.0.id) {
                self.claimed.push(item.0.id);
                share.ready.push_back(item);
            }
        }
        for item in candidates.rev() {
            share.rest.push_front(item);
        }
        if got.len() < looked {
            debug!(origin = %share.key, documents = looked - got.len(), "left to the process that is checking them");
        }
        if share.done() {
            self.held.remove(i);
            if self.turn > i {
                self.turn -= 1;
            }
        }
        Ok(())
    }
}

fn take_by_key(shares: &mut VecDeque<Share>, key: &str) -> Option<Share> {
    let i = shares.iter().position(|s| s.key == key)?;
    shares.remove(i)
}

/// A document's origin, as the politeness gate keys it.
pub(super) fn origin_of(doc: &DocumentRow) -> String {
    Url::parse(&doc.url).map_or_else(|_| String::new(), |u| u.origin().ascii_serialization())
}
