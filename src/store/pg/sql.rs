//! [`Sql`]: what the store's SQL helpers run their statements through, so that one helper
//! serves a check's transaction, whose statements are prepared once per connection
//! ([`Cached`]), and any other client or transaction as it is.
//!
//! A statement sent as text costs the server a parse and a plan every time, and the client a
//! second round trip; a check writes about a dozen (its version, search words, corpus entry
//! and index rows, template blocks, events, deliveries, the document's state), thousands of
//! times a pass, so those are prepared once and kept by their text, as [`PgStore::prepared`]
//! keeps the reads'. Prepared statements belong to the session, not the transaction: one
//! prepared in a transaction that then rolls back is still there for the next.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Statement, Transaction};

use super::PgStore;
use crate::store::Result;

pub(crate) trait Sql {
    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>>;
    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row>;
    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>>;
}

/// Any client, as it is: statements sent as text.
impl<C: GenericClient> Sql for C {
    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        Ok(GenericClient::execute(self, sql, params)?)
    }
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        Ok(GenericClient::query(self, sql, params)?)
    }
    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        Ok(GenericClient::query_one(self, sql, params)?)
    }
    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        Ok(GenericClient::query_opt(self, sql, params)?)
    }
}

/// A transaction of a [`PgStore`] whose statements are prepared once per connection, in the
/// store's cache.
pub(crate) struct Cached<'a> {
    pub tx: Transaction<'a>,
    statements: &'a RefCell<HashMap<String, Statement>>,
}

impl<'a> Cached<'a> {
    pub fn new(tx: Transaction<'a>, store: &'a PgStore) -> Cached<'a> {
        Cached {
            tx,
            statements: &store.statements,
        }
    }

    fn prepared(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let statement = self.tx.prepare(sql)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

impl Sql for Cached<'_> {
    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.prepared(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.prepared(sql)?;
        Ok(self.tx.query(&s, params)?)
    }
    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let s = self.prepared(sql)?;
        Ok(self.tx.query_one(&s, params)?)
    }
    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let s = self.prepared(sql)?;
        Ok(self.tx.query_opt(&s, params)?)
    }
}
