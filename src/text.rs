//! Text as every stage reads it: which script a character is written in (the rules that treat
//! Chinese, Japanese and Korean differently from space-separated scripts, one definition of each
//! range), the normalised form a version is identified by, its hash, and its tokens and words.
//! Pure, and depends on no other module.

use xxhash_rust::xxh3::xxh3_128;

/// Han ideographs (Chinese characters, also written in Japanese and Korean).
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF) // CJK Extensions B and later
}

/// Scripts written without spaces between words, where each character counts as a word:
/// Han, Japanese kana and Hangul syllables.
pub fn is_cjk(c: char) -> bool {
    is_han(c)
        || matches!(c as u32,
            0x3040..=0x30FF      // Hiragana, Katakana
            | 0xAC00..=0xD7AF) // Hangul syllables
}

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
    tokens(text).count()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_and_hangul_are_cjk_but_not_han() {
        for c in ['中', '𠀀', '丽'] {
            assert!(is_han(c) && is_cjk(c), "{c}");
        }
        for c in ['か', 'カ', '한'] {
            assert!(!is_han(c) && is_cjk(c), "{c}");
        }
        assert!(!is_cjk('a') && !is_cjk('é'));
    }
}
