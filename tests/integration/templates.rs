//! Site templates: repeated fetches of one host give cleaner text than any single page allows.

use crate::common;

use common::*;

/// A note the site puts inside every article's body. On one page it is indistinguishable from a
/// paragraph of the article; across pages of the site it is plainly the site's.
const NOTE: &str = "The series on global digital governance collects the documents in which the \
                    Ministry sets out its views for the international community and its partners.";

fn article(n: usize, edit: bool) -> String {
    article_with(n, edit, None)
}

/// The article, with `stamp` (a notice the site put on it) as its first paragraph.
fn article_with(n: usize, edit: bool, stamp: Option<&str>) -> String {
    let (_, paras) = corpus_doc("001");
    // Each page gets its own slice of the paper, so the pages share nothing but the site.
    let mut body: Vec<String> = paras.iter().skip(20 + n * 4).take(4).cloned().collect();
    if edit {
        let i = body
            .iter()
            .position(|p| p.len() > 100 && p.ends_with('.'))
            .expect("a paragraph of prose");
        body[i] = format!("{} States must also refrain from mass surveillance.", body[i]);
    }
    body.insert(2, NOTE.to_string());
    if let Some(stamp) = stamp {
        body.insert(0, stamp.to_string());
    }
    page(
        "ministry-article.html",
        &format!("Position paper part {n}"),
        "2023-05-25",
        &body,
        7 + n as u32,
        &[],
    )
}

fn config(site: &Site, pages: usize) -> String {
    (0..pages)
        .map(|n| {
            format!(
                "[[watch]]\nname = \"p{n}\"\nurl = \"{}\"\n\n",
                site.url(&format!("/eng/p{n}.html"))
            )
        })
        .collect()
}

#[test]
fn repeated_blocks_of_a_host_are_learned_and_dropped() {
    let site = Site::start();
    for n in 0..5 {
        site.set(&format!("/eng/p{n}.html"), Resp::html(article(n, false)));
    }
    let gw = Govwatch::new(&config(&site, 4));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("4 baseline"), "{out}");

    // The extractor alone keeps the note: from one page it cannot know better.
    let saved = gw.dir.path().join("p4.html");
    std::fs::write(&saved, article(4, false)).unwrap();
    let single = gw.ok(&["extract", saved.to_str().unwrap()]);
    assert!(
        single.contains("The series on global digital governance"),
        "{single}"
    );

    // Now that the note has been seen on four pages of the host, it is template: the pages that
    // were stored with it are not "changed" by its disappearing.
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("4 unchanged") && out.contains("0 changed"), "{out}");
    assert!(gw.changes().is_empty(), "{:#?}", gw.changes());

    // A fifth page of the same site is stored without the note from its first fetch.
    gw.set_config(&config(&site, 5));
    gw.ok(&["check", "p4"]);
    let shown = gw.ok(&["show", "p4"]);
    assert!(
        !shown.contains("The series on global digital governance"),
        "{shown}"
    );
    let (_, paras) = corpus_doc("001");
    assert!(shown.contains(&paras[36][..40]), "{shown}");

    // A real edit on a page stored with the note is reported alone, and its new version is clean.
    site.set("/eng/p0.html", Resp::html(article(0, true)));
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(
        events[0]["added"],
        "States must also refrain from mass surveillance."
    );
    assert!(events[0].get("removed").is_none(), "{events:#?}");
    assert!(
        !gw.ok(&["show", "p0"])
            .contains("The series on global digital governance")
    );
}

/// A repeal notice the ministry stamps on several of its documents at once.
const REPEAL: &str = "This document was repealed by the decision of the State Council of 1 March 2024.";

fn set_pages(site: &Site, pages: usize, stamped: usize) {
    for n in 0..pages {
        let stamp = (n < stamped).then_some(REPEAL);
        site.set(
            &format!("/eng/p{n}.html"),
            Resp::html(article_with(n, false, stamp)),
        );
    }
}

/// Issue 14: a short block on three other pages of a host was template, so a notice stamped on
/// several documents of a site in one pass was dropped from the later ones, which then showed
/// no change. It is a change on each, and stays in their text; the site's own note, which its
/// pages carried from the start, stays template and silent.
#[test]
fn a_notice_stamped_on_many_documents_at_once_is_a_change_on_each() {
    let site = Site::start();
    set_pages(&site, 6, 0);
    let gw = Govwatch::new(&config(&site, 6));
    gw.ok(&["check", "--all"]);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("6 unchanged"), "{out}");

    set_pages(&site, 6, 5);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("5 changed") && out.contains("1 unchanged"), "{out}");
    let events = gw.changes();
    assert_eq!(events.len(), 5, "{events:#?}");
    for e in &events {
        assert_eq!(e["kind"], "changed", "{e:#?}");
        assert_eq!(e["added"], REPEAL, "{e:#?}");
        assert!(e.get("removed").is_none(), "{e:#?}");
    }

    // Seen again, and again: the notice is no template however many pages carry it, so nothing
    // is "removed" and the stored text keeps it.
    for _ in 0..2 {
        let out = gw.ok(&["check", "--all"]);
        assert!(out.contains("6 unchanged"), "{out}");
    }
    assert_eq!(gw.changes().len(), 5);
    for n in 0..5 {
        let shown = gw.ok(&["show", &format!("p{n}")]);
        assert!(shown.contains(REPEAL), "{shown}");
        assert!(
            !shown.contains("The series on global digital governance"),
            "{shown}"
        );
    }

    // A page published now, with the site's note and without the notice: the note is still
    // template, and the page is stored clean.
    site.set("/eng/p6.html", Resp::html(article(6, false)));
    gw.set_config(&config(&site, 7));
    gw.ok(&["check", "p6"]);
    let shown = gw.ok(&["show", "p6"]);
    assert!(
        !shown.contains("The series on global digital governance"),
        "{shown}"
    );

    // A later edit of a stamped page is told alone; the notice is still in its text.
    let edited = article_with(0, true, Some(REPEAL));
    site.set("/eng/p0.html", Resp::html(edited));
    gw.ok(&["check", "--all", "p0"]);
    let events = gw.changes();
    assert_eq!(events.len(), 6, "{events:#?}");
    assert_eq!(
        events[5]["added"],
        "States must also refrain from mass surveillance."
    );
    assert!(gw.ok(&["show", "p0"]).contains(REPEAL));
}

/// The same sentence added to three documents of one site in one pass: three `changed` events,
/// told in the mail as one story.
#[test]
fn the_same_sentence_on_three_documents_is_one_story_in_the_mail() {
    let site = Site::start();
    let smtp = Smtp::start();
    set_pages(&site, 4, 0);
    let mail = format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n\n",
        smtp.url()
    );
    let gw = Govwatch::new(&format!("{mail}{}", config(&site, 4)));
    gw.ok(&["check", "--all"]);
    set_pages(&site, 4, 3);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("3 changed"), "{out}");
    let events = gw.changes();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(
        events
            .iter()
            .all(|e| e["kind"] == "changed" && e["added"] == REPEAL)
    );

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let text = mail_part(&mails[0].data, false);
    let story = "The same sentence was added to 3 documents of this site";
    assert_eq!(text.matches(story).count(), 1, "{text}");
    assert!(text.contains(REPEAL), "{text}");
    // The story names each document, under its heading.
    let at = text.find(story).unwrap();
    for n in 0..3 {
        let title = format!("Position paper part {n}");
        assert!(text[at..].contains(&title), "{text}");
    }
    assert!(!text.contains("Position paper part 3"), "{text}");
    let html = mail_part(&mails[0].data, true);
    assert_eq!(html.matches(story).count(), 1, "{html}");
}
