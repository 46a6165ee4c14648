//! Document links on HTML index pages: the listing's own links, not its navigation, footer,
//! sidebar or teasers; resolved, normalised and deduplicated.

use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::normalize;

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

/// File types that are not pages govwatch can read.
const SKIP_EXTENSIONS: &[&str] = &[
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".zip", ".rar", ".jpg", ".jpeg", ".png",
    ".gif", ".svg", ".mp4", ".mp3", ".css", ".js", ".xml", ".rss",
];

/// Links to documents listed on an index page, in page order, at most `limit`. A page that marks
/// its main content (`<main>`, `role="main"`) is read there only: sites that mark it keep their
/// menus, promotions and teaser rails outside, whatever those are called. A page that does not,
/// or whose main part lists nothing, is read whole.
pub fn document_links(html: &str, base: &Url, limit: usize) -> Vec<Url> {
    let doc = Html::parse_document(html);
    let main = Selector::parse("main, [role=main]").expect("static selector");
    if let Some(region) = doc.select(&main).next() {
        let found = links_in(region, base, limit);
        if !found.is_empty() {
            return found;
        }
    }
    links_in(doc.root_element(), base, limit)
}

fn links_in(root: ElementRef<'_>, base: &Url, limit: usize) -> Vec<Url> {
    let a = Selector::parse("a[href]").expect("static selector");
    let mut out: Vec<Url> = Vec::new();
    let base_norm = normalize(base.clone());
    for el in root.select(&a) {
        if out.len() >= limit {
            break;
        }
        if in_chrome(el) || !looks_like_title(&el.text().collect::<String>()) {
            continue;
        }
        let Some(href) = el.value().attr("href") else {
            continue;
        };
        let Ok(url) = base.join(href.trim()) else { continue };
        if !matches!(url.scheme(), "http" | "https") || !same_site(&url, base) {
            continue;
        }
        let path = url.path().to_ascii_lowercase();
        if SKIP_EXTENSIONS.iter().any(|e| path.ends_with(e)) {
            continue;
        }
        let url = normalize(url);
        if url == base_norm || out.contains(&url) {
            continue;
        }
        out.push(url);
    }
    out
}

fn in_chrome(el: ElementRef<'_>) -> bool {
    el.ancestors().filter_map(ElementRef::wrap).any(|a| {
        let v = a.value();
        if CHROME_TAGS.contains(&v.name()) || v.attr("role").is_some_and(|r| r == "navigation") {
            return true;
        }
        let names =
            format!("{} {}", v.attr("class").unwrap_or(""), v.attr("id").unwrap_or("")).to_ascii_lowercase();
        CHROME_NAMES.iter().any(|n| names.contains(n))
    })
}

/// Document links carry a headline; "Next", "More", "1", "English" do not.
fn looks_like_title(text: &str) -> bool {
    let text = text.trim();
    let cjk = text
        .chars()
        .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
        .count();
    cjk >= 6 || (text.split_whitespace().count() >= 3 && text.chars().count() >= 15)
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
                "https://www.example.gov/docs/b.html"
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
        let empty_main = html.replace(">China's Positions on Global Digital Governance<", ">Read<");
        assert_eq!(links(&empty_main).len(), 2);
    }
}
