//! Page metadata: title, publication date, language and canonical URL, from `<head>`
//! tags, JSON-LD, the headline and the text around it.

use std::sync::LazyLock;

use regex::Regex;
use scraper::Node;
use time::Date;

use super::dates::{self, Published};
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
    /// Arena index of the first live `<h2>` of a few words, the headline of pages
    /// without an `<h1>`.
    pub first_h2: Option<usize>,
    /// (arena index, datetime attribute, publication hint) of `<time>` elements.
    pub times: Vec<(usize, &'a str, bool)>,
    /// Small elements whose class/id says they hold a date or byline.
    pub date_elems: Vec<usize>,
}

pub fn collect<'a>(tree: &Tree<'a>) -> Meta<'a> {
    let mut m = Meta::default();
    let mut today = Vec::new();
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
            "h2" if m.first_h2.is_none() && !tree.removed[i] && tree.chars[i] >= 10 => {
                if tree.text_of(i).split_whitespace().count() >= 3 {
                    m.first_h2 = Some(i);
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
                if is_today_widget(e) {
                    today.push(i);
                }
                if e.attr("itemprop") == Some("datePublished")
                    && let Some(v) = e.attr("content").or(e.attr("datetime"))
                {
                    m.metas.push(("datepublished".into(), v));
                }
            }
        }
    }
    // Neither a today's-date widget nor the date-classed block around it dates the article.
    m.date_elems
        .retain(|&j| !today.iter().any(|&t| j <= t && t < tree.end[j] as usize));
    m
}

/// An element showing today's date (a masthead clock): when the page was served, not
/// when it was written.
fn is_today_widget(e: &scraper::node::Element) -> bool {
    e.attr("class").into_iter().chain(e.attr("id")).any(|c| {
        let c = c.to_ascii_lowercase();
        c.contains("today") || c.contains("current-date") || c.contains("currentdate")
    })
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
    pub fn meta(&self, key: &str) -> Option<&str> {
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

/// The publication date.
///
/// Metadata says what the CMS stored; the date printed between the headline and the
/// prose (or in a `<time pubdate>`) says what the reader is told, and is right where a
/// migration reset the stored date or where the stored field belongs to another item. So
/// the printed date wins over stored metadata, unless it is presented as an update ("Last
/// updated: ...") or is only a time-zone shift of the stored timestamp (one day apart).
/// Without stored metadata,
/// a printed date presented as a date comes first, then `<time>`, the URL, date-classed
/// elements, any printed date near the top, and a labelled date anywhere ("Posted on ...").
/// A page dated by month only ("November 2003", under the headline or a "Date" label) gets
/// that month. The modification date is the last resort.
pub fn date(tree: &Tree, m: &Meta, raw: &str, url: Option<&str>, anchor: Option<usize>) -> Option<Published> {
    let anchor = anchor.or_else(|| m.h1s.first().map(|h| h.0)).or(m.first_h2);
    if let Some(d) = day(tree, m, raw, url, anchor) {
        return Some(Published::Day(d));
    }
    if let Some((y, month)) = month_only(tree, anchor) {
        return Some(Published::Month(y, month));
    }
    MODIFIED_KEYS
        .iter()
        .find_map(|key| m.meta(key).and_then(dates::parse_machine))
        .or_else(|| {
            json_ld_values(&m.json_ld, &["dateModified"])
                .iter()
                .find_map(|v| dates::parse_machine(v))
        })
        .map(Published::Day)
}

/// The publication day, printed or stored; `None` leaves the month-only and modification
/// fallbacks to `date`.
fn day(tree: &Tree, m: &Meta, raw: &str, url: Option<&str>, anchor: Option<usize>) -> Option<Date> {
    let day_first = m.html_lang.is_some_and(day_first_lang);
    let mut published = None;
    'keys: for key in DATE_KEYS {
        for (k, v) in &m.metas {
            if k == key
                && let Some(d) = dates::parse_machine(v)
            {
                published = Some(d);
                break 'keys;
            }
        }
    }
    if published.is_none() {
        published = json_ld_values(&m.json_ld, &["datePublished", "dateCreated", "uploadDate"])
            .iter()
            .find_map(|v| dates::parse_machine(v));
    }
    if published.is_none() {
        // Vendor-prefixed or dashed names: "w-published-date", "og:publish_date". When
        // several disagree, one is a republication or sync stamp; the earliest is the
        // first appearance.
        published = m
            .metas
            .iter()
            .filter(|(k, _)| k.contains("publish") && !k.contains("publisher"))
            .filter_map(|(_, v)| dates::parse_machine(v))
            .min();
    }
    if published.is_none() {
        // State objects of script-rendered pages carry the CMS fields as JSON.
        published = raw_json_date(raw);
    }
    let shown = shown_date(tree, m, anchor, day_first);
    if let Some(p) = published {
        // `<time pubdate>` is HTML's own mark for the article's publication date, printed
        // for the reader; stored fields disagreeing with it were reset by a migration or a
        // republication.
        if let Some(d) = pubdate(tree, m) {
            return Some(d);
        }
        // A date shown as an update says when the page changed, not when it appeared.
        let Some(v) = shown.filter(|v| !v.updated) else {
            return Some(p);
        };
        // An ambiguous 03/10 printed date read the way the metadata confirms; a date in
        // the URL that agrees with the metadata settles a disagreement too.
        if v.alt == Some(p) || url.and_then(dates::from_url) == Some(p) {
            return Some(p);
        }
        // One day apart is one moment in two time zones (a UTC timestamp past local
        // midnight). The stored timestamp's own calendar date is the convention, unless
        // another stored field, the URL or a second publication key, writes the printed one.
        let stored_elsewhere = |d: Date| {
            url.and_then(dates::from_url) == Some(d)
                || JSON_DATE
                    .captures_iter(raw)
                    .take(8)
                    .any(|c| dates::parse_machine(&c[1]) == Some(d))
        };
        if (v.date - p).whole_days().abs() == 1 && !stored_elsewhere(v.date) {
            return Some(p);
        }
        return Some(v.date);
    }
    let mut times = m
        .times
        .iter()
        .filter(|t| t.2)
        .chain(m.times.iter().filter(|t| !t.2));
    if let Some(v) = shown.filter(|v| v.strong && !v.updated) {
        // An ambiguous 02-12-2025 read the way a machine-readable date on the page (a
        // `<time datetime>`, the URL) writes it unambiguously.
        if let Some(alt) = v.alt {
            let machine = |d: Date| {
                url.and_then(dates::from_url) == Some(d)
                    || m.times
                        .iter()
                        .any(|t| ISO_DAY.is_match(t.1) && dates::parse_machine(t.1) == Some(d))
            };
            if machine(alt) && !machine(v.date) {
                return Some(alt);
            }
        }
        return Some(v.date);
    }
    if let Some(d) = times.find_map(|(_, dt, _)| dates::parse_machine(dt)) {
        return Some(d);
    }
    if let Some(d) = url.and_then(dates::from_url) {
        return Some(d);
    }
    // A date presented as one at the headline, even as an update, is nearer the page's
    // own date than a date-classed element elsewhere (a teaser, a comment).
    if let Some(v) = shown.filter(|v| v.strong) {
        return Some(v.date);
    }
    if let Some(d) = m
        .date_elems
        .iter()
        .find_map(|&i| dates::find_date(&tree.text_of(i), day_first).map(|x| x.date))
    {
        return Some(d);
    }
    if let Some(v) = shown {
        return Some(v.date);
    }
    // The first date in the opening text of the page or article, prose included.
    let start = anchor.unwrap_or(tree.body as usize);
    if let Some(v) = window(tree, start, true, 1500, day_first, false) {
        return Some(v.date);
    }
    if let Some(v) = anchor.and_then(|a| window(tree, a, false, 400, day_first, false)) {
        return Some(v.date);
    }
    if anchor.is_some()
        && let Some(v) = window(tree, tree.body as usize, true, 1500, day_first, false)
    {
        return Some(v.date);
    }
    labelled_anywhere(tree, day_first)
}

/// A text that is only "Month Year", within the opening text after the headline or after a
/// label ("Date", "Published"). Links are passed over: a month that links somewhere is an
/// archive menu ("November 2025", "October 2025", ...), not the page's date.
fn month_only(tree: &Tree, anchor: Option<usize>) -> Option<(i32, time::Month)> {
    let body = tree.body as usize;
    let stop = (tree.end[body] as usize).min(tree.len());
    let start = anchor.unwrap_or(body);
    let mut prev = "";
    let mut seen = 0usize;
    let mut after_start = 0usize;
    for i in body..stop {
        let Node::Text(t) = tree.nodes[i] else {
            continue;
        };
        let t: &str = t;
        if is_dead(tree, i) || t.trim().is_empty() {
            continue;
        }
        seen += t.len();
        if seen > 300_000 {
            break;
        }
        if i >= start {
            after_start += t.len();
        }
        if let Some(ym) = dates::month_only(t).filter(|_| !in_link(tree, i)) {
            let near = i >= start && after_start <= 1500;
            let lead = prev.to_lowercase();
            if near || LABELS.iter().any(|w| lead.contains(w)) {
                return Some(ym);
            }
        }
        prev = if t.len() < 60 { t } else { "" };
    }
    None
}

/// Whether a text node sits inside a link (within two levels).
fn in_link(tree: &Tree, node: usize) -> bool {
    let mut p = tree.parent[node];
    for _ in 0..2 {
        if p == u32::MAX {
            return false;
        }
        if tree.tag(p as usize) == "a" {
            return true;
        }
        p = tree.parent[p as usize];
    }
    false
}

/// The date of the live `<time pubdate>` elements, when they agree on one (several dates
/// are a listing's, not the article's).
fn pubdate(tree: &Tree, m: &Meta) -> Option<Date> {
    let mut marked = m.times.iter().filter_map(|&(i, dt, _)| match tree.nodes[i] {
        Node::Element(e) if e.attr("pubdate").is_some() && !tree.removed[i] => dates::parse_machine(dt),
        _ => None,
    });
    let first = marked.next()?;
    marked.all(|d| d == first).then_some(first)
}

/// The first date anywhere in the body that follows a label such as "Posted on" or "Last
/// updated:", for pages that print their date far from the headline.
fn labelled_anywhere(tree: &Tree, day_first: bool) -> Option<Date> {
    let body = tree.body as usize;
    let stop = (tree.end[body] as usize).min(tree.len());
    // The two text nodes before, for a label set apart from its date ("Written by",
    // an author link, then the date).
    let mut prev: [&str; 2] = ["", ""];
    let mut seen = 0usize;
    let mut tried = 0usize;
    // A labelled date inside a paragraph ("... originally published on ...") counts
    // only when no byline-sized text has one.
    let mut in_prose = None;
    for i in body..stop {
        let Node::Text(t) = tree.nodes[i] else {
            continue;
        };
        if is_dead(tree, i) || t.trim().is_empty() {
            continue;
        }
        seen += t.len();
        if seen > 300_000 {
            break;
        }
        let t: &str = t;
        if t.len() < 400 && t.bytes().any(|b| b.is_ascii_digit()) {
            tried += 1;
            if tried > 2000 {
                break;
            }
            if let Some(f) = dates::find_date(t, day_first) {
                let joined = format!("{} {} {}", prev[0].trim(), prev[1].trim(), &t[..f.pos]);
                let mut from = joined.len().saturating_sub(40);
                while !joined.is_char_boundary(from) {
                    from -= 1;
                }
                let lead = joined[from..].to_lowercase();
                if LABELS.iter().any(|w| lead.contains(w)) {
                    if !in_paragraph(tree, i) {
                        return Some(f.date);
                    }
                    in_prose = in_prose.or(Some(f.date));
                }
            }
        }
        prev = [prev[1], if t.len() < 200 { t } else { "" }];
    }
    in_prose
}

/// Whether a text node is part of a paragraph of prose (directly or inside a link or
/// emphasis), not a byline: a sentence of 15 words or more, or a long block.
fn in_paragraph(tree: &Tree, node: usize) -> bool {
    if let Node::Text(t) = tree.nodes[node]
        && t.split_whitespace().count() >= 15
    {
        return true;
    }
    let mut i = node;
    for _ in 0..3 {
        if tree.chars[i] >= PROSE {
            return true;
        }
        let p = tree.parent[i];
        if p == u32::MAX
            || !matches!(
                tree.tag(p as usize),
                "p" | "em" | "i" | "strong" | "b" | "a" | "span"
            )
        {
            return false;
        }
        i = p as usize;
    }
    tree.chars[i] >= PROSE
}

/// Words that present the date after them as the page's date.
const LABELS: &[&str] = &[
    "publish",
    "posted",
    "updated",
    "date",
    "released",
    "written",
    "post time",
];

/// A date written year first, which has only one reading.
static ISO_DAY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:19|20)\d{2}-\d{2}-\d{2}").expect("valid regex"));

static JSON_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:"|&quot;|\\")(?:datePublished|publishDate|publishedDate|published_at|publishedAt|date_published|publish_date|firstPublishedDate|first_published_at)(?:"|&quot;|\\")\s*:\s*(?:"|&quot;|\\")([^"&\\]{8,40})"#,
    )
    .expect("valid regex")
});

/// A publication date from a JSON key anywhere in the markup (inline state, escaped
/// attributes), for pages that expose it nowhere else.
fn raw_json_date(raw: &str) -> Option<Date> {
    JSON_DATE
        .captures_iter(raw)
        .take(8)
        .find_map(|c| dates::parse_machine(&c[1]))
}

/// Languages whose numeric dates put the day first; US English (and English with no
/// region, mostly American templates) puts the month first.
fn day_first_lang(lang: &str) -> bool {
    let l = lang.trim().to_ascii_lowercase().replace('_', "-");
    !(l.is_empty() || l == "en" || l.starts_with("en-us") || l.starts_with("en-ca") || l == "en-ph")
}

/// A date printed near the headline.
#[derive(Clone, Copy)]
struct Shown {
    date: Date,
    alt: Option<Date>,
    /// Presented as a date: inside `<time>` or a date/byline element, or after a label
    /// such as "Published" or "Updated".
    strong: bool,
    /// Presented as the date of an update, not of publication.
    updated: bool,
    /// Bytes of text between the headline and the date.
    gap: usize,
}

/// The date printed just after the headline or just before it (the nearer when both are
/// presented as dates, else the one that is, else the one after); with no headline, the
/// first small element whose class says it holds a date.
fn shown_date(tree: &Tree, m: &Meta, anchor: Option<usize>, day_first: bool) -> Option<Shown> {
    let Some(start) = anchor else {
        return m.date_elems.iter().find_map(|&i| {
            dates::find_date(&tree.text_of(i), day_first).map(|f| Shown {
                date: f.date,
                alt: f.alt,
                strong: true,
                updated: false,
                gap: 0,
            })
        });
    };
    let after = window(tree, start, true, 1500, day_first, true);
    let before = window(tree, start, false, 400, day_first, true);
    match (after, before) {
        // Presented as dates on both sides: the one nearer the headline is its own, the
        // other belongs to the block next to it (a teaser list, a kicker).
        (Some(a), Some(b)) if a.strong && b.strong => Some(if b.gap < a.gap { b } else { a }),
        (Some(a), _) if a.strong => after,
        (_, Some(b)) if b.strong => before,
        _ => after.or(before),
    }
}

/// Characters of one text node that make it prose rather than a byline.
const PROSE: u32 = 100;

/// Bytes of a standfirst at most; longer text after the headline is the article itself.
const STANDFIRST: usize = 400;

/// The first date in `limit` bytes of live text after (or before) node `start`.
fn window(
    tree: &Tree,
    start: usize,
    forward: bool,
    limit: usize,
    day_first: bool,
    stop_at_prose: bool,
) -> Option<Shown> {
    let body = tree.body as usize;
    let mut pieces: Vec<(usize, &str)> = Vec::new();
    let mut len = 0;
    let mut i = start;
    let mut skipped_standfirst: Option<&str> = None;
    loop {
        if forward {
            if i >= tree.len() {
                break;
            }
        } else {
            if i <= body {
                break;
            }
            i -= 1;
        }
        if len >= limit {
            break;
        }
        if let Node::Text(t) = tree.nodes[i]
            && !is_dead(tree, i)
            && !t.trim().is_empty()
            && !in_today_element(tree, i)
        {
            // Bylines sit between the headline and the prose; dates inside the prose
            // are about its subject.
            if stop_at_prose && tree.chars[i] >= PROSE && i != start {
                // A standfirst, the sentence or two set under the headline, often comes
                // before the byline: passed over (its dates are about the subject), once.
                // Its copy for another screen size is passed over too.
                let standfirst = forward
                    && t.len() < STANDFIRST
                    && match skipped_standfirst {
                        None => pieces.iter().all(|(n, _)| *n < tree.end[start] as usize),
                        Some(first) => first == t.trim(),
                    };
                if !standfirst {
                    break;
                }
                skipped_standfirst = Some(t.trim());
                i += 1;
                continue;
            }
            len += t.len() + 1;
            pieces.push((i, t));
        }
        if forward {
            i += 1;
        }
    }
    if !forward {
        pieces.reverse();
    }
    let mut text = String::with_capacity(len);
    let mut offsets = Vec::with_capacity(pieces.len());
    for (node, t) in &pieces {
        offsets.push((text.len(), *node));
        text.push_str(t);
        text.push(' ');
    }
    let f = dates::find_date(&text, day_first)?;
    // The headline's own text opens a forward window; a backward one ends at the headline.
    let gap = if forward {
        let headline: usize = pieces
            .iter()
            .take_while(|(n, _)| *n < tree.end[start] as usize)
            .map(|(_, t)| t.len() + 1)
            .sum();
        f.pos.saturating_sub(headline)
    } else {
        text.len() - f.pos
    };
    let node = offsets
        .iter()
        .rev()
        .find(|(off, _)| *off <= f.pos)
        .map_or(start, |x| x.1);
    let mut lead_start = f.pos.saturating_sub(40);
    while !text.is_char_boundary(lead_start) {
        lead_start -= 1;
    }
    let lead = text[lead_start..f.pos].to_lowercase();
    let last = |words: &[&str]| words.iter().filter_map(|w| lead.rfind(w)).max();
    let publish_label = last(&["publish", "posted", "released", "written", "created"]);
    let update_label = last(&["updat", "modif", "revis", "reviewed", "edited"]);
    let neutral_label = last(&["date", "on "]);
    let updated = update_label.is_some_and(|u| publish_label.is_none_or(|p| u > p))
        || (update_label.is_none() && publish_label.is_none() && in_update_element(tree, node));
    Some(Shown {
        date: f.date,
        alt: f.alt,
        gap,
        strong: publish_label.is_some()
            || update_label.is_some()
            || neutral_label.is_some()
            || in_date_element(tree, node),
        updated,
    })
}

/// Whether a text node sits in a widget showing today's date (a masthead clock), which
/// says when the page was served, not when it was written.
fn in_today_element(tree: &Tree, node: usize) -> bool {
    let mut p = tree.parent[node];
    let mut steps = 0;
    while p != u32::MAX && steps < 3 {
        let i = p as usize;
        if let Node::Element(e) = tree.nodes[i]
            && is_today_widget(e)
        {
            return true;
        }
        p = tree.parent[i];
        steps += 1;
    }
    false
}

/// Whether a text node sits in an element marked as holding the modification date.
fn in_update_element(tree: &Tree, node: usize) -> bool {
    let mut p = tree.parent[node];
    let mut steps = 0;
    while p != u32::MAX && steps < 3 {
        let i = p as usize;
        if let Node::Element(e) = tree.nodes[i] {
            let marked = e.attr("class").into_iter().chain(e.attr("itemprop")).any(|c| {
                let c = c.to_ascii_lowercase();
                (c.contains("updated") || c.contains("modified")) && !c.contains("publish")
            });
            if marked {
                return true;
            }
        }
        p = tree.parent[i];
        steps += 1;
    }
    false
}

/// Whether a text node sits in `<time>` or in a small element whose class/id names a date.
fn in_date_element(tree: &Tree, node: usize) -> bool {
    let mut p = tree.parent[node];
    let mut steps = 0;
    while p != u32::MAX && steps < 4 {
        let i = p as usize;
        if tree.chars[i] > 200 {
            break;
        }
        if let Node::Element(e) = tree.nodes[i] {
            if e.name() == "time" {
                return true;
            }
            let dateish = e.attr("class").into_iter().chain(e.attr("id")).any(|c| {
                let c = c.to_ascii_lowercase();
                ["date", "time", "publish", "posted", "byline", "meta", "updated"]
                    .iter()
                    .any(|k| c.contains(k))
            });
            if dateish {
                return true;
            }
        }
        p = tree.parent[i];
        steps += 1;
    }
    false
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const PROSE_1: &str = "The council approved the new budget for public transport on Tuesday, \
        after a debate that lasted most of the afternoon and drew a large crowd of residents.";
    const PROSE_2: &str = "Bus fares will stay the same next year, while two tram lines will be \
        extended to the new districts in the north and east of the city by the end of the decade.";

    /// The publication date of a page, found the way `extract` finds it.
    fn date_of(html: &str, url: Option<&str>) -> Option<Date> {
        published_of(html, url).and_then(Published::day)
    }

    fn published_of(html: &str, url: Option<&str>) -> Option<Published> {
        let dom = scraper::Html::parse_document(html);
        let tree = Tree::build(&dom, true);
        let m = collect(&tree);
        let (_, headline) = title(&tree, &m);
        date(&tree, &m, html, url, headline)
    }

    fn page(head: &str, after_headline: &str) -> String {
        format!(
            "<html lang=\"en\"><head><title>Council approves transport budget</title>{head}</head>\
             <body><h1>Council approves transport budget</h1>{after_headline}\
             <p>{PROSE_1}</p><p>{PROSE_2}</p></body></html>"
        )
    }

    #[test]
    fn one_day_off_is_a_time_zone_shift() {
        let head = r#"<meta property="article:published_time" content="2024-03-06T01:30:00+00:00">"#;
        let byline = "<div class=\"byline\">By Ana Ruiz | March 5, 2024</div>";
        // The stored timestamp's date stands against a printed local date a day earlier.
        assert_eq!(date_of(&page(head, byline), None), Some(date!(2024 - 03 - 06)));
        // A date in the URL or a second publication field sides with the printed date.
        assert_eq!(
            date_of(
                &page(head, byline),
                Some("https://example.org/2024/03/05/budget/")
            ),
            Some(date!(2024 - 03 - 05))
        );
        let second = format!(r#"{head}<script>window.state = {{"publishedAt":"2024-03-05"}};</script>"#);
        assert_eq!(date_of(&page(&second, byline), None), Some(date!(2024 - 03 - 05)));
        // Further apart, the printed date is not a time-zone artefact and wins.
        let byline = "<div class=\"byline\">By Ana Ruiz | March 1, 2024</div>";
        assert_eq!(date_of(&page(head, byline), None), Some(date!(2024 - 03 - 01)));
    }

    #[test]
    fn standfirst_before_the_byline() {
        let head = r#"<meta property="article:published_time" content="2024-02-20T10:00:00+00:00">"#;
        let standfirst = "<p>Fares stay put and two tram lines grow, in a budget that has been \
            argued over since January 3, 2023 by every party on the council.</p>";
        let html = page(
            head,
            &format!("{standfirst}<div>By Ana Ruiz | March 5, 2024</div>"),
        );
        // The byline's date, not the one inside the standfirst.
        assert_eq!(date_of(&html, None), Some(date!(2024 - 03 - 05)));
        // A copy of the standfirst (one per screen size) is passed over too.
        let html = page(
            head,
            &format!("{standfirst}{standfirst}<div>By Ana Ruiz | March 5, 2024</div>"),
        );
        assert_eq!(date_of(&html, None), Some(date!(2024 - 03 - 05)));
        // Only one standfirst is passed over: beyond it is the article's prose.
        let html = page(
            head,
            &format!("{standfirst}<p>{PROSE_2}</p><div>By Ana Ruiz | March 5, 2024</div>"),
        );
        assert_eq!(date_of(&html, None), Some(date!(2024 - 02 - 20)));
    }

    #[test]
    fn time_pubdate_is_the_printed_publication_date() {
        let head = r#"<meta property="article:published_time" content="2025-08-08T00:00:00-04:00">"#;
        let footer = r#"<div class="published">Published <time pubdate datetime="2025-08-13">August 13, 2025</time></div>"#;
        let html = format!(
            "<html lang=\"en\"><head>{head}</head><body><h1>Free accounting tools</h1>\
             <p>{PROSE_1}</p><p>{PROSE_2}</p>{footer}</body></html>"
        );
        assert_eq!(date_of(&html, None), Some(date!(2025 - 08 - 13)));
        // Marks that disagree belong to a listing; the stored date stands.
        let listing = html.replace(
            "</body>",
            r#"<ul><li><time pubdate datetime="2025-07-01">July 1</time></li></ul></body>"#,
        );
        assert_eq!(date_of(&listing, None), Some(date!(2025 - 08 - 08)));
    }

    #[test]
    fn earliest_of_disagreeing_vendor_keys() {
        let head = r#"<meta name="x-published-time" content="2025-11-04T08:00:00Z">
            <meta name="x-published-date" content="2022-06-14">"#;
        assert_eq!(date_of(&page(head, ""), None), Some(date!(2022 - 06 - 14)));
    }

    #[test]
    fn nearer_of_the_dates_around_the_headline() {
        // The date above the headline is its own; the one below opens a teaser list.
        let html = format!(
            "<html lang=\"en\"><head><title>Council approves transport budget</title></head><body>\
             <div class=\"post-meta\"><span>January 16, 2025</span></div>\
             <h1>Council approves transport budget</h1>\
             <ul class=\"more\"><li><a href=\"/b\">Parks department opens two new playgrounds</a>\
             <span class=\"date\">July 15, 2025</span></li></ul>\
             <p>{PROSE_1}</p><p>{PROSE_2}</p></body></html>"
        );
        assert_eq!(date_of(&html, None), Some(date!(2025 - 01 - 16)));
        // Right under the headline, the date below is the nearer one.
        let html = html.replace(
            "<ul class=\"more\"><li><a href=\"/b\">Parks department opens two new playgrounds</a>",
            "<ul class=\"more\"><li>",
        );
        assert_eq!(date_of(&html, None), Some(date!(2025 - 07 - 15)));
    }

    #[test]
    fn a_month_is_kept_as_a_month() {
        let month = |html: &str| published_of(html, None).map(|p| p.to_string());
        // A report dated by month under its headline, with no day anywhere.
        let html = page("", "<p>November 2015</p>");
        assert_eq!(month(&html).as_deref(), Some("2015-11"));
        // Under a "Date" label in a sidebar after the text, it beats the modification date.
        let html = format!(
            "<html lang=\"en\"><head><meta property=\"article:modified_time\" content=\"2025-09-17T17:00:45Z\">\
             </head><body><h1>Lessons for climate policy</h1><p>{PROSE_1}</p><p>{PROSE_2}</p><p>{PROSE_1}</p>\
             <p>{PROSE_2}</p><p>{PROSE_1}</p><p>{PROSE_2}</p><p>{PROSE_1}</p><p>{PROSE_2}</p><p>{PROSE_1}</p>\
             <p>{PROSE_2}</p><p>{PROSE_1}</p><p>{PROSE_2}</p><aside><h6>Date</h6><p>Nov. 2003</p></aside></body></html>"
        );
        assert_eq!(month(&html).as_deref(), Some("2003-11"));
        // An archive menu of months under the headline is not the page's date.
        let archive = page(
            "",
            "<ul><li><a href=\"/2015/11\">November 2015</a></li><li><a href=\"/2015/10\">October 2015</a></li></ul>",
        );
        assert_eq!(month(&archive), None);
        // Without the label, a month far from the headline says nothing; the stored date stands.
        let unlabelled = html.replace("<h6>Date</h6>", "<h6>Topics</h6>");
        assert_eq!(month(&unlabelled).as_deref(), Some("2025-09-17"));
        // A printed day wins over a month.
        let html = page(
            "",
            "<p>November 2015</p><p class=\"date\">Posted on November 3, 2015</p>",
        );
        assert_eq!(month(&html).as_deref(), Some("2015-11-03"));
        // Chinese month dates, and a round trip through the stored form.
        assert_eq!(month(&page("", "<p>2023年5月</p>")).as_deref(), Some("2023-05"));
        for s in ["2023-05", "2023-05-25"] {
            assert_eq!(Published::parse(s).map(|p| p.to_string()).as_deref(), Some(s));
        }
        assert_eq!(Published::parse("2023-13"), None);
        assert_eq!(Published::parse("May 2023"), None);
    }
}
