//! Claims on PostgreSQL: the leases of src/store/claims.rs (same columns, same meaning), taken
//! with `FOR UPDATE SKIP LOCKED`, so that nodes claiming at the same moment pass over each
//! other's rows instead of queueing behind them, and a row is claimed by one node only.
//!
//! As on SQLite, the lease ends are stamped with the caller's `now`; moving them to the
//! server's clock (for nodes whose clocks disagree) is part of the remaining work (see the
//! module above).

use super::PgStore;
use crate::model::Timestamp;
use crate::store::{LEASE, Result};

impl PgStore {
    /// As [`crate::store::Store::clear_gone_holders`]: lets go of the claims of processes of
    /// this machine that are gone (a `kill -9`, a crash), so their documents, mail and origins
    /// are taken over now. Other nodes' holders are never taken for gone (see
    /// src/store/claims.rs `is_gone`): their leases run out instead.
    pub fn clear_gone_holders(&self, now: Timestamp) -> Result<usize> {
        let now = now.to_string();
        let mut client = self.client.borrow_mut();
        let holders: Vec<String> = client
            .query(
                "SELECT claimed_by FROM documents WHERE claimed_by IS NOT NULL AND claimed_until >= $1
                 UNION SELECT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL AND claimed_until >= $1
                 UNION SELECT lease_holder FROM hosts WHERE lease_holder IS NOT NULL AND lease_until >= $1",
                &[&now],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        let gone: Vec<&String> = holders
            .iter()
            .filter(|h| **h != self.holder && crate::store::claims::is_gone(h))
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let mut tx = client.transaction()?;
        let mut cleared = 0;
        for holder in gone {
            tracing::info!(holder = %holder, "taking over the work of a govwatch process that is gone");
            for sql in [
                "UPDATE documents SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
                "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
                "UPDATE hosts SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = $1",
            ] {
                cleared += tx.execute(sql, &[holder])?;
            }
        }
        tx.commit()?;
        Ok(cleared as usize)
    }

    /// As [`crate::store::Store::claim_documents`]: claims the documents among `ids` that
    /// nobody holds (never claimed, let go, or run out) and returns those now claimed, in the
    /// order given. A document this process holds is not claimed again; one another node is
    /// claiming at this moment (its row locked) is passed over, not waited for.
    pub fn claim_documents(&self, ids: &[i64], now: Timestamp) -> Result<Vec<i64>> {
        let until = now.plus(LEASE).to_string();
        let now = now.to_string();
        let claimed: Vec<i64> = self
            .client
            .borrow_mut()
            .query(
                "UPDATE documents SET claimed_by = $2, claimed_until = $3
                 WHERE id IN (SELECT id FROM documents
                              WHERE id = ANY($1) AND (claimed_by IS NULL OR claimed_until < $4)
                              FOR UPDATE SKIP LOCKED)
                 RETURNING id",
                &[&ids, &self.holder, &until, &now],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(ids.iter().copied().filter(|id| claimed.contains(id)).collect())
    }

    /// As [`crate::store::Store::may_write`]: whether this process still holds its claim on
    /// the document, or nobody does.
    pub fn may_write(&self, document_id: i64, now: Timestamp) -> Result<bool> {
        Ok(self
            .client
            .borrow_mut()
            .query_opt(
                "SELECT 1 FROM documents WHERE id = $1
                     AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until < $3)",
                &[&document_id, &self.holder, &now.to_string()],
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
    /// another lease; returns how many.
    pub fn renew_claims(&self, now: Timestamp) -> Result<usize> {
        let until = now.plus(LEASE).to_string();
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let mut n = 0;
        for sql in [
            "UPDATE documents SET claimed_until = $2 WHERE claimed_by = $1",
            "UPDATE deliveries SET claimed_until = $2 WHERE claimed_by = $1",
            "UPDATE hosts SET lease_until = $2 WHERE lease_holder = $1",
        ] {
            n += tx.execute(sql, &[&self.holder, &until])?;
        }
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
        ] {
            tx.execute(sql, &[&self.holder])?;
        }
        tx.commit()?;
        Ok(())
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
