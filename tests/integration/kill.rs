//! The kill test: the real `govwatch run` daemon, against a loopback web site whose pages change
//! every round and a loopback SMTP server that takes its time before each 250, is killed with
//! SIGKILL at random moments (during passes, during sends), restarted, and killed again. At the
//! end it runs undisturbed until the outbox is drained. Then every relevant event must have
//! reached every recipient in exactly one message; a message may arrive twice only with the
//! same Message-ID and the same events (the documented window between the server's 250 and
//! the commit that marks it sent).

use crate::common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

const PAGES: usize = 3;
const ROUNDS: u32 = 12;
const RECIPIENTS: [&str; 2] = ["a@example.org", "b@example.org"];

fn positions(round: u32) -> String {
    let (title, mut paras) = corpus_doc("001");
    paras.truncate(10);
    for r in 1..=round {
        paras.push(format!(
            "In statement {r} the ministry says that all States should oppose restriction {r} on cross-border data flows."
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

fn spawn(gw: &Govwatch, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    gw.command()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn kill_9_during_passes_and_sends_loses_no_alert_and_sends_none_twice(backend: Backend) {
    let mut rng = replayable_rng("kill test", "GOVWATCH_KILL_SEED");

    let site = Site::start();
    let smtp = Smtp::start_with(
        free_port(),
        SmtpOptions {
            delay: Duration::from_millis(120),
            ..Default::default()
        },
    );
    let watches: String = (0..PAGES)
        .map(|i| {
            format!(
                "[[watch]]\nname = \"p{i}\"\nurl = \"{}\"\nevery = \"1s\"\n\n",
                site.url(&format!("/p{i}.html"))
            )
        })
        .collect();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"{}\", \"{}\"]\nsmtp_url = \"{}\"\n\
         timeout = \"5s\"\nretry_after = \"1s\"\nretry_max = \"2s\"\n\n{watches}",
            RECIPIENTS[0],
            RECIPIENTS[1],
            smtp.url()
        ),
    ) else {
        return;
    };
    let log = gw.dir.path().join("daemon.log");

    let mut kills = Vec::new();
    for round in 1..=ROUNDS {
        for i in 0..PAGES {
            site.set(&format!("/p{i}.html"), Resp::html(positions(round)));
        }
        let mut child = spawn(&gw, &log);
        let after = Duration::from_millis(rng.u64(150..2200));
        std::thread::sleep(after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills.push(after.as_millis());
    }
    eprintln!("killed after (ms): {kills:?}");

    // Undisturbed until nothing is pending, then a clean stop.
    let mut child = spawn(&gw, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let rows = gw.outbox_rows();
        let events = gw.changes();
        let all_queued = events
            .iter()
            .filter(|e| e["relevant"] == true)
            .all(|e| rows.iter().filter(|r| r["event_id"] == e["id"]).count() == RECIPIENTS.len());
        if all_queued && rows.iter().all(|r| r["state"] != "pending") || Instant::now() > deadline {
            break;
        }
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "daemon exit {status}");

    let events: Vec<serde_json::Value> = gw
        .changes()
        .into_iter()
        .filter(|e| e["relevant"] == true)
        .collect();
    let rows = gw.outbox_rows();
    assert!(
        events.len() >= PAGES,
        "the kills left too little work to judge: {} events\n{}",
        events.len(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    let resends = each_event_reached_each_recipient_once(
        &smtp,
        &rows,
        &ids,
        &RECIPIENTS,
        &std::fs::read_to_string(&log).unwrap_or_default(),
    );
    eprintln!(
        "{} rounds, {} relevant events, {} messages received, {resends} resent with the same Message-ID",
        ROUNDS,
        events.len(),
        smtp.mails().len()
    );
    assert_eq!(
        gw.ok(&["digest"]).trim(),
        "nothing pending: every event has been mailed"
    );
}

on_both!(kill_9_during_passes_and_sends_loses_no_alert_and_sends_none_twice,);
