//! Politeness and robustness against real servers on loopback: robots.txt, per-host spacing,
//! Retry-After, backoff, misbehaving servers; and discovery from feeds and sitemaps.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn article(n: usize) -> String {
    let (title, paras) = corpus_doc(["000", "001", "003", "004"][n % 4]);
    page("ministry-article.html", &title, "2023-05-25", &paras, 1, &[])
}

fn watch(name: &str, url: &str, extra: &str) -> String {
    format!("[[watch]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n")
}

/// Gaps between consecutive times.
fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn robots_txt_is_honoured_cached_and_a_watch_may_opt_out() {
    let site = Site::start();
    site.set(
        "/robots.txt",
        Resp::text("text/plain", "User-agent: *\nDisallow: /private/\n"),
    );
    site.set("/public/a.html", Resp::html(article(0)));
    site.set("/private/b.html", Resp::html(article(1)));
    site.set("/private/c.html", Resp::html(article(2)));
    site.set(
        "/list.html",
        Resp::html(index(
            "ministry-index.html",
            &[(
                "/private/d.html",
                "A disallowed paper on data security governance",
            )],
            1,
        )),
    );
    site.set("/private/d.html", Resp::html(article(3)));
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"0s\"\n\n{}{}{}{}",
        watch("open", &site.url("/public/a.html"), ""),
        watch("closed", &site.url("/private/b.html"), ""),
        watch("optout", &site.url("/private/c.html"), "robots = false"),
        watch("list", &site.url("/list.html"), "kind = \"index\""),
    ));
    let out = gw.ok(&["check", "--all"]);
    let robots = format!("disallowed by http://{}/robots.txt", site.addr);
    assert!(out.contains("2 failed"), "{out}");
    assert!(out.contains(&format!("/private/b.html: {robots}")), "{out}");
    assert!(out.contains(&format!("/private/d.html: {robots}")), "{out}");
    assert_eq!(site.hits("/private/b.html"), 0);
    assert_eq!(
        site.hits("/private/d.html"),
        0,
        "a discovered link is held to robots.txt too"
    );
    assert_eq!(
        site.hits("/private/c.html"),
        1,
        "robots = false opts the watch out"
    );
    assert_eq!(site.hits("/public/a.html"), 1);
    assert_eq!(site.hits("/robots.txt"), 1, "one robots.txt per host and run");

    // A later run trusts the stored copy until `robots_ttl` runs out.
    gw.ok(&["check", "--all"]);
    assert_eq!(site.hits("/robots.txt"), 1);
    assert_eq!(site.hits("/private/b.html"), 0);

    let status = gw.ok(&["status"]);
    assert!(status.contains("failed 2 in a row: disallowed by"), "{status}");
}

#[test]
fn requests_to_one_host_are_spaced_and_other_hosts_are_not() {
    let a = Site::start_on("127.0.0.1");
    let b = Site::start_on("127.0.0.2");
    // Host b asks for more room than the configured second.
    b.set(
        "/robots.txt",
        Resp::text("text/plain", "User-agent: *\nCrawl-delay: 2\n"),
    );
    let mut config = String::from("[fetch]\nper_host_delay = \"1s\"\nconcurrency = 8\n\n");
    for i in 0..3 {
        a.set(&format!("/a{i}.html"), Resp::html(article(i)));
        b.set(&format!("/b{i}.html"), Resp::html(article(i)));
        config += &watch(&format!("a{i}"), &a.url(&format!("/a{i}.html")), "");
        config += &watch(&format!("b{i}"), &b.url(&format!("/b{i}.html")), "");
    }
    let gw = Govwatch::new(&config);
    let started = Instant::now();
    let out = gw.ok(&["check", "--all"]);
    let took = started.elapsed();
    assert!(out.contains("6 baseline"), "{out}");

    // robots.txt and three pages on each host: four requests, spaced.
    let times = |s: &Site| s.all_hits().into_iter().map(|(_, t)| t).collect::<Vec<_>>();
    let (ta, tb) = (times(&a), times(&b));
    assert_eq!((ta.len(), tb.len()), (4, 4));
    for g in gaps(&ta) {
        assert!(g >= Duration::from_millis(950), "host a: {:?}", gaps(&ta));
    }
    for g in gaps(&tb) {
        assert!(
            g >= Duration::from_millis(1950),
            "host b (Crawl-delay 2): {:?}",
            gaps(&tb)
        );
    }
    // The hosts were visited side by side, not one after the other.
    let first = |t: &[Instant]| t[0];
    let apart = if first(&ta) > first(&tb) {
        first(&ta) - first(&tb)
    } else {
        first(&tb) - first(&ta)
    };
    assert!(apart < Duration::from_millis(500), "{apart:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn retry_after_pauses_the_host_and_the_next_request_waits_for_it() {
    let site = Site::start();
    site.set("/a.html", Resp::status(429, &[("retry-after", "2")]));
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"0s\"\n\n{}",
        watch("a", &site.url("/a.html"), "")
    ));
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("1 failed")
            && out.contains("HTTP 429 (Too Many Requests); the server asks to retry after 2s"),
        "{out}"
    );
    // Asked again at once: no request is made, the check is deferred with the reason.
    site.set("/a.html", Resp::html(article(0)));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("0 failed, 1 deferred"), "{out}");
    assert!(
        out.contains("deferred") && out.contains("no request before"),
        "{out}"
    );
    assert_eq!(site.hits("/a.html"), 1);
    let status = gw.ok(&["status"]);
    assert!(status.contains("host paused until"), "{status}");

    std::thread::sleep(Duration::from_millis(2100));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 baseline"), "{out}");
    let hits = site.hit_times("/a.html");
    assert_eq!(hits.len(), 2);
    assert!(
        hits[1] - hits[0] >= Duration::from_secs(2),
        "{:?}",
        hits[1] - hits[0]
    );
}

#[test]
fn a_failing_watch_backs_off_exponentially() {
    let dead = free_port();
    let gw = Govwatch::new(&watch(
        "down",
        &format!("http://127.0.0.1:{dead}/x.html"),
        "every = \"1m\"\nrobots = false",
    ));
    let mut waits = Vec::new();
    for _ in 0..4 {
        let out = gw.ok(&["check", "--all"]);
        assert!(
            out.contains("1 failed") && out.contains("cannot connect"),
            "{out}"
        );
        let status: serde_json::Value = serde_json::from_str(&gw.ok(&["status", "--json"])).unwrap();
        let row = &status[0];
        let due = time::OffsetDateTime::parse(
            row["next_due"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        waits.push((due - time::OffsetDateTime::now_utc()).whole_seconds());
    }
    // 1, 2, 4, 8 minutes, each with up to a quarter more at random.
    for (i, w) in waits.iter().enumerate() {
        let base = 60 << i;
        assert!(
            (base - 2..=base + base / 4 + 1).contains(w),
            "failure {}: due in {w}s, expected about {base}s ({waits:?})",
            i + 1
        );
    }
    let status = gw.ok(&["status"]);
    assert!(status.contains("failed 4 in a row: cannot connect"), "{status}");
}

#[test]
fn misbehaving_servers_fail_with_reasons_and_the_pass_goes_on() {
    let site = Site::start();
    site.set("/good.html", Resp::html(article(0)));
    site.set("/loop.html", Resp::status(302, &[("location", "/loop.html")]));
    // 8 MB of markup that travels as a few kilobytes of gzip.
    site.set(
        "/bomb.html",
        Resp {
            encoding: Some("gzip"),
            ..Resp::html("<p>a</p>".repeat(1_000_000))
        },
    );
    let drip = dripping_server();
    let reset = resetting_server();
    let sent = Arc::new(AtomicU64::new(0));
    let endless = endless_server(sent.clone());
    let not_tls = not_tls_server();
    let gw = Govwatch::new(&format!(
        "[fetch]\nmax_body_bytes = 1048576\ntimeout = \"3s\"\nper_host_delay = \"0s\"\n\n{}{}{}{}{}{}{}",
        watch("good", &site.url("/good.html"), ""),
        watch("loop", &site.url("/loop.html"), ""),
        watch("bomb", &site.url("/bomb.html"), ""),
        watch("slowloris", &format!("http://{drip}/slow.html"), "robots = false"),
        watch("reset", &format!("http://{reset}/r.html"), "robots = false"),
        watch("endless", &format!("http://{endless}/e.html"), "robots = false"),
        watch("tls", &format!("https://{not_tls}/t.html"), "robots = false"),
    ));
    let started = Instant::now();
    let (out, peak_kib) = run_measuring_memory(gw.command_with(&["check", "--all"]));
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 baseline") && stdout.contains("6 failed"),
        "{stdout}"
    );
    for (path, reason) in [
        ("/loop.html", "too many redirects"),
        ("/bomb.html", "response larger than the 1048576-byte cap"),
        ("/slow.html", "timed out after 3s"),
        ("/r.html", "connection reset"),
        ("/e.html", "response larger than the 1048576-byte cap"),
        ("/t.html", "cannot connect"),
    ] {
        assert!(
            stdout.contains(&format!("{path}: {reason}")),
            "{path}: {reason}\n{stdout}"
        );
    }
    // Cut off, not read to the end: the endless body stopped near the cap, the slow one at the
    // total timeout, and govwatch's memory stayed far below what it was offered.
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(
        sent.load(Ordering::Relaxed) < 64 << 20,
        "{} bytes",
        sent.load(Ordering::Relaxed)
    );
    assert!(peak_kib > 0 && peak_kib < 150 * 1024, "peak {peak_kib} KiB");
    assert!(gw.changes().is_empty());
}

fn rss(items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(title, link, date)| {
            format!("<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate></item>")
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>MFA</title>{items}</channel></rss>")
}

fn sitemap(urls: &[(String, &str)]) -> String {
    let urls: String = urls
        .iter()
        .map(|(loc, lastmod)| format!("<url><loc>{loc}</loc><lastmod>{lastmod}</lastmod></url>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">{urls}</urlset>"
    )
}

#[test]
fn feeds_and_sitemaps_announce_documents_and_lastmod_triggers_a_recheck() {
    let site = Site::start();
    for i in 0..4 {
        site.set(&format!("/doc{i}.html"), Resp::html(article(i)));
    }
    site.set(
        "/feed.xml",
        Resp::text(
            "application/rss+xml",
            rss(&[("One", &site.url("/doc0.html"), "Mon, 01 Jan 2024 08:00:00 GMT")]),
        ),
    );
    site.set(
        "/sitemap_index.xml",
        Resp::text(
            "application/xml",
            format!(
                "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"><sitemap><loc>{}</loc></sitemap></sitemapindex>",
                site.url("/sitemap-1.xml")
            ),
        ),
    );
    let sm = |lastmod2: &str| {
        Resp::text(
            "application/xml",
            sitemap(&[
                (site.url("/doc1.html"), "2024-01-01"),
                (site.url("/doc2.html"), lastmod2),
            ]),
        )
    };
    site.set("/sitemap-1.xml", sm("2024-01-01"));
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"0s\"\n\n{}{}",
        watch("feed", &site.url("/feed.xml"), "kind = \"feed\"\nevery = \"1s\""),
        watch(
            "sitemap",
            &site.url("/sitemap_index.xml"),
            "kind = \"sitemap\"\nevery = \"1s\""
        ),
    ));
    // First look: listings and what they list are the baseline.
    let out = gw.ok(&["check"]);
    assert!(out.contains("3 baseline") && out.contains("0 failed"), "{out}");
    assert_eq!(site.hits("/doc1.html"), 1);
    assert!(gw.changes().is_empty());

    // A new feed entry is a new document, found and checked in the same pass.
    site.set(
        "/feed.xml",
        Resp::text(
            "application/rss+xml",
            rss(&[
                ("One", &site.url("/doc0.html"), "Mon, 01 Jan 2024 08:00:00 GMT"),
                ("Three", &site.url("/doc3.html"), "Tue, 02 Jan 2024 08:00:00 GMT"),
            ]),
        ),
    );
    // The sitemap says doc2 was edited: it is checked now, though not due for an hour.
    let (title, mut paras) = corpus_doc("003");
    paras[1] = "The parties shall oppose any unilateral measures that restrict cross-border data.".into();
    site.set(
        "/doc2.html",
        Resp::html(page(
            "ministry-article.html",
            &title,
            "2023-05-25",
            &paras,
            1,
            &[],
        )),
    );
    site.set("/sitemap-1.xml", sm("2024-03-01T10:00:00+08:00"));
    std::thread::sleep(Duration::from_millis(1100));
    let out = gw.ok(&["check"]);
    assert!(
        out.contains("1 changed") && out.contains("1 new documents"),
        "{out}"
    );
    assert_eq!(site.hits("/doc1.html"), 1, "doc1's lastmod did not move");
    assert_eq!(site.hits("/doc2.html"), 2);
    let changes = gw.changes();
    let kinds: Vec<_> = changes.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"changed"), "{changes:#?}");
    assert!(
        changes
            .iter()
            .any(|e| e["url"].as_str().unwrap().ends_with("/doc3.html")),
        "{changes:#?}"
    );

    let status = gw.ok(&["status"]);
    for needle in ["feed", "sitemap", "/sitemap-1.xml", "/doc3.html", "NEXT DUE"] {
        assert!(status.contains(needle), "{needle}\n{status}");
    }
    // Documents follow the age schedule, by the date they were published: doc1's page says
    // 2023, so it is checked weekly (the listings themselves every second).
    let rows: serde_json::Value = serde_json::from_str(&gw.ok(&["status", "--json"])).unwrap();
    let doc1 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"].as_str().unwrap().ends_with("/doc1.html"))
        .unwrap();
    let due = time::OffsetDateTime::parse(
        doc1["next_due"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let wait = (due - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((7 * 86_400 - 60..=7 * 86_400 + 1).contains(&wait), "{wait}");
}
