//! Differences between two versions of a document's text, by sentence: what an analyst wants to
//! read is the sentences that were added or removed, not lines of markup.

use similar::{Algorithm, ChangeTag, DiffOp, capture_diff_slices};

/// The sentences of a text, in order. Paragraph breaks end sentences; so do `.`, `!`, `?` followed
/// by whitespace, and the CJK full stops, which are not followed by spaces.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut current = String::new();
        let chars: Vec<char> = para.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            current.push(c);
            let ends = match c {
                '。' | '！' | '？' | '；' => true,
                '!' | '?' => chars.get(i + 1).is_none_or(|n| n.is_whitespace()),
                '.' => {
                    chars.get(i + 1).is_none_or(|n| n.is_whitespace())
                        && !abbreviation(&current, &chars[i + 1..])
                }
                _ => false,
            };
            if ends {
                push_sentence(&mut out, &current);
                current.clear();
            }
        }
        push_sentence(&mut out, &current);
    }
    out
}

/// A full stop that is not the end of a sentence: "U.S. data", "J. Smith", "e.g. this".
fn abbreviation(before: &str, after: &[char]) -> bool {
    let word = before
        .trim_end_matches('.')
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("");
    let next = after.iter().find(|c| !c.is_whitespace());
    word.contains('.') || word.chars().count() == 1 || next.is_some_and(|c| c.is_lowercase())
}

fn push_sentence(out: &mut Vec<String>, s: &str) {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if !s.is_empty() {
        out.push(s);
    }
}

/// What changed between two versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl TextChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Sentences added and removed from `old` to `new`. A sentence that merely moved counts as
/// neither, since the position did not change.
pub fn changes(old: &str, new: &str) -> TextChange {
    let a = sentences(old);
    let b = sentences(new);
    let mut change = TextChange::default();
    for op in capture_diff_slices(Algorithm::Patience, &a, &b) {
        for (tag, value) in op_changes(&op, &a, &b) {
            match tag {
                ChangeTag::Delete => change.removed.push(value),
                ChangeTag::Insert => change.added.push(value),
                ChangeTag::Equal => {}
            }
        }
    }
    // Moved text shows up as the same sentence deleted in one place and inserted in another.
    let removed: std::collections::HashSet<String> = change.removed.iter().cloned().collect();
    let added: std::collections::HashSet<String> = change.added.iter().cloned().collect();
    change.added.retain(|s| !removed.contains(s));
    change.removed.retain(|s| !added.contains(s));
    change
}

fn op_changes(op: &DiffOp, a: &[String], b: &[String]) -> Vec<(ChangeTag, String)> {
    op.iter_changes(a, b)
        .map(|c| (c.tag(), c.value().clone()))
        .collect()
}

/// A unified diff of two versions, one sentence a line, for `govwatch diff`.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    let a = sentences(old).join("\n") + "\n";
    let b = sentences(new).join("\n") + "\n";
    similar::TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(&a, &b)
        .unified_diff()
        .context_radius(2)
        .header(old_label, new_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_english_and_chinese_sentences() {
        assert_eq!(
            sentences("States should act. U.S. data is 3.5 times larger!\n\n各国应当尊重。反对霸权"),
            [
                "States should act.",
                "U.S. data is 3.5 times larger!",
                "各国应当尊重。",
                "反对霸权"
            ]
        );
    }

    #[test]
    fn one_sentence_edited() {
        let old = "First point. States should respect sovereignty. Last point.";
        let new = "First point. States must respect sovereignty. Last point.";
        let c = changes(old, new);
        assert_eq!(c.removed, ["States should respect sovereignty."]);
        assert_eq!(c.added, ["States must respect sovereignty."]);
    }

    #[test]
    fn moved_paragraph_is_no_change() {
        let c = changes("A one.\n\nB two.\n\nC three.", "B two.\n\nC three.\n\nA one.");
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn reflowed_whitespace_is_no_change() {
        assert!(changes("A  one.\nstill one.", "A one. still\tone.").is_empty());
    }
}
