//! HTTP: one shared client with timeouts, a redirect limit, compressed transfer, conditional GET,
//! and a body cap enforced while streaming (on the decompressed bytes, so a gzip bomb stops at
//! the cap). Block pages are recognised in [`block`].

pub mod block;

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use crate::config;

/// Why a fetch did not produce a page. Each is a failed check, never a change.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
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
    #[error("too many redirects")]
    Redirects,
    #[error("response body broken off: {0}")]
    Body(String),
    #[error("unsupported content type {0}")]
    ContentType(String),
    #[error("blocked: {0}")]
    Blocked(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    /// A short fixed name for the kind of failure, for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Timeout(_) => "timeout",
            FetchError::Connect(_) => "connect",
            FetchError::Status { .. } => "status",
            FetchError::TooLarge(_) => "too_large",
            FetchError::Redirects => "redirects",
            FetchError::Body(_) => "body",
            FetchError::ContentType(_) => "content_type",
            FetchError::Blocked(_) => "blocked",
            FetchError::Other(_) => "request",
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

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
}

/// Installs the TLS crypto provider once; reqwest and lettre both use rustls with ring.
pub fn init_tls() {
    // Err only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Fetcher {
    pub fn new(cfg: &config::Fetch) -> Result<Fetcher, FetchError> {
        init_tls();
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .read_timeout(cfg.read_timeout)
            // Keep-alive saves a handshake per request to a host, but every idle connection keeps
            // its buffers: over hundreds of hosts, a few per host is plenty.
            .pool_max_idle_per_host(cfg.per_host_concurrency.min(4))
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(cfg.max_redirects))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(e.to_string()))?;
        Ok(Fetcher {
            client,
            timeout: cfg.timeout,
            max_body: cfg.max_body_bytes,
        })
    }

    /// GETs `url`, conditionally when `validators` has any, and reads at most the body cap.
    pub async fn get(
        &self,
        url: &url::Url,
        validators: &Validators,
        want: Want,
    ) -> Result<Fetched, FetchError> {
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
        let resp = req.send().await.map_err(|e| self.classify(e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
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
        if let Some(ct) = &content_type
            && !acceptable(ct, want)
        {
            return Err(FetchError::ContentType(ct.clone()));
        }
        if let Some(b) = block::detect(&body) {
            return Err(FetchError::Blocked(b.to_string()));
        }
        Ok(Fetched::Page(Page {
            status: status.as_u16(),
            url: final_url,
            content_type,
            validators: Validators {
                etag: header(&headers, ETAG),
                last_modified: header(&headers, LAST_MODIFIED),
            },
            body,
        }))
    }

    /// GETs an origin's /robots.txt: its status and at most `cap` bytes of it. Any status is an
    /// answer here (a 404 means no rules); only a failure to get one is an error.
    pub async fn get_robots(&self, url: &url::Url, cap: usize) -> Result<(u16, Vec<u8>), FetchError> {
        let resp = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "text/plain,*/*;q=0.5")
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        // Rules past the cap are ignored, as RFC 9309 allows; what was read still counts.
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.classify(e))?;
            let room = cap - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= cap {
                break;
            }
        }
        Ok((status, body))
    }

    async fn read_capped(&self, resp: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.classify(e))?;
            if body.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_redirect() {
            FetchError::Redirects
        } else if e.is_connect() {
            FetchError::Connect(root_cause(&e))
        } else if e.is_body() || e.is_decode() {
            FetchError::Body(root_cause(&e))
        } else {
            FetchError::Other(root_cause(&e))
        }
    }
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
    let page = mime.is_empty()
        || mime.starts_with("text/")
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
