//! One story for one sentence: when the same sentence was added to several documents of a site
//! in one message's events (an amendment or repeal notice stamped on them at once), the mail
//! tells it once ("the same sentence was added to 3 documents of this site") with the documents
//! under it, rather than as unrelated changes. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::store::{EventKind, EventRow};

/// What a story of a shared sentence is headed by.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SharedSentence {
    pub sentence: String,
    /// The site (host) the documents are on.
    pub site: String,
    /// How many documents of the site it was added to.
    pub documents: usize,
}

/// The documents (URLs) and the events that added one sentence.
type Adders<'a> = (BTreeSet<&'a str>, Vec<i64>);

/// The story key and heading of each event that added a sentence also added to another
/// document of its site, by event id. An event that added several such sentences joins the
/// story of the one most documents share.
pub fn shared_sentences(events: &[EventRow]) -> BTreeMap<i64, (String, SharedSentence)> {
    // (site, sentence) -> the documents (URLs) and events that added it.
    let mut by_sentence: BTreeMap<(String, String), Adders<'_>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Changed) {
        let Some(site) = url::Url::parse(&e.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
        else {
            continue;
        };
        for s in added_sentences(e) {
            let entry = by_sentence.entry((site.clone(), s)).or_default();
            entry.0.insert(e.url.as_str());
            entry.1.push(e.id);
        }
    }
    let mut out: BTreeMap<i64, (String, SharedSentence)> = BTreeMap::new();
    for ((site, sentence), (docs, ids)) in by_sentence {
        if docs.len() < 2 {
            continue;
        }
        let key = format!("shared sentence\u{0}{site}\u{0}{sentence}");
        let heading = SharedSentence {
            sentence,
            site,
            documents: docs.len(),
        };
        for id in ids {
            let better = out.get(&id).is_none_or(|(_, h)| h.documents < heading.documents);
            if better {
                out.insert(id, (key.clone(), heading.clone()));
            }
        }
    }
    out
}

/// The sentences an event added (its added statements, or else its added lines), spaces folded.
fn added_sentences(e: &EventRow) -> Vec<String> {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let statements: Vec<String> = e
        .details
        .as_ref()
        .and_then(|d| d.get("statements")?.get("added")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.get("text")?.as_str().map(fold))
        .collect();
    let mut out = if statements.is_empty() {
        e.added.iter().flat_map(|a| a.lines()).map(fold).collect()
    } else {
        statements
    };
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(id: i64, url: &str, added: &str) -> EventRow {
        EventRow {
            id,
            kind: EventKind::Changed,
            url: url.into(),
            title: None,
            watch: "w".into(),
            detected_at: crate::model::Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            notified: false,
            notified_at: None,
            source: None,
            source_title: None,
            overlap: None,
            added: Some(added.into()),
            removed: None,
            published: None,
            relevant: true,
            significance: 0.5,
            details: None,
        }
    }

    #[test]
    fn the_same_sentence_on_documents_of_one_site_is_one_story() {
        let repeal = "This regulation was repealed on 1 March 2024.";
        let events = [
            changed(1, "https://a.gov/1", repeal),
            changed(2, "https://a.gov/2", &format!("Another change.\n{repeal}")),
            changed(3, "https://a.gov/3", repeal),
            // The same words on another site are that site's news, not this story.
            changed(4, "https://b.gov/1", repeal),
            changed(5, "https://a.gov/4", "Something else entirely."),
        ];
        let got = shared_sentences(&events);
        let ids: Vec<i64> = got.keys().copied().collect();
        assert_eq!(ids, [1, 2, 3]);
        let (key, heading) = &got[&1];
        assert_eq!(heading.documents, 3);
        assert_eq!(heading.site, "a.gov");
        assert_eq!(heading.sentence, repeal);
        assert!(got.values().all(|(k, _)| k == key));
    }
}
