//! `govwatch history | show | diff`: the stored versions of one page, named by watch, URL or
//! title.

use super::{CliError, Out, Result};
use crate::compare;
use crate::config::Config;
use crate::notify;
use crate::store::{DocumentRow, Store};

/// A watch name (its own page), a URL, or a document's title or the unique beginning of one,
/// tried in that order: a name or URL is exact, a title is what people remember.
fn resolve(store: &Store, config: &Config, target: &str) -> Result<DocumentRow> {
    let url = match config.watches.iter().find(|w| w.name == target) {
        Some(w) => w.url.to_string(),
        None => target.to_string(),
    };
    let found = match store.document_by_url(&url)? {
        Some(d) => Some(d),
        None => match url::Url::parse(&url) {
            Ok(u) => store.document_by_url(crate::discover::normalize(u).as_str())?,
            Err(_) => None,
        },
    };
    if let Some(d) = found {
        return Ok(d);
    }
    let url = resolve_title(store, target)?;
    store
        .document_by_url(&url)?
        .ok_or_else(|| CliError::Usage(format!("`{target}`: {url} is no longer stored")))
}

/// The URL of the one document whose title is `target`, or else starts with it (case and
/// runs of spaces aside). Several documents: the error lists them, so the user can pick.
fn resolve_title(store: &Store, target: &str) -> Result<String> {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let want = fold(target);
    if want.is_empty() {
        return Err(CliError::Usage(
            "name a document: a watch name, a URL or a title".into(),
        ));
    }
    let titled = store.document_titles()?;
    let exact: Vec<_> = titled.iter().filter(|d| fold(&d.title) == want).collect();
    let matches = if exact.is_empty() {
        titled
            .iter()
            .filter(|d| fold(&d.title).starts_with(&want))
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [] => Err(CliError::Usage(format!(
            "`{target}` is not a watch name, a stored URL or the beginning of a stored title"
        ))),
        [one] => Ok(one.url.clone()),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|d| format!("  {}  {}", notify::one_line(&d.title, 80), d.url))
                .collect();
            Err(CliError::Usage(format!(
                "`{target}` names {} documents; say which (by URL or more of the title):\n{}",
                many.len(),
                list.join("\n")
            )))
        }
    }
}

/// A version as `history` prints it (`v3`), or its bare number.
pub(super) fn version_label(s: &str) -> Result<i64> {
    let digits = s.strip_prefix(['v', 'V']).unwrap_or(s);
    match digits.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(CliError::Usage(format!(
            "`{s}` is not a version: use a label `history` prints (v1, v2, …)"
        ))),
    }
}

pub(super) fn history(store: &Store, config: &Config, target: &str) -> Result<()> {
    let doc = resolve(store, config, target)?;
    let versions = store.snapshots(doc.id)?;
    let mut out = Out::stdout();
    writeln!(out, "{} ({}, watch {})", doc.url, doc.role.as_str(), doc.watch)?;
    if let Some(err) = &doc.last_error {
        writeln!(out, "last check failed ({} in a row): {err}", doc.failures)?;
    }
    if versions.is_empty() {
        writeln!(out, "no versions stored yet")?;
    }
    for v in versions {
        writeln!(
            out,
            "  v{:<3} {}  {:>6} words  {}  {}",
            v.version,
            v.fetched_at,
            v.words,
            &v.text_hash[..12],
            v.title
                .as_deref()
                .map(|t| notify::one_line(t, 80))
                .unwrap_or_default()
        )?;
    }
    out.flush()?;
    Ok(())
}

pub(super) fn show(store: &Store, config: &Config, target: &str, version: Option<i64>) -> Result<()> {
    let doc = resolve(store, config, target)?;
    let versions = store.snapshots(doc.id)?;
    let meta = match version {
        Some(v) => versions.iter().find(|m| m.version == v),
        None => versions.last(),
    }
    .ok_or_else(|| CliError::Usage(format!("{} has no such version stored", doc.url)))?;
    let text = store.snapshot_text(doc.id, meta.version)?.unwrap_or_default();
    let mut out = Out::stdout();
    writeln!(out, "{} v{} fetched {}", doc.url, meta.version, meta.fetched_at)?;
    if let Some(t) = &meta.title {
        // One line, so that a title cannot print a line of its own that looks like ours.
        writeln!(out, "title: {}", notify::one_line(t, usize::MAX))?;
    }
    if let Some(p) = &meta.published {
        writeln!(out, "published: {p}")?;
    }
    writeln!(out, "\n{text}")?;
    out.flush()?;
    Ok(())
}

pub(super) fn diff(
    store: &Store,
    config: &Config,
    target: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<()> {
    let doc = resolve(store, config, target)?;
    let versions = store.snapshots(doc.id)?;
    let mut out = Out::stdout();
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(_), None) | (None, Some(_)) => {
            return Err(CliError::Usage("give both FROM and TO, or neither".into()));
        }
        (None, None) if versions.len() < 2 => {
            writeln!(
                out,
                "{}: {} version(s) stored, nothing to compare",
                doc.url,
                versions.len()
            )?;
            out.flush()?;
            return Ok(());
        }
        (None, None) => (
            versions[versions.len() - 2].version,
            versions[versions.len() - 1].version,
        ),
    };
    let text = |v: i64| -> Result<String> {
        store
            .snapshot_text(doc.id, v)?
            .ok_or_else(|| CliError::Usage(format!("{} has no version {v}", doc.url)))
    };
    let (a, b) = (text(from)?, text(to)?);
    write!(
        out,
        "{}",
        compare::diff::unified(
            &a,
            &b,
            &format!("{} v{from}", doc.url),
            &format!("{} v{to}", doc.url)
        )
    )?;
    // Sentences edited rather than replaced, word by word, as `changes` and the mail show them.
    let altered = compare::statements::classify(&compare::diff::changes(&a, &b)).altered;
    if !altered.is_empty() {
        writeln!(out, "\nwords changed:")?;
        for a in &altered {
            writeln!(out, "~ {}", a.diff)?;
        }
    }
    out.flush()?;
    Ok(())
}
