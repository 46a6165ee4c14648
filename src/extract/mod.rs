//! HTML -> Document: main text, title, date, language. Synchronous, owned output.
//!
//! One html5ever parse, then linear passes over a flat pre-order arena (`tree`): boilerplate
//! marking, flattening into blocks, container scoring (`content`), metadata (`meta`,
//! `dates`). No pass recurses, so nesting depth cannot overflow the stack.

mod content;
pub(crate) mod dates;
mod depth;
mod meta;
mod plain;
mod tree;

use scraper::Html;

pub use dates::Published;

/// Largest input accepted. Real article pages are well under 5 MiB; beyond 16 MiB the
/// parse alone costs seconds and the DOM hundreds of MiB, and such bodies are dumps or
/// attacks rather than pages worth watching.
pub const MAX_INPUT: usize = 16 * 1024 * 1024;

/// Nesting kept when parsing; deeper start tags are dropped (their text is kept). Real
/// pages nest well under 100 levels; the cap bounds html5ever's per-tag scope walks.
const MAX_DEPTH: usize = 512;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Document {
    pub title: Option<String>,
    #[serde(serialize_with = "serialize_date")]
    pub published: Option<Published>,
    pub lang: Option<String>,
    pub canonical: Option<String>,
    pub blocks: Vec<Block>,
}

/// ISO `YYYY-MM-DD` (or `YYYY-MM` for a month), without needing time's own serde feature.
fn serialize_date<S: serde::Serializer>(d: &Option<Published>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Block {
    pub kind: BlockKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    Heading,
    Paragraph,
    ListItem,
    Quote,
    Table,
    Pre,
}

impl Document {
    pub fn text(&self) -> String {
        let parts: Vec<&str> = self.blocks.iter().map(|b| b.text.as_str()).collect();
        parts.join("\n\n")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The page has no article text; what metadata it has (title, date, language) is kept,
    /// for callers that report it. Blank input has none.
    #[error("no readable text in the page")]
    NoText(Box<Document>),
    #[error("page too large to extract ({0} bytes; limit {1})")]
    TooLarge(usize, usize),
}

pub fn extract(html: &str, base_url: Option<&url::Url>) -> Result<Document, ExtractError> {
    if html.len() > MAX_INPUT {
        return Err(ExtractError::TooLarge(html.len(), MAX_INPUT));
    }
    if html.trim().is_empty() {
        return Err(ExtractError::NoText(Box::default()));
    }
    let html = depth::cap_depth(html, MAX_DEPTH);
    let dom = Html::parse_document(&html);
    let mut tree = tree::Tree::build(&dom, true);
    let mut blocks = content::select(&tree, &content::flatten(&tree));
    let kept: usize = blocks.iter().map(|b| b.text.len()).sum();
    if kept < 200 {
        // Class names may have removed the article itself; retry trusting tags only.
        let relaxed = tree::Tree::build(&dom, false);
        let alt = content::select(&relaxed, &content::flatten(&relaxed));
        let alt_kept: usize = alt.iter().map(|b| b.text.len()).sum();
        if alt_kept > kept * 4 + 300 {
            blocks = alt;
            tree = relaxed;
        }
    }
    let m = meta::collect(&tree);

    let (title, headline) = meta::title(&tree, &m);
    if let Some(t) = &title {
        let key = squash(t);
        blocks.retain(|b| b.kind != BlockKind::Heading || squash(&b.text) != key);
    }

    let canonical = m.canonical.and_then(|href| {
        let href = href.trim();
        url::Url::parse(href)
            .ok()
            .or_else(|| base_url.and_then(|b| b.join(href).ok()))
            .map(String::from)
    });
    // og:url stands in for a canonical link that is missing or not a URL.
    let og_url = m
        .meta("og:url")
        .map(str::trim)
        .filter(|u| url::Url::parse(u).is_ok());
    let page_url = base_url.map(url::Url::as_str).or(canonical.as_deref()).or(og_url);
    let published = meta::date(&tree, &m, &html, page_url, headline);
    let lang = meta::declared_lang(&m).or_else(|| guess_lang(&blocks));

    let doc = Document {
        title,
        published,
        lang,
        canonical,
        blocks,
    };
    if doc.blocks.is_empty() {
        return Err(ExtractError::NoText(Box::new(doc)));
    }
    Ok(doc)
}

/// Collapses whitespace runs to one space; newlines from `<br>` survive as single newlines.
pub(crate) fn normalize_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let mut pending_newline = false;
    for c in s.chars() {
        if c == '\n' {
            pending_newline = true;
        } else if c.is_whitespace() {
            pending_space = true;
        } else {
            if !out.is_empty() {
                if pending_newline {
                    out.push('\n');
                } else if pending_space {
                    out.push(' ');
                }
            }
            pending_space = false;
            pending_newline = false;
            out.push(c);
        }
    }
    out
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The extractor weighs Han characters only (its scores were tuned so, and kana and Hangul are
/// counted separately where the language is guessed): [`crate::text::is_han`], not `is_cjk`.
pub(crate) use crate::text::is_han as is_cjk;

/// Language from the script of the text; Latin text is called English only when English
/// function words dominate, since Latin script alone says little.
pub(crate) fn guess_lang(blocks: &[Block]) -> Option<String> {
    let (mut cjk, mut kana, mut hangul, mut cyr, mut arabic, mut latin) = (0, 0, 0, 0, 0, 0);
    let mut seen = 0usize;
    'outer: for b in blocks {
        for c in b.text.chars() {
            seen += 1;
            if seen > 20_000 {
                break 'outer;
            }
            match c {
                '\u{3040}'..='\u{30FF}' => kana += 1,
                '\u{AC00}'..='\u{D7AF}' | '\u{1100}'..='\u{11FF}' => hangul += 1,
                '\u{0400}'..='\u{04FF}' => cyr += 1,
                '\u{0600}'..='\u{06FF}' => arabic += 1,
                c if c.is_ascii_alphabetic() || ('\u{C0}'..='\u{24F}').contains(&c) => latin += 1,
                c if is_cjk(c) => cjk += 1,
                _ => {}
            }
        }
    }
    let total = cjk + kana + hangul + cyr + arabic + latin;
    if total == 0 {
        return None;
    }
    let code = if kana * 20 > total && kana + cjk > total / 2 {
        "ja"
    } else if hangul * 2 > total {
        "ko"
    } else if cjk * 2 > total {
        "zh"
    } else if cyr * 2 > total {
        "ru"
    } else if arabic * 2 > total {
        "ar"
    } else if latin * 2 > total && english_stopwords_dominate(blocks) {
        "en"
    } else {
        return None;
    };
    Some(code.to_string())
}

fn english_stopwords_dominate(blocks: &[Block]) -> bool {
    const STOP: &[&str] = &[
        "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "on", "with", "as", "are", "was",
        "be", "by", "this", "from", "or", "at", "an", "have", "not", "which", "will",
    ];
    let mut words = 0usize;
    let mut stop = 0usize;
    for b in blocks {
        for w in b
            .text
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
        {
            words += 1;
            if w.len() <= 5 && STOP.contains(&w.to_ascii_lowercase().as_str()) {
                stop += 1;
            }
            if words >= 3000 {
                break;
            }
        }
    }
    words >= 5 && stop * 100 >= words * 20
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const P1: &str = "The ministry published its position paper on digital governance today, \
        setting out how public services should share data, protect privacy and remain accountable.";
    const P2: &str = "Officials said the framework would be reviewed every two years, and that \
        municipalities would receive funding to modernise their registries, archives and portals.";
    const P3: &str = "Critics argued that the paper leaves open how algorithms used by agencies \
        will be audited, and which body will hear complaints from citizens affected by them.";

    fn article(extra_head: &str, inner: &str) -> String {
        format!(
            r##"<!doctype html><html lang="en-GB"><head><title>Digital governance paper | Example Site</title>{extra_head}</head>
            <body>
              <header class="site-header"><nav class="menu"><a href="/">Home</a><a href="/news">News</a><a href="/about">About</a></nav></header>
              <div class="breadcrumb"><a href="/">Home</a> &gt; <a href="/news">News</a></div>
              <div id="main">
                <article class="post">
                  <h1>Digital governance paper</h1>
                  {inner}
                </article>
                <aside class="sidebar"><h3>Most read</h3><ul><li><a href="/x">Another story about something</a></li><li><a href="/y">Yet another story here</a></li></ul></aside>
              </div>
              <footer><p>Copyright 2023 Example. All rights reserved. Contact us at the address below for anything.</p></footer>
            </body></html>"##
        )
    }

    /// The publication day `extract` finds on a page; `None` also for a month-only date.
    fn day_of(page: &str) -> Option<time::Date> {
        extract(page, None).unwrap().published.and_then(Published::day)
    }

    fn body() -> String {
        format!(
            r##"<div class="meta">Views: 1234</div>
            <p>{P1}</p>
            <div class="share-bar"><a href="#">Share on Facebook</a> <a href="#">Tweet</a></div>
            <p>{P2}</p>
            <h2>Open questions</h2>
            <p>{P3}</p>
            <div class="related-news"><h3>Related news</h3><ul><li><a href="/1">Ministry announces new portal for businesses</a></li><li><a href="/2">Parliament debates the data act next week</a></li></ul></div>
            <p>阅读次数：5678</p>"##
        )
    }

    #[test]
    fn keeps_paragraphs_in_order_and_drops_boilerplate() {
        let doc = extract(&article("", &body()), None).unwrap();
        let text = doc.text();
        let (a, b, c) = (
            text.find("position paper").unwrap(),
            text.find("reviewed every").unwrap(),
            text.find("Critics argued").unwrap(),
        );
        assert!(a < b && b < c, "{text}");
        assert!(text.contains("Open questions"));
        for junk in [
            "Views",
            "1234",
            "Share on",
            "Tweet",
            "Related news",
            "Ministry announces",
            "阅读次数",
            "Copyright",
            "Most read",
            "Home",
            "About",
        ] {
            assert!(!text.contains(junk), "{junk} leaked: {text}");
        }
        assert_eq!(doc.title.as_deref(), Some("Digital governance paper"));
        assert_eq!(doc.blocks[0].kind, BlockKind::Paragraph);
        assert_eq!(doc.lang.as_deref(), Some("en"));
    }

    #[test]
    fn lists_tables_and_kinds() {
        let inner = format!(
            "<p>{P1}</p><ul><li>First measure: open data by default for all agencies</li>\
             <li>Second measure: a single digital identity for citizens</li></ul>\
             <table><tr><th>Year</th><th>Budget</th></tr><tr><td>2023</td><td>12 million</td></tr></table>\
             <blockquote><p>{P2}</p></blockquote><p>{P3}</p>"
        );
        let doc = extract(&article("", &inner), None).unwrap();
        let kinds: Vec<BlockKind> = doc.blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            vec![
                BlockKind::Paragraph,
                BlockKind::ListItem,
                BlockKind::ListItem,
                BlockKind::Table,
                BlockKind::Quote,
                BlockKind::Paragraph
            ]
        );
        assert_eq!(doc.blocks[3].text, "Year | Budget\n2023 | 12 million");
    }

    #[test]
    fn cookie_banner_and_newsletter_dropped() {
        let html = format!(
            r#"<html><body><div class="cookie-consent"><p>We use cookies to improve your experience. Accept all cookies?</p></div>
            <div class="content"><p>{P1}</p><p>{P2}</p></div>
            <div class="newsletter-signup"><p>Sign up for our newsletter to get the latest policy news every morning in your inbox.</p></div></body></html>"#
        );
        let text = extract(&html, None).unwrap().text();
        assert!(text.contains("position paper"));
        assert!(!text.contains("cookies"), "{text}");
        assert!(!text.contains("newsletter"), "{text}");
    }

    #[test]
    fn empty_and_too_large() {
        assert!(matches!(extract("", None), Err(ExtractError::NoText(_))));
        assert!(matches!(extract("   \n ", None), Err(ExtractError::NoText(_))));
        assert!(matches!(
            extract("<html><body><script>var a=1;</script></body></html>", None),
            Err(ExtractError::NoText(_))
        ));
        let big = "a".repeat(MAX_INPUT + 1);
        assert!(matches!(extract(&big, None), Err(ExtractError::TooLarge(_, _))));
        // A page with no text (a video, a listing rendered by script) keeps its metadata.
        let bare = r#"<html lang="en"><head><title>Board meeting video</title>
            <meta property="article:published_time" content="2024-06-03"></head>
            <body><div id="player"></div></body></html>"#;
        let Err(ExtractError::NoText(doc)) = extract(bare, None) else {
            panic!("a page without text is NoText");
        };
        assert_eq!(doc.title.as_deref(), Some("Board meeting video"));
        assert_eq!(
            doc.published.map(|p| p.to_string()).as_deref(),
            Some("2024-06-03")
        );
        assert!(doc.blocks.is_empty());
    }

    #[test]
    fn binary_bytes_rejected_before_extraction() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0";
        assert!(matches!(
            crate::decode::decode(png, None),
            Err(crate::decode::DecodeError::Binary(_))
        ));
        // Garbage that decodes as text must not panic the extractor.
        let junk: String = (0..5000u32).filter_map(char::from_u32).collect();
        let _ = extract(&junk, None);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 100_000;
        let mut html = String::with_capacity(depth * 12);
        html.push_str("<html><body>");
        for _ in 0..depth {
            html.push_str("<span>");
        }
        html.push_str(P1);
        for _ in 0..depth {
            html.push_str("</span>");
        }
        html.push_str("</body></html>");
        let doc = extract(&html, None).unwrap();
        assert!(doc.text().contains("position paper"));

        let mut html = String::from("<html><body>");
        for _ in 0..depth {
            html.push_str("<div>");
        }
        html.push_str(P2);
        let doc = extract(&html, None).unwrap();
        assert!(doc.text().contains("reviewed every"));
    }

    #[test]
    fn metadata() {
        let head = r#"<meta property="og:title" content="Digital governance paper - Example Site">
            <link rel="canonical" href="/news/paper.html">
            <script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"x"},{"@type":"NewsArticle","datePublished":"2023-05-25T08:00:00Z"}]}</script>"#;
        let base = url::Url::parse("https://example.org/a/b").unwrap();
        let doc = extract(&article(head, &body()), Some(&base)).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Digital governance paper"));
        assert_eq!(
            doc.published.and_then(Published::day),
            Some(date!(2023 - 05 - 25))
        );
        assert_eq!(
            doc.canonical.as_deref(),
            Some("https://example.org/news/paper.html")
        );
        assert_eq!(doc.lang.as_deref(), Some("en"));
        assert!(!doc.text().contains("Digital governance paper"));
    }

    #[test]
    fn dates_from_each_source() {
        let cases = [
            (
                r#"<meta property="article:published_time" content="2023-05-25T16:57:00+08:00">"#,
                "",
                None,
            ),
            (r#"<meta name="PubDate" content="2023-05-25 16:57">"#, "", None),
            (
                r#"<meta name="citation_publication_date" content="2023/05/25">"#,
                "",
                None,
            ),
            ("", r#"<time datetime="2023-05-25">yesterday</time>"#, None),
            ("", "", Some("https://example.gov.cn/zc/202305/t20230525_1.html")),
            ("", "", Some("https://example.org/2023/05/25/paper/")),
            ("", "<p class=\"info\">Updated: May 25, 2023</p>", None),
            ("", "<span>25 May 2023</span>", None),
            ("", "<div>发布时间：2023年5月25日 来源：办公厅</div>", None),
            ("", "<div>2023-05-25 16:57</div>", None),
            ("", "<div>日期：2023/05/25</div>", None),
        ];
        for (head, near, url) in cases {
            let inner = format!("{near}<p>{P1}</p><p>{P2}</p>");
            let base = url.map(|u| url::Url::parse(u).unwrap());
            let doc = extract(&article(head, &inner), base.as_ref()).unwrap();
            assert_eq!(
                doc.published.and_then(Published::day),
                Some(date!(2023 - 05 - 25)),
                "{head} {near} {url:?}"
            );
            assert!(!doc.text().contains("2023"), "{}", doc.text());
        }
    }

    #[test]
    fn printed_date_and_metadata() {
        let meta = r#"<meta property="article:published_time" content="2023-05-26T02:00:00+00:00">
            <meta property="article:modified_time" content="2024-01-10T09:00:00+00:00">"#;
        let under_headline =
            |printed: &str| day_of(&article(meta, &format!("{printed}<p>{P1}</p><p>{P2}</p>")));
        // The date printed under the headline wins over the stored one...
        assert_eq!(
            under_headline("<p class=\"byline\">May 20, 2023</p>"),
            Some(date!(2023 - 05 - 20))
        );
        // ...but not when it is the same moment in another time zone.
        assert_eq!(
            under_headline("<p class=\"byline\">May 25, 2023</p>"),
            Some(date!(2023 - 05 - 26))
        );
        // A printed update date is not the publication date.
        assert_eq!(
            under_headline("<p>Last updated: January 10, 2024</p>"),
            Some(date!(2023 - 05 - 26))
        );
        // Dates inside the prose are about its subject.
        assert_eq!(
            day_of(&article(
                meta,
                &format!("<p>{P1} The act took effect on March 1, 2021.</p><p>{P2}</p>"),
            )),
            Some(date!(2023 - 05 - 26))
        );
        // Day-first reading for a British page, confirmed by nothing else.
        let page = article(
            "",
            &format!("<p class=\"date\">03/10/2023</p><p>{P1}</p><p>{P2}</p>"),
        )
        .replace("lang=\"en-GB\"", "lang=\"fr\"");
        assert_eq!(day_of(&page), Some(date!(2023 - 10 - 03)));
    }

    #[test]
    fn ambiguous_date_settled_by_the_page() {
        // An en page printing 02-12-2025 whose sidebar lists it as 2025-12-02.
        let inner = format!(
            "<p class=\"date\"><time datetime=\"02-12-2025\">02-12-2025</time></p><p>{P1}</p><p>{P2}</p>\
             <aside><time datetime=\"2025-12-02\">December 02, 2025</time></aside>"
        );
        let page = article("", &inner).replace("lang=\"en-GB\"", "lang=\"en\"");
        assert_eq!(day_of(&page), Some(date!(2025 - 12 - 02)));
        // og:url stands in for a canonical link that is not a URL; its path has the date.
        let head = r#"<link rel="canonical" href="What are the types of wine?">
            <meta property="og:url" content="https://example.org/blog/2023/october/03/wine">"#;
        let inner = format!("<p class=\"date\">03/10/2023</p><p>{P1}</p><p>{P2}</p>");
        let page = article(head, &inner).replace("lang=\"en-GB\"", "lang=\"en\"");
        assert_eq!(day_of(&page), Some(date!(2023 - 10 - 03)));
    }

    #[test]
    fn date_under_an_h2_headline() {
        // No <h1>: the first <h2> is the headline, and the date after the author is its date.
        let html = format!(
            "<html lang=\"en\"><head><title>Cayenne | Example</title></head><body>\
             <nav><a href=\"/\">Home</a><a href=\"/blog\">Blog</a></nav>\
             <div class=\"resource-head\"><h2>Introducing the Cayenne data accelerator</h2>\
             <div class=\"author\"><p>Luke Kim</p><small>December 17, 2025</small></div></div>\
             <div class=\"content\"><p>{P1}</p><p>{P2}</p><p>{P3}</p></div></body></html>"
        );
        assert_eq!(day_of(&html), Some(date!(2025 - 12 - 17)));
    }

    #[test]
    fn masthead_date_is_not_the_article_date() {
        let inner = format!("<p>{P1}</p><p>{P2}</p>");
        let page = article("", &inner).replace(
            "<div id=\"main\">",
            "<div id=\"main\"><p id=\"todays-date\">Friday, December 19, 2025</p>",
        );
        assert_eq!(extract(&page, None).unwrap().published, None);
    }

    #[test]
    fn labelled_date_far_from_the_headline() {
        let filler = format!("<p>{P1}</p><p>{P2}</p><p>{P3}</p>").repeat(4);
        // A byline at the foot of the post beats a date named in a sentence before it.
        let inner = format!(
            "{filler}<p><strong>Note:</strong> This post was originally published on the 21st \
             of June 2017 and updated on the 18th of July 2025.</p>\
             <div class=\"footer-meta\"><span>Posted on April 13, 2023</span></div>"
        );
        assert_eq!(day_of(&article("", &inner)), Some(date!(2023 - 04 - 13)));
        // The label may sit two text nodes before its date.
        let inner = format!(
            "{filler}<div><p>Written by <a href=\"/a/kim\">Moses Kim</a></p><p>April 8, 2024</p></div>"
        );
        assert_eq!(day_of(&article("", &inner)), Some(date!(2024 - 04 - 08)));
        // A printed, labelled date comes before the modification time of the metadata.
        let head = r#"<meta property="article:modified_time" content="2025-12-23T10:00:00+00:00">"#;
        let inner = format!("{filler}<div>Post time: 01-04-2024</div>");
        let page = article(head, &inner).replace("lang=\"en-GB\"", "lang=\"en\"");
        assert_eq!(day_of(&page), Some(date!(2024 - 01 - 04)));
    }

    #[test]
    fn update_at_the_headline_beats_teaser_dates() {
        // No metadata: the page's own "Last updated" line, not a related post's date.
        let inner = format!(
            "<p>Last updated: Dec 12, 2025</p><p>{P1}</p><p>{P2}</p>\
             <aside><div class=\"post-date\">Dec 2, 2025</div><a href=\"/b\">Another post</a></aside>"
        );
        assert_eq!(day_of(&article("", &inner)), Some(date!(2025 - 12 - 12)));
    }

    #[test]
    fn chinese_page() {
        let p = "为深入贯彻落实党中央、国务院关于加强数字政府建设的决策部署，现就推进政务数据共享、提升政务服务水平提出如下意见。";
        let html = format!(
            "<html><head><title>关于加强数字政府建设的指导意见_政策文件_某某网站</title></head><body>\
             <div class=\"nav\"><a href=\"/\">首页</a><a href=\"/zc\">政策</a></div>\
             <h1>关于加强数字政府建设的指导意见</h1><div class=\"info\">2023-05-25 16:57 来源：办公厅 阅读次数：1234 【字体：大 中 小】</div>\
             <div class=\"TRS_Editor\"><p>{p}</p><p>{p}</p></div><div class=\"footer\"><p>版权所有：某某网站 地址：某某路1号</p></div></body></html>"
        );
        let doc = extract(&html, None).unwrap();
        assert_eq!(doc.title.as_deref(), Some("关于加强数字政府建设的指导意见"));
        assert_eq!(
            doc.published.and_then(Published::day),
            Some(date!(2023 - 05 - 25))
        );
        assert_eq!(doc.lang.as_deref(), Some("zh"));
        assert_eq!(doc.blocks.len(), 2);
        assert!(!doc.text().contains("版权"));
    }

    #[test]
    fn normalizes_whitespace() {
        assert_eq!(normalize_ws("  a \t b\u{a0} c  "), "a b c");
        assert_eq!(normalize_ws("a \n  b"), "a\nb");
    }
}
