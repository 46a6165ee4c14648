//! govwatch on PostgreSQL, against the real server at 127.0.0.1:5432 (trust authentication,
//! database `test`; .ci/run installs and starts one where none runs). Every test works in a
//! schema of its own, dropped afterwards, so tests run in parallel and again.
//!
//! Without a server these tests do not pass silently: each says on the terminal that it did not
//! run, and with GOVWATCH_REQUIRE_POSTGRES=1 (as .ci/run sets) they fail instead.

use crate::common;

use std::sync::{Arc, Barrier};

use common::pg::{self, Schema};
use common::*;
use govwatch::config::{Config, PostgresUrl};
use govwatch::corpus_import;
use govwatch::model::Timestamp;
use govwatch::store::{ImportOutcome, LEASE, PgStore, Store};

fn t0() -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
}

// ------------------------------------------------------------------------------- migrations

#[test]
fn nodes_starting_together_apply_each_migration_once() {
    let Some(schema) = Schema::new("migrations") else {
        return;
    };
    let url = schema.parsed();
    let start = Arc::new(Barrier::new(6));
    let nodes: Vec<_> = (0..6)
        .map(|_| {
            let (url, start) = (url.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                PgStore::open(&url).map(|s| s.applied_migrations().unwrap())
            })
        })
        .collect();
    for n in nodes {
        let applied = n.join().unwrap().expect("every node starts");
        assert_eq!(
            applied,
            [
                (1, "0001_schema".to_string()),
                (2, "0002_web".to_string()),
                (3, "0003_nodes".to_string()),
                (4, "0004_passes".to_string())
            ]
        );
    }
    assert_eq!(schema.count("govwatch_migrations"), 4);
    // And once more, on a database already up to date.
    drop(PgStore::open(&url).unwrap());
    assert_eq!(schema.count("govwatch_migrations"), 4);
}

#[test]
fn a_database_newer_than_this_govwatch_is_refused() {
    let Some(schema) = Schema::new("too new") else {
        return;
    };
    drop(PgStore::open(&schema.parsed()).unwrap());
    schema
        .client()
        .execute(
            "INSERT INTO govwatch_migrations (version, name) VALUES (99, '0099_future')",
            &[],
        )
        .unwrap();
    let err = PgStore::open(&schema.parsed()).err().unwrap().to_string();
    assert!(
        err.contains("schema version 99") && err.contains("upgrade govwatch"),
        "{err}"
    );
}

/// The PostgreSQL schema has every column the SQLite one has: a SQLite migration that adds one
/// without a PostgreSQL migration beside it fails here (and `store copy` would refuse it).
/// Tables SQLite derives by triggers or its indexer (search, recent index rows, per-watch
/// document counts) are not data and are left out, as `store copy` leaves them out.
#[test]
fn the_postgres_schema_mirrors_every_sqlite_column() {
    let Some(schema) = Schema::new("schema mirror") else {
        return;
    };
    drop(PgStore::open(&schema.parsed()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'search_%'
               AND m.name NOT LIKE '%_recent' AND m.name <> 'corpus_index_rows'
               AND m.name <> 'watch_documents'",
        )
        .unwrap();
    let sqlite: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(sqlite.len() > 60, "{sqlite:?}");
    let pg: Vec<(String, String)> = schema
        .client()
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let missing: Vec<_> = sqlite.iter().filter(|c| !pg.contains(c)).collect();
    assert!(missing.is_empty(), "PostgreSQL lacks {missing:?}");
}

#[test]
fn an_unreachable_server_is_a_clear_error_not_a_stall() {
    let port = free_port();
    let url = PostgresUrl::parse(&format!("postgres://gw:secret@127.0.0.1:{port}/news")).unwrap();
    let started = std::time::Instant::now();
    let err = PgStore::open(&url).err().unwrap().to_string();
    assert!(
        err.contains(&format!(
            "cannot connect to PostgreSQL at postgres://gw@127.0.0.1:{port}/news"
        )),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn sslmode_require_encrypts_and_verify_full_checks_the_certificate() {
    let Some(schema) = Schema::new("sslmode") else {
        return;
    };
    let ssl: String = schema.client().query_one("SHOW ssl", &[]).unwrap().get(0);
    let with = |mode: &str| {
        let url = schema
            .url()
            .replace("sslmode=disable", &format!("sslmode={mode}"));
        PgStore::open(&PostgresUrl::parse(&url).unwrap())
    };
    if ssl == "on" {
        let s = with("require").expect("TLS without checking the certificate, as libpq's require");
        assert_eq!(s.applied_migrations().unwrap().len(), 4);
        // A self-signed certificate for another name: refused when it must be checked.
        let err = with("verify-full").err().unwrap().to_string();
        assert!(err.contains("cannot connect"), "{err}");
        let err = with("verify-ca").err().unwrap().to_string();
        assert!(err.contains("cannot connect"), "{err}");
        // The server's own certificate as the root (`sslrootcert`): its chain now checks, so
        // `verify-ca` connects; `verify-full` still wants the name, which is not 127.0.0.1.
        let cert: String = schema
            .client()
            .query_one("SHOW ssl_cert_file", &[])
            .unwrap()
            .get(0);
        let rooted = |mode: &str| with(&format!("{mode}&sslrootcert={cert}"));
        let s = rooted("verify-ca").expect("the chain checks against sslrootcert");
        assert_eq!(s.applied_migrations().unwrap().len(), 4);
        let err = rooted("verify-full").err().unwrap().to_string();
        assert!(err.contains("cannot connect"), "{err}");
        // A root file that holds no certificate is said, not taken as trusting nothing.
        let empty = tempfile::NamedTempFile::new().unwrap();
        let err = with(&format!("verify-ca&sslrootcert={}", empty.path().display()))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
    } else {
        let err = with("require").err().unwrap().to_string();
        assert!(err.contains("cannot connect"), "{err}");
    }
}

// ----------------------------------------------------------------------------------- config

#[test]
fn storage_config_errors_name_the_key_and_the_line() {
    let path = std::path::Path::new("govwatch.toml");
    let both = "[storage]\npath = \"g.db\"\nurl = \"postgres://gw@db.example/news\"\n";
    let e = Config::parse(both, path).err().unwrap().to_string();
    assert!(
        e.contains(":3:") && e.contains("storage.url") && e.contains("not both"),
        "{e}"
    );

    for (url, says) in [
        ("mysql://gw@db.example/news", "is not a PostgreSQL URL"),
        ("postgres://gw:hunter2@db.example", "names no database"),
        ("postgres://gw@db.example/news?sslmode=maybe", "sslmode `maybe`"),
    ] {
        let toml = format!("# a comment\n\n[storage]\nurl = \"{url}\"\n");
        let e = Config::parse(&toml, path).err().unwrap().to_string();
        assert!(
            e.contains(":4:") && e.contains("storage.url") && e.contains(says),
            "{url}: {e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    let ok = Config::parse(
        "[storage]\nurl = \"postgresql://gw:pw@db.example:6543/news?sslmode=require\"\n",
        path,
    )
    .unwrap();
    let url = ok.storage.postgres.expect("a PostgreSQL store");
    assert_eq!(url.to_string(), "postgres://gw@db.example:6543/news");
}

/// With `[storage] url` set, every command works on the server or says plainly that it does
/// not run on PostgreSQL yet; none of them reads, creates or writes a SQLite file instead. A
/// command that keeps running (`run`, `serve`) once its store opened is stopped after a while:
/// it got past opening the database, on the server.
#[test]
fn commands_on_postgres_use_the_server_and_never_fall_back_to_sqlite() {
    let Some(schema) = Schema::new("no fallback") else {
        return;
    };
    let site = Site::start();
    site.set(
        "/a.html",
        Resp::html("<html><body><main><p>A page on data governance.</p></main></body></html>"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("govwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nurl = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:{}\"\n\n\
             [[watch]]\nname = \"w\"\nurl = \"{}\"\n",
            schema.url(),
            free_port(),
            site.url("/a.html")
        ),
    )
    .unwrap();
    let corpus_file = fixtures().join("corpus/003_0772cf1c2725d416.txt");
    let corpus_file = corpus_file.to_str().unwrap();
    for args in [
        &["check", "--all"][..],
        &["run"],
        &["status"],
        &["changes"],
        &["digest"],
        &["feed"],
        &["outbox"],
        &["history", "w"],
        &["show", "w"],
        &["diff", "w"],
        &["corpus", "list"],
        &["corpus", "import", corpus_file],
        &["serve"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .current_dir(dir.path())
            .env_remove("STATE_DIRECTORY")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let still_running = child.try_wait().unwrap().is_none();
        if still_running {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(still_running || out.status.success(), "{args:?} failed: {stderr}");
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, ["govwatch.toml"], "{args:?} left files behind");
    }
}

// ------------------------------------------------------------------------------- store copy

/// Table, rows, copied, skipped: the lines `store copy` prints.
fn copy_counts(out: &str) -> Vec<(String, u64, u64, u64)> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [t, a, b, c] if t.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                    Some((t.to_string(), a.parse().ok()?, b.parse().ok()?, c.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

/// Every row of the tables copied (the index's recent rows with the main ones), in key order.
fn sqlite_rows(path: &std::path::Path) -> Vec<(String, Vec<Vec<rusqlite::types::Value>>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let queries = [
        ("documents", "SELECT * FROM documents ORDER BY id"),
        ("snapshots", "SELECT * FROM snapshots ORDER BY id"),
        ("corpus", "SELECT * FROM corpus ORDER BY id"),
        (
            "corpus_lsh",
            "SELECT * FROM corpus_lsh UNION ALL SELECT * FROM corpus_lsh_recent ORDER BY 1, 2",
        ),
        (
            "corpus_fp",
            "SELECT * FROM corpus_fp UNION ALL SELECT * FROM corpus_fp_recent ORDER BY 1, 2",
        ),
        ("events", "SELECT * FROM events ORDER BY id"),
        ("deliveries", "SELECT * FROM deliveries ORDER BY id"),
        (
            "template_blocks",
            "SELECT * FROM template_blocks ORDER BY 1, 2, 3",
        ),
        ("hosts", "SELECT * FROM hosts ORDER BY 1"),
        // The search index, rebuilt by the target's triggers.
        (
            "search",
            "SELECT rowid FROM search_words WHERE search_words MATCH 'data' ORDER BY rowid",
        ),
    ];
    queries
        .iter()
        .map(|(t, q)| {
            let mut stmt = conn.prepare(q).unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect()
                })
                .unwrap()
                .collect::<Result<Vec<Vec<_>>, _>>()
                .unwrap();
            (t.to_string(), rows)
        })
        .collect()
}

#[test]
fn store_copy_moves_a_real_database_to_postgres_and_back_and_copies_nothing_twice() {
    let Some(schema) = Schema::new("store copy") else {
        return;
    };
    let site = Site::start();
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\n\
         [[watch]]\nname = \"docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
        site.url("/eng/docs/")
    ));
    gw.ok(&[
        "corpus",
        "import",
        fixtures()
            .join("corpus/003_0772cf1c2725d416.txt")
            .to_str()
            .unwrap(),
    ]);
    let (t1, p1) = corpus_doc("001");
    let (t4, p4) = corpus_doc("004");
    let (t0, p0) = corpus_doc("000");
    let teasers = ["Minister meets delegation", "Press conference on Friday"];
    let doc =
        |t: &str, p: &[String]| Resp::html(page("ministry-article.html", t, "2023-05-25", p, 1, &teasers));
    site.set("/eng/docs/a.html", doc(&t1, &p1));
    site.set("/eng/docs/b.html", doc(&t4, &p4));
    let links = |l: &[(&str, &str)]| Resp::html(index("ministry-index.html", l, 10));
    site.set(
        "/eng/docs/",
        links(&[("/eng/docs/a.html", &t1), ("/eng/docs/b.html", &t4)]),
    );
    gw.ok(&["check", "--all"]);
    // A new document that republishes a.html, and an edit of b.html: events, deliveries, versions.
    let republished: Vec<String> = p0.iter().chain(&p1).cloned().collect();
    site.set("/eng/docs/c.html", doc(&t0, &republished));
    let mut p4b = p4.clone();
    p4b[1] = format!("{} This sentence was added later.", p4b[1]);
    site.set("/eng/docs/b.html", doc(&t4, &p4b));
    site.set(
        "/eng/docs/",
        links(&[
            ("/eng/docs/c.html", &t0),
            ("/eng/docs/a.html", &t1),
            ("/eng/docs/b.html", &t4),
        ]),
    );
    gw.ok(&["check", "--all"]);
    let changes = gw.ok(&["changes", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_str(&changes).unwrap();
    assert!(events.len() >= 2, "{changes}");
    let original = sqlite_rows(&gw.db_path());
    for (t, rows) in &original {
        if t != "template_blocks" {
            assert!(!rows.is_empty(), "the database to copy has no {t}");
        }
    }

    // To PostgreSQL: every row copied, none skipped; the counts are the tables'.
    let url = schema.url();
    let out = gw.ok(&["store", "copy", "--to", &url]);
    let counts = copy_counts(&out);
    assert_eq!(counts.len(), 10, "{out}");
    for (table, rows) in &original {
        if let Some((_, read, copied, skipped)) = counts.iter().find(|c| &c.0 == table) {
            assert_eq!(
                (*read, *copied, *skipped),
                (rows.len() as u64, rows.len() as u64, 0),
                "{table}: {out}"
            );
            assert_eq!(schema.count(table), rows.len() as i64, "{table}");
        }
    }
    // New rows on PostgreSQL get ids after the copied ones.
    let documents = match &original
        .iter()
        .find(|(t, _)| t == "documents")
        .unwrap()
        .1
        .last()
        .unwrap()[0]
    {
        rusqlite::types::Value::Integer(id) => *id,
        other => panic!("a document id {other:?}"),
    };
    let node = PgStore::open(&schema.parsed()).unwrap();
    assert_eq!(
        node.ensure_document("w", "http://127.0.0.1/after-copy", self::t0())
            .unwrap(),
        documents + 1
    );
    drop(node);
    schema
        .client()
        .execute(
            "DELETE FROM documents WHERE url = 'http://127.0.0.1/after-copy'",
            &[],
        )
        .unwrap();
    // Again: nothing copied twice.
    let again = copy_counts(&gw.ok(&["store", "copy", "--to", &url]));
    assert!(
        again
            .iter()
            .all(|(_, read, copied, skipped)| *copied == 0 && skipped == read),
        "{again:?}"
    );

    // Back, from a node configured on PostgreSQL, to a new SQLite file.
    let back = tempfile::tempdir().unwrap();
    let node_config = back.path().join("node.toml");
    std::fs::write(&node_config, format!("[storage]\nurl = \"{url}\"\n")).unwrap();
    let new_db = back.path().join("copy.db");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"))
            .arg("--config")
            .arg(&node_config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = run(&["store", "copy", "--to", new_db.to_str().unwrap()]);
    assert!(copy_counts(&out).iter().all(|c| c.3 == 0), "{out}");
    assert_eq!(sqlite_rows(&new_db), original);
    let again = copy_counts(&run(&["store", "copy", "--to", new_db.to_str().unwrap()]));
    assert!(again.iter().all(|c| c.2 == 0), "{again:?}");

    // The copy is a working database: the same history, and checks go on from it.
    let copy = Govwatch::new(&format!(
        "[[watch]]\nname = \"docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
        site.url("/eng/docs/")
    ));
    std::fs::copy(&new_db, copy.db_path()).unwrap();
    assert_eq!(copy.ok(&["changes", "--json"]), changes);
    assert_eq!(
        copy.ok(&["history", &site.url("/eng/docs/b.html")]),
        gw.ok(&["history", &site.url("/eng/docs/b.html")])
    );
    let out = copy.ok(&["check", "--all"]);
    assert!(out.contains("0 failed"), "{out}");
}

// ------------------------------------------------------------------------------ check writes

/// A check's write on PostgreSQL is one statement (src/store/pg/check.rs): the same checks and
/// failures written through either store leave the same rows, as `store copy` brings them back
/// to SQLite. Versions, search words and the corpus with its index (a text the document had
/// before moves its entry), template blocks (born with the document, then not; kept, gone,
/// new), events with their deliveries, an event nobody wants settled at once, one with no
/// followers left pending, a failure's event about an earlier version, and the documents' state.
#[test]
fn a_checks_write_leaves_the_same_rows_on_sqlite_and_postgres() {
    use govwatch::model::{DocRole, EventKind, KindSet};
    use govwatch::store::{Channel, CheckRecord, FailureRecord, Mode, NewEvent, NewSnapshot, Target};
    use std::time::Duration;

    let Some(schema) = Schema::new("check writes") else {
        return;
    };
    let at = |m: u64| t0().plus(Duration::from_secs(60 * m));
    let text = |i: u64| format!("{} data flows.", made_up_text(i, 25));
    let targets = vec![
        Target {
            recipient: "desk@example.org".into(),
            channel: Channel::Email,
            mode: Mode::Immediate,
            due_at: at(0),
            kinds: KindSet::default().with(EventKind::Changed),
        },
        Target {
            recipient: "https://hooks.example.org/in".into(),
            channel: Channel::Webhook,
            mode: Mode::Digest,
            due_at: at(60),
            kinds: KindSet::default().with(EventKind::Changed).with(EventKind::New),
        },
    ];
    let event = |kind: EventKind, relevant: bool| NewEvent {
        kind,
        watch: "w".into(),
        url: "http://127.0.0.1/a".into(),
        title: Some(format!("{kind:?}")),
        source: None,
        overlap: (kind == EventKind::Quotes).then_some(0.25),
        added: Some("An added sentence.".into()),
        removed: None,
        relevant,
        significance: 0.75,
        details: Some(serde_json::json!({ "kind": kind.as_str() })),
    };
    let check =
        |doc: i64, t: Option<String>, blocks: &[i64], events: Vec<NewEvent>, targets: &[Target], m: u64| {
            let snapshot = t.as_ref().map(|t| {
                let mut s = NewSnapshot::new(t, govwatch::compare::text_hash(t), b"<p>x</p>");
                s.title = Some("A title".into());
                s
            });
            CheckRecord {
                document_id: doc,
                etag: Some(format!("\"e{m}\"")),
                last_modified: None,
                next_due_at: at(m + 60),
                corpus: t
                    .as_ref()
                    .map(|t| corpus_import::entry(Some("A title".into()), t)),
                snapshot,
                events,
                targets: targets.to_vec(),
                template_blocks: Some(("127.0.0.1".into(), blocks.to_vec())),
                body_hash: Some(format!("b{m}")),
            }
        };
    let write = |s: &mut Store| {
        let a = s
            .ensure_watch_document("w", "http://127.0.0.1/a", DocRole::Page, at(0))
            .unwrap()
            .id;
        let b = s
            .ensure_watch_document("w", "http://127.0.0.1/b", DocRole::Page, at(0))
            .unwrap()
            .id;
        let c = s
            .insert_discovered("http://127.0.0.1/c", "w", true, at(0))
            .unwrap()
            .unwrap()
            .id;
        let mut ids = Vec::new();
        ids.push(
            s.commit_check(check(a, Some(text(1)), &[1, 2, 3], vec![], &targets, 1), at(1))
                .unwrap(),
        );
        ids.push(
            s.commit_check(check(b, Some(text(2)), &[7], vec![], &targets, 1), at(1))
                .unwrap(),
        );
        let changed = vec![
            event(EventKind::Changed, true),
            event(EventKind::Quotes, true),
            event(EventKind::Revision, false),
        ];
        ids.push(
            s.commit_check(check(a, Some(text(3)), &[2, 3, 4], changed, &targets, 2), at(2))
                .unwrap(),
        );
        // Back to the first text: its corpus entry moves to the new version.
        let back = vec![event(EventKind::Changed, true)];
        ids.push(
            s.commit_check(check(a, Some(text(1)), &[3, 4, 5, 5], back, &targets, 3), at(3))
                .unwrap(),
        );
        // Unchanged: no version, the state moves on.
        ids.push(
            s.commit_check(check(a, None, &[3, 4, 5], vec![], &targets, 4), at(4))
                .unwrap(),
        );
        // A new document, no followers: its event is left for the outbox.
        ids.push(
            s.commit_check(
                check(c, Some(text(4)), &[], vec![event(EventKind::New, true)], &[], 5),
                at(5),
            )
            .unwrap(),
        );
        s.commit_failure(
            FailureRecord {
                document_id: b,
                why: "HTTP 404".into(),
                next_due_at: at(70),
                gone: true,
                removed: true,
                failing_since: at(6),
                failing_noticed: true,
                events: vec![
                    (event(EventKind::Removed, true), ids[1]),
                    (event(EventKind::Failing, true), None),
                ],
                targets: targets.clone(),
            },
            at(6),
        )
        .unwrap();
        ids
    };
    let dir = tempfile::tempdir().unwrap();
    let mut lite = Store::open(&dir.path().join("lite.db")).unwrap();
    let mut pg = Store::open_postgres(&schema.parsed()).unwrap();
    assert_eq!(write(&mut lite), write(&mut pg));
    // The row lock comes first: no document, nothing written.
    assert!(matches!(
        pg.commit_check(check(9999, Some(text(9)), &[1], vec![], &targets, 7), at(7)),
        Err(govwatch::store::StoreError::NotFound(_))
    ));
    drop(lite);
    let back = Store::open(&dir.path().join("back.db")).unwrap();
    govwatch::store::copy::copy(&pg, &back).unwrap();
    drop(back);
    let (a, b) = (
        sqlite_rows(&dir.path().join("lite.db")),
        sqlite_rows(&dir.path().join("back.db")),
    );
    for ((table, x), (_, y)) in a.iter().zip(&b) {
        assert!(!x.is_empty() || table == "hosts", "no {table} written");
        assert_eq!(x, y, "{table}");
    }
}

// ----------------------------------------------------------------------------------- corpus

fn made_up_text(salt: u64, sentences: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(salt);
    (0..sentences)
        .map(|_| {
            let n = rng.usize(8..20);
            let words: Vec<String> = (0..n).map(|_| format!("w{}", rng.u32(..3000))).collect();
            format!("{}.", words.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn corpus_lookups_agree_between_sqlite_and_postgres() {
    let Some(schema) = Schema::new("corpus") else {
        return;
    };
    let pg = PgStore::open(&schema.parsed()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut lite = Store::open(&dir.path().join("g.db")).unwrap();

    let mut texts: Vec<(String, String)> = std::fs::read_dir(fixtures().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let text = govwatch::compare::normalize(&std::fs::read_to_string(&p).unwrap());
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect();
    texts.sort();
    texts.extend((0..60).map(|i| (format!("made-up-{i:02}.txt"), made_up_text(i, 30))));
    // A name twice in one batch, with two texts: the last one counts.
    texts.push(("made-up-00.txt".into(), made_up_text(1000, 30)));
    let batch: Vec<_> = texts
        .iter()
        .map(|(n, t)| (n.clone(), corpus_import::entry(None, t), t.clone()))
        .collect();
    let a = lite.import_corpus_batch(&batch, t0()).unwrap();
    let b = pg.import_corpus_batch(&batch, t0()).unwrap();
    assert_eq!(a, b);
    assert_eq!(b.last(), Some(&ImportOutcome::Updated));
    assert_eq!(lite.corpus_counts().unwrap(), pg.corpus_counts().unwrap());
    // Again: unchanged on both; then one file with a new text, its old rows found and removed.
    assert_eq!(
        lite.import_corpus_batch(&batch, t0()).unwrap(),
        pg.import_corpus_batch(&batch, t0()).unwrap()
    );
    let old = made_up_text(5, 30);
    let mut update = corpus_import::entry(None, &made_up_text(2000, 30));
    update.replaces_fps = govwatch::compare::index::Signature::of(&old).fp_set;
    let new_text = made_up_text(2000, 30);
    assert_eq!(
        lite.import_corpus_file("made-up-05.txt", &update, &new_text, t0())
            .unwrap(),
        pg.import_corpus_file("made-up-05.txt", &update, &new_text, t0())
            .unwrap()
    );

    // Lookups: exact copies, halves, a document inside new text, quotes, and new text.
    let mut queries: Vec<String> = texts.iter().map(|(_, t)| t.clone()).collect();
    queries.push(old);
    queries.push(new_text);
    for i in 0..30u64 {
        let a = &texts[(i as usize * 7) % texts.len()].1;
        let b = made_up_text(5000 + i, 20);
        let half: String = a.chars().take(a.chars().count() / 2).collect();
        queries.push(format!("{b} {half}"));
        queries.push(format!("{} {a} {b}", made_up_text(6000 + i, 10)));
    }
    queries.push(made_up_text(9999, 40));
    let mut found = 0;
    for q in &queries {
        let sig = govwatch::compare::index::Signature::of(q);
        let view = |c: &[govwatch::store::Candidate]| -> Vec<_> {
            c.iter()
                .map(|c| {
                    let mut shared = c.shared.clone();
                    shared.sort_unstable();
                    (
                        c.corpus_id,
                        c.name.clone(),
                        shared,
                        c.fp_count,
                        c.resemblance.to_bits(),
                        c.imported,
                    )
                })
                .collect()
        };
        let from_lite = view(&lite.corpus_candidates(&sig, None).unwrap());
        let from_pg = view(&pg.corpus_candidates(&sig, None).unwrap());
        assert_eq!(from_lite, from_pg, "candidates of {:.60}", q);
        found += usize::from(!from_pg.is_empty());
        let hash = govwatch::compare::text_hash(q);
        let exact = lite.corpus_by_hash(&hash, None).unwrap();
        assert_eq!(exact, pg.corpus_by_hash(&hash, None).unwrap());
        if let Some((_, id)) = exact {
            assert_eq!(lite.corpus_text(id).unwrap(), pg.corpus_text(id).unwrap());
            assert_eq!(
                lite.corpus_source(id).unwrap().map(|s| s.name),
                pg.corpus_source(id).unwrap().map(|s| s.name)
            );
        }
    }
    assert!(found > queries.len() / 2, "{found} of {}", queries.len());
}

// ----------------------------------------------------------------------------------- claims

#[test]
fn nodes_claiming_at_once_each_get_a_document_once_and_leases_run_out() {
    let Some(schema) = Schema::new("claims") else {
        return;
    };
    let url = schema.parsed();
    let first = PgStore::open(&url).unwrap();
    let ids: Vec<i64> = (0..300)
        .map(|i| {
            first
                .ensure_document("w", &format!("http://127.0.0.1/{i}"), t0())
                .unwrap()
        })
        .collect();
    drop(first);
    let start = Arc::new(Barrier::new(4));
    let nodes: Vec<_> = (0..4)
        .map(|n| {
            let (url, ids, start) = (url.clone(), ids.clone(), start.clone());
            std::thread::spawn(move || {
                let node = PgStore::open(&url).unwrap().with_holder(format!("node-{n}"));
                start.wait();
                let mut mine = Vec::new();
                // In slices, so that the nodes' claims interleave.
                for slice in ids.chunks(10) {
                    let slice: Vec<_> = slice.iter().map(|&id| (id, None)).collect();
                    mine.extend(node.claim_documents(&slice, t0()).unwrap());
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<i64> = nodes.into_iter().flat_map(|n| n.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, ids, "every document claimed exactly once");

    // A lease runs out unless renewed; a node that holds one is not given it again. Leases run
    // on the server's clock, whatever the callers' (tests/postgres_outbox.rs has nodes whose
    // clocks are off): one is made to run out by moving its end back.
    let a = PgStore::open(&url).unwrap().with_holder("a".into());
    let b = PgStore::open(&url).unwrap().with_holder("b".into());
    let fresh = a.ensure_document("w", "http://127.0.0.1/fresh", t0()).unwrap();
    assert_eq!(a.claim_documents(&[(fresh, None)], t0()).unwrap(), [fresh]);
    assert!(
        b.claim_documents(&[(fresh, None)], t0().plus(LEASE))
            .unwrap()
            .is_empty()
    );
    assert!(!b.may_write(fresh, t0()).unwrap());
    let run_out = || {
        schema
            .client()
            .execute(
                "UPDATE documents SET claimed_until = '2000-01-01T00:00:00Z' WHERE id = $1",
                &[&fresh],
            )
            .unwrap()
    };
    run_out();
    assert_eq!(a.renew_claims(t0().plus(LEASE)).unwrap(), 1);
    assert!(
        b.claim_documents(&[(fresh, None)], t0().plus(LEASE * 2))
            .unwrap()
            .is_empty()
    );
    run_out();
    let later = t0().plus(LEASE * 2 + std::time::Duration::from_secs(1));
    assert_eq!(b.claim_documents(&[(fresh, None)], later).unwrap(), [fresh]);
    assert!(!a.may_write(fresh, later).unwrap());
    b.release_documents(&[fresh]).unwrap();
    assert!(a.may_write(fresh, later).unwrap());
    b.release_claims().unwrap();
}

/// A pass's share claims on PostgreSQL: at most the limit, the first in the order given, past
/// another node's claims; and who is in a pass with how many origins, and which origins other
/// nodes hold, as SQLite says it (src/store/claims.rs's tests).
#[test]
fn shares_are_claimed_in_order_and_passes_and_held_origins_are_seen() {
    let Some(schema) = Schema::new("shares") else {
        return;
    };
    let url = schema.parsed();
    let a = PgStore::open(&url).unwrap().with_holder("a:1:1:1".into());
    let b = PgStore::open(&url).unwrap().with_holder("b:2:2:2".into());
    let ids: Vec<(i64, Option<Timestamp>)> = (0..6)
        .map(|i| {
            (
                a.ensure_document("w", &format!("http://127.0.0.1/{i}"), t0())
                    .unwrap(),
                None,
            )
        })
        .collect();
    assert_eq!(b.claim_some(&ids[1..2], 5, t0()).unwrap(), [ids[1].0]);
    assert_eq!(
        a.claim_some(&ids, 3, t0()).unwrap(),
        [ids[0].0, ids[2].0, ids[3].0]
    );
    assert_eq!(a.claim_some(&ids, 3, t0()).unwrap(), [ids[4].0, ids[5].0]);
    assert!(b.claim_some(&ids, 3, t0()).unwrap().is_empty());

    assert!(a.sharing(t0()).unwrap().others.is_empty());
    a.begin_pass(100, t0()).unwrap();
    b.begin_pass(40, t0()).unwrap();
    b.take_origin("http://one.test", t0()).unwrap();
    a.take_origin("http://two.test", t0()).unwrap();
    let seen = a.sharing(t0()).unwrap();
    assert_eq!(seen.others, [40]);
    assert_eq!(seen.held_elsewhere, ["http://one.test".to_string()].into());
    assert_eq!(b.sharing(t0()).unwrap().others, [100]);
    b.end_pass().unwrap();
    assert!(a.sharing(t0()).unwrap().others.is_empty());
    // A pass whose node stopped renewing it stops counting when its lease runs out (on the
    // server's clock: moved back by hand).
    b.begin_pass(40, t0()).unwrap();
    schema
        .client()
        .execute("UPDATE passes SET until = '2000-01-01T00:00:00Z'", &[])
        .unwrap();
    assert!(a.sharing(t0()).unwrap().others.is_empty());
}

// ------------------------------------------------------------------ the database goes away

/// The server goes away in the middle of a pass (every connection cut, none taken) and comes
/// back: the node keeps running, its checks fail with the reason, nothing is half-written,
/// and once it is back every change is recorded exactly once.
#[test]
fn a_database_that_goes_away_mid_pass_fails_checks_and_the_node_recovers() {
    let Some(schema) = Schema::new("goes away") else {
        return;
    };
    let relay = pg::Relay::start();
    const PAGES: usize = 6;
    let site = Site::start();
    let (title, paras) = corpus_doc("001");
    let set_round = |round: u32| {
        for i in 0..PAGES {
            let mut p = paras[..6].to_vec();
            p.push(format!(
                "In statement {round} on page {i} the ministry says that all States should oppose restriction {round} on data flows."
            ));
            site.set(
                &format!("/p{i}.html"),
                Resp::html(page(
                    "ministry-article.html",
                    &title,
                    "2023-05-25",
                    &p,
                    round,
                    &[],
                )),
            );
        }
    };
    set_round(1);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("govwatch.toml");
    // One request at a time, a second apart: a pass takes about 6 s, so the cut falls inside one.
    let watches: String = (0..PAGES)
        .map(|i| {
            format!(
                "[[watch]]\nname = \"p{i}\"\nurl = \"{}\"\nevery = \"1s\"\nrobots = false\n\n",
                site.url(&format!("/p{i}.html"))
            )
        })
        .collect();
    std::fs::write(
        &config,
        format!(
            "[storage]\nurl = \"{}\"\n\n[fetch]\nper_host_delay = \"1s\"\n\n{watches}",
            relay.url(&schema)
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"));
    cmd.arg("--config")
        .arg(&config)
        .arg("run")
        .current_dir(dir.path())
        .env("RUST_LOG", "govwatch=info");
    let (mut child, log) = spawn_logged(cmd);
    // 0 until the node has made the tables.
    let count = |sql: &str| -> i64 { schema.client().query_one(sql, &[]).map_or(0, |r| r.get(0)) };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "not {what} in 60 s; log:\n{}",
                log.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    wait_for("every baseline", &|| {
        count("SELECT count(*) FROM snapshots") == PAGES as i64
    });

    set_round(2);
    // Into the pass that finds the changes, then the server goes away for a few passes.
    wait_for("a change recorded", &|| count("SELECT count(*) FROM events") > 0);
    relay.cut();
    let recorded_before = count("SELECT count(*) FROM events");
    // Longer than the rest of the pass: it ends while the server is away, unable to let go of
    // its claims, which the next pass must let go of rather than wait out their lease (2 min).
    std::thread::sleep(std::time::Duration::from_secs(8));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the node stopped:\n{}",
        log.lock().unwrap()
    );
    relay.restore();
    wait_for("every change recorded", &|| {
        count("SELECT count(*) FROM events") == PAGES as i64
    });
    // A few passes more: nothing is recorded twice.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let log = log.lock().unwrap().clone();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(
        recorded_before < PAGES as i64,
        "the cut came after the pass: {recorded_before} of {PAGES} recorded"
    );
    // The reason is said, as the server or the connection gave it.
    assert!(log.contains("PostgreSQL"), "{log}");
    assert!(
        log.contains("pass failed") && log.contains("cannot connect"),
        "{log}"
    );
    assert!(log.contains("the PostgreSQL server answers again"), "{log}");
    assert!(
        log.contains("let go of the claims an earlier pass could not"),
        "{log}"
    );
    // Exactly once: one `changed` event per page, two versions each, and every version has
    // the document's state that goes with it (a check's writes are one transaction).
    assert_eq!(
        count("SELECT count(*) FROM events WHERE kind = 'changed'"),
        PAGES as i64,
        "{log}"
    );
    assert_eq!(count("SELECT count(*) FROM snapshots"), 2 * PAGES as i64);
    assert_eq!(
        count(
            "SELECT count(*) FROM documents d WHERE d.last_changed_at IS DISTINCT FROM
                 (SELECT max(fetched_at) FROM snapshots s WHERE s.document_id = d.id)"
        ),
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.id = e.snapshot_id)"
        ),
        0
    );
}
