//! The pages and forms, one handler each: read what the page shows (on a blocking thread, see
//! [`Web::read`]), shape it ([`super::view`]) and render it ([`super::render`]). An id that does
//! not exist, or is not a number, is a 404 page with a way back.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Extension, Form, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::{self, Reader};
use super::view::{self, CONTEXT};
use super::{Web, WebError, render};
use crate::compare::sections::Headings;
use crate::model::{EventKind, Timestamp};
use crate::store::{SearchFilter, Store};

type Page = Result<Response, WebError>;

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/", get(index))
        .route("/style.css", get(style))
        .route("/watch/{name}", get(watch))
        .route("/doc/{id}", get(document))
        .route("/doc/{id}/v/{version}", get(version))
        .route("/doc/{id}/diff", get(diff))
        .route("/event/{id}", get(event))
        .route("/event/{id}/triage", post(triage))
        .route("/corpus/{id}", get(corpus))
        .route("/search", get(search))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .fallback(not_found)
}

/// Items on a page of a list.
const PER_PAGE: usize = 50;
/// Documents found on a page of search results.
const HITS_PER_PAGE: usize = 20;

fn html(name: &str, web: &Web, reader: &Reader, ctx: Value) -> Page {
    let config = web.config();
    let ctx = context! {
        tz => config.http.timezone.name(),
        user => reader.user,
        csrf => reader.csrf,
        ..ctx
    };
    Ok(Html(render::page(name, ctx)?).into_response())
}

fn id(s: &str, what: &str) -> Result<i64, WebError> {
    s.trim_start_matches(['v', 'V'])
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| WebError::NotFound(format!("There is no {what} {s}.")))
}

/// Which page of a list, and the links around it.
#[derive(serde::Serialize)]
struct Pager {
    page: usize,
    pages: usize,
    total: usize,
}

impl Pager {
    fn new(page: Option<usize>, total: usize, per: usize) -> Pager {
        let pages = total.div_ceil(per).max(1);
        Pager {
            page: page.unwrap_or(1).clamp(1, pages),
            pages,
            total,
        }
    }

    fn offset(&self, per: usize) -> usize {
        (self.page - 1) * per
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    page: Option<String>,
}

fn page_number(p: &Option<String>) -> Option<usize> {
    p.as_deref().and_then(|p| p.parse().ok())
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], render::STYLE).into_response()
}

async fn not_found() -> WebError {
    WebError::NotFound("There is no such page.".into())
}

async fn index(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Query(q): Query<PageQuery>,
) -> Page {
    let config = web.config();
    let urls: Vec<(String, String)> = config
        .watches
        .iter()
        .map(|w| (w.name.clone(), w.url.to_string()))
        .collect();
    let page = page_number(&q.page);
    let (watches, counts, events, pager, unreviewed) = web
        .read(move |s| {
            let counts = s.watch_counts()?;
            let mut watches = Vec::new();
            for (name, url) in &urls {
                watches.push((name.clone(), s.web_document_by_url(url)?));
            }
            let (total, unreviewed) = s.event_counts()?;
            let pager = Pager::new(page, total as usize, PER_PAGE);
            let events = s.triage_events(pager.offset(PER_PAGE), PER_PAGE)?;
            Ok((watches, counts, events, pager, unreviewed))
        })
        .await?;
    let now = crate::timefmt::now();
    let rows: Vec<Value> = config
        .watches
        .iter()
        .zip(watches)
        .map(|(w, (_, doc))| {
            let c = counts.get(&w.name).copied().unwrap_or_default();
            let due_now = doc
                .as_ref()
                .is_none_or(|d| d.next_due_at.as_ref().is_none_or(|t| *t <= now));
            context! {
                name => w.name, url => w.url.as_str(), kind => w.kind.as_str(),
                every => humantime::format_duration(w.every).to_string(),
                doc => doc, documents => c.documents, failing => c.failing, due_now,
            }
        })
        .collect();
    html(
        "index.html",
        &web,
        &reader,
        context! { watches => rows, events, pager, unreviewed },
    )
}

async fn watch(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Page {
    let config = web.config();
    let configured = config.watches.iter().find(|w| w.name == name).cloned();
    let page = page_number(&q.page);
    let w = name.clone();
    let (docs, pager, own) = web
        .read(move |s| {
            let total = s.watch_document_count(&w)?;
            let pager = Pager::new(page, total as usize, PER_PAGE);
            let (docs, _) = s.watch_documents(&w, pager.offset(PER_PAGE), PER_PAGE)?;
            let own = match &configured {
                Some(c) => s.web_document_by_url(c.url.as_str())?,
                None => None,
            };
            Ok((docs, pager, own))
        })
        .await?;
    let configured = config.watches.iter().find(|w| w.name == name);
    if configured.is_none() && pager.total == 0 {
        return Err(WebError::NotFound(format!("There is no watch named “{name}”.")));
    }
    html(
        "watch.html",
        &web,
        &reader,
        context! {
            name, url => configured.map(|w| w.url.to_string()), kind => configured.map(|w| w.kind.as_str()),
            own, docs, pager,
        },
    )
}

async fn document(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Path(raw): Path<String>,
    Query(q): Query<PageQuery>,
) -> Page {
    let doc_id = id(&raw, "document")?;
    let page = page_number(&q.page);
    let (doc, versions, pager) = web
        .read(move |s| {
            let Some(doc) = s.web_document(doc_id)? else {
                return Err(WebError::NotFound(format!("There is no document {doc_id}.")));
            };
            let pager = Pager::new(page, doc.versions as usize, PER_PAGE);
            let versions = s.document_versions(doc_id, pager.offset(PER_PAGE), PER_PAGE)?;
            Ok((doc, versions, pager))
        })
        .await?;
    html("document.html", &web, &reader, context! { doc, versions, pager })
}

/// A document and one of its versions with its text, or a 404.
fn load_version(
    s: &Store,
    doc_id: i64,
    v: i64,
) -> Result<(crate::store::WebDocument, crate::store::SnapshotMeta, String), WebError> {
    let Some(doc) = s.web_document(doc_id)? else {
        return Err(WebError::NotFound(format!("There is no document {doc_id}.")));
    };
    let Some((meta, text)) = s.version(doc_id, v)? else {
        return Err(WebError::NotFound(format!(
            "Document {doc_id} has no version v{v}."
        )));
    };
    Ok((doc, meta, text))
}

/// The section headings of the pages versions `snapshot_ids` of the document at `url` were read
/// from (their stored text does not mark them), as the check that compared them had them.
fn page_headings(s: &Store, url: &str, snapshot_ids: &[i64]) -> Headings {
    let Ok(url) = url::Url::parse(url) else {
        return Headings::default();
    };
    let mut found = Headings::default();
    for &id in snapshot_ids {
        let body = s.snapshot_body(id).ok().flatten();
        let headings = body
            .and_then(|b| {
                Some(crate::check::parse::headings_of(
                    &b.bytes()?,
                    b.content_type.as_deref(),
                    &url,
                ))
            })
            .unwrap_or_default();
        found = found.union(&Headings::new(headings.iter().map(String::as_str)));
    }
    found
}

/// A text as paragraphs, for the templates.
fn paragraphs(text: &str) -> Vec<&str> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

async fn version(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Path((raw, rawv)): Path<(String, String)>,
) -> Page {
    let (doc_id, v) = (id(&raw, "document")?, id(&rawv, "version")?);
    let (doc, meta, text) = web.read(move |s| load_version(s, doc_id, v)).await?;
    let paras = paragraphs(&text);
    html("version.html", &web, &reader, context! { doc, meta, paras })
}

#[derive(Deserialize, Default)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
    view: Option<String>,
    full: Option<String>,
}

async fn diff(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Path(raw): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Page {
    let doc_id = id(&raw, "document")?;
    let blank = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let to = blank(&q.to).map(|t| id(&t, "version")).transpose()?;
    let from = blank(&q.from).map(|f| id(&f, "version")).transpose()?;
    let full = q.full.as_deref().is_some_and(|f| f == "1" || f == "on");
    let side = q.view.as_deref() == Some("side");
    let context = (!full).then_some(CONTEXT);
    let (doc, a, b, diff) = web
        .read(move |s| {
            let Some(doc) = s.web_document(doc_id)? else {
                return Err(WebError::NotFound(format!("There is no document {doc_id}.")));
            };
            let to = to.unwrap_or(doc.versions);
            let from = from.unwrap_or((to - 1).max(1));
            let (_, a, old) = load_version(s, doc_id, from)?;
            let (_, b, new) = load_version(s, doc_id, to)?;
            // Next versions: the later one's event says where each change stands.
            let recorded = match a.version + 1 == b.version {
                true => view::Recorded::of(s.changed_details(b.id)?.as_ref()),
                false => view::Recorded::default(),
            };
            let mut diff = view::diff_view(&old, &new, context);
            diff.place(&recorded, &old, &new, || {
                page_headings(s, &doc.url, &[a.id, b.id])
            });
            Ok((doc, a, b, diff))
        })
        .await?;
    html(
        "diff.html",
        &web,
        &reader,
        context! { doc, a, b, diff, side, full, view => if side { "side" } else { "inline" } },
    )
}

/// A source an event cites, resolved to something the page can show and link to.
#[derive(serde::Serialize)]
struct Source {
    name: String,
    share: Option<f64>,
    /// A stored document's id and version, or an imported file's id: what the page links to.
    link: Option<SourceLink>,
    label: String,
    event_paras: Vec<view::MarkedParagraph>,
    source_paras: Vec<view::MarkedParagraph>,
    shared_event: usize,
    shared_source: usize,
}

/// A source found: where to link, its label, its text.
type FoundSource = (SourceLink, String, String);

#[derive(serde::Serialize, Clone, Copy)]
struct SourceLink {
    doc: Option<i64>,
    version: Option<i64>,
    corpus: Option<i64>,
}

/// The text of source `name` as it stood at `at` (a stored document's version then, or the
/// version the event names), or an imported corpus file's text.
fn source_text(
    s: &Store,
    name: &str,
    at: &str,
    version: Option<i64>,
) -> Result<Option<FoundSource>, WebError> {
    if let Some(d) = s.web_document_by_url(name)? {
        let v = match version {
            Some(v) => Some(v),
            None => s.version_at(d.id, at)?.or(Some(d.versions).filter(|v| *v > 0)),
        };
        if let Some(v) = v
            && let Some((_, text)) = s.version(d.id, v)?
        {
            let link = SourceLink {
                doc: Some(d.id),
                version: Some(v),
                corpus: None,
            };
            return Ok(Some((link, format!("{name} v{v}"), text)));
        }
        return Ok(None);
    }
    if let Some(cid) = s.corpus_import_id(name)?
        && let Some((_, _, text)) = s.corpus_file(cid)?
    {
        let link = SourceLink {
            doc: None,
            version: None,
            corpus: Some(cid),
        };
        return Ok(Some((link, format!("{name} (imported file)"), text)));
    }
    Ok(None)
}

/// Everything an event page shows, read in one go.
struct EventData {
    ev: crate::store::WebEvent,
    row: crate::store::EventRow,
    deliveries: Vec<crate::store::EventDelivery>,
    text: Option<String>,
    diff: Option<view::DiffView>,
    sources: Vec<(String, Option<f64>, Option<FoundSource>)>,
}

fn event_data(s: &Store, id: i64) -> Result<EventData, WebError> {
    let missing = || WebError::NotFound(format!("There is no event {id}."));
    let ev = s.web_event(id)?.ok_or_else(missing)?;
    let row = s.events_by_ids(&[id])?.into_iter().next().ok_or_else(missing)?;
    let deliveries = s.deliveries_of_events(&[id])?.remove(&id).unwrap_or_default();
    let version = match ev.version {
        Some(v) => s.version(ev.document_id, v)?,
        None => None,
    };
    let previous = match (ev.kind, ev.version) {
        (EventKind::Changed, Some(v)) if v > 1 => s.version(ev.document_id, v - 1)?,
        _ => None,
    };
    // A change's diff, its changes placed where the event placed them.
    let diff = match (&previous, &version) {
        (Some((pm, p)), Some((vm, t))) => {
            let mut d = view::diff_view(p, t, Some(CONTEXT));
            let recorded = view::Recorded::of(row.details.as_ref());
            d.place(&recorded, p, t, || page_headings(s, &ev.url, &[pm.id, vm.id]));
            Some(d)
        }
        _ => None,
    };
    let text = version.map(|(_, t)| t);
    let details = row.details.clone().unwrap_or_default();
    let source_version = details.get("source_version").and_then(|v| v.as_i64());
    let mut named: Vec<(String, Option<f64>)> = details
        .get("quotes")
        .and_then(|q| q.as_array())
        .map(|q| {
            q.iter()
                .filter_map(|x| {
                    Some((
                        x.get("source")?.as_str()?.to_string(),
                        x.get("share").and_then(|s| s.as_f64()),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if named.is_empty()
        && let Some(src) = &row.source
    {
        named.push((src.clone(), row.overlap));
    }
    let mut sources = Vec::new();
    // A few at most: each is shown whole beside the event's text.
    for (name, share) in named.into_iter().take(3) {
        let found = source_text(s, &name, &row.detected_at.to_string(), source_version)?;
        sources.push((name, share, found));
    }
    Ok(EventData {
        ev,
        row,
        deliveries,
        text,
        diff,
        sources,
    })
}

/// The verdict of an event, in words.
fn verdict(kind: EventKind, share: Option<f64>, sources: usize) -> String {
    let pct = share
        .map(|s| format!("{:.0}%", s * 100.0))
        .unwrap_or_else(|| "most".into());
    match kind {
        EventKind::New => "A document not seen before, whose text is not known.".into(),
        EventKind::Changed => "A new version of a document already stored: its text changed.".into(),
        EventKind::Republication => format!("A new document reproducing {pct} of a known document."),
        EventKind::Duplicate => "A new document whose text is already known: it is a copy.".into(),
        EventKind::Quotes => format!(
            "A new document quoting passages of {sources} known document{}.",
            if sources == 1 { "" } else { "s" }
        ),
        EventKind::Revision => format!("A known document, edited (the texts are {pct} alike)."),
        EventKind::Removed => {
            "A stored document that is gone: it no longer answers, or left its listing.".into()
        }
        EventKind::Failing => "A watch whose checks have been failing for a while.".into(),
        EventKind::Recovered => "A watch that had been failing answers again.".into(),
    }
}

async fn event(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Path(raw): Path<String>,
) -> Page {
    let event_id = id(&raw, "event")?;
    let d = web.read(move |s| event_data(s, event_id)).await?;
    let verdict = verdict(d.ev.kind, d.row.overlap, d.sources.len());
    let (text, diff, found) = (d.text.clone(), d.diff, d.sources);
    let sources = tokio::task::spawn_blocking(move || {
        found
            .into_iter()
            .map(|(name, share, found)| match (found, &text) {
                (Some((link, label, source)), Some(t)) => {
                    let (event_paras, source_paras, shared_event, shared_source) =
                        view::shared_passages(t, &source);
                    Source {
                        name,
                        share,
                        link: Some(link),
                        label,
                        event_paras,
                        source_paras,
                        shared_event,
                        shared_source,
                    }
                }
                _ => Source {
                    label: name.clone(),
                    name,
                    share,
                    link: None,
                    event_paras: Vec::new(),
                    source_paras: Vec::new(),
                    shared_event: 0,
                    shared_source: 0,
                },
            })
            .collect::<Vec<Source>>()
    })
    .await
    .map_err(|e| WebError::Forbidden(format!("event page failed: {e}")))?;
    let details = d.row.details.clone().unwrap_or_default();
    let statements = details.get("statements").cloned();
    // Altered statements with their word runs split per side, for the side-by-side view.
    let altered: Vec<Value> = view::altered(d.row.details.as_ref())
        .into_iter()
        .map(|runs| context! { old => view::side(&runs, false), new => view::side(&runs, true), runs })
        .collect();
    let topics = details.get("topics").cloned();
    html(
        "event.html",
        &web,
        &reader,
        context! {
            ev => d.ev, row => d.row, deliveries => d.deliveries, verdict, diff, sources, statements,
            altered, topics, public_link => web.config().http.event_url(event_id),
        },
    )
}

#[derive(Deserialize)]
struct TriageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    back: Option<String>,
}

async fn triage(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Path(raw): Path<String>,
    Form(f): Form<TriageForm>,
) -> Page {
    reader.check_csrf(&f.csrf)?;
    let event_id = id(&raw, "event")?;
    let now = Timestamp::from_datetime(time::OffsetDateTime::now_utc());
    let action = f.action.clone();
    let found = web
        .writer
        .run(move |s| match action.as_str() {
            "reviewed" => s.set_reviewed(event_id, true, now),
            "unreviewed" => s.set_reviewed(event_id, false, now),
            "important" => s.set_important(event_id, true),
            "unimportant" => s.set_important(event_id, false),
            _ => Ok(true),
        })
        .await?;
    if !found {
        return Err(WebError::NotFound(format!("There is no event {event_id}.")));
    }
    let back = auth::local_path(f.back.as_deref().or(Some(&format!("/event/{event_id}"))));
    Ok(Redirect::to(&back).into_response())
}

async fn corpus(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Path(raw): Path<String>,
) -> Page {
    let cid = id(&raw, "corpus file")?;
    let (name, title, text) = web
        .read(move |s| {
            s.corpus_file(cid)?
                .ok_or_else(|| WebError::NotFound(format!("There is no corpus file {cid}.")))
        })
        .await?;
    let paras = paragraphs(&text);
    html("corpus.html", &web, &reader, context! { name, title, paras })
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    q: Option<String>,
    watch: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

/// The kinds a search can be narrowed to.
const SEARCH_KINDS: &[&str] = &[
    "version",
    "corpus",
    "new",
    "changed",
    "republication",
    "duplicate",
    "quotes",
    "revision",
];

/// A date typed in the form (YYYY-MM-DD, in the reader's zone), as the stored UTC time its day
/// starts at, `days` days later.
fn day_start(s: &str, tz: chrono_tz::Tz, days: i64) -> Option<String> {
    use chrono::TimeZone;
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    let d = d.checked_add_signed(chrono::TimeDelta::try_days(days)?)?;
    let t = tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).earliest()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

async fn search(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Query(q): Query<SearchQuery>,
) -> Page {
    let config = web.config();
    let text = q.q.clone().unwrap_or_default();
    let (phrase, cut) = crate::store::phrase(&text);
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let tz = config.http.timezone;
    let mut notes: Vec<String> = Vec::new();
    let mut date = |s: &Option<String>, days: i64, key: &str| match nonempty(s) {
        Some(d) => day_start(&d, tz, days).or_else(|| {
            notes.push(format!(
                "“{d}” is not a date (YYYY-MM-DD); the {key} date was left out."
            ));
            None
        }),
        None => None,
    };
    let filter = SearchFilter {
        watch: nonempty(&q.watch),
        kind: nonempty(&q.kind).filter(|k| SEARCH_KINDS.contains(&k.as_str())),
        from: date(&q.from, 0, "from"),
        until: date(&q.to, 1, "to"),
    };
    if cut {
        notes.push(format!(
            "The query was cut to its first {} characters.",
            crate::store::MAX_QUERY_CHARS
        ));
    }
    let page = page_number(&q.page);
    let needle = text.clone();
    let (hits, pager, capped) = web
        .read(move |s| {
            let found = s.search(&phrase, &filter)?;
            let pager = Pager::new(page, found.hits.len(), HITS_PER_PAGE);
            let start = pager.offset(HITS_PER_PAGE).min(found.hits.len());
            let end = (start + HITS_PER_PAGE).min(found.hits.len());
            let mut hits = Vec::new();
            for h in &s.search_hits(&found.hits[start..end])? {
                let body = match (h.document_id, h.version, h.corpus_id) {
                    (Some(d), Some(v), _) => s.version(d, v)?.map(|(_, t)| t),
                    (_, _, Some(c)) => s.corpus_file(c)?.map(|(_, _, t)| t),
                    _ => None,
                };
                let snippet = body.map(|b| view::snippet(&b, &needle)).unwrap_or_default();
                hits.push(context! { hit => h, snippet });
            }
            Ok((hits, pager, found.capped))
        })
        .await?;
    let watches: Vec<&str> = config.watches.iter().map(|w| w.name.as_str()).collect();
    html(
        "search.html",
        &web,
        &reader,
        context! {
            q => text.trim(), watch => q.watch, kind => q.kind, from => q.from, to => q.to,
            hits, pager, capped, notes, watches, kinds => SEARCH_KINDS,
            searched => !text.trim().is_empty(),
        },
    )
}

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Query(q): Query<NextQuery>,
) -> Page {
    let next = auth::local_path(q.next.as_deref());
    html(
        "login.html",
        &web,
        &reader,
        context! { next, error => Value::UNDEFINED, needed => web.config().http.needs_login() },
    )
}

async fn login(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<auth::LoginForm>,
) -> Page {
    let next = auth::local_path(Some(form.next()));
    match auth::login(&web, &reader, peer, form).await? {
        Ok(resp) => Ok(resp),
        Err(error) => {
            let mut resp = html(
                "login.html",
                &web,
                &reader,
                context! { next, error, needed => true },
            )?;
            *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(resp)
        }
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(web): State<Arc<Web>>,
    Extension(reader): Extension<Reader>,
    Form(f): Form<LogoutForm>,
) -> Page {
    auth::logout(&web, &reader, &f.csrf)
}
