//! The web pages (issue 15), against the real binary serving a real database that real checks
//! of a loopback site filled: every page, pagination, search in English and Chinese, triage and
//! its CSRF token, escaping, 404s and hostile search input; then the login off loopback and its
//! refusals. Loopback only (an address "not loopback" is 0.0.0.0, reached at 127.0.0.1).

use crate::common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A response: status, headers (lower-case names) and body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh connection, as a browser without JavaScript would send it.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> Reply {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = form.map(|f| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(f.iter())
            .finish()
    });
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    if let Some(b) = &body {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = &body {
        s.write_all(b.as_bytes()).unwrap();
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).expect("pages are UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get(addr: &str, path: &str) -> Reply {
    request(addr, "GET", path, None, None)
}

/// A page that must be there.
fn page_ok(addr: &str, path: &str) -> String {
    let r = get(addr, path);
    assert_eq!(r.status, 200, "GET {path}:\n{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.contains("text/html") && c.contains("utf-8")),
        "{path}: {:?}",
        r.headers
    );
    r.body
}

fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The value of `name="…" value="…"` in a form.
fn hidden(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in\n{body}"));
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Links `href="/prefix…"` in a page, in order.
fn links(body: &str, prefix: &str) -> Vec<String> {
    body.match_indices(&format!("href=\"{prefix}"))
        .map(|(i, _)| {
            let rest = &body[i + 6..];
            rest[..rest.find('"').unwrap()].replace("&amp;", "&")
        })
        .collect()
}

/// A `govwatch serve` (or `run`) that is stopped when dropped.
struct Server(Child);

impl Server {
    fn start(mut cmd: Command, addr: &str) -> Server {
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let server = Server(child);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "server did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SCRIPT_TITLE: &str = "<script>alert('x')</script> Data rules & more";

/// A database built by real checks: an index whose documents are republished, duplicated and
/// written in Chinese, a page edited between two checks, a document titled with markup, and a
/// listing of 55 small documents (more than a page of the watch's list).
fn checked_site(extra_config: &str) -> (Site, Govwatch) {
    let site = Site::start();
    let bulk: Vec<(String, String)> = (0..55)
        .map(|i| {
            (
                format!("/bulk/{i}.html"),
                format!("Bulletin {i} on the weekly meeting of the data office"),
            )
        })
        .collect();
    let gw = Govwatch::new(&format!(
        "{extra_config}\n[fetch]\nper_host_delay = \"0s\"\n\n\
         [[watch]]\nname = \"mfa-docs\"\nurl = \"{}\"\nkind = \"index\"\n\n\
         [[watch]]\nname = \"positions\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"bulk\"\nurl = \"{}\"\nkind = \"index\"\nmax_documents = 60\n",
        site.url("/docs/"),
        site.url("/positions.html"),
        site.url("/bulk/"),
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
    let (t0, p0) = corpus_doc("000");
    let (t3, p3) = corpus_doc("003");
    let (t4, mut p4) = corpus_doc("004");
    let article =
        |t: &str, p: &[String], n: u32| Resp::html(page("ministry-article.html", t, "2023-05-25", p, n, &[]));
    site.set("/docs/a.html", article(&t1, &p1, 1));
    site.set("/positions.html", article(&t4, &p4, 1));
    for (i, (path, title)) in bulk.iter().enumerate() {
        let text = format!(
            "Bulletin number {i} reports on the weekly meeting of the data office. It lists the items discussed."
        );
        site.set(path, article(title, &[text], 1));
    }
    let bulk_links: Vec<(&str, &str)> = bulk.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    site.set("/bulk/", Resp::html(index("ministry-index.html", &bulk_links, 1)));
    site.set(
        "/docs/",
        Resp::html(index("ministry-index.html", &[("/docs/a.html", &t1)], 1)),
    );
    gw.ok(&["check", "--all"]);

    // The second pass finds a republication, a duplicate of the imported file, a Chinese paper,
    // a title with markup, and an edited position paper.
    let republished: Vec<String> = p0.iter().chain(p1.iter()).cloned().collect();
    site.set(
        "/docs/c.html",
        Resp::html(page("news-article.html", &t0, "2023-05-30", &republished, 3, &[])),
    );
    site.set(
        "/docs/d.html",
        Resp::html(page("news-article.html", &t3, "2023-03-18", &p3, 9, &[])),
    );
    let zh: Vec<String> = std::fs::read_to_string(fixtures().join("chrome/zh-body.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    site.set(
        "/docs/e.html",
        Resp::html(page(
            "zh-article.html",
            "全球数字治理立场文件",
            "2023-06-01",
            &zh,
            5,
            &[],
        )),
    );
    let script_body = vec![
        "Countries should adopt common rules on data security and cross-border data flows. The rules \
         must protect personal information."
            .to_string(),
    ];
    site.set("/docs/g.html", article(SCRIPT_TITLE, &script_body, 2));
    let links = [
        ("/docs/g.html", "Common rules on data security proposed"),
        ("/docs/e.html", "全球数字治理立场文件"),
        ("/docs/c.html", t0.as_str()),
        (
            "/docs/d.html",
            "China's Law-Based Cyberspace Governance in the New Era",
        ),
        ("/docs/a.html", t1.as_str()),
    ];
    site.set("/docs/", Resp::html(index("ministry-index.html", &links, 2)));
    let i = p4
        .iter()
        .position(|p| p.contains("should"))
        .expect("a sentence with should");
    p4[i] = p4[i].replacen("should", "must", 1);
    p4.push("States must never weaken encryption standards used for cross-border data flows.".into());
    site.set("/positions.html", article(&t4, &p4, 2));
    gw.ok(&["check", "--all"]);
    (site, gw)
}

/// The event of `kind` at `path`, from `changes --json`.
fn event_id(gw: &Govwatch, site: &Site, kind: &str, path: &str) -> i64 {
    let events = gw.changes();
    let e = events
        .iter()
        .find(|e| e["kind"] == kind && e["url"] == site.url(path))
        .unwrap_or_else(|| panic!("no {kind} event for {path}: {events:#?}"));
    e["id"].as_i64().unwrap()
}

#[test]
fn pages_show_what_checks_found_and_triage_marks_it() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (site, gw) = checked_site(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\n\
         [http]\nlisten = \"{addr}\"\ntimezone = \"Asia/Shanghai\"\npublic_url = \"http://{addr}/\"\n"
    ));
    let changed = event_id(&gw, &site, "changed", "/positions.html");
    let republication = event_id(&gw, &site, "republication", "/docs/c.html");
    let duplicate = event_id(&gw, &site, "duplicate", "/docs/d.html");
    // The mail (to the outbox folder: no SMTP server) links each story to its event page.
    let mails: String = gw.outbox().iter().map(|m| mail_text(m)).collect();
    assert!(
        mails.contains(&format!("http://{addr}/event/{changed}")),
        "{mails}"
    );
    let _server = Server::start(gw.command_with(&["serve"]), &addr);

    // The overview: every watch with its state, the events unreviewed first, dates in the zone.
    let home = page_ok(&addr, "/");
    for w in ["mfa-docs", "positions", "bulk"] {
        assert!(
            home.contains(&format!("href=\"/watch/{w}\"")),
            "{w} missing:\n{home}"
        );
    }
    assert!(home.contains("CST"), "dates are in Asia/Shanghai:\n{home}");
    assert!(home.contains(&format!("href=\"/event/{changed}\"")), "{home}");
    // The title with markup is text, never markup.
    assert!(!home.contains("<script>alert"), "{home}");
    assert!(home.contains("&lt;script&gt;alert("), "{home}");

    // A watch's documents, paginated: 55 + its own index page, 50 a page.
    let bulk = page_ok(&addr, "/watch/bulk");
    assert_eq!(links(&bulk, "/doc/").len(), 50, "{bulk}");
    assert!(bulk.contains("Page 1 of 2"), "{bulk}");
    let bulk2 = page_ok(&addr, "/watch/bulk?page=2");
    assert_eq!(links(&bulk2, "/doc/").len(), 6, "{bulk2}");
    assert!(bulk2.contains("Bulletin 0"), "oldest last:\n{bulk2}");
    // A page past the end is the last page, not an error.
    assert_eq!(get(&addr, "/watch/bulk?page=999").status, 200);

    // The changed page: its document, versions, each version's text, and the diff.
    let positions = page_ok(&addr, "/watch/positions");
    let doc = links(&positions, "/doc/")[0].clone();
    let doc_page = page_ok(&addr, &doc);
    assert!(
        doc_page.contains(">v1<") && doc_page.contains(">v2<"),
        "{doc_page}"
    );
    assert!(
        doc_page.contains(&format!("href=\"/event/{changed}\"")),
        "{doc_page}"
    );
    let v1 = page_ok(&addr, &format!("{doc}/v/1"));
    assert!(v1.contains("should"), "{v1}");
    let diff_link = links(&doc_page, &format!("{doc}/diff?"))[0].clone();
    let diff = page_ok(&addr, &diff_link);
    // The word marks are the words `changes --json` reports for the altered statement.
    let ev = gw.changes().into_iter().find(|e| e["id"] == changed).unwrap();
    assert_eq!(ev["reviewed"], false);
    assert_eq!(ev["important"], false);
    let words = &ev["details"]["statements"]["altered"][0]["words"];
    let removed = words.as_array().unwrap().iter().find(|w| w[0] == "-").unwrap()[1]
        .as_str()
        .unwrap();
    let added = words.as_array().unwrap().iter().find(|w| w[0] == "+").unwrap()[1]
        .as_str()
        .unwrap();
    assert!(
        diff.contains(&format!("<del>{removed}</del>")),
        "{removed}:\n{diff}"
    );
    assert!(diff.contains(&format!("<ins>{added}</ins>")), "{added}:\n{diff}");
    assert!(
        diff.contains("<ins>States must never weaken encryption"),
        "{diff}"
    );
    assert!(
        diff.contains("id=\"c1\"") && diff.contains("href=\"#c2\""),
        "changes numbered:\n{diff}"
    );
    assert!(
        diff.contains("sentences unchanged"),
        "changes only by default:\n{diff}"
    );
    let side = page_ok(&addr, &format!("{diff_link}&view=side"));
    assert!(side.contains("class=\"diff side\""), "{side}");
    assert!(side.contains(&format!("<del>{removed}</del>")) && side.contains(&format!("<ins>{added}</ins>")));
    let whole = page_ok(&addr, &format!("{diff_link}&full=1"));
    assert!(
        !whole.contains("sentences unchanged") && whole.len() > diff.len(),
        "whole text"
    );

    // The event pages: the verdict in words, the diff, the statements, the sources side by side.
    let ev_page = page_ok(&addr, &format!("/event/{changed}"));
    assert!(ev_page.contains("its text changed"), "{ev_page}");
    assert!(ev_page.contains(&format!("<del>{removed}</del>")), "{ev_page}");
    assert!(
        ev_page.contains("Statements") && ev_page.contains("Who was told"),
        "{ev_page}"
    );
    let rep = page_ok(&addr, &format!("/event/{republication}"));
    assert!(rep.contains("reproducing") && rep.contains("<mark>"), "{rep}");
    assert!(
        rep.contains(&format!("href=\"{}", links(&rep, "/doc/").first().unwrap())),
        "{rep}"
    );
    let dup = page_ok(&addr, &format!("/event/{duplicate}"));
    assert!(
        dup.contains("003_0772cf1c2725d416.txt") && dup.contains("href=\"/corpus/"),
        "{dup}"
    );
    let corpus_link = links(&dup, "/corpus/")[0].clone();
    assert!(page_ok(&addr, &corpus_link).contains("Imported file"));

    // Triage: a POST with the page's token marks the event; `changes --json` says so.
    let token = hidden(&ev_page, "csrf");
    let r = request(
        &addr,
        "POST",
        &format!("/event/{changed}/triage"),
        None,
        Some(&[("csrf", &token), ("action", "reviewed")]),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = request(
        &addr,
        "POST",
        &format!("/event/{changed}/triage"),
        None,
        Some(&[("csrf", &token), ("action", "important")]),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let ev = gw.changes().into_iter().find(|e| e["id"] == changed).unwrap();
    assert_eq!(
        (ev["reviewed"].as_bool(), ev["important"].as_bool()),
        (Some(true), Some(true))
    );
    let ev_page = page_ok(&addr, &format!("/event/{changed}"));
    assert!(
        ev_page.contains("Mark unreviewed") && ev_page.contains("★ important"),
        "{ev_page}"
    );
    // Reviewed events go after the unreviewed ones on the overview.
    let home = page_ok(&addr, "/");
    let order = links(&home, "/event/");
    assert_eq!(order.last().unwrap(), &format!("/event/{changed}"), "{order:?}");
    // Without the token, or with another, nothing changes.
    for bad in [None, Some("0000")] {
        let form: Vec<(&str, &str)> = bad
            .map(|t| ("csrf", t))
            .into_iter()
            .chain([("action", "unreviewed")])
            .collect();
        let r = request(
            &addr,
            "POST",
            &format!("/event/{changed}/triage"),
            None,
            Some(&form),
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(
        gw.changes().into_iter().find(|e| e["id"] == changed).unwrap()["reviewed"],
        true
    );

    // Search, English and Chinese (inside unspaced text, and one or two characters).
    let s = page_ok(&addr, &format!("/search?q={}", q("encryption standards")));
    assert!(s.contains("<mark>encryption standards</mark>"), "{s}");
    assert!(
        s.contains(&format!("href=\"{doc}/v/2\"")),
        "the version found is linked:\n{s}"
    );
    for zh in ["数据跨境流动", "数据", "治"] {
        let s = page_ok(&addr, &format!("/search?q={}", q(zh)));
        assert!(s.contains("全球数字治理立场文件"), "{zh}:\n{s}");
        assert!(s.contains(&format!("<mark>{zh}</mark>")), "{zh}:\n{s}");
    }
    let s = page_ok(&addr, &format!("/search?q={}&kind=corpus", q("cyberspace")));
    assert!(
        s.contains("href=\"/corpus/") && !s.contains("href=\"/doc/"),
        "{s}"
    );
    let s = page_ok(&addr, &format!("/search?q={}&watch=bulk", q("weekly meeting")));
    assert!(s.contains("55 documents found"), "{s}");
    let s = page_ok(
        &addr,
        &format!("/search?q={}&watch=positions", q("weekly meeting")),
    );
    assert!(s.contains("Nothing found"), "{s}");
    let s = page_ok(
        &addr,
        &format!("/search?q={}&from=2999-01-01", q("weekly meeting")),
    );
    assert!(s.contains("Nothing found"), "{s}");
    // Hostile input is answered, never a 500.
    let huge = "数据 data ".repeat(400);
    for bad in [
        "",
        "\"",
        "*",
        "NEAR",
        "-",
        "\"unbalanced",
        "a* OR b",
        "NEAR(x y, 2)",
        "-data",
        "()",
        &huge,
    ] {
        let r = get(&addr, &format!("/search?q={}", q(bad)));
        assert_eq!(r.status, 200, "{bad:.40}: {}", r.body);
    }
    assert!(page_ok(&addr, &format!("/search?q={}", q(&huge))).contains("cut to its first 200"));
    assert_eq!(get(&addr, "/search?q=x&from=yesterday").status, 200);

    // What does not exist is a 404 page with a way back.
    for missing in [
        "/doc/99999",
        "/doc/abc",
        &format!("{doc}/v/99"),
        &format!("{doc}/diff?from=1&to=99"),
        "/event/99999",
        "/event/-1",
        "/watch/nope",
        "/corpus/99999",
        "/no/such/page",
        // Not numbers, or numbers too big for one.
        "/doc/99999999999999999999999",
        &format!("{doc}/v/abc"),
        &format!("{doc}/diff?from=x&to=2"),
        &format!("{doc}/diff?from=1&to=99999999999999999999999"),
        "/event/abc",
        "/corpus/abc",
    ] {
        let r = get(&addr, missing);
        assert_eq!(r.status, 404, "{missing}: {}", r.body);
        assert!(
            r.body.contains("href=\"/\""),
            "{missing}: no way back:\n{}",
            r.body
        );
    }
    let r = request(
        &addr,
        "POST",
        "/event/99999/triage",
        None,
        Some(&[("csrf", &token), ("action", "reviewed")]),
    );
    assert_eq!(r.status, 404);

    // The stylesheet, with its dark mode.
    let css = get(&addr, "/style.css");
    assert!(css.body.contains("prefers-color-scheme: dark"));
}

/// A diff page's change rows in order (side by side): kind, the old and new sentence (whitespace
/// dropped), and the section label above the row, as a reader sees it (the change's, or one a
/// change crosses into).
fn diff_sections(html: &str) -> Vec<(String, String, String, Option<String>)> {
    let doc = scraper::Html::parse_document(html);
    let tr = scraper::Selector::parse("table.diff tr").unwrap();
    let label = scraper::Selector::parse(".section").unwrap();
    let td = scraper::Selector::parse("td").unwrap();
    let flat =
        |e: scraper::ElementRef| -> String { e.text().collect::<String>().split_whitespace().collect() };
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for row in doc.select(&tr) {
        let class = row.value().attr("class").unwrap_or("").to_string();
        let shown = row.select(&label).next().map(|l| {
            l.text()
                .collect::<String>()
                .trim()
                .trim_start_matches('§')
                .trim()
                .to_string()
        });
        match class.as_str() {
            "change-head" => current = shown,
            "section-head" => current = shown,
            "added" | "removed" | "altered" => {
                let cells: Vec<String> = row.select(&td).map(flat).collect();
                out.push((class, cells[0].clone(), cells[1].clone(), current.clone()));
            }
            _ => {}
        }
    }
    out
}

/// The section a mail's line stands in: the last "§" label above it in its story.
fn mail_section(text: &str, fragment: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| l.contains(fragment))
        .unwrap_or_else(|| panic!("{fragment:?} not in the mail:\n{text}"));
    lines[..at]
        .iter()
        .rev()
        .take_while(|l| !l.starts_with("== "))
        .find_map(|l| l.strip_prefix("§ "))
        .map(str::to_string)
}

/// The diff page, the mail and `changes --json` place each change under the same section
/// heading: the one the check found among the page's headings (issue 14), not a guess from how
/// a paragraph looks. The paper gains a short dated line above the clause it rewrites (a
/// paragraph, not a heading), and a section renamed loses a paragraph that stood under its old
/// name, in one run of changes with the renamed heading.
#[test]
fn the_diff_page_the_mail_and_changes_json_agree_on_sections() {
    let site = Site::start();
    let addr = format!("127.0.0.1:{}", free_port());
    let gw = Govwatch::new(&format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\n\
         [http]\nlisten = \"{addr}\"\n\n\
         [[watch]]\nname = \"positions\"\nurl = \"{}\"\nkind = \"page\"\n",
        site.url("/eng/positions.html")
    ));
    let (title, paras) = paper();
    site.set("/eng/positions.html", Resp::html(paper_page(&title, &paras)));
    gw.ok(&["check", "--all"]);
    let clause = "ensure free flow of data in an orderly manner and in accordance with the law";
    let rewritten =
        "ensure orderly flow of data in accordance with the law and the requirements of national security";
    let mut edited = paras.clone();
    let at = edited.iter().position(|p| p.contains(clause)).unwrap();
    edited[at] = edited[at].replace(clause, rewritten);
    edited.insert(at, "(Revised on 1 June 2023)".into());
    let rights = edited
        .iter()
        .position(|p| p.starts_with("States should respect the rights and fundamental freedoms"))
        .unwrap();
    edited[rights].push_str(" States must never weaken encryption standards used by their citizens.");
    let seven = edited.iter().position(|p| p == "7.Digital public goods").unwrap();
    edited[seven] = "7. Digital public goods and open data".into();
    edited.remove(seven + 1);
    site.set("/eng/positions.html", Resp::html(paper_page(&title, &edited)));
    gw.ok(&["check", "--all"]);

    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    let st = &events[0]["details"]["statements"];
    // (kind, old, new, heading) of every statement, as `changes --json` has them.
    let flat = |s: &serde_json::Value| -> String { s.as_str().unwrap().split_whitespace().collect() };
    let mut recorded: Vec<(String, String, String, Option<String>)> = Vec::new();
    for s in st["added"].as_array().unwrap() {
        recorded.push((
            "added".into(),
            String::new(),
            flat(&s["text"]),
            s["heading"].as_str().map(Into::into),
        ));
    }
    for s in st["removed"].as_array().unwrap() {
        recorded.push((
            "removed".into(),
            flat(&s["text"]),
            String::new(),
            s["heading"].as_str().map(Into::into),
        ));
    }
    for s in st["altered"].as_array().unwrap() {
        recorded.push((
            "altered".into(),
            flat(&s["before"]),
            flat(&s["after"]),
            s["heading"].as_str().map(Into::into),
        ));
    }
    let heading_of = |fragment: &str| {
        let f: String = fragment.split_whitespace().collect();
        recorded
            .iter()
            .find(|r| r.1.contains(&f) || r.2.contains(&f))
            .unwrap_or_else(|| panic!("{fragment:?} not in {st:#}"))
            .3
            .clone()
    };
    assert_eq!(heading_of(rewritten).as_deref(), Some("3. Protect data"));
    assert_eq!(
        heading_of("(Revised on 1 June 2023)").as_deref(),
        Some("3. Protect data")
    );
    assert_eq!(
        heading_of("The principle of national sovereignty").as_deref(),
        Some("7.Digital public goods")
    );

    // The diff page, whole and changes only: every statement under its recorded heading.
    let _server = Server::start(gw.command_with(&["serve"]), &addr);
    let doc = links(&page_ok(&addr, "/watch/positions"), "/doc/")[0].clone();
    for extra in ["", "&full=1"] {
        let html = page_ok(&addr, &format!("{doc}/diff?from=1&to=2&view=side{extra}"));
        let rows = diff_sections(&html);
        for (kind, old, new, heading) in &recorded {
            let row = rows
                .iter()
                .find(|r| &r.0 == kind && (&r.1 == old || old.is_empty()) && (&r.2 == new || new.is_empty()))
                .unwrap_or_else(|| panic!("{kind} {old} {new} not on the diff page: {rows:#?}"));
            assert_eq!(&row.3, heading, "{kind} {old} → {new}{extra}: {rows:#?}");
        }
        assert!(!html.contains("§ (Revised on 1 June 2023)"), "{html}");
    }
    // The event page's diff too.
    let event = page_ok(&addr, &format!("/event/{}", events[0]["id"]));
    assert!(
        event.contains("§ 3. Protect data") && !event.contains("§ (Revised"),
        "{event}"
    );

    // The mail: each line under the same "§" label.
    let mails: Vec<String> = gw.outbox().iter().map(|m| mail_text(m)).collect();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    for (in_mail, in_json) in [
        ("{+orderly+} flow of data", rewritten),
        (
            "The principle of national sovereignty",
            "The principle of national sovereignty",
        ),
        (
            "States must never weaken encryption",
            "States must never weaken encryption",
        ),
    ] {
        assert_eq!(
            mail_section(&mails[0], in_mail),
            heading_of(in_json),
            "{in_mail}:\n{}",
            mails[0]
        );
    }
}

/// A check writing (a write transaction open, as a pass over many pages holds it) does not fail
/// the pages: they read beside it at once (the database is in WAL mode, where readers do not
/// wait for a writer), and a triage mark, itself a write, waits its turn, then lands.
#[test]
fn a_check_holding_the_database_neither_fails_nor_stalls_the_pages() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (site, gw) = checked_site(&format!("[http]\nlisten = \"{addr}\"\n"));
    let changed = event_id(&gw, &site, "changed", "/positions.html");
    let _server = Server::start(gw.command_with(&["serve"]), &addr);
    let ev_page = page_ok(&addr, &format!("/event/{changed}"));
    let token = hidden(&ev_page, "csrf");
    let pages = [
        "/".to_string(),
        format!("/event/{changed}"),
        "/watch/bulk".to_string(),
        format!("/search?q={}", q("weekly meeting")),
    ];

    let hold = Duration::from_secs(3);
    let check = rusqlite::Connection::open(gw.db_path()).unwrap();
    check
        .execute_batch("BEGIN IMMEDIATE; UPDATE documents SET failures = failures;")
        .unwrap();
    let held = Instant::now();
    let triage = std::thread::spawn({
        let (addr, token) = (addr.clone(), token.clone());
        move || {
            let t0 = Instant::now();
            let r = request(
                &addr,
                "POST",
                &format!("/event/{changed}/triage"),
                None,
                Some(&[("csrf", &token), ("action", "important")]),
            );
            (r.status, t0.elapsed())
        }
    });
    for p in &pages {
        page_ok(&addr, p);
    }
    assert!(
        held.elapsed() < hold,
        "the pages waited for a writer: {:?}",
        held.elapsed()
    );
    std::thread::sleep(hold.saturating_sub(held.elapsed()));
    check.execute_batch("COMMIT").unwrap();
    let (status, took) = triage.join().unwrap();
    assert_eq!(status, 303, "the mark waits for the check, then lands");
    assert!(took >= hold / 2, "the mark did not wait: {took:?}");
    assert_eq!(
        gw.changes().into_iter().find(|e| e["id"] == changed).unwrap()["important"],
        true
    );
}

const PASSWORD: &str = "correct horse battery";

#[test]
fn off_loopback_the_pages_need_a_login() {
    // A password hashed by the command the README tells people to use.
    let mut hasher = Govwatch::new("").command_with(&["hash-password"]);
    let mut child = hasher
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");

    // Not loopback and nobody to log in: refused at start, naming the key.
    let port = free_port();
    let open = Govwatch::new(&format!(
        "[http]\nlisten = \"0.0.0.0:{port}\"\n\n[[watch]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n"
    ));
    for cmd in ["serve", "run"] {
        let out = open.run(&[cmd]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("`http.user`"), "{cmd}: {err}");
    }

    // The daemon itself serves the pages, behind the login; /healthz stays open.
    let (_site, gw) = checked_site(&format!(
        "[http]\nlisten = \"0.0.0.0:{port}\"\npublic_url = \"https://gw.example.org/\"\n\n\
         [[http.user]]\nname = \"ana\"\npassword_hash = \"{hash}\"\n"
    ));
    let addr = format!("127.0.0.1:{port}");
    let _server = Server::start(gw.command_with(&["run"]), &addr);
    let r = get(&addr, "/healthz");
    assert!(r.status == 200 || r.status == 503, "{}", r.status);
    let r = get(&addr, "/event/1");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=%2Fevent%2F1"));
    let r = request(
        &addr,
        "POST",
        "/event/1/triage",
        None,
        Some(&[("action", "reviewed")]),
    );
    assert_eq!(r.status, 403);

    let form = page_ok(&addr, "/login?next=/event/1");
    let csrf = hidden(&form, "csrf");
    let login = |name: &str, password: &str, token: &str| {
        request(
            &addr,
            "POST",
            "/login",
            None,
            Some(&[
                ("name", name),
                ("password", password),
                ("next", "/event/1"),
                ("csrf", token),
            ]),
        )
    };
    // Without the form's token: refused before the password is looked at.
    assert_eq!(login("ana", PASSWORD, "").status, 403);
    // Wrong passwords, then an unknown name: refused; after three, even the right one waits.
    for (name, pw) in [("ana", "guess"), ("ana", "guess2"), ("bob", PASSWORD)] {
        let r = login(name, pw, &csrf);
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("Wrong name or password"), "{}", r.body);
        assert!(r.header("set-cookie").is_none());
    }
    let r = login("ana", PASSWORD, &csrf);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    std::thread::sleep(Duration::from_millis(1100));
    let r = login("ana", PASSWORD, &csrf);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/event/1"));
    let cookie = r.header("set-cookie").unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();

    // Logged in: the pages, and a triage form with the session's own token.
    let home = request(&addr, "GET", "/", Some(&session), None);
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("ana") && home.body.contains("Log out"),
        "{}",
        home.body
    );
    let ev = request(&addr, "GET", "/event/1", Some(&session), None);
    let token = hidden(&ev.body, "csrf");
    assert_ne!(token, csrf, "a session has a token of its own");
    let triage = |t: &str| {
        request(
            &addr,
            "POST",
            "/event/1/triage",
            Some(&session),
            Some(&[("csrf", t), ("action", "important")]),
        )
    };
    assert_eq!(
        triage(&csrf).status,
        403,
        "the anonymous token is not this session's"
    );
    assert_eq!(triage(&token).status, 303);
    assert_eq!(
        gw.changes().into_iter().find(|e| e["id"] == 1).unwrap()["important"],
        true
    );
    // Mails and the feed link to the event pages under public_url (see the feed).
    let feed = gw.ok(&["feed"]);
    assert!(feed.contains("https://gw.example.org/event/"), "{feed}");

    // Logging out ends the session.
    let r = request(
        &addr,
        "POST",
        "/logout",
        Some(&session),
        Some(&[("csrf", &token)]),
    );
    assert_eq!(r.status, 303);
    assert_eq!(request(&addr, "GET", "/", Some(&session), None).status, 303);
}

/// The headless Chromium to test with: `$CHROMIUM`, or the first of Debian's and Google's names
/// found on the PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(c) = std::env::var_os("CHROMIUM") {
        return Some(c.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=…`); its stdout.
fn browse(chrome: &std::path::Path, url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A headless Chromium driven over its DevTools protocol (a WebSocket on loopback), for what
/// `--dump-dom` cannot do: type into a form and press Enter as a person would, then read the
/// DOM of the page that follows.
type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

struct Browser {
    child: Child,
    ws: Socket,
    next_id: u64,
    /// Events received while waiting for something else.
    events: Vec<serde_json::Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(chrome: &std::path::Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(chrome)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1280,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Chromium writes the port it chose, and its browser endpoint, into the profile.
        let active = profile.path().join("DevToolsActivePort");
        let t0 = Instant::now();
        let (port, browser) = loop {
            let written = std::fs::read_to_string(&active).unwrap_or_default();
            let mut lines = written.lines();
            if let (Some(Ok(port)), Some(path)) =
                (lines.next().map(|p| p.trim().parse::<u16>()), lines.next())
            {
                break (port, path.trim().to_string());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "Chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The browser names its tab; the tab has an endpoint of its own.
        let mut ws = Browser::connect(&format!("ws://127.0.0.1:{port}{browser}"));
        let ask = serde_json::json!({ "id": 1, "method": "Target.getTargets" });
        ws.send(tungstenite::Message::text(ask.to_string())).unwrap();
        let targets = loop {
            if let tungstenite::Message::Text(t) = ws.read().unwrap() {
                let m: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if m["id"] == 1 {
                    break m["result"]["targetInfos"].clone();
                }
            }
        };
        let _ = ws.close(None);
        let page = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .unwrap_or_else(|| panic!("no tab: {targets:#}"));
        let url = format!(
            "ws://127.0.0.1:{port}/devtools/page/{}",
            page["targetId"].as_str().unwrap()
        );
        let ws = Browser::connect(&url);
        let mut b = Browser {
            child,
            ws,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        b.call("Page.enable", serde_json::json!({}));
        b
    }

    /// A WebSocket to Chromium whose reads give up after 30 s.
    fn connect(url: &str) -> Socket {
        let (ws, _) = tungstenite::connect(url).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        ws
    }

    fn read(&mut self) -> serde_json::Value {
        loop {
            match self.ws.read().expect("Chromium answers within 30 s") {
                tungstenite::Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                tungstenite::Message::Close(_) => panic!("Chromium closed the connection"),
                _ => continue,
            }
        }
    }

    /// A protocol command and its result; events met meanwhile are kept for [`Browser::wait`].
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = serde_json::json!({ "id": id, "method": method, "params": params });
        self.ws.send(tungstenite::Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.read();
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            self.events.push(m);
        }
    }

    /// Waits for event `method` (one met already counts), and forgets the events before it.
    fn wait(&mut self, method: &str) -> serde_json::Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            let e = self.events[i].clone();
            self.events.drain(..=i);
            return e;
        }
        loop {
            let m = self.read();
            if m["method"] == method {
                self.events.clear();
                return m;
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({ "expression": expression, "returnByValue": true }),
        );
        r["result"]["value"].clone()
    }

    fn navigate(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", serde_json::json!({ "url": url }));
        self.wait("Page.loadEventFired");
    }

    /// Types `text` into the field `selector`, as keystrokes would.
    fn type_into(&mut self, selector: &str, text: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; e.focus(); e.value = ''; return true; }})()"
        ));
        assert_eq!(found, true, "no {selector} in the page");
        self.call("Input.insertText", serde_json::json!({ "text": text }));
    }

    /// Presses Enter in the focused field (which submits its form) and waits for the next page.
    fn press_enter(&mut self) {
        self.events.clear();
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                serde_json::json!({
                    "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13,
                    "text": if kind == "keyDown" { "\r" } else { "" },
                }),
            );
        }
        self.wait("Page.loadEventFired");
    }

    /// The DOM as rendered now.
    fn dom(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_browser_renders_the_pages_without_javascript() {
    let Some(chrome) = chromium() else {
        eprintln!(
            "SKIPPED a_real_browser_renders_the_pages_without_javascript: no chromium on the PATH \
             (apt-get install chromium, or set CHROMIUM); .ci/run installs it"
        );
        return;
    };
    let addr = format!("127.0.0.1:{}", free_port());
    let (site, gw) = checked_site(&format!("[http]\nlisten = \"{addr}\"\n"));
    let republication = event_id(&gw, &site, "republication", "/docs/c.html");
    let _open = Server::start(gw.command_with(&["serve"]), &addr);
    // The same database behind a login, as a second server with a config of its own.
    let login_port = free_port();
    let login_config = gw.dir.path().join("login.toml");
    let hash = govwatch::web::auth::hash_password(PASSWORD).unwrap();
    std::fs::write(
        &login_config,
        format!(
            "[storage]\npath = \"{}\"\n\n[http]\nlisten = \"0.0.0.0:{login_port}\"\n\n[[http.user]]\nname = \"ana\"\n\
             password_hash = \"{hash}\"\n",
            gw.db_path().display()
        ),
    )
    .unwrap();
    let mut login_cmd = Command::new(env!("CARGO_BIN_EXE_govwatch"));
    login_cmd.arg("--config").arg(&login_config).arg("serve");
    let _login = Server::start(login_cmd, &format!("127.0.0.1:{login_port}"));

    let positions = page_ok(&addr, "/watch/positions");
    let doc = links(&positions, "/doc/")[0].clone();
    let base = format!("http://{addr}");
    let diff_url = format!("{base}{doc}/diff?from=1&to=2");
    let search_url = format!("{base}/search?q={}", q("数据跨境流动"));
    let login_url = format!("http://127.0.0.1:{login_port}/event/1");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = |name: &str| format!("--screenshot={}", shots.join(name).display());
    // Each Chromium is a process of its own: run them side by side.
    let jobs: Vec<(String, String, Vec<String>)> = vec![
        ("dom-diff".into(), diff_url.clone(), vec!["--dump-dom".into()]),
        ("dom-search".into(), search_url.clone(), vec!["--dump-dom".into()]),
        ("dom-login".into(), login_url.clone(), vec!["--dump-dom".into()]),
        (
            "overview".into(),
            format!("{base}/"),
            vec![shot("overview.png"), "--window-size=1280,1000".into()],
        ),
        (
            "diff".into(),
            format!("{diff_url}&view=side"),
            vec![shot("diff-side.png"), "--window-size=1280,1000".into()],
        ),
        (
            "event".into(),
            format!("{base}/event/{republication}"),
            vec![shot("event.png"), "--window-size=1280,1000".into()],
        ),
        (
            "search".into(),
            search_url.clone(),
            vec![shot("search.png"), "--window-size=1280,800".into()],
        ),
        (
            "dark-phone".into(),
            diff_url.clone(),
            vec![
                shot("diff-phone-dark.png"),
                "--window-size=390,844".into(),
                "--blink-settings=preferredColorScheme=0".into(),
            ],
        ),
    ];
    let results: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(name, url, args)| {
                let chrome = &chrome;
                s.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    (name.clone(), browse(chrome, url, &args))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let dom = |name: &str| results.iter().find(|(n, _)| n == name).unwrap().1.clone();

    // The diff as the browser built it: word marks, numbered changes, previous/next links.
    let diff = dom("dom-diff");
    assert!(
        diff.contains("<del>") && diff.contains("<ins>") && diff.contains("id=\"c1\""),
        "{diff}"
    );
    assert!(diff.contains("next change"), "{diff}");
    // The search, in Chinese: the match marked in its snippet, the version linked.
    let search = dom("dom-search");
    assert!(search.contains("<mark>数据跨境流动</mark>"), "{search}");
    assert!(search.contains("全球数字治理立场文件"), "{search}");
    // Off loopback the browser lands on the login form, which remembers where it was going.
    let login = dom("dom-login");
    assert!(
        login.contains("type=\"password\"") && login.contains("name=\"csrf\""),
        "{login}"
    );
    assert!(login.contains("value=\"/event/1\""), "{login}");
    for png in [
        "overview.png",
        "diff-side.png",
        "event.png",
        "search.png",
        "diff-phone-dark.png",
    ] {
        let bytes = std::fs::read(shots.join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert!(
            bytes.len() > 5_000 && bytes.starts_with(b"\x89PNG"),
            "{png}: {} bytes",
            bytes.len()
        );
    }

    // Chromium logs in through the form as a person would: sent to it from the page it asked
    // for, it types a name and a wrong password and presses Enter, is refused, types the right
    // one, and lands on the page it was going to, rendered for the logged-in reader.
    let mut b = Browser::start(&chrome);
    let event_path = format!("/event/{republication}");
    b.navigate(&format!("http://127.0.0.1:{login_port}{event_path}"));
    assert_eq!(
        b.eval("location.pathname + location.search"),
        format!("/login?next={}", q(&event_path)).as_str()
    );
    b.type_into("#name", "ana");
    b.type_into("#password", "not the password");
    b.press_enter();
    let refused = b.dom();
    assert!(refused.contains("Wrong name or password"), "{refused}");
    assert!(!refused.contains("Log out"), "{refused}");
    b.type_into("#name", "ana");
    b.type_into("#password", PASSWORD);
    b.press_enter();
    assert_eq!(b.eval("location.pathname"), event_path.as_str());
    let page = b.dom();
    assert!(page.contains("reproducing") && page.contains("<mark>"), "{page}");
    assert!(page.contains("ana") && page.contains("Log out"), "{page}");
    // The session cookie is out of the page's reach (HttpOnly).
    assert_eq!(b.eval("document.cookie"), "");
    // Logged in, its triage form carries the session's own token, not the login form's.
    let token = b.eval("document.querySelector('form[action$=\"/triage\"] input[name=csrf]').value");
    let anonymous = hidden(&page_ok(&format!("127.0.0.1:{login_port}"), "/login"), "csrf");
    assert!(
        token.as_str().is_some_and(|t| t.len() == 64 && t != anonymous),
        "{token}"
    );
    // Another page of the same server, the session kept.
    b.navigate(&format!(
        "http://127.0.0.1:{login_port}/search?q={}",
        q("数据跨境流动")
    ));
    let search = b.dom();
    assert!(
        search.contains("<mark>数据跨境流动</mark>") && search.contains("Log out"),
        "{search}"
    );
    eprintln!("screenshots in {}", shots.display());
}
