//! `govwatch run` and `govwatch check`: the context a pass runs in (config, store, fetcher,
//! politeness gate, clock), built once per process, and what `check` prints after its pass.

use std::path::Path;
use std::sync::Arc;

use super::mail::print_send_report;
use super::{Out, Result, open_store};
use crate::config::Config;
use crate::corpus_import;
use crate::fetch::Fetcher;
use crate::model::{Clock, SystemClock};
use crate::notify::{self, NotifyError};
use crate::pipeline::{self, Context, Selection, StopFlag};
use crate::polite::Hosts;
use crate::store::StoreHandle;

pub(super) fn context(config_path: &Path) -> Result<Context> {
    context_for(Config::load(config_path)?)
}

/// For `run` and `check`, which have nothing to do without a watch: said before the database is
/// opened or created.
pub(super) fn context_with_watches(config_path: &Path) -> Result<Context> {
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
        unreleased: Default::default(),
        passes: Default::default(),
    })
}

pub(super) async fn check(ctx: &Context, sel: Selection) -> Result<()> {
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
