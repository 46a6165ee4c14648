//! Site templates: text blocks that recur on many pages of one host are that host's boilerplate.
//!
//! A single page cannot tell a site's standard note ("Released by the Information Department;
//! enquiries to ...") from a paragraph of the article. Across pages of one host it can: govwatch
//! records the short blocks of every page it stores, per host, and drops from a page the blocks
//! that also stand on several other pages of the same host. The more of a site govwatch has seen,
//! the cleaner its text.
//!
//! Template learning never eats news. A block counts toward the template only on pages that
//! carried it from their first recorded version: a site's frame is on a page from the day it is
//! published, and on every page published after. A sentence that arrives on pages already
//! known (an amendment or repeal notice stamped on several documents of a site at once) is
//! recorded as not born with them, never becomes template however many pages get it, and is a
//! change on each. Time alone is no evidence: a repeal notice stays on its documents as long as
//! a footer stays on its pages, so "seen for a while" would turn news into boilerplate and hide
//! the same notice on the next document to get it.

use std::collections::HashSet;

use xxhash_rust::xxh3::xxh3_64;

/// A block on at least this many *other* pages of the host, each born with it, is template.
pub const MIN_OTHER_PAGES: i64 = 3;

/// Longer blocks are prose, never template: a paragraph quoted across a site's articles is
/// content, and dropping it would hide a republication.
pub const MAX_BLOCK_CHARS: usize = 400;

/// The key of a block: its text with whitespace folded, hashed. Stored as SQLite's i64.
pub fn block_key(text: &str) -> i64 {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    xxh3_64(folded.as_bytes()) as i64
}

/// Blocks short enough to be template candidates, as keys.
pub fn candidate_keys<'a>(blocks: impl IntoIterator<Item = &'a str>) -> Vec<i64> {
    let mut keys: Vec<i64> = blocks
        .into_iter()
        .filter(|b| is_candidate(b))
        .map(block_key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn is_candidate(block: &str) -> bool {
    let n = block.chars().count();
    n > 0 && n <= MAX_BLOCK_CHARS
}

/// The blocks that are not the host's template, in order.
pub fn strip<'a>(blocks: impl IntoIterator<Item = &'a str>, template: &HashSet<i64>) -> Vec<&'a str> {
    blocks
        .into_iter()
        .filter(|b| !(is_candidate(b) && template.contains(&block_key(b))))
        .collect()
}

/// The host a page's template is learned under: `www.` and case do not make another site.
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_ascii_lowercase())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_short_template_blocks_only() {
        let note = "Released by the Information Department.";
        let long = "A long paragraph. ".repeat(40);
        let template: HashSet<i64> = [block_key(note), block_key(&long)].into();
        let blocks = [
            "First paragraph.",
            note,
            long.as_str(),
            "Released  by the\nInformation Department.",
        ];
        assert_eq!(strip(blocks, &template), ["First paragraph.", long.as_str()]);
    }

    #[test]
    fn hosts_fold_www() {
        assert_eq!(host_of("https://WWW.Example.gov/a"), "example.gov");
        assert_eq!(host_of("not a url"), "");
    }
}
