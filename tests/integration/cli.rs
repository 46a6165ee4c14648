//! The command line's contract on bad input: clear messages that name the cause, nothing lost.

use crate::common;

use common::*;

#[test]
fn config_typo_names_the_key_and_line() {
    let gw = Govwatch::new("[[watch]]\nname = \"a\"\nurl = \"https://example.org/\"\nevrey = \"1h\"\n");
    let out = gw.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // [storage] takes two lines at the top of the generated file.
    assert!(
        err.contains("govwatch.toml:7:") && err.contains("unknown key `evrey`"),
        "{err}"
    );
    assert!(!gw.db_path().exists(), "a bad config must not create a database");
}

#[test]
fn bad_value_names_the_key_and_line() {
    let gw = Govwatch::new("[[watch]]\nname = \"a\"\nurl = \"not a url\"\n");
    let out = gw.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("govwatch.toml:6:") && err.contains("watch[0].url"),
        "{err}"
    );
}

#[test]
fn example_config_checks() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"))
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/govwatch.example.toml"),
            "config",
            "check",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mfa-documents") && text.contains("index"), "{text}");
}

#[test]
fn database_that_is_not_a_database_is_named_and_kept() {
    let gw = Govwatch::new("[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n");
    let junk = "these are someone's notes, not a database\n".repeat(100);
    std::fs::write(gw.db_path(), &junk).unwrap();
    let out = gw.run(&["check", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a govwatch database"), "{err}");
    assert_eq!(std::fs::read_to_string(gw.db_path()).unwrap(), junk);
}

#[test]
fn unknown_watch_name_is_an_error() {
    let gw = Govwatch::new("[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n");
    let out = gw.run(&["check", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no watch named `nope`"));
}

#[test]
fn site_down_is_not_a_failure_of_govwatch() {
    let port = free_port();
    let gw = Govwatch::new(&format!(
        "[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:{port}/\"\n"
    ));
    let out = gw.ok(&["check"]);
    assert!(
        out.contains("1 failed") && out.contains("cannot connect"),
        "{out}"
    );
    // Not due again for an hour: a plain `check` skips it, `--all` does not.
    assert!(gw.ok(&["check"]).contains("checked 0"));
    assert!(gw.ok(&["check", "--all"]).contains("checked 1"));
}

#[test]
fn corpus_import_twice_adds_nothing_and_reports_bad_files() {
    let gw = Govwatch::new("");
    let dir = gw.dir.path().join("docs");
    std::fs::create_dir(&dir).unwrap();
    for f in std::fs::read_dir(fixtures().join("corpus")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    // 10 MB of text, and a text mixing three languages: imported like any other.
    let big: String = (0..400_000)
        .map(|i| format!("Sentence {i} of a very long report. "))
        .collect();
    std::fs::write(dir.join("big.txt"), &big[..10_000_000]).unwrap();
    std::fs::write(
        dir.join("mixed.txt"),
        "Data security matters to every State.\n\n各国应当尊重他国的数据主权。\n\nLa sécurité des données concerne chaque État.\n",
    )
    .unwrap();
    std::fs::write(dir.join("image.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(
        dir.join("paper.html"),
        "<html><head><title>A paper</title></head><body><nav>Home | About</nav><article><p>States should respect the \
         sovereignty of others in cyberspace and refrain from unilateral measures against digital trade.</p></article></body></html>",
    )
    .unwrap();
    let out = gw.run(&["corpus", "import", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("7 added or updated, 2 skipped"), "{stdout}");
    assert!(stderr.contains("empty.txt: empty body"), "{stderr}");
    assert!(stderr.contains("image.png: binary content"), "{stderr}");
    let again = gw.ok(&["corpus", "import", dir.to_str().unwrap()]);
    assert!(
        again.contains("0 added or updated") && again.contains("holds 7 imported"),
        "{again}"
    );
    // Same file name, new text: the entry is replaced, not duplicated.
    let f = dir.join("004_1d2cd7d0eb42c1f4.txt");
    let edited =
        std::fs::read_to_string(&f).unwrap() + "\nA paragraph added in a revised edition of the story.\n";
    std::fs::write(&f, edited).unwrap();
    let third = gw.ok(&["corpus", "import", f.to_str().unwrap()]);
    assert!(
        third.contains("updated") && third.contains("holds 7 imported"),
        "{third}"
    );
}

#[test]
fn extract_prints_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (title, paras) = corpus_doc("001");
    let path = dir.path().join("page.html");
    std::fs::write(
        &path,
        page(
            "ministry-article.html",
            &title,
            "2023-05-25",
            &paras,
            5,
            &["Teaser one here"],
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"))
        .args(["extract", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["path"], path.to_str().unwrap());
    // Titles have typographic quotes folded to ASCII, so a template switching quote style is not
    // a new title.
    assert_eq!(v["title"], title.replace('’', "'").as_str());
    assert_eq!(v["published"], "2023-05-25");
    assert_eq!(v["lang"], "en");
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains(&paras[0]) && text.contains(paras.last().unwrap()),
        "{text}"
    );
    assert!(
        !text.contains("Views") && !text.contains("Teaser one here"),
        "{text}"
    );
}

#[test]
fn huge_every_is_refused_by_config_check_not_a_panic_in_check() {
    let gw = Govwatch::new("[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\nevery = \"10000y\"\n");
    for args in [&["config", "check"][..], &["check"]] {
        let out = gw.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("govwatch.toml:7:") && err.contains("watch[0].every") && err.contains("at most 1y"),
            "{args:?}: {err}"
        );
    }
    assert!(!gw.db_path().exists(), "a bad config must not create a database");
}

#[test]
fn wrong_type_names_the_key_and_line() {
    let gw =
        Govwatch::new("[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\nmax_documents = \"many\"\n");
    let out = gw.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("govwatch.toml:7:") && err.contains("`watch[0].max_documents`") && err.contains("many"),
        "{err}"
    );
}

#[test]
fn no_watches_is_an_error_for_run_check_and_config_check() {
    let gw = Govwatch::new("[log]\nlevel = \"info\"\n");
    for args in [&["config", "check"][..], &["check", "--all"], &["run"]] {
        let mut child = gw
            .command_with(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // `run` used to start a daemon with nothing to do: give it a few seconds, then fail.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("no [[watch]]") && err.contains("[[watch]]\nname = ") && err.contains("url = "),
            "{args:?}: {err}"
        );
    }
    assert!(
        !gw.db_path().exists(),
        "nothing to watch must not create a database"
    );
    // Commands that only read what is stored still work without watches.
    assert!(gw.ok(&["changes"]).contains("nothing found yet"));
}

#[test]
fn too_new_database_is_refused_before_anything_in_it_changes() {
    use rusqlite::config::DbConfig;
    // Rollback journal: the WAL switch rewrote the header. WAL with its last commits not yet
    // copied into the file (a newer govwatch killed mid-pass): closing copied them.
    for wal in [false, true] {
        let gw = Govwatch::new("[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n");
        {
            let conn = rusqlite::Connection::open(gw.db_path()).unwrap();
            if wal {
                conn.pragma_update(None, "journal_mode", "WAL").unwrap();
                conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
                conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                    .unwrap();
            }
            conn.execute_batch(
                "CREATE TABLE from_the_future (x TEXT); INSERT INTO from_the_future VALUES ('kept');
                 PRAGMA user_version = 1000;",
            )
            .unwrap();
        }
        let wal_path = gw.dir.path().join("govwatch.db-wal");
        let db_before = std::fs::read(gw.db_path()).unwrap();
        let wal_before = std::fs::read(&wal_path).ok();
        assert_eq!(wal_before.is_some(), wal);
        for args in [&["check", "--all"][..], &["status"], &["changes"]] {
            let out = gw.run(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "wal {wal} {args:?}: {err}");
            assert!(err.contains("newer than this govwatch"), "{err}");
            assert!(
                std::fs::read(gw.db_path()).unwrap() == db_before,
                "wal {wal} {args:?}: the database file changed"
            );
            assert!(
                std::fs::read(&wal_path).ok() == wal_before,
                "wal {wal} {args:?}: the WAL changed"
            );
        }
    }
}

/// A process at work shows in `status` under its node's name (`[daemon] node`), with its pid,
/// since when it runs and what it holds; once it is done it holds nothing and is not listed.
#[test]
fn status_names_the_node_at_work_and_since_when() {
    let addr = dripping_server();
    let gw = Govwatch::new(&format!(
        "[daemon]\nnode = \"alpha-1\"\n\n[fetch]\ntimeout = \"5s\"\n\n[[watch]]\nname = \"slow\"\nurl = \"http://{addr}/p.html\"\nrobots = false\n"
    ));
    // The database first, so that `status` never races `check` to create it.
    gw.ok(&["status"]);
    let mut check = gw
        .command_with(&["check"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    let line = loop {
        let status = gw.ok(&["status"]);
        if let Some(l) = status.lines().find(|l| l.starts_with("alpha-1 ")) {
            break l.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no node in:\n{status}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[1], check.id().to_string(), "{line}");
    assert_eq!(fields[2], today, "since: the day the process started: {line}");
    assert!(line.ends_with("1 document, 1 origin"), "{line}");
    check.wait().unwrap();
    let status = gw.ok(&["status"]);
    assert!(!status.contains("alpha-1"), "{status}");
}
