//! Building one message from a batch of events: the subject, the items grouped by story and
//! ordered by significance, the word-level change lines, and the size cap. Pure: no I/O; the
//! result is rendered by [`super::render`].
//!
//! Everything that comes from a page (titles, text, URLs) is untrusted: the subject is built here
//! and stripped of control characters, links are kept only for http(s) URLs, and the templates
//! escape the rest.

use std::collections::HashMap;

use chrono_tz::Tz;
use serde::Serialize;

use crate::compare::diff::{self, WordOp, WordRun};
use crate::store::{EventKind, EventRow};
use crate::timefmt::DayStyle;

/// The order kinds are counted in the subject: news first.
const KINDS: [EventKind; 9] = [
    EventKind::New,
    EventKind::Revision,
    EventKind::Changed,
    EventKind::Removed,
    EventKind::Quotes,
    EventKind::Republication,
    EventKind::Duplicate,
    EventKind::Failing,
    EventKind::Recovered,
];

fn kind_label(kind: EventKind, n: usize) -> String {
    let s = if n == 1 { "" } else { "s" };
    match kind {
        EventKind::New => format!("{n} new position{s}"),
        EventKind::Changed => format!("{n} changed"),
        EventKind::Republication => format!("{n} republication{s}"),
        EventKind::Duplicate => format!("{n} duplicate{s}"),
        EventKind::Revision => format!("{n} revision{s}"),
        EventKind::Quotes => format!("{n} quoting"),
        EventKind::Removed => format!("{n} removed"),
        EventKind::Failing => format!("{n} watch{} failing", if n == 1 { "" } else { "es" }),
        EventKind::Recovered => format!("{n} watch{} recovered", if n == 1 { "" } else { "es" }),
    }
}

/// A page title made safe for one line: no control characters, no runs of spaces, bounded.
pub fn one_line(s: &str, max_chars: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() || is_invisible(c) { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max_chars {
        let cut: String = flat.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        flat
    }
}

/// Line and paragraph separators and bidi overrides: not control characters to Rust, but they
/// break lines or reorder text in a subject line.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn title_of(e: &EventRow) -> String {
    e.title
        .as_deref()
        .map(|t| one_line(t, 200))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| one_line(&e.url, 200))
}

/// A URL fit to be a link: http or https only, so a page cannot put `javascript:` in the mail.
fn link(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// One piece of a change line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Segment {
    /// `eq`, `del` or `ins`.
    pub op: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// `~` altered (word diff), `+` added, `-` removed.
    pub sign: char,
    /// A position statement (*should*, *oppose*, 应当, …).
    pub position: bool,
    /// The line as plain text with `[-old-]{+new+}` markers.
    pub text: String,
    pub segments: Vec<Segment>,
    /// The section heading above the statement in its document, where it has headings.
    pub heading: Option<String>,
    /// Set on the first line of each section shown: the "§ …" label to print above it.
    pub section: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub event_id: i64,
    pub kind: &'static str,
    pub title: String,
    pub url: String,
    /// `url` when it may be a link.
    pub link: Option<String>,
    pub site: String,
    pub watch: String,
    /// When it was found, in the recipient's time zone: "2026-11-23 10:31 CST (+08:00)".
    pub detected_at: String,
    /// The same time as RFC 3339 with the recipient's offset, for `<time datetime>`.
    pub detected_iso: String,
    pub published: Option<String>,
    /// "Republishes 92% of …", "Quotes 12% of …".
    pub relation: Option<String>,
    pub lines: Vec<Line>,
    /// Change lines not shown.
    pub more_lines: usize,
    pub significance: f64,
}

/// A story: a source document with its republications, revisions and commentaries.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// What the items trace to when it is not itself in the message (a known or imported
    /// document): its URL or file name.
    pub source: Option<String>,
    /// What the story is headed by: the title of the document it is about (the source's, as
    /// the corpus knows it; else its first item's).
    pub title: String,
    /// The sentence the items' documents all had added, when that is what the story is (see
    /// [`super::shared`]).
    pub shared: Option<super::SharedSentence>,
    pub items: Vec<Item>,
}

/// An item past the size cap: listed by title and link.
#[derive(Debug, Clone, Serialize)]
pub struct Brief {
    pub kind: &'static str,
    pub title: String,
    pub link: Option<String>,
    pub url: String,
}

/// Everything a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub subject: String,
    /// "2 new positions, 1 revision".
    pub summary: String,
    pub total: usize,
    pub groups: Vec<Group>,
    pub briefs: Vec<Brief>,
    /// Events neither shown nor listed: "and N more".
    pub more: usize,
    pub recipient: Option<String>,
    /// The IANA time zone the message's times are shown in.
    pub timezone: String,
}

/// Limits that keep a message readable.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub max_items: usize,
    pub max_bytes: usize,
}

/// Items listed by title after the ones shown in full, at most.
const MAX_BRIEFS: usize = 200;

/// Titles of the documents a message names, by URL (or corpus file name): the pages of its
/// events and the sources they trace to, so that a mail says "Republishes 93% of China's
/// Positions on …" rather than a URL.
#[derive(Debug, Default)]
struct Names(HashMap<String, String>);

impl Names {
    fn of(events: &[EventRow]) -> Names {
        let mut map = HashMap::new();
        for e in events {
            if let (Some(src), Some(t)) = (&e.source, &e.source_title) {
                map.entry(src.clone()).or_insert_with(|| one_line(t, 200));
            }
        }
        for e in events {
            if let Some(t) = e
                .title
                .as_deref()
                .map(|t| one_line(t, 200))
                .filter(|t| !t.is_empty())
            {
                map.insert(e.url.clone(), t);
            }
        }
        map.retain(|_, t| !t.is_empty());
        Names(map)
    }

    /// The title of `key`, or `key` itself (made one line) when no title is known.
    fn name(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_else(|| one_line(key, 200))
    }
}

fn describe(e: &EventRow, names: &Names) -> Option<String> {
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let src = e.source.as_deref().map(|s| names.name(s));
    match (e.kind, &src) {
        (EventKind::Republication, Some(src)) => Some(match e.overlap {
            Some(o) => format!("Republishes {} of {src}{}", pct(o), version_note(e)),
            None => format!("Republishes {src}{}", version_note(e)),
        }),
        (EventKind::Duplicate, Some(src)) => Some(format!("Same text as {src}{}", version_note(e))),
        (EventKind::Revision, Some(src)) => Some(format!("An edited version of {src}{}", version_note(e))),
        (EventKind::Removed | EventKind::Failing | EventKind::Recovered | EventKind::Changed, _) => {
            presence_note(e)
        }
        (EventKind::Quotes, _) => {
            let list: Vec<String> = quoted(e)
                .into_iter()
                .take(5)
                .map(|(s, share)| format!("{} of {}", pct(share), names.name(&s)))
                .collect();
            (!list.is_empty()).then(|| format!("Quotes {}{}", list.join("; "), version_note(e)))
        }
        _ => None,
    }
}

/// What a removal, a watch notice or a document's return says (stored under `details.presence`
/// by [`crate::check::presence`]).
fn presence_note(e: &EventRow) -> Option<String> {
    let p = e.details.as_ref()?.get("presence")?;
    p.get("note").and_then(|n| n.as_str()).map(|n| one_line(n, 400))
}

/// Changed statements of the source named after "has since changed", at most.
const SINCE_SHOWN: usize = 3;

/// Which version of its source an event's text reproduces, when the source has changed since:
/// ": the text as first published, 25 May 2023; the source has since changed: added “…”". Empty
/// when the text is the source's newest, or the source is not a stored document.
fn version_note(e: &EventRow) -> String {
    let Some(d) = e.details.as_ref() else {
        return String::new();
    };
    let number = d.get("source_version").and_then(|v| v.as_i64());
    let newest = d.get("source_newest_version").and_then(|v| v.as_i64());
    let (Some(number), Some(newest)) = (number, newest) else {
        return String::new();
    };
    if number >= newest {
        return String::new();
    }
    let date = d
        .get("source_version_date")
        .and_then(|v| v.as_str())
        .map(day)
        .unwrap_or_default();
    let which = match number {
        1 => format!("as first published, {date}"),
        n => format!("as it read on {date} (version {n} of {newest})"),
    };
    let st = d.get("source_changed_since");
    let list = |key: &str, sign: &str, field: &str| -> Vec<String> {
        st.and_then(|s| s.get(key))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|x| x.get(field)?.as_str())
            .map(|t| format!("{sign} “{}”", one_line(t, 160)))
            .collect()
    };
    let mut changes = list("altered", "now", "after");
    changes.extend(list("added", "added", "text"));
    changes.extend(list("removed", "removed", "text"));
    let more = changes.len().saturating_sub(SINCE_SHOWN);
    changes.truncate(SINCE_SHOWN);
    let mut out = format!(" — reproduces the source {which}; the source has since changed");
    if !changes.is_empty() {
        out.push_str(": ");
        out.push_str(&changes.join("; "));
        if more > 0 {
            out.push_str(&format!(" (and {more} more)"));
        }
    }
    out
}

/// "25 May 2023" from a stored date or timestamp, as stored (UTC); the text as given, on one
/// short line, if it is neither.
fn day(s: &str) -> String {
    crate::timefmt::day(s, None, DayStyle::Long).unwrap_or_else(|| one_line(s, 40))
}

/// The sources a `quotes` event quotes, largest share first as stored.
fn quoted(e: &EventRow) -> Vec<(String, f64)> {
    e.details
        .as_ref()
        .and_then(|d| d.get("quotes"))
        .and_then(|q| q.as_array())
        .into_iter()
        .flatten()
        .filter_map(|q| Some((q.get("source")?.as_str()?.to_string(), q.get("share")?.as_f64()?)))
        .collect()
}

/// A change line before it is bounded for the message.
struct ChangeLine {
    /// `~` altered, `+` added, `-` removed.
    sign: char,
    /// The sentence, or for an altered one its `[-old-]{+new+}` text.
    text: String,
    position: bool,
    /// An altered sentence's word diff.
    runs: Option<Vec<WordRun>>,
    heading: Option<String>,
}

/// The lines of a change: statements altered (word diff), added and removed, positions first.
/// Falls back to the plain added/removed sentences.
fn change_lines(e: &EventRow) -> Vec<ChangeLine> {
    let st = e.details.as_ref().and_then(|d| d.get("statements"));
    let Some(st) = st else {
        let mut out = Vec::new();
        for (sign, body) in [('-', &e.removed), ('+', &e.added)] {
            out.extend(body.iter().flat_map(|b| b.lines()).map(|l| ChangeLine {
                sign,
                text: l.to_string(),
                position: false,
                runs: None,
                heading: None,
            }));
        }
        return out;
    };
    let items = |key: &str| {
        st.get(key)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let flag = |v: &serde_json::Value| v.get("position").and_then(|p| p.as_bool()).unwrap_or(false);
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|t| t.as_str()).unwrap_or("").to_string();
    let heading = |v: &serde_json::Value| {
        v.get("heading")
            .and_then(|h| h.as_str())
            .map(|h| one_line(h, 200))
            .filter(|h| !h.is_empty())
    };
    let mut out: Vec<ChangeLine> = Vec::new();
    out.extend(items("altered").iter().map(|a| {
        let runs = altered_runs(a);
        ChangeLine {
            sign: '~',
            text: runs.as_deref().map_or_else(|| text(a, "diff"), diff::marked),
            position: flag(a),
            runs,
            heading: heading(a),
        }
    }));
    for (sign, key) in [('+', "added"), ('-', "removed")] {
        out.extend(items(key).iter().map(|a| ChangeLine {
            sign,
            text: text(a, "text"),
            position: flag(a),
            runs: None,
            heading: heading(a),
        }));
    }
    out.sort_by_key(|l| !l.position);
    out
}

/// An altered statement's word diff: its `words` as stored; for an event stored before events
/// had them, computed from its two sentences (`old` and `new` then), so that it reads as a new
/// one does. `None` when neither is there (only the marker text, which is then parsed).
fn altered_runs(a: &serde_json::Value) -> Option<Vec<WordRun>> {
    if let Some(w) = a.get("words") {
        return serde_json::from_value(w.clone()).ok();
    }
    let side = |keys: [&str; 2]| keys.iter().find_map(|k| a.get(*k)?.as_str());
    Some(diff::words(side(["before", "old"])?, side(["after", "new"])?))
}

/// An event's altered statements as the terminal shows them: the sentence before and after
/// (when stored) and the word diff as one `[-removed-]{+added+}` line, the same runs the mail
/// shows.
pub fn altered_statements(e: &EventRow) -> Vec<(Option<String>, Option<String>, String)> {
    let altered = e
        .details
        .as_ref()
        .and_then(|d| d.get("statements")?.get("altered")?.as_array().cloned())
        .unwrap_or_default();
    altered
        .iter()
        .map(|a| {
            let side = |keys: [&str; 2]| keys.iter().find_map(|k| a.get(*k)?.as_str()).map(str::to_string);
            let line = match altered_runs(a) {
                Some(runs) => diff::marked(&runs),
                None => a.get("diff").and_then(|d| d.as_str()).unwrap_or("").to_string(),
            };
            (side(["before", "old"]), side(["after", "new"]), line)
        })
        .collect()
}

/// Word diff runs as segments for the message: control and invisible characters made spaces,
/// spaces folded (but kept at the edges, where they separate a run from the next), and at most
/// `max_chars` characters in all, the last run cut with "…".
fn run_segments(runs: &[WordRun], max_chars: usize) -> Vec<Segment> {
    let mut left = max_chars;
    let mut out = Vec::new();
    for WordRun(op, text) in runs {
        if left == 0 {
            break;
        }
        let mut flat = String::with_capacity(text.len());
        for c in text.chars() {
            let c = if c.is_control() || is_invisible(c) || c.is_whitespace() {
                ' '
            } else {
                c
            };
            if !(c == ' ' && flat.ends_with(' ')) {
                flat.push(c);
            }
        }
        let n = flat.chars().count();
        if n > left {
            flat = flat.chars().take(left.saturating_sub(1)).collect::<String>() + "…";
            left = 0;
        } else {
            left -= n;
        }
        out.push(Segment {
            op: match op {
                WordOp::Same => "eq",
                WordOp::Removed => "del",
                WordOp::Added => "ins",
            },
            text: flat,
        });
    }
    out
}

/// Segments as one line with `[-removed-]{+added+}` markers, as the text part shows them.
fn segments_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s.op {
            "del" => format!("[-{}-]", s.text),
            "ins" => format!("{{+{}+}}", s.text),
            _ => s.text.clone(),
        })
        .collect()
}

/// How many change lines an item shows: a new document's first position statements, or a
/// change in full up to a bound.
fn shown(kind: EventKind) -> usize {
    match kind {
        EventKind::New | EventKind::Removed => 5,
        _ => 40,
    }
}

/// `[-old-]{+new+}` markers as segments. Text that only looks like a marker (an unclosed one)
/// stays text.
pub fn segments(line: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut push = |op: &'static str, text: &str| {
        if !text.is_empty() {
            out.push(Segment {
                op,
                text: text.to_string(),
            });
        }
    };
    let mut rest = line;
    while !rest.is_empty() {
        let next = [rest.find("[-"), rest.find("{+")].into_iter().flatten().min();
        let Some(i) = next else {
            push("eq", rest);
            break;
        };
        push("eq", &rest[..i]);
        let (close, op) = if rest[i..].starts_with("[-") {
            ("-]", "del")
        } else {
            ("+}", "ins")
        };
        match rest[i + 2..].find(close) {
            Some(j) => {
                push(op, &rest[i + 2..i + 2 + j]);
                rest = &rest[i + 2 + j + 2..];
            }
            None => {
                push("eq", &rest[i..]);
                break;
            }
        }
    }
    out
}

/// A change line as the message shows it: made one line and bounded.
fn line(l: &ChangeLine) -> Line {
    let (text, segments) = match &l.runs {
        Some(runs) => {
            let segments = run_segments(runs, 2000);
            (segments_text(&segments), segments)
        }
        None => {
            let text = one_line(&l.text, 2000);
            let segments = if l.sign == '~' {
                segments(&text)
            } else {
                vec![Segment {
                    op: "eq",
                    text: text.clone(),
                }]
            };
            (text, segments)
        }
    };
    Line {
        sign: l.sign,
        position: l.position,
        text,
        segments,
        heading: l.heading.clone(),
        section: None,
    }
}

/// The lines shown, each section's together (sections in the order their first line comes),
/// with a "§" label on the first line of each. Lines before a document's first heading, shown
/// after a section, are labelled as such, so that they are not read as part of it.
fn in_sections(mut lines: Vec<Line>) -> Vec<Line> {
    if lines.iter().all(|l| l.heading.is_none()) {
        return lines;
    }
    let mut order: Vec<Option<String>> = Vec::new();
    for l in &lines {
        if !order.contains(&l.heading) {
            order.push(l.heading.clone());
        }
    }
    lines.sort_by_key(|l| order.iter().position(|h| *h == l.heading));
    let mut previous: Option<Option<String>> = None;
    for l in &mut lines {
        if previous.as_ref() != Some(&l.heading) {
            l.section = match (&l.heading, &previous) {
                (Some(h), _) => Some(h.clone()),
                (None, Some(_)) => Some("(before the first heading)".into()),
                (None, None) => None,
            };
        }
        previous = Some(l.heading.clone());
    }
    lines
}

/// A time in `tz`: for people ("2026-11-23 10:31 CST (+08:00)", "2026-11-23 02:31 UTC") and
/// for machines (RFC 3339 with the zone's offset).
pub fn local_time(at: crate::model::Timestamp, tz: Tz) -> (String, String) {
    let local = at.to_chrono().with_timezone(&tz);
    let abbrev = local.format("%Z").to_string();
    let offset = local.format("%:z").to_string();
    // Zones without a letter abbreviation (chrono-tz gives "+04" for them) show the offset.
    let zone = match abbrev.as_str() {
        "UTC" => abbrev,
        a if a.starts_with(['+', '-']) => offset,
        _ => format!("{abbrev} ({offset})"),
    };
    (
        format!("{} {zone}", local.format("%Y-%m-%d %H:%M")),
        local.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// An event's change lines as a message shows them (word runs, sections), for the feed: the
/// same lines a mail shows, and how many more there are.
pub(crate) fn shown_lines(e: &EventRow) -> (Vec<Line>, usize) {
    let all = change_lines(e);
    let n = shown(e.kind);
    (
        in_sections(all.iter().take(n).map(line).collect()),
        all.len().saturating_sub(n),
    )
}

fn item(e: &EventRow, names: &Names, tz: Tz) -> Item {
    let (lines, more_lines) = shown_lines(e);
    let (detected_at, detected_iso) = local_time(e.detected_at, tz);
    Item {
        event_id: e.id,
        kind: e.kind.as_str(),
        title: title_of(e),
        link: link(&e.url),
        url: one_line(&e.url, 2000),
        site: url::Url::parse(&e.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default(),
        watch: one_line(&e.watch, 200),
        detected_at,
        detected_iso,
        published: e.published.as_deref().map(|p| one_line(p, 40)),
        relation: describe(e, names),
        more_lines,
        lines,
        significance: e.significance,
    }
}

/// What a story is keyed by: the document an event traces to, else the event's own page.
fn story_key(e: &EventRow) -> String {
    match e.kind {
        EventKind::Republication | EventKind::Duplicate | EventKind::Revision => {
            e.source.clone().unwrap_or_else(|| e.url.clone())
        }
        EventKind::Quotes => quoted(e)
            .into_iter()
            .next()
            .map(|(s, _)| s)
            .or_else(|| e.source.clone())
            .unwrap_or_else(|| e.url.clone()),
        EventKind::New
        | EventKind::Changed
        | EventKind::Removed
        | EventKind::Failing
        | EventKind::Recovered => e.url.clone(),
    }
}

/// A rough size of an item in HTML, to stop adding items before the message gets too big.
fn weight(i: &Item) -> usize {
    900 + i.title.len()
        + i.url.len() * 2
        + i.relation.as_ref().map_or(0, String::len)
        + i.lines.iter().map(|l| l.text.len() + 160).sum::<usize>()
}

/// Events that added one sentence shared with other documents of their site: the story they
/// share, and what it says (see [`super::shared`]).
type Shared = std::collections::BTreeMap<i64, (String, super::SharedSentence)>;

/// The events of a message as stories, each keyed by what it is about and ordered head first
/// then by significance; stories by their most significant item.
fn stories<'a>(events: &'a [EventRow], shared: &Shared) -> Vec<(String, Vec<&'a EventRow>)> {
    let mut stories: Vec<(String, Vec<&EventRow>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for e in events {
        let key = shared.get(&e.id).map_or_else(|| story_key(e), |(k, _)| k.clone());
        match index.get(&key) {
            Some(&i) => stories[i].1.push(e),
            None => {
                index.insert(key.clone(), stories.len());
                stories.push((key, vec![e]));
            }
        }
    }
    let top = |v: &[&EventRow]| v.iter().map(|e| e.significance).fold(f64::MIN, f64::max);
    for (key, v) in &mut stories {
        v.sort_by(|a, b| {
            let head = |e: &EventRow| e.url != *key;
            head(a)
                .cmp(&head(b))
                .then(b.significance.total_cmp(&a.significance))
                .then(a.id.cmp(&b.id))
        });
    }
    stories.sort_by(|a, b| top(&b.1).total_cmp(&top(&a.1)).then(a.1[0].id.cmp(&b.1[0].id)));
    stories
}

/// An event's kind as a subject says it: "New", "Changed", "Revision", ….
fn kind_word(kind: EventKind) -> String {
    let s = kind.as_str();
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Statements of a change counted for a subject: "+2 statements", "~1 −1 statements".
fn statement_counts(e: &EventRow) -> Option<String> {
    let st = e.details.as_ref()?.get("statements")?;
    let n = |k: &str| st.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
    if e.kind == EventKind::New {
        let added = n("added");
        let s = if added == 1 { "" } else { "s" };
        return (added > 0).then(|| format!("{added} position statement{s}"));
    }
    let parts: Vec<String> = [('+', n("added")), ('~', n("altered")), ('−', n("removed"))]
        .into_iter()
        .filter(|(_, k)| *k > 0)
        .map(|(sign, k)| format!("{sign}{k}"))
        .collect();
    let total = n("added") + n("altered") + n("removed");
    let s = if total == 1 { "" } else { "s" };
    (!parts.is_empty()).then(|| format!("{} statement{s}", parts.join(" ")))
}

/// What the lead line of a change says, in a few words: the words an altered statement lost
/// and gained (“free” → “orderly”), or the beginning of one added (+“…”) or removed (−“…”).
/// What makes the subjects of two changes of one document differ.
fn gist(first: &Line) -> Option<String> {
    let cut = |t: &str, n: usize| one_line(t, n);
    match first.sign {
        '~' => {
            let run = |op: &str| {
                first
                    .segments
                    .iter()
                    .find(|s| s.op == op && !s.text.trim().is_empty())
                    .map(|s| format!("“{}”", cut(&s.text, 40)))
            };
            match (run("del"), run("ins")) {
                (Some(d), Some(i)) => Some(format!("{d} → {i}")),
                (Some(d), None) => Some(format!("−{d}")),
                (None, Some(i)) => Some(format!("+{i}")),
                (None, None) => None,
            }
        }
        sign => {
            let sign = if sign == '-' { '−' } else { sign };
            (!first.text.is_empty()).then(|| format!("{sign}“{}”", cut(&first.text, 60)))
        }
    }
}

/// The subject: the lead event's kind and document, what it changed, and how many other
/// events the message carries. Two different changes (of one document or of two) get two
/// different subjects, so that mail readers do not thread them as one.
fn subject(prefix: &str, lead: &EventRow, lead_item: Option<&Item>, names: &Names, total: usize) -> String {
    let mut out = format!(
        "{} {}: {}",
        one_line(prefix, 60),
        kind_word(lead.kind),
        one_line(&title_of(lead), 80)
    );
    let what = match lead.kind {
        EventKind::New | EventKind::Changed | EventKind::Revision => statement_counts(lead),
        _ => describe(lead, names).map(|r| {
            let mut c = r.chars();
            c.next()
                .map(|f| f.to_lowercase().chain(c).collect())
                .unwrap_or_default()
        }),
    };
    if let Some(w) = what {
        out.push_str(&format!(" ({})", one_line(&w, 100)));
    }
    if lead.kind != EventKind::New
        && let Some(g) = lead_item.and_then(|i| i.lines.first()).and_then(gist)
    {
        out.push_str(&format!(": {g}"));
    }
    if total > 1 {
        out.push_str(&format!(" and {} more", total - 1));
    }
    one_line(&out, 400)
}

impl Model {
    /// The message for `events` with times in UTC, or `None` when there is nothing to say.
    pub fn build(events: &[EventRow], prefix: &str, recipient: Option<&str>, caps: Caps) -> Option<Model> {
        Model::build_in(events, prefix, recipient, chrono_tz::UTC, caps)
    }

    /// The message for `events` with times in `tz` (the recipient's time zone).
    pub fn build_in(
        events: &[EventRow],
        prefix: &str,
        recipient: Option<&str>,
        tz: Tz,
        caps: Caps,
    ) -> Option<Model> {
        let first = events.first()?;
        let counts: Vec<String> = KINDS
            .iter()
            .filter_map(|k| {
                let n = events.iter().filter(|e| e.kind == *k).count();
                (n > 0).then(|| kind_label(*k, n))
            })
            .collect();
        let summary = counts.join(", ");
        let names = Names::of(events);
        let shared = super::shared_sentences(events);
        let stories = stories(events, &shared);
        let lead = stories.first().map_or(first, |(_, v)| v[0]);
        let (groups, briefs, more) = layout(stories, &shared, &names, tz, caps);
        let lead_item = groups
            .iter()
            .flat_map(|g| &g.items)
            .find(|i| i.event_id == lead.id);
        Some(Model {
            subject: subject(prefix, lead, lead_item, &names, events.len()),
            summary,
            total: events.len(),
            groups,
            briefs,
            more,
            recipient: recipient.map(str::to_string),
            timezone: tz.name().to_string(),
        })
    }
}

/// The stories as the message shows them: items in full while they fit the caps, then by
/// title (briefs), then only counted.
fn layout(
    stories: Vec<(String, Vec<&EventRow>)>,
    shared: &Shared,
    names: &Names,
    tz: Tz,
    caps: Caps,
) -> (Vec<Group>, Vec<Brief>, usize) {
    let mut groups = Vec::new();
    let mut briefs = Vec::new();
    let mut more = 0usize;
    let (mut shown_items, mut bytes) = (0usize, 4000usize);
    for (key, story) in stories {
        let mut items = Vec::new();
        for e in story {
            let it = item(e, names, tz);
            let w = weight(&it);
            if shown_items < caps.max_items && bytes + w <= caps.max_bytes {
                shown_items += 1;
                bytes += w;
                items.push(it);
            } else if briefs.len() < MAX_BRIEFS && bytes + 400 <= caps.max_bytes {
                bytes += 200 + it.title.len() + it.url.len() * 2;
                briefs.push(Brief {
                    kind: it.kind,
                    title: it.title,
                    link: it.link,
                    url: it.url,
                });
            } else {
                more += 1;
            }
        }
        if items.is_empty() {
            continue;
        }
        let source = (!items.iter().any(|i| i.url == key)).then(|| key.clone());
        // A story of one new or changed page has no source to name.
        let source = source.filter(|_| items.iter().any(|i| !matches!(i.kind, "new" | "changed")));
        let title = match &source {
            Some(s) => names.name(s),
            None => items[0].title.clone(),
        };
        let shared = shared.get(&items[0].event_id).map(|(_, h)| h.clone());
        groups.push(Group {
            source,
            title,
            shared,
            items,
        });
    }
    (groups, briefs, more)
}

/// The event ids of a message as ranges ("3-7,9"): for the `X-Govwatch-Events` header, which
/// lets a reader (or a test) tell exactly which events a message carried.
pub fn id_ranges(ids: &[i64]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ev(id: i64, kind: EventKind, title: &str) -> EventRow {
        EventRow {
            id,
            kind,
            url: "https://example.gov/a?x=1&y=<2>".into(),
            title: Some(title.into()),
            watch: "w".into(),
            detected_at: crate::model::Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            notified: false,
            notified_at: None,
            source: None,
            source_title: None,
            overlap: None,
            added: Some("States <b>must</b> act.".into()),
            removed: None,
            published: None,
            relevant: true,
            significance: 0.5,
            details: None,
        }
    }

    const CAPS: Caps = Caps {
        max_items: 50,
        max_bytes: 512 * 1024,
    };

    #[test]
    fn subject_counts_and_cannot_break_headers() {
        let mut events = [
            ev(1, EventKind::Changed, "Old"),
            ev(
                2,
                EventKind::New,
                "Evil\r\nBcc: victim@example.org\u{2028}\r\n\r\nTitle",
            ),
        ];
        events[1].significance = 0.9;
        let m = Model::build(&events, "[govwatch]", None, CAPS).unwrap();
        assert!(!m.subject.contains(['\n', '\r', '\u{2028}']));
        assert!(
            m.subject
                .starts_with("[govwatch] New: Evil Bcc: victim@example.org Title and 1 more"),
            "{}",
            m.subject
        );
    }

    #[test]
    fn word_diff_markers_become_segments_and_unclosed_ones_stay_text() {
        let s = segments("States [-should-]{+must+} act [-now");
        let ops: Vec<(&str, &str)> = s.iter().map(|s| (s.op, s.text.as_str())).collect();
        assert_eq!(
            ops,
            [
                ("eq", "States "),
                ("del", "should"),
                ("ins", "must"),
                ("eq", " act "),
                ("eq", "[-now")
            ]
        );
    }

    #[test]
    fn javascript_urls_are_not_links() {
        let mut e = ev(1, EventKind::New, "x");
        e.url = "javascript:alert(1)".into();
        let m = Model::build(&[e], "[g]", None, CAPS).unwrap();
        assert_eq!(m.groups[0].items[0].link, None);
    }

    #[test]
    fn a_republication_is_grouped_under_its_source_in_the_same_message() {
        let mut paper = ev(1, EventKind::New, "Paper");
        paper.url = "https://mfa.example/paper".into();
        paper.significance = 0.6;
        let mut other = ev(2, EventKind::New, "Other");
        other.url = "https://mfa.example/other".into();
        other.significance = 0.7;
        let mut repub = ev(3, EventKind::Republication, "Repub");
        repub.url = "https://news.example/r".into();
        repub.source = Some("https://mfa.example/paper".into());
        repub.significance = 0.9;
        let m = Model::build(&[paper, other, repub], "[g]", None, CAPS).unwrap();
        let ids: Vec<Vec<i64>> = m
            .groups
            .iter()
            .map(|g| g.items.iter().map(|i| i.event_id).collect())
            .collect();
        assert_eq!(ids, [vec![1, 3], vec![2]]);
        // The most significant story leads the subject, by its head: the paper.
        assert_eq!(m.subject, "[g] New: Paper and 2 more");
    }

    #[test]
    fn id_ranges_are_compact() {
        assert_eq!(id_ranges(&[9, 3, 4, 5, 7, 6, 12]), "3-7,9,12");
    }

    #[test]
    fn ten_thousand_events_are_capped() {
        let events: Vec<EventRow> = (1..=10_000)
            .map(|i| ev(i, EventKind::New, &format!("Paper {i}")))
            .collect();
        let m = Model::build(&events, "[g]", None, CAPS).unwrap();
        let shown: usize = m.groups.iter().map(|g| g.items.len()).sum();
        assert_eq!(shown, 50);
        assert_eq!(shown + m.briefs.len() + m.more, 10_000);
        assert!(m.more > 9000);
    }

    const CLAUSE_OLD: &str =
        "States should ensure free flow of data in an orderly manner and in accordance with the law.";
    const CLAUSE_NEW: &str = "States should ensure orderly flow of data in accordance with the law and the requirements of national security.";

    fn altered_event(altered: serde_json::Value) -> EventRow {
        let mut e = ev(1, EventKind::Changed, "Paper");
        e.details = Some(serde_json::json!({
            "statements": { "added": [], "removed": [], "altered": [altered] }
        }));
        e
    }

    fn line_ops(m: &Model) -> Vec<(&'static str, String)> {
        m.groups[0].items[0].lines[0]
            .segments
            .iter()
            .map(|s| (s.op, s.text.clone()))
            .collect()
    }

    #[test]
    fn altered_statement_lines_show_the_stored_word_runs() {
        let st = crate::compare::statements::classify(&crate::compare::diff::TextChange {
            removed: vec![CLAUSE_OLD.into()],
            added: vec![CLAUSE_NEW.into()],
        });
        let stored = serde_json::to_value(&st.altered[0]).unwrap();
        let m = Model::build(&[altered_event(stored)], "[g]", None, CAPS).unwrap();
        let ops = line_ops(&m);
        let changed: Vec<&(&str, String)> = ops.iter().filter(|(op, _)| *op != "eq").collect();
        assert_eq!(
            changed,
            [
                &("del", "free".to_string()),
                &("ins", "orderly".to_string()),
                &("del", "an orderly manner and in ".to_string()),
                &("ins", " and the requirements of national security".to_string()),
            ]
        );
        let line = &m.groups[0].items[0].lines[0];
        assert_eq!(line.text, crate::compare::diff::marked(&st.altered[0].words));
        assert!(line.position);
    }

    /// An event stored before events had `words`: its `diff` paired words off by position. Its
    /// runs are computed from its two sentences instead, as a new event's are.
    #[test]
    fn old_events_without_word_runs_are_diffed_again_from_their_sentences() {
        let e = altered_event(serde_json::json!({
            "old": CLAUSE_OLD,
            "new": CLAUSE_NEW,
            "diff": "States should ensure [-free-]{+orderly+} flow of data in [-an-]{+accordance with+} [-orderly-]{+the+} [-manner-]{+law+} and [-in-]{+the+} …",
            "position": true,
        }));
        let m = Model::build(&[e], "[g]", None, CAPS).unwrap();
        let runs = crate::compare::diff::words(CLAUSE_OLD, CLAUSE_NEW);
        assert_eq!(
            m.groups[0].items[0].lines[0].text,
            crate::compare::diff::marked(&runs)
        );
        assert!(line_ops(&m).contains(&("del", "an orderly manner and in ".to_string())));
        // With neither runs nor sentences, the stored marker text is what there is.
        let e = altered_event(serde_json::json!({ "diff": "States [-should-]{+must+} act." }));
        let m = Model::build(&[e], "[g]", None, CAPS).unwrap();
        assert_eq!(
            line_ops(&m),
            [
                ("eq", "States ".to_string()),
                ("del", "should".to_string()),
                ("ins", "must".to_string()),
                ("eq", " act.".to_string())
            ]
        );
    }

    #[test]
    fn word_runs_are_made_safe_and_bounded_for_a_message() {
        let long = "word ".repeat(1_000);
        let e = altered_event(serde_json::json!({
            "words": [["=", "States\u{1b}[2J "], ["-", "should\u{2028}"], ["+", &long], ["=", " act."]],
            "position": false,
        }));
        let m = Model::build(&[e], "[g]", None, CAPS).unwrap();
        let line = &m.groups[0].items[0].lines[0];
        assert!(!line.text.contains(['\u{1b}', '\u{2028}']), "{}", line.text);
        let chars: usize = line.segments.iter().map(|s| s.text.chars().count()).sum();
        assert_eq!(chars, 2000);
        assert!(line.segments.last().unwrap().text.ends_with('…'));
    }

    #[test]
    fn times_are_shown_in_the_recipients_zone_with_its_abbreviation_and_offset() {
        let at = crate::model::Timestamp::parse("2026-11-23T02:31:05Z").unwrap();
        assert_eq!(
            local_time(at, chrono_tz::Asia::Shanghai),
            (
                "2026-11-23 10:31 CST (+08:00)".into(),
                "2026-11-23T10:31:05+08:00".into()
            )
        );
        assert_eq!(local_time(at, chrono_tz::UTC).0, "2026-11-23 02:31 UTC");
        // A zone without a letter abbreviation shows its offset once.
        assert_eq!(
            local_time(at, chrono_tz::Asia::Dubai).0,
            "2026-11-23 06:31 +04:00"
        );
        let m = Model::build_in(
            &[ev(1, EventKind::New, "P")],
            "[g]",
            None,
            chrono_tz::Asia::Shanghai,
            CAPS,
        )
        .unwrap();
        assert_eq!(m.groups[0].items[0].detected_at, "2026-01-01 08:00 CST (+08:00)");
        assert_eq!(m.timezone, "Asia/Shanghai");
    }

    #[test]
    fn lines_are_grouped_under_their_sections_and_labelled_once() {
        let mut e = ev(1, EventKind::Changed, "Paper");
        let st = |text: &str, heading: Option<&str>| serde_json::json!({"text": text, "position": true, "heading": heading});
        e.details = Some(
            serde_json::json!({"statements": {"altered": [], "removed": [], "added": [
                st("States shall protect data.", Some("3. Protect data")),
                st("The preamble should be read.", None),
                st("States shall not spy.", Some("4. Human rights")),
                st("States must share data.", Some("3. Protect data")),
            ]}}),
        );
        let m = Model::build(&[e], "[g]", None, CAPS).unwrap();
        let lines: Vec<(Option<&str>, &str)> = m.groups[0].items[0]
            .lines
            .iter()
            .map(|l| (l.section.as_deref(), l.text.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (Some("3. Protect data"), "States shall protect data."),
                (None, "States must share data."),
                (Some("(before the first heading)"), "The preamble should be read."),
                (Some("4. Human rights"), "States shall not spy."),
            ]
        );
    }

    #[test]
    fn two_changes_of_one_document_get_two_subjects() {
        let altered =
            altered_event(serde_json::json!({"before": CLAUSE_OLD, "after": CLAUSE_NEW, "position": true}));
        let mut added = ev(2, EventKind::Changed, "Paper");
        added.details = Some(
            serde_json::json!({"statements": {"altered": [], "removed": [], "added": [
                {"text": "States shall oppose mass surveillance.", "position": true}
            ]}}),
        );
        let a = Model::build(&[altered], "[govwatch]", None, CAPS)
            .unwrap()
            .subject;
        let b = Model::build(&[added], "[govwatch]", None, CAPS).unwrap().subject;
        assert_eq!(a, "[govwatch] Changed: Paper (~1 statement): “free” → “orderly”");
        assert_eq!(
            b,
            "[govwatch] Changed: Paper (+1 statement): +“States shall oppose mass surveillance.”"
        );
    }
}
