//! What the pages show, worked out without I/O: the rows of a diff between two versions (the
//! sentences kept, removed, added, and edited word by word exactly as `changes --json` reports
//! them), the section heading of each change (the one `changes --json` and the mails give it),
//! and the passages two texts share.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::compare::diff::{self, WordOp, WordRun};
use crate::compare::sections::{self, Headings, Sections};
use crate::compare::statements::{self, Altered, Statement, StatementChange};

/// One sentence of a text and the paragraph it is in.
struct Unit {
    text: String,
    para: usize,
}

/// The sentences of `text` in order, as [`diff::sentences`] cuts them, with their paragraphs.
fn units(text: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    for (para, p) in text.split("\n\n").enumerate() {
        out.extend(diff::sentences(p).into_iter().map(|text| Unit { text, para }));
    }
    out
}

/// A row of a diff, one sentence (or one sentence edited) a row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// `same`, `removed`, `added`, `altered` (one sentence edited: see `runs`), `moved-out` and
    /// `moved-in` (a sentence that only moved, which is no change), or `gap` (`skipped`
    /// sentences kept, not shown).
    pub kind: &'static str,
    pub text: String,
    /// For `altered`: the word diff, `[op, text]` runs as in `changes --json`'s `words`.
    pub runs: Vec<WordRun>,
    pub skipped: usize,
    /// The number of the change this row begins (1, 2, …), for previous/next links.
    pub change: Option<usize>,
    /// For `altered`: the sentence as it was.
    #[serde(skip)]
    pub old: Option<String>,
    /// For a change: the section heading above the sentence, as `changes --json` gives it.
    pub heading: Option<String>,
    /// The section label shown above this row: on the row that begins a change, its heading;
    /// within a change, a heading other than the row before's (as the mails label sections).
    pub section: Option<String>,
}

impl Row {
    fn new(kind: &'static str, text: String) -> Row {
        Row {
            kind,
            text,
            runs: Vec::new(),
            skipped: 0,
            change: None,
            old: None,
            heading: None,
            section: None,
        }
    }

    fn is_change(&self) -> bool {
        matches!(self.kind, "removed" | "added" | "altered")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffView {
    pub rows: Vec<Row>,
    /// How many changes (runs of changed sentences) there are.
    pub changes: usize,
    pub added: usize,
    pub removed: usize,
    pub altered: usize,
}

/// Sentences of context kept either side of a change when only changes are shown.
pub const CONTEXT: usize = 2;

/// The diff of `old` to `new`, with `context` sentences kept around changes (`None`: the whole
/// text). Edited sentences are paired and word-diffed by [`statements::classify`] on
/// [`diff::changes`], as the check that recorded the event did, so their `<del>`/`<ins>` marks
/// are the `words` of `changes --json`. The changes have no headings yet: see
/// [`DiffView::place`].
pub fn diff_view(old: &str, new: &str, context: Option<usize>) -> DiffView {
    let mut rows = aligned_rows(old, new);
    let mut view = DiffView {
        changes: 0,
        added: rows.iter().filter(|r| r.kind == "added").count(),
        removed: rows.iter().filter(|r| r.kind == "removed").count(),
        altered: rows.iter().filter(|r| r.kind == "altered").count(),
        rows: Vec::new(),
    };
    // Number the changes, for previous/next links.
    let mut previous_was_change = false;
    for row in rows.iter_mut() {
        if row.is_change() && !previous_was_change {
            view.changes += 1;
            row.change = Some(view.changes);
        }
        previous_was_change = row.is_change();
    }
    view.rows = match context {
        Some(c) => with_context(rows, c),
        None => rows,
    };
    view
}

/// The rows of the diff of `old` to `new` in order.
fn aligned_rows(old: &str, new: &str) -> Vec<Row> {
    let (a, b) = (units(old), units(new));
    let change = diff::changes(old, new);
    let classified = statements::classify(&change);
    let removed: HashSet<&str> = change.removed.iter().map(String::as_str).collect();
    let added: HashSet<&str> = change.added.iter().map(String::as_str).collect();
    let mut pairs: HashMap<(&str, &str), &statements::Altered> = HashMap::new();
    for alt in &classified.altered {
        pairs.insert((alt.old.as_str(), alt.new.as_str()), alt);
    }
    let sa: Vec<&str> = a.iter().map(|u| u.text.as_str()).collect();
    let sb: Vec<&str> = b.iter().map(|u| u.text.as_str()).collect();
    let mut rows: Vec<Row> = Vec::new();
    for op in capture_diff_slices(Algorithm::Patience, &sa, &sb) {
        let (i, n, j, m) = match op {
            DiffOp::Equal { new_index, len, .. } => {
                for k in 0..len {
                    rows.push(Row::new("same", b[new_index + k].text.clone()));
                }
                continue;
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => (old_index, old_len, 0, 0),
            DiffOp::Insert {
                new_index, new_len, ..
            } => (0, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        let mut taken = vec![false; m];
        for unit in &a[i..i + n] {
            let old_s = unit.text.as_str();
            let partner =
                (j..j + m).find(|&y| !taken[y - j] && pairs.contains_key(&(old_s, b[y].text.as_str())));
            if let Some(y) = partner {
                taken[y - j] = true;
                let alt = pairs[&(old_s, b[y].text.as_str())];
                let mut row = Row::new("altered", alt.new.clone());
                row.runs = alt.words.clone();
                row.old = Some(alt.old.clone());
                rows.push(row);
            } else {
                let kind = if removed.contains(old_s) {
                    "removed"
                } else {
                    "moved-out"
                };
                rows.push(Row::new(kind, unit.text.clone()));
            }
        }
        for y in (j..j + m).filter(|&y| !taken[y - j]) {
            let kind = if added.contains(b[y].text.as_str()) {
                "added"
            } else {
                "moved-in"
            };
            rows.push(Row::new(kind, b[y].text.clone()));
        }
    }
    rows
}

/// A changed sentence as `changes --json` lists it, by which its heading is looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Changed {
    Added(String),
    Removed(String),
    /// Before and after.
    Altered(String, String),
}

impl Changed {
    fn of(row: &Row) -> Option<Changed> {
        match row.kind {
            "added" => Some(Changed::Added(row.text.clone())),
            "removed" => Some(Changed::Removed(row.text.clone())),
            "altered" => Some(Changed::Altered(row.old.clone()?, row.text.clone())),
            _ => None,
        }
    }
}

/// The headings an event recorded for the sentences it changed (`details.statements`): the
/// ones `changes --json` prints and the mails label their sections with. A sentence recorded
/// without a heading stands before its document's first (or in a document without any).
#[derive(Debug, Clone, Default)]
pub struct Recorded(HashMap<Changed, Option<String>>);

impl Recorded {
    /// What `details` (an event's) recorded; nothing for an event without statements.
    pub fn of(details: Option<&serde_json::Value>) -> Recorded {
        let mut out = HashMap::new();
        let Some(st) = details.and_then(|d| d.get("statements")) else {
            return Recorded(out);
        };
        let list = |key: &str| {
            st.get(key)
                .and_then(|l| l.as_array())
                .cloned()
                .unwrap_or_default()
        };
        let text = |v: &serde_json::Value, keys: [&str; 2]| {
            keys.iter().find_map(|k| v.get(*k)?.as_str()).map(str::to_string)
        };
        let heading = |v: &serde_json::Value| v.get("heading").and_then(|h| h.as_str()).map(str::to_string);
        for s in list("added") {
            if let Some(t) = text(&s, ["text", "text"]) {
                out.insert(Changed::Added(t), heading(&s));
            }
        }
        for s in list("removed") {
            if let Some(t) = text(&s, ["text", "text"]) {
                out.insert(Changed::Removed(t), heading(&s));
            }
        }
        for a in list("altered") {
            if let (Some(old), Some(new)) = (text(&a, ["before", "old"]), text(&a, ["after", "new"])) {
                out.insert(Changed::Altered(old, new), heading(&a));
            }
        }
        Recorded(out)
    }
}

/// Labels a document's lines before its first heading when they follow a section, as the mails
/// do, so that they are not read as part of it.
pub const BEFORE_FIRST_HEADING: &str = "(before the first heading)";

impl DiffView {
    /// Sets the section heading of every change, and the labels shown: as `recorded` has it
    /// (the event of the later version, if it was checked against the earlier one), else worked
    /// out as the check works it out ([`sections::locate`]) under `headings`, those of the two
    /// versions' pages. `headings` is called only if some change was not recorded: it reads the
    /// stored pages again.
    pub fn place(&mut self, recorded: &Recorded, old: &str, new: &str, headings: impl FnOnce() -> Headings) {
        let mut unplaced = StatementChange::default();
        for row in &mut self.rows {
            let Some(key) = Changed::of(row) else { continue };
            match recorded.0.get(&key) {
                Some(h) => row.heading = h.clone(),
                None => match key {
                    Changed::Added(text) => unplaced.added.push(statement(text)),
                    Changed::Removed(text) => unplaced.removed.push(statement(text)),
                    Changed::Altered(old, new) => unplaced.altered.push(Altered {
                        old,
                        new,
                        words: Vec::new(),
                        diff: String::new(),
                        position: false,
                        heading: None,
                    }),
                },
            }
        }
        if !unplaced.added.is_empty() || !unplaced.removed.is_empty() || !unplaced.altered.is_empty() {
            let headings = headings();
            sections::locate(
                &mut unplaced,
                &Sections::of(old, &headings),
                &Sections::of(new, &headings),
            );
            let mut found: HashMap<Changed, Option<String>> = HashMap::new();
            found.extend(
                unplaced
                    .added
                    .into_iter()
                    .map(|s| (Changed::Added(s.text), s.heading)),
            );
            found.extend(
                unplaced
                    .removed
                    .into_iter()
                    .map(|s| (Changed::Removed(s.text), s.heading)),
            );
            found.extend(
                unplaced
                    .altered
                    .into_iter()
                    .map(|a| (Changed::Altered(a.old, a.new), a.heading)),
            );
            for row in &mut self.rows {
                if let Some(h) = Changed::of(row).and_then(|k| found.get(&k).cloned()) {
                    row.heading = h;
                }
            }
        }
        self.label_sections();
    }

    /// The label above each change row: its heading on the first row of a change, and where a
    /// change crosses into another section, that section's.
    fn label_sections(&mut self) {
        // The heading of the row before, while in a change.
        let mut previous: Option<Option<String>> = None;
        for row in &mut self.rows {
            if !row.is_change() {
                previous = None;
                continue;
            }
            row.section = match (&row.heading, &previous) {
                (h, None) => h.clone(),
                (h, Some(p)) if h == p => None,
                (Some(h), Some(_)) => Some(h.clone()),
                (None, Some(_)) => Some(BEFORE_FIRST_HEADING.to_string()),
            };
            previous = Some(row.heading.clone());
        }
    }
}

fn statement(text: String) -> Statement {
    Statement {
        text,
        position: false,
        heading: None,
    }
}

/// Keeps the rows within `context` rows of a change (moves count as changes here: they are
/// shown), the others folded into `gap` rows.
fn with_context(rows: Vec<Row>, context: usize) -> Vec<Row> {
    let shown: Vec<bool> = {
        let near: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind != "same")
            .map(|(i, _)| i)
            .collect();
        let mut keep = vec![false; rows.len()];
        for i in near {
            let lo = i.saturating_sub(context);
            let hi = (i + context).min(rows.len().saturating_sub(1));
            keep[lo..=hi].iter_mut().for_each(|k| *k = true);
        }
        keep
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    for (row, keep) in rows.into_iter().zip(shown) {
        if keep {
            if skipped > 0 {
                out.push(Row {
                    skipped,
                    ..Row::new("gap", String::new())
                });
                skipped = 0;
            }
            out.push(row);
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        out.push(Row {
            skipped,
            ..Row::new("gap", String::new())
        });
    }
    out
}

/// A paragraph of a text with the sentences another text shares marked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MarkedParagraph {
    /// `(sentence, shared)` in order.
    pub sentences: Vec<(String, bool)>,
}

/// Both texts as paragraphs with the sentences they share marked (whitespace folded, compared
/// whole), and how many sentences of each are shared: the passages one reproduces of the other.
pub fn shared_passages(
    text: &str,
    source: &str,
) -> (Vec<MarkedParagraph>, Vec<MarkedParagraph>, usize, usize) {
    let (a, b) = (units(text), units(source));
    let in_a: HashSet<&str> = a.iter().map(|u| u.text.as_str()).collect();
    let in_b: HashSet<&str> = b.iter().map(|u| u.text.as_str()).collect();
    let mark = |units: &[Unit], other: &HashSet<&str>| {
        let mut paras: Vec<MarkedParagraph> = Vec::new();
        let mut last = usize::MAX;
        let mut shared = 0;
        for u in units {
            if u.para != last {
                paras.push(MarkedParagraph {
                    sentences: Vec::new(),
                });
                last = u.para;
            }
            let s = other.contains(u.text.as_str());
            shared += usize::from(s);
            if let Some(p) = paras.last_mut() {
                p.sentences.push((u.text.clone(), s));
            }
        }
        (paras, shared)
    };
    let (pa, sa) = mark(&a, &in_b);
    let (pb, sb) = mark(&b, &in_a);
    (pa, pb, sa, sb)
}

/// Runs of a word diff as the HTML marks show them: the old side (kept and `<del>`) or the new
/// side (kept and `<ins>`).
pub fn side(runs: &[WordRun], new: bool) -> Vec<WordRun> {
    runs.iter()
        .filter(|WordRun(op, _)| *op == WordOp::Same || (*op == WordOp::Added) == new)
        .cloned()
        .collect()
}

/// An event's altered statements as word-diff runs: their `words` as stored, or (events stored
/// before `words` existed) computed from the two sentences, as the mail does.
pub fn altered(details: Option<&serde_json::Value>) -> Vec<Vec<WordRun>> {
    let list = details
        .and_then(|d| d.get("statements")?.get("altered")?.as_array().cloned())
        .unwrap_or_default();
    list.iter()
        .filter_map(|a| {
            if let Some(w) = a.get("words") {
                return serde_json::from_value(w.clone()).ok();
            }
            let side = |keys: [&str; 2]| keys.iter().find_map(|k| a.get(*k)?.as_str());
            Some(diff::words(side(["before", "old"])?, side(["after", "new"])?))
        })
        .collect()
}

/// A piece of a search result: text, and whether it is what was searched for.
pub type Snippet = Vec<(String, bool)>;

/// Characters of context either side of the first match in a snippet.
const SNIPPET_CONTEXT: usize = 90;

/// The passage of `text` around the first place `query` occurs (case and spacing aside), with
/// each occurrence in it marked; the text's beginning if it does not occur as typed (the index
/// found it another way, as words).
pub fn snippet(text: &str, query: &str) -> Snippet {
    let words: Vec<String> = query.split_whitespace().map(regex::escape).collect();
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let found = (!words.is_empty())
        .then(|| regex::Regex::new(&format!("(?i){}", words.join(r"\s+"))).ok())
        .flatten();
    let first = found.as_ref().and_then(|re| re.find(&flat)).map(|m| m.start());
    let start = first.map_or(0, |s| {
        flat[..s]
            .char_indices()
            .rev()
            .nth(SNIPPET_CONTEXT - 1)
            .map_or(0, |(i, _)| i)
    });
    let end = flat[start..]
        .char_indices()
        .nth(2 * SNIPPET_CONTEXT + query.chars().count())
        .map_or(flat.len(), |(i, _)| start + i);
    let window = &flat[start..end];
    let mut out: Snippet = Vec::new();
    if start > 0 {
        out.push(("…".into(), false));
    }
    let mut at = 0;
    if let Some(re) = &found {
        for m in re.find_iter(window) {
            out.push((window[at..m.start()].to_string(), false));
            out.push((m.as_str().to_string(), true));
            at = m.end();
        }
    }
    out.push((window[at..].to_string(), false));
    if end < flat.len() {
        out.push(("…".into(), false));
    }
    out.retain(|(s, _)| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edited_sentence_carries_the_words_changes_json_reports() {
        let old = "Intro\n\nFirst point. States should respect data sovereignty. Last point.";
        let new =
            "Intro\n\nFirst point. States must respect data sovereignty. Last point. A new sentence here.";
        let mut v = diff_view(old, new, None);
        v.place(&Recorded::default(), old, new, || Headings::new(["Intro"]));
        let kinds: Vec<&str> = v.rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["same", "same", "altered", "same", "added"]);
        let expected = statements::classify(&diff::changes(old, new)).altered[0]
            .words
            .clone();
        assert_eq!(v.rows[2].runs, expected);
        assert!(
            v.rows[2]
                .runs
                .iter()
                .any(|WordRun(op, t)| *op == WordOp::Removed && t.contains("should"))
        );
        assert_eq!((v.changes, v.added, v.altered), (2, 1, 1));
        assert_eq!(v.rows[2].change, Some(1));
        assert_eq!(v.rows[2].heading.as_deref(), Some("Intro"));
        assert_eq!(v.rows[2].section.as_deref(), Some("Intro"));
    }

    /// The headings are those the event recorded (what `changes --json` and the mails show),
    /// not guessed from how a paragraph looks; a change not recorded is placed under the pages'
    /// headings as the check places it; a change that crosses into another section says so.
    #[test]
    fn changes_are_placed_where_the_event_placed_them() {
        let old = "Short line without a stop\n\nFirst point. States should act.\n\nNext part\n\nOld tail.";
        let new = "Short line without a stop\n\nFirst point. States must act.\n\nNext part\n\nNew tail.";
        let details = serde_json::json!({"statements": {
            "added": [],
            "removed": [],
            "altered": [{"before": "States should act.", "after": "States must act.", "heading": "Recorded"}],
        }});
        let mut v = diff_view(old, new, None);
        let mut asked = false;
        v.place(&Recorded::of(Some(&details)), old, new, || {
            asked = true;
            Headings::new(["Next part"])
        });
        assert!(asked, "the tail was not recorded: the pages' headings are read");
        let row = |t: &str| v.rows.iter().find(|r| r.text == t).unwrap();
        assert_eq!(row("States must act.").heading.as_deref(), Some("Recorded"));
        assert_eq!(row("Old tail.").heading.as_deref(), Some("Next part"));
        assert_eq!(row("New tail.").heading.as_deref(), Some("Next part"));

        // All recorded: the pages are not read again.
        let details = serde_json::json!({"statements": {
            "added": [{"text": "New tail.", "heading": "Two"}],
            "removed": [{"text": "Old tail."}],
            "altered": [{"before": "States should act.", "after": "States must act.", "heading": "One"}],
        }});
        let mut v = diff_view(old, new, None);
        v.place(&Recorded::of(Some(&details)), old, new, || panic!("pages read"));
        let sections: Vec<(&str, Option<&str>)> = v
            .rows
            .iter()
            .filter(|r| r.is_change())
            .map(|r| (r.text.as_str(), r.section.as_deref()))
            .collect();
        assert_eq!(
            sections,
            [
                ("States must act.", Some("One")),
                ("Old tail.", None),
                ("New tail.", Some("Two")),
            ]
        );
        // "Old tail." is recorded without a heading, "New tail." under one: the same change.
        assert_eq!(v.changes, 2);
    }

    #[test]
    fn changes_only_folds_what_is_kept_far_from_changes() {
        let old: Vec<String> = (0..20).map(|i| format!("Sentence number {i} stays.")).collect();
        let mut new = old.clone();
        new[10] = "Sentence number ten was rewritten entirely here.".into();
        let v = diff_view(&old.join(" "), &new.join(" "), Some(CONTEXT));
        let kinds: Vec<&str> = v.rows.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            ["gap", "same", "same", "removed", "added", "same", "same", "gap"]
        );
        assert_eq!((v.rows[0].skipped, v.rows[7].skipped), (8, 7));
    }

    #[test]
    fn moved_sentences_are_not_changes() {
        let v = diff_view(
            "A one.\n\nB two.\n\nC three.",
            "B two.\n\nC three.\n\nA one.",
            None,
        );
        assert_eq!(v.changes, 0);
        assert!(v.rows.iter().any(|r| r.kind == "moved-out"));
    }

    #[test]
    fn snippets_mark_the_query_in_its_context() {
        let text = format!(
            "{} The rules on 数据出境 apply. Data Flows matter.",
            "lorem ipsum ".repeat(30)
        );
        let s = snippet(&text, "数据出境");
        assert_eq!(s[0], ("…".to_string(), false));
        assert!(s.contains(&("数据出境".to_string(), true)), "{s:?}");
        let s = snippet(&text, "data   flows");
        assert!(s.contains(&("Data Flows".to_string(), true)), "{s:?}");
        // Regex syntax is text to find; nothing found: the beginning, unmarked.
        let s = snippet("a (b) c", "(b");
        assert!(s.contains(&("(b".to_string(), true)), "{s:?}");
        assert!(snippet("plain", "zzz").iter().all(|(_, m)| !m));
    }

    #[test]
    fn shared_sentences_are_marked_in_both() {
        let (a, b, sa, sb) = shared_passages(
            "Mine. States must act.\n\n各国应当尊重。",
            "States must act. Other.",
        );
        assert_eq!((sa, sb), (1, 1));
        assert_eq!(a[0].sentences[1], ("States must act.".to_string(), true));
        assert!(!b[0].sentences[1].1);
        assert_eq!(a.len(), 2);
    }
}
