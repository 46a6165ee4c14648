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
}

pub(super) fn extract_files(files: &[PathBuf], json: bool) -> Result<()> {
    let mut out = Out::stdout();
    let mut failed = 0;
    for path in files {
        let p = path.display().to_string();
        let result = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| decode::decode(&b, None).map_err(|e| e.to_string()))
            .map(|d| extract::extract(&d.text, None));
        // A page without article text still reports the metadata it has.
        let (doc, error) = match result {
            Ok(Ok(doc)) => (doc, None),
            Ok(Err(e)) => {
                let message = e.to_string();
                let doc = match e {
                    extract::ExtractError::NoText(doc) => *doc,
                    extract::ExtractError::TooLarge(..) => extract::Document::default(),
                };
                (doc, Some(message))
            }
            Err(e) => (extract::Document::default(), Some(e)),
        };
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
        };
        if json {
            out.json(&record, false)?;
        } else {
            writeln!(out, "==> {p}")?;
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
        }
    }
    out.flush()?;
    if failed > 0 && failed == files.len() {
        return Err(CliError::Usage(format!(
            "no text extracted from {failed} file(s)"
        )));
    }
    Ok(())
}
