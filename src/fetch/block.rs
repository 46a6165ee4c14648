//! Block and error pages served in place of the page: bot challenges, access-denied walls and
//! soft 404s. Such a response is a failed check, never a change of the document.

/// What kind of non-page a response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Challenge,
    AccessDenied,
    LoginWall,
    NotFound,
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Block::Challenge => "bot challenge page",
            Block::AccessDenied => "access-denied page",
            Block::LoginWall => "login page",
            Block::NotFound => "page-not-found page",
        })
    }
}

/// Markers of interstitial challenge pages, matched case-insensitively in the first bytes.
const CHALLENGE: &[&str] = &[
    "<title>just a moment...</title>",
    "<title>just a moment…</title>",
    "checking your browser before accessing",
    "checking if the site connection is secure",
    "enable javascript and cookies to continue",
    "<title>attention required!",
    "<title>ddos-guard</title>",
    "please complete the security check to access",
    "/cdn-cgi/challenge-platform/",
    "<title>human verification</title>",
];

const DENIED: &[&str] = &[
    "<title>access denied</title>",
    "<title>403 forbidden</title>",
    "you don't have permission to access",
    "the requested url was rejected. please consult with your administrator",
];

/// Titles of sign-in walls served instead of the document.
const LOGIN_TITLES: &[&str] = &["log in", "login", "sign in", "signin", "用户登录", "登录"];

/// Soft 404s are only recognised from the title: body text saying "not found" is too common in
/// real articles.
const NOT_FOUND_TITLES: &[&str] = &[
    "page not found",
    "404 not found",
    "404 error",
    "error 404",
    "页面不存在",
    "页面未找到",
    "找不到页面",
    "该页面不存在",
];

/// The challenge and access-denied markers, found in one pass over the head of a body, ASCII
/// case ignored (the CJK markers have no case).
static MARKERS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(CHALLENGE.iter().chain(DENIED))
        .expect("static patterns")
});

/// Looks at the start of a body (bytes, any ASCII-compatible charset) for a block page.
pub fn detect(body: &[u8]) -> Option<Block> {
    // Challenge pages are small; looking at the first 32 KiB keeps this cheap on big pages.
    let head = &body[..body.len().min(32 * 1024)];
    let mut denied = false;
    for m in MARKERS.find_iter(head) {
        if m.pattern().as_usize() < CHALLENGE.len() {
            return Some(Block::Challenge);
        }
        denied = true;
    }
    if denied {
        return Some(Block::AccessDenied);
    }
    let title = title(head)?;
    let title = title.trim();
    if NOT_FOUND_TITLES.iter().any(|m| title.contains(m)) || title == "404" {
        return Some(Block::NotFound);
    }
    // A sign-in page's title is the sign-in itself ("Log in", "Sign in | Ministry"), not an
    // article that mentions logging in.
    let is_login = |m: &&str| {
        title.strip_prefix(*m).is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.is_empty() || rest.starts_with(['|', '-', '–', '—', '·', ':', '_'])
        })
    };
    if LOGIN_TITLES.iter().any(is_login) {
        return Some(Block::LoginWall);
    }
    None
}

/// The page's `<title>`, lowercased.
fn title(head: &[u8]) -> Option<String> {
    let start = memchr_title(head)?;
    let rest = &head[start..];
    let open_end = rest.iter().position(|&b| b == b'>')? + 1;
    let rest = &rest[open_end..];
    let close = rest.windows(7).position(|w| w.eq_ignore_ascii_case(b"</title"))?;
    Some(String::from_utf8_lossy(&rest[..close]).to_lowercase())
}

fn memchr_title(head: &[u8]) -> Option<usize> {
    head.windows(6).position(|w| w.eq_ignore_ascii_case(b"<title"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_challenge_and_soft_404() {
        assert_eq!(
            detect(b"<html><head><title>Just a moment...</title></head></html>"),
            Some(Block::Challenge)
        );
        assert_eq!(
            detect("<title>页面不存在 - 外交部</title>".as_bytes()),
            Some(Block::NotFound)
        );
        assert_eq!(
            detect(b"<title>Why 404 pages matter</title><p>Page not found errors are common.</p>"),
            None
        );
        assert_eq!(
            detect(b"<TITLE>Access Denied</TITLE><h1>403</h1>"),
            Some(Block::AccessDenied)
        );
        assert_eq!(
            detect(b"<html><title>Sign in | Ministry Portal</title><form>"),
            Some(Block::LoginWall)
        );
        assert_eq!(
            detect(b"<title>Login rules for ministries tightened</title>"),
            None
        );
    }
}
