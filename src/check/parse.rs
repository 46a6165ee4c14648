//! The page as fetched, decoded and extracted: its blocks, metadata and (for a listing) the
//! documents it lists. A PDF (whatever it was served as) is read by [`crate::pdf`] into the same
//! blocks and metadata. CPU work on owned data, run on a `cpu` thread, never in a store turn.

use crate::config::{Watch, WatchKind};
use crate::discover::{self, Listed};
use crate::fetch::Page;
use crate::model::{DocRole, FailureReason};
use crate::store::DocumentRow;
use crate::{decode, extract, pdf};

/// Why a fetched body gave nothing to compare: in a word for metrics, in words for people.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseFailure {
    pub reason: FailureReason,
    pub why: String,
}

impl ParseFailure {
    fn extract(why: impl ToString) -> ParseFailure {
        ParseFailure {
            reason: FailureReason::Extract,
            why: why.to_string(),
        }
    }
}

impl std::fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// A fetched page, decoded and extracted, ready to compare and store.
pub struct Parsed {
    pub page: Page,
    pub encoding: &'static str,
    /// The text's blocks (paragraphs, headings, items), in order; for an index, its links.
    pub blocks: Vec<String>,
    /// The blocks among them the page gives as headings: where each change is, in a mail.
    pub headings: Vec<String>,
    pub title: Option<String>,
    pub published: Option<String>,
    pub lang: Option<String>,
    pub canonical: Option<String>,
    /// Listings: the documents (and child sitemaps) they list.
    pub links: Vec<Listed>,
    /// One of the pass's `fetch.concurrency` slots, released once the page is stored.
    pub(crate) slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Parsed {
    /// A page whose stored text is the URLs it lists (none, for a document, until its blocks
    /// are filled in); metadata is filled in by the caller where the page has any.
    pub fn listing(page: Page, encoding: &'static str, links: Vec<Listed>) -> Parsed {
        Parsed {
            encoding,
            blocks: links.iter().map(|l| l.url.to_string()).collect(),
            headings: Vec::new(),
            title: None,
            published: None,
            lang: None,
            canonical: None,
            links,
            page,
            slot: None,
        }
    }
}

pub fn parse_page(
    page: Page,
    doc: &DocumentRow,
    watch: &Watch,
    pdf: &pdf::Limits,
) -> Result<Parsed, ParseFailure> {
    let listing = (doc.role == DocRole::Index).then_some(watch.kind);
    parse_as(page, listing, watch.max_documents, pdf)
}

/// Decodes and extracts a page: as a listing of that kind (at most `limit` documents), or with
/// `None` as a document. A PDF is read within `pdf`'s limits.
pub fn parse_as(
    page: Page,
    listing_kind: Option<WatchKind>,
    limit: usize,
    pdf: &pdf::Limits,
) -> Result<Parsed, ParseFailure> {
    let listing = listing_kind.is_some();
    if pdf::is_pdf(&page.body) {
        if listing {
            return Err(ParseFailure::extract(
                "a PDF, not a listing: watch it as kind = \"page\", or link it from one",
            ));
        }
        return parse_pdf(page, pdf);
    }
    if !listing && let Some(why) = pdf::expected(&page.url, page.content_type.as_deref()) {
        return Err(not_pdf(&page, why));
    }
    // Feeds and sitemaps are XML (or JSON, or gzip) that their parsers decode themselves.
    let xml_links = match listing_kind {
        Some(WatchKind::Feed) => Some(discover::feed_entries(&page.body, &page.url, limit)),
        Some(WatchKind::Sitemap) => Some(discover::sitemap_entries(&page.body, &page.url, limit)),
        _ => None,
    };
    if let Some(links) = xml_links {
        return Ok(Parsed::listing(
            page,
            "utf-8",
            links.map_err(ParseFailure::extract)?,
        ));
    }

    let decoded = decode::decode(&page.body, page.content_type.as_deref()).map_err(ParseFailure::extract)?;
    let extracted = if is_plain(page.content_type.as_deref()) {
        Ok(extract::Document::from_plain_text(&decoded.text))
    } else {
        extract::extract(&decoded.text, Some(&page.url))
    };
    let (extracted, links) = if listing {
        // A listing's meaning is the documents it links to: they are its stored text, and a
        // listing with no prose of its own is still a good check.
        let links = discover::listing_items(&decoded.text, &page.url, limit);
        (extracted.ok(), links)
    } else {
        (Some(extracted.map_err(ParseFailure::extract)?), Vec::new())
    };
    let mut parsed = Parsed::listing(page, decoded.encoding.name(), links);
    if let Some(d) = extracted {
        if !listing {
            parsed.headings = headings(&d.blocks);
            parsed.blocks = d.blocks.into_iter().map(|b| b.text).collect();
        }
        parsed.title = d.title;
        parsed.published = d.published.map(|p| p.to_string());
        parsed.lang = d.lang;
        parsed.canonical = d.canonical;
    }
    Ok(parsed)
}

/// A PDF read into blocks and metadata, as a page is.
fn parse_pdf(page: Page, limits: &pdf::Limits) -> Result<Parsed, ParseFailure> {
    let doc = pdf::extract(&page.body, limits).map_err(|e| ParseFailure {
        reason: e.reason(),
        why: e.to_string(),
    })?;
    let mut parsed = Parsed::listing(page, "pdf", Vec::new());
    parsed.headings = headings(&doc.blocks);
    parsed.blocks = doc.blocks.into_iter().map(|b| b.text).collect();
    parsed.title = doc.title;
    parsed.published = doc.published.map(|p| p.to_string());
    parsed.lang = doc.lang;
    Ok(parsed)
}

/// Something else where a PDF was expected: said with what it is, an HTML page's title if any.
fn not_pdf(page: &Page, expected: &str) -> ParseFailure {
    let what = match decode::decode(&page.body, page.content_type.as_deref()) {
        Ok(d) if d.text.trim_start().starts_with('<') => {
            let title = extract::extract(&d.text, Some(&page.url))
                .ok()
                .and_then(|d| d.title);
            match title {
                Some(t) => format!("an HTML page (\"{t}\")"),
                None => "an HTML page".to_string(),
            }
        }
        _ => format!("{} bytes that are not a PDF", page.body.len()),
    };
    ParseFailure {
        reason: FailureReason::NotPdf,
        why: format!("expected a PDF ({expected}), got {what}"),
    }
}

fn is_plain(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/plain"))
}

fn headings(blocks: &[extract::Block]) -> Vec<String> {
    blocks
        .iter()
        .filter(|b| b.kind == extract::BlockKind::Heading)
        .map(|b| b.text.clone())
        .collect()
}

/// The headings of a body served before (a stored version's, read again): its stored text does
/// not mark them. None for plain text, or for a body that no longer reads.
pub fn headings_of(body: &[u8], content_type: Option<&str>, url: &url::Url) -> Vec<String> {
    // A PDF's headings would cost running pdftotext again; a change in it is placed without.
    if is_plain(content_type) || pdf::is_pdf(body) {
        return Vec::new();
    }
    let Ok(decoded) = decode::decode(body, content_type) else {
        return Vec::new();
    };
    extract::extract(&decoded.text, Some(url))
        .map(|d| headings(&d.blocks))
        .unwrap_or_default()
}

/// A body's identity: 128-bit xxh3, hex.
pub fn body_hash(body: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(body))
}
