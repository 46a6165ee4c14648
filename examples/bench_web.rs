//! The web pages' server time on a large database: 100,000 documents, one of them with 10,000
//! versions (each with a `changed` event), and a search index over all of it.
//!
//!     scripts/bench-web                          # 100,000 documents, 300 requests a page
//!     scripts/bench-web --documents 20000 --versions 2000 --requests 100
//!     scripts/bench-web --postgres postgres://postgres@127.0.0.1/test   # and PostgreSQL beside
//!
//! The database is filled through the store, as checks fill it (the search index by its
//! triggers), then `govwatch`'s pages are served on loopback in this process and each page is
//! asked for `--requests` times over fresh connections. Times are from the request sent to the
//! last byte read: p50 and p99, in milliseconds. Beside each, the way the page would cost
//! without its index or pagination, measured in the same run: the document page listing every
//! version, and the search scanning every stored text.
//!
//! With `--postgres URL`, the database is then copied to that PostgreSQL database (as `govwatch
//! store copy` copies, its texts indexed for search there) and the store's queries behind each
//! page (what the page handler asks of the store, in process, without HTTP or rendering) are
//! timed on both backends in the same run: p50 and p99 side by side.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use govwatch::config::Config;
use govwatch::model::{EventKind, Timestamp};
use govwatch::store::{CheckRecord, DocRole, NewEvent, NewSnapshot, Store, StoreHandle};

struct Args {
    documents: usize,
    versions: usize,
    requests: usize,
    /// Where to keep the database: filled there if it does not exist, else served as it is
    /// (after the migrations this build has), to measure a change without filling again.
    db: Option<std::path::PathBuf>,
    /// A PostgreSQL database to copy the database into and measure beside SQLite.
    postgres: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        documents: 100_000,
        versions: 10_000,
        requests: 300,
        db: None,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--db" {
            a.db = Some(it.next().expect("--db needs a path").into());
            continue;
        }
        if flag == "--postgres" {
            a.postgres = Some(it.next().expect("--postgres needs a URL"));
            continue;
        }
        let v: usize = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--documents" => a.documents = v,
            "--versions" => a.versions = v,
            "--requests" => a.requests = v,
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

/// Sentences of the real corpus documents (English and Chinese), to build texts from.
fn sentences() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut text = String::new();
    for e in std::fs::read_dir(dir.join("corpus")).unwrap() {
        text.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
        text.push_str("\n\n");
    }
    text.push_str(&std::fs::read_to_string(dir.join("chrome/zh-body.txt")).unwrap());
    govwatch::compare::diff::sentences(&text)
        .into_iter()
        .filter(|s| s.chars().count() > 30)
        .collect()
}

/// A document's text: `n` sentences from `seed` on, in paragraphs of three.
fn text(pool: &[String], seed: usize, n: usize) -> String {
    let mut out = String::new();
    for k in 0..n {
        if k > 0 {
            out.push_str(if k % 3 == 0 { "\n\n" } else { " " });
        }
        out.push_str(&pool[(seed * 7 + k * 13) % pool.len()]);
    }
    out
}

fn now() -> Timestamp {
    Timestamp::from_datetime(time::OffsetDateTime::now_utc())
}

fn record(document_id: i64, text: &str, event: Option<NewEvent>) -> CheckRecord {
    CheckRecord {
        document_id,
        etag: None,
        last_modified: None,
        next_due_at: Timestamp::parse("2030-01-01T00:00:00Z").unwrap(),
        snapshot: Some(NewSnapshot::new(text, govwatch::compare::text_hash(text), b"")),
        corpus: None,
        events: event.into_iter().collect(),
        targets: Vec::new(),
        template_blocks: None,
        body_hash: None,
    }
}

fn event(kind: EventKind, url: &str, added: Option<String>) -> NewEvent {
    NewEvent {
        kind,
        watch: "bulk".into(),
        url: url.into(),
        title: Some(format!("Document at {url}")),
        source: None,
        overlap: None,
        added,
        removed: None,
        relevant: true,
        significance: 0.5,
        details: Some(serde_json::json!({ "topics": ["data"] })),
    }
}

/// Fills the database; returns the big document's id and its last event's id.
fn fill(store: &mut Store, a: &Args, pool: &[String]) -> (i64, i64) {
    let t0 = Instant::now();
    store.begin_batch().unwrap();
    for i in 0..a.documents {
        let url = format!("https://example.gov/doc/{i}.html");
        let doc = store
            .insert_discovered(&url, "bulk", false, now())
            .unwrap()
            .unwrap();
        let ev = (i % 10 == 0).then(|| event(EventKind::New, &url, None));
        store
            .commit_check(record(doc.id, &text(pool, i, 8), ev), now())
            .unwrap();
        if store.batch_full() {
            store.end_batch().unwrap();
            store.begin_batch().unwrap();
        }
    }
    store.end_batch().unwrap();
    eprintln!("{} documents in {:.0?}", a.documents, t0.elapsed());
    let t0 = Instant::now();
    let url = "https://example.gov/big.html";
    let big = store
        .ensure_watch_document("big", url, DocRole::Page, now())
        .unwrap()
        .id;
    let base: Vec<String> = text(pool, 99, 40).split("\n\n").map(str::to_string).collect();
    let mut revision: Vec<String> = vec![String::new(); base.len()];
    store.begin_batch().unwrap();
    for v in 0..a.versions {
        // Each version edits one paragraph: its closing sentence replaced by a new one.
        let added = format!("Revision {v} adds a clause on cross-border data flows.");
        revision[v % base.len()] = added.clone();
        let paras: Vec<String> = base
            .iter()
            .zip(&revision)
            .map(|(b, r)| format!("{b} {r}"))
            .collect();
        let ev = (v > 0).then(|| event(EventKind::Changed, url, Some(added)));
        store
            .commit_check(record(big, &paras.join("\n\n"), ev), now())
            .unwrap();
        if store.batch_full() {
            store.end_batch().unwrap();
            store.begin_batch().unwrap();
        }
    }
    store.end_batch().unwrap();
    eprintln!("{} versions of one document in {:.0?}", a.versions, t0.elapsed());
    let last_event = store
        .events_matching(&Default::default())
        .unwrap()
        .last()
        .unwrap()
        .id;
    (big, last_event)
}

/// The big document's id and its last event's id, in a database filled before.
fn kept(store: &Store) -> (i64, i64) {
    let big = store
        .web_document_by_url("https://example.gov/big.html")
        .unwrap()
        .expect("a database filled by this benchmark")
        .id;
    let last_event = store.triage_events(0, 1).unwrap()[0].id;
    (big, last_event)
}

/// One GET over a fresh connection; the time to the last byte.
fn timed_get(addr: &str, path: &str) -> Duration {
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let took = t0.elapsed();
    let head = String::from_utf8_lossy(&raw[..raw.len().min(12)]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    took
}

fn percentiles(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let at = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    (at(0.5), at(0.99))
}

/// The peers, in process: what the page would cost without pagination or the index.
fn peers(db: &std::path::Path, big: i64, needle: &str) -> (f64, f64) {
    let s = Store::open_read_only(db).unwrap();
    let t0 = Instant::now();
    let all = s.snapshots(big).unwrap();
    let list_all = t0.elapsed().as_secs_f64() * 1000.0;
    assert!(!all.is_empty());
    let t0 = Instant::now();
    let mut found = 0;
    for d in s.all_documents().unwrap() {
        if let Some((_, t)) = s.latest_snapshot(d.id).unwrap()
            && t.contains(needle)
        {
            found += 1;
        }
    }
    let scan = t0.elapsed().as_secs_f64() * 1000.0;
    assert!(found > 0);
    (list_all, scan)
}

fn main() {
    let a = args();
    let pool = sentences();
    let dir = tempfile::tempdir().unwrap();
    let db = a.db.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    let reuse = db.exists();
    let mut store = Store::open(&db).unwrap();
    let (big, last_event) = if reuse {
        eprintln!("serving {} as it is (not filled again)", db.display());
        kept(&store)
    } else {
        fill(&mut store, &a, &pool)
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = Config::parse(
        &format!(
            "[storage]\npath = \"{}\"\n\n[http]\nlisten = \"{addr}\"\n\n\
             [[watch]]\nname = \"bulk\"\nurl = \"https://example.gov/\"\nkind = \"index\"\n\n\
             [[watch]]\nname = \"big\"\nurl = \"https://example.gov/big.html\"\n",
            db.display()
        ),
        std::path::Path::new("bench.toml"),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let web = govwatch::web::Web::new(Arc::new(config), StoreHandle::new(store));
    runtime.spawn(govwatch::web::serve(
        addr.parse().unwrap(),
        web,
        std::future::pending(),
    ));
    while std::net::TcpStream::connect(&addr).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mid = (a.versions / 2).max(2);
    let last = |n: usize| n.div_ceil(50).max(1);
    let pages = [
        ("overview /", "/".to_string()),
        (
            "overview, last page of events",
            format!("/?page={}", last(a.documents / 10 + a.versions)),
        ),
        ("a watch's documents", "/watch/bulk".to_string()),
        (
            "a watch's documents, last page",
            format!("/watch/bulk?page={}", last(a.documents)),
        ),
        ("document (10,000 versions)", format!("/doc/{big}")),
        ("its versions, last page", format!("/doc/{big}?page=200")),
        (
            "a diff of two of its versions",
            format!("/doc/{big}/diff?from={}&to={mid}", mid - 1),
        ),
        (
            "the same diff, whole text",
            format!("/doc/{big}/diff?from={}&to={mid}&full=1", mid - 1),
        ),
        ("an event page (changed)", format!("/event/{last_event}")),
        (
            "search, English phrase",
            "/search?q=cross-border%20data".to_string(),
        ),
        (
            "search, Chinese (phrase of characters)",
            "/search?q=%E6%95%B0%E6%8D%AE%E5%AE%89%E5%85%A8".to_string(),
        ),
        ("search, 2 characters", "/search?q=%E6%95%B0%E6%8D%AE".to_string()),
    ];
    println!(
        "{} documents, {} versions of one; {} requests a page, server time in ms",
        a.documents, a.versions, a.requests
    );
    println!("{:<34} {:>8} {:>8}", "page", "p50", "p99");
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().next().unwrap_or("?").to_string())
            .unwrap_or_else(|_| "?".into())
    };
    for (name, path) in &pages {
        timed_get(&addr, path);
        let times: Vec<Duration> = (0..a.requests).map(|_| timed_get(&addr, path)).collect();
        let (p50, p99) = percentiles(times);
        println!("{name:<34} {p50:>8.1} {p99:>8.1}   load {}", load());
    }
    let (list_all, scan) = peers(&db, big, "数据安全");
    let (doc50, _) = percentiles(
        (0..20)
            .map(|_| timed_get(&addr, &format!("/doc/{big}")))
            .collect(),
    );
    let chinese = pages
        .iter()
        .find(|(n, _)| n.starts_with("search, Chinese"))
        .unwrap();
    let (search50, _) = percentiles((0..20).map(|_| timed_get(&addr, chinese.1.as_str())).collect());
    println!("\npeers in the same run (one run each, in process, ms):");
    println!(
        "  every version listed, unpaginated: {list_all:.1} (the paginated page: {doc50:.1}, {:.1}x)",
        list_all / doc50
    );
    println!(
        "  search by scanning every newest text: {scan:.0} (the index: {search50:.1}, {:.0}x)",
        scan / search50
    );
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!("\ndatabase {:.0} MB", size as f64 / 1e6);
    if let Some(url) = &a.postgres {
        beside_postgres(&a, &db, url, big, load);
    }
}

/// The store's queries behind each page, on `s` (a SQLite or a PostgreSQL store: the same
/// methods), as the page handlers in src/web/pages.rs ask them.
macro_rules! page_queries {
    ($s:expr, $a:expr, $big:expr) => {{
        let s = $s;
        let (documents, versions) = ($a.documents, $a.versions);
        let search = move |q: &str| {
            let p = govwatch::store::phrase(q).0;
            let found = s.search(&p, &Default::default()).unwrap();
            assert!(!found.hits.is_empty(), "{q}");
            let page = &found.hits[..found.hits.len().min(20)];
            for h in s.search_hits(page).unwrap() {
                if let (Some(d), Some(v)) = (h.document_id, h.version) {
                    s.version(d, v).unwrap();
                }
            }
        };
        let queries: Vec<(&str, Box<dyn Fn() + '_>)> = vec![
            (
                "overview /",
                Box::new(move || {
                    s.watch_counts().unwrap();
                    s.event_counts().unwrap();
                    s.triage_events(0, 50).unwrap();
                }),
            ),
            (
                "overview, last page of events",
                Box::new(move || {
                    let total = documents / 10 + versions;
                    s.triage_events(total.saturating_sub(1) / 50 * 50, 50).unwrap();
                }),
            ),
            (
                "a watch's documents",
                Box::new(move || {
                    s.watch_documents("bulk", 0, 50).unwrap();
                }),
            ),
            (
                "a watch's documents, last page",
                Box::new(move || {
                    s.watch_documents("bulk", documents.saturating_sub(1) / 50 * 50, 50)
                        .unwrap();
                }),
            ),
            (
                "document (10,000 versions)",
                Box::new(move || {
                    s.web_document($big).unwrap();
                    s.document_versions($big, 0, 50).unwrap();
                }),
            ),
            (
                "its versions, last page",
                Box::new(move || {
                    s.document_versions($big, versions.saturating_sub(50), 50)
                        .unwrap();
                }),
            ),
            (
                "search, English phrase",
                Box::new(move || search("cross-border data")),
            ),
            (
                "search, Chinese (phrase of characters)",
                Box::new(move || search("数据安全")),
            ),
            ("search, 2 characters", Box::new(move || search("数据"))),
            (
                "search, one version's phrase",
                Box::new(move || search(&format!("revision {} adds", versions / 2))),
            ),
        ];
        queries
    }};
}

/// Copies the database to PostgreSQL, then times the pages' store queries on both.
fn beside_postgres(a: &Args, db: &std::path::Path, url: &str, big: i64, load: impl Fn() -> String) {
    use govwatch::store::PgStore;
    let url = govwatch::config::PostgresUrl::parse(url).expect("a PostgreSQL URL");
    let t0 = Instant::now();
    let from = Store::open(db).unwrap();
    let to = Store::Postgres(PgStore::open(&url).unwrap());
    let copied = govwatch::store::copy::copy(&from, &to).unwrap();
    let rows: u64 = copied.iter().map(|c| c.copied).sum();
    eprintln!(
        "copied {rows} rows to {url} in {:.0?} (texts indexed for search there)",
        t0.elapsed()
    );
    drop((from, to));
    let lite = Store::open_read_only(db).unwrap();
    let pg = PgStore::open_read_only(&url).unwrap();
    // The big document's id on PostgreSQL is SQLite's: a copy keeps ids.
    let on_lite = page_queries!(&lite, a, big);
    let on_pg = page_queries!(&pg, a, big);
    let time = |f: &dyn Fn()| {
        f();
        percentiles(
            (0..a.requests)
                .map(|_| {
                    let t0 = Instant::now();
                    f();
                    t0.elapsed()
                })
                .collect(),
        )
    };
    println!(
        "\nthe store's queries behind each page, in process, {} times each (ms):",
        a.requests
    );
    println!(
        "{:<40} {:>8} {:>8}   {:>8} {:>8}",
        "page", "SQLite", "p99", "Postgres", "p99"
    );
    for ((name, l), (_, p)) in on_lite.iter().zip(&on_pg) {
        let (l50, l99) = time(l.as_ref());
        let (p50, p99) = time(p.as_ref());
        println!(
            "{name:<40} {l50:>8.2} {l99:>8.2}   {p50:>8.2} {p99:>8.2}   load {}",
            load()
        );
    }
    let mut config = postgres::Config::new();
    config
        .host(&url.host)
        .port(url.port)
        .user(&url.user)
        .dbname(&url.dbname);
    if let Some(o) = &url.options {
        config.options(o);
    }
    if let Some(p) = &url.password {
        config.password(p);
    }
    let sizes = config.connect(postgres::NoTls).ok().and_then(|mut c| {
        c.query_one(
            "SELECT (SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = current_schema() AND c.relkind = 'r'),
                    pg_total_relation_size('search_words'), pg_relation_size('search_words_words')",
            &[],
        )
        .ok()
    });
    if let Some(r) = sizes {
        let mb = |i: usize| r.get::<_, i64>(i) as f64 / 1e6;
        println!(
            "\nPostgreSQL: {:.0} MB, of which the search table {:.0} MB (its GIN index {:.0} MB)",
            mb(0),
            mb(1),
            mb(2)
        );
    }
}
