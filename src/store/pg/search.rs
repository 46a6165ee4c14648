//! Search on PostgreSQL: the words index of src/store/search.rs (migration 0015) as a `tsvector`
//! table with a GIN index (migrations/postgres/0002_web.sql), answering the same queries with
//! the same hits: one phrase, its words adjacent and in order, the last a prefix when it is a
//! Latin word, every CJK character a word of its own (so 数据出境 and 据出 are found inside
//! unspaced text), and anything typed, quotes and operators included, text to find.
//!
//! # Why `tsvector`, and why the words are cut here
//!
//! Measured on the web benchmark's texts (100,000 documents and 10,000 versions of one, 110 MB
//! of text; README "search on PostgreSQL"), against `pg_trgm` over the same words spaced out
//! and matched with `LIKE '% word word%'`: the `tsvector` index was built faster and is a
//! fraction of the trigram index's size, and answered every query of the benchmark faster
//! except none; a trigram index must also recheck every candidate against the whole text
//! (stored uncompressed beside the zstd copy, since PostgreSQL cannot read zstd), and a query of
//! one or two characters ("AI", "数据") has few or no trigrams of its own to narrow with.
//!
//! The words are cut and folded here, in Rust, and handed to PostgreSQL as `tsvector` and
//! `tsquery` literals, not by a text-search configuration: the texts are stored zstd-compressed,
//! so a trigger could not read them anyway, and doing it here makes the words exactly SQLite's
//! (FTS5's `unicode61 remove_diacritics 2` over [`spaced`] text; a unit test compares the two),
//! with no stemming, no stop words, and no query syntax to escape.
//!
//! A `tsvector` keeps at most 16,383 positions and 256 positions per word, where FTS5 keeps all;
//! a long text (a PDF) is therefore indexed in parts that overlap by the longest phrase a query
//! can be ([`MAX_QUERY_CHARS`] words), each within those limits, so that any phrase of the text
//! lies whole in some part and is found.

use std::collections::HashMap;

use super::sql::Sql;

use super::PgStore;
use crate::store::search::{
    Found, MAX_MATCHES, MAX_QUERY_CHARS, Phrase, SearchFilter, SearchHit, SearchResults,
};
use crate::store::{Result, decompress_text, search::spaced};

/// PostgreSQL's limits on a `tsvector`: the largest position, and positions kept per word.
const MAX_POSITION: usize = 16_383;
const MAX_POSITIONS_PER_WORD: usize = 256;
/// A part's words (their bytes and PostgreSQL's four a word) stay well under the 1 MB a
/// `tsvector` may hold.
const MAX_PART_BYTES: usize = 600_000;
/// Parts overlap by this many words: a query has at most [`MAX_QUERY_CHARS`] characters, so at
/// most that many words.
const OVERLAP: usize = MAX_QUERY_CHARS;
/// Words are cut to this many characters (PostgreSQL refuses words over 2 kB): longer than any
/// word of a query, so no query word equals a cut word it would not have equalled whole, and a
/// query's last word still finds them as a prefix.
const MAX_WORD_CHARS: usize = MAX_QUERY_CHARS + 1;

/// Whether FTS5's `unicode61` tokenizer keeps `c` in a word: letters and numbers (its default
/// categories L*, N* and Co), and, as `remove_diacritics` makes it, the combining diacritical
/// marks, which are then dropped.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || is_diacritic(c)
        || matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

fn is_diacritic(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// Latin letters with diacritics (Latin-1 Supplement to Latin Extended-B, Latin Extended
/// Additional): `remove_diacritics 2` reads them as their base letter; other scripts keep their
/// accents (Greek ά stays ά, Cyrillic й stays й), as FTS5 does.
fn is_accented_latin(c: char) -> bool {
    matches!(c as u32, 0xC0..=0x24F | 0x1E00..=0x1EFF)
}

/// `c` folded as FTS5 folds it: lower case, Latin diacritics removed.
fn fold(c: char, out: &mut String) {
    use unicode_normalization::UnicodeNormalization;
    for l in c.to_lowercase() {
        if is_diacritic(l) {
            continue;
        }
        if is_accented_latin(l) {
            out.extend(std::iter::once(l).nfd().filter(|d| !is_diacritic(*d)));
        } else {
            out.push(l);
        }
    }
}

/// The words of `text` in order, as SQLite's words index reads them: [`spaced`] (each CJK
/// character a word), then cut and folded as FTS5's `unicode61 remove_diacritics 2` does.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = 0;
    for c in spaced(text).chars() {
        if is_word_char(c) {
            if chars < MAX_WORD_CHARS {
                fold(c, &mut word);
                chars += 1;
            }
        } else {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            chars = 0;
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A word quoted for a `tsvector` or `tsquery` literal.
fn quoted(word: &str, out: &mut String) {
    out.push('\'');
    for c in word.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// Whether `w` is one CJK character, a word of its own ([`spaced`]).
fn is_cjk_word(w: &str) -> bool {
    let mut cs = w.chars();
    matches!((cs.next(), cs.next()), (Some(c), None) if crate::text::is_cjk(c))
}

/// The pair of two adjacent words when both are CJK characters: indexed beside them, at the
/// first one's position, so that a phrase of characters is looked up by its pairs. A character
/// alone is in a third of all Chinese texts and four common ones in a fifth; the GIN index
/// cannot tell their order, so every such text was read again to check the phrase (0.3 s for
/// 数据安全 at 100,000 documents). Its pairs narrow it to about the texts that hold it.
fn pair(a: &str, b: &str) -> Option<String> {
    (is_cjk_word(a) && is_cjk_word(b)).then(|| format!("{a}{b}"))
}

/// The index entries word `i` of `words` adds to a part that starts at word `start`: the word
/// at its position, and the pair it ends at the word before's (positions count from 1).
fn entries(
    words: &[String],
    start: usize,
    i: usize,
) -> impl Iterator<Item = (std::borrow::Cow<'_, str>, usize)> {
    let at = i - start + 1;
    let paired = (i > start)
        .then(|| pair(&words[i - 1], &words[i]))
        .flatten()
        .map(|p| (std::borrow::Cow::Owned(p), at - 1));
    std::iter::once((std::borrow::Cow::Borrowed(words[i].as_str()), at)).chain(paired)
}

/// Where a text's parts begin and end, as ranges of its words (see the module's notes): each
/// part within PostgreSQL's limits, the next starting [`OVERLAP`] words before the last ended.
fn spans(words: &[String]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < words.len() {
        let mut seen: HashMap<std::borrow::Cow<'_, str>, usize> = HashMap::new();
        let mut bytes = 0;
        let mut end = start;
        'part: while end < words.len() && end - start < MAX_POSITION {
            let new: Vec<_> = entries(words, start, end).collect();
            let mut more = 0;
            for (w, _) in &new {
                let n = seen.get(w).copied().unwrap_or(0);
                // Progress is certain: the overlap alone (OVERLAP words of at most
                // MAX_WORD_CHARS characters, and their pairs) is within every limit.
                if n == MAX_POSITIONS_PER_WORD {
                    break 'part;
                }
                if n == 0 {
                    more += w.len() + 4;
                }
            }
            if bytes + more > MAX_PART_BYTES {
                break;
            }
            bytes += more;
            for (w, _) in new {
                *seen.entry(w).or_default() += 1;
            }
            end += 1;
        }
        out.push((start, end));
        if end == words.len() {
            break;
        }
        start = end - OVERLAP;
    }
    out
}

/// The `tsvector` literal of the part of `words` from `start` to `end`.
fn literal(words: &[String], start: usize, end: usize) -> String {
    let mut positions: HashMap<std::borrow::Cow<'_, str>, Vec<usize>> = HashMap::new();
    for i in start..end {
        for (w, at) in entries(words, start, i) {
            positions.entry(w).or_default().push(at);
        }
    }
    let mut sorted: Vec<_> = positions.into_iter().collect();
    sorted.sort_unstable();
    let mut lit = String::new();
    for (w, mut ps) in sorted {
        ps.sort_unstable();
        if !lit.is_empty() {
            lit.push(' ');
        }
        quoted(&w, &mut lit);
        lit.push(':');
        for (i, p) in ps.iter().enumerate() {
            if i > 0 {
                lit.push(',');
            }
            lit.push_str(&p.to_string());
        }
    }
    lit
}

/// The `tsvector` literals of a text's words, one per part. No words, no parts.
pub(crate) fn parts(words: &[String]) -> Vec<String> {
    spans(words)
        .into_iter()
        .map(|(s, e)| literal(words, s, e))
        .collect()
}

/// The `tsquery` literal of a phrase as [`crate::store::phrase`] made it (an FTS5 phrase,
/// `"words"` with `"` doubled, and ` *` when its last word is a prefix): its words adjacent and
/// in order, the last one a prefix (`:*`) if it was one. `None` when it has no words. A run of
/// CJK characters is asked as its pairs ([`pair`]): 数据安全 as 数据, 据安, 安全 at adjacent
/// positions, which is the same phrase, and what follows the run two positions after its last
/// pair (`<2>`).
pub(crate) fn tsquery(fts5_phrase: &str) -> Option<String> {
    let (inner, prefix) = match fts5_phrase.strip_suffix(" *") {
        Some(p) => (p, true),
        None => (fts5_phrase, false),
    };
    let inner = inner
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(inner)
        .replace("\"\"", "\"");
    let ws = words(&inner);
    // What is asked, at which word of the phrase.
    let mut asked: Vec<(String, usize)> = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        match ws.get(i + 1).and_then(|next| pair(w, next)) {
            Some(p) => asked.push((p, i)),
            // The second character of a pair already asked for.
            None if i > 0 && pair(&ws[i - 1], w).is_some() => {}
            None => asked.push((w.clone(), i)),
        }
    }
    let mut q = String::new();
    let mut before = 0;
    for (n, (w, at)) in asked.iter().enumerate() {
        if n > 0 {
            match at - before {
                1 => q.push_str(" <-> "),
                d => q.push_str(&format!(" <{d}> ")),
            }
        }
        quoted(w, &mut q);
        before = *at;
    }
    if q.is_empty() {
        return None;
    }
    // Only a Latin word is a prefix, and it is never part of a pair.
    if prefix {
        q.push_str(":*");
    }
    Some(q)
}

/// A text to index: a version (`id` its snapshot's id, with its document) or an imported corpus
/// file (`id` its id negated, as SQLite's rowids are), and when it was fetched or imported.
pub(crate) struct Indexed<'a> {
    pub id: i64,
    pub document_id: Option<i64>,
    pub at: &'a str,
    pub text: &'a str,
}

/// Indexes `texts` (replacing what was indexed under their ids) on `client`: the writer calls it
/// in the transaction that writes them, [`index_unindexed`] for what was written otherwise.
pub(crate) fn index_texts(client: &mut impl Sql, texts: &[Indexed<'_>]) -> Result<()> {
    if texts.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    let mut part_no = Vec::new();
    let mut documents = Vec::new();
    let mut ats = Vec::new();
    let mut vectors = Vec::new();
    for t in texts {
        for (i, p) in parts(&words(t.text)).into_iter().enumerate() {
            ids.push(t.id);
            part_no.push(i as i32);
            documents.push(t.document_id);
            ats.push(t.at);
            vectors.push(p);
        }
    }
    let all: Vec<i64> = texts.iter().map(|t| t.id).collect();
    client.execute("DELETE FROM search_words WHERE id = ANY($1)", &[&all])?;
    client.execute(
        "INSERT INTO search_words (id, part, document_id, at, words)
         SELECT i, p, d, a, w::tsvector
         FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::text[], $5::text[]) AS v(i, p, d, a, w)
         ON CONFLICT DO NOTHING",
        &[&ids, &part_no, &documents, &ats, &vectors],
    )?;
    Ok(())
}

/// Texts indexed per transaction when catching up.
const CATCH_UP_BATCH: i64 = 200;

/// Indexes every stored version and imported corpus file that has no rows in the index yet
/// (rows written by `store copy`, or before migration 0002), a batch of texts at a time in id
/// order, on `client` (in the caller's transaction, if any); how many texts it indexed.
pub(crate) fn index_unindexed(client: &mut impl Sql) -> Result<usize> {
    let mut done = 0;
    for (sql, negate) in [
        (
            "SELECT s.id, s.document_id, s.fetched_at, s.text FROM snapshots s
             WHERE s.id > $1 AND NOT EXISTS (SELECT 1 FROM search_words w WHERE w.id = s.id)
             ORDER BY s.id LIMIT $2",
            false,
        ),
        (
            "SELECT c.id, NULL::bigint, c.added_at, c.text FROM corpus c
             WHERE c.id > $1 AND c.origin = 'import' AND c.text IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM search_words w WHERE w.id = -c.id)
             ORDER BY c.id LIMIT $2",
            true,
        ),
    ] {
        let mut after = 0i64;
        loop {
            let rows = client.query(sql, &[&after, &CATCH_UP_BATCH])?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            let texts: Vec<(i64, Option<i64>, String, String)> = rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get(0);
                    // A text that does not decompress is indexed as nothing, as on SQLite.
                    let text = decompress_text(r.get::<_, &[u8]>(3)).unwrap_or_default();
                    (if negate { -id } else { id }, r.get(1), r.get(2), text)
                })
                .collect();
            let indexed: Vec<Indexed> = texts
                .iter()
                .map(|(id, document_id, at, text)| Indexed {
                    id: *id,
                    document_id: *document_id,
                    at,
                    text,
                })
                .collect();
            index_texts(client, &indexed)?;
            done += texts.len();
        }
    }
    if done > 0 {
        tracing::info!(texts = done, "indexed for search");
    }
    Ok(done)
}

/// The search query under `filter`, and its parameters' values: the texts matching `$1`, newest
/// first, one row per text (a long one matches in several parts), with each version's
/// document. The GIN index finds them; the order and the cap come after.
fn search_sql(filter: &SearchFilter) -> (String, Vec<String>) {
    let mut params: Vec<String> = Vec::new();
    let mut conds = vec!["w.words @@ $1::text::tsquery".to_string()];
    let mut joins = String::new();
    let bind = |v: &str, params: &mut Vec<String>| {
        params.push(v.to_string());
        format!("${}", params.len() + 1)
    };
    if let Some(watch) = &filter.watch {
        joins.push_str(" JOIN documents d ON d.id = w.document_id");
        conds.push(format!("d.watch = {}", bind(watch, &mut params)));
    }
    if let Some(kind) = &filter.kind {
        conds.push(match kind.as_str() {
            "corpus" => "w.id < 0".to_string(),
            "version" => "w.id > 0".to_string(),
            k => format!(
                "EXISTS (SELECT 1 FROM events e WHERE e.snapshot_id = w.id AND e.kind = {})",
                bind(k, &mut params)
            ),
        });
    }
    if let Some(from) = &filter.from {
        conds.push(format!("w.at >= {}", bind(from, &mut params)));
    }
    if let Some(until) = &filter.until {
        conds.push(format!("w.at < {}", bind(until, &mut params)));
    }
    let sql = format!(
        "SELECT w.id, w.document_id FROM search_words w{joins} WHERE {}
         GROUP BY w.id, w.document_id ORDER BY w.id DESC LIMIT {}",
        conds.join(" AND "),
        MAX_MATCHES + 1
    );
    (sql, params)
}

impl PgStore {
    /// As [`crate::store::Store::search`]: the texts matching `phrase` that `filter` lets
    /// through, newest first, one hit per document (its newest matching version).
    pub fn search(&self, phrase: &Phrase, filter: &SearchFilter) -> Result<SearchResults> {
        let Phrase::Words(q) = phrase else {
            return Ok(SearchResults::default());
        };
        let Some(query) = tsquery(q) else {
            return Ok(SearchResults::default());
        };
        let (sql, values) = search_sql(filter);
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&query];
        params.extend(values.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)));
        let rows: Vec<(i64, Option<i64>)> = self
            .query(&sql, &params)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Ok(crate::store::search::grouped(rows))
    }

    /// As [`crate::store::Store::search_hits`]: what a page shows of the hits `found`, in
    /// their order, in two queries (versions, corpus files) rather than one per hit. A hit
    /// whose text has gone since is left out.
    pub fn search_hits(&self, found: &[Found]) -> Result<Vec<SearchHit>> {
        let snapshots: Vec<i64> = found.iter().filter_map(|f| f.snapshot_id).collect();
        let files: Vec<i64> = found
            .iter()
            .filter(|f| f.snapshot_id.is_none())
            .filter_map(|f| f.corpus_id)
            .collect();
        let mut versions: HashMap<i64, SearchHit> = HashMap::new();
        if !snapshots.is_empty() {
            for r in self.query(
                "SELECT s.id, s.document_id, s.version, s.title, d.url, d.watch, s.fetched_at
                 FROM snapshots s JOIN documents d ON d.id = s.document_id WHERE s.id = ANY($1)",
                &[&snapshots],
            )? {
                versions.insert(
                    r.get(0),
                    SearchHit {
                        snapshot_id: Some(r.get(0)),
                        document_id: r.get(1),
                        version: r.get(2),
                        corpus_id: None,
                        title: r.get(3),
                        name: r.get(4),
                        watch: r.get(5),
                        at: r.get(6),
                        more: 0,
                    },
                );
            }
        }
        let mut imported: HashMap<i64, SearchHit> = HashMap::new();
        if !files.is_empty() {
            for r in self.query(
                "SELECT id, name, title, added_at FROM corpus WHERE id = ANY($1)",
                &[&files],
            )? {
                imported.insert(
                    r.get(0),
                    SearchHit {
                        snapshot_id: None,
                        document_id: None,
                        version: None,
                        corpus_id: Some(r.get(0)),
                        title: r.get(2),
                        name: r.get(1),
                        watch: None,
                        at: r.get(3),
                        more: 0,
                    },
                );
            }
        }
        Ok(found
            .iter()
            .filter_map(|f| {
                let hit = match (f.snapshot_id, f.corpus_id) {
                    (Some(id), _) => versions.remove(&id),
                    (None, Some(id)) => imported.remove(&id),
                    (None, None) => None,
                };
                hit.map(|h| SearchHit { more: f.more, ..h })
            })
            .collect())
    }

    /// As [`crate::store::Store::corpus_import_id`]: the id of the imported corpus file named
    /// `name`.
    pub fn corpus_import_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .query_opt(
                "SELECT id FROM corpus WHERE origin = 'import' AND name = $1",
                &[&name],
            )?
            .map(|r| r.get(0)))
    }

    /// As [`crate::store::Store::corpus_file`]: the name, title and text of an imported
    /// corpus file, by its id.
    pub fn corpus_file(&self, corpus_id: i64) -> Result<Option<(String, Option<String>, String)>> {
        let row = self.query_opt(
            "SELECT name, title, text FROM corpus WHERE id = $1 AND origin = 'import'",
            &[&corpus_id],
        )?;
        match row {
            Some(r) => {
                let text = r
                    .get::<_, Option<&[u8]>>(2)
                    .map(decompress_text)
                    .transpose()?
                    .unwrap_or_default();
                Ok(Some((r.get(0), r.get(1), text)))
            }
            None => Ok(None),
        }
    }

    /// Indexes for search what is stored but not indexed yet (see [`index_unindexed`]): after
    /// `store copy` wrote rows into this database, and when migration 0002 is applied to one
    /// that has versions already.
    pub fn index_unindexed(&self) -> Result<usize> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let n = index_unindexed(&mut tx)?;
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words FTS5 (`unicode61 remove_diacritics 2`, as migration 0012 makes the words index)
    /// reads in `text` spaced as the index's trigger spaces it, in order.
    fn fts5_words(text: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');",
        )
        .unwrap();
        conn.execute("INSERT INTO t (x) VALUES (?1)", [spaced(text)])
            .unwrap();
        let mut stmt = conn.prepare("SELECT term FROM v ORDER BY offset").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn words_are_the_words_sqlite_indexes() {
        for text in [
            "Rules on 数据出境 (cross-border data) say \"no\" * NEAR - AND the AI act.",
            "Café cafe\u{301} naïve Ελλάδα йод ǅemal straße ﬁle Ⅻ x² a_b a\u{ad}b 1,5 v2 ａｂｃ İstanbul ǰ",
            "《中华人民共和国数据安全法》第二十一条，国家建立数据分类分级保护制度。データ・セキュリティ 데이터 보안",
            "Ünïcödé ÀÉÎÕÜ ăęőű ḁḃḉ Ỳ Tiếng Việt ưở Đđ Øø Łł Ææ o'clock e-mail 3.14 U.S.A. -- «quoted» “curly” 'single'",
            "\u{e000}private\u{e001} tab\tnew\nline",
        ] {
            assert_eq!(words(text), fts5_words(text), "{text}");
        }
    }

    #[test]
    fn a_query_is_one_phrase_its_last_latin_word_a_prefix() {
        let q = |s: &str| match crate::store::phrase(s).0 {
            Phrase::Words(w) => tsquery(&w),
            Phrase::Nothing => None,
        };
        assert_eq!(
            q("cross-border Data").as_deref(),
            Some("'cross' <-> 'border' <-> 'data':*")
        );
        assert_eq!(q("数据出境").as_deref(), Some("'数据' <-> '据出' <-> '出境'"));
        assert_eq!(q("data 数据").as_deref(), Some("'data' <-> '数据'"));
        assert_eq!(q("数据 data").as_deref(), Some("'数据' <2> 'data':*"));
        assert_eq!(
            q("《数》，据 a 出境安 b").as_deref(),
            Some("'数据' <2> 'a' <-> '出境' <-> '境安' <2> 'b':*")
        );
        assert_eq!(q("数").as_deref(), Some("'数'"));
        assert_eq!(q("say \"no\"").as_deref(), Some("'say' <-> 'no':*"));
        assert_eq!(q("\"NEAR( OR *").as_deref(), Some("'near' <-> 'or':*"));
        assert_eq!(q("it's").as_deref(), Some("'it' <-> 's':*"));
        assert_eq!(q("\"*"), None);
        assert_eq!(q(""), None);
    }

    /// Every phrase of a long text lies whole in some part, and no part passes PostgreSQL's
    /// limits.
    #[test]
    fn long_texts_are_indexed_in_overlapping_parts_within_the_limits() {
        let text: String = (0..40_000)
            .map(|i| {
                if i % 3 == 0 {
                    "the ".to_string()
                } else {
                    format!("w{} ", i % 20_000)
                }
            })
            .collect();
        let ws = words(&text);
        let cut = spans(&ws);
        assert!(cut.len() > 50, "{}", cut.len());
        assert_eq!((cut[0].0, cut.last().unwrap().1), (0, ws.len()));
        for &(s, e) in &cut {
            assert!(e - s <= MAX_POSITION);
            let mut n: HashMap<&str, usize> = HashMap::new();
            for w in &ws[s..e] {
                *n.entry(w).or_default() += 1;
            }
            assert!(n.values().all(|&c| c <= MAX_POSITIONS_PER_WORD));
        }
        for w in cut.windows(2) {
            assert_eq!(w[1].0, w[0].1 - OVERLAP, "{w:?}");
        }
        let one: String = (0..30_000).map(|i| format!("x{i} ")).collect();
        let one = words(&one);
        assert_eq!(
            spans(&one),
            [(0, MAX_POSITION), (MAX_POSITION - OVERLAP, one.len())]
        );
        assert_eq!(parts(&[]), Vec::<String>::new());
        assert_eq!(parts(&words("b a B")), ["'a':2 'b':1,3"]);
        // CJK characters, and their pairs at the first one's position.
        assert_eq!(
            parts(&words("数据 x 数据据")),
            ["'x':3 '据':2,5,6 '据据':5 '数':1,4 '数据':1,4"]
        );
        // A part's limits count the pairs too: one character repeated makes one pair
        // repeated as often.
        let same: Vec<String> = words(&"数".repeat(1_000));
        for (s, e) in spans(&same) {
            assert!(e - s <= MAX_POSITIONS_PER_WORD, "{s}..{e}");
        }
    }
}
