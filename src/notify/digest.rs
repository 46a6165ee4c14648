//! Building a digest from pending events, and rendering it as plain text and HTML. Pure: no I/O.
//!
//! Everything that comes from a page (titles, text, URLs) is untrusted: it is escaped in HTML,
//! and stripped of control characters before it goes near a header.

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as esc};
use lettre::Message;
use lettre::message::MultiPart;

use super::NotifyError;
use crate::config::Email;
use crate::store::{EventKind, EventRow};

/// One message's worth of events.
#[derive(Debug, Clone)]
pub struct Digest {
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    pub events: usize,
}

/// The order kinds are counted in the subject: news first.
const KINDS: [EventKind; 6] = [
    EventKind::New,
    EventKind::Revision,
    EventKind::Changed,
    EventKind::Quotes,
    EventKind::Republication,
    EventKind::Duplicate,
];

fn kind_label(kind: EventKind, n: usize) -> String {
    match kind {
        EventKind::New => format!("{n} new"),
        EventKind::Changed => format!("{n} changed"),
        EventKind::Republication if n == 1 => "1 republication".into(),
        EventKind::Republication => format!("{n} republications"),
        EventKind::Duplicate if n == 1 => "1 duplicate".into(),
        EventKind::Duplicate => format!("{n} duplicates"),
        EventKind::Revision if n == 1 => "1 revision".into(),
        EventKind::Revision => format!("{n} revisions"),
        EventKind::Quotes if n == 1 => "1 quoting".into(),
        EventKind::Quotes => format!("{n} quoting"),
    }
}

/// A page title made safe for one line: no control characters, no runs of spaces, bounded.
pub fn one_line(s: &str, max_chars: usize) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max_chars {
        let cut: String = flat.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        flat
    }
}

fn title_of(e: &EventRow) -> String {
    e.title
        .as_deref()
        .map(|t| one_line(t, 200))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| e.url.clone())
}

impl Digest {
    /// The digest for `events`, or `None` when there is nothing to say.
    pub fn build(events: &[EventRow], email: Option<&Email>) -> Option<Digest> {
        let first = events.first()?;
        let last = events.last()?;
        let counts: Vec<String> = KINDS
            .iter()
            .filter_map(|k| {
                let n = events.iter().filter(|e| e.kind == *k).count();
                (n > 0).then(|| kind_label(*k, n))
            })
            .collect();
        let lead = events.iter().find(|e| e.kind == EventKind::New).unwrap_or(first);
        let prefix = email.map_or("[govwatch]", |e| e.subject_prefix.as_str());
        let subject = one_line(
            &format!(
                "{prefix} {} — {}",
                counts.join(", "),
                one_line(&title_of(lead), 90)
            ),
            180,
        );
        let domain = email
            .and_then(|e| {
                AsRef::<str>::as_ref(&e.from.email)
                    .split('@')
                    .nth(1)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "govwatch.invalid".into());
        // The same events always make the same Message-ID, so a resend after a crash between
        // the server's acceptance and our bookkeeping can be recognised as a duplicate.
        let message_id = format!("<digest.{}-{}.{}@{}>", first.id, last.id, events.len(), domain);
        Some(Digest {
            text: render_text(events, &counts),
            html: render_html(events, &counts),
            subject,
            message_id,
            events: events.len(),
        })
    }

    /// The multipart (text + HTML) message for `email`'s recipients.
    pub fn message(&self, email: &Email) -> Result<Message, NotifyError> {
        let mut b = Message::builder()
            .from(email.from.clone())
            .subject(self.subject.clone())
            .message_id(Some(self.message_id.clone()));
        for to in &email.to {
            b = b.to(to.clone());
        }
        b.multipart(MultiPart::alternative_plain_html(
            self.text.clone(),
            self.html.clone(),
        ))
        .map_err(|e| NotifyError::Build(e.to_string()))
    }

    /// The message as `govwatch digest` prints it: headers, then the text part.
    pub fn preview(&self, email: Option<&Email>) -> String {
        let mut out = String::new();
        if let Some(e) = email {
            let to: Vec<String> = e.to.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "From: {}", e.from);
            let _ = writeln!(out, "To: {}", to.join(", "));
        }
        let _ = writeln!(out, "Subject: {}", self.subject);
        let _ = writeln!(out, "Message-ID: {}", self.message_id);
        out.push('\n');
        out.push_str(&self.text);
        out
    }
}

fn describe(e: &EventRow) -> Option<String> {
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    match (e.kind, &e.source) {
        (EventKind::Republication, Some(src)) => Some(match e.overlap {
            Some(o) => format!("Republishes {} of {src}", pct(o)),
            None => format!("Republishes {src}"),
        }),
        (EventKind::Duplicate, Some(src)) => Some(format!("Same text as {src}")),
        (EventKind::Revision, Some(src)) => Some(format!("An edited version of {src}")),
        (EventKind::Quotes, _) => {
            let quotes = e
                .details
                .as_ref()
                .and_then(|d| d.get("quotes"))
                .and_then(|q| q.as_array());
            let list: Vec<String> = quotes
                .into_iter()
                .flatten()
                .take(5)
                .filter_map(|q| {
                    Some(format!(
                        "{} of {}",
                        pct(q.get("share")?.as_f64()?),
                        q.get("source")?.as_str()?
                    ))
                })
                .collect();
            (!list.is_empty()).then(|| format!("Quotes {}", list.join("; ")))
        }
        _ => None,
    }
}

/// The lines of a change: statements altered (word diff), added and removed, positions first.
/// Each line is (sign, text, is_position). Falls back to the plain added/removed sentences.
fn change_lines(e: &EventRow) -> Vec<(char, String, bool)> {
    let st = e.details.as_ref().and_then(|d| d.get("statements"));
    let Some(st) = st else {
        let mut out = Vec::new();
        for (sign, body) in [('-', &e.removed), ('+', &e.added)] {
            out.extend(
                body.iter()
                    .flat_map(|b| b.lines())
                    .map(|l| (sign, l.to_string(), false)),
            );
        }
        return out;
    };
    let items = |key: &str| {
        st.get(key)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let flag = |v: &serde_json::Value| v.get("position").and_then(|p| p.as_bool()).unwrap_or(false);
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|t| t.as_str()).unwrap_or("").to_string();
    let mut out: Vec<(char, String, bool)> = Vec::new();
    out.extend(items("altered").iter().map(|a| ('~', text(a, "diff"), flag(a))));
    out.extend(items("added").iter().map(|a| ('+', text(a, "text"), flag(a))));
    out.extend(items("removed").iter().map(|a| ('-', text(a, "text"), flag(a))));
    out.sort_by_key(|l| !l.2);
    out
}

/// How many change lines an item shows: a new document's first position statements, or a
/// change in full up to a bound.
fn shown(e: &EventRow) -> usize {
    if e.kind == EventKind::New { 5 } else { 40 }
}

fn render_text(events: &[EventRow], counts: &[String]) -> String {
    let mut out = format!("govwatch found {}.\n", counts.join(", "));
    for (i, e) in events.iter().enumerate() {
        let _ = write!(
            out,
            "\n{}. [{}] {}\n   {}\n",
            i + 1,
            e.kind.as_str(),
            title_of(e),
            e.url
        );
        let _ = write!(out, "   watch: {} · detected {}", e.watch, e.detected_at);
        if let Some(p) = &e.published {
            let _ = write!(out, " · published {p}");
        }
        out.push('\n');
        if let Some(d) = describe(e) {
            let _ = writeln!(out, "   {d}");
        }
        let lines = change_lines(e);
        for (sign, line, position) in lines.iter().take(shown(e)) {
            let mark = if *position { "*" } else { " " };
            let _ = writeln!(out, "  {mark}{sign} {}", one_line(line, 2000));
        }
        if lines.len() > shown(e) {
            let _ = writeln!(out, "    … and {} more", lines.len() - shown(e));
        }
    }
    out.push_str("\n(* position statement; ~ altered, [-removed-]{+added+}; + added; - removed)\n");
    out.push_str("\n-- \ngovwatch: `govwatch changes` lists everything found.\n");
    out
}

fn render_html(events: &[EventRow], counts: &[String]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"color-scheme\" content=\"light dark\"></head>\n\
         <body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;line-height:1.45;max-width:760px;margin:0 auto;padding:12px\">\n",
    );
    let _ = writeln!(
        out,
        "<h2 style=\"margin:0 0 12px\">govwatch found {}</h2>",
        esc(&counts.join(", "))
    );
    for e in events {
        let _ = writeln!(
            out,
            "<div style=\"border-top:1px solid #8884;padding:10px 0\">\n\
             <div style=\"font-size:12px;text-transform:uppercase;letter-spacing:.05em;opacity:.75\">{}</div>\n\
             <div style=\"font-size:17px;font-weight:600\"><a href=\"{}\">{}</a></div>\n\
             <div style=\"font-size:13px;opacity:.75\">{} · {}{}</div>",
            esc(e.kind.as_str()),
            attr(&e.url),
            esc(&title_of(e)),
            esc(&e.watch),
            esc(&e.detected_at),
            e.published
                .as_deref()
                .map(|p| format!(" · published {}", esc(p)))
                .unwrap_or_default(),
        );
        if let Some(d) = describe(e) {
            let _ = writeln!(out, "<div style=\"margin-top:4px\">{}</div>", esc(&d));
        }
        let lines = change_lines(e);
        for (sign, line, position) in lines.iter().take(shown(e)) {
            let weight = if *position { "font-weight:600;" } else { "" };
            let (style, body) = match sign {
                '+' => ("border-left:3px solid #2e7d32;", esc(line).into_owned()),
                '-' => (
                    "border-left:3px solid #c62828;text-decoration:line-through;",
                    esc(line).into_owned(),
                ),
                _ => ("border-left:3px solid #f9a825;", inline_diff_html(line)),
            };
            let _ = writeln!(
                out,
                "<p style=\"margin:4px 0;padding:2px 8px;{style}{weight}\">{body}</p>"
            );
        }
        if lines.len() > shown(e) {
            let _ = writeln!(
                out,
                "<p style=\"opacity:.7\">… and {} more</p>",
                lines.len() - shown(e)
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// `[-old-]{+new+}` markers as coloured spans, everything escaped.
fn inline_diff_html(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        let next = [rest.find("[-"), rest.find("{+")].into_iter().flatten().min();
        let Some(i) = next else {
            out.push_str(&esc(rest));
            break;
        };
        out.push_str(&esc(&rest[..i]));
        let (close, style) = if rest[i..].starts_with("[-") {
            (
                "-]",
                "background:#f8d7da;color:#58151c;text-decoration:line-through",
            )
        } else {
            ("+}", "background:#d1e7dd;color:#0a3622")
        };
        match rest[i + 2..].find(close) {
            Some(j) => {
                let _ = write!(
                    out,
                    "<span style=\"{style}\">{}</span>",
                    esc(&rest[i + 2..i + 2 + j])
                );
                rest = &rest[i + 2 + j + 2..];
            }
            None => {
                out.push_str(&esc(&rest[i..]));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, kind: EventKind, title: &str) -> EventRow {
        EventRow {
            id,
            kind,
            url: "https://example.gov/a?x=1&y=<2>".into(),
            title: Some(title.into()),
            watch: "w".into(),
            detected_at: "2026-01-01T00:00:00Z".into(),
            notified: false,
            notified_at: None,
            source: None,
            overlap: None,
            added: Some("States <b>must</b> act.".into()),
            removed: None,
            published: None,
            relevant: true,
            significance: 0.5,
            details: None,
        }
    }

    #[test]
    fn subject_counts_and_cannot_break_headers() {
        let events = [
            ev(1, EventKind::Changed, "Old"),
            ev(2, EventKind::New, "Evil\r\nBcc: victim@example.org\r\n\r\nTitle"),
        ];
        let d = Digest::build(&events, None).unwrap();
        assert!(!d.subject.contains('\n') && !d.subject.contains('\r'));
        assert!(
            d.subject.starts_with("[govwatch] 1 new, 1 changed — Evil Bcc:"),
            "{}",
            d.subject
        );
        assert!(d.html.contains("States &lt;b&gt;must&lt;/b&gt; act."));
        assert!(
            d.html
                .contains("href=\"https://example.gov/a?x=1&amp;y=&lt;2&gt;\""),
            "{}",
            d.html
        );
        assert_eq!(d.message_id, "<digest.1-2.2@govwatch.invalid>");
    }
}
