//! [`Store`]: the one database of a process, a SQLite file or a PostgreSQL server, behind one
//! method set, so that [`super::StoreHandle`], the pipeline, the daemon, the command line and the
//! pages never ask which.
//!
//! Every method is a `match` handing the call to [`SqliteStore`] or [`PgStore`], which have the
//! same methods with the same arguments and results, each with its own SQL (src/store/pg says
//! why). The list below is written with [`delegate!`]; every method runs on either backend. A
//! store never falls back to a SQLite file: a node configured on a server that quietly wrote
//! to a local file would split the desk's history in two.
//!
//! SQLite's signatures are kept (`&mut self` where it writes); [`PgStore`]'s methods take
//! `&self` and are called through the same `&mut`. The SQLite path costs one `match` more than
//! before and nothing else: no allocation, no boxing, no dynamic dispatch. A PostgreSQL call
//! is made where the blocking client may block (see [`super::pg`]'s `blocking`: callers on the
//! async workers are common, as commands call the store from their async `main`), on a
//! connection opened again if the server closed it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use time::OffsetDateTime;

use super::nodes::{NodeRow, NodeWatches};
use super::pg::blocking;
use super::{
    Batch, Candidate, CheckRecord, CorpusImport, DeliveryRow, DocRole, DocumentRow, Due, EventDelivery,
    EventFilter, EventKind, EventRow, FailureRecord, Found, HostRow, ImportOutcome, Lease, NewCorpusEntry,
    NodeLeases, OutboxCounts, PgStore, Phrase, Result, RetryRefusal, SearchFilter, SearchHit, SearchResults,
    Sharing, SnapshotMeta, SqliteStore, StoredBody, Target, TitledDocument, WatchCounts, WebDocument,
    WebEvent, WebVersion,
};
use crate::compare::corpus::Source;
use crate::config::{PostgresUrl, Storage};
use crate::model::{KindSet, Timestamp};
use crate::similarity::Signature;

/// The database of a process. Two exist at most per process (the writer, and `store copy`'s
/// target), and the pages pool a few readers, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens (creating if needed) and migrates the SQLite database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        SqliteStore::open(path).map(Store::Sqlite)
    }

    /// Connects to the PostgreSQL database `url` names and brings its schema up to date.
    pub fn open_postgres(url: &PostgresUrl) -> Result<Store> {
        blocking(|| PgStore::open(url)).map(Store::Postgres)
    }

    /// The database `[storage]` names: the server when `url` is set (and then never the file),
    /// else the SQLite file.
    pub fn open_storage(storage: &Storage) -> Result<Store> {
        match &storage.postgres {
            Some(url) => Store::open_postgres(url),
            None => Store::open(&storage.path),
        }
    }

    /// A store for reading only, for the pages: a read-only connection on the SQLite file (which
    /// the writer opened and migrated), or another connection to the server.
    pub fn open_reader(storage: &Storage) -> Result<Store> {
        match &storage.postgres {
            Some(url) => Store::open_postgres(url),
            None => Store::open_read_only(&storage.path),
        }
    }

    /// A read-only connection on the SQLite database at `path`.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        SqliteStore::open_read_only(path).map(Store::Sqlite)
    }

    /// The database, as messages name it: the file's path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(p) => p.url().to_string(),
        }
    }

    /// Whether the database is a PostgreSQL server.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// This process's name on its claims.
    pub fn holder(&self) -> &str {
        match self {
            Store::Sqlite(s) => s.holder(),
            Store::Postgres(p) => p.holder(),
        }
    }

    /// The same store, claiming under another name: [`super::holder_for`] the config's node, or
    /// a name of a test's choosing.
    pub fn with_holder(self, holder: String) -> Store {
        match self {
            Store::Sqlite(s) => Store::Sqlite(s.with_holder(holder)),
            Store::Postgres(p) => Store::Postgres(p.with_holder(holder)),
        }
    }

    // Group commits exist for SQLite alone. Its one local writer pays for each commit with a
    // WAL write of every index page the check touched, so checks written while others wait
    // share one commit. On PostgreSQL each check commits its own transaction: the server is
    // shared by several nodes, and a transaction held open across checks would keep their row
    // locks (claims, leases) from the other nodes and lose every check in it to one failure;
    // a commit there costs a round trip, not a rewrite of shared pages. So the three are no-ops
    // there, explicitly.

    /// Starts a group commit (SQLite; see [`SqliteStore::begin_batch`]). Nothing on PostgreSQL.
    #[inline]
    pub fn begin_batch(&mut self) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.begin_batch(),
            Store::Postgres(_) => Ok(()),
        }
    }

    /// Commits the open group, if any (SQLite). Nothing on PostgreSQL, where none is open.
    #[inline]
    pub fn end_batch(&mut self) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.end_batch(),
            Store::Postgres(_) => Ok(()),
        }
    }

    /// Whether the open group should be committed now (SQLite); never on PostgreSQL.
    #[inline]
    pub fn batch_full(&self) -> bool {
        match self {
            Store::Sqlite(s) => s.batch_full(),
            Store::Postgres(_) => false,
        }
    }
}

/// `both fn name(&self, a: A) -> R;` becomes a method of [`Store`] calling `name` on either
/// backend. (`both` is kept in the list's lines: a method one backend lacks would be marked
/// otherwise, and the list reads as a checklist of what runs where.)
macro_rules! delegate {
    ($( $(#[$attr:meta])* $on:ident fn $name:ident ( $($params:tt)* ) -> $ret:ty ; )*) => {
        impl Store {
            $( delegate!(@one [$(#[$attr])*] $on $name ($($params)*) $ret); )*
        }
    };
    // `self` comes from the list, so that the body's `self` is the parameter's (hygiene).
    (@one [$($attr:tt)*] $on:ident $name:ident (&mut $s:ident $(, $arg:ident : $ty:ty)* $(,)?) $ret:ty) => {
        $($attr)*
        #[inline]
        pub fn $name(&mut $s $(, $arg: $ty)*) -> $ret {
            match $s {
                Store::Sqlite(s) => s.$name($($arg),*),
                Store::Postgres(p) => delegate!(@pg $on p $name $($arg)*),
            }
        }
    };
    (@one [$($attr:tt)*] $on:ident $name:ident (&$s:ident $(, $arg:ident : $ty:ty)* $(,)?) $ret:ty) => {
        $($attr)*
        #[inline]
        pub fn $name(&$s $(, $arg: $ty)*) -> $ret {
            match $s {
                Store::Sqlite(s) => s.$name($($arg),*),
                Store::Postgres(p) => delegate!(@pg $on p $name $($arg)*),
            }
        }
    };
    // Off the async workers (see [`blocking`]), on a live connection.
    (@pg both $p:ident $name:ident $($arg:ident)*) => {
        blocking(|| {
            $p.reconnect_if_closed()?;
            $p.$name($($arg),*)
        })
    };
}

delegate! {
    // ---- documents (src/store/documents.rs; a check's writes in src/store/mod.rs)
    both fn ensure_watch_document(&mut self, watch: &str, url: &str, role: DocRole, now: Timestamp) -> Result<DocumentRow>;
    both fn ensure_watch_documents(&mut self, watches: &[(&str, &str, DocRole)], now: Timestamp) -> Result<()>;
    both fn insert_discovered(&mut self, url: &str, watch: &str, announce: bool, now: Timestamp) -> Result<Option<DocumentRow>>;
    both fn upsert_listed(&mut self, url: &str, watch: &str, role: DocRole, announce: bool, lastmod: Option<&str>, now: Timestamp) -> Result<Option<DocumentRow>>;
    both fn defer(&mut self, id: i64, until: Timestamp, reason: &str) -> Result<()>;
    both fn all_documents(&self) -> Result<Vec<DocumentRow>>;
    both fn document_by_url(&self, url: &str) -> Result<Option<DocumentRow>>;
    both fn documents_of(&self, watches: &[&str]) -> Result<Vec<DocumentRow>>;
    both fn commit_check(&mut self, rec: CheckRecord, now: Timestamp) -> Result<Option<i64>>;
    both fn commit_failure(&mut self, rec: FailureRecord, now: Timestamp) -> Result<()>;
    both fn note_listing(&mut self, listing: i64, urls: &[&str], now: Timestamp) -> Result<usize>;
    both fn document_titles(&self) -> Result<Vec<TitledDocument>>;

    // ---- snapshots (src/store/snapshots.rs)
    both fn latest_snapshot(&self, document_id: i64) -> Result<Option<(SnapshotMeta, String)>>;
    both fn latest_snapshot_id(&self, document_id: i64) -> Result<Option<i64>>;
    both fn snapshots(&self, document_id: i64) -> Result<Vec<SnapshotMeta>>;
    both fn snapshot_body(&self, snapshot_id: i64) -> Result<Option<StoredBody>>;
    both fn snapshot_text(&self, document_id: i64, version: i64) -> Result<Option<String>>;

    // ---- events (src/store/events.rs)
    both fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRow>>;
    both fn recent_relevant_events(&self, limit: usize, kinds: KindSet) -> Result<Vec<EventRow>>;
    both fn events(&self) -> Result<Vec<EventRow>>;
    both fn events_matching(&self, filter: &EventFilter) -> Result<Vec<EventRow>>;
    both fn has_events_of(&self, watch: &str) -> Result<bool>;
    both fn pending_events(&self) -> Result<Vec<EventRow>>;
    both fn pending_count(&self) -> Result<usize>;
    both fn probe(&mut self) -> Result<usize>;

    // ---- outbox (src/store/outbox.rs)
    both fn orphan_events(&self) -> Result<Vec<(i64, String, EventKind)>>;
    both fn enqueue(&mut self, items: &[(i64, EventKind, Vec<Target>)], now: Timestamp) -> Result<()>;
    both fn settle_unfollowed(&mut self, event_ids: &[i64], now: Timestamp) -> Result<()>;
    both fn due_batches(&self, due: &Due) -> Result<Vec<Batch>>;
    both fn claim_due_batches(&mut self, due: &Due, now: Timestamp) -> Result<Vec<Batch>>;
    both fn assign_batch(&mut self, delivery_ids: &[i64], message_id: &str) -> Result<()>;
    both fn mark_sent(&mut self, delivery_ids: &[i64], message_id: &str, now: Timestamp) -> Result<()>;
    both fn mark_failed(&mut self, delivery_ids: &[i64], error: &str, permanent: bool, max_attempts: u32, retry_at: Timestamp, now: Timestamp) -> Result<()>;
    both fn release_deliveries(&mut self, delivery_ids: &[i64]) -> Result<()>;
    both fn next_delivery_due(&self) -> Result<Option<Timestamp>>;
    both fn outbox_counts(&self) -> Result<OutboxCounts>;
    both fn deliveries(&self) -> Result<Vec<DeliveryRow>>;
    both fn deliveries_of_events(&self, event_ids: &[i64]) -> Result<HashMap<i64, Vec<EventDelivery>>>;
    both fn retry_refusals(&self, ids: &[i64]) -> Result<Vec<RetryRefusal>>;
    both fn retry_failed(&mut self, ids: Option<&[i64]>, now: Timestamp) -> Result<Vec<i64>>;

    // ---- hosts (src/store/hosts.rs)
    both fn hosts(&self) -> Result<Vec<HostRow>>;
    both fn save_robots(&mut self, h: &HostRow) -> Result<()>;
    both fn save_not_before(&mut self, origin: &str, not_before: &str, reason: &str) -> Result<()>;
    both fn not_before(&self, origin: &str) -> Result<Option<(String, String)>>;

    // ---- leases: politeness slots per origin (src/store/leases.rs)
    both fn take_origin(&mut self, origin: &str, now: Timestamp) -> Result<Lease>;
    both fn release_origin(&mut self, origin: &str, last_request_at: Option<OffsetDateTime>) -> Result<()>;
    both fn origin_holder(&self, origin: &str, now: Timestamp) -> Result<Option<String>>;

    // ---- templates (src/store/templates.rs)
    both fn host_template(&self, host: &str, document_id: i64, min_pages: i64) -> Result<HashSet<i64>>;

    // ---- web: the pages' queries and triage marks (src/store/web.rs)
    both fn watch_counts(&self) -> Result<HashMap<String, WatchCounts>>;
    both fn web_document_by_url(&self, url: &str) -> Result<Option<WebDocument>>;
    both fn web_document(&self, id: i64) -> Result<Option<WebDocument>>;
    both fn watch_document_count(&self, watch: &str) -> Result<i64>;
    both fn watch_documents(&self, watch: &str, offset: usize, limit: usize) -> Result<(Vec<WebDocument>, i64)>;
    both fn document_versions(&self, document_id: i64, offset: usize, limit: usize) -> Result<Vec<WebVersion>>;
    both fn version(&self, document_id: i64, version: i64) -> Result<Option<(SnapshotMeta, String)>>;
    both fn changed_details(&self, snapshot_id: i64) -> Result<Option<serde_json::Value>>;
    both fn version_at(&self, document_id: i64, at: &str) -> Result<Option<i64>>;
    both fn triage_events(&self, offset: usize, limit: usize) -> Result<Vec<WebEvent>>;
    both fn event_counts(&self) -> Result<(i64, i64)>;
    both fn web_event(&self, id: i64) -> Result<Option<WebEvent>>;
    both fn triage_of(&self, ids: &[i64]) -> Result<HashMap<i64, (bool, bool)>>;
    both fn set_reviewed(&mut self, id: i64, reviewed: bool, now: Timestamp) -> Result<bool>;
    both fn set_important(&mut self, id: i64, important: bool) -> Result<bool>;

    // ---- search (src/store/search.rs)
    both fn search(&self, phrase: &Phrase, filter: &SearchFilter) -> Result<SearchResults>;
    both fn search_hits(&self, found: &[Found]) -> Result<Vec<SearchHit>>;
    both fn corpus_import_id(&self, name: &str) -> Result<Option<i64>>;
    both fn corpus_file(&self, corpus_id: i64) -> Result<Option<(String, Option<String>, String)>>;

    // ---- corpus (src/store/corpus.rs)
    both fn corpus_candidates(&self, sig: &Signature, exclude_document: Option<i64>) -> Result<Vec<Candidate>>;
    both fn corpus_by_hash(&self, text_hash: &str, exclude_document: Option<i64>) -> Result<Option<(String, i64)>>;
    both fn corpus_text(&self, corpus_id: i64) -> Result<Option<String>>;
    both fn import_corpus_file(&mut self, name: &str, entry: &NewCorpusEntry, text: &str, now: Timestamp) -> Result<ImportOutcome>;
    both fn import_corpus_batch(&mut self, entries: &[(String, NewCorpusEntry, String)], now: Timestamp) -> Result<Vec<ImportOutcome>>;
    both fn corpus_counts(&self) -> Result<(i64, i64)>;
    both fn corpus_imports(&self) -> Result<Vec<CorpusImport>>;
    both fn corpus_import(&self, name: &str) -> Result<Option<CorpusImport>>;
    both fn remove_corpus_import(&mut self, name: &str) -> Result<bool>;
    both fn unindexed_corpus(&self) -> Result<Vec<(i64, String)>>;
    both fn index_corpus(&mut self, signed: &[(i64, Signature)]) -> Result<()>;
    both fn replaced_imports(&self, names: &[(&str, &str)]) -> Result<HashMap<String, String>>;
    both fn corpus_source(&self, corpus_id: i64) -> Result<Option<Source>>;

    // ---- claims (src/store/claims.rs)
    both fn lease_holders(&self, now: Timestamp) -> Result<Vec<NodeLeases>>;
    both fn clear_gone_holders(&mut self, now: Timestamp) -> Result<usize>;
    both fn claim_documents(&mut self, due: &[(i64, Option<Timestamp>)], now: Timestamp) -> Result<Vec<i64>>;
    both fn claim_some(&mut self, due: &[(i64, Option<Timestamp>)], limit: usize, now: Timestamp) -> Result<Vec<i64>>;
    both fn begin_pass(&mut self, origins: usize, now: Timestamp) -> Result<()>;
    both fn end_pass(&mut self) -> Result<()>;
    both fn sharing(&self, now: Timestamp) -> Result<Sharing>;
    both fn may_write(&self, document_id: i64, now: Timestamp) -> Result<bool>;
    both fn release_documents(&mut self, ids: &[i64]) -> Result<()>;
    both fn renew_claims(&mut self, now: Timestamp) -> Result<usize>;
    both fn release_claims(&mut self) -> Result<()>;

    // ---- nodes: which nodes share the database, and what their configs watch (src/store/nodes.rs)
    both fn record_node(&mut self, node: &str, watches: &NodeWatches, now: Timestamp) -> Result<()>;
    both fn node_seen(&mut self, node: &str, now: Timestamp) -> Result<bool>;
    both fn live_nodes(&self, now: Timestamp) -> Result<Vec<NodeRow>>;
}
