//! `govwatch config check`: the config validated as `run` needs it, what would be watched and
//! mailed, and how its watches differ from those of the other nodes running on its database.

use super::{Out, Result, term};
use crate::config::{Config, WatchKind};
use crate::model::{Clock, SystemClock};
use crate::notify;
use crate::store::{Store, differences, node_watches};

/// Validates what `run` needs, the watches included: a config `run` would refuse is not ok.
pub(super) fn config_check(config: &Config) -> Result<()> {
    config.require_watches()?;
    let mut out = Out::stdout();
    writeln!(out, "{}: ok", config.source.display())?;
    match &config.storage.postgres {
        Some(url) => writeln!(out, "database: {url} (PostgreSQL)")?,
        None => writeln!(out, "database: {}", config.storage.path.display())?,
    }
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
    other_nodes(config, &mut out)?;
    out.flush()?;
    Ok(())
}

/// The other nodes live on this config's database, and a warning on standard error for each
/// watch this config and theirs differ on (only here, only there, set differently). The check
/// still passes: nodes may watch different things (one node per region, say), and while a
/// config change is rolled out node by node the configs differ for a while; a failing check
/// would refuse the first node's install (deploy/install.sh runs it). But whoever runs them
/// should know: a watch set differently is fetched and judged by whichever node claims its
/// documents. A database that cannot be read is said too, and fails nothing: the config is what
/// is checked here.
fn other_nodes(config: &Config, out: &mut Out) -> Result<()> {
    let me = &config.daemon.node;
    if config.storage.postgres.is_none() && !config.storage.path.exists() {
        writeln!(out, "other nodes: none (no database yet)")?;
        return Ok(());
    }
    let nodes = match Store::open_reader(&config.storage).and_then(|s| s.live_nodes(SystemClock.now())) {
        Ok(nodes) => nodes,
        Err(e) => {
            writeln!(out, "other nodes: not known ({e})")?;
            return Ok(());
        }
    };
    let others: Vec<&str> = nodes
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| n != me)
        .collect();
    if others.is_empty() {
        writeln!(
            out,
            "other nodes: none running on this database (this is node {me})"
        )?;
        return Ok(());
    }
    let found = differences(me, &node_watches(config), &nodes);
    writeln!(
        out,
        "other nodes: {} (this is node {me}); {}",
        others.join(", "),
        match found.len() {
            0 => "their watches are the same as this config's".to_string(),
            n => format!("{n} differences with this config's watches"),
        }
    )?;
    // What went before first, so that the warnings come after it on a terminal.
    out.flush()?;
    for d in &found {
        term::warn(format_args!("warning: {d}"));
    }
    Ok(())
}
