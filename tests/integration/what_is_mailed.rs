//! What is mailed (issue 14): by default every kind of event but `duplicate`; a duplicate is
//! stored and listed (`changes`), left out of the feed, and mailed only to a recipient whose
//! `kinds` names it. The real binary against a real site and a real SMTP server on loopback.

use crate::common;

use common::*;

#[test]
fn a_duplicate_is_listed_but_mailed_only_to_a_recipient_whose_kinds_include_it() {
    let (site, smtp) = (Site::start(), Smtp::start());
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n\n\
         [[recipient]]\naddress = \"archivist@example.org\"\nkinds = [\"new\", \"duplicate\"]\n\n\
         [[watch]]\nname = \"mfa-docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
        smtp.url(),
        site.url("/eng/docs/")
    ));
    // The corpus knows the white-paper story; the site will carry a copy of it.
    gw.ok(&[
        "corpus",
        "import",
        fixtures()
            .join("corpus/003_0772cf1c2725d416.txt")
            .to_str()
            .unwrap(),
    ]);
    let (t1, p1) = corpus_doc("001");
    let (t3, p3) = corpus_doc("003");
    site.set(
        "/eng/docs/a.html",
        Resp::html(page("ministry-article.html", &t1, "2023-05-25", &p1, 1, &[])),
    );
    site.set(
        "/eng/docs/",
        Resp::html(index(
            "ministry-index.html",
            &[("/eng/docs/a.html", t1.as_str())],
            1,
        )),
    );
    gw.ok(&["check", "--all"]);
    assert!(gw.changes().is_empty());

    // Two documents appear: a new one, and the white-paper story in news chrome.
    let (t4, p4) = corpus_doc("004");
    site.set(
        "/eng/docs/b.html",
        Resp::html(page("ministry-article.html", &t4, "2023-03-17", &p4, 1, &[])),
    );
    site.set(
        "/eng/docs/d.html",
        Resp::html(page("news-article.html", &t3, "2023-03-18", &p3, 9, &[])),
    );
    let listed = [
        (
            "/eng/docs/d.html",
            "China's Law-Based Cyberspace Governance in the New Era",
        ),
        ("/eng/docs/b.html", t4.as_str()),
        ("/eng/docs/a.html", t1.as_str()),
    ];
    site.set("/eng/docs/", Resp::html(index("ministry-index.html", &listed, 2)));
    gw.ok(&["check", "--all"]);

    let events = gw.changes();
    let by_url = |p: &str| {
        events
            .iter()
            .find(|e| e["url"] == site.url(p))
            .unwrap_or_else(|| panic!("no event for {p}: {events:#?}"))
    };
    let (new, dup) = (by_url("/eng/docs/b.html"), by_url("/eng/docs/d.html"));
    assert_eq!(new["kind"], "new", "{new:#}");
    assert_eq!(dup["kind"], "duplicate", "{dup:#}");
    assert_eq!(dup["relevant"], true, "{dup:#}");
    // The duplicate went to the archivist only; the new paper to both.
    let to = |e: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> = e["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["recipient"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(to(dup), ["archivist@example.org"], "{dup:#}");
    assert_eq!(
        to(new),
        ["analyst@example.org", "archivist@example.org"],
        "{new:#}"
    );

    let (new_id, dup_id) = (new["id"].as_i64().unwrap(), dup["id"].as_i64().unwrap());
    let mut got: Vec<(String, Vec<i64>)> = smtp
        .mails()
        .iter()
        .map(|m| {
            let mut ids = expand(&mail_header(&m.data, "X-Govwatch-Events").unwrap());
            ids.sort();
            (m.to.join(","), ids)
        })
        .collect();
    got.sort();
    let mut both = vec![new_id, dup_id];
    both.sort();
    assert_eq!(
        got,
        [
            ("analyst@example.org".to_string(), vec![new_id]),
            ("archivist@example.org".to_string(), both)
        ]
    );
    let analyst = smtp
        .mails()
        .into_iter()
        .find(|m| m.to == ["analyst@example.org"])
        .unwrap();
    let text = mail_text(&analyst.data);
    assert!(
        !text.contains("[duplicate]") && !text.contains("003_0772cf1c2725d416"),
        "{text}"
    );

    // The feed carries what mail carries by default: no duplicate.
    let feed = gw.ok(&["feed"]);
    assert!(feed.contains(&site.url("/eng/docs/b.html")), "{feed}");
    assert!(!feed.contains(&site.url("/eng/docs/d.html")), "{feed}");
    assert!(!feed.contains("term=\"duplicate\""), "{feed}");
}

#[test]
fn with_the_default_kinds_a_duplicate_is_stored_listed_and_never_mailed() {
    let (site, smtp) = (Site::start(), Smtp::start());
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n\n\
         [[watch]]\nname = \"mfa-docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
        smtp.url(),
        site.url("/eng/docs/")
    ));
    gw.ok(&[
        "corpus",
        "import",
        fixtures()
            .join("corpus/003_0772cf1c2725d416.txt")
            .to_str()
            .unwrap(),
    ]);
    let (t1, p1) = corpus_doc("001");
    site.set(
        "/eng/docs/a.html",
        Resp::html(page("ministry-article.html", &t1, "2023-05-25", &p1, 1, &[])),
    );
    let first = [("/eng/docs/a.html", t1.as_str())];
    site.set("/eng/docs/", Resp::html(index("ministry-index.html", &first, 1)));
    gw.ok(&["check", "--all"]);
    let (t3, p3) = corpus_doc("003");
    site.set(
        "/eng/docs/d.html",
        Resp::html(page("news-article.html", &t3, "2023-03-18", &p3, 9, &[])),
    );
    let listed = [
        (
            "/eng/docs/d.html",
            "China's Law-Based Cyberspace Governance in the New Era",
        ),
        ("/eng/docs/a.html", t1.as_str()),
    ];
    site.set("/eng/docs/", Resp::html(index("ministry-index.html", &listed, 2)));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 new documents"), "{out}");

    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    let dup = &events[0];
    assert_eq!(dup["kind"], "duplicate", "{dup:#}");
    // Nobody was told: not `notified`, no delivery, and nothing pending either.
    assert_eq!(dup["notified"], false, "{dup:#}");
    assert!(
        dup["deliveries"].as_array().is_none_or(|d| d.is_empty()),
        "{dup:#}"
    );
    assert!(smtp.mails().is_empty());
    assert!(gw.ok(&["digest"]).contains("nothing pending"));
    let listed = gw.ok(&["changes"]);
    assert!(
        listed.contains("duplicate") && listed.contains("unmailed"),
        "{listed}"
    );
    let filtered: Vec<serde_json::Value> =
        serde_json::from_str(&gw.ok(&["changes", "--json", "--kind", "duplicate"])).unwrap();
    assert_eq!(filtered.len(), 1);
}

#[test]
fn an_unknown_kind_is_a_config_error_naming_the_key_and_line() {
    let gw = Govwatch::new(
        "[email]\nfrom = \"govwatch@example.org\"\n\n\
         [[recipient]]\naddress = \"a@example.org\"\nkinds = [\"new\", \"dupes\"]\n\n\
         [[watch]]\nname = \"w\"\nurl = \"https://example.org/\"\n",
    );
    let out = gw.run(&["config", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Line 9 of the file: [storage] and its blank line come first.
    assert!(
        err.contains("govwatch.toml:9") && err.contains("recipient[0].kinds") && err.contains("`dupes`"),
        "{err}"
    );
    assert!(err.contains("duplicate"), "the message names the kinds: {err}");
}
