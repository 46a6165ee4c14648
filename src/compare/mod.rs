//! Comparison: a document's text against its earlier versions ([`diff`], [`statements`]), against
//! the corpus of known documents, every stored version of each ([`index`], [`corpus`], with
//! versions laid word by word by [`align`]), and against the user's topics
//! ([`relevance`]); where a sentence stands in its document ([`sections`]); and how much an event
//! matters ([`significance`]).

pub mod align;
pub mod corpus;
pub mod diff;
pub mod relevance;
pub mod sections;
pub mod statements;

/// The similarity primitives, under the name compare has always given them.
pub use crate::similarity as index;

use crate::model::{Candidate, EventKind};

pub use crate::text::{normalize, text_hash, word_count};

/// How much an event matters, 0 to 1, for ordering digests: what was found, how relevant the
/// document is, how many position statements it touches, and how much of the text changed.
pub fn significance(kind: EventKind, relevance: f64, positions_affected: usize, changed_share: f64) -> f64 {
    use EventKind::*;
    let base = match kind {
        New => 0.8,
        Revision | Changed => 0.45 + 0.35 * (positions_affected.min(3) as f64 / 3.0),
        Quotes => 0.45,
        Republication => 0.35,
        Duplicate => 0.1,
        // A withdrawal is news; the whole text went, so its extent is full.
        Removed => 0.6,
        // About a watch, not a position: listed after the news of the same message.
        Failing | Recovered => return 0.3,
    };
    let extent = 0.1 * (changed_share * 4.0).min(1.0);
    ((base + extent) * (0.4 + 0.6 * relevance)).clamp(0.0, 1.0)
}

/// What a verdict reads from the store besides the candidates: a known document with exactly
/// the text, the text of the candidate it may be a version of, and, when the text is traced to
/// an earlier version of a stored document, that version's text and the document's newest.
/// Reading it is short; the verdict that follows ([`Known::verdict`]) compares texts, which
/// for a long one takes a while, so the pipeline runs it outside its turn of the store.
#[derive(Debug, Clone, Default)]
pub struct Known {
    exact: Option<corpus::Source>,
    texts: std::collections::HashMap<i64, String>,
    /// The corpus id of the earlier version traced to, and its document's newest text.
    newest: Option<(i64, String)>,
}

/// A verdict, and for a text traced to an earlier version of a stored document, what the
/// document has changed since that version (the source's own sentences, never the new text's).
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    pub verdict: corpus::Verdict,
    pub since: Option<diff::TextChange>,
}

impl Known {
    /// What was read: a known document with exactly the text, if any, and otherwise the text of
    /// the candidate it may be a version of (chosen by [`corpus::same_document`]). The store
    /// reads them (`Store::known`); comparing is not its business.
    pub fn new(exact: Option<corpus::Source>, version_of: Option<(i64, String)>) -> Known {
        Known {
            exact,
            texts: version_of.into_iter().collect(),
            newest: None,
        }
    }

    /// The text is traced (by [`corpus::traced_to`]) to candidate `corpus_id`, an earlier
    /// version of a stored document: its text (if not read already) and the document's newest.
    pub fn with_newest(mut self, corpus_id: i64, text: Option<String>, newest: String) -> Known {
        if let Some(t) = text {
            self.texts.insert(corpus_id, t);
        }
        self.newest = Some((corpus_id, newest));
        self
    }

    /// The verdict, without the store.
    pub fn verdict(
        self,
        text: &str,
        sig: &index::Signature,
        candidates: &[Candidate],
        t: corpus::Thresholds,
    ) -> Traced {
        let Known { exact, texts, newest } = self;
        let mut read = |id: i64| texts.get(&id).cloned();
        let verdict = corpus::verdict(text, sig.fp_set.len(), exact, candidates, &mut read, t);
        let since = match (verdict.source(), newest) {
            (Some(s), Some((id, newest))) if s.corpus_id == id => {
                let older = s.version.as_ref().is_some_and(|v| v.number < v.newest);
                texts
                    .get(&id)
                    .filter(|_| older)
                    .map(|old| diff::changes(old, &newest))
            }
            _ => None,
        };
        Traced { verdict, since }
    }
}
