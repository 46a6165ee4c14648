//! The command line: clap definitions, the error every command returns (and its exit code),
//! and the dispatch to one module per command or group of commands. Output for people goes to
//! stdout; logs go to stderr.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError, WatchKind};
use crate::daemon;
use crate::fetch::FetchError;
use crate::notify::NotifyError;
use crate::pipeline::{PipelineError, Selection};
use crate::store::{Store, StoreError};

mod changes;
mod check;
mod config_check;
mod corpus;
mod extract;
mod history;
mod mail;
mod outbox;
pub mod preview;
mod serve;
mod status;
pub mod store;
pub mod term;

use term::Out;

#[derive(Debug, Parser)]
#[command(
    name = "govwatch",
    version,
    about = "Watches government and news pages for new and changed digital-governance positions."
)]
pub struct Cli {
    /// Config file [default: $GOVWATCH_CONFIG, $CONFIGURATION_DIRECTORY/govwatch.toml, ./govwatch.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: check every watch on its schedule until SIGTERM or SIGINT.
    Run,
    /// One pass over what is due, then exit.
    Check {
        /// Check everything now, due or not.
        #[arg(long)]
        all: bool,
        /// Only these watches and their documents.
        names: Vec<String>,
    },
    /// Manage the corpus of known documents.
    Corpus {
        #[command(subcommand)]
        command: CorpusCommand,
    },
    /// One row per watch and tracked document: last check, last change, last error and how
    /// many in a row, next due.
    Status {
        /// Only these watches and their documents.
        names: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// What was found, oldest first.
    Changes {
        #[arg(long)]
        json: bool,
        /// Only what was found since then: a date (2026-11-23), a time (2026-11-23T10:00:00Z)
        /// or a duration back from now (7d, 12h, 30m).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Only what this watch found (repeatable).
        #[arg(long = "watch", value_name = "NAME")]
        watches: Vec<String>,
        /// Only events of this kind: new, changed, republication, duplicate, quotes, revision
        /// (repeatable).
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only the newest N (still listed oldest first).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Print the email that would go out now for everything not yet mailed (one per recipient).
    Digest {
        /// Send everything pending now, scheduled digests and retries included.
        #[arg(long)]
        send: bool,
    },
    /// The Atom feed of the newest relevant changes.
    Feed {
        /// Write it to this file (atomically) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The outbox: every delivery (event, recipient, channel), its state and last error.
    Outbox {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<OutboxCommand>,
    },
    /// Send a test message through the configured SMTP server (or the outbox folder) and print
    /// what the server answered.
    TestMail {
        /// Who gets it [default: the first configured recipient].
        address: Option<String>,
    },
    /// The stored versions of a page.
    History {
        /// A watch name, a URL, or a title (or the unique beginning of one).
        target: String,
    },
    /// The stored text of one version of a page (default: the newest).
    Show {
        /// A watch name, a URL, or a title (or the unique beginning of one).
        target: String,
        /// A version as `history` labels it: v1, v2, … (or just its number).
        version: Option<String>,
    },
    /// The difference between two versions of a page (default: the last two).
    Diff {
        /// A watch name, a URL, or a title (or the unique beginning of one).
        target: String,
        /// A version as `history` labels it: v1, v2, … (or just its number).
        from: Option<String>,
        to: Option<String>,
    },
    /// Fetch a URL once (robots.txt and politeness as a check) and show what govwatch would take
    /// from it: a page's title, date, language and text, or the documents a listing yields.
    /// Nothing is stored; no database is needed.
    Preview {
        url: String,
        /// Read it as: page, index, feed or sitemap [default: the kind of a watch on this URL,
        /// else page].
        #[arg(long, value_parser = parse_kind)]
        kind: Option<WatchKind>,
        /// Documents of a listing shown, at most (a watch's `max_documents`).
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Run the extraction stage on saved pages (bytes as served).
    Extract {
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the web pages at `[http] listen` without checking anything (for `check` from cron).
    Serve,
    /// Read a password on standard input and print its argon2id hash, for `[[http.user]]
    /// password_hash`.
    HashPassword,
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The database as a whole: `store copy --to postgres://...` (or a SQLite file).
    Store {
        #[command(subcommand)]
        command: store::StoreCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum CorpusCommand {
    /// Add plain-text or HTML files, or folders of them, identified by file name.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The imported files: name, words, title, when imported.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The text of one imported file, by the name `corpus list` shows.
    Show { name: String },
    /// Take imported files out of the corpus (and its index): later verdicts no longer cite them.
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Put failed deliveries back in the queue: pending, due now, with a full set of attempts.
    /// They go out with the next send (`digest --send`, `check`, or the running daemon).
    Retry {
        /// Every failed delivery.
        #[arg(long, conflicts_with = "ids", required_unless_present = "ids")]
        failed: bool,
        /// These failed deliveries (the ids `outbox --json` and `changes --json` show).
        ids: Vec<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print what would be watched.
    Check,
}

/// Why a command failed. Sites being down is not among them: that is a failed check.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Daemon(#[from] daemon::DaemonError),
    #[error("cannot set up HTTP: {0}")]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
    #[error("{0}")]
    Usage(String),
    /// A URL that could not be previewed: not fetched (robots.txt, an error, a status), or not
    /// readable as the kind asked.
    #[error("{0}")]
    Preview(String),
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// The reader of standard output went away (`govwatch show X | head`): what it wanted has
    /// been printed, so this ends the command quietly rather than as a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// 2 for what the user must fix in the config or the command line, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_)
            | CliError::Usage(_)
            | CliError::Pipeline(PipelineError::UnknownWatch(_))
            // A user's template that does not compile is a config error too.
            | CliError::Notify(NotifyError::Template(_)) => 2,
            _ => 1,
        }
    }
}

type Result<T> = std::result::Result<T, CliError>;

pub async fn run(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone().unwrap_or_else(config::default_config_path);
    match cli.command {
        Command::Extract { json, files } => extract::extract_files(&files, json),
        Command::Preview {
            url,
            kind,
            limit,
            json,
        } => {
            let config = config_or_defaults(cli.config.as_deref(), &config_path)?;
            preview::preview(&config, &url, kind, limit.max(1), json).await
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check::config_check(&Config::load(&config_path)?),
        Command::Serve => serve::serve(&config_path).await,
        Command::HashPassword => serve::hash_password(),
        Command::Store { command } => store::run(Config::load(&config_path)?, command).await,
        Command::Run => {
            let ctx = check::context_with_watches(&config_path)?;
            daemon::run(ctx).await?;
            Ok(())
        }
        Command::Check { all, names } => {
            check::check(
                &check::context_with_watches(&config_path)?,
                Selection { all, names },
            )
            .await
        }
        Command::Corpus { command } => corpus::run(command, &config_path),
        Command::Changes {
            json,
            since,
            watches,
            kinds,
            limit,
        } => {
            let config = Config::load(&config_path)?;
            let store = open_store(&config)?;
            let filter = changes::event_filter(&store, &config, since, watches, &kinds, limit)?;
            changes::changes(&store, &filter, json)
        }
        Command::Digest { send } => mail::digest(&check::context(&config_path)?, send).await,
        Command::Status { names, json } => {
            let config = Config::load(&config_path)?;
            status::status(&open_store(&config)?, &config, &names, json)
        }
        Command::Feed { out } => {
            let config = Config::load(&config_path)?;
            mail::feed(&open_store(&config)?, &config, out.as_deref())
        }
        Command::Outbox { json, command } => outbox::run(json, command, &config_path),
        Command::TestMail { address } => {
            mail::test_mail(&Config::load(&config_path)?, address.as_deref()).await
        }
        Command::History { target } => {
            let config = Config::load(&config_path)?;
            history::history(&open_store(&config)?, &config, &target)
        }
        Command::Show { target, version } => {
            let config = Config::load(&config_path)?;
            let version = version.as_deref().map(history::version_label).transpose()?;
            history::show(&open_store(&config)?, &config, &target, version)
        }
        Command::Diff { target, from, to } => {
            let config = Config::load(&config_path)?;
            let from = from.as_deref().map(history::version_label).transpose()?;
            let to = to.as_deref().map(history::version_label).transpose()?;
            history::diff(&open_store(&config)?, &config, &target, from, to)
        }
    }
}

/// The config file named, or else the default one if there is one, or else the defaults: a
/// command that needs no watch and no database works before govwatch is set up.
fn config_or_defaults(named: Option<&Path>, path: &Path) -> Result<Config> {
    if named.is_some() || path.exists() {
        return Ok(Config::load(path)?);
    }
    Ok(Config::parse("", path)?)
}

fn parse_kind(s: &str) -> std::result::Result<WatchKind, String> {
    [
        WatchKind::Page,
        WatchKind::Index,
        WatchKind::Feed,
        WatchKind::Sitemap,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
    .ok_or_else(|| "one of page, index, feed, sitemap".to_string())
}

/// The database `[storage]` names, claiming work under this node's name (`[daemon] node`): the
/// PostgreSQL server when `url` is set (a command not yet ported then fails on its first query,
/// never on a SQLite file instead), else the SQLite file.
fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open_storage(&config.storage)?.with_holder(crate::store::holder_for(&config.daemon.node)))
}
