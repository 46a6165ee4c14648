//! Alerts end to end: the govwatch binary against a real SMTP server on loopback (STARTTLS with a
//! self-signed certificate, AUTH, refusals, a server that is down and comes back), a real web
//! site, and real SQLite files: recipients, digests on a schedule, webhooks, the feed, a size cap.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;

/// A page whose position statements change with `round`.
fn positions(round: u32) -> String {
    positions_titled(round, &corpus_doc("001").0)
}

fn positions_titled(round: u32, title: &str) -> String {
    let (_, mut paras) = corpus_doc("001");
    paras.truncate(12);
    for r in 1..=round {
        paras.push(format!(
            "In its statement number {r}, the ministry says that all States should jointly oppose measure {r} restricting cross-border data flows."
        ));
    }
    page(
        "ministry-article.html",
        title,
        "2023-05-25",
        &paras,
        round,
        &["Minister meets delegation"],
    )
}

/// `count` page watches on `site`, named p0, p1, ….
fn watches(site: &Site, count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "[[watch]]\nname = \"p{i}\"\nurl = \"{}\"\nevery = \"1s\"\ntags = [\"{}\"]\n\n",
                site.url(&format!("/p{i}.html")),
                if i % 2 == 0 { "even" } else { "odd" }
            )
        })
        .collect()
}

fn set_round(site: &Site, count: usize, round: u32) {
    for i in 0..count {
        site.set(&format!("/p{i}.html"), Resp::html(positions(round)));
    }
}

fn starttls_with_a_self_signed_certificate_and_auth_delivers_only_when_the_certificate_is_trusted(
    backend: Backend,
) {
    let site = Site::start();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let smtp = Smtp::start_with(
        free_port(),
        SmtpOptions {
            tls: Some((cert.clone(), key)),
            auth: Some(("govwatch".into(), "s3cret/pw".into())),
            ..Default::default()
        },
    );
    let email = |extra: &str| {
        format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\
             smtp_url = \"smtp://govwatch:s3cret%2Fpw@127.0.0.1:{}?tls=required\"\ntimeout = \"5s\"\n{extra}\n\n{}",
            smtp.port,
            watches(&site, 1)
        )
    };
    // Without the certificate trusted, STARTTLS fails: nothing goes, the event stays pending.
    let Some(gw) = Govwatch::on(backend, &email("")) else {
        return;
    };
    set_round(&site, 1, 1);
    gw.ok(&["check", "--all"]);
    set_round(&site, 1, 2);
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("1 changed") && out.contains("stays pending"),
        "{out}"
    );
    assert!(out.to_lowercase().contains("certificate"), "{out}");
    assert!(smtp.mails().is_empty());

    // Wrong password: refused (535), and still pending, since a fixed config must send it.
    gw.set_config(&email(&format!("tls_ca = \"{}\"", cert.display())).replace("s3cret%2Fpw", "wrong"));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("535") && out.contains("stays pending"), "{out}");
    assert!(smtp.mails().is_empty());

    // With `tls_ca` naming it and the right password: STARTTLS, AUTH, delivered once.
    gw.set_config(&email(&format!("tls_ca = \"{}\"", cert.display())));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("mailed 1 events in 1 messages"), "{out}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["analyst@example.org"]);
    let text = mail_text(&mails[0].data);
    assert!(text.contains("oppose measure 2 restricting"), "{text}");
    gw.ok(&["check", "--all"]);
    assert_eq!(smtp.mails().len(), 1, "sent twice");
    let rows = gw.outbox_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "sent");
    assert_eq!(rows[0]["attempts"], 3);
}

fn a_rejected_recipient_fails_alone_with_the_servers_reason_and_the_others_get_theirs(backend: Backend) {
    let site = Site::start();
    let smtp = Smtp::start_with(
        free_port(),
        SmtpOptions {
            reject: vec!["gone@example.org".into()],
            ..Default::default()
        },
    );
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\", \"gone@example.org\"]\n\
         smtp_url = \"{}\"\n\n[[recipient]]\naddress = \"even@example.org\"\ntags = [\"even\"]\n\n{}",
            smtp.url(),
            watches(&site, 2)
        ),
    ) else {
        return;
    };
    set_round(&site, 2, 1);
    gw.ok(&["check", "--all"]);
    set_round(&site, 2, 2);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 changed"), "{out}");
    assert!(
        out.contains("mail not sent to gone@example.org (email): "),
        "{out}"
    );
    assert!(out.contains("550") && out.contains("failed for good"), "{out}");

    let mut got: Vec<(String, usize)> = smtp
        .mails()
        .iter()
        .map(|m| {
            (
                m.to.join(","),
                expand(&mail_header(&m.data, "X-Govwatch-Events").unwrap()).len(),
            )
        })
        .collect();
    got.sort();
    // The analyst follows everything (2 events in one message); `even` follows p0 only.
    assert_eq!(
        got,
        [("analyst@example.org".into(), 2), ("even@example.org".into(), 1)]
    );
    let rows = gw.outbox_rows();
    let gone: Vec<_> = rows
        .iter()
        .filter(|r| r["recipient"] == "gone@example.org")
        .collect();
    assert_eq!(gone.len(), 2);
    for r in &gone {
        assert_eq!(r["state"], "failed");
        assert!(r["last_error"].as_str().unwrap().contains("550"), "{r}");
    }
    // Nothing is retried: a refused recipient is final, the others are done.
    gw.ok(&["check", "--all"]);
    assert_eq!(smtp.mails().len(), 2);
    // An event whose deliveries are all settled is no longer pending, but one with a refused
    // delivery is not notified (issue 14: it was shown as mailed).
    assert!(gw.ok(&["digest"]).contains("nothing pending"));
    assert!(gw.changes().iter().all(|e| e["notified"] == false));
}

fn server_down_then_up_delivers_everything_once_to_every_recipient(backend: Backend) {
    let site = Site::start();
    let port = free_port();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"a@example.org\", \"b@example.org\"]\n\
         smtp_url = \"smtp://127.0.0.1:{port}\"\ntimeout = \"3s\"\n\n{}",
            watches(&site, 2)
        ),
    ) else {
        return;
    };
    set_round(&site, 2, 1);
    gw.ok(&["check", "--all"]);
    for round in 2..=3 {
        set_round(&site, 2, round);
        let out = gw.ok(&["check", "--all"]);
        assert!(
            out.contains("2 changed") && out.contains("stays pending"),
            "{out}"
        );
    }
    let rows = gw.outbox_rows();
    assert_eq!(rows.len(), 8);
    assert!(
        rows.iter()
            .all(|r| r["state"] == "pending" && r["attempts"].as_u64().unwrap() >= 1)
    );

    let smtp = Smtp::start_on(port);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("mailed"), "{out}");
    gw.ok(&["check", "--all"]);
    gw.ok(&["digest", "--send"]);
    let mut per: HashMap<String, Vec<i64>> = HashMap::new();
    for m in smtp.mails() {
        let ids = expand(&mail_header(&m.data, "X-Govwatch-Events").unwrap());
        per.entry(m.to.join(",")).or_default().extend(ids);
    }
    for who in ["a@example.org", "b@example.org"] {
        let mut ids = per.remove(who).unwrap_or_default();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2, 3, 4], "{who}");
    }
    assert!(gw.outbox_rows().iter().all(|r| r["state"] == "sent"));
}

fn ten_thousand_pending_events_make_one_readable_capped_digest(backend: Backend) {
    let site = Site::start();
    let smtp = Smtp::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n\n{}",
            smtp.url(),
            watches(&site, 1)
        ),
    ) else {
        return;
    };
    gw.ok(&["config", "check"]);
    // 10,000 events written the way a pass writes them: one transaction with their outbox rows.
    let config = govwatch::config::Config::load(&gw.config_path()).unwrap();
    let mut store = gw.store();
    let now = govwatch::model::Clock::now(&govwatch::model::SystemClock);
    let doc = store
        .ensure_watch_document("p0", &site.url("/p0.html"), govwatch::store::DocRole::Page, now)
        .unwrap();
    let events = (0..10_000)
        .map(|i| govwatch::store::NewEvent {
            kind: govwatch::store::EventKind::New,
            watch: "p0".into(),
            url: format!("https://www.example.gov/docs/{i}.html"),
            title: Some(format!("Position paper number {i} on data governance")),
            source: None,
            overlap: None,
            added: Some(format!("States should protect data in case {i}.")),
            removed: None,
            relevant: true,
            significance: (i % 97) as f64 / 100.0,
            details: None,
        })
        .collect();
    store
        .commit_check(
            govwatch::store::CheckRecord {
                document_id: doc.id,
                etag: None,
                last_modified: None,
                next_due_at: "2999-01-01T00:00:00Z".parse().unwrap(),
                snapshot: None,
                corpus: None,
                events,
                targets: govwatch::notify::targets(&config, "p0", &[], now),
                template_blocks: None,
                body_hash: None,
            },
            now,
        )
        .unwrap();
    drop(store);

    let out = gw.ok(&["digest", "--send"]);
    assert!(out.contains("sent 10000 events to analyst@example.org"), "{out}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let raw = &mails[0].data;
    assert!(raw.len() < 1024 * 1024, "{} bytes", raw.len());
    let html = mail_part(raw, true);
    let text = mail_part(raw, false);
    assert!(html.len() <= 600 * 1024, "{} bytes of HTML", html.len());
    assert!(
        text.contains("govwatch found 10000 new positions."),
        "{}",
        &text[..200]
    );
    assert!(text.contains("… and ") && text.contains(" more: `govwatch changes` lists everything found."));
    assert!(html.contains("… and "), "no 'and N more'");
    // The most significant come first.
    let first = text.find("* [new] ").unwrap();
    assert!(
        text[first..].starts_with("* [new] Position paper number 96 "),
        "{}",
        &text[first..first + 80]
    );
    assert_eq!(
        expand(&mail_header(raw, "X-Govwatch-Events").unwrap()).len(),
        10_000
    );
    assert!(gw.outbox_rows().iter().all(|r| r["state"] == "sent"));
}

fn digest_recipients_get_one_message_at_their_scheduled_time_and_the_daemon_wakes_for_it(backend: Backend) {
    let site = Site::start();
    let smtp = Smtp::start();
    // Once a minute, at a second 15 s from now (cron with seconds): well after the two checks
    // below, whatever the machine's load, so `check` never finds it due; and an immediate
    // recipient for comparison.
    let second = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 15)
        % 60;
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nsmtp_url = \"{}\"\n\n\
         [[recipient]]\naddress = \"now@example.org\"\n\n\
         [[recipient]]\naddress = \"morning@example.org\"\nmode = \"digest\"\nschedule = \"{second} * * * * *\"\ntimezone = \"Europe/Berlin\"\n\n{}",
            smtp.url(),
            watches(&site, 2)
        ),
    ) else {
        return;
    };
    set_round(&site, 2, 1);
    gw.ok(&["check", "--all"]);
    set_round(&site, 2, 2);
    gw.ok(&["check", "--all"]);
    // `check` sends immediate mail only; the digest waits for its time.
    let tos: Vec<String> = smtp.mails().iter().map(|m| m.to.join(",")).collect();
    assert_eq!(tos, ["now@example.org"]);
    let rows = gw.outbox_rows();
    let digest: Vec<_> = rows.iter().filter(|r| r["mode"] == "digest").collect();
    assert_eq!(digest.len(), 2);
    assert!(digest.iter().all(|r| r["state"] == "pending"));

    // The daemon sends it when it falls due, as one message with both events.
    let mut child = gw
        .command()
        .arg("run")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    while smtp.mails().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "the digest did not come");
    assert_eq!(mails[1].to, ["morning@example.org"]);
    assert_eq!(
        expand(&mail_header(&mails[1].data, "X-Govwatch-Events").unwrap()).len(),
        2
    );
}

fn webhook_is_retried_through_the_outbox_until_accepted_once(backend: Backend) {
    let site = Site::start();
    let hook = Hook::start(1);
    let feed_dir = tempfile::tempdir().unwrap();
    let feed_path = feed_dir.path().join("changes.atom");
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\n\n[[recipient]]\naddress = \"bot@example.org\"\nwebhook = \"{}\"\n\n\
         [feed]\npath = \"{}\"\n\n{}",
            hook.url(),
            feed_path.display(),
            watches(&site, 1)
        ),
    ) else {
        return;
    };
    set_round(&site, 1, 1);
    gw.ok(&["check", "--all"]);
    set_round(&site, 1, 2);
    let run = |args: &[&str]| gw.ok(args);
    let out = run(&["check", "--all"]);
    assert!(
        out.contains("webhook") && out.contains("500") && out.contains("stays pending"),
        "{out}"
    );
    let out = run(&["check", "--all"]);
    assert!(out.contains("mailed 1 events"), "{out}");
    run(&["check", "--all"]);
    let calls = hook.calls();
    assert_eq!(calls.len(), 2, "one refused, one accepted, no more");
    assert_eq!(
        calls[0].1, calls[1].1,
        "the retry carries the same idempotency key"
    );
    let body: serde_json::Value = serde_json::from_str(&calls[1].0).unwrap();
    assert_eq!(body["recipient"], "bot@example.org");
    assert_eq!(body["events"][0]["kind"], "changed");
    assert_eq!(body["events"][0]["watch"], "p0");

    // The feed file the pass keeps current: one entry for the change.
    let feed = std::fs::read_to_string(&feed_path).unwrap();
    assert!(feed.starts_with("<?xml") && feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert_eq!(feed.matches("<entry>").count(), 1, "{feed}");
    assert!(
        feed.contains(&format!("href=\"{}\"", site.url("/p0.html"))),
        "{feed}"
    );
    assert_eq!(run(&["feed"]), feed);
}

fn a_users_template_beside_the_config_replaces_the_built_in_one_and_page_markup_stays_text(backend: Backend) {
    let site = Site::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\n{}",
            watches(&site, 1)
        ),
    ) else {
        return;
    };
    std::fs::create_dir(gw.dir.path().join("templates")).unwrap();
    std::fs::write(
        gw.dir.path().join("templates/digest.html.j2"),
        "<p>Custom: {% for g in groups %}{% for i in g.items %}{{ i.title }}{% endfor %}{% endfor %}</p>",
    )
    .unwrap();
    let evil = "<script>alert(1)</script><a href=x>x</a> Positions";
    site.set("/p0.html", Resp::html(positions_titled(1, evil)));
    gw.ok(&["check", "--all"]);
    site.set("/p0.html", Resp::html(positions_titled(2, evil)));
    assert!(gw.ok(&["config", "check"]).contains("templates/digest.html.j2"));
    gw.ok(&["check", "--all"]);
    let outbox = gw.outbox();
    assert_eq!(outbox.len(), 1);
    let html = mail_part(&outbox[0], true);
    assert!(html.starts_with("<p>Custom: "), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<a href=x>"),
        "{html}"
    );
    // The text part is still the built-in one.
    assert!(mail_part(&outbox[0], false).contains("govwatch found 1 changed."));

    // A template that does not compile is named by `config check`, exit code 2.
    std::fs::write(gw.dir.path().join("templates/digest.txt.j2"), "{% for x in %}").unwrap();
    let out = gw.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("digest.txt.j2"), "{err}");
}

/// A webhook receiver that refuses the first `fail` calls with 500.
struct Hook {
    addr: std::net::SocketAddr,
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl Hook {
    fn start(fail: usize) -> Hook {
        let calls: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let c = calls.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                    let c = c.clone();
                    async move {
                        let key = req
                            .headers()
                            .get("idempotency-key")
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let body = axum::body::to_bytes(req.into_body(), 1 << 24).await.unwrap();
                        let mut calls = c.lock().unwrap();
                        calls.push((String::from_utf8_lossy(&body).into_owned(), key));
                        if calls.len() <= fail {
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            axum::http::StatusCode::OK
                        }
                    }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        Hook { addr, calls }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

fn implicit_tls_and_dkim_signed_messages(backend: Backend) {
    let site = Site::start();
    let smtp = Smtp::start();
    let certs = tempfile::tempdir().unwrap();
    let (port, pem) = implicit_tls_front(smtp.port, certs.path());
    let key = fixtures().join("dkim/test-rsa.pem");
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\
         smtp_url = \"smtps://127.0.0.1:{port}\"\ntls_ca = \"{}\"\ntimeout = \"5s\"\n\
         dkim_selector = \"gw2026\"\ndkim_key = \"{}\"\n\n{}",
            pem.display(),
            key.display(),
            watches(&site, 1)
        ),
    ) else {
        return;
    };
    assert!(gw.ok(&["config", "check"]).contains("DKIM-signed"));
    set_round(&site, 1, 1);
    gw.ok(&["check", "--all"]);
    set_round(&site, 1, 2);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("mailed 1 events in 1 messages"), "{out}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let sig = mail_header(&mails[0].data, "DKIM-Signature").expect("a DKIM-Signature header");
    assert!(
        sig.contains("d=example.org") && sig.contains("s=gw2026") && sig.contains("a=rsa-sha256"),
        "{sig}"
    );

    // The same server in plain text does not speak TLS: smtps to it fails and stays pending.
    gw.set_config(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\
         smtp_url = \"smtps://127.0.0.1:{}\"\ntimeout = \"3s\"\n\n{}",
        smtp.port,
        watches(&site, 1)
    ));
    set_round(&site, 1, 3);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("stays pending"), "{out}");
    assert_eq!(smtp.mails().len(), 1);
}

fn an_event_no_recipient_follows_is_not_left_pending_forever(backend: Backend) {
    let site = Site::start();
    let smtp = Smtp::start();
    let Some(gw) = Govwatch::on(
        backend,
        &format!(
            "[email]\nfrom = \"govwatch@example.org\"\nsmtp_url = \"{}\"\n\n\
         [[recipient]]\naddress = \"p0@example.org\"\nwatches = [\"p0\"]\n\n{}",
            smtp.url(),
            watches(&site, 2)
        ),
    ) else {
        return;
    };
    set_round(&site, 2, 1);
    gw.ok(&["check", "--all"]);
    set_round(&site, 2, 2);
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("2 changed") && out.contains("mailed 1 events in 1 messages"),
        "{out}"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["p0@example.org"]);
    let rows = gw.outbox_rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    // p1's change was written without deliveries; the sender settles it instead of queueing it.
    // Nobody was told of it, so it does not read as mailed (issue 14: an event settled with no
    // delivery, like a duplicate nobody asked for, is `notified: false`).
    for e in gw.changes() {
        assert_eq!(e["notified"], e["watch"] == "p0", "{e:#}");
    }
    assert!(gw.ok(&["changes"]).contains("unmailed"));
    assert!(gw.ok(&["digest"]).contains("nothing pending"));
}

on_both!(
    starttls_with_a_self_signed_certificate_and_auth_delivers_only_when_the_certificate_is_trusted,
    a_rejected_recipient_fails_alone_with_the_servers_reason_and_the_others_get_theirs,
    server_down_then_up_delivers_everything_once_to_every_recipient,
    ten_thousand_pending_events_make_one_readable_capped_digest,
    digest_recipients_get_one_message_at_their_scheduled_time_and_the_daemon_wakes_for_it,
    webhook_is_retried_through_the_outbox_until_accepted_once,
    a_users_template_beside_the_config_replaces_the_built_in_one_and_page_markup_stays_text,
    implicit_tls_and_dkim_signed_messages,
    an_event_no_recipient_follows_is_not_left_pending_forever,
);
