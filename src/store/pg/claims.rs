//! Claims on PostgreSQL: the leases of src/store/claims.rs (same columns, same meaning), taken
//! with `FOR UPDATE SKIP LOCKED`, so that nodes claiming at the same moment pass over each
//! other's rows instead of queueing behind them, and a row is claimed by one node only.
//!
//! The lease ends are stamped and judged on the server's clock (see [`super::time`] for why),
//! not with the caller's `now`, which these methods take only to keep SQLite's signatures. A
//! lease therefore runs out by itself after [`LEASE`] of the server's time: a test that wants
//! one run out moves its end back by hand.

use super::PgStore;
use super::time::{PgTime, server_now, server_now_plus};
use crate::model::Timestamp;
use crate::store::claims::{LEASES_BY_HOLDER, NodeLeases, Sharing, is_gone};
use crate::store::{LEASE, Result};

/// [`LEASE`] in seconds, the parameter of [`server_now_plus`].
fn lease_secs() -> i64 {
    LEASE.as_secs() as i64
}

impl PgStore {
    /// As [`crate::store::Store::claim_documents`]: claims the documents among `due` that
    /// nobody holds (never claimed, let go, or run out) and nobody checked since the caller read
    /// them, and returns those now claimed, in the order given. A document this process holds
    /// is not claimed again; one another node is claiming at this moment (its row locked) is
    /// passed over, not waited for.
    pub fn claim_documents(&self, due: &[(i64, Option<Timestamp>)], now: Timestamp) -> Result<Vec<i64>> {
        // First, as on SQLite: a process of this node killed mid-pass would otherwise keep its
        // documents from a restarted one until its leases ran out, and a node killed and
        // restarted faster than a pass lasts would never check anything.
        self.clear_gone_holders(now)?;
        self.claim_some(due, usize::MAX, now)
    }

    /// As [`crate::store::Store::claim_some`]: at most `limit` of them, the first in the order
    /// given that can be had, without looking for gone processes first.
    pub fn claim_some(
        &self,
        due: &[(i64, Option<Timestamp>)],
        limit: usize,
        _now: Timestamp,
    ) -> Result<Vec<i64>> {
        let ids: Vec<i64> = due.iter().map(|d| d.0).collect();
        let checked: Vec<Option<String>> = due.iter().map(|d| d.1.map(|t| t.to_string())).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let claimed: std::collections::HashSet<i64> = self
            .query(
                concat!(
                    "UPDATE documents SET claimed_by = $3, claimed_until = ",
                    server_now_plus!("$4"),
                    " WHERE id IN (SELECT d.id FROM documents d
                                   JOIN unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS v(id, checked, ord)
                                     ON v.id = d.id
                                   WHERE (d.claimed_by IS NULL OR d.claimed_until < ",
                    server_now!(),
                    ") AND d.last_checked_at IS NOT DISTINCT FROM v.checked
                                   ORDER BY v.ord LIMIT $5
                                   FOR UPDATE OF d SKIP LOCKED)
                     RETURNING id"
                ),
                &[&ids, &checked, &self.holder, &lease_secs(), &limit],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(ids.into_iter().filter(|id| claimed.contains(id)).collect())
    }

    /// As [`crate::store::Store::begin_pass`], until a lease from the server's now.
    pub fn begin_pass(&self, origins: usize, _now: Timestamp) -> Result<()> {
        self.execute(
            concat!(
                "INSERT INTO passes (holder, origins, until) VALUES ($1, $3, ",
                server_now_plus!("$2"),
                ") ON CONFLICT (holder) DO UPDATE
                   SET origins = GREATEST(passes.origins, excluded.origins), until = excluded.until"
            ),
            &[&self.holder, &lease_secs(), &(origins as i64)],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::end_pass`].
    pub fn end_pass(&self) -> Result<()> {
        self.execute("DELETE FROM passes WHERE holder = $1", &[&self.holder])?;
        Ok(())
    }

    /// As [`crate::store::Store::sharing`], on the server's clock: one round trip.
    pub fn sharing(&self, _now: Timestamp) -> Result<Sharing> {
        let rows = self.query(
            concat!(
                "SELECT 'p', holder, '', origins FROM passes WHERE until >= ",
                server_now!(),
                " UNION ALL SELECT 'o', lease_holder, origin, 0 FROM hosts
                   WHERE lease_holder IS NOT NULL AND lease_holder <> $1 AND lease_until >= ",
                server_now!()
            ),
            &[&self.holder],
        )?;
        let (mut passes, mut held) = (Vec::new(), Vec::new());
        for r in &rows {
            let (kind, holder, origin): (&str, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            if kind == "p" {
                passes.push((holder, r.try_get::<_, i64>(3)?));
            } else {
                held.push((origin, holder));
            }
        }
        Ok(Sharing::new(&self.holder, passes, held))
    }

    /// As [`crate::store::Store::may_write`]: whether this process still holds its claim on
    /// the document, or nobody does.
    pub fn may_write(&self, document_id: i64, _now: Timestamp) -> Result<bool> {
        // Prepared: every check asks it before it writes.
        Ok(self
            .query_opt(
                concat!(
                    "SELECT 1 FROM documents WHERE id = $1
                         AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until < ",
                    server_now!(),
                    ")"
                ),
                &[&document_id, &self.holder],
            )?
            .is_some())
    }

    /// As [`crate::store::Store::release_documents`].
    pub fn release_documents(&self, ids: &[i64]) -> Result<()> {
        self.client.borrow_mut().execute(
            "UPDATE documents SET claimed_by = NULL, claimed_until = NULL
             WHERE id = ANY($1) AND claimed_by = $2",
            &[&ids, &self.holder],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::renew_claims`]: every claim this process holds, extended by
    /// another lease from the server's now; returns how many.
    pub fn renew_claims(&self, _now: Timestamp) -> Result<usize> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let mut n = 0;
        for sql in [
            concat!(
                "UPDATE documents SET claimed_until = ",
                server_now_plus!("$2"),
                " WHERE claimed_by = $1"
            ),
            concat!(
                "UPDATE deliveries SET claimed_until = ",
                server_now_plus!("$2"),
                " WHERE claimed_by = $1"
            ),
            concat!(
                "UPDATE hosts SET lease_until = ",
                server_now_plus!("$2"),
                " WHERE lease_holder = $1"
            ),
        ] {
            n += tx.execute(sql, &[&self.holder, &lease_secs()])?;
        }
        tx.execute(
            concat!(
                "UPDATE passes SET until = ",
                server_now_plus!("$2"),
                " WHERE holder = $1"
            ),
            &[&self.holder, &lease_secs()],
        )?;
        tx.commit()?;
        Ok(n as usize)
    }

    /// As [`crate::store::Store::release_claims`]: lets go of every claim this process holds.
    pub fn release_claims(&self) -> Result<()> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        for sql in [
            "UPDATE documents SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
            "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
            "UPDATE hosts SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = $1",
            "DELETE FROM passes WHERE holder = $1",
        ] {
            tx.execute(sql, &[&self.holder])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// As [`crate::store::Store::clear_gone_holders`]: lets go of the live claims of this node's
    /// processes that are gone (a `kill -9`), so their work is taken over now rather than when
    /// their leases run out. Only this node's: another machine's pids mean nothing here.
    pub fn clear_gone_holders(&self, _now: Timestamp) -> Result<usize> {
        let mut client = self.client.borrow_mut();
        let holders: Vec<String> = client
            .query(
                concat!(
                    "SELECT holder FROM (",
                    "SELECT claimed_by AS holder, claimed_until AS until FROM documents WHERE claimed_by IS NOT NULL
                     UNION SELECT claimed_by, claimed_until FROM deliveries WHERE claimed_by IS NOT NULL
                     UNION SELECT lease_holder, lease_until FROM hosts WHERE lease_holder IS NOT NULL
                     UNION SELECT holder, until FROM passes
                     ) AS held WHERE until >= ",
                    server_now!()
                ),
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut cleared = 0;
        for gone in holders
            .iter()
            .filter(|h| **h != self.holder && is_gone(h, &self.holder))
        {
            tracing::info!(holder = %gone, "taking over the work of a govwatch process that is gone");
            let mut tx = client.transaction()?;
            for sql in [
                "UPDATE documents SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
                "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
                "UPDATE hosts SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = $1",
            ] {
                cleared += tx.execute(sql, &[gone])? as usize;
            }
            tx.execute("DELETE FROM passes WHERE holder = $1", &[gone])?;
            tx.commit()?;
        }
        Ok(cleared)
    }

    /// As [`crate::store::Store::lease_holders`]: who holds live leases on the database, on the
    /// server's clock (`now` is not used).
    pub fn lease_holders(&self, _now: Timestamp) -> Result<Vec<NodeLeases>> {
        let sql = LEASES_BY_HOLDER.replace("$1", server_now!());
        self.client
            .borrow_mut()
            .query(&sql, &[])?
            .iter()
            .map(|r| {
                Ok(NodeLeases::new(
                    r.try_get(0)?,
                    [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?],
                    r.try_get::<_, PgTime>(4)?.0,
                ))
            })
            .collect()
    }

    /// A document row, for tests and `store copy` checks: adds `url` (watch `watch`, role
    /// page) unless present, and returns its id.
    pub fn ensure_document(&self, watch: &str, url: &str, now: Timestamp) -> Result<i64> {
        let mut client = self.client.borrow_mut();
        client.execute(
            "INSERT INTO documents (url, watch, role, discovered_at) VALUES ($1, $2, 'page', $3)
             ON CONFLICT (url) DO NOTHING",
            &[&url, &watch, &now.to_string()],
        )?;
        Ok(client
            .query_one("SELECT id FROM documents WHERE url = $1", &[&url])?
            .get(0))
    }
}
