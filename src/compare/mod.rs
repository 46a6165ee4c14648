//! Comparison: a document's text against its earlier versions ([`diff`]) and against the corpus
//! of known documents ([`corpus`]).

pub mod corpus;
pub mod diff;

use xxhash_rust::xxh3::xxh3_128;

/// The text with whitespace runs folded, so that re-indented markup is the same text.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, para) in text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push_str("\n\n");
        }
        let mut first = true;
        for word in para.split_whitespace() {
            if !first {
                out.push(' ');
            }
            out.push_str(word);
            first = false;
        }
    }
    out
}

/// Identity of a text version: a 128-bit hash of its normalised form, in hex.
pub fn text_hash(text: &str) -> String {
    format!("{:032x}", xxh3_128(normalize(text).as_bytes()))
}

/// Words, counting each CJK character as one (Chinese is not written with spaces).
pub fn word_count(text: &str) -> usize {
    corpus::tokens(text).count()
}
