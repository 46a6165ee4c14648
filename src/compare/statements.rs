//! Position statements: the sentences in which a government says what should be done. They are
//! recognised by their form (normative verbs, numbered proposals), and a change between versions
//! is reported as statements added, altered (old and new, word by word) and removed.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::corpus::tokens;
use super::diff::TextChange;

/// Normative forms in English and Chinese. Word-bounded, case-insensitive.
static NORMATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(should|shall|must|ought to|oppose[sd]?|opposing|support[s]?|call[s]? (on|upon|for)|urge[sd]?|advocate[sd]?|reject[s]?|stand[s]? (for|against|ready)|is (firmly )?committed to|are (firmly )?committed to|will never|firmly|need to|needs to|it is necessary|propose[sd]?)\b|应当|应该|不应|必须|反对|支持|呼吁|主张|倡导|倡议|坚决|致力于|各国应|不得",
    )
    .expect("static regex")
});

/// "1. ...", "(2) ...", "III. ...", "一、..." — numbered proposals.
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(\(?\d{1,2}[.)、]|[IVX]{1,4}\.\s|[一二三四五六七八九十]{1,3}[、是]|（[一二三四五六七八九十]{1,3}）)")
        .expect("static regex")
});

/// Whether a sentence states a position.
pub fn is_position(sentence: &str) -> bool {
    // A statement is a sentence: "Must Read" over a teaser list is not one.
    let long_enough = tokens(sentence).count() >= 5;
    long_enough && (NORMATIVE.is_match(sentence) || NUMBERED.is_match(sentence))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub text: String,
    pub position: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Altered {
    pub old: String,
    pub new: String,
    /// Word-level: `[-removed-]{+added+}` inline.
    pub diff: String,
    pub position: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatementChange {
    pub added: Vec<Statement>,
    pub altered: Vec<Altered>,
    pub removed: Vec<Statement>,
}

impl StatementChange {
    /// Position statements added, altered or removed.
    pub fn positions_affected(&self) -> usize {
        self.added.iter().filter(|s| s.position).count()
            + self.altered.iter().filter(|a| a.position).count()
            + self.removed.iter().filter(|s| s.position).count()
    }
}

/// Two sentences this alike (Jaccard of their word sets) are one sentence edited.
const ALTERED_SIMILARITY: f64 = 0.5;

fn similarity(a: &str, b: &str) -> f64 {
    let sa: std::collections::HashSet<String> = tokens(a).collect();
    let sb: std::collections::HashSet<String> = tokens(b).collect();
    if sa.is_empty() && sb.is_empty() {
        return 1.0;
    }
    sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64
}

/// Pairs each removed sentence with the most alike added one (an alteration); the rest are
/// statements added or removed.
pub fn classify(change: &TextChange) -> StatementChange {
    let mut added: Vec<Option<&String>> = change.added.iter().map(Some).collect();
    let mut out = StatementChange::default();
    for old in &change.removed {
        let best = added
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, similarity(old, a))))
            .filter(|(_, s)| *s >= ALTERED_SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, _)) => {
                let new = added[i].take().expect("filtered on Some");
                out.altered.push(Altered {
                    diff: word_diff(old, new),
                    position: is_position(old) || is_position(new),
                    old: old.clone(),
                    new: new.clone(),
                });
            }
            None => out.removed.push(Statement {
                position: is_position(old),
                text: old.clone(),
            }),
        }
    }
    out.added = added
        .into_iter()
        .flatten()
        .map(|s| Statement {
            position: is_position(s),
            text: s.clone(),
        })
        .collect();
    out
}

/// `[-old-]{+new+}` inline, by word (by character for CJK, which has no spaces).
pub fn word_diff(old: &str, new: &str) -> String {
    let diff = if old.chars().any(super::corpus::is_cjk) {
        similar::TextDiff::from_chars(old, new)
    } else {
        similar::TextDiff::from_words(old, new)
    };
    let mut out = String::new();
    let mut pending: Option<(similar::ChangeTag, String)> = None;
    let flush = |out: &mut String, p: &mut Option<(similar::ChangeTag, String)>| {
        if let Some((tag, s)) = p.take() {
            match tag {
                similar::ChangeTag::Delete => out.push_str(&format!("[-{s}-]")),
                similar::ChangeTag::Insert => out.push_str(&format!("{{+{s}+}}")),
                similar::ChangeTag::Equal => out.push_str(&s),
            }
        }
    };
    for c in diff.iter_all_changes() {
        match &mut pending {
            Some((tag, s)) if *tag == c.tag() => s.push_str(c.value()),
            _ => {
                flush(&mut out, &mut pending);
                pending = Some((c.tag(), c.value().to_string()));
            }
        }
    }
    flush(&mut out, &mut pending);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_positions_by_form() {
        assert!(is_position(
            "States should respect the sovereignty of other States."
        ));
        assert!(is_position("China firmly opposes the abuse of export controls."));
        assert!(is_position("3. Promote the orderly flow of data."));
        assert!(is_position("各国应当尊重他国的数据主权。"));
        assert!(is_position("二、坚持多边主义"));
        assert!(!is_position("The document was released on Thursday."));
    }

    #[test]
    fn pairs_altered_sentences_and_diffs_words() {
        let change = TextChange {
            added: vec![
                "States must not install backdoors in products.".into(),
                "A new closing paragraph about cooperation.".into(),
            ],
            removed: vec!["States should not install backdoors in products.".into()],
        };
        let c = classify(&change);
        assert_eq!(c.altered.len(), 1);
        assert_eq!(
            c.altered[0].diff,
            "States [-should-]{+must+} not install backdoors in products."
        );
        assert!(c.altered[0].position);
        assert_eq!(c.added.len(), 1);
        assert!(!c.added[0].position);
        assert_eq!(c.positions_affected(), 1);
    }

    #[test]
    fn negation_and_number_changes_are_alterations() {
        let c = classify(&TextChange {
            added: vec!["The fund will provide 30 billion dollars.".into()],
            removed: vec!["The fund will provide 20 billion dollars.".into()],
        });
        assert_eq!(
            c.altered[0].diff,
            "The fund will provide [-20-]{+30+} billion dollars."
        );
    }
}
