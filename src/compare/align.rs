//! A new text laid word by word against a known one: which of the known text's sentences it
//! edits or leaves out, which sentences it adds of its own, and where. Verdicts between versions
//! of a text are taken on this, so that the same words in the same order are the same text
//! whatever the line breaks or block boundaries (an imported `.txt` file against the page).

use std::collections::{HashMap, HashSet};

use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};

use super::corpus::tokens;
use super::diff::{self, TextChange};
use super::statements;

/// A diff of two long texts that are far apart stops here and reports what it has (a coarser
/// alignment, still correct): a verdict must never hold a check for long.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// A text's words, each with the sentence it is in.
struct Words {
    sentences: Vec<String>,
    /// Each word as a number, equal numbers for equal words (shared by both texts).
    ids: Vec<u32>,
    /// The sentence of each word.
    sentence_of: Vec<u32>,
    /// Words per sentence, and where each sentence's words start.
    per_sentence: Vec<usize>,
    start: Vec<usize>,
}

impl Words {
    /// A sentence's words.
    fn key(&self, i: usize) -> &[u32] {
        &self.ids[self.start[i]..self.start[i] + self.per_sentence[i]]
    }

    /// Every sentence's words, as a set.
    fn keys(&self) -> HashSet<&[u32]> {
        (0..self.sentences.len()).map(|i| self.key(i)).collect()
    }
}

/// A text's words, but for its title (`title`'s words): a page carries its title in its chrome,
/// an imported file as its first line. It is not the text, and laid against the text its words
/// would take the place of the same words in the first sentence.
fn words(text: &str, dict: &mut HashMap<String, u32>, title: Option<&[String]>) -> Words {
    let mut sentences = diff::sentences(text);
    sentences.retain(|s| !title.is_some_and(|t| !t.is_empty() && tokens(s).eq(t.iter().cloned())));
    let (mut ids, mut sentence_of, mut per_sentence) = (Vec::new(), Vec::new(), Vec::new());
    let mut start = Vec::with_capacity(sentences.len());
    for (i, s) in sentences.iter().enumerate() {
        start.push(ids.len());
        let mut n = 0;
        for t in tokens(s) {
            let next = dict.len() as u32;
            ids.push(*dict.entry(t).or_insert(next));
            sentence_of.push(i as u32);
            n += 1;
        }
        per_sentence.push(n);
    }
    Words {
        sentences,
        ids,
        sentence_of,
        per_sentence,
        start,
    }
}

/// What the new text does to the known one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alignment {
    /// Sentences of the known text edited or left out (moved ones are neither).
    pub edits: usize,
    /// Sentences the new text adds whole.
    pub additions: usize,
    /// Words of the sentences it adds (those that count, and headings and short ones too):
    /// its own text.
    pub own_words: usize,
    /// Whether it adds sentences before the known text's first word and after its last: a
    /// text wrapped in commentary.
    pub wrapped: bool,
    /// The sentences that differ, for showing: the known text's edited or removed sentences
    /// (`removed`) and the new text's edited or added ones (`added`).
    pub change: TextChange,
}

impl Alignment {
    /// The same words in the same order, but for what is not a sentence (a date line, "Share").
    pub fn same_words(&self) -> bool {
        self.edits == 0 && self.additions == 0
    }
}

/// A real sentence of at least `min` words, or a position statement: what a difference must
/// touch to count. Site chrome (a byline, a date line, "Share - WeChat") does not end like a
/// sentence; a long line that does not either (a list item, a heading run on) still counts.
fn counts(s: &str, min: usize) -> bool {
    let n = tokens(s).count();
    statements::is_position(s) || (n >= min && ends_like_sentence(s)) || n >= 2 * min
}

fn ends_like_sentence(s: &str) -> bool {
    s.trim_end()
        .ends_with(['.', '!', '?', '。', '！', '？', '；', '"', '”', ':', ';'])
}

/// Lays `new` against `known` (whose title is `title`, if known), word by word.
pub fn align(known: &str, new: &str, title: Option<&str>) -> Alignment {
    let mut dict = HashMap::new();
    let title: Option<Vec<String>> = title.map(|t| tokens(t).collect());
    let a = words(known, &mut dict, title.as_deref());
    let b = words(new, &mut dict, title.as_deref());
    let mut deleted = vec![0usize; a.sentences.len()];
    let mut inserted = vec![0usize; b.sentences.len()];
    let deadline = std::time::Instant::now() + DEADLINE;
    for op in capture_diff_slices_deadline(Algorithm::Patience, &a.ids, &b.ids, Some(deadline)) {
        if !matches!(op, DiffOp::Equal { .. }) {
            op.old_range()
                .for_each(|i| deleted[a.sentence_of[i] as usize] += 1);
            op.new_range()
                .for_each(|j| inserted[b.sentence_of[j] as usize] += 1);
        }
    }
    // A sentence most of whose words are gone was removed (or added): the diff pairs a few of
    // the words of a sentence that is not there with the same common words elsewhere ("the",
    // "and"). One with most of its words kept in place was edited. A sentence the other text
    // has too, anywhere, merely moved: neither.
    let (in_a, in_b) = (a.keys(), b.keys());
    let changed = |w: &Words, counts: &[usize], other: &HashSet<&[u32]>, whole: bool| -> Vec<usize> {
        (0..w.sentences.len())
            .filter(|&i| counts[i] > 0 && (2 * counts[i] > w.per_sentence[i]) == whole)
            .filter(|&i| !other.contains(w.key(i)))
            .collect()
    };
    let removed = changed(&a, &deleted, &in_b, true);
    let added = changed(&b, &inserted, &in_a, true);
    let edited_old = changed(&a, &deleted, &in_b, false);
    let edited_new = changed(&b, &inserted, &in_a, false);

    // An edit inside a sentence (a number, a negation) counts even in a short sentence; a
    // sentence added or removed must be a real one.
    let keep = |w: &Words, i: &usize, min: usize| counts(&w.sentences[*i], min);
    let removed: Vec<usize> = removed.into_iter().filter(|i| keep(&a, i, 12)).collect();
    // Its own words are those of every sentence it adds, a heading or a short one too.
    let own_words = added.iter().map(|&j| b.per_sentence[j]).sum();
    let added: Vec<usize> = added.into_iter().filter(|j| keep(&b, j, 12)).collect();
    let edited_old: Vec<usize> = edited_old.into_iter().filter(|i| keep(&a, i, 6)).collect();
    let edited_new: Vec<usize> = edited_new.into_iter().filter(|j| keep(&b, j, 6)).collect();

    // Sentences around the known text: before the first sentence it keeps and after the last.
    let kept = |j: &usize| b.per_sentence[*j] > 0 && 2 * inserted[*j] <= b.per_sentence[*j];
    let (start, end) = (
        (0..b.sentences.len()).find(kept),
        (0..b.sentences.len()).rfind(kept),
    );
    let wrapped = match (start, end) {
        (Some(start), Some(end)) => added.iter().any(|&j| j < start) && added.iter().any(|&j| j > end),
        _ => false,
    };
    let mut old_idx: Vec<usize> = removed.iter().chain(&edited_old).copied().collect();
    let mut new_idx: Vec<usize> = added.iter().chain(&edited_new).copied().collect();
    old_idx.sort_unstable();
    new_idx.sort_unstable();
    Alignment {
        edits: removed.len() + edited_old.len().max(edited_new.len()),
        additions: added.len(),
        own_words,
        wrapped,
        change: TextChange {
            removed: old_idx.iter().map(|&i| a.sentences[i].clone()).collect(),
            added: new_idx.iter().map(|&j| b.sentences[j].clone()).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper() -> String {
        (0..30)
            .map(|i| format!("States should respect the sovereignty of data number {i} and refrain from unilateral measures {i}."))
            .collect::<Vec<_>>()
            .chunks(3)
            .map(|c| c.join(" "))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    #[test]
    fn other_line_breaks_are_the_same_words() {
        let p = paper();
        // Every few words on a line of its own, as a wrapped .txt file reads once imported.
        let words: Vec<&str> = p.split_whitespace().collect();
        let rewrapped = words
            .chunks(7)
            .map(|c| c.join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
        let a = align(&p, &rewrapped, None);
        assert!(a.same_words(), "{a:?}");
        assert!(align(&rewrapped, &p, None).same_words());
    }

    #[test]
    fn a_word_replaced_and_a_sentence_added_are_an_edit_and_an_addition() {
        let p = paper();
        let edited = p.replace("data number 7 and", "data number 7 or").replace(
            "measures 12.",
            "measures 12. Cross-border flows of personal information will be reviewed by a new national agency every year.",
        );
        let a = align(&p, &edited, None);
        assert_eq!((a.edits, a.additions, a.wrapped), (1, 1, false), "{a:?}");
        assert_eq!(a.change.removed.len(), 1);
        assert_eq!(a.change.added.len(), 2);
    }

    #[test]
    fn commentary_around_is_wrapped_and_moved_sentences_are_no_change() {
        let p = paper();
        let note = "An analyst notes that the wording of this paragraph follows earlier statements closely.";
        let a = align(&p, &format!("{note}\n\n{p}\n\n{note}"), None);
        assert_eq!((a.edits, a.additions, a.wrapped), (0, 2, true), "{a:?}");
        let mut paras: Vec<&str> = p.split("\n\n").collect();
        paras.swap(1, 6);
        assert!(align(&p, &paras.join("\n\n"), None).same_words());
    }
}
