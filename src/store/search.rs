//! Full-text search over every stored version and every imported corpus file (migrations 0012, 0015):
//! the SQL functions its triggers call, the reading of a query (always one phrase, never FTS5
//! syntax), and the lookup.

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, params};

use super::{Result, SqliteStore, decompress_text};

/// Registers `govwatch_text(blob)` (a stored zstd text, decompressed) and `govwatch_words(text)`
/// (every CJK character a word of its own) on `conn`: the search triggers call them whenever a
/// version or a corpus file is written, so every connection that writes needs them.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags =
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("govwatch_text", 1, flags, |ctx| {
        let blob: Option<Vec<u8>> = ctx.get(0)?;
        // A blob that does not decompress is indexed as nothing rather than failing the write
        // of a check: the text is then missing from search, not the version from the store.
        Ok(blob.map(|b| decompress_text(&b).unwrap_or_default()))
    })?;
    conn.create_scalar_function("govwatch_words", 1, flags, |ctx| {
        let text: Option<String> = ctx.get(0)?;
        Ok(text.map(|t| spaced(&t)))
    })
}

/// `text` with a space either side of each CJK character, so that a word tokenizer sees each as
/// a word and a phrase of them matches them adjacent: "数据出境" is found as "数 据 出 境".
pub fn spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for c in text.chars() {
        if crate::text::is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Queries longer than this many characters are cut to it (the page says so).
pub const MAX_QUERY_CHARS: usize = 200;
/// At most this many matching texts are read for one search, newest first; the page says when
/// there were more.
pub(super) const MAX_MATCHES: usize = 1_000;

/// A query as the words index reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phrase {
    /// The FTS5 query text: one quoted phrase of words (each CJK character a word), its last
    /// word a prefix when it is a Latin word the reader may not have finished.
    Words(String),
    /// Nothing to look for (empty, or only punctuation).
    Nothing,
}

/// What the user typed, read as one phrase: the whitespace folded, cut to [`MAX_QUERY_CHARS`],
/// quoted so that `"`, `*`, `NEAR`, `-`, `AND` and the like are text to find, never syntax.
/// The words must appear in this order, adjacent; the last one may be the start of a longer
/// word ("encrypt" finds "encryption"); Chinese is a phrase of characters, so "据出" is found
/// inside "数据出境". Returns the phrase and whether the query was cut.
pub fn phrase(query: &str) -> (Phrase, bool) {
    let folded = query.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut = folded.chars().count() > MAX_QUERY_CHARS;
    let q: String = folded.chars().take(MAX_QUERY_CHARS).collect();
    if !q.chars().any(char::is_alphanumeric) {
        return (Phrase::Nothing, cut);
    }
    let quoted = format!("\"{}\"", spaced(&q).trim().replace('"', "\"\""));
    // A prefix only after a Latin letter or digit: a CJK character is a word of its own already.
    let last = q.chars().rev().find(|c| c.is_alphanumeric());
    let p = match last {
        Some(c) if !crate::text::is_cjk(c) => Phrase::Words(format!("{quoted} *")),
        _ => Phrase::Words(quoted),
    };
    (p, cut)
}

/// What to search and where.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Only versions of documents of this watch.
    pub watch: Option<String>,
    /// `corpus` (imported files only), `version` (stored versions only), or an event kind
    /// (versions an event of that kind was recorded for).
    pub kind: Option<String>,
    /// Fetched (or imported) on or after / before this RFC 3339 time.
    pub from: Option<String>,
    pub until: Option<String>,
}

/// One text found: a stored version (`document_id`, `version`) or an imported corpus file
/// (`corpus_id`), described for the page ([`Store::search_hits`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchHit {
    pub snapshot_id: Option<i64>,
    pub document_id: Option<i64>,
    pub version: Option<i64>,
    pub corpus_id: Option<i64>,
    pub title: Option<String>,
    /// The document's URL, or the corpus file's name.
    pub name: String,
    pub watch: Option<String>,
    pub at: String,
    pub more: usize,
}

/// A document or file found, not yet described: its newest matching version (or the imported
/// file), and how many older versions of it matched too. Hits are grouped by document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub snapshot_id: Option<i64>,
    pub document_id: Option<i64>,
    pub corpus_id: Option<i64>,
    pub more: usize,
}

#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// Newest first.
    pub hits: Vec<Found>,
    /// More matches than were read (the newest [`MAX_MATCHES`] were).
    pub capped: bool,
}

/// A match as the search query returns it: the text's rowid and, for a version, its document.
type Match = (i64, Option<i64>);

/// Matches (newest first, one more than are kept when there were more) as one hit per document
/// or file: its newest, with how many older ones matched too.
pub(super) fn grouped(rows: Vec<Match>) -> SearchResults {
    let capped = rows.len() > MAX_MATCHES;
    let mut found: Vec<Found> = Vec::new();
    let mut seen: std::collections::HashMap<(bool, i64), usize> = std::collections::HashMap::new();
    for (rowid, document) in rows.into_iter().take(MAX_MATCHES) {
        let hit = match document {
            Some(d) if rowid > 0 => Found {
                snapshot_id: Some(rowid),
                document_id: Some(d),
                corpus_id: None,
                more: 0,
            },
            _ if rowid < 0 => Found {
                snapshot_id: None,
                document_id: None,
                corpus_id: Some(-rowid),
                more: 0,
            },
            _ => continue,
        };
        let key = match (hit.document_id, hit.corpus_id) {
            (Some(d), _) => (true, d),
            (None, Some(c)) => (false, c),
            (None, None) => continue,
        };
        match seen.get(&key) {
            Some(&i) => found[i].more += 1,
            None => {
                seen.insert(key, found.len());
                found.push(hit);
            }
        }
    }
    SearchResults { hits: found, capped }
}

/// The search query for `table` under `filter`: the rowids of the matching texts newest first,
/// with each version's document. Up to 1,001 matches are read only to be grouped, so a match
/// costs an index lookup, no more: a version's document from `snapshots_found` (not from the
/// row that holds its text), a document's watch or a file's date only when a filter asks.
fn search_sql(table: &str, filter: &SearchFilter) -> String {
    let mut joins =
        vec!["LEFT JOIN snapshots s INDEXED BY snapshots_found ON f.rowid > 0 AND s.id = f.rowid"];
    // A file's row is read to know it is still there (and when it was imported, if asked).
    joins.push("LEFT JOIN corpus c ON f.rowid < 0 AND c.id = -f.rowid");
    let mut conds = vec![
        format!("{table} MATCH ?1"),
        "(s.id IS NOT NULL OR c.id IS NOT NULL)".into(),
    ];
    if filter.watch.is_some() {
        joins.push("LEFT JOIN documents d ON d.id = s.document_id");
        conds.push("d.watch = ?2".into());
    }
    if filter.kind.is_some() {
        conds.push(
            "((?3 = 'corpus' AND f.rowid < 0) OR (?3 = 'version' AND f.rowid > 0)
              OR EXISTS (SELECT 1 FROM events e WHERE e.snapshot_id = s.id AND e.kind = ?3))"
                .into(),
        );
    }
    if filter.from.is_some() {
        conds.push("COALESCE(s.fetched_at, c.added_at) >= ?4".into());
    }
    if filter.until.is_some() {
        conds.push("COALESCE(s.fetched_at, c.added_at) < ?5".into());
    }
    format!(
        "SELECT f.rowid, s.document_id FROM {table} f {} WHERE {} ORDER BY f.rowid DESC LIMIT ?6",
        joins.join(" "),
        conds.join(" AND ")
    )
}

impl SqliteStore {
    /// The texts matching `phrase` that `filter` lets through, newest first, one hit per
    /// document (its newest matching version). A query the index refuses is no match.
    pub fn search(&self, phrase: &Phrase, filter: &SearchFilter) -> Result<SearchResults> {
        let q = match phrase {
            Phrase::Words(q) => q,
            Phrase::Nothing => return Ok(SearchResults::default()),
        };
        let table = "search_words";
        let mut stmt = self.conn.prepare_cached(&search_sql(table, filter))?;
        // Every parameter is bound; those the filter leaves out are NULL and unused.
        let rows = stmt.query_map(
            params![
                q,
                filter.watch,
                filter.kind,
                filter.from,
                filter.until,
                (MAX_MATCHES + 1) as i64
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
        );
        // A query FTS5 refuses (it cannot be, quoted; but the index is not ours to trust) finds
        // nothing rather than failing the page.
        let Ok(rows) = rows else {
            return Ok(SearchResults::default());
        };
        let Ok(rows) = rows
            .take(MAX_MATCHES + 1)
            .collect::<rusqlite::Result<Vec<Match>>>()
        else {
            return Ok(SearchResults::default());
        };
        Ok(grouped(rows))
    }

    /// What a page shows of the hits `found`: each version's document, title and date, each
    /// file's name. A hit whose text has gone since is left out.
    pub fn search_hits(&self, found: &[Found]) -> Result<Vec<SearchHit>> {
        use rusqlite::OptionalExtension;
        let mut out = Vec::with_capacity(found.len());
        for f in found {
            let hit = match (f.snapshot_id, f.corpus_id) {
                (Some(id), _) => self
                    .conn
                    .prepare_cached(
                        "SELECT s.document_id, s.version, s.title, d.url, d.watch, s.fetched_at
                         FROM snapshots s JOIN documents d ON d.id = s.document_id WHERE s.id = ?1",
                    )?
                    .query_row([id], |r| {
                        Ok(SearchHit {
                            snapshot_id: Some(id),
                            document_id: r.get(0)?,
                            version: r.get(1)?,
                            corpus_id: None,
                            title: r.get(2)?,
                            name: r.get(3)?,
                            watch: r.get(4)?,
                            at: r.get(5)?,
                            more: f.more,
                        })
                    })
                    .optional()?,
                (None, Some(id)) => self
                    .conn
                    .prepare_cached("SELECT name, title, added_at FROM corpus WHERE id = ?1")?
                    .query_row([id], |r| {
                        Ok(SearchHit {
                            snapshot_id: None,
                            document_id: None,
                            version: None,
                            corpus_id: Some(id),
                            title: r.get(1)?,
                            name: r.get(0)?,
                            watch: None,
                            at: r.get(2)?,
                            more: f.more,
                        })
                    })
                    .optional()?,
                (None, None) => None,
            };
            out.extend(hit);
        }
        Ok(out)
    }

    /// The id of the imported corpus file named `name`.
    pub fn corpus_import_id(&self, name: &str) -> Result<Option<i64>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM corpus WHERE origin = 'import' AND name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    /// The text of an imported corpus file, by its id.
    pub fn corpus_file(&self, corpus_id: i64) -> Result<Option<(String, Option<String>, String)>> {
        use rusqlite::OptionalExtension;
        let row: Option<(String, Option<String>, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT name, title, text FROM corpus WHERE id = ?1 AND origin = 'import'",
                [corpus_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match row {
            Some((name, title, blob)) => {
                let text = blob.map(|b| decompress_text(&b)).transpose()?.unwrap_or_default();
                Ok(Some((name, title, text)))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_one_quoted_phrase() {
        assert_eq!(
            phrase("  data   flows ").0,
            Phrase::Words("\"data flows\" *".into())
        );
        assert_eq!(
            phrase("say \"no\"").0,
            Phrase::Words("\"say \"\"no\"\"\" *".into())
        );
        assert_eq!(phrase("NEAR(a b)").0, Phrase::Words("\"NEAR(a b)\" *".into()));
        assert_eq!(phrase("数据").0, Phrase::Words("\"数  据\"".into()));
        assert_eq!(phrase("AI").0, Phrase::Words("\"AI\" *".into()));
        assert_eq!(phrase("").0, Phrase::Nothing);
        assert_eq!(phrase("\"*").0, Phrase::Nothing);
        let (p, cut) = phrase(&"x".repeat(10_000));
        assert!(cut && matches!(p, Phrase::Words(q) if q.len() == MAX_QUERY_CHARS + 4));
    }

    /// Every query, whatever it holds, is answered: FTS5 syntax is text to find.
    #[test]
    fn hostile_queries_find_text_or_nothing_never_fail() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let now = crate::model::Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let doc = s
            .ensure_watch_document("w", "http://127.0.0.1/a", crate::model::DocRole::Page, now)
            .unwrap();
        let text = "Rules on 数据出境 (cross-border data) say \"no\" * NEAR - AND the AI act.";
        let rec = super::super::CheckRecord {
            document_id: doc.id,
            etag: None,
            last_modified: None,
            next_due_at: now,
            snapshot: Some(super::super::NewSnapshot::new(text, "h".into(), b"")),
            corpus: None,
            events: Vec::new(),
            targets: Vec::new(),
            template_blocks: None,
            body_hash: None,
        };
        s.commit_check(rec, now).unwrap();
        let f = SearchFilter::default();
        for q in [
            "数据出境",
            "据出",
            "数",
            "AI",
            "cross-border",
            "\"no\"",
            "* NEAR -",
            "NEAR",
            "NEAR(",
            "cross-bor",
            "rules on 数据",
            "the ai",
        ] {
            let r = s.search(&phrase(q).0, &f).unwrap();
            assert_eq!(r.hits.len(), 1, "{q}");
        }
        for q in ["\"", "*", "-", "ross", "AND OR NOT", "数据入境", "zz", ")(", "^"] {
            let r = s.search(&phrase(q).0, &f).unwrap();
            assert!(r.hits.is_empty(), "{q}");
        }
    }
}
