//! The page templates (compiled in, HTML autoescaped: a title holding `<script>` is shown as
//! text) and the filters they use: dates in the reader's time zone, sizes, verdicts in words.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, State, Value};

use crate::timefmt::{self, DayStyle};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("index.html", include_str!("templates/index.html")),
    ("watch.html", include_str!("templates/watch.html")),
    ("document.html", include_str!("templates/document.html")),
    ("version.html", include_str!("templates/version.html")),
    ("diff.html", include_str!("templates/diff.html")),
    ("diffrows.html", include_str!("templates/diffrows.html")),
    ("event.html", include_str!("templates/event.html")),
    ("corpus.html", include_str!("templates/corpus.html")),
    ("search.html", include_str!("templates/search.html")),
    ("login.html", include_str!("templates/login.html")),
    ("error.html", include_str!("templates/error.html")),
];

/// The stylesheet: light and dark (prefers-color-scheme), narrow screens included.
pub const STYLE: &str = include_str!("templates/style.css");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .expect("the built-in page templates compile");
    }
    env.add_filter("local", local);
    env.add_filter("day", day);
    env
});

/// Renders page `name` with `ctx`.
pub fn page(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    ENV.get_template(name)?.render(ctx)
}

/// The error page; never fails (a plain page if even the template does).
pub fn error_page(status: u16, title: &str, message: &str) -> String {
    page(
        "error.html",
        minijinja::context! { status, title, message, csrf => "", user => Value::UNDEFINED },
    )
    .unwrap_or_else(|_| format!("<!doctype html><title>{status}</title><p>{status} {title}</p><p><a href=\"/\">Back to the overview</a></p>"))
}

/// A stored RFC 3339 time in the page's time zone (`tz` in the context), to the minute:
/// "2026-11-23 18:04 CST".
fn local(state: &State, ts: Option<String>) -> String {
    format_in(state, ts, "%Y-%m-%d %H:%M %Z")
}

/// The date alone, in the page's time zone: "2026-11-23".
fn day(state: &State, ts: Option<String>) -> String {
    let Some(ts) = ts else { return "–".into() };
    timefmt::day(&ts, Some(zone(state)), DayStyle::Iso).unwrap_or(ts)
}

fn format_in(state: &State, ts: Option<String>, fmt: &str) -> String {
    let Some(ts) = ts else { return "–".into() };
    match chrono::DateTime::parse_from_rfc3339(&ts) {
        Ok(t) => t.with_timezone(&zone(state)).format(fmt).to_string(),
        Err(_) => ts,
    }
}

/// The page's time zone (`tz` in the context), UTC if it has none.
fn zone(state: &State) -> chrono_tz::Tz {
    state
        .lookup("tz")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(chrono_tz::UTC)
}
