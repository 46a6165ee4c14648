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
        let bytes = std::fs::read(path).map_err(|e| e.to_string());
        // A PDF is read as a check reads it (the default `[pdf]` limits); its failure is
        // reported with its reason, as a check's is.
        if let Ok(b) = &bytes
            && crate::pdf::is_pdf(b)
        {
            let (doc, error) = match crate::pdf::extract(b, &crate::pdf::Limits::default()) {
                Ok(doc) => (doc, None),
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
                reason: error.as_ref().map(|e| e.reason().as_str()),
                error: error.map(|e| e.to_string()),
            };
            print_extracted(&mut out, &record, json)?;
            continue;
        }
        let result = bytes
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
            reason: error.is_some().then_some("extract"),
            error,
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
