//! Two nodes with different configs on one database (issue 17), on a real SQLite file and on the
//! real PostgreSQL server (tests/common/pg.rs): `config check` and `run` name the watches that
//! differ, a node's outbox leaves the events of a watch only another live node has to it, and a
//! node not seen for long is no longer live.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pg::Schema;
use common::*;
use govwatch::config::Config;
use govwatch::model::{Clock, SystemClock, Timestamp};
use govwatch::notify;
use govwatch::store::{NODE_LIVE, RENEW_EVERY, Store, StoreHandle, node_watches};

/// One database two nodes share, and where their configs live.
struct Db {
    dir: tempfile::TempDir,
    /// `None`: a SQLite file in `dir`.
    pg: Option<Schema>,
}

impl Db {
    fn sqlite() -> Db {
        Db {
            dir: tempfile::tempdir().unwrap(),
            pg: None,
        }
    }

    fn postgres(test: &str) -> Option<Db> {
        Some(Db {
            dir: tempfile::tempdir().unwrap(),
            pg: Some(Schema::new(test)?),
        })
    }

    fn db_path(&self) -> PathBuf {
        self.dir.path().join("govwatch.db")
    }

    /// Writes node `node`'s config (its `[storage]` is this database) and returns its path.
    fn config(&self, node: &str, rest: &str) -> PathBuf {
        let storage = match &self.pg {
            Some(s) => format!("url = \"{}\"", s.url()),
            None => format!("path = \"{}\"", self.db_path().display()),
        };
        let path = self.dir.path().join(format!("{node}.toml"));
        std::fs::write(
            &path,
            format!("[storage]\n{storage}\n\n[daemon]\nnode = \"{node}\"\n\n{rest}"),
        )
        .unwrap();
        path
    }

    fn open(&self) -> Store {
        match &self.pg {
            Some(s) => Store::open_postgres(&s.parsed()).unwrap(),
            None => Store::open(&self.db_path()).unwrap(),
        }
    }

    /// SQL both backends read alike, run as it is (the tests' own literals).
    fn exec(&self, sql: &str) {
        match &self.pg {
            Some(s) => s.client().batch_execute(sql).unwrap(),
            None => rusqlite::Connection::open(self.db_path())
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
        }
    }

    /// An event of `watch` waiting for mail with no deliveries yet: an orphan of the outbox.
    fn orphan_event(&self, watch: &str) -> i64 {
        let url = format!("https://{watch}.example/1");
        self.exec(&format!(
            "INSERT INTO documents (url, watch, role, discovered_at)
                 VALUES ('{url}', '{watch}', 'page', '2026-01-01T00:00:00Z');
             INSERT INTO events (kind, document_id, watch, url, detected_at)
                 SELECT 'new', id, watch, url, '2026-01-01T00:00:00Z' FROM documents WHERE url = '{url}';"
        ));
        let store = self.open();
        let orphans = store.orphan_events().unwrap();
        orphans.iter().find(|o| o.1 == watch).unwrap().0
    }

    /// Whether event `id` is settled (`notified_at` set).
    fn settled(&self, id: i64) -> bool {
        let sql = format!("SELECT notified_at FROM events WHERE id = {id}");
        let at: Option<String> = match &self.pg {
            Some(s) => s.client().query_one(&sql, &[]).unwrap().get(0),
            None => rusqlite::Connection::open(self.db_path())
                .unwrap()
                .query_row(&sql, [], |r| r.get(0))
                .unwrap(),
        };
        at.is_some()
    }
}

fn watch(name: &str, url: &str) -> String {
    format!("[[watch]]\nname = \"{name}\"\nurl = \"{url}\"\nevery = \"1h\"\n\n")
}

/// Records `node` with the watches of its config at `path`, as `govwatch run` does at start.
fn record(db: &Db, node: &str, path: &Path, now: Timestamp) {
    let config = Config::load(path).unwrap();
    db.open().record_node(node, &node_watches(&config), now).unwrap();
}

/// Node alpha and node beta: `shared` in both (at other URLs), `mine` only in alpha's config,
/// `theirs` only in beta's. Returns alpha's config; beta is recorded as running now.
fn two_nodes(db: &Db) -> PathBuf {
    let alpha = db.config(
        "alpha",
        &(watch("shared", "https://a.example/") + &watch("mine", "https://m.example/")),
    );
    let beta = db.config(
        "beta",
        &(watch("shared", "https://b.example/") + &watch("theirs", "https://t.example/")),
    );
    record(db, "beta", &beta, SystemClock.now());
    alpha
}

fn config_check_names_the_watches_that_differ(db: &Db) {
    let alpha = two_nodes(db);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"))
        .arg("--config")
        .arg(&alpha)
        .args(["config", "check"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // Allowed, so the check passes; said plainly, so whoever runs the nodes knows.
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("other nodes: beta (this is node alpha); 3 differences"),
        "{stdout}"
    );
    for warning in [
        "warning: watch `shared` is set differently on node beta: url \"https://a.example/\" here, \"https://b.example/\" there",
        "warning: watch `mine` is in this config, not in node beta's",
        "warning: watch `theirs` is in node beta's config, not in this one",
    ] {
        assert!(stderr.contains(warning), "no `{warning}` in:\n{stderr}");
    }
}

#[test]
fn config_check_names_the_watches_another_node_has_differently_on_sqlite() {
    config_check_names_the_watches_that_differ(&Db::sqlite());
}

#[test]
fn config_check_names_the_watches_another_node_has_differently_on_postgres() {
    if let Some(db) = Db::postgres("config check nodes") {
        config_check_names_the_watches_that_differ(&db);
    }
}

/// Alpha's recipient follows alpha's watch only. An event of `theirs`, which only beta's config
/// has, is left pending by alpha's mail round while beta is live (beta's config knows who
/// follows it), and settled as followed by nobody once beta has not been seen for longer than
/// [`NODE_LIVE`]: then no node watches it any more.
fn orphans_of_another_nodes_watch_are_left_to_it(db: &Db, age_beta: impl Fn()) {
    let alpha = two_nodes(db);
    std::fs::write(
        &alpha,
        std::fs::read_to_string(&alpha).unwrap()
            + "[email]\nfrom = \"govwatch@example.org\"\n\n\
               [[recipient]]\naddress = \"desk@example.org\"\nwatches = [\"mine\"]\n",
    )
    .unwrap();
    let config = Config::load(&alpha).unwrap();
    let theirs = db.orphan_event("theirs");
    let store = StoreHandle::new(db.open());
    // A runtime for the mail round only: the tests' own blocking PostgreSQL client must not run
    // inside one.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mail_round = || {
        let due = notify::due_now(SystemClock.now());
        runtime
            .block_on(notify::send_due(&store, &config, due, &SystemClock))
            .unwrap()
    };

    mail_round();
    assert!(!db.settled(theirs), "beta is live and watches `theirs`");
    assert!(db.open().orphan_events().unwrap().iter().any(|o| o.0 == theirs));

    age_beta();
    mail_round();
    assert!(db.settled(theirs), "no live node watches `theirs` any more");
}

#[test]
fn a_nodes_outbox_leaves_the_events_of_a_watch_only_another_node_has_on_sqlite() {
    let db = Db::sqlite();
    // On SQLite, times are the caller's: beta seen long ago is recorded so.
    let beta = db.dir.path().join("beta.toml");
    let long_ago = || SystemClock.now().minus(NODE_LIVE + RENEW_EVERY);
    orphans_of_another_nodes_watch_are_left_to_it(&db, || record(&db, "beta", &beta, long_ago()));
}

#[test]
fn a_nodes_outbox_leaves_the_events_of_a_watch_only_another_node_has_on_postgres() {
    let Some(db) = Db::postgres("orphans of other nodes") else {
        return;
    };
    // On PostgreSQL, the server's clock stamps `seen_at`: beta's heartbeat is moved back by hand.
    let aged = format!(
        "UPDATE nodes SET seen_at = to_char(clock_timestamp() AT TIME ZONE 'UTC' - interval '{} seconds', \
         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') WHERE name = 'beta'",
        (NODE_LIVE + RENEW_EVERY).as_secs()
    );
    orphans_of_another_nodes_watch_are_left_to_it(&db, || db.exec(&aged));
}

/// Live while seen within [`NODE_LIVE`] of the server's clock, not after; a heartbeat makes
/// it live again.
#[test]
fn a_node_not_seen_for_long_is_no_longer_live_on_postgres() {
    let Some(db) = Db::postgres("node liveness") else {
        return;
    };
    let beta = db.config("beta", &watch("theirs", "https://t.example/"));
    record(&db, "beta", &beta, SystemClock.now());
    let mut store = db.open();
    // The caller's clock is not what counts on PostgreSQL: a day off changes nothing.
    let far = SystemClock.now().plus(Duration::from_secs(86_400));
    let live = store.live_nodes(far).unwrap();
    assert_eq!(live.len(), 1);
    assert!(live[0].watches.contains_key("theirs"));
    db.exec(&format!(
        "UPDATE nodes SET seen_at = to_char(clock_timestamp() AT TIME ZONE 'UTC' - interval '{} seconds', \
         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        NODE_LIVE.as_secs() + 5
    ));
    assert!(store.live_nodes(far).unwrap().is_empty());
    assert!(store.node_seen("beta", far).unwrap());
    assert_eq!(store.live_nodes(far).unwrap().len(), 1);
}

/// `govwatch run` records its node and watches at start, and logs the same warnings as `config
/// check`.
#[test]
fn run_records_its_node_and_warns_of_the_watches_that_differ() {
    let db = Db::sqlite();
    let site = Site::start();
    site.set("/", Resp::html("<html><body><p>A page.</p></body></html>"));
    let alpha = db.config("alpha", &watch("mine", &site.url("/")));
    let beta = db.config("beta", &watch("theirs", "https://t.example/"));
    record(&db, "beta", &beta, SystemClock.now());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"));
    cmd.arg("--config").arg(&alpha).arg("run");
    let (mut child, log) = spawn_logged(cmd);
    let deadline = Instant::now() + Duration::from_secs(30);
    let needle = "watch `theirs` is in node beta's config, not in this one";
    while !log.lock().unwrap().contains(needle) {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no `{needle}` in the log:\n{}", log.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let nodes = db.open().live_nodes(SystemClock.now()).unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert!(nodes[0].watches.contains_key("mine"));
    assert!(nodes[0].holder.starts_with("alpha:"), "{}", nodes[0].holder);
}
