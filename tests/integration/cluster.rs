//! The cluster test (issue 17): three `govwatch run` nodes on one PostgreSQL schema, each with
//! its own config file that differs from the others only in `[daemon] node`, watch pages on two
//! loopback origins whose content changes every round and mail a real loopback SMTP server that
//! takes its time before each 250. Every round one node, drawn at random, is killed with SIGKILL
//! at a random moment and restarted under its name; the other two keep running. At the end all
//! three run undisturbed until nothing is pending, and stop on SIGTERM. Then:
//!
//! - every edit exists once: each page's versions are its rounds, strictly increasing (no round
//!   stored twice, none stored after a later one), and no (page, kind, round) has two events;
//! - every relevant event reached every recipient in exactly one message (a message may arrive
//!   twice only with the same Message-ID and the same events, the window kill.rs documents);
//! - no origin ever had two requests in flight at once (`per_host_concurrency = 1`), robots.txt
//!   included, although each response takes a while.
//!
//! The victim is drawn each round rather than always the same node: whichever node holds an
//! origin's lease or a mail batch when the kill comes is the one that matters, and a node that
//! is always the one killed would end up holding little (the others take the origins while it
//! restarts), so the kills would mostly hit an idle process.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

const NODES: [&str; 3] = ["alpha", "beta", "gamma"];
/// Pages per origin; two origins.
const PAGES: usize = 6;
const ROUNDS: u32 = 12;
const RECIPIENTS: [&str; 2] = ["a@example.org", "b@example.org"];
/// How long each response takes. A pass over one origin's pages (1.2 s) then outlasts their
/// `every` (1 s), so another node's next tick finds some of them due while the first node is
/// still fetching: with origin leases that always grant (tried by hand), every run failed on
/// overlapping requests; with 40 ms responses over 2 pages none did, and with 100 ms over 6
/// pages only some.
const RESPONSE_TIME: Duration = Duration::from_millis(200);

/// Page `i` of origin `o` at `round`: a stretch of a corpus text of its own (pages that copied
/// each other would be compared as republications), plus one statement per round so far.
fn page_at(o: usize, i: usize, round: u32) -> String {
    let n = o * PAGES + i;
    let (title, paras) = corpus_doc(["000", "001", "003", "004"][n % 4]);
    let mut paras: Vec<String> = paras.into_iter().skip(1 + n / 4 * 10).take(10).collect();
    for r in 1..=round {
        paras.push(format!(
            "In statement {r} the ministry says that all States should oppose restriction {r} on cross-border data flows and protect data security in cyberspace (page {o}-{i})."
        ));
    }
    page(
        "ministry-article.html",
        &title,
        "2023-05-25",
        &paras,
        round,
        &["Minister meets delegation"],
    )
}

/// The round a stored text is at: its last statement's number (0 for none).
fn round_of(text: &str) -> u32 {
    text.split("In statement ")
        .skip(1)
        .filter_map(|s| s.split(' ').next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// The three daemons, each with its config and its log (appended to across restarts). Whatever
/// still runs when the test ends, passed or not, is killed.
struct Nodes<'a> {
    gw: &'a Govwatch,
    configs: Vec<PathBuf>,
    logs: Vec<PathBuf>,
    children: Vec<Option<Child>>,
}

impl Nodes<'_> {
    fn spawn(&mut self, n: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.logs[n])
            .unwrap();
        let child = self
            .gw
            .command_at(&self.configs[n])
            .arg("run")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children[n] = Some(child);
    }

    fn kill_9(&mut self, n: usize) {
        let mut child = self.children[n].take().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    /// SIGTERM to all, then each must exit cleanly.
    fn stop_all(&mut self) {
        for child in self.children.iter().flatten() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for (n, slot) in self.children.iter_mut().enumerate() {
            let status = slot.take().unwrap().wait().unwrap();
            assert!(status.success(), "node {} exit {status}", NODES[n]);
        }
    }

    fn logs(&self) -> String {
        self.logs
            .iter()
            .zip(NODES)
            .map(|(p, n)| {
                let log = std::fs::read_to_string(p).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(60).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("---- {n} (last lines)\n{}\n", tail.join("\n"))
            })
            .collect()
    }
}

impl Drop for Nodes<'_> {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Each document's stored versions, by URL: (version, round), in version order.
fn versions(schema: &pg::Schema) -> BTreeMap<String, Vec<(i64, u32)>> {
    let mut out: BTreeMap<String, Vec<(i64, u32)>> = BTreeMap::new();
    let rows = schema
        .client()
        .query(
            "SELECT d.url, s.version, s.text FROM snapshots s JOIN documents d ON d.id = s.document_id
             ORDER BY d.url, s.version",
            &[],
        )
        .unwrap();
    for r in rows {
        let text = zstd::decode_all(r.get::<_, Vec<u8>>(2).as_slice()).unwrap();
        out.entry(r.get(0))
            .or_default()
            .push((r.get(1), round_of(&String::from_utf8_lossy(&text))));
    }
    out
}

/// Every event: (id, url, kind, relevant, the round of the version it is about, if any).
fn events(schema: &pg::Schema) -> Vec<(i64, String, String, bool, Option<u32>)> {
    schema
        .client()
        .query(
            "SELECT e.id, e.url, e.kind, e.relevant, s.text FROM events e
             LEFT JOIN snapshots s ON s.id = e.snapshot_id ORDER BY e.id",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| {
            let round = r
                .get::<_, Option<Vec<u8>>>(4)
                .map(|z| round_of(&String::from_utf8_lossy(&zstd::decode_all(z.as_slice()).unwrap())));
            (r.get(0), r.get(1), r.get(2), r.get::<_, i64>(3) != 0, round)
        })
        .collect()
}

#[test]
fn three_nodes_one_killed_at_random_lose_nothing_repeat_nothing_and_stay_polite() {
    let mut rng = replayable_rng("cluster test", "GOVWATCH_CLUSTER_SEED");

    let sites = [Site::start(), Site::start()];
    for site in &sites {
        site.set_delay(RESPONSE_TIME);
    }
    let smtp = Smtp::start_with(
        free_port(),
        SmtpOptions {
            delay: Duration::from_millis(120),
            ..Default::default()
        },
    );
    let mut watches = String::new();
    for (o, site) in sites.iter().enumerate() {
        for i in 0..PAGES {
            watches.push_str(&format!(
                "[[watch]]\nname = \"p{o}-{i}\"\nurl = \"{}\"\nevery = \"1s\"\n\n",
                site.url(&format!("/p{i}.html"))
            ));
        }
    }
    // No least delay between requests: then only the cap on requests in flight (and the origin
    // leases that carry it across nodes) keeps two requests apart, and a lapse shows as overlap.
    let shared = format!(
        "[fetch]\nper_host_concurrency = 1\nper_host_delay = \"0s\"\n\n\
         [email]\nfrom = \"govwatch@example.org\"\nto = [\"{}\", \"{}\"]\nsmtp_url = \"{}\"\n\
         timeout = \"5s\"\nretry_after = \"1s\"\nretry_max = \"2s\"\n\n{watches}",
        RECIPIENTS[0],
        RECIPIENTS[1],
        smtp.url()
    );
    let Some(gw) = Govwatch::on(Backend::Postgres, &shared) else {
        return;
    };
    let schema = gw.pg.as_ref().unwrap();
    let mut nodes = Nodes {
        gw: &gw,
        configs: NODES
            .iter()
            .map(|n| {
                gw.write_config(
                    &format!("{n}.toml"),
                    &format!("[daemon]\nnode = \"{n}\"\nstop_timeout = \"10s\"\n\n{shared}"),
                )
            })
            .collect(),
        logs: NODES
            .iter()
            .map(|n| gw.dir.path().join(format!("{n}.log")))
            .collect(),
        children: NODES.iter().map(|_| None).collect(),
    };

    let set_round = |round: u32| {
        for (o, site) in sites.iter().enumerate() {
            for i in 0..PAGES {
                site.set(&format!("/p{i}.html"), Resp::html(page_at(o, i, round)));
            }
        }
    };
    let t0 = Instant::now();
    set_round(1);
    for n in 0..NODES.len() {
        nodes.spawn(n);
    }
    let mut kills = Vec::new();
    for round in 1..=ROUNDS {
        set_round(round);
        let victim = rng.usize(..NODES.len());
        let after = Duration::from_millis(rng.u64(150..2200));
        std::thread::sleep(after);
        nodes.kill_9(victim);
        kills.push((NODES[victim], t0.elapsed().as_millis()));
        nodes.spawn(victim);
    }
    eprintln!("killed (node, ms since start): {kills:?}");

    // Undisturbed until every page's last round is stored and nothing is pending, then a clean
    // stop.
    let drain = Instant::now();
    let deadline = drain + Duration::from_secs(60);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let all_seen = versions(schema)
            .values()
            .filter(|v| v.last().is_some_and(|(_, r)| *r == ROUNDS))
            .count()
            == sites.len() * PAGES;
        let rows = gw.outbox_rows();
        let all_queued = events(schema)
            .iter()
            .filter(|e| e.3)
            .all(|e| rows.iter().filter(|r| r["event_id"] == e.0).count() == RECIPIENTS.len());
        let settled = all_queued && rows.iter().all(|r| r["state"] != "pending");
        if all_seen && settled || Instant::now() > deadline {
            break;
        }
    }
    eprintln!("drained in {} ms", drain.elapsed().as_millis());
    nodes.stop_all();
    let logs = nodes.logs();

    // No origin ever saw two requests at once.
    for (o, site) in sites.iter().enumerate() {
        let spans = site.spans();
        let overlaps: Vec<String> = site
            .overlaps()
            .iter()
            .map(|(a, b)| {
                let at = |t: Instant| t.saturating_duration_since(t0).as_millis();
                format!(
                    "{} {}..{:?} and {} from {}",
                    a.path,
                    at(a.start),
                    a.end.map(at),
                    b.path,
                    at(b.start)
                )
            })
            .collect();
        assert!(
            spans.len() > ROUNDS as usize,
            "origin {o} saw only {} requests",
            spans.len()
        );
        assert!(
            site.max_in_flight() == 1 && overlaps.is_empty(),
            "origin {o} had {} requests in flight at once (ms since start; kills at {kills:?}): {overlaps:#?}\n{logs}",
            site.max_in_flight()
        );
        eprintln!(
            "origin {o}: {} requests ({} of robots.txt), never two at once",
            spans.len(),
            site.hits("/robots.txt")
        );
    }

    // Every edit exists once: each page's versions are its rounds, in order, each once, up to
    // the last; and no page has two events of one kind about one round.
    let versions = versions(schema);
    assert_eq!(versions.len(), sites.len() * PAGES, "{versions:?}");
    for (url, v) in &versions {
        let rounds: Vec<u32> = v.iter().map(|(_, r)| *r).collect();
        assert!(
            rounds.windows(2).all(|w| w[0] < w[1]),
            "{url}: versions at rounds {rounds:?}: one edit stored twice, or an older one after a newer\n{logs}"
        );
        assert_eq!(
            rounds.last(),
            Some(&ROUNDS),
            "{url}: the last round was never stored\n{logs}"
        );
    }
    let all_events = events(schema);
    let mut per_edit: BTreeMap<(String, String, u32), Vec<i64>> = BTreeMap::new();
    for (id, url, kind, _, round) in &all_events {
        let round = round.unwrap_or_else(|| panic!("event {id} ({kind} {url}) is about no version"));
        per_edit
            .entry((url.clone(), kind.clone(), round))
            .or_default()
            .push(*id);
    }
    let twice: Vec<_> = per_edit.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "one edit, several events: {twice:?}\n{logs}");
    let relevant: Vec<i64> = all_events.iter().filter(|e| e.3).map(|e| e.0).collect();
    assert!(
        relevant.len() >= sites.len() * PAGES,
        "the kills left too little work to judge: {} relevant events\n{logs}",
        relevant.len()
    );

    // Every relevant event reached every recipient in exactly one message.
    let rows = gw.outbox_rows();
    let resends = each_event_reached_each_recipient_once(&smtp, &rows, &relevant, &RECIPIENTS, &logs);
    let kinds: BTreeMap<&str, usize> = all_events.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e.2.as_str()).or_default() += 1;
        m
    });
    eprintln!(
        "{ROUNDS} rounds in {} ms, events {kinds:?} ({} relevant), {} messages received, {resends} resent with the same Message-ID",
        t0.elapsed().as_millis(),
        relevant.len(),
        smtp.mails().len()
    );
    assert_eq!(
        gw.ok(&["digest"]).trim(),
        "nothing pending: every event has been mailed"
    );
}

/// Two nodes started together on one pass (`check`, as from cron on two machines) share
/// it by origin (src/pipeline/feed.rs): each checks a part, every page is fetched and stored
/// once in all, and each origin is talked to by one node at a time, its requests at least
/// `per_host_delay` apart, robots.txt included. Three origins for two nodes: whichever node
/// takes more at first lets go of one as its shares run out, so neither can end up with all.
#[test]
fn two_nodes_started_together_share_a_pass_by_origin() {
    two_nodes_share_a_pass(Duration::ZERO);
}

/// The second node starts when the first has taken every origin and claimed a share of each:
/// the first lets go of an origin when that share runs out, and the second takes it over.
#[test]
fn a_node_started_later_is_handed_origins_as_shares_run_out() {
    two_nodes_share_a_pass(Duration::from_secs(2));
}

/// Nodes a and b run `check` over the same watches, b `stagger` after a (see the tests). Not
/// `--all`, which checks again what is not due: what a checked before b read what is due would
/// be fetched a second time.
fn two_nodes_share_a_pass(stagger: Duration) {
    const ORIGINS: usize = 3;
    const PER_ORIGIN: usize = 15;
    const DELAY: Duration = Duration::from_secs(1);
    let sites: Vec<Site> = (0..ORIGINS).map(|_| Site::start()).collect();
    let mut watches = String::new();
    for (o, site) in sites.iter().enumerate() {
        for i in 0..PER_ORIGIN {
            let text = format!(
                "Statement {o}-{i}: the ministry says that all States should oppose restriction {i} on \
                 cross-border data flows of kind {o} and protect data security in cyberspace."
            );
            site.set(
                &format!("/p{i}.html"),
                Resp::html(page(
                    "ministry-article.html",
                    &format!("Paper {o}-{i}"),
                    "2023-05-25",
                    &[text],
                    1,
                    &[],
                )),
            );
            watches.push_str(&format!(
                "[[watch]]\nname = \"p{o}-{i}\"\nurl = \"{}\"\nevery = \"1h\"\n\n",
                site.url(&format!("/p{i}.html"))
            ));
        }
    }
    let shared = format!(
        "[fetch]\nper_host_concurrency = 1\nper_host_delay = \"{}ms\"\n\n{watches}",
        DELAY.as_millis()
    );
    let Some(gw) = Govwatch::on(Backend::Postgres, &shared) else {
        return;
    };
    let nodes: Vec<_> = ["a", "b"]
        .iter()
        .map(|n| {
            if *n == "b" {
                std::thread::sleep(stagger);
            }
            let config = gw.write_config(
                &format!("{n}.toml"),
                &format!("[daemon]\nnode = \"{n}\"\n\n{shared}"),
            );
            gw.command_at(&config)
                .arg("check")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let checked: Vec<usize> = nodes
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(
                out.status.success(),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
                .split_once("checked ")
                .and_then(|(_, rest)| rest.split(':').next()?.parse().ok())
                .unwrap_or_else(|| panic!("no count in {stdout}"))
        })
        .collect();
    eprintln!("checked by a and b: {checked:?}");
    assert_eq!(checked.iter().sum::<usize>(), ORIGINS * PER_ORIGIN);
    assert!(
        checked.iter().all(|&n| n >= PER_ORIGIN / 4),
        "each node checks a part: {checked:?}"
    );
    for (o, site) in sites.iter().enumerate() {
        for i in 0..PER_ORIGIN {
            assert_eq!(site.hits(&format!("/p{i}.html")), 1, "page {o}-{i} fetched once");
        }
        assert_eq!(site.max_in_flight(), 1, "origin {o}: one request at a time");
        let starts: Vec<Instant> = site.spans().iter().map(|s| s.start).collect();
        let shortest = starts.windows(2).map(|w| w[1] - w[0]).min().unwrap();
        assert!(
            shortest >= DELAY - Duration::from_millis(10),
            "origin {o}: starts {shortest:?} apart"
        );
    }
    let schema = gw.pg.as_ref().unwrap();
    let stored = schema
        .client()
        .query_one("SELECT count(*), count(DISTINCT document_id) FROM snapshots", &[])
        .unwrap();
    assert_eq!(stored.get::<_, i64>(0), (ORIGINS * PER_ORIGIN) as i64);
    assert_eq!(stored.get::<_, i64>(1), (ORIGINS * PER_ORIGIN) as i64);
}
