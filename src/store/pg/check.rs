//! A check's write on PostgreSQL as one statement: [`PgStore::commit_check`] and
//! [`PgStore::commit_failure`] send, after the row lock, every row of the check (its version
//! and search words, corpus entry and index rows, template blocks, events with their
//! deliveries, and the document's state with its claim let go of) in one data-modifying `WITH`.
//!
//! # Why one statement
//!
//! The client is blocking and the store is used by one thread, so a check's write cost a round
//! trip per statement, one after the other: about a dozen for a new version (the version, the
//! search words twice, the corpus entry three or four times, the template blocks twice, two per
//! event, the state, the claim), which bound a pass on PostgreSQL by the server's latency
//! rather than by its work. Here it is three: `BEGIN` with the lock (one simple query), the
//! write, `COMMIT`. The rows are the ones SQLite's store writes (src/store/snapshots.rs and its
//! neighbours say what each is; a test compares the two), in one transaction, after the lock.
//!
//! # What one statement changes, and why it does not matter
//!
//! The parts of a `WITH` run on one snapshot and cannot see one another's rows but through
//! `RETURNING`, so each part takes what it needs from the one before that way (the version's id,
//! the corpus entry's, the events'), and reads of the tables it writes see them as they were
//! before the statement, which is what the statements one by one read first. The lock stays a
//! statement of its own before the write: the version number (one past the newest) must be
//! read after the lock is granted, on a snapshot taken then, or a writer that waited for
//! another would number its version from before the other's.
//!
//! - The search words of a new version are inserted, not replaced: its id is new from the
//!   sequence, so nothing is indexed under it yet.
//! - Template blocks: the blocks that stay are left in place rather than deleted and inserted
//!   again with what they were; those that went are deleted; new ones are born with the
//!   document only if it had none recorded (as src/store/templates.rs's `replace`).
//! - An event none of its watch's followers wants is inserted settled (`notified_at` set),
//!   rather than inserted and then updated.
//! - Events are inserted in their order, so their ids rise in it; their deliveries are matched to
//!   them by that rank, and written event by event, each in the order of its targets.

use std::sync::LazyLock;

use postgres::types::ToSql;

use super::sql::{Cached, Sql};
use super::{PgStore, search};
use crate::similarity as index;
use crate::store::{CheckRecord, FailureRecord, NewEvent, NewSnapshot, Result, StoreError, Target};

/// Events and their deliveries, the part both statements share: `$1` the document, `$2` now,
/// `$4` to `$16` the events' columns as arrays (one element an event), `$17` to `$21` the
/// deliveries' (`$17` the rank of the event each is for, from 1). `{version}` is the snapshot
/// the events are about when they name none.
const EVENTS: &str = "
    new_events AS (
        INSERT INTO events (kind, document_id, snapshot_id, watch, url, title, detected_at, source,
            overlap, added, removed, relevant, significance, details, notified_at)
        SELECT e.kind, $1, COALESCE(e.snapshot_id, {version}), e.watch, e.url, e.title, $2, e.source,
               e.overlap, e.added, e.removed, e.relevant, e.significance, e.details,
               CASE WHEN e.settled THEN $2 END
        FROM unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],
                    $10::float8[], $11::text[], $12::text[], $13::bigint[], $14::float8[], $15::text[],
                    $16::boolean[])
             WITH ORDINALITY AS e(kind, snapshot_id, watch, url, title, source, overlap, added, removed,
                                  relevant, significance, details, settled, rank)
        ORDER BY e.rank
        RETURNING id),
    ranked AS (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM new_events),
    new_deliveries AS (
        INSERT INTO deliveries (event_id, recipient, channel, mode, next_attempt_at, created_at)
        SELECT r.id, d.recipient, d.channel, d.mode, d.due, $2
        FROM unnest($17::bigint[], $18::text[], $19::text[], $20::text[], $21::text[])
             WITH ORDINALITY AS d(rank, recipient, channel, mode, due, o)
        JOIN ranked r ON r.rank = d.rank
        ORDER BY d.o
        ON CONFLICT DO NOTHING)";

/// A good check: `$22` whether there is a new version and `$23` to `$32` its columns, `$33` its
/// search words ([`search::parts`]); `$34` whether it enters the corpus, `$35` to `$39` its
/// entry, `$40` and `$41` the entry's band keys and fingerprints; `$42` whether the page's
/// template blocks are recorded, `$43` its host and `$44` its blocks; `$45` to `$48` the
/// document's validators, next due time and body hash; `$3` this process's name on its claim.
/// The new version's id, if any.
static CHECK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH
    version AS (
        INSERT INTO snapshots (document_id, version, fetched_at, text_hash, title, published, lang,
            canonical, encoding, content_type, words, text, body)
        SELECT $1::bigint, COALESCE(MAX(version), 0) + 1, $2::text, $23::text, $24::text, $25::text,
               $26::text, $27::text, $28::text, $29::text, $30::bigint, $31::bytea, $32::bytea
        FROM snapshots WHERE document_id = $1
        HAVING $22::boolean
        RETURNING id),
    version_words AS (
        INSERT INTO search_words (id, part, document_id, at, words)
        SELECT v.id, w.part - 1, $1, $2, w.words::tsvector
        FROM version v, unnest($33::text[]) WITH ORDINALITY AS w(words, part)),
    entry AS (
        SELECT id, minhash IS NULL AS unindexed FROM corpus
        WHERE $34::boolean AND origin = 'snapshot' AND document_id = $1 AND text_hash = $36::text),
    moved_entry AS (
        UPDATE corpus c SET snapshot_id = v.id, title = $35::text,
            minhash = COALESCE(c.minhash, $38::bytea),
            fp_count = CASE WHEN c.minhash IS NULL THEN $39::bigint ELSE c.fp_count END
        FROM entry e, version v WHERE c.id = e.id
        RETURNING c.id, e.unindexed),
    new_entry AS (
        INSERT INTO corpus (origin, name, document_id, snapshot_id, title, text_hash, words, added_at,
            minhash, fp_count)
        SELECT 'snapshot', d.url, d.id, v.id, $35, $36, $37::bigint, $2, $38, $39
        FROM documents d, version v
        WHERE $34 AND d.id = $1 AND NOT EXISTS (SELECT 1 FROM entry)
        RETURNING id),
    to_index AS (SELECT id FROM new_entry UNION ALL SELECT id FROM moved_entry WHERE unindexed),
    bands AS (
        INSERT INTO corpus_lsh (band_key, corpus_id)
        SELECT k, t.id FROM to_index t, unnest($40::bigint[]) AS k
        ON CONFLICT DO NOTHING),
    fingerprints AS (
        INSERT INTO corpus_fp (hash, corpus_id)
        SELECT h, t.id FROM to_index t, unnest($41::bigint[]) AS h
        ON CONFLICT DO NOTHING),
    blocks_gone AS (
        DELETE FROM template_blocks
        WHERE $42::boolean AND document_id = $1 AND NOT (host = $43::text AND hash = ANY($44::bigint[]))),
    blocks AS (
        INSERT INTO template_blocks (host, hash, document_id, born)
        SELECT $43, k, $1,
               CASE WHEN NOT EXISTS (SELECT 1 FROM template_blocks WHERE document_id = $1) THEN 1
                    WHEN EXISTS (SELECT 1 FROM template_blocks
                                 WHERE document_id = $1 AND hash = k AND born <> 0) THEN 1
                    ELSE 0 END
        FROM unnest($44) AS k
        WHERE $42
        ON CONFLICT DO NOTHING),
    {EVENTS},
    state AS (
        UPDATE documents SET failures = 0, last_error = NULL, announce = 0,
            gone_checks = 0, removed_at = NULL, failing_since = NULL, failing_noticed = 0,
            etag = COALESCE($45::text, etag), last_modified = COALESCE($46::text, last_modified),
            last_checked_at = $2, next_due_at = $47::text,
            last_changed_at = CASE WHEN $22 THEN $2 ELSE last_changed_at END,
            body_hash = COALESCE($48::text, body_hash),
            claimed_by = CASE WHEN claimed_by = $3::text THEN NULL ELSE claimed_by END,
            claimed_until = CASE WHEN claimed_by = $3 THEN NULL ELSE claimed_until END
        WHERE id = $1)
SELECT (SELECT id FROM version)",
        EVENTS = EVENTS.replace("{version}", "(SELECT id FROM version)"),
    )
});

/// A failed check: `$22` to `$27` the failure's columns; `$3` this process's name on its claim.
static FAILURE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH
    state AS (
        UPDATE documents SET failures = failures + 1, total_failures = total_failures + 1,
            last_error = $22::text, last_checked_at = $2::text, next_due_at = $23::text,
            gone_checks = CASE WHEN $24::boolean THEN gone_checks + 1 ELSE 0 END,
            removed_at = CASE WHEN $25::boolean THEN $2 ELSE removed_at END,
            failing_since = $26::text, failing_noticed = $27::bigint,
            claimed_by = CASE WHEN claimed_by = $3::text THEN NULL ELSE claimed_by END,
            claimed_until = CASE WHEN claimed_by = $3 THEN NULL ELSE claimed_until END
        WHERE id = $1::bigint),
    {EVENTS}
SELECT 1",
        EVENTS = EVENTS.replace("{version}", "NULL::bigint"),
    )
});

/// The events of a check and their deliveries, as the arrays of [`EVENTS`] (`$4` to `$21`).
/// An event's deliveries are its watch's followers that want its kind; a relevant event none of
/// them wants is settled at once, and one with no followers at all is left for the outbox (as
/// src/store/pg/outbox.rs's `enqueue_in`).
#[derive(Default)]
struct Events<'a> {
    kind: Vec<&'static str>,
    snapshot_id: Vec<Option<i64>>,
    watch: Vec<&'a str>,
    url: Vec<&'a str>,
    title: Vec<Option<&'a str>>,
    source: Vec<Option<&'a str>>,
    overlap: Vec<Option<f64>>,
    added: Vec<Option<&'a str>>,
    removed: Vec<Option<&'a str>>,
    relevant: Vec<i64>,
    significance: Vec<f64>,
    details: Vec<Option<String>>,
    settled: Vec<bool>,
    // Deliveries.
    rank: Vec<i64>,
    recipient: Vec<&'a str>,
    channel: Vec<&'static str>,
    mode: Vec<&'static str>,
    due: Vec<String>,
}

impl<'a> Events<'a> {
    fn new(events: impl Iterator<Item = (&'a NewEvent, Option<i64>)>, targets: &'a [Target]) -> Events<'a> {
        let mut out = Events::default();
        for (i, (e, snapshot_id)) in events.enumerate() {
            let wanted: Vec<&Target> = match e.relevant {
                true => targets.iter().filter(|t| t.wants(e.kind)).collect(),
                false => Vec::new(),
            };
            out.kind.push(e.kind.as_str());
            out.snapshot_id.push(snapshot_id);
            out.watch.push(&e.watch);
            out.url.push(&e.url);
            out.title.push(e.title.as_deref());
            out.source.push(e.source.as_deref());
            out.overlap.push(e.overlap);
            out.added.push(e.added.as_deref());
            out.removed.push(e.removed.as_deref());
            out.relevant.push(e.relevant as i64);
            out.significance.push(e.significance);
            out.details.push(e.details.as_ref().map(|d| d.to_string()));
            out.settled
                .push(e.relevant && !targets.is_empty() && wanted.is_empty());
            for t in wanted {
                out.rank.push(i as i64 + 1);
                out.recipient.push(&t.recipient);
                out.channel.push(t.channel.as_str());
                out.mode.push(t.mode.as_str());
                out.due.push(t.due_at.to_string());
            }
        }
        out
    }

    /// `$4` to `$21`.
    fn params(&self) -> [&(dyn ToSql + Sync); 18] {
        [
            &self.kind,
            &self.snapshot_id,
            &self.watch,
            &self.url,
            &self.title,
            &self.source,
            &self.overlap,
            &self.added,
            &self.removed,
            &self.relevant,
            &self.significance,
            &self.details,
            &self.settled,
            &self.rank,
            &self.recipient,
            &self.channel,
            &self.mode,
            &self.due,
        ]
    }
}

/// Begins a check's transaction with its first statement, the lock on the document's row
/// (held until the transaction ends), in one round trip; an error if there is no such document.
fn begin_locked<'a>(client: &'a mut postgres::Client, store: &'a PgStore, id: i64) -> Result<Cached<'a>> {
    // The id is a number: nothing from outside is spelt into the SQL.
    match Cached::begin_with(
        client,
        store,
        &format!("SELECT 1 FROM documents WHERE id = {id} FOR UPDATE"),
    )? {
        (tx, 1) => Ok(tx),
        _ => Err(StoreError::NotFound(format!("document {id}"))),
    }
}

impl PgStore {
    /// As [`crate::store::Store::commit_check`]: one transaction (see src/store/pg/documents.rs),
    /// the lock and the write (see the module's doc).
    pub fn commit_check(&self, rec: CheckRecord, now: crate::model::Timestamp) -> Result<Option<i64>> {
        let now = now.to_string();
        // The new version's text, for search (the record carries it compressed).
        let words = match &rec.snapshot {
            Some(s) => search::parts(&search::words(&crate::store::decompress_text(&s.text_z)?)),
            None => Vec::new(),
        };
        // An absent version's (or entry's, or blocks') columns are sent empty, and not read.
        let none = NewSnapshot::default();
        let s = rec.snapshot.as_ref();
        let v = s.unwrap_or(&none);
        // The corpus entry, with its index rows in key order (as the import's are).
        let c = rec.corpus.as_ref().filter(|_| s.is_some());
        let minhash = c
            .map(|c| index::minhash_blob(&c.signature.minhash))
            .unwrap_or_default();
        let fp_count = c.map_or(0, |c| c.signature.fp_set.len() as i64);
        let mut bands = c
            .map(|c| index::band_keys(&c.signature.minhash))
            .unwrap_or_default();
        bands.sort_unstable();
        let mut fps = c.map(|c| c.signature.fp_set.clone()).unwrap_or_default();
        fps.sort_unstable();
        let (c_title, c_hash, c_words) = match c {
            Some(c) => (c.title.as_deref(), c.text_hash.as_str(), c.words as i64),
            None => (None, "", 0),
        };
        let (host, keys) = match &rec.template_blocks {
            Some((h, k)) => (h.as_str(), k.as_slice()),
            None => ("", &[][..]),
        };
        let events = Events::new(rec.events.iter().map(|e| (e, None)), &rec.targets);
        let next_due = rec.next_due_at.to_string();
        let holder = self.holder();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&rec.document_id, &now, &holder];
        params.extend(events.params());
        let has_version = s.is_some();
        let (has_entry, has_blocks) = (c.is_some(), rec.template_blocks.is_some());
        params.extend::<[&(dyn ToSql + Sync); 27]>([
            &has_version,
            &v.text_hash,
            &v.title,
            &v.published,
            &v.lang,
            &v.canonical,
            &v.encoding,
            &v.content_type,
            &v.words,
            &v.text_z,
            &v.body_z,
            &words,
            &has_entry,
            &c_title,
            &c_hash,
            &c_words,
            &minhash,
            &fp_count,
            &bands,
            &fps,
            &has_blocks,
            &host,
            &keys,
            &rec.etag,
            &rec.last_modified,
            &next_due,
            &rec.body_hash,
        ]);
        let mut client = self.client.borrow_mut();
        let mut tx = begin_locked(&mut client, self, rec.document_id)?;
        let snapshot_id: Option<i64> = tx.query_one(&CHECK, &params)?.get(0);
        tx.commit()?;
        Ok(snapshot_id)
    }

    /// As [`crate::store::Store::commit_failure`]: one transaction, the lock and the write.
    pub fn commit_failure(&self, rec: FailureRecord, now: crate::model::Timestamp) -> Result<()> {
        let now = now.to_string();
        let events = Events::new(rec.events.iter().map(|(e, s)| (e, *s)), &rec.targets);
        let (next_due, failing_since) = (rec.next_due_at.to_string(), rec.failing_since.to_string());
        let noticed = rec.failing_noticed as i64;
        let holder = self.holder();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&rec.document_id, &now, &holder];
        params.extend(events.params());
        params.extend::<[&(dyn ToSql + Sync); 6]>([
            &rec.why,
            &next_due,
            &rec.gone,
            &rec.removed,
            &failing_since,
            &noticed,
        ]);
        let mut client = self.client.borrow_mut();
        let mut tx = begin_locked(&mut client, self, rec.document_id)?;
        tx.query_one(&FAILURE, &params)?;
        tx.commit()?;
        Ok(())
    }
}
