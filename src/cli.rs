//! The command line: clap definitions and one function per command. Output for people goes to
//! stdout; logs go to stderr.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError, WatchKind};
use crate::corpus_import::{self, FileResult};
use crate::fetch::{FetchError, Fetcher};
use crate::model::{Clock, SystemClock, Timestamp};
use crate::notify::{self, NotifyError, SendReport};
use crate::pipeline::{self, Context, PipelineError, Selection, StopFlag};
use crate::polite::Hosts;
use crate::store::{
    DocumentRow, EventDelivery, EventFilter, EventKind, ImportOutcome, RetryRefusal, Store, StoreError,
    StoreHandle,
};
use crate::{compare, daemon, decode, extract};

pub mod preview;
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
        Command::Extract { json, files } => extract_files(&files, json),
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
        } => config_check(&Config::load(&config_path)?),
        Command::Serve => serve(&config_path).await,
        Command::HashPassword => hash_password(),
        Command::Run => {
            let ctx = context_with_watches(&config_path)?;
            daemon::run(ctx).await?;
            Ok(())
        }
        Command::Check { all, names } => {
            check(&context_with_watches(&config_path)?, Selection { all, names }).await
        }
        Command::Corpus { command } => match command {
            CorpusCommand::Import { paths } => corpus_import(&config_path, &paths),
            CorpusCommand::List { json } => corpus_list(&open_store(&Config::load(&config_path)?)?, json),
            CorpusCommand::Show { name } => corpus_show(&open_store(&Config::load(&config_path)?)?, &name),
            CorpusCommand::Remove { names } => {
                corpus_remove(&mut open_store(&Config::load(&config_path)?)?, &names)
            }
        },
        Command::Changes {
            json,
            since,
            watches,
            kinds,
            limit,
        } => {
            let config = Config::load(&config_path)?;
            let store = open_store(&config)?;
            let filter = event_filter(&store, &config, since, watches, &kinds, limit)?;
            changes(&store, &filter, json)
        }
        Command::Digest { send } => digest(&context(&config_path)?, send).await,
        Command::Status { names, json } => {
            let config = Config::load(&config_path)?;
            status(&open_store(&config)?, &config, &names, json)
        }
        Command::Feed { out } => {
            let config = Config::load(&config_path)?;
            feed(&open_store(&config)?, &config, out.as_deref())
        }
        Command::Outbox {
            command: Some(OutboxCommand::Retry { failed: _, ids }),
            ..
        } => outbox_retry(&mut open_store(&Config::load(&config_path)?)?, &ids),
        Command::Outbox { json, command: None } => outbox(&open_store(&Config::load(&config_path)?)?, json),
        Command::TestMail { address } => test_mail(&Config::load(&config_path)?, address.as_deref()).await,
        Command::History { target } => {
            let config = Config::load(&config_path)?;
            history(&open_store(&config)?, &config, &target)
        }
        Command::Show { target, version } => {
            let config = Config::load(&config_path)?;
            let version = version.as_deref().map(version_label).transpose()?;
            show(&open_store(&config)?, &config, &target, version)
        }
        Command::Diff { target, from, to } => {
            let config = Config::load(&config_path)?;
            let from = from.as_deref().map(version_label).transpose()?;
            let to = to.as_deref().map(version_label).transpose()?;
            diff(&open_store(&config)?, &config, &target, from, to)
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

/// `govwatch serve`: the pages alone, until SIGTERM or SIGINT.
async fn serve(config_path: &Path) -> Result<()> {
    let config = Config::load(config_path)?;
    crate::logging::apply_config(&config.log);
    let Some(addr) = config.http.listen else {
        return Err(CliError::Usage(format!(
            "{}: `http.listen` is not set, so there is nowhere to serve the pages; add [http] listen = \"127.0.0.1:9184\"",
            config.source.display()
        )));
    };
    let store = StoreHandle::new(open_store(&config)?);
    let web = crate::web::Web::new(Arc::new(config), store);
    crate::web::serve(addr, web, shutdown_signal()).await?;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `govwatch hash-password`: the password is the whole of standard input but a final newline.
fn hash_password() -> Result<()> {
    use std::io::Read;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .unwrap_or(&input);
    if password.is_empty() {
        return Err(CliError::Usage(
            "no password on standard input (try: echo -n 'secret' | govwatch hash-password)".into(),
        ));
    }
    let hash = crate::web::auth::hash_password(password).map_err(CliError::Usage)?;
    let mut out = Out::stdout();
    writeln!(out, "{hash}")?;
    out.flush()?;
    Ok(())
}

fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open(&config.storage.path)?)
}

fn context(config_path: &Path) -> Result<Context> {
    context_for(Config::load(config_path)?)
}

/// For `run` and `check`, which have nothing to do without a watch: said before the database is
/// opened or created.
fn context_with_watches(config_path: &Path) -> Result<Context> {
    let config = Config::load(config_path)?;
    config.require_watches()?;
    context_for(config)
}

fn context_for(config: Config) -> Result<Context> {
    crate::logging::apply_config(&config.log);
    let mut store = open_store(&config)?;
    corpus_import::index_missing(&mut store)?;
    let hosts = Hosts::new(&config.fetch, store.hosts()?);
    let store = StoreHandle::new(store);
    // The one clock of the process: everything below takes its time from here.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(Context {
        fetcher: Fetcher::new(&config.fetch)?,
        slots: Arc::new(tokio::sync::Semaphore::new(config.fetch.concurrency)),
        hosts: Arc::new(hosts.with_leases(Arc::new(pipeline::StoreLeases(store.clone(), clock.clone())))),
        config: Arc::new(config),
        store,
        clock,
        stop: StopFlag::default(),
    })
}

async fn check(ctx: &Context, sel: Selection) -> Result<()> {
    let report = pipeline::run_pass(ctx, &sel).await?;
    // Mail and the feed go out before anything is printed: a reader that stops reading
    // (`govwatch check | head -1`) ends the output, never the pass's work.
    let due = notify::due_for_check(ctx.clock.now());
    let sent = notify::send_due(&ctx.store, &ctx.config, due, &*ctx.clock).await;
    let unsent = match &sent {
        Err(NotifyError::NotConfigured) => ctx.store.run(|s| s.pending_events()).await?.len(),
        _ => 0,
    };
    if !matches!(sent, Err(NotifyError::Store(_))) {
        notify::feed::update(&ctx.store, &ctx.config).await;
    }
    let mut out = Out::stdout();
    writeln!(
        out,
        "checked {}: {} baseline, {} unchanged, {} changed, {} new documents, {} links discovered, {} failed, {} deferred",
        report.checked,
        report.baseline,
        report.unchanged,
        report.changed,
        report.found,
        report.discovered,
        report.failed,
        report.deferred
    )?;
    for (url, why) in &report.failures {
        writeln!(out, "  failed {url}: {why}")?;
    }
    for (url, why) in &report.deferrals {
        writeln!(out, "  deferred {url}: {why}")?;
    }
    match sent {
        Ok(r) => print_send_report(&mut out, &r)?,
        Err(NotifyError::NotConfigured) if unsent > 0 => {
            writeln!(out, "{unsent} events pending; no [email] configured to send them")?;
        }
        Err(NotifyError::NotConfigured) => {}
        Err(NotifyError::Store(e)) => {
            out.flush()?;
            return Err(e.into());
        }
        // Mail trouble is not govwatch failing: the events stay pending for the next pass.
        Err(e) => writeln!(out, "mail not sent, events stay pending: {e}")?,
    }
    out.flush()?;
    Ok(())
}

fn print_send_report(out: &mut Out, r: &SendReport) -> std::io::Result<()> {
    let events = r.events_sent();
    if !r.sent.is_empty() {
        writeln!(out, "mailed {events} events in {} messages", r.sent.len())?;
    }
    for f in &r.failed {
        let what = if f.permanent {
            "failed for good"
        } else {
            "stays pending"
        };
        writeln!(
            out,
            "mail not sent to {} ({}): {}; {what}",
            f.recipient,
            f.channel.as_str(),
            f.reason
        )?;
    }
    Ok(())
}

fn feed(store: &Store, config: &Config, file: Option<&Path>) -> Result<()> {
    let events = store.recent_relevant_events(
        config.feed.max_entries,
        crate::model::KindSet::mailed_by_default(),
    )?;
    let xml = notify::feed::atom(&events, &config.feed, &config.http);
    let mut out = Out::stdout();
    match file {
        Some(path) => {
            notify::feed::write_atomically(path, &xml)?;
            writeln!(out, "wrote {} entries to {}", events.len(), path.display())?;
        }
        None => out.xml(&xml)?,
    }
    out.flush()?;
    Ok(())
}

fn outbox(store: &Store, json: bool) -> Result<()> {
    let rows = store.deliveries()?;
    let mut out = Out::stdout();
    if json {
        out.json(&rows, true)?;
        out.flush()?;
        return Ok(());
    }
    let c = store.outbox_counts()?;
    writeln!(out, "{} pending, {} sent, {} failed", c.pending, c.sent, c.failed)?;
    for d in rows.iter().filter(|d| d.state != "sent") {
        writeln!(
            out,
            "  event {:<6} {:<30} {:<7} {:<9} {:<7} attempts {} next {}{}",
            d.event_id,
            d.recipient,
            d.channel,
            d.mode,
            d.state,
            d.attempts,
            d.next_attempt_at,
            d.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// `ids` empty: every failed delivery (clap requires `--failed` then).
fn outbox_retry(store: &mut Store, ids: &[i64]) -> Result<()> {
    let refused = store.retry_refusals(ids)?;
    if !refused.is_empty() {
        let why: Vec<String> = refused
            .iter()
            .map(|r| match r {
                RetryRefusal::Unknown(id) => format!("{id}: no such delivery"),
                RetryRefusal::NotFailed { id, state } => format!("{id}: {state}, not failed"),
            })
            .collect();
        return Err(CliError::Usage(format!(
            "nothing requeued: {} (see govwatch outbox)",
            why.join("; ")
        )));
    }
    let requeued = store.retry_failed((!ids.is_empty()).then_some(ids), SystemClock.now())?;
    let mut out = Out::stdout();
    if requeued.is_empty() {
        writeln!(out, "no failed deliveries")?;
    } else {
        writeln!(
            out,
            "{} deliveries back in the queue, due now; they go out with the next send \
             (govwatch digest --send, govwatch check, or the running daemon)",
            requeued.len()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// One message, outside the outbox (nothing is recorded): a setup check. Exit 1 when it did not
/// go, with the server's or the connection's reason.
async fn test_mail(config: &Config, address: Option<&str>) -> Result<()> {
    let Some(email) = &config.email else {
        return Err(CliError::Usage(
            "no [email] section in the config: there is nothing to test".into(),
        ));
    };
    let to: lettre::message::Mailbox = match address {
        Some(a) => a
            .parse()
            .map_err(|e| CliError::Usage(format!("`{a}` is not an address: {e}")))?,
        None => config
            .recipients
            .first()
            .map(|r| r.address.clone())
            .ok_or_else(|| CliError::Usage("no recipient configured: give an ADDRESS".into()))?,
    };
    let mailer = notify::Mailer::new(email, &config.storage.outbox_dir())?;
    let host = hostname();
    let message = lettre::Message::builder()
        .from(email.from.clone())
        .to(to.clone())
        .subject("govwatch test message")
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(format!(
            "This is a test message from govwatch on {host}, sent {} through {mailer}.\n\
             If you read it, alerts can reach this address.\n",
            SystemClock.now()
        ))
        .map_err(|e| NotifyError::Build(e.to_string()))?;
    let mut out = Out::stdout();
    match mailer.send_answered(message).await {
        Ok(answer) => {
            writeln!(out, "sent to {} via {mailer}: {answer}", to.email)?;
            out.flush()?;
            Ok(())
        }
        Err(f) => Err(NotifyError::Smtp {
            server: mailer.to_string(),
            reason: format!("test message to {} not sent: {}", to.email, f.reason),
        }
        .into()),
    }
}

/// For the test message's text: which machine sent it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".into())
}

/// Validates what `run` needs, the watches included: a config `run` would refuse is not ok.
fn config_check(config: &Config) -> Result<()> {
    config.require_watches()?;
    let mut out = Out::stdout();
    writeln!(out, "{}: ok", config.source.display())?;
    writeln!(out, "database: {}", config.storage.path.display())?;
    match &config.email {
        Some(e) => {
            let via = match &e.smtp {
                Some(s) => s.display.clone(),
                None => format!("outbox {}", config.storage.outbox_dir().display()),
            };
            writeln!(
                out,
                "mail: from {} via {via}{}",
                e.from,
                if e.dkim.is_some() { ", DKIM-signed" } else { "" }
            )?;
        }
        None => writeln!(
            out,
            "mail: none ([email] not configured; events are only recorded)"
        )?,
    }
    for r in &config.recipients {
        let mut how = Vec::new();
        if r.immediate {
            how.push("immediate".to_string());
        }
        if let Some(s) = &r.digest {
            how.push(format!("digest {s}"));
        }
        if let Some(u) = &r.webhook {
            how.push(format!("webhook {u}"));
        }
        let follows = if r.watches.is_empty() && r.tags.is_empty() {
            "everything".to_string()
        } else {
            r.watches
                .iter()
                .cloned()
                .chain(r.tags.iter().map(|t| format!("tag:{t}")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(out, "recipient: {} <- {follows}; {}", r.address, how.join(" + "))?;
    }
    let templates = notify::Templates::load(&notify::template_dir(&config.source))?;
    for p in &templates.overrides {
        writeln!(out, "template: {}", p.display())?;
    }
    writeln!(out, "{} watches:", config.watches.len())?;
    for w in &config.watches {
        let extra = match w.kind {
            WatchKind::Index | WatchKind::Feed | WatchKind::Sitemap => {
                format!(", up to {} documents", w.max_documents)
            }
            WatchKind::Page => String::new(),
        };
        let extra = if w.robots {
            extra
        } else {
            format!("{extra}, robots.txt not honoured")
        };
        writeln!(
            out,
            "  {:<28} {:<7} every {:<8} {}{extra}",
            w.name,
            w.kind.as_str(),
            humantime::format_duration(w.every).to_string(),
            w.url
        )?;
    }
    out.flush()?;
    Ok(())
}

fn corpus_import(config_path: &Path, paths: &[PathBuf]) -> Result<()> {
    let config = Config::load(config_path)?;
    let mut store = open_store(&config)?;
    corpus_import::index_missing(&mut store)?;
    let results = corpus_import::import_with(&mut store, paths, SystemClock.now(), &config.pdf)?;
    let mut out = Out::stdout();
    let (mut added, mut skipped) = (0, 0);
    for r in &results {
        match r {
            FileResult::Imported { name, outcome, words } => {
                let what = match outcome {
                    ImportOutcome::Added => {
                        added += 1;
                        "added"
                    }
                    ImportOutcome::Updated => {
                        added += 1;
                        "updated"
                    }
                    ImportOutcome::Unchanged => "already known",
                };
                writeln!(out, "{what:<14} {name} ({words} words)")?;
            }
            FileResult::Skipped { path, reason } => {
                skipped += 1;
                term::warn(format_args!("skipped        {}: {reason}", path.display()));
            }
        }
    }
    let (imports, stored) = store.corpus_counts()?;
    writeln!(
        out,
        "{added} added or updated, {skipped} skipped; the corpus holds {imports} imported and {stored} stored documents"
    )?;
    out.flush()?;
    Ok(())
}

/// `changes`' flags as a store filter; a kind or a watch nobody knows is a usage error rather
/// than an empty list, which would read as "nothing happened".
fn event_filter(
    store: &Store,
    config: &Config,
    since: Option<String>,
    watches: Vec<String>,
    kinds: &[String],
    limit: Option<usize>,
) -> Result<EventFilter> {
    for w in &watches {
        if !config.watches.iter().any(|c| &c.name == w) && !store.has_events_of(w)? {
            return Err(CliError::Usage(format!(
                "--watch {w}: no watch of that name in the config or in what was found"
            )));
        }
    }
    let kinds = kinds
        .iter()
        .map(|k| {
            EventKind::from_name(k).ok_or_else(|| {
                let all: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                CliError::Usage(format!("--kind {k}: not a kind; one of {}", all.join(", ")))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let since = since.as_deref().map(since_time).transpose()?;
    Ok(EventFilter {
        since,
        watches,
        kinds,
        limit,
    })
}

/// `--since` as a stored timestamp: RFC 3339, a date (midnight UTC), a date and time without
/// zone (UTC, as every stored time), or a duration back from now.
fn since_time(s: &str) -> Result<Timestamp> {
    use time::macros::format_description;
    let t = s.trim();
    if let Ok(at) = Timestamp::parse(t) {
        return Ok(at);
    }
    if let Ok(d) = time::Date::parse(t, format_description!("[year]-[month]-[day]")) {
        return Ok(Timestamp::from_datetime(d.midnight().assume_utc()));
    }
    for f in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ] {
        if let Ok(dt) = time::PrimitiveDateTime::parse(t, f) {
            return Ok(Timestamp::from_datetime(dt.assume_utc()));
        }
    }
    match humantime::parse_duration(t) {
        // Further back than time can go: everything.
        Ok(d) => Ok(SystemClock.now().minus(d)),
        Err(_) => Err(CliError::Usage(format!(
            "--since {s}: not a date (2026-11-23), a time (2026-11-23T10:00:00Z) or a duration (7d, 12h)"
        ))),
    }
}

/// An event as `changes --json` lists it: its fields, its triage marks (from the web pages),
/// and its deliveries.
#[derive(serde::Serialize)]
struct ListedEvent<'a> {
    #[serde(flatten)]
    event: &'a crate::store::EventRow,
    reviewed: bool,
    important: bool,
    deliveries: Vec<EventDelivery>,
}

fn changes(store: &Store, filter: &EventFilter, json: bool) -> Result<()> {
    let events = store.events_matching(filter)?;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let mut deliveries = store.deliveries_of_events(&ids)?;
    let mut out = Out::stdout();
    if json {
        let triage = store.triage_of(&ids)?;
        let listed: Vec<ListedEvent> = events
            .iter()
            .map(|event| {
                let (reviewed, important) = triage.get(&event.id).copied().unwrap_or_default();
                ListedEvent {
                    event,
                    reviewed,
                    important,
                    deliveries: deliveries.remove(&event.id).unwrap_or_default(),
                }
            })
            .collect();
        out.json(&listed, true)?;
        out.flush()?;
        return Ok(());
    }
    if events.is_empty() {
        let filtered = filter.since.is_some() || !filter.watches.is_empty() || !filter.kinds.is_empty();
        if filtered {
            writeln!(out, "nothing found that matches")?;
        } else {
            writeln!(out, "nothing found yet")?;
        }
    }
    for e in &events {
        print_event(&mut out, e, deliveries.get(&e.id).map_or(&[][..], Vec::as_slice))?;
    }
    out.flush()?;
    Ok(())
}

/// One event as `changes` lists it: its line, its URL, failed deliveries, its source, and what
/// changed.
fn print_event(
    out: &mut Out,
    e: &crate::store::EventRow,
    deliveries: &[crate::store::EventDelivery],
) -> Result<()> {
    writeln!(
        out,
        "{}  {:<13} {:<9} {}",
        e.detected_at,
        e.kind.as_str(),
        match (e.notified, e.relevant) {
            (true, _) => "mailed",
            // Settled with nobody to tell: a kind no recipient asked for (a duplicate), or a
            // watch nobody follows.
            (false, _) if e.notified_at.is_some() && deliveries.is_empty() => "unmailed",
            // Settled, but not every delivery went: refused or given up on.
            (false, _) if e.notified_at.is_some() => "failed",
            (false, true) => "pending",
            (false, false) => "off-topic",
        },
        notify_title(e)
    )?;
    writeln!(out, "    {}", e.url)?;
    for d in deliveries.iter().filter(|d| d.state == "failed") {
        writeln!(
            out,
            "    delivery {} to {} ({}) {}{}",
            d.id,
            d.recipient,
            d.channel,
            d.state,
            d.last_error
                .as_deref()
                .map(|e| format!(": {}", notify::one_line(e, 160)))
                .unwrap_or_default()
        )?;
    }
    if let Some(src) = &e.source {
        let share = e
            .overlap
            .map(|o| format!(" ({:.0}%)", o * 100.0))
            .unwrap_or_default();
        writeln!(out, "    source: {src}{share}")?;
    }
    // Altered statements as word diffs (the runs the mail shows), then the sentences
    // added and removed that are not one side of an alteration.
    let altered = notify::altered_statements(e);
    for (_, _, line) in &altered {
        writeln!(out, "    ~ {line}")?;
    }
    let before: HashSet<&str> = altered.iter().filter_map(|a| a.0.as_deref()).collect();
    let after: HashSet<&str> = altered.iter().filter_map(|a| a.1.as_deref()).collect();
    for (sign, body, paired) in [('-', &e.removed, &before), ('+', &e.added, &after)] {
        for line in body.iter().flat_map(|b| b.lines()) {
            if !paired.contains(line) {
                writeln!(out, "    {sign} {line}")?;
            }
        }
    }
    Ok(())
}

fn corpus_list(store: &Store, json: bool) -> Result<()> {
    let rows = store.corpus_imports()?;
    let mut out = Out::stdout();
    if json {
        out.json(&rows, true)?;
        out.flush()?;
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(out, "no files imported (govwatch corpus import PATH...)")?;
    }
    for c in &rows {
        writeln!(
            out,
            "{}  {:>6} words  imported {}  {}",
            c.name,
            c.words,
            c.added_at,
            c.title
                .as_deref()
                .map(|t| notify::one_line(t, 80))
                .unwrap_or_default()
        )?;
    }
    let (imports, stored) = store.corpus_counts()?;
    writeln!(
        out,
        "{imports} imported files; the corpus also holds {stored} stored documents"
    )?;
    out.flush()?;
    Ok(())
}

fn unknown_import(name: &str) -> CliError {
    CliError::Usage(format!(
        "`{name}` is not an imported file (see govwatch corpus list)"
    ))
}

fn corpus_show(store: &Store, name: &str) -> Result<()> {
    let entry = store.corpus_import(name)?.ok_or_else(|| unknown_import(name))?;
    let text = store.corpus_text(entry.id)?.unwrap_or_default();
    let mut out = Out::stdout();
    writeln!(
        out,
        "{} imported {}, {} words",
        entry.name, entry.added_at, entry.words
    )?;
    if let Some(t) = &entry.title {
        writeln!(out, "title: {}", notify::one_line(t, usize::MAX))?;
    }
    writeln!(out, "\n{text}")?;
    out.flush()?;
    Ok(())
}

/// Every name is checked before anything is removed: a typo in the list removes nothing.
fn corpus_remove(store: &mut Store, names: &[String]) -> Result<()> {
    for n in names {
        if store.corpus_import(n)?.is_none() {
            return Err(unknown_import(n));
        }
    }
    let mut out = Out::stdout();
    for n in names {
        if store.remove_corpus_import(n)? {
            writeln!(out, "removed {n}")?;
        }
    }
    out.flush()?;
    Ok(())
}

fn notify_title(e: &crate::store::EventRow) -> String {
    e.title
        .as_deref()
        .map(|t| notify::one_line(t, 100))
        .unwrap_or_else(|| "(no title)".into())
}

async fn digest(ctx: &Context, send: bool) -> Result<()> {
    let mut out = Out::stdout();
    if !send {
        let previews = notify::preview(&ctx.store, &ctx.config, &*ctx.clock).await?;
        if previews.is_empty() {
            writeln!(out, "nothing pending: every event has been mailed")?;
        }
        let from = ctx.config.email.as_ref().map(|e| &e.from);
        for (i, (to, d)) in previews.iter().enumerate() {
            if i > 0 {
                writeln!(out, "\n{}\n", "-".repeat(72))?;
            }
            write!(out, "{}", d.preview(from, to.as_deref()))?;
        }
        out.flush()?;
        return Ok(());
    }
    let report = notify::send_due(&ctx.store, &ctx.config, notify::everything(), &*ctx.clock).await?;
    // Before printing, so that a closed pipe cannot skip it.
    notify::feed::update(&ctx.store, &ctx.config).await;
    if report.sent.is_empty() && report.failed.is_empty() {
        writeln!(out, "nothing pending: every event has been mailed")?;
    }
    for d in &report.sent {
        writeln!(
            out,
            "sent {} events to {} as {}",
            d.events, d.recipient, d.message_id
        )?;
    }
    print_send_report(
        &mut out,
        &SendReport {
            sent: Vec::new(),
            failed: report.failed.clone(),
        },
    )?;
    out.flush()?;
    if let Some(f) = report.failed.first() {
        return Err(NotifyError::Smtp {
            server: f.recipient.clone(),
            reason: f.reason.clone(),
        }
        .into());
    }
    Ok(())
}

/// A watch name (its own page), a URL, or a document's title or the unique beginning of one,
/// tried in that order: a name or URL is exact, a title is what people remember.
fn resolve(store: &Store, config: &Config, target: &str) -> Result<DocumentRow> {
    let url = match config.watches.iter().find(|w| w.name == target) {
        Some(w) => w.url.to_string(),
        None => target.to_string(),
    };
    let found = match store.document_by_url(&url)? {
        Some(d) => Some(d),
        None => match url::Url::parse(&url) {
            Ok(u) => store.document_by_url(crate::discover::normalize(u).as_str())?,
            Err(_) => None,
        },
    };
    if let Some(d) = found {
        return Ok(d);
    }
    let url = resolve_title(store, target)?;
    store
        .document_by_url(&url)?
        .ok_or_else(|| CliError::Usage(format!("`{target}`: {url} is no longer stored")))
}

/// The URL of the one document whose title is `target`, or else starts with it (case and
/// runs of spaces aside). Several documents: the error lists them, so the user can pick.
fn resolve_title(store: &Store, target: &str) -> Result<String> {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let want = fold(target);
    if want.is_empty() {
        return Err(CliError::Usage(
            "name a document: a watch name, a URL or a title".into(),
        ));
    }
    let titled = store.document_titles()?;
    let exact: Vec<_> = titled.iter().filter(|d| fold(&d.title) == want).collect();
    let matches = if exact.is_empty() {
        titled
            .iter()
            .filter(|d| fold(&d.title).starts_with(&want))
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [] => Err(CliError::Usage(format!(
            "`{target}` is not a watch name, a stored URL or the beginning of a stored title"
        ))),
        [one] => Ok(one.url.clone()),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|d| format!("  {}  {}", notify::one_line(&d.title, 80), d.url))
                .collect();
            Err(CliError::Usage(format!(
                "`{target}` names {} documents; say which (by URL or more of the title):\n{}",
                many.len(),
                list.join("\n")
            )))
        }
    }
}

/// A version as `history` prints it (`v3`), or its bare number.
fn version_label(s: &str) -> Result<i64> {
    let digits = s.strip_prefix(['v', 'V']).unwrap_or(s);
    match digits.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(CliError::Usage(format!(
            "`{s}` is not a version: use a label `history` prints (v1, v2, …)"
        ))),
    }
}

fn status(store: &Store, config: &Config, names: &[String], json: bool) -> Result<()> {
    if let Some(n) = config.unknown_watch(names) {
        return Err(PipelineError::UnknownWatch(n.to_string()).into());
    }
    let hosts = store.hosts()?;
    let now = SystemClock.now();
    // The politeness gate's rows keep their times as text (see `polite`).
    let now_text = now.to_string();
    let paused = |url: &str| -> Option<String> {
        let origin = url::Url::parse(url).ok()?.origin().ascii_serialization();
        let h = hosts.iter().find(|h| h.origin == origin)?;
        h.not_before.clone().filter(|t| *t > now_text)
    };
    // Rows of watches no longer in the config are history, not status.
    let docs: Vec<DocumentRow> = store
        .all_documents()?
        .into_iter()
        .filter(|d| config.watches.iter().any(|w| w.name == d.watch))
        .filter(|d| names.is_empty() || names.contains(&d.watch))
        .collect();
    match json {
        true => status_json(&docs, &paused),
        false => status_table(&docs, &paused, now),
    }
}

/// `status --json`: one object per document.
fn status_json(docs: &[DocumentRow], paused: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let rows: Vec<_> = docs
        .iter()
        .map(|d| {
            serde_json::json!({
                "watch": d.watch,
                "role": d.role.as_str(),
                "url": d.url,
                "last_check": d.last_checked_at,
                "last_change": d.last_changed_at,
                "last_error": d.last_error,
                "failures_in_a_row": d.failures,
                "next_due": d.next_due_at,
                "host_paused_until": paused(&d.url),
            })
        })
        .collect();
    let mut out = Out::stdout();
    out.json(&rows, true)?;
    out.flush()?;
    Ok(())
}

/// `status`: one line per document, and a line under it for an error or a paused host.
fn status_table(docs: &[DocumentRow], paused: &dyn Fn(&str) -> Option<String>, now: Timestamp) -> Result<()> {
    let short = |t: &Option<Timestamp>| match t {
        // "2026-11-23T10:04:05Z" → "2026-11-23 10:04"
        Some(t) => t.to_string().get(..16).unwrap_or_default().replace('T', " "),
        None => "-".into(),
    };
    let mut out = Out::stdout();
    writeln!(
        out,
        "{:<16} {:<8} {:<16} {:<16} {:<16} URL",
        "WATCH", "ROLE", "LAST CHECK", "LAST CHANGE", "NEXT DUE"
    )?;
    for d in docs {
        let due = match &d.next_due_at {
            None => "now".into(),
            Some(t) if *t <= now => "now".into(),
            t => short(t),
        };
        writeln!(
            out,
            "{:<16} {:<8} {:<16} {:<16} {:<16} {}",
            notify::one_line(&d.watch, 16),
            d.role.as_str(),
            short(&d.last_checked_at),
            short(&d.last_changed_at),
            due,
            d.url
        )?;
        if let Some(err) = &d.last_error {
            let what = if d.failures > 0 {
                format!("failed {} in a row", d.failures)
            } else {
                "deferred".to_string()
            };
            writeln!(out, "{:<16} {what}: {}", "", notify::one_line(err, 160))?;
        }
        if let Some(until) = paused(&d.url) {
            writeln!(out, "{:<16} host paused until {until} (Retry-After)", "")?;
        }
    }
    if docs.is_empty() {
        writeln!(out, "nothing checked yet")?;
    }
    out.flush()?;
    Ok(())
}

fn history(store: &Store, config: &Config, target: &str) -> Result<()> {
    let doc = resolve(store, config, target)?;
    let versions = store.snapshots(doc.id)?;
    let mut out = Out::stdout();
    writeln!(out, "{} ({}, watch {})", doc.url, doc.role.as_str(), doc.watch)?;
    if let Some(err) = &doc.last_error {
        writeln!(out, "last check failed ({} in a row): {err}", doc.failures)?;
    }
    if versions.is_empty() {
        writeln!(out, "no versions stored yet")?;
    }
    for v in versions {
        writeln!(
            out,
            "  v{:<3} {}  {:>6} words  {}  {}",
            v.version,
            v.fetched_at,
            v.words,
            &v.text_hash[..12],
            v.title
                .as_deref()
                .map(|t| notify::one_line(t, 80))
                .unwrap_or_default()
        )?;
    }
    out.flush()?;
    Ok(())
}

fn show(store: &Store, config: &Config, target: &str, version: Option<i64>) -> Result<()> {
    let doc = resolve(store, config, target)?;
    let versions = store.snapshots(doc.id)?;
    let meta = match version {
        Some(v) => versions.iter().find(|m| m.version == v),
        None => versions.last(),
    }
    .ok_or_else(|| CliError::Usage(format!("{} has no such version stored", doc.url)))?;
    let text = store.snapshot_text(doc.id, meta.version)?.unwrap_or_default();
    let mut out = Out::stdout();
    writeln!(out, "{} v{} fetched {}", doc.url, meta.version, meta.fetched_at)?;
    if let Some(t) = &meta.title {
        // One line, so that a title cannot print a line of its own that looks like ours.
        writeln!(out, "title: {}", notify::one_line(t, usize::MAX))?;
    }
    if let Some(p) = &meta.published {
        writeln!(out, "published: {p}")?;
    }
    writeln!(out, "\n{text}")?;
    out.flush()?;
    Ok(())
}

fn diff(store: &Store, config: &Config, target: &str, from: Option<i64>, to: Option<i64>) -> Result<()> {
    let doc = resolve(store, config, target)?;
    let versions = store.snapshots(doc.id)?;
    let mut out = Out::stdout();
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(_), None) | (None, Some(_)) => {
            return Err(CliError::Usage("give both FROM and TO, or neither".into()));
        }
        (None, None) if versions.len() < 2 => {
            writeln!(
                out,
                "{}: {} version(s) stored, nothing to compare",
                doc.url,
                versions.len()
            )?;
            out.flush()?;
            return Ok(());
        }
        (None, None) => (
            versions[versions.len() - 2].version,
            versions[versions.len() - 1].version,
        ),
    };
    let text = |v: i64| -> Result<String> {
        store
            .snapshot_text(doc.id, v)?
            .ok_or_else(|| CliError::Usage(format!("{} has no version {v}", doc.url)))
    };
    let (a, b) = (text(from)?, text(to)?);
    write!(
        out,
        "{}",
        compare::diff::unified(
            &a,
            &b,
            &format!("{} v{from}", doc.url),
            &format!("{} v{to}", doc.url)
        )
    )?;
    // Sentences edited rather than replaced, word by word, as `changes` and the mail show them.
    let altered = compare::statements::classify(&compare::diff::changes(&a, &b)).altered;
    if !altered.is_empty() {
        writeln!(out, "\nwords changed:")?;
        for a in &altered {
            writeln!(out, "~ {}", a.diff)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(serde::Serialize)]
struct Extracted<'a> {
    path: &'a str,
    title: Option<String>,
    published: Option<String>,
    lang: Option<String>,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The failure as a check's metrics count it (`pdf_encrypted`, `extract`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

fn print_extracted(out: &mut Out, record: &Extracted, json: bool) -> Result<()> {
    if json {
        return Ok(out.json(record, false)?);
    }
    writeln!(out, "==> {}", record.path)?;
    if let Some(t) = &record.title {
        writeln!(out, "title: {t}")?;
    }
    if let Some(d) = &record.published {
        writeln!(out, "published: {d}")?;
    }
    if let Some(l) = &record.lang {
        writeln!(out, "lang: {l}")?;
    }
    writeln!(out, "\n{}\n", record.text)?;
    Ok(())
}

fn extract_files(files: &[PathBuf], json: bool) -> Result<()> {
    let mut out = Out::stdout();
    let mut failed = 0;
    for path in files {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| e.to_string());
        // A PDF is read as a check reads it (the default `[pdf]` limits); its failure is
        // reported with its reason, as a check's is.
        if let Ok(b) = &bytes
            && crate::pdf::is_pdf(b)
        {
            let (doc, error) = match crate::pdf::extract(b, &crate::pdf::Limits::default()) {
                Ok(doc) => (doc, None),
                Err(e) => (extract::Document::default(), Some(e)),
            };
            if let Some(e) = &error {
                failed += 1;
                term::warn(format_args!("{p}: {e}"));
            }
            let record = Extracted {
                path: &p,
                text: doc.text(),
                title: doc.title,
                published: doc.published.map(|d| d.to_string()),
                lang: doc.lang,
                reason: error.as_ref().map(|e| e.reason().as_str()),
                error: error.map(|e| e.to_string()),
            };
            print_extracted(&mut out, &record, json)?;
            continue;
        }
        let result = bytes
            .and_then(|b| decode::decode(&b, None).map_err(|e| e.to_string()))
            .map(|d| extract::extract(&d.text, None));
        // A page without article text still reports the metadata it has.
        let (doc, error) = match result {
            Ok(Ok(doc)) => (doc, None),
            Ok(Err(e)) => {
                let message = e.to_string();
                let doc = match e {
                    extract::ExtractError::NoText(doc) => *doc,
                    extract::ExtractError::TooLarge(..) => extract::Document::default(),
                };
                (doc, Some(message))
            }
            Err(e) => (extract::Document::default(), Some(e)),
        };
        if let Some(e) = &error {
            failed += 1;
            term::warn(format_args!("{p}: {e}"));
        }
        let record = Extracted {
            path: &p,
            text: doc.text(),
            title: doc.title,
            published: doc.published.map(|d| d.to_string()),
            lang: doc.lang,
            reason: error.is_some().then_some("extract"),
            error,
        };
        print_extracted(&mut out, &record, json)?;
    }
    out.flush()?;
    if failed > 0 && failed == files.len() {
        return Err(CliError::Usage(format!(
            "no text extracted from {failed} file(s)"
        )));
    }
    Ok(())
}
