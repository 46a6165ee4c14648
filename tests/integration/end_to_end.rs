//! govwatch end to end: the binary against a real local web site and a real SMTP server.

use crate::common;

use common::*;

const TEASERS_A: &[&str] = &["Minister meets delegation", "Spokesperson's remarks on Monday"];
const TEASERS_B: &[&str] = &[
    "Vice minister attends forum",
    "Press conference on Friday",
    "New consulate opens",
];

fn page_config(site: &Site, smtp: &str) -> String {
    format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n{smtp}\n\n\
         [[watch]]\nname = \"positions\"\nurl = \"{}\"\nkind = \"page\"\nevery = \"1h\"\n",
        site.url("/eng/positions.html")
    )
}

fn positions_page(paragraphs: &[String], counter: u32, teasers: &[&str]) -> String {
    let (title, _) = corpus_doc("001");
    page(
        "ministry-article.html",
        &title,
        "2023-05-25",
        paragraphs,
        counter,
        teasers,
    )
}

fn page_baseline_then_boilerplate_silence_then_one_changed_sentence(backend: Backend) {
    let site = Site::start();
    let smtp = Smtp::start();
    let Some(gw) = Govwatch::on(
        backend,
        &page_config(&site, &format!("smtp_url = \"{}\"", smtp.url())),
    ) else {
        return;
    };
    let (_, mut paras) = corpus_doc("001");

    // First look: a baseline, no event, no mail.
    site.set(
        "/eng/positions.html",
        Resp::html(positions_page(&paras, 1021, TEASERS_A)),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 baseline"), "{out}");
    assert!(gw.changes().is_empty());
    assert!(smtp.mails().is_empty());

    // Only the view counter and the related-links box change: silence.
    site.set(
        "/eng/positions.html",
        Resp::html(positions_page(&paras, 5234, TEASERS_B)),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 unchanged"), "{out}");
    assert!(gw.changes().is_empty(), "boilerplate-only change made an event");
    assert!(smtp.mails().is_empty());

    // One sentence of the paper is quietly edited.
    let i = paras
        .iter()
        .position(|p| p.contains("backdoors"))
        .expect("a paragraph on backdoors");
    let old = paras[i].clone();
    paras[i] = old.replace("should not install backdoors", "must never install backdoors");
    assert_ne!(paras[i], old);
    site.set(
        "/eng/positions.html",
        Resp::html(positions_page(&paras, 6012, TEASERS_A)),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 changed"), "{out}");

    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e["kind"], "changed");
    assert_eq!(e["watch"], "positions");
    assert_eq!(e["url"], site.url("/eng/positions.html"));
    assert!(
        e["added"]
            .as_str()
            .unwrap()
            .contains("must never install backdoors"),
        "{e:#?}"
    );
    assert!(
        e["removed"]
            .as_str()
            .unwrap()
            .contains("should not install backdoors"),
        "{e:#?}"
    );
    assert!(!e["added"].as_str().unwrap().contains("Views"), "{e:#?}");
    assert_eq!(e["notified"], true);

    // One message, multipart, with the change in it.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let text = mail_text(&mails[0].data);
    // The subject names the kind and the document (issue 14).
    assert!(text.contains("Subject: [govwatch] Changed: "), "{text}");
    // The text part shows the altered position statement word by word: the two words replaced
    // side by side as one phrase.
    assert!(
        text.contains(
            "*~ ICT products and services providers [-should not-]{+must never+} install backdoors"
        ),
        "{text}"
    );
    assert!(text.contains("multipart/alternative"), "{text}");
    let html = mail_part(&mails[0].data, true);
    assert!(
        html.contains(">should not</del>") && html.contains(">must never</ins>"),
        "{html}"
    );

    // history and diff show the two versions and the edit.
    let hist = gw.ok(&["history", "positions"]);
    assert!(
        hist.contains("v1") && hist.contains("v2") && !hist.contains("v3"),
        "{hist}"
    );
    let diff = gw.ok(&["diff", "positions"]);
    assert!(
        diff.contains("+") && diff.contains("must never install backdoors"),
        "{diff}"
    );
    let diff = gw.ok(&["diff", &site.url("/eng/positions.html"), "1", "2"]);
    assert!(diff.contains("should not install backdoors"), "{diff}");

    // Nothing is left to send.
    assert!(gw.ok(&["digest"]).contains("nothing pending"));
}

fn index_new_documents_are_events_traced_to_their_sources(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\n\
         [[watch]]\nname = \"mfa-docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
            site.url("/eng/docs/")
        ),
    ) else {
        return;
    };
    // The corpus knows one white-paper story from a file.
    let out = gw.ok(&[
        "corpus",
        "import",
        fixtures()
            .join("corpus/003_0772cf1c2725d416.txt")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.contains("added"), "{out}");

    let (t1, p1) = corpus_doc("001");
    let (t0, p0) = corpus_doc("000");
    // 003's first line is the site's name; the page carries it as its title, as such pages do.
    let (t3, p3) = corpus_doc("003");
    let (t4, p4) = corpus_doc("004");
    site.set(
        "/eng/docs/a.html",
        Resp::html(page(
            "ministry-article.html",
            &t1,
            "2023-05-25",
            &p1,
            1,
            TEASERS_A,
        )),
    );
    site.set(
        "/eng/docs/b.html",
        Resp::html(page(
            "ministry-article.html",
            &t4,
            "2023-03-17",
            &p4,
            1,
            TEASERS_A,
        )),
    );
    let first = [
        ("/eng/docs/a.html", t1.as_str()),
        ("/eng/docs/b.html", t4.as_str()),
    ];
    site.set("/eng/docs/", Resp::html(index("ministry-index.html", &first, 10)));

    // Baseline: the index and both documents are fetched and stored, nothing is news.
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("checked 3"), "{out}");
    assert!(out.contains("2 baseline") && out.contains("0 failed"), "{out}");
    assert_eq!(site.hits("/eng/docs/a.html"), 1);
    assert!(gw.changes().is_empty());

    // Three documents appear: an analysis that republishes the paper at a.html inside its own
    // commentary, a copy of the imported white-paper story, and an unrelated-to-corpus text.
    let republished: Vec<String> = p0.iter().cloned().chain(p1.iter().cloned()).collect();
    site.set(
        "/eng/docs/c.html",
        Resp::html(page(
            "news-article.html",
            &t0,
            "2023-05-30",
            &republished,
            3,
            TEASERS_B,
        )),
    );
    site.set(
        "/eng/docs/d.html",
        Resp::html(page("news-article.html", &t3, "2023-03-18", &p3, 9, TEASERS_B)),
    );
    let zh = std::fs::read_to_string(fixtures().join("chrome/zh-body.txt")).unwrap();
    let zh_paras: Vec<String> = zh
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    site.set(
        "/eng/docs/e.html",
        Resp::html(page(
            "zh-article.html",
            "全球数字治理立场文件",
            "2023-06-01",
            &zh_paras,
            5,
            &[],
        )),
    );
    // A celebrity story on the same listing: stored and listed, never mailed.
    let gossip =
        std::fs::read_to_string(fixtures().join("../../bench/verdicts/unrelated/celebrity.txt")).unwrap();
    site.set(
        "/eng/docs/f.html",
        Resp::html(page(
            "news-article.html",
            "Premiere night glamour",
            "2023-06-02",
            &[gossip],
            1,
            &[],
        )),
    );
    let second = [
        ("/eng/docs/f.html", "Premiere night glamour on the red carpet"),
        ("/eng/docs/e.html", "全球数字治理立场文件全文发布"),
        ("/eng/docs/c.html", t0.as_str()),
        (
            "/eng/docs/d.html",
            "China's Law-Based Cyberspace Governance in the New Era",
        ),
        ("/eng/docs/a.html", t1.as_str()),
        ("/eng/docs/b.html", t4.as_str()),
    ];
    site.set(
        "/eng/docs/",
        Resp::html(index("ministry-index.html", &second, 11)),
    );
    let out = gw.ok(&["check", "--all", "mfa-docs"]);
    // The new links are fetched in the same pass as the index that lists them.
    assert!(out.contains("checked 7") && out.contains("2 unchanged"), "{out}");
    assert!(
        out.contains("4 new documents") && out.contains("4 links discovered"),
        "{out}"
    );

    let mut events = gw.changes();
    assert_eq!(events.len(), 4, "{events:#?}");
    let f = events
        .iter()
        .position(|e| e["url"] == site.url("/eng/docs/f.html"))
        .expect("gossip event");
    let gossip_event = events.remove(f);
    assert_eq!(gossip_event["kind"], "new");
    assert_eq!(gossip_event["relevant"], false, "{gossip_event:#?}");
    assert_eq!(gossip_event["notified"], false);
    let by_url = |p: &str| {
        events
            .iter()
            .find(|e| e["url"] == site.url(p))
            .unwrap_or_else(|| panic!("no event for {p}"))
    };
    let c = by_url("/eng/docs/c.html");
    assert_eq!(c["kind"], "republication", "{c:#?}");
    assert_eq!(c["source"], site.url("/eng/docs/a.html"));
    let d = by_url("/eng/docs/d.html");
    assert_eq!(d["kind"], "duplicate", "{d:#?}");
    assert_eq!(d["source"], "003_0772cf1c2725d416.txt");
    let e = by_url("/eng/docs/e.html");
    assert_eq!(e["kind"], "new", "{e:#?}");
    assert!(e.get("source").is_none());
    for ev in &events {
        assert_eq!(ev["relevant"], true, "{ev:#?}");
        assert_eq!(ev["watch"], "mfa-docs");
        assert!(ev["detected_at"].as_str().unwrap().starts_with("20"));
        // A duplicate is stored and listed, but not mailed by default (issue 14).
        assert_eq!(ev["notified"], ev["kind"] != "duplicate", "{ev:#?}");
    }

    // No SMTP server configured: the digest went to the outbox as one .eml file.
    let outbox = gw.outbox();
    assert_eq!(outbox.len(), 1);
    let text = mail_text(&outbox[0]);
    assert!(
        text.contains("govwatch found 1 new position, 1 republication."),
        "{text}"
    );
    assert!(!text.contains("003_0772cf1c2725d416.txt"), "{text}");
    assert!(
        !text.contains("Premiere"),
        "an irrelevant story was mailed: {text}"
    );
    assert!(gw.ok(&["digest"]).contains("nothing pending"));

    // A second pass right away finds nothing new and sends nothing.
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("0 new documents") && out.contains("0 failed"),
        "{out}"
    );
    assert_eq!(gw.changes().len(), 4);
    assert_eq!(gw.outbox().len(), 1);
}

fn gbk_page_without_charset_header_decodes(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[[watch]]\nname = \"zh\"\nurl = \"{}\"\n\n[[watch]]\nname = \"zh-nometa\"\nurl = \"{}\"\n",
            site.url("/zh/a.html"),
            site.url("/zh/b.html")
        ),
    ) else {
        return;
    };
    let zh = std::fs::read_to_string(fixtures().join("chrome/zh-body.txt")).unwrap();
    let mut paras: Vec<String> = zh
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let gbk = |template: &str, paras: &[String]| {
        let html = page(
            template,
            "关于全球数字治理的立场",
            "2023-05-25",
            paras,
            77,
            &["外交部发言人答记者问"],
        );
        let (bytes, _, bad) = encoding_rs::GBK.encode(&html);
        assert!(!bad);
        Resp {
            status: 200,
            content_type: Some("text/html".into()),
            body: bytes.into_owned(),
            ..Resp::html(Vec::new())
        }
    };
    site.set("/zh/a.html", gbk("zh-article.html", &paras));
    site.set("/zh/b.html", gbk("zh-article-nometa.html", &paras));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 baseline"), "{out}");

    let edited = "各国应当共同维护网络空间和平与安全，坚决反对网络霸权。";
    paras[2] = format!("{edited}{}", paras[2]);
    site.set("/zh/a.html", gbk("zh-article.html", &paras));
    site.set("/zh/b.html", gbk("zh-article-nometa.html", &paras));
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    assert_eq!(events.len(), 2, "{events:#?}");
    for e in &events {
        assert_eq!(e["kind"], "changed");
        assert!(e["added"].as_str().unwrap().contains(edited), "{e:#?}");
        assert_eq!(e["title"], "关于全球数字治理的立场", "{e:#?}");
    }
}

fn block_page_and_errors_are_failed_checks_never_changes(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(backend, &page_config(&site, "")) else {
        return;
    };
    let (_, paras) = corpus_doc("001");
    let good = positions_page(&paras, 1, TEASERS_A);
    site.set("/eng/positions.html", Resp::html(good.clone()));
    gw.ok(&["check", "--all"]);

    // A bot challenge served with 503.
    site.set(
        "/eng/positions.html",
        Resp {
            status: 503,
            ..Resp::html(chrome("challenge.html"))
        },
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("1 failed") && out.contains("503") && out.contains("challenge"),
        "{out}"
    );
    // The same challenge with a 200 status is still no page.
    site.set("/eng/positions.html", Resp::html(chrome("challenge.html")));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 failed") && out.contains("blocked"), "{out}");
    // A soft 404.
    site.set(
        "/eng/positions.html",
        Resp::html(chrome("soft404.html").replace("{{YEAR}}", "2026")),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 failed") && out.contains("not-found"), "{out}");
    // Binary data where a page should be.
    site.set(
        "/eng/positions.html",
        Resp {
            content_type: Some("image/png".into()),
            ..Resp::html(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())
        },
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 failed") && out.contains("image/png"), "{out}");
    // The same bytes mislabelled as HTML.
    site.set(
        "/eng/positions.html",
        Resp::html(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0".to_vec()),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 failed") && out.contains("binary"), "{out}");
    // Empty body.
    site.set("/eng/positions.html", Resp::html(Vec::new()));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 failed") && out.contains("empty"), "{out}");
    let hist = gw.ok(&["history", "positions"]);
    assert!(hist.contains("6 in a row"), "{hist}");

    // The page comes back as it was: nothing to report, and the failure count resets.
    site.set("/eng/positions.html", Resp::html(good));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 unchanged") && out.contains("0 failed"), "{out}");
    assert!(gw.changes().is_empty());
    assert!(gw.outbox().is_empty());
    let hist = gw.ok(&["history", "positions"]);
    assert!(!hist.contains("in a row") && !hist.contains("v2"), "{hist}");
}

fn huge_truncated_and_unreachable_responses_fail_with_reasons(backend: Backend) {
    let site = Site::start();
    let truncating = truncating_server(50_000, 2_000);
    let dead = free_port();
    let drip = dripping_server();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[fetch]\nmax_body_bytes = 65536\ntimeout = \"3s\"\n\n\
         [[watch]]\nname = \"huge\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"truncated\"\nurl = \"http://{truncating}/t.html\"\n\n\
         [[watch]]\nname = \"down\"\nurl = \"http://127.0.0.1:{dead}/x.html\"\n\n\
         [[watch]]\nname = \"bomb\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"drip\"\nurl = \"http://{drip}/slow.html\"\n",
            site.url("/huge.html"),
            site.url("/bomb.html")
        ),
    ) else {
        return;
    };
    // 8 MB of markup that travels as a few kilobytes of gzip: the cap applies to what it inflates to.
    site.set(
        "/bomb.html",
        Resp {
            encoding: Some("gzip"),
            ..Resp::html("<p>a</p>".repeat(1_000_000))
        },
    );
    site.set(
        "/huge.html",
        Resp::html(format!(
            "<html><body>{}</body></html>",
            "<p>word </p>".repeat(20_000)
        )),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("5 failed"), "{out}");
    assert!(out.contains("/slow.html: timed out after 3s"), "{out}");
    assert!(
        out.contains("/huge.html: response larger than the 65536-byte cap"),
        "{out}"
    );
    assert!(
        out.contains("/bomb.html: response larger than the 65536-byte cap"),
        "{out}"
    );
    assert!(out.contains("cannot connect"), "{out}");
    assert!(out.contains("/t.html: connection closed early"), "{out}");
    assert!(gw.changes().is_empty());
}

/// A page watch mailing to an SMTP port where nothing listens, with one change found and
/// waiting to be mailed.
/// `None` when the backend has no server here.
fn one_change_pending_while_smtp_is_down(backend: Backend, site: &Site, port: u16) -> Option<Govwatch> {
    let gw = Govwatch::on(
        backend,
        &page_config(site, &format!("smtp_url = \"smtp://127.0.0.1:{port}\"")),
    )?;
    let (_, mut paras) = corpus_doc("001");
    site.set(
        "/eng/positions.html",
        Resp::html(positions_page(&paras, 1, TEASERS_A)),
    );
    gw.ok(&["check", "--all"]);
    paras.push("States should jointly oppose the abuse of export controls on digital technologies.".into());
    site.set(
        "/eng/positions.html",
        Resp::html(positions_page(&paras, 2, TEASERS_A)),
    );
    // The server is down: the pass still succeeds, the event stays pending.
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("1 changed") && out.contains("mail not sent"),
        "{out}"
    );
    let events = gw.changes();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["notified"], false);
    Some(gw)
}

fn mail_stays_pending_while_smtp_is_down_and_goes_on_the_next_pass(backend: Backend) {
    let site = Site::start();
    let port = free_port();
    let Some(gw) = one_change_pending_while_smtp_is_down(backend, &site, port) else {
        return;
    };
    let preview = gw.ok(&["digest"]);
    assert!(
        preview.contains("Subject: [govwatch] Changed: ") && preview.contains("abuse of export controls"),
        "{preview}"
    );

    // The server comes back; the next pass (which finds nothing new) sends the pending event once.
    let smtp = Smtp::start_on(port);
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("1 unchanged") && out.contains("mailed 1 events"),
        "{out}"
    );
    assert_eq!(smtp.mails().len(), 1);
    assert!(mail_text(&smtp.mails()[0].data).contains("abuse of export controls"));
    assert_eq!(gw.changes()[0]["notified"], true);
    gw.ok(&["check", "--all"]);
    assert_eq!(smtp.mails().len(), 1, "sent twice");
    assert!(gw.ok(&["digest", "--send"]).contains("nothing pending"));
}

fn digest_send_delivers_what_is_pending(backend: Backend) {
    let site = Site::start();
    let port = free_port();
    let Some(gw) = one_change_pending_while_smtp_is_down(backend, &site, port) else {
        return;
    };
    // Still down: --send is a failure of the command, and nothing is lost.
    let out = gw.run(&["digest", "--send"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SMTP server"),
        "{out:?}"
    );
    assert_eq!(gw.changes()[0]["notified"], false);

    let smtp = Smtp::start_on(port);
    let out = gw.ok(&["digest", "--send"]);
    assert!(out.contains("sent 1 events"), "{out}");
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(smtp.mails()[0].to, ["analyst@example.org"]);
    assert!(gw.ok(&["digest"]).contains("nothing pending"));
}

fn conditional_get_uses_etag(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(backend, &page_config(&site, "")) else {
        return;
    };
    let (_, paras) = corpus_doc("001");
    site.set(
        "/eng/positions.html",
        Resp {
            etag: Some("\"v1\"".into()),
            ..Resp::html(positions_page(&paras, 1, TEASERS_A))
        },
    );
    gw.ok(&["check", "--all"]);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 unchanged"), "{out}");
    assert_eq!(site.hits("/eng/positions.html"), 2);
    let hist = gw.ok(&["history", "positions"]);
    assert!(hist.contains("v1") && !hist.contains("v2"), "{hist}");
}

fn gzip_and_brotli_bodies_are_decompressed(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[[watch]]\nname = \"gz\"\nurl = \"{}\"\n\n[[watch]]\nname = \"br\"\nurl = \"{}\"\n",
            site.url("/gz.html"),
            site.url("/br.html")
        ),
    ) else {
        return;
    };
    let (_, paras) = corpus_doc("001");
    let html = positions_page(&paras, 1, TEASERS_A);
    site.set(
        "/gz.html",
        Resp {
            encoding: Some("gzip"),
            ..Resp::html(html.clone())
        },
    );
    site.set(
        "/br.html",
        Resp {
            encoding: Some("br"),
            ..Resp::html(html)
        },
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 baseline") && out.contains("0 failed"), "{out}");
    for name in ["gz", "br"] {
        let hist = gw.ok(&["history", name]);
        assert!(hist.contains("v1") && hist.contains("Just In"), "{hist}");
    }
}

fn daemon_runs_passes_and_stops_cleanly_on_sigterm(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[[watch]]\nname = \"positions\"\nurl = \"{}\"\nevery = \"1s\"\n",
            site.url("/eng/positions.html")
        ),
    ) else {
        return;
    };
    let (_, mut paras) = corpus_doc("001");
    site.set(
        "/eng/positions.html",
        Resp::html(positions_page(&paras, 1, TEASERS_A)),
    );
    let child = gw
        .command()
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let wait_for = |what: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !what() {
            assert!(
                std::time::Instant::now() < deadline,
                "daemon did not get there in 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    // The daemon takes a baseline, then keeps checking every second.
    wait_for(&|| site.hits("/eng/positions.html") >= 2);
    paras.push("States shall not weaponise cross-border data flows.".into());
    site.set(
        "/eng/positions.html",
        Resp::html(positions_page(&paras, 2, TEASERS_B)),
    );
    wait_for(&|| gw.changes().len() == 1);
    assert_eq!(gw.changes()[0]["kind"], "changed");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    assert!(log.contains("govwatch stopped"), "{log}");
}

fn paper_and_its_republication_found_in_one_pass_trace_to_the_paper(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[[watch]]\nname = \"docs\"\nurl = \"{}\"\nkind = \"index\"\n",
            site.url("/docs/")
        ),
    ) else {
        return;
    };
    site.set("/docs/", Resp::html(index("ministry-index.html", &[], 1)));
    gw.ok(&["check", "--all"]);

    // The republication is listed (and so found) first, but the paper was published first.
    let (t0, p0) = corpus_doc("000");
    let (t1, p1) = corpus_doc("001");
    let republished: Vec<String> = p0.iter().cloned().chain(p1.iter().cloned()).collect();
    site.set(
        "/docs/r.html",
        Resp::html(page("news-article.html", &t0, "2023-05-30", &republished, 1, &[])),
    );
    site.set(
        "/docs/p.html",
        Resp::html(page("ministry-article.html", &t1, "2023-05-25", &p1, 1, &[])),
    );
    let links = [("/docs/r.html", t0.as_str()), ("/docs/p.html", t1.as_str())];
    site.set("/docs/", Resp::html(index("ministry-index.html", &links, 2)));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 new documents"), "{out}");

    let events = gw.changes();
    let kind_of = |p: &str| events.iter().find(|e| e["url"] == site.url(p)).cloned().unwrap();
    assert_eq!(kind_of("/docs/p.html")["kind"], "new", "{events:#?}");
    let r = kind_of("/docs/r.html");
    assert_eq!(r["kind"], "republication", "{r:#?}");
    assert_eq!(r["source"], site.url("/docs/p.html"));
}

on_both!(
    page_baseline_then_boilerplate_silence_then_one_changed_sentence,
    index_new_documents_are_events_traced_to_their_sources,
    gbk_page_without_charset_header_decodes,
    block_page_and_errors_are_failed_checks_never_changes,
    huge_truncated_and_unreachable_responses_fail_with_reasons,
    mail_stays_pending_while_smtp_is_down_and_goes_on_the_next_pass,
    digest_send_delivers_what_is_pending,
    conditional_get_uses_etag,
    gzip_and_brotli_bodies_are_decompressed,
    daemon_runs_passes_and_stops_cleanly_on_sigterm,
    paper_and_its_republication_found_in_one_pass_trace_to_the_paper,
);
