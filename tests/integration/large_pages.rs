//! Large pages rewritten whole, against the real `govwatch run` daemon and a loopback web site:
//! judging a multi-megabyte page whose every sentence changed must neither hold up the other
//! watches nor a SIGTERM. Comparing every removed sentence with every added one took minutes
//! for such a page (issue 12, point 3).

use crate::common;

use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Govwatch, Resp, Site, corpus_doc};

/// About 2 MB: judged in well under a second now, and for many minutes by the all-pairs way.
const PAGE_BYTES: usize = 2_000_000;

/// The sentences of the fixture articles, dealt into two piles that share no sentence: the
/// first version of the large page is made of one, the rewritten version of the other.
fn piles() -> (Vec<String>, Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for prefix in ["000", "001", "003", "004"] {
        let (_, paras) = corpus_doc(prefix);
        for p in paras {
            for s in govwatch::compare::diff::sentences(&p) {
                if seen.insert(s.clone()) {
                    if seen.len() % 2 == 0 {
                        first.push(s);
                    } else {
                        second.push(s);
                    }
                }
            }
        }
    }
    (first, second)
}

/// A page of about [`PAGE_BYTES`] from a pile: its sentences over and over, in paragraphs of
/// three to six, grouped differently on every round through the pile.
fn large_page(pile: &[String]) -> Resp {
    let mut body = String::with_capacity(PAGE_BYTES + 1024);
    let (mut round, mut n) = (0, 0);
    while body.len() < PAGE_BYTES {
        let mut i = 0;
        while i < pile.len() && body.len() < PAGE_BYTES {
            let len = 3 + (n + round) % 4;
            let para = pile[i..(i + len).min(pile.len())].join(" ");
            body.push_str(&format!("<p>{}</p>\n", common::escape(&para)));
            i += len;
            n += 1;
        }
        round += 1;
    }
    Resp::html(format!(
        "<html><head><title>Collected positions</title></head><body><article><h1>Collected positions</h1>\n{body}</article></body></html>"
    ))
}

fn small_page() -> Resp {
    let (title, paras) = corpus_doc("004");
    Resp::html(format!(
        "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>{}</article></body></html>",
        common::body_html(&paras[..4.min(paras.len())]),
        t = common::escape(&title)
    ))
}

/// `govwatch run` as a child process, its stderr collected as it comes.
struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(gw: &Govwatch) -> Daemon {
        let mut cmd = gw.command();
        cmd.arg("run");
        let (child, log) = common::spawn_logged(cmd);
        Daemon { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the exit; `None` (the daemon killed) if it takes longer than `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some((status, started.elapsed()));
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed assertion must not leave a daemon judging in the background.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many versions of the large page are stored.
fn versions(gw: &Govwatch) -> i64 {
    let Ok(conn) = rusqlite::Connection::open(gw.db_path()) else {
        return 0;
    };
    conn.query_row(
        "SELECT count(*) FROM snapshots s JOIN documents d ON d.id = s.document_id WHERE d.watch = 'big'",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

/// Polls `ok` until it holds; panics naming `what` after `secs`.
fn wait_until(what: &str, secs: u64, log: impl Fn() -> String, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "not within {secs} s: {what}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The large page on one site and a small page every second on another (another host, so
/// politeness does not space the two); `extra` goes into the config.
fn setup(extra: &str) -> (Site, Site, Govwatch, Resp) {
    let (first, second) = piles();
    let big = Site::start_on("127.0.0.1");
    let small = Site::start_on("127.0.0.2");
    big.set("/big.html", large_page(&first));
    small.set("/small.html", small_page());
    let gw = Govwatch::new(&format!(
        "{extra}\n\
         [[watch]]\nname = \"big\"\nurl = \"{}\"\nevery = \"2s\"\nrobots = false\n\n\
         [[watch]]\nname = \"small\"\nurl = \"{}\"\nevery = \"1s\"\nrobots = false\n",
        big.url("/big.html"),
        small.url("/small.html"),
    ));
    (big, small, gw, large_page(&second))
}

#[test]
fn a_large_page_rewritten_whole_does_not_hold_up_another_watch() {
    let (big, small, gw, rewritten) = setup("");
    let daemon = Daemon::start(&gw);
    let log = || daemon.log();
    wait_until("the large page's first version stored", 30, log, || {
        versions(&gw) == 1
    });
    big.set("/big.html", rewritten);
    wait_until("the rewritten page fetched", 30, log, || {
        big.hits("/big.html") >= 2
    });
    let fetched = big.hit_times("/big.html")[1];
    // While the rewrite is judged (and after), the small page keeps its every-second schedule.
    let window = Duration::from_secs(6);
    std::thread::sleep(window);
    let judged = versions(&gw) == 2;
    let mut times: Vec<Instant> = small
        .hit_times("/small.html")
        .into_iter()
        .filter(|t| *t + Duration::from_secs(2) >= fetched)
        .collect();
    times.insert(0, fetched);
    times.push(Instant::now());
    let longest = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        longest <= Duration::from_millis(3500),
        "the small page waited {longest:?} between checks while the rewrite was judged (judged: {judged})\n{}",
        log()
    );
    assert!(judged, "the rewrite was not judged within {window:?}\n{}", log());
    drop(daemon);
    let changes = gw.changes();
    let change = changes
        .iter()
        .find(|c| c["watch"] == "big")
        .unwrap_or_else(|| panic!("no change event for the large page: {changes:#?}"));
    assert_eq!(change["kind"], "changed", "{change:#}");
}

#[test]
fn sigterm_while_a_large_rewrite_is_judged_ends_within_the_stop_timeout() {
    let (big, _small, gw, rewritten) = setup("[daemon]\nstop_timeout = \"1s\"\n");
    let mut daemon = Daemon::start(&gw);
    let shared_log = daemon.log.clone();
    let log = || shared_log.lock().unwrap().clone();
    wait_until("the large page's first version stored", 30, log, || {
        versions(&gw) == 1
    });
    big.set("/big.html", rewritten);
    wait_until("the rewritten page fetched", 30, log, || {
        big.hits("/big.html") >= 2
    });
    // Fetched over loopback and extracted in a moment: the comparison is under way.
    std::thread::sleep(Duration::from_millis(300));
    daemon.terminate();
    let limit = Duration::from_secs(2); // stop_timeout + 1 s
    let exited = daemon.wait_exit(Duration::from_secs(15));
    let (status, took) = exited.unwrap_or_else(|| panic!("govwatch did not exit within 15 s\n{}", log()));
    assert!(
        took <= limit,
        "exit took {took:?}, past stop_timeout + 1 s\n{}",
        log()
    );
    assert!(status.success(), "exit {status:?}\n{}", log());
    // Whatever was committed is sound, and the first version is never lost.
    let conn = rusqlite::Connection::open(gw.db_path()).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    assert!(versions(&gw) >= 1);
}
