//! Several govwatch processes on one database (the daemon, `check` from cron, an operator's
//! command): each edit is one event, each message is sent once, a new database is migrated once,
//! and politeness holds over all of them. Real binaries, a real SQLite file, a real web site and
//! a real SMTP server on loopback.

mod common;

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

fn expand(ranges: &str) -> Vec<i64> {
    ranges
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .flat_map(|r| match r.trim().split_once('-') {
            Some((a, b)) => (a.parse::<i64>().unwrap()..=b.parse().unwrap()).collect::<Vec<_>>(),
            None => vec![r.trim().parse().unwrap()],
        })
        .collect()
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
