//! Prints the HTML (or, with `--text`, the text) of a digest rendered from the fixed events in
//! `tests/fixtures/digest/events.json`: what `scripts/render-digest` screenshots, and what the
//! golden test in `tests/digest_golden.rs` keeps.

use std::path::Path;

use govwatch::config::Config;
use govwatch::notify::{Digest, Templates};
use govwatch::store::EventRow;

fn main() {
    let text = std::env::args().any(|a| a == "--text");
    let events: Vec<EventRow> = serde_json::from_str(include_str!("../tests/fixtures/digest/events.json"))
        .expect("the fixture events parse");
    let config = Config::parse(
        "[email]\nfrom = \"govwatch@example.org\"\nto = [\"analyst@example.org\"]\n",
        Path::new("sample.toml"),
    )
    .expect("the sample config is valid");
    let digest = Digest::build(
        &events,
        config.email.as_ref(),
        Some("analyst@example.org"),
        &Templates::builtin(),
    )
    .expect("the built-in templates render")
    .expect("there are events");
    print!("{}", if text { &digest.text } else { &digest.html });
}
