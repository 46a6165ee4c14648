//! The TOML file as written: every table rejects unknown keys, values keep their spans so that
//! validation can name the line.

use serde::Deserialize;
use toml::Spanned;

use super::WatchKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub storage: Option<RawStorage>,
    pub email: Option<RawEmail>,
    pub fetch: Option<RawFetch>,
    pub corpus: Option<RawCorpus>,
    pub topics: Option<RawTopics>,
    pub log: Option<RawLog>,
    pub http: Option<RawHttp>,
    pub daemon: Option<RawDaemon>,
    pub schedule: Option<RawSchedule>,
    pub feed: Option<RawFeed>,
    pub pdf: Option<RawPdf>,
    #[serde(default)]
    pub watch: Vec<RawWatch>,
    #[serde(default)]
    pub recipient: Vec<RawRecipient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub path: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    pub from: Option<Spanned<String>>,
    pub to: Option<Vec<Spanned<String>>>,
    pub smtp_url: Option<Spanned<String>>,
    pub subject_prefix: Option<String>,
    pub tls_ca: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub pool_size: Option<Spanned<u32>>,
    pub dkim_selector: Option<Spanned<String>>,
    pub dkim_key: Option<Spanned<String>>,
    pub retry_after: Option<Spanned<String>>,
    pub retry_max: Option<Spanned<String>>,
    pub max_attempts: Option<Spanned<u32>>,
    pub max_items: Option<Spanned<u32>>,
    pub max_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFetch {
    pub user_agent: Option<String>,
    pub timeout: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub max_body_bytes: Option<Spanned<u64>>,
    pub max_redirects: Option<u32>,
    pub concurrency: Option<Spanned<u32>>,
    pub contact: Option<String>,
    pub read_timeout: Option<Spanned<String>>,
    pub per_host_concurrency: Option<Spanned<u32>>,
    pub per_host_delay: Option<Spanned<String>>,
    pub max_backoff: Option<Spanned<String>>,
    pub robots_ttl: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPdf {
    pub timeout: Option<Spanned<String>>,
    pub max_pages: Option<Spanned<u32>>,
    pub max_memory_mib: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub recheck: Option<Spanned<Vec<RawRecheck>>>,
    pub failing_notice_after: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecheck {
    pub younger_than: Option<Spanned<String>>,
    pub every: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCorpus {
    pub republication_share: Option<Spanned<f64>>,
    pub quote_share: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopics {
    pub builtin: Option<bool>,
    pub terms: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    pub kind: Option<WatchKind>,
    pub every: Option<Spanned<String>>,
    pub max_documents: Option<Spanned<u32>>,
    pub topics: Option<Vec<String>>,
    pub robots: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub failing_notice_after: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: Option<Spanned<String>>,
    pub public_url: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub user: Option<Vec<RawHttpUser>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpUser {
    pub name: Spanned<String>,
    pub password_hash: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub stop_timeout: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecipient {
    pub address: Spanned<String>,
    pub watches: Option<Vec<Spanned<String>>>,
    pub tags: Option<Vec<String>>,
    pub mode: Option<Spanned<String>>,
    pub schedule: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub webhook: Option<Spanned<String>>,
    pub kinds: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub path: Option<String>,
    pub max_entries: Option<Spanned<u32>>,
    pub link: Option<String>,
}
