//! Listing reading on saved index pages: items found against items expected, per page and per
//! set, and the time to read a listing of thousands of items.
//!
//!     cargo run --release --example bench_listings
//!
//! `tests/fixtures/listings/tune/` holds the pages the reader was built on; `heldout/` pages in
//! other site styles (GOV.UK finder, a Chinese government notice list in blocks of five, a
//! table with odd/even rows, a WordPress blog, a Drupal view, a Japanese `<dl>` list, Bootstrap
//! cards beside an unnamed "trending" box) that were written before the reader was run on them;
//! its first figures (precision 0.846, recall 0.717) led to two changes (an article's own
//! header; classes shared by repeated siblings), so it has been tuned on since. `heldout2/`
//! (a news section with an unnamed column box, EU-style content items with related links, a
//! Korean board table beside a menu of query links) was written after those changes and before
//! the reader was run on it.
//! Each `NAME.txt` names the page's URL (`base ...`) and the item URLs expected, one a line.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use govwatch::discover::listing_items;
use url::Url;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/listings");
    println!(
        "{:<10} {:<24} {:>8} {:>6} {:>8} {:>6}",
        "set", "page", "expected", "found", "correct", "extra"
    );
    for set in ["tune", "heldout", "heldout2"] {
        let (mut exp, mut found, mut correct) = (0, 0, 0);
        let mut names: Vec<_> = std::fs::read_dir(root.join(set))
            .expect("the fixture folder")
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "html").then_some(p)
            })
            .collect();
        names.sort();
        for page in names {
            let (e, f, c) = score(&page);
            let name = page.file_stem().unwrap().to_string_lossy().to_string();
            println!("{set:<10} {name:<24} {e:>8} {f:>6} {c:>8} {:>6}", f - c);
            (exp, found, correct) = (exp + e, found + f, correct + c);
        }
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        println!(
            "{set:<10} {:<24} {exp:>8} {found:>6} {correct:>8} {:>6}   precision {:.3} recall {:.3}",
            "TOTAL",
            found - correct,
            ratio(correct, found),
            ratio(correct, exp)
        );
    }
    thousands();
}

/// (expected, found, correct) for one page.
fn score(page: &Path) -> (usize, usize, usize) {
    let html = std::fs::read_to_string(page).expect("the page");
    let spec = std::fs::read_to_string(page.with_extension("txt")).expect("its expected items");
    let mut lines = spec.lines();
    let base = Url::parse(lines.next().unwrap().trim_start_matches("base ").trim()).expect("a base URL");
    let expected: HashSet<String> = lines
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let found: Vec<String> = listing_items(&html, &base, 10_000)
        .into_iter()
        .map(|l| l.url.to_string())
        .collect();
    let correct = found.iter().filter(|u| expected.contains(*u)).count();
    (expected.len(), found.len(), correct)
}

/// A listing of 5,000 and of 20,000 items beside the usual chrome: median time of five reads.
fn thousands() {
    for n in [5_000, 20_000] {
        let items: String = (0..n)
            .map(|i| format!("<li><a href=\"/docs/{i}.html\">Item {i}</a><span>2024-01-01</span></li>\n"))
            .collect();
        let html = format!(
            "<html><body><nav><a href=\"/\">Home</a></nav><div class=\"list\"><ul>{items}</ul></div>\
             <div class=\"pagination\"><a href=\"/docs/?p=2\">2</a></div></body></html>"
        );
        let base = Url::parse("https://example.gov/docs/").unwrap();
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let got = listing_items(&html, &base, 100_000);
                assert_eq!(got.len(), n);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "listing of {n} items ({} KB): {:.1} ms median",
            html.len() / 1024,
            times[2]
        );
    }
}
