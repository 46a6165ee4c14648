//! `govwatch corpus import | list | show | remove`: the documents known beforehand, which
//! verdicts cite as sources.

use std::path::{Path, PathBuf};

use super::{CliError, CorpusCommand, Out, Result, open_store, term};
use crate::config::Config;
use crate::corpus_import::{self, FileResult};
use crate::model::{Clock, SystemClock};
use crate::notify;
use crate::store::{ImportOutcome, Store};

/// `govwatch corpus …`: each subcommand on the store of the config at `config_path`.
pub(super) fn run(command: CorpusCommand, config_path: &Path) -> Result<()> {
    match command {
        CorpusCommand::Import { paths } => corpus_import(config_path, &paths),
        CorpusCommand::List { json } => corpus_list(&open_store(&Config::load(config_path)?)?, json),
        CorpusCommand::Show { name } => corpus_show(&open_store(&Config::load(config_path)?)?, &name),
        CorpusCommand::Remove { names } => {
            corpus_remove(&mut open_store(&Config::load(config_path)?)?, &names)
        }
    }
}

fn corpus_import(config_path: &Path, paths: &[PathBuf]) -> Result<()> {
    let config = Config::load(config_path)?;
    let mut store = open_store(&config)?;
    corpus_import::index_missing(&mut store)?;
    let results = corpus_import::import_with(&mut store, paths, SystemClock.now(), &config.pdf)?;
    let mut out = Out::stdout();
    let (mut added, mut skipped) = (0, 0);
    for r in &results {
        match r {
            FileResult::Imported { name, outcome, words } => {
                let what = match outcome {
                    ImportOutcome::Added => {
                        added += 1;
                        "added"
                    }
                    ImportOutcome::Updated => {
                        added += 1;
                        "updated"
                    }
                    ImportOutcome::Unchanged => "already known",
                };
                writeln!(out, "{what:<14} {name} ({words} words)")?;
            }
            FileResult::Skipped { path, reason } => {
                skipped += 1;
                term::warn(format_args!("skipped        {}: {reason}", path.display()));
            }
        }
    }
    let (imports, stored) = store.corpus_counts()?;
    writeln!(
        out,
        "{added} added or updated, {skipped} skipped; the corpus holds {imports} imported and {stored} stored documents"
    )?;
    out.flush()?;
    Ok(())
}

fn corpus_list(store: &Store, json: bool) -> Result<()> {
    let rows = store.corpus_imports()?;
    let mut out = Out::stdout();
    if json {
        out.json(&rows, true)?;
        out.flush()?;
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(out, "no files imported (govwatch corpus import PATH...)")?;
    }
    for c in &rows {
        writeln!(
            out,
            "{}  {:>6} words  imported {}  {}",
            c.name,
            c.words,
            c.added_at,
            c.title
                .as_deref()
                .map(|t| notify::one_line(t, 80))
                .unwrap_or_default()
        )?;
    }
    let (imports, stored) = store.corpus_counts()?;
    writeln!(
        out,
        "{imports} imported files; the corpus also holds {stored} stored documents"
    )?;
    out.flush()?;
    Ok(())
}

fn unknown_import(name: &str) -> CliError {
    CliError::Usage(format!(
        "`{name}` is not an imported file (see govwatch corpus list)"
    ))
}

fn corpus_show(store: &Store, name: &str) -> Result<()> {
    let entry = store.corpus_import(name)?.ok_or_else(|| unknown_import(name))?;
    let text = store.corpus_text(entry.id)?.unwrap_or_default();
    let mut out = Out::stdout();
    writeln!(
        out,
        "{} imported {}, {} words",
        entry.name, entry.added_at, entry.words
    )?;
    if let Some(t) = &entry.title {
        writeln!(out, "title: {}", notify::one_line(t, usize::MAX))?;
    }
    writeln!(out, "\n{text}")?;
    out.flush()?;
    Ok(())
}

/// Every name is checked before anything is removed: a typo in the list removes nothing.
fn corpus_remove(store: &mut Store, names: &[String]) -> Result<()> {
    for n in names {
        if store.corpus_import(n)?.is_none() {
            return Err(unknown_import(n));
        }
    }
    let mut out = Out::stdout();
    for n in names {
        if store.remove_corpus_import(n)? {
            writeln!(out, "removed {n}")?;
        }
    }
    out.flush()?;
    Ok(())
}
