//! Document links on HTML index pages, told by the page's structure: a listing is the repeated
//! items of the page's main list (sibling elements built alike, each holding a link), not its
//! navigation, footer, sidebar, "most read" rail or pagination; resolved, normalised and
//! deduplicated.
//!
//! What a link's text says is no evidence: "Notice" or "International Scholarships" is as much a
//! document of a ministry's listing as a long headline, and "Next page of documents" is not one.
//! What is evidence: links built alike (the same tag and class path from the content region
//! down) form a group; a group is a listing when its links point at documents (a file or slug
//! rather than a section root) or its items carry dates; of the groups, the one with the most
//! such items wins, helped when it sits in a container named for content and when its links lie
//! under the listing's own path.

use std::collections::HashMap;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::{Listed, normalize};

/// Ancestors that hold navigation rather than the listing.
const CHROME_TAGS: &[&str] = &["nav", "header", "footer", "aside", "form", "menu"];

/// Class or id fragments of chrome blocks. Matched as substrings of the lowercased attribute.
const CHROME_NAMES: &[&str] = &[
    "nav",
    "menu",
    "footer",
    "header",
    "breadcrumb",
    "sidebar",
    "side-bar",
    "related",
    "trending",
    "popular",
    "most-read",
    "mostread",
    "share",
    "social",
    "cookie",
    "newsletter",
    "subscribe",
    "pagination",
    "pager",
    "paging",
    "lang",
    "login",
    "advert",
    "promo",
    "banner",
    "crumb",
    "toolbar",
    "skip",
];

/// Class fragments of containers that hold a page's content: a group inside one is more likely
/// the listing than one beside it.
const CONTENT_NAMES: &[&str] = &[
    "main", "content", "list", "news", "article", "post", "result", "item", "entr", "doc", "notice",
];

/// Class names that mark one item of a list apart from its siblings (its place or its state),
/// not another kind of element: `li.first` and `tr.odd` are items of the same list as `li`.
const STATE_CLASSES: &[&str] = &[
    "odd",
    "even",
    "first",
    "last",
    "active",
    "current",
    "on",
    "new",
    "hot",
    "top",
    "alt",
    "selected",
    "highlight",
    "featured",
    "sticky",
    "clearfix",
    "cf",
];

/// File types that are not pages govwatch can read. PDFs are (white papers, position papers:
/// see [`crate::pdf`]).
const SKIP_EXTENSIONS: &[&str] = &[
    ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".zip", ".rar", ".jpg", ".jpeg", ".png", ".gif",
    ".svg", ".mp4", ".mp3", ".css", ".js", ".xml", ".rss",
];

/// Links looked at on one page, at most: a listing of many thousands is read in bounded time
/// (the body is already capped by `fetch.max_body`), its first items kept.
pub const MAX_LINKS_SCANNED: usize = 50_000;

/// Dates as listings print them beside an item: 2023-05-25, 2023/5/25, 2023.05.25, 2023年5月,
/// 25 May 2023, May 25, 2023, 25.05.2023.
static DATE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)\b(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}|\b\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}\b|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(?:19|20)\d{2}|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+(?:19|20)\d{2}",
    )
    .expect("static regex")
});

/// Links to documents listed on an index page, in page order, at most `limit`.
pub fn document_links(html: &str, base: &Url, limit: usize) -> Vec<Url> {
    listing_items(html, base, limit)
        .into_iter()
        .map(|l| l.url)
        .collect()
}

/// The items of an index page's listing (URL and link text), in page order, at most `limit`. A
/// page that marks its main content (`<main>`, `role="main"`) is read there only: sites that
/// mark it keep their menus, promotions and teaser rails outside, whatever those are called. A
/// page that does not, or whose main part lists nothing, is read whole.
pub fn listing_items(html: &str, base: &Url, limit: usize) -> Vec<Listed> {
    let doc = Html::parse_document(html);
    let main = Selector::parse("main, [role=main]").expect("static selector");
    if let Some(region) = doc.select(&main).next() {
        let found = items_in(region, base, limit);
        if !found.is_empty() {
            return found;
        }
    }
    items_in(doc.root_element(), base, limit)
}

/// One link that may be an item of the listing.
struct Candidate {
    url: Url,
    text: String,
    /// The tag and class path from the region down to the link: links built alike share it.
    path: String,
    /// It points at a document, or its item carries a date.
    strong: bool,
    under_listing: bool,
    in_content: bool,
}

fn items_in(region: ElementRef<'_>, base: &Url, limit: usize) -> Vec<Listed> {
    let candidates = candidates(region, base);
    let Some(path) = dominant(&candidates) else {
        return Vec::new();
    };
    // The same document linked twice in one item (its picture, then its title): the first
    // link with text names it, whichever group that link is in.
    let mut titles: HashMap<&Url, &str> = HashMap::new();
    for c in candidates.iter().filter(|c| !c.text.is_empty()) {
        titles.entry(&c.url).or_insert(&c.text);
    }
    let mut seen = std::collections::HashSet::new();
    candidates
        .iter()
        .filter(|c| c.path == path && seen.insert(&c.url))
        .take(limit)
        .map(|c| Listed {
            title: titles.get(&c.url).map(|t| t.to_string()),
            ..Listed::document(c.url.clone())
        })
        .collect()
}

/// The path of the group that is the listing: the best scored among groups with at least one
/// strong item; `None` when no group has one (an empty listing: no document rather than its
/// navigation).
fn dominant(candidates: &[Candidate]) -> Option<String> {
    // path -> (score, has a strong item, first position); each URL counted once per group.
    let mut groups: HashMap<&str, (f64, bool, usize)> = HashMap::new();
    let mut counted: std::collections::HashSet<(&str, &Url)> = std::collections::HashSet::new();
    for (i, c) in candidates.iter().enumerate() {
        let g = groups.entry(c.path.as_str()).or_insert((0.0, false, i));
        if !counted.insert((c.path.as_str(), &c.url)) {
            continue;
        }
        let weight = if c.strong { 1.0 } else { 0.2 } + if c.under_listing { 0.5 } else { 0.0 };
        g.0 += weight * if c.in_content { 1.5 } else { 1.0 };
        g.1 |= c.strong;
    }
    groups
        .into_iter()
        .filter(|(_, (_, strong, _))| *strong)
        // Highest score; on a tie, the group that comes first on the page.
        .max_by(|a, b| a.1.0.total_cmp(&b.1.0).then(b.1.2.cmp(&a.1.2)))
        .map(|(p, _)| p.to_string())
}

fn candidates(region: ElementRef<'_>, base: &Url) -> Vec<Candidate> {
    let a = Selector::parse("a[href]").expect("static selector");
    let base_norm = normalize(base.clone());
    let listing_dir = {
        let p = base.path();
        p[..p.rfind('/').map_or(0, |i| i + 1)].to_string()
    };
    let mut out = Vec::new();
    let mut classes = SiblingClasses::default();
    for el in region.select(&a).take(MAX_LINKS_SCANNED) {
        let Some(url) = document_url(el, base, &base_norm) else {
            continue;
        };
        let Some(path) = structure_path(el, region, &mut classes) else {
            continue;
        };
        let under_listing = url.path().len() > listing_dir.len() && url.path().starts_with(&listing_dir);
        out.push(Candidate {
            strong: looks_like_document(&url) || item_has_date(el),
            under_listing,
            in_content: in_content(el, region),
            text: link_text(el),
            path,
            url,
        });
    }
    out
}

/// The link's target if it may be a document of this site: http(s), same site, a page type
/// govwatch reads, not the listing itself.
fn document_url(el: ElementRef<'_>, base: &Url, base_norm: &Url) -> Option<Url> {
    let href = el.value().attr("href")?;
    let url = base.join(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !same_site(&url, base) {
        return None;
    }
    let path = url.path().to_ascii_lowercase();
    if SKIP_EXTENSIONS.iter().any(|e| path.ends_with(e)) {
        return None;
    }
    let url = normalize(url);
    (url != *base_norm).then_some(url)
}

/// The link's place in the page as tag and class names from the region down, or `None` when
/// it sits in navigation, a header, a footer, a sidebar or another chrome block. A `header` or
/// `footer` inside an `article` or `section` is that article's own (a post's title line, its
/// category links), not the page's.
fn structure_path(
    el: ElementRef<'_>,
    region: ElementRef<'_>,
    classes: &mut SiblingClasses,
) -> Option<String> {
    let chain: Vec<ElementRef<'_>> = std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .take_while(|n| n.id() != region.id())
        .collect();
    let sectioned = chain
        .iter()
        .position(|n| matches!(n.value().name(), "article" | "section"));
    let mut parts = Vec::with_capacity(chain.len());
    for (depth, node) in chain.iter().enumerate() {
        let v = node.value();
        let own_part = sectioned.is_some_and(|s| depth < s);
        let scoped = |chrome: &str| own_part && (chrome.contains("header") || chrome.contains("footer"));
        if (CHROME_TAGS.contains(&v.name()) && !scoped(v.name()))
            || v.attr("role").is_some_and(|r| r == "navigation")
        {
            return None;
        }
        let names =
            format!("{} {}", v.attr("class").unwrap_or(""), v.attr("id").unwrap_or("")).to_ascii_lowercase();
        if CHROME_NAMES.iter().any(|n| names.contains(n) && !scoped(n)) {
            return None;
        }
        parts.push(format!("{}.{}", v.name(), classes.of(*node).join(".")));
    }
    parts.reverse();
    Some(parts.join(">"))
}

/// The classes an element is grouped by. Items of one list are built alike but marked apart:
/// `tr.odd`/`tr.even`, `li.first`, Drupal's `views-row-3`, WordPress's `category-news` on one
/// post and `category-jobs` on the next. So an element among siblings of its tag drops place
/// and state marks, and where three or more of them share classes it is known by those alone.
/// An element alone of its tag keeps all its classes: `ul.list1` and `ul.top5` are two lists.
/// Siblings that share no class (`div.list-head`, `div.news-list`, `div.box`) are different
/// blocks and keep theirs.
#[derive(Default)]
struct SiblingClasses {
    /// (parent, tag) -> how many children of the parent have the tag, and the classes all of
    /// them share.
    siblings: HashMap<(ego_tree::NodeId, String), (usize, Vec<String>)>,
}

impl SiblingClasses {
    fn of(&mut self, el: ElementRef<'_>) -> Vec<String> {
        let v = el.value();
        let Some(parent) = el.parent() else {
            return v.classes().map(str::to_string).collect();
        };
        let tag = v.name().to_string();
        let (count, common) = self
            .siblings
            .entry((parent.id(), tag.clone()))
            .or_insert_with(|| {
                let mut alike = parent
                    .children()
                    .filter_map(ElementRef::wrap)
                    .filter(|s| s.value().name() == tag);
                let first: Vec<String> = alike.next().map_or_else(Vec::new, |f| {
                    f.value()
                        .classes()
                        .filter(|c| !is_mark(c))
                        .map(str::to_string)
                        .collect()
                });
                let (mut n, mut common) = (1, first);
                for s in alike {
                    n += 1;
                    common.retain(|c| s.value().classes().any(|x| x == c));
                }
                (n, common)
            })
            .clone();
        let mut classes: Vec<String> = match count {
            1 => v.classes().map(str::to_string).collect(),
            n if n >= 3 && !common.is_empty() => common,
            _ => v.classes().filter(|c| !is_mark(c)).map(str::to_string).collect(),
        };
        classes.sort_unstable();
        classes
    }
}

/// A class that marks an item's place or state: a word of [`STATE_CLASSES`], or a name whose
/// last part is one or a number (`views-row-odd`, `item-3`).
fn is_mark(class: &str) -> bool {
    let lower = class.to_ascii_lowercase();
    let last = lower.rsplit(['-', '_']).next().unwrap_or("");
    STATE_CLASSES.contains(&lower.as_str())
        || STATE_CLASSES.contains(&last)
        || lower.ends_with(|c: char| c.is_ascii_digit())
}

/// A container between the link and the region is named for content.
fn in_content(el: ElementRef<'_>, region: ElementRef<'_>) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .take_while(|a| a.id() != region.id())
        .any(|a| {
            let v = a.value();
            let names = format!("{} {}", v.attr("class").unwrap_or(""), v.attr("id").unwrap_or(""))
                .to_ascii_lowercase();
            CONTENT_NAMES.iter().any(|n| names.contains(n))
        })
}

/// A URL that names a document rather than a section: a file (`.html`, `.php`), a slug or a
/// number in its last segment, or a query (`?id=3`). `/eng/`, `/contact/`, `/legal/terms` are
/// sections and pages of the site's frame.
fn looks_like_document(url: &Url) -> bool {
    if url.query().is_some() {
        return true;
    }
    let last = url.path().trim_end_matches('/').rsplit('/').next().unwrap_or("");
    last.contains('.') || last.contains(['-', '_']) || last.chars().any(|c| c.is_ascii_digit())
}

/// The item around the link (its parent, or the parent's parent) prints a date.
fn item_has_date(el: ElementRef<'_>) -> bool {
    el.ancestors().filter_map(ElementRef::wrap).take(2).any(|item| {
        let mut text = String::new();
        for t in item.text() {
            text.push_str(t);
            if text.len() > 400 {
                break;
            }
        }
        DATE.is_match(&text)
    })
}

fn link_text(el: ElementRef<'_>) -> String {
    let text: String = el.text().collect::<Vec<_>>().join(" ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return el.value().attr("title").unwrap_or("").trim().to_string();
    }
    text
}

fn same_site(a: &Url, b: &Url) -> bool {
    let strip = |u: &Url| {
        u.host_str()
            .unwrap_or("")
            .trim_start_matches("www.")
            .to_ascii_lowercase()
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document links found on `html`, listed at https://example.gov/docs/.
    fn links(html: &str) -> Vec<String> {
        let base = Url::parse("https://example.gov/docs/").unwrap();
        document_links(html, &base, 10)
            .iter()
            .map(Url::to_string)
            .collect()
    }

    #[test]
    fn listing_links_without_chrome() {
        let html = r#"<html><body>
            <nav><a href="/about">About the ministry and its work</a></nav>
            <div class="list"><ul>
              <li><a href="/docs/a.html?utm_source=x#top">China's Positions on Global Digital Governance</a></li>
              <li><a href="https://www.example.gov/docs/b.html">Global Initiative on Data Security text</a></li>
              <li><a href="https://other.org/c.html">A story on another site entirely here</a></li>
              <li><a href="/docs/a.html">China's Positions on Global Digital Governance</a></li>
              <li><a href="/docs/file.pdf">The full paper as a PDF download</a></li>
            </ul><div class="pagination"><a href="/p2">Next page of documents please</a></div></div>
            <footer><a href="/contact">Contact us at the ministry today</a></footer>
        </body></html>"#;
        assert_eq!(
            links(html),
            [
                "https://example.gov/docs/a.html",
                "https://www.example.gov/docs/b.html",
                "https://example.gov/docs/file.pdf"
            ]
        );
    }

    #[test]
    fn a_marked_main_part_is_the_listing() {
        let html = r#"<html><body>
            <div class="rail"><a href="/news/teaser.html">A teaser story from the rail beside</a></div>
            <main><ul>
              <li><a href="/docs/a.html">China's Positions on Global Digital Governance</a></li>
            </ul></main>
            <div class="more"><a href="/news/other.html">Another teaser story below the fold</a></div>
        </body></html>"#;
        assert_eq!(links(html), ["https://example.gov/docs/a.html"]);
        // A main part with nothing listed in it: the page is read whole.
        let empty_main = html.replace(r#"<a href="/docs/a.html">"#, r#"<a href="/">"#);
        assert_eq!(links(&empty_main).len(), 1);
    }

    #[test]
    fn short_titles_are_items_and_siblings_alike_are_one_list() {
        let html = r#"<html><body>
            <div class="topbar"><a href="/">Home</a> <a href="/contact/">Contact</a> <a href="/sitemap/">Site map</a></div>
            <div class="box"><ul>
              <li class="first"><a href="/docs/notice-1.html">Notice</a><span>2024-03-01</span></li>
              <li class="odd"><a href="/docs/scholarships/">International Scholarships</a><span>2024-02-27</span></li>
              <li class="even"><a href="/docs/2024/0226.html">Circular</a><span>2024-02-26</span></li>
            </ul></div>
            <div class="box2"><h3>Most read</h3><ol>
              <li><a href="/news/old-story-on-trade.html">A story read by many people this week</a></li>
            </ol></div>
        </body></html>"#;
        assert_eq!(
            links(html),
            [
                "https://example.gov/docs/notice-1.html",
                "https://example.gov/docs/scholarships/",
                "https://example.gov/docs/2024/0226.html",
            ]
        );
    }

    #[test]
    fn a_page_without_a_list_of_documents_lists_nothing() {
        let html = r#"<html><body>
            <div class="top"><a href="/">Home</a> | <a href="/about/">About</a> | <a href="/contact/">Contact</a></div>
            <div class="list"><p>No documents have been published yet.</p></div>
        </body></html>"#;
        assert!(links(html).is_empty());
        assert!(links("").is_empty());
    }

    #[test]
    fn titles_come_from_the_link_with_text() {
        let base = Url::parse("https://example.gov/docs/").unwrap();
        let html = r#"<div class="list">
            <div class="card"><a href="/docs/a.html"><img src="a.jpg"></a><h3><a href="/docs/a.html">Notice</a></h3></div>
            <div class="card"><a href="/docs/b.html"><img src="b.jpg"></a><h3><a href="/docs/b.html">Circular on fees</a></h3></div>
        </div>"#;
        let got = listing_items(html, &base, 10);
        let titles: Vec<_> = got.iter().map(|l| l.title.as_deref()).collect();
        // The picture links are a group of their own, as good as the title links': whichever
        // is taken, each document is listed once and named by the link with text.
        assert_eq!(titles, [Some("Notice"), Some("Circular on fees")]);
    }
}
