//! The second set, of texts nobody here wrote: the ground-truth article texts of the WCXB
//! extraction benchmark (`../shared/bench/extraction/wcxb-dev-articles/truth.jsonl`), arranged
//! programmatically into the verdicts' cases.
//!
//! English articles of 250–2,500 words, in id order, are split in two by id: articles 0001–0400
//! are the tuning part (what the verdict's rules were adjusted on), 0401–0800 the held-out part
//! (never looked at while tuning). In each part the first 60 articles are the corpus (imported as
//! `.txt` files) and the next 40 supply commentary, hosts for quotes, added sentences and
//! unrelated articles. For each corpus article:
//!
//! - a **duplicate**: its words on a page with other line breaks (re-flowed into lines of 9–15
//!   words, each its own block) or other block boundaries (paragraphs run together in pairs);
//! - a **republication**: the whole text with at least 80 words of another article's paragraphs
//!   as commentary, before it, after it, or both;
//! - **quotes**: one to three passages (10–40% of it) inside another article;
//! - two **revisions**, of four kinds in turn: one word replaced; a sentence (from another
//!   article) added; a sentence removed; one word replaced and one sentence added;
//! - one **unrelated** article (expected `new`).

use super::{Case, page};

/// Where the articles are: `shared/` beside the repository (or beside the folder of its
/// worktrees), or the file `GOVWATCH_WCXB` names.
pub const TRUTH: &str = "shared/bench/extraction/wcxb-dev-articles/truth.jsonl";
const SOURCES: usize = 60;
const OTHERS: usize = 40;
/// Articles up to this id are the tuning part.
const TUNE_UNTIL: u32 = 400;

pub struct Article {
    id: String,
    title: String,
    paragraphs: Vec<String>,
}

impl Article {
    fn words(&self) -> usize {
        self.paragraphs.iter().map(|p| p.split_whitespace().count()).sum()
    }

    fn file(&self) -> String {
        format!("wcxb-{}.txt", self.id)
    }
}

/// The usable articles, in id order; `None` if the file is not there.
pub fn articles() -> Option<Vec<Article>> {
    let path = match std::env::var_os("GOVWATCH_WCXB") {
        Some(p) => std::path::PathBuf::from(p),
        None => super::root()
            .ancestors()
            .skip(1)
            .map(|a| a.join(TRUTH))
            .find(|p| p.exists())?,
    };
    let text = std::fs::read_to_string(path).ok()?;
    let mut out = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let body = v["text"].as_str().unwrap_or_default();
        let letters: Vec<char> = body.chars().filter(|c| c.is_alphabetic()).collect();
        let ascii = letters.iter().filter(|c| c.is_ascii()).count();
        let words = body.split_whitespace().count();
        if letters.is_empty()
            || (ascii as f64) < 0.97 * letters.len() as f64
            || !(250..=2500).contains(&words)
        {
            continue;
        }
        let paragraphs: Vec<String> = body
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty())
            .collect();
        out.push(Article {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            title: v["title"].as_str().unwrap_or("Article").to_string(),
            paragraphs,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Some(out)
}

#[derive(Clone, Copy)]
pub enum Part {
    Tune,
    HeldOut,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Tune => "tune",
            Part::HeldOut => "held-out",
        }
    }
}

/// One part's corpus articles and the articles that supply the rest.
pub struct Set<'a> {
    part: Part,
    sources: Vec<&'a Article>,
    others: Vec<&'a Article>,
}

impl<'a> Set<'a> {
    pub fn of(all: &'a [Article], part: Part) -> Set<'a> {
        let mine: Vec<&Article> = all
            .iter()
            .filter(|a| {
                let id: u32 = a.id.parse().unwrap_or(0);
                matches!(part, Part::Tune) == (id <= TUNE_UNTIL)
            })
            .collect();
        let sources = mine.iter().take(SOURCES).copied().collect();
        let others = mine.iter().skip(SOURCES).take(OTHERS).copied().collect();
        Set {
            part,
            sources,
            others,
        }
    }

    pub fn describe(&self) -> String {
        let ids = |v: &[&Article]| match (v.first(), v.last()) {
            (Some(a), Some(b)) => format!("{}–{}", a.id, b.id),
            _ => "none".into(),
        };
        format!(
            "WCXB {} part (corpus: articles {}; commentary, hosts and unrelated: {})",
            self.part.name(),
            ids(&self.sources),
            ids(&self.others)
        )
    }

    /// The corpus: each source article as a `.txt` file (title, then its paragraphs).
    pub fn corpus(&self) -> Vec<(String, String)> {
        self.sources
            .iter()
            .map(|a| (a.file(), format!("{}\n\n{}", a.title, a.paragraphs.join("\n\n"))))
            .collect()
    }

    pub fn cases(&self) -> Vec<Case> {
        let mut out = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            let other = self.others[i % self.others.len()];
            let host = self.others[(i + 7) % self.others.len()];
            let case = |label, name: String, paras: Vec<String>, expect| Case {
                label,
                name: format!("{} {name}", s.file()),
                html: Some(page("news-article.html", &s.title, &paras, 3, &["A teaser"])),
                text: None,
                previous: None,
                expect,
                source: (expect != "new").then(|| s.file()),
                relevant: true,
            };
            let (name, paras) = relaid(s, i);
            out.push(case("relaid", name, paras, "duplicate"));
            let (name, paras) = wrapped(s, other, i);
            out.push(case("republished", name, paras, "republication"));
            let (name, paras) = quoted(s, host, i);
            out.push(case("quoted", name, paras, "quotes"));
            for kind in [i % 4, (i + 2) % 4] {
                if let Some((name, paras)) = revised(s, other, kind) {
                    out.push(case("revised", name, paras, "revision"));
                }
            }
            let mut unrelated = case(
                "unrelated",
                format!("unrelated {}", other.id),
                other.paragraphs.clone(),
                "new",
            );
            unrelated.html = Some(page("news-article.html", &other.title, &other.paragraphs, 1, &[]));
            unrelated.relevant = false;
            out.push(unrelated);
        }
        out
    }
}

/// The same words with other line breaks or block boundaries.
fn relaid(s: &Article, i: usize) -> (String, Vec<String>) {
    if i % 2 == 0 {
        let words: Vec<&str> = s.paragraphs.iter().flat_map(|p| p.split_whitespace()).collect();
        let mut lines = Vec::new();
        let mut at = 0;
        while at < words.len() {
            let width = 9 + (at * 7 + i) % 7;
            let end = (at + width).min(words.len());
            lines.push(words[at..end].join(" "));
            at = end;
        }
        ("re-wrapped lines".into(), lines)
    } else {
        let merged = s.paragraphs.chunks(2).map(|c| c.join(" ")).collect();
        ("paragraphs run together".into(), merged)
    }
}

/// Paragraphs of `from` adding up to at least `min` words.
fn commentary(from: &Article, min: usize, skip: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = 0;
    for p in from
        .paragraphs
        .iter()
        .cycle()
        .skip(skip)
        .take(from.paragraphs.len() * 2)
    {
        if words >= min {
            break;
        }
        words += p.split_whitespace().count();
        out.push(p.clone());
    }
    out
}

/// The whole text with another article's paragraphs around it.
fn wrapped(s: &Article, other: &Article, i: usize) -> (String, Vec<String>) {
    let (before, after) = match i % 3 {
        0 => (commentary(other, 80, 0), Vec::new()),
        1 => (Vec::new(), commentary(other, 80, 1)),
        _ => (commentary(other, 40, 0), commentary(other, 40, 3)),
    };
    let n = before.len() + after.len();
    let paras = before
        .into_iter()
        .chain(s.paragraphs.iter().cloned())
        .chain(after)
        .collect();
    (format!("in commentary ({n} paragraphs)"), paras)
}

/// One to three passages of the source (runs of its sentences, 10–40% of its words in all)
/// inside another article.
fn quoted(s: &Article, host: &Article, i: usize) -> (String, Vec<String>) {
    let all: Vec<String> = s.paragraphs.iter().flat_map(|p| sentences(p)).collect();
    let total = s.words();
    let target = total * (10 + (i * 11) % 31) / 100;
    let passages = 1 + i % 3;
    let per = target.div_ceil(passages).max(20);
    let n = all.len();
    let mut quotes: Vec<String> = Vec::new();
    let mut quoted_words = 0;
    for k in 0..passages {
        let start = n * (2 * k + 1) / (2 * passages + 1);
        let mut taken = Vec::new();
        let mut words = 0;
        for x in all.iter().skip(start) {
            if words >= per {
                break;
            }
            words += x.split_whitespace().count();
            taken.push(x.clone());
        }
        quoted_words += words;
        quotes.push(taken.join(" "));
    }
    let mut paras = host.paragraphs.clone();
    for (k, q) in quotes.into_iter().enumerate().rev() {
        let at = (paras.len() * (k + 1) / (passages + 1)).max(1);
        paras.insert(at, q);
    }
    (
        format!(
            "{passages} passages quoted ({}%)",
            quoted_words * 100 / total.max(1)
        ),
        paras,
    )
}

/// The sentences of a paragraph (split at ". ", "? ", "! ").
fn sentences(p: &str) -> Vec<String> {
    govwatch::compare::diff::sentences(p)
}

/// The paragraph nearest the middle with a sentence matching `pred`: (paragraph, sentence).
fn middle_sentence(s: &Article, pred: impl Fn(&str, usize) -> bool) -> Option<(usize, String)> {
    let n = s.paragraphs.len();
    let order = (0..n).map(|k| {
        if k % 2 == 0 {
            n / 2 + k / 2
        } else {
            (n / 2).wrapping_sub(k / 2 + 1)
        }
    });
    for i in order.filter(|&i| i < n) {
        let ss = sentences(&s.paragraphs[i]);
        if let Some(x) = ss.iter().find(|x| pred(x, ss.len())) {
            return Some((i, x.clone()));
        }
    }
    None
}

/// A sentence of at least 12 words that ends like one.
fn full(x: &str) -> bool {
    x.split_whitespace().count() >= 12 && x.ends_with(['.', '!', '?'])
}

fn replace_word(s: &Article, paras: &mut [String]) -> Option<()> {
    let (i, sentence) = middle_sentence(s, |x, _| x.split_whitespace().count() >= 10)?;
    let word = sentence
        .split_whitespace()
        .skip(1)
        .filter(|w| w.chars().all(char::is_alphabetic) && w.len() >= 5)
        .max_by_key(|w| w.len())?;
    let new = if word == "remarkable" {
        "particular"
    } else {
        "remarkable"
    };
    let edited = sentence.replacen(&format!(" {word}"), &format!(" {new}"), 1);
    paras[i] = paras[i].replacen(&sentence, &edited, 1);
    Some(())
}

fn add_sentence(s: &Article, other: &Article, paras: &mut [String]) -> Option<()> {
    let added = other
        .paragraphs
        .iter()
        .rev()
        .flat_map(|p| sentences(p))
        .find(|x| full(x))?;
    let (i, sentence) = middle_sentence(s, |x, _| full(x))?;
    paras[i] = paras[i].replacen(&sentence, &format!("{sentence} {added}"), 1);
    Some(())
}

fn remove_sentence(s: &Article, paras: &mut [String]) -> Option<()> {
    let (i, sentence) = middle_sentence(s, |x, n| n >= 2 && full(x))?;
    paras[i] = paras[i]
        .replacen(&sentence, "", 1)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Some(())
}

/// The source edited: `kind` 0 one word replaced, 1 a sentence added, 2 a sentence removed,
/// 3 one word replaced and a sentence added.
fn revised(s: &Article, other: &Article, kind: usize) -> Option<(String, Vec<String>)> {
    let mut paras = s.paragraphs.clone();
    let name = match kind {
        0 => {
            replace_word(s, &mut paras)?;
            "one word replaced"
        }
        1 => {
            add_sentence(s, other, &mut paras)?;
            "a sentence added"
        }
        2 => {
            remove_sentence(s, &mut paras)?;
            "a sentence removed"
        }
        _ => {
            replace_word(s, &mut paras)?;
            let edited = Article {
                id: s.id.clone(),
                title: s.title.clone(),
                paragraphs: paras.clone(),
            };
            add_sentence(&edited, other, &mut paras)?;
            "one word replaced, a sentence added"
        }
    };
    Some((name.into(), paras))
}
