//! Verdicts on a new document against the corpus: the same text (`duplicate`), the known text
//! edited (`revision`), most of a known document reproduced (`republication`), passages of known
//! documents reproduced (`quotes`), or `new`. Each with its source and the measured overlap.

use super::align;
use super::diff::TextChange;
use crate::model::{Candidate, DocVersion};

pub use crate::text::{is_cjk, tokens};

/// What a verdict traces a text to: a known document and, for a stored one, which of its
/// versions the text reproduces.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The file name of an import, or the URL of a stored document.
    pub name: String,
    pub corpus_id: i64,
    pub version: Option<DocVersion>,
}

impl Source {
    pub fn of(c: &Candidate) -> Source {
        Source {
            name: c.name.clone(),
            corpus_id: c.corpus_id,
            version: c.version.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The text is already known: the same words in the same order.
    Duplicate {
        source: Source,
        resemblance: f64,
    },
    /// A known document, edited: the sentences that differ.
    Revision {
        source: Source,
        resemblance: f64,
        change: TextChange,
    },
    /// Reproduces `share` of the source (most of it), within text of its own.
    Republication {
        source: Source,
        share: f64,
    },
    /// Reproduces passages of known documents: each with the share of it reproduced, largest
    /// first, one version a document.
    Quotes {
        sources: Vec<(Source, f64)>,
    },
    New,
}

impl Verdict {
    /// The source the text is traced to first.
    pub fn source(&self) -> Option<&Source> {
        match self {
            Verdict::Duplicate { source, .. }
            | Verdict::Revision { source, .. }
            | Verdict::Republication { source, .. } => Some(source),
            Verdict::Quotes { sources } => sources.first().map(|(s, _)| s),
            Verdict::New => None,
        }
    }
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
/// Words of its own around a whole known text that make it a republication rather than the
/// text with a sentence added (a revision). Set on the fixture set (`bench/verdicts`) and
/// checked on the held-out WCXB articles (`cargo run --release --example bench_verdicts`).
const OWN_WORDS: usize = 80;

/// How much of each text the other holds.
fn containment(c: &Candidate, my_fps: usize) -> (f64, f64) {
    (c.share_of_known(), c.share_of_new(my_fps))
}

/// Jaccard of the two fingerprint sets: finer than the MinHash estimate (every fingerprint
/// against 128 samples), which is what tells two versions of one document apart.
fn closeness(c: &Candidate, my_fps: usize) -> f64 {
    let union = (c.fp_count + my_fps).saturating_sub(c.shared.len());
    if union == 0 {
        0.0
    } else {
        c.shared.len() as f64 / union as f64
    }
}

/// The candidate a text (of `my_fps` fingerprints) is a version of, if any: the closest of
/// those it resembles closely or that mostly consist of each other (of a stored document's
/// versions, the one it is closest to). Its text is the only one a verdict reads.
pub fn same_document(candidates: &[Candidate], my_fps: usize) -> Option<&Candidate> {
    candidates
        .iter()
        .filter(|c| c.fp_count >= MIN_KNOWN_FPS)
        .filter(|c| {
            let (k, m) = containment(c, my_fps);
            c.resemblance >= SAME_DOCUMENT || (k >= MUTUAL_CONTAINMENT && m >= MUTUAL_CONTAINMENT)
        })
        .max_by(|a, b| {
            closeness(a, my_fps)
                .total_cmp(&closeness(b, my_fps))
                .then(a.resemblance.total_cmp(&b.resemblance))
                .then(b.corpus_id.cmp(&a.corpus_id))
        })
}

/// The known documents a text reproduces passages of, with the share of each, largest first;
/// of a document's versions, the one it reproduces most of (and, on a tie, the one that makes
/// up more of the text: a copy of the first version holds the sentence the second removed).
pub fn reproduced(candidates: &[Candidate], my_fps: usize, quote_share: f64) -> Vec<(&Candidate, f64)> {
    let mut best: std::collections::HashMap<&str, &Candidate> = std::collections::HashMap::new();
    for c in candidates
        .iter()
        .filter(|c| c.shared.len() >= MIN_SHARED && c.fp_count >= MIN_KNOWN_FPS)
    {
        let key = |c: &Candidate| {
            let (k, m) = containment(c, my_fps);
            (k, m, c.version_number().unwrap_or(0))
        };
        let slot = best.entry(c.name.as_str()).or_insert(c);
        let (kc, ks) = (key(c), key(slot));
        if kc
            .0
            .total_cmp(&ks.0)
            .then(kc.1.total_cmp(&ks.1))
            .then(kc.2.cmp(&ks.2))
            .is_gt()
        {
            *slot = c;
        }
    }
    let mut out: Vec<(&Candidate, f64)> = best
        .into_values()
        .map(|c| (c, containment(c, my_fps).0))
        .filter(|(_, share)| *share >= quote_share)
        .collect();
    // Largest share first; on equal shares, the document seen first is the source.
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.corpus_id.cmp(&b.0.corpus_id)));
    out
}

/// The candidate a verdict will trace the text to, if any (before it reads any text): the one
/// it is a version of, else the one it reproduces most of.
pub fn traced_to(candidates: &[Candidate], my_fps: usize) -> Option<&Candidate> {
    same_document(candidates, my_fps).or_else(|| reproduced(candidates, my_fps, 0.0).first().map(|(c, _)| *c))
}

/// The verdict on a new text. `exact` is a known document with exactly this text, if any;
/// `known_text` fetches a candidate's text (by corpus id) when versions must be compared.
pub fn verdict(
    text: &str,
    my_fps: usize,
    exact: Option<Source>,
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
    // Versions of one document: the closest candidate, compared word by word.
    if let Some(c) = same_document(candidates, my_fps)
        && let Some(old) = known_text(c.corpus_id)
    {
        return versions(c, &old, text, my_fps);
    }
    let reproduced = reproduced(candidates, my_fps, t.quote_share);
    match reproduced.first() {
        Some((c, share)) if *share >= t.republication_share => Verdict::Republication {
            source: Source::of(c),
            share: *share,
        },
        Some(_) => Verdict::Quotes {
            sources: reproduced.iter().map(|(c, s)| (Source::of(c), *s)).collect(),
        },
        None => Verdict::New,
    }
}

/// A text that is a version of a known one (`old`): the same words (whatever the layout), the
/// whole of it inside text of its own, or an edit of it.
fn versions(c: &Candidate, old: &str, text: &str, my_fps: usize) -> Verdict {
    let a = align::align(old, text, c.title.as_deref());
    let source = Source::of(c);
    if a.same_words() {
        Verdict::Duplicate {
            source,
            resemblance: c.resemblance,
        }
    } else if a.edits == 0 && (a.own_words >= OWN_WORDS || a.wrapped) {
        // The whole known text is there, with text of its own around it.
        Verdict::Republication {
            source,
            share: containment(c, my_fps).0,
        }
    } else {
        Verdict::Revision {
            source,
            resemblance: c.resemblance,
            change: a.change,
        }
    }
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
                    version: None,
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
                assert_eq!(source.name, "paper.txt");
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
                assert_eq!(source.name, "paper.txt");
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
                assert_eq!(sources[0].0.name, "paper.txt");
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
