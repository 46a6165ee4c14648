//! One PDF's text by a Rust crate: `pdf-peers pdf-extract FILE` or `pdf-peers lopdf FILE`.
//! Prints the text, or the error on stderr with exit 1; a panic is exit 101. Run once per file
//! (scripts/bench-pdf), so that a hang or an abort costs that file only.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (tool, path) = match args.as_slice() {
        [_, t, p] => (t.as_str(), p.as_str()),
        _ => {
            eprintln!("usage: pdf-peers pdf-extract|lopdf FILE");
            std::process::exit(2);
        }
    };
    let bytes = std::fs::read(path).expect("read");
    let text = match tool {
        "pdf-extract" => pdf_extract::extract_text_from_mem(&bytes).map_err(|e| e.to_string()),
        "lopdf" => lopdf::Document::load_mem(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|doc| {
                let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
                doc.extract_text(&pages).map_err(|e| e.to_string())
            }),
        other => {
            eprintln!("unknown tool {other}");
            std::process::exit(2);
        }
    };
    match text {
        Ok(t) => print!("{t}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
