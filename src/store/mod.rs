//! The database: [`Store`] (src/store/backend.rs) is a SQLite file ([`SqliteStore`], here and in
//! one module per table family) or a PostgreSQL server ([`PgStore`], in src/store/pg), with one
//! method set; this module opens SQLite, applies its migrations, and holds the one writer.
//!
//! One module per table family; a check's snapshot, corpus entry, events and document state are
//! written together ([`Store::commit_check`]) so a kill at any moment leaves either all of it or
//! none. During a busy pass, checks are committed in groups ([`Store::begin_batch`]).
//!
//! The store never reads the clock: whatever it stamps or compares with the time takes `now`
//! from its caller. Times are typed ([`Timestamp`]) across its API and RFC 3339 text in the
//! columns; the conversion happens here, at the boundary.

mod backend;
mod claims;
pub mod copy;
mod corpus;
mod documents;
mod events;
mod handle;
mod hosts;
mod leases;
mod nodes;
mod outbox;
mod pg;
mod search;
mod snapshots;
mod templates;
mod web;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::model::Timestamp;

pub use backend::Store;
pub use claims::{LEASE, NodeLeases, RENEW_EVERY, Sharing, holder_for};
pub use corpus::{Candidate, CorpusImport, ImportOutcome, NewCorpusEntry, imported_share};
pub use documents::{DocRole, DocumentRow, FailureRecord, Presence, TitledDocument};
pub use events::{EventFilter, EventKind, EventRow, NewEvent};
pub use handle::StoreHandle;
pub use hosts::HostRow;
pub use leases::Lease;
pub use nodes::{
    NODE_LIVE, NodeRow, NodeWatches, WatchDifference, WatchSettings, differences, node_watches,
    watch_settings,
};
pub use outbox::{
    Batch, Channel, DeliveryRow, Due, EventDelivery, Mode, OutboxCounts, RetryRefusal, Target, targets_at,
};
pub use pg::PgStore;
pub use search::{Found, MAX_QUERY_CHARS, Phrase, SearchFilter, SearchHit, SearchResults, phrase};
pub use snapshots::{NewSnapshot, SnapshotMeta, StoredBody};
pub use web::{WatchCounts, WebDocument, WebEvent, WebVersion};

/// The schema, in order. Each runs in its own transaction and bumps `PRAGMA user_version`.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    (
        "0002_templates",
        include_str!("../../migrations/0002_templates.sql"),
    ),
    (
        "0003_corpus_index",
        include_str!("../../migrations/0003_corpus_index.sql"),
    ),
    (
        "0004_politeness",
        include_str!("../../migrations/0004_politeness.sql"),
    ),
    (
        "0005_corpus_layout",
        include_str!("../../migrations/0005_corpus_layout.sql"),
    ),
    ("0006_outbox", include_str!("../../migrations/0006_outbox.sql")),
    ("0007_claims", include_str!("../../migrations/0007_claims.sql")),
    (
        "0008_presence",
        include_str!("../../migrations/0008_presence.sql"),
    ),
    (
        "0009_corpus_versions",
        include_str!("../../migrations/0009_corpus_versions.sql"),
    ),
    (
        "0010_template_born",
        include_str!("../../migrations/0010_template_born.sql"),
    ),
    ("0012_web", include_str!("../../migrations/0012_web.sql")),
    (
        "0014_web_speed",
        include_str!("../../migrations/0014_web_speed.sql"),
    ),
    (
        "0015_search_words",
        include_str!("../../migrations/0015_search_words.sql"),
    ),
    ("0016_nodes", include_str!("../../migrations/0016_nodes.sql")),
    ("0017_passes", include_str!("../../migrations/0017_passes.sql")),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a govwatch database (SQLite says: {reason}); it was left untouched")]
    NotADatabase { path: PathBuf, reason: String },
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "database {path} has schema version {found}, newer than this govwatch knows ({known}); upgrade govwatch"
    )]
    TooNew { path: PathBuf, found: i64, known: usize },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored text could not be decompressed: {0}")]
    Corrupt(#[from] std::io::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    PgConnect { url: String, source: ::postgres::Error },
    #[error("PostgreSQL migration {name} failed: {source}")]
    PgMigration {
        name: &'static str,
        source: ::postgres::Error,
    },
    #[error(
        "the PostgreSQL database {url} has schema version {found}, newer than this govwatch knows ({known}); upgrade govwatch"
    )]
    PgTooNew { url: String, found: i64, known: i64 },
    #[error("PostgreSQL: {}", pg_reason(.0))]
    Postgres(#[from] ::postgres::Error),
    /// What a backend or a copy cannot do, said plainly.
    #[error("{0}")]
    Unsupported(String),
}

/// A PostgreSQL error with the server's own message when there is one ("db error" alone says
/// nothing).
fn pg_reason(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Times are written as RFC 3339 text in UTC, to the second, as they always were.
impl rusqlite::ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(self.to_string()))
    }
}

/// A stored time that is not RFC 3339 is an error naming the column, not a guess.
impl rusqlite::types::FromSql for Timestamp {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Timestamp> {
        let s = v.as_str()?;
        Timestamp::parse(s).map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

/// The SQLite backend of [`Store`]: one connection, the writer of its process.
pub struct SqliteStore {
    conn: Connection,
    /// Read-only connections on the same file, for the corpus lookup's concurrent probes.
    readers: corpus::Readers,
    /// The open group of checks, if any (see [`Store::begin_batch`]).
    batch: Option<OpenBatch>,
    /// This process's name on the work it claims (see [`claims`]).
    holder: String,
}

/// Checks written since a group commit began.
struct OpenBatch {
    started: std::time::Instant,
    checks: usize,
}

/// A group is committed at the latest after this many checks or this long, so that a kill loses
/// little work (to be re-done by the next pass; never mail, which is only read after a commit).
const BATCH_MAX_CHECKS: usize = 256;
const BATCH_MAX_AGE: std::time::Duration = std::time::Duration::from_millis(500);

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let not_a_db = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: path.to_path_buf(),
                reason: e.to_string(),
            },
            _ => StoreError::Open {
                path: path.to_path_buf(),
                source: e,
            },
        };
        // Set before anything else: another process opening a new database at the same moment
        // holds its lock while it switches it to WAL, and this one must wait, not fail.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(not_a_db)?;
        // The first statement that reads the file is where a non-database shows itself.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(not_a_db)?;
        // Refused before any pragma below writes to it (journal_mode rewrites the header): the
        // newer govwatch that made it must find it exactly as it left it. Closing the last
        // connection to a WAL database would also copy the WAL into the file, so not this one.
        if version as usize > MIGRATIONS.len() {
            let _ = conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(not_a_db)?;
        // With WAL, NORMAL is durable across application crashes and only loses the last
        // transactions on power loss, which a re-check recovers.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint every ~40 MB of WAL rather than every 4 MB: a pass rewrites the same index
        // pages over and over, and a checkpoint copies each page once however often it changed,
        // so rarer checkpoints mean far fewer writes and fsyncs.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Before migrating: 0012 fills the search index with them, and its triggers call them.
        search::register(&conn)?;

        let mut store = SqliteStore {
            conn,
            readers: corpus::Readers::new(path),
            batch: None,
            holder: claims::new_holder(),
        };
        store.migrate(version as usize)?;
        Ok(store)
    }

    fn migrate(&mut self, from: usize) -> Result<()> {
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(from) {
            // Several processes may open a new database at once: the write lock is taken first
            // and the version read again under it, so a migration another process applied
            // meanwhile is skipped instead of failing on "table already exists".
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if current as usize > i {
                continue;
            }
            tx.execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", (i + 1) as i64))
                .map_err(|source| StoreError::Migration { name, source })?;
            tx.commit()?;
            tracing::info!(migration = name, "applied database migration");
        }
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.readers.path()
    }

    /// `PRAGMA integrity_check`'s answer: "ok" for a sound database.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// Compression contexts, kept for reuse: making one (a few MB of tables, zeroed) cost more than
/// compressing a page. Callers compress on as many threads as there are cores, so few are made.
static COMPRESSORS: std::sync::Mutex<Vec<zstd::bulk::Compressor<'static>>> =
    std::sync::Mutex::new(Vec::new());

/// zstd-compresses a text or a body for storage (on the caller's thread, which need not be the
/// store's: see [`NewSnapshot::new`]).
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let pooled = COMPRESSORS.lock().unwrap_or_else(|p| p.into_inner()).pop();
    // Level 1: on a first pass over 1,000 pages it took a tenth off the time and 1 MB off the
    // peak memory of level 3 (zstd's default), for a database 2% larger.
    let mut c = pooled.unwrap_or_else(|| zstd::bulk::Compressor::new(1).expect("level 1 is valid"));
    let out = c.compress(bytes).expect("compressing into memory cannot fail");
    COMPRESSORS.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    out
}

/// Column `i` of `r`, a word of the model read back; a word this govwatch does not know is an
/// error (a conversion failure naming the column), never a guess.
fn parsed<T>(
    r: &rusqlite::Row,
    i: usize,
    parse: impl Fn(&str) -> std::result::Result<T, crate::model::ModelError>,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    parse(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

fn decompress_text(blob: &[u8]) -> Result<String> {
    let bytes = zstd::decode_all(blob)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Everything one successful check writes, committed at once.
pub struct CheckRecord {
    pub document_id: i64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_due_at: Timestamp,
    /// A new version of the text, if it differs from the last one.
    pub snapshot: Option<NewSnapshot>,
    /// The corpus entry of the new snapshot (beside the document's earlier versions).
    pub corpus: Option<NewCorpusEntry>,
    pub events: Vec<NewEvent>,
    /// Who gets this check's relevant events: their outbox rows are written with them, so an
    /// event can never exist without its deliveries.
    pub targets: Vec<Target>,
    /// The page's host and its short blocks, for learning the host's template.
    pub template_blocks: Option<(String, Vec<i64>)>,
    /// Hash of the body as served (`None` keeps the stored one: a 304).
    pub body_hash: Option<String>,
}

impl SqliteStore {
    /// Writes a successful check at once; returns the new snapshot's id, if any. Inside a batch
    /// it is a savepoint, committed with the batch; otherwise a transaction of its own.
    pub fn commit_check(&mut self, rec: CheckRecord, now: Timestamp) -> Result<Option<i64>> {
        let now = now.to_string();
        let tx = self.conn.savepoint()?;
        let snapshot_id = match &rec.snapshot {
            Some(s) => Some(snapshots::insert(&tx, rec.document_id, s, &now)?),
            None => None,
        };
        if let (Some(c), Some(sid)) = (&rec.corpus, snapshot_id) {
            corpus::upsert_snapshot(&tx, rec.document_id, sid, c, &now)?;
        }
        if let Some((host, keys)) = &rec.template_blocks {
            templates::replace(&tx, rec.document_id, host, keys)?;
        }
        for e in &rec.events {
            let event_id = events::insert(&tx, rec.document_id, snapshot_id, e, &now)?;
            if e.relevant {
                outbox::enqueue(&tx, event_id, e.kind, &rec.targets, &now)?;
            }
        }
        documents::record_success(&tx, &rec, snapshot_id.is_some(), &now)?;
        claims::release_document(&tx, rec.document_id, &self.holder)?;
        tx.commit()?;
        if let Some(b) = &mut self.batch {
            b.checks += 1;
        }
        Ok(snapshot_id)
    }

    /// Starts a group commit, unless one is open: the checks written until [`Store::end_batch`]
    /// are committed together. Committing each check on its own rewrote the same index pages
    /// into the WAL once per page, a fifth of a first pass's time. Each check is still all or
    /// nothing (a savepoint), and the group is too.
    pub fn begin_batch(&mut self) -> Result<()> {
        if self.batch.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.batch = Some(OpenBatch {
                started: std::time::Instant::now(),
                checks: 0,
            });
        }
        Ok(())
    }

    /// Commits the open group, if any. A group that cannot be committed (a full disk) is rolled
    /// back whole rather than left open under later work; the next pass re-does its checks.
    pub fn end_batch(&mut self) -> Result<()> {
        if self.batch.take().is_some()
            && let Err(e) = self.conn.execute_batch("COMMIT")
        {
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Whether the open group is big or old enough to be committed now.
    pub fn batch_full(&self) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|b| b.checks >= BATCH_MAX_CHECKS || b.started.elapsed() >= BATCH_MAX_AGE)
    }
}

impl Drop for SqliteStore {
    /// Checks written in an open group are complete ones (a check cut short rolled back its own
    /// savepoint): they are kept.
    fn drop(&mut self) {
        if let Err(e) = self.end_batch() {
            tracing::warn!(error = %e, "could not commit the last checks");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
    }

    #[test]
    fn not_a_database_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let junk = b"this is a text file, not SQLite, and it must survive".repeat(200);
        std::fs::write(&path, &junk).unwrap();
        let err = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("is not a govwatch database"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), junk);
    }

    #[test]
    fn migrations_are_in_numeric_order() {
        let numbers: Vec<u32> = MIGRATIONS
            .iter()
            .map(|(name, _)| {
                name[..4]
                    .parse()
                    .expect("a migration name starts with its number")
            })
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    }

    /// A check written in a group, with no more checks after it, is on disk once the store is
    /// closed; a check rolled back inside the group leaves the others alone.
    #[test]
    fn a_group_commit_keeps_its_complete_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let record = |id: i64, text: &str| CheckRecord {
            document_id: id,
            etag: None,
            last_modified: None,
            next_due_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            snapshot: Some(NewSnapshot::new(text, crate::text::text_hash(text), b"<p>x</p>")),
            corpus: None,
            events: Vec::new(),
            targets: Vec::new(),
            template_blocks: None,
            body_hash: None,
        };
        let (a, b) = {
            let mut s = SqliteStore::open(&path).unwrap();
            let a = s
                .ensure_watch_document("a", "http://127.0.0.1/a", DocRole::Page, t0())
                .unwrap()
                .id;
            let b = s
                .ensure_watch_document("b", "http://127.0.0.1/b", DocRole::Page, t0())
                .unwrap()
                .id;
            s.begin_batch().unwrap();
            s.commit_check(record(a, "first text"), t0()).unwrap();
            // No such document: this check fails, alone.
            assert!(s.commit_check(record(9999, "lost"), t0()).is_err());
            s.commit_check(record(b, "second text"), t0()).unwrap();
            assert!(!s.batch_full());
            (a, b)
        };
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.snapshots(a).unwrap().len(), 1);
        assert_eq!(s.snapshots(b).unwrap().len(), 1);
        assert_eq!(s.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn opens_twice_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        drop(SqliteStore::open(&path).unwrap());
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn migration_8_keeps_events_and_their_deliveries_and_takes_removed_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        {
            // A database as version 7 left it, with an event and its delivery.
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            for (_, sql) in &MIGRATIONS[..7] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 7).unwrap();
            conn.execute_batch(
                "INSERT INTO documents (id, url, watch, role, discovered_at, failures, last_checked_at)
                     VALUES (1, 'https://example.org/', 'w', 'page', '2026-01-01T00:00:00Z', 2, '2026-01-02T00:00:00Z');
                 INSERT INTO events (id, kind, document_id, watch, url, detected_at, relevant, significance)
                     VALUES (5, 'duplicate', 1, 'w', 'https://example.org/', '2026-01-01T00:00:00Z', 1, 0.1);
                 INSERT INTO deliveries (id, event_id, recipient, channel, mode, next_attempt_at, created_at, state, last_error)
                     VALUES (9, 5, 'a@example.org', 'email', 'immediate', '2026-01-01T00:00:00Z',
                             '2026-01-01T00:00:00Z', 'failed', '550 no such user');",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let events = s.events().unwrap();
        assert_eq!(
            (events.len(), events[0].id, events[0].kind),
            (1, 5, EventKind::Duplicate)
        );
        let d = s.deliveries().unwrap();
        assert_eq!((d.len(), d[0].id, d[0].state.as_str()), (1, 9, "failed"));
        assert_eq!(d[0].last_error.as_deref(), Some("550 no such user"));
        let doc = s.document_by_url("https://example.org/").unwrap().unwrap();
        assert_eq!(
            doc.presence.failing_since.map(|t| t.to_string()).as_deref(),
            Some("2026-01-02T00:00:00Z")
        );
        let fk: i64 = s
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 0);
        s.conn
            .execute(
                "INSERT INTO events (kind, document_id, watch, url, detected_at) VALUES ('removed', 1, 'w', 'u', 'now')",
                [],
            )
            .unwrap();
        assert_eq!(s.integrity_check().unwrap(), "ok");
    }
}
