//! Verdicts on a new document against the corpus: the same text (`duplicate`), the known text
//! edited (`revision`), most of a known document reproduced (`republication`), passages of known
//! documents reproduced (`quotes`), or `new`. Each with its source and the measured overlap.

use super::diff::{self, TextChange};
use super::statements;
use crate::model::Candidate;

pub use crate::text::{is_cjk, tokens};

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The text is already known.
    Duplicate {
        source: String,
        resemblance: f64,
    },
    /// A known document, edited: the sentences that differ.
    Revision {
        source: String,
        resemblance: f64,
        change: TextChange,
    },
    /// Reproduces `share` of the source (most of it), within text of its own.
    Republication {
        source: String,
        share: f64,
    },
    /// Reproduces passages of known documents: each with the share of it reproduced, largest first.
    Quotes {
        sources: Vec<(String, f64)>,
    },
    New,
}

/// Thresholds, from `[corpus]` in the config.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Share of a known document a new one must reproduce to republish it.
    pub republication_share: f64,
    /// Share of a known document that makes a quote of it.
    pub quote_share: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            republication_share: 0.8,
            quote_share: 0.05,
        }
    }
}

/// Resemblance above which two texts are versions of one document. A republication wrapped in
/// a little commentary resembles its source well above 0.5, so this is high; what identifies
/// versions is mostly mutual containment.
const SAME_DOCUMENT: f64 = 0.8;
/// Both texts this much made of each other: versions of one document.
const MUTUAL_CONTAINMENT: f64 = 0.85;
/// A known text with fewer fingerprints (about 50 words) is too short for its share to mean
/// anything: a slogan reproduced whole is not a republication of it.
const MIN_KNOWN_FPS: usize = 10;
/// Fewer shared fingerprints than this (about two clauses) is coincidence, not a quote.
const MIN_SHARED: usize = 3;

/// How much of each text the other holds.
fn containment(c: &Candidate, my_fps: usize) -> (f64, f64) {
    (c.share_of_known(), c.share_of_new(my_fps))
}

/// The candidate a text (of `my_fps` fingerprints) is a version of, if any: the most alike of
/// those it resembles closely or that mostly consist of each other. Its text is the only one a
/// verdict reads.
pub fn same_document(candidates: &[Candidate], my_fps: usize) -> Option<&Candidate> {
    candidates
        .iter()
        .filter(|c| c.fp_count >= MIN_KNOWN_FPS)
        .filter(|c| {
            let (k, m) = containment(c, my_fps);
            c.resemblance >= SAME_DOCUMENT || (k >= MUTUAL_CONTAINMENT && m >= MUTUAL_CONTAINMENT)
        })
        .max_by(|a, b| {
            a.resemblance
                .total_cmp(&b.resemblance)
                .then(b.corpus_id.cmp(&a.corpus_id))
        })
}

/// The verdict on a new text. `exact` is a known document with exactly this text, if any;
/// `known_text` fetches a candidate's text (by corpus id) when versions must be compared.
pub fn verdict(
    text: &str,
    my_fps: usize,
    exact: Option<String>,
    candidates: &[Candidate],
    known_text: &mut dyn FnMut(i64) -> Option<String>,
    t: Thresholds,
) -> Verdict {
    if let Some(source) = exact {
        return Verdict::Duplicate {
            source,
            resemblance: 1.0,
        };
    }
    // Versions of one document: the most alike candidate, compared sentence by sentence.
    if let Some(c) = same_document(candidates, my_fps)
        && let Some(old) = known_text(c.corpus_id)
    {
        let change = diff::changes(&old, text);
        let sc = statements::classify(&change);
        let (edits, additions) = substance(&sc);
        return if edits == 0 && additions == 0 {
            Verdict::Duplicate {
                source: c.name.clone(),
                resemblance: c.resemblance,
            }
        } else if edits == 0 && additions >= 2 {
            // The whole known text is there, with text of its own around it.
            Verdict::Republication {
                source: c.name.clone(),
                share: containment(c, my_fps).0,
            }
        } else {
            Verdict::Revision {
                source: c.name.clone(),
                resemblance: c.resemblance,
                change,
            }
        };
    }
    let mut reproduced: Vec<(&Candidate, f64)> = candidates
        .iter()
        .filter(|c| c.shared.len() >= MIN_SHARED && c.fp_count >= MIN_KNOWN_FPS)
        .map(|c| (c, containment(c, my_fps).0))
        .filter(|(_, share)| *share >= t.quote_share)
        .collect();
    // Largest share first; on equal shares, the document seen first is the source.
    reproduced.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.corpus_id.cmp(&b.0.corpus_id)));
    match reproduced.first() {
        Some((c, share)) if *share >= t.republication_share => Verdict::Republication {
            source: c.name.clone(),
            share: *share,
        },
        Some(_) => Verdict::Quotes {
            sources: reproduced.iter().map(|(c, s)| (c.name.clone(), *s)).collect(),
        },
        None => Verdict::New,
    }
}

/// What a difference between versions amounts to, leaving out site chrome (a byline, a date line,
/// "Share - WeChat"): the sentences altered or removed, and the sentences added. Only position
/// statements and full sentences count.
fn substance(sc: &statements::StatementChange) -> (usize, usize) {
    let sentence = |s: &str, min_tokens: usize| {
        tokens(s).count() >= min_tokens
            && s.trim_end()
                .ends_with(['.', '!', '?', '。', '！', '？', '；', '"', '”'])
    };
    // An edit inside a sentence (a number, a negation) counts even in a short sentence; a
    // sentence added or removed must be a real one.
    let altered = sc
        .altered
        .iter()
        .filter(|a| a.position || sentence(&a.old, 6) || sentence(&a.new, 6));
    let removed = sc.removed.iter().filter(|s| s.position || sentence(&s.text, 12));
    let added = sc.added.iter().filter(|s| s.position || sentence(&s.text, 12));
    (altered.count() + removed.count(), added.count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::Signature;

    /// Candidates as the store would find them, from texts in memory.
    fn candidates(text: &str, known: &[(&str, &str)]) -> (Vec<Candidate>, usize) {
        let mine = Signature::of(text);
        let cands = known
            .iter()
            .enumerate()
            .map(|(i, (name, k))| {
                let ks = Signature::of(k);
                Candidate {
                    corpus_id: i as i64 + 1,
                    name: name.to_string(),
                    document_id: None,
                    title: None,
                    text_hash: crate::compare::text_hash(k),
                    resemblance: crate::similarity::resemblance(&mine.minhash, &ks.minhash),
                    shared: ks
                        .fp_set
                        .iter()
                        .filter(|h| mine.fp_set.binary_search(h).is_ok())
                        .copied()
                        .collect(),
                    fp_count: ks.fp_set.len(),
                    imported: true,
                }
            })
            .collect();
        (cands, mine.fp_set.len())
    }

    fn judge(text: &str, known: &[(&str, &str)]) -> Verdict {
        let (c, fps) = candidates(text, known);
        let texts: Vec<String> = known.iter().map(|(_, k)| k.to_string()).collect();
        verdict(
            text,
            fps,
            None,
            &c,
            &mut |id| texts.get(id as usize - 1).cloned(),
            Thresholds::default(),
        )
    }

    fn paper() -> String {
        (0..60)
            .map(|i| format!("States should respect the sovereignty of data number {i} and refrain from unilateral measures {i}."))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn commentary(n: usize) -> String {
        (0..n)
            .map(|i| format!("Analyst remark {i} on what point {i} means for business. "))
            .collect()
    }

    #[test]
    fn tokens_split_cjk_per_character() {
        let t: Vec<String> = tokens("Data 数据安全 rules, 2023年").collect();
        assert_eq!(t, ["data", "数", "据", "安", "全", "rules", "2023", "年"]);
    }

    #[test]
    fn wrapped_in_commentary_is_republication() {
        let text = format!("{}\n\n{}\n\n{}", commentary(40), paper(), commentary(40));
        match judge(&text, &[("paper.txt", &paper())]) {
            Verdict::Republication { source, share } => {
                assert_eq!(source, "paper.txt");
                assert!(share > 0.95, "{share}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_sentence_edited_is_revision() {
        let p = paper();
        let edited = p.replace("data number 7 and refrain", "data number 7 and never refrain");
        match judge(&edited, &[("paper.txt", &p)]) {
            Verdict::Revision { source, change, .. } => {
                assert_eq!(source, "paper.txt");
                assert_eq!(change.added.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_third_quoted_is_quotes() {
        let p = paper();
        let third: String = p.split(". ").take(20).collect::<Vec<_>>().join(". ");
        let text = format!("{}\n\n{third}.\n\n{}", commentary(60), commentary(30));
        match judge(&text, &[("paper.txt", &p), ("other.txt", &commentary(3))]) {
            Verdict::Quotes { sources } => {
                assert_eq!(sources[0].0, "paper.txt");
                assert!((0.2..0.5).contains(&sources[0].1), "{sources:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unrelated_text_is_new() {
        let other = (0..60)
            .map(|i| format!("The football club won match {i} after a late goal in extra time."))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(judge(&other, &[("paper.txt", &paper())]), Verdict::New);
    }
}
