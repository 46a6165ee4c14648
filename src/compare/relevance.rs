//! Relevance: whether a document concerns the topics the user follows. A built-in
//! digital-governance lexicon (English and Chinese) plus the configured terms, and similarity to
//! the imported corpus: a document quoting a known paper is relevant whatever its words.

use serde::Serialize;

/// The built-in lexicon: phrases that mark digital-governance writing.
pub const BUILTIN: &[&str] = &[
    "digital governance",
    "data sovereignty",
    "data security",
    "cross-border data",
    "data flow",
    "personal information",
    "data protection",
    "privacy",
    "cybersecurity",
    "cyber security",
    "cyberspace",
    "cyber attack",
    "internet governance",
    "artificial intelligence",
    "ai governance",
    "generative ai",
    "algorithm",
    "digital economy",
    "digital trade",
    "platform",
    "e-commerce",
    "information technology",
    "ict",
    "semiconductor",
    "chips",
    "5g",
    "export control",
    "telecommunications",
    "critical information infrastructure",
    "global digital compact",
    "global initiative on data security",
    "digital divide",
    "online",
    "internet",
    // General words of the field: each alone proves little, three together do.
    "digital",
    "data",
    "technology",
    "technologies",
    "network",
    "networks",
    "software",
    "hacking",
    "hackers",
    "surveillance",
    "spying",
    "broadband",
    "machine learning",
    "encryption",
    "servers",
    "telecom",
    "information",
    "数据",
    "数字",
    "网络",
    "技术",
    "信息",
    "科技",
    "数字治理",
    "数据安全",
    "数据主权",
    "跨境数据",
    "数据跨境",
    "个人信息",
    "网络安全",
    "网络空间",
    "互联网",
    "人工智能",
    "数字经济",
    "平台",
    "算法",
    "信息技术",
    "关键信息基础设施",
    "数字鸿沟",
];

#[derive(Debug, Clone)]
pub struct Topics {
    /// Lowercased terms; matched on word boundaries (CJK: anywhere).
    pub terms: Vec<String>,
    /// Those of them the user configured: what they follow by name, beyond the lexicon.
    pub configured: Vec<String>,
}

impl Topics {
    /// The built-in lexicon, with `extra` terms, or only `only` when a watch overrides them.
    pub fn new(builtin: bool, extra: &[String]) -> Topics {
        let mut terms: Vec<String> = if builtin {
            BUILTIN.iter().map(|t| t.to_string()).collect()
        } else {
            Vec::new()
        };
        let mut configured: Vec<String> = extra
            .iter()
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        configured.sort();
        configured.dedup();
        terms.extend(configured.iter().cloned());
        terms.sort();
        terms.dedup();
        Topics { terms, configured }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relevance {
    pub relevant: bool,
    /// 0 to 1.
    pub score: f64,
    /// The distinct terms found, most frequent first (at most 8).
    pub terms: Vec<String>,
}

/// The field's general vocabulary in [`BUILTIN`]: each alone says little about what a sentence
/// is about.
const GENERAL: &[&str] = &[
    "digital",
    "data",
    "technology",
    "technologies",
    "network",
    "networks",
    "software",
    "information",
    "online",
    "internet",
    "platform",
    "broadband",
    "telecom",
    "servers",
    "数据",
    "数字",
    "网络",
    "技术",
    "信息",
    "科技",
    "互联网",
    "平台",
];

/// Whether `term` is one of the field's general words rather than a specific topic.
pub fn is_general(term: &str) -> bool {
    GENERAL.contains(&term)
}

/// Distinct terms that make a document relevant on words alone.
const MIN_TERMS: usize = 3;
/// Share of an imported document reproduced that makes a document relevant on its own.
const MIN_CORPUS_SHARE: f64 = 0.05;

/// Scores `text` against `topics`; `corpus_share` is the largest share of an imported document
/// the text reproduces.
pub fn score(text: &str, topics: &Topics, corpus_share: f64) -> Relevance {
    let lower = text.to_lowercase();
    let mut found: Vec<(usize, &str)> = topics
        .terms
        .iter()
        .map(|t| (count(&lower, t), t.as_str()))
        .filter(|(n, _)| *n > 0)
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let distinct = found.len();
    let words_score = (distinct as f64 / 8.0).min(1.0);
    let corpus_score = (corpus_share * 4.0).min(1.0);
    Relevance {
        relevant: distinct >= MIN_TERMS || corpus_share >= MIN_CORPUS_SHARE,
        score: words_score.max(corpus_score),
        terms: found.iter().take(8).map(|(_, t)| t.to_string()).collect(),
    }
}

/// Occurrences of `term` in `lower`, on word boundaries for terms that start and end with a
/// letter or digit (so "ict" does not match "strict", "ai" does not match "said").
pub(crate) fn count(lower: &str, term: &str) -> usize {
    let bounded = term.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && term.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    lower
        .match_indices(term)
        .filter(|(i, _)| {
            !bounded || {
                let before = lower[..*i].chars().next_back();
                let after = lower[i + term.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
            }
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn governance_text_is_relevant_and_sport_is_not() {
        let topics = Topics::new(true, &[]);
        let paper = "States should ensure data security and respect data sovereignty in cyberspace, \
                     and oppose the abuse of export control on semiconductor products.";
        let r = score(paper, &topics, 0.0);
        assert!(r.relevant && r.score > 0.4, "{r:?}");
        let sport = "The striker said the club would win the league; fans online were strict.";
        let r = score(sport, &topics, 0.0);
        assert!(!r.relevant, "{r:?}");
        assert!(!r.terms.contains(&"ict".to_string()));
        assert!(score(sport, &topics, 0.3).relevant);
    }

    #[test]
    fn configured_terms_count() {
        let topics = Topics::new(false, &["Rare Earths".into(), "lithium".into(), "gallium".into()]);
        assert!(score("Rare earths, lithium and gallium exports", &topics, 0.0).relevant);
        assert!(!score("data security and cyberspace and privacy", &topics, 0.0).relevant);
    }

    #[test]
    fn chinese_terms_match_inside_text() {
        let r = score(
            "各国应维护网络空间安全，保障数据安全，尊重数据主权。",
            &Topics::new(true, &[]),
            0.0,
        );
        assert!(r.relevant, "{r:?}");
    }
}
