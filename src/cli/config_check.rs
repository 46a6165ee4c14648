//! `govwatch config check`: the config validated as `run` needs it, and what would be watched
//! and mailed.

use super::{Out, Result};
use crate::config::{Config, WatchKind};
use crate::notify;

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
    out.flush()?;
    Ok(())
}
