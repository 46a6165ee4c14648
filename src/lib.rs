//! govwatch watches government and news pages for new and changed digital-governance positions.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! config ─▶ schedule ─▶ fetch ─▶ decode ─▶ extract ─▶ store ─▶ compare ─▶ events ─▶ notify
//!                         │                   │                   ├─ vs earlier versions (diff)
//!                         └─ discover links ◀─┘                   └─ vs corpus (duplicates, republications)
//! ```
//!
//! Dependencies run one way, with no import cycles (`scripts/module_cycles.py` checks): model,
//! text and similarity ← extract, compare, config ← store ← check ← notify ← daemon ← cli.
//!
//! - [`model`]: the words every stage speaks (event kinds, document roles, candidates, failure
//!   reasons, timestamps) and the [`model::Clock`] passed in from the top; depends on no other
//!   module.
//! - [`text`]: which script a character is written in (one `is_cjk`), normalised text, its hash,
//!   tokens and word count.
//! - [`similarity`]: shingles, MinHash and winnowed fingerprints: what the corpus index stores.
//! - [`backoff`]: the one rule for waiting after failures in a row (checks and deliveries).
//! - [`timefmt`]: timestamps as the politeness gate keeps them (RFC 3339 text), and the one way
//!   a stored time or date is written as a day.
//! - [`config`]: the TOML file, parsed once into a validated [`config::Config`].
//! - [`fetch`]: HTTP with conditional GET, size caps, timeouts and block-page detection.
//! - [`polite`]: the politeness gate per origin: robots.txt, delays, pauses, leases across
//!   processes, redirects hop by hop.
//! - [`decode`]: bytes as served to text (BOM, header, meta, then a guess).
//! - [`extract`]: HTML to a [`extract::Document`]: title, date, language and the article's blocks.
//! - [`discover`]: document links on index pages, feeds and sitemaps.
//! - [`template`]: per-host boilerplate learned from the pages of each site.
//! - [`compare`]: version diffs, corpus verdicts, relevance and significance (on [`text`] and
//!   [`similarity`]).
//! - [`store`]: the SQLite database: documents, snapshots, corpus, events, outbox, claims,
//!   origin leases, and the handle everyone reaches it through; never reads the clock.
//! - [`corpus_import`]: reading a folder of known documents into the corpus.
//! - [`check`]: one check of one document: fetch, then a pure decision, then one write.
//! - [`pipeline`]: a pass over what is due, checks side by side.
//! - [`notify`]: digests rendered as text and HTML, sent by SMTP or written to an outbox.
//! - [`web`]: the pages: watches, documents, versions, diffs, events, triage and search.
//! - [`daemon`]: the scheduler loop and its lifecycle: signals (the one SIGTERM/SIGINT wait,
//!   `serve`'s too), sd_notify, `/metrics`.
//! - [`metrics`]: counters for `/metrics`.
//! - [`logging`]: log format (journald or terminal) and level.
//! - [`cli`]: the commands; prints and picks exit codes with `main`. `cli/mod.rs` parses and
//!   dispatches; one module per command or group: `check` (and `run`'s setup), `status`,
//!   `changes`, `history` (and `show`, `diff`), `corpus`, `outbox`, `mail` (`digest`, `feed`,
//!   `test-mail`), `serve` (and `hash-password`), `extract`, `preview`, `config_check`; `term`
//!   makes page text safe for a terminal.

pub mod backoff;
pub mod check;
pub mod cli;
pub mod compare;
pub mod config;
pub mod corpus_import;
pub mod daemon;
pub mod decode;
pub mod discover;
pub mod extract;
pub mod fetch;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod pdf;
pub mod pipeline;
pub mod polite;
pub mod similarity;
pub mod store;
pub mod template;
pub mod text;
pub mod timefmt;
pub mod web;
