//! Delivery state, with the real binary against real SMTP servers on loopback and a real site:
//! `changes --json` says `notified` only when every delivery went and lists each delivery;
//! `outbox retry` puts failed deliveries back in the queue; `test-mail` says what the server
//! answered, or why nothing went.

use crate::common;

use common::*;

fn positions(round: u32) -> String {
    let (title, mut paras) = corpus_doc("001");
    paras.truncate(12);
    for r in 1..=round {
        paras.push(format!(
            "In its statement number {r}, the ministry says that all States should jointly oppose measure {r} restricting cross-border data flows."
        ));
    }
    page("ministry-article.html", &title, "2023-05-25", &paras, round, &[])
}

fn email(smtp_url: &str, site: &Site) -> String {
    format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\", \"gone@example.org\"]\n\
         smtp_url = \"{smtp_url}\"\ntimeout = \"3s\"\n\n\
         [[watch]]\nname = \"paper\"\nurl = \"{}\"\nevery = \"1s\"\n",
        site.url("/paper.html")
    )
}

fn outbox_rows(gw: &Govwatch) -> Vec<serde_json::Value> {
    serde_json::from_str(&gw.ok(&["outbox", "--json"])).unwrap()
}

fn delivery<'a>(event: &'a serde_json::Value, to: &str) -> &'a serde_json::Value {
    event["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("no deliveries: {event:#}"))
        .iter()
        .find(|d| d["recipient"] == to)
        .unwrap_or_else(|| panic!("no delivery to {to}: {event:#}"))
}

#[test]
fn a_refused_delivery_is_not_notified_shows_its_error_and_is_sent_after_a_retry() {
    let site = Site::start();
    let refusing = Smtp::start_with(
        free_port(),
        SmtpOptions {
            reject: vec!["gone@example.org".into()],
            ..Default::default()
        },
    );
    let gw = Govwatch::new(&email(&refusing.url(), &site));
    site.set("/paper.html", Resp::html(positions(1)));
    gw.ok(&["check", "--all"]);
    site.set("/paper.html", Resp::html(positions(2)));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("550") && out.contains("failed for good"), "{out}");

    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    // The analyst got it; the refused recipient did not, so the event is not notified.
    assert_eq!(e["notified"], false, "{e:#}");
    let analyst = delivery(e, "analyst@example.org");
    assert_eq!(analyst["state"], "sent", "{e:#}");
    assert_eq!(analyst["channel"], "email");
    assert!(analyst["sent_at"].as_str().unwrap().starts_with("20"), "{e:#}");
    assert_eq!(analyst["attempts"], 1);
    assert!(analyst["last_error"].is_null(), "{e:#}");
    let gone = delivery(e, "gone@example.org");
    assert_eq!(gone["state"], "failed", "{e:#}");
    assert!(gone["last_error"].as_str().unwrap().contains("550"), "{e:#}");
    assert!(gone["sent_at"].is_null(), "{e:#}");
    let text = gw.ok(&["changes"]);
    assert!(
        text.contains("failed") && text.contains("to gone@example.org"),
        "{text}"
    );
    assert!(!text.contains("mailed"), "{text}");
    assert_eq!(refusing.mails().len(), 1);

    // Unknown ids, or a delivery that was sent, requeue nothing (exit 2).
    let sent_id = analyst["id"].as_i64().unwrap().to_string();
    for bad in [vec!["outbox", "retry", "999"], vec!["outbox", "retry", &sent_id]] {
        let out = gw.run(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing requeued"));
    }
    assert!(outbox_rows(&gw).iter().any(|r| r["state"] == "failed"));

    // The address is fixed at the server (here: a server that accepts it); a retry sends it.
    let fixed = Smtp::start();
    gw.set_config(&email(&fixed.url(), &site));
    let out = gw.ok(&["outbox", "retry", "--failed"]);
    assert!(out.contains("1 deliveries back in the queue"), "{out}");
    let gone_row = outbox_rows(&gw)
        .into_iter()
        .find(|r| r["recipient"] == "gone@example.org")
        .unwrap();
    assert_eq!(gone_row["state"], "pending", "{gone_row:#}");
    assert_eq!(gone_row["attempts"], 0, "{gone_row:#}");
    assert!(gw.ok(&["digest"]).contains("gone@example.org"));

    let out = gw.ok(&["digest", "--send"]);
    assert!(out.contains("to gone@example.org"), "{out}");
    let mails = fixed.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["gone@example.org"]);
    let e = &gw.changes()[0];
    assert_eq!(e["notified"], true, "{e:#}");
    assert_eq!(delivery(e, "gone@example.org")["state"], "sent", "{e:#}");
    assert!(delivery(e, "gone@example.org")["last_error"].is_null(), "{e:#}");
    assert_eq!(
        gw.ok(&["outbox", "retry", "--failed"]).trim(),
        "no failed deliveries"
    );
    assert_eq!(fixed.mails().len(), 1);
    assert_eq!(refusing.mails().len(), 1, "the analyst's copy went once");
}

#[test]
fn retry_by_id_requeues_only_that_delivery() {
    let site = Site::start();
    let refusing = Smtp::start_with(
        free_port(),
        SmtpOptions {
            reject: vec!["gone@example.org".into(), "analyst@example.org".into()],
            ..Default::default()
        },
    );
    let gw = Govwatch::new(&email(&refusing.url(), &site));
    site.set("/paper.html", Resp::html(positions(1)));
    gw.ok(&["check", "--all"]);
    site.set("/paper.html", Resp::html(positions(2)));
    gw.ok(&["check", "--all"]);
    let rows = outbox_rows(&gw);
    assert!(rows.iter().all(|r| r["state"] == "failed"), "{rows:#?}");
    let analyst = rows
        .iter()
        .find(|r| r["recipient"] == "analyst@example.org")
        .unwrap();
    let id = analyst["id"].as_i64().unwrap().to_string();
    let out = gw.ok(&["outbox", "retry", &id]);
    assert!(out.contains("1 deliveries back in the queue"), "{out}");
    let rows = outbox_rows(&gw);
    let state = |who: &str| rows.iter().find(|r| r["recipient"] == who).unwrap()["state"].clone();
    assert_eq!(state("analyst@example.org"), "pending");
    assert_eq!(state("gone@example.org"), "failed");
}

#[test]
fn test_mail_goes_through_the_server_and_prints_its_answer() {
    let smtp = Smtp::start();
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n",
        smtp.url()
    ));
    let out = gw.ok(&["test-mail"]);
    assert!(
        out.contains("sent to analyst@example.org") && out.contains("250"),
        "{out}"
    );
    let out = gw.ok(&["test-mail", "someone@example.net"]);
    assert!(
        out.contains("someone@example.net") && out.contains("250"),
        "{out}"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].to, ["analyst@example.org"]);
    assert_eq!(mails[1].to, ["someone@example.net"]);
    assert!(mail_text(&mails[0].data).contains("govwatch test message"));
    // A test message is not an alert: nothing is recorded in the outbox.
    assert!(outbox_rows(&gw).is_empty());

    // A refused recipient: the server's refusal, and a failure exit.
    let refusing = Smtp::start_with(
        free_port(),
        SmtpOptions {
            reject: vec!["gone@example.org".into()],
            ..Default::default()
        },
    );
    gw.set_config(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n",
        refusing.url()
    ));
    let out = gw.run(&["test-mail", "gone@example.org"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("550"), "{out:?}");
}

#[test]
fn test_mail_to_a_server_that_is_down_says_why_and_fails() {
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\
         smtp_url = \"smtp://127.0.0.1:{}\"\ntimeout = \"3s\"\n",
        free_port()
    ));
    let out = gw.run(&["test-mail"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1") && err.contains("not sent"), "{err}");
    assert!(err.to_lowercase().contains("connect"), "{err}");
}

#[test]
fn test_mail_without_a_server_writes_to_the_outbox_folder() {
    let gw = Govwatch::new("[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n");
    let out = gw.ok(&["test-mail"]);
    assert!(out.contains("outbox"), "{out}");
    let files = gw.outbox();
    assert_eq!(files.len(), 1);
    assert!(mail_text(&files[0]).contains("govwatch test message"));
}
