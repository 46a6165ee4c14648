//! `pdftotext -bbox-layout`'s XHTML, read as it streams in: the document's metadata (title,
//! dates) and each page's flows (Poppler's reading order, columns included), blocks and lines,
//! with their boxes. Reading stops at a limit (pages, characters) without holding the rest.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

/// What was read of one PDF.
#[derive(Debug, Default)]
pub struct Layout {
    /// The document information dictionary's Title, as Poppler decoded it.
    pub title: Option<String>,
    /// CreationDate and ModDate, ISO 8601 as Poppler writes them.
    pub created: Option<String>,
    pub modified: Option<String>,
    pub pages: Vec<Page>,
}

#[derive(Debug, Default)]
pub struct Page {
    pub height: f32,
    /// Poppler's flows in reading order, each a run of blocks (a column, a side box).
    pub flows: Vec<Vec<Block>>,
}

#[derive(Debug, Default)]
pub struct Block {
    pub lines: Vec<Line>,
    pub x0: f32,
    pub x1: f32,
}

#[derive(Debug, Default, Clone)]
pub struct Line {
    pub words: Vec<String>,
    pub x0: f32,
    pub x1: f32,
    pub y0: f32,
    pub y1: f32,
}

impl Line {
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }
}

#[derive(Debug)]
pub enum LayoutError {
    TooManyPages,
    TooMuchText,
    Xml(String),
}

/// Reads the XHTML from `r`: at most `max_pages` pages and `max_chars` characters of text.
pub fn read(r: impl BufRead, max_pages: usize, max_chars: usize) -> Result<Layout, LayoutError> {
    let mut reader = quick_xml::Reader::from_reader(r);
    let mut buf = Vec::new();
    let mut out = Layout::default();
    let mut chars = 0usize;
    // The text being read: the <title>'s or a <word>'s.
    let mut text: Option<String> = None;
    let mut in_title = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| LayoutError::Xml(e.to_string()))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "page" => {
                    if out.pages.len() >= max_pages {
                        return Err(LayoutError::TooManyPages);
                    }
                    out.pages.push(Page {
                        height: num(&e, "height"),
                        flows: Vec::new(),
                    });
                }
                "flow" => {
                    if let Some(p) = out.pages.last_mut() {
                        p.flows.push(Vec::new());
                    }
                }
                "block" => {
                    if let Some(f) = out.pages.last_mut().and_then(|p| p.flows.last_mut()) {
                        f.push(Block {
                            lines: Vec::new(),
                            x0: num(&e, "xMin"),
                            x1: num(&e, "xMax"),
                        });
                    }
                }
                "line" => {
                    if let Some(b) = current_block(&mut out) {
                        b.lines.push(Line {
                            words: Vec::new(),
                            x0: num(&e, "xMin"),
                            x1: num(&e, "xMax"),
                            y0: num(&e, "yMin"),
                            y1: num(&e, "yMax"),
                        });
                    }
                }
                "word" => text = Some(String::new()),
                "title" => {
                    in_title = true;
                    text = Some(String::new());
                }
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "meta" => {
                let (name, content) = (attr(&e, "name"), attr(&e, "content"));
                match name.as_deref() {
                    Some("CreationDate") => out.created = content,
                    Some("ModDate") => out.modified = content,
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let Some(s) = text.as_mut() {
                    s.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(s) = text.as_mut() {
                    let name = r.xml10_content();
                    match quick_xml::escape::unescape(&format!("&{name};")) {
                        Ok(c) => s.push_str(&c),
                        Err(_) => s.push('\u{FFFD}'),
                    }
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "word" => {
                    let word = text.take().unwrap_or_default();
                    chars += word.chars().count() + 1;
                    if chars > max_chars {
                        return Err(LayoutError::TooMuchText);
                    }
                    if let Some(l) = current_block(&mut out).and_then(|b| b.lines.last_mut()) {
                        l.words.push(word);
                    }
                }
                "title" if in_title => {
                    in_title = false;
                    out.title = text.take().filter(|t| !t.trim().is_empty());
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn current_block(out: &mut Layout) -> Option<&mut Block> {
    out.pages
        .last_mut()
        .and_then(|p| p.flows.last_mut())
        .and_then(|f| f.last_mut())
}

fn attr(e: &BytesStart, name: &str) -> Option<String> {
    let a = e.try_get_attribute(name).ok().flatten()?;
    quick_xml::escape::unescape(&a.value).ok().map(|s| s.into_owned())
}

fn num(e: &BytesStart, name: &str) -> f32 {
    attr(e, name)
        .and_then(|v| v.parse::<f32>().ok())
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XHTML: &str = r#"<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml"><head>
<title>Position &amp; Paper</title>
<meta name="CreationDate" content="2023-05-25T10:00:00+08:00"/>
</head><body><doc>
<page width="612.000000" height="792.000000"><flow><block xMin="72" yMin="70" xMax="540" yMax="95">
<line xMin="72" yMin="70" xMax="540" yMax="82"><word xMin="72" yMin="70" xMax="90" yMax="82">China&apos;s</word><word xMin="92" yMin="70" xMax="120" yMax="82">paper</word></line>
</block></flow></page>
<page width="612.000000" height="792.000000"></page>
</doc></body></html>"#;

    #[test]
    fn reads_metadata_pages_lines_and_entities() {
        let l = read(XHTML.as_bytes(), 10, 1000).unwrap();
        assert_eq!(l.title.as_deref(), Some("Position & Paper"));
        assert_eq!(l.created.as_deref(), Some("2023-05-25T10:00:00+08:00"));
        assert_eq!(l.pages.len(), 2);
        let line = &l.pages[0].flows[0][0].lines[0];
        assert_eq!(line.words, ["China's", "paper"]);
        assert_eq!((line.y0, line.y1, l.pages[0].height), (70.0, 82.0, 792.0));
    }

    #[test]
    fn stops_at_the_page_and_text_limits() {
        assert!(matches!(
            read(XHTML.as_bytes(), 1, 1000),
            Err(LayoutError::TooManyPages)
        ));
        assert!(matches!(
            read(XHTML.as_bytes(), 10, 5),
            Err(LayoutError::TooMuchText)
        ));
    }
}
