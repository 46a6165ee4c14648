//! Withdrawals and broken watches, with the real binary against a real site and a real SMTP
//! server on loopback (issue 14): a paper that answers 404 twice in a row is one `removed`
//! event, mailed with its last title and date, and said once; its return is a `changed` event;
//! a page that flaps between 200 and 404 says nothing; a document that left its listing and then
//! stops answering is removed; a watch failing past `failing_notice_after` is told once, and
//! its recovery once; a server that refuses one recipient for good and another for now loses
//! nothing.

use crate::common;

use common::*;

/// The paper, with `round` position statements added at its end.
fn paper(round: u32) -> String {
    let (title, mut paras) = corpus_doc("001");
    paras.truncate(12);
    for r in 1..=round {
        paras.push(format!(
            "In its statement number {r}, the ministry says that all States should jointly oppose measure {r} restricting cross-border data flows."
        ));
    }
    page("ministry-article.html", &title, "2023-05-25", &paras, round, &[])
}

fn config(smtp: &Smtp, site: &Site, extra: &str) -> String {
    format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\
         smtp_url = \"{}\"\ntimeout = \"3s\"\n\n{extra}\
         [[watch]]\nname = \"paper\"\nurl = \"{}\"\nevery = \"1h\"\n",
        smtp.url(),
        site.url("/paper.html")
    )
}

fn kinds(gw: &Govwatch) -> Vec<String> {
    gw.changes()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_paper_gone_twice_is_one_removed_event_mailed_with_its_title_and_date_and_a_changed_one_when_it_returns()
{
    let (site, smtp) = (Site::start(), Smtp::start());
    let gw = Govwatch::new(&config(&smtp, &site, ""));
    site.set("/paper.html", Resp::html(paper(1)));
    gw.ok(&["check", "--all"]);

    // One 404 is a failed check, nothing more.
    site.set("/paper.html", Resp::status(404, &[]));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 failed"), "{out}");
    assert!(gw.changes().is_empty());
    assert!(smtp.mails().is_empty());

    // The second in a row: one `removed` event, mailed with the last version's title and date.
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    assert_eq!(kinds(&gw), ["removed"], "{events:#?}");
    let e = &events[0];
    // The title as the page gave it when it was last stored.
    let title = e["title"].as_str().unwrap();
    assert!(title.contains("Positions on Global Digital Governance"), "{e:#}");
    assert_eq!(e["published"], "2023-05-25", "{e:#}");
    assert_eq!(e["relevant"], true);
    assert_eq!(e["notified"], true, "{e:#}");
    let note = e["details"]["presence"]["note"].as_str().unwrap();
    assert!(
        note.contains("HTTP 404") && note.contains("2 checks in a row"),
        "{note}"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let text = mail_text(&mails[0].data);
    assert!(text.contains("govwatch found 1 removed."), "{text}");
    assert!(text.contains(&format!("* [removed] {title}")), "{text}");
    assert!(
        text.contains("published 2023-05-25") && text.contains("Withdrawn"),
        "{text}"
    );
    // What went with it: its position statements, as the removed lines of a change.
    assert!(
        text.contains("*- States should respect the sovereignty"),
        "{text}"
    );

    // Still gone: nothing more is said.
    gw.ok(&["check", "--all"]);
    gw.ok(&["check", "--all"]);
    assert_eq!(kinds(&gw), ["removed"]);
    assert_eq!(smtp.mails().len(), 1);

    // Back with a new statement: a `changed` event that says it is back.
    site.set("/paper.html", Resp::html(paper(2)));
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    assert_eq!(kinds(&gw), ["removed", "changed"], "{events:#?}");
    let back = &events[1];
    assert_eq!(back["details"]["presence"]["restored"], true, "{back:#}");
    assert!(
        back["added"].as_str().unwrap().contains("statement number 2"),
        "{back:#}"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    assert!(
        mail_text(&mails[1].data).contains("Back: it answers again"),
        "{}",
        mail_text(&mails[1].data)
    );

    // Gone again (410 counts too), then back with the same text: removed, then a `changed`
    // event that says only that it is back.
    site.set("/paper.html", Resp::status(410, &[]));
    gw.ok(&["check", "--all"]);
    gw.ok(&["check", "--all"]);
    site.set("/paper.html", Resp::html(paper(2)));
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    assert_eq!(
        kinds(&gw),
        ["removed", "changed", "removed", "changed"],
        "{events:#?}"
    );
    assert_eq!(events[3]["details"]["presence"]["restored"], true);
    assert!(events[3].get("added").is_none(), "{:#}", events[3]);
    assert_eq!(smtp.mails().len(), 4);
}

#[test]
fn a_page_that_flaps_between_200_and_404_makes_no_alert() {
    let (site, smtp) = (Site::start(), Smtp::start());
    let gw = Govwatch::new(&config(&smtp, &site, ""));
    site.set("/paper.html", Resp::html(paper(1)));
    gw.ok(&["check", "--all"]);
    for _ in 0..3 {
        site.set("/paper.html", Resp::status(404, &[]));
        let out = gw.ok(&["check", "--all"]);
        assert!(out.contains("1 failed"), "{out}");
        site.set("/paper.html", Resp::html(paper(1)));
        gw.ok(&["check", "--all"]);
    }
    // A 404, a 500, a 404: not two in a row either.
    site.set("/paper.html", Resp::status(404, &[]));
    gw.ok(&["check", "--all"]);
    site.set("/paper.html", Resp::status(500, &[]));
    gw.ok(&["check", "--all"]);
    site.set("/paper.html", Resp::status(404, &[]));
    gw.ok(&["check", "--all"]);
    assert!(gw.changes().is_empty(), "{:#?}", gw.changes());
    assert!(smtp.mails().is_empty());
    assert_eq!(site.hits("/paper.html"), 10);
}

#[test]
fn a_document_that_left_its_listing_and_then_stops_answering_is_removed() {
    let (site, smtp) = (Site::start(), Smtp::start());
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\
         smtp_url = \"{}\"\ntimeout = \"3s\"\n\n\
         [[watch]]\nname = \"mfa\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
        smtp.url(),
        site.url("/docs/")
    ));
    let (t1, p1) = corpus_doc("001");
    let (t4, p4) = corpus_doc("004");
    site.set(
        "/docs/a.html",
        Resp::html(page("ministry-article.html", &t1, "2023-05-25", &p1, 1, &[])),
    );
    site.set(
        "/docs/b.html",
        Resp::html(page("ministry-article.html", &t4, "2023-03-17", &p4, 1, &[])),
    );
    let both = [("/docs/a.html", t1.as_str()), ("/docs/b.html", t4.as_str())];
    site.set("/docs/", Resp::html(index("ministry-index.html", &both, 1)));
    gw.ok(&["check", "--all"]);

    // a.html leaves the listing, and both documents start answering 500. A listed document
    // failing is a failure (here, as long as it lasts); one that left its listing and fails
    // twice in a row is withdrawn.
    site.set(
        "/docs/",
        Resp::html(index("ministry-index.html", &[("/docs/b.html", t4.as_str())], 2)),
    );
    site.set("/docs/a.html", Resp::status(500, &[]));
    site.set("/docs/b.html", Resp::status(500, &[]));
    for _ in 0..3 {
        gw.ok(&["check", "--all"]);
    }
    let events = gw.changes();
    assert_eq!(kinds(&gw), ["removed"], "{events:#?}");
    assert_eq!(events[0]["url"], site.url("/docs/a.html"));
    let title = events[0]["title"].as_str().unwrap();
    assert!(
        title.contains("Positions on Global Digital Governance"),
        "{:#}",
        events[0]
    );
    let note = events[0]["details"]["presence"]["note"].as_str().unwrap();
    assert!(
        note.contains("left the listing") && note.contains("HTTP 500"),
        "{note}"
    );
    assert_eq!(smtp.mails().len(), 1);
    let text = mail_text(&smtp.mails()[0].data);
    assert!(text.contains(&format!("* [removed] {title}")), "{text}");

    // An empty listing says nothing about what it listed: b.html is not taken for withdrawn.
    site.set("/docs/", Resp::html(index("ministry-index.html", &[], 3)));
    site.set(
        "/docs/b.html",
        Resp::html(page("ministry-article.html", &t4, "2023-03-17", &p4, 1, &[])),
    );
    gw.ok(&["check", "--all"]);
    site.set("/docs/b.html", Resp::status(500, &[]));
    gw.ok(&["check", "--all"]);
    gw.ok(&["check", "--all"]);
    assert_eq!(kinds(&gw), ["removed"]);
}

#[test]
fn a_watch_failing_past_its_threshold_is_told_once_and_its_recovery_once() {
    let (site, smtp) = (Site::start(), Smtp::start());
    let gw = Govwatch::new(&config(
        &smtp,
        &site,
        "[schedule]\nfailing_notice_after = \"2s\"\n\n",
    ));
    site.set("/paper.html", Resp::html(paper(1)));
    gw.ok(&["check", "--all"]);

    site.set("/paper.html", Resp::status(503, &[]));
    gw.ok(&["check", "--all"]);
    assert!(gw.changes().is_empty(), "not failing long enough yet");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    assert_eq!(kinds(&gw), ["failing"], "{events:#?}");
    let note = events[0]["details"]["presence"]["note"].as_str().unwrap();
    assert!(
        note.contains("`paper` has failed since") && note.contains("HTTP 503"),
        "{note}"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let text = mail_text(&mails[0].data);
    assert!(
        text.contains("1 watch failing") && text.contains("* [failing]"),
        "{text}"
    );

    // Still failing: told once.
    gw.ok(&["check", "--all"]);
    gw.ok(&["check", "--all"]);
    assert_eq!(kinds(&gw), ["failing"]);
    assert_eq!(smtp.mails().len(), 1);

    // It answers again: one recovery notice, and no more.
    site.set("/paper.html", Resp::html(paper(1)));
    gw.ok(&["check", "--all"]);
    gw.ok(&["check", "--all"]);
    assert_eq!(kinds(&gw), ["failing", "recovered"]);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    let text = mail_text(&mails[1].data);
    assert!(
        text.contains("1 watch recovered") && text.contains("answers again"),
        "{text}"
    );
}

#[test]
fn a_removal_refused_for_one_recipient_for_good_and_another_for_now_loses_nothing() {
    let site = Site::start();
    let later = std::sync::Arc::new(std::sync::Mutex::new(vec!["later@example.org".to_string()]));
    let smtp = Smtp::start_with(
        free_port(),
        SmtpOptions {
            reject: vec!["refused@example.org".into()],
            defer: later.clone(),
            ..Default::default()
        },
    );
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\n\
         to = [\"analyst@example.org\", \"refused@example.org\", \"later@example.org\"]\n\
         smtp_url = \"{}\"\ntimeout = \"3s\"\nretry_after = \"1s\"\n\n\
         [[watch]]\nname = \"paper\"\nurl = \"{}\"\nevery = \"1h\"\n",
        smtp.url(),
        site.url("/paper.html")
    ));
    site.set("/paper.html", Resp::html(paper(1)));
    gw.ok(&["check", "--all"]);
    site.set("/paper.html", Resp::status(404, &[]));
    gw.ok(&["check", "--all"]);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("550") && out.contains("450"), "{out}");

    let state = |gw: &Govwatch, to: &str| -> (String, String) {
        let e = &gw.changes()[0];
        let d = e["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["recipient"] == to)
            .unwrap_or_else(|| panic!("no delivery to {to}: {e:#}"))
            .clone();
        (
            d["state"].as_str().unwrap().to_string(),
            d["last_error"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(kinds(&gw), ["removed"]);
    assert_eq!(state(&gw, "analyst@example.org").0, "sent");
    let (s, why) = state(&gw, "refused@example.org");
    assert!(s == "failed" && why.contains("550"), "{s} {why}");
    let (s, why) = state(&gw, "later@example.org");
    assert!(s == "pending" && why.contains("450"), "{s} {why}");
    assert_eq!(gw.changes()[0]["notified"], false);
    assert!(gw.ok(&["digest"]).contains("later@example.org"));

    // The busy mailbox takes mail again: the next round sends it, once; the refused one stays
    // failed (for `outbox retry`), and the removal is not said again.
    later.lock().unwrap().clear();
    gw.ok(&["check", "--all"]);
    assert_eq!(state(&gw, "later@example.org").0, "sent");
    assert_eq!(state(&gw, "refused@example.org").0, "failed");
    gw.ok(&["check", "--all"]);
    let mut got: Vec<String> = smtp.mails().iter().map(|m| m.to.join(",")).collect();
    got.sort();
    assert_eq!(got, ["analyst@example.org", "later@example.org"]);
    assert_eq!(kinds(&gw), ["removed"]);
    assert_eq!(gw.changes()[0]["notified"], false, "one recipient never got it");
}
