//! RSS, Atom and JSON Feed, parsed by feed-rs: each entry's link is a document, its updated (or
//! published) date the listing's date for it.

use url::Url;

use super::{DiscoverError, Listed, newest, normalize};

/// The documents a feed lists, newest first, at most `limit`.
pub fn feed_entries(body: &[u8], base: &Url, limit: usize) -> Result<Vec<Listed>, DiscoverError> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .build()
        .parse(body)
        .map_err(|e| DiscoverError::Feed(e.to_string()))?;
    let entries = feed
        .entries
        .iter()
        .filter_map(|e| {
            // The alternate link is the article; others are comments, enclosures, the feed itself.
            let link = e
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or(e.links.first())?;
            let url = base.join(link.href.trim()).ok()?;
            if !matches!(url.scheme(), "http" | "https") {
                return None;
            }
            let date = e
                .updated
                .or(e.published)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            Some(Listed {
                url: normalize(url),
                lastmod: date,
                listing: false,
                title: e
                    .title
                    .as_ref()
                    .map(|t| t.content.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|t| !t.is_empty()),
            })
        })
        .collect();
    Ok(newest(entries, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(v: &[Listed]) -> Vec<&str> {
        v.iter().map(|l| l.url.as_str()).collect()
    }

    #[test]
    fn rss_atom_and_json_feed() {
        let base = Url::parse("https://mfa.example/feeds/news.xml").unwrap();
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>MFA</title>
            <item><title>Older</title><link>https://mfa.example/a.html?utm_source=rss</link>
              <pubDate>Mon, 01 Jan 2024 08:00:00 GMT</pubDate></item>
            <item><title>Newer</title><link>/b.html</link><pubDate>Tue, 02 Jan 2024 08:00:00 GMT</pubDate></item>
            </channel></rss>"#;
        let got = feed_entries(rss.as_bytes(), &base, 10).unwrap();
        assert_eq!(
            urls(&got),
            ["https://mfa.example/b.html", "https://mfa.example/a.html"]
        );
        assert_eq!(got[0].lastmod.as_deref(), Some("2024-01-02T08:00:00Z"));

        let atom = r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
            <title>MFA</title><id>urn:x</id><updated>2024-01-03T00:00:00Z</updated>
            <entry><title>Paper</title><id>urn:1</id><updated>2024-01-03T00:00:00+08:00</updated>
              <link rel="replies" href="https://mfa.example/c.html#comments"/>
              <link rel="alternate" href="https://mfa.example/c.html"/></entry>
            </feed>"#;
        let got = feed_entries(atom.as_bytes(), &base, 10).unwrap();
        assert_eq!(urls(&got), ["https://mfa.example/c.html"]);
        assert_eq!(got[0].lastmod.as_deref(), Some("2024-01-02T16:00:00Z"));

        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"MFA","items":[
            {"id":"1","url":"https://mfa.example/d.html","date_published":"2024-01-04T00:00:00Z"}]}"#;
        let got = feed_entries(json.as_bytes(), &base, 10).unwrap();
        assert_eq!(urls(&got), ["https://mfa.example/d.html"]);
    }

    #[test]
    fn html_is_not_a_feed() {
        let base = Url::parse("https://mfa.example/").unwrap();
        let err = feed_entries(b"<html><body>hello</body></html>", &base, 10).unwrap_err();
        assert!(err.to_string().starts_with("not a feed"), "{err}");
    }
}
