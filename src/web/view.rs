//! What the pages show, worked out without I/O: the rows of a diff between two versions (the
//! sentences kept, removed, added, and edited word by word exactly as `changes --json` reports
//! them), the section heading above each change, and the passages two texts share.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::compare::diff::{self, WordOp, WordRun};
use crate::compare::statements;

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

/// A paragraph that reads as a section heading: one short sentence with no closing
/// punctuation ("Article 3 Data export", "三、数据出境安全评估").
fn is_heading(paragraph: &[&Unit]) -> bool {
    let [only] = paragraph else { return false };
    let t = only.text.trim();
    let n = t.chars().count();
    (2..=80).contains(&n)
        && !t.ends_with(['.', '。', '!', '?', '！', '？', ';', '；', ',', '，', ':', '：'])
        && t.split_whitespace().count() <= 12
}

/// For each unit, the heading of the section it is in (the last heading paragraph at or before
/// it), if any.
fn headings(units: &[Unit]) -> Vec<Option<String>> {
    let mut by_para: HashMap<usize, Vec<&Unit>> = HashMap::new();
    for u in units {
        by_para.entry(u.para).or_default().push(u);
    }
    let mut current: Option<String> = None;
    let mut out = Vec::with_capacity(units.len());
    for u in units {
        if by_para.get(&u.para).is_some_and(|p| is_heading(p)) {
            current = Some(u.text.clone());
        }
        out.push(current.clone());
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
    /// The section this change is in, on the row that begins it.
    pub heading: Option<String>,
}

impl Row {
    fn new(kind: &'static str, text: String) -> Row {
        Row {
            kind,
            text,
            runs: Vec::new(),
            skipped: 0,
            change: None,
            heading: None,
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
/// are the `words` of `changes --json`.
pub fn diff_view(old: &str, new: &str, context: Option<usize>) -> DiffView {
    let (mut rows, row_heading) = aligned_rows(old, new);
    let mut view = DiffView {
        changes: 0,
        added: rows.iter().filter(|r| r.kind == "added").count(),
        removed: rows.iter().filter(|r| r.kind == "removed").count(),
        altered: rows.iter().filter(|r| r.kind == "altered").count(),
        rows: Vec::new(),
    };
    // Number the changes and give each its section.
    let mut previous_was_change = false;
    for (row, heading) in rows.iter_mut().zip(row_heading) {
        if row.is_change() && !previous_was_change {
            view.changes += 1;
            row.change = Some(view.changes);
            row.heading = heading;
        }
        previous_was_change = row.is_change();
    }
    view.rows = match context {
        Some(c) => with_context(rows, c),
        None => rows,
    };
    view
}

/// The rows of the diff of `old` to `new` in order, and the section heading of each.
fn aligned_rows(old: &str, new: &str) -> (Vec<Row>, Vec<Option<String>>) {
    let (a, b) = (units(old), units(new));
    let (ha, hb) = (headings(&a), headings(&b));
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
    // The heading for each row: of the new text where the row is in it, else of the old.
    let mut row_heading: Vec<Option<String>> = Vec::new();
    for op in capture_diff_slices(Algorithm::Patience, &sa, &sb) {
        let (i, n, j, m) = match op {
            DiffOp::Equal { new_index, len, .. } => {
                for k in 0..len {
                    rows.push(Row::new("same", b[new_index + k].text.clone()));
                    row_heading.push(hb[new_index + k].clone());
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
        for x in i..i + n {
            let old_s = a[x].text.as_str();
            let partner =
                (j..j + m).find(|&y| !taken[y - j] && pairs.contains_key(&(old_s, b[y].text.as_str())));
            if let Some(y) = partner {
                taken[y - j] = true;
                let alt = pairs[&(old_s, b[y].text.as_str())];
                let mut row = Row::new("altered", alt.new.clone());
                row.runs = alt.words.clone();
                rows.push(row);
                row_heading.push(hb[y].clone().or_else(|| ha[x].clone()));
            } else {
                let kind = if removed.contains(old_s) {
                    "removed"
                } else {
                    "moved-out"
                };
                rows.push(Row::new(kind, a[x].text.clone()));
                row_heading.push(ha[x].clone());
            }
        }
        for y in (j..j + m).filter(|&y| !taken[y - j]) {
            let kind = if added.contains(b[y].text.as_str()) {
                "added"
            } else {
                "moved-in"
            };
            rows.push(Row::new(kind, b[y].text.clone()));
            row_heading.push(hb[y].clone());
        }
    }
    (rows, row_heading)
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
        let v = diff_view(old, new, None);
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
