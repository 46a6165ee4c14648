//! Differences between two versions of a document's text, by sentence: what an analyst wants to
//! read is the sentences that were added or removed, not lines of markup.

use std::collections::HashMap;

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

/// Up to this many sentences in the two versions together, they are diffed whole, as always
/// (about 300 KB of text a side; the diff then costs at most tens of milliseconds). Longer
/// versions are diffed on the sentences both have, see [`changes`].
const DIFF_WHOLE_SENTENCES: usize = 4_000;

/// Sentences added and removed from `old` to `new`. A sentence that merely moved counts as
/// neither, since the position did not change.
///
/// The diff (patience, then Myers between anchors) costs about (N + M) x D for D sentences
/// changed: quadratic for a page rewritten whole. Yet a sentence that the other version lacks
/// is removed (or added) whatever the alignment, and a sentence both have once each is either
/// kept or moved, which is no change either: only sentences both have and one repeats depend
/// on the alignment. So a long version is diffed on the sentences both have, and not at all
/// when none of them repeats; a page rewritten whole then costs linear time.
pub fn changes(old: &str, new: &str) -> TextChange {
    let a = sentences(old);
    let b = sentences(new);
    let (ia, ib) = sentence_ids(&a, &b);
    let mut count_a = vec![0u32; ia.len() + ib.len()];
    let mut count_b = count_a.clone();
    for &id in &ia {
        count_a[id as usize] += 1;
    }
    for &id in &ib {
        count_b[id as usize] += 1;
    }
    let mut removed = vec![false; a.len()];
    let mut inserted = vec![false; b.len()];
    if a.len() + b.len() <= DIFF_WHOLE_SENTENCES {
        mark(&ia, &ib, |i| removed[i] = true, |j| inserted[j] = true);
    } else {
        let keep_a: Vec<usize> = (0..a.len()).filter(|&i| count_b[ia[i] as usize] > 0).collect();
        let keep_b: Vec<usize> = (0..b.len()).filter(|&j| count_a[ib[j] as usize] > 0).collect();
        for (i, r) in removed.iter_mut().enumerate() {
            *r = count_b[ia[i] as usize] == 0;
        }
        for (j, r) in inserted.iter_mut().enumerate() {
            *r = count_a[ib[j] as usize] == 0;
        }
        let repeats = keep_a.iter().any(|&i| count_a[ia[i] as usize] > 1)
            || keep_b.iter().any(|&j| count_b[ib[j] as usize] > 1);
        if repeats {
            let ra: Vec<u32> = keep_a.iter().map(|&i| ia[i]).collect();
            let rb: Vec<u32> = keep_b.iter().map(|&j| ib[j]).collect();
            mark(
                &ra,
                &rb,
                |i| removed[keep_a[i]] = true,
                |j| inserted[keep_b[j]] = true,
            );
        }
    }
    // Moved text shows up as the same sentence deleted in one place and inserted in another.
    let mut was_removed = vec![false; count_a.len()];
    let mut was_inserted = vec![false; count_a.len()];
    for i in (0..a.len()).filter(|&i| removed[i]) {
        was_removed[ia[i] as usize] = true;
    }
    for j in (0..b.len()).filter(|&j| inserted[j]) {
        was_inserted[ib[j] as usize] = true;
    }
    TextChange {
        removed: (0..a.len())
            .filter(|&i| removed[i] && !was_inserted[ia[i] as usize])
            .map(|i| a[i].clone())
            .collect(),
        added: (0..b.len())
            .filter(|&j| inserted[j] && !was_removed[ib[j] as usize])
            .map(|j| b[j].clone())
            .collect(),
    }
}

/// [`changes`] by diffing the versions whole, however long: the reference it is tested against,
/// and the benchmark's baseline. Quadratic for a page rewritten whole.
pub fn changes_whole(old: &str, new: &str) -> TextChange {
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
    let removed: std::collections::HashSet<String> = change.removed.iter().cloned().collect();
    let added: std::collections::HashSet<String> = change.added.iter().cloned().collect();
    change.added.retain(|s| !removed.contains(s));
    change.removed.retain(|s| !added.contains(s));
    change
}

/// Each sentence as a number, equal numbers for equal sentences: diffing numbers gives the same
/// alignment as diffing the sentences (the diff only asks whether two are equal), without
/// hashing and comparing whole sentences again and again.
fn sentence_ids<'a>(a: &'a [String], b: &'a [String]) -> (Vec<u32>, Vec<u32>) {
    let mut ids: HashMap<&'a str, u32> = HashMap::with_capacity(a.len() + b.len());
    let mut id = |s: &'a String| {
        let next = ids.len() as u32;
        *ids.entry(s.as_str()).or_insert(next)
    };
    let ia = a.iter().map(&mut id).collect();
    let ib = b.iter().map(&mut id).collect();
    (ia, ib)
}

/// Diffs `a` and `b` (patience) and reports the positions deleted from `a` and inserted in `b`.
fn mark(a: &[u32], b: &[u32], mut deleted: impl FnMut(usize), mut inserted: impl FnMut(usize)) {
    for op in capture_diff_slices(Algorithm::Patience, a, b) {
        match op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete {
                old_index, old_len, ..
            } => (old_index..old_index + old_len).for_each(&mut deleted),
            DiffOp::Insert {
                new_index, new_len, ..
            } => (new_index..new_index + new_len).for_each(&mut inserted),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                (old_index..old_index + old_len).for_each(&mut deleted);
                (new_index..new_index + new_len).for_each(&mut inserted);
            }
        }
    }
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

    /// A long text of distinct numbered sentences drawn from real prose.
    fn long_text(sentences: &[String], n: usize, salt: &str) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "{} ({salt}{i}).",
                    sentences[i % sentences.len()].trim_end_matches('.')
                )
            })
            .collect()
    }

    fn prose() -> Vec<String> {
        sentences(include_str!(
            "../../tests/fixtures/corpus/001_ac0aaab2b33c6938.txt"
        ))
    }

    #[test]
    fn long_versions_diff_as_whole_ones() {
        // Long enough to be diffed on the shared sentences: a third rewritten, a block moved, a
        // sentence edited; every sentence once.
        let p = prose();
        let old = long_text(&p, 3_000, "v");
        let mut new = old.clone();
        for s in new.iter_mut().skip(500).take(1_000) {
            *s = format!("Rewritten: {s}");
        }
        let moved: Vec<String> = new.drain(2_000..2_200).collect();
        new.splice(100..100, moved);
        new[2_900] = "States must not do this.".into();
        let (old, new) = (old.join(" "), new.join(" "));
        let c = changes(&old, &new);
        assert_eq!(c, changes_whole(&old, &new));
        assert_eq!((c.removed.len(), c.added.len()), (1_001, 1_001));
    }

    #[test]
    fn long_versions_rewritten_whole() {
        let p = prose();
        let old = long_text(&p, 3_000, "old");
        let new = long_text(&p, 3_000, "new");
        let (old, new) = (old.join("\n\n"), new.join("\n\n"));
        let c = changes(&old, &new);
        assert_eq!(c, changes_whole(&old, &new));
        assert_eq!((c.removed.len(), c.added.len()), (3_000, 3_000));
    }

    #[test]
    fn repeated_sentences_in_long_versions() {
        // A stock line repeated on both sides, more often in the new version, and a line removed
        // once of its two copies: those depend on the alignment, and still agree here.
        let p = prose();
        let mut old = long_text(&p, 2_500, "v");
        let mut new = old.clone();
        for i in (0..2_500).step_by(100) {
            old[i] = "Share this article.".into();
            new[i] = "Share this article.".into();
        }
        new[2_450] = "Share this article.".into();
        old[1_050] = "Read more.".into();
        old[1_750] = "Read more.".into();
        new[1_750] = "Something new.".into();
        let (old, new) = (old.join(" "), new.join(" "));
        let c = changes(&old, &new);
        assert_eq!(c, changes_whole(&old, &new));
        assert_eq!(c.removed[..2], ["Read more.", "Read more."]);
        assert_eq!(c.removed.len(), 3);
        assert_eq!(c.added[1..], ["Something new.", "Share this article."]);
    }

    #[test]
    fn reflowed_whitespace_is_no_change() {
        assert!(changes("A  one.\nstill one.", "A one. still\tone.").is_empty());
    }
}
