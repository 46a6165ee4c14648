//! Fuzz target: any bytes, as served, through charset decoding and extraction, as the pipeline
//! runs them, and through the feed and sitemap readers. Finds panics, stack overflows and
//! runaway time or memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The content type is fuzzed too: the first line, when short, is taken as the header.
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) if i < 64 => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        _ => (None, data),
    };
    let base = url::Url::parse("https://example.gov/list/").expect("static URL");
    let _ = govwatch::discover::feed_entries(body, &base, 50);
    let _ = govwatch::discover::sitemap_entries(body, &base, 50);
    if let Ok(decoded) = govwatch::decode::decode(body, content_type) {
        if let Ok(doc) = govwatch::extract::extract(&decoded.text, None) {
            let _ = doc.text();
        }
        let _ = govwatch::discover::document_links(&decoded.text, &base, 50);
    }
});
