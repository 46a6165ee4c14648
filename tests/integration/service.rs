//! govwatch as a systemd service, tested against the real binary: the sd_notify protocol on a
//! datagram socket of the test's own, SIGHUP reload, SIGTERM during a slow fetch, kill -9 and
//! restart, /metrics and /healthz, and the journald log format. Loopback and temp dirs only.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Govwatch, Resp, Site, corpus_doc, free_port};

/// Polls `ok` until it holds; panics naming `what` after `secs`.
fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn article(extra: &str) -> Resp {
    let (title, mut paras) = corpus_doc("001");
    if !extra.is_empty() {
        paras.push(extra.to_string());
    }
    Resp::html(format!(
        "<html><head><title>{}</title></head><body><article><h1>{}</h1>{}</article></body></html>",
        common::escape(&title),
        common::escape(&title),
        common::body_html(&paras)
    ))
}

/// `govwatch run` as a child process, its stderr collected by a thread as it comes.
struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(mut cmd: std::process::Command) -> Daemon {
        cmd.arg("run");
        let (child, log) = common::spawn_logged(cmd);
        Daemon { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_log(&self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no `{needle}` in the log within {secs} s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the process to exit; kills it and fails if it takes longer than `secs`.
    fn wait_exit(mut self, secs: u64) -> (ExitStatus, Duration, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread drain what was written before the exit.
                std::thread::sleep(Duration::from_millis(100));
                return (status, started.elapsed(), self.log());
            }
            if started.elapsed() > Duration::from_secs(secs) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("govwatch did not exit within {secs} s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed assertion must not leave a daemon running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service manager's side of `$NOTIFY_SOCKET`: a datagram socket in a temp dir.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        NotifySocket {
            _dir: dir,
            path,
            socket,
            seen: Vec::new(),
        }
    }

    /// Receives until a message satisfies `want`; returns it. Every message is kept in `seen`.
    fn expect(&mut self, what: &str, secs: u64, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut buf = [0u8; 4096];
        loop {
            assert!(
                Instant::now() < deadline,
                "no sd_notify message {what} within {secs} s; got {:?}",
                self.seen
            );
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(msg.clone());
                if want(&msg) {
                    return msg;
                }
            }
        }
    }
}

fn page_watch(name: &str, url: &str) -> String {
    format!("[[watch]]\nname = \"{name}\"\nurl = \"{url}\"\nevery = \"1s\"\n")
}

#[test]
fn sd_notify_ready_status_watchdog_and_stopping() {
    let site = Site::start();
    site.set("/p.html", article(""));
    let gw = Govwatch::new(&page_watch("p", &site.url("/p.html")));
    let mut notify = NotifySocket::bind();
    let mut cmd = gw.command();
    cmd.env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "1000000");
    let daemon = Daemon::start(cmd);

    // READY comes first, with the database already open and a one-line STATUS.
    let ready = notify.expect("READY=1", 20, |m| m.contains("READY=1"));
    assert_eq!(
        notify.seen.len(),
        1,
        "READY was not the first message: {:?}",
        notify.seen
    );
    assert!(gw.db_path().exists(), "READY before the database exists");
    assert!(ready.contains("STATUS=1 watches; last pass none yet;"), "{ready}");

    // With WATCHDOG_USEC=1s the daemon pings every half second while healthy.
    let first = Instant::now();
    notify.expect("WATCHDOG=1", 10, |m| m == "WATCHDOG=1");
    notify.expect("a second WATCHDOG=1", 10, |m| m == "WATCHDOG=1");
    assert!(first.elapsed() < Duration::from_secs(5));

    // After a pass, STATUS says what it did and what mail is pending.
    let status = notify.expect("STATUS after a pass", 20, |m| {
        m.starts_with("STATUS=") && m.contains("1 checked")
    });
    assert!(
        status.contains("0 failed") && status.contains("0 events pending mail"),
        "{status}"
    );

    daemon.signal("TERM");
    notify.expect("STOPPING=1", 20, |m| m.contains("STOPPING=1"));
    let (status, _, log) = daemon.wait_exit(30);
    assert!(status.success(), "exit {status:?}:\n{log}");
}

#[test]
fn sd_notify_abstract_socket_and_no_watchdog_for_another_pid() {
    let site = Site::start();
    site.set("/p.html", article(""));
    let gw = Govwatch::new(&page_watch("p", &site.url("/p.html")));
    let name = format!("govwatch-test-{}-{:?}", std::process::id(), Instant::now());
    let socket = {
        use std::os::linux::net::SocketAddrExt as _;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        UnixDatagram::bind_addr(&addr).unwrap()
    };
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut cmd = gw.command();
    // WATCHDOG_PID names another process: the watchdog is not ours to ping.
    cmd.env("NOTIFY_SOCKET", format!("@{name}"))
        .env("WATCHDOG_USEC", "200000")
        .env("WATCHDOG_PID", "1");
    let daemon = Daemon::start(cmd);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    // Collect until a STATUS after a pass: by then many 100 ms watchdog periods have gone by.
    while !seen.iter().any(|m: &String| m.contains("1 checked")) {
        assert!(Instant::now() < deadline, "got {seen:?}\n{}", daemon.log());
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert!(seen[0].starts_with("READY=1"), "{seen:?}");
    assert!(!seen.iter().any(|m| m.contains("WATCHDOG")), "{seen:?}");
    daemon.signal("TERM");
    let (status, _, log) = daemon.wait_exit(30);
    assert!(status.success(), "exit {status:?}:\n{log}");
}

#[test]
fn sighup_adds_and_removes_watches_and_keeps_the_old_config_when_the_new_one_is_bad() {
    let site = Site::start();
    site.set("/a.html", article(""));
    site.set("/b.html", article("A second page."));
    let gw = Govwatch::new(&page_watch("a", &site.url("/a.html")));
    let mut notify = NotifySocket::bind();
    let mut cmd = gw.command();
    cmd.env("NOTIFY_SOCKET", &notify.path);
    let daemon = Daemon::start(cmd);
    notify.expect("READY=1", 20, |m| m.contains("READY=1"));
    wait_until("a checked twice", 20, || site.hits("/a.html") >= 2);
    assert_eq!(site.hits("/b.html"), 0);

    // Replace watch a by watch b, as an admin editing the file would, and reload.
    gw.set_config(&page_watch("b", &site.url("/b.html")));
    daemon.signal("HUP");
    notify.expect("RELOADING=1", 20, |m| m.contains("RELOADING=1"));
    notify.expect("READY=1 after the reload", 20, |m| m.contains("READY=1"));
    daemon.wait_log("config reloaded", 20);
    let log = daemon.log();
    assert!(
        log.contains("added=[\"b\"]") && log.contains("removed=[\"a\"]"),
        "{log}"
    );
    // Passes run between reloads, so nothing checks a after the reload was logged.
    let a_hits = site.hits("/a.html");
    wait_until("b checked twice", 20, || site.hits("/b.html") >= 2);
    assert_eq!(site.hits("/a.html"), a_hits, "removed watch still checked");
    // a's history survived its removal from the config.
    let hist = gw.ok(&["history", &site.url("/a.html")]);
    assert!(hist.contains("v1"), "{hist}");

    // The database cannot move on reload: the log says so and the running one stays.
    let elsewhere = gw.dir.path().join("elsewhere.db");
    std::fs::write(
        gw.config_path(),
        format!(
            "[storage]\npath = \"{}\"\n\n{}",
            elsewhere.display(),
            page_watch("b", &site.url("/b.html"))
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.wait_log("storage.path changed", 20);
    let b_hits = site.hits("/b.html");
    wait_until("b checked after the storage.path reload", 20, || {
        site.hits("/b.html") > b_hits
    });
    assert!(!elsewhere.exists(), "a second database was opened");

    // A broken file changes nothing: b is still checked, and the log says what is wrong.
    std::fs::write(
        gw.config_path(),
        format!(
            "[storage]\npath = \"{}\"\n\n[[watch]]\nname = \"b\"\nurl = \"ftp://example.org/\"\n",
            gw.db_path().display()
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.wait_log("config not reloaded", 20);
    assert!(daemon.log().contains("watch[0].url"), "{}", daemon.log());
    let b_hits = site.hits("/b.html");
    wait_until("b still checked after a bad reload", 20, || {
        site.hits("/b.html") > b_hits
    });

    daemon.signal("TERM");
    let (status, _, log) = daemon.wait_exit(30);
    assert!(status.success(), "exit {status:?}:\n{log}");
}

/// A server that answers headers and then drips a byte a second; counts connections.
fn dripping_server(connections: Arc<AtomicUsize>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let connections = connections.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>");
                connections.fetch_add(1, Ordering::SeqCst);
                while s.write_all(b" ").is_ok() {
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    addr
}

#[test]
fn sigterm_during_a_slow_fetch_exits_zero_within_the_stop_timeout() {
    let connections = Arc::new(AtomicUsize::new(0));
    let addr = dripping_server(connections.clone());
    let gw = Govwatch::new(&format!(
        "[fetch]\ntimeout = \"120s\"\n\n[daemon]\nstop_timeout = \"2s\"\n\n{}robots = false\n",
        page_watch("slow", &format!("http://{addr}/slow.html"))
    ));
    let daemon = Daemon::start(gw.command());
    wait_until("the slow fetch under way", 20, || {
        connections.load(Ordering::SeqCst) >= 1
    });
    daemon.signal("TERM");
    let (status, took, log) = daemon.wait_exit(20);
    assert!(status.success(), "exit {status:?}:\n{log}");
    // 2 s of grace, then out: far below the 120 s the fetch would take.
    assert!(
        took >= Duration::from_millis(1500),
        "did not wait for the check: {took:?}\n{log}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}\n{log}");
    assert!(
        log.contains("abandoned") && log.contains("govwatch stopped"),
        "{log}"
    );
    // Nothing half-written: the abandoned check left no version and no failure behind.
    let conn = rusqlite::Connection::open(gw.db_path()).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let snapshots: i64 = conn
        .query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(snapshots, 0);
}

#[test]
fn kill_9_then_restart_leaves_a_sound_database_and_the_schedule_resumes() {
    let site = Site::start();
    let mut config = String::new();
    for i in 0..4 {
        site.set(&format!("/p{i}.html"), article(&format!("Page number {i}.")));
        config.push_str(&page_watch(&format!("p{i}"), &site.url(&format!("/p{i}.html"))));
    }
    let gw = Govwatch::new(&config);
    let mut daemon = Daemon::start(gw.command());
    // Killed while it keeps checking (every page every second), at no chosen moment.
    wait_until("every page checked three times", 30, || {
        (0..4).all(|i| site.hits(&format!("/p{i}.html")) >= 3)
    });
    daemon.child.kill().unwrap();
    let status = daemon.child.wait().unwrap();
    assert!(!status.success());
    drop(daemon);

    // Opening recovers the WAL; the result must be a sound database with every baseline.
    {
        let conn = rusqlite::Connection::open(gw.db_path()).unwrap();
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let versions: i64 = conn
            .query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions, 4, "one baseline per page, no more, no less");
    }

    let before: Vec<usize> = (0..4).map(|i| site.hits(&format!("/p{i}.html"))).collect();
    let daemon = Daemon::start(gw.command());
    wait_until("every page checked again after the restart", 30, || {
        (0..4).all(|i| site.hits(&format!("/p{i}.html")) >= before[i] + 2)
    });
    daemon.signal("TERM");
    let (status, _, log) = daemon.wait_exit(30);
    assert!(status.success(), "exit {status:?}:\n{log}");
    // The restart continued from the stored state: no second baseline, nothing "changed".
    assert!(!log.contains("stored first version"), "{log}");
    assert!(gw.changes().is_empty());
}

/// GET over a plain TCP connection: (status code, body).
fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let code = raw.split(' ').nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n")?.1.to_string();
    Some((code, body))
}

/// The value of the sample line starting with `prefix` (name and labels), read without the
/// `node` label that every line carries.
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .map(without_node)
        .find(|l| l.starts_with(prefix) && l[prefix.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
}

/// A sample line without its `node` label (the first label): `a{node="n",b="c"} 1` is read as
/// `a{b="c"} 1`, and `a{node="n"} 1` as `a 1`.
fn without_node(line: &str) -> String {
    let Some(start) = line.find("{node=\"") else {
        return line.to_string();
    };
    let value_end = start + 7 + line[start + 7..].find('"').unwrap();
    match &line[value_end + 1..] {
        rest if rest.starts_with(',') => format!("{}{{{}", &line[..start], &rest[1..]),
        rest => format!("{}{}", &line[..start], &rest[1..]),
    }
}

#[test]
fn metrics_and_healthz_report_checks_failures_events_and_mail() {
    let site = Site::start();
    site.set("/p.html", article(""));
    let addr = format!("127.0.0.1:{}", free_port());
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"a@example.org\"]\n\n[http]\nlisten = \"{addr}\"\n\n[daemon]\nnode = \"scraped-1\"\n\n{}{}",
        page_watch("p", &site.url("/p.html")),
        page_watch("gone", &site.url("/missing.html")),
    ));
    let daemon = Daemon::start(gw.command());
    wait_until("/healthz answers 200", 20, || {
        http_get(&addr, "/healthz").is_some_and(|(code, body)| code == 200 && body == "ok\n")
    });
    let metrics = || http_get(&addr, "/metrics").map(|(_, b)| b).unwrap_or_default();
    wait_until("a baseline and a 404 counted", 20, || {
        let m = metrics();
        sample(&m, "govwatch_checks_total{outcome=\"baseline\"}") == Some(1.0)
            && sample(&m, "govwatch_check_failures_total{reason=\"status\"}").is_some_and(|v| v >= 1.0)
    });

    // A change: one event, mailed (to the outbox, no SMTP configured), nothing left pending.
    site.set(
        "/p.html",
        article("States shall not weaponise cross-border data flows."),
    );
    wait_until("the change counted and mailed", 20, || {
        let m = metrics();
        sample(&m, "govwatch_events_total{kind=\"changed\"}") == Some(1.0)
            && sample(&m, "govwatch_mails_sent_total").is_some_and(|v| v >= 1.0)
            && sample(&m, "govwatch_mail_pending") == Some(0.0)
    });
    let m = metrics();
    // Every sample names the node it comes from (`[daemon] node`).
    for l in m.lines().filter(|l| !l.starts_with('#')) {
        assert!(l.contains("{node=\"scraped-1\""), "{l}");
    }
    assert_eq!(sample(&m, "govwatch_watches"), Some(2.0), "{m}");
    assert_eq!(sample(&m, "govwatch_up"), Some(1.0), "{m}");
    let fetches = sample(&m, "govwatch_fetch_duration_seconds_count").unwrap();
    assert!(fetches >= 3.0, "{m}");
    assert_eq!(
        sample(&m, "govwatch_fetch_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(fetches),
        "{m}"
    );
    assert!(
        sample(&m, "govwatch_last_pass_timestamp_seconds").unwrap() > 1.7e9,
        "{m}"
    );
    assert!(
        m.contains("# TYPE govwatch_fetch_duration_seconds histogram"),
        "{m}"
    );
    assert_eq!(gw.outbox().len(), 1);
    assert_eq!(http_get(&addr, "/nothing").map(|(c, _)| c), Some(404));

    daemon.signal("TERM");
    let (status, _, log) = daemon.wait_exit(30);
    assert!(status.success(), "exit {status:?}:\n{log}");
}

#[test]
fn listen_address_in_use_is_a_clear_startup_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    // A watch, since `run` refuses a config without one before it gets to listening.
    let gw = Govwatch::new(&format!(
        "[http]\nlisten = \"{addr}\"\n\n[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n"
    ));
    let out = gw.command().arg("run").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("http.listen"),
        "{err}"
    );
}

#[test]
fn journald_lines_have_priority_no_timestamp_and_fields() {
    let site = Site::start();
    site.set("/p.html", article(""));
    let gw = Govwatch::new(&format!(
        "{}{}",
        page_watch("p", &site.url("/p.html")),
        page_watch("gone", &site.url("/missing.html"))
    ));
    let run = |journal: bool| -> String {
        let path = gw.dir.path().join(format!("stderr-{journal}.log"));
        let file = std::fs::File::create(&path).unwrap();
        let mut cmd = gw.command();
        cmd.env_remove("RUST_LOG").env_remove("JOURNAL_STREAM");
        if journal {
            // What systemd sets: the device and inode of the stream it connected to stderr.
            use std::os::unix::fs::MetadataExt as _;
            let m = file.metadata().unwrap();
            cmd.env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()));
        }
        let status = cmd.args(["check", "--all"]).stderr(file).status().unwrap();
        assert!(status.success());
        std::fs::read_to_string(path).unwrap()
    };

    let journal = run(true);
    let failed = journal
        .lines()
        .find(|l| l.contains("check failed"))
        .unwrap_or_else(|| panic!("{journal}"));
    assert!(failed.starts_with("<4>"), "{failed}");
    for field in ["outcome=\"failed\"", "watch=gone", "url=http://"] {
        assert!(failed.contains(field), "{field} missing: {failed}");
    }
    let stored = journal
        .lines()
        .find(|l| l.contains("stored first version"))
        .unwrap_or_else(|| panic!("{journal}"));
    assert!(
        stored.starts_with("<6>") && stored.contains("watch=p"),
        "{stored}"
    );
    assert!(
        !journal.contains("\x1b["),
        "colour codes in the journal: {journal}"
    );
    assert!(
        !journal.contains("2026-") && !journal.contains("Z "),
        "timestamps: {journal}"
    );

    // Elsewhere (stderr is not the journal stream): timestamps and no priority prefix.
    let plain = run(false);
    let first = plain.lines().next().unwrap();
    assert!(
        first.as_bytes()[0].is_ascii_digit() && !first.starts_with('<'),
        "{plain}"
    );
}

#[test]
fn log_level_comes_from_the_config_unless_rust_log_is_set() {
    let site = Site::start();
    site.set("/p.html", article(""));
    let gw = Govwatch::new(&format!(
        "[log]\nlevel = \"warn\"\n\n{}{}",
        page_watch("p", &site.url("/p.html")),
        page_watch("gone", &site.url("/missing.html"))
    ));
    let quiet = gw
        .command()
        .env_remove("RUST_LOG")
        .args(["check", "--all"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&quiet.stderr);
    assert!(log.contains("check failed") && !log.contains("INFO"), "{log}");

    let loud = gw
        .command()
        .env("RUST_LOG", "govwatch=debug")
        .args(["check", "--all"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&loud.stderr);
    assert!(log.contains("INFO") && log.contains("check failed"), "{log}");
}

#[test]
fn watchdog_stops_while_the_database_does_not_answer_and_resumes_after() {
    let site = Site::start();
    site.set("/p.html", article(""));
    let addr = format!("127.0.0.1:{}", free_port());
    let gw = Govwatch::new(&format!(
        "[http]\nlisten = \"{addr}\"\n\n{}",
        page_watch("p", &site.url("/p.html"))
    ));
    let mut notify = NotifySocket::bind();
    let mut cmd = gw.command();
    cmd.env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "1000000");
    let daemon = Daemon::start(cmd);
    notify.expect("WATCHDOG=1", 20, |m| m == "WATCHDOG=1");

    // Another process holds the database's write lock (a stuck backup, a runaway sqlite3
    // shell): govwatch's queries wait, and it must stop claiming to be healthy.
    let lock = rusqlite::Connection::open(gw.db_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    daemon.wait_log("not pinging the watchdog", 20);
    assert!(
        daemon.log().contains("database did not answer"),
        "{}",
        daemon.log()
    );
    let (code, body) = http_get(&addr, "/healthz").unwrap();
    assert!(code == 503 && body.contains("database"), "{code} {body}");
    // Drain what was sent before the log line, then: silence while the lock is held.
    let mut buf = [0u8; 4096];
    while notify.socket.recv(&mut buf).is_ok() {}
    let quiet_from = Instant::now();
    while quiet_from.elapsed() < Duration::from_secs(2) {
        if let Ok(n) = notify.socket.recv(&mut buf) {
            assert_ne!(&buf[..n], b"WATCHDOG=1", "pinged while the database was locked");
        }
    }

    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    notify.expect("WATCHDOG=1 after the lock is gone", 30, |m| m == "WATCHDOG=1");
    wait_until("/healthz back to 200", 20, || {
        http_get(&addr, "/healthz").is_some_and(|(c, _)| c == 200)
    });
    daemon.signal("TERM");
    let (status, _, log) = daemon.wait_exit(30);
    assert!(status.success(), "exit {status:?}:\n{log}");
}

#[test]
fn a_site_that_hangs_does_not_hold_up_the_schedule_of_other_sites() {
    // Regression: a pass waited for every check, so one site answering slowly (or pausing the
    // pass) kept a watch due every 2 s from being fetched for as long as the slow fetch took.
    let connections = Arc::new(AtomicUsize::new(0));
    let addr = dripping_server(connections.clone());
    let site = Site::start();
    site.set("/fast.html", article(""));
    let gw = Govwatch::new(&format!(
        "[fetch]\ntimeout = \"120s\"\n\n[daemon]\nstop_timeout = \"1s\"\n\n{}robots = false\n\n\
         [[watch]]\nname = \"fast\"\nurl = \"{}\"\nkind = \"page\"\nevery = \"2s\"\n",
        page_watch("slow", &format!("http://{addr}/slow.html")),
        site.url("/fast.html")
    ));
    let daemon = Daemon::start(gw.command());
    wait_until("the slow fetch under way", 20, || {
        connections.load(Ordering::SeqCst) >= 1
    });
    let before = site.hits("/fast.html");
    std::thread::sleep(Duration::from_secs(9));
    let during = site.hits("/fast.html") - before;
    assert!(
        during >= 3,
        "the 2 s watch was fetched {during} times in 9 s while another site hung:\n{}",
        daemon.log()
    );
    // The hanging check is still one check: it was not started again by later passes.
    assert_eq!(connections.load(Ordering::SeqCst), 1, "{}", daemon.log());
    daemon.signal("TERM");
    let (status, _, log) = daemon.wait_exit(20);
    assert!(status.success(), "exit {status:?}:\n{log}");
}
