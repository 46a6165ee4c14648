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
//! - [`config`]: the TOML file, parsed once into a validated [`config::Config`].
//! - [`fetch`]: HTTP with conditional GET, size caps, timeouts and block-page detection.
//! - [`decode`]: bytes as served to text (BOM, header, meta, then a guess).
//! - [`extract`]: HTML to a [`extract::Document`]: title, date, language and the article's blocks.
//! - [`discover`]: document links on index pages.
//! - [`store`]: the SQLite database: documents, snapshots, corpus, events.
//! - [`compare`]: version diffs and corpus similarity verdicts.
//! - [`template`]: per-host boilerplate learned from the pages of each site.
//! - [`pipeline`]: one check of one document, and a pass over what is due.
//! - [`notify`]: digests rendered as text and HTML, sent by SMTP or written to an outbox.
//! - [`daemon`]: the scheduler loop and its lifecycle: signals, sd_notify, `/metrics`.
//! - [`metrics`]: counters for `/metrics`.
//! - [`logging`]: log format (journald or terminal) and level.

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
pub mod notify;
pub mod pipeline;
pub mod polite;
pub mod store;
pub mod template;
pub mod timefmt;
