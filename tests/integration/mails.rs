//! Mails that say what and where (issue 14), end to end: the govwatch binary against a real web
//! site and a real SMTP server on loopback, on China's position paper as the foreign ministry
//! published it (the corpus text, with its section headings as headings): stories headed by the
//! source document's title, each change under its section heading, a new paper's strongest
//! statements first, a subject per change, times in the recipient's zone, and the feed's word
//! runs.

use crate::common;

use common::*;

const CLAUSE: &str = "ensure free flow of data in an orderly manner and in accordance with the law";
const REWRITTEN: &str =
    "ensure orderly flow of data in accordance with the law and the requirements of national security";

/// The paper with its data clause rewritten (in "3. Protect data").
fn rewritten(paras: &[String]) -> Vec<String> {
    let mut out = paras.to_vec();
    let i = out
        .iter()
        .position(|p| p.contains(CLAUSE))
        .expect("the data clause");
    out[i] = out[i].replace(CLAUSE, REWRITTEN);
    out
}

fn mail_config(smtp: &Smtp, rest: &str) -> String {
    format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n\n{rest}",
        smtp.url()
    )
}

fn page_watch(site: &Site) -> String {
    format!(
        "[[watch]]\nname = \"positions\"\nurl = \"{}\"\nkind = \"page\"\nevery = \"1h\"\n",
        site.url("/eng/positions.html")
    )
}

/// The text part's lines from `start` on, trimmed, blank ones dropped.
fn lines_after<'a>(text: &'a str, start: &str) -> Vec<&'a str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .skip_while(|l| *l != start)
        .collect()
}

#[test]
fn a_republication_story_is_headed_by_the_papers_title_not_its_url() {
    let site = Site::start();
    let smtp = Smtp::start();
    let gw = Govwatch::new(&mail_config(
        &smtp,
        &format!(
            "[[watch]]\nname = \"docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
            site.url("/docs/")
        ),
    ));
    let (title, paras) = paper();
    site.set("/docs/paper.html", Resp::html(paper_page(&title, &paras)));
    let first = [("/docs/paper.html", title.as_str())];
    site.set("/docs/", Resp::html(index("ministry-index.html", &first, 1)));
    gw.ok(&["check", "--all"]);
    assert!(gw.changes().is_empty());

    // A news analysis pastes the paper whole inside commentary of its own.
    let (t0, p0) = corpus_doc("000");
    let republished: Vec<String> = p0.iter().cloned().chain(paras.iter().cloned()).collect();
    site.set(
        "/docs/analysis.html",
        Resp::html(page("news-article.html", &t0, "2023-05-30", &republished, 1, &[])),
    );
    let second = [
        ("/docs/analysis.html", t0.as_str()),
        ("/docs/paper.html", title.as_str()),
    ];
    site.set("/docs/", Resp::html(index("ministry-index.html", &second, 2)));
    gw.ok(&["check", "--all"]);

    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["kind"], "republication", "{events:#?}");
    assert_eq!(events[0]["source"], site.url("/docs/paper.html"));
    // The page's title as extracted (typographic quotes made plain).
    let title = title.replace('’', "'");
    assert_eq!(events[0]["source_title"], title.as_str());

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let text = mail_part(&mails[0].data, false);
    let heading = format!("== Story of {title}");
    assert!(text.lines().any(|l| l.trim_end() == heading), "{text}");
    assert!(!text.contains("== Story of http"), "{text}");
    assert!(
        text.contains(&format!("of {title}")),
        "the relation names the paper: {text}"
    );
    let html = mail_part(&mails[0].data, true);
    assert!(html.contains("Story of <strong>China"), "{html}");
}

#[test]
fn a_changed_clause_is_shown_under_its_section_heading() {
    let site = Site::start();
    let smtp = Smtp::start();
    let gw = Govwatch::new(&mail_config(&smtp, &page_watch(&site)));
    let (title, paras) = paper();
    site.set("/eng/positions.html", Resp::html(paper_page(&title, &paras)));
    gw.ok(&["check", "--all"]);

    // The data clause is rewritten, and section 7 is renamed with its first paragraph dropped:
    // what was removed stood under the old name, which only the stored page still has.
    let mut edited = rewritten(&paras);
    let seven = edited.iter().position(|p| p == "7.Digital public goods").unwrap();
    edited[seven] = "7. Digital public goods and open data".into();
    let dropped = edited.remove(seven + 1);
    assert!(
        dropped.starts_with("The principle of national sovereignty"),
        "{dropped}"
    );
    site.set("/eng/positions.html", Resp::html(paper_page(&title, &edited)));
    gw.ok(&["check", "--all"]);

    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    let st = &events[0]["details"]["statements"];
    let altered = st["altered"].as_array().unwrap();
    let clause = altered
        .iter()
        .find(|a| a["before"].as_str().unwrap().contains(CLAUSE))
        .unwrap_or_else(|| panic!("{st:#?}"));
    assert_eq!(clause["heading"], "3. Protect data", "{clause:#?}");
    let renamed = altered
        .iter()
        .find(|a| a["after"] == "7. Digital public goods and open data")
        .unwrap_or_else(|| panic!("{st:#?}"));
    assert_eq!(renamed["heading"], "7. Digital public goods and open data");
    let removed = st["removed"].as_array().unwrap();
    let sovereignty = removed
        .iter()
        .find(|r| {
            r["text"]
                .as_str()
                .unwrap()
                .starts_with("The principle of national sovereignty")
        })
        .unwrap_or_else(|| panic!("{st:#?}"));
    assert_eq!(
        sovereignty["heading"], "7.Digital public goods",
        "{sovereignty:#?}"
    );

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let text = mail_part(&mails[0].data, false);
    let after = lines_after(&text, "§ 3. Protect data");
    assert!(
        after.len() > 1 && after[1].contains("[-free-]{+orderly+} flow of data"),
        "the clause is not under its heading: {text}"
    );
    let after = lines_after(&text, "§ 7.Digital public goods");
    assert!(
        after.len() > 1 && after[1].contains("- The principle of national sovereignty"),
        "the removed sentence is not under its old heading: {text}"
    );
    let html = mail_part(&mails[0].data, true);
    let h = html.find("§ 3. Protect data").expect("the heading in HTML");
    assert!(html[h..].find("orderly").is_some(), "{html}");
}

#[test]
fn a_new_paper_leads_with_its_data_sovereignty_clauses_not_its_preamble() {
    let site = Site::start();
    let smtp = Smtp::start();
    // An analyst who follows data sovereignty, besides the built-in lexicon.
    let gw = Govwatch::new(&mail_config(
        &smtp,
        &format!(
            "[topics]\nterms = [\"data sovereignty\", \"sovereignty\", \"jurisdiction\"]\n\n[[watch]]\nname = \"docs\"\nurl = \"{}\"\nkind = \"index\"\nevery = \"1h\"\n",
            site.url("/docs/")
        ),
    ));
    site.set("/docs/", Resp::html(index("ministry-index.html", &[], 1)));
    gw.ok(&["check", "--all"]);

    let (title, paras) = paper();
    site.set("/docs/paper.html", Resp::html(paper_page(&title, &paras)));
    site.set(
        "/docs/",
        Resp::html(index(
            "ministry-index.html",
            &[("/docs/paper.html", title.as_str())],
            2,
        )),
    );
    gw.ok(&["check", "--all"]);
    let events = gw.changes();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["kind"], "new");

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let text = mail_part(&mails[0].data, false);
    // The preamble's position statement: the paper's first.
    let preamble = "all parties should uphold multilateralism";
    assert!(paras.iter().any(|p| p.contains(preamble)));
    let clause = "States should respect the sovereignty, jurisdiction and governance of data of other States";
    let at = text
        .find(clause)
        .unwrap_or_else(|| panic!("the clause is not shown: {text}"));
    assert!(
        text.find(preamble).is_none_or(|p| at < p),
        "the preamble comes first: {text}"
    );
    // It is shown under its section.
    let above = &text[..at];
    assert!(
        above
            .rfind("§ ")
            .is_some_and(|s| above[s..].starts_with("§ 3. Protect data")),
        "{text}"
    );
    let added = events[0]["details"]["statements"]["added"].as_array().unwrap();
    assert!(
        !added[0]["text"].as_str().unwrap().contains(preamble),
        "{added:#?}"
    );
}

#[test]
fn three_different_changes_get_three_different_subjects() {
    let site = Site::start();
    let smtp = Smtp::start();
    let gw = Govwatch::new(&mail_config(&smtp, &page_watch(&site)));
    let (title, paras) = paper();
    site.set("/eng/positions.html", Resp::html(paper_page(&title, &paras)));
    gw.ok(&["check", "--all"]);

    // One clause rewritten; then a sentence added to the AI section; then one removed from
    // the human-rights section.
    let one = rewritten(&paras);
    let mut two = one.clone();
    let ai = two
        .iter()
        .position(|p| p.starts_with("6.Promote regulation"))
        .unwrap();
    two.insert(
        ai + 1,
        "States shall jointly oppose the use of AI for mass surveillance of other States.".into(),
    );
    let mut three = two.clone();
    let rights = three
        .iter()
        .position(|p| p.starts_with("States should respect the rights and fundamental freedoms"))
        .unwrap();
    three.remove(rights);
    for version in [&one, &two, &three] {
        site.set("/eng/positions.html", Resp::html(paper_page(&title, version)));
        gw.ok(&["check", "--all"]);
    }
    assert_eq!(gw.changes().len(), 3);

    let subjects: Vec<String> = smtp
        .mails()
        .iter()
        .map(|m| mail_header(&m.data, "Subject").unwrap())
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:#?}");
    let title = title.replace('’', "'");
    for s in &subjects {
        assert!(s.starts_with(&format!("[govwatch] Changed: {title} (")), "{s}");
    }
    let mut distinct = subjects.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{subjects:#?}");
    assert!(subjects[0].contains("“free” → “orderly”"), "{subjects:#?}");
    assert!(subjects[1].contains("+1 statement"), "{subjects:#?}");
    assert!(
        subjects[2].contains("(−3 statements): −“States should respect the rights"),
        "{subjects:#?}"
    );
}

#[test]
fn a_recipient_in_shanghai_reads_times_at_plus_eight_and_the_simple_form_reads_utc() {
    let site = Site::start();
    let smtp = Smtp::start();
    let gw = Govwatch::new(&mail_config(
        &smtp,
        &format!(
            "{}\n[[recipient]]\naddress = \"desk@example.cn\"\ntimezone = \"Asia/Shanghai\"\n",
            page_watch(&site)
        ),
    ));
    let (title, paras) = paper();
    site.set("/eng/positions.html", Resp::html(paper_page(&title, &paras)));
    gw.ok(&["check", "--all"]);
    site.set(
        "/eng/positions.html",
        Resp::html(paper_page(&title, &rewritten(&paras))),
    );
    gw.ok(&["check", "--all"]);

    let events = gw.changes();
    assert_eq!(events.len(), 1);
    let found = chrono::DateTime::parse_from_rfc3339(events[0]["detected_at"].as_str().unwrap()).unwrap();
    let shanghai = found.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    let to = |who: &str| {
        mails
            .iter()
            .find(|m| m.to.iter().any(|t| t.contains(who)))
            .unwrap_or_else(|| panic!("no mail to {who}"))
    };
    let desk = mail_part(&to("desk@").data, false);
    let local = format!("found {} CST (+08:00)", shanghai.format("%Y-%m-%d %H:%M"));
    assert!(desk.contains(&local), "{local} not in {desk}");
    let desk_html = mail_part(&to("desk@").data, true);
    assert!(
        desk_html.contains(&format!(
            "datetime=\"{}\"",
            shanghai.format("%Y-%m-%dT%H:%M:%S+08:00")
        )),
        "{desk_html}"
    );
    let analyst = mail_part(&to("analyst@").data, false);
    assert!(
        analyst.contains(&format!("found {} UTC", found.format("%Y-%m-%d %H:%M"))),
        "{analyst}"
    );
    assert!(!analyst.contains("+08:00"), "{analyst}");
}

#[test]
fn the_feed_shows_an_altered_clause_as_deleted_and_inserted_words() {
    let site = Site::start();
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("changes.atom");
    let gw = Govwatch::new(&format!(
        "[feed]\npath = \"{}\"\n\n{}",
        feed.display(),
        page_watch(&site)
    ));
    let (title, paras) = paper();
    site.set("/eng/positions.html", Resp::html(paper_page(&title, &paras)));
    gw.ok(&["check", "--all"]);
    site.set(
        "/eng/positions.html",
        Resp::html(paper_page(&title, &rewritten(&paras))),
    );
    gw.ok(&["check", "--all"]);

    let xml = std::fs::read_to_string(&feed).unwrap();
    // Well-formed: a real XML reader reads it to the end.
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut dels, mut inss) = (Vec::new(), Vec::new());
    // The element read (`del` or `ins`) and its text so far.
    let mut inside: Option<(String, String)> = None;
    loop {
        use quick_xml::events::Event;
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if name == "del" || name == "ins" {
                    inside = Some((name, String::new()));
                }
            }
            Event::Text(t) => {
                if let Some((_, text)) = &mut inside {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, text)) = &mut inside {
                    let name = r.xml10_content();
                    text.push_str(&quick_xml::escape::unescape(&format!("&{name};")).unwrap());
                }
            }
            Event::End(_) => match inside.take() {
                Some((name, text)) if name == "del" => dels.push(text),
                Some((_, text)) => inss.push(text),
                None => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(dels.contains(&"free".to_string()), "{dels:?} in {xml}");
    assert!(inss.contains(&"orderly".to_string()), "{inss:?} in {xml}");
    assert!(
        inss.iter()
            .any(|i| i.contains("the requirements of national security")),
        "{inss:?}"
    );
    assert!(xml.contains("§ 3. Protect data"), "{xml}");
}
