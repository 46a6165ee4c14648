//! govwatch's integration tests, as one test binary: each module is a suite that runs the real
//! binary (or the library) against real servers on loopback.
//!
//! One binary, not one per file: the suites spend most of their time waiting on servers, child
//! processes and timeouts, and `cargo test` runs test binaries one after another, so each file's
//! slowest test used to hold up the whole run. In one binary the harness keeps every thread busy
//! to the end, and the suite links once instead of once per file.
//!
//! A new suite is a file here and a `mod` line below; `every_suite_is_compiled` fails when a
//! file is missing from the list (the compiler would otherwise skip it silently).

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod alerts;
mod cli;
mod delivery_state;
mod digest_golden;
mod end_to_end;
mod hostile_sites;
mod kill;
mod large_pages;
mod listings;
mod mails;
mod naming;
mod nodes;
mod pdf;
mod politeness;
mod postgres;
mod postgres_outbox;
mod postgres_web;
mod processes;
mod service;
mod templates;
mod terminal;
mod versions;
mod web;
mod what_is_mailed;
mod withdrawals;
mod word_diff;

#[test]
fn every_suite_is_compiled() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    let listed = include_str!("main.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(suite) = name.strip_suffix(".rs")
            && suite != "main"
            && !listed.lines().any(|l| l == format!("mod {suite};"))
        {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "add `mod` lines to tests/integration/main.rs for {missing:?}"
    );
}
