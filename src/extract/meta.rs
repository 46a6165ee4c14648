//! Page metadata: title, publication date, language and canonical URL, from `<head>`
//! tags, JSON-LD, the headline and the text around it.

use scraper::Node;
use time::Date;

use super::dates;
use super::tree::Tree;

/// Meta names/properties that carry the publication date, best first.
const DATE_KEYS: &[&str] = &[
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "article.published",
    "published_time",
    "datepublished",
    "citation_publication_date",
    "citation_date",
    "citation_online_date",
    "dc.date.issued",
    "dc.date",
    "dcterms.issued",
    "dcterms.date",
    "dcterms.created",
    "dc.date.created",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "published",
    "article:published",
    "datecreated",
    "pub_date",
    "firstpublishedtime",
    "originalpublicationdate",
    "article_date_original",
    "sailthru.date",
    "parsely-pub-date",
    "date",
    "created",
    "dc.created",
];

const MODIFIED_KEYS: &[&str] = &[
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "dcterms.modified",
    "lastmod",
    "last-modified",
];

#[derive(Default)]
pub struct Meta<'a> {
    pub html_lang: Option<&'a str>,
    /// (lowercased name/property/itemprop/http-equiv, content)
    pub metas: Vec<(String, &'a str)>,
    pub canonical: Option<&'a str>,
    pub title_tag: Option<String>,
    pub json_ld: Vec<&'a str>,
    /// (arena index, text) of every live `<h1>`.
    pub h1s: Vec<(usize, String)>,
    /// (arena index, datetime attribute, publication hint) of `<time>` elements.
    pub times: Vec<(usize, &'a str, bool)>,
    /// Small elements whose class/id says they hold a date or byline.
    pub date_elems: Vec<usize>,
}

pub fn collect<'a>(tree: &Tree<'a>) -> Meta<'a> {
    let mut m = Meta::default();
    for i in 0..tree.len() {
        let Node::Element(e) = tree.nodes[i] else {
            continue;
        };
        match e.name() {
            "html" if m.html_lang.is_none() => m.html_lang = e.attr("lang").or(e.attr("xml:lang")),
            "meta" => {
                let Some(content) = e.attr("content") else {
                    continue;
                };
                for key in ["property", "name", "itemprop", "http-equiv"] {
                    if let Some(k) = e.attr(key) {
                        m.metas.push((k.trim().to_ascii_lowercase(), content));
                    }
                }
            }
            "link" if m.canonical.is_none() => {
                let canonical = e.attr("rel").is_some_and(|r| {
                    r.split_ascii_whitespace()
                        .any(|t| t.eq_ignore_ascii_case("canonical"))
                });
                if canonical {
                    m.canonical = e.attr("href");
                }
            }
            "title" if m.title_tag.is_none() && !in_svg(tree, i) => {
                let t = tree.text_of(i);
                if !t.is_empty() {
                    m.title_tag = Some(t);
                }
            }
            "script" => {
                if e.attr("type")
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"))
                    && let Some(Node::Text(t)) = tree.nodes.get(i + 1)
                    && tree.parent[i + 1] as usize == i
                {
                    m.json_ld.push(t);
                }
            }
            "h1" if tree.chars[i] > 0 => {
                let t = tree.text_of(i);
                if !t.is_empty() && t.chars().count() <= 300 {
                    m.h1s.push((i, t));
                }
            }
            "time" => {
                if let Some(dt) = e.attr("datetime") {
                    let hint = e.attr("pubdate").is_some()
                        || e.attr("itemprop").is_some_and(|p| p.contains("datePublished"))
                        || e.attr("class").is_some_and(|c| {
                            let c = c.to_ascii_lowercase();
                            c.contains("publish") || c.contains("posted") || c.contains("created")
                        });
                    m.times.push((i, dt, hint));
                }
            }
            _ => {
                if m.date_elems.len() < 30
                    && tree.chars[i] > 0
                    && tree.chars[i] < 120
                    && e.attr("class").into_iter().chain(e.attr("id")).any(|c| {
                        let c = c.to_ascii_lowercase();
                        ["date", "time", "publish", "posted", "byline", "dateline", "meta"]
                            .iter()
                            .any(|k| c.contains(k))
                    })
                {
                    m.date_elems.push(i);
                }
                if e.attr("itemprop") == Some("datePublished")
                    && let Some(v) = e.attr("content").or(e.attr("datetime"))
                {
                    m.metas.push(("datepublished".into(), v));
                }
            }
        }
    }
    m
}

fn in_svg(tree: &Tree, i: usize) -> bool {
    let mut p = tree.parent[i];
    while p != u32::MAX {
        if tree.tag(p as usize) == "svg" {
            return true;
        }
        p = tree.parent[p as usize];
    }
    false
}

impl Meta<'_> {
    fn meta(&self, key: &str) -> Option<&str> {
        self.metas
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| *v)
    }
}

/// JSON-LD values for `key`, searched through @graph, arrays and nested objects.
fn json_ld_values(docs: &[&str], keys: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for doc in docs {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(doc.trim()) else {
            continue;
        };
        let mut stack = vec![&v];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Array(a) => stack.extend(a.iter().rev()),
                serde_json::Value::Object(o) => {
                    for key in keys {
                        match o.get(*key) {
                            Some(serde_json::Value::String(s)) => out.push(s.clone()),
                            Some(serde_json::Value::Array(a)) => {
                                if let Some(serde_json::Value::String(s)) = a.first() {
                                    out.push(s.clone());
                                }
                            }
                            _ => {}
                        }
                    }
                    for (k, child) in o.iter() {
                        if k != "publisher" && k != "author" {
                            stack.push(child);
                        }
                    }
                }
                _ => {}
            }
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

const SEPARATORS: &[&str] = &[
    " | ", " - ", " – ", " — ", " _ ", " :: ", " » ", " « ", " · ", " • ", " / ", "｜", "|", "_", " : ", "—",
    " -- ",
];

/// Removes a site name around a title: picks the segment that matches a headline, else
/// the longest.
pub fn clean_title(raw: &str, h1s: &[(usize, String)]) -> String {
    let raw = super::normalize_ws(raw);
    for sep in SEPARATORS {
        if !raw.contains(sep) {
            continue;
        }
        let parts: Vec<&str> = raw.split(sep).map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.len() < 2 {
            continue;
        }
        for (_, h) in h1s {
            let hs = squash(h);
            if hs.is_empty() {
                continue;
            }
            if let Some(p) = parts.iter().find(|p| squash(p) == hs) {
                return (*p).to_string();
            }
        }
        let longest = parts.iter().max_by_key(|p| p.chars().count()).expect("two parts");
        return (*longest).to_string();
    }
    raw
}

/// Title and, when it came from a headline, that headline's arena index.
///
/// The visible `<h1>` is preferred when it is the article's headline: it is what readers
/// see, while og:title and `<title>` are often rewritten for search and social cards.
pub fn title(tree: &Tree, m: &Meta) -> (Option<String>, Option<usize>) {
    let declared = m
        .meta("og:title")
        .or_else(|| m.meta("twitter:title"))
        .map(str::to_string)
        .or_else(|| json_ld_values(&m.json_ld, &["headline"]).into_iter().next())
        .or_else(|| m.title_tag.clone());
    let cleaned = declared
        .as_deref()
        .map(|d| clean_title(d, &m.h1s))
        .filter(|c| !c.is_empty());
    let cs = cleaned.as_deref().map(squash).unwrap_or_default();
    let site = m.meta("og:site_name").map(squash).unwrap_or_default();
    let tag_segments: Vec<String> = m
        .title_tag
        .as_deref()
        .map(|t| {
            t.split(['|', '-', '–', '—', '_', '·', '»', ':', '•', '/', '«'])
                .map(squash)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let headline = |h: &str| {
        let hs = squash(h);
        let words = h.split_whitespace().count();
        let cjk = h.chars().filter(|&c| super::is_cjk(c)).count();
        // Against a declared title, a one- or two-word h1 is more likely a logo or section.
        let min_words = if cs.is_empty() { 2 } else { 3 };
        hs.len() >= 4
            && (words >= min_words || cjk >= 4)
            && hs != site
            && !(tag_segments.len() > 1 && tag_segments.contains(&hs) && hs != cs)
    };
    for (i, h) in &m.h1s {
        let hs = squash(h);
        if hs.len() < 4 || cs.is_empty() {
            continue;
        }
        let close = hs == cs
            || (cs.contains(&hs) && hs.len() * 10 >= cs.len() * 6)
            || (hs.contains(&cs) && cs.len() * 10 >= hs.len() * 6);
        if close {
            return (Some(ascii_quotes(h)), Some(*i));
        }
    }
    let live = m.h1s.iter().filter(|(i, _)| !tree.removed[*i]);
    if let Some((i, h)) = live
        .clone()
        .find(|(_, h)| headline(h))
        .or_else(|| m.h1s.iter().find(|(_, h)| headline(h)))
    {
        return (Some(ascii_quotes(h)), Some(*i));
    }
    (cleaned.map(|c| ascii_quotes(&c)), None)
}

/// Typographic quotes become ASCII so a template switching to "smart" quotes does not
/// read as a changed title.
fn ascii_quotes(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => '"',
            c => c,
        })
        .collect()
}

pub fn date(tree: &Tree, m: &Meta, url: Option<&str>, anchor: Option<usize>) -> Option<Date> {
    for key in DATE_KEYS {
        for (k, v) in &m.metas {
            if k == key
                && let Some(d) = dates::parse_machine(v)
            {
                return Some(d);
            }
        }
    }
    for v in json_ld_values(&m.json_ld, &["datePublished", "dateCreated", "uploadDate"]) {
        if let Some(d) = dates::parse_machine(&v) {
            return Some(d);
        }
    }
    let mut times = m
        .times
        .iter()
        .filter(|t| t.2)
        .chain(m.times.iter().filter(|t| !t.2));
    if let Some(d) = times.find_map(|(_, dt, _)| dates::parse_machine(dt)) {
        return Some(d);
    }
    if let Some(d) = url.and_then(dates::from_url) {
        return Some(d);
    }
    if let Some(d) = m
        .date_elems
        .iter()
        .find_map(|&i| dates::find_in_text(&tree.text_of(i)).map(|x| x.0))
    {
        return Some(d);
    }
    if let Some(d) = text_date(tree, anchor) {
        return Some(d);
    }
    for key in MODIFIED_KEYS {
        if let Some(d) = m.meta(key).and_then(dates::parse_machine) {
            return Some(d);
        }
    }
    json_ld_values(&m.json_ld, &["dateModified"])
        .iter()
        .find_map(|v| dates::parse_machine(v))
}

/// A date written near the headline: first after it, then just before it.
fn text_date(tree: &Tree, anchor: Option<usize>) -> Option<Date> {
    let start = anchor.unwrap_or(tree.body as usize);
    let live_text = |i: usize| match tree.nodes[i] {
        Node::Text(t) if !is_dead(tree, i) => Some(&**t),
        _ => None,
    };
    let mut after = String::new();
    let mut i = start;
    while i < tree.len() && after.len() < 1500 {
        if let Some(t) = live_text(i) {
            after.push_str(t);
            after.push(' ');
        }
        i += 1;
    }
    if let Some((d, _)) = dates::find_in_text(&after) {
        return Some(d);
    }
    anchor?;
    let mut before: Vec<&str> = Vec::new();
    let mut len = 0;
    let mut i = start;
    while i > tree.body as usize && len < 400 {
        i -= 1;
        if let Some(t) = live_text(i) {
            len += t.len();
            before.push(t);
        }
    }
    before.reverse();
    dates::find_in_text(&before.join(" ")).map(|(d, _)| d)
}

fn is_dead(tree: &Tree, i: usize) -> bool {
    let p = tree.parent[i];
    p != u32::MAX
        && matches!(
            tree.tag(p as usize),
            "script" | "style" | "noscript" | "template" | "title" | "option" | "select"
        )
}

/// Primary language subtag, lowercased: "en-US" -> "en", "zh_CN" -> "zh".
pub fn lang_code(s: &str) -> Option<String> {
    let primary = s
        .trim()
        .split(['-', '_', ',', ';', ' '])
        .next()?
        .to_ascii_lowercase();
    (primary.len() >= 2 && primary.len() <= 3 && primary.chars().all(|c| c.is_ascii_alphabetic()))
        .then_some(primary)
}

pub fn declared_lang(m: &Meta) -> Option<String> {
    m.html_lang
        .and_then(lang_code)
        .or_else(|| m.meta("content-language").and_then(lang_code))
        .or_else(|| m.meta("og:locale").and_then(lang_code))
        .or_else(|| m.meta("language").and_then(lang_code))
}
