//! `govwatch preview URL`: what govwatch would take from a URL, fetched once through the same
//! gate as a check (robots.txt, per-origin politeness, redirects hop by hop) and the same decoding
//! and extraction, with nothing stored: no database is opened or created.
//!
//! A page shows its title, date, language and extracted text; a listing (index, feed,
//! sitemap) the documents it yields, as a watch on it would follow them. The site's template,
//! which is learnt from pages stored before, is not applied: a first check would not apply it
//! either.

use std::sync::Arc;

use serde::Serialize;
use url::Url;

use super::{CliError, Out, Result};
use crate::check::parse::{self, Parsed};
use crate::config::{Config, WatchKind};
use crate::fetch::{Fetched, Fetcher, Validators, Want};
use crate::polite::{Gated, Hosts, Request};

/// What `preview --json` prints.
#[derive(Serialize)]
struct Preview {
    url: String,
    /// Where the fetch ended, after redirects.
    final_url: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    documents: Option<Vec<Document>>,
    /// The listing names more documents than `limit`: a watch follows the first `limit`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    more: bool,
}

#[derive(Serialize)]
struct Document {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lastmod: Option<String>,
    /// A child sitemap (of a sitemap index), read in turn by a sitemap watch.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    listing: bool,
}

/// The kind a URL is read as: the one asked for, else that of a watch on the URL, else a page
/// (as a watch without `kind` is).
pub fn kind_for(config: &Config, url: &Url, asked: Option<WatchKind>) -> WatchKind {
    asked
        .or_else(|| config.watches.iter().find(|w| w.url == *url).map(|w| w.kind))
        .unwrap_or(WatchKind::Page)
}

pub async fn preview(
    config: &Config,
    target: &str,
    asked: Option<WatchKind>,
    limit: usize,
    json: bool,
) -> Result<()> {
    let url = Url::parse(target.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| CliError::Usage(format!("`{target}` is not an http or https URL")))?;
    let kind = kind_for(config, &url, asked);
    let page = fetch_once(config, &url, kind).await?;
    let listing = kind.is_listing().then_some(kind);
    // One more than shown, to tell a listing that goes on from one that ends there.
    let probe = limit.saturating_add(1);
    let pdf = config.pdf.clone();
    let parsed = crate::check::cpu(move || parse::parse_as(page, listing, probe, &pdf))
        .await
        .map_err(|why| CliError::Preview(format!("{url}: cannot read it as {}: {why}", a_kind(kind))))?;
    let shown = describe(&url, kind, parsed, limit);
    let mut out = Out::stdout();
    if json {
        out.json(&shown, true)?;
    } else {
        print(&mut out, &shown)?;
    }
    out.flush()?;
    Ok(())
}

fn a_kind(kind: WatchKind) -> &'static str {
    match kind {
        WatchKind::Page => "a page",
        WatchKind::Index => "an index",
        WatchKind::Feed => "a feed",
        WatchKind::Sitemap => "a sitemap",
    }
}

/// One GET through the politeness gate, as a check makes it (robots.txt always honoured).
async fn fetch_once(config: &Config, url: &Url, kind: WatchKind) -> Result<crate::fetch::Page> {
    let fetcher = Fetcher::new(&config.fetch)?;
    let hosts = Hosts::new(&config.fetch, Vec::new());
    let slots = Arc::new(tokio::sync::Semaphore::new(1));
    let request = Request {
        url,
        validators: &Validators::default(),
        want: if kind.is_listing() {
            Want::Listing
        } else {
            Want::Page
        },
        robots: true,
    };
    let failed = |why: String| CliError::Preview(format!("{url}: {why}"));
    match hosts
        .fetch(&fetcher, request, &slots, std::future::pending())
        .await
    {
        Gated::Fetched(Fetched::Page(p), _) => Ok(p),
        Gated::Fetched(Fetched::NotModified, _) => {
            Err(failed("answered 304 Not Modified to a plain GET".into()))
        }
        Gated::Denied(why) => Err(failed(format!("not fetched: {why}"))),
        Gated::Deferred { until, why } => Err(failed(format!("not fetched: {why} (until {until})"))),
        Gated::Failed(e) => Err(failed(e.to_string())),
        Gated::Stopped => Err(failed("stopped".into())),
    }
}

fn describe(url: &Url, kind: WatchKind, p: Parsed, limit: usize) -> Preview {
    let listing = kind.is_listing();
    let more = listing && p.links.len() > limit;
    Preview {
        url: url.to_string(),
        final_url: p.page.url.to_string(),
        kind: kind.as_str(),
        title: p.title,
        published: p.published,
        lang: p.lang,
        text: (!listing).then(|| p.blocks.join("\n\n")),
        documents: listing.then(|| {
            p.links
                .into_iter()
                .take(limit)
                .map(|l| Document {
                    url: l.url.to_string(),
                    title: l.title,
                    lastmod: l.lastmod,
                    listing: l.listing,
                })
                .collect()
        }),
        more,
    }
}

fn print(out: &mut Out, p: &Preview) -> std::io::Result<()> {
    writeln!(out, "{} ({})", p.url, p.kind)?;
    if p.final_url != p.url {
        writeln!(out, "redirected to {}", p.final_url)?;
    }
    let none = || "(none found)".to_string();
    if let Some(docs) = &p.documents {
        let s = if docs.len() == 1 { "" } else { "s" };
        let more = if p.more {
            " (and more: a watch follows these first)"
        } else {
            ""
        };
        writeln!(out, "{} document{s}{more}", docs.len())?;
        for d in docs {
            let title = d.title.as_deref().map(|t| crate::notify::one_line(t, 200));
            let what = if d.listing { " [sitemap]" } else { "" };
            let date = d.lastmod.as_deref().map(|m| format!("  {m}")).unwrap_or_default();
            writeln!(
                out,
                "- {}{what}{date}\n  {}",
                title.unwrap_or_else(|| "(no title)".into()),
                d.url
            )?;
        }
        return Ok(());
    }
    writeln!(out, "title: {}", p.title.clone().unwrap_or_else(none))?;
    writeln!(out, "date: {}", p.published.clone().unwrap_or_else(none))?;
    writeln!(out, "language: {}", p.lang.clone().unwrap_or_else(none))?;
    let text = p.text.as_deref().unwrap_or("");
    writeln!(out, "words: {}\n", text.split_whitespace().count())?;
    writeln!(out, "{text}")
}
