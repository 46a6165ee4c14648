//! Verdicts against every stored version of a document, and on words rather than layout: the
//! binary against a real local web site, with the corpus texts and real articles from the WCXB
//! benchmark (`tests/fixtures/wcxb/`).

use crate::common;

use common::*;

/// Commentary of the news site's own: an analyst's paragraphs (well over 80 words).
fn commentary() -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(fixtures().join("../../bench/verdicts/commentary-en.txt")).unwrap();
    let paras: Vec<String> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    (paras[..3].to_vec(), paras[7..9].to_vec())
}

/// A WCXB article: (title, paragraphs).
fn wcxb(id: &str) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(fixtures().join(format!("wcxb/{id}.txt"))).unwrap();
    let mut paras = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty());
    let title = paras.next().unwrap();
    (title, paras.collect())
}

/// The same words, each paragraph re-flowed into lines of `width` words, each line a block of
/// its own (as a hard-wrapped text file reads with a blank line after every line).
fn rewrapped(paras: &[String], width: usize) -> Vec<String> {
    paras
        .iter()
        .flat_map(|p| {
            let words: Vec<&str> = p.split_whitespace().collect();
            words.chunks(width).map(|c| c.join(" ")).collect::<Vec<_>>()
        })
        .collect()
}

fn listing_config(site: &Site) -> String {
    format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\n\
         [[watch]]\nname = \"news\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
        site.url("/news/")
    )
}

fn event_for<'a>(events: &'a [serde_json::Value], site: &Site, path: &str) -> &'a serde_json::Value {
    events
        .iter()
        .find(|e| e["url"] == site.url(path))
        .unwrap_or_else(|| panic!("no event for {path}: {events:#?}"))
}

#[test]
fn a_news_page_pasting_the_paper_as_first_published_is_a_republication_of_version_1() {
    let site = Site::start();
    let gw = Govwatch::new(&format!(
        "{}\n[[watch]]\nname = \"paper\"\nurl = \"{}\"\nkind = \"page\"\nevery = \"1h\"\n",
        listing_config(&site),
        site.url("/mfa/paper.html")
    ));
    let (title, v1) = corpus_doc("001");
    let paper = |paras: &[String], counter| {
        Resp::html(page(
            "ministry-article.html",
            &title,
            "2023-05-25",
            paras,
            counter,
            &[],
        ))
    };
    site.set("/mfa/paper.html", paper(&v1, 1));
    site.set("/news/", Resp::html(index("ministry-index.html", &[], 1)));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("0 failed"), "{out}");

    // A quiet edit: the ministry adds a sentence to the paper.
    let added = "China stands ready to work with all parties to build a community with a shared future in cyberspace under the framework of the United Nations.";
    let mut v2 = v1.clone();
    v2.insert(v1.len() / 2, added.to_string());
    site.set("/mfa/paper.html", paper(&v2, 2));
    gw.ok(&["check", "--all"]);
    let changed = gw.changes();
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0]["kind"], "changed");

    // A news site pastes the paper as it first read, inside commentary of its own.
    let (before, after) = commentary();
    let body: Vec<String> = before.iter().chain(&v1).chain(&after).cloned().collect();
    site.set(
        "/news/analysis.html",
        Resp::html(page(
            "news-article.html",
            "What the paper says",
            "2023-06-02",
            &body,
            4,
            &[],
        )),
    );
    site.set(
        "/news/",
        Resp::html(index(
            "ministry-index.html",
            &[("/news/analysis.html", "What the paper says")],
            2,
        )),
    );
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    let e = event_for(&events, &site, "/news/analysis.html");
    assert_eq!(e["kind"], "republication", "{e:#?}");
    assert_eq!(e["source"], site.url("/mfa/paper.html"));
    let d = &e["details"];
    assert_eq!(d["source_version"], 1, "{d:#?}");
    assert_eq!(d["source_newest_version"], 2, "{d:#?}");
    assert!(
        d["source_version_date"]
            .as_str()
            .unwrap()
            .starts_with("2023-05-25"),
        "{d:#?}"
    );
    // What the paper has changed since is the paper's own sentence...
    let since = d["source_changed_since"].to_string();
    assert!(since.contains("community with a shared future"), "{d:#?}");
    // ...and the commentary is the news site's: never the source's statements.
    assert!(d.get("statements").is_none(), "{d:#?}");
    assert!(e.get("added").is_none() && e.get("removed").is_none(), "{e:#?}");

    let mails: Vec<String> = gw.outbox().iter().map(|m| mail_text(m)).collect();
    let mail = mails
        .iter()
        .find(|m| m.contains("What the paper says"))
        .unwrap_or_else(|| panic!("no mail for the republication: {mails:#?}"));
    assert!(mail.contains("as first published, 25 May 2023"), "{mail}");
    assert!(mail.contains("has since changed"), "{mail}");
    assert!(mail.contains("community with a shared future"), "{mail}");
    for c in before.iter().chain(&after) {
        assert!(
            !mail.contains(&c[..60]),
            "commentary shown in the mail: {c}\n{mail}"
        );
    }
}

#[test]
fn the_same_text_with_other_line_breaks_is_a_duplicate() {
    let site = Site::start();
    let gw = Govwatch::new(&listing_config(&site));
    for file in ["corpus/000_2c8e88b2ae00cbc5.txt", "wcxb/0221.txt"] {
        gw.ok(&["corpus", "import", fixtures().join(file).to_str().unwrap()]);
    }
    site.set("/news/", Resp::html(index("ministry-index.html", &[], 1)));
    gw.ok(&["check", "--all"]);

    // The imported files' words, laid out by the page in lines of their own.
    let (t0, p0) = corpus_doc("000");
    let (t1, p1) = wcxb("0221");
    site.set(
        "/news/a.html",
        Resp::html(page(
            "news-article.html",
            &t0,
            "2023-05-30",
            &rewrapped(&p0, 11),
            1,
            &[],
        )),
    );
    site.set(
        "/news/b.html",
        Resp::html(page(
            "news-article.html",
            &t1,
            "2025-12-18",
            &rewrapped(&p1, 13),
            1,
            &[],
        )),
    );
    let links = [("/news/a.html", t0.as_str()), ("/news/b.html", t1.as_str())];
    site.set("/news/", Resp::html(index("ministry-index.html", &links, 2)));
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    for (path, source) in [
        ("/news/a.html", "000_2c8e88b2ae00cbc5.txt"),
        ("/news/b.html", "0221.txt"),
    ] {
        let e = event_for(&events, &site, path);
        assert_eq!(e["kind"], "duplicate", "{e:#?}");
        assert_eq!(e["source"], source, "{e:#?}");
    }
}

#[test]
fn one_word_replaced_and_one_sentence_added_is_a_revision() {
    let site = Site::start();
    let gw = Govwatch::new(&listing_config(&site));
    for file in ["corpus/004_1d2cd7d0eb42c1f4.txt", "wcxb/0177.txt"] {
        gw.ok(&["corpus", "import", fixtures().join(file).to_str().unwrap()]);
    }
    site.set("/news/", Resp::html(index("ministry-index.html", &[], 1)));
    gw.ok(&["check", "--all"]);

    let (t0, mut p0) = corpus_doc("004");
    let (t1, mut p1) = wcxb("0177");
    // One word replaced, one sentence added after another, in each. In the article the word is
    // in a line that does not end like a sentence (a tip's heading), and the sentence is short:
    // neither may be taken for the page's chrome.
    let edit = |paras: &mut Vec<String>, word: &str, new: &str, sentence: &str| {
        let at = paras.iter().position(|p| p.contains(word)).expect("the word");
        paras[at] = paras[at].replacen(word, new, 1);
        let at = paras.len() / 2;
        paras[at] = format!("{} {sentence}", paras[at]);
    };
    edit(
        &mut p0,
        "security",
        "stability",
        "The office will publish its first annual report on the new rules before the end of the year.",
    );
    edit(
        &mut p1,
        "suspicious emails",
        "unexpected emails",
        "Report anything odd to the help desk.",
    );
    site.set(
        "/news/a.html",
        Resp::html(page("news-article.html", &t0, "2023-03-17", &p0, 1, &[])),
    );
    site.set(
        "/news/b.html",
        Resp::html(page("news-article.html", &t1, "2024-02-01", &p1, 1, &[])),
    );
    let links = [("/news/a.html", t0.as_str()), ("/news/b.html", t1.as_str())];
    site.set("/news/", Resp::html(index("ministry-index.html", &links, 2)));
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    for (path, source, word) in [
        ("/news/a.html", "004_1d2cd7d0eb42c1f4.txt", "stability"),
        ("/news/b.html", "0177.txt", "unexpected"),
    ] {
        let e = event_for(&events, &site, path);
        assert_eq!(e["kind"], "revision", "{e:#?}");
        assert_eq!(e["source"], source, "{e:#?}");
        let altered = e["details"]["statements"]["altered"].to_string();
        assert!(altered.contains(word), "{e:#?}");
    }
}
