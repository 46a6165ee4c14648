//! The words the rest of govwatch speaks: event kinds, document roles, corpus candidates, why a
//! check failed, what a check came to, timestamps and the clock. Depends on no other module of the crate,
//! so that every stage (compare, store, check, notify) can use them without depending on another.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A stored word this version of govwatch does not know. Reading one is an error, not a guess:
/// a database written by a newer govwatch must not be misread as something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("unknown event kind `{0}`")]
    EventKind(String),
    #[error("unknown document role `{0}`")]
    DocRole(String),
    #[error("not an RFC 3339 timestamp: `{0}`")]
    Timestamp(String),
}

/// What an event says happened to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A document not seen before whose text is not known.
    New,
    /// A new version of a known document's text.
    Changed,
    /// A new document reproducing most of a known one.
    Republication,
    /// A new document whose text is already known.
    Duplicate,
    /// A new document reproducing passages of known ones.
    Quotes,
    /// A new document that is a known one, edited.
    Revision,
    /// A known document withdrawn: it answered 404 or 410 (or a page-not-found page) on two
    /// checks in a row, or left the listing it was found on and then stopped answering.
    Removed,
    /// A watch's own page or listing has failed for `failing_notice_after`: told once.
    Failing,
    /// A watch that was told to be failing answers again: told once.
    Recovered,
}

impl EventKind {
    /// Every kind, in the order `/metrics` lists them.
    pub const ALL: [EventKind; 9] = [
        EventKind::Changed,
        EventKind::New,
        EventKind::Duplicate,
        EventKind::Republication,
        EventKind::Quotes,
        EventKind::Revision,
        EventKind::Removed,
        EventKind::Failing,
        EventKind::Recovered,
    ];

    /// The kinds about documents: what a recipient's `kinds` may name.
    pub const DOCUMENT_KINDS: [EventKind; 7] = [
        EventKind::New,
        EventKind::Changed,
        EventKind::Revision,
        EventKind::Republication,
        EventKind::Quotes,
        EventKind::Removed,
        EventKind::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Changed => "changed",
            EventKind::Republication => "republication",
            EventKind::Duplicate => "duplicate",
            EventKind::Quotes => "quotes",
            EventKind::Revision => "revision",
            EventKind::Removed => "removed",
            EventKind::Failing => "failing",
            EventKind::Recovered => "recovered",
        }
    }

    /// A notice about a watch (failing, recovered) rather than about a document: told to
    /// everyone who follows the watch, whatever kinds of change they chose.
    pub fn is_watch_notice(self) -> bool {
        matches!(self, EventKind::Failing | EventKind::Recovered)
    }

    /// The kind named `s` on the command line (`changes --kind`), if there is one.
    pub fn from_name(s: &str) -> Option<EventKind> {
        EventKind::parse(s).ok()
    }

    pub fn parse(s: &str) -> Result<EventKind, ModelError> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ModelError::EventKind(s.to_string()))
    }
}

/// A set of event kinds: what a recipient is mailed (`[[recipient]] kinds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KindSet(u16);

impl KindSet {
    /// What is mailed unless a recipient says otherwise: every kind but `duplicate`. A duplicate
    /// is the same text as a known document: not a new or changed position, so it is stored and
    /// listed (`govwatch changes`) but mailed only to those who ask for it.
    pub fn mailed_by_default() -> KindSet {
        EventKind::ALL
            .into_iter()
            .filter(|k| *k != EventKind::Duplicate)
            .collect()
    }

    pub fn with(self, kind: EventKind) -> KindSet {
        KindSet(self.0 | KindSet::bit(kind))
    }

    pub fn contains(self, kind: EventKind) -> bool {
        self.0 & KindSet::bit(kind) != 0
    }

    /// The kinds in the set, in [`EventKind::ALL`]'s order.
    pub fn kinds(self) -> Vec<EventKind> {
        EventKind::ALL.into_iter().filter(|k| self.contains(*k)).collect()
    }

    fn bit(kind: EventKind) -> u16 {
        1 << EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
    }
}

impl FromIterator<EventKind> for KindSet {
    fn from_iter<I: IntoIterator<Item = EventKind>>(iter: I) -> KindSet {
        iter.into_iter().fold(KindSet::default(), KindSet::with)
    }
}

/// What a document is to its watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocRole {
    /// The page of a `kind = "page"` watch.
    Page,
    /// A listing: the page of an `index`, `feed` or `sitemap` watch, or a sitemap named by a
    /// sitemap index.
    Index,
    /// A document linked from an index.
    Document,
}

impl DocRole {
    pub fn as_str(self) -> &'static str {
        match self {
            DocRole::Page => "page",
            DocRole::Index => "index",
            DocRole::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Result<DocRole, ModelError> {
        [DocRole::Page, DocRole::Index, DocRole::Document]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ModelError::DocRole(s.to_string()))
    }
}

/// A known document that shares something with a new text, with what it shares.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub corpus_id: i64,
    /// The file name of an import, or the URL of a stored document.
    pub name: String,
    pub document_id: Option<i64>,
    pub title: Option<String>,
    pub text_hash: String,
    /// Estimated Jaccard resemblance of the two texts' shingle sets.
    pub resemblance: f64,
    /// Fingerprint hashes the two texts share.
    pub shared: Vec<i64>,
    /// The known document's distinct fingerprint count.
    pub fp_count: usize,
    /// Imported by the user (as opposed to a stored page).
    pub imported: bool,
    /// For a stored document, which of its versions this is: every stored version is a
    /// candidate of its own.
    pub version: Option<DocVersion>,
}

/// One stored version of a document, as a candidate source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocVersion {
    /// Its number (1 for the text as first stored).
    pub number: i64,
    /// When it was stored, and the publication date the page gave then, if any.
    pub stored_at: String,
    pub published: Option<String>,
    /// The document's newest version number: the text has changed since if larger.
    pub newest: i64,
}

impl Candidate {
    /// The share of the known document that the new text reproduces.
    pub fn share_of_known(&self) -> f64 {
        if self.fp_count == 0 {
            0.0
        } else {
            (self.shared.len() as f64 / self.fp_count as f64).min(1.0)
        }
    }

    /// The share of the new text (with `my_fps` fingerprints) that is the known document's.
    pub fn share_of_new(&self, my_fps: usize) -> f64 {
        if my_fps == 0 {
            0.0
        } else {
            (self.shared.len() as f64 / my_fps as f64).min(1.0)
        }
    }

    /// The version number, for a stored document's version.
    pub fn version_number(&self) -> Option<i64> {
        self.version.as_ref().map(|v| v.number)
    }
}

/// The largest share of an imported document that a text reproduces.
pub fn imported_share(candidates: &[Candidate]) -> f64 {
    candidates
        .iter()
        .filter(|c| c.imported)
        .map(Candidate::share_of_known)
        .fold(0.0, f64::max)
}

/// Why a check failed, as counted in `govwatch_check_failures_total{reason=...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    Timeout,
    ReadTimeout,
    Closed,
    Reset,
    Connect,
    Status,
    TooLarge,
    Redirects,
    InwardRedirect,
    Body,
    ContentType,
    Blocked,
    /// robots.txt does not allow the page.
    Robots,
    Request,
    BadUrl,
    /// The page was fetched but holds no text that could be extracted.
    Extract,
    /// A PDF with no text layer: a scanned document.
    PdfNoText,
    /// A PDF that needs a password.
    PdfEncrypted,
    /// A PDF whose fonts give no characters (U+FFFD, `(cid:N)`).
    PdfGarbled,
    /// A PDF past `[pdf]`'s limits: pages, time, memory.
    PdfLimit,
    /// A PDF that is truncated or damaged beyond reading.
    PdfDamaged,
    /// Something else (an HTML error page) where a PDF was expected.
    NotPdf,
}

impl FailureReason {
    pub const ALL: [FailureReason; 22] = [
        FailureReason::Timeout,
        FailureReason::ReadTimeout,
        FailureReason::Closed,
        FailureReason::Reset,
        FailureReason::Connect,
        FailureReason::Status,
        FailureReason::TooLarge,
        FailureReason::Redirects,
        FailureReason::InwardRedirect,
        FailureReason::Body,
        FailureReason::ContentType,
        FailureReason::Blocked,
        FailureReason::Robots,
        FailureReason::Request,
        FailureReason::BadUrl,
        FailureReason::Extract,
        FailureReason::PdfNoText,
        FailureReason::PdfEncrypted,
        FailureReason::PdfGarbled,
        FailureReason::PdfLimit,
        FailureReason::PdfDamaged,
        FailureReason::NotPdf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Timeout => "timeout",
            FailureReason::ReadTimeout => "read_timeout",
            FailureReason::Closed => "closed",
            FailureReason::Reset => "reset",
            FailureReason::Connect => "connect",
            FailureReason::Status => "status",
            FailureReason::TooLarge => "too_large",
            FailureReason::Redirects => "redirects",
            FailureReason::InwardRedirect => "inward_redirect",
            FailureReason::Body => "body",
            FailureReason::ContentType => "content_type",
            FailureReason::Blocked => "blocked",
            FailureReason::Robots => "robots",
            FailureReason::Request => "request",
            FailureReason::BadUrl => "bad_url",
            FailureReason::Extract => "extract",
            FailureReason::PdfNoText => "pdf_no_text",
            FailureReason::PdfEncrypted => "pdf_encrypted",
            FailureReason::PdfGarbled => "pdf_garbled",
            FailureReason::PdfLimit => "pdf_limit",
            FailureReason::PdfDamaged => "pdf_damaged",
            FailureReason::NotPdf => "not_pdf",
        }
    }
}

/// What a check came to, as counted in `govwatch_checks_total{outcome=...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckLabel {
    Baseline,
    Unchanged,
    Changed,
    Found,
    Indexed,
    Failed,
    Deferred,
}

impl CheckLabel {
    pub const ALL: [CheckLabel; 7] = [
        CheckLabel::Baseline,
        CheckLabel::Unchanged,
        CheckLabel::Changed,
        CheckLabel::Found,
        CheckLabel::Indexed,
        CheckLabel::Failed,
        CheckLabel::Deferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckLabel::Baseline => "baseline",
            CheckLabel::Unchanged => "unchanged",
            CheckLabel::Changed => "changed",
            CheckLabel::Found => "found",
            CheckLabel::Indexed => "indexed",
            CheckLabel::Failed => "failed",
            CheckLabel::Deferred => "deferred",
        }
    }
}

/// A moment in UTC, to the second: what the database stores as RFC 3339 text. Compared as time,
/// not as text, and with no sentinel strings: "never" is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The last second `time` can hold (9999-12-31T23:59:59Z): where adding saturates.
    pub fn max() -> Timestamp {
        Timestamp::from_datetime(time::PrimitiveDateTime::MAX.assume_utc())
    }

    pub fn from_datetime(t: OffsetDateTime) -> Timestamp {
        let t = t.to_offset(time::UtcOffset::UTC);
        Timestamp(t.replace_nanosecond(0).unwrap_or(t))
    }

    pub fn parse(s: &str) -> Result<Timestamp, ModelError> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Timestamp::from_datetime)
            .map_err(|_| ModelError::Timestamp(s.to_string()))
    }

    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }

    /// `self + d`, or [`Timestamp::max`] past it: an interval (or a server's Retry-After) is not
    /// the place to crash a pass.
    pub fn plus(self, d: Duration) -> Timestamp {
        time::Duration::try_from(d)
            .ok()
            .and_then(|d| self.0.checked_add(d))
            .map_or_else(Timestamp::max, Timestamp::from_datetime)
    }

    /// The same moment for the code that schedules with `chrono` (recipients' time zones).
    pub fn to_chrono(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.0.unix_timestamp(), 0).unwrap_or_default()
    }

    /// How long from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        (self.0 - earlier.0).try_into().unwrap_or(Duration::ZERO)
    }

    /// The same moment from the code that schedules with `chrono` (a digest's cron time).
    pub fn from_chrono(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
        time::OffsetDateTime::from_unix_timestamp(t.timestamp())
            .map_or_else(|_| Timestamp::max(), Timestamp::from_datetime)
    }

    /// Seconds since 1970 (negative before).
    pub fn unix(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// `self - d`, or the first moment RFC 3339 can write (0000-01-01T00:00:00Z) before that:
    /// `--since 3000y` means everything, not a time that cannot be stored or shown.
    pub fn minus(self, d: Duration) -> Timestamp {
        let first = time::Date::from_calendar_date(0, time::Month::January, 1)
            .map_or(self.0, |d| d.midnight().assume_utc());
        time::Duration::try_from(d)
            .ok()
            .and_then(|d| self.0.checked_sub(d))
            .map_or(Timestamp(first), |t| Timestamp::from_datetime(t.max(first)))
    }
}

impl serde::Serialize for Timestamp {
    /// As stored: RFC 3339 text (`changes --json` shows the same string the database holds).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Timestamp, ModelError> {
        Timestamp::parse(s)
    }
}

/// Where time comes from. Passed in from the top (the command line, the daemon) to whatever
/// schedules, so that schedules, backoff, digests and claims are unit-tested without sleeping;
/// the store and the decisions never read a clock of their own.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's clock: the one a running govwatch uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }
}

/// A clock that says what it is told: for tests of schedules, retries and claims.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    pub fn at(t: Timestamp) -> ManualClock {
        ManualClock(std::sync::Mutex::new(t))
    }

    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.plus(d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.format(&Rfc3339).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_event_kind_is_an_error_not_a_duplicate() {
        assert_eq!(
            EventKind::parse("merger"),
            Err(ModelError::EventKind("merger".into()))
        );
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Ok(k));
        }
        assert!(DocRole::parse("pdf").is_err());
    }

    #[test]
    fn duplicates_are_the_one_kind_not_mailed_by_default() {
        let d = KindSet::mailed_by_default();
        for k in EventKind::ALL {
            assert_eq!(d.contains(k), k != EventKind::Duplicate, "{k:?}");
        }
        let mine: KindSet = [EventKind::Duplicate, EventKind::New].into_iter().collect();
        assert_eq!(mine.kinds(), [EventKind::New, EventKind::Duplicate]);
        assert!(!mine.contains(EventKind::Changed));
    }

    #[test]
    fn timestamps_round_trip_saturate_and_order_as_time() {
        let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(
            t.plus(Duration::from_secs(3600)).to_string(),
            "2026-01-01T01:00:00Z"
        );
        assert_eq!(t.plus(Duration::MAX).to_string(), "9999-12-31T23:59:59Z");
        // An offset is the same moment: ordered by time, shown in UTC.
        let later = Timestamp::parse("2026-01-01T01:30:00+01:00").unwrap();
        assert!(later > t);
        assert_eq!(later.to_string(), "2026-01-01T00:30:00Z");
        assert_eq!(later.since(t), Duration::from_secs(1800));
        assert_eq!(t.since(later), Duration::ZERO);
        // Back past year 0 (which RFC 3339 cannot write) is year 0: everything, never a panic.
        assert_eq!(
            t.minus(Duration::from_secs(3600)).to_string(),
            "2025-12-31T23:00:00Z"
        );
        for far in [Duration::from_secs(3000 * 31_557_600), Duration::MAX] {
            assert_eq!(t.minus(far).to_string(), "0000-01-01T00:00:00Z");
        }
    }
}
