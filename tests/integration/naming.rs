//! Naming documents on the command line, with the real binary against a real site on loopback
//! and a real SQLite file: `history`, `show` and `diff` by watch name, URL, title or its unique
//! beginning, and the version labels `history` prints; `changes --since/--watch/--kind/--limit`;
//! `corpus list/show/remove` on files imported from ../shared/corpus.

use crate::common;

use std::path::PathBuf;

use common::*;

const SECURITY: &str = "Position Paper on Data Security and Cross-Border Transfers";
const FLOWS: &str = "Position Paper on Free Flow of Data";
const ADDED: &str = "The ministry now holds that important data must be stored within the territory.";

fn paper(title: &str, corpus: &str, extra: &[&str], counter: u32) -> String {
    let (_, mut paras) = corpus_doc(corpus);
    paras.truncate(14);
    paras.extend(extra.iter().map(|s| s.to_string()));
    page(
        "ministry-article.html",
        title,
        "2023-05-25",
        &paras,
        counter,
        &["Minister meets delegation"],
    )
}

/// Two watched papers whose titles share their first words; `security` has two versions.
fn two_papers() -> (Site, Govwatch) {
    let site = Site::start();
    let gw = Govwatch::new(&format!(
        "[[watch]]\nname = \"security\"\nurl = \"{}\"\nevery = \"1s\"\n\n\
         [[watch]]\nname = \"flows\"\nurl = \"{}\"\nevery = \"1s\"\n",
        site.url("/security.html"),
        site.url("/flows.html")
    ));
    site.set("/security.html", Resp::html(paper(SECURITY, "000", &[], 1)));
    site.set("/flows.html", Resp::html(paper(FLOWS, "004", &[], 1)));
    gw.ok(&["check", "--all"]);
    site.set("/security.html", Resp::html(paper(SECURITY, "000", &[ADDED], 2)));
    site.set(
        "/flows.html",
        Resp::html(paper(
            FLOWS,
            "004",
            &["States should jointly oppose any measure restricting cross-border data flows."],
            2,
        )),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 changed"), "{out}");
    (site, gw)
}

fn fails_with(gw: &Govwatch, args: &[&str]) -> String {
    let out = gw.run(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "govwatch {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn history_show_and_diff_name_a_document_by_watch_url_title_or_its_beginning_and_take_version_labels() {
    let (site, gw) = two_papers();
    let url = site.url("/security.html");
    let lowercase_prefix = "position paper on data security";
    for name in ["security", url.as_str(), SECURITY, lowercase_prefix] {
        let hist = gw.ok(&["history", name]);
        assert!(
            hist.starts_with(&url) && hist.contains("v1") && hist.contains("v2"),
            "history {name}: {hist}"
        );
    }
    // The labels `history` prints are what `diff` and `show` take.
    let diff = gw.ok(&["diff", &url, "v1", "v2"]);
    assert!(
        diff.contains(&format!("+{ADDED}")) || diff.contains(ADDED),
        "{diff}"
    );
    let diff = gw.ok(&["diff", "Position Paper on Data", "V1", "2"]);
    assert!(diff.contains(ADDED), "{diff}");
    assert!(!gw.ok(&["show", "security", "v1"]).contains(ADDED));
    let v2 = gw.ok(&["show", lowercase_prefix, "v2"]);
    assert!(v2.contains(ADDED) && v2.contains(&format!("{url} v2")), "{v2}");

    // A beginning both titles share names neither: the error lists both to choose from.
    let err = fails_with(&gw, &["history", "Position Paper"]);
    assert!(
        err.contains("names 2 documents") && err.contains(&url) && err.contains(&site.url("/flows.html")),
        "{err}"
    );
    assert!(err.contains(FLOWS) && err.contains(SECURITY), "{err}");
    let err = fails_with(&gw, &["show", "No such paper"]);
    assert!(err.contains("No such paper"), "{err}");
    let err = fails_with(&gw, &["diff", "security", "v1", "version-two"]);
    assert!(err.contains("version-two") && err.contains("v1, v2"), "{err}");
    let err = fails_with(&gw, &["diff", "security", "v1", "v9"]);
    assert!(err.contains("no version 9"), "{err}");
}

fn ids(events: &[serde_json::Value]) -> Vec<i64> {
    events.iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

fn changes(gw: &Govwatch, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["changes", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&gw.ok(&all)).unwrap()
}

#[test]
fn changes_filters_by_time_watch_kind_and_count() {
    let (site, gw) = two_papers();
    let events = gw.changes();
    assert_eq!(events.len(), 2, "{events:#?}");
    let security = events.iter().find(|e| e["watch"] == "security").unwrap()["id"]
        .as_i64()
        .unwrap();
    let flows = events.iter().find(|e| e["watch"] == "flows").unwrap()["id"]
        .as_i64()
        .unwrap();

    // Both, oldest first: the two papers are checked side by side, so either may be found first.
    let both = [security.min(flows), security.max(flows)];

    // The security change is made ten days old, in the database itself.
    let db = rusqlite::Connection::open(gw.db_path()).unwrap();
    db.execute(
        "UPDATE events SET detected_at = '2020-01-02T03:04:05Z' WHERE id = ?1",
        [security],
    )
    .unwrap();
    drop(db);

    assert_eq!(ids(&changes(&gw, &["--watch", "security"])), [security]);
    assert_eq!(
        ids(&changes(&gw, &["--watch", "security", "--watch", "flows"])),
        both
    );
    assert_eq!(ids(&changes(&gw, &["--since", "7d"])), [flows]);
    assert_eq!(ids(&changes(&gw, &["--since", "2020-01-01"])), both);
    assert_eq!(ids(&changes(&gw, &["--since", "2020-01-02T04:00:00Z"])), [flows]);
    assert!(changes(&gw, &["--since", "2999-01-01"]).is_empty());
    assert_eq!(ids(&changes(&gw, &["--kind", "changed"])), both);
    assert!(changes(&gw, &["--kind", "new", "--kind", "duplicate"]).is_empty());
    // The newest one.
    assert_eq!(ids(&changes(&gw, &["--limit", "1"])), [flows.max(security)]);
    assert_eq!(
        ids(&changes(
            &gw,
            &["--limit", "1", "--watch", "security", "--kind", "changed"]
        )),
        [security]
    );
    // The text listing is filtered the same way.
    let text = gw.ok(&["changes", "--watch", "flows"]);
    assert!(text.contains(&site.url("/flows.html")), "{text}");
    assert!(!text.contains(&site.url("/security.html")), "{text}");
    assert!(
        gw.ok(&["changes", "--kind", "quotes"])
            .contains("nothing found that matches")
    );

    // Words nobody can mean are errors, not empty lists.
    let err = fails_with(&gw, &["changes", "--kind", "changd"]);
    assert!(err.contains("changd") && err.contains("revision"), "{err}");
    let err = fails_with(&gw, &["changes", "--watch", "securty"]);
    assert!(err.contains("securty"), "{err}");
    let err = fails_with(&gw, &["changes", "--since", "last tuesday"]);
    assert!(err.contains("last tuesday"), "{err}");
}

/// The four real documents of ../shared/corpus, as the repository keeps them for tests (the
/// test must not depend on where shared/ sits beside a clone).
fn shared_corpus() -> PathBuf {
    fixtures().join("corpus")
}

#[test]
fn corpus_files_are_listed_shown_and_removed_and_a_removed_file_is_no_longer_a_source() {
    let site = Site::start();
    let gw = Govwatch::new(&format!(
        "[[watch]]\nname = \"docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
        site.url("/docs/")
    ));
    let (t1, p1) = corpus_doc("001");
    site.set(
        "/docs/a.html",
        Resp::html(page("ministry-article.html", &t1, "2023-05-25", &p1, 1, &[])),
    );
    site.set(
        "/docs/",
        Resp::html(index("ministry-index.html", &[("/docs/a.html", &t1)], 1)),
    );
    gw.ok(&["check", "--all"]);

    let dir = shared_corpus();
    let out = gw.ok(&["corpus", "import", dir.to_str().unwrap()]);
    assert!(out.contains("4 added"), "{out}");
    let names = [
        "000_2c8e88b2ae00cbc5.txt",
        "001_ac0aaab2b33c6938.txt",
        "003_0772cf1c2725d416.txt",
        "004_1d2cd7d0eb42c1f4.txt",
    ];
    let list = gw.ok(&["corpus", "list"]);
    for n in names {
        assert!(list.contains(n), "{list}");
    }
    assert!(list.contains("4 imported files"), "{list}");
    let json: Vec<serde_json::Value> = serde_json::from_str(&gw.ok(&["corpus", "list", "--json"])).unwrap();
    assert_eq!(
        json.iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        names
    );
    let (t3, p3) = corpus_doc("003");
    let shown = gw.ok(&["corpus", "show", names[2]]);
    assert!(shown.contains(&p3[3]), "{shown}");

    let out = gw.ok(&["corpus", "remove", names[2]]);
    assert!(out.contains(&format!("removed {}", names[2])), "{out}");
    let list = gw.ok(&["corpus", "list"]);
    assert!(
        !list.contains(names[2]) && list.contains("3 imported files"),
        "{list}"
    );
    let err = fails_with(&gw, &["corpus", "show", names[2]]);
    assert!(err.contains(names[2]) && err.contains("corpus list"), "{err}");
    // A list with one unknown name removes nothing.
    fails_with(&gw, &["corpus", "remove", names[0], "nope.txt"]);
    assert!(gw.ok(&["corpus", "list"]).contains(names[0]));

    // A copy of the removed file is new; a copy of a file still imported cites it.
    let (t0, p0) = corpus_doc("000");
    site.set(
        "/docs/d.html",
        Resp::html(page("news-article.html", &t3, "2023-03-18", &p3, 9, &[])),
    );
    site.set(
        "/docs/z.html",
        Resp::html(page("news-article.html", &t0, "2023-03-19", &p0, 9, &[])),
    );
    site.set(
        "/docs/",
        Resp::html(index(
            "ministry-index.html",
            &[
                // 003's first line is its site's name, which a listing does not show.
                (
                    "/docs/d.html",
                    "China's Law-Based Cyberspace Governance in the New Era",
                ),
                ("/docs/z.html", &t0),
                ("/docs/a.html", &t1),
            ],
            2,
        )),
    );
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 new documents"), "{out}");
    let events = gw.changes();
    let by = |p: &str| {
        events
            .iter()
            .find(|e| e["url"] == site.url(p))
            .unwrap_or_else(|| panic!("no event for {p}: {events:#?}"))
    };
    let d = by("/docs/d.html");
    assert_eq!(d["kind"], "new", "{d:#?}");
    assert!(d.get("source").is_none(), "{d:#?}");
    let z = by("/docs/z.html");
    assert_eq!(z["source"], names[0], "{z:#?}");
}
