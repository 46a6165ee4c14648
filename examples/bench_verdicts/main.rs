//! Verdict accuracy on a labelled set: precision and recall per verdict, printed as a table.
//!
//!     cargo run --release --example bench_verdicts
//!
//! The set is generated from five source documents (the four of `tests/fixtures/corpus/` and the
//! Chinese position text in `tests/fixtures/chrome/zh-body.txt`) and the texts in
//! `bench/verdicts/`: each source republished in other site chrome, wrapped in commentary,
//! partially quoted at 20/40/60%, summarised in new words, revised by one sentence, with a number
//! changed, with a negation added; unrelated articles; and, as versions of one page, a
//! boilerplate-only edit and the three edits above. Pages go through the real extraction, and
//! verdicts through the real corpus index in a SQLite file, as in the pipeline.

mod wcxb;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use govwatch::compare::corpus::{Thresholds, Verdict};
use govwatch::compare::index::Signature;
use govwatch::compare::{self, diff, relevance};
use govwatch::store::Store;

struct Source {
    file: String,
    title: String,
    paragraphs: Vec<String>,
    zh: bool,
}

pub struct Case {
    label: &'static str,
    name: String,
    /// HTML of a page, or plain text.
    html: Option<String>,
    text: Option<String>,
    /// For version cases: the page's previous HTML.
    previous: Option<String>,
    expect: &'static str,
    source: Option<String>,
    relevant: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(root().join(p)).expect("benchmark text")
}

fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(template: &str, title: &str, paras: &[String], counter: u32, related: &[&str]) -> String {
    let body: String = paras.iter().map(|p| format!("<p>{}</p>\n", escape(p))).collect();
    let related: String = related
        .iter()
        .enumerate()
        .map(|(i, t)| format!("<li><a href=\"/r/{i}.html\">{}</a></li>", escape(t)))
        .collect();
    read(format!("tests/fixtures/chrome/{template}"))
        .replace("{{TITLE}}", &escape(title))
        .replace("{{DATE}}", "2023-05-25")
        .replace("{{BODY}}", &body)
        .replace("{{COUNTER}}", &counter.to_string())
        .replace("{{RELATED}}", &related)
        .replace("{{YEAR}}", "2026")
}

/// Sentences of a paragraph list, with their paragraph index.
fn sentence_at(paras: &[String], pred: impl Fn(&str) -> bool) -> Option<(usize, String)> {
    // Start in the middle: openings and closings are often chrome in the source files.
    let order: Vec<usize> = (paras.len() / 3..paras.len()).chain(0..paras.len() / 3).collect();
    for i in order {
        for s in diff::sentences(&paras[i]) {
            if (s.split_whitespace().count() >= 8 || s.chars().count() >= 20) && pred(&s) {
                return Some((i, s));
            }
        }
    }
    None
}

fn replace_sentence(paras: &[String], i: usize, old: &str, new: &str) -> Vec<String> {
    let mut out = paras.to_vec();
    out[i] = out[i].replacen(old, new, 1);
    out
}

/// The first number in a sentence, changed.
fn bump_number(s: &str) -> Option<String> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let end = start
        + s[start..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.len() - start);
    let n: u64 = s[start..end].parse().ok()?;
    Some(format!("{}{}{}", &s[..start], n + 7, &s[end..]))
}

fn negate(s: &str, zh: bool) -> Option<String> {
    if zh {
        for (a, b) in [
            ("应当", "不应当"),
            ("支持", "不支持"),
            ("要", "不要"),
            ("是", "不是"),
        ] {
            if s.contains(a) {
                return Some(s.replacen(a, b, 1));
            }
        }
        return None;
    }
    for (a, b) in [
        (" should ", " should not "),
        (" will ", " will not "),
        (" is ", " is not "),
        (" are ", " are not "),
        (" has ", " has not "),
    ] {
        if s.contains(a) && !s.contains(b) {
            return Some(s.replacen(a, b, 1));
        }
    }
    None
}

fn sources() -> Vec<Source> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/corpus"))
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("corpus file");
        let mut paras: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let title = paras.remove(0);
        out.push(Source {
            file: f.file_name().expect("name").to_string_lossy().into_owned(),
            title,
            paragraphs: paras,
            zh: false,
        });
    }
    out.push(Source {
        file: "zh-body.txt".into(),
        title: "关于全球数字治理的立场".into(),
        paragraphs: paragraphs(&read("tests/fixtures/chrome/zh-body.txt")),
        zh: true,
    });
    out
}

fn cases(sources: &[Source]) -> Vec<Case> {
    let en = paragraphs(&read("bench/verdicts/commentary-en.txt"));
    let zh = paragraphs(&read("bench/verdicts/commentary-zh.txt"));
    let mut out = Vec::new();
    for (n, s) in sources.iter().enumerate() {
        let commentary = if s.zh { &zh } else { &en };
        let summary_key = if s.zh {
            "zh".to_string()
        } else {
            s.file[..3].to_string()
        };
        let template = if s.zh {
            "zh-article.html"
        } else {
            "news-article.html"
        };
        let own = if s.zh {
            "zh-article.html"
        } else {
            "ministry-article.html"
        };
        let case =
            |label, name: &str, html: Option<String>, text: Option<String>, expect, source: bool| Case {
                label,
                name: format!("{} {name}", s.file),
                html,
                text,
                previous: None,
                expect,
                source: source.then(|| s.file.clone()),
                relevant: true,
            };

        // The same text in other sites' chrome.
        let chromes: &[&str] = if s.zh {
            &["zh-article.html", "zh-article-nometa.html"]
        } else {
            &["news-article.html", "ministry-article.html"]
        };
        for chrome in chromes {
            let name = format!("in {chrome}");
            out.push(case(
                "chrome",
                &name,
                Some(page(chrome, &s.title, &s.paragraphs, 3, &["A teaser"])),
                None,
                "duplicate",
                true,
            ));
        }
        // Wrapped whole in commentary, short or long.
        for (before, after) in [(1, 1), (3, 2), (5, 4)] {
            let mut wrapped: Vec<String> = commentary.iter().take(before).cloned().collect();
            wrapped.extend(s.paragraphs.iter().cloned());
            wrapped.extend(commentary.iter().rev().take(after).cloned());
            let name = format!("in commentary ({before}+{after} paragraphs)");
            out.push(case(
                "republished",
                &name,
                Some(page(template, "Analysis of the paper", &wrapped, 5, &[])),
                None,
                "republication",
                true,
            ));
        }
        // Partly quoted.
        let total: usize = s.paragraphs.iter().map(|p| p.chars().count()).sum();
        for pct in [20usize, 30, 40, 50, 60] {
            let start = (n * 2 + pct / 20) % (s.paragraphs.len() / 3).max(1);
            let mut taken = Vec::new();
            let mut chars = 0;
            for p in s.paragraphs.iter().skip(start) {
                if chars * 100 >= total * pct {
                    break;
                }
                chars += p.chars().count();
                taken.push(p.clone());
            }
            let mut text: Vec<String> = commentary
                .iter()
                .rev()
                .take(commentary.len().min(6))
                .cloned()
                .collect();
            let mid = text.len() / 2;
            for (i, q) in taken.into_iter().enumerate() {
                text.insert(mid + i, q);
            }
            out.push(case(
                "quoted",
                &format!("quoted {pct}%"),
                Some(page(template, "Commentary", &text, 2, &[])),
                None,
                "quotes",
                true,
            ));
        }
        // Retold in new words.
        let summary = read(format!("bench/verdicts/summaries/{summary_key}.txt"));
        out.push(case(
            "summarised",
            "summarised",
            Some(page(template, "Summary", &paragraphs(&summary), 1, &[])),
            None,
            "new",
            false,
        ));

        // Edits, as a new document (revision of the source) and as a new version of one page.
        let edits: Vec<(&str, Vec<String>)> = [
            ("one sentence revised", {
                sentence_at(&s.paragraphs, |_| true).map(|(i, old)| {
                    let new = if s.zh {
                        "各国有权自主选择本国的数字发展道路，任何国家都不应干涉他国内政。".to_string()
                    } else {
                        "Every country has the right to choose its own path of digital development without outside interference.".to_string()
                    };
                    replace_sentence(&s.paragraphs, i, &old, &new)
                })
            }),
            ("a number changed", {
                sentence_at(&s.paragraphs, |x| x.chars().any(|c| c.is_ascii_digit()))
                    .and_then(|(i, old)| bump_number(&old).map(|new| replace_sentence(&s.paragraphs, i, &old, &new)))
            }),
            ("a negation added", {
                sentence_at(&s.paragraphs, |x| negate(x, s.zh).is_some())
                    .and_then(|(i, old)| negate(&old, s.zh).map(|new| replace_sentence(&s.paragraphs, i, &old, &new)))
            }),
        ]
        .into_iter()
        .filter_map(|(name, edited)| edited.map(|e| (name, e)))
        .collect();
        for (name, edited) in &edits {
            out.push(case(
                "revised",
                name,
                Some(page(template, &s.title, edited, 4, &[])),
                None,
                "revision",
                true,
            ));
            let mut v = case(
                "version",
                &format!("page version: {name}"),
                Some(page(own, &s.title, edited, 8, &["Teaser two"])),
                None,
                "changed",
                false,
            );
            v.previous = Some(page(own, &s.title, &s.paragraphs, 7, &["Teaser one"]));
            out.push(v);
        }
        let mut v = case(
            "version",
            "page version: boilerplate only",
            Some(page(own, &s.title, &s.paragraphs, 9_999, &["Other", "Teasers"])),
            None,
            "unchanged",
            false,
        );
        v.previous = Some(page(own, &s.title, &s.paragraphs, 12, &["Teaser one"]));
        out.push(v);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("bench/verdicts/unrelated"))
        .expect("unrelated folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("text");
        let name = f.file_stem().expect("stem").to_string_lossy().into_owned();
        out.push(Case {
            label: "unrelated",
            name: format!("unrelated {name}"),
            html: Some(page("news-article.html", &name, &paragraphs(&text), 1, &[])),
            text: None,
            previous: None,
            expect: "new",
            source: None,
            relevant: false,
        });
    }
    out
}

fn extracted(html: &str) -> String {
    let doc = govwatch::extract::extract(html, None).expect("fixture pages extract");
    compare::normalize(&doc.text())
}

/// What one set scored: per verdict (expected, predicted, right), sources named right, relevance
/// right, and the cases that went wrong.
#[derive(Default)]
struct Scores {
    table: BTreeMap<&'static str, (usize, usize, usize)>,
    sources: (usize, usize),
    relevance: (usize, usize),
    misses: Vec<String>,
    cases: usize,
    elapsed: std::time::Duration,
}

/// The verdict on a text as the pipeline reaches it: candidates, what the store reads besides,
/// then the verdict; with the source named and the share of imported text.
fn judge(store: &Store, text: &str, name: &str) -> (&'static str, Option<String>, f64) {
    let sig = Signature::of(text);
    let cands = store.corpus_candidates(&sig, None).expect("lookup");
    let share = govwatch::store::imported_share(&cands);
    let v = store
        .known(&compare::text_hash(text), &sig, &cands, None)
        .expect("judge")
        .verdict(text, &sig, &cands, Thresholds::default())
        .verdict;
    if std::env::var("BENCH_DUMP").is_ok_and(|d| name.contains(&d)) {
        let _ = std::fs::write("/tmp/bench-dump.txt", text);
    }
    if std::env::var_os("BENCH_DEBUG").is_some() {
        for k in &cands {
            println!(
                "  [{name}] {}: resemblance {:.2}, of known {:.2}, of new {:.2} -> {v:?}",
                k.name,
                k.resemblance,
                k.share_of_known(),
                k.share_of_new(sig.fp_set.len())
            );
        }
    }
    match v {
        Verdict::Duplicate { source, .. } => ("duplicate", Some(source.name), share),
        Verdict::Revision { source, .. } => ("revision", Some(source.name), share),
        Verdict::Republication { source, .. } => ("republication", Some(source.name), share),
        Verdict::Quotes { sources } => ("quotes", sources.first().map(|s| s.0.name.clone()), share),
        Verdict::New => ("new", None, share),
    }
}

/// Scores `cases` against the corpus in `store`; relevance is scored only if `relevance`.
fn score(store: &Store, cases: &[Case], relevance: bool) -> Scores {
    let topics = relevance::Topics::new(true, &[]);
    let mut s = Scores {
        cases: cases.len(),
        ..Scores::default()
    };
    let started = std::time::Instant::now();
    for c in cases {
        let text = c
            .text
            .clone()
            .unwrap_or_else(|| extracted(c.html.as_deref().expect("html or text")));
        let (got, source, corpus_share) = match &c.previous {
            Some(prev) => {
                let old = extracted(prev);
                let change = diff::changes(&old, &text);
                (if change.is_empty() { "unchanged" } else { "changed" }, None, 0.0)
            }
            None => judge(store, &text, &c.name),
        };
        s.table.entry(c.expect).or_default().0 += 1;
        s.table.entry(got).or_default().1 += 1;
        if got == c.expect {
            s.table.entry(got).or_default().2 += 1;
        } else {
            s.misses.push(format!(
                "  {:<40} ({}) expected {:<13} got {got}",
                c.name, c.label, c.expect
            ));
        }
        if let Some(want) = &c.source {
            s.sources.1 += 1;
            if source.as_ref() == Some(want) {
                s.sources.0 += 1;
            }
        }
        if relevance && c.previous.is_none() {
            s.relevance.1 += 1;
            let r = relevance::score(&text, &topics, corpus_share);
            if r.relevant == c.relevant {
                s.relevance.0 += 1;
            } else {
                s.misses.push(format!(
                    "  {:<40} relevance expected {} got {}",
                    c.name, c.relevant, r.relevant
                ));
            }
        }
    }
    s.elapsed = started.elapsed();
    s
}

fn print(title: &str, s: &Scores) {
    println!(
        "{title}: {} labelled cases, {:.1} ms per case",
        s.cases,
        s.elapsed.as_secs_f64() * 1000.0 / s.cases.max(1) as f64
    );
    println!();
    println!(
        "{:<14} {:>8} {:>10} {:>10} {:>10}",
        "verdict", "cases", "predicted", "precision", "recall"
    );
    let mut worst: f64 = 1.0;
    for (label, (n, pred, tp)) in &s.table {
        let precision = if *pred == 0 {
            1.0
        } else {
            *tp as f64 / *pred as f64
        };
        let recall = if *n == 0 { 1.0 } else { *tp as f64 / *n as f64 };
        worst = worst.min(precision).min(recall);
        println!("{label:<14} {n:>8} {pred:>10} {precision:>10.3} {recall:>10.3}");
    }
    println!();
    println!("source named correctly: {}/{}", s.sources.0, s.sources.1);
    if s.relevance.1 > 0 {
        println!(
            "relevance correct:      {}/{} (relevant: every case derived from a source; not relevant: unrelated articles)",
            s.relevance.0, s.relevance.1
        );
    }
    println!("lowest precision or recall: {worst:.3}");
    if !s.misses.is_empty() {
        println!("\nmisses:");
        for m in &s.misses {
            println!("{m}");
        }
    }
    println!();
}

/// A fresh store in `dir` with `files` (name, text) imported as the corpus.
fn store_with(dir: &Path, db: &str, files: &[(String, String)]) -> Store {
    let mut store = Store::open(&dir.join(db)).expect("database");
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, text)| {
            let p = dir.join(name);
            std::fs::write(&p, text).expect("write source");
            p
        })
        .collect();
    govwatch::corpus_import::import(
        &mut store,
        &paths,
        govwatch::model::Clock::now(&govwatch::model::SystemClock),
    )
    .expect("import");
    store
}

fn main() {
    let dir = std::env::temp_dir().join(format!("govwatch-bench-verdicts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");

    let sources = sources();
    let files: Vec<(String, String)> = sources
        .iter()
        .map(|s| {
            (
                s.file.clone(),
                format!("{}\n\n{}", s.title, s.paragraphs.join("\n\n")),
            )
        })
        .collect();
    let store = store_with(&dir, "fixtures.db", &files);
    let fixture = score(&store, &cases(&sources), true);
    print(
        &format!(
            "Fixture set ({} sources; the thresholds were set on it)",
            sources.len()
        ),
        &fixture,
    );

    let Some(articles) = wcxb::articles() else {
        println!("WCXB articles not found at {}: held-out set skipped", wcxb::TRUTH);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    for part in [wcxb::Part::Tune, wcxb::Part::HeldOut] {
        let set = wcxb::Set::of(&articles, part);
        let sub = dir.join(part.name());
        std::fs::create_dir_all(&sub).expect("temp dir");
        let store = store_with(&sub, "wcxb.db", &set.corpus());
        let scores = score(&store, &set.cases(), false);
        print(&set.describe(), &scores);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
