//! The PDF benchmark: govwatch's text of each fixture PDF scored against the text it was made
//! from (word F1 for English, character F1 for Chinese), the running heads and page numbers
//! left in it, and its speed in pages per second; plain `pdftotext` on the same files, in the
//! same run, is the peer. Several sets are scored side by side: the tuned fixtures and the
//! held-out ones (scripts/make-pdf-heldout), whose test part shows its totals only. Prints
//! tables; fails nothing.
//!
//! Usage: cargo run --release --example pdf_bench -- [--runs N] [--peer NAME=COMMAND]...
//!            [--no-speed] [--set LABEL=DIR]... [--set-totals LABEL=DIR]... [DIR [MORE.pdf...]]
//! Each DIR holds NAME.pdf with NAME.txt beside it (and, for the held-out sets, NAME.margins:
//! the patterns of what was printed in its margins); the first DIR is the set "tuned"
//! (tests/fixtures/pdf) and is the one timed, with MORE. Each `--peer` is another extractor,
//! run as `COMMAND FILE` and read from its stdout (the Rust crates of bench/pdf-peers), scored
//! and timed beside the others.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use govwatch::pdf;
use regex::Regex;

/// A folder of NAME.pdf with NAME.txt beside it, scored as one set.
struct Set {
    label: String,
    dir: PathBuf,
    /// Only the totals are printed: a held-out test set whose files are never looked into.
    totals_only: bool,
}

/// One file's scores.
struct Scored {
    producer: String,
    chinese: bool,
    /// `None` when govwatch gave an error instead of text (it counts as 0 in the totals).
    ours: Option<f64>,
    peer: f64,
    /// Pair F1 (reading order), govwatch's (0 on an error) and pdftotext's.
    order: (f64, f64),
    margins: (usize, usize),
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5usize;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(5);
        args.drain(i..(i + 2).min(args.len()));
    }
    let mut peers: Vec<(String, Vec<String>)> = Vec::new();
    while let Some(i) = args.iter().position(|a| a == "--peer") {
        let spec = args.get(i + 1).cloned().unwrap_or_default();
        args.drain(i..(i + 2).min(args.len()));
        if let Some((name, cmd)) = spec.split_once('=') {
            peers.push((
                name.to_string(),
                cmd.split_whitespace().map(str::to_string).collect(),
            ));
        }
    }
    let mut sets: Vec<Set> = Vec::new();
    while let Some(i) = args.iter().position(|a| a == "--set" || a == "--set-totals") {
        let totals_only = args[i] == "--set-totals";
        let spec = args.get(i + 1).cloned().unwrap_or_default();
        args.drain(i..(i + 2).min(args.len()));
        if let Some((label, dir)) = spec.split_once('=') {
            sets.push(Set {
                label: label.to_string(),
                dir: PathBuf::from(dir),
                totals_only,
            });
        }
    }
    let speed = match args.iter().position(|a| a == "--no-speed") {
        Some(i) => {
            args.remove(i);
            false
        }
        None => true,
    };
    if let Some(dir) = args.first() {
        sets.insert(
            0,
            Set {
                label: "tuned".into(),
                dir: PathBuf::from(dir),
                totals_only: false,
            },
        );
    }
    if sets.is_empty() {
        eprintln!(
            "usage: pdf_bench [--runs N] [--peer NAME=COMMAND]... [--no-speed] \
             [--set LABEL=DIR]... [--set-totals LABEL=DIR]... [DIR [MORE.pdf...]]"
        );
        std::process::exit(2);
    }
    let limits = pdf::Limits::default();

    let mut summary: Vec<(String, Vec<Scored>)> = Vec::new();
    let mut timed: Vec<PathBuf> = Vec::new();
    for set in &sets {
        let files = fixture_files(&set.dir);
        if timed.is_empty() {
            timed.extend(files.iter().map(|(p, _)| p.clone()));
        }
        println!(
            "== fidelity: {} ({}, {} files; F1 against the source text; margins = running heads, feet and page numbers left)",
            set.label,
            set.dir.display(),
            files.len()
        );
        if !set.totals_only {
            print!(
                "{:<30} {:>5} {:>5}  {:>12} {:>12}  {:>15}  {:>16}",
                "file", "pages", "unit", "F1 govwatch", "F1 pdftotext", "order gw / pt", "margins gw / pt"
            );
            for (name, _) in &peers {
                print!(" {:>14}", format!("F1 {name}"));
            }
            println!();
        }
        let mut scores = Vec::new();
        for (path, truth) in &files {
            let body = std::fs::read(path).expect("read");
            let (ours, error) = match pdf::extract(&body, &limits) {
                Ok(d) => (d.text(), None),
                Err(e) => (String::new(), Some(e.to_string())),
            };
            let peer = pdftotext(path);
            let chinese =
                truth.chars().filter(|c| govwatch::text::is_han(*c)).count() * 2 > truth.chars().count() / 2;
            let patterns = margin_patterns(path, truth);
            let s = Scored {
                producer: producer(path),
                chinese,
                ours: error.is_none().then(|| f1(&ours, truth)),
                peer: f1(&peer, truth),
                order: (order_f1(&ours, truth), order_f1(&peer, truth)),
                margins: (margins(&ours, truth, &patterns), margins(&peer, truth, &patterns)),
            };
            if !set.totals_only {
                let f_ours = match (&error, s.ours) {
                    (Some(e), _) => format!("error: {e}"),
                    (None, Some(f)) => format!("{f:.4}"),
                    (None, None) => String::new(),
                };
                print!(
                    "{:<30} {:>5} {:>5}  {:>12} {:>12.4}  {:>6.4} / {:<6.4}  {:>7} / {:<7}",
                    name(path),
                    pages(path),
                    if chinese { "char" } else { "word" },
                    f_ours,
                    s.peer,
                    s.order.0,
                    s.order.1,
                    s.margins.0,
                    s.margins.1,
                );
                for (_, cmd) in &peers {
                    match run_peer(cmd, path) {
                        Some(text) => print!(" {:>14.4}", f1(&text, truth)),
                        None => print!(" {:>14}", "failed"),
                    }
                }
                println!();
            }
            scores.push(s);
        }
        let producers: HashSet<&str> = scores.iter().map(|s| s.producer.as_str()).collect();
        if set.totals_only || producers.len() < scores.len() {
            by_producer(&scores);
        }
        println!();
        summary.push((set.label.clone(), scores));
    }

    println!(
        "== summary: F1 mean (lowest) per set; order = mean F1 of pairs of consecutive tokens; \
         govwatch and plain pdftotext in the same run"
    );
    println!(
        "{:<13} {:>3} {:>17} {:>17} {:>3} {:>17} {:>17} {:>11} {:>13} {:>13}",
        "set",
        "en",
        "word F1 govwatch",
        "word F1 pdftotext",
        "zh",
        "char F1 govwatch",
        "char F1 pdftotext",
        "<0.98 gw/pt",
        "order gw/pt",
        "margins gw/pt"
    );
    for (label, scores) in &summary {
        let (en, zh): (Vec<&Scored>, Vec<&Scored>) = scores.iter().partition(|s| !s.chinese);
        let below = |f: &dyn Fn(&Scored) -> f64| scores.iter().filter(|s| f(s) < 0.98).count();
        let order =
            |f: &dyn Fn(&Scored) -> f64| scores.iter().map(f).sum::<f64>() / scores.len().max(1) as f64;
        println!(
            "{:<13} {:>3} {:>17} {:>17} {:>3} {:>17} {:>17} {:>11} {:>13} {:>13}",
            label,
            en.len(),
            mean_min(en.iter().map(|s| s.ours.unwrap_or(0.0))),
            mean_min(en.iter().map(|s| s.peer)),
            zh.len(),
            mean_min(zh.iter().map(|s| s.ours.unwrap_or(0.0))),
            mean_min(zh.iter().map(|s| s.peer)),
            format!("{}/{}", below(&|s| s.ours.unwrap_or(0.0)), below(&|s| s.peer)),
            format!("{:.3}/{:.3}", order(&|s| s.order.0), order(&|s| s.order.1)),
            format!(
                "{}/{}",
                scores.iter().map(|s| s.margins.0).sum::<usize>(),
                scores.iter().map(|s| s.margins.1).sum::<usize>()
            ),
        );
    }
    if !speed {
        return;
    }

    println!("\n== speed (median of {runs} runs each, alternated)");
    println!(
        "{:<22} {:>5} {:>12} {:>12} {:>12} {:>12} {:>7}",
        "file", "pages", "govwatch ms", "pdftotext ms", "gw pages/s", "pt pages/s", "ratio"
    );
    timed.extend(args.iter().skip(1).map(PathBuf::from));
    let (mut all_pages, mut all_ours, mut all_peer) = (0usize, Duration::ZERO, Duration::ZERO);
    for path in &timed {
        let body = std::fs::read(path).expect("read");
        let n = pages(path);
        let (mut ours, mut peer) = (Vec::new(), Vec::new());
        let mut others: Vec<Vec<Duration>> = vec![Vec::new(); peers.len()];
        for _ in 0..runs {
            let t = Instant::now();
            let ok = pdf::extract(&body, &limits).is_ok();
            ours.push(t.elapsed());
            let t = Instant::now();
            let _ = pdftotext(path);
            peer.push(t.elapsed());
            for (i, (_, cmd)) in peers.iter().enumerate() {
                let t = Instant::now();
                let _ = run_peer(cmd, path);
                others[i].push(t.elapsed());
            }
            if !ok {
                break;
            }
        }
        let others: Vec<String> = peers
            .iter()
            .zip(others)
            .map(|((name, _), d)| format!(" {name} {:.1} pages/s", n as f64 / median(d).as_secs_f64()))
            .collect();
        let (o, p) = (median(ours), median(peer));
        all_pages += n;
        all_ours += o;
        all_peer += p;
        println!(
            "{:<22} {:>5} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>7.2}{}",
            name(path),
            n,
            ms(o),
            ms(p),
            n as f64 / o.as_secs_f64(),
            n as f64 / p.as_secs_f64(),
            o.as_secs_f64() / p.as_secs_f64(),
            others.join("")
        );
    }
    println!(
        "{:<22} {:>5} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>7.2}",
        "all",
        all_pages,
        ms(all_ours),
        ms(all_peer),
        all_pages as f64 / all_ours.as_secs_f64(),
        all_pages as f64 / all_peer.as_secs_f64(),
        all_ours.as_secs_f64() / all_peer.as_secs_f64()
    );
    println!(
        "(ratio: govwatch's time over plain pdftotext's; govwatch runs pdftotext -bbox-layout, then reflows)"
    );
}

fn name(p: &Path) -> String {
    p.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

/// The set's NAME.pdf files that have NAME.txt beside them, with that text, in name order.
fn fixture_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .filter_map(|p| {
            let truth = std::fs::read_to_string(p.with_extension("txt")).ok()?;
            Some((p, truth))
        })
        .collect();
    files.sort();
    files
}

/// The producer and layout a file was made with: its name less a trailing number
/// ("en-writer-2col-19" is "en-writer-2col").
fn producer(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    match stem.rsplit_once('-') {
        Some((head, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => head.to_string(),
        _ => stem.into_owned(),
    }
}

/// Totals per producer: how many files, mean and lowest F1, margins left.
fn by_producer(scores: &[Scored]) {
    let mut groups: BTreeMap<&str, Vec<&Scored>> = BTreeMap::new();
    for s in scores {
        groups.entry(s.producer.as_str()).or_default().push(s);
    }
    println!(
        "{:<30} {:>5} {:>5}  {:>17} {:>17}  {:>15}  {:>16}",
        "producer",
        "files",
        "unit",
        "F1 gw mean (min)",
        "F1 pt mean (min)",
        "order gw / pt",
        "margins gw / pt"
    );
    for (producer, group) in groups {
        let mean = |f: &dyn Fn(&Scored) -> f64| group.iter().map(|s| f(s)).sum::<f64>() / group.len() as f64;
        println!(
            "{:<30} {:>5} {:>5}  {:>17} {:>17}  {:>6.4} / {:<6.4}  {:>7} / {:<7}",
            producer,
            group.len(),
            if group[0].chinese { "char" } else { "word" },
            mean_min(group.iter().map(|s| s.ours.unwrap_or(0.0))),
            mean_min(group.iter().map(|s| s.peer)),
            mean(&|s| s.order.0),
            mean(&|s| s.order.1),
            group.iter().map(|s| s.margins.0).sum::<usize>(),
            group.iter().map(|s| s.margins.1).sum::<usize>(),
        );
    }
}

/// "0.9934 (0.9801)": the mean and, in brackets, the lowest; "-" for none.
fn mean_min(v: impl Iterator<Item = f64>) -> String {
    let v: Vec<f64> = v.collect();
    if v.is_empty() {
        return "-".into();
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    format!("{mean:.4} ({min:.4})")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Another extractor's text of `path`, or `None` if it failed.
fn run_peer(cmd: &[String], path: &Path) -> Option<String> {
    let (program, args) = cmd.split_first()?;
    let out = Command::new(program).args(args).arg(path).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Plain `pdftotext` (reading order, UTF-8, to stdout): the peer.
fn pdftotext(path: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pages(path: &Path) -> usize {
    let out = Command::new("pdfinfo").arg(path).output().expect("pdfinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().unwrap_or(0)))
        .unwrap_or(0)
}

/// F1 of the two texts' token multisets: words (lowercased) and each Chinese character.
fn f1(got: &str, want: &str) -> f64 {
    f1_of(grams(got, 1), grams(want, 1))
}

/// F1 of the two texts' pairs of consecutive tokens: the reading order's figure. A page whose
/// columns are read across, line by line, keeps every word (F1 1.0) and loses its pairs.
fn order_f1(got: &str, want: &str) -> f64 {
    f1_of(grams(got, 2), grams(want, 2))
}

fn grams(s: &str, n: usize) -> HashMap<String, usize> {
    let tokens: Vec<String> = govwatch::text::tokens(s).collect();
    let mut m: HashMap<String, usize> = HashMap::new();
    for w in tokens.windows(n) {
        *m.entry(w.join("\u{1}")).or_default() += 1;
    }
    m
}

fn f1_of(g: HashMap<String, usize>, w: HashMap<String, usize>) -> f64 {
    let common: usize = g
        .iter()
        .map(|(t, n)| (*n).min(w.get(t).copied().unwrap_or(0)))
        .sum();
    let (ng, nw) = (g.values().sum::<usize>(), w.values().sum::<usize>());
    if ng == 0 || nw == 0 {
        return 0.0;
    }
    let (p, r) = (common as f64 / ng as f64, common as f64 / nw as f64);
    if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
}

/// What the tuned fixtures print in their margins: Chromium's date and URL and "1/4", Writer's
/// "Briefing:" head and "Page 1 of 2", groff's "- 2 -", "第 2 页", "第 1 页 共 2 页". A held-out
/// file says its own in NAME.margins.
const MARGIN: &str = r"(?m)\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2} [AP]M|file://|Briefing: |Page \d+ of \d+|^\s*[-–]\s*\d+\s*[-–]\s*$|第 ?\d+ ?页|^\s*\d+/\d+\s*$";

/// The margin patterns of `path`: its NAME.margins (one regex a line, written by the script
/// that made it), else the tuned fixtures' forms and the title (the truth's first line) as a
/// running head.
fn margin_patterns(path: &Path, truth: &str) -> Vec<Regex> {
    let listed = std::fs::read_to_string(path.with_extension("margins"));
    let patterns: Vec<String> = match listed {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => {
            let title = truth.lines().next().unwrap_or("").trim();
            let mut v = vec![MARGIN.to_string()];
            if !title.is_empty() {
                v.push(regex::escape(title));
            }
            v
        }
    };
    patterns
        .iter()
        .map(|p| Regex::new(p).unwrap_or_else(|e| panic!("{}: {p}: {e}", path.display())))
        .collect()
}

/// Margin text left in `text`: how many more times each pattern matches it than the truth.
fn margins(text: &str, truth: &str, patterns: &[Regex]) -> usize {
    patterns
        .iter()
        .map(|re| {
            re.find_iter(text)
                .count()
                .saturating_sub(re.find_iter(truth).count())
        })
        .sum()
}
