//! Discovery: the documents a listing announces. A listing is an HTML index page ([`html`]), an
//! RSS, Atom or JSON feed ([`feed`]), or a sitemap or sitemap index ([`sitemap`]).

mod feed;
mod html;
mod sitemap;

pub use feed::feed_entries;
pub use html::{MAX_LINKS_SCANNED, document_links, listing_items};
pub use sitemap::sitemap_entries;

use url::Url;

/// One URL a listing points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub url: Url,
    /// The listing's date for it (sitemap lastmod, feed entry updated or published), RFC 3339.
    pub lastmod: Option<String>,
    /// A child listing (a sitemap named by a sitemap index), not a document.
    pub listing: bool,
    /// What the listing calls it (an index's link text, a feed entry's title), if anything.
    pub title: Option<String>,
}

impl Listed {
    pub fn document(url: Url) -> Listed {
        Listed {
            url,
            lastmod: None,
            listing: false,
            title: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("not a feed: {0}")]
    Feed(String),
    #[error("not a sitemap: {0}")]
    Sitemap(String),
}

/// Keeps the newest `limit` entries (undated ones last, in listing order), so a listing of
/// thousands yields the documents most likely to be news.
fn newest(mut entries: Vec<Listed>, limit: usize) -> Vec<Listed> {
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| seen.insert(e.url.clone()));
    // Stable sort: entries with equal dates keep the listing's order.
    entries.sort_by(|a, b| match (&a.lastmod, &b.lastmod) {
        (Some(x), Some(y)) => y.cmp(x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    entries.truncate(limit);
    entries
}

/// One URL per document: no fragment, no tracking parameters, no default port.
pub fn normalize(mut url: Url) -> Url {
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !(k.starts_with("utm_")
                    || matches!(k.as_str(), "fbclid" | "gclid" | "mc_cid" | "mc_eid" | "spm"))
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    // The url crate already drops ports that are the scheme's default.
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_drops_fragment_tracking_and_default_port() {
        let u = normalize(Url::parse("https://a.gov:443/p?id=3&utm_source=x&fbclid=y#top").unwrap());
        assert_eq!(u.as_str(), "https://a.gov/p?id=3");
        let u = normalize(Url::parse("http://a.gov:80/p?utm_medium=z").unwrap());
        assert_eq!(u.as_str(), "http://a.gov/p");
    }

    #[test]
    fn newest_first_then_undated_in_order() {
        let l = |u: &str, d: Option<&str>| Listed {
            url: Url::parse(u).unwrap(),
            lastmod: d.map(str::to_string),
            listing: false,
            title: None,
        };
        let got = newest(
            vec![
                l("http://a/1", None),
                l("http://a/2", Some("2024-01-01T00:00:00Z")),
                l("http://a/3", Some("2025-01-01T00:00:00Z")),
                l("http://a/2", Some("2024-01-01T00:00:00Z")),
                l("http://a/4", None),
            ],
            3,
        );
        let urls: Vec<_> = got.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(urls, ["http://a/3", "http://a/2", "http://a/1"]);
    }
}
