//! Block and error pages served in place of the page: bot challenges, access-denied walls and
//! soft 404s. Such a response is a failed check, never a change of the document.

/// What kind of non-page a response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Challenge,
    AccessDenied,
    NotFound,
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Block::Challenge => "bot challenge page",
            Block::AccessDenied => "access-denied page",
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

/// Looks at the start of a body (bytes, any ASCII-compatible charset) for a block page.
pub fn detect(body: &[u8]) -> Option<Block> {
    // Challenge pages are small; looking at the first 32 KiB keeps this cheap on big pages.
    let head = &body[..body.len().min(32 * 1024)];
    let head = String::from_utf8_lossy(head).to_lowercase();
    if CHALLENGE.iter().any(|m| head.contains(m)) {
        return Some(Block::Challenge);
    }
    if DENIED.iter().any(|m| head.contains(m)) {
        return Some(Block::AccessDenied);
    }
    if let Some(title) = title(&head)
        && (NOT_FOUND_TITLES.iter().any(|m| title.contains(m)) || title.trim() == "404")
    {
        return Some(Block::NotFound);
    }
    None
}

fn title(lower_html: &str) -> Option<&str> {
    let start = lower_html.find("<title")?;
    let open_end = lower_html[start..].find('>')? + start + 1;
    let close = lower_html[open_end..].find("</title")? + open_end;
    Some(&lower_html[open_end..close])
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
    }
}
