//! `govwatch extract FILE...`: the extraction stage run on saved pages, as text or JSON lines.

use std::path::PathBuf;

use super::{CliError, Out, Result, term};
use crate::{decode, extract};

#[derive(serde::Serialize)]
struct Extracted<'a> {
    path: &'a str,
    title: Option<String>,
    published: Option<String>,
    lang: Option<String>,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The failure as a check's metrics count it (`pdf_encrypted`, `extract`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

fn print_extracted(out: &mut Out, record: &Extracted, json: bool) -> Result<()> {
    if json {
        return Ok(out.json(record, false)?);
    }
    writeln!(out, "==> {}", record.path)?;
    if let Some(t) = &record.title {
        writeln!(out, "title: {t}")?;
    }
    if let Some(d) = &record.published {
        writeln!(out, "published: {d}")?;
    }
    if let Some(l) = &record.lang {
        writeln!(out, "lang: {l}")?;
    }
    writeln!(out, "\n{}\n", record.text)?;
    Ok(())
}

pub(super) fn extract_files(files: &[PathBuf], json: bool) -> Result<()> {
    let mut out = Out::stdout();
    let mut failed = 0;
    for path in files {
        let p = path.display().to_string();
        let (doc, error, reason) = read_one(path);
        if let Some(e) = &error {
            failed += 1;
            term::warn(format_args!("{p}: {e}"));
        }
        let record = Extracted {
            path: &p,
            text: doc.text(),
            title: doc.title,
            published: doc.published.map(|d| d.to_string()),
            lang: doc.lang,
            error,
            reason,
        };
        print_extracted(&mut out, &record, json)?;
    }
    out.flush()?;
    if failed > 0 && failed == files.len() {
        return Err(CliError::Usage(format!(
            "no text extracted from {failed} file(s)"
        )));
    }
    Ok(())
}

/// One file's document, and its failure with the reason a check would count it under. A page
/// without article text still reports the metadata it has.
fn read_one(path: &std::path::Path) -> (extract::Document, Option<String>, Option<&'static str>) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return (extract::Document::default(), Some(e.to_string()), Some("extract")),
    };
    // A PDF is read as a check reads it (the default `[pdf]` limits).
    if crate::pdf::is_pdf(&bytes) {
        return match crate::pdf::extract(&bytes, &crate::pdf::Limits::default()) {
            Ok(doc) => (doc, None, None),
            Err(e) => (
                extract::Document::default(),
                Some(e.to_string()),
                Some(e.reason().as_str()),
            ),
        };
    }
    let page = match decode::decode(&bytes, None) {
        Ok(d) => d,
        Err(e) => return (extract::Document::default(), Some(e.to_string()), Some("extract")),
    };
    match extract::extract(&page.text, None) {
        Ok(doc) => (doc, None, None),
        Err(e) => {
            let message = e.to_string();
            let doc = match e {
                extract::ExtractError::NoText(doc) => *doc,
                extract::ExtractError::TooLarge(..) => extract::Document::default(),
            };
            (doc, Some(message), Some("extract"))
        }
    }
}
