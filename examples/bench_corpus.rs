//! Corpus scale benchmark: a deterministic synthetic corpus (default 100,000 documents) imported
//! through the library's own import path into a fresh SQLite file, then the pipeline's lookup of
//! a new document (signature, exact-hash lookup, candidates, verdict) timed for each query.
//!
//! ```sh
//! cargo run --release --example bench_corpus -- [--docs N] [--queries M] [--out DIR] [--seed S]
//!     [--postgres postgres://USER@HOST:PORT/DB]
//! ```
//!
//! With `--postgres`, the same corpus is then imported into PostgreSQL (a schema of its own,
//! `govwatch_bench`, made afresh) through the PostgreSQL store, the same lookups are timed
//! there, and the two backends are printed side by side.
//!
//! It writes `corpus.jsonl` and `queries.jsonl` to `--out` (default `target/bench-corpus`) so that
//! a peer (scripts/bench_corpus_datasketch.py) reads exactly the same texts, and prints figures,
//! ending with `key=value` lines for scripts/bench-corpus. It prints figures; it never fails
//! because the machine was slow.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use govwatch::compare::{self, corpus, corpus::Verdict, index::Signature};
use govwatch::config::PostgresUrl;
use govwatch::corpus_import;
use govwatch::model::{Candidate, Clock, SystemClock};
use govwatch::store::{NewCorpusEntry, PgStore, Store, StoreError};

// ---------------------------------------------------------------------------------------------
// Deterministic randomness and text.

/// splitmix64: small, seedable, and good enough for making up text.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut r = Rng(seed ^ 0x5851_f42d_4c95_7f2d);
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Made-up words with Zipf–Mandelbrot frequencies (rank r weighs 1 / (r + 2.7)), like prose.
struct Vocab {
    words: Vec<String>,
    cdf: Vec<f64>,
}

impl Vocab {
    fn new(size: usize, seed: u64) -> Vocab {
        const ONSETS: &[&str] = &[
            "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
            "ch", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr", "",
        ];
        const NUCLEI: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"];
        const CODAS: &[&str] = &["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "x"];
        let mut rng = Rng::new(seed);
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(size);
        while words.len() < size {
            // Frequent words are short, as in real languages.
            let max_syll = 1 + (words.len() as f64).log10().max(0.0) as usize;
            let n = rng.range(1, max_syll.clamp(1, 4));
            let mut w = String::new();
            for _ in 0..n {
                w.push_str(ONSETS[rng.range(0, ONSETS.len() - 1)]);
                w.push_str(NUCLEI[rng.range(0, NUCLEI.len() - 1)]);
                w.push_str(CODAS[rng.range(0, CODAS.len() - 1)]);
            }
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (0..size)
            .map(|r| {
                acc += 1.0 / (r as f64 + 2.7);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Vocab { words, cdf }
    }

    fn word(&self, rng: &mut Rng) -> &str {
        let u = rng.unit();
        let i = self.cdf.partition_point(|c| *c < u).min(self.words.len() - 1);
        &self.words[i]
    }

    fn sentence(&self, rng: &mut Rng) -> (String, usize) {
        let n = rng.range(8, 24);
        let mut s = String::new();
        for i in 0..n {
            let w = self.word(rng);
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    s.extend(f.to_uppercase());
                    s.push_str(c.as_str());
                }
            } else {
                s.push(' ');
                s.push_str(w);
            }
            if i + 1 < n && i > 2 && rng.chance(0.06) {
                s.push(',');
            }
        }
        s.push(if rng.chance(0.04) { '?' } else { '.' });
        (s, n)
    }

    /// Sentences of fresh text, at least `words` words in all.
    fn sentences(&self, rng: &mut Rng, words: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut n = 0;
        while n < words {
            let (s, k) = self.sentence(rng);
            out.push(s);
            n += k;
        }
        out
    }
}

/// Sentences as a document: paragraphs of four sentences.
fn render(sentences: &[String]) -> String {
    sentences
        .chunks(4)
        .map(|p| p.join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    New,
    Exact,
    NearDuplicate,
    Republication,
    Quotes,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::New => "new",
            Kind::Exact => "exact copy",
            Kind::NearDuplicate => "near-duplicate",
            Kind::Republication => "republication",
            Kind::Quotes => "quotes",
        }
    }
}

/// The synthetic corpus. Every document is a function of the seed and its number, so documents
/// are regenerated rather than kept in memory (which would distort the peak RSS measured later).
struct Gen {
    vocab: Vocab,
    seed: u64,
    docs: usize,
}

impl Gen {
    fn doc_rng(&self, salt: u64, i: usize) -> Rng {
        Rng::new(self.seed ^ salt.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ (i as u64).wrapping_mul(0x9e37_79b9))
    }

    /// What corpus document `i` is: 95% fresh text, 2% republishing an earlier document inside
    /// text of its own, 2% quoting 20–40% of one, 1% a near-duplicate of one.
    fn corpus_kind(&self, i: usize) -> Kind {
        let u = self.doc_rng(1, i).unit();
        match u {
            _ if i < 100 => Kind::New,
            u if u < 0.02 => Kind::Republication,
            u if u < 0.04 => Kind::Quotes,
            u if u < 0.05 => Kind::NearDuplicate,
            _ => Kind::New,
        }
    }

    fn fresh(&self, i: usize) -> Vec<String> {
        let mut rng = self.doc_rng(2, i);
        let words = rng.range(200, 600);
        self.vocab.sentences(&mut rng, words)
    }

    /// A fresh document below `below`, to derive from.
    fn pick_fresh(&self, rng: &mut Rng, below: usize) -> usize {
        loop {
            let j = rng.range(0, below - 1);
            if self.corpus_kind(j) == Kind::New {
                return j;
            }
        }
    }

    /// A document of `kind` derived from fresh document `src` (or fresh text for `New`).
    fn derive(&self, rng: &mut Rng, kind: Kind, src: usize) -> Vec<String> {
        let source = self.fresh(src);
        let words = |s: &[String]| s.iter().map(|x| x.split(' ').count()).sum::<usize>();
        match kind {
            Kind::New => {
                let w = rng.range(200, 600);
                self.vocab.sentences(rng, w)
            }
            Kind::Exact => source,
            Kind::NearDuplicate => {
                // A few words changed in a few sentences, maybe a sentence added.
                let mut s = source;
                for _ in 0..rng.range(1, 3) {
                    let k = rng.range(0, s.len() - 1);
                    let mut ws: Vec<String> = s[k].split(' ').map(str::to_string).collect();
                    let p = rng.range(1, ws.len() - 1);
                    ws[p] = self.vocab.word(rng).to_string();
                    s[k] = ws.join(" ");
                }
                if rng.chance(0.5) {
                    let k = rng.range(0, s.len());
                    let (extra, _) = self.vocab.sentence(rng);
                    s.insert(k, extra);
                }
                s
            }
            Kind::Republication => {
                // Commentary of 50–100% of the source's length around it: a republication, not a
                // version of the same document.
                let own = words(&source) * rng.range(50, 100) / 100;
                let before = own * rng.range(30, 70) / 100;
                let mut s = self.vocab.sentences(rng, before);
                s.extend(source);
                s.extend(self.vocab.sentences(rng, own - before));
                s
            }
            Kind::Quotes => {
                let share = rng.range(20, 40) as f64 / 100.0;
                let n = ((source.len() as f64 * share).round() as usize).max(1);
                let from = rng.range(0, source.len() - n);
                let w = rng.range(200, 500);
                let mut s = self.vocab.sentences(rng, w);
                let at = rng.range(0, s.len());
                s.splice(at..at, source[from..from + n].iter().cloned());
                s
            }
        }
    }

    fn corpus_doc(&self, i: usize) -> String {
        let kind = self.corpus_kind(i);
        if kind == Kind::New {
            return render(&self.fresh(i));
        }
        let mut rng = self.doc_rng(3, i);
        let src = self.pick_fresh(&mut rng, i);
        render(&self.derive(&mut rng, kind, src))
    }

    /// Query `q`: 35% new text, 10% exact copies, 15% near-duplicates, 20% republications and
    /// 20% quotes of corpus documents.
    fn query(&self, q: usize) -> (Kind, Option<usize>, String) {
        let mut rng = self.doc_rng(4, q);
        let u = rng.unit();
        let kind = match u {
            u if u < 0.35 => Kind::New,
            u if u < 0.45 => Kind::Exact,
            u if u < 0.60 => Kind::NearDuplicate,
            u if u < 0.80 => Kind::Republication,
            _ => Kind::Quotes,
        };
        let src = (kind != Kind::New).then(|| self.pick_fresh(&mut rng, self.docs));
        (kind, src, render(&self.derive(&mut rng, kind, src.unwrap_or(0))))
    }
}

fn doc_name(i: usize) -> String {
    format!("doc-{i:06}.txt")
}

// ---------------------------------------------------------------------------------------------
// Measuring.

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Bytes this process has read and written through system calls (page cache included), from
/// /proc/self/io: the database's page traffic, which is what a B-tree layout changes.
fn io_bytes() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("rchar:"), field("wchar:"))
}

/// Bytes this process has caused to be read from the storage device: pages that were not in
/// the page cache.
fn disk_read_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("read_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Time this thread has spent on a CPU (/proc/thread-self/schedstat): unlike the wall clock, it
/// leaves out the time other processes had the CPU, which on a shared machine is most of the noise.
fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Resets VmHWM to the current RSS (Linux 4.0+), so each phase's peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn db_size(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| file_size(&PathBuf::from(format!("{}{s}", db.display()))))
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn verdict_label(v: &Verdict) -> &'static str {
    match v {
        Verdict::Duplicate { .. } => "duplicate",
        Verdict::Revision { .. } => "revision",
        Verdict::Republication { .. } => "republication",
        Verdict::Quotes { .. } => "quotes",
        Verdict::New => "new",
    }
}

fn verdict_source(v: &Verdict) -> Option<&str> {
    match v {
        Verdict::Duplicate { source, .. }
        | Verdict::Revision { source, .. }
        | Verdict::Republication { source, .. } => Some(source.name.as_str()),
        Verdict::Quotes { sources } => sources.first().map(|(s, _)| s.name.as_str()),
        Verdict::New => None,
    }
}

struct Args {
    docs: usize,
    queries: usize,
    out: PathBuf,
    seed: u64,
    batch: usize,
    /// Look up against the database and texts an earlier run left in `out`.
    lookups_only: bool,
    /// A PostgreSQL server to measure beside SQLite.
    postgres: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        docs: 100_000,
        queries: 1_000,
        out: PathBuf::from("target/bench-corpus"),
        seed: 2024,
        batch: corpus_import::BATCH_FILES,
        lookups_only: false,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--docs" => a.docs = value().parse().expect("--docs N"),
            "--queries" => a.queries = value().parse().expect("--queries M"),
            "--out" => a.out = PathBuf::from(value()),
            "--seed" => a.seed = value().parse().expect("--seed S"),
            "--batch" => a.batch = value().parse().expect("--batch B"),
            "--lookups-only" => a.lookups_only = true,
            "--postgres" => a.postgres = Some(value()),
            other => panic!(
                "unknown argument {other}; usage: bench_corpus [--docs N] [--queries M] [--out DIR] [--seed S] [--batch B] [--postgres URL]"
            ),
        }
    }
    assert!(a.docs >= 200, "--docs must be at least 200");
    a
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    std::fs::create_dir_all(&a.out)?;
    let gen_ = Gen {
        vocab: Vocab::new(30_000, a.seed),
        seed: a.seed,
        docs: a.docs,
    };

    let corpus_path = a.out.join("corpus.jsonl");
    let queries_path = a.out.join("queries.jsonl");
    let db = a.out.join("govwatch.db");
    if a.lookups_only {
        let sqlite = lookups(&Store::open(&db)?, &queries_path, a.queries, "")?;
        if let Some(url) = &a.postgres {
            let mut url = PostgresUrl::parse(url)?;
            url.options = Some(format!("-c search_path={PG_SCHEMA}"));
            println!();
            println!("== PostgreSQL at {url} (schema {PG_SCHEMA}, as the last run left it)");
            let pg = lookups(&PgStore::open(&url)?, &queries_path, a.queries, "pg_")?;
            println!();
            println!(
                "lookups, same queries, same run: SQLite p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms; PostgreSQL p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
                sqlite.p50, sqlite.p99, sqlite.mean, pg.p50, pg.p99, pg.mean
            );
            println!(
                "PostgreSQL / SQLite: p50 x{:.2}, p99 x{:.2}",
                pg.p50 / sqlite.p50,
                pg.p99 / sqlite.p99
            );
        }
        return Ok(());
    }

    // 1. The texts, written for the peer.
    let t = Instant::now();
    let mut kinds: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut total_words = 0usize;
    {
        let mut w = BufWriter::new(File::create(&corpus_path)?);
        for i in 0..a.docs {
            let text = compare::normalize(&gen_.corpus_doc(i));
            *kinds.entry(gen_.corpus_kind(i)).or_default() += 1;
            total_words += compare::word_count(&text);
            serde_json::to_writer(&mut w, &serde_json::json!({ "id": doc_name(i), "text": text }))?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        let mut w = BufWriter::new(File::create(&queries_path)?);
        for q in 0..a.queries {
            let (kind, src, text) = gen_.query(q);
            let line = serde_json::json!({
                "id": format!("q-{q:04}"),
                "kind": kind.label(),
                "source": src.map(doc_name),
                "text": compare::normalize(&text),
            });
            serde_json::to_writer(&mut w, &line)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    println!(
        "corpus: {} documents, {:.0} words on average ({}), {} queries; generated in {:.1} s",
        a.docs,
        total_words as f64 / a.docs as f64,
        kinds
            .iter()
            .map(|(k, n)| format!("{n} {}", k.label()))
            .collect::<Vec<_>>()
            .join(", "),
        a.queries,
        t.elapsed().as_secs_f64()
    );
    println!(
        "texts: {} ({:.1} MiB)",
        corpus_path.display(),
        mib(file_size(&corpus_path))
    );

    // 2. Import: read the JSONL like files, batch by batch, through the library's import path.
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", db.display()));
    }
    reset_peak();
    let rss_before = status_kb("VmRSS:");
    let t = Instant::now();
    let mut imported = 0usize;
    let mut in_db = Duration::ZERO;
    let io_start = io_bytes();
    let cpu_start = cpu_time();
    let mut slice = (Instant::now(), Duration::ZERO, io_start, cpu_start);
    let mut slices = Vec::new();
    {
        let mut store = Store::open(&db)?;
        let mut batch = Vec::with_capacity(a.batch);
        let mut lines = BufReader::new(File::open(&corpus_path)?).lines();
        loop {
            let line = lines.next().transpose()?;
            if let Some(line) = &line {
                let v: serde_json::Value = serde_json::from_str(line)?;
                let name = v["id"].as_str().unwrap_or_default().to_string();
                let text = v["text"].as_str().unwrap_or_default().to_string();
                batch.push((name, corpus_import::entry(None, &text), text));
            }
            if batch.len() >= a.batch || (line.is_none() && !batch.is_empty()) {
                let tb = Instant::now();
                imported += store.import_corpus_batch(&batch, SystemClock.now())?.len();
                in_db += tb.elapsed();
                batch.clear();
                if imported % 10_000 == 0 || line.is_none() {
                    // Each slice of 10,000: its own rate, and the bytes the database moved for it.
                    let (start, db_before, (r0, w0), cpu0) = slice;
                    let cpu = cpu_time();
                    let (r1, w1) = io_bytes();
                    let rate = 10_000f64.min(imported as f64) / start.elapsed().as_secs_f64();
                    let line = format!(
                        "  {imported:>7} imported: {rate:>5.0} docs/s in this slice ({:.1} s in the database, {:.1} s on a CPU), read {:>6.0} MiB, written {:>6.0} MiB; database {:.0} MiB",
                        (in_db - db_before).as_secs_f64(),
                        (cpu - cpu0).as_secs_f64(),
                        mib(r1 - r0),
                        mib(w1 - w0),
                        mib(db_size(&db))
                    );
                    eprintln!("{line}");
                    slices.push(line);
                    slice = (Instant::now(), in_db, (r1, w1), cpu);
                }
            }
            if line.is_none() {
                break;
            }
        }
    }
    let import_time = t.elapsed();
    let import_peak_kb = status_kb("VmHWM:");
    let io_end = io_bytes();
    println!("import by slices of 10,000 documents (reads include the corpus texts):");
    for l in &slices {
        println!("{l}");
    }
    let import_rate = imported as f64 / import_time.as_secs_f64();
    println!(
        "import: {imported} documents in {:.1} s = {import_rate:.0} docs/s (signatures included; {:.1} s in the database, batches of {}); peak RSS {:.0} MiB (process before: {:.0} MiB)",
        import_time.as_secs_f64(),
        in_db.as_secs_f64(),
        a.batch,
        import_peak_kb as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!(
        "import CPU time {:.1} s; I/O: read {:.0} MiB, written {:.0} MiB ({:.1} KiB written per document)",
        (cpu_time() - cpu_start).as_secs_f64(),
        mib(io_end.0 - io_start.0),
        mib(io_end.1 - io_start.1),
        (io_end.1 - io_start.1) as f64 / 1024.0 / imported.max(1) as f64
    );
    let db_bytes = db_size(&db);
    println!(
        "database: {:.1} MiB ({} with -wal and -shm), {:.0} bytes per document",
        mib(db_bytes),
        db.display(),
        db_bytes as f64 / a.docs as f64
    );

    println!("RESULT docs={}", a.docs);
    println!("RESULT import_docs_per_s={import_rate:.1}");
    println!("RESULT import_s={:.2}", import_time.as_secs_f64());
    println!("RESULT db_mib={:.1}", mib(db_bytes));
    println!("RESULT import_peak_rss_mib={:.0}", import_peak_kb as f64 / 1024.0);

    // The import writes gigabytes: the lookups are measured as a daemon makes them, not while the
    // kernel is still flushing the import's pages to the disk.
    let dirty = meminfo_kb("Dirty:");
    let t = Instant::now();
    File::open(&db)?.sync_all()?;
    println!(
        "flushed before the lookups: {:.0} MiB of the machine's written pages waiting, database synced in {:.1} s",
        dirty as f64 / 1024.0,
        t.elapsed().as_secs_f64()
    );
    let sqlite = lookups(&Store::open(&db)?, &queries_path, a.queries, "")?;
    if let Some(url) = &a.postgres {
        let pg = postgres_run(url, &corpus_path, &queries_path, &a)?;
        println!();
        println!(
            "SQLite and PostgreSQL, same corpus and queries, same run ({} documents, {} lookups):",
            a.docs, a.queries
        );
        println!(
            "  {:<11} {:>13} {:>10} {:>10} {:>10}",
            "backend", "import doc/s", "p50 ms", "p99 ms", "mean ms"
        );
        println!(
            "  {:<11} {:>13.0} {:>10.2} {:>10.2} {:>10.2}",
            "SQLite", import_rate, sqlite.p50, sqlite.p99, sqlite.mean
        );
        println!(
            "  {:<11} {:>13.0} {:>10.2} {:>10.2} {:>10.2}",
            "PostgreSQL", pg.0, pg.1.p50, pg.1.p99, pg.1.mean
        );
        println!(
            "  PostgreSQL / SQLite: import rate x{:.2}, p50 x{:.2}, p99 x{:.2}",
            pg.0 / import_rate,
            pg.1.p50 / sqlite.p50,
            pg.1.p99 / sqlite.p99
        );
    }
    Ok(())
}

/// The schema the PostgreSQL run imports into (made afresh; `--lookups-only` reads it again).
const PG_SCHEMA: &str = "govwatch_bench";

/// Lookup times, in milliseconds.
struct Figures {
    p50: f64,
    p99: f64,
    mean: f64,
}

/// What a lookup asks of a store: the same calls on SQLite and PostgreSQL.
trait Lookup {
    fn candidates(&self, sig: &Signature) -> Result<Vec<Candidate>, StoreError>;
    fn by_hash(&self, hash: &str) -> Result<Option<(String, i64)>, StoreError>;
    fn source(&self, id: i64) -> Result<Option<corpus::Source>, StoreError>;
    fn text(&self, id: i64) -> Result<Option<String>, StoreError>;
}

impl Lookup for Store {
    fn candidates(&self, sig: &Signature) -> Result<Vec<Candidate>, StoreError> {
        self.corpus_candidates(sig, None)
    }
    fn by_hash(&self, hash: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.corpus_by_hash(hash, None)
    }
    fn source(&self, id: i64) -> Result<Option<corpus::Source>, StoreError> {
        self.corpus_source(id)
    }
    fn text(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.corpus_text(id)
    }
}

impl Lookup for PgStore {
    fn candidates(&self, sig: &Signature) -> Result<Vec<Candidate>, StoreError> {
        self.corpus_candidates(sig, None)
    }
    fn by_hash(&self, hash: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.corpus_by_hash(hash, None)
    }
    fn source(&self, id: i64) -> Result<Option<corpus::Source>, StoreError> {
        self.corpus_source(id)
    }
    fn text(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.corpus_text(id)
    }
}

/// The same import and lookups on PostgreSQL, in a schema made afresh; the import rate and the
/// lookup figures.
fn postgres_run(
    url: &str,
    corpus_path: &Path,
    queries_path: &Path,
    a: &Args,
) -> Result<(f64, Figures), Box<dyn std::error::Error>> {
    const SCHEMA: &str = PG_SCHEMA;
    let mut url = PostgresUrl::parse(url)?;
    {
        let mut c = postgres::Config::new();
        c.host(&url.host)
            .port(url.port)
            .user(&url.user)
            .dbname(&url.dbname);
        if let Some(p) = &url.password {
            c.password(p);
        }
        let mut admin = c.connect(postgres::NoTls)?;
        admin.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"
        ))?;
        let version: String = admin.query_one("SHOW server_version", &[])?.get(0);
        let buffers: String = admin.query_one("SHOW shared_buffers", &[])?.get(0);
        println!();
        println!("== PostgreSQL {version} at {url} (schema {SCHEMA}, shared_buffers {buffers})");
    }
    url.options = Some(format!("-c search_path={SCHEMA}"));
    let store = PgStore::open(&url)?;
    let t = Instant::now();
    let mut slice = Instant::now();
    let mut imported = 0usize;
    let mut in_db = Duration::ZERO;
    let mut batch: Vec<(String, NewCorpusEntry, String)> = Vec::with_capacity(a.batch);
    let mut lines = BufReader::new(File::open(corpus_path)?).lines();
    loop {
        let line = lines.next().transpose()?;
        if let Some(line) = &line {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let name = v["id"].as_str().unwrap_or_default().to_string();
            let text = v["text"].as_str().unwrap_or_default().to_string();
            batch.push((name, corpus_import::entry(None, &text), text));
        }
        if batch.len() >= a.batch || (line.is_none() && !batch.is_empty()) {
            let tb = Instant::now();
            imported += store.import_corpus_batch(&batch, SystemClock.now())?.len();
            in_db += tb.elapsed();
            batch.clear();
            if imported % 10_000 == 0 || line.is_none() {
                let rate = 10_000f64.min(imported as f64) / slice.elapsed().as_secs_f64();
                println!("  {imported:>7} imported: {rate:>5.0} docs/s in this slice");
                slice = Instant::now();
            }
        }
        if line.is_none() {
            break;
        }
    }
    let rate = imported as f64 / t.elapsed().as_secs_f64();
    println!(
        "import: {imported} documents in {:.1} s = {rate:.0} docs/s (signatures included; {:.1} s in the database)",
        t.elapsed().as_secs_f64(),
        in_db.as_secs_f64()
    );
    println!("RESULT pg_import_docs_per_s={rate:.1}");
    drop(store);
    // Lookups on a fresh connection, as on SQLite.
    let figures = lookups(&PgStore::open(&url)?, queries_path, a.queries, "pg_")?;
    Ok((rate, figures))
}

fn meminfo_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Lookups, as the pipeline judges a newly listed document, on a freshly opened store.
fn lookups(
    store: &dyn Lookup,
    queries_path: &Path,
    limit: usize,
    prefix: &str,
) -> Result<Figures, Box<dyn std::error::Error>> {
    reset_peak();
    let disk_before = disk_read_bytes();
    let mut times = Vec::with_capacity(limit);
    let (mut t_sig, mut t_cand, mut t_verdict) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut cand_counts = Vec::with_capacity(limit);
    let mut slowest = Vec::with_capacity(limit);
    let mut table: BTreeMap<(Kind, &'static str), (usize, usize)> = BTreeMap::new();
    let thresholds = corpus::Thresholds::default();
    for line in BufReader::new(File::open(queries_path)?).lines().take(limit) {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let text = v["text"].as_str().unwrap_or_default();
        let kind = match v["kind"].as_str().unwrap_or_default() {
            "exact copy" => Kind::Exact,
            "near-duplicate" => Kind::NearDuplicate,
            "republication" => Kind::Republication,
            "quotes" => Kind::Quotes,
            _ => Kind::New,
        };
        let d0 = disk_read_bytes();
        let t0 = Instant::now();
        let sig = Signature::of(text);
        let hash = compare::text_hash(text);
        let t1 = Instant::now();
        let candidates = store.candidates(&sig)?;
        let exact = match store.by_hash(&hash)? {
            Some((_, id)) => store.source(id)?,
            None => None,
        };
        let t2 = Instant::now();
        let mut texts = |id: i64| store.text(id).ok().flatten();
        let verdict = corpus::verdict(text, sig.fp_set.len(), exact, &candidates, &mut texts, thresholds);
        let t3 = Instant::now();
        let disk = disk_read_bytes().saturating_sub(d0);
        slowest.push((
            t3 - t0,
            disk,
            t2 - t1,
            v["id"].as_str().unwrap_or_default().to_string(),
            kind,
            sig.fp_set.len(),
            candidates.len(),
            candidates.iter().map(|c| c.shared.len()).max().unwrap_or(0),
        ));
        times.push(t3 - t0);
        (t_sig, t_cand, t_verdict) = (t_sig + (t1 - t0), t_cand + (t2 - t1), t_verdict + (t3 - t2));
        cand_counts.push(candidates.len());
        let right_source =
            verdict_source(&verdict).is_some() && verdict_source(&verdict) == v["source"].as_str();
        let e = table.entry((kind, verdict_label(&verdict))).or_default();
        e.0 += 1;
        e.1 += usize::from(right_source);
    }
    let lookup_peak_kb = status_kb("VmHWM:");
    let n = times.len().max(1) as u32;
    let mean = times.iter().sum::<Duration>() / n;
    times.sort();
    cand_counts.sort();
    let (p50, p99, max) = (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or_default(),
    );
    println!(
        "lookup: {} queries: p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms, max {:.2} ms",
        times.len(),
        ms(p50),
        ms(p99),
        ms(mean),
        ms(max)
    );
    println!(
        "  mean per query: signature {:.2} ms, candidates + exact hash {:.2} ms, verdict (with text fetch and diff) {:.2} ms; candidates per query p50 {} p99 {} max {}",
        ms(t_sig / n),
        ms(t_cand / n),
        ms(t_verdict / n),
        cand_counts.get(cand_counts.len() / 2).copied().unwrap_or(0),
        cand_counts
            .get((cand_counts.len() * 99).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or(0),
        cand_counts.last().copied().unwrap_or(0),
    );
    println!(
        "  read from the disk (not the page cache) while opening and looking up: {:.1} MiB",
        mib(disk_read_bytes().saturating_sub(disk_before))
    );
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!(
        "  slowest lookups (ms, of which index probes; KiB read from the disk; query, kind, fingerprints, candidates, most shared):"
    );
    for (wall, disk, cand, id, kind, fps, cands, shared) in slowest.iter().take(8) {
        println!(
            "    {:>7.2} {:>7.2} {:>6.0}  {id} {:<15} {fps:>4} {cands:>3} {shared:>4}",
            ms(*wall),
            ms(*cand),
            *disk as f64 / 1024.0,
            kind.label()
        );
    }
    println!(
        "  peak RSS while looking up (store opened afresh): {:.0} MiB",
        lookup_peak_kb as f64 / 1024.0
    );
    println!("verdicts (intended -> got: queries, of which naming the intended source):");
    let mut last = None;
    for ((kind, got), (count, right)) in &table {
        let label = if last == Some(*kind) { "" } else { kind.label() };
        last = Some(*kind);
        println!("  {label:<15} -> {got:<14} {count:>5}  ({right} right source)");
    }

    // For scripts/bench-corpus.
    println!("RESULT {prefix}queries={}", times.len());
    println!("RESULT {prefix}lookup_p50_ms={:.3}", ms(p50));
    println!("RESULT {prefix}lookup_p99_ms={:.3}", ms(p99));
    println!("RESULT {prefix}lookup_mean_ms={:.3}", ms(mean));
    println!(
        "RESULT {prefix}lookup_peak_rss_mib={:.0}",
        lookup_peak_kb as f64 / 1024.0
    );
    Ok(Figures {
        p50: ms(p50),
        p99: ms(p99),
        mean: ms(mean),
    })
}
