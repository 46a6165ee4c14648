//! The `corpus` table and its index (`corpus_lsh`, `corpus_fp`): known documents, found again by
//! resemblance (MinHash LSH bands) and containment (winnowed fingerprints).
//! Imported files are identified by file name; a stored document has one entry, its newest text.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, Store, compress, decompress_text};
use crate::compare::index::{self, Signature};

/// A known document that shares something with a new text, with what it shares.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub corpus_id: i64,
    /// The file name of an import, or the URL of a stored document.
    pub name: String,
    pub document_id: Option<i64>,
    pub title: Option<String>,
    pub text_hash: String,
    /// Estimated Jaccard resemblance of the two texts' shingle sets.
    pub resemblance: f64,
    /// Fingerprint hashes the two texts share.
    pub shared: Vec<i64>,
    /// The known document's distinct fingerprint count.
    pub fp_count: usize,
    /// Imported by the user (as opposed to a stored page).
    pub imported: bool,
}

impl Candidate {
    /// The share of the known document that the new text reproduces.
    pub fn share_of_known(&self) -> f64 {
        if self.fp_count == 0 {
            0.0
        } else {
            (self.shared.len() as f64 / self.fp_count as f64).min(1.0)
        }
    }

    /// The share of the new text (with `my_fps` fingerprints) that is the known document's.
    pub fn share_of_new(&self, my_fps: usize) -> f64 {
        if my_fps == 0 {
            0.0
        } else {
            (self.shared.len() as f64 / my_fps as f64).min(1.0)
        }
    }
}

/// The largest share of an imported document that a text reproduces.
pub fn imported_share(candidates: &[Candidate]) -> f64 {
    candidates
        .iter()
        .filter(|c| c.imported)
        .map(Candidate::share_of_known)
        .fold(0.0, f64::max)
}

pub struct NewCorpusEntry {
    pub title: Option<String>,
    pub text_hash: String,
    pub words: usize,
    pub signature: Signature,
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
const MAX_POSTINGS: usize = 200;

/// Writes an entry's index rows, replacing any it had.
fn index_entry(tx: &Transaction<'_>, corpus_id: i64, sig: &Signature) -> Result<()> {
    tx.execute("DELETE FROM corpus_lsh WHERE corpus_id = ?1", [corpus_id])?;
    tx.execute("DELETE FROM corpus_fp WHERE corpus_id = ?1", [corpus_id])?;
    {
        let mut lsh =
            tx.prepare_cached("INSERT OR IGNORE INTO corpus_lsh (band_key, corpus_id) VALUES (?1, ?2)")?;
        for key in index::band_keys(&sig.minhash) {
            lsh.execute(params![key, corpus_id])?;
        }
        let mut fp =
            tx.prepare_cached("INSERT OR IGNORE INTO corpus_fp (hash, corpus_id, pos) VALUES (?1, ?2, ?3)")?;
        for (h, pos) in &sig.fingerprints {
            fp.execute(params![h, corpus_id, pos])?;
        }
    }
    tx.execute(
        "UPDATE corpus SET minhash = ?2, fp_count = ?3 WHERE id = ?1",
        params![
            corpus_id,
            index::minhash_blob(&sig.minhash),
            sig.fp_set.len() as i64
        ],
    )?;
    Ok(())
}

pub(super) fn upsert_snapshot(
    tx: &Transaction<'_>,
    document_id: i64,
    snapshot_id: i64,
    e: &NewCorpusEntry,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO corpus (origin, name, document_id, snapshot_id, title, text_hash, words, added_at)
         SELECT 'snapshot', url, id, ?2, ?3, ?4, ?5, ?6 FROM documents WHERE id = ?1
         ON CONFLICT (document_id) WHERE origin = 'snapshot' DO UPDATE SET
             snapshot_id = excluded.snapshot_id, title = excluded.title, text_hash = excluded.text_hash,
             words = excluded.words",
        params![
            document_id,
            snapshot_id,
            e.title,
            e.text_hash,
            e.words as i64,
            now
        ],
    )?;
    let id: i64 = tx.query_row(
        "SELECT id FROM corpus WHERE origin = 'snapshot' AND document_id = ?1",
        [document_id],
        |r| r.get(0),
    )?;
    index_entry(tx, id, &e.signature)
}

impl Store {
    /// Known documents sharing a band key or a fingerprint with `sig`, except `exclude_document`'s
    /// own entry and index pages. Oldest first, so that on a tie the document seen first is the
    /// source.
    pub fn corpus_candidates(
        &self,
        sig: &Signature,
        exclude_document: Option<i64>,
    ) -> Result<Vec<Candidate>> {
        let mut shared: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut by_band: Vec<i64> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT corpus_id FROM corpus_lsh WHERE band_key = ?1")?;
            for key in index::band_keys(&sig.minhash) {
                for id in stmt.query_map([key], |r| r.get::<_, i64>(0))? {
                    by_band.push(id?);
                }
            }
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT DISTINCT corpus_id FROM corpus_fp WHERE hash = ?1 LIMIT {}",
                MAX_POSTINGS + 1
            ))?;
            for h in &sig.fp_set {
                let ids: Vec<i64> = stmt
                    .query_map([h], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                if ids.len() > MAX_POSTINGS {
                    continue;
                }
                for id in ids {
                    shared.entry(id).or_default().push(*h);
                }
            }
        }
        let mut ids: Vec<i64> = shared.keys().copied().chain(by_band).collect();
        ids.sort_unstable();
        ids.dedup();

        let mut stmt = self.conn.prepare_cached(
            "SELECT c.name, c.document_id, c.title, c.text_hash, c.minhash, c.fp_count, c.origin
             FROM corpus c LEFT JOIN documents d ON d.id = c.document_id
             WHERE c.id = ?1 AND (?2 IS NULL OR c.document_id IS NOT ?2) AND (d.role IS NULL OR d.role != 'index')",
        )?;
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
                    ))
                })
                .optional()?;
            let Some((name, document_id, title, text_hash, minhash, fp_count, origin)) = row else {
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
            });
        }
        Ok(out)
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
    ) -> Result<ImportOutcome> {
        let tx = self.conn.transaction()?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT text_hash FROM corpus WHERE origin = 'import' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let outcome = match existing {
            Some(h) if h == entry.text_hash => return Ok(ImportOutcome::Unchanged),
            Some(_) => ImportOutcome::Updated,
            None => ImportOutcome::Added,
        };
        let id: i64 = tx.query_row(
            "INSERT INTO corpus (origin, name, title, text_hash, words, text, added_at)
             VALUES ('import', ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (name) WHERE origin = 'import' DO UPDATE SET
                 title = excluded.title, text_hash = excluded.text_hash, words = excluded.words,
                 text = excluded.text, added_at = excluded.added_at
             RETURNING id",
            params![
                name,
                entry.title,
                entry.text_hash,
                entry.words as i64,
                compress(text.as_bytes()),
                crate::timefmt::now()
            ],
            |r| r.get(0),
        )?;
        index_entry(&tx, id, &entry.signature)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// How many documents the corpus holds, by origin.
    pub fn corpus_counts(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(origin = 'import'), 0), COALESCE(SUM(origin = 'snapshot'), 0) FROM corpus",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Indexes corpus entries that have no signature yet (entries from before the index existed).
    pub(super) fn index_missing(&mut self) -> Result<usize> {
        let ids: Vec<i64> = {
            let mut stmt = self.conn.prepare("SELECT id FROM corpus WHERE minhash IS NULL")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for &id in &ids {
            let text = self.corpus_text(id)?.unwrap_or_default();
            let tx = self.conn.transaction()?;
            index_entry(&tx, id, &Signature::of(&text))?;
            tx.commit()?;
        }
        Ok(ids.len())
    }
}
