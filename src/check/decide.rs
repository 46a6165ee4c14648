//! The decision: given what a check fetched (a page made ready to judge, a 304, the same bytes
//! as last time, a failure or a deferral), what the store knows (the document's row, the
//! corpus's candidates) and `now`, what the check comes to and what to write. A pure function:
//! no database, no network, no clock of its own. The check's one write applies it
//! ([`crate::check::write`]).

use std::time::Duration;

use crate::backoff::Backoff;
use crate::check::Outcome;
use crate::check::prepare::Prepared;
use crate::check::presence::{self, AfterFailure, LastVersion};
use crate::compare::corpus::{self, Source, Verdict};
use crate::compare::sections::{self, Headings, Sections};
use crate::compare::{self, diff, relevance, statements};
use crate::config::{Config, Watch};
use crate::discover::Listed;
use crate::fetch::{FetchError, Validators};
use crate::model::{Candidate, DocRole, DocVersion, EventKind, FailureReason, Timestamp};
use crate::store::{CheckRecord, DocumentRow, NewCorpusEntry, NewEvent, Target};

/// What a check saw, before the decision.
pub enum Seen {
    /// 304: nothing new, and nothing to extract or compare.
    NotModified,
    /// Served byte for byte as last time, with these validators.
    SameBytes(Validators),
    /// A page, made ready to judge, and what the corpus holds for it where judging needs it.
    Page(Box<Prepared>, Option<CorpusView>),
    /// The check failed: why, in a word for metrics and in words for people.
    Failed {
        reason: FailureReason,
        why: String,
        /// The answer said the document is gone: 404, 410, or a page-not-found page.
        gone: bool,
        /// A server's Retry-After, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The host asked for a pause that has not run out: nothing was asked of it.
    Deferred { until: Timestamp, why: String },
}

impl Seen {
    /// A fetch that failed, as the decision sees it.
    pub fn failed(e: &FetchError) -> Seen {
        Seen::Failed {
            reason: e.kind(),
            why: e.to_string(),
            gone: e.says_gone(),
            retry_after: match e {
                FetchError::Status { retry_after, .. } => *retry_after,
                _ => None,
            },
        }
    }
}

/// What the corpus holds for a page: candidates that share something with it and, for a verdict
/// on a newly listed document, what the verdict reads besides.
pub struct CorpusView {
    pub candidates: Vec<Candidate>,
    /// Boxed: a check's outcome is passed around, and this is large.
    pub known: Option<Box<compare::Known>>,
}

/// Everything a decision reads.
pub struct Input<'a> {
    pub config: &'a Config,
    pub doc: &'a DocumentRow,
    pub watch: &'a Watch,
    pub seen: Seen,
    /// A draw in `0.0..1.0` that spreads the retries of documents failing together.
    pub jitter: f64,
    /// The document's newest stored version, where a check that compared nothing needs it: a
    /// failure (a removal is told with it) or a withdrawn document's return.
    pub last: Option<LastVersion>,
}

/// What a check comes to and what to write.
pub struct Decision {
    pub outcome: Outcome,
    pub write: Write,
}

/// What the check's one write does (see [`crate::check::write`]).
pub enum Write {
    /// A good check: the document's state moves, and a new version, its corpus entry, events
    /// and their deliveries are written with it, in one savepoint.
    Check {
        record: Box<CheckRecord>,
        /// The stored version the page was compared with: the result is dropped if the
        /// document is no longer ours or its newest version has changed since (another process
        /// recorded it meanwhile). `None` for a 304 or the same bytes, which compared nothing.
        compared_with: Option<Option<i64>>,
        /// A listing's links, to be added as documents.
        listing: Option<Listing>,
    },
    /// A failed check: the reason is kept and the document is due again at `next_due`; what
    /// the failure says of the document's presence, with the events it makes (a removal, a
    /// watch's failing notice) and who follows the watch.
    Failure {
        reason: FailureReason,
        why: String,
        failures: i64,
        retry_in: Duration,
        next_due: Timestamp,
        presence: Box<AfterFailure>,
        targets: Vec<Target>,
    },
    /// A deferred check: due again when the host's pause ends.
    Defer { until: Timestamp, why: String },
}

/// A listing's links and whether the documents they add are news.
pub struct Listing {
    pub links: Vec<Listed>,
    pub announce: bool,
}

/// The decision on one check. CPU work where a verdict compares texts: run it off the async
/// workers and outside any turn of the store.
pub fn decide(input: Input<'_>, now: Timestamp) -> Decision {
    let Input {
        config,
        doc,
        watch,
        seen,
        jitter,
        last,
    } = input;
    match seen {
        Seen::NotModified => unchanged(config, doc, watch, Validators::default(), last, now),
        Seen::SameBytes(v) => unchanged(config, doc, watch, v, last, now),
        Seen::Deferred { until, why } => Decision {
            outcome: Outcome::Deferred(why.clone()),
            write: Write::Defer { until, why },
        },
        Seen::Failed {
            reason,
            why,
            gone,
            retry_after,
        } => {
            let failures = doc.failures + 1;
            let every = interval(config, doc, watch, None, now);
            let retry_in = retry_wait(every, failures, config.fetch.max_backoff, retry_after, jitter);
            let presence = presence::after_failure(config, doc, watch, gone, &why, last.as_ref(), now);
            let targets = followers(config, watch, presence.events.iter().map(|(e, _)| e), now);
            Decision {
                outcome: Outcome::Failed(why.clone()),
                write: Write::Failure {
                    reason,
                    why,
                    failures,
                    retry_in,
                    next_due: now.plus(retry_in),
                    presence: Box::new(presence),
                    targets,
                },
            }
        }
        Seen::Page(p, corpus) => page(config, doc, watch, *p, corpus, now),
    }
}

/// Who follows `watch`, when there are events to tell them of (see
/// [`crate::store::targets_at`]: each event goes to those who want its kind).
fn followers<'a>(
    config: &Config,
    watch: &Watch,
    mut events: impl Iterator<Item = &'a NewEvent>,
    now: Timestamp,
) -> Vec<Target> {
    match events.next() {
        None => Vec::new(),
        Some(_) => crate::store::targets_at(config, &watch.name, &watch.tags, now),
    }
}

/// A check that found nothing new (a 304, or the same bytes): only the validators (the stored
/// ones are kept where these have none) and the schedule move; a withdrawn document's return
/// and a watch's recovery are told.
fn unchanged(
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    v: Validators,
    last: Option<LastVersion>,
    now: Timestamp,
) -> Decision {
    let next_due = now.plus(interval(config, doc, watch, None, now));
    let (title, text) = last.map_or((None, String::new()), |(m, t)| (m.title, t));
    let back = presence::after_success(doc, watch, title.clone());
    let mut events = Vec::new();
    if let Some(note) = back.restored {
        events.push(presence::restored_event(config, doc, watch, title, &text, note));
    }
    events.extend(back.recovered);
    let targets = followers(config, watch, events.iter(), now);
    Decision {
        outcome: Outcome::Unchanged,
        write: Write::Check {
            record: Box::new(CheckRecord {
                document_id: doc.id,
                etag: v.etag,
                last_modified: v.last_modified,
                next_due_at: next_due,
                snapshot: None,
                corpus: None,
                events,
                targets,
                template_blocks: None,
                body_hash: None,
            }),
            compared_with: None,
            listing: None,
        },
    }
}

/// A fetched page, judged: a listing's links, a new version's changes, or a newly listed
/// document's verdict, with the event it makes.
fn page(
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    p: Prepared,
    corpus: Option<CorpusView>,
    now: Timestamp,
) -> Decision {
    let thresholds = corpus::Thresholds {
        republication_share: config.corpus.republication_share,
        quote_share: config.corpus.quote_share,
    };
    let (candidates, known) = corpus.map_or((Vec::new(), None), |c| (c.candidates, c.known));
    let p = judge(p, doc, &config.topics_for(watch), thresholds, candidates, known);
    let next_due = now.plus(interval(config, doc, watch, p.published.as_deref(), now));

    let mut events = Vec::new();
    let mut listing = None;
    let mut outcome = if p.unchanged {
        Outcome::Unchanged
    } else {
        Outcome::Baseline
    };
    if doc.role == DocRole::Index {
        // The first look at an index is its baseline: the documents it lists then are recorded
        // and fetched, but only documents listed later are news. A sitemap that a sitemap index
        // starts naming later is news all the way down. How many links are new only the store
        // knows: the write counts them.
        listing = Some(Listing {
            links: p.links,
            announce: p.had_previous || doc.announce,
        });
        outcome = Outcome::Indexed { new_links: 0 };
    } else if let (Some(f), Some(rel)) = (p.change, &p.relevance) {
        outcome = match f.kind {
            EventKind::Changed => Outcome::Changed { event: f.has_event },
            kind => Outcome::Found(kind),
        };
        if f.has_event {
            events.push(f.into_event(watch, doc, p.title.clone(), rel));
        }
    }
    tell_presence(config, doc, watch, (p.title.clone(), &p.text), &mut events);
    // A signature is made only for a new version, which has its snapshot.
    let corpus_entry = p
        .signature
        .zip(p.snapshot.as_ref())
        .map(|(signature, s)| NewCorpusEntry {
            title: p.title.clone(),
            words: s.words as usize,
            text_hash: s.text_hash.clone(),
            signature,
            // Earlier versions stay in the corpus beside it: nothing is replaced.
            replaces_fps: Vec::new(),
        });
    let targets = followers(config, watch, events.iter(), now);
    Decision {
        outcome,
        write: Write::Check {
            record: Box::new(CheckRecord {
                document_id: doc.id,
                etag: p.validators.etag,
                last_modified: p.validators.last_modified,
                next_due_at: next_due,
                snapshot: p.snapshot,
                corpus: corpus_entry,
                targets,
                events,
                template_blocks: p.template_blocks,
                body_hash: Some(p.body_hash),
            }),
            compared_with: Some(p.previous_id),
            listing,
        },
    }
}

/// A good check of a page: a withdrawn document's return (said on the version's `changed`
/// event, or told as one when the text is as before) and a watch's recovery.
fn tell_presence(
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    (title, text): (Option<String>, &str),
    events: &mut Vec<NewEvent>,
) {
    let back = presence::after_success(doc, watch, title.clone());
    if let Some(note) = back.restored {
        match events.iter_mut().find(|e| e.kind == EventKind::Changed) {
            Some(e) => {
                if let Some(serde_json::Value::Object(d)) = &mut e.details {
                    d.insert("presence".into(), note);
                }
            }
            None => events.push(presence::restored_event(config, doc, watch, title, text, note)),
        }
    }
    events.extend(back.recovered);
}

/// How long until `doc` is due again after a good check. A watch's own page or listing follows
/// the watch's `every`; a document found on a listing follows `[schedule] recheck` by its age,
/// counted from its publication date when the page gives one, else from when it was found.
pub fn interval(
    config: &Config,
    doc: &DocumentRow,
    watch: &Watch,
    published: Option<&str>,
    now: Timestamp,
) -> Duration {
    if doc.role != DocRole::Document {
        return watch.every;
    }
    let born = published
        .and_then(crate::extract::Published::parse)
        .map(|p| Timestamp::from_datetime(p.first_day().midnight().assume_utc()))
        .or(Some(doc.discovered_at));
    let age = born.map_or(Duration::ZERO, |b| now.since(b));
    config.schedule.recheck_every(age)
}

/// When a document that has failed `failures` times in a row is tried again: its interval
/// doubled per failure after the first, capped at `[fetch] max_backoff` (but never sooner than
/// the interval), with up to a quarter added (`jitter`) so that many documents failing together
/// (a site down) do not all come back in the same second. A server's Retry-After wins if later.
pub fn retry_wait(
    every: Duration,
    failures: i64,
    max: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let rule = Backoff {
        first: every,
        cap: max.max(every),
        jitter: 1.0..=1.25,
    };
    let wait = rule.wait(failures.saturating_sub(1).clamp(0, 20) as u32, jitter);
    retry_after.map_or(wait, |r| wait.max(r))
}

/// The CPU half of judging a prepared page, after the corpus is read: a newly listed document's
/// verdict (for a version of a known text, a diff of the two) and the relevance of what was
/// found.
pub(crate) fn judge(
    mut p: Prepared,
    doc: &DocumentRow,
    topics: &relevance::Topics,
    thresholds: corpus::Thresholds,
    candidates: Vec<Candidate>,
    known: Option<Box<compare::Known>>,
) -> Prepared {
    let Some(sig) = &p.signature else {
        return p;
    };
    if let (None, Some(known)) = (&p.change, known) {
        let traced = known.verdict(&p.text, sig, &candidates, thresholds);
        p.change = Some(Finding::judged(traced, &p.text, &p.headings, topics));
    }
    if p.change.is_some() {
        // Pages the user named are theirs to follow; documents found on listings must concern
        // the topics to be mailed. Quoting an imported document is a topic of its own.
        let corpus_share = crate::model::imported_share(&candidates);
        let mut rel = relevance::score(&p.text, topics, corpus_share);
        if doc.role == DocRole::Page {
            rel.relevant = true;
        }
        p.relevance = Some(rel);
    }
    p
}

/// `change` with each statement's section heading set.
fn located(
    mut change: statements::StatementChange,
    old: &Sections,
    new: &Sections,
) -> statements::StatementChange {
    sections::locate(&mut change, old, new);
    change
}

/// What comparison found about a document, before it becomes an event.
pub struct Finding {
    kind: EventKind,
    has_event: bool,
    source: Option<String>,
    overlap: Option<f64>,
    change: diff::TextChange,
    statements: Option<statements::StatementChange>,
    quoted: Vec<(Source, f64)>,
    changed_share: f64,
    /// The version of a stored document the text reproduces, and what that document has
    /// changed since (its own sentences).
    source_version: Option<DocVersion>,
    since: Option<statements::StatementChange>,
}

impl Finding {
    /// A new version of a watched document.
    pub fn changed(change: diff::TextChange, old: &str, new: &str, headings: &Headings) -> Finding {
        let changed_words: usize = change
            .added
            .iter()
            .chain(&change.removed)
            .map(|s| compare::word_count(s))
            .sum();
        let total = compare::word_count(old).max(compare::word_count(new)).max(1);
        Finding {
            kind: EventKind::Changed,
            has_event: !change.is_empty(),
            source: None,
            overlap: None,
            statements: Some(located(
                statements::classify(&change),
                &Sections::of(old, headings),
                &Sections::of(new, headings),
            )),
            change,
            quoted: Vec::new(),
            changed_share: (changed_words as f64 / total as f64).min(1.0),
            source_version: None,
            since: None,
        }
    }

    /// A newly listed document, judged against the corpus: `headings` are its own, `topics`
    /// what its statements are ranked by.
    fn judged(
        traced: compare::Traced,
        text: &str,
        headings: &Headings,
        topics: &relevance::Topics,
    ) -> Finding {
        let sections = Sections::of(text, headings);
        let mut f = Finding {
            kind: EventKind::New,
            has_event: true,
            source: None,
            overlap: None,
            change: diff::TextChange::default(),
            statements: None,
            quoted: Vec::new(),
            changed_share: 1.0,
            source_version: traced.verdict.source().and_then(|s| s.version.clone()),
            since: traced.since.as_ref().map(statements::classify),
        };
        match traced.verdict {
            Verdict::Duplicate { source, resemblance } => {
                (f.kind, f.source, f.overlap, f.changed_share) =
                    (EventKind::Duplicate, Some(source.name), Some(resemblance), 0.0);
            }
            Verdict::Revision {
                source,
                resemblance,
                change,
            } => {
                f.kind = EventKind::Revision;
                f.source = Some(source.name);
                f.overlap = Some(resemblance);
                // The known text's headings are not at hand: what was removed from it is
                // placed only where this document has the same heading.
                let old = Sections::default();
                f.statements = Some(located(statements::classify(&change), &old, &sections));
                f.changed_share = 1.0 - resemblance;
                f.change = change;
            }
            Verdict::Republication { source, share } => {
                // Only the source is named: the text around it is the republisher's, and none of
                // it is shown as the source's statements.
                (f.kind, f.source, f.overlap, f.changed_share) =
                    (EventKind::Republication, Some(source.name), Some(share), 0.0);
            }
            Verdict::Quotes { sources } => {
                f.kind = EventKind::Quotes;
                f.source = sources.first().map(|(s, _)| s.name.clone());
                f.overlap = sources.first().map(|(_, share)| *share);
                f.quoted = sources;
            }
            Verdict::New => {
                // A new document's position statements are what the analyst reads first, the
                // strongest first: its opening lines are most often a preamble.
                let mut statements: Vec<statements::Statement> = diff::sentences(text)
                    .into_iter()
                    .filter(|s| statements::is_position(s))
                    .map(|s| statements::Statement {
                        heading: sections.heading(&s),
                        text: s,
                        position: true,
                    })
                    .collect();
                statements::strongest_first(&mut statements, topics);
                f.statements = Some(statements::StatementChange {
                    added: statements,
                    ..Default::default()
                });
            }
        }
        f
    }

    /// Which version of its source the text reproduces, in an event's details:
    /// `source_version` (its number), `source_version_date` (for the first version the
    /// publication date the page gave, else when it was stored), `source_newest_version`, and
    /// `source_changed_since` (the source's statements changed since, when it has changed).
    fn version_details(&self, details: &mut serde_json::Map<String, serde_json::Value>) {
        let Some(v) = &self.source_version else { return };
        details.insert("source_version".into(), v.number.into());
        let date = match v.number {
            1 => v.published.clone().unwrap_or_else(|| v.stored_at.clone()),
            _ => v.stored_at.clone(),
        };
        details.insert("source_version_date".into(), date.into());
        details.insert("source_newest_version".into(), v.newest.into());
        if let Some(since) = &self.since {
            details.insert(
                "source_changed_since".into(),
                serde_json::to_value(since).unwrap_or_default(),
            );
        }
    }

    fn into_event(
        self,
        watch: &Watch,
        doc: &DocumentRow,
        title: Option<String>,
        rel: &relevance::Relevance,
    ) -> NewEvent {
        let positions = self.statements.as_ref().map_or(0, |s| s.positions_affected());
        let join = |v: &[String]| (!v.is_empty()).then(|| v.join("\n"));
        let mut details = serde_json::Map::new();
        if let Some(st) = &self.statements {
            details.insert("statements".into(), serde_json::to_value(st).unwrap_or_default());
        }
        if !self.quoted.is_empty() {
            let q: Vec<_> = self
                .quoted
                .iter()
                .map(|(s, share)| {
                    let mut q = serde_json::json!({ "source": s.name, "share": share });
                    if let Some(v) = &s.version {
                        q["source_version"] = v.number.into();
                    }
                    q
                })
                .collect();
            details.insert("quotes".into(), q.into());
        }
        self.version_details(&mut details);
        details.insert("topics".into(), rel.terms.clone().into());
        details.insert("relevance".into(), rel.score.into());
        NewEvent {
            kind: self.kind,
            watch: watch.name.clone(),
            url: doc.url.clone(),
            title,
            source: self.source,
            overlap: self.overlap,
            added: join(&self.change.added),
            removed: join(&self.change.removed),
            relevant: rel.relevant,
            significance: compare::significance(self.kind, rel.score, positions, self.changed_share),
            details: Some(details.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The decision, without a database, a server or a clock: each test builds what a check
    //! would have fetched and read, and looks at what would be written.

    use std::collections::HashSet;
    use std::path::Path;

    use super::*;
    use crate::check::parse::Parsed;
    use crate::check::prepare::{Basis, prepare};
    use crate::fetch::Page;
    use crate::similarity::Signature;
    use crate::store::SnapshotMeta;

    const CONFIG: &str = "[topics]\nterms = [\"sovereignty\"]\n\n\
        [[watch]]\nname = \"w\"\nurl = \"https://example.org/list\"\nkind = \"index\"\nevery = \"1h\"\n\n\
        [[watch]]\nname = \"p\"\nurl = \"https://example.org/page\"\nevery = \"1h\"\n";

    fn config() -> Config {
        Config::parse(CONFIG, Path::new("t.toml")).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-30T12:00:00Z").unwrap()
    }

    fn doc(role: DocRole, announce: bool) -> DocumentRow {
        DocumentRow {
            id: 7,
            url: "https://example.org/doc".into(),
            watch: "w".into(),
            role,
            announce,
            etag: None,
            last_modified: None,
            last_checked_at: None,
            last_changed_at: None,
            next_due_at: None,
            failures: 0,
            last_error: None,
            discovered_at: Timestamp::parse("2026-11-30T00:00:00Z").unwrap(),
            lastmod: None,
            body_hash: None,
            presence: Default::default(),
        }
    }

    fn page(body: &str) -> Page {
        Page {
            status: 200,
            url: url::Url::parse("https://example.org/doc").unwrap(),
            content_type: Some("text/html".into()),
            validators: Validators {
                etag: Some("\"v2\"".into()),
                last_modified: None,
            },
            body: body.as_bytes().to_vec(),
        }
    }

    /// A page whose text is `blocks`, as extraction would give it.
    fn parsed(blocks: &[&str]) -> Parsed {
        let mut p = Parsed::listing(page(&blocks.join("\n")), "utf-8", Vec::new());
        p.blocks = blocks.iter().map(|b| b.to_string()).collect();
        p.title = Some("A paper".into());
        p
    }

    fn stored(text: &str) -> (SnapshotMeta, String) {
        let meta = SnapshotMeta {
            id: 41,
            version: 1,
            fetched_at: "2026-11-29T12:00:00Z".into(),
            text_hash: compare::text_hash(text),
            title: None,
            published: None,
            lang: None,
            words: 0,
        };
        (meta, text.to_string())
    }

    fn decide_page(
        d: &DocumentRow,
        p: Parsed,
        previous: Option<&str>,
        template: HashSet<i64>,
        corpus: Option<CorpusView>,
    ) -> Decision {
        let host = (d.role != DocRole::Index).then(|| "example.org".to_string());
        let basis = Basis {
            template,
            previous: previous.map(stored),
            previous_body: None,
        };
        let prepared = prepare(p, basis, host);
        let c = config();
        let watch = if d.role == DocRole::Page {
            &c.watches[1]
        } else {
            &c.watches[0]
        };
        decide(
            Input {
                config: &c,
                doc: d,
                watch,
                seen: Seen::Page(Box::new(prepared), corpus),
                jitter: 0.0,
                last: None,
            },
            now(),
        )
    }

    fn settled(d: &DocumentRow, seen: Seen, jitter: f64) -> Decision {
        let c = config();
        decide(
            Input {
                config: &c,
                doc: d,
                watch: &c.watches[1],
                seen,
                jitter,
                last: None,
            },
            now(),
        )
    }

    fn record(d: &Decision) -> &CheckRecord {
        match &d.write {
            Write::Check { record, .. } => record,
            _ => panic!("not a good check"),
        }
    }

    fn paper() -> Vec<String> {
        (0..40)
            .map(|i| format!("States should respect the sovereignty of data number {i} and refrain from unilateral measures {i}."))
            .collect()
    }

    fn commentary(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("Analyst remark {i} on what point {i} means for business."))
            .collect()
    }

    /// What the corpus would hold for `text` if it knew `known` (one imported file).
    fn corpus_view(text: &str, known: &str, exact: bool) -> CorpusView {
        let (mine, ks) = (Signature::of(text), Signature::of(known));
        let candidate = Candidate {
            corpus_id: 1,
            name: "paper.txt".into(),
            document_id: None,
            title: None,
            text_hash: compare::text_hash(known),
            resemblance: crate::similarity::resemblance(&mine.minhash, &ks.minhash),
            shared: ks
                .fp_set
                .iter()
                .filter(|h| mine.fp_set.binary_search(h).is_ok())
                .copied()
                .collect(),
            fp_count: ks.fp_set.len(),
            imported: true,
            version: None,
        };
        let exact = exact.then(|| Source::of(&candidate));
        let version_of = match exact {
            None if corpus::same_document(std::slice::from_ref(&candidate), mine.fp_set.len()).is_some() => {
                Some((1, known.to_string()))
            }
            _ => None,
        };
        CorpusView {
            candidates: vec![candidate],
            known: Some(Box::new(compare::Known::new(exact, version_of))),
        }
    }

    fn joined(blocks: &[String]) -> String {
        compare::normalize(&blocks.join("\n\n"))
    }

    /// A newly listed document made of `blocks`, judged against a corpus that knows `known`.
    fn found(blocks: &[String], known: &[String], exact: bool) -> Decision {
        let refs: Vec<&str> = blocks.iter().map(String::as_str).collect();
        // A newly listed document is always judged: against an empty corpus, it is new.
        let view = match known.is_empty() {
            true => Some(CorpusView {
                candidates: Vec::new(),
                known: Some(Box::default()),
            }),
            false => Some(corpus_view(&joined(blocks), &joined(known), exact)),
        };
        decide_page(
            &doc(DocRole::Document, true),
            parsed(&refs),
            None,
            HashSet::new(),
            view,
        )
    }

    fn kind_of(d: &Decision) -> EventKind {
        match d.outcome {
            Outcome::Found(k) => k,
            ref o => panic!("{o:?}"),
        }
    }

    #[test]
    fn a_first_look_is_a_baseline_with_its_snapshot_and_corpus_entry_and_no_event() {
        let d = decide_page(
            &doc(DocRole::Page, false),
            parsed(&["One text.", "Two."]),
            None,
            HashSet::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::Baseline);
        let r = record(&d);
        assert!(r.snapshot.is_some() && r.corpus.is_some() && r.events.is_empty());
        assert_eq!(r.etag.as_deref(), Some("\"v2\""));
        assert_eq!(r.next_due_at.to_string(), "2026-11-30T13:00:00Z");
        assert!(matches!(
            d.write,
            Write::Check {
                compared_with: Some(None),
                ..
            }
        ));
    }

    #[test]
    fn the_same_text_is_unchanged_and_writes_no_version() {
        let d = decide_page(
            &doc(DocRole::Page, false),
            parsed(&["One text.", "Two."]),
            Some("One text.\n\nTwo."),
            HashSet::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::Unchanged);
        assert!(record(&d).snapshot.is_none() && record(&d).events.is_empty());
        assert!(matches!(
            d.write,
            Write::Check {
                compared_with: Some(Some(41)),
                ..
            }
        ));
    }

    #[test]
    fn a_changed_sentence_is_a_changed_event_routed_to_its_recipients() {
        let old = paper().join("\n\n");
        let mut new = paper();
        new[3] = "States should never respect anything number 3.".into();
        let refs: Vec<&str> = new.iter().map(String::as_str).collect();
        let d = decide_page(
            &doc(DocRole::Page, false),
            parsed(&refs),
            Some(&old),
            HashSet::new(),
            None,
        );
        assert_eq!(d.outcome, Outcome::Changed { event: true });
        let r = record(&d);
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].kind, EventKind::Changed);
        assert!(r.events[0].relevant, "a page watched by name is relevant");
        assert!(r.events[0].added.as_deref().unwrap().contains("never respect"));
        // The earlier version keeps its corpus entry: the new one replaces nothing.
        assert!(r.corpus.as_ref().unwrap().replaces_fps.is_empty());
    }

    #[test]
    fn a_change_only_to_the_sites_template_is_no_change() {
        // The old version had a block that has since turned out to be the site's boilerplate.
        let boiler = "Share this page on social media";
        let template: HashSet<i64> = crate::template::candidate_keys([boiler]).into_iter().collect();
        let old = format!("{boiler}\n\nThe position.\n\nIts reasons.");
        let d = decide_page(
            &doc(DocRole::Page, false),
            parsed(&["The position.", "Its reasons."]),
            Some(&old),
            template,
            None,
        );
        assert_eq!(d.outcome, Outcome::Unchanged);
        assert!(record(&d).events.is_empty());
    }

    #[test]
    fn every_verdict_on_a_newly_listed_document() {
        let p = paper();
        assert_eq!(kind_of(&found(&p, &[], false)), EventKind::New);
        assert_eq!(kind_of(&found(&p, &p, true)), EventKind::Duplicate);
        let mut edited = p.clone();
        edited[7] = "States should respect the sovereignty of data number 7 and never refrain from unilateral measures 7.".into();
        assert_eq!(kind_of(&found(&edited, &p, false)), EventKind::Revision);
        let wrapped: Vec<String> = commentary(30)
            .into_iter()
            .chain(p.clone())
            .chain(commentary(30))
            .collect();
        assert_eq!(kind_of(&found(&wrapped, &p, false)), EventKind::Republication);
        let quoting: Vec<String> = commentary(60)
            .into_iter()
            .chain(p[..14].iter().cloned())
            .chain(commentary(30))
            .collect();
        assert_eq!(kind_of(&found(&quoting, &p, false)), EventKind::Quotes);
        let d = found(&p, &[], false);
        let r = record(&d);
        assert_eq!(r.events.len(), 1);
        assert!(r.events[0].significance > 0.0 && r.events[0].details.is_some());
        assert!(r.targets.is_empty(), "no recipients in this config");
    }

    #[test]
    fn an_index_first_look_lists_quietly_and_later_looks_announce() {
        let links = vec![crate::discover::Listed::document(
            url::Url::parse("https://example.org/a").unwrap(),
        )];
        let index = |p: &mut Parsed| p.links = links.clone();
        let mut first = parsed(&["https://example.org/a"]);
        index(&mut first);
        let d = decide_page(&doc(DocRole::Index, false), first, None, HashSet::new(), None);
        assert_eq!(d.outcome, Outcome::Indexed { new_links: 0 });
        match &d.write {
            Write::Check {
                listing: Some(l),
                record,
                ..
            } => {
                assert!(!l.announce, "a first look is a baseline");
                assert_eq!(l.links.len(), 1);
                assert!(record.corpus.is_none() && record.template_blocks.is_none());
            }
            _ => panic!("no listing"),
        }
        let mut later = parsed(&["https://example.org/a", "https://example.org/b"]);
        index(&mut later);
        let d = decide_page(
            &doc(DocRole::Index, false),
            later,
            Some("https://example.org/a"),
            HashSet::new(),
            None,
        );
        assert!(matches!(&d.write, Write::Check { listing: Some(l), .. } if l.announce));
    }

    #[test]
    fn a_304_moves_only_the_schedule_and_keeps_the_validators() {
        let d = settled(&doc(DocRole::Page, false), Seen::NotModified, 0.0);
        assert_eq!(d.outcome, Outcome::Unchanged);
        let r = record(&d);
        assert!(r.snapshot.is_none() && r.body_hash.is_none() && r.etag.is_none());
        assert_eq!(r.next_due_at.to_string(), "2026-11-30T13:00:00Z");
        assert!(matches!(
            d.write,
            Write::Check {
                compared_with: None,
                ..
            }
        ));
    }

    #[test]
    fn a_failure_is_retried_after_the_interval_and_a_retry_after_wins_if_later() {
        let seen = |retry_after| Seen::Failed {
            reason: FailureReason::Status,
            why: "HTTP 503".into(),
            gone: false,
            retry_after,
        };
        let d = settled(&doc(DocRole::Page, false), seen(None), 0.0);
        assert_eq!(d.outcome, Outcome::Failed("HTTP 503".into()));
        match d.write {
            Write::Failure {
                reason,
                failures,
                next_due,
                ..
            } => {
                assert_eq!((reason, failures), (FailureReason::Status, 1));
                assert_eq!(next_due.to_string(), "2026-11-30T13:00:00Z");
            }
            _ => panic!("not a failure"),
        }
        let d = settled(
            &doc(DocRole::Page, false),
            seen(Some(Duration::from_secs(3 * 3600))),
            0.0,
        );
        assert!(
            matches!(d.write, Write::Failure { next_due, .. } if next_due.to_string() == "2026-11-30T15:00:00Z")
        );
    }

    #[test]
    fn failures_in_a_row_back_off_up_to_the_cap() {
        let mut d = doc(DocRole::Page, false);
        d.failures = 2;
        let wait = |d: &DocumentRow, jitter| match settled(
            d,
            Seen::Failed {
                reason: FailureReason::Timeout,
                why: "t".into(),
                gone: false,
                retry_after: None,
            },
            jitter,
        )
        .write
        {
            Write::Failure { retry_in, .. } => retry_in,
            _ => panic!(),
        };
        assert_eq!(wait(&d, 0.0), Duration::from_secs(4 * 3600));
        assert_eq!(wait(&d, 1.0), Duration::from_secs(5 * 3600));
        d.failures = 50;
        let cap = config().fetch.max_backoff;
        assert_eq!(wait(&d, 0.0), cap);
        assert_eq!(wait(&d, 1.0), cap.mul_f64(1.25));
    }

    #[test]
    fn a_deferral_writes_the_hosts_pause_and_nothing_else() {
        let d = settled(
            &doc(DocRole::Page, false),
            Seen::Deferred {
                until: Timestamp::parse("2026-11-30T14:00:00Z").unwrap(),
                why: "Retry-After".into(),
            },
            0.0,
        );
        assert_eq!(d.outcome, Outcome::Deferred("Retry-After".into()));
        assert!(matches!(d.write, Write::Defer { until, .. } if until.to_string() == "2026-11-30T14:00:00Z"));
    }
}

#[cfg(test)]
mod presence_tests {
    //! Withdrawals, returns and a watch's notices, as decided: each test gives the decision the
    //! document's state as the store would hold it and looks at the events it makes.

    use std::path::Path;

    use super::*;
    use crate::store::{Presence, SnapshotMeta};

    const CONFIG: &str = "[topics]\nterms = [\"sovereignty\"]\n\n\
        [[watch]]\nname = \"w\"\nurl = \"https://example.org/list\"\nkind = \"index\"\nevery = \"1h\"\n\n\
        [[watch]]\nname = \"p\"\nurl = \"https://example.org/page\"\nevery = \"1h\"\n";

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn now() -> Timestamp {
        ts("2026-11-30T12:00:00Z")
    }

    fn doc(role: DocRole, url: &str, failures: i64, presence: Presence) -> DocumentRow {
        DocumentRow {
            id: 7,
            url: url.into(),
            watch: "p".into(),
            role,
            announce: false,
            etag: None,
            last_modified: None,
            last_checked_at: None,
            last_changed_at: None,
            next_due_at: None,
            failures,
            last_error: None,
            discovered_at: ts("2026-11-01T00:00:00Z"),
            lastmod: None,
            body_hash: None,
            presence,
        }
    }

    fn page(failures: i64, presence: Presence) -> DocumentRow {
        doc(DocRole::Page, "https://example.org/page", failures, presence)
    }

    fn last() -> LastVersion {
        let meta = SnapshotMeta {
            id: 41,
            version: 3,
            fetched_at: "2026-11-29T12:00:00Z".into(),
            text_hash: "h".into(),
            title: Some("Position paper on data".into()),
            published: Some("2026-05-25".into()),
            lang: None,
            words: 20,
        };
        let text = "States should respect the sovereignty of data of other states in every case.\n\n\
                    Unilateral measures must never be taken against another country's data."
            .to_string();
        (meta, text)
    }

    fn decide_seen(d: &DocumentRow, seen: Seen, last: Option<LastVersion>, at: Timestamp) -> Decision {
        let c = Config::parse(CONFIG, Path::new("t.toml")).unwrap();
        let watch = match d.role {
            DocRole::Page => &c.watches[1],
            _ => &c.watches[0],
        };
        decide(
            Input {
                config: &c,
                doc: d,
                watch,
                seen,
                jitter: 0.0,
                last,
            },
            at,
        )
    }

    fn status(code: u16) -> Seen {
        Seen::Failed {
            reason: FailureReason::Status,
            why: format!("HTTP {code}"),
            gone: matches!(code, 404 | 410),
            retry_after: None,
        }
    }

    /// The failure's presence part: what it marks and the events it makes.
    fn failure(d: &DocumentRow, seen: Seen, last: Option<LastVersion>) -> AfterFailure {
        match decide_seen(d, seen, last, now()).write {
            Write::Failure { presence, .. } => *presence,
            _ => panic!("not a failure"),
        }
    }

    fn kinds(a: &AfterFailure) -> Vec<EventKind> {
        a.events.iter().map(|(e, _)| e.kind).collect()
    }

    fn good_check_events(d: &DocumentRow, last: Option<LastVersion>) -> Vec<NewEvent> {
        match decide_seen(d, Seen::NotModified, last, now()).write {
            Write::Check { record, .. } => record.events,
            _ => panic!("not a good check"),
        }
    }

    #[test]
    fn one_404_is_no_removal_and_the_second_in_a_row_is_one_removed_event_with_the_last_title_and_date() {
        let first = failure(&page(0, Presence::default()), status(404), Some(last()));
        assert!(first.gone && !first.removed && first.events.is_empty());

        let once = Presence {
            gone_checks: 1,
            failing_since: Some(ts("2026-11-30T11:00:00Z")),
            ..Presence::default()
        };
        let second = failure(&page(1, once.clone()), status(404), Some(last()));
        assert!(second.removed);
        assert_eq!(kinds(&second), [EventKind::Removed]);
        let (e, snapshot) = &second.events[0];
        assert_eq!(*snapshot, Some(41), "about the last stored version");
        assert_eq!(e.title.as_deref(), Some("Position paper on data"));
        assert!(e.relevant, "a page watched by name");
        let note = e.details.as_ref().unwrap()["presence"]["note"].as_str().unwrap();
        assert!(
            note.contains("HTTP 404 on 2 checks in a row") && note.contains("2026-05-25"),
            "{note}"
        );
        // The statements that went are told like the removed lines of a change.
        let removed = &e.details.as_ref().unwrap()["statements"]["removed"];
        assert_eq!(removed.as_array().unwrap().len(), 2, "{removed}");

        // A 410 counts the same.
        assert!(failure(&page(1, once), status(410), Some(last())).removed);
    }

    #[test]
    fn a_withdrawal_is_told_once_while_it_stays_gone() {
        let gone = Presence {
            gone_checks: 2,
            removed_at: Some(ts("2026-11-30T10:00:00Z")),
            failing_since: Some(ts("2026-11-30T09:00:00Z")),
            ..Presence::default()
        };
        let third = failure(&page(2, gone), status(404), Some(last()));
        assert!(!third.removed && third.events.is_empty());
    }

    #[test]
    fn a_flapping_page_or_another_failure_in_between_makes_no_removal() {
        // 200, 404, 200, 404: each good check starts the count again (the store resets it).
        let after_a_200 = failure(&page(0, Presence::default()), status(404), Some(last()));
        assert!(after_a_200.events.is_empty());
        // 404, 500, 404: not two in a row either.
        let once = Presence {
            gone_checks: 1,
            ..Presence::default()
        };
        let a_500 = failure(&page(1, once), status(500), Some(last()));
        assert!(
            !a_500.gone && a_500.events.is_empty(),
            "a 500 ends the run of 404s"
        );
        let again = failure(&page(2, Presence::default()), status(404), Some(last()));
        assert!(again.events.is_empty());
    }

    #[test]
    fn a_document_that_left_its_listing_is_removed_when_it_then_stops_answering() {
        let url = "https://example.org/doc";
        let unlisted = Presence {
            unlisted_at: Some(ts("2026-11-30T06:00:00Z")),
            ..Presence::default()
        };
        let timeout = || Seen::Failed {
            reason: FailureReason::Timeout,
            why: "timed out".into(),
            gone: false,
            retry_after: None,
        };
        // One timeout is not "stopped answering"...
        let d = doc(DocRole::Document, url, 0, unlisted.clone());
        assert!(failure(&d, timeout(), Some(last())).events.is_empty());
        // ...the second failure in a row is, and so is the first answer that says it is gone.
        let d = doc(DocRole::Document, url, 1, unlisted.clone());
        let twice = failure(&d, timeout(), Some(last()));
        assert_eq!(kinds(&twice), [EventKind::Removed]);
        let note = twice.events[0].0.details.as_ref().unwrap()["presence"]["note"].to_string();
        assert!(note.contains("left the listing"), "{note}");
        let d = doc(DocRole::Document, url, 0, unlisted);
        assert_eq!(
            kinds(&failure(&d, status(404), Some(last()))),
            [EventKind::Removed]
        );
        // Still listed: one 404 is nothing yet.
        let d = doc(DocRole::Document, url, 0, Presence::default());
        assert!(failure(&d, status(404), Some(last())).events.is_empty());
    }

    #[test]
    fn only_a_known_document_is_removed_and_never_a_listing() {
        let twice = Presence {
            gone_checks: 1,
            ..Presence::default()
        };
        // Never stored: a failure, not a withdrawal.
        assert!(
            failure(&page(1, twice.clone()), status(404), None)
                .events
                .is_empty()
        );
        let listing = doc(DocRole::Index, "https://example.org/list", 1, twice);
        assert!(!failure(&listing, status(404), Some(last())).removed);
    }

    #[test]
    fn a_withdrawn_document_that_returns_with_the_same_text_is_a_changed_event_that_says_so() {
        let removed = Presence {
            removed_at: Some(ts("2026-11-29T10:00:00Z")),
            gone_checks: 2,
            ..Presence::default()
        };
        let events = good_check_events(&page(0, removed), Some(last()));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Changed);
        assert_eq!(events[0].title.as_deref(), Some("Position paper on data"));
        let p = &events[0].details.as_ref().unwrap()["presence"];
        assert_eq!(p["restored"], true);
        assert!(p["note"].as_str().unwrap().contains("2026-11-29"), "{p}");
        // Present all along: a 304 is nothing.
        assert!(good_check_events(&page(0, Presence::default()), Some(last())).is_empty());
    }

    #[test]
    fn a_watch_failing_past_its_threshold_is_told_once_and_its_recovery_once() {
        let failing = |since: &str, noticed| Presence {
            failing_since: Some(ts(since)),
            failing_noticed: noticed,
            ..Presence::default()
        };
        let error = || status(503);
        // Failing for an hour: not yet (the default is a day).
        let hour = failure(&page(3, failing("2026-11-30T11:00:00Z", false)), error(), None);
        assert!(hour.events.is_empty() && !hour.failing_noticed);
        assert_eq!(hour.failing_since.to_string(), "2026-11-30T11:00:00Z");
        // Failing for 25 hours: one notice.
        let day = failure(&page(9, failing("2026-11-29T11:00:00Z", false)), error(), None);
        assert_eq!(kinds(&day), [EventKind::Failing]);
        assert!(day.failing_noticed && day.events[0].0.relevant);
        let note = day.events[0].0.details.as_ref().unwrap()["presence"]["note"].to_string();
        assert!(
            note.contains("2026-11-29T11:00:00Z") && note.contains("HTTP 503"),
            "{note}"
        );
        // Told already: nothing more while it keeps failing.
        let later = failure(&page(10, failing("2026-11-29T11:00:00Z", true)), error(), None);
        assert!(later.events.is_empty() && later.failing_noticed);
        // A first failure starts the run now.
        let first = failure(&page(0, Presence::default()), error(), None);
        assert_eq!(first.failing_since, now());
        // The next good check: one recovery notice.
        let back = good_check_events(&page(0, failing("2026-11-29T11:00:00Z", true)), None);
        assert_eq!(
            back.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [EventKind::Recovered]
        );
        // A document the watch found is not the watch.
        let found = doc(
            DocRole::Document,
            "https://example.org/doc",
            9,
            failing("2026-11-20T00:00:00Z", false),
        );
        assert!(failure(&found, error(), None).events.is_empty());
    }
}
