//! A PDF's lines made into the text a reader sees: running heads and feet and page numbers
//! taken out (as site template is for pages), lines joined into paragraphs (no space between
//! Chinese characters, a word hyphenated at a line's end rejoined), paragraphs kept, a paragraph
//! that runs on over a page or column joined again, headings told by their size. Pure.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

use super::layout::{Block as LBlock, Layout, Line, Page};
use crate::extract::{Block, BlockKind};
use crate::text::is_cjk;

/// The text of a PDF, ready to be a document.
#[derive(Debug, Default)]
pub struct Reflowed {
    pub blocks: Vec<Block>,
    /// The first page's text, kept lines only: where a printed date is looked for.
    pub first_page: String,
    /// Lines taken out as running heads, feet and page numbers.
    pub removed: usize,
}

/// Rows at the top and at the bottom of a page where running heads, feet and page numbers are
/// looked for.
const MARGIN_ROWS: usize = 2;

/// The band at a page's top and bottom edge, as a share of its height, where a producer prints
/// heads and feet in the margin: Chromium's date, title, URL and "1/2" sit within 3% of the
/// edge, an office suite's header within 5%. Body text and footnotes stop above a margin of
/// 2 cm or so (7% of A4).
const EDGE_BAND: f32 = 0.06;

/// Lays out `layout`'s pages as paragraphs.
pub fn reflow(layout: &Layout) -> Reflowed {
    let body_height = median_height(layout);
    let margin = margin_lines(layout, body_height);
    let words = word_forms(layout);
    let mut out = Reflowed {
        removed: margin.len(),
        ..Reflowed::default()
    };
    // A paragraph open at the end of a flow (a column, a page) may run on in the next one.
    let mut open: Option<Para> = None;
    for (p, page) in layout.pages.iter().enumerate() {
        for unit in reading_order(page) {
            let flow: Vec<(usize, usize, &LBlock)> = unit
                .iter()
                .flat_map(|&f| {
                    page.flows[f]
                        .iter()
                        .enumerate()
                        .map(move |(b, block)| (f, b, block))
                })
                .collect();
            let mut first_in_flow = true;
            let groups = group_blocks(&flow, |f, b, l| margin.contains(&(p, f, b, l)));
            for group in groups {
                let lines = group.lines;
                if p == 0 {
                    for l in &lines {
                        out.first_page.push_str(&line_text(l));
                        out.first_page.push('\n');
                    }
                }
                let width = group.x1 - group.x0;
                let mut paras = split_paragraphs(&lines, group.x0, width, body_height, &words);
                if first_in_flow && let (Some(prev), Some(next)) = (open.take(), paras.first_mut()) {
                    if runs_on(&prev, next) {
                        next.text = join(&prev.text, &next.text, &words);
                        next.lines += prev.lines;
                        next.heading = false;
                    } else {
                        push(&mut out.blocks, prev);
                    }
                }
                first_in_flow = false;
                if let Some(prev) = open.take() {
                    push(&mut out.blocks, prev);
                }
                let last = paras.pop();
                for para in paras {
                    push(&mut out.blocks, para);
                }
                open = last;
            }
        }
    }
    if let Some(prev) = open {
        push(&mut out.blocks, prev);
    }
    out
}

/// Lines of a flow read as one run of text: a block, or blocks that continue one another.
struct Group<'a> {
    lines: Vec<&'a Line>,
    x0: f32,
    x1: f32,
}

/// A flow's blocks, each with its flow and block number (margin lines left out, as
/// `skip(flow, block, line)` says), with a block that continues the one before it joined to it:
/// Poppler starts a new block where the line spacing is wide (Chinese set with generous leading
/// makes every line a block), but a block whose last line runs to the right edge, followed
/// closely by one that is not indented, is the same paragraph.
fn group_blocks<'a>(
    flow: &[(usize, usize, &'a LBlock)],
    skip: impl Fn(usize, usize, usize) -> bool,
) -> Vec<Group<'a>> {
    let right = flow
        .iter()
        .flat_map(|(_, _, b)| b.lines.iter())
        .map(|l| l.x1)
        .fold(f32::MIN, f32::max);
    let mut groups: Vec<Group> = Vec::new();
    for &(f, b, block) in flow {
        let lines: Vec<&Line> = block
            .lines
            .iter()
            .enumerate()
            .filter(|(l, _)| !skip(f, b, *l))
            .map(|(_, line)| line)
            .collect();
        let Some(first) = lines.first().copied() else {
            continue;
        };
        if let Some(g) = groups.last_mut()
            && let Some(last) = g.lines.last().copied()
        {
            let em = last.height().max(1.0);
            let full = last.x1 >= right - 1.5 * em;
            let not_indented = first.x0 <= g.x0 + 0.5 * em;
            let close = first.y0 - last.y1 <= 1.2 * em && first.y0 >= last.y0;
            if full && not_indented && close {
                g.lines.extend(lines);
                g.x0 = g.x0.min(block.x0);
                g.x1 = g.x1.max(block.x1);
                continue;
            }
        }
        groups.push(Group {
            lines,
            x0: block.x0,
            x1: block.x1,
        });
    }
    groups
}

/// A box: x0, x1, y0, y1.
type Rect = (f32, f32, f32, f32);

/// The order in which a page's flows are read, as runs of flows read as one. Poppler's own
/// order, unless it reads two columns across: where each column's paragraphs (or, in Chinese set
/// with wide leading, each line) are flows of their own and Poppler orders them by height, left,
/// right, left, right. Then, between the flows that span both columns (a title, a heading across
/// the page, a foot), the left column is read down, then the right one, each as one run.
fn reading_order(page: &Page) -> Vec<Vec<usize>> {
    let poppler: Vec<Vec<usize>> = (0..page.flows.len()).map(|f| vec![f]).collect();
    // Each flow's box.
    let boxes: Vec<Option<Rect>> = page
        .flows
        .iter()
        .map(|flow| {
            flow.iter().flat_map(|b| b.lines.iter()).fold(None, |acc, l| {
                let (x0, x1, y0, y1) = acc.unwrap_or((f32::MAX, f32::MIN, f32::MAX, f32::MIN));
                Some((x0.min(l.x0), x1.max(l.x1), y0.min(l.y0), y1.max(l.y1)))
            })
        })
        .collect();
    let present: Vec<(usize, Rect)> = boxes
        .iter()
        .enumerate()
        .filter_map(|(f, b)| b.map(|b| (f, b)))
        .collect();
    if present.len() < 4 {
        return poppler;
    }
    let left_edge = present.iter().map(|(_, b)| b.0).fold(f32::MAX, f32::min);
    let right_edge = present.iter().map(|(_, b)| b.1).fold(f32::MIN, f32::max);
    let width = right_edge - left_edge;
    // The gutter: after some flow's right edge, before the nearest left edge beyond it, with the
    // most flows wholly on one side or the other.
    let mut best: Option<(usize, f32, f32)> = None;
    for &(_, (_, a, _, _)) in &present {
        let Some(b) = present
            .iter()
            .map(|(_, bx)| bx.0)
            .filter(|x0| *x0 > a)
            .reduce(f32::min)
        else {
            continue;
        };
        let left: Vec<_> = present.iter().filter(|(_, bx)| bx.1 <= a).collect();
        let right: Vec<_> = present.iter().filter(|(_, bx)| bx.0 >= b).collect();
        let wide = |side: &[&(usize, Rect)]| {
            let x0 = side.iter().map(|(_, bx)| bx.0).fold(f32::MAX, f32::min);
            let x1 = side.iter().map(|(_, bx)| bx.1).fold(f32::MIN, f32::max);
            x1 - x0 >= 0.25 * width
        };
        if left.len() < 2 || right.len() < 2 || !wide(&left) || !wide(&right) {
            continue;
        }
        let n = left.len() + right.len();
        if best.is_none_or(|(m, _, _)| n > m) {
            best = Some((n, a, b));
        }
    }
    let Some((_, a, b)) = best else {
        return poppler;
    };
    #[derive(Clone, Copy, PartialEq)]
    enum Side {
        Left,
        Right,
        Across,
    }
    let side = |bx: Rect| {
        if bx.1 <= a {
            Side::Left
        } else if bx.0 >= b {
            Side::Right
        } else {
            Side::Across
        }
    };
    // Read across only where Poppler went back from the right column to the left one below
    // it, with no flow across the page in between.
    let mut last = Side::Across;
    let mut across = false;
    for (_, bx) in &present {
        let s = side(*bx);
        across |= last == Side::Right && s == Side::Left;
        last = s;
    }
    if !across {
        return poppler;
    }
    let mut spanning: Vec<(usize, f32)> = present
        .iter()
        .filter(|(_, bx)| side(*bx) == Side::Across)
        .map(|(f, bx)| (*f, bx.2))
        .collect();
    spanning.sort_by(|x, y| x.1.total_cmp(&y.1));
    let mut out: Vec<Vec<usize>> = Vec::new();
    for band in 0..=spanning.len() {
        let top = if band == 0 { f32::MIN } else { spanning[band - 1].1 };
        let bottom = spanning.get(band).map_or(f32::MAX, |s| s.1);
        if band > 0 {
            out.push(vec![spanning[band - 1].0]);
        }
        for want in [Side::Left, Side::Right] {
            let mut run: Vec<(usize, f32)> = present
                .iter()
                .filter(|(_, bx)| side(*bx) == want && bx.2 >= top && bx.2 < bottom)
                .map(|(f, bx)| (*f, bx.2))
                .collect();
            run.sort_by(|x, y| x.1.total_cmp(&y.1));
            if !run.is_empty() {
                out.push(run.into_iter().map(|(f, _)| f).collect());
            }
        }
    }
    out
}

/// A paragraph being built.
#[derive(Debug)]
struct Para {
    text: String,
    lines: usize,
    heading: bool,
}

fn push(blocks: &mut Vec<Block>, p: Para) {
    let text = p.text.trim().to_string();
    if text.is_empty() {
        return;
    }
    blocks.push(Block {
        kind: if p.heading {
            BlockKind::Heading
        } else {
            BlockKind::Paragraph
        },
        text,
    });
}

/// Whether `next`, the first paragraph of a flow, continues `prev`, the last of the flow
/// before: `prev` stops mid-sentence and `next` starts as a continuation does.
fn runs_on(prev: &Para, next: &Para) -> bool {
    if prev.heading || next.heading {
        return false;
    }
    let (Some(end), Some(start)) = (
        prev.text.trim_end().chars().last(),
        next.text.trim_start().chars().next(),
    ) else {
        return false;
    };
    if ends_sentence(end) {
        return false;
    }
    if is_cjk(end) || is_cjk_punct(end) {
        // Chinese has no lowercase: a paragraph that stops on a character that is not a full
        // stop, and a flow that starts on one, are one paragraph broken by the page.
        return (is_cjk(start) || is_cjk_punct(start)) && prev.lines > 1;
    }
    start.is_lowercase() || (end == '-' && start.is_alphabetic()) || end == ','
}

fn ends_sentence(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | ':' | ';' | '。' | '！' | '？' | '：' | '；' | '…'
    )
}

/// Punctuation set in Chinese text, which takes no space around it either.
fn is_cjk_punct(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x303F | 0xFF00..=0xFFEF | 0x2018..=0x201F | 0x2026 | 0x2014)
}

/// Splits a block's lines into paragraphs: a line that ends a sentence and stops well short of
/// the block's right edge, or is followed by an indented line, ends a paragraph (Poppler keeps
/// paragraphs set with no space between them, only an indent, in one block).
fn split_paragraphs(
    lines: &[&Line],
    x0: f32,
    width: f32,
    body_height: f32,
    words: &HashSet<String>,
) -> Vec<Para> {
    let right = x0 + width;
    let mut paras: Vec<Para> = Vec::new();
    let mut cur: Option<Para> = None;
    for (i, line) in lines.iter().enumerate() {
        let text = line_text(line);
        if text.is_empty() {
            continue;
        }
        let ends = text
            .chars()
            .last()
            .is_some_and(|c| ends_sentence(c) || matches!(c, '”' | '"' | '’' | ')' | '）'));
        cur = Some(match cur.take() {
            None => Para {
                text,
                lines: 1,
                heading: false,
            },
            Some(mut p) => {
                p.text = join(&p.text, &text, words);
                p.lines += 1;
                p
            }
        });
        let em = line.height().max(1.0);
        let short = line.x1 < right - (width * 0.12).max(2.0 * em);
        let next_indented = lines.get(i + 1).is_some_and(|n| n.x0 > x0 + 0.8 * em);
        if i + 1 < lines.len() && ends && (short || next_indented) {
            paras.extend(cur.take());
        }
    }
    paras.extend(cur);
    // A block of one or two short lines in a larger type than the body, not a sentence, is a
    // heading.
    let height = lines.iter().map(|l| l.height()).fold(0.0, f32::max);
    for p in &mut paras {
        let last = p.text.trim_end().chars().last();
        p.heading = p.lines <= 2
            && p.text.chars().count() <= 200
            && last.is_some_and(|c| !ends_sentence(c) && c != ',')
            && body_height > 0.0
            && height >= body_height * 1.15;
    }
    paras
}

/// One line's words as read: a space between words, none between Chinese characters.
pub fn line_text(line: &Line) -> String {
    let mut out = String::new();
    for w in &line.words {
        let w = w.trim();
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() && !tight(out.chars().last(), w.chars().next()) {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Two characters written with no space between them: Chinese on both sides, or Chinese
/// punctuation on either.
fn tight(a: Option<char>, b: Option<char>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            (is_cjk(a) || is_cjk_punct(a)) && (is_cjk(b) || is_cjk_punct(b))
                || is_cjk_punct(a) && is_cjk(b)
                || is_cjk(a) && is_cjk_punct(b)
        }
        _ => false,
    }
}

/// `a` and the line `b` that follows it, as one text: a word broken by a hyphen at the line's
/// end is rejoined (keeping the hyphen where the document writes the word with one elsewhere),
/// and Chinese lines are joined with no space.
fn join(a: &str, b: &str, words: &HashSet<String>) -> String {
    let a = a.trim_end();
    let b = b.trim_start();
    let mut out = String::with_capacity(a.len() + b.len() + 1);
    let last = a.chars().last();
    let first = b.chars().next();
    // A web address or an e-mail address broken after one of its hyphens keeps it: nothing
    // hyphenates an address, and it runs on with no space. So does a Latin name in Chinese text
    // (dpkg-deb, netbsd-alpha): Chinese is set without hyphenation, the name's hyphen is its own.
    let address = |w: &str| w.contains('/') || w.contains('@');
    let last_word = a.rsplit(char::is_whitespace).next().unwrap_or("");
    let next_word = b.split(char::is_whitespace).next().unwrap_or("");
    if a.ends_with('-') && (address(last_word) || address(next_word) || mostly_chinese(a)) {
        out.push_str(a);
        out.push_str(b);
        return out;
    }
    if let Some(stem) = a.strip_suffix(['-', '\u{2010}', '\u{00AD}'])
        && stem.chars().last().is_some_and(char::is_alphabetic)
        && first.is_some_and(char::is_lowercase)
    {
        let head: String = stem
            .chars()
            .rev()
            .take_while(|c| c.is_alphabetic())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let tail: String = b.chars().take_while(|c| c.is_alphabetic()).collect();
        out.push_str(stem);
        if keeps_hyphen(&head, &tail, words) {
            out.push('-');
        }
        out.push_str(b);
        return out;
    }
    // "Sino-\nAmerican": a hyphen before a capital is part of the word.
    if a.ends_with('-')
        && a.chars().rev().nth(1).is_some_and(char::is_alphabetic)
        && first.is_some_and(char::is_uppercase)
    {
        out.push_str(a);
        out.push_str(b);
        return out;
    }
    out.push_str(a);
    if !tight(last, first) {
        out.push(' ');
    }
    out.push_str(b);
    out
}

/// Whether a paragraph is Chinese text: more Chinese characters than Latin letters.
fn mostly_chinese(text: &str) -> bool {
    let (mut cjk, mut latin) = (0usize, 0usize);
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else if c.is_ascii_alphabetic() {
            latin += 1;
        }
    }
    cjk > latin
}

/// Whether the hyphen between `head` and `tail`, broken at a line's end, is part of the word
/// ("AI-related", "non-discriminatory") rather than put there by the typesetter ("negoti-ations").
/// The document's own spelling elsewhere decides; else an acronym or a number before it, or a
/// prefix or a word that English writes with a hyphen, keeps it.
fn keeps_hyphen(head: &str, tail: &str, words: &HashSet<String>) -> bool {
    let (h, t) = (head.to_lowercase(), tail.to_lowercase());
    if words.contains(&format!("{h}-{t}")) {
        return true;
    }
    if words.contains(&format!("{h}{t}")) {
        return false;
    }
    // Not "ex": a typesetter breaks ex-ample, ex-change, ex-pect far more often than a text
    // writes ex-minister across a line's end.
    const PREFIXES: &[&str] = &[
        "non", "self", "cross", "anti", "all", "well", "half", "vice", "co",
    ];
    const SECONDS: &[&str] = &[
        "based", "related", "oriented", "led", "driven", "level", "wide", "scale", "making", "term",
        "friendly", "free", "like", "owned", "run", "sided", "border", "party", "year", "time",
    ];
    let acronym = head.chars().count() >= 2 && head.chars().all(|c| c.is_uppercase() || c.is_ascii_digit());
    acronym || PREFIXES.contains(&h.as_str()) || SECONDS.contains(&t.as_str())
}

/// Every word the document writes whole on one line (lowercased), for telling a hyphen that
/// breaks a word from one that is part of it.
fn word_forms(layout: &Layout) -> HashSet<String> {
    let mut set = HashSet::new();
    for page in &layout.pages {
        for block in page.flows.iter().flatten() {
            for line in &block.lines {
                let n = line.words.len();
                for (i, w) in line.words.iter().enumerate() {
                    // The last word of a line may be the first half of a broken word.
                    if i + 1 == n && w.ends_with('-') {
                        continue;
                    }
                    let w: String = w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
                    if w.chars().count() > 2 {
                        set.insert(w);
                    }
                }
            }
        }
    }
    set
}

/// The median height of the document's lines: the body text's size.
fn median_height(layout: &Layout) -> f32 {
    let mut h: Vec<f32> = layout
        .pages
        .iter()
        .flat_map(|p| p.flows.iter().flatten())
        .flat_map(|b| b.lines.iter())
        .map(Line::height)
        .filter(|h| *h > 0.0)
        .take(50_000)
        .collect();
    if h.is_empty() {
        return 0.0;
    }
    h.sort_by(f32::total_cmp);
    h[h.len() / 2]
}

/// (page, flow, block, line)
type LineId = (usize, usize, usize, usize);

/// The lines in pages' top and bottom rows that are running heads and feet (the same text, its
/// numbers aside, at the same height on most pages, or small print at the page's edge) or page
/// numbers.
fn margin_lines(layout: &Layout, body_height: f32) -> HashSet<LineId> {
    let pages = layout.pages.len();
    let mut out = HashSet::new();
    // Candidates: (page, line, text with digits folded, y).
    let mut candidates: Vec<(usize, LineId, String, f32, String)> = Vec::new();
    for (p, page) in layout.pages.iter().enumerate() {
        let mut lines: Vec<(LineId, &Line)> = Vec::new();
        for (f, flow) in page.flows.iter().enumerate() {
            for (b, block) in flow.iter().enumerate() {
                for (l, line) in block.lines.iter().enumerate() {
                    if !line.words.is_empty() {
                        lines.push(((p, f, b, l), line));
                    }
                }
            }
        }
        if lines.is_empty() {
            continue;
        }
        let rows = rows(&lines);
        let n = rows.len();
        out.extend(small_print(&rows, page.height, body_height));
        // Margins are the top and bottom fifth of the page at most.
        let in_margin = |r: &[(LineId, &Line)]| {
            page.height <= 0.0
                || r.iter()
                    .all(|(_, l)| l.y1 <= page.height * 0.2 || l.y0 >= page.height * 0.8)
        };
        let picked = rows
            .iter()
            .enumerate()
            .filter(|(i, r)| (*i < MARGIN_ROWS || *i + MARGIN_ROWS >= n) && in_margin(r))
            .flat_map(|(_, r)| r.iter());
        for &(id, line) in picked {
            let text = line_text(line);
            candidates.push((p, id, fold(&text), (line.y0 + line.y1) / 2.0, text));
        }
    }
    // Running heads and feet: grouped by folded text, counted by the pages they are on at
    // (about) the same height.
    let mut by_text: HashMap<&str, Vec<(usize, LineId, f32)>> = HashMap::new();
    for (p, id, key, y, _) in &candidates {
        by_text.entry(key.as_str()).or_default().push((*p, *id, *y));
    }
    let needed = pages.div_ceil(2).max(2);
    for (key, found) in &by_text {
        if key.is_empty() || pages < 2 {
            continue;
        }
        for &(_, id, y) in found {
            let on: HashSet<usize> = found
                .iter()
                .filter(|(_, _, y2)| (y - y2).abs() <= 6.0)
                .map(|(p, _, _)| *p)
                .collect();
            if on.len() >= needed {
                out.insert(id);
            }
        }
    }
    // Page numbers in any of their forms; a bare number only where the numbers follow the
    // pages (2023 printed under a title is not a page number).
    let mut bare: HashMap<i64, Vec<LineId>> = HashMap::new();
    for (p, id, _, _, text) in &candidates {
        let t = text.trim();
        if PAGE_NUMBER.is_match(t) {
            out.insert(*id);
        } else if let Ok(n) = t.parse::<i64>()
            && t.len() <= 5
        {
            bare.entry(n - *p as i64).or_default().push(*id);
        }
    }
    if let Some((_, ids)) = bare.into_iter().max_by_key(|(_, ids)| ids.len())
        && (ids.len() >= needed || pages == 1 && ids.len() == 1)
    {
        out.extend(ids);
    }
    out
}

/// The rows at a page's top and bottom edge set in small print: within [`EDGE_BAND`] of the
/// edge, smaller than the body text and apart from it. That is a running head or foot even when
/// nothing repeats it: a one-page document's, or a head that changes from page to page (a
/// browser's print of a page: date and title above, URL and "1/1" below). A body line that
/// reaches the edge (a browser prints close to it) is the body's size; a title is larger.
fn small_print(rows: &[Vec<(LineId, &Line)>], height: f32, body_height: f32) -> Vec<LineId> {
    let mut out = Vec::new();
    if height <= 0.0 || body_height <= 0.0 {
        return out;
    }
    let top = |r: &[(LineId, &Line)]| r.iter().map(|(_, l)| l.y0).fold(f32::MAX, f32::min);
    let bottom = |r: &[(LineId, &Line)]| r.iter().map(|(_, l)| l.y1).fold(f32::MIN, f32::max);
    let small = |r: &[(LineId, &Line)]| r.iter().all(|(_, l)| l.height() <= 0.9 * body_height);
    // Apart: half its own line's height of white space between it and the body (measured by its
    // own size: a Chinese font's boxes are tall and eat into the space between lines).
    let apart = |r: &[(LineId, &Line)]| 0.5 * r.iter().map(|(_, l)| l.height()).fold(0.0, f32::max);
    // From the top edge down, then from the bottom edge up; each row must be apart from the
    // next one towards the body.
    for i in 0..MARGIN_ROWS.min(rows.len().saturating_sub(1)) {
        let (row, next) = (&rows[i], &rows[i + 1]);
        if bottom(row) > height * EDGE_BAND || !small(row) || top(next) - bottom(row) < apart(row) {
            break;
        }
        out.extend(row.iter().map(|(id, _)| *id));
    }
    for i in (0..rows.len()).rev().take(MARGIN_ROWS) {
        if i == 0 {
            break;
        }
        let (row, next) = (&rows[i], &rows[i - 1]);
        if top(row) < height * (1.0 - EDGE_BAND) || !small(row) || top(row) - bottom(next) < apart(row) {
            break;
        }
        out.extend(row.iter().map(|(id, _)| *id));
    }
    out
}

/// A page's lines grouped into rows (lines side by side at one height), top to bottom.
fn rows<'a>(lines: &[(LineId, &'a Line)]) -> Vec<Vec<(LineId, &'a Line)>> {
    let mut sorted: Vec<(LineId, &Line)> = lines.to_vec();
    sorted.sort_by(|a, b| a.1.y0.total_cmp(&b.1.y0));
    let mut rows: Vec<Vec<(LineId, &Line)>> = Vec::new();
    for item in sorted {
        let mid = (item.1.y0 + item.1.y1) / 2.0;
        match rows.last_mut() {
            Some(row)
                if row.iter().any(|(_, l)| {
                    mid >= l.y0 && mid <= l.y1
                        || (l.y0 + l.y1) / 2.0 >= item.1.y0 && (l.y0 + l.y1) / 2.0 <= item.1.y1
                }) =>
            {
                row.push(item)
            }
            _ => rows.push(vec![item]),
        }
    }
    rows
}

/// A margin line's identity across pages: lowercased, digits and spaces folded ("Page 3 of 12"
/// and "Page 4 of 12" are one running foot).
fn fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else if c.is_alphanumeric() || is_cjk(c) || c.is_ascii_punctuation() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// "- 3 -", "— 3 —", "第 3 页", "第3页 共12页", "Page 3", "Page 3 of 12", "p. 3", "3 / 12",
/// "3 of 12", roman numerals in parentheses or dashes.
static PAGE_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(?:
            [-–—]\s*\d{1,5}\s*[-–—]
          | 第\s*\d{1,5}\s*页(?:\s*[/，,]?\s*共\s*\d{1,5}\s*页)?
          | 共\s*\d{1,5}\s*页\s*第\s*\d{1,5}\s*页
          | (?:page|p\.|pg\.?)\s*\d{1,5}(?:\s*(?:of|/)\s*\d{1,5})?
          | \d{1,5}\s*(?:/|of)\s*\d{1,5}
          | [-–—(]\s*[ivxlc]{1,6}\s*[-–—)]
        )$",
    )
    .expect("valid regex")
});

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, x0: f32, x1: f32, y: f32) -> Line {
        Line {
            words: text.split(' ').map(str::to_string).collect(),
            x0,
            x1,
            y0: y,
            y1: y + 10.0,
        }
    }

    fn page(lines: Vec<Line>) -> Page {
        let (x0, x1) = (72.0, 540.0);
        Page {
            height: 792.0,
            flows: lines
                .into_iter()
                .map(|l| {
                    vec![LBlock {
                        lines: vec![l],
                        x0,
                        x1,
                    }]
                })
                .collect(),
        }
    }

    fn texts(r: &Reflowed) -> Vec<&str> {
        r.blocks.iter().map(|b| b.text.as_str()).collect()
    }

    #[test]
    fn lines_join_into_paragraphs_with_hyphens_rejoined_and_no_space_in_chinese() {
        let words: HashSet<String> = ["self-determination".to_string()].into();
        assert_eq!(
            join("the negoti-", "ations went on", &words),
            "the negotiations went on"
        );
        assert_eq!(
            join("the right of self-", "determination", &words),
            "the right of self-determination"
        );
        assert_eq!(
            join("数字技术加速融入经", "济社会发展", &words),
            "数字技术加速融入经济社会发展"
        );
        assert_eq!(join("治理方式。", "与此同时", &words), "治理方式。与此同时");
        assert_eq!(join("data", "sovereignty", &words), "data sovereignty");
        // A dash between words, or a capital after it, is no broken word.
        assert_eq!(join("2022 -", "the year", &words), "2022 - the year");
        assert_eq!(join("Sino-", "American", &words), "Sino-American");
    }

    #[test]
    fn running_heads_feet_and_page_numbers_go_and_body_numbers_stay() {
        let mut pages = Vec::new();
        for (n, nth) in [(1, "first"), (2, "second"), (3, "third"), (4, "fourth")] {
            let mut lines = vec![
                line("Briefing: Digital Governance", 72.0, 300.0, 30.0),
                line(
                    &format!("Body text of the {nth} page opens here and runs on"),
                    72.0,
                    540.0,
                    100.0,
                ),
                line(&format!("to the end of the {nth} page."), 72.0, 200.0, 112.0),
                line(&format!("Page {n} of 4"), 250.0, 330.0, 760.0),
            ];
            if n == 1 {
                lines.insert(1, line("2023", 72.0, 100.0, 60.0));
            }
            if n == 3 {
                lines.push(line(&format!("- {n} -"), 280.0, 300.0, 775.0));
            }
            pages.push(page(lines));
        }
        let layout = Layout {
            pages,
            ..Layout::default()
        };
        let r = reflow(&layout);
        let all = texts(&r).join("\n");
        assert!(!all.contains("Briefing"), "{all}");
        assert!(!all.contains("of 4"), "{all}");
        assert!(!all.contains("- 3 -"), "{all}");
        assert!(all.contains("2023"), "{all}");
        assert!(all.contains("Body text of the second page"), "{all}");
        assert_eq!(r.removed, 9);
    }

    #[test]
    fn a_paragraph_broken_by_the_page_is_joined_and_a_finished_one_is_not() {
        let p1 = page(vec![
            line(
                "The ministry said that the framework would be",
                72.0,
                540.0,
                100.0,
            ),
            line("reviewed every two years and that the regis-", 72.0, 540.0, 112.0),
        ]);
        let p2 = page(vec![
            line("tries would be modernised.", 72.0, 300.0, 100.0),
            line("A new paragraph.", 72.0, 200.0, 300.0),
        ]);
        let layout = Layout {
            pages: vec![p1, p2],
            ..Layout::default()
        };
        let r = reflow(&layout);
        assert_eq!(
            texts(&r),
            [
                "The ministry said that the framework would be reviewed every two years and that the registries would be modernised.",
                "A new paragraph."
            ]
        );
    }

    #[test]
    fn a_hyphen_in_an_address_or_a_latin_name_in_chinese_is_kept_and_ex_is_no_prefix() {
        let words = HashSet::new();
        assert_eq!(
            join("see https://www.linux-on-", "laptops.com/ for", &words),
            "see https://www.linux-on-laptops.com/ for"
        );
        assert_eq!(
            join("write to faq-", "team@example.org", &words),
            "write to faq-team@example.org"
        );
        assert_eq!(
            join("底层操作由 dpkg-", "deb(1) 完成", &words),
            "底层操作由 dpkg-deb(1) 完成"
        );
        assert_eq!(join("seed ex-", "change", &words), "seed exchange");
    }

    fn sized(text: &str, x0: f32, y0: f32, height: f32) -> Line {
        Line {
            words: text.split(' ').map(str::to_string).collect(),
            x0,
            x1: x0 + 8.0 * text.len() as f32,
            y0,
            y1: y0 + height,
        }
    }

    #[test]
    fn small_print_at_a_one_page_documents_edge_goes_and_body_text_there_stays() {
        // A browser's print of a page: date and title above, URL and "1/1" below, in small
        // print at the paper's edge; the body (12.8 high) runs close to the bottom edge.
        let mut lines = vec![
            sized("11/30/26, 5:02 PM", 24.0, 15.0, 9.3),
            sized("Coffee and the Law", 300.0, 15.0, 9.3),
            sized("Coffee and the Law", 42.0, 43.0, 25.8),
        ];
        for i in 0..40 {
            lines.push(sized(
                "Body text of the page that runs on",
                42.0,
                80.0 + 14.7 * i as f32,
                12.8,
            ));
        }
        lines.push(sized("The last line of the body.", 42.0, 780.0, 12.8));
        lines.push(sized("file:///tmp/www/articles/coffee.html", 24.0, 817.6, 9.3));
        lines.push(sized("1/1", 558.0, 817.6, 9.3));
        let mut one = page(lines);
        one.height = 841.9;
        let r = reflow(&Layout {
            pages: vec![one],
            ..Layout::default()
        });
        let all = texts(&r).join("\n");
        assert!(
            !all.contains("5:02 PM") && !all.contains("file://") && !all.contains("1/1"),
            "{all}"
        );
        assert!(all.starts_with("Coffee and the Law"), "{all}");
        assert!(all.contains("The last line of the body."), "{all}");
        assert_eq!(r.removed, 4);

        // The same small print, set in the body's size or inside the page, is not the margin's.
        let kept = page(vec![
            sized("Coffee and the Law", 42.0, 15.0, 12.8),
            sized("Body text.", 42.0, 40.0, 12.8),
            sized("A note in small print.", 42.0, 700.0, 9.3),
            sized("Body text.", 42.0, 400.0, 12.8),
        ]);
        let r = reflow(&Layout {
            pages: vec![kept],
            ..Layout::default()
        });
        assert_eq!(r.removed, 0, "{:?}", texts(&r));
    }

    /// A flow of one block of `lines` (text, x0, x1, y).
    fn flow(lines: &[(&str, f32, f32, f32)]) -> Vec<LBlock> {
        let lines: Vec<Line> = lines.iter().map(|&(t, x0, x1, y)| line(t, x0, x1, y)).collect();
        let x0 = lines.iter().map(|l| l.x0).fold(f32::MAX, f32::min);
        let x1 = lines.iter().map(|l| l.x1).fold(f32::MIN, f32::max);
        vec![LBlock { lines, x0, x1 }]
    }

    #[test]
    fn two_columns_poppler_reads_across_are_read_down_one_then_the_other() {
        // Poppler's flows by height: the title across the page, then left, right, left, right
        // (paragraphs side by side at about the same height), then the foot across.
        let page = Page {
            height: 792.0,
            flows: vec![
                flow(&[("Column Title", 150.0, 450.0, 60.0)]),
                flow(&[
                    ("The left column opens and", 72.0, 290.0, 100.0),
                    ("goes on down.", 72.0, 200.0, 112.0),
                ]),
                flow(&[
                    ("Its end carries on at the", 310.0, 530.0, 98.0),
                    ("top of the right column.", 310.0, 480.0, 110.0),
                ]),
                flow(&[
                    ("The left column's second", 72.0, 290.0, 130.0),
                    ("paragraph ends there and", 72.0, 290.0, 142.0),
                ]),
                flow(&[
                    ("The right column ends the", 310.0, 530.0, 128.0),
                    ("text.", 310.0, 340.0, 140.0),
                ]),
                flow(&[("Printed for the reader", 200.0, 400.0, 700.0)]),
            ],
        };
        assert_eq!(
            reading_order(&page),
            vec![vec![0], vec![1, 3], vec![2, 4], vec![5]]
        );
        let r = reflow(&Layout {
            pages: vec![page],
            ..Layout::default()
        });
        let all = texts(&r).join(" ");
        assert!(
            all.contains("goes on down. The left column's second paragraph ends there and Its end"),
            "{all}"
        );

        // One column, its head in two parts (left and right): Poppler's order stands.
        let single = Page {
            height: 792.0,
            flows: vec![
                flow(&[("ministry.example", 72.0, 160.0, 30.0)]),
                flow(&[("30 November 2026", 450.0, 540.0, 30.0)]),
                flow(&[("A paragraph across the page.", 72.0, 540.0, 100.0)]),
                flow(&[("Another one across the page.", 72.0, 540.0, 130.0)]),
                flow(&[("left", 72.0, 160.0, 160.0)]),
                flow(&[("right", 450.0, 540.0, 160.0)]),
            ],
        };
        assert_eq!(
            reading_order(&single),
            (0..6).map(|f| vec![f]).collect::<Vec<_>>()
        );
    }

    #[test]
    fn page_number_forms() {
        for yes in [
            "- 3 -",
            "— 12 —",
            "第 3 页",
            "第3页 共12页",
            "Page 3 of 12",
            "page 7",
            "3 / 12",
            "(iv)",
        ] {
            assert!(PAGE_NUMBER.is_match(yes), "{yes}");
        }
        for no in ["2023", "Article 3", "第三章", "3. Scope", "Chapter 3 of the law"] {
            assert!(!PAGE_NUMBER.is_match(no), "{no}");
        }
    }
}
