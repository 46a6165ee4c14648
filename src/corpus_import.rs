//! `govwatch corpus import`: known documents from plain-text, HTML or PDF files, or folders of
//! them, each identified by its file name.

use std::path::{Path, PathBuf};

use crate::model::Timestamp;
use crate::similarity::Signature;
use crate::store::{ImportOutcome, NewCorpusEntry, Store, StoreError};
use crate::{decode, extract};

/// Larger files are not documents anyone wrote by hand.
const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// What happened to one file.
#[derive(Debug)]
pub enum FileResult {
    Imported {
        name: String,
        outcome: ImportOutcome,
        words: usize,
    },
    Skipped {
        path: PathBuf,
        reason: String,
    },
}

/// Every regular file under `paths` (folders recursively, hidden files left out), sorted.
pub fn collect_files(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
    let mut out = Vec::new();
    for p in paths {
        let mut stack = vec![p.clone()];
        let mut found = Vec::new();
        while let Some(path) = stack.pop() {
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => match std::fs::read_dir(&path) {
                    Ok(rd) => {
                        for entry in rd.flatten() {
                            let hidden = entry.file_name().to_string_lossy().starts_with('.');
                            if !hidden {
                                stack.push(entry.path());
                            }
                        }
                    }
                    Err(e) => out.push(Err((path, e.to_string()))),
                },
                Ok(_) => found.push(path),
                Err(e) => out.push(Err((path, e.to_string()))),
            }
        }
        found.sort();
        out.extend(found.into_iter().map(Ok));
    }
    out
}

/// The text of one file: HTML is extracted like a fetched page, a PDF read like a fetched PDF
/// (within `pdf`'s limits), anything else read as text.
pub fn read_document(path: &Path, pdf: &crate::pdf::Limits) -> Result<(Option<String>, String), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} bytes; the limit is {MAX_FILE_BYTES}",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if crate::pdf::is_pdf(&bytes) {
        let doc = crate::pdf::extract(&bytes, pdf).map_err(|e| e.to_string())?;
        return Ok((doc.title.clone(), crate::text::normalize(&doc.text())));
    }
    let decoded = decode::decode(&bytes, None).map_err(|e| e.to_string())?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let looks_html = matches!(ext.as_str(), "html" | "htm" | "xhtml")
        || decoded.text.trim_start().get(..15).is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            s.starts_with("<!doctype html") || s.starts_with("<html")
        });
    let doc = if looks_html {
        extract::extract(&decoded.text, None).map_err(|e| e.to_string())?
    } else {
        extract::Document::from_plain_text(&decoded.text)
    };
    let text = crate::text::normalize(&doc.text());
    if text.is_empty() {
        return Err("no text in the file".into());
    }
    Ok((doc.title, text))
}

/// The corpus entry of a document's text: its hash, word count and index signature.
pub fn entry(title: Option<String>, text: &str) -> NewCorpusEntry {
    NewCorpusEntry {
        title,
        text_hash: crate::text::text_hash(text),
        words: crate::text::word_count(text),
        signature: Signature::of(text),
        replaces_fps: Vec::new(),
    }
}

/// Signs and indexes corpus entries from before the index existed; their number. Run by the
/// commands that compare with the corpus, not on every open: it is work, and it is the caller's
/// (the store never computes a signature).
pub fn index_missing(store: &mut Store) -> Result<usize, StoreError> {
    let unsigned = store.unindexed_corpus()?;
    if unsigned.is_empty() {
        return Ok(0);
    }
    let signed: Vec<(i64, Signature)> = unsigned
        .into_iter()
        .map(|(id, text)| (id, Signature::of(&text)))
        .collect();
    store.index_corpus(&signed)?;
    tracing::info!(documents = signed.len(), "indexed corpus documents");
    Ok(signed.len())
}

/// Files written per transaction, and the text held waiting for it: one commit per file made a
/// large import slow, and a batch is small next to the index it goes into. A commit re-writes
/// the pages of the index's recent tables that its rows land on, which on a large corpus is all
/// of them, so larger batches write less per file (see `MERGE_FRACTION` in src/store/corpus.rs).
pub const BATCH_FILES: usize = 2000;
const BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Imports every file under `paths`, in batches of one transaction each. A file that cannot be
/// read is reported and skipped; only a database failure stops the import (the batch it was in
/// is not written). Files are stamped as added at `now`.
pub fn import(store: &mut Store, paths: &[PathBuf], now: Timestamp) -> Result<Vec<FileResult>, StoreError> {
    import_with(store, paths, now, &crate::pdf::Limits::default())
}

/// [`import`], reading PDFs within `pdf`'s limits (the config's `[pdf]`).
pub fn import_with(
    store: &mut Store,
    paths: &[PathBuf],
    now: Timestamp,
    pdf: &crate::pdf::Limits,
) -> Result<Vec<FileResult>, StoreError> {
    let mut results = Vec::new();
    // Files read and waiting for their batch's transaction, with their place in `results`.
    let mut batch: Vec<(String, NewCorpusEntry, String)> = Vec::new();
    let mut places: Vec<usize> = Vec::new();
    let mut bytes = 0;
    let flush = |store: &mut Store,
                 batch: &mut Vec<(String, NewCorpusEntry, String)>,
                 places: &mut Vec<usize>,
                 results: &mut Vec<FileResult>|
     -> Result<(), StoreError> {
        // A file whose text changed has old index rows, found by the old text's fingerprints.
        let names: Vec<(&str, &str)> = batch
            .iter()
            .map(|(n, e, _)| (n.as_str(), e.text_hash.as_str()))
            .collect();
        let replaced = store.replaced_imports(&names)?;
        for (name, entry, _) in batch.iter_mut() {
            if let Some(old) = replaced.get(name.as_str()) {
                entry.replaces_fps = Signature::of(old).fp_set;
            }
        }
        let outcomes = store.import_corpus_batch(batch, now)?;
        for (place, outcome) in places.drain(..).zip(outcomes) {
            if let FileResult::Imported { outcome: o, .. } = &mut results[place] {
                *o = outcome;
            }
        }
        batch.clear();
        Ok(())
    };
    for file in collect_files(paths) {
        let path = match file {
            Ok(p) => p,
            Err((path, reason)) => {
                results.push(FileResult::Skipped { path, reason });
                continue;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        match read_document(&path, pdf) {
            Ok((title, text)) => {
                let entry = entry(title, &text);
                // The outcome is known once the batch is written.
                results.push(FileResult::Imported {
                    name: name.clone(),
                    outcome: ImportOutcome::Added,
                    words: entry.words,
                });
                places.push(results.len() - 1);
                bytes += text.len();
                batch.push((name, entry, text));
                if batch.len() >= BATCH_FILES || bytes >= BATCH_BYTES {
                    flush(store, &mut batch, &mut places, &mut results)?;
                    bytes = 0;
                }
            }
            Err(reason) => results.push(FileResult::Skipped { path, reason }),
        }
    }
    if !batch.is_empty() {
        flush(store, &mut batch, &mut places, &mut results)?;
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
    }

    #[test]
    fn import_in_batches_keeps_order_and_skips_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        let n = BATCH_FILES + 3;
        for i in 0..n {
            std::fs::write(
                files.join(format!("{i:04}.txt")),
                format!("Paper number {i} states a position of its own."),
            )
            .unwrap();
        }
        std::fs::write(files.join("0100a.txt"), "   ").unwrap();
        let mut store = Store::open(&dir.path().join("g.db")).unwrap();
        let results = import(&mut store, std::slice::from_ref(&files), t0()).unwrap();
        assert_eq!(results.len(), n + 1);
        let names: Vec<String> = results
            .iter()
            .map(|r| match r {
                FileResult::Imported { name, outcome, .. } => {
                    assert_eq!(*outcome, ImportOutcome::Added);
                    name.clone()
                }
                FileResult::Skipped { path, .. } => format!("skipped {}", path.display()),
            })
            .collect();
        assert_eq!(names[100], "0100.txt");
        assert!(names[101].starts_with("skipped") && names[101].ends_with("0100a.txt"));
        assert_eq!(names[n], format!("{:04}.txt", n - 1));
        assert_eq!(store.corpus_counts().unwrap(), (n as i64, 0));
        // The same files again add nothing.
        let again = import(&mut store, &[files], t0()).unwrap();
        assert!(again.iter().all(|r| matches!(
            r,
            FileResult::Imported {
                outcome: ImportOutcome::Unchanged,
                ..
            } | FileResult::Skipped { .. }
        )));
    }
}
