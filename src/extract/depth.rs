//! Nesting cap applied to the markup before parsing.
//!
//! html5ever checks "is there a `<p>` in button scope" and similar by walking the stack of
//! open elements, so each start tag costs O(depth) and 100k nested `<div>`s take tens of
//! seconds. A linear lexical pre-pass drops start tags (and their matching end tags) beyond
//! `cap` levels; real pages stay far below it, so their markup passes through untouched.

use std::borrow::Cow;

/// Elements that never hold content.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
    "wbr", "keygen",
];

/// Elements closed implicitly by their siblings; counting them would mistake a page of
/// unclosed `<p>`s for deep nesting.
const IMPLIED_END: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "tbody", "thead", "tfoot", "colgroup",
    "caption", "rb", "rt", "rp", "rtc", "html", "head", "body",
];

/// Elements whose content is raw text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

pub fn cap_depth(html: &str, cap: usize) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut depth = 0usize;
    // Suppressed start tags per name, so the matching end tags are dropped too.
    let mut suppressed: Vec<(String, usize)> = Vec::new();
    let mut drops: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let lt = i + off;
        i = lt + 1;
        if b[i..].starts_with(b"!--") {
            i = find(b, i + 3, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        if matches!(b.get(i), Some(b'!' | b'?')) {
            i = find(b, i, b">").map_or(b.len(), |e| e + 1);
            continue;
        }
        let closing = b.get(i) == Some(&b'/');
        let name_start = if closing { i + 1 } else { i };
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let mut j = name_start;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b':') {
            j += 1;
        }
        let raw_name = &html[name_start..j];
        // Most markup is lowercase already: borrow rather than allocate per tag.
        let name: Cow<'_, str> = if raw_name.bytes().any(|c| c.is_ascii_uppercase()) {
            Cow::Owned(raw_name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(raw_name)
        };
        let end = tag_end(b, j);
        let self_closing = end >= 2 && b[end - 2] == b'/';
        i = end;
        if closing {
            if let Some(entry) = suppressed.iter_mut().find(|(n, _)| *n == *name)
                && entry.1 > 0
            {
                entry.1 -= 1;
                drops.push((lt, end));
            } else if counts(&name) {
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        if RAW_TEXT.contains(&&*name) {
            let close = format!("</{name}");
            i = find_ci(b, i, close.as_bytes()).unwrap_or(b.len());
            continue;
        }
        if self_closing || VOID.contains(&&*name) {
            continue;
        }
        // At the cap every further container goes, implied-end ones included: a run of
        // `<tr><td>` under 512 tables is as costly to parse as deeper tables.
        if depth >= cap {
            drops.push((lt, end));
            match suppressed.iter_mut().find(|(n, _)| *n == *name) {
                Some(entry) => entry.1 += 1,
                None => suppressed.push((name.into_owned(), 1)),
            }
        } else if counts(&name) {
            depth += 1;
        }
    }
    if drops.is_empty() {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut last = 0;
    for (a, z) in drops {
        out.push_str(&html[last..a]);
        last = z;
    }
    out.push_str(&html[last..]);
    Cow::Owned(out)
}

fn counts(name: &str) -> bool {
    !VOID.contains(&name) && !IMPLIED_END.contains(&name)
}

/// Index just past the `>` closing a tag, honouring quoted attribute values.
fn tag_end(b: &[u8], mut j: usize) -> usize {
    let mut quote = 0u8;
    while j < b.len() {
        let c = b[j];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'>' {
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    find_by(b, from, needle, |w, n| w == n)
}

fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    find_by(b, from, needle, |w, n| w.eq_ignore_ascii_case(n))
}

/// Scans for the needle's first byte (a fast byte search), then compares the rest.
fn find_by(b: &[u8], from: usize, needle: &[u8], eq: impl Fn(&[u8], &[u8]) -> bool) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i < b.len() {
        let off = b[i..].iter().position(|&c| c == first)?;
        let at = i + off;
        if b.get(at..at + needle.len()).is_some_and(|w| eq(w, needle)) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_markup_is_untouched() {
        let html = "<div><p>a<p>b<ul><li>c<li>d</ul><script>if (a<b) {}</script></div>";
        assert!(matches!(cap_depth(html, 3), Cow::Borrowed(_)));
    }

    #[test]
    fn deep_markup_is_flattened_with_end_tags() {
        let html = format!("{}x{}", "<div>".repeat(10), "</div>".repeat(10));
        let out = cap_depth(&html, 4);
        assert_eq!(out, format!("{}x{}", "<div>".repeat(4), "</div>".repeat(4)));
    }

    #[test]
    fn quoted_gt_and_comments() {
        let html = "<div title='a>b'><!-- <div> --><div>x</div></div>";
        assert!(matches!(cap_depth(html, 2), Cow::Borrowed(_)));
        assert_eq!(cap_depth(html, 1), "<div title='a>b'><!-- <div> -->x</div>");
    }
}
