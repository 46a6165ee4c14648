//! Where log lines go and how they look: journald-friendly lines under systemd, a readable
//! format elsewhere, and the level from the config unless `RUST_LOG` says otherwise.
//!
//! Logging starts before the config is read (so config errors are logged too), at the default
//! level; [`apply_config`] then sets the configured level, and again after each SIGHUP reload.

use std::io::IsTerminal as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::io::AsFd as _;
use std::sync::OnceLock;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Compact, Format, Writer};
use tracing_subscriber::fmt::{self, FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry, reload};

use crate::config;

/// Set only when `RUST_LOG` is not: then, and only then, the config decides the level.
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// govwatch at `level`, everything it depends on at `warn`: a library's info lines are noise
/// in a service log.
fn directives(level: Level) -> String {
    format!("warn,govwatch={}", level.as_str().to_ascii_lowercase())
}

/// Installs the global subscriber on stderr. Call once, first thing.
pub fn init() {
    let env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let (filter, from_env) = match env.as_deref().map(EnvFilter::try_new) {
        Some(Ok(f)) => (f, true),
        Some(Err(e)) => {
            // Logging is not up yet, so say it plainly; a typo in RUST_LOG must not go unseen.
            eprintln!("warning: RUST_LOG is not a valid filter ({e}); using the config's level");
            (EnvFilter::new(directives(Level::INFO)), false)
        }
        None => (EnvFilter::new(directives(Level::INFO)), false),
    };
    let (filter, handle) = reload::Layer::new(filter);
    if !from_env {
        let _ = FILTER.set(handle);
    }
    let output = if under_journald() {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(JournalFormat::default())
            .boxed()
    } else {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init();
}

/// Applies the config's `[log] level`, unless `RUST_LOG` was set (it wins).
pub fn apply_config(log: &config::Log) {
    if let Some(handle) = FILTER.get() {
        let _ = handle.reload(EnvFilter::new(directives(log.level)));
    }
}

/// True when stderr is the journal stream systemd connected, as `$JOURNAL_STREAM` (`dev:inode`)
/// says. Comparing with stderr itself, not just seeing the variable, matters: a service that
/// runs `govwatch check` in a terminal of its own inherits the variable but not the stream.
pub fn under_journald() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// One line per event, no timestamp (the journal stamps every line) and no colour, prefixed
/// with the syslog priority `<N>` that journald turns into the entry's PRIORITY, so
/// `journalctl -p warning` works. Fields stay `key=value` (`watch=`, `url=`, `outcome=`).
struct JournalFormat(Format<Compact, ()>);

impl Default for JournalFormat {
    fn default() -> Self {
        JournalFormat(
            fmt::format()
                .compact()
                .without_time()
                .with_ansi(false)
                .with_target(false),
        )
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}
