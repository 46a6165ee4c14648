//! Sitemaps (`<urlset>`) and sitemap indexes (`<sitemapindex>`), plain or gzipped, read with
//! quick-xml as a stream: a sitemap may hold 50,000 URLs.

use std::io::Read;

use quick_xml::events::Event;
use url::Url;

use super::{DiscoverError, Listed, newest, normalize};

/// The sitemap protocol's own limit on an uncompressed sitemap.
const MAX_UNCOMPRESSED: u64 = 50 * 1024 * 1024;

/// The entries of a sitemap (documents) or sitemap index (child sitemaps), newest first, at most
/// `limit`. URLs on another host are ignored, as the protocol requires.
pub fn sitemap_entries(body: &[u8], base: &Url, limit: usize) -> Result<Vec<Listed>, DiscoverError> {
    let inflated;
    let xml = if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .take(MAX_UNCOMPRESSED)
            .read_to_end(&mut out)
            .map_err(|e| DiscoverError::Sitemap(format!("bad gzip: {e}")))?;
        inflated = out;
        &inflated[..]
    } else {
        body
    };

    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut root: Option<String> = None;
    // The element whose text we are reading (`loc` or `lastmod`) inside the current entry.
    let mut field: Option<String> = None;
    let (mut loc, mut lastmod) = (String::new(), String::new());
    let mut entries = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                let name = e.local_name().as_ref().to_string();
                match (&root, name.as_str()) {
                    (None, "urlset" | "sitemapindex") => {
                        root = Some(name);
                    }
                    (None, _) => {
                        return Err(DiscoverError::Sitemap(format!(
                            "the root element is <{}>, not <urlset> or <sitemapindex>",
                            name
                        )));
                    }
                    (Some(_), "url" | "sitemap") => {
                        loc.clear();
                        lastmod.clear();
                    }
                    (Some(_), "loc" | "lastmod") => {
                        field = Some(name);
                    }
                    _ => {}
                }
            }
            Ok(Event::Text(t)) => {
                if let Some(f) = &field {
                    let text = t.xml10_content();
                    if f == "loc" { &mut loc } else { &mut lastmod }.push_str(text.trim());
                }
            }
            Ok(Event::GeneralRef(r)) => {
                // Entity references arrive as their own events: `&amp;` inside a <loc>.
                if field.as_deref() == Some("loc") {
                    let name = r.xml10_content();
                    let text = quick_xml::escape::unescape(&format!("&{name};"))
                        .map_err(|e| DiscoverError::Sitemap(e.to_string()))?
                        .into_owned();
                    loc.push_str(&text);
                }
            }
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                "loc" | "lastmod" => field = None,
                "url" | "sitemap" => {
                    if let Some(url) = base
                        .join(loc.trim())
                        .ok()
                        .filter(|u| u.host_str() == base.host_str())
                    {
                        entries.push(Listed {
                            url: normalize(url),
                            lastmod: w3c_datetime(&lastmod),
                            listing: root.as_deref() == Some("sitemapindex"),
                            title: None,
                        });
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(DiscoverError::Sitemap(format!(
                    "XML error at byte {}: {e}",
                    reader.error_position()
                )));
            }
        }
        buf.clear();
    }
    if root.is_none() {
        return Err(DiscoverError::Sitemap(
            "no <urlset> or <sitemapindex> element".into(),
        ));
    }
    Ok(newest(entries, limit))
}

/// A sitemap's lastmod (W3C datetime: a date, or a date and time with a zone) as RFC 3339 UTC,
/// so that dates compare as text.
fn w3c_datetime(s: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(crate::timefmt::format(t.to_offset(time::UtcOffset::UTC)));
    }
    // "2024-05-01T10:00+08:00" (no seconds) is valid W3C; give it seconds.
    if s.len() > 16 && s.as_bytes().get(13) == Some(&b':') && s.as_bytes().get(16) != Some(&b':') {
        return w3c_datetime(&format!("{}:00{}", &s[..16], &s[16..]));
    }
    let date = s.get(..10)?;
    time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|_| format!("{date}T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlset_with_lastmod_newest_first() {
        let base = Url::parse("https://gov.example/sitemap.xml").unwrap();
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc>https://gov.example/a.html</loc><lastmod>2024-05-01</lastmod></url>
              <url><loc>https://gov.example/b.html?x=1&amp;utm_source=s</loc><lastmod>2024-05-02T10:00+08:00</lastmod></url>
              <url><loc>https://elsewhere.example/c.html</loc></url>
              <url><loc>https://gov.example/d.html</loc></url>
            </urlset>"#;
        let got = sitemap_entries(xml.as_bytes(), &base, 10).unwrap();
        let urls: Vec<_> = got.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://gov.example/b.html?x=1",
                "https://gov.example/a.html",
                "https://gov.example/d.html"
            ]
        );
        assert_eq!(got[0].lastmod.as_deref(), Some("2024-05-02T02:00:00Z"));
        assert_eq!(got[1].lastmod.as_deref(), Some("2024-05-01T00:00:00Z"));
        assert!(got.iter().all(|l| !l.listing));
    }

    #[test]
    fn gzipped_sitemap_index() {
        use std::io::Write;
        let base = Url::parse("https://gov.example/sitemap_index.xml.gz").unwrap();
        let xml = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <sitemap><loc>https://gov.example/sm-2024.xml</loc><lastmod>2024-06-01</lastmod></sitemap>
            </sitemapindex>"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(xml.as_bytes()).unwrap();
        let got = sitemap_entries(&gz.finish().unwrap(), &base, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].listing);
        assert_eq!(got[0].url.as_str(), "https://gov.example/sm-2024.xml");
    }

    #[test]
    fn not_a_sitemap_says_why() {
        let base = Url::parse("https://gov.example/").unwrap();
        let err = sitemap_entries(b"<html><body>x</body></html>", &base, 10).unwrap_err();
        assert!(err.to_string().contains("<html>"), "{err}");
        let err = sitemap_entries(b"<urlset><url><loc>a</url>", &base, 10).unwrap_err();
        assert!(err.to_string().contains("XML error"), "{err}");
    }
}
