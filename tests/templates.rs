//! Site templates: repeated fetches of one host give cleaner text than any single page allows.

mod common;

use common::*;

/// A note the site puts inside every article's body. On one page it is indistinguishable from a
/// paragraph of the article; across pages of the site it is plainly the site's.
const NOTE: &str = "The series on global digital governance collects the documents in which the \
                    Ministry sets out its views for the international community and its partners.";

fn article(n: usize, edit: bool) -> String {
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
