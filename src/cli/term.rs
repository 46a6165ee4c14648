//! What the commands print: text from pages made harmless for a terminal, and standard output
//! that ends quietly when its reader goes away (`govwatch show X | head`).
//!
//! Pages are written by strangers. A title or a sentence can carry `ESC[2J` (clear the screen),
//! an OSC sequence (set the window title, or a hyperlink that lies), or a C1 control that some
//! terminals obey as the start of one; printed raw, the page drives the operator's terminal. So
//! every control character is shown escaped (`\u{1b}`), except the newlines and tabs that lay
//! text out. An escape sequence loses its ESC and is left as visible, inert text.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write as _};

/// `s` with every control character but `\n` and `\t` escaped; `\r\n` becomes `\n`.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            // Line ends from Windows-made text; a lone CR would let a line overwrite itself.
            '\r' if chars.peek() == Some(&'\n') => {}
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text with DEL and C1 controls written as `\u00XX` escapes. serde_json escapes C0 controls
/// but writes those as they are; outside strings JSON is ASCII, so every one found is inside a
/// string, where the escape means the same character.
pub fn json(s: &str) -> Cow<'_, str> {
    escape_high_controls(s, |c| format!("\\u{:04x}", c as u32))
}

/// XML text with DEL and C1 controls written as character references (the feed drops the C0
/// controls XML forbids, and uses no CDATA, so a reference means the same character).
pub fn xml(s: &str) -> Cow<'_, str> {
    escape_high_controls(s, |c| format!("&#x{:x};", c as u32))
}

fn escape_high_controls(s: &str, escape: impl Fn(char) -> String) -> Cow<'_, str> {
    let high = |c: char| c.is_control() && c as u32 >= 0x7f;
    if !s.chars().any(high) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if high(c) { escape(c) } else { c.to_string() })
            .collect(),
    )
}

/// Standard output for people. `write!(out, …)` escapes what it formats (see [`text`]); JSON and
/// XML go through [`Out::json`] and [`Out::xml`]. Every write returns its error, so a closed pipe
/// ends the command (main exits quietly) instead of panicking as `println!` does.
pub struct Out {
    inner: io::BufWriter<io::StdoutLock<'static>>,
}

impl Out {
    pub fn stdout() -> Out {
        Out {
            inner: io::BufWriter::new(io::stdout().lock()),
        }
    }

    /// What `write!` and `writeln!` call: each piece formatted is escaped on its own, and a piece
    /// is always whole characters, so no escape can be split.
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        struct Escaping<'a, W> {
            inner: &'a mut W,
            error: io::Result<()>,
        }
        impl<W: io::Write> fmt::Write for Escaping<'_, W> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.inner.write_all(text(s).as_bytes()).map_err(|e| {
                    self.error = Err(e);
                    fmt::Error
                })
            }
        }
        let mut w = Escaping {
            inner: &mut self.inner,
            error: Ok(()),
        };
        match fmt::write(&mut w, args) {
            Ok(()) => Ok(()),
            Err(fmt::Error) => match w.error {
                Err(e) => Err(e),
                Ok(()) => Err(io::Error::other("a value could not be formatted")),
            },
        }
    }

    /// A value as JSON: pretty, or on one line (JSON lines), then a newline.
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T, pretty: bool) -> io::Result<()> {
        let s = if pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        }
        .map_err(io::Error::other)?;
        self.inner.write_all(json(&s).as_bytes())?;
        self.inner.write_all(b"\n")
    }

    /// An XML document, as it is but for the controls [`xml`] escapes.
    pub fn xml(&mut self, s: &str) -> io::Result<()> {
        self.inner.write_all(xml(s).as_bytes())
    }

    /// Call before returning: an error in the last buffered write is only seen here.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A line for people on standard error, escaped like [`text`]. A closed standard error is not
/// worth failing a command over (unlike `eprintln!`, which panics on it).
pub fn warn(args: fmt::Arguments<'_>) {
    let line = args.to_string();
    let _ = writeln!(io::stderr().lock(), "{}", text(&line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_layout_kept() {
        assert_eq!(text("plain\ttext\nok"), "plain\ttext\nok");
        assert_eq!(text("a\r\nb"), "a\nb");
        assert_eq!(text("\u{1b}[2Jcleared"), "\\u{1b}[2Jcleared");
        assert_eq!(text("\u{1b}]0;owned\u{7}title"), "\\u{1b}]0;owned\\u{7}title");
        assert_eq!(text("csi\u{9b}2J over\rwrite"), "csi\\u{9b}2J over\\rwrite");
        assert_eq!(text("数据安全 — ok"), "数据安全 — ok");
    }

    #[test]
    fn json_and_xml_keep_their_meaning() {
        let s = serde_json::to_string(&"a\u{1b}b\u{9b}c\u{7f}").unwrap();
        let safe = json(&s);
        assert_eq!(safe, "\"a\\u001bb\\u009bc\\u007f\"");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "a\u{1b}b\u{9b}c\u{7f}");
        assert_eq!(xml("<t>a\u{9b}b</t>"), "<t>a&#x9b;b</t>");
    }
}
