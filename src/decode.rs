//! Bytes as served -> text: charset detection and decoding.
//!
//! The order of evidence is BOM, HTTP header, `<meta>` prescan, then a chardetng guess. A
//! declaration is trusted only while the bytes agree with it: servers and templates often
//! claim UTF-8 or ISO-8859-1 for pages that are really GBK (or the reverse), and a clean
//! decode in a multi-byte encoding is far stronger evidence than a label.

use encoding_rs::{Encoding, UTF_8};

/// How far the `<meta charset>` prescan looks. Browsers stop at 1024 bytes, but many real
/// pages put the declaration after long inline scripts or style blocks.
const META_SCAN: usize = 64 * 1024;
/// How much of the body chardetng sees; enough for any page's statistics, bounded for time.
const GUESS_SCAN: usize = 1024 * 1024;
/// Window inspected for binary signatures and control characters.
const BINARY_SCAN: usize = 8 * 1024;

pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    pub source: CharsetSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetSource {
    Bom,
    Header,
    Meta,
    Guess,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("empty body")]
    Empty,
    #[error("binary content, not a text page ({0})")]
    Binary(String),
}

pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Ok(Decoded {
            text: text.into_owned(),
            encoding: enc,
            source: CharsetSource::Bom,
        });
    }
    if let Some(kind) = binary_kind(bytes) {
        return Err(DecodeError::Binary(kind));
    }

    let header = content_type.and_then(charset_from_content_type);
    let meta = prescan_meta(&bytes[..bytes.len().min(META_SCAN)]);
    let has_high = !bytes.is_ascii();

    let (encoding, source) = choose(bytes, has_high, header, meta);
    let text = match std::str::from_utf8(bytes) {
        // The common case: no second pass through encoding_rs, one copy.
        Ok(s) if encoding == UTF_8 => s.to_owned(),
        _ => encoding.decode_without_bom_handling(bytes).0.into_owned(),
    };
    Ok(Decoded {
        text,
        encoding,
        source,
    })
}

fn choose(
    bytes: &[u8],
    has_high: bool,
    header: Option<&'static Encoding>,
    meta: Option<&'static Encoding>,
) -> (&'static Encoding, CharsetSource) {
    if !has_high {
        // Pure ASCII decodes identically in every ASCII-compatible encoding; keep the label.
        return match (header, meta) {
            (Some(h), _) => (h, CharsetSource::Header),
            (None, Some(m)) => (m, CharsetSource::Meta),
            (None, None) => (UTF_8, CharsetSource::Guess),
        };
    }
    let declared: Vec<(&'static Encoding, CharsetSource)> = [
        header.map(|e| (e, CharsetSource::Header)),
        meta.map(|e| (e, CharsetSource::Meta)),
    ]
    .into_iter()
    .flatten()
    .collect();
    // chardetng reads up to a megabyte byte by byte; most pages are settled by their
    // declaration, so the guess is made only when a decision needs it.
    let guessed = std::cell::OnceCell::new();
    let guess = || *guessed.get_or_init(|| guess(bytes));
    // A clean decode in a multi-byte encoding rarely happens by accident.
    let clean_multibyte = |skip: &'static Encoding| {
        declared
            .iter()
            .copied()
            .find(|&(e, _)| e != skip && !e.is_single_byte() && is_clean(e, bytes))
            .or_else(|| {
                let g = guess();
                (g != skip && !g.is_single_byte() && is_clean(g, bytes)).then_some((g, CharsetSource::Guess))
            })
    };

    for &(enc, src) in &declared {
        if is_clean(enc, bytes) {
            if enc.is_single_byte()
                && let Some(better) = clean_multibyte(enc)
            {
                return better;
            }
            return (enc, src);
        }
        if let Some(better) = clean_multibyte(enc) {
            return better;
        }
        if enc == UTF_8 && utf8_mostly_valid(bytes) {
            // A UTF-8 page with a few broken bytes: decoding it lossily beats mojibake.
            return (enc, src);
        }
    }
    if let Some(&(enc, src)) = declared.first()
        && !is_clean(guess(), bytes)
    {
        return (enc, src);
    }
    (guess(), CharsetSource::Guess)
}

fn is_clean(enc: &'static Encoding, bytes: &[u8]) -> bool {
    if enc == UTF_8 {
        return std::str::from_utf8(bytes).is_ok();
    }
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .is_some()
}

/// True when invalid sequences are a small minority of the non-ASCII bytes.
fn utf8_mostly_valid(bytes: &[u8]) -> bool {
    let (text, _) = UTF_8.decode_without_bom_handling(bytes);
    let errors = text.chars().filter(|&c| c == '\u{FFFD}').count();
    let high = bytes.iter().filter(|&&b| b >= 0x80).count();
    errors * 10 < high
}

fn guess(bytes: &[u8]) -> &'static Encoding {
    let mut end = bytes.len().min(GUESS_SCAN);
    if end < bytes.len() {
        // Cut at an ASCII byte so a truncated multi-byte sequence does not rule UTF-8 out.
        while end > 0 && bytes[end - 1] >= 0x80 {
            end -= 1;
        }
    }
    let scan = &bytes[..end];
    if !scan.is_ascii() && std::str::from_utf8(scan).is_ok() {
        // What chardetng answers for valid UTF-8 when UTF-8 is allowed, without its
        // byte-by-byte pass.
        return UTF_8;
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    det.feed(scan, true);
    // Unlabelled UTF-8 is common on the web; we run no scripts, so ISO-2022-JP is safe too.
    det.guess(None, chardetng::Utf8Detection::Allow)
}

fn binary_kind(bytes: &[u8]) -> Option<String> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "PNG image"),
        (b"%PDF-", "PDF document"),
        (b"GIF87a", "GIF image"),
        (b"GIF89a", "GIF image"),
        (b"\xFF\xD8\xFF", "JPEG image"),
        (b"PK\x03\x04", "ZIP archive"),
        (b"\x1F\x8B", "gzip data"),
        (b"RIFF", "RIFF media"),
        (b"\x00\x00\x01\x00", "icon"),
    ];
    for (magic, name) in MAGIC {
        if bytes.starts_with(magic) {
            return Some((*name).to_string());
        }
    }
    let head = &bytes[..bytes.len().min(BINARY_SCAN)];
    if head.contains(&0) {
        return Some("NUL bytes".to_string());
    }
    // ESC is allowed: ISO-2022-JP uses it.
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    if controls * 10 > head.len() {
        return Some(format!("{controls} control bytes in the first {}", head.len()));
    }
    None
}

fn charset_from_content_type(ct: &str) -> Option<&'static Encoding> {
    let lower = ct.to_ascii_lowercase();
    let at = lower.find("charset")?;
    label_after_charset(&lower.as_bytes()[at + 7..])
}

/// Reads `= "label"` after the word charset.
fn label_after_charset(rest: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while i < rest.len() && rest[i].is_ascii_whitespace() {
        i += 1;
    }
    if rest.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < rest.len() && (rest[i].is_ascii_whitespace() || rest[i] == b'"' || rest[i] == b'\'') {
        i += 1;
    }
    let start = i;
    while i < rest.len() && (rest[i].is_ascii_alphanumeric() || b"-_.:".contains(&rest[i])) {
        i += 1;
    }
    // A declared UTF-16 in a byte-oriented document means UTF-8 (HTML spec); same for
    // "replacement".
    Encoding::for_label(&rest[start..i]).map(|e| e.output_encoding())
}

fn prescan_meta(head: &[u8]) -> Option<&'static Encoding> {
    if head.starts_with(b"<?xml") {
        let end = head.iter().position(|&b| b == b'>').unwrap_or(head.len());
        let decl = head[..end].to_ascii_lowercase();
        if let Some(at) = find(&decl, b"encoding") {
            let rest = &decl[at + 8..];
            if let Some(e) = label_after_charset(rest) {
                return Some(e);
            }
        }
    }
    let mut pos = 0;
    while let Some(off) = find_ci(&head[pos..], b"<meta") {
        let start = pos + off + 5;
        let end = head[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(head.len(), |e| start + e);
        let tag = head[start..end].to_ascii_lowercase();
        let mut from = 0;
        while let Some(at) = find(&tag[from..], b"charset") {
            if let Some(e) = label_after_charset(&tag[from + at + 7..]) {
                return Some(e);
            }
            from += at + 7;
        }
        pos = end;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZH: &str = "数字政府建设是推进国家治理体系和治理能力现代化的重要举措。各地区各部门要加强数据共享，\
        提升政务服务效率，推动政府决策科学化、社会治理精准化、公共服务高效化。";

    fn page(charset_meta: Option<&str>, body: &str) -> String {
        let meta = charset_meta
            .map(|c| format!("<meta charset=\"{c}\">"))
            .unwrap_or_default();
        format!("<html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>")
    }

    fn enc(e: &'static Encoding, s: &str) -> Vec<u8> {
        e.encode(s).0.into_owned()
    }

    #[test]
    fn gbk_meta_no_header() {
        let bytes = enc(encoding_rs::GBK, &page(Some("gb2312"), ZH));
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.encoding, encoding_rs::GBK);
        assert_eq!(d.source, CharsetSource::Meta);
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn gbk_no_header_no_meta_guessed() {
        let bytes = enc(encoding_rs::GBK, &page(None, &ZH.repeat(3)));
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.source, CharsetSource::Guess);
        assert!(d.text.contains(ZH), "{}", d.encoding.name());
    }

    #[test]
    fn gb18030() {
        let s = page(Some("gb18030"), &format!("{ZH}€ 𠀀"));
        let bytes = enc(encoding_rs::GB18030, &s);
        let d = decode(&bytes, Some("text/html")).unwrap();
        assert_eq!(d.encoding, encoding_rs::GB18030);
        assert!(d.text.contains("𠀀"));
    }

    #[test]
    fn big5() {
        let s = "數位政府建設是推進國家治理體系和治理能力現代化的重要舉措，各部門要加強資料共享。";
        let bytes = enc(encoding_rs::BIG5, &page(None, &s.repeat(3)));
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.encoding, encoding_rs::BIG5);
        assert!(d.text.contains(s));
    }

    #[test]
    fn shift_jis() {
        let s = "デジタル庁は、行政サービスのデジタル化を推進し、国民の利便性を向上させるための政策を発表しました。";
        let bytes = enc(encoding_rs::SHIFT_JIS, &page(None, &s.repeat(3)));
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.encoding, encoding_rs::SHIFT_JIS);
        assert!(d.text.contains(s));
    }

    #[test]
    fn windows_1252() {
        let s = "Le gouvernement a publié sa stratégie numérique, « très ambitieuse » — déjà critiquée.";
        let bytes = enc(encoding_rs::WINDOWS_1252, &page(None, &s.repeat(3)));
        let d = decode(&bytes, Some("text/html; charset=ISO-8859-1")).unwrap();
        assert_eq!(d.encoding, encoding_rs::WINDOWS_1252);
        assert_eq!(d.source, CharsetSource::Header);
        assert!(d.text.contains(s));
    }

    #[test]
    fn meta_after_first_kib() {
        let filler = format!("<script>{}</script>", "var x = 1;\n".repeat(400));
        let s = format!(
            "<html><head>{filler}<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\"></head><body>{ZH}</body></html>"
        );
        let bytes = enc(encoding_rs::GBK, &s);
        assert!(bytes.len() > 4000);
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.source, CharsetSource::Meta);
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn header_contradicting_bytes() {
        let bytes = enc(encoding_rs::GBK, &page(Some("gbk"), ZH));
        let d = decode(&bytes, Some("text/html; charset=UTF-8")).unwrap();
        assert_eq!(d.encoding, encoding_rs::GBK);
        assert!(d.text.contains(ZH));
        let d = decode(&bytes, Some("text/html; charset=iso-8859-1")).unwrap();
        assert_eq!(d.encoding, encoding_rs::GBK);
        // UTF-8 bytes under a Latin-1 header.
        let bytes = page(None, ZH).into_bytes();
        let d = decode(&bytes, Some("text/html; charset=iso-8859-1")).unwrap();
        assert_eq!(d.encoding, UTF_8);
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn bom() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(page(None, ZH).as_bytes());
        let d = decode(&bytes, Some("text/html; charset=gbk")).unwrap();
        assert_eq!(d.source, CharsetSource::Bom);
        assert!(d.text.starts_with("<html>"));
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        let mut bytes = page(Some("utf-8"), &ZH.repeat(2)).into_bytes();
        let mid = bytes.len() / 2;
        bytes.insert(mid, 0xFF);
        bytes.insert(10, 0xC3);
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.encoding, UTF_8);
        assert!(d.text.contains('\u{FFFD}'));
        assert!(d.text.contains("数字政府"));
    }

    #[test]
    fn binary_and_empty() {
        assert!(matches!(decode(b"", None), Err(DecodeError::Empty)));
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        match decode(png, None) {
            Err(DecodeError::Binary(k)) => assert!(k.contains("PNG")),
            _ => panic!("png not rejected"),
        }
        assert!(matches!(decode(b"%PDF-1.7\n", None), Err(DecodeError::Binary(_))));
        assert!(matches!(decode(b"abc\0def", None), Err(DecodeError::Binary(_))));
        let ctl: Vec<u8> = (0..200u8).map(|i| i % 8).collect();
        assert!(matches!(decode(&ctl, None), Err(DecodeError::Binary(_))));
    }
}
