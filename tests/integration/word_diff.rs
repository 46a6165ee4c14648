//! Word diffs that align (issue 14): a clause of a watched paper rewritten, in English and in
//! Chinese, checked with the real binary against a loopback site and a loopback SMTP server.
//! `changes --json` must carry each altered statement's `before`, `after` and `[op, text]` runs
//! that join back to both sentences, and the mail must show the same runs as `<del>`/`<ins>`.

use crate::common;

use common::*;

const EN_OLD: &str = "ensure free flow of data in an orderly manner and in accordance with the law";
const EN_NEW: &str =
    "ensure orderly flow of data in accordance with the law and the requirements of national security";
const ZH_OLD: &str = "在依法保障安全的前提下促进数据跨境流动";
const ZH_NEW: &str = "在依法保障安全的前提下促进数据出境有序流动";

fn config(site: &Site, smtp: &Smtp) -> String {
    format!(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\nsmtp_url = \"{}\"\n\n\
         [[watch]]\nname = \"positions\"\nurl = \"{}\"\nkind = \"page\"\nevery = \"1h\"\n\n\
         [[watch]]\nname = \"zh\"\nurl = \"{}\"\nkind = \"page\"\nevery = \"1h\"\n",
        smtp.url(),
        site.url("/eng/positions.html"),
        site.url("/zh/positions.html"),
    )
}

fn pages(site: &Site, en: &[String], zh: &[String]) {
    let (title, _) = corpus_doc("001");
    site.set(
        "/eng/positions.html",
        Resp::html(page("ministry-article.html", &title, "2023-05-25", en, 1, &[])),
    );
    site.set(
        "/zh/positions.html",
        Resp::html(page(
            "zh-article.html",
            "全球数字治理立场文件",
            "2023-06-01",
            zh,
            1,
            &[],
        )),
    );
}

/// The `=`/`-` and `=`/`+` joins of a `words` list.
fn joins(words: &serde_json::Value) -> (String, String) {
    let (mut before, mut after) = (String::new(), String::new());
    for run in words.as_array().expect("words is a list") {
        let (op, text) = (run[0].as_str().unwrap(), run[1].as_str().unwrap());
        match op {
            "=" => {
                before.push_str(text);
                after.push_str(text);
            }
            "-" => before.push_str(text),
            "+" => after.push_str(text),
            other => panic!("op {other:?}"),
        }
    }
    (before, after)
}

/// The runs that change something, as `(op, text)`.
fn changed_runs(words: &serde_json::Value) -> Vec<(String, String)> {
    words
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[0] != "=")
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
        .collect()
}

#[test]
fn a_rewritten_clause_is_mailed_and_listed_as_aligned_phrases() {
    let site = Site::start();
    let smtp = Smtp::start();
    let gw = Govwatch::new(&config(&site, &smtp));
    let (_, en) = corpus_doc("001");
    let zh: Vec<String> = std::fs::read_to_string(fixtures().join("chrome/zh-body.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(en.iter().any(|p| p.contains(EN_OLD)));
    assert!(zh.iter().any(|p| p.contains(ZH_OLD)));
    pages(&site, &en, &zh);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 baseline"), "{out}");

    let en2: Vec<String> = en.iter().map(|p| p.replace(EN_OLD, EN_NEW)).collect();
    let zh2: Vec<String> = zh.iter().map(|p| p.replace(ZH_OLD, ZH_NEW)).collect();
    pages(&site, &en2, &zh2);
    let out = gw.ok(&["check", "--all"]);
    assert!(out.contains("2 changed"), "{out}");

    let events = gw.changes();
    assert_eq!(events.len(), 2, "{events:#?}");
    let altered = |watch: &str| -> serde_json::Value {
        let e = events.iter().find(|e| e["watch"] == watch).expect("an event");
        let altered = e["details"]["statements"]["altered"].as_array().unwrap();
        assert_eq!(altered.len(), 1, "{e:#?}");
        altered[0].clone()
    };

    // English: one replaced word, one dropped phrase, one added phrase, not words paired off.
    let a = altered("positions");
    let before = a["before"].as_str().unwrap();
    let after = a["after"].as_str().unwrap();
    assert!(before.contains(EN_OLD) && after.contains(EN_NEW), "{a:#?}");
    assert_eq!(joins(&a["words"]), (before.to_string(), after.to_string()));
    assert_eq!(
        changed_runs(&a["words"]),
        [
            ("-".to_string(), "free".to_string()),
            ("+".into(), "orderly".into()),
            ("-".into(), "an orderly manner and in ".into()),
            ("+".into(), " and the requirements of national security".into()),
        ],
        "{a:#?}"
    );

    // Chinese: aligned by character, the edit is the two characters and the one added word.
    let z = altered("zh");
    assert_eq!(
        joins(&z["words"]),
        (
            z["before"].as_str().unwrap().to_string(),
            z["after"].as_str().unwrap().to_string()
        )
    );
    assert_eq!(
        changed_runs(&z["words"]),
        [
            ("-".to_string(), "跨".to_string()),
            ("+".into(), "出".into()),
            ("+".into(), "有序".into()),
        ],
        "{z:#?}"
    );

    // The mail shows the same runs: struck and highlighted in HTML, marked in text.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "one digest");
    let html = mail_part(&mails[0].data, true);
    let del = |t: &str| format!(">{t}</del>");
    let ins = |t: &str| format!(">{t}</ins>");
    for piece in [
        del("free"),
        ins("orderly"),
        del("an orderly manner and in "),
        ins(" and the requirements of national security"),
        del("跨"),
        ins("出"),
        ins("有序"),
    ] {
        assert!(html.contains(&piece), "{piece} not in {html}");
    }
    // Those and no others: 2 + 1 removed, 2 + 2 added, and the legend's example of each.
    assert_eq!(html.matches("</del>").count(), 2 + 1 + 1, "{html}");
    assert_eq!(html.matches("</ins>").count(), 2 + 2 + 1, "{html}");
    let text = mail_text(&mails[0].data);
    assert!(
        text.contains(
            "ensure [-free-]{+orderly+} flow of data in [-an orderly manner and in -]accordance with the \
             law{+ and the requirements of national security+}"
        ),
        "{text}"
    );

    // And the terminal: `changes` and `diff` print the same line.
    let marked = "ensure [-free-]{+orderly+} flow of data in [-an orderly manner and in -]accordance with the law{+ and the requirements of national security+}";
    let listed = gw.ok(&["changes"]);
    assert!(listed.contains(marked), "{listed}");
    assert!(listed.contains("数据[-跨-]{+出+}境{+有序+}流动"), "{listed}");
    let diff = gw.ok(&["diff", "positions"]);
    assert!(diff.contains(marked), "{diff}");
}
