//! PDF documents (white papers, position papers, regulations) read as a page is: text in
//! paragraphs, title, date and language, or a reason they cannot be read.
//!
//! The text comes from Poppler's `pdftotext` run as a child process ([`run`]), chosen by
//! measurement over the Rust crates (see the README's "PDF documents"): it reads Chinese in
//! fonts that are not embedded (with poppler-data's CMaps), survives broken files, and a crash
//! or a runaway allocation in it is the child's, bounded by [`Limits`]. What it gives (pages,
//! flows, blocks, lines with their boxes: [`layout`]) is made into a reader's text here
//! ([`reflow`]): running heads and page numbers out, paragraphs joined.

mod layout;
mod reflow;
mod run;

use std::time::Duration;

pub use run::Limits;

use crate::extract::{self, Document, Published};
use crate::model::FailureReason;

/// Why a PDF gave no text. Each says it once, in words for the analyst.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PdfError {
    #[error("unreadable PDF: no text layer in its {0} page(s) (a scanned document?)")]
    NoText(usize),
    #[error("unreadable PDF: it is encrypted and needs a password")]
    Encrypted,
    #[error(
        "unreadable PDF: {0}% of its text is unmapped glyphs (U+FFFD or `(cid:N)`): its fonts give no characters"
    )]
    Garbled(u32),
    #[error("PDF longer than pdf.max_pages ({0} pages)")]
    TooManyPages(usize),
    #[error("PDF holds more than {0} characters of text")]
    TooMuchText(usize),
    #[error("reading the PDF took longer than pdf.timeout ({})", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("reading the PDF needed more than pdf.max_memory ({} MiB)", .0 / (1024 * 1024))]
    Memory(u64),
    #[error("damaged PDF: the file ends before its end marker (%%EOF): truncated")]
    Truncated,
    #[error("damaged PDF: {0}")]
    Damaged(String),
    #[error("damaged PDF: pdftotext died on it (signal {signal}){}", memory.map(|m| format!(", perhaps at pdf.max_memory ({} MiB)", m / (1024 * 1024))).unwrap_or_default())]
    Crashed { signal: i32, memory: Option<u64> },
    #[error("cannot read PDFs: {0} (install poppler-utils)")]
    NotInstalled(String),
}

impl PdfError {
    /// The reason as `govwatch_check_failures_total` counts it.
    pub fn reason(&self) -> FailureReason {
        match self {
            PdfError::NoText(_) => FailureReason::PdfNoText,
            PdfError::Encrypted => FailureReason::PdfEncrypted,
            PdfError::Garbled(_) => FailureReason::PdfGarbled,
            PdfError::TooManyPages(_)
            | PdfError::TooMuchText(_)
            | PdfError::Timeout(_)
            | PdfError::Memory(_) => FailureReason::PdfLimit,
            PdfError::Truncated | PdfError::Damaged(_) | PdfError::Crashed { .. } => {
                FailureReason::PdfDamaged
            }
            PdfError::NotInstalled(_) => FailureReason::Extract,
        }
    }
}

/// A body is a PDF when it starts with `%PDF-` (after a byte-order mark or whitespace, which
/// some servers prepend), whatever it was served as.
pub fn is_pdf(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .take(1024)
        .position(|b| !b.is_ascii_whitespace() && *b != 0)
        .unwrap_or(body.len());
    body[start..].starts_with(b"%PDF-")
}

/// Whether a body that is not a PDF was meant to be one: served as `application/pdf`, or from a
/// URL whose path ends in `.pdf`. An HTML error page in its place is a failure, not the
/// document's new text.
pub fn expected(url: &url::Url, content_type: Option<&str>) -> Option<&'static str> {
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    if matches!(mime.as_deref(), Some("application/pdf" | "application/x-pdf")) {
        return Some("served as application/pdf");
    }
    url.path()
        .to_ascii_lowercase()
        .ends_with(".pdf")
        .then_some("its URL ends in .pdf")
}

/// The text of a PDF that `is_pdf`: paragraphs, title, date and language.
pub fn extract(body: &[u8], limits: &Limits) -> Result<Document, PdfError> {
    if !has_end_marker(body) {
        return Err(PdfError::Truncated);
    }
    let layout = run::run(body, limits)?;
    let reflowed = reflow::reflow(&layout);
    let pages = layout.pages.len();
    tracing::debug!(pages, margin_lines = reflowed.removed, "read a PDF");
    let chars: usize = reflowed
        .blocks
        .iter()
        .map(|b| b.text.chars().filter(|c| !c.is_whitespace()).count())
        .sum();
    // A scan may carry a few words of text (a stamp, a scanner's footer): under ten characters
    // a page is no text layer.
    if chars < 10 * pages.max(1) {
        return Err(PdfError::NoText(pages));
    }
    let garbled = garbled_share(&reflowed.blocks, chars);
    if garbled > 0.05 {
        return Err(PdfError::Garbled((garbled * 100.0).round() as u32));
    }
    let title = layout
        .title
        .as_deref()
        .and_then(meaningful_title)
        .or_else(|| first_heading(&reflowed.blocks));
    let published = [layout.created.as_deref(), layout.modified.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|d| extract::dates::parse_machine(d).map(Published::Day))
        .or_else(|| printed_date(&reflowed.first_page));
    let lang = extract::guess_lang(&reflowed.blocks);
    Ok(Document {
        title,
        published,
        lang,
        canonical: None,
        blocks: reflowed.blocks,
    })
}

/// A complete PDF ends with `%%EOF` (trailing whitespace or junk of a few bytes aside). A file
/// cut short by a dropped connection or a full disk reads, in Poppler, as its first pages: a
/// change that is no change.
fn has_end_marker(body: &[u8]) -> bool {
    let tail = &body[body.len().saturating_sub(2048)..];
    tail.windows(5).any(|w| w == b"%%EOF")
}

/// The share of characters that are unmapped glyphs: U+FFFD, the private use area Poppler
/// passes through, and `(cid:N)` as some tools write them.
fn garbled_share(blocks: &[extract::Block], chars: usize) -> f64 {
    let mut bad = 0usize;
    for b in blocks {
        bad += b
            .text
            .chars()
            .filter(|c| {
                *c == '\u{FFFD}' || ('\u{E000}'..='\u{F8FF}').contains(c) || (c.is_control() && *c != '\n')
            })
            .count();
        bad += b.text.matches("(cid:").count() * 8;
    }
    bad as f64 / chars.max(1) as f64
}

/// A document information Title worth showing: not a placeholder a program wrote ("untitled",
/// "(anonymous)", "Microsoft Word - draft3.docx", a file name).
fn meaningful_title(t: &str) -> Option<String> {
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = t.to_lowercase();
    let placeholder = [
        "untitled",
        "(anonymous)",
        "(unspecified)",
        "title",
        "document",
        "slide 1",
        "no title",
    ]
    .contains(&lower.as_str())
        || lower.starts_with("microsoft word - ")
        || lower.starts_with("microsoft powerpoint - ")
        || [
            ".doc", ".docx", ".pdf", ".odt", ".rtf", ".indd", ".tmp", ".txt", ".ppt", ".pptx", ".xls",
            ".xlsx",
        ]
        .iter()
        .any(|ext| lower.ends_with(ext));
    let has_letter = t.chars().any(char::is_alphabetic);
    (!placeholder && has_letter && t.chars().count() <= 300).then_some(t)
}

/// The first block when it reads as a heading: a short line with no full stop.
fn first_heading(blocks: &[extract::Block]) -> Option<String> {
    let first = blocks.first()?;
    let t = first.text.trim();
    let short = t.chars().count() <= 200;
    let sentence = t.ends_with(['.', '。', ',', '，', ';', '；']);
    (short && !sentence && t.chars().any(char::is_alphabetic)).then(|| t.to_string())
}

/// A date printed on the first page ("14 November 2022", "2023年5月25日"), where the metadata
/// has none.
fn printed_date(first_page: &str) -> Option<Published> {
    let head: String = first_page.chars().take(4000).collect();
    extract::dates::find_date(&head, true).map(|f| Published::Day(f.date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_is_told_by_its_first_bytes() {
        assert!(is_pdf(b"%PDF-1.7\n..."));
        assert!(is_pdf(b"\xEF\xBB\xBF%PDF-1.4"));
        assert!(is_pdf(b"\r\n  %PDF-1.4"));
        assert!(!is_pdf(b"<!doctype html><title>Not found</title>"));
        assert!(!is_pdf(b""));
        assert!(!is_pdf(b"PDF-1.4"));
    }

    #[test]
    fn a_pdf_is_expected_from_its_type_or_its_url() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(expected(&u("https://gov.example/a/paper.PDF"), Some("text/html")).is_some());
        assert!(expected(&u("https://gov.example/a/paper"), Some("application/pdf; qs=1")).is_some());
        assert!(expected(&u("https://gov.example/a/paper.html"), Some("text/html")).is_none());
        assert!(expected(&u("https://gov.example/a/paper"), None).is_none());
    }

    #[test]
    fn placeholder_titles_give_way() {
        assert_eq!(
            meaningful_title("  China's  Position "),
            Some("China's Position".into())
        );
        for junk in [
            "untitled",
            "(anonymous)",
            "Microsoft Word - draft3.docx",
            "paper_v2.pdf",
            "123",
        ] {
            assert_eq!(meaningful_title(junk), None, "{junk}");
        }
    }

    #[test]
    fn a_truncated_file_has_no_end_marker() {
        assert!(has_end_marker(b"%PDF-1.4\n...trailer\n%%EOF\n"));
        assert!(has_end_marker(b"%PDF-1.4\n...%%EOF\r\n\x00\x00"));
        assert!(!has_end_marker(b"%PDF-1.4\n1 0 obj << /Type /Catalog"));
    }

    #[test]
    fn the_date_printed_on_the_first_page() {
        let d = printed_date("Position Paper\nBeijing, 14 November 2022\nThe text").unwrap();
        assert_eq!(d.to_string(), "2022-11-14");
        let d = printed_date("关于数据安全的立场文件\n2023年5月25日\n正文").unwrap();
        assert_eq!(d.to_string(), "2023-05-25");
    }
}
