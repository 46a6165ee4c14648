//! A page rewritten whole, judged as the pipeline judges a new version: how the time grows with
//! the page's size, against the all-pairs comparison it replaced, measured in the same run.
//!
//!     scripts/bench-rewrite                        # 0.1, 1 and 10 MB; the old way at 0.1 MB
//!     scripts/bench-rewrite --sizes 0.1,1,15 --old-up-to 1 --old-runs 1
//!
//! Pages are real articles (the public extraction datasets under `shared/bench/extraction/`
//! and `shared/corpus/`) in a ministry site's chrome. The articles are dealt into two piles; a
//! page's first version is made of the first pile's sentences and its second of the other's, so
//! that nearly every sentence is removed or added, as when a site replaces a page's content.
//! Pages larger than a pile repeat it, each round grouped into paragraphs differently.
//!
//! Each size is timed in stages: extraction of the new page, then what the pipeline does with
//! the text (`prepare` and `Finding::changed`): normalising and hashing, the corpus signature,
//! the sentence diff, pairing the removed and added sentences, and relevance. The growth ratio
//! is (time ratio) / (size ratio) from the size before: 1 is linear, 10 at tenfold sizes is
//! quadratic. Times are CPU seconds of the judging thread, medians of `--runs` runs: on a
//! shared machine the wall clock mostly measures the neighbours.

use std::path::{Path, PathBuf};
use std::time::Duration;

use govwatch::compare::diff::{self, TextChange};
use govwatch::compare::index::Signature;
use govwatch::compare::relevance::{self, Topics};
use govwatch::compare::{self, statements};

struct Args {
    sizes: Vec<f64>,
    old_up_to: f64,
    runs: usize,
    old_runs: usize,
    shared: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![0.1, 1.0, 10.0],
        old_up_to: 0.1,
        runs: 3,
        old_runs: 3,
        shared: std::env::var_os("SHARED").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
            PathBuf::from,
        ),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => {
                a.sizes = value
                    .split(',')
                    .map(|s| s.parse().expect("--sizes: megabytes, comma-separated"))
                    .collect()
            }
            "--old-up-to" => a.old_up_to = value.parse().expect("--old-up-to: megabytes"),
            "--runs" => a.runs = value.parse().expect("--runs: a count"),
            // The old way at 1 MB takes minutes a run.
            "--old-runs" => a.old_runs = value.parse().expect("--old-runs: a count"),
            "--shared" => a.shared = PathBuf::from(value),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// The texts of real articles: the datasets' reference texts and the corpus documents.
fn articles(shared: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for set in ["wcxb-dev-articles", "scrapinghub"] {
        let p = shared.join("bench/extraction").join(set).join("truth.jsonl");
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e} (set SHARED or --shared)", p.display()));
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            if let Some(t) = v["text"].as_str() {
                out.push(t.to_string());
            }
        }
    }
    let mut corpus: Vec<PathBuf> = std::fs::read_dir(shared.join("corpus"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    corpus.sort();
    out.extend(corpus.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A page of about `bytes` bytes from a pile of sentences: paragraphs of three to six
/// sentences, grouped differently on each round through the pile.
fn page(template: &str, pile: &[String], bytes: usize) -> String {
    let mut body = String::with_capacity(bytes + 4096);
    let mut round = 0;
    'fill: loop {
        let mut i = 0;
        let mut n = 0usize;
        while i < pile.len() {
            let len = 3 + (n + round) % 4;
            let para: Vec<&str> = pile[i..(i + len).min(pile.len())]
                .iter()
                .map(String::as_str)
                .collect();
            body.push_str("<p>");
            body.push_str(&escape(&para.join(" ")));
            body.push_str("</p>\n");
            i += len;
            n += 1;
            if body.len() + template.len() >= bytes {
                break 'fill;
            }
        }
        round += 1;
    }
    template
        .replace("{{TITLE}}", "Position paper")
        .replace("{{DATE}}", "2023-05-25")
        .replace("{{BODY}}", &body)
        .replace("{{COUNTER}}", "1")
        .replace("{{RELATED}}", "")
        .replace("{{YEAR}}", "2026")
}

/// The text the pipeline stores for a page: its blocks, normalised.
fn text_of(html: &str) -> String {
    let doc = govwatch::extract::extract(html, None).expect("the page extracts");
    let blocks: Vec<String> = doc.blocks.into_iter().map(|b| b.text).collect();
    compare::normalize(&blocks.join("\n\n"))
}

#[derive(Clone, Copy, Default)]
struct Stages {
    extract: Duration,
    hash_sig: Duration,
    diff: Duration,
    pair: Duration,
    rest: Duration,
}

impl Stages {
    /// The judgment: everything after extraction.
    fn judge(&self) -> Duration {
        self.hash_sig + self.diff + self.pair + self.rest
    }
}

/// One judgment of `new_html` against the stored `old` text, stage by stage; `whole` is the
/// old way (whole diff, every pair measured).
fn judge_once(old: &str, new_html: &str, whole: bool, topics: &Topics) -> (Stages, TextChange, usize) {
    let mut s = Stages::default();
    let t = cpu_now();
    let text = text_of(new_html);
    s.extract = t.elapsed();

    let t = cpu_now();
    let hash = compare::text_hash(&text);
    let sig = Signature::of(&text);
    std::hint::black_box((&hash, &sig));
    s.hash_sig = t.elapsed();

    let t = cpu_now();
    let change = if whole {
        diff::changes_whole(old, &text)
    } else {
        diff::changes(old, &text)
    };
    s.diff = t.elapsed();

    let t = cpu_now();
    let st = if whole {
        statements::classify_exhaustive(&change)
    } else {
        statements::classify(&change)
    };
    s.pair = t.elapsed();

    let t = cpu_now();
    let changed: usize = change
        .added
        .iter()
        .chain(&change.removed)
        .map(|s| compare::word_count(s))
        .sum();
    let total = compare::word_count(old).max(compare::word_count(&text));
    let rel = relevance::score(&text, topics, 0.0);
    std::hint::black_box((changed, total, &rel));
    s.rest = t.elapsed();
    (s, change, st.altered.len())
}

/// Time this thread has spent on a CPU (/proc/thread-self/schedstat): unlike the wall clock, it
/// leaves out the time other processes had the CPU, which on a shared machine is most of the
/// noise. The judgment runs on one thread, as in the pipeline.
struct Cpu(Duration);

fn cpu_now() -> Cpu {
    let used = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .expect("/proc/thread-self/schedstat (Linux)");
    Cpu(used)
}

impl Cpu {
    fn elapsed(&self) -> Duration {
        cpu_now().0.saturating_sub(self.0)
    }
}

fn median(mut v: Vec<Stages>) -> Stages {
    v.sort_by_key(Stages::judge);
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn main() {
    let a = args();
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chrome/ministry-article.html"),
    )
    .expect("the page template");
    let texts = articles(&a.shared);
    // Articles dealt alternately into two piles: the two versions share no article.
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for (i, t) in texts.iter().enumerate() {
        let pile = if i % 2 == 0 { &mut first } else { &mut second };
        pile.extend(diff::sentences(t));
    }
    let pile_mb = |p: &[String]| p.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    println!(
        "{} real articles; piles of {} and {} sentences ({:.1} and {:.1} MB)",
        texts.len(),
        first.len(),
        second.len(),
        pile_mb(&first),
        pile_mb(&second)
    );
    let topics = Topics::new(true, &[]);

    println!();
    println!(
        "{:<5} {:>7} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "way",
        "page MB",
        "removed",
        "added",
        "altered",
        "extract",
        "hash+sig",
        "diff",
        "pair",
        "other",
        "judge s",
        "growth"
    );
    let mut new_rows: Vec<(f64, Stages)> = Vec::new();
    let mut old_rows: Vec<(f64, Stages)> = Vec::new();
    for &mb in &a.sizes {
        let bytes = (mb * 1e6) as usize;
        let old_text = text_of(&page(&template, &first, bytes));
        let new_html = page(&template, &second, bytes);
        let mut ways = vec![false];
        if mb <= a.old_up_to {
            ways.push(true);
        }
        for whole in ways {
            let mut runs = Vec::new();
            let mut shape = (0, 0, 0);
            let n = if whole { a.old_runs } else { a.runs };
            for _ in 0..n.max(1) {
                let (s, change, altered) = judge_once(&old_text, &new_html, whole, &topics);
                shape = (change.removed.len(), change.added.len(), altered);
                runs.push(s);
            }
            let s = median(runs);
            let rows = if whole { &mut old_rows } else { &mut new_rows };
            let growth = rows.last().map_or("".to_string(), |(prev_mb, prev)| {
                let t = s.judge().as_secs_f64() / prev.judge().as_secs_f64().max(1e-9);
                format!("{:.2}", t / (mb / prev_mb))
            });
            rows.push((mb, s));
            println!(
                "{:<5} {:>7.2} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
                if whole { "old" } else { "new" },
                new_html.len() as f64 / 1e6,
                shape.0,
                shape.1,
                shape.2,
                secs(s.extract),
                secs(s.hash_sig),
                secs(s.diff),
                secs(s.pair),
                secs(s.rest),
                secs(s.judge()),
                growth
            );
        }
    }
    println!();
    for (mb, old) in &old_rows {
        if let Some((_, new)) = new_rows.iter().find(|(m, _)| m == mb) {
            println!(
                "at {mb} MB the old way took {:.1}x as long as the new one ({} s against {} s)",
                old.judge().as_secs_f64() / new.judge().as_secs_f64().max(1e-9),
                secs(old.judge()),
                secs(new.judge())
            );
        }
    }
    if let (Some((m0, n0)), Some((m1, n1))) = (new_rows.first(), new_rows.last())
        && m1 > m0
    {
        println!(
            "new way, {m0} MB to {m1} MB: time x{:.1} for size x{:.0} (growth {:.2}; 1 is linear)",
            n1.judge().as_secs_f64() / n0.judge().as_secs_f64().max(1e-9),
            m1 / m0,
            (n1.judge().as_secs_f64() / n0.judge().as_secs_f64().max(1e-9)) / (m1 / m0)
        );
    }
}
