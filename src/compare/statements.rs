//! Position statements: the sentences in which a government says what should be done. They are
//! recognised by their form (normative verbs, numbered proposals), and a change between versions
//! is reported as statements added, altered (old and new, word by word) and removed.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::corpus::tokens;
use super::diff::{self, TextChange, WordRun};

/// Normative forms in English and Chinese. Word-bounded, case-insensitive.
static NORMATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(should|shall|must|ought to|oppose[sd]?|opposing|support[s]?|call[s]? (on|upon|for)|urge[sd]?|advocate[sd]?|reject[s]?|stand[s]? (for|against|ready)|is (firmly )?committed to|are (firmly )?committed to|will never|firmly|need to|needs to|it is necessary|propose[sd]?)\b|应当|应该|不应|必须|反对|支持|呼吁|主张|倡导|倡议|坚决|致力于|各国应|不得",
    )
    .expect("static regex")
});

/// "1. ...", "(2) ...", "III. ...", "一、..." — numbered proposals.
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(\(?\d{1,2}[.)、]|[IVX]{1,4}\.\s|[一二三四五六七八九十]{1,3}[、是]|（[一二三四五六七八九十]{1,3}）)")
        .expect("static regex")
});

/// Whether a sentence states a position.
pub fn is_position(sentence: &str) -> bool {
    // A statement is a sentence: "Must Read" over a teaser list is not one.
    let long_enough = tokens(sentence).count() >= 5;
    long_enough && (NORMATIVE.is_match(sentence) || NUMBERED.is_match(sentence))
}

/// Firm position wording: an obligation, a prohibition, opposition, a call on others. A
/// sentence with these says more than one that only "should" or "supports".
static FIRM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(shall|must|should not|will never|oppose[sd]?|opposing|reject[s]?|stand[s]? against|refrain from|call[s]? (on|upon)|urge[sd]?|advocate[sd]?|firmly|resolutely)\b|不得|必须|应当|不应|反对|主张|呼吁|倡导|坚决|坚定",
    )
    .expect("static regex")
});

/// How strongly a sentence states a position on the followed topics: its position wording
/// (each form once, at most three; firm forms count three times) and the topics it names: a
/// term the user configured counts three, a term of the built-in lexicon one (half for the
/// field's general words), those together at most three. A term the user follows by name
/// says more about what they want to read first than the lexicon's many general terms, which
/// long sentences collect. Orders a new document's statements, so that a reader sees its
/// clauses before its preamble.
pub fn strength(sentence: &str, topics: &super::relevance::Topics) -> f64 {
    let distinct = |re: &Regex| {
        let mut seen: Vec<String> = re
            .find_iter(sentence)
            .map(|m| m.as_str().to_lowercase())
            .collect();
        seen.sort();
        seen.dedup();
        seen.len().min(3) as f64
    };
    let wording = distinct(&NORMATIVE) + 3.0 * distinct(&FIRM);
    let lower = sentence.to_lowercase();
    let named = |t: &&String| super::relevance::count(&lower, t) > 0;
    let configured = topics.configured.iter().filter(named).count() as f64;
    let lexicon: f64 = topics
        .terms
        .iter()
        .filter(|t| !topics.configured.contains(t))
        .filter(named)
        .map(|t| if super::relevance::is_general(t) { 0.5 } else { 1.0 })
        .sum();
    wording + 3.0 * configured + lexicon.min(3.0)
}

/// `statements` strongest first (see [`strength`]); equally strong ones in document order.
pub fn strongest_first(statements: &mut [Statement], topics: &super::relevance::Topics) {
    let mut scored: Vec<(f64, usize)> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| (strength(&s.text, topics), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let order: Vec<Statement> = scored.iter().map(|&(_, i)| statements[i].clone()).collect();
    statements.clone_from_slice(&order);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub text: String,
    pub position: bool,
    /// The section heading above it in its document, where the document has headings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
}

/// A sentence edited. In an event's `details.statements.altered[]` it reads `before`, `after`,
/// `words` (the word diff as `[op, text]` runs, see [`diff::words`]), `diff` and `position`.
/// Events stored before `words` existed have `old`, `new` and `diff` only; readers compute the
/// runs from `old` and `new` for those.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Altered {
    #[serde(rename = "before")]
    pub old: String,
    #[serde(rename = "after")]
    pub new: String,
    /// The word diff, from which mail and terminal draw what they show.
    pub words: Vec<WordRun>,
    /// The same runs inline, `[-removed-]{+added+}`, for readers of the JSON that knew only it.
    pub diff: String,
    pub position: bool,
    /// The section heading above it (in the new version; else where it stood in the old).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatementChange {
    pub added: Vec<Statement>,
    pub altered: Vec<Altered>,
    pub removed: Vec<Statement>,
}

impl StatementChange {
    /// Position statements added, altered or removed.
    pub fn positions_affected(&self) -> usize {
        self.added.iter().filter(|s| s.position).count()
            + self.altered.iter().filter(|a| a.position).count()
            + self.removed.iter().filter(|s| s.position).count()
    }
}

/// Two sentences this alike (Jaccard of their word sets) are one sentence edited.
const ALTERED_SIMILARITY: f64 = 0.5;
// The index's bounds ([`pair_altered`]: prefixes of n/2 + 1 words, a third of both sets shared,
// sizes within twofold) are worked out for 1/2; another threshold needs them worked out again.
const _: () = assert!(ALTERED_SIMILARITY == 0.5);

/// At most this many added sentences are measured against one removed sentence. The index
/// offers those sharing the removed sentence's rarest words first, so the cap only drops
/// candidates that share commoner words. Below both caps (any change of up to this many added
/// sentences of ordinary length) pairing is exactly that of comparing every pair; above them it
/// stays linear in the size of the change.
const MAX_CANDIDATES: usize = 128;
/// At most this many index entries are looked at for one removed sentence (entries of sentences
/// already paired, or of another length, cost a look too): without it, a short sentence of stock
/// words would walk the long lists of those words on every probe of a huge page.
const MAX_SCANNED: usize = 16 * MAX_CANDIDATES;

fn similarity(a: &str, b: &str) -> f64 {
    let sa: std::collections::HashSet<String> = tokens(a).collect();
    let sb: std::collections::HashSet<String> = tokens(b).collect();
    if sa.is_empty() && sb.is_empty() {
        return 1.0;
    }
    sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64
}

/// Pairs each removed sentence with the most alike added one (an alteration); the rest are
/// statements added or removed.
pub fn classify(change: &TextChange) -> StatementChange {
    let pairs = pair_altered(&change.removed, &change.added);
    statement_change(change, &pairs)
}

/// [`classify`] by measuring every removed sentence against every added one, each pair
/// tokenised anew: the reference the index is tested against, and the benchmark's baseline.
/// Quadratic: a 0.75 MB page rewritten took 12 s.
pub fn classify_exhaustive(change: &TextChange) -> StatementChange {
    let mut taken = vec![false; change.added.len()];
    let pairs: Vec<Option<usize>> = change
        .removed
        .iter()
        .map(|old| {
            let best = change
                .added
                .iter()
                .enumerate()
                .filter(|(i, _)| !taken[*i])
                .map(|(i, a)| (i, similarity(old, a)))
                .filter(|(_, s)| *s >= ALTERED_SIMILARITY)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let (i, _) = best?;
            taken[i] = true;
            Some(i)
        })
        .collect();
    statement_change(change, &pairs)
}

/// The statements of a change whose removed sentence `r` was altered into added sentence
/// `pairs[r]`, where that is `Some`.
fn statement_change(change: &TextChange, pairs: &[Option<usize>]) -> StatementChange {
    let mut paired = vec![false; change.added.len()];
    let mut out = StatementChange::default();
    for (old, pair) in change.removed.iter().zip(pairs) {
        match *pair {
            Some(i) => {
                paired[i] = true;
                let new = &change.added[i];
                let words = diff::words(old, new);
                out.altered.push(Altered {
                    diff: diff::marked(&words),
                    words,
                    position: is_position(old) || is_position(new),
                    old: old.clone(),
                    new: new.clone(),
                    heading: None,
                });
            }
            None => out.removed.push(Statement {
                position: is_position(old),
                text: old.clone(),
                heading: None,
            }),
        }
    }
    out.added = change
        .added
        .iter()
        .zip(paired)
        .filter(|(_, p)| !p)
        .map(|(s, _)| Statement {
            position: is_position(s),
            text: s.clone(),
            heading: None,
        })
        .collect();
    out
}

/// For each removed sentence in order, the added sentence it was altered into, if any: the
/// not yet paired added sentence most alike it (Jaccard of word sets at least
/// [`ALTERED_SIMILARITY`]; on a tie, the later one), exactly as [`classify_exhaustive`] chooses.
///
/// Rather than measuring every pair, each sentence is tokenised once into word ranks (rarest
/// word first, over both sides) and added sentences are found through an inverted index of
/// their rarest words. Two word sets with Jaccard at least 1/2 share at least half of the
/// larger one, so each shares a word with the other's rarest `n/2 + 1` words (its prefix): only
/// prefixes need indexing and probing, and those are the rare words with short lists. Pairs
/// whose sizes differ more than twofold cannot reach 1/2 and are not measured, nor are pairs
/// met first so late in their prefixes that too few words are left to share.
pub fn pair_altered(removed: &[String], added: &[String]) -> Vec<Option<usize>> {
    let (removed_sets, added_sets) = ranked_word_sets(removed, added);
    // The index: for each word rank, the added sentences with that word in their prefix, in order.
    // Entries are (sentence, where in it the word stands).
    let mut postings: Vec<Vec<Entry>> = Vec::new();
    // Added sentences without any word are only ever alike each other (Jaccard taken as 1).
    let mut empty_added: Vec<usize> = Vec::new();
    for (j, set) in added_sets.iter().enumerate() {
        if set.is_empty() {
            empty_added.push(j);
        }
        for (at, &r) in prefix(set).iter().enumerate() {
            let r = r as usize;
            if postings.len() <= r {
                postings.resize_with(r + 1, Vec::new);
            }
            postings[r].push(Entry {
                sentence: j as u32,
                at: at as u32,
                words: set.len() as u32,
            });
        }
    }
    let mut taken = vec![false; added.len()];
    // `seen[j] == i + 1`: added sentence `j` was already measured for removed sentence `i`.
    let mut seen = vec![0u32; added.len()];
    let mut out = Vec::with_capacity(removed.len());
    for (i, a) in removed_sets.iter().enumerate() {
        let stamp = i as u32 + 1;
        if a.is_empty() {
            // Of equally alike sentences the later is chosen, as `max_by` does.
            let j = empty_added.pop();
            if let Some(j) = j {
                taken[j] = true;
            }
            out.push(j);
            continue;
        }
        let (mut measured, mut scanned) = (0, 0);
        let mut best: Option<(usize, f64)> = None;
        'probe: for (at, &r) in prefix(a).iter().enumerate() {
            let Some(list) = postings.get_mut(r as usize) else {
                continue;
            };
            let mut dead = 0;
            for e in list.iter() {
                let j = e.sentence as usize;
                scanned += 1;
                if taken[j] {
                    dead += 1;
                } else if seen[j] != stamp {
                    seen[j] = stamp;
                    let (n, m) = (a.len(), e.words as usize);
                    // Met first here, the sets share no rarer word (one in both prefixes would
                    // have been met before): they share only words from here on, in both. And
                    // Jaccard 1/2 needs a third of both sets' words shared.
                    let most = 1 + (n - at - 1).min(m - e.at as usize - 1);
                    if 2 * n.min(m) >= n.max(m) && 3 * most >= n + m {
                        measured += 1;
                        let b = &added_sets[j][e.at as usize..];
                        if let Some(shared) = shared_words(&a[at..], b, (n + m).div_ceil(3)) {
                            // As `similarity` computes it, so that ties are ties.
                            let sim = shared as f64 / (n + m - shared) as f64;
                            let better = best.is_none_or(|(bj, bs)| match sim.total_cmp(&bs) {
                                std::cmp::Ordering::Equal => j > bj,
                                o => o.is_gt(),
                            });
                            if sim >= ALTERED_SIMILARITY && better {
                                best = Some((j, sim));
                            }
                        }
                    }
                }
                if measured >= MAX_CANDIDATES || scanned >= MAX_SCANNED {
                    break;
                }
            }
            // Entries of paired sentences are dropped once they are most of a list, so that
            // lists are not walked again and again over them (each entry is dropped once).
            if 2 * dead > list.len() {
                list.retain(|e| !taken[e.sentence as usize]);
            }
            if measured >= MAX_CANDIDATES || scanned >= MAX_SCANNED {
                break 'probe;
            }
        }
        let j = best.map(|(j, _)| j);
        if let Some(j) = j {
            taken[j] = true;
        }
        out.push(j);
    }
    out
}

/// An added sentence in the index under one of its prefix words.
struct Entry {
    sentence: u32,
    /// Where in the sentence's word set the word stands.
    at: u32,
    /// The size of its word set.
    words: u32,
}

/// The word sets of both sides as sorted, distinct word ranks: rank 0 is the word in fewest
/// sentences (ties by first appearance), so each set starts with its rarest words.
fn ranked_word_sets(removed: &[String], added: &[String]) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut sentences_with: Vec<u32> = Vec::new();
    let mut sets: Vec<Vec<u32>> = removed
        .iter()
        .chain(added)
        .map(|s| {
            let mut set: Vec<u32> = tokens(s)
                .map(|t| {
                    let next = ids.len() as u32;
                    *ids.entry(t).or_insert(next)
                })
                .collect();
            set.sort_unstable();
            set.dedup();
            for &id in &set {
                if sentences_with.len() <= id as usize {
                    sentences_with.resize(id as usize + 1, 0);
                }
                sentences_with[id as usize] += 1;
            }
            set
        })
        .collect();
    let mut order: Vec<u32> = (0..sentences_with.len() as u32).collect();
    order.sort_by_key(|&id| (sentences_with[id as usize], id));
    let mut rank = vec![0u32; order.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    for set in &mut sets {
        for id in set.iter_mut() {
            *id = rank[*id as usize];
        }
        set.sort_unstable();
    }
    let added_sets = sets.split_off(removed.len());
    (sets, added_sets)
}

/// A word set's rarest `n/2 + 1` words: any set with Jaccard at least 1/2 to it has a word there.
fn prefix(set: &[u32]) -> &[u32] {
    &set[..(set.len() / 2 + 1).min(set.len())]
}

/// How many words two sorted, distinct rank sets share, if at least `need`; `None` as soon as
/// what is left of them cannot make up `need`, which for most candidates is early.
fn shared_words(a: &[u32], b: &[u32], need: usize) -> Option<usize> {
    let (mut x, mut y, mut shared) = (0, 0, 0);
    while x < a.len() && y < b.len() {
        if shared + (a.len() - x).min(b.len() - y) < need {
            return None;
        }
        match a[x].cmp(&b[y]) {
            std::cmp::Ordering::Less => x += 1,
            std::cmp::Ordering::Greater => y += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                x += 1;
                y += 1;
            }
        }
    }
    (shared >= need).then_some(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_positions_by_form() {
        assert!(is_position(
            "States should respect the sovereignty of other States."
        ));
        assert!(is_position("China firmly opposes the abuse of export controls."));
        assert!(is_position("3. Promote the orderly flow of data."));
        assert!(is_position("各国应当尊重他国的数据主权。"));
        assert!(is_position("二、坚持多边主义"));
        assert!(!is_position("The document was released on Thursday."));
    }

    #[test]
    fn pairs_altered_sentences_and_diffs_words() {
        let change = TextChange {
            added: vec![
                "States must not install backdoors in products.".into(),
                "A new closing paragraph about cooperation.".into(),
            ],
            removed: vec!["States should not install backdoors in products.".into()],
        };
        let c = classify(&change);
        assert_eq!(c.altered.len(), 1);
        assert_eq!(
            c.altered[0].diff,
            "States [-should-]{+must+} not install backdoors in products."
        );
        assert!(c.altered[0].position);
        assert_eq!(c.added.len(), 1);
        assert!(!c.added[0].position);
        assert_eq!(c.positions_affected(), 1);
    }

    /// Sentences from a small vocabulary, so that many pairs are alike, many tie, some repeat
    /// and some have no words at all.
    fn random_sentences(rng: &mut fastrand::Rng, n: usize) -> Vec<String> {
        const WORDS: [&str; 14] = [
            "states",
            "should",
            "must",
            "data",
            "the",
            "of",
            "security",
            "not",
            "cooperation",
            "oppose",
            "digital",
            "2023",
            "数",
            "据",
        ];
        (0..n)
            .map(|_| match rng.u8(..20) {
                0 => "—".to_string(),
                _ => {
                    let len = rng.usize(1..12);
                    let words: Vec<&str> = (0..len).map(|_| WORDS[rng.usize(..WORDS.len())]).collect();
                    format!("{}.", words.join(" "))
                }
            })
            .collect()
    }

    #[test]
    fn index_pairs_as_comparing_every_pair() {
        let mut rng = fastrand::Rng::with_seed(12);
        for round in 0..2_000 {
            let change = TextChange {
                removed: random_sentences(&mut rng, round % 40),
                added: random_sentences(&mut rng, (round / 40) % 40),
            };
            assert_eq!(classify(&change), classify_exhaustive(&change), "{change:?}");
        }
    }

    #[test]
    fn index_pairs_real_sentences_as_comparing_every_pair() {
        // Real prose, each sentence once as it was, and edited: a word dropped, a word added,
        // two words swapped, or left alone; shuffled, so that pairs are found out of order.
        let text = [
            include_str!("../../tests/fixtures/corpus/000_2c8e88b2ae00cbc5.txt"),
            include_str!("../../tests/fixtures/corpus/001_ac0aaab2b33c6938.txt"),
            include_str!("../../tests/fixtures/corpus/003_0772cf1c2725d416.txt"),
        ]
        .join("\n\n");
        let mut rng = fastrand::Rng::with_seed(3);
        let removed: Vec<String> = crate::compare::diff::sentences(&text);
        let mut added: Vec<String> = removed
            .iter()
            .map(|s| {
                let mut w: Vec<&str> = s.split(' ').collect();
                match rng.u8(..4) {
                    0 if w.len() > 1 => {
                        w.remove(rng.usize(..w.len()));
                    }
                    1 => w.insert(rng.usize(..=w.len()), "firmly"),
                    2 if w.len() > 2 => {
                        let last = w.len() - 1;
                        w.swap(0, last);
                    }
                    _ => {}
                }
                w.join(" ")
            })
            .collect();
        // And sentences of another article, alike none of them.
        added.extend(crate::compare::diff::sentences(include_str!(
            "../../tests/fixtures/corpus/004_1d2cd7d0eb42c1f4.txt"
        )));
        rng.shuffle(&mut added);
        let change = TextChange { removed, added };
        let fast = classify(&change);
        assert_eq!(fast, classify_exhaustive(&change));
        assert!(fast.altered.len() > 200, "{}", fast.altered.len());
        assert!(fast.added.len() > 20, "{}", fast.added.len());
    }

    #[test]
    fn negation_and_number_changes_are_alterations() {
        let c = classify(&TextChange {
            added: vec!["The fund will provide 30 billion dollars.".into()],
            removed: vec!["The fund will provide 20 billion dollars.".into()],
        });
        assert_eq!(
            c.altered[0].diff,
            "The fund will provide [-20-]{+30+} billion dollars."
        );
    }

    #[test]
    fn altered_statements_serialise_before_after_and_word_runs() {
        let c = classify(&TextChange {
            removed: vec!["States should ensure free flow of data in an orderly manner.".into()],
            added: vec!["States should ensure orderly flow of data in accordance with the law.".into()],
        });
        let json = serde_json::to_value(&c).unwrap();
        let a = &json["altered"][0];
        assert_eq!(
            a["before"],
            "States should ensure free flow of data in an orderly manner."
        );
        assert_eq!(
            a["after"],
            "States should ensure orderly flow of data in accordance with the law."
        );
        assert_eq!(
            a["words"],
            serde_json::json!([
                ["=", "States should ensure "],
                ["-", "free"],
                ["+", "orderly"],
                ["=", " flow of data in "],
                ["-", "an orderly manner"],
                ["+", "accordance with the law"],
                ["=", "."]
            ])
        );
        assert_eq!(a["diff"], crate::compare::diff::marked(&c.altered[0].words));
    }

    #[test]
    fn firm_clauses_on_followed_topics_outrank_a_preamble() {
        let topics = super::super::relevance::Topics::new(true, &["sovereignty".into()]);
        let mut st: Vec<Statement> = [
            "In the face of opportunities and challenges, all parties should uphold multilateralism.",
            "States should facilitate digital innovation and development.",
            "States should respect the sovereignty of data of other States, and shall not obtain data without permission.",
            "各国应当尊重他国数据主权，反对滥用单边强制措施。",
        ]
        .iter()
        .map(|t| Statement {
            text: t.to_string(),
            position: true,
            heading: None,
        })
        .collect();
        strongest_first(&mut st, &topics);
        let order: Vec<&str> = st.iter().map(|s| &s.text[..12]).collect();
        // Two firm forms (应当, 反对) and the lexicon's 数据主权; then one firm form and a
        // followed term; then "should" and a general term; the preamble last.
        assert_eq!(
            order,
            ["各国应当", "States shoul", "States shoul", "In the face "],
            "{st:#?}"
        );
        assert!(st[1].text.contains("sovereignty"));
    }
}
