//! The store as the async side uses it: one connection behind a handle that owns when and how
//! work reaches it. Callers wait their turn asynchronously, work runs on a blocking thread, and
//! the writes of checks are grouped into one commit while others wait (see
//! [`StoreHandle::grouped`]). Everybody (checks, the sender, the daemon's loop and reload, the
//! command line) goes through it, so nobody else decides when the store commits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::{Store, StoreError};

/// A cheap, clonable handle on the one store of a process.
#[derive(Clone)]
pub struct StoreHandle(Arc<Inner>);

struct Inner {
    store: Mutex<Store>,
    /// Callers waiting for the store wait here, asynchronously, rather than each on its own
    /// blocking thread parked on the mutex: a pass over thousands of pages would otherwise start
    /// hundreds of threads (each with its own allocator arena) to wait in line for one
    /// connection.
    turn: Semaphore,
    /// How many callers wait for [`Inner::turn`]: a group of checks is committed once none does.
    waiting: AtomicUsize,
}

impl StoreHandle {
    pub fn new(store: Store) -> StoreHandle {
        StoreHandle(Arc::new(Inner {
            store: Mutex::new(store),
            turn: Semaphore::new(1),
            waiting: AtomicUsize::new(0),
        }))
    }

    /// Runs `f` on a blocking thread with the store: SQLite calls must not stall the async
    /// workers. Checks written before, in a group, are committed first.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.turn(false, f).await
    }

    /// [`StoreHandle::run`] for the steps of a check: they join the open group commit (or open
    /// one), which is committed once nobody else is waiting for the store, or when it is full.
    /// An idle daemon thus still commits every check at once, and a busy pass commits many
    /// together.
    pub async fn grouped<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.turn(true, f).await
    }

    async fn turn<T, F>(&self, grouped: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        /// Counts a waiter until its turn comes, or it stops waiting (a cancelled check).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.0.waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(&self.0.waiting);
        let _turn = self.0.turn.acquire().await.expect("never closed");
        drop(waiting);
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A panic elsewhere cannot leave the connection mid-transaction: rusqlite rolls back
            // on drop. So a poisoned lock is still a usable store.
            let mut guard = inner.store.lock().unwrap_or_else(|p| p.into_inner());
            if grouped {
                guard.begin_batch()?;
            } else {
                guard.end_batch()?;
            }
            let out = f(&mut guard);
            if grouped && (inner.waiting.load(Ordering::SeqCst) == 0 || guard.batch_full()) {
                guard.end_batch()?;
            }
            out
        })
        .await
        .expect("store task panicked")
    }
}
