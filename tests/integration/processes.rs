//! Several govwatch processes on one database (the daemon, `check` from cron, an operator's
//! command): each edit is one event, each message is sent once, a new database is migrated once,
//! and politeness holds over all of them. Real binaries, a real SQLite file, a real web site and
//! a real SMTP server on loopback.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Output};

use common::*;

/// A page of its own for `i`, whose statements change with `round`. Every page says something
/// different, as real pages do: a sentence shared by many pages of a site is its template.
fn statement_page(i: usize, round: u32) -> String {
    let (title, mut paras) = corpus_doc("001");
    paras.truncate(6);
    paras.push(format!(
        "On matter {i}, the ministry states in round {round} that all States should jointly oppose \
         measure {i}-{round} restricting cross-border data flows and data localisation number {i}."
    ));
    page(
        "ministry-article.html",
        &format!("{title} ({i})"),
        "2023-05-25",
        &paras,
        round,
        &["Minister meets delegation"],
    )
}

fn set_round(site: &Site, count: usize, round: u32) {
    for i in 0..count {
        site.set(&format!("/p{i}.html"), Resp::html(statement_page(i, round)));
    }
}

/// `count` page watches on `site`, fetched briskly: the test is about processes, not delays.
fn config(site: &Site, count: usize, smtp: &str) -> String {
    let mut c = format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{smtp}\"\n\n\
         [fetch]\nper_host_concurrency = 8\nper_host_delay = \"0s\"\n\n"
    );
    for i in 0..count {
        c.push_str(&format!(
            "[[watch]]\nname = \"p{i}\"\nurl = \"{}\"\nevery = \"1h\"\n\n",
            site.url(&format!("/p{i}.html"))
        ));
    }
    c
}

fn spawn(gw: &Govwatch, args: &[&str]) -> Child {
    gw.command_with(args)
        .env("RUST_LOG", "govwatch=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn succeeded(out: Output) -> String {
    assert!(
        out.status.success(),
        "govwatch failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn two_processes_over_300_changed_documents_make_300_events_and_send_each_message_once() {
    const N: usize = 300;
    let site = Site::start();
    let smtp = Smtp::start();
    let gw = Govwatch::new(&config(&site, N, &smtp.url()));
    set_round(&site, N, 1);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains(&format!("{N} baseline")), "{out}");

    for round in 2..=3 {
        set_round(&site, N, round);
        // Two operators (or the daemon and cron) at once, over the same 300 edited pages.
        let a = spawn(&gw, &["check", "--all"]);
        let b = spawn(&gw, &["check", "--all"]);
        succeeded(a.wait_with_output().unwrap());
        succeeded(b.wait_with_output().unwrap());

        let events = gw.changes();
        let changed: Vec<_> = events.iter().filter(|e| e["kind"] == "changed").collect();
        assert_eq!(
            changed.len(),
            N * (round as usize - 1),
            "round {round}: one event per edited document"
        );
        let per_doc: HashSet<(String, String)> = changed
            .iter()
            .map(|e| (e["url"].to_string(), e["added"].to_string()))
            .collect();
        assert_eq!(per_doc.len(), changed.len(), "the same edit recorded twice");
    }

    // Every message once: no Message-ID arrives twice, no event is in two messages, and every
    // event arrived.
    let mails = smtp.mails();
    let mut seen_ids = HashSet::new();
    let mut mailed: HashMap<i64, usize> = HashMap::new();
    for m in &mails {
        let id = mail_header(&m.data, "Message-ID").expect("a Message-ID");
        assert!(seen_ids.insert(id.clone()), "message {id} sent twice");
        for e in expand(&mail_header(&m.data, "X-Govwatch-Events").expect("the events header")) {
            *mailed.entry(e).or_default() += 1;
        }
    }
    assert!(mailed.values().all(|&n| n == 1), "an event mailed twice");
    assert_eq!(mailed.len(), 2 * N, "every event mailed");
}

#[test]
fn processes_opening_a_new_database_at_once_migrate_it_once() {
    let site = Site::start();
    site.set("/p0.html", Resp::html(statement_page(0, 1)));
    for _ in 0..3 {
        let gw = Govwatch::new(&config(&site, 1, "smtp://127.0.0.1:1"));
        let runs: Vec<Child> = (0..4).map(|_| spawn(&gw, &["check", "--all"])).collect();
        for r in runs {
            succeeded(r.wait_with_output().unwrap());
        }
        let status = gw.ok(&["status"]);
        assert!(status.contains("p0"), "{status}");
    }
}

/// `count` page watches on `site` under a strict politeness setting: one request at a time per
/// origin, `delay` apart.
fn polite_config(site: &Site, count: usize, delay_s: u64) -> String {
    let mut c = format!("[fetch]\nper_host_concurrency = 1\nper_host_delay = \"{delay_s}s\"\n\n");
    for i in 0..count {
        c.push_str(&format!(
            "[[watch]]\nname = \"p{i}\"\nurl = \"{}\"\nevery = \"1h\"\nrobots = false\n\n",
            site.url(&format!("/p{i}.html"))
        ));
    }
    c
}

#[test]
fn politeness_holds_over_two_processes_on_one_origin() {
    // Regression: each process kept its own per-origin gate, so two processes on one origin
    // sent requests side by side, closer than `per_host_delay`.
    const N: usize = 8;
    const DELAY_MS: u64 = 1000;
    let site = Site::start();
    set_round(&site, N, 1);
    let gw = Govwatch::new(&polite_config(&site, N, DELAY_MS / 1000));
    gw.ok(&["status"]);
    let names = |r: std::ops::Range<usize>| r.map(|i| format!("p{i}")).collect::<Vec<_>>();
    let (first, second) = (names(0..N / 2), names(N / 2..N));
    let args = |names: &[String]| {
        let mut a = vec!["check".to_string()];
        a.extend(names.iter().cloned());
        a
    };
    let (a, b) = (args(&first), args(&second));
    let a = spawn(&gw, &a.iter().map(String::as_str).collect::<Vec<_>>());
    let b = spawn(&gw, &b.iter().map(String::as_str).collect::<Vec<_>>());
    succeeded(a.wait_with_output().unwrap());
    succeeded(b.wait_with_output().unwrap());

    let mut starts: Vec<_> = site.all_hits().into_iter().map(|(_, t)| t).collect();
    starts.sort();
    assert_eq!(starts.len(), N, "every page fetched once");
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        // A little slack for the clock of a loaded machine; two processes racing each other
        // start requests within milliseconds.
        assert!(
            gap >= std::time::Duration::from_millis(DELAY_MS - 50),
            "two requests to one origin {gap:?} apart, under the {DELAY_MS} ms delay"
        );
    }
}

#[test]
fn a_pause_learnt_by_one_process_is_honoured_by_another_running_at_the_same_time() {
    const N: usize = 8;
    let site = Site::start();
    set_round(&site, N, 1);
    // The origin's third page asks for an hour's pause.
    site.set("/p2.html", Resp::status(429, &[("Retry-After", "3600")]));
    let gw = Govwatch::new(&polite_config(&site, N, 1));
    gw.ok(&["status"]);
    let a = spawn(&gw, &["check", "p0", "p1", "p2", "p3"]);
    let b = spawn(&gw, &["check", "p4", "p5", "p6", "p7"]);
    let (out_a, out_b) = (
        succeeded(a.wait_with_output().unwrap()),
        succeeded(b.wait_with_output().unwrap()),
    );
    let hits = site.all_hits();
    let paused_at = hits
        .iter()
        .find(|(p, _)| p == "/p2.html")
        .map(|(_, t)| *t)
        .expect("the page that pauses was asked for");
    let after: Vec<_> = hits.iter().filter(|(_, t)| *t > paused_at).collect();
    assert!(
        after.is_empty(),
        "requests after the origin asked for a pause: {after:?}\n{out_a}\n{out_b}"
    );
    assert!(
        out_a.contains("deferred") || out_b.contains("deferred"),
        "{out_a}\n{out_b}"
    );
}
