//! The `corpus` table: known documents, with their shingle sets for similarity lookups.
//! Imported files are identified by file name; a stored document has one entry, its newest text.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, Store, compress};

/// A known document as the comparison stage sees it.
#[derive(Debug, Clone)]
pub struct CorpusEntry {
    pub id: i64,
    /// The file name of an import, or the URL of a stored document.
    pub name: String,
    pub document_id: Option<i64>,
    pub title: Option<String>,
    pub text_hash: String,
    pub shingles: Vec<u64>,
}

pub struct NewCorpusEntry {
    pub title: Option<String>,
    pub text_hash: String,
    pub words: usize,
    pub shingles: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Added,
    /// Same file name, same text: nothing to do.
    Unchanged,
    /// Same file name, new text: the entry now holds the new text.
    Updated,
}

fn shingle_blob(shingles: &[u64]) -> Vec<u8> {
    shingles.iter().flat_map(|h| h.to_le_bytes()).collect()
}

fn shingles_from_blob(blob: &[u8]) -> Vec<u64> {
    blob.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks_exact(8)")))
        .collect()
}

pub(super) fn upsert_snapshot(
    tx: &Transaction<'_>,
    document_id: i64,
    snapshot_id: i64,
    e: &NewCorpusEntry,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO corpus (origin, name, document_id, snapshot_id, title, text_hash, words, shingles, added_at)
         SELECT 'snapshot', url, id, ?2, ?3, ?4, ?5, ?6, ?7 FROM documents WHERE id = ?1
         ON CONFLICT (document_id) WHERE origin = 'snapshot' DO UPDATE SET
             snapshot_id = excluded.snapshot_id, title = excluded.title, text_hash = excluded.text_hash,
             words = excluded.words, shingles = excluded.shingles",
        params![
            document_id,
            snapshot_id,
            e.title,
            e.text_hash,
            e.words as i64,
            shingle_blob(&e.shingles),
            now
        ],
    )?;
    Ok(())
}

impl Store {
    /// Every known document except those of `exclude_document`, oldest first: on a tie, the
    /// document seen first is the source.
    pub fn corpus_entries(&self, exclude_document: Option<i64>) -> Result<Vec<CorpusEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.name, c.document_id, c.title, c.text_hash, c.shingles FROM corpus c
             LEFT JOIN documents d ON d.id = c.document_id
             WHERE c.document_id IS NOT ?1 AND (d.role IS NULL OR d.role != 'index')
             ORDER BY c.id",
        )?;
        let rows = stmt.query_map([exclude_document], |r| {
            Ok(CorpusEntry {
                id: r.get(0)?,
                name: r.get(1)?,
                document_id: r.get(2)?,
                title: r.get(3)?,
                text_hash: r.get(4)?,
                shingles: shingles_from_blob(&r.get::<_, Vec<u8>>(5)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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
        tx.execute(
            "INSERT INTO corpus (origin, name, title, text_hash, words, shingles, text, added_at)
             VALUES ('import', ?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) WHERE origin = 'import' DO UPDATE SET
                 title = excluded.title, text_hash = excluded.text_hash, words = excluded.words,
                 shingles = excluded.shingles, text = excluded.text, added_at = excluded.added_at",
            params![
                name,
                entry.title,
                entry.text_hash,
                entry.words as i64,
                shingle_blob(&entry.shingles),
                compress(text.as_bytes()),
                crate::timefmt::now()
            ],
        )?;
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
}
