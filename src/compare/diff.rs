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

/// What a run of a word diff does: kept, removed from the old text, or added in the new one.
/// Serialised as `"="`, `"-"` and `"+"`, the ops of `details.statements.altered[].words`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WordOp {
    #[serde(rename = "=")]
    Same,
    #[serde(rename = "-")]
    Removed,
    #[serde(rename = "+")]
    Added,
}

/// A run of a word diff: `[op, text]` in JSON. The `=` and `-` texts of a diff joined are the
/// old text exactly, the `=` and `+` texts the new one, whitespace included.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WordRun(pub WordOp, pub String);

/// A word diff longer than this is given up for what it has found so far: still a true diff
/// (the joins hold), only less tidy. A sentence is short, but a page without full stops is one
/// sentence, and the diff of two such pages rewritten whole is quadratic.
const WORD_DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

/// One unit of a word diff: a word (a run of letters and digits), a CJK character (CJK has no
/// spaces, so each character is a word, and 数据出境 → 数据跨境 differ in one), or any other
/// character (punctuation), with the whitespace that follows it. Units are compared by their
/// `core` alone, so that a word is the same word whether a space or the end of the sentence
/// follows it; were spaces units of their own, a diff could align spaces instead of words (they
/// count as much) and pair unrelated words off by position, which is what the issue saw.
struct Unit<'a> {
    core: &'a str,
    space: &'a str,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !super::corpus::is_cjk(c)
}

/// The units of `s`, in order; their cores and spaces joined are `s`. Leading whitespace is a
/// unit with an empty core.
fn units(s: &str) -> Vec<Unit<'_>> {
    let mut out = Vec::new();
    let lead = s.len() - s.trim_start().len();
    if lead > 0 {
        out.push(Unit {
            core: "",
            space: &s[..lead],
        });
    }
    let mut rest = &s[lead..];
    while let Some(c) = rest.chars().next() {
        let core_len = if is_word_char(c) {
            rest.find(|n: char| !is_word_char(n)).unwrap_or(rest.len())
        } else {
            c.len_utf8()
        };
        let after = &rest[core_len..];
        let space_len = after.len() - after.trim_start().len();
        out.push(Unit {
            core: &rest[..core_len],
            space: &after[..space_len],
        });
        rest = &after[space_len..];
    }
    out
}

/// A stretch of a word diff while it is tidied: text both have, or a change (text removed and
/// text added, either possibly empty). Each side counts its words (letters-and-digits runs and
/// CJK characters; punctuation and spaces weigh nothing) as it grows, so that weighing a change
/// that has taken in thousands of others costs nothing.
enum Piece {
    Same(Side),
    Change { removed: Side, added: Side },
}

#[derive(Default)]
struct Side {
    text: String,
    words: usize,
}

impl Side {
    /// Appends one unit's core or space.
    fn push_unit(&mut self, unit_text: &str) {
        self.text.push_str(unit_text);
        self.words += usize::from(unit_text.chars().next().is_some_and(char::is_alphanumeric));
    }

    fn append(&mut self, other: &Side) {
        self.text.push_str(&other.text);
        self.words += other.words;
    }
}

impl Piece {
    /// Appends one unit's core or space to the last piece, or starts a piece.
    fn push(pieces: &mut Vec<Piece>, op: WordOp, unit_text: &str) {
        if unit_text.is_empty() {
            return;
        }
        let side = match (pieces.last_mut(), op) {
            (Some(Piece::Same(s)), WordOp::Same) => s,
            (Some(Piece::Change { removed, .. }), WordOp::Removed) => removed,
            (Some(Piece::Change { added, .. }), WordOp::Added) => added,
            (_, WordOp::Same) => {
                pieces.push(Piece::Same(Side::default()));
                let Some(Piece::Same(s)) = pieces.last_mut() else {
                    unreachable!("just pushed")
                };
                s
            }
            (_, op) => {
                pieces.push(Piece::Change {
                    removed: Side::default(),
                    added: Side::default(),
                });
                let Some(Piece::Change { removed, added }) = pieces.last_mut() else {
                    unreachable!("just pushed")
                };
                if op == WordOp::Removed { removed } else { added }
            }
        };
        side.push_unit(unit_text);
    }

    /// The larger side of a change, in words.
    fn size(&self) -> usize {
        match self {
            Piece::Same(_) => 0,
            Piece::Change { removed, added } => removed.words.max(added.words),
        }
    }
}

/// The word diff of `old` to `new`, as runs whose `=` and `-` texts join to `old` and whose `=`
/// and `+` texts join to `new`, exactly.
///
/// The words are aligned (patience diff, Myers between unique words), then tidied: text both
/// sides keep between two changes is taken into them when it is small beside them (no words at
/// all, or at most half the words of the smaller change), so that a rewritten clause reads as a
/// phrase replaced rather than as words paired off ("an orderly manner" → "accordance with the
/// law" and not an→accordance, orderly→with, …), while a one-word edit in a sentence kept
/// otherwise stays one word. Within a change, what was removed comes before what was added.
pub fn words(old: &str, new: &str) -> Vec<WordRun> {
    let (a, b) = (units(old), units(new));
    let ca: Vec<&str> = a.iter().map(|u| u.core).collect();
    let cb: Vec<&str> = b.iter().map(|u| u.core).collect();
    let deadline = std::time::Instant::now() + WORD_DIFF_DEADLINE;
    let ops = similar::capture_diff_slices_deadline(Algorithm::Patience, &ca, &cb, Some(deadline));
    // The aligned units as pieces, adjacent ones of a kind merged.
    let mut raw: Vec<Piece> = Vec::new();
    for op in &ops {
        let (i, n, j, m) = match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                for k in 0..len {
                    let (x, y) = (&a[old_index + k], &b[new_index + k]);
                    Piece::push(&mut raw, WordOp::Same, x.core);
                    if x.space == y.space {
                        Piece::push(&mut raw, WordOp::Same, x.space);
                    } else {
                        Piece::push(&mut raw, WordOp::Removed, x.space);
                        Piece::push(&mut raw, WordOp::Added, y.space);
                    }
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
        for u in &a[i..i + n] {
            Piece::push(&mut raw, WordOp::Removed, u.core);
            Piece::push(&mut raw, WordOp::Removed, u.space);
        }
        for u in &b[j..j + m] {
            Piece::push(&mut raw, WordOp::Added, u.core);
            Piece::push(&mut raw, WordOp::Added, u.space);
        }
    }
    let pieces = absorb_small_sameness(raw);
    let mut out: Vec<WordRun> = Vec::with_capacity(pieces.len() * 2);
    let mut emit = |op: WordOp, text: &str| {
        if text.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(WordRun(last, s)) if *last == op => s.push_str(text),
            _ => out.push(WordRun(op, text.to_string())),
        }
    };
    for piece in &pieces {
        match piece {
            Piece::Same(s) => emit(WordOp::Same, &s.text),
            Piece::Change { removed, added } if removed.text.is_empty() || added.text.is_empty() => {
                let (removed, added) = (&removed.text, &added.text);
                emit(WordOp::Removed, removed);
                emit(WordOp::Added, added);
            }
            Piece::Change { removed, added } => {
                let (removed, added) = (&removed.text, &added.text);
                // "[-free -]{+orderly +}flow" reads as "[-free-]{+orderly+} flow": whitespace
                // both sides have at a change's edges is shown as kept.
                let lead = common_space(removed.chars(), added.chars());
                let trail = common_space(removed.chars().rev(), added.chars().rev());
                let (lead, trail) = if lead + trail > removed.len().min(added.len()) {
                    (lead, 0)
                } else {
                    (lead, trail)
                };
                emit(WordOp::Same, &removed[..lead]);
                emit(WordOp::Removed, &removed[lead..removed.len() - trail]);
                emit(WordOp::Added, &added[lead..added.len() - trail]);
                emit(WordOp::Same, &removed[removed.len() - trail..]);
            }
        }
    }
    out
}

/// Bytes of whitespace two character sequences begin with in common.
fn common_space(a: impl Iterator<Item = char>, b: impl Iterator<Item = char>) -> usize {
    a.zip(b)
        .take_while(|(x, y)| x == y && x.is_whitespace())
        .map(|(x, _)| x.len_utf8())
        .sum()
}

/// Takes into the changes around it each stretch of kept text that is small beside them: no
/// words, or at most half as many words as the smaller of the two changes. One pass with a
/// stack: a change that grows is checked again against the kept text before it, so the result
/// is the same as merging until nothing more merges.
fn absorb_small_sameness(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        out.push(piece);
        while out.len() >= 3 {
            let n = out.len();
            let (Piece::Change { .. }, Piece::Same(same), Piece::Change { .. }) =
                (&out[n - 3], &out[n - 2], &out[n - 1])
            else {
                break;
            };
            let kept = same.words;
            if kept > 0 && 2 * kept > out[n - 3].size().min(out[n - 1].size()) {
                break;
            }
            let Some(Piece::Change {
                removed: r2,
                added: a2,
            }) = out.pop()
            else {
                unreachable!("matched above")
            };
            let Some(Piece::Same(same)) = out.pop() else {
                unreachable!("matched above")
            };
            let Some(Piece::Change { removed, added }) = out.last_mut() else {
                unreachable!("matched above")
            };
            removed.append(&same);
            removed.append(&r2);
            added.append(&same);
            added.append(&a2);
        }
    }
    out
}

/// Word diff runs as one line with `[-removed-]{+added+}` markers, as the text mail and the
/// terminal show them.
pub fn marked(runs: &[WordRun]) -> String {
    let mut out = String::new();
    for WordRun(op, text) in runs {
        match op {
            WordOp::Same => out.push_str(text),
            WordOp::Removed => {
                out.push_str("[-");
                out.push_str(text);
                out.push_str("-]");
            }
            WordOp::Added => {
                out.push_str("{+");
                out.push_str(text);
                out.push_str("+}");
            }
        }
    }
    out
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

    /// Whether the runs rebuild both texts exactly: `=` and `-` give the old, `=` and `+` the new.
    fn joins(runs: &[WordRun], old: &str, new: &str) -> bool {
        let side = |skip: WordOp| -> String {
            runs.iter()
                .filter(|r| r.0 != skip)
                .map(|r| r.1.as_str())
                .collect()
        };
        side(WordOp::Added) == old && side(WordOp::Removed) == new
    }

    #[test]
    fn rewritten_clause_reads_as_replaced_phrases() {
        let old = "ensure free flow of data in an orderly manner and in accordance with the law";
        let new = "ensure orderly flow of data in accordance with the law and the requirements of national security";
        let runs = words(old, new);
        assert!(joins(&runs, old, new), "{runs:?}");
        assert_eq!(
            marked(&runs),
            "ensure [-free-]{+orderly+} flow of data in [-an orderly manner and in -]accordance \
             with the law{+ and the requirements of national security+}"
        );
    }

    #[test]
    fn one_word_edit_is_one_word() {
        let old = "States should not install backdoors in products.";
        let new = "States must not install backdoors in products.";
        let runs = words(old, new);
        assert_eq!(
            runs,
            [
                WordRun(WordOp::Same, "States ".into()),
                WordRun(WordOp::Removed, "should".into()),
                WordRun(WordOp::Added, "must".into()),
                WordRun(WordOp::Same, " not install backdoors in products.".into()),
            ]
        );
        // Two words replaced side by side are one phrase, not two pairs.
        assert_eq!(
            marked(&words(old, "States must never install backdoors in products.")),
            "States [-should not-]{+must never+} install backdoors in products."
        );
        assert_eq!(
            marked(&words(
                "The fund will provide 20 billion dollars.",
                "The fund will provide 30 billion dollars."
            )),
            "The fund will provide [-20-]{+30+} billion dollars."
        );
    }

    #[test]
    fn chinese_aligns_by_character() {
        let old = "二、统筹数据安全与数据出境有序流动，各国应当尊重他国的数据主权。";
        let new = "二、统筹数据安全与数据跨境有序流动，各国必须尊重他国的数据主权和安全。";
        let runs = words(old, new);
        assert!(joins(&runs, old, new), "{runs:?}");
        assert_eq!(
            marked(&runs),
            "二、统筹数据安全与数据[-出-]{+跨+}境有序流动，各国[-应当-]{+必须+}尊重他国的数据主权{+和安全+}。"
        );
        // A clause rewritten in Chinese is one replaced phrase too.
        let runs = words("反对以安全为名限制数据流动。", "支持数据依法有序自由流动。");
        assert!(joins(
            &runs,
            "反对以安全为名限制数据流动。",
            "支持数据依法有序自由流动。"
        ));
        assert!(runs.len() <= 4, "{}", marked(&runs));
    }

    #[test]
    fn whitespace_and_empty_sides_join_exactly() {
        for (old, new) in [
            ("", ""),
            ("", "all new"),
            ("all gone", ""),
            ("  lead and trail  ", "lead  and\ttrail"),
            ("a b c", "x y z"),
            ("same", "same"),
            ("law", "law and order"),
            ("U.S. data, 3.5 times", "U.S. data: 4.5 times!"),
            ("数据 data 出境", "数据data跨境 "),
        ] {
            let runs = words(old, new);
            assert!(joins(&runs, old, new), "{old:?} → {new:?}: {runs:?}");
            assert!(runs.iter().all(|r| !r.1.is_empty()), "{runs:?}");
            assert!(
                runs.windows(2).all(|w| w[0].0 != w[1].0),
                "adjacent runs of one op: {runs:?}"
            );
        }
    }

    /// Real sentences: the corpus papers (English and Chinese) and articles of the WCXB
    /// extraction benchmark, each edited at random (words dropped, inserted, replaced, a span
    /// rewritten, words moved, spacing changed).
    fn real_sentences() -> Vec<String> {
        let mut texts = vec![
            include_str!("../../tests/fixtures/corpus/000_2c8e88b2ae00cbc5.txt").to_string(),
            include_str!("../../tests/fixtures/corpus/001_ac0aaab2b33c6938.txt").to_string(),
            include_str!("../../tests/fixtures/corpus/003_0772cf1c2725d416.txt").to_string(),
            include_str!("../../tests/fixtures/corpus/004_1d2cd7d0eb42c1f4.txt").to_string(),
            include_str!("../../tests/fixtures/chrome/zh-body.txt").to_string(),
        ];
        texts.push(include_str!("../../tests/fixtures/worddiff/wcxb-sentences.txt").to_string());
        texts.iter().flat_map(|t| sentences(t)).collect()
    }

    fn edit(rng: &mut fastrand::Rng, s: &str) -> String {
        let u = units(s);
        let pieces: Vec<String> = u.iter().map(|u| format!("{}{}", u.core, u.space)).collect();
        let mut w = pieces;
        for _ in 0..rng.usize(1..4) {
            let n = w.len();
            match rng.u8(..6) {
                0 if n > 0 => {
                    w.remove(rng.usize(..n));
                }
                1 => w.insert(
                    rng.usize(..=n),
                    ["firmly ", "数据", "the ", ", "][rng.usize(..4)].into(),
                ),
                2 if n > 0 => w[rng.usize(..n)] = "replaced ".into(),
                3 if n > 4 => {
                    let at = rng.usize(..n - 3);
                    w.splice(at..at + 3, ["an entirely ".to_string(), "new clause ".into()]);
                }
                4 if n > 2 => {
                    let x = w.remove(rng.usize(..n));
                    w.insert(rng.usize(..n), x);
                }
                _ if n > 0 => {
                    let i = rng.usize(..n);
                    w[i] = w[i].replace(' ', "  ");
                }
                _ => {}
            }
        }
        w.concat()
    }

    #[test]
    fn runs_join_to_both_sides_on_real_sentences_edited() {
        let all = real_sentences();
        assert!(all.len() > 500, "{}", all.len());
        let cjk = all
            .iter()
            .filter(|s| s.chars().any(super::super::corpus::is_cjk))
            .count();
        assert!(cjk > 20, "{cjk}");
        let mut rng = fastrand::Rng::with_seed(14);
        for s in &all {
            for _ in 0..3 {
                let e = edit(&mut rng, s);
                for (old, new) in [(s.as_str(), e.as_str()), (e.as_str(), s.as_str())] {
                    let runs = words(old, new);
                    assert!(joins(&runs, old, new), "{old:?} → {new:?}: {runs:?}");
                }
            }
        }
        // And sentences against unrelated ones.
        for pair in all.windows(2) {
            assert!(joins(&words(&pair[0], &pair[1]), &pair[0], &pair[1]));
        }
    }

    #[test]
    fn one_word_replaced_in_real_sentences_is_one_change() {
        // Whatever the sentence, one word replaced by a word it does not contain is shown as
        // that word and nothing else.
        let mut rng = fastrand::Rng::with_seed(7);
        let mut checked = 0;
        for s in real_sentences() {
            let u = units(&s);
            let words_at: Vec<usize> = (0..u.len())
                .filter(|&i| u[i].core.chars().all(is_word_char) && !u[i].core.is_empty())
                .collect();
            if words_at.len() < 3 || s.contains("zebra") {
                continue;
            }
            let i = words_at[rng.usize(..words_at.len())];
            let new: String = u
                .iter()
                .enumerate()
                .map(|(k, x)| format!("{}{}", if k == i { "zebra" } else { x.core }, x.space))
                .collect();
            let runs = words(&s, &new);
            let changes: Vec<&WordRun> = runs.iter().filter(|r| r.0 != WordOp::Same).collect();
            assert_eq!(
                changes,
                [
                    &WordRun(WordOp::Removed, u[i].core.to_string()),
                    &WordRun(WordOp::Added, "zebra".into())
                ],
                "{s}"
            );
            checked += 1;
        }
        assert!(checked > 300, "{checked}");
    }
}
