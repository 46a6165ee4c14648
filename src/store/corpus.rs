//! The `corpus` table and its index (`corpus_lsh`, `corpus_fp`): known documents, found again by
//! resemblance (MinHash LSH bands) and containment (winnowed fingerprints).
//! Imported files are identified by file name; a stored document has one entry per distinct text
//! it has had, each pointing at the newest snapshot with that text.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use super::{Result, SqliteStore, compress, decompress_text};
use crate::compare::Known;
use crate::compare::corpus::{self, Source};
use crate::model::Timestamp;
use crate::similarity::{self as index, Signature};

pub use crate::model::{Candidate, DocVersion, imported_share};

pub struct NewCorpusEntry {
    pub title: Option<String>,
    pub text_hash: String,
    pub words: usize,
    pub signature: Signature,
    /// The fingerprints of the text this entry replaces (empty if none or unknown): they find
    /// its old index rows. The caller works them out, off the store's thread; the store never
    /// computes a signature.
    pub replaces_fps: Vec<i64>,
}

/// An imported file in the corpus.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CorpusImport {
    pub id: i64,
    /// The file name it was imported under: how `corpus show` and `corpus remove` name it.
    pub name: String,
    pub title: Option<String>,
    pub words: i64,
    pub added_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Added,
    /// Same file name, same text: nothing to do.
    Unchanged,
    /// Same file name, new text: the entry now holds the new text.
    Updated,
}

/// A fingerprint standing in more documents than this is a stock phrase, not evidence of copying;
/// looking it up would also make lookups slow on a large corpus.
pub(super) const MAX_POSTINGS: usize = 200;
// The fingerprint probe's LIMIT in [`probe`] is MAX_POSTINGS + 1.
const _: () = assert!(MAX_POSTINGS == 200);

/// The index tables, each with its `_recent` companion: (table, key column).
const INDEX_TABLES: [(&str, &str); 2] = [("corpus_lsh", "band_key"), ("corpus_fp", "hash")];

/// The recent tables are merged into the main ones once they hold this fraction of the main
/// tables' rows, and at least [`MERGE_MIN_ROWS`]. Both tables are keyed by hashes, so a batch of
/// rows lands on pages all over a B-tree; written straight into tables much larger than a batch,
/// every commit re-wrote nearly all their pages (a 100,000-document import slowed down in
/// proportion to the corpus: 136 documents a second at 100,000). Into recent tables at most a
/// quarter the size, a commit re-writes at most a quarter as much, and a merge re-writes each
/// page of the main tables once, in key order. Smaller recent tables mean more merges; with
/// import batches of 2,000 documents, a quarter balances the two (the 100,000-document benchmark
/// wrote 5.4 GB, against 7.6 GB with an eighth and batches of 500).
const MERGE_FRACTION: i64 = 4;
/// About 800 documents: a small corpus is not merged at every commit.
const MERGE_MIN_ROWS: i64 = 100_000;

/// Adds `main` and `recent` rows to the counts that decide merges.
fn count_rows(tx: &Connection, main: i64, recent: i64) -> Result<()> {
    if main != 0 || recent != 0 {
        tx.prepare_cached(
            "UPDATE corpus_index_rows SET main = max(0, main + ?1), recent = max(0, recent + ?2)",
        )?
        .execute([main, recent])?;
    }
    Ok(())
}

/// Removes an entry's index rows, found again from its stored MinHash and the fingerprints of
/// its text (`fps`, worked out by the caller from the text being replaced), and marks it
/// unindexed. The rows are keyed by hash, so without a per-document index (which cost as much
/// space and as many writes as the rows themselves) this is how they are found; if `fps` do not
/// find them all (the text was not the one indexed, or the shingling changed), every row of the
/// entry is searched.
fn unindex(tx: &Connection, corpus_id: i64, fps: &[i64]) -> Result<()> {
    let row = tx
        .prepare_cached("SELECT minhash, fp_count FROM corpus WHERE id = ?1")?
        .query_row([corpus_id], |r| {
            Ok((r.get::<_, Option<Vec<u8>>>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    let Some((Some(minhash), fp_count)) = row else {
        return Ok(());
    };
    let mut bands = index::band_keys(&index::minhash_from_blob(&minhash));
    bands.sort_unstable();
    bands.dedup();
    let fps = fps.to_vec();
    let expected = bands.len() + fp_count as usize;
    let (mut main, mut recent) = (0usize, 0usize);
    for ((table, key), keys) in INDEX_TABLES.iter().zip([&bands, &fps]) {
        for (suffix, removed) in [("", &mut main), ("_recent", &mut recent)] {
            let mut stmt = tx.prepare_cached(&format!(
                "DELETE FROM {table}{suffix} WHERE {key} = ?1 AND corpus_id = ?2"
            ))?;
            for k in keys {
                *removed += stmt.execute([*k, corpus_id])?;
            }
        }
    }
    if main + recent != expected {
        tracing::warn!(
            corpus_id,
            found = main + recent,
            expected,
            "corpus index rows not found from the stored text; searching the whole index"
        );
        for (table, _) in INDEX_TABLES {
            main += tx.execute(&format!("DELETE FROM {table} WHERE corpus_id = ?1"), [corpus_id])?;
            recent += tx.execute(
                &format!("DELETE FROM {table}_recent WHERE corpus_id = ?1"),
                [corpus_id],
            )?;
        }
    }
    count_rows(tx, -(main as i64), -(recent as i64))?;
    tx.prepare_cached("UPDATE corpus SET minhash = NULL, fp_count = 0 WHERE id = ?1")?
        .execute([corpus_id])?;
    Ok(())
}

/// Writes an entry's index rows; it has none (new, or [`unindex`]ed).
fn index_entry(tx: &Connection, corpus_id: i64, sig: &Signature) -> Result<()> {
    index_entries(tx, &[(corpus_id, sig)])
}

/// Writes the index rows of several entries, which have none, into the recent tables, sorted by
/// key so that each page is visited once; then merges, if it is time.
fn index_entries(tx: &Connection, entries: &[(i64, &Signature)]) -> Result<()> {
    let mut lsh_rows: Vec<(i64, i64)> = Vec::with_capacity(entries.len() * index::BANDS);
    let mut fp_rows: Vec<(i64, i64)> = Vec::new();
    for &(corpus_id, sig) in entries {
        // Cached statements: an import indexes thousands of entries in a row.
        tx.prepare_cached("UPDATE corpus SET minhash = ?2, fp_count = ?3 WHERE id = ?1")?
            .execute(params![
                corpus_id,
                index::minhash_blob(&sig.minhash),
                sig.fp_set.len() as i64
            ])?;
        lsh_rows.extend(index::band_keys(&sig.minhash).into_iter().map(|k| (k, corpus_id)));
        fp_rows.extend(sig.fp_set.iter().map(|&h| (h, corpus_id)));
    }
    let mut added = 0;
    for ((table, key), mut rows) in INDEX_TABLES.into_iter().zip([lsh_rows, fp_rows]) {
        rows.sort_unstable();
        let mut stmt = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {table}_recent ({key}, corpus_id) VALUES (?1, ?2)"
        ))?;
        for (k, corpus_id) in rows {
            added += stmt.execute([k, corpus_id])?;
        }
    }
    count_rows(tx, 0, added as i64)?;
    let (main, recent): (i64, i64) = tx
        .prepare_cached("SELECT main, recent FROM corpus_index_rows")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if recent >= MERGE_MIN_ROWS && recent * MERGE_FRACTION >= main {
        merge_recent(tx)?;
    }
    Ok(())
}

/// Moves the rows of the recent tables into the main ones, in key order.
fn merge_recent(tx: &Connection) -> Result<()> {
    let mut moved = 0;
    for (table, key) in INDEX_TABLES {
        moved += tx.execute(
            &format!(
                "INSERT OR IGNORE INTO {table} ({key}, corpus_id)
                 SELECT {key}, corpus_id FROM {table}_recent ORDER BY {key}, corpus_id"
            ),
            [],
        )?;
        tx.execute(&format!("DELETE FROM {table}_recent"), [])?;
    }
    tx.execute(
        "UPDATE corpus_index_rows SET main = main + ?1, recent = 0",
        [moved as i64],
    )?;
    tracing::debug!(rows = moved, "merged recent corpus index rows");
    Ok(())
}

/// Index probes of one lookup that run at once, each on a connection of its own.
/// A lookup probes about 130 keys, each on a random page of tables far larger than SQLite's page
/// cache; when those pages have left the operating system's cache too, one probe after the other
/// waited for its disk read in turn, which made the slowest lookups (10-190 ms against 2-5 ms on
/// a CPU). On 100,000 documents with the file evicted from the page cache, four at once took the
/// median lookup from 12.6 to 5.1 ms and the 99th percentile from 55 to 29 ms (2 shared cores).
const PROBE_THREADS: usize = 4;
/// Fewer keys than this are probed on the store's own connection.
const MIN_KEYS_PER_THREAD: usize = 8;
/// Probes are made one after the other in rounds of this many while each takes less than
/// [`SLOW_PROBE`]: a probe whose pages are in memory takes 5-10 µs, and threads would only add
/// the time it takes to start them (on a loaded machine, to be given a CPU: the median lookup
/// went from 1.5 to 2.5 ms on 2 shared cores with a warm cache).
const PROBE_ROUND: usize = 8;
const SLOW_PROBE: std::time::Duration = std::time::Duration::from_micros(50);

/// Read-only connections for concurrent probes, opened when first needed and kept.
pub(super) struct Readers {
    path: PathBuf,
    idle: RefCell<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(path: &Path) -> Readers {
        Readers {
            // Absolute: the readers open the file the store opened, whatever the working folder.
            path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            idle: RefCell::new(Vec::new()),
        }
    }

    /// The database file (absolute when it could be made so).
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn take(&self, n: usize) -> Vec<Connection> {
        let mut idle = self.idle.borrow_mut();
        while idle.len() < n {
            let opened = Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|c| c.busy_timeout(std::time::Duration::from_secs(10)).map(|()| c));
            match opened {
                Ok(c) => idle.push(c),
                Err(e) => {
                    // The lookup still works, one probe after the other.
                    tracing::debug!(error = %e, "no read-only connection for corpus probes");
                    break;
                }
            }
        }
        let keep = idle.len().saturating_sub(n);
        idle.split_off(keep)
    }

    fn give_back(&self, conns: Vec<Connection>) {
        self.idle.borrow_mut().extend(conns);
    }
}

/// Bytes this thread has had read from the storage device (Linux: `/proc/thread-self/io`), which
/// tells a probe that waited for the disk from one that waited for a CPU.
fn disk_reads() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/io")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("read_bytes:"))?
        .trim()
        .parse()
        .ok()
}

/// What a key is looked up in.
#[derive(Clone, Copy)]
pub(super) enum Probe {
    Band(i64),
    Fingerprint(i64),
}

/// The corpus entries holding a key, in the main table and the recent one (a row is in one of
/// them). A fingerprint in more than [`MAX_POSTINGS`] entries yields `MAX_POSTINGS + 1` of them.
fn probe(conn: &Connection, p: Probe) -> rusqlite::Result<Vec<i64>> {
    let (sql, key) = match p {
        Probe::Band(k) => (
            "SELECT corpus_id FROM corpus_lsh WHERE band_key = ?1
             UNION ALL SELECT corpus_id FROM corpus_lsh_recent WHERE band_key = ?1",
            k,
        ),
        Probe::Fingerprint(h) => (
            "SELECT corpus_id FROM corpus_fp WHERE hash = ?1
             UNION ALL SELECT corpus_id FROM corpus_fp_recent WHERE hash = ?1 LIMIT 201",
            h,
        ),
    };
    conn.prepare_cached(sql)?
        .query_map([key], |r| r.get(0))?
        .collect()
}

/// The keys a lookup of `sig` probes: its band keys (sorted), then its fingerprints.
pub(super) fn probes_of(sig: &Signature) -> Vec<Probe> {
    let mut bands = index::band_keys(&sig.minhash);
    bands.sort_unstable();
    let mut probes: Vec<Probe> = bands.into_iter().map(Probe::Band).collect();
    probes.extend(sig.fp_set.iter().map(|&h| Probe::Fingerprint(h)));
    probes
}

/// What the probes found (`found[i]` for `probes[i]`), per entry: the fingerprints each shares
/// (a fingerprint in more than [`MAX_POSTINGS`] entries counts for none), and every entry found
/// by either kind of key, sorted. Both backends judge from this.
pub(super) fn gather(probes: Vec<Probe>, found: Vec<Vec<i64>>) -> (HashMap<i64, Vec<i64>>, Vec<i64>) {
    let mut shared: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut by_band: Vec<i64> = Vec::new();
    for (p, mut ids) in probes.into_iter().zip(found) {
        match p {
            Probe::Band(_) => by_band.extend(ids),
            Probe::Fingerprint(_) if ids.len() > MAX_POSTINGS => {}
            Probe::Fingerprint(h) => {
                ids.sort_unstable();
                ids.dedup();
                for id in ids {
                    shared.entry(id).or_default().push(h);
                }
            }
        }
    }
    let mut ids: Vec<i64> = shared.keys().copied().chain(by_band).collect();
    ids.sort_unstable();
    ids.dedup();
    (shared, ids)
}

/// A new version of a stored document enters the corpus beside the earlier ones: every stored
/// version is a candidate source, so that a copy of an earlier version is traced to it. A text
/// the document had before is one entry, moved to its newest snapshot (its index rows stay).
pub(super) fn upsert_snapshot(
    tx: &Connection,
    document_id: i64,
    snapshot_id: i64,
    e: &NewCorpusEntry,
    now: &str,
) -> Result<()> {
    let existing: Option<(i64, bool)> = tx
        .prepare_cached(
            "SELECT id, minhash IS NULL FROM corpus
             WHERE origin = 'snapshot' AND document_id = ?1 AND text_hash = ?2",
        )?
        .query_row(params![document_id, e.text_hash], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, unindexed)) = existing {
        tx.prepare_cached("UPDATE corpus SET snapshot_id = ?2, title = ?3 WHERE id = ?1")?
            .execute(params![id, snapshot_id, e.title])?;
        if unindexed {
            index_entry(tx, id, &e.signature)?;
        }
        return Ok(());
    }
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO corpus (origin, name, document_id, snapshot_id, title, text_hash, words, added_at)
             SELECT 'snapshot', url, id, ?2, ?3, ?4, ?5, ?6 FROM documents WHERE id = ?1
             RETURNING id",
        )?
        .query_row(
            params![
                document_id,
                snapshot_id,
                e.title,
                e.text_hash,
                e.words as i64,
                now
            ],
            |r| r.get(0),
        )?;
    index_entry(tx, id, &e.signature)
}

/// Adds or updates one imported file inside `tx`, but for its index rows; with the corpus id to
/// index, unless the file is unchanged.
fn import_one(
    tx: &Transaction<'_>,
    name: &str,
    entry: &NewCorpusEntry,
    text: &str,
    now: Timestamp,
) -> Result<(ImportOutcome, Option<i64>)> {
    let existing: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, text_hash FROM corpus WHERE origin = 'import' AND name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let outcome = match existing {
        Some((_, h)) if h == entry.text_hash => return Ok((ImportOutcome::Unchanged, None)),
        Some((id, _)) => {
            // Before the text is replaced: the old text's fingerprints find the old rows.
            unindex(tx, id, &entry.replaces_fps)?;
            ImportOutcome::Updated
        }
        None => ImportOutcome::Added,
    };
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO corpus (origin, name, title, text_hash, words, text, added_at)
             VALUES ('import', ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (name) WHERE origin = 'import' DO UPDATE SET
                 title = excluded.title, text_hash = excluded.text_hash, words = excluded.words,
                 text = excluded.text, added_at = excluded.added_at
             RETURNING id",
        )?
        .query_row(
            params![
                name,
                entry.title,
                entry.text_hash,
                entry.words as i64,
                compress(text.as_bytes()),
                now
            ],
            |r| r.get(0),
        )?;
    Ok((outcome, Some(id)))
}

/// The columns [`doc_version`] reads, for a query over `corpus c LEFT JOIN snapshots s`. The
/// newest version is looked up only for a stored document's entry (an import has none).
pub(super) const VERSION_COLUMNS: &str = "s.version, s.fetched_at, s.published,
    CASE WHEN c.snapshot_id IS NULL THEN NULL
         ELSE (SELECT MAX(version) FROM snapshots WHERE document_id = c.document_id) END";

/// Which version of a stored document an entry is, from [`VERSION_COLUMNS`] at column `at`.
fn doc_version(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<DocVersion>> {
    let number: Option<i64> = r.get(at)?;
    let Some(number) = number else { return Ok(None) };
    Ok(Some(DocVersion {
        number,
        stored_at: r.get(at + 1)?,
        published: r.get(at + 2)?,
        newest: r.get::<_, Option<i64>>(at + 3)?.unwrap_or(number),
    }))
}

impl SqliteStore {
    /// Known documents sharing a band key or a fingerprint with `sig`, except `exclude_document`'s
    /// own entry and index pages. (`None` excludes nothing: `document_id IS NOT NULL` alone would
    /// exclude every import.) Oldest first, so that on a tie the document seen first is the
    /// source.
    pub fn corpus_candidates(
        &self,
        sig: &Signature,
        exclude_document: Option<i64>,
    ) -> Result<Vec<Candidate>> {
        let probes = probes_of(sig);
        let found = self.probe_all(&probes)?;
        let (mut shared, ids) = gather(probes, found);

        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT c.name, c.document_id, c.title, c.text_hash, c.minhash, c.fp_count, c.origin, {VERSION_COLUMNS}
             FROM corpus c LEFT JOIN documents d ON d.id = c.document_id LEFT JOIN snapshots s ON s.id = c.snapshot_id
             WHERE c.id = ?1 AND (?2 IS NULL OR c.document_id IS NOT ?2) AND (d.role IS NULL OR d.role != 'index')"
        ))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = stmt
                .query_row(params![id, exclude_document], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<Vec<u8>>>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, String>(6)?,
                        doc_version(r, 7)?,
                    ))
                })
                .optional()?;
            let Some((name, document_id, title, text_hash, minhash, fp_count, origin, version)) = row else {
                continue;
            };
            let minhash = minhash.map(|b| index::minhash_from_blob(&b)).unwrap_or_default();
            out.push(Candidate {
                corpus_id: id,
                name,
                document_id,
                title,
                text_hash,
                resemblance: index::resemblance(&sig.minhash, &minhash),
                shared: shared.remove(&id).unwrap_or_default(),
                fp_count: fp_count as usize,
                imported: origin == "import",
                version,
            });
        }
        Ok(out)
    }

    /// Every probe's entries, in order. Probes run on the store's own connection a round at a
    /// time while they find their pages in memory; once a round is slow and pages came from the
    /// disk, the rest are split into [`PROBE_THREADS`] runs probed at once, the first on this
    /// thread, the others on read-only connections.
    fn probe_all(&self, probes: &[Probe]) -> Result<Vec<Vec<i64>>> {
        // Other connections cannot see the entries of a group not yet committed.
        if self.batch.is_some() {
            return Ok(probes
                .iter()
                .map(|&p| probe(&self.conn, p))
                .collect::<rusqlite::Result<_>>()?);
        }
        let mut out = Vec::with_capacity(probes.len());
        let mut rest = probes;
        let read_before = disk_reads();
        while !rest.is_empty() {
            if rest.len() >= 2 * MIN_KEYS_PER_THREAD {
                let started = std::time::Instant::now();
                let (round, after) = rest.split_at(PROBE_ROUND.min(rest.len()));
                for &p in round {
                    out.push(probe(&self.conn, p)?);
                }
                rest = after;
                if started.elapsed() < SLOW_PROBE * round.len() as u32 {
                    continue;
                }
                // Slow because this thread waited for the CPU, not the disk: more threads would
                // wait for it too (on 2 busy cores they took the 99th percentile from 7 to 10 ms).
                if let (Some(before), Some(now)) = (read_before, disk_reads())
                    && now == before
                {
                    continue;
                }
            }
            out.extend(self.probe_at_once(rest)?);
            break;
        }
        Ok(out)
    }

    /// Every probe's entries, in order, probed in up to [`PROBE_THREADS`] runs at once.
    fn probe_at_once(&self, probes: &[Probe]) -> Result<Vec<Vec<i64>>> {
        let threads = PROBE_THREADS.min(probes.len() / MIN_KEYS_PER_THREAD);
        let conns = self.readers.take(threads.saturating_sub(1));
        let chunk = probes.len().div_ceil(conns.len() + 1).max(1);
        let mut runs = probes.chunks(chunk);
        let mine = runs.next().unwrap_or_default();
        let (own, others) = std::thread::scope(|s| {
            let handles: Vec<_> = runs
                .zip(conns)
                .map(|(keys, conn)| {
                    s.spawn(move || {
                        let found = keys
                            .iter()
                            .map(|&p| probe(&conn, p))
                            .collect::<rusqlite::Result<Vec<_>>>();
                        (conn, found)
                    })
                })
                .collect();
            let own = mine
                .iter()
                .map(|&p| probe(&self.conn, p))
                .collect::<rusqlite::Result<Vec<_>>>();
            let others: Vec<_> = handles
                .into_iter()
                .map(|h| h.join().expect("a corpus probe thread panicked"))
                .collect();
            (own, others)
        });
        let mut out = own;
        let mut back = Vec::with_capacity(others.len());
        let mut failed = None;
        for (conn, found) in others {
            back.push(conn);
            match found {
                Ok(f) => {
                    if let Ok(out) = &mut out {
                        out.extend(f);
                    }
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        self.readers.give_back(back);
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(out?),
        }
    }

    /// A known document whose text is exactly `text_hash`, oldest first.
    pub fn corpus_by_hash(
        &self,
        text_hash: &str,
        exclude_document: Option<i64>,
    ) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT c.name, c.id FROM corpus c LEFT JOIN documents d ON d.id = c.document_id
                 WHERE c.text_hash = ?1 AND (?2 IS NULL OR c.document_id IS NOT ?2) AND (d.role IS NULL OR d.role != 'index')
                 ORDER BY c.id LIMIT 1",
                params![text_hash, exclude_document],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The text of a known document: an import's own, or its stored snapshot's.
    pub fn corpus_text(&self, corpus_id: i64) -> Result<Option<String>> {
        let blob: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT COALESCE(c.text, s.text) FROM corpus c LEFT JOIN snapshots s ON s.id = c.snapshot_id
                 WHERE c.id = ?1",
                [corpus_id],
                |r| r.get(0),
            )
            .optional()?;
        blob.flatten().map(|b| decompress_text(&b)).transpose()
    }

    /// Adds an imported file to the corpus, keyed by its file name.
    pub fn import_corpus_file(
        &mut self,
        name: &str,
        entry: &NewCorpusEntry,
        text: &str,
        now: Timestamp,
    ) -> Result<ImportOutcome> {
        let tx = self.conn.transaction()?;
        let (outcome, id) = import_one(&tx, name, entry, text, now)?;
        if let Some(id) = id {
            index_entry(&tx, id, &entry.signature)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Adds imported files `(name, entry, text)` to the corpus in one transaction, in order: all
    /// of them or, on a database error, none. A name given twice is imported once, then found
    /// unchanged (or updated). One commit per file made a 100,000-file import commit-bound.
    pub fn import_corpus_batch(
        &mut self,
        entries: &[(String, NewCorpusEntry, String)],
        now: Timestamp,
    ) -> Result<Vec<ImportOutcome>> {
        let tx = self.conn.transaction()?;
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut to_index: Vec<(i64, &Signature)> = Vec::with_capacity(entries.len());
        for (name, entry, text) in entries {
            let (outcome, id) = import_one(&tx, name, entry, text, now)?;
            outcomes.push(outcome);
            if let Some(id) = id {
                if outcome == ImportOutcome::Updated {
                    // A name given twice in the batch is indexed as its last text.
                    to_index.retain(|(i, _)| *i != id);
                }
                to_index.push((id, &entry.signature));
            }
        }
        index_entries(&tx, &to_index)?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// How many documents the corpus holds, by origin.
    pub fn corpus_counts(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(origin = 'import'), 0), COUNT(DISTINCT document_id) FROM corpus",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// The imported files, by name: what `govwatch corpus list` shows.
    pub fn corpus_imports(&self) -> Result<Vec<CorpusImport>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, title, words, added_at FROM corpus WHERE origin = 'import' ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CorpusImport {
                id: r.get(0)?,
                name: r.get(1)?,
                title: r.get(2)?,
                words: r.get(3)?,
                added_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One imported file by its name.
    pub fn corpus_import(&self, name: &str) -> Result<Option<CorpusImport>> {
        Ok(self.corpus_imports()?.into_iter().find(|c| c.name == name))
    }

    /// Takes an imported file out of the corpus and out of its index, in one transaction, so
    /// that no later verdict finds it. `false` if no import has that name.
    pub fn remove_corpus_import(&mut self, name: &str) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM corpus WHERE origin = 'import' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else { return Ok(false) };
        // Before the row goes. No fingerprints: the store computes no signatures, so every
        // row of the entry is searched, which a rare command can afford.
        unindex(&tx, id, &[])?;
        tx.execute("DELETE FROM corpus WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(true)
    }

    /// Corpus entries that have no signature yet (from before the index existed), with their
    /// texts, for the caller to sign and hand to [`Store::index_corpus`].
    pub fn unindexed_corpus(&self) -> Result<Vec<(i64, String)>> {
        let ids: Vec<i64> = {
            let mut stmt = self.conn.prepare("SELECT id FROM corpus WHERE minhash IS NULL")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        ids.into_iter()
            .map(|id| Ok((id, self.corpus_text(id)?.unwrap_or_default())))
            .collect()
    }

    /// Writes the index rows of entries that have none, each with its signature.
    pub fn index_corpus(&mut self, signed: &[(i64, Signature)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        index_entries(&tx, &signed.iter().map(|(id, s)| (*id, s)).collect::<Vec<_>>())?;
        tx.commit()?;
        Ok(())
    }

    /// The stored texts of the imported files named whose stored text is not the one given
    /// (`(name, text_hash)`): the texts an import is about to replace. Unchanged files cost a
    /// lookup, not a decompression.
    pub fn replaced_imports(&self, names: &[(&str, &str)]) -> Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, text_hash FROM corpus WHERE origin = 'import' AND name = ?1")?;
        let mut out = HashMap::new();
        for (name, new_hash) in names {
            let row: Option<(i64, String)> = stmt
                .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((id, hash)) = row
                && hash != *new_hash
            {
                out.insert(name.to_string(), self.corpus_text(id)?.unwrap_or_default());
            }
        }
        Ok(out)
    }

    /// A known document as a verdict names it: its name and, for a stored document, which
    /// version the entry is.
    pub fn corpus_source(&self, corpus_id: i64) -> Result<Option<Source>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT c.name, {VERSION_COLUMNS} FROM corpus c LEFT JOIN snapshots s ON s.id = c.snapshot_id
                 WHERE c.id = ?1"
            ))?
            .query_row([corpus_id], |r| {
                Ok(Source {
                    name: r.get(0)?,
                    corpus_id,
                    version: doc_version(r, 1)?,
                })
            })
            .optional()?)
    }
}

impl super::Store {
    /// What a verdict on a new text reads besides the candidates (see [`Known`]): a known
    /// document with exactly the text (`hash`, its [`crate::text::text_hash`]), else the text
    /// of the candidate it may be a version of; and when the candidate it will be traced to is
    /// an earlier version of a stored document, that version's text and the document's newest.
    /// `exclude` is the document's own entry.
    pub fn known(
        &self,
        hash: &str,
        sig: &Signature,
        candidates: &[Candidate],
        exclude: Option<i64>,
    ) -> Result<Known> {
        let my_fps = sig.fp_set.len();
        let exact = match self.corpus_by_hash(hash, exclude)? {
            Some((_, id)) => self.corpus_source(id)?,
            None => None,
        };
        // As the verdict would fetch it: only without an exact match, and a text that cannot be
        // read is no version to compare with.
        let version_of = match exact {
            Some(_) => None,
            None => corpus::same_document(candidates, my_fps).and_then(|c| {
                let text = self.corpus_text(c.corpus_id).ok().flatten()?;
                Some((c.corpus_id, text))
            }),
        };
        let traced = match &exact {
            Some(_) => None,
            None => corpus::traced_to(candidates, my_fps),
        };
        let read_already = version_of.as_ref().map(|(id, _)| *id);
        let mut known = Known::new(exact, version_of);
        if let Some(c) = traced
            && let (Some(v), Some(doc)) = (&c.version, c.document_id)
            && v.number < v.newest
            && let Some((_, newest)) = self.latest_snapshot(doc)?
        {
            let text = match read_already == Some(c.corpus_id) {
                true => None,
                false => self.corpus_text(c.corpus_id)?,
            };
            known = known.with_newest(c.corpus_id, text, newest);
        }
        Ok(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
    }

    /// A corpus entry of `text`, as an import makes it.
    fn entry(title: Option<String>, text: &str) -> NewCorpusEntry {
        NewCorpusEntry {
            title,
            text_hash: crate::text::text_hash(text),
            words: crate::text::word_count(text),
            signature: Signature::of(text),
            replaces_fps: Vec::new(),
        }
    }

    fn text(salt: &str) -> String {
        (0..80)
            .map(|i| format!("{salt}{i} {salt}s {salt}x{i} {salt}y {salt}z{i} {salt}w."))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn batch_import_adds_updates_and_finds_imports() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let (a, b) = (text("alpha"), text("beta"));
        let batch = vec![
            ("a.txt".to_string(), entry(None, &a), a.clone()),
            ("b.txt".to_string(), entry(None, &b), b.clone()),
            ("a.txt".to_string(), entry(None, &a), a.clone()),
        ];
        use ImportOutcome::*;
        assert_eq!(
            store.import_corpus_batch(&batch, t0()).unwrap(),
            [Added, Added, Unchanged]
        );
        assert_eq!(store.import_corpus_batch(&batch, t0()).unwrap(), [Unchanged; 3]);
        assert_eq!(store.corpus_counts().unwrap(), (2, 0));

        // Without a document to exclude, imports are found by hash and by their index.
        let sig = Signature::of(&a);
        let hash = crate::text::text_hash(&a);
        assert_eq!(store.corpus_by_hash(&hash, None).unwrap().unwrap().0, "a.txt");
        let found = store.corpus_candidates(&sig, None).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].name, "a.txt");
        assert_eq!(found[0].shared.len(), sig.fp_set.len());

        // A name given twice with different texts ends up indexed as the last one.
        let c = text("gamma");
        let batch = vec![
            ("a.txt".to_string(), entry(None, &b), b.clone()),
            ("a.txt".to_string(), entry(None, &c), c.clone()),
        ];
        assert_eq!(
            store.import_corpus_batch(&batch, t0()).unwrap(),
            [Updated, Updated]
        );
        let found = store.corpus_candidates(&Signature::of(&c), None).unwrap();
        assert_eq!(
            found.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["a.txt"]
        );
        assert!(store.corpus_candidates(&sig, None).unwrap().is_empty());
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    fn index_rows(store: &SqliteStore) -> (i64, i64) {
        let count = |t: &str| -> i64 {
            store
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        };
        (
            count("corpus_fp") + count("corpus_lsh"),
            count("corpus_fp_recent") + count("corpus_lsh_recent"),
        )
    }

    #[test]
    fn merged_and_recent_rows_are_found_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let (a, b, c) = (text("alpha"), text("beta"), text("gamma"));
        store
            .import_corpus_file("a.txt", &entry(None, &a), &a, t0())
            .unwrap();
        let tx = store.conn.transaction().unwrap();
        merge_recent(&tx).unwrap();
        tx.commit().unwrap();
        store
            .import_corpus_file("b.txt", &entry(None, &b), &b, t0())
            .unwrap();
        let (main, recent) = index_rows(&store);
        assert!(main > 0 && recent > 0, "{main} {recent}");
        let counted: (i64, i64) = store
            .conn
            .query_row("SELECT main, recent FROM corpus_index_rows", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(counted, (main, recent));

        // One in the main tables, one in the recent ones: both found.
        for (t, name) in [(&a, "a.txt"), (&b, "b.txt")] {
            let found = store.corpus_candidates(&Signature::of(t), None).unwrap();
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].name, name);
            assert_eq!(found[0].shared.len(), Signature::of(t).fp_set.len());
        }

        // A new text replaces every row of the old one, wherever they were.
        store
            .import_corpus_file("a.txt", &entry(None, &c), &c, t0())
            .unwrap();
        store
            .import_corpus_file("b.txt", &entry(None, &c), &c, t0())
            .unwrap();
        assert!(
            store
                .corpus_candidates(&Signature::of(&a), None)
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .corpus_candidates(&Signature::of(&b), None)
                .unwrap()
                .is_empty()
        );
        let found = store.corpus_candidates(&Signature::of(&c), None).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        let (main, recent) = index_rows(&store);
        assert_eq!(main, 0);
        assert_eq!(
            recent as usize,
            2 * (Signature::of(&c).fp_set.len() + index::BANDS)
        );
    }

    #[test]
    fn migration_5_keeps_an_indexed_corpus() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let a = text("alpha");
        let sig = Signature::of(&a);
        {
            // A database as 0003 left it: positions, per-document indexes.
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in &super::super::MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute(
                "INSERT INTO corpus (id, origin, name, text_hash, words, text, added_at, minhash, fp_count)
                 VALUES (7, 'import', 'a.txt', 'h', 1, ?1, 'now', ?2, ?3)",
                params![
                    compress(a.as_bytes()),
                    index::minhash_blob(&sig.minhash),
                    sig.fp_set.len() as i64
                ],
            )
            .unwrap();
            for k in index::band_keys(&sig.minhash) {
                conn.execute("INSERT OR IGNORE INTO corpus_lsh VALUES (?1, 7)", [k])
                    .unwrap();
            }
            for (h, pos) in &sig.fingerprints {
                conn.execute(
                    "INSERT OR IGNORE INTO corpus_fp VALUES (?1, 7, ?2)",
                    params![h, pos],
                )
                .unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let found = store.corpus_candidates(&sig, None).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].shared.len(), sig.fp_set.len());
        let rows = (sig.fp_set.len() + index::BANDS) as i64;
        assert_eq!(index_rows(&store), (rows, 0));
        // The counts that decide merges start from what the tables hold.
        let counted: i64 = store
            .conn
            .query_row("SELECT main FROM corpus_index_rows", [], |r| r.get(0))
            .unwrap();
        assert_eq!(counted, rows);
        // And the entry's rows are found again when its text changes.
        let b = text("beta");
        store
            .import_corpus_file("a.txt", &entry(None, &b), &b, t0())
            .unwrap();
        assert!(store.corpus_candidates(&sig, None).unwrap().is_empty());
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn probes_at_once_find_what_probes_in_turn_find() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let (a, b) = (text("alpha"), text("beta"));
        store
            .import_corpus_file("a.txt", &entry(None, &a), &a, t0())
            .unwrap();
        let tx = store.conn.transaction().unwrap();
        merge_recent(&tx).unwrap();
        tx.commit().unwrap();
        store
            .import_corpus_file("b.txt", &entry(None, &b), &b, t0())
            .unwrap();
        let mut probes = Vec::new();
        for t in [&a, &b, &text("gamma")] {
            let sig = Signature::of(t);
            probes.extend(index::band_keys(&sig.minhash).into_iter().map(Probe::Band));
            probes.extend(sig.fp_set.iter().map(|&h| Probe::Fingerprint(h)));
        }
        let in_turn: Vec<Vec<i64>> = probes.iter().map(|&p| probe(&store.conn, p).unwrap()).collect();
        assert!(in_turn.iter().filter(|ids| !ids.is_empty()).count() > probes.len() / 2);
        for _ in 0..2 {
            // The second time, on the connections kept from the first.
            assert_eq!(store.probe_at_once(&probes).unwrap(), in_turn);
        }
        assert_eq!(store.readers.idle.borrow().len(), PROBE_THREADS - 1);
    }

    #[test]
    fn rows_the_text_no_longer_yields_are_still_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let (a, b) = (text("alpha"), text("beta"));
        store
            .import_corpus_file("a.txt", &entry(None, &a), &a, t0())
            .unwrap();
        // As if the shingling had changed since the rows were written.
        store
            .conn
            .execute("UPDATE corpus SET text = ?1", [compress(b"other words entirely")])
            .unwrap();
        store
            .import_corpus_file("a.txt", &entry(None, &b), &b, t0())
            .unwrap();
        assert!(
            store
                .corpus_candidates(&Signature::of(&a), None)
                .unwrap()
                .is_empty()
        );
        let (main, recent) = index_rows(&store);
        assert_eq!(
            (main, recent as usize),
            (0, Signature::of(&b).fp_set.len() + index::BANDS)
        );
    }

    /// A check writing version `text` of document `id`, with its corpus entry.
    fn version(id: i64, text: &str) -> super::super::CheckRecord {
        super::super::CheckRecord {
            document_id: id,
            etag: None,
            last_modified: None,
            next_due_at: t0(),
            snapshot: Some(super::super::NewSnapshot::new(
                text,
                crate::compare::text_hash(text),
                b"<p>x</p>",
            )),
            corpus: Some(entry(None, text)),
            events: Vec::new(),
            targets: Vec::new(),
            template_blocks: None,
            body_hash: None,
        }
    }

    #[test]
    fn every_stored_version_is_a_candidate_and_a_text_returned_to_is_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let id = store
            .ensure_watch_document("p", "http://127.0.0.1/paper", crate::model::DocRole::Page, t0())
            .unwrap()
            .id;
        let (a, b) = (text("alpha"), text("beta"));
        for t in [&a, &b, &a] {
            store.commit_check(version(id, t), t0()).unwrap();
        }
        let versions = |t: &str| -> Vec<(i64, i64)> {
            let found = store.corpus_candidates(&Signature::of(t), None).unwrap();
            found
                .iter()
                .filter(|c| c.shared.len() == Signature::of(t).fp_set.len())
                .map(|c| c.version.as_ref().map(|v| (v.number, v.newest)).unwrap())
                .collect()
        };
        // The first text is the third version too: one entry, at its newest snapshot.
        assert_eq!(versions(&a), [(3, 3)]);
        assert_eq!(versions(&b), [(2, 3)]);
        assert_eq!(store.corpus_counts().unwrap(), (0, 1));
        // Its own versions are never a document's candidates.
        assert!(
            store
                .corpus_candidates(&Signature::of(&b), Some(id))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn migration_9_adds_the_earlier_versions_to_the_corpus() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let (a, b) = (text("alpha"), text("beta"));
        {
            // A database as 0007 left it: two versions, the corpus holding the newest.
            let conn = Connection::open(&path).unwrap();
            for (name, sql) in super::super::MIGRATIONS {
                if name.starts_with("0009") {
                    break;
                }
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO documents (id, url, watch, role, discovered_at) VALUES (1, 'http://x/p', 'p', 'page', 'now');",
            )
            .unwrap();
            for (v, t) in [(1, &a), (2, &b)] {
                conn.execute(
                    "INSERT INTO snapshots (id, document_id, version, fetched_at, text_hash, words, text)
                     VALUES (?1, 1, ?1, '2026-01-0' || ?1, ?2, 1, ?3)",
                    params![v, crate::compare::text_hash(t), compress(t.as_bytes())],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO corpus (origin, name, document_id, snapshot_id, text_hash, words, added_at)
                 VALUES ('snapshot', 'http://x/p', 1, 2, ?1, 1, 'now')",
                [crate::compare::text_hash(&b)],
            )
            .unwrap();
            let n = super::super::MIGRATIONS
                .iter()
                .position(|(n, _)| n.starts_with("0009"))
                .unwrap();
            conn.pragma_update(None, "user_version", n as i64).unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        // The earlier version waits to be indexed, as entries from before the index did.
        let unindexed = store.unindexed_corpus().unwrap();
        assert_eq!(
            unindexed.iter().filter(|(_, t)| *t == a).count(),
            1,
            "{unindexed:?}"
        );
        let signed: Vec<(i64, Signature)> = unindexed.iter().map(|(id, t)| (*id, Signature::of(t))).collect();
        store.index_corpus(&signed).unwrap();
        let found = store.corpus_candidates(&Signature::of(&a), None).unwrap();
        let v1 = found
            .iter()
            .find(|c| c.shared.len() == Signature::of(&a).fp_set.len())
            .unwrap();
        assert_eq!(v1.version.as_ref().map(|v| (v.number, v.newest)), Some((1, 2)));
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }
}
