//! The corpus and its index on PostgreSQL: the same entries, MinHash band keys and winnowed
//! fingerprints as src/store/corpus.rs, in the same tables but for SQLite's `_recent` ones.
//! A lookup is two queries whatever the number of keys (the probes as arrays, then the
//! candidates' rows); an import batch is one transaction of a few statements over arrays.

use std::collections::HashMap;

use postgres::Transaction;

use super::sql::Sql;
use super::{PgStore, search};
use crate::model::{Candidate, DocVersion, Timestamp};
use crate::similarity::{self as index, Signature};
use crate::store::corpus::{
    self as shared, CorpusImport, ImportOutcome, MAX_POSTINGS, NewCorpusEntry, Probe,
};
use crate::store::{Result, compress, decompress_text};

/// The fingerprint probe yields at most one entry more than [`MAX_POSTINGS`], as on SQLite: a
/// fingerprint in more is a stock phrase, and is dropped by [`shared::gather`].
const POSTINGS_LIMIT: i64 = MAX_POSTINGS as i64 + 1;

/// The columns of imported files as arrays: name, title, hash, words, text, MinHash, fingerprints.
type Columns<'a> = (
    Vec<&'a str>,
    Vec<Option<&'a str>>,
    Vec<&'a str>,
    Vec<i64>,
    Vec<Vec<u8>>,
    Vec<Vec<u8>>,
    Vec<i64>,
);

/// What a stored import is, read before a batch changes it.
struct Stored {
    id: i64,
    text_hash: String,
    minhash: Option<Vec<u8>>,
    fp_count: i64,
}

/// Which version of a stored document an entry is, from the four columns at `at` (as
/// `VERSION_COLUMNS` in src/store/corpus.rs selects them).
fn doc_version(r: &postgres::Row, at: usize) -> Option<DocVersion> {
    let number: Option<i64> = r.get(at);
    number.map(|number| DocVersion {
        number,
        stored_at: r.get(at + 1),
        published: r.get(at + 2),
        newest: r.get::<_, Option<i64>>(at + 3).unwrap_or(number),
    })
}

/// Removes an entry's index rows, found from its stored signature and `fps` (the fingerprints
/// of the text it had); if they do not find them all, every row of the entry is searched.
fn unindex(
    tx: &mut Transaction<'_>,
    id: i64,
    minhash: Option<&[u8]>,
    fp_count: i64,
    fps: &[i64],
) -> Result<()> {
    let Some(minhash) = minhash else { return Ok(()) };
    let mut bands = index::band_keys(&index::minhash_from_blob(minhash));
    bands.sort_unstable();
    bands.dedup();
    let expected = bands.len() as u64 + fp_count as u64;
    let found = tx.execute(
        "DELETE FROM corpus_lsh WHERE corpus_id = $1 AND band_key = ANY($2)",
        &[&id, &bands],
    )? + tx.execute(
        "DELETE FROM corpus_fp WHERE corpus_id = $1 AND hash = ANY($2)",
        &[&id, &fps],
    )?;
    if found != expected {
        tracing::warn!(
            corpus_id = id,
            found,
            expected,
            "corpus index rows not found from the stored text; searching the whole index"
        );
        tx.execute("DELETE FROM corpus_lsh WHERE corpus_id = $1", &[&id])?;
        tx.execute("DELETE FROM corpus_fp WHERE corpus_id = $1", &[&id])?;
    }
    Ok(())
}

/// Writes the index rows of entries that have none, one statement per table, in key order.
fn index_entries(tx: &mut impl Sql, entries: &[(i64, &Signature)]) -> Result<()> {
    let mut lsh: Vec<(i64, i64)> = Vec::with_capacity(entries.len() * index::BANDS);
    let mut fp: Vec<(i64, i64)> = Vec::new();
    for &(id, sig) in entries {
        lsh.extend(index::band_keys(&sig.minhash).into_iter().map(|k| (k, id)));
        fp.extend(sig.fp_set.iter().map(|&h| (h, id)));
    }
    for (table, key, mut rows) in [("corpus_lsh", "band_key", lsh), ("corpus_fp", "hash", fp)] {
        rows.sort_unstable();
        let (keys, ids): (Vec<i64>, Vec<i64>) = rows.into_iter().unzip();
        tx.execute(
            &format!(
                "INSERT INTO {table} ({key}, corpus_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])
                 ON CONFLICT DO NOTHING"
            ),
            &[&keys, &ids],
        )?;
    }
    Ok(())
}

impl PgStore {
    /// As [`crate::store::Store::import_corpus_batch`]: imported files `(name, entry, text)`
    /// added in one transaction, with an outcome each, in order. A name given twice is
    /// imported once and then found unchanged (or updated); its index holds the last text.
    pub fn import_corpus_batch(
        &self,
        entries: &[(String, NewCorpusEntry, String)],
        now: Timestamp,
    ) -> Result<Vec<ImportOutcome>> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        let mut stored: HashMap<String, Stored> = tx
            .query(
                "SELECT name, id, text_hash, minhash, fp_count FROM corpus
                 WHERE origin = 'import' AND name = ANY($1)",
                &[&names],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Stored {
                        id: r.get(1),
                        text_hash: r.get(2),
                        minhash: r.get(3),
                        fp_count: r.get(4),
                    },
                )
            })
            .collect();

        // Outcomes in batch order, each against what the entries before it left; then only the
        // last text of each name is written, in the order the names first appear (the order in
        // which SQLite gives new entries their ids).
        let mut current: HashMap<&str, &str> = stored
            .iter()
            .map(|(n, s)| (n.as_str(), s.text_hash.as_str()))
            .collect();
        let mut last: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut outcomes = Vec::with_capacity(entries.len());
        for (i, (name, entry, _)) in entries.iter().enumerate() {
            let outcome = match current.get(name.as_str()) {
                Some(h) if *h == entry.text_hash => ImportOutcome::Unchanged,
                Some(_) => ImportOutcome::Updated,
                None => ImportOutcome::Added,
            };
            if outcome != ImportOutcome::Unchanged {
                current.insert(name, &entry.text_hash);
                last.entry(name).and_modify(|(_, l)| *l = i).or_insert((i, i));
            }
            outcomes.push(outcome);
        }
        let mut writes: Vec<(usize, usize)> = last.into_values().collect();
        writes.sort_unstable();

        // Files stored before: their old rows found from the text they had, then the row
        // updated in place. New files: inserted (updated if another node just added the name).
        let mut ids: HashMap<&str, i64> = HashMap::new();
        let mut updates: Vec<(i64, usize)> = Vec::new();
        let mut inserts: Vec<usize> = Vec::new();
        for &(_, i) in &writes {
            let (name, entry, _) = &entries[i];
            match stored.remove(name) {
                Some(s) => {
                    unindex(
                        &mut tx,
                        s.id,
                        s.minhash.as_deref(),
                        s.fp_count,
                        &entry.replaces_fps,
                    )?;
                    ids.insert(name, s.id);
                    updates.push((s.id, i));
                }
                None => inserts.push(i),
            }
        }
        let now = now.to_string();
        let columns = |rows: &mut dyn Iterator<Item = usize>| {
            let mut cols: Columns = Default::default();
            for i in rows {
                let (name, e, text) = &entries[i];
                cols.0.push(name.as_str());
                cols.1.push(e.title.as_deref());
                cols.2.push(e.text_hash.as_str());
                cols.3.push(e.words as i64);
                cols.4.push(compress(text.as_bytes()));
                cols.5.push(index::minhash_blob(&e.signature.minhash));
                cols.6.push(e.signature.fp_set.len() as i64);
            }
            cols
        };
        if !updates.is_empty() {
            let c = columns(&mut updates.iter().map(|u| u.1));
            let update_ids: Vec<i64> = updates.iter().map(|u| u.0).collect();
            tx.execute(
                "UPDATE corpus SET title = v.t, text_hash = v.h, words = v.w, text = v.x, minhash = v.m,
                     fp_count = v.f, added_at = $8
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bytea[], $6::bytea[],
                             $7::bigint[]) AS v(id, t, h, w, x, m, f)
                 WHERE corpus.id = v.id",
                &[&update_ids, &c.1, &c.2, &c.3, &c.4, &c.5, &c.6, &now],
            )?;
        }
        if !inserts.is_empty() {
            let c = columns(&mut inserts.iter().copied());
            for r in tx.query(
                "INSERT INTO corpus (origin, name, title, text_hash, words, text, minhash, fp_count, added_at)
                 SELECT 'import', n, t, h, w, x, m, f, $8
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bytea[], $6::bytea[],
                             $7::bigint[]) WITH ORDINALITY AS v(n, t, h, w, x, m, f, o)
                 ORDER BY o
                 ON CONFLICT (name) WHERE origin = 'import' DO UPDATE SET
                     title = excluded.title, text_hash = excluded.text_hash, words = excluded.words,
                     text = excluded.text, minhash = excluded.minhash, fp_count = excluded.fp_count,
                     added_at = excluded.added_at
                 RETURNING name, id",
                &[&c.0, &c.1, &c.2, &c.3, &c.4, &c.5, &c.6, &now],
            )? {
                let name: String = r.get(0);
                let (name, _, _) = entries
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .expect("a name returned was one given");
                ids.insert(name, r.get(1));
            }
        }
        let to_index: Vec<(i64, &Signature)> = writes
            .iter()
            .map(|&(_, i)| (ids[entries[i].0.as_str()], &entries[i].1.signature))
            .collect();
        index_entries(&mut tx, &to_index)?;
        // And for search, as SQLite's triggers index an imported file's text (0012, 0015).
        let searched: Vec<search::Indexed> = writes
            .iter()
            .map(|&(_, i)| search::Indexed {
                id: -ids[entries[i].0.as_str()],
                document_id: None,
                at: &now,
                text: &entries[i].2,
            })
            .collect();
        search::index_texts(&mut tx, &searched)?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// As [`crate::store::Store::import_corpus_file`].
    pub fn import_corpus_file(
        &self,
        name: &str,
        entry: &NewCorpusEntry,
        text: &str,
        now: Timestamp,
    ) -> Result<ImportOutcome> {
        let entry = NewCorpusEntry {
            title: entry.title.clone(),
            text_hash: entry.text_hash.clone(),
            words: entry.words,
            signature: entry.signature.clone(),
            replaces_fps: entry.replaces_fps.clone(),
        };
        let batch = [(name.to_string(), entry, text.to_string())];
        Ok(self.import_corpus_batch(&batch, now)?[0])
    }

    /// As [`crate::store::Store::corpus_candidates`]: known documents sharing a band key or a
    /// fingerprint with `sig`, but `exclude_document`'s own entries and index pages; oldest first.
    pub fn corpus_candidates(
        &self,
        sig: &Signature,
        exclude_document: Option<i64>,
    ) -> Result<Vec<Candidate>> {
        let probes = shared::probes_of(sig);
        let bands: Vec<i64> = probes
            .iter()
            .filter_map(|p| match p {
                Probe::Band(k) => Some(*k),
                Probe::Fingerprint(_) => None,
            })
            .collect();
        // Every probe in one round trip: (0, band key, entry) and (1, fingerprint, entry).
        let rows = self.query(
            "SELECT 0::bigint, band_key, corpus_id FROM corpus_lsh WHERE band_key = ANY($1)
             UNION ALL
             SELECT 1::bigint, f.h, x.corpus_id FROM unnest($2::bigint[]) AS f(h)
                 CROSS JOIN LATERAL (SELECT corpus_id FROM corpus_fp WHERE hash = f.h LIMIT $3) x",
            &[&bands, &sig.fp_set, &POSTINGS_LIMIT],
        )?;
        let mut by_band: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut by_fp: HashMap<i64, Vec<i64>> = HashMap::new();
        for r in &rows {
            let (kind, key, id): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            match kind {
                0 => by_band.entry(key).or_default().push(id),
                _ => by_fp.entry(key).or_default().push(id),
            }
        }
        let found: Vec<Vec<i64>> = probes
            .iter()
            .map(|p| match p {
                Probe::Band(k) => by_band.get(k).cloned().unwrap_or_default(),
                Probe::Fingerprint(h) => by_fp.get(h).cloned().unwrap_or_default(),
            })
            .collect();
        let (mut shared_fps, ids) = shared::gather(probes, found);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.query(
            &format!(
                "SELECT c.id, c.name, c.document_id, c.title, c.text_hash, c.minhash, c.fp_count, c.origin,
                        {}
                 FROM corpus c LEFT JOIN documents d ON d.id = c.document_id
                      LEFT JOIN snapshots s ON s.id = c.snapshot_id
                 WHERE c.id = ANY($1) AND ($2::bigint IS NULL OR c.document_id IS DISTINCT FROM $2)
                   AND (d.role IS NULL OR d.role <> 'index')
                 ORDER BY c.id",
                shared::VERSION_COLUMNS
            ),
            &[&ids, &exclude_document],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let minhash: Option<Vec<u8>> = r.get(5);
                let minhash = minhash.map(|b| index::minhash_from_blob(&b)).unwrap_or_default();
                Candidate {
                    corpus_id: id,
                    name: r.get(1),
                    document_id: r.get(2),
                    title: r.get(3),
                    text_hash: r.get(4),
                    resemblance: index::resemblance(&sig.minhash, &minhash),
                    shared: shared_fps.remove(&id).unwrap_or_default(),
                    fp_count: r.get::<_, i64>(6) as usize,
                    imported: r.get::<_, &str>(7) == "import",
                    version: doc_version(r, 8),
                }
            })
            .collect())
    }

    /// As [`crate::store::Store::corpus_by_hash`]: the oldest known document with exactly this text.
    pub fn corpus_by_hash(
        &self,
        text_hash: &str,
        exclude_document: Option<i64>,
    ) -> Result<Option<(String, i64)>> {
        Ok(self
            // The entries with the hash first (by `corpus_hash`), then the oldest of them: left
            // to itself, the planner walked the whole table in id order looking for one (200 ms
            // on 100,000 entries for a text that is not there).
            .query_opt(
                "WITH same AS MATERIALIZED (
                     SELECT c.name, c.id FROM corpus c LEFT JOIN documents d ON d.id = c.document_id
                     WHERE c.text_hash = $1 AND ($2::bigint IS NULL OR c.document_id IS DISTINCT FROM $2)
                       AND (d.role IS NULL OR d.role <> 'index'))
                 SELECT name, id FROM same ORDER BY id LIMIT 1",
                &[&text_hash, &exclude_document],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    /// As [`crate::store::Store::corpus_text`]: an import's own text, or its snapshot's.
    pub fn corpus_text(&self, corpus_id: i64) -> Result<Option<String>> {
        let blob: Option<Option<Vec<u8>>> = self
            .query_opt(
                "SELECT COALESCE(c.text, s.text) FROM corpus c LEFT JOIN snapshots s ON s.id = c.snapshot_id
                 WHERE c.id = $1",
                &[&corpus_id],
            )?
            .map(|r| r.get(0));
        blob.flatten().map(|b| decompress_text(&b)).transpose()
    }

    /// As [`crate::store::Store::corpus_source`]: a known document as a verdict names it.
    pub fn corpus_source(&self, corpus_id: i64) -> Result<Option<crate::compare::corpus::Source>> {
        Ok(self
            .query_opt(
                &format!(
                    "SELECT c.name, {} FROM corpus c LEFT JOIN snapshots s ON s.id = c.snapshot_id WHERE c.id = $1",
                    shared::VERSION_COLUMNS
                ),
                &[&corpus_id],
            )?
            .map(|r| crate::compare::corpus::Source {
                name: r.get(0),
                corpus_id,
                version: doc_version(&r, 1),
            }))
    }

    /// As [`crate::store::Store::corpus_counts`]: imported files, and stored documents.
    pub fn corpus_counts(&self) -> Result<(i64, i64)> {
        let r = self.client.borrow_mut().query_one(
            "SELECT COUNT(*) FILTER (WHERE origin = 'import'), COUNT(DISTINCT document_id) FROM corpus",
            &[],
        )?;
        Ok((r.get(0), r.get(1)))
    }
}

/// An imported file's row (id, name, title, words, added_at).
fn corpus_import(r: &postgres::Row) -> CorpusImport {
    CorpusImport {
        id: r.get(0),
        name: r.get(1),
        title: r.get(2),
        words: r.get(3),
        added_at: r.get(4),
    }
}

impl PgStore {
    /// As [`crate::store::Store::corpus_imports`]: the imported files, by name.
    pub fn corpus_imports(&self) -> Result<Vec<CorpusImport>> {
        Ok(self
            .query(
                "SELECT id, name, title, words, added_at FROM corpus WHERE origin = 'import' ORDER BY name",
                &[],
            )?
            .iter()
            .map(corpus_import)
            .collect())
    }

    /// As [`crate::store::Store::corpus_import`].
    pub fn corpus_import(&self, name: &str) -> Result<Option<CorpusImport>> {
        Ok(self
            .query_opt(
                "SELECT id, name, title, words, added_at FROM corpus WHERE origin = 'import' AND name = $1",
                &[&name],
            )?
            .map(|r| corpus_import(&r)))
    }

    /// As [`crate::store::Store::remove_corpus_import`]: out of the corpus and its index in one
    /// transaction (the search rows go by trigger).
    pub fn remove_corpus_import(&self, name: &str) -> Result<bool> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let Some(r) = tx.query_opt(
            "SELECT id FROM corpus WHERE origin = 'import' AND name = $1 FOR UPDATE",
            &[&name],
        )?
        else {
            return Ok(false);
        };
        let id: i64 = r.get(0);
        // No signature to find the rows from (the store computes none): every row of the
        // entry is searched, which a rare command can afford.
        tx.execute("DELETE FROM corpus_lsh WHERE corpus_id = $1", &[&id])?;
        tx.execute("DELETE FROM corpus_fp WHERE corpus_id = $1", &[&id])?;
        tx.execute("DELETE FROM corpus WHERE id = $1", &[&id])?;
        tx.commit()?;
        Ok(true)
    }

    /// As [`crate::store::Store::unindexed_corpus`]: entries with no signature yet, with their
    /// texts.
    pub fn unindexed_corpus(&self) -> Result<Vec<(i64, String)>> {
        let ids: Vec<i64> = self
            .query("SELECT id FROM corpus WHERE minhash IS NULL ORDER BY id", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        ids.into_iter()
            .map(|id| Ok((id, self.corpus_text(id)?.unwrap_or_default())))
            .collect()
    }

    /// As [`crate::store::Store::index_corpus`]: the signatures and index rows of entries
    /// that have none, in one transaction.
    pub fn index_corpus(&self, signed: &[(i64, Signature)]) -> Result<()> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let ids: Vec<i64> = signed.iter().map(|(id, _)| *id).collect();
        let blobs: Vec<Vec<u8>> = signed
            .iter()
            .map(|(_, s)| index::minhash_blob(&s.minhash))
            .collect();
        let counts: Vec<i64> = signed.iter().map(|(_, s)| s.fp_set.len() as i64).collect();
        tx.execute(
            "UPDATE corpus SET minhash = v.m, fp_count = v.f
             FROM unnest($1::bigint[], $2::bytea[], $3::bigint[]) AS v(id, m, f)
             WHERE corpus.id = v.id",
            &[&ids, &blobs, &counts],
        )?;
        index_entries(
            &mut tx,
            &signed.iter().map(|(id, s)| (*id, s)).collect::<Vec<_>>(),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// As [`crate::store::Store::replaced_imports`]: the stored texts of the named imports
    /// whose text is not the one given.
    pub fn replaced_imports(&self, names: &[(&str, &str)]) -> Result<HashMap<String, String>> {
        let (wanted, hashes): (Vec<&str>, Vec<&str>) = names.iter().copied().unzip();
        let rows = self.query(
            "SELECT c.name, c.id FROM corpus c
             JOIN unnest($1::text[], $2::text[]) AS n(name, hash) ON n.name = c.name
             WHERE c.origin = 'import' AND c.text_hash <> n.hash",
            &[&wanted, &hashes],
        )?;
        let mut out = HashMap::new();
        for r in rows {
            let (name, id): (String, i64) = (r.get(0), r.get(1));
            out.insert(name, self.corpus_text(id)?.unwrap_or_default());
        }
        Ok(out)
    }
}
