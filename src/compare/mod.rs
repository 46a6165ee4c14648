//! Comparison: a document's text against its earlier versions ([`diff`], [`statements`]), against
//! the corpus of known documents ([`index`], [`corpus`]), and against the user's topics
//! ([`relevance`]); where a sentence stands in its document ([`sections`]); and how much an event
//! matters ([`significance`]).

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
/// the text, and the text of the candidate it may be a version of. Reading it is short; the
/// verdict that follows ([`Known::verdict`]) compares texts, which for a long one takes a
/// while, so the pipeline runs it outside its turn of the store.
#[derive(Debug, Clone, Default)]
pub struct Known {
    exact: Option<String>,
    version_of: Option<(i64, String)>,
}

impl Known {
    /// What was read: the name of a known document with exactly the text, if any, and
    /// otherwise the text of the candidate it may be a version of (chosen by
    /// [`corpus::same_document`]). The store reads them (`Store::known`); comparing is not its
    /// business.
    pub fn new(exact: Option<String>, version_of: Option<(i64, String)>) -> Known {
        Known { exact, version_of }
    }

    /// The verdict, without the store.
    pub fn verdict(
        self,
        text: &str,
        sig: &index::Signature,
        candidates: &[Candidate],
        t: corpus::Thresholds,
    ) -> corpus::Verdict {
        let mut version_of = self.version_of;
        let mut texts = |id: i64| match &version_of {
            Some((known, _)) if *known == id => version_of.take().map(|(_, text)| text),
            _ => None,
        };
        corpus::verdict(text, sig.fp_set.len(), self.exact, candidates, &mut texts, t)
    }
}
