//! [`Sql`]: what the store's SQL helpers run their statements through, so that one helper
//! serves a check's transaction, whose statements are prepared once per connection
//! ([`Cached`]), and any other client or transaction as it is.
//!
//! A statement sent as text costs the server a parse and a plan every time, and the client a
//! second round trip; a check's write (src/store/pg/check.rs) runs thousands of times a pass,
//! so it is prepared once and kept by its text, as [`PgStore::prepared`] keeps the reads'. Prepared statements belong to the session, not the transaction: one
//! prepared in a transaction that then rolls back is still there for the next.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, SimpleQueryMessage, Statement};

use super::PgStore;
use crate::store::Result;

pub(crate) trait Sql {
    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>>;
    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row>;
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
}

/// A transaction of a [`PgStore`] whose statements are prepared once per connection, in the
/// store's cache, begun together with its first statement ([`Cached::begin_with`]).
///
/// Not a [`postgres::Transaction`]: that one sends `BEGIN` alone, a round trip before the first
/// statement can be sent. Here `BEGIN` and the first statement go as one simple query, and the
/// transaction is rolled back when dropped uncommitted, as a [`postgres::Transaction`] is.
pub(crate) struct Cached<'a> {
    client: &'a mut Client,
    statements: &'a RefCell<HashMap<String, Statement>>,
    open: bool,
}

impl<'a> Cached<'a> {
    /// Begins a transaction on the store's connection `client` whose first statement is
    /// `first`, sent with `BEGIN` in one round trip; also how many rows `first` returned.
    /// `first` is sent as text with no parameters: it must hold no value from outside.
    pub fn begin_with(client: &'a mut Client, store: &'a PgStore, first: &str) -> Result<(Cached<'a>, u64)> {
        let tx = Cached {
            client,
            statements: &store.statements,
            open: true,
        };
        let rows = tx
            .client
            .simple_query(&format!("BEGIN; {first}"))?
            .iter()
            .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
            .count();
        Ok((tx, rows as u64))
    }

    fn prepared(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        Ok(self.client.batch_execute("COMMIT")?)
    }
}

impl Drop for Cached<'_> {
    fn drop(&mut self) {
        // As a dropped `postgres::Transaction`: an error here (the connection is gone) has
        // rolled the transaction back anyway.
        if self.open {
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

impl Sql for Cached<'_> {
    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.prepared(sql)?;
        Ok(self.client.execute(&s, params)?)
    }
    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.prepared(sql)?;
        Ok(self.client.query(&s, params)?)
    }
    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let s = self.prepared(sql)?;
        Ok(self.client.query_one(&s, params)?)
    }
}
