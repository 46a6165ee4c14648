//! Similarity to known documents: word 5-shingles (CJK characters count as words), compared as
//! sets, giving a verdict of duplicate, republication or new, with the source and the share.

use xxhash_rust::xxh3::xxh3_64;

use crate::store::CorpusEntry;

/// Shingle width in tokens. Five words is long enough that shared shingles mean shared text,
/// short enough that a one-word edit spoils only five of them.
const K: usize = 5;

/// Tokens of a text: lowercased alphanumeric runs, and each CJK character on its own.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (start, c) = chars.next()?;
            if is_cjk(c) {
                return Some(c.to_string());
            }
            if c.is_alphanumeric() {
                let mut end = start + c.len_utf8();
                while let Some(&(i, n)) = chars.peek() {
                    if n.is_alphanumeric() && !is_cjk(n) {
                        end = i + n.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                return Some(text[start..end].to_lowercase());
            }
        }
    })
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF) // CJK Extensions B and later
}

/// The sorted, deduplicated set of shingle hashes of a text.
pub fn shingles(text: &str) -> Vec<u64> {
    let toks: Vec<String> = tokens(text).collect();
    let mut out: Vec<u64> = if toks.len() < K {
        if toks.is_empty() {
            Vec::new()
        } else {
            vec![hash_window(&toks)]
        }
    } else {
        toks.windows(K).map(hash_window).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

fn hash_window(w: &[String]) -> u64 {
    let mut buf = String::with_capacity(w.iter().map(|t| t.len() + 1).sum());
    for t in w {
        buf.push_str(t);
        buf.push('\u{1f}');
    }
    xxh3_64(buf.as_bytes())
}

/// Size of the intersection of two sorted sets.
pub fn intersection(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The text is already known: the source has the same text, or nearly.
    Duplicate {
        source: String,
        resemblance: f64,
    },
    /// The text reproduces `share` of the source (or is itself mostly the source's text).
    Republication {
        source: String,
        share: f64,
    },
    New,
}

/// Thresholds, from `[corpus]` in the config.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub duplicate_resemblance: f64,
    pub republication_share: f64,
}

/// A text this much made of a known document's text republishes it, even if it trims it.
const EXCERPT_SHARE: f64 = 0.8;

/// Below this many shingles a text is too short for its overlaps to mean anything.
const MIN_SHINGLES: usize = 20;

/// Compares a new text with the known documents. `known` is oldest first, so on equal scores the
/// earliest document wins: the original is the one seen first.
pub fn verdict(text_hash: &str, mine: &[u64], known: &[CorpusEntry], t: Thresholds) -> Verdict {
    if let Some(k) = known.iter().find(|k| k.text_hash == text_hash) {
        return Verdict::Duplicate {
            source: k.name.clone(),
            resemblance: 1.0,
        };
    }
    if mine.len() < MIN_SHINGLES {
        return Verdict::New;
    }
    // (score, reported share, entry)
    let mut best_dup: Option<(f64, &CorpusEntry)> = None;
    let mut best_rep: Option<(f64, f64, &CorpusEntry)> = None;
    for k in known.iter().filter(|k| k.shingles.len() >= MIN_SHINGLES) {
        let inter = intersection(mine, &k.shingles) as f64;
        if inter == 0.0 {
            continue;
        }
        let resemblance = inter / (mine.len() as f64 + k.shingles.len() as f64 - inter);
        // How much of the known document this one reproduces; and, for a republication that
        // trims the original, how much of this one is the known document's text.
        let of_known = inter / k.shingles.len() as f64;
        let of_mine = inter / mine.len() as f64;
        if resemblance >= t.duplicate_resemblance && best_dup.is_none_or(|(s, _)| resemblance > s) {
            best_dup = Some((resemblance, k));
        }
        let score = of_known.max(of_mine);
        let qualifies = of_known >= t.republication_share || of_mine >= EXCERPT_SHARE;
        if qualifies && best_rep.is_none_or(|(s, _, _)| score > s) {
            best_rep = Some((score, of_known, k));
        }
    }
    if let Some((resemblance, k)) = best_dup {
        return Verdict::Duplicate {
            source: k.name.clone(),
            resemblance,
        };
    }
    if let Some((_, share, k)) = best_rep {
        return Verdict::Republication {
            source: k.name.clone(),
            share,
        };
    }
    Verdict::New
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        duplicate_resemblance: 0.9,
        republication_share: 0.6,
    };

    fn entry(name: &str, text: &str) -> CorpusEntry {
        CorpusEntry {
            id: 1,
            name: name.into(),
            document_id: None,
            title: None,
            text_hash: crate::compare::text_hash(text),
            shingles: shingles(text),
        }
    }

    fn paper() -> String {
        (0..60)
            .map(|i| format!("States should respect the sovereignty of data number {i} and refrain from unilateral measures {i}."))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn tokens_split_cjk_per_character() {
        let t: Vec<String> = tokens("Data 数据安全 rules, 2023年").collect();
        assert_eq!(t, ["data", "数", "据", "安", "全", "rules", "2023", "年"]);
    }

    #[test]
    fn same_text_is_duplicate() {
        let p = paper();
        let v = verdict(
            &crate::compare::text_hash(&p),
            &shingles(&p),
            &[entry("paper.txt", &p)],
            T,
        );
        assert!(
            matches!(v, Verdict::Duplicate { ref source, .. } if source == "paper.txt"),
            "{v:?}"
        );
    }

    #[test]
    fn wrapped_in_commentary_is_republication() {
        let p = paper();
        let commentary: String = (0..40)
            .map(|i| format!("Analyst remark {i} on what point {i} means for business. "))
            .collect();
        let text = format!("{commentary}\n\n{p}\n\n{commentary} And a conclusion.");
        let v = verdict(
            &crate::compare::text_hash(&text),
            &shingles(&text),
            &[entry("paper.txt", &p)],
            T,
        );
        match v {
            Verdict::Republication { source, share } => {
                assert_eq!(source, "paper.txt");
                assert!(share > 0.95, "{share}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unrelated_text_is_new() {
        let p = paper();
        let other = (0..60)
            .map(|i| format!("The football club won match {i} after a late goal in extra time."))
            .collect::<Vec<_>>()
            .join(" ");
        let v = verdict(
            &crate::compare::text_hash(&other),
            &shingles(&other),
            &[entry("paper.txt", &p)],
            T,
        );
        assert_eq!(v, Verdict::New);
    }
}
