//! Main-content selection: flatten the DOM into text blocks, find the element where the
//! article text concentrates, and filter boilerplate blocks inside it.

use std::sync::LazyLock;

use regex::Regex;
use scraper::Node;

use super::tree::Tree;
use super::{Block, BlockKind};

/// A block before selection, with the statistics scoring needs.
pub struct Raw {
    pub kind: BlockKind,
    pub text: String,
    /// First arena node of the block, used for position tests.
    pub start: u32,
    pub chars: u32,
    pub link_chars: u32,
}

/// Elements that start a new block of text; everything else is inline.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "tbody",
    "thead",
    "tfoot",
    "caption",
    "figure",
    "figcaption",
    "header",
    "footer",
    "nav",
    "aside",
    "form",
    "address",
    "center",
    "hr",
    "body",
    "html",
    "details",
    "summary",
    "fieldset",
    "legend",
    "hgroup",
    "menu",
    "noscript",
    "img",
    "picture",
];

fn is_block_tag(tag: &str) -> bool {
    BLOCK_TAGS.contains(&tag)
}

fn kind_of(tag: &str) -> Option<BlockKind> {
    Some(match tag {
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => BlockKind::Heading,
        "li" | "dd" | "dt" => BlockKind::ListItem,
        "blockquote" => BlockKind::Quote,
        "pre" => BlockKind::Pre,
        _ => return None,
    })
}

struct Frame {
    node: u32,
    block: bool,
    kind: Option<BlockKind>,
}

/// Walks the body in document order and cuts text into blocks at block-level boundaries.
pub fn flatten(tree: &Tree) -> Vec<Raw> {
    let mut out = Vec::new();
    let body = tree.body as usize;
    let stop = tree.end[body] as usize;
    let mut open: Vec<Frame> = Vec::new();
    let mut buf = String::new();
    let mut buf_start = u32::MAX;
    let mut link_chars = 0u32;
    let mut link_depth = 0u32;
    let mut pre_depth = 0u32;

    let flush = |open: &Vec<Frame>,
                 buf: &mut String,
                 buf_start: &mut u32,
                 link_chars: &mut u32,
                 out: &mut Vec<Raw>| {
        let kind = open.last().and_then(|f| f.kind).unwrap_or(BlockKind::Paragraph);
        let text = if kind == BlockKind::Pre {
            normalize_pre(buf)
        } else {
            super::normalize_ws(buf)
        };
        if !text.is_empty() {
            let chars = text.chars().filter(|c| !c.is_whitespace()).count() as u32;
            out.push(Raw {
                kind,
                text,
                start: *buf_start,
                chars,
                link_chars: (*link_chars).min(chars),
            });
        }
        buf.clear();
        *buf_start = u32::MAX;
        *link_chars = 0;
    };

    let mut i = body;
    while i < stop {
        while let Some(top) = open.last() {
            if i < tree.end[top.node as usize] as usize {
                break;
            }
            let f = open.pop().expect("non-empty");
            match tree.tag(f.node as usize) {
                "a" => link_depth = link_depth.saturating_sub(1),
                "pre" => pre_depth = pre_depth.saturating_sub(1),
                _ => {}
            }
            if f.block {
                // Text after a closed block belongs to the enclosing element, so flush
                // with the closing frame still counted as the owner.
                open.push(f);
                flush(&open, &mut buf, &mut buf_start, &mut link_chars, &mut out);
                open.pop();
            }
        }
        match tree.nodes[i] {
            Node::Text(t) if !tree.removed[i] => {
                if buf_start == u32::MAX {
                    buf_start = i as u32;
                }
                let before = buf.len();
                if pre_depth > 0 {
                    buf.push_str(t);
                } else {
                    for c in t.chars() {
                        match c {
                            '\u{200B}' | '\u{200C}' | '\u{FEFF}' | '\u{AD}' => {}
                            c if c.is_whitespace() => buf.push(' '),
                            c => buf.push(c),
                        }
                    }
                }
                if link_depth > 0 {
                    link_chars += buf[before..].chars().filter(|c| !c.is_whitespace()).count() as u32;
                }
                i += 1;
            }
            Node::Element(e) => {
                let tag = e.name();
                let block = is_block_tag(tag);
                if tree.removed[i] {
                    if block {
                        flush(&open, &mut buf, &mut buf_start, &mut link_chars, &mut out);
                    } else {
                        buf.push(' ');
                    }
                    i = tree.end[i] as usize;
                    continue;
                }
                if tag == "br" {
                    buf.push('\n');
                    i += 1;
                    continue;
                }
                if block {
                    flush(&open, &mut buf, &mut buf_start, &mut link_chars, &mut out);
                }
                if tag == "table"
                    && let Some(raw) = data_table(tree, i)
                {
                    out.push(raw);
                    i = tree.end[i] as usize;
                    continue;
                }
                match tag {
                    "a" => link_depth += 1,
                    "pre" => pre_depth += 1,
                    _ => {}
                }
                let parent = open.last();
                let kind = kind_of(tag).or_else(|| {
                    // A paragraph or cell resets the inherited kind only inside containers.
                    if matches!(tag, "p" | "td" | "th" | "div") {
                        parent.and_then(|f| f.kind).filter(|k| *k != BlockKind::Heading)
                    } else {
                        parent.and_then(|f| f.kind)
                    }
                });
                open.push(Frame {
                    node: i as u32,
                    block,
                    kind,
                });
                i += 1;
            }
            _ => i += 1,
        }
    }
    flush(&open, &mut buf, &mut buf_start, &mut link_chars, &mut out);
    out
}

/// A table of data (not layout) as one block: cells joined by " | ", rows by newlines.
fn data_table(tree: &Tree, t: usize) -> Option<Raw> {
    let end = tree.end[t] as usize;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut link_chars = 0u32;
    let mut j = t + 1;
    while j < end {
        if tree.removed[j] {
            j = tree.end[j] as usize;
            continue;
        }
        match tree.tag(j) {
            "table" => return None,
            "tr" => rows.push(Vec::new()),
            "a" => link_chars += tree.chars[j],
            "td" | "th" => {
                if tree.chars[j] > 400 {
                    return None;
                }
                for k in j..tree.end[j] as usize {
                    match tree.tag(k) {
                        "table" | "p" | "div" | "ul" | "ol" if tree.chars[k] > 150 => return None,
                        "a" => link_chars += tree.chars[k],
                        _ => {}
                    }
                }
                let text = tree.text_of(j);
                if rows.is_empty() {
                    rows.push(Vec::new());
                }
                rows.last_mut().expect("row").push(text);
                j = tree.end[j] as usize;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    rows.retain(|r| r.iter().any(|c| !c.is_empty()));
    if rows.iter().map(Vec::len).max().unwrap_or(0) < 2 {
        return None;
    }
    let text = rows.iter().map(|r| r.join(" | ")).collect::<Vec<_>>().join("\n");
    let chars = text.chars().filter(|c| !c.is_whitespace()).count() as u32;
    Some(Raw {
        kind: BlockKind::Table,
        text,
        start: t as u32,
        chars,
        link_chars: link_chars.min(chars),
    })
}

fn normalize_pre(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim_end).collect();
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(a), Some(b)) => lines[a..=b].join("\n"),
        _ => String::new(),
    }
}

/// Length that treats a CJK character as worth about two Latin ones.
fn eff_len(s: &str) -> f32 {
    s.chars().map(|c| if super::is_cjk(c) { 2.0 } else { 1.0 }).sum()
}

fn block_weight(b: &Raw) -> f32 {
    if b.kind == BlockKind::Heading || b.chars == 0 {
        return 0.0;
    }
    let len = eff_len(&b.text);
    if len < 25.0 {
        return 0.0;
    }
    let ld = b.link_chars as f32 / b.chars as f32;
    if ld > 0.5 {
        return 0.0;
    }
    len * (1.0 - ld) * (1.0 - ld)
}

/// Share of a container's text mass a child must hold for the search to descend into it.
const DESCEND: f32 = 0.75;

/// Chooses the main content and returns its blocks, boilerplate filtered.
pub fn select(tree: &Tree, raws: &[Raw]) -> Vec<Block> {
    let n = tree.len();
    // Prefix sums of block weights by arena position: mass(i) is the weight of the blocks
    // that start inside i's subtree.
    let mut at = vec![0f32; n + 1];
    for b in raws {
        at[b.start.min(n as u32 - 1) as usize] += block_weight(b);
    }
    let mut prefix = vec![0f32; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + at[i];
    }
    let mass = |i: usize| prefix[tree.end[i] as usize] - prefix[i];

    // Descend from <body> into the child holding most of the article-like text, while
    // one child holds a clear majority: the article is where the text stops concentrating.
    let mut best = tree.body as usize;
    loop {
        let total = mass(best);
        if total <= 0.0 {
            break;
        }
        let mut top = (0usize, 0f32);
        let mut j = best + 1;
        while j < tree.end[best] as usize {
            if !tree.removed[j] && tree.nodes[j].is_element() {
                let m = mass(j);
                if m > top.1 {
                    top = (j, m);
                }
            }
            j = tree.end[j] as usize;
        }
        if top.1 >= total * DESCEND {
            best = top.0;
        } else {
            break;
        }
    }
    // An article split over sibling wrappers of the same kind (a lead block, then the
    // rest) is one article: siblings of the chosen element that also hold article-like
    // text join it.
    let mut ranges = vec![(best, tree.end[best] as usize)];
    let parent = tree.parent[best];
    if parent != u32::MAX && best != tree.body as usize && mass(best) > 0.0 {
        let p = parent as usize;
        let tag = tree.tag(best);
        let mut j = p + 1;
        while j < tree.end[p] as usize {
            if j != best
                && !tree.removed[j]
                && tree.tag(j) == tag
                && mass(j) > 0.0
                && same_classes(tree, j, best)
            {
                ranges.push((j, tree.end[j] as usize));
            }
            j = tree.end[j] as usize;
        }
    }
    let inside = |pos: u32| {
        let pos = pos as usize;
        ranges.iter().any(|&(a, b)| pos >= a && pos < b)
    };

    let mut blocks = Vec::new();
    let mut skipping_list = false;
    for b in raws.iter().filter(|b| inside(b.start)) {
        if b.kind == BlockKind::Heading && is_section_boilerplate(&b.text) {
            // "Related articles", "Comments": drop the heading and the list under it.
            skipping_list = true;
            continue;
        }
        if skipping_list {
            if b.kind == BlockKind::ListItem || b.chars < 60 {
                continue;
            }
            skipping_list = false;
        }
        if b.kind == BlockKind::Heading {
            skipping_list = false;
        }
        if is_boilerplate_block(b) {
            continue;
        }
        blocks.push(Block {
            kind: b.kind,
            text: b.text.clone(),
        });
    }
    blocks
}

/// Whether two elements share their first class name (or both have none): the mark of
/// parts of one template block rather than neighbouring widgets.
fn same_classes(tree: &Tree, a: usize, b: usize) -> bool {
    let first = |i: usize| match tree.nodes[i] {
        scraper::Node::Element(e) => e.attr("class").and_then(|c| c.split_whitespace().next()),
        _ => None,
    };
    first(a) == first(b)
}

static SECTION_BOILER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(related|more|recommended|popular|trending|latest|recent|top|you may also|you might also|read (more|also|next)|see also|also read|must read|further reading|more from|more on|most (read|popular|viewed)|comments?|leave a (comment|reply)|share|tags|topics|table of contents|contents$|in this (article|post|guide)$|jump to|on this page$|相关|推荐|热门|更多|延伸阅读|猜你喜欢|评论|目录)",
    )
    .expect("valid regex")
});

fn is_section_boilerplate(text: &str) -> bool {
    text.chars().count() <= 60 && SECTION_BOILER.is_match(text.trim())
}

static BOILER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^(?:",
        r"(?:views?|reads?|hits|visits|pageviews|阅读(?:次数|量|数)?|浏览(?:次数|量)?|点击(?:次数|数|量)?|访问量)\s*[:：]?\s*\d[\d,]*\s*(?:次|times)?",
        r"|\d[\d,.]*\s*(?:k\s*)?(?:views?|comments?|shares?|reads?|likes?)",
        r"|share(?: this| on \w+| article| story| post)?:?|tweet|print(?: this)?(?: page| article)?|email|e-mail|pin it|whatsapp|linkedin|facebook|twitter|copy link",
        r"|(?:font|text) size:?.*|字号[:：]?.*|\[?打印(?:本页)?\]?|\[?关闭(?:窗口)?\]?|分享到[:：]?.*|扫一扫.*|【?字体[:：].*",
        r"|(?:related|recommended|popular|trending) (?:news|articles?|posts?|stories|content|topics|reading)\b.*",
        r"|read (?:more|also|next|the full \w+)\b.*|must read\b.*|see also\b.*|also read\b.*|continue reading\b.*|click here\b.*",
        r"|(?:posted|written|published|reported) by\b.*",
        r"|(?:author|editor|source|photo|image|credit)s?\s*[:：].*|作者[:：].*|来源[:：].*|责任编辑[:：].*|编辑[:：].*|记者[:：].*|发布(?:时间|日期)[:：].*|信息来源[:：].*",
        r"|tags?\s*[:：].*|filed under\b.*|categor(?:y|ies)\s*[:：].*|topics?\s*[:：].*|关键词[:：].*",
        r"|(?:subscribe|sign up|newsletter)\b.*|advertisement|sponsored(?: content)?|skip to (?:main )?content|back to top|返回顶部|上一篇.*|下一篇.*|(?:previous|next) (?:article|post|story)\b.*",
        r"|\d*\s*comments?|comments?\s*\(\d+\)|leave a (?:comment|reply)\b.*|join the conversation\b.*|tell us what you think\b.*|share your thoughts\b.*",
        r"|by|estimated reading time:?.*|(?:reading time:?\s*)?\d+\s*min(?:ute)?s?(?: read)?|\[/?[a-z_]+(?:\s[^\]]*)?\]",
        r"|adverti[sz]ement\b.*|advert|\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago|explore further|this (?:slideshow|video|content|feature) requires javascript\.?|(?:please )?enable javascript\b.*|loading\.*|<[a-z!/][^>]*>.*",
        r"|(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2},? \d{4}(?:,? (?:at )?\d{1,2}:\d{2}.*)?|updated:? (?:at )?\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?.*",
        r"|(?:copyright|©|\(c\)).*|.*all rights reserved\.?|版权所有.*",
        r"|(?:updated|published|posted|last (?:updated|modified))\s*(?:on)?\s*[:：]?\s*.{0,40}\d{4}.{0,15}",
        r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2},? \d{4}(?:,? \d{1,2}:\d{2}.*)?|\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]* \d{4}",
        r")$"
    ))
    .expect("valid regex")
});

/// A date, and perhaps a time, alone in a block or after a short label ("发布时间：2023-05-25
/// 16:57"). The label's length is checked in code: `[\p{L} ]{1,20}` would copy a class of every
/// letter twenty times over, which made this one rule two thirds of the boilerplate pattern's
/// states and several MB of memory per thread matching it.
static LABELLED_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:([\p{L} ]+)[:：]\s*)?(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日)(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?$")
        .expect("valid regex")
});

fn is_labelled_date(text: &str) -> bool {
    LABELLED_DATE
        .captures(text)
        .is_some_and(|c| c.get(1).is_none_or(|label| label.as_str().chars().count() <= 20))
}

/// A byline: "By Jane Doe", "by J. Smith and K. Lee", "By Ana Ruiz | Reuters": "by", one to
/// four names, and perhaps a second author of up to four words after a separator. Parsed by hand
/// for the same reason as [`LABELLED_DATE`].
fn is_byline(text: &str) -> bool {
    let rest = match text.get(..2) {
        Some(by) if by.eq_ignore_ascii_case("by") => &text[2..],
        _ => return false,
    };
    // What follows the first name, the first two names, and so on, up to four.
    let mut after_names = Vec::with_capacity(4);
    let mut s = rest;
    while after_names.len() < 4 {
        let t = s.trim_start();
        if t.len() == s.len() {
            break;
        }
        let (word, after) = split_name(t);
        if !word.starts_with(char::is_alphabetic) || word.chars().nth(1).is_none() {
            break;
        }
        after_names.push(after);
        s = after;
    }
    after_names.iter().any(|after| {
        let after = after.trim_start();
        after.is_empty() || is_co_author(after)
    })
}

/// The end of a byline after its first author: a separator, then up to four words, the first
/// starting with a letter.
fn is_co_author(s: &str) -> bool {
    let and = s
        .get(..3)
        .filter(|w| w.eq_ignore_ascii_case("and"))
        .map(|_| &s[3..]);
    let Some(mut s) = and.or_else(|| {
        [",", "&", "|", "-", "–"]
            .iter()
            .find_map(|sep| s.strip_prefix(sep))
    }) else {
        return false;
    };
    s = s.trim_start();
    if !s.starts_with(char::is_alphabetic) {
        return false;
    }
    for _ in 0..4 {
        let (word, after) = split_name(s);
        if word.is_empty() {
            return false;
        }
        let t = after.trim_start();
        if t.is_empty() {
            return true;
        }
        if t.len() == after.len() {
            return false;
        }
        s = t;
    }
    false
}

/// The name at the start of `s` (letters, dots, apostrophes, hyphens) and what follows it.
fn split_name(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_alphabetic() || matches!(c, '.' | '\'' | '-')))
        .unwrap_or(s.len());
    s.split_at(end)
}

static COOKIE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bcookies?\b.*\b(accept|consent|agree|privacy|preferences|use)\b|\b(accept|consent|agree)\b.*\bcookies?\b")
        .expect("valid regex")
});

fn is_boilerplate_block(b: &Raw) -> bool {
    let len = b.text.chars().count();
    let ld = b.link_chars as f32 / b.chars.max(1) as f32;
    if b.kind != BlockKind::Table && ld > 0.6 && len < 300 {
        return true;
    }
    if b.kind == BlockKind::ListItem && ld > 0.5 {
        return true;
    }
    // Ratings, counters and list numbers: a short block with no letters is not prose.
    if len < 20
        && !matches!(b.kind, BlockKind::Table | BlockKind::Pre)
        && !b.text.chars().any(char::is_alphabetic)
    {
        return true;
    }
    if len <= 160 && (BOILER.is_match(&b.text) || is_labelled_date(&b.text) || is_byline(&b.text)) {
        return true;
    }
    len <= 400 && COOKIE.is_match(&b.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bylines() {
        for yes in [
            "By Jane Doe",
            "by J. Smith and K. Lee",
            "BY ANA RUIZ | Reuters",
            "By John Smith - AP",
            "By Mary-Jane O'Neil, Staff Writer",
            "By 王小明",
            "By John Smith and Jane Doe",
        ] {
            assert!(is_byline(yes), "{yes}");
        }
        for no in [
            "Bylaws of the association",
            "by 2030 the plan aims to connect every county",
            "By",
            "By Jane Doe said the committee should reconsider its findings entirely",
        ] {
            assert!(!is_byline(no), "{no}");
        }
    }

    #[test]
    fn labelled_dates() {
        for yes in [
            "2023-05-25",
            "发布时间：2023-05-25 16:57",
            "Date: 2023/05/25",
            "2023年5月25日",
        ] {
            assert!(is_labelled_date(yes), "{yes}");
        }
        for no in [
            "The meeting of the working group was held on: 2023-05-25",
            "2023-05-25 was the day the paper came out",
        ] {
            assert!(!is_labelled_date(no), "{no}");
        }
    }
}
