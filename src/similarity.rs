//! Similarity primitives: what the corpus index stores of a text, a MinHash signature
//! (resemblance, found through LSH bands) and winnowed fingerprints with their positions
//! (containment, in both directions). Pure, and depends only on [`crate::text`]: the store
//! indexes with it, compare judges with it, neither through the other.
//!
//! Both are built on word 5-shingles of [`crate::text::tokens`]; CJK characters are tokens of
//! their own, so Chinese is shingled by character 5-grams. The hashes, seeds and blob layout
//! are what the database holds: changing any of them changes the stored index.

use xxhash_rust::xxh3::xxh3_64;

use crate::text::tokens;

/// Shingle width in tokens.
pub const K: usize = 5;
/// MinHash permutations. 128 gives a resemblance estimate within about ±0.09 (two standard
/// errors at 0.5), and 32 bands of 4 rows find pairs above 0.5 resemblance with probability 0.87.
pub const PERMUTATIONS: usize = 128;
pub const BANDS: usize = 32;
pub const ROWS: usize = PERMUTATIONS / BANDS;
/// Winnowing window: every run of `WINDOW + K - 1` = 12 shared tokens (about one clause) leaves
/// at least one shared fingerprint, and about 2 / (WINDOW + 1) of the shingles are kept.
pub const WINDOW: usize = 8;

/// The hashes of a text's shingles, in text order (with repeats).
pub fn shingle_sequence(text: &str) -> Vec<u64> {
    let toks: Vec<String> = tokens(text).collect();
    if toks.is_empty() {
        return Vec::new();
    }
    // One buffer for every shingle rather than an allocation each (5% of a signature's instructions).
    let mut buf = String::new();
    if toks.len() < K {
        return vec![hash_tokens(&toks, &mut buf)];
    }
    toks.windows(K).map(|w| hash_tokens(w, &mut buf)).collect()
}

fn hash_tokens(w: &[String], buf: &mut String) -> u64 {
    buf.clear();
    for t in w {
        buf.push_str(t);
        buf.push('\u{1f}');
    }
    xxh3_64(buf.as_bytes())
}

/// splitmix64's finaliser: a cheap, well-mixed permutation of 64-bit values.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Seeds of the permutations; fixed, because signatures are stored.
fn seed(i: usize) -> u64 {
    mix(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1))
}

/// The MinHash signature of a set of shingle hashes: for each permutation, the least value.
pub fn minhash(shingles: &[u64]) -> Vec<u32> {
    let seeds: Vec<u64> = (0..PERMUTATIONS).map(seed).collect();
    let mut sig = vec![u32::MAX; PERMUTATIONS];
    for &s in shingles {
        for (slot, seed) in sig.iter_mut().zip(&seeds) {
            let v = (mix(s ^ seed) >> 32) as u32;
            if v < *slot {
                *slot = v;
            }
        }
    }
    sig
}

/// Estimated Jaccard resemblance of two signatures.
pub fn resemblance(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// One key per LSH band: texts sharing any band key are candidates for resemblance.
pub fn band_keys(sig: &[u32]) -> Vec<i64> {
    sig.chunks(ROWS)
        .enumerate()
        .map(|(band, rows)| {
            let mut buf = Vec::with_capacity(4 + rows.len() * 4);
            buf.extend_from_slice(&(band as u32).to_le_bytes());
            for r in rows {
                buf.extend_from_slice(&r.to_le_bytes());
            }
            xxh3_64(&buf) as i64
        })
        .collect()
}

/// Winnowed fingerprints `(hash, position)` of a shingle sequence: in each window of `WINDOW`
/// consecutive shingles, the smallest hash (the rightmost on ties), each position once.
pub fn winnow(seq: &[u64]) -> Vec<(i64, u32)> {
    if seq.len() <= WINDOW {
        // A short text keeps its smallest shingle, so it can still be found.
        return seq
            .iter()
            .enumerate()
            .min_by_key(|(_, h)| **h)
            .map(|(i, h)| vec![(*h as i64, i as u32)])
            .unwrap_or_default();
    }
    let mut out: Vec<(i64, u32)> = Vec::with_capacity(seq.len() * 2 / (WINDOW + 1) + 1);
    for start in 0..=seq.len() - WINDOW {
        let window = &seq[start..start + WINDOW];
        let mut best = 0;
        for (i, h) in window.iter().enumerate() {
            if *h <= window[best] {
                best = i;
            }
        }
        let pos = (start + best) as u32;
        if out.last().is_none_or(|(_, p)| *p != pos) {
            out.push((seq[start + best] as i64, pos));
        }
    }
    out
}

/// Everything the index keeps of one text.
#[derive(Debug, Clone)]
pub struct Signature {
    pub minhash: Vec<u32>,
    pub fingerprints: Vec<(i64, u32)>,
    /// Distinct fingerprint hashes, sorted: the set containment is measured on.
    pub fp_set: Vec<i64>,
}

impl Signature {
    pub fn of(text: &str) -> Signature {
        let seq = shingle_sequence(text);
        let mut set = seq.clone();
        set.sort_unstable();
        set.dedup();
        let fingerprints = winnow(&seq);
        let mut fp_set: Vec<i64> = fingerprints.iter().map(|(h, _)| *h).collect();
        fp_set.sort_unstable();
        fp_set.dedup();
        Signature {
            minhash: minhash(&set),
            fingerprints,
            fp_set,
        }
    }
}

/// Signatures as stored: little-endian u32s.
pub fn minhash_blob(sig: &[u32]) -> Vec<u8> {
    sig.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn minhash_from_blob(blob: &[u8]) -> Vec<u32> {
    blob.chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("chunks_exact(4)")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize, salt: &str) -> String {
        (0..n).map(|i| format!("word{i}{salt} ")).collect()
    }

    #[test]
    fn resemblance_estimate_is_close() {
        // Two texts sharing 100 of 150 distinct tokens in a row: J of shingles is about 0.5.
        let a = format!("{}{}", text(100, ""), text(50, "a"));
        let b = format!("{}{}", text(100, ""), text(50, "b"));
        let (sa, sb) = (Signature::of(&a), Signature::of(&b));
        let r = resemblance(&sa.minhash, &sb.minhash);
        assert!((0.35..0.65).contains(&r), "{r}");
        assert_eq!(resemblance(&sa.minhash, &Signature::of(&a).minhash), 1.0);
    }

    #[test]
    fn winnowing_finds_every_long_shared_run() {
        let shared = text(12, "shared");
        let a = format!("{} {shared} {}", text(200, "x"), text(200, "y"));
        let b = format!("{} {shared} {}", text(50, "p"), text(50, "q"));
        let fa: std::collections::HashSet<i64> = Signature::of(&a).fp_set.into_iter().collect();
        assert!(Signature::of(&b).fp_set.iter().any(|h| fa.contains(h)));
    }

    #[test]
    fn winnow_density_and_positions() {
        let seq: Vec<u64> = (0..1000u64).map(mix).collect();
        let fp = winnow(&seq);
        let density = fp.len() as f64 / seq.len() as f64;
        assert!((0.15..0.30).contains(&density), "{density}");
        assert!(fp.windows(2).all(|w| w[0].1 < w[1].1));
    }
}
