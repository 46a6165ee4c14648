//! The Atom feed of changes: the newest relevant events as entries, for feed readers, each with
//! its change lines as a mail shows them (word runs as `<del>`/`<ins>`, section headings).
//! `govwatch feed` prints it or writes it; with `[feed] path` the daemon rewrites the file after
//! every pass, atomically (a temporary file renamed over it), so a reader never sees half a feed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as esc};

use super::NotifyError;
use super::digest::one_line;
use crate::config::Feed;
use crate::store::EventRow;

/// Text safe for XML 1.0: the characters it forbids (most C0 controls) are dropped.
fn xml_text(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || !c.is_control() || *c as u32 >= 0x80)
        .filter(|c| !matches!(*c as u32, 0x80..=0x9F | 0xFFFE | 0xFFFF))
        .collect();
    esc(&clean).into_owned()
}

/// The feed for `events` (newest first), as Atom XML.
pub fn atom(events: &[EventRow], feed: &Feed) -> String {
    let updated = events.first().map_or_else(
        || "1970-01-01T00:00:00Z".to_string(),
        |e| e.detected_at.to_string(),
    );
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    let _ = writeln!(out, "  <title>govwatch: changes</title>");
    let _ = writeln!(out, "  <id>{}</id>", xml_text(&feed.link));
    let _ = writeln!(out, "  <updated>{}</updated>", xml_text(&updated));
    let _ = writeln!(
        out,
        "  <generator>govwatch {}</generator>",
        env!("CARGO_PKG_VERSION")
    );
    for e in events {
        let title = e
            .title
            .as_deref()
            .map(|t| one_line(t, 200))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| one_line(&e.url, 200));
        let mut summary = format!("{}: {}", e.kind.as_str(), title);
        if let Some(src) = &e.source {
            summary.push_str(&format!(" (source: {})", one_line(src, 300)));
        }
        for (sign, body) in [('+', &e.added), ('-', &e.removed)] {
            for l in body.iter().flat_map(|b| b.lines()).take(10) {
                summary.push_str(&format!("\n{sign} {}", one_line(l, 1000)));
            }
        }
        out.push_str("  <entry>\n");
        let _ = writeln!(out, "    <id>urn:govwatch:event:{}</id>", e.id);
        let _ = writeln!(
            out,
            "    <title>[{}] {}</title>",
            e.kind.as_str(),
            xml_text(&title)
        );
        let _ = writeln!(
            out,
            "    <updated>{}</updated>",
            xml_text(&e.detected_at.to_string())
        );
        if let Ok(u) = url::Url::parse(&e.url)
            && matches!(u.scheme(), "http" | "https")
        {
            let _ = writeln!(out, "    <link rel=\"alternate\" href=\"{}\"/>", attr(u.as_str()));
        }
        let _ = writeln!(out, "    <author><name>{}</name></author>", xml_text(&e.watch));
        let _ = writeln!(out, "    <category term=\"{}\"/>", e.kind.as_str());
        let _ = writeln!(out, "    <summary type=\"text\">{}</summary>", xml_text(&summary));
        out.push_str(&content(e));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// An entry's change lines as XHTML, as a mail shows them: "§" section labels, altered
/// statements as aligned word runs (`<del>` and `<ins>`), added ones in `<ins>`, removed ones
/// in `<del>`. Empty for an event without lines.
fn content(e: &EventRow) -> String {
    let (lines, more) = super::digest::shown_lines(e);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("    <content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">\n");
    for l in &lines {
        if let Some(s) = &l.section {
            let _ = writeln!(out, "      <h4>§ {}</h4>", xml_text(s));
        }
        let body: String = match l.sign {
            '+' => format!("<ins>{}</ins>", xml_text(&l.text)),
            '-' => format!("<del>{}</del>", xml_text(&l.text)),
            _ => l
                .segments
                .iter()
                .map(|s| match s.op {
                    "del" => format!("<del>{}</del>", xml_text(&s.text)),
                    "ins" => format!("<ins>{}</ins>", xml_text(&s.text)),
                    _ => xml_text(&s.text),
                })
                .collect(),
        };
        let body = if l.position {
            format!("<strong>{body}</strong>")
        } else {
            body
        };
        let _ = writeln!(out, "      <p>{} {body}</p>", l.sign);
    }
    if more > 0 {
        let s = if more == 1 { "" } else { "s" };
        let _ = writeln!(out, "      <p>… and {more} more line{s}</p>");
    }
    out.push_str("    </div></content>\n");
    out
}

/// Writes `text` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), NotifyError> {
    let fail = |source| NotifyError::Feed {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().map_or("feed".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Rewrites `[feed] path`, if configured. A feed that cannot be written is logged, not fatal:
/// the events are in the database and the next pass writes it again.
pub async fn update(store: &crate::store::StoreHandle, config: &crate::config::Config) {
    let Some(path) = config.feed.path.clone() else {
        return;
    };
    let max = config.feed.max_entries;
    match store.run(move |s| s.recent_relevant_events(max)).await {
        Ok(events) => {
            if let Err(e) = write_atomically(&path, &atom(&events, &config.feed)) {
                tracing::warn!(error = %e, "feed not written");
            }
        }
        Err(e) => tracing::warn!(error = %e, "feed not written"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventKind;

    #[test]
    fn entries_are_escaped_and_only_http_links_kept() {
        let e = EventRow {
            id: 7,
            kind: EventKind::New,
            url: "javascript:alert(1)".into(),
            title: Some("A <b>bold</b> & \u{1} title".into()),
            watch: "w".into(),
            detected_at: crate::model::Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            notified: false,
            notified_at: None,
            source: None,
            source_title: None,
            overlap: None,
            added: None,
            removed: None,
            published: None,
            relevant: true,
            significance: 0.5,
            details: None,
        };
        let xml = atom(&[e], &Feed::default());
        assert!(
            xml.contains("<title>[new] A &lt;b&gt;bold&lt;/b&gt; &amp; title</title>"),
            "{xml}"
        );
        assert!(!xml.contains("javascript"), "{xml}");
        assert!(xml.contains("<id>urn:govwatch:event:7</id>"));
    }

    #[test]
    fn an_altered_statement_is_deleted_and_inserted_words_under_its_section() {
        let e = EventRow {
            id: 8,
            kind: EventKind::Changed,
            url: "https://example.gov/paper".into(),
            title: Some("Paper".into()),
            watch: "w".into(),
            detected_at: crate::model::Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            notified: false,
            notified_at: None,
            source: None,
            source_title: None,
            overlap: None,
            added: None,
            removed: None,
            published: None,
            relevant: true,
            significance: 0.5,
            details: Some(
                serde_json::json!({"statements": {"added": [], "removed": [], "altered": [{
                    "words": [["=", "States "], ["-", "should"], ["+", "must <now>"], ["=", " act."]],
                    "position": true, "heading": "3. Protect & data"
                }]}}),
            ),
        };
        let xml = atom(&[e], &Feed::default());
        assert!(xml.contains("<h4>§ 3. Protect &amp; data</h4>"), "{xml}");
        assert!(
            xml.contains(
                "<p>~ <strong>States <del>should</del><ins>must &lt;now&gt;</ins> act.</strong></p>"
            ),
            "{xml}"
        );
        let mut reader = quick_xml::Reader::from_str(&xml);
        while !matches!(
            reader.read_event().expect("well-formed"),
            quick_xml::events::Event::Eof
        ) {}
    }
}
