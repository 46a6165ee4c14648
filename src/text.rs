//! Which script a character is written in, for the rules that treat Chinese, Japanese and Korean
//! differently from space-separated scripts. One definition of each range, used everywhere.

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
