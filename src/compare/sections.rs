//! Where a sentence stands in its document: the section heading above it. A stored version keeps
//! its text only (blocks joined by blank lines, no block kinds), so headings are told by their
//! text: a paragraph of the text that the extractor gave as a heading block (of this version or,
//! for an earlier version, of either) is a heading. Pure.

use std::collections::{HashMap, HashSet};

use super::diff;
use super::statements::StatementChange;

/// Headings longer than this are not section titles but paragraphs the page marked up big.
const MAX_HEADING_CHARS: usize = 200;

/// The heading texts of a document, as they stand in its normalised text.
#[derive(Debug, Clone, Default)]
pub struct Headings(HashSet<String>);

impl Headings {
    /// The texts of a page's heading blocks, whitespace folded as the stored text has them.
    pub fn new<'a>(blocks: impl IntoIterator<Item = &'a str>) -> Headings {
        Headings(
            blocks
                .into_iter()
                .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|h| !h.is_empty() && h.chars().count() <= MAX_HEADING_CHARS)
                .collect(),
        )
    }

    /// Both sets: the headings of two versions of one document.
    pub fn union(mut self, other: &Headings) -> Headings {
        self.0.extend(other.0.iter().cloned());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, paragraph: &str) -> bool {
        self.0.contains(paragraph)
    }
}

/// For each sentence of a text, the nearest heading before it (the first place a sentence
/// stands wins, as a diff reports a repeated sentence once).
#[derive(Debug, Clone, Default)]
pub struct Sections(HashMap<String, String>);

impl Sections {
    /// The sections of `text` (normalised: paragraphs separated by blank lines).
    pub fn of(text: &str, headings: &Headings) -> Sections {
        let mut map = HashMap::new();
        if headings.is_empty() {
            return Sections(map);
        }
        let mut current: Option<&str> = None;
        for para in text.split("\n\n") {
            let para = para.trim();
            // A heading heads its own section: a heading edited is a change of that section.
            if headings.contains(para) {
                current = Some(para);
            }
            if let Some(h) = current {
                for s in diff::sentences(para) {
                    map.entry(s).or_insert_with(|| h.to_string());
                }
            }
        }
        Sections(map)
    }

    /// The heading above `sentence`, if the text has one there.
    pub fn heading(&self, sentence: &str) -> Option<String> {
        self.0.get(sentence).cloned()
    }
}

/// Sets the heading of every statement of `change`: added ones and the new side of altered
/// ones in the new version, removed ones (and an altered one the new version does not place) in
/// the old.
pub fn locate(change: &mut StatementChange, old: &Sections, new: &Sections) {
    for s in &mut change.added {
        s.heading = new.heading(&s.text);
    }
    for a in &mut change.altered {
        a.heading = new.heading(&a.new).or_else(|| old.heading(&a.old));
    }
    for s in &mut change.removed {
        s.heading = old.heading(&s.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "China's Positions\n\nThe preamble says much. It goes on.\n\nBasic Principles\n\n\
        Uphold unity. States should cooperate.\n\n3. Protect data\n\nStates shall not obtain data.";

    #[test]
    fn each_sentence_is_under_the_nearest_heading_before_it() {
        let h = Headings::new([
            "Basic Principles",
            "3.  Protect\n data",
            "A heading the text lacks",
        ]);
        let s = Sections::of(TEXT, &h);
        assert_eq!(s.heading("The preamble says much."), None);
        assert_eq!(
            s.heading("States should cooperate.").as_deref(),
            Some("Basic Principles")
        );
        assert_eq!(s.heading("3. Protect data").as_deref(), Some("3. Protect data"));
        assert_eq!(
            s.heading("States shall not obtain data.").as_deref(),
            Some("3. Protect data")
        );
        assert_eq!(s.heading("Basic Principles").as_deref(), Some("Basic Principles"));
    }

    #[test]
    fn without_headings_nothing_is_placed() {
        let s = Sections::of(TEXT, &Headings::default());
        assert_eq!(s.heading("States shall not obtain data."), None);
    }
}
