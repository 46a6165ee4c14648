//! The configuration file: a raw serde mirror of the TOML, validated once into [`Config`].
//!
//! Every error names the key and the line it is on, because the person reading it is editing a
//! file by hand on a server.

mod alerts;
mod http;
mod raw;
mod storage;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use alerts::{Delivery, Dkim, Feed, Recipient, Schedule, Smtp, SmtpSecurity};
pub use http::{Http, HttpUser};
pub use storage::{PostgresUrl, SslMode};
use toml::Spanned;
use url::Url;

/// A validated configuration. Everything in it has been checked; the rest of govwatch trusts it.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the file was read from, for messages.
    pub source: PathBuf,
    pub storage: Storage,
    pub email: Option<Email>,
    pub fetch: Fetch,
    pub corpus: CorpusSettings,
    pub topics: TopicSettings,
    pub log: Log,
    pub http: Http,
    pub daemon: Daemon,
    pub schedule: DocumentSchedule,
    pub watches: Vec<Watch>,
    /// Who is told: `[email] to` (immediate, everything) and every `[[recipient]]`.
    pub recipients: Vec<Recipient>,
    pub feed: Feed,
    /// `[pdf]`: the bounds of reading one PDF.
    pub pdf: crate::pdf::Limits,
}

/// `[schedule]`: how often documents found on listings are checked again, by their age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSchedule {
    /// Steps in increasing age; the last has no bound.
    pub recheck: Vec<Recheck>,
    /// A watch whose own page or listing has failed this long is told once in the next mail
    /// (and its recovery once); a watch's `failing_notice_after` overrides it.
    pub failing_notice_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recheck {
    /// Applies to documents younger than this; `None` for the last step.
    pub younger_than: Option<Duration>,
    pub every: Duration,
}

impl DocumentSchedule {
    /// How long until a document of this age is checked again. A paper is edited most in its
    /// first hours and rarely after a month, so checks thin out as it ages; the last step still
    /// catches quiet edits to old papers.
    pub fn recheck_every(&self, age: Duration) -> Duration {
        self.recheck
            .iter()
            .find(|r| r.younger_than.is_none_or(|limit| age < limit))
            .or(self.recheck.last())
            .map_or(Duration::from_secs(7 * 86_400), |r| r.every)
    }
}

impl Default for DocumentSchedule {
    fn default() -> DocumentSchedule {
        const HOUR: u64 = 3600;
        DocumentSchedule {
            recheck: vec![
                Recheck {
                    younger_than: Some(Duration::from_secs(24 * HOUR)),
                    every: Duration::from_secs(HOUR),
                },
                Recheck {
                    younger_than: Some(Duration::from_secs(30 * 24 * HOUR)),
                    every: Duration::from_secs(24 * HOUR),
                },
                Recheck {
                    younger_than: None,
                    every: Duration::from_secs(7 * 24 * HOUR),
                },
            ],
            failing_notice_after: Duration::from_secs(24 * HOUR),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// govwatch's own level; dependencies stay at `warn`. `RUST_LOG`, when set, wins.
    pub level: tracing::Level,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    /// After SIGTERM, checks still running this long are abandoned and govwatch exits anyway.
    pub stop_timeout: Duration,
    /// `[daemon] node`: this machine's name among the govwatch nodes on one database (the host
    /// name unless set). It names this machine's processes on the work they claim, in `govwatch
    /// status`, and on every line of `/metrics`.
    pub node: String,
}

/// The longest node name: a DNS label's length, so that a host name fits.
const NODE_MAX: usize = 63;

/// A node name is letters, digits, `.`, `_` and `-`, starting with a letter or digit: it goes
/// into claim holders (`node:pid:start`, split at the colons), Prometheus label values and
/// terminal tables as it is, so nothing in it needs quoting there.
fn node_name_ok(name: &str) -> bool {
    name.len() <= NODE_MAX
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The default node name: the host name, made a valid node name (characters outside the set
/// become `-`, and it is cut at [`NODE_MAX`]); `localhost` if the system will not say.
pub fn default_node() -> String {
    let host = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let name: String = host
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '-',
        })
        .take(NODE_MAX)
        .collect();
    if node_name_ok(&name) {
        name
    } else {
        "localhost".into()
    }
}

impl Config {
    /// The topics a watch's documents are judged against.
    /// The first of `names` that names no watch, if any.
    pub fn unknown_watch<'a>(&self, names: &'a [String]) -> Option<&'a str> {
        names
            .iter()
            .find(|n| !self.watches.iter().any(|w| &w.name == *n))
            .map(String::as_str)
    }

    pub fn topics_for(&self, watch: &Watch) -> crate::compare::relevance::Topics {
        match &watch.topics {
            Some(terms) => crate::compare::relevance::Topics::new(false, terms),
            None => crate::compare::relevance::Topics::new(self.topics.builtin, &self.topics.terms),
        }
    }
}

/// `[topics]`: what the user follows.
#[derive(Debug, Clone)]
pub struct TopicSettings {
    /// Use the built-in digital-governance lexicon.
    pub builtin: bool,
    /// Terms and phrases added to it.
    pub terms: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Storage {
    /// The SQLite file (`[storage] path`, or the default). With `postgres` set, no command opens
    /// it: only the outbox folder is placed beside it.
    pub path: PathBuf,
    /// `[storage] url`: the database is on a PostgreSQL server.
    pub postgres: Option<PostgresUrl>,
}

impl Storage {
    /// Without SMTP, messages are written here as `.eml` files.
    pub fn outbox_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join("outbox")
    }
}

#[derive(Debug, Clone)]
pub struct Email {
    pub from: lettre::message::Mailbox,
    pub to: Vec<lettre::message::Mailbox>,
    /// `None`: write `.eml` files to the outbox folder instead of sending.
    pub smtp: Option<Smtp>,
    pub subject_prefix: String,
    pub dkim: Option<Dkim>,
    pub delivery: Delivery,
}

#[derive(Debug, Clone)]
pub struct Fetch {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_redirects: usize,
    /// Checks running at once, over all hosts.
    pub concurrency: usize,
    /// A read that waits longer than this for the next bytes fails, whatever the total timeout.
    pub read_timeout: Duration,
    /// Requests in flight to one host at once, shared by every watch on that host.
    pub per_host_concurrency: usize,
    /// Least time between the starts of two requests to one host (robots.txt `Crawl-delay` may
    /// lengthen it).
    pub per_host_delay: Duration,
    /// A watch that keeps failing is retried after its interval doubled per failure, up to this.
    pub max_backoff: Duration,
    /// How long a host's robots.txt is trusted before it is fetched again.
    pub robots_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct CorpusSettings {
    /// Share of a known document a new one must reproduce to be a republication of it.
    pub republication_share: f64,
    /// Share of a known document a new one must reproduce to quote it.
    pub quote_share: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchKind {
    /// The page itself is the document.
    Page,
    /// A listing whose linked documents are followed.
    Index,
    /// An RSS, Atom or JSON feed whose entries' links are followed.
    Feed,
    /// A sitemap or sitemap index whose URLs are followed, re-checked when their lastmod moves.
    Sitemap,
}

impl WatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchKind::Page => "page",
            WatchKind::Index => "index",
            WatchKind::Feed => "feed",
            WatchKind::Sitemap => "sitemap",
        }
    }

    /// Kinds whose page is a list of documents rather than a document.
    pub fn is_listing(self) -> bool {
        self != WatchKind::Page
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    pub name: String,
    pub url: Url,
    pub kind: WatchKind,
    pub every: Duration,
    /// Index watches: at most this many linked documents are followed per check.
    pub max_documents: usize,
    /// Replaces `[topics]` for this watch's documents.
    pub topics: Option<Vec<String>>,
    /// Honour robots.txt for this watch's page and the documents it finds (default true).
    pub robots: bool,
    /// Labels recipients follow (`[[recipient]] tags`).
    pub tags: Vec<String>,
    /// How long the watch's own page or listing fails before recipients are told (once).
    pub failing_notice_after: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}:{line}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Missing { path: PathBuf, message: String },
    #[error(
        "{path}: no [[watch]], so there is nothing to check; add one for each page to watch, for example:\n\n\
         [[watch]]\n\
         name = \"position-papers\"\n\
         url = \"https://www.example.org/position-papers/\"\n\
         every = \"6h\"\n\n\
         (config/govwatch.example.toml documents every key)"
    )]
    NoWatches { path: PathBuf },
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// For the commands that check pages (`run`, `check`, `config check`): a config without
    /// watches is valid for reading the database, but a daemon or a pass over it would silently
    /// do nothing.
    pub fn require_watches(&self) -> Result<(), ConfigError> {
        if self.watches.is_empty() {
            return Err(ConfigError::NoWatches {
                path: self.source.clone(),
            });
        }
        Ok(())
    }

    /// Parses and validates TOML text; `path` only labels messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let syntax = |e: &toml::de::Error, key: Option<String>| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            // serde names Rust types; the person editing the file thinks in numbers.
            let message = e
                .message()
                .trim()
                .replace("unknown field", "unknown key")
                .replace("expected u32", "expected a whole number")
                .replace("expected u64", "expected a whole number")
                .replace("expected f64", "expected a number");
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: match key {
                    Some(key) => format!("`{key}`: {message}"),
                    None => message,
                },
            }
        };
        let document = toml::Deserializer::parse(text).map_err(|e| syntax(&e, None))?;
        // The path to the value is tracked so that a wrong type names its key, as validation
        // errors do: toml's own message only has the line.
        let raw: raw::RawConfig = serde_path_to_error::deserialize(document).map_err(|e| {
            let key = key_path(e.path());
            // An unknown key is named in the message already.
            let key = (!key.is_empty() && !e.inner().message().contains("unknown field")).then_some(key);
            syntax(e.inner(), key)
        })?;
        Validator { text, path }.config(raw)
    }
}

/// `watch[0].every` for the path serde took to a value. `Spanned` wraps each value in a struct
/// of its own, whose private field names are left out.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: k } | Segment::Enum { variant: k } => {
                if k.starts_with("$__") {
                    continue;
                }
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(k);
            }
            Segment::Unknown => {}
        }
    }
    key
}

/// The longest a duration may be, and how the limit is written in messages.
///
/// Every duration is bounded: an interval is added to the current date to store when a check or
/// a retry is next due, and a timeout becomes a timer; `"10000y"` made both overflow. The
/// bounds are far beyond any sensible value, so they only catch typos and runaway numbers.
#[derive(Debug, Clone, Copy)]
struct Max(Duration, &'static str);

impl Max {
    /// Timeouts and delays: a request, an SMTP command or a shutdown waiting longer is broken.
    const HOUR: Max = Max(Duration::from_secs(3600), "1h");
    /// A first mail retry.
    const DAY: Max = Max(Duration::from_secs(86_400), "1d");
    /// Caches and retry caps: robots.txt kept, mail retried.
    const MONTH: Max = Max(Duration::from_secs(30 * 86_400), "30d");
    /// Schedules: how often a page is checked, the longest backoff. humantime's year (365.25
    /// days), so that `"1y"` itself is allowed.
    const YEAR: Max = Max(Duration::from_secs(31_557_600), "1y");
    /// Ages of documents in `[schedule] recheck`: only compared, never added to a date.
    const DECADE: Max = Max(Duration::from_secs(10 * 31_557_600), "10y");
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, column)
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn err<T>(
        &self,
        key: &str,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: line_col(self.text, span.start).0,
            key: key.to_string(),
            message: message.into(),
        })
    }

    /// A duration of at least a second and at most `max`.
    fn duration(&self, key: &str, v: &Spanned<String>, max: Max) -> Result<Duration, ConfigError> {
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if d > max.0 => self.err(
                key,
                v.span(),
                format!("`{}` is too long: at most {}", v.get_ref().trim(), max.1),
            ),
            Ok(d) if d >= Duration::from_secs(1) => Ok(d),
            Ok(_) => self.err(key, v.span(), "must be at least 1s"),
            Err(e) => self.err(
                key,
                v.span(),
                format!(
                    "`{}` is not a duration ({e}); write for example \"30s\", \"15m\", \"1h\", \"1d\"",
                    v.get_ref()
                ),
            ),
        }
    }

    /// A duration that may be zero (`"0s"` turns a delay off).
    fn duration_or_zero(&self, key: &str, v: &Spanned<String>, max: Max) -> Result<Duration, ConfigError> {
        match v.get_ref().trim() {
            "0" | "0s" => Ok(Duration::ZERO),
            _ => self.duration(key, v, max),
        }
    }

    fn schedule(&self, raw: Option<raw::RawSchedule>) -> Result<DocumentSchedule, ConfigError> {
        let default = DocumentSchedule::default();
        let failing_notice_after = match raw.as_ref().and_then(|s| s.failing_notice_after.as_ref()) {
            Some(t) => self.duration_or_zero("schedule.failing_notice_after", t, Max::YEAR)?,
            None => default.failing_notice_after,
        };
        let Some(steps) = raw.and_then(|s| s.recheck) else {
            return Ok(DocumentSchedule {
                failing_notice_after,
                ..default
            });
        };
        let span = steps.span();
        let steps = steps.into_inner();
        if steps.is_empty() {
            return self.err("schedule.recheck", span, "needs at least one step");
        }
        let mut out: Vec<Recheck> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let key = |k: &str| format!("schedule.recheck[{i}].{k}");
            let every = self.duration(&key("every"), &step.every, Max::YEAR)?;
            let last = i + 1 == steps.len();
            let younger_than = match (&step.younger_than, last) {
                (Some(y), _) => Some(self.duration(&key("younger_than"), y, Max::DECADE)?),
                (None, true) => None,
                (None, false) => {
                    return self.err(
                        &key("younger_than"),
                        step.every.span(),
                        "only the last step may leave out `younger_than`",
                    );
                }
            };
            if let (Some(y), Some(prev)) = (younger_than, out.last().and_then(|p| p.younger_than))
                && y <= prev
            {
                let span = step.younger_than.as_ref().map_or(span.clone(), |s| s.span());
                return self.err(&key("younger_than"), span, "steps must go from young to old");
            }
            out.push(Recheck { younger_than, every });
        }
        Ok(DocumentSchedule {
            recheck: out,
            failing_notice_after,
        })
    }

    fn mailbox(&self, key: &str, v: &Spanned<String>) -> Result<lettre::message::Mailbox, ConfigError> {
        v.get_ref().parse().or_else(|e| {
            self.err(
                key,
                v.span(),
                format!("`{}` is not an email address ({e})", v.get_ref()),
            )
        })
    }

    fn config(&self, raw: raw::RawConfig) -> Result<Config, ConfigError> {
        let storage = self.storage(raw.storage)?;

        let email = match raw.email {
            None => None,
            Some(e) => {
                let from = match &e.from {
                    Some(f) => self.mailbox("email.from", f)?,
                    None => {
                        return Err(ConfigError::Missing {
                            path: self.path.to_path_buf(),
                            message: "[email] needs `from`".into(),
                        });
                    }
                };
                let mut to = Vec::new();
                for (i, t) in e.to.iter().flatten().enumerate() {
                    to.push(self.mailbox(&format!("email.to[{i}]"), t)?);
                }
                if to.is_empty() && raw.recipient.is_empty() {
                    return Err(ConfigError::Missing {
                        path: self.path.to_path_buf(),
                        message: "[email] needs at least one address in `to`, or a [[recipient]]".into(),
                    });
                }
                let smtp = self.smtp(&e)?;
                let dkim = self.dkim(&e, &from)?;
                Some(Email {
                    delivery: self.delivery(&e)?,
                    from,
                    to,
                    smtp,
                    dkim,
                    subject_prefix: e.subject_prefix.unwrap_or_else(|| "[govwatch]".into()),
                })
            }
        };

        let f = raw.fetch.unwrap_or_default();
        // Site operators who see govwatch in their logs should be able to reach its operator.
        let contact = f
            .contact
            .clone()
            .or_else(|| email.as_ref().map(|e| format!("mailto:{}", e.from.email)));
        let fetch = Fetch {
            user_agent: f.user_agent.unwrap_or_else(|| {
                let version = env!("CARGO_PKG_VERSION");
                match &contact {
                    Some(c) => format!("govwatch/{version} (+https://github.com/govwatch/govwatch; {c})"),
                    None => format!("govwatch/{version} (+https://github.com/govwatch/govwatch)"),
                }
            }),
            timeout: match &f.timeout {
                Some(t) => self.duration("fetch.timeout", t, Max::HOUR)?,
                None => Duration::from_secs(30),
            },
            connect_timeout: match &f.connect_timeout {
                Some(t) => self.duration("fetch.connect_timeout", t, Max::HOUR)?,
                None => Duration::from_secs(10),
            },
            max_body_bytes: match f.max_body_bytes {
                Some(n) if *n.get_ref() < 1024 => {
                    return self.err("fetch.max_body_bytes", n.span(), "must be at least 1024");
                }
                Some(n) => *n.get_ref() as usize,
                None => 16 * 1024 * 1024,
            },
            max_redirects: f.max_redirects.map_or(10, |n| n as usize),
            concurrency: match f.concurrency {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err("fetch.concurrency", n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref() as usize,
                None => 8,
            },
            read_timeout: match &f.read_timeout {
                Some(t) => self.duration("fetch.read_timeout", t, Max::HOUR)?,
                None => Duration::from_secs(20),
            },
            per_host_concurrency: match f.per_host_concurrency {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err("fetch.per_host_concurrency", n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref() as usize,
                None => 1,
            },
            per_host_delay: match &f.per_host_delay {
                Some(t) => self.duration_or_zero("fetch.per_host_delay", t, Max::HOUR)?,
                None => Duration::from_secs(1),
            },
            max_backoff: match &f.max_backoff {
                Some(t) => self.duration("fetch.max_backoff", t, Max::YEAR)?,
                None => Duration::from_secs(86_400),
            },
            robots_ttl: match &f.robots_ttl {
                Some(t) => self.duration("fetch.robots_ttl", t, Max::MONTH)?,
                None => Duration::from_secs(86_400),
            },
        };

        let c = raw.corpus.unwrap_or_default();
        let share = |key: &str, v: Option<Spanned<f64>>, default: f64| match v {
            Some(s) if !(0.0..=1.0).contains(s.get_ref()) || *s.get_ref() == 0.0 => {
                self.err(key, s.span(), "must be a share between 0 (exclusive) and 1")
            }
            Some(s) => Ok(*s.get_ref()),
            None => Ok(default),
        };
        let corpus = CorpusSettings {
            republication_share: share("corpus.republication_share", c.republication_share, 0.8)?,
            quote_share: share("corpus.quote_share", c.quote_share, 0.05)?,
        };
        let t = raw.topics.unwrap_or_default();
        let topics = TopicSettings {
            builtin: t.builtin.unwrap_or(true),
            terms: t.terms.unwrap_or_default(),
        };

        let log = Log {
            level: match raw.log.and_then(|l| l.level) {
                Some(l) => match l.get_ref().trim().to_ascii_lowercase().as_str() {
                    "error" => tracing::Level::ERROR,
                    "warn" => tracing::Level::WARN,
                    "info" => tracing::Level::INFO,
                    "debug" => tracing::Level::DEBUG,
                    "trace" => tracing::Level::TRACE,
                    other => {
                        return self.err(
                            "log.level",
                            l.span(),
                            format!("`{other}` is not a level; use error, warn, info, debug or trace"),
                        );
                    }
                },
                None => tracing::Level::INFO,
            },
        };

        let http = self.http(raw.http)?;

        let raw_daemon = raw.daemon.unwrap_or_default();
        let daemon = Daemon {
            stop_timeout: match &raw_daemon.stop_timeout {
                Some(t) => self.duration("daemon.stop_timeout", t, Max::HOUR)?,
                None => Duration::from_secs(30),
            },
            node: match &raw_daemon.node {
                Some(n) if node_name_ok(n.get_ref().trim()) => n.get_ref().trim().to_string(),
                Some(n) => {
                    return self.err(
                        "daemon.node",
                        n.span(),
                        format!(
                            "`{}` is not a node name: 1 to {NODE_MAX} letters, digits, `.`, `_` or `-`, starting with a letter or digit",
                            n.get_ref()
                        ),
                    );
                }
                None => default_node(),
            },
        };

        let schedule = self.schedule(raw.schedule)?;
        let pdf = self.pdf(raw.pdf.unwrap_or_default())?;

        let mut watches: Vec<Watch> = Vec::new();
        for (i, w) in raw.watch.into_iter().enumerate() {
            let key = |k: &str| format!("watch[{i}].{k}");
            let name = w.name.get_ref().trim().to_string();
            if name.is_empty() {
                return self.err(&key("name"), w.name.span(), "must not be empty");
            }
            if watches.iter().any(|o| o.name == name) {
                return self.err(
                    &key("name"),
                    w.name.span(),
                    format!("`{name}` is used by another watch"),
                );
            }
            let url = Url::parse(w.url.get_ref().trim()).or_else(|e| {
                self.err(
                    &key("url"),
                    w.url.span(),
                    format!("`{}` is not a URL ({e})", w.url.get_ref()),
                )
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return self.err(&key("url"), w.url.span(), "must be an http or https URL");
            }
            let every = match &w.every {
                Some(e) => self.duration(&key("every"), e, Max::YEAR)?,
                None => Duration::from_secs(3600),
            };
            let max_documents = match w.max_documents {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err(&key("max_documents"), n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref() as usize,
                None => 50,
            };
            watches.push(Watch {
                name,
                url,
                kind: w.kind.unwrap_or(WatchKind::Page),
                every,
                max_documents,
                topics: w.topics,
                robots: w.robots.unwrap_or(true),
                tags: w.tags.unwrap_or_default(),
                failing_notice_after: match &w.failing_notice_after {
                    Some(t) => self.duration_or_zero(&key("failing_notice_after"), t, Max::YEAR)?,
                    None => schedule.failing_notice_after,
                },
            });
        }

        if email.is_none()
            && let Some(r) = raw.recipient.first()
        {
            return self.err(
                "recipient[0].address",
                r.address.span(),
                "recipients need an [email] section with `from`",
            );
        }
        let simple = email.as_ref().map(|e| e.to.clone()).unwrap_or_default();
        let recipients = self.recipients(raw.recipient, &simple, &watches)?;
        let feed = self.feed(raw.feed)?;

        Ok(Config {
            recipients,
            feed,
            source: self.path.to_path_buf(),
            storage,
            email,
            fetch,
            corpus,
            topics,
            log,
            http,
            daemon,
            schedule,
            watches,
            pdf,
        })
    }

    fn pdf(&self, raw: raw::RawPdf) -> Result<crate::pdf::Limits, ConfigError> {
        let default = crate::pdf::Limits::default();
        Ok(crate::pdf::Limits {
            timeout: match &raw.timeout {
                Some(t) => self.duration("pdf.timeout", t, Max::HOUR)?,
                None => default.timeout,
            },
            max_pages: match raw.max_pages {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err("pdf.max_pages", n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref() as usize,
                None => default.max_pages,
            },
            max_memory: match raw.max_memory_mib {
                // Poppler itself, and a page's fonts and images, take tens of MiB.
                Some(n) if !(64..=1 << 20).contains(n.get_ref()) => {
                    return self.err(
                        "pdf.max_memory_mib",
                        n.span(),
                        "must be between 64 and 1048576 (1 TiB)",
                    );
                }
                Some(n) => *n.get_ref() * 1024 * 1024,
                None => default.max_memory,
            },
        })
    }
}

/// Under systemd, `StateDirectory=` sets `$STATE_DIRECTORY`; elsewhere the working directory.
fn default_db_path() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        // The variable may list several directories separated by colons; the first is ours.
        Some(dirs) => {
            let first = dirs.to_string_lossy().split(':').next().unwrap_or("").to_string();
            PathBuf::from(first).join("govwatch.db")
        }
        None => PathBuf::from("govwatch.db"),
    }
}

/// Where to look for the config when `--config` is not given.
pub fn default_config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("GOVWATCH_CONFIG") {
        return PathBuf::from(p);
    }
    match std::env::var_os("CONFIGURATION_DIRECTORY") {
        Some(dir) => {
            PathBuf::from(dir.to_string_lossy().split(':').next().unwrap_or("")).join("govwatch.toml")
        }
        None => PathBuf::from("govwatch.toml"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("t.toml"))
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = parse("[storage]\npath = \"x.db\"\n\n[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\nevrey = \"1h\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:7:"), "{e}");
        assert!(e.contains("evrey"), "{e}");
    }

    #[test]
    fn bad_duration_names_key_and_line() {
        let e = parse("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\nevery = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:4"), "{e}");
        assert!(e.contains("watch[0].every"), "{e}");
    }

    #[test]
    fn bad_kind_names_line() {
        let e = parse("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\nkind = \"rss\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:4"), "{e}");
        assert!(e.contains("rss"), "{e}");
    }

    #[test]
    fn duplicate_watch_names_rejected() {
        let e = parse("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\n[[watch]]\nname = \"a\"\nurl = \"https://example.org/b\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:5") && e.contains("watch[1].name"), "{e}");
    }

    #[test]
    fn bad_address_names_key() {
        let e = parse("[email]\nfrom = \"not an address\"\nto = [\"a@example.org\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("email.from") && e.contains("t.toml:2"), "{e}");
    }

    #[test]
    fn bad_log_level_names_key_and_line() {
        let e = parse("[log]\nlevel = \"loud\"\n").unwrap_err().to_string();
        assert!(
            e.contains("t.toml:2") && e.contains("log.level") && e.contains("loud"),
            "{e}"
        );
    }

    #[test]
    fn bad_listen_address_names_key_and_line() {
        let e = parse("[log]\nlevel = \"debug\"\n\n[http]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:5") && e.contains("http.listen"), "{e}");
    }

    #[test]
    fn unknown_http_key_is_rejected() {
        let e = parse("[http]\nport = 9184\n").unwrap_err().to_string();
        assert!(e.contains("t.toml:2") && e.contains("port"), "{e}");
    }

    #[test]
    fn bad_stop_timeout_names_key_and_line() {
        let e = parse("[daemon]\nstop_timeout = \"later\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:2") && e.contains("daemon.stop_timeout"), "{e}");
    }

    /// The node name defaults to the host name; one set by hand must be usable as it is in a
    /// claim holder, a metrics label and a table, and is refused with its key and line if not.
    #[test]
    fn a_node_name_defaults_to_the_host_and_is_checked() {
        let c = parse("").unwrap();
        assert!(node_name_ok(&c.daemon.node), "{}", c.daemon.node);
        let c = parse("[daemon]\nnode = \" alpha-1.example \"\n").unwrap();
        assert_eq!(c.daemon.node, "alpha-1.example");
        for bad in ["", "a:b", "-a", "node name", "a\\\"b", "n".repeat(64).as_str()] {
            let e = parse(&format!("[daemon]\nstop_timeout = \"5s\"\nnode = \"{bad}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("t.toml:3") && e.contains("daemon.node"), "{bad}: {e}");
        }
    }

    #[test]
    fn huge_every_is_an_error_naming_key_line_and_bound() {
        let e = parse("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\nevery = \"10000y\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.toml:4") && e.contains("watch[0].every") && e.contains("at most 1y"),
            "{e}"
        );
        // The bound itself is allowed.
        let c = parse("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\nevery = \"1y\"\n").unwrap();
        assert_eq!(c.watches[0].every, Duration::from_secs(31_557_600));
    }

    #[test]
    fn pdf_limits_default_to_reading_a_white_paper_and_are_checked() {
        let c = parse("").unwrap();
        assert_eq!(c.pdf, crate::pdf::Limits::default());
        let c = parse("[pdf]\ntimeout = \"5s\"\nmax_pages = 300\nmax_memory_mib = 256\n").unwrap();
        assert_eq!(c.pdf.timeout, Duration::from_secs(5));
        assert_eq!((c.pdf.max_pages, c.pdf.max_memory), (300, 256 * 1024 * 1024));
        for (toml, key) in [
            ("[pdf]\nmax_pages = 0\n", "pdf.max_pages"),
            ("[pdf]\nmax_memory_mib = 10\n", "pdf.max_memory_mib"),
        ] {
            let e = parse(toml).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("t.toml:2"), "{e}");
        }
        let e = parse("[pdf]\nmax_memory = 10\n").unwrap_err().to_string();
        assert!(e.contains("max_memory"), "{e}");
    }

    #[test]
    fn every_duration_key_is_bounded() {
        let cases = [
            ("[fetch]\ntimeout = \"2h\"\n", "fetch.timeout", "1h"),
            (
                "[fetch]\nconnect_timeout = \"2h\"\n",
                "fetch.connect_timeout",
                "1h",
            ),
            ("[fetch]\nread_timeout = \"2h\"\n", "fetch.read_timeout", "1h"),
            ("[fetch]\nper_host_delay = \"2h\"\n", "fetch.per_host_delay", "1h"),
            ("[fetch]\nmax_backoff = \"2y\"\n", "fetch.max_backoff", "1y"),
            ("[fetch]\nrobots_ttl = \"60d\"\n", "fetch.robots_ttl", "30d"),
            ("[daemon]\nstop_timeout = \"2h\"\n", "daemon.stop_timeout", "1h"),
            ("[pdf]\ntimeout = \"2h\"\n", "pdf.timeout", "1h"),
            (
                "[schedule]\nrecheck = [\n  { younger_than = \"1d\", every = \"2y\" },\n  { every = \"7d\" },\n]\n",
                "schedule.recheck[0].every",
                "1y",
            ),
            (
                "[schedule]\nrecheck = [\n  { younger_than = \"20y\", every = \"1h\" },\n  { every = \"7d\" },\n]\n",
                "schedule.recheck[0].younger_than",
                "10y",
            ),
            (
                "[email]\nfrom = \"g@example.org\"\nto = [\"a@example.org\"]\nsmtp_url = \"smtp://h\"\ntimeout = \"2h\"\n",
                "email.timeout",
                "1h",
            ),
            (
                "[email]\nfrom = \"g@example.org\"\nto = [\"a@example.org\"]\nretry_after = \"2d\"\n",
                "email.retry_after",
                "1d",
            ),
            (
                "[email]\nfrom = \"g@example.org\"\nto = [\"a@example.org\"]\nretry_max = \"60d\"\n",
                "email.retry_max",
                "30d",
            ),
        ];
        for (toml, key, bound) in cases {
            let e = parse(toml).unwrap_err().to_string();
            let line = toml.lines().count();
            let line = if key.starts_with("schedule") { 3 } else { line };
            assert!(
                e.contains(&format!("t.toml:{line}:"))
                    && e.contains(key)
                    && e.contains(&format!("at most {bound}")),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let e = parse("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\nmax_documents = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.toml:4:") && e.contains("`watch[0].max_documents`") && e.contains("many"),
            "{e}"
        );
        let e = parse("[fetch]\nconcurrency = 2\nrobots_ttl = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:3:") && e.contains("`fetch.robots_ttl`"), "{e}");
        let e = parse("[topics]\nterms = [\"a\", 3]\n").unwrap_err().to_string();
        assert!(e.contains("t.toml:2:") && e.contains("`topics.terms[1]`"), "{e}");
    }

    #[test]
    fn no_watches_is_reported_with_an_example() {
        let c = parse("").unwrap();
        let e = c.require_watches().unwrap_err().to_string();
        assert!(e.contains("no [[watch]]") && e.contains("url = "), "{e}");
        let c = parse("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\n").unwrap();
        assert!(c.require_watches().is_ok());
    }

    #[test]
    fn service_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.log.level, tracing::Level::INFO);
        assert_eq!(c.http.listen, None);
        assert_eq!(c.daemon.stop_timeout, Duration::from_secs(30));
    }

    const MAIL: &str =
        "[email]\nfrom = \"g@example.org\"\n\n[[watch]]\nname = \"w\"\nurl = \"https://example.org/\"\n\n";

    #[test]
    fn bad_cron_names_key_and_line() {
        let e = parse(&format!("{MAIL}[[recipient]]\naddress = \"a@example.org\"\nmode = \"digest\"\nschedule = \"every morning\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.toml:11") && e.contains("recipient[0].schedule"),
            "{e}"
        );
    }

    #[test]
    fn bad_timezone_and_unknown_watch_name_key_and_line() {
        let e = parse(&format!("{MAIL}[[recipient]]\naddress = \"a@example.org\"\nschedule = \"0 7 * * *\"\ntimezone = \"Mars/Olympus\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.toml:11") && e.contains("recipient[0].timezone"),
            "{e}"
        );
        let e = parse(&format!(
            "{MAIL}[[recipient]]\naddress = \"a@example.org\"\nwatches = [\"nope\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.toml:10") && e.contains("recipient[0].watches") && e.contains("nope"),
            "{e}"
        );
    }

    #[test]
    fn digest_needs_a_schedule_and_smtp_url_a_known_tls_mode() {
        let e = parse(&format!(
            "{MAIL}[[recipient]]\naddress = \"a@example.org\"\nmode = \"both\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("recipient[0].schedule") && e.contains("t.toml:10"),
            "{e}"
        );
        let e = parse("[email]\nfrom = \"g@example.org\"\nto = [\"a@example.org\"]\nsmtp_url = \"smtp://h?tls=maybe\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml:4") && e.contains("email.smtp_url"), "{e}");
    }

    #[test]
    fn smtp_url_gives_security_port_and_credentials() {
        let c = parse("[email]\nfrom = \"g@example.org\"\nto = [\"a@example.org\"]\nsmtp_url = \"smtp://me%40x:p%2Fw@mail.example.org?tls=required\"\n").unwrap();
        let s = c.email.unwrap().smtp.unwrap();
        assert_eq!(s.security, SmtpSecurity::StartTlsRequired);
        assert_eq!(s.port, 587);
        assert_eq!(s.credentials, Some(("me@x".into(), "p/w".into())));
        assert!(!s.display.contains("p%2Fw"), "{}", s.display);
    }

    #[test]
    fn example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/govwatch.example.toml");
        let c = Config::load(&path).unwrap();
        assert!(!c.watches.is_empty());
        assert!(c.email.is_some());
        assert_eq!(c.log.level, tracing::Level::INFO);
        assert_eq!(c.http.listen, Some("127.0.0.1:9184".parse().unwrap()));
        assert_eq!(c.daemon.stop_timeout, Duration::from_secs(30));
        // `[email] to` and the [[recipient]]: the desk follows the watch tagged china only.
        assert_eq!(c.recipients.len(), 2);
        let desk = &c.recipients[1];
        assert!(desk.digest.is_some() && !desk.immediate);
        assert!(desk.follows("mfa-documents", &["china".into()]));
        assert!(!desk.follows("scio-white-papers", &[]));
    }

    #[test]
    fn recipients_kinds_default_to_all_but_duplicate_and_unknown_names_are_errors() {
        use crate::model::EventKind;
        let c = parse(&format!(
            "{MAIL}[[recipient]]\naddress = \"a@example.org\"\n\n\
             [[recipient]]\naddress = \"b@example.org\"\nkinds = [\"duplicate\", \"Removed\"]\n"
        ))
        .unwrap();
        assert!(!c.recipients[0].wants(EventKind::Duplicate) && c.recipients[0].wants(EventKind::Removed));
        let b = &c.recipients[1];
        assert!(b.wants(EventKind::Duplicate) && b.wants(EventKind::Removed) && !b.wants(EventKind::New));
        assert!(b.wants(EventKind::Failing), "watch notices go to every follower");
        for (bad, named) in [("dupes", "`dupes`"), ("failing", "watch notices")] {
            let e = parse(&format!(
                "{MAIL}[[recipient]]\naddress = \"a@example.org\"\nkinds = [\"new\", \"{bad}\"]\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("t.toml:10") && e.contains("recipient[0].kinds") && e.contains(named),
                "{e}"
            );
        }
    }

    #[test]
    fn failing_notice_after_defaults_to_a_day_and_a_watch_may_set_its_own() {
        const WATCH: &str = "[[watch]]\nname = \"w\"\nurl = \"https://example.org/\"\n";
        let day = Duration::from_secs(86_400);
        let c = parse(WATCH).unwrap();
        assert_eq!(c.watches[0].failing_notice_after, day);
        let c = parse(&format!("[schedule]\nfailing_notice_after = \"2h\"\n\n{WATCH}")).unwrap();
        assert_eq!(c.watches[0].failing_notice_after, Duration::from_secs(7200));
        let c = parse(
            "[schedule]\nfailing_notice_after = \"2h\"\n\n[[watch]]\nname = \"w\"\nurl = \"https://example.org/\"\nfailing_notice_after = \"0s\"\n",
        )
        .unwrap();
        assert_eq!(c.watches[0].failing_notice_after, Duration::ZERO);
        let e = parse(
            "[[watch]]\nname = \"w\"\nurl = \"https://example.org/\"\nfailing_notice_after = \"soon\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.toml:4") && e.contains("watch[0].failing_notice_after"),
            "{e}"
        );
    }
}
