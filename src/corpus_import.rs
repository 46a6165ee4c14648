//! `govwatch corpus import`: known documents from plain-text or HTML files, or folders of them,
//! each identified by its file name.

use std::path::{Path, PathBuf};

use crate::compare::{self, index::Signature};
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

/// The text of one file: HTML is extracted like a fetched page, anything else read as text.
pub fn read_document(path: &Path) -> Result<(Option<String>, String), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} bytes; the limit is {MAX_FILE_BYTES}",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
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
    let text = compare::normalize(&doc.text());
    if text.is_empty() {
        return Err("no text in the file".into());
    }
    Ok((doc.title, text))
}

/// Imports every file under `paths`. A file that cannot be read is reported and skipped; only a
/// database failure stops the import.
pub fn import(store: &mut Store, paths: &[PathBuf]) -> Result<Vec<FileResult>, StoreError> {
    let mut results = Vec::new();
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
        match read_document(&path) {
            Ok((title, text)) => {
                let words = compare::word_count(&text);
                let entry = NewCorpusEntry {
                    title,
                    text_hash: compare::text_hash(&text),
                    words,
                    signature: Signature::of(&text),
                };
                let outcome = store.import_corpus_file(&name, &entry, &text)?;
                results.push(FileResult::Imported { name, outcome, words });
            }
            Err(reason) => results.push(FileResult::Skipped { path, reason }),
        }
    }
    Ok(results)
}
