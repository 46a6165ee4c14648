//! What reaches the terminal: text from pages never carries control characters or escape
//! sequences to it, and a reader that goes away (`govwatch show X | head`) ends a command
//! quietly.

use crate::common;

use std::process::{Output, Stdio};

use common::*;

/// A title and paragraphs that try to drive the terminal: clear the screen, set the window
/// title (OSC 0), colour text, and a C1 CSI that some terminals obey as ESC [.
fn hostile_page(edit: &str) -> String {
    let (_, mut paras) = corpus_doc("001");
    paras[0] = format!("\u{1b}[2J\u{1b}[H{}", paras[0]);
    paras[1] = format!("{} \u{1b}]0;you have been owned\u{7}", paras[1]);
    paras.push(format!(
        "States should respect data sovereignty \u{1b}[31m{edit}\u{1b}[0m and \u{9b}2J oppose unilateral measures."
    ));
    page(
        "ministry-article.html",
        "Position paper \u{1b}]0;owned title\u{7} on data \u{9b}31m",
        "2023-05-25",
        &paras,
        1,
        &[],
    )
}

/// The bytes a terminal would obey: ESC, BEL, and C1 controls (U+0080..U+009F, two bytes in
/// UTF-8).
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(bad.is_empty(), "{what} printed {bad:?}:\n{text}");
}

fn setup() -> (Site, Govwatch) {
    let site = Site::start();
    site.set("/p.html", Resp::html(hostile_page("firmly")));
    let gw = Govwatch::new(&format!(
        "[[watch]]\nname = \"positions\"\nurl = \"{}\"\n",
        site.url("/p.html")
    ));
    gw.ok(&["check"]);
    site.set("/p.html", Resp::html(hostile_page("always and everywhere")));
    gw.ok(&["check", "--all"]);
    (site, gw)
}

#[test]
fn control_characters_from_pages_never_reach_the_terminal() {
    let (_site, gw) = setup();
    // The page's controls are stored as they came: the terminal is protected on output only.
    let events = gw.changes();
    let stored = serde_json::to_string(&events).unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "changed") && stored.contains("\\u001b[31m"),
        "{stored}"
    );
    for args in [
        &["show", "positions"][..],
        &["show", "positions", "1"],
        &["diff", "positions"],
        &["changes"],
        &["history", "positions"],
        &["status"],
        &["digest"],
        &["feed"],
        &["changes", "--json"],
        &["status", "--json"],
    ] {
        let out = gw.run(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_inert(&format!("{args:?}"), &out.stdout);
        assert_inert(&format!("{args:?} (stderr)"), &out.stderr);
    }
    // Shown, escaped, rather than dropped: the reader sees that the page holds something odd.
    let shown = gw.ok(&["show", "positions"]);
    assert!(
        shown.contains("\\u{1b}[2J") && shown.contains("\\u{9b}2J"),
        "{shown}"
    );
    // JSON stays exact: the same characters, as escapes.
    let json: serde_json::Value = serde_json::from_slice(&gw.run(&["changes", "--json"]).stdout).unwrap();
    assert_eq!(json, serde_json::Value::Array(events));
}

/// Runs a command whose reader has gone before it prints anything.
fn with_closed_stdout(gw: &Govwatch, args: &[&str]) -> Output {
    let mut child = gw
        .command_with(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn closed_pipe_ends_a_command_quietly() {
    let (site, gw) = setup();
    for args in [
        &["show", "positions"][..],
        &["diff", "positions"],
        &["changes"],
        &["changes", "--json"],
        &["history", "positions"],
        &["status"],
        &["outbox"],
        &["feed"],
        &["config", "check"],
    ] {
        let out = with_closed_stdout(&gw, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 141)) && !err.contains("panicked") && !err.contains("error"),
            "{args:?}: {} {err}",
            out.status
        );
    }
    // `check` does its work whether or not anyone reads its report.
    site.set("/p.html", Resp::html(hostile_page("in every case")));
    let out = with_closed_stdout(&gw, &["check", "--all"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = gw.changes().iter().filter(|e| e["kind"] == "changed").count();
    assert_eq!(changed, 2);
}
