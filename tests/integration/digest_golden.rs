//! Golden copies of a digest rendered from fixed events with fixed timestamps
//! (`tests/fixtures/digest/events.json`): the subject, the text part and the HTML part. A change
//! to the templates or the digest model shows up here as a diff to review (`cargo insta review`).

use std::path::Path;

use govwatch::config::Config;
use govwatch::notify::{Digest, Templates};
use govwatch::store::EventRow;

fn digest() -> Digest {
    let events: Vec<EventRow> = serde_json::from_str(include_str!("../fixtures/digest/events.json")).unwrap();
    let config = Config::parse(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n",
        Path::new("golden.toml"),
    )
    .unwrap();
    Digest::build(
        &events,
        config.email.as_ref(),
        Some("analyst@example.org"),
        &Templates::builtin(),
    )
    .unwrap()
    .unwrap()
}

#[test]
fn digest_subject_groups_and_order() {
    let d = digest();
    assert_eq!(
        d.subject,
        "[govwatch] Changed: Global Initiative on Data Security (+1 ~2 −1 statements): “should not” → “must never” and 5 more"
    );
    // The paper, its republication, the commentary quoting it and the embassy's copy are one
    // story, headed by the paper.
    let text = &d.text;
    let paper = text
        .find("* [new] China's Positions on Global Digital Governance")
        .unwrap();
    let repub = text.find("* [republication] Just In").unwrap();
    let quotes = text.find("* [quotes] Digital sovereignty").unwrap();
    let dup = text.find("* [duplicate]").unwrap();
    assert!(paper < repub && repub < quotes && quotes < dup, "{text}");
    // The most significant story (the changed initiative, 0.9) comes first.
    assert!(text.find("* [changed] Global Initiative").unwrap() < paper);
}

#[test]
fn digest_html_golden() {
    let d = digest();
    assert!(!d.html.contains("<script>"));
    insta::assert_snapshot!("digest_html", d.html);
}

#[test]
fn digest_text_golden() {
    insta::assert_snapshot!("digest_text", digest().text);
}
