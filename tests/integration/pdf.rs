//! PDFs as documents, against a real site and a real SMTP server on loopback, with the PDFs of
//! tests/fixtures/pdf (made by Chromium, LibreOffice and reportlab: scripts/make-pdf-fixtures):
//! a listing's PDFs are found, read (English and Chinese) and mailed like pages; an edited PDF is
//! a `changed` event; a news page pasting a PDF is its republication; a scanned, encrypted or
//! truncated PDF, an HTML page where a PDF was expected, and hostile PDFs each fail with their
//! reason, told once; a PDF served as application/octet-stream or from a URL without an
//! extension is read.

use crate::common;

use common::*;

fn pdf(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("pdf").join(name)).unwrap()
}

fn served_pdf(name: &str) -> Resp {
    Resp::text("application/pdf", pdf(name))
}

/// The paragraphs a fixture was made from (its .txt, after the title line).
fn source_paragraphs(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join("pdf").join(name)).unwrap();
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn mail_config(smtp: &Smtp, extra: &str) -> String {
    format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n\
         smtp_url = \"{}\"\ntimeout = \"3s\"\n\n{extra}",
        smtp.url()
    )
}

fn watch(name: &str, url: &str, kind: &str) -> String {
    format!("[[watch]]\nname = \"{name}\"\nurl = \"{url}\"\nkind = \"{kind}\"\n\n")
}

/// `status --json`'s row for `url`.
fn status_of(gw: &Govwatch, url: &str) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = serde_json::from_str(&gw.ok(&["status", "--json"])).unwrap();
    rows.into_iter()
        .find(|r| r["url"] == url)
        .unwrap_or_else(|| panic!("no status for {url}"))
}

#[test]
fn a_listing_linking_an_english_pdf_a_chinese_pdf_and_a_page_finds_and_mails_all_three() {
    let (site, smtp) = (Site::start(), Smtp::start());
    let gw = Govwatch::new(&mail_config(&smtp, &watch("mfa", &site.url("/docs/"), "index")));
    site.set("/docs/", Resp::html(index("ministry-index.html", &[], 1)));
    gw.ok(&["check", "--all"]);

    site.set("/docs/position-paper.pdf", served_pdf("paper-v1.pdf"));
    // The Chinese paper set in STSong-Light, a font that is not embedded.
    site.set("/docs/zh-position.pdf", served_pdf("zh-stsong.pdf"));
    let (t3, p3) = corpus_doc("003");
    site.set(
        "/docs/governance.html",
        Resp::html(page("ministry-article.html", &t3, "2023-03-17", &p3, 1, &[])),
    );
    let links = [
        (
            "/docs/position-paper.pdf",
            "Position Paper on Data Governance (PDF)",
        ),
        ("/docs/zh-position.pdf", "中国关于全球数字治理的立场（PDF）"),
        ("/docs/governance.html", t3.as_str()),
    ];
    site.set("/docs/", Resp::html(index("ministry-index.html", &links, 2)));
    let out = gw.ok(&["check", "--all"]);
    assert!(
        out.contains("3 new documents") && out.contains("0 failed"),
        "{out}"
    );

    let events = gw.changes();
    assert_eq!(events.len(), 3, "{events:#?}");
    let by_url = |p: &str| {
        events
            .iter()
            .find(|e| e["url"] == site.url(p))
            .unwrap_or_else(|| panic!("no event for {p}: {events:#?}"))
    };
    let en = by_url("/docs/position-paper.pdf");
    assert_eq!(en["kind"], "new", "{en:#?}");
    assert_eq!(en["title"], "Position Paper on Data Governance", "{en:#?}");
    let zh = by_url("/docs/zh-position.pdf");
    assert_eq!(zh["kind"], "new", "{zh:#?}");
    // The title from the first heading (reportlab's metadata says "(anonymous)").
    assert_eq!(zh["title"], "中国关于全球数字治理的立场", "{zh:#?}");
    assert_eq!(by_url("/docs/governance.html")["kind"], "new");

    // The stored texts read as the papers do: paragraphs whole, no running heads, no page
    // numbers, no spaces inside Chinese, no unmapped glyphs.
    let zh_text = gw.ok(&["show", &site.url("/docs/zh-position.pdf")]);
    assert!(
        zh_text.contains(
            "当前，新一轮科技革命和产业变革深入推进，数字技术加速融入经济社会发展各领域和全过程，深刻改变着"
        ),
        "{zh_text}"
    );
    assert!(
        !zh_text.contains("第 1 页") && !zh_text.contains('\u{FFFD}'),
        "{zh_text}"
    );
    let en_text = gw.ok(&["show", &site.url("/docs/position-paper.pdf")]);
    for para in source_paragraphs("paper-v1.txt") {
        assert!(en_text.contains(&para), "{para}\n---\n{en_text}");
    }
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "one digest");
    let text = mail_text(&mails[0].data);
    assert!(text.contains("Position Paper on Data Governance"), "{text}");
    assert!(text.contains("中国关于全球数字治理的立场"), "{text}");
    assert!(!text.contains('\u{FFFD}') && !text.contains("(cid:"), "{text}");
    assert!(!text.contains("第 1 页") && !text.contains("第 2 页"), "{text}");
}

#[test]
fn a_pdf_edited_by_one_clause_is_a_changed_event_with_the_clause() {
    let site = Site::start();
    let gw = Govwatch::new(&watch("paper", &site.url("/paper.pdf"), "page"));
    site.set("/paper.pdf", served_pdf("paper-v1.pdf"));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 baseline"), "{out}");

    // The same text in a PDF made again (a new creation date, other bytes): unchanged.
    site.set("/paper.pdf", served_pdf("paper-v1.pdf"));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 unchanged"), "{out}");

    site.set("/paper.pdf", served_pdf("paper-v2.pdf"));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 changed"), "{out}");
    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e["kind"], "changed");
    let added = e["added"].as_str().unwrap();
    assert!(
        added.contains("all cross-border transfers of personal data shall require prior approval"),
        "{e:#?}"
    );
    // One clause: the rest of the paper is not news.
    assert!(added.len() < 600, "{added}");
}

#[test]
fn a_news_page_pasting_the_pdf_is_a_republication_traced_to_the_pdf() {
    let site = Site::start();
    let gw = Govwatch::new(&watch("docs", &site.url("/docs/"), "index"));
    site.set("/docs/", Resp::html(index("ministry-index.html", &[], 1)));
    gw.ok(&["check", "--all"]);

    site.set("/docs/paper.pdf", served_pdf("paper-v1.pdf"));
    let links = [("/docs/paper.pdf", "Position Paper on Data Governance")];
    site.set("/docs/", Resp::html(index("ministry-index.html", &links, 2)));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 new document"), "{out}");

    // A week later a news site pastes the paper whole, under its own introduction and
    // analysis.
    let (_, analysis) = corpus_doc("004");
    let mut story = vec![
        "The ministry's position paper on data governance, published last week, is reproduced below in full."
            .to_string(),
    ];
    story.extend(source_paragraphs("paper-v1.txt"));
    story.extend(analysis.into_iter().skip(3).take(6));
    site.set(
        "/docs/story.html",
        Resp::html(page(
            "news-article.html",
            "The paper in full",
            "2023-06-01",
            &story,
            1,
            &[],
        )),
    );
    let links = [
        ("/docs/story.html", "The paper in full"),
        ("/docs/paper.pdf", "Position Paper on Data Governance"),
    ];
    site.set("/docs/", Resp::html(index("ministry-index.html", &links, 3)));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("1 new document"), "{out}");

    let events = gw.changes();
    let r = events
        .iter()
        .find(|e| e["url"] == site.url("/docs/story.html"))
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(r["kind"], "republication", "{r:#?}");
    assert_eq!(r["source"], site.url("/docs/paper.pdf"), "{r:#?}");
}

#[test]
fn unreadable_pdfs_and_an_error_page_in_a_pdfs_place_fail_with_their_reason_told_once() {
    let (site, smtp) = (Site::start(), Smtp::start());
    let cases = [
        (
            "scanned",
            "/scanned.pdf",
            served_pdf("scanned.pdf"),
            "unreadable PDF: no text layer",
        ),
        (
            "encrypted",
            "/encrypted.pdf",
            served_pdf("encrypted.pdf"),
            "unreadable PDF: it is encrypted",
        ),
        (
            "truncated",
            "/truncated.pdf",
            served_pdf("truncated.pdf"),
            "damaged PDF: the file ends before",
        ),
        // The site's CMS serves its front page where the report was.
        (
            "error-page",
            "/report.pdf",
            Resp::html(index("ministry-index.html", &[], 1)),
            "expected a PDF (its URL ends in .pdf), got an HTML page",
        ),
    ];
    let mut config = "[schedule]\nfailing_notice_after = \"0s\"\n\n".to_string();
    for (name, path, resp, _) in &cases {
        config.push_str(&watch(name, &site.url(path), "page"));
        site.set(path, resp.clone());
    }
    let gw = Govwatch::new(&mail_config(&smtp, &config));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("4 failed"), "{out}");
    for (_, path, _, why) in &cases {
        let row = status_of(&gw, &site.url(path));
        let error = row["last_error"].as_str().unwrap_or_default();
        assert!(error.starts_with(why), "{path}: {error}");
        // Said once: not wrapped in the names of the stages it went through.
        assert_eq!(error.matches("PDF").count(), 1, "{path}: {error}");
    }
    // The analyst is told once per watch, with the reason; nothing was stored as a version.
    let events = gw.changes();
    assert_eq!(events.len(), 4, "{events:#?}");
    assert!(events.iter().all(|e| e["kind"] == "failing"), "{events:#?}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let text = mail_text(&mails[0].data);
    for (_, _, _, why) in &cases {
        assert!(text.contains(why), "{why}: {text}");
    }
    gw.ok(&["check", "--all"]);
    assert_eq!(gw.changes().len(), 4, "told once");
    assert_eq!(smtp.mails().len(), 1);
    // And a PDF served in their place later is a baseline, as a first good check is.
    site.set("/report.pdf", served_pdf("paper-v1.pdf"));
    let out = gw.ok(&["check", "--all", "error-page"]);
    assert!(out.contains("1 baseline"), "{out}");
}

#[test]
fn a_pdf_served_as_octet_stream_or_without_an_extension_is_read() {
    let site = Site::start();
    site.set(
        "/attachment.aspx",
        Resp::text("application/octet-stream", pdf("zh-chromium.pdf")),
    );
    site.set(
        "/files/position-paper",
        Resp {
            content_type: None,
            ..Resp::html(pdf("en-writer.pdf"))
        },
    );
    let gw = Govwatch::new(&format!(
        "{}{}",
        watch("octet", &site.url("/attachment.aspx?id=7"), "page"),
        watch("bare", &site.url("/files/position-paper"), "page")
    ));
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 baseline") && out.contains("0 failed"), "{out}");
    let zh = gw.ok(&["show", "octet"]);
    assert!(zh.contains("中国关于全球数字治理的立场"), "{zh}");
    let en = gw.ok(&["show", "bare"]);
    assert!(
        en.contains("China's Position on Global Digital Governance"),
        "{en}"
    );
}

#[test]
fn hostile_pdfs_fail_within_the_limits_and_other_watches_keep_their_schedule() {
    let site = Site::start();
    let cases = [
        (
            "many-pages",
            "hostile/many-pages.pdf",
            "PDF longer than pdf.max_pages (500 pages)",
        ),
        ("self-referencing", "hostile/self-referencing.pdf", "damaged PDF"),
        (
            "bomb",
            "hostile/bomb.pdf",
            "reading the PDF took longer than pdf.timeout (3s)",
        ),
    ];
    let mut config = "[pdf]\ntimeout = \"3s\"\nmax_pages = 500\nmax_memory_mib = 512\n\n".to_string();
    for (name, file, _) in &cases {
        let path = format!("/{name}.pdf");
        site.set(&path, served_pdf(file));
        config.push_str(&watch(name, &site.url(&path), "page"));
    }
    site.set("/paper.pdf", served_pdf("paper-v1.pdf"));
    config.push_str(&watch("paper", &site.url("/paper.pdf"), "page"));
    let gw = Govwatch::new(&config);
    let started = std::time::Instant::now();
    let out = gw.ok(&["check", "--all"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "{out}");
    assert!(out.contains("1 baseline") && out.contains("3 failed"), "{out}");
    for (name, _, why) in &cases {
        let row = status_of(&gw, &site.url(&format!("/{name}.pdf")));
        let error = row["last_error"].as_str().unwrap_or_default();
        assert!(error.starts_with(why), "{name}: {error}");
    }
    // The good paper is stored and due again on its own schedule; the hostile ones back off.
    let paper = status_of(&gw, &site.url("/paper.pdf"));
    assert!(paper["last_error"].is_null(), "{paper:#?}");
    assert_eq!(paper["failures_in_a_row"], 0);
    let hist = gw.ok(&["show", "paper"]);
    assert!(hist.contains("Position Paper on Data Governance"), "{hist}");
}
