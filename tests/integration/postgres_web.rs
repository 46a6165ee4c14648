//! The web pages' queries and search on PostgreSQL give what they give on SQLite: one database
//! is written through the SQLite store (documents, versions, events, failures, triage marks,
//! imported corpus files), copied to the real server at 127.0.0.1:5432 as `govwatch store copy`
//! copies it, and every query of src/store/web.rs and src/store/search.rs is asked of both.
//!
//! Each test works in a schema of its own (tests/integration/postgres.rs), dropped afterwards.
//! Without a server the tests say on the terminal that they did not run, and fail with
//! GOVWATCH_REQUIRE_POSTGRES=1.

use std::time::Duration;

use govwatch::config::PostgresUrl;
use govwatch::corpus_import;
use govwatch::model::{DocRole, EventKind, Timestamp};
use govwatch::store::{
    CheckRecord, FailureRecord, NewEvent, NewSnapshot, PgStore, SearchFilter, Store, phrase,
};

use crate::common::pg::{Schema, admin};

fn t0() -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
}

fn at(minutes: u64) -> Timestamp {
    t0().plus(Duration::from_secs(60 * minutes))
}

fn check(document_id: i64, text: &str, title: &str, events: Vec<NewEvent>, now: Timestamp) -> CheckRecord {
    let mut snapshot = NewSnapshot::new(text, govwatch::compare::text_hash(text), b"<p>x</p>");
    snapshot.title = Some(title.to_string());
    CheckRecord {
        document_id,
        etag: None,
        last_modified: None,
        next_due_at: now.plus(Duration::from_secs(3600)),
        snapshot: Some(snapshot),
        corpus: None,
        events,
        targets: Vec::new(),
        template_blocks: None,
        body_hash: None,
    }
}

fn event(kind: EventKind, watch: &str, url: &str, added: Option<&str>) -> NewEvent {
    NewEvent {
        kind,
        watch: watch.into(),
        url: url.into(),
        title: Some(format!("{kind:?} at {url}")),
        source: None,
        overlap: None,
        added: added.map(str::to_string),
        removed: (kind == EventKind::Changed).then(|| "An old sentence.\nAnother.".to_string()),
        relevant: kind != EventKind::Failing,
        significance: 0.5,
        details: (kind == EventKind::Changed)
            .then(|| serde_json::json!({ "statements": [{ "heading": "Article 3", "text": added }] })),
    }
}

/// The words of a text 20,000 words long, with `phrase` placed across the point where its
/// first index part ends on PostgreSQL (16,383 words) and another phrase at its very end.
fn long_text() -> String {
    let mut words: Vec<String> = (0..20_000).map(|i| format!("w{i}")).collect();
    for (i, w) in ["across", "the", "seam", "of", "parts"].iter().enumerate() {
        words[16_380 + i] = w.to_string();
    }
    words.extend(["lighthouse", "keeper", "logbook."].map(String::from));
    words.join(" ")
}

const NEWS: &[(&str, &str)] = &[
    (
        "http://127.0.0.1/news/rules.html",
        "Rules on cross-border data flows take effect. The AI act sets duties on encryption \
         providers. Café owners say naïve rules hurt.",
    ),
    (
        "http://127.0.0.1/news/zh.html",
        "国家互联网信息办公室发布《数据出境安全评估办法》，自2022年9月1日起施行。数据处理者应当申报数据出境安全评估。",
    ),
    (
        "http://127.0.0.1/news/hostile.html",
        "They say \"no\" * NEAR( OR - AND the quote's end; a_b (x) [y] {z}.",
    ),
];

/// Writes the database on SQLite; returns it with the big document's id.
fn write_sqlite(path: &std::path::Path) -> (Store, i64) {
    let mut s = Store::open(path).unwrap();
    let mut minute = 0;
    let mut tick = || {
        minute += 1;
        at(minute)
    };
    for (url, text) in NEWS {
        let now = tick();
        let doc = s.ensure_watch_document("news", url, DocRole::Page, now).unwrap();
        let ev = event(EventKind::New, "news", url, None);
        s.commit_check(
            check(doc.id, text, &format!("Title of {url}"), vec![ev], now),
            now,
        )
        .unwrap();
    }
    // A document with 60 versions, each with a `changed` event.
    let url = "http://127.0.0.1/news/long-history.html";
    let big = s
        .ensure_watch_document("news", url, DocRole::Page, tick())
        .unwrap()
        .id;
    for v in 0..60 {
        let added = format!("Revision {v} adds a clause on cross-border data flows.");
        let text = format!("A standing text of the ministry. {added}");
        let now = tick();
        let events = match v {
            0 => vec![event(EventKind::New, "news", url, None)],
            _ => vec![event(EventKind::Changed, "news", url, Some(&added))],
        };
        s.commit_check(check(big, &text, &format!("Version {v}"), events, now), now)
            .unwrap();
    }
    // A long text: a phrase across the seam of its index parts, another at its end.
    let now = tick();
    let long = s
        .ensure_watch_document("news", "http://127.0.0.1/news/long.html", DocRole::Page, now)
        .unwrap();
    s.commit_check(check(long.id, &long_text(), "A long text", Vec::new(), now), now)
        .unwrap();
    // A listing's 1,050 documents, each checked once with a phrase all share (more matches
    // than a search reads), a tenth of them failing since.
    s.begin_batch().unwrap();
    for i in 0..1_050 {
        let now = tick();
        let url = format!("http://127.0.0.1/list/{i}.html");
        let doc = s.insert_discovered(&url, "listing", true, now).unwrap().unwrap();
        let text = format!("Notice number {i} on a common phrase of the listing.");
        s.commit_check(check(doc.id, &text, &format!("Notice {i}"), Vec::new(), now), now)
            .unwrap();
        if i % 10 == 3 {
            let failing_since = tick();
            s.commit_failure(
                FailureRecord {
                    document_id: doc.id,
                    why: "HTTP 503".into(),
                    next_due_at: failing_since.plus(Duration::from_secs(600)),
                    gone: false,
                    removed: false,
                    failing_since,
                    failing_noticed: false,
                    events: Vec::new(),
                    targets: Vec::new(),
                },
                failing_since,
            )
            .unwrap();
        }
    }
    s.end_batch().unwrap();
    // Imported corpus files.
    for f in ["003_0772cf1c2725d416.txt", "004_1d2cd7d0eb42c1f4.txt"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/corpus")
            .join(f);
        let text = govwatch::compare::normalize(&std::fs::read_to_string(path).unwrap());
        s.import_corpus_file(
            f,
            &corpus_import::entry(Some(format!("File {f}")), &text),
            &text,
            tick(),
        )
        .unwrap();
    }
    // Triage marks.
    for (i, e) in s.events().unwrap().iter().enumerate() {
        if i % 3 == 0 {
            assert!(s.set_reviewed(e.id, true, tick()).unwrap());
        }
        if i % 4 == 0 {
            assert!(s.set_important(e.id, true).unwrap());
        }
    }
    (s, big)
}

/// The same database on SQLite and on PostgreSQL (copied as `store copy` copies), each opened
/// as the pages open it, with the big document's id.
struct Both {
    _schema: Schema,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    url: PostgresUrl,
    lite: Store,
    pg: PgStore,
    big: i64,
}

fn both(test: &str) -> Option<Both> {
    let schema = Schema::new(test)?;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.db");
    let (lite, big) = write_sqlite(&path);
    let from = lite;
    let to = Store::Postgres(PgStore::open(&schema.parsed()).unwrap());
    let copied = govwatch::store::copy::copy(&from, &to).unwrap();
    assert!(copied.iter().all(|c| c.read == c.copied), "{copied:?}");
    drop((from, to));
    Some(Both {
        url: schema.parsed(),
        lite: Store::open_read_only(&path).unwrap(),
        pg: PgStore::open_read_only(&schema.parsed()).unwrap(),
        _schema: schema,
        _dir: dir,
        path,
        big,
    })
}

/// The same call on both stores, its answers (as JSON) the same; the answer.
macro_rules! same {
    ($both:expr, |$s:ident| $call:expr) => {{
        let lite = {
            let $s = &$both.lite;
            serde_json::to_value($call.unwrap()).unwrap()
        };
        let pg = {
            let $s = &$both.pg;
            serde_json::to_value($call.unwrap()).unwrap()
        };
        assert_eq!(lite, pg, "{}", stringify!($call));
        lite
    }};
}

#[test]
fn every_page_query_answers_the_same_on_postgres() {
    let Some(b) = both("pages") else {
        return;
    };
    let counts = same!(b, |s| s.watch_counts());
    assert_eq!(counts["listing"]["documents"], 1_050);
    assert_eq!(counts["listing"]["failing"], 105);
    assert_eq!(counts["news"]["documents"], 5);
    for w in ["listing", "news", "none"] {
        same!(b, |s| s.watch_document_count(w));
    }
    // A watch's documents, page by page from both ends, as the pages ask for them.
    for offset in [0, 50, 500, 524, 525, 526, 1_000, 1_049, 1_050, 2_000] {
        let page = same!(b, |s| s.watch_documents("listing", offset, 50));
        let ids = page[0].as_array().unwrap();
        assert_eq!(ids.len(), 50.min(1_050usize.saturating_sub(offset)), "{offset}");
    }
    same!(b, |s| s.watch_documents("news", 0, 50));
    // Every document, by id and by URL.
    let all: Vec<(i64, String)> = b
        .lite
        .all_documents()
        .unwrap()
        .iter()
        .map(|d| (d.id, d.url.clone()))
        .collect();
    for (id, url) in &all {
        let doc = same!(b, |s| s.web_document(*id));
        assert_eq!(doc["url"], url.as_str());
        same!(b, |s| s.web_document_by_url(url));
    }
    same!(b, |s| s.web_document(999_999));
    same!(b, |s| s.web_document_by_url("http://127.0.0.1/nowhere"));
    // A document's versions, page by page, each version, what its change was, and which
    // version was current at a time.
    for offset in [0, 10, 50, 59, 60, 100] {
        same!(b, |s| s.document_versions(b.big, offset, 25));
    }
    let versions = b.lite.snapshots(b.big).unwrap();
    assert_eq!(versions.len(), 60);
    for v in &versions {
        same!(b, |s| s.version(b.big, v.version));
        same!(b, |s| s.changed_details(v.id));
        same!(b, |s| s.version_at(b.big, &v.fetched_at));
    }
    same!(b, |s| s.version(b.big, 61));
    for t in [
        "2025-01-01T00:00:00Z",
        "2026-01-01T00:30:30Z",
        "2030-01-01T00:00:00Z",
    ] {
        same!(b, |s| s.version_at(b.big, t));
    }
    // Events: the triage list page by page, counts, each event, its marks.
    let (events, unreviewed) = b.lite.event_counts().unwrap();
    assert!(events > 60 && unreviewed > 0 && unreviewed < events);
    same!(b, |s| s.event_counts());
    for offset in [0, 20, 40, 60, 80] {
        same!(b, |s| s.triage_events(offset, 20));
    }
    let ids: Vec<i64> = b.lite.events().unwrap().iter().map(|e| e.id).collect();
    for id in &ids {
        same!(b, |s| s.web_event(*id));
    }
    let mut asked = ids.clone();
    asked.push(999_999);
    let marks = same!(b, |s| s.triage_of(&asked));
    assert_eq!(marks.as_object().unwrap().len(), ids.len());
    // Imported files.
    for name in ["003_0772cf1c2725d416.txt", "004_1d2cd7d0eb42c1f4.txt", "none.txt"] {
        let id = same!(b, |s| s.corpus_import_id(name));
        if let Some(id) = id.as_i64() {
            let file = same!(b, |s| s.corpus_file(id));
            assert!(file[2].as_str().unwrap().len() > 1_000);
        }
    }
    same!(b, |s| s.corpus_file(-5));
}

#[test]
fn triage_marks_are_written_alike_and_never_through_a_reader() {
    let Some(b) = both("triage") else {
        return;
    };
    // The pages' readers cannot write on PostgreSQL either.
    let id = b.lite.events().unwrap()[1].id;
    assert!(b.pg.set_important(id, true).is_err());
    let mut lite = Store::open(&b.path).unwrap();
    let pg = PgStore::open(&b.url).unwrap();
    let later = Timestamp::parse("2026-02-01T00:00:00Z").unwrap();
    let ids: Vec<i64> = lite.events().unwrap().iter().map(|e| e.id).collect();
    for (i, id) in ids.iter().enumerate() {
        let reviewed = i % 2 == 0;
        assert_eq!(
            lite.set_reviewed(*id, reviewed, later).unwrap(),
            pg.set_reviewed(*id, reviewed, later).unwrap()
        );
        assert_eq!(
            lite.set_important(*id, i % 5 == 0).unwrap(),
            pg.set_important(*id, i % 5 == 0).unwrap()
        );
    }
    assert!(!pg.set_reviewed(999_999, true, later).unwrap());
    assert!(!pg.set_important(999_999, true).unwrap());
    same!(b, |s| s.triage_of(&ids));
    same!(b, |s| s.event_counts());
    for offset in [0, 30, 60] {
        same!(b, |s| s.triage_events(offset, 30));
    }
}

#[test]
fn search_finds_the_same_texts_on_postgres() {
    let Some(b) = both("search") else {
        return;
    };
    let search = |q: &str, filter: &SearchFilter| {
        let p = phrase(q).0;
        let lite = b.lite.search(&p, filter).unwrap();
        let pg = b.pg.search(&p, filter).unwrap();
        assert_eq!((&lite.hits, lite.capped), (&pg.hits, pg.capped), "{q} {filter:?}");
        same!(b, |s| s.search_hits(&lite.hits));
        lite
    };
    let all = SearchFilter::default();
    for (q, hits) in [
        // An English phrase, and its last word a prefix (the two corpus files say
        // "cross-border" too).
        ("cross-border data", 2),
        ("cross-bor", 4),
        ("Cross-Border DATA flows", 2),
        ("encrypt", 1),
        ("the ai", 1),
        ("cafe", 1),
        ("naive rules", 1),
        // Chinese: four and two characters inside unspaced text, and a character alone.
        ("数据出境", 1),
        ("据出", 1),
        ("数据", 1),
        ("出境安全评估办法", 1),
        // Chinese with numbers and punctuation between the characters.
        ("2022年9月", 1),
        ("年9月1日起施行", 1),
        ("《数据出境安全评估办法》，自2022", 1),
        ("评估办法 自", 1),
        // Whatever is typed is text to find, never syntax.
        ("\"NEAR( OR *", 1),
        ("say \"no\"", 1),
        ("quote's end", 1),
        ("a_b", 2),
        // In a long text: across its index parts' seam, and at its very end.
        ("across the seam of parts", 1),
        ("lighthouse keeper logbook", 1),
        ("w19999 lighthouse", 1),
        // More matches than a search reads.
        ("common phrase", 1_000),
        // Nothing.
        ("ross", 0),
        ("数据入境", 0),
        ("境数", 0),
        ("2022年10月", 0),
        ("zz", 0),
        ("\"", 0),
        ("*", 0),
        ("AND OR NOT", 0),
        (")(", 0),
    ] {
        let found = search(q, &all);
        assert_eq!(found.hits.len(), hits, "{q}");
    }
    assert!(search("common phrase", &all).capped);
    // The corpus files (one says "data"): found, and the filters by watch, kind and date.
    let corpus = search(
        "data",
        &SearchFilter {
            kind: Some("corpus".into()),
            ..Default::default()
        },
    );
    assert_eq!(corpus.hits.len(), 1);
    for filter in [
        SearchFilter {
            watch: Some("news".into()),
            ..Default::default()
        },
        SearchFilter {
            watch: Some("listing".into()),
            ..Default::default()
        },
        SearchFilter {
            kind: Some("version".into()),
            ..Default::default()
        },
        SearchFilter {
            kind: Some("changed".into()),
            ..Default::default()
        },
        SearchFilter {
            kind: Some("new".into()),
            ..Default::default()
        },
        SearchFilter {
            from: Some(at(30).to_string()),
            until: Some(at(600).to_string()),
            ..Default::default()
        },
        SearchFilter {
            watch: Some("news".into()),
            kind: Some("changed".into()),
            from: Some(at(10).to_string()),
            until: Some(at(40).to_string()),
        },
    ] {
        for q in ["data", "cross-border data", "common phrase", "revision", "数据"] {
            search(q, &filter);
        }
    }
    let changed = search(
        "revision",
        &SearchFilter {
            kind: Some("changed".into()),
            ..Default::default()
        },
    );
    // One hit per document, its newest matching version, and how many older ones matched.
    assert_eq!(changed.hits.len(), 1);
    assert_eq!(changed.hits[0].more, 58);
}

/// What the index holds is kept with the texts: an imported file's new text replaces its old
/// words, and a database migrated with versions in it has them indexed.
#[test]
fn the_index_follows_the_texts() {
    let Some(schema) = Schema::new("index upkeep") else {
        return;
    };
    let pg = PgStore::open(&schema.parsed()).unwrap();
    let entry = |t: &str| corpus_import::entry(None, t);
    let (old, new) = (
        "An old text on export controls.",
        "A new text on data localisation.",
    );
    pg.import_corpus_file("f.txt", &entry(old), old, t0()).unwrap();
    let find = |pg: &PgStore, q: &str| {
        pg.search(&phrase(q).0, &SearchFilter::default())
            .unwrap()
            .hits
            .len()
    };
    assert_eq!(
        (find(&pg, "export controls"), find(&pg, "data localisation")),
        (1, 0)
    );
    pg.import_corpus_file("f.txt", &entry(new), new, t0()).unwrap();
    assert_eq!(
        (find(&pg, "export controls"), find(&pg, "data localisation")),
        (0, 1)
    );
    // Words dropped from the index (as `store copy` leaves a copied text) come back.
    let mut admin = admin().unwrap();
    admin
        .batch_execute(&format!("DELETE FROM {}.search_words", schema.name))
        .unwrap();
    assert_eq!(find(&pg, "data localisation"), 0);
    assert_eq!(pg.index_unindexed().unwrap(), 1);
    assert_eq!(find(&pg, "data localisation"), 1);
    assert_eq!(pg.index_unindexed().unwrap(), 0);
    // A reader of a database not yet migrated says so rather than failing on a missing table.
    let Some(empty) = Schema::new("reader of nothing") else {
        return;
    };
    let err = PgStore::open_read_only(&empty.parsed())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("schema is at version 0"), "{err}");
}
