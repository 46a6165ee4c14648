//! The PDF benchmark: govwatch's text of each fixture PDF scored against the text it was made
//! from (word F1 for English, character F1 for Chinese), the running heads and page numbers
//! left in it, and its speed in pages per second; plain `pdftotext` on the same files, in the
//! same run, is the peer. Prints a table; fails nothing.
//!
//! Usage: cargo run --release --example pdf_bench -- [--runs N] [--peer NAME=COMMAND]... DIR [MORE.pdf...]
//! DIR holds NAME.pdf with NAME.txt beside it (tests/fixtures/pdf); MORE are timed only. Each
//! `--peer` is another extractor, run as `COMMAND FILE` and read from its stdout (the Rust crates
//! of bench/pdf-peers), scored and timed beside the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use govwatch::pdf;
use regex::Regex;

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
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: pdf_bench [--runs N] DIR [MORE.pdf...]");
        std::process::exit(2);
    };
    let mut scored: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .filter_map(|p| {
            let truth = std::fs::read_to_string(p.with_extension("txt")).ok()?;
            Some((p, truth))
        })
        .collect();
    scored.sort();
    let limits = pdf::Limits::default();

    println!("== fidelity (F1 against the source text; margins = running heads, feet and page numbers left)");
    print!(
        "{:<18} {:>5} {:>5}  {:>12} {:>12}  {:>16}",
        "file", "pages", "unit", "F1 govwatch", "F1 pdftotext", "margins gw / pt"
    );
    for (name, _) in &peers {
        print!(" {:>14}", format!("F1 {name}"));
    }
    println!();
    let (mut en, mut zh) = (Vec::new(), Vec::new());
    for (path, truth) in &scored {
        let body = std::fs::read(path).expect("read");
        let ours = match pdf::extract(&body, &limits) {
            Ok(d) => d.text(),
            Err(e) => {
                println!("{:<18} error: {e}", name(path));
                continue;
            }
        };
        let peer = pdftotext(path);
        let chinese =
            truth.chars().filter(|c| govwatch::text::is_han(*c)).count() * 2 > truth.chars().count() / 2;
        let title = truth.lines().next().unwrap_or("").trim();
        let (f_ours, f_peer) = (f1(&ours, truth), f1(&peer, truth));
        (if chinese { &mut zh } else { &mut en }).push(f_ours);
        print!(
            "{:<18} {:>5} {:>5}  {:>12.4} {:>12.4}  {:>7} / {:<7}",
            name(path),
            pages(path),
            if chinese { "char" } else { "word" },
            f_ours,
            f_peer,
            margins(&ours, title, truth),
            margins(&peer, title, truth),
        );
        for (_, cmd) in &peers {
            match run_peer(cmd, path) {
                Some(text) => print!(" {:>14.4}", f1(&text, truth)),
                None => print!(" {:>14}", "failed"),
            }
        }
        println!();
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::min);
    println!(
        "lowest word F1 (English): {:.4}; lowest char F1 (Chinese): {:.4}",
        min(&en),
        min(&zh)
    );

    println!("\n== speed (median of {runs} runs each, alternated)");
    println!(
        "{:<22} {:>5} {:>12} {:>12} {:>12} {:>12} {:>7}",
        "file", "pages", "govwatch ms", "pdftotext ms", "gw pages/s", "pt pages/s", "ratio"
    );
    let mut timed: Vec<PathBuf> = scored.iter().map(|(p, _)| p.clone()).collect();
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
    let count = |s: &str| {
        let mut m: HashMap<String, usize> = HashMap::new();
        for t in govwatch::text::tokens(s) {
            *m.entry(t).or_default() += 1;
        }
        m
    };
    let (g, w) = (count(got), count(want));
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

/// What the fixtures print in their margins: Chromium's date and URL and "1/4", Writer's
/// "Briefing:" head and "Page 1 of 2", groff's "- 2 -", "第 2 页", "第 1 页 共 2 页".
static MARGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2} [AP]M|file://|Briefing: |Page \d+ of \d+|^\s*[-–]\s*\d+\s*[-–]\s*$|第 ?\d+ ?页|^\s*\d+/\d+\s*$")
        .expect("valid regex")
});

/// Margin text left in `text`: the patterns above, and the title repeated as a running head
/// (more often than the source text has it).
fn margins(text: &str, title: &str, truth: &str) -> usize {
    let titles = |t: &str| {
        if title.is_empty() {
            0
        } else {
            t.matches(title).count()
        }
    };
    MARGIN.find_iter(text).count() + titles(text).saturating_sub(titles(truth))
}
