//! Documents on PostgreSQL: the methods of src/store/documents.rs, with the same names, arguments
//! and results, for several nodes checking from one database. A check's one write
//! ([`PgStore::commit_check`], [`PgStore::commit_failure`]) is in src/store/pg/check.rs.
//!
//! A check is one transaction of its own (there is no group commit here: see
//! src/store/backend.rs), which first locks its document's row. Two nodes can only both hold a
//! result for one document if the first one's claim ran out mid-check; the row lock makes
//! their writes take turns, and the second finds the version it compared with is no longer the
//! newest (src/check/write.rs) or, at worst, fails on the version number the first one took,
//! rather than storing one edit twice.

use postgres::Row;

use super::PgStore;
use super::time::{PgTime, opt};
use crate::model::{DocRole, Timestamp};
use crate::store::documents::COLUMNS;
use crate::store::{DocumentRow, Presence, Result, StoreError, TitledDocument};

/// A row of [`COLUMNS`]. Flags are bigint, as SQLite's integers.
fn document(r: &Row) -> Result<DocumentRow> {
    let time = |i: usize| -> Result<Option<Timestamp>> { Ok(opt(r.try_get::<_, Option<PgTime>>(i)?)) };
    Ok(DocumentRow {
        id: r.get(0),
        url: r.get(1),
        watch: r.get(2),
        role: DocRole::parse(r.get(3))
            .map_err(|e| StoreError::Unsupported(format!("in the database: {e}")))?,
        announce: r.get::<_, i64>(4) != 0,
        etag: r.get(5),
        last_modified: r.get(6),
        last_checked_at: time(7)?,
        last_changed_at: time(8)?,
        next_due_at: time(9)?,
        failures: r.get(10),
        last_error: r.get(11),
        discovered_at: r.try_get::<_, PgTime>(12)?.0,
        lastmod: r.get(13),
        body_hash: r.get(14),
        presence: Presence {
            gone_checks: r.get(15),
            removed_at: time(16)?,
            unlisted_at: time(17)?,
            failing_since: time(18)?,
            failing_noticed: r.get::<_, i64>(19) != 0,
        },
    })
}

fn documents(rows: Vec<Row>) -> Result<Vec<DocumentRow>> {
    rows.iter().map(document).collect()
}

impl PgStore {
    /// As [`crate::store::Store::ensure_watch_document`].
    pub fn ensure_watch_document(
        &self,
        watch: &str,
        url: &str,
        role: DocRole,
        now: Timestamp,
    ) -> Result<DocumentRow> {
        self.execute(
            "INSERT INTO documents (url, watch, role, discovered_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (url) DO NOTHING",
            &[&url, &watch, &role.as_str(), &now.to_string()],
        )?;
        self.document_by_url(url)?
            .ok_or_else(|| StoreError::NotFound(format!("document {url}")))
    }

    /// As [`crate::store::Store::ensure_watch_documents`]: one statement for them all, rather
    /// than a round trip per watch (a node of 10,000 watches starts every pass with this).
    pub fn ensure_watch_documents(&self, watches: &[(&str, &str, DocRole)], now: Timestamp) -> Result<()> {
        let names: Vec<&str> = watches.iter().map(|w| w.0).collect();
        let urls: Vec<&str> = watches.iter().map(|w| w.1).collect();
        let roles: Vec<&str> = watches.iter().map(|w| w.2.as_str()).collect();
        self.execute(
            "INSERT INTO documents (url, watch, role, discovered_at)
             SELECT u, w, r, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS v(u, w, r)
             ON CONFLICT (url) DO NOTHING",
            &[&urls, &names, &roles, &now.to_string()],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::insert_discovered`].
    pub fn insert_discovered(
        &self,
        url: &str,
        watch: &str,
        announce: bool,
        now: Timestamp,
    ) -> Result<Option<DocumentRow>> {
        self.upsert_listed(url, watch, DocRole::Document, announce, None, now)
    }

    /// As [`crate::store::Store::upsert_listed`]: the row when it is new, or the listing's date
    /// for it moved on. Another node's listing may add the same URL at the same moment; the
    /// insert that loses is a known URL, as it would be a moment later.
    pub fn upsert_listed(
        &self,
        url: &str,
        watch: &str,
        role: DocRole,
        announce: bool,
        lastmod: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<DocumentRow>> {
        let inserted = self.query_opt(
            &format!(
                "INSERT INTO documents (url, watch, role, announce, discovered_at, lastmod)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (url) DO NOTHING
                 RETURNING {COLUMNS}"
            ),
            &[
                &url,
                &watch,
                &role.as_str(),
                &(announce as i64),
                &now.to_string(),
                &lastmod,
            ],
        )?;
        if let Some(r) = inserted {
            return document(&r).map(Some);
        }
        let Some(lastmod) = lastmod else { return Ok(None) };
        let moved = self.execute(
            "UPDATE documents SET lastmod = $2, next_due_at = NULL
             WHERE url = $1 AND lastmod IS NOT NULL AND lastmod < $2",
            &[&url, &lastmod],
        )?;
        // First date for a known document: remember it, nothing to do yet.
        self.execute(
            "UPDATE documents SET lastmod = $2 WHERE url = $1 AND lastmod IS NULL",
            &[&url, &lastmod],
        )?;
        match moved {
            1 => self.document_by_url(url),
            _ => Ok(None),
        }
    }

    /// As [`crate::store::Store::defer`].
    pub fn defer(&self, id: i64, until: Timestamp, reason: &str) -> Result<()> {
        self.execute(
            "UPDATE documents SET next_due_at = $2, last_error = $3,
                 claimed_by = CASE WHEN claimed_by = $4 THEN NULL ELSE claimed_by END,
                 claimed_until = CASE WHEN claimed_by = $4 THEN NULL ELSE claimed_until END
             WHERE id = $1",
            &[&id, &until.to_string(), &reason, &self.holder()],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::all_documents`].
    pub fn all_documents(&self) -> Result<Vec<DocumentRow>> {
        documents(self.query(
            &format!("SELECT {COLUMNS} FROM documents ORDER BY role = 'document', id"),
            &[],
        )?)
    }

    /// As [`crate::store::Store::document_by_url`].
    pub fn document_by_url(&self, url: &str) -> Result<Option<DocumentRow>> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM documents WHERE url = $1"),
            &[&url],
        )?
        .as_ref()
        .map(document)
        .transpose()
    }

    /// As [`crate::store::Store::documents_of`]: in the order of `watches`, each in id order.
    pub fn documents_of(&self, watches: &[&str]) -> Result<Vec<DocumentRow>> {
        documents(self.query(
            &format!(
                "SELECT {COLUMNS} FROM documents d
                 JOIN unnest($1::text[]) WITH ORDINALITY AS w(name, o) ON w.name = d.watch
                 ORDER BY w.o, d.id"
            ),
            &[&watches],
        )?)
    }

    /// As [`crate::store::Store::note_listing`].
    pub fn note_listing(&self, listing: i64, urls: &[&str], now: Timestamp) -> Result<usize> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let still: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM documents WHERE listed_by = $1 AND url = ANY($2))",
                &[&listing, &urls],
            )?
            .get(0);
        let left = match still {
            false => 0,
            true => tx.execute(
                "UPDATE documents SET unlisted_at = $3, next_due_at = NULL
                 WHERE listed_by = $1 AND unlisted_at IS NULL AND removed_at IS NULL
                   AND NOT (url = ANY($2))",
                &[&listing, &urls, &now.to_string()],
            )?,
        };
        tx.execute(
            "UPDATE documents SET listed_by = $1, unlisted_at = NULL
             WHERE url = ANY($2) AND role = 'document' AND (listed_by IS NULL OR listed_by = $1)",
            &[&listing, &urls],
        )?;
        tx.commit()?;
        Ok(left as usize)
    }

    /// As [`crate::store::Store::document_titles`].
    pub fn document_titles(&self) -> Result<Vec<TitledDocument>> {
        Ok(self
            .query(
                "SELECT d.url, s.title FROM documents d
                 JOIN LATERAL (SELECT title FROM snapshots WHERE document_id = d.id
                               ORDER BY version DESC LIMIT 1) s ON true
                 WHERE s.title IS NOT NULL
                 ORDER BY d.id",
                &[],
            )?
            .iter()
            .map(|r| TitledDocument {
                url: r.get(0),
                title: r.get(1),
            })
            .collect())
    }
}
