//! Listings read by structure, and `govwatch preview`, against a real site on loopback: every
//! item of a listing is followed whatever its title, nothing outside it is; an empty listing
//! yields nothing and a listing of thousands is read in bounded time; `preview` fetches once,
//! through robots.txt, and stores nothing.

use crate::common;

use std::collections::BTreeSet;

use common::*;

/// Items of the ministry's listing, short titles among them.
const ITEMS: [(&str, &str); 5] = [
    ("/eng/docs/202403/t20240301_1.html", "Notice"),
    ("/eng/docs/202402/t20240227_2.html", "International Scholarships"),
    ("/eng/docs/202402/t20240226_3.html", "Circular"),
    (
        "/eng/docs/202402/t20240220_4.html",
        "China's Positions on Global Digital Governance",
    ),
    ("/eng/docs/202402/t20240219_5.html", "FAQ"),
];

/// A "most read" box inside the content column, named like any other box: only its structure
/// and where it links tell it from the listing.
const MOST_READ: &str = r#"<div class="box"><h3>Most read</h3><ul class="top5">
  <li><a href="/eng/news/202401/t20240110_9.html">Spokesperson's remarks on the data security initiative</a></li>
  <li><a href="/eng/news/202401/t20240108_8.html">Minister meets the delegation of a partner country</a></li>
  <li><a href="/eng/news/202312/t20231220_7.html">Year-end press conference on digital diplomacy</a></li>
</ul></div>
<div class="pagination""#;

fn listing(items: &[(&str, &str)]) -> String {
    index("ministry-index.html", items, 3).replacen(r#"<div class="pagination""#, MOST_READ, 1)
}

/// A site with the listing at /eng/docs/, every item and every chrome link served, so that a
/// link wrongly followed shows up as a request.
fn site_with(items: &[(&str, &str)]) -> Site {
    let site = Site::start();
    let html = listing(items);
    site.set("/eng/docs/", Resp::html(html.clone()));
    for href in hrefs(&html)
        .into_iter()
        .filter(|h| h.starts_with('/') && h != "/eng/docs/")
    {
        site.set(&href, Resp::html(article_page(&href)));
    }
    site
}

/// An article of the ministry at `href`.
fn article_page(href: &str) -> String {
    let (_, paras) = corpus_doc("001");
    let n = href.len() % 30;
    page(
        "ministry-article.html",
        &format!("Page {href}"),
        "2024-03-01",
        &paras[n..n + 3],
        1,
        &[],
    )
}

/// Every `href="..."` on a page, as written.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.split(['?', '#']).next().unwrap_or(h).to_string())
        .collect()
}

/// The paths requested on `site`, but robots.txt and the listing.
fn followed(site: &Site) -> BTreeSet<String> {
    site.all_hits()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p != "/robots.txt" && p != "/eng/docs/")
        .collect()
}

fn index_watch(site: &Site, extra: &str) -> String {
    format!(
        "[[watch]]\nname = \"docs\"\nurl = \"{}\"\nkind = \"index\"\n{extra}\n",
        site.url("/eng/docs/")
    )
}

#[test]
fn every_item_of_a_listing_is_followed_whatever_its_title_and_nothing_else() {
    let site = site_with(&ITEMS);
    let gw = Govwatch::new(&index_watch(&site, ""));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("0 failed"), "{out}");
    let want: BTreeSet<String> = ITEMS.iter().map(|(h, _)| h.to_string()).collect();
    // Navigation, the sidebar, the "most read" box, the footer and the pagination all link to
    // pages that are served: none was asked for.
    assert_eq!(followed(&site), want, "{out}");
    let status = gw.ok(&["status"]);
    for (href, _) in ITEMS {
        assert!(status.contains(&site.url(href)), "{status}");
    }
}

#[test]
fn an_empty_listing_yields_no_documents() {
    let site = Site::start();
    let html = index("ministry-index.html", &[], 3);
    site.set("/eng/docs/", Resp::html(html.clone()));
    for href in hrefs(&html)
        .into_iter()
        .filter(|h| h.starts_with('/') && h != "/eng/docs/")
    {
        site.set(&href, Resp::html(article_page(&href)));
    }
    let gw = Govwatch::new(&index_watch(&site, ""));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("checked 1:") && out.contains("0 failed"), "{out}");
    assert!(followed(&site).is_empty(), "{:?}", followed(&site));
    assert!(gw.changes().is_empty());
    // And again, now that the listing is known: still nothing, still no error.
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("0 failed") && followed(&site).is_empty(), "{out}");
}

#[test]
fn a_listing_of_thousands_is_read_and_capped() {
    let site = Site::start();
    let items: Vec<(String, String)> = (0..5000)
        .map(|i| (format!("/eng/docs/{i}.html"), format!("Item {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = items.iter().map(|(h, t)| (h.as_str(), t.as_str())).collect();
    site.set("/eng/docs/", Resp::html(listing(&refs)));
    let (_, paras) = corpus_doc("001");
    for (href, title) in items.iter().take(10) {
        site.set(
            href,
            Resp::html(page(
                "ministry-article.html",
                title,
                "2024-03-01",
                &paras[..3],
                1,
                &[],
            )),
        );
    }
    let gw = Govwatch::new(&index_watch(&site, "max_documents = 5"));
    let started = std::time::Instant::now();
    let out = gw.ok(&["check", "--all"]);
    let want: BTreeSet<String> = items.iter().take(5).map(|(h, _)| h.clone()).collect();
    assert_eq!(followed(&site), want, "{out}");
    // Not a timing assertion (machines here are shared): a guard against a stall.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));

    // `preview` shows the first 50 (a watch's default cap) and says there are more.
    let out = gw.ok(&["preview", &site.url("/eng/docs/"), "--kind", "index"]);
    assert!(out.contains("50 documents (and more"), "{out}");
    assert!(out.contains("- Item 0\n") && out.contains("- Item 49\n") && !out.contains("Item 50\n"));
}

#[test]
fn preview_shows_a_page_without_a_database() {
    let site = Site::start();
    let (title, paras) = corpus_doc("001");
    site.set(
        "/eng/docs/p.html",
        Resp::html(page(
            "ministry-article.html",
            &title,
            "2023-05-25",
            &paras,
            4,
            &[],
        )),
    );
    let gw = Govwatch::new("");
    let out = gw.ok(&["preview", &site.url("/eng/docs/p.html")]);
    // The extractor makes typographic quotes plain.
    let title = title.replace('\u{2019}', "'");
    assert!(out.contains(&format!("title: {title}\n")), "{out}");
    assert!(out.contains("date: 2023-05-25"), "{out}");
    assert!(out.contains("language: en"), "{out}");
    assert!(out.contains(&paras[5][..60]), "{out}");
    // The page's frame is not its text.
    assert!(!out.contains("Scan to follow our official account"), "{out}");
    assert_eq!(site.hits("/eng/docs/p.html"), 1);
    assert!(!gw.db_path().exists(), "preview created the database");

    let json: serde_json::Value =
        serde_json::from_str(&gw.ok(&["preview", "--json", &site.url("/eng/docs/p.html")])).unwrap();
    assert_eq!(json["kind"], "page");
    assert_eq!(json["title"], title.as_str());
    assert!(json["text"].as_str().unwrap().contains(&paras[5][..60]));
    assert!(!gw.db_path().exists());

    // Without any config file at all.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_govwatch"))
        .args(["preview", &site.url("/eng/docs/p.html")])
        .current_dir(dir.path())
        .env("GOVWATCH_CONFIG", dir.path().join("none.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("title: {title}")));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "preview wrote files"
    );
}

#[test]
fn preview_shows_what_a_listing_yields() {
    let site = site_with(&ITEMS);
    // A watch on the listing says what it is: no --kind needed.
    let gw = Govwatch::new(&index_watch(&site, ""));
    let out = gw.ok(&["preview", &site.url("/eng/docs/")]);
    assert!(out.contains("5 documents\n"), "{out}");
    for (href, title) in ITEMS {
        assert!(
            out.contains(&format!("- {title}\n  {}\n", site.url(href))),
            "{out}"
        );
    }
    assert!(!out.contains("Most read") && !out.contains("/eng/news/"), "{out}");
    // Fetched once; nothing it lists was.
    assert_eq!(site.hits("/eng/docs/"), 1);
    assert!(followed(&site).is_empty());
    assert!(!gw.db_path().exists(), "preview created the database");

    let json: serde_json::Value =
        serde_json::from_str(&gw.ok(&["preview", "--json", &site.url("/eng/docs/")])).unwrap();
    let docs = json["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 5);
    assert_eq!(docs[0]["title"], "Notice");
    assert_eq!(docs[0]["url"], site.url(ITEMS[0].0));

    // Read as a page, the same URL shows its text instead.
    let out = gw.ok(&["preview", &site.url("/eng/docs/"), "--kind", "page"]);
    assert!(out.contains("(page)") && out.contains("words:"), "{out}");
}

#[test]
fn preview_respects_robots_txt_and_names_what_went_wrong() {
    let site = Site::start();
    site.set(
        "/robots.txt",
        Resp::text("text/plain", "User-agent: *\nDisallow: /private/\n"),
    );
    site.set("/private/p.html", Resp::html("<p>secret</p>"));
    let gw = Govwatch::new("");

    let out = gw.run(&["preview", &site.url("/private/p.html")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("robots.txt"), "{err}");
    assert_eq!(site.hits("/private/p.html"), 0);

    let out = gw.run(&["preview", &site.url("/missing.html")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404"), "{err}");

    // A feed that is not one: said, not a crash.
    site.set("/feed.xml", Resp::html("<html><body>not a feed</body></html>"));
    let out = gw.run(&["preview", &site.url("/feed.xml"), "--kind", "feed"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read it as a feed"), "{err}");

    // What the user must fix: exit 2.
    let out = gw.run(&["preview", "ftp://example.org/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an http or https URL"));
    let out = gw.run(&["preview", &site.url("/"), "--kind", "rss"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!gw.db_path().exists());
}
