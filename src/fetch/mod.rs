//! HTTP: one shared client with timeouts, compressed transfer, conditional GET, and a body cap
//! enforced while streaming (on the decompressed bytes, so a gzip bomb stops at the cap). One
//! request is one hop: redirects are returned, not followed, so that each hop can pass the
//! politeness gate of its own origin (`Hosts::fetch`, in the module above this one) and the address rules of
//! [`addr`]. Block pages are recognised in [`block`].

pub mod addr;
pub mod block;

use std::net::IpAddr;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
};

use crate::config;
use crate::model::FailureReason;

/// Why a fetch did not produce a page. Each is a failed check, never a change.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The whole response (headers and body) did not arrive within `fetch.timeout`.
    #[error("timed out after {0:?} (the time allowed for a whole response)")]
    Timeout(Duration),
    /// The server went quiet: nothing arrived for `fetch.read_timeout`.
    #[error("read timed out: nothing received for {0:?}")]
    ReadTimeout(Duration),
    /// The server ended the connection before the response was complete (a FIN, not a reset).
    #[error("connection closed early by the server ({0})")]
    ClosedEarly(String),
    /// The connection was reset (an RST: a crashed server, a middlebox, a firewall).
    #[error("connection reset ({0})")]
    Reset(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP {status}{}{}",
        reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
        retry_after.map(|d| format!("; the server asks to retry after {}", humantime::format_duration(d))).unwrap_or_default())]
    Status {
        status: u16,
        reason: Option<String>,
        /// Retry-After of a 429 or 503, already capped.
        retry_after: Option<Duration>,
    },
    #[error("response larger than the {0}-byte cap")]
    TooLarge(usize),
    #[error("too many redirects (more than {0})")]
    Redirects(usize),
    /// A 3xx without a usable Location, or one to a scheme govwatch does not fetch.
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    /// A redirect from a public address into an internal network (see [`addr`]).
    #[error("redirect from a {from} address to a {to} address refused ({url})")]
    InwardRedirect {
        from: addr::AddrClass,
        to: addr::AddrClass,
        url: String,
    },
    #[error("response body broken off: {0}")]
    Body(String),
    #[error("not a page: content type {0}")]
    ContentType(String),
    #[error("blocked: {0}")]
    Blocked(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    /// The answer says the document is not there: 404 or 410, or a page-not-found page served
    /// in its place. (Not a 403 or a 5xx: those say nothing of the document.)
    pub fn says_gone(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => matches!(status, 404 | 410),
            FetchError::Blocked(what) => *what == block::Block::NotFound.to_string(),
            _ => false,
        }
    }

    /// A short fixed name for the kind of failure, for metrics labels.
    pub fn kind(&self) -> FailureReason {
        match self {
            FetchError::Timeout(_) => FailureReason::Timeout,
            FetchError::ReadTimeout(_) => FailureReason::ReadTimeout,
            FetchError::ClosedEarly(_) => FailureReason::Closed,
            FetchError::Reset(_) => FailureReason::Reset,
            FetchError::Connect(_) => FailureReason::Connect,
            FetchError::Status { .. } => FailureReason::Status,
            FetchError::TooLarge(_) => FailureReason::TooLarge,
            FetchError::Redirects(_) | FetchError::BadRedirect(_) => FailureReason::Redirects,
            FetchError::InwardRedirect { .. } => FailureReason::InwardRedirect,
            FetchError::Body(_) => FailureReason::Body,
            FetchError::ContentType(_) => FailureReason::ContentType,
            FetchError::Blocked(_) => FailureReason::Blocked,
            FetchError::Other(_) => FailureReason::Request,
        }
    }
}

/// Validators from the previous good fetch, sent so an unchanged page costs a 304.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a request is for, which decides the content types that are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A document: HTML, XHTML or plain text.
    Page,
    /// A listing: an HTML index, an RSS/Atom/JSON feed, or a sitemap (maybe gzipped).
    Listing,
}

/// A page as served.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    /// The URL after redirects.
    pub url: url::Url,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum Fetched {
    /// 304: the page has not changed since the validators were issued.
    NotModified,
    Page(Page),
}

/// What one request brought.
#[derive(Debug)]
pub enum Hop {
    /// The answer: a page or a 304.
    Done(Fetched),
    /// A redirect to `to`, for the caller to follow (or not); `via` is the address of the server
    /// that sent it, when known.
    Redirect { to: url::Url, via: Option<IpAddr> },
}

/// robots.txt as served: its status, at most the cap of its body, and a Retry-After if the
/// server asked for a pause instead of answering.
#[derive(Debug)]
pub struct RobotsFile {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
}

/// RFC 9309 asks crawlers to follow at least five redirects for robots.txt.
const ROBOTS_REDIRECTS: usize = 5;

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    read_timeout: Duration,
    connect_timeout: Duration,
    max_body: usize,
    max_redirects: usize,
}

/// Installs the TLS crypto provider once; reqwest and lettre both use rustls with ring.
pub fn init_tls() {
    // Err only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How far a response had come when its connection failed, for the failure's wording.
#[derive(Debug, Clone, Copy)]
enum Progress {
    /// No complete response head yet.
    Head,
    /// Reading the body: bytes received so far, and the length the server announced.
    Body { received: usize, announced: Option<u64> },
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Progress::Head => f.write_str("before a complete response"),
            Progress::Body {
                received,
                announced: Some(n),
            } => write!(f, "after {received} of {n} bytes of the body"),
            Progress::Body {
                received,
                announced: None,
            } => write!(f, "after {received} bytes of the body"),
        }
    }
}

impl Fetcher {
    pub fn new(cfg: &config::Fetch) -> Result<Fetcher, FetchError> {
        init_tls();
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            // The total timeout is applied around each request here rather than by reqwest, so
            // that it can be told apart from the read timeout (reqwest reports both alike).
            .read_timeout(cfg.read_timeout)
            // Keep-alive saves a handshake per request to a host, but every idle connection keeps
            // its buffers: over hundreds of hosts, a few per host is plenty.
            .pool_max_idle_per_host(cfg.per_host_concurrency.min(4))
            .pool_idle_timeout(Duration::from_secs(30))
            // Redirects are followed by the caller, hop by hop, each through the politeness gate
            // of its own origin and the address rules of [`addr`].
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(e.to_string()))?;
        Ok(Fetcher {
            client,
            timeout: cfg.timeout,
            read_timeout: cfg.read_timeout,
            connect_timeout: cfg.connect_timeout,
            max_body: cfg.max_body_bytes,
            max_redirects: cfg.max_redirects,
        })
    }

    /// How many redirects one fetch may follow.
    pub fn max_redirects(&self) -> usize {
        self.max_redirects
    }

    /// GETs `url` once, conditionally when `validators` has any, and reads at most the body cap.
    /// A redirect is returned, not followed. `start` is the kind of address the fetch began on,
    /// for a hop after a redirect: a server found on an address a redirect from there may not
    /// lead to is refused (the name may have resolved differently since it was checked).
    pub async fn get(
        &self,
        url: &url::Url,
        validators: &Validators,
        want: Want,
        start: Option<addr::AddrClass>,
    ) -> Result<Hop, FetchError> {
        tokio::time::timeout(self.timeout, self.get_once(url, validators, want, start))
            .await
            .unwrap_or(Err(FetchError::Timeout(self.timeout)))
    }

    async fn get_once(
        &self,
        url: &url::Url,
        validators: &Validators,
        want: Want,
        start: Option<addr::AddrClass>,
    ) -> Result<Hop, FetchError> {
        let accept = match want {
            Want::Page => "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
            Want::Listing => {
                "text/html,application/xhtml+xml,application/atom+xml,application/rss+xml,\
                 application/feed+json,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"
            }
        };
        let mut req = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, accept);
        if let Some(etag) = &validators.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let resp = req.send().await.map_err(|e| self.classify(e, Progress::Head))?;
        let via = resp.remote_addr().map(|a| a.ip());
        if let (Some(start), Some(ip)) = (start, via) {
            addr::redirect_allowed(start, &[ip]).map_err(|to| FetchError::InwardRedirect {
                from: start,
                to,
                url: url.to_string(),
            })?;
        }
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Hop::Done(Fetched::NotModified));
        }
        if let Some(to) = redirect_target(url, status, resp.headers())? {
            return Ok(Hop::Redirect { to, via });
        }
        let headers = resp.headers().clone();
        let final_url = resp.url().clone();
        if let Some(len) = resp.content_length()
            && len as usize > self.max_body
        {
            return Err(FetchError::TooLarge(self.max_body));
        }
        let body = self.read_capped(resp).await?;
        let content_type = header(&headers, CONTENT_TYPE);

        if !status.is_success() {
            // An error page that is a challenge says more than its status code.
            let reason = block::detect(&body)
                .map(|b| b.to_string())
                .or_else(|| status.canonical_reason().map(str::to_string));
            let retry_after = match status.as_u16() {
                429 | 503 => retry_after(&headers),
                _ => None,
            };
            return Err(FetchError::Status {
                status: status.as_u16(),
                reason,
                retry_after,
            });
        }
        // A PDF is read whatever it is served as (application/octet-stream, often), and is no
        // challenge page whatever words it holds.
        let pdf = crate::pdf::is_pdf(&body);
        if let Some(ct) = &content_type
            && !acceptable(ct, want)
            && !pdf
        {
            return Err(FetchError::ContentType(ct.clone()));
        }
        if !pdf && let Some(b) = block::detect(&body) {
            return Err(FetchError::Blocked(b.to_string()));
        }
        Ok(Hop::Done(Fetched::Page(Page {
            status: status.as_u16(),
            url: final_url,
            content_type,
            validators: Validators {
                etag: header(&headers, ETAG),
                last_modified: header(&headers, LAST_MODIFIED),
            },
            body,
        })))
    }

    /// GETs an origin's /robots.txt: its status and at most `cap` bytes of it. Any status is an
    /// answer here (a 404 means no rules); only a failure to get one is an error. Redirects are
    /// followed here (RFC 9309: the rules found apply to the origin asked), without a gate of
    /// their own: the caller already holds the origin's turn for this one fetch, and the target
    /// is asked for one small file. The address rules still apply.
    pub async fn get_robots(&self, url: &url::Url, cap: usize) -> Result<RobotsFile, FetchError> {
        tokio::time::timeout(self.timeout, self.get_robots_once(url, cap))
            .await
            .unwrap_or(Err(FetchError::Timeout(self.timeout)))
    }

    async fn get_robots_once(&self, url: &url::Url, cap: usize) -> Result<RobotsFile, FetchError> {
        let mut url = url.clone();
        let mut start = None;
        let mut hops = 0;
        let resp = loop {
            let resp = self
                .client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "text/plain,*/*;q=0.5")
                .send()
                .await
                .map_err(|e| self.classify(e, Progress::Head))?;
            let via = resp.remote_addr().map(|a| a.ip());
            let Some(to) = redirect_target(&url, resp.status(), resp.headers())? else {
                break resp;
            };
            hops += 1;
            if hops > ROBOTS_REDIRECTS {
                return Err(FetchError::Redirects(ROBOTS_REDIRECTS));
            }
            let start = match start {
                Some(s) => s,
                None => *start.insert(start_class(&url, via).await),
            };
            check_redirect(start, &to).await?;
            url = to;
        };
        let status = resp.status().as_u16();
        let retry_after = match status {
            429 | 503 => retry_after(resp.headers()),
            _ => None,
        };
        let announced = resp.content_length();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        // Rules past the cap are ignored, as RFC 9309 allows; what was read still counts.
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                self.classify(
                    e,
                    Progress::Body {
                        received: body.len(),
                        announced,
                    },
                )
            })?;
            let room = cap - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= cap {
                break;
            }
        }
        Ok(RobotsFile {
            status,
            body,
            retry_after,
        })
    }

    async fn read_capped(&self, resp: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let announced = resp.content_length();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                self.classify(
                    e,
                    Progress::Body {
                        received: body.len(),
                        announced,
                    },
                )
            })?;
            if body.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Names what went wrong from reqwest's error: its kinds say little (a read timeout and a
    /// total timeout look alike to it, a reset and a close are both "body"), so the I/O error or
    /// hyper error underneath decides.
    fn classify(&self, e: reqwest::Error, progress: Progress) -> FetchError {
        let io = io_kind(&e);
        if e.is_connect() {
            if e.is_timeout() {
                FetchError::Connect(format!("no connection within {:?}", self.connect_timeout))
            } else {
                FetchError::Connect(root_cause(&e))
            }
        } else if e.is_timeout() {
            FetchError::ReadTimeout(self.read_timeout)
        } else if matches!(
            io,
            Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted)
        ) {
            FetchError::Reset(format!("by the server {progress}"))
        } else if io == Some(std::io::ErrorKind::UnexpectedEof) || incomplete_message(&e) {
            FetchError::ClosedEarly(progress.to_string())
        } else if e.is_body() || e.is_decode() {
            FetchError::Body(root_cause(&e))
        } else {
            FetchError::Other(root_cause(&e))
        }
    }
}

/// The kind of network the first URL of a fetch is on: the address its server answered from, or
/// else what its name resolves to (any internal address makes it that kind). A name that does
/// not resolve counts as public, the strictest start.
pub async fn start_class(url: &url::Url, via: Option<IpAddr>) -> addr::AddrClass {
    let addrs = match via {
        Some(ip) => vec![ip],
        None => addr::addresses(url).await,
    };
    addrs
        .into_iter()
        .map(addr::classify)
        .find(|c| *c != addr::AddrClass::Public)
        .unwrap_or(addr::AddrClass::Public)
}

/// Refuses a redirect to `to` when its host is on an internal address that a fetch started on a
/// `start` address may not reach (see [`addr::redirect_allowed`]).
pub async fn check_redirect(start: addr::AddrClass, to: &url::Url) -> Result<(), FetchError> {
    let addrs = addr::addresses(to).await;
    addr::redirect_allowed(start, &addrs).map_err(|class| FetchError::InwardRedirect {
        from: start,
        to: class,
        url: to.to_string(),
    })
}

/// Where a 3xx response sends the client, if it is a redirect to follow.
fn redirect_target(
    url: &url::Url,
    status: reqwest::StatusCode,
    headers: &HeaderMap,
) -> Result<Option<url::Url>, FetchError> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let location = header(headers, LOCATION)
        .ok_or_else(|| FetchError::BadRedirect(format!("HTTP {} without a Location", status.as_u16())))?;
    let mut to = url
        .join(location.trim())
        .map_err(|e| FetchError::BadRedirect(format!("Location {location:?}: {e}")))?;
    if !matches!(to.scheme(), "http" | "https") {
        return Err(FetchError::BadRedirect(format!("to a {} URL", to.scheme())));
    }
    // A fragment is for the browser; the request is the same without it.
    to.set_fragment(None);
    Ok(Some(to))
}

/// The kind of the first I/O error under `e`, if any.
fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// Whether hyper saw the connection end before the response head was complete.
fn incomplete_message(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

fn header(h: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Retry-After as seconds or an HTTP date, capped at a day: a server may ask for a pause, not
/// for govwatch to give up on it.
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        // An HTTP date is turned into a wait against the real clock, as the server meant it:
        // the gate sleeps it out in real time (see `polite`).
        Err(_) => httpdate::parse_http_date(v)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(d.min(Duration::from_secs(86_400)))
}

/// Content we can read. Pages: HTML, XHTML, plain text (servers mislabel HTML as XML now and
/// then). Listings also: feeds, sitemaps, JSON Feed, and gzipped sitemaps.
fn acceptable(content_type: &str, want: Want) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // application/pdf: a PDF; or, in its place, an error page that fails as not being one.
    let page = mime.is_empty()
        || mime.starts_with("text/")
        || mime == "application/pdf"
        || mime == "application/xhtml+xml"
        || mime == "application/xml";
    page || want == Want::Listing
        && (mime.ends_with("+xml")
            || mime.ends_with("/json")
            || mime.ends_with("+json")
            || matches!(
                mime.as_str(),
                "application/x-gzip" | "application/gzip" | "application/octet-stream"
            ))
}

/// reqwest's errors nest the useful part (connection refused, reset) a few sources deep; the
/// outermost one only repeats the URL, which the caller already shows.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let Some(first) = e.source() else {
        return e.to_string();
    };
    let mut msg = first.to_string();
    let mut cur = first.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !msg.contains(&m) {
            msg = format!("{msg}: {m}");
        }
        cur = s.source();
    }
    msg
}
