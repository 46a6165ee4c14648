//! `govwatch store copy`: a whole database, copied from one backend to the other (or to another
//! database of the same kind), row for row with its ids, so that a desk moves to PostgreSQL, or
//! back to a SQLite file, with its history: documents, versions, the corpus and its index,
//! events, deliveries, templates and what is known of each server.
//!
//! Rows already in the target (by primary key or any unique key) are skipped, never changed,
//! so a second run copies nothing twice and an interrupted one can be run again: the target is
//! written in one transaction, the source read in one snapshot. Columns are found in the two
//! schemas, not listed here, so a column a migration adds is copied without a change here; a
//! table this file does not know stops the copy before anything is written, rather than being
//! left behind. Search indexes, per-watch counts and the SQLite corpus index's bookkeeping are
//! derived data, rebuilt on the target (by its triggers, by counting, and on PostgreSQL by
//! indexing the copied texts), not copied.

use super::{Result, Store, StoreError};

/// The tables copied, in an order that satisfies their foreign keys.
const TABLES: &[&str] = &[
    "documents",
    "snapshots",
    "corpus",
    "corpus_lsh",
    "corpus_fp",
    "events",
    "deliveries",
    "template_blocks",
    "hosts",
];

/// Tables whose ids are identities on PostgreSQL: moved past the largest id copied.
const IDENTITIES: &[&str] = &["documents", "snapshots", "corpus", "events", "deliveries"];

/// Rows sent to the target per statement.
const CHUNK: usize = 5_000;

/// One side of a copy, with what a copy needs of it (on the connection itself, below the
/// store's methods).
#[derive(Clone, Copy)]
struct Side<'a>(&'a Store);

/// What a copy did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: &'static str,
    /// Rows in the source.
    pub read: u64,
    /// Rows written to the target; the others were there already.
    pub copied: u64,
}

impl Copied {
    pub fn skipped(&self) -> u64 {
        self.read - self.copied
    }
}

/// A value of a row on its way across.
#[derive(Debug, Clone)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A PostgreSQL column's type, as far as govwatch's schema has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "double precision" | "real" => Kind::Real,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Blob,
            _ => return None,
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Kind::Int => "bigint",
            Kind::Real => "double precision",
            Kind::Text => "text",
            Kind::Blob => "bytea",
        }
    }
}

/// Tables left out of a copy. Those either backend keeps from others (by triggers or the
/// indexer), which a target rebuilds as the rows arrive: `watch_documents` (SQLite 0014,
/// PostgreSQL 0002) is counted by triggers on `documents`, the `search_` tables index the texts;
/// the others are SQLite's alone. And `nodes` and `passes`, which say which nodes run (and
/// which processes are in a pass) on this database now: that is not true of the other one.
fn is_derived_table(t: &str) -> bool {
    t == "nodes"
        || t == "passes"
        || t.ends_with("_recent")
        || t == "corpus_index_rows"
        || t == "watch_documents"
        || t.starts_with("search_")
        || t.starts_with("sqlite_")
}

impl Side<'_> {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn tables(&self) -> Result<Vec<String>> {
        Ok(match self.0 {
            Store::Sqlite(s) => {
                let mut stmt = s
                    .conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
                let names = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                names.into_iter().filter(|t| !is_derived_table(t)).collect()
            }
            Store::Postgres(p) => p
                .client
                .borrow_mut()
                .query(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                       AND table_name <> 'govwatch_migrations' ORDER BY 1",
                    &[],
                )?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .filter(|t| !is_derived_table(t))
                .collect(),
        })
    }

    /// The table's columns, in order, with their types on PostgreSQL (`None` on SQLite, where a
    /// column holds what it is given).
    fn columns(&self, table: &str) -> Result<Vec<(String, Option<Kind>)>> {
        Ok(match self.0 {
            Store::Sqlite(s) => {
                let mut stmt = s
                    .conn
                    .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
                stmt.query_map([table], |r| Ok((r.get(0)?, None)))?
                    .collect::<rusqlite::Result<_>>()?
            }
            Store::Postgres(p) => {
                let rows = p.client.borrow_mut().query(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    &[&table],
                )?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let (name, ty): (String, String) = (r.get(0), r.get(1));
                    let kind = Kind::of(&ty).ok_or_else(|| {
                        StoreError::Unsupported(format!("{table}.{name}: column type {ty} cannot be copied"))
                    })?;
                    out.push((name, Some(kind)));
                }
                out
            }
        })
    }

    fn begin_read(&self) -> Result<()> {
        match self.0 {
            Store::Sqlite(s) => s.conn.execute_batch("BEGIN")?,
            Store::Postgres(p) => p
                .client
                .borrow_mut()
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?,
        }
        Ok(())
    }

    fn begin_write(&self) -> Result<()> {
        match self.0 {
            Store::Sqlite(s) => s.conn.execute_batch("BEGIN IMMEDIATE")?,
            Store::Postgres(p) => p.client.borrow_mut().batch_execute("BEGIN")?,
        }
        Ok(())
    }

    fn finish(&self, commit: bool) -> Result<()> {
        let sql = if commit { "COMMIT" } else { "ROLLBACK" };
        match self.0 {
            Store::Sqlite(s) => s.conn.execute_batch(sql)?,
            Store::Postgres(p) => p.client.borrow_mut().batch_execute(sql)?,
        }
        Ok(())
    }

    /// Every row of `table` (with its `_recent` companion on SQLite), `cols` in order, handed
    /// to `sink` a chunk at a time.
    fn read(
        &self,
        table: &str,
        cols: &[(String, Kind)],
        sink: &mut dyn FnMut(Vec<Vec<Value>>) -> Result<()>,
    ) -> Result<()> {
        let list = column_list(cols);
        let mut chunk = Vec::with_capacity(CHUNK);
        match self.0 {
            Store::Sqlite(s) => {
                let recent: bool = s.conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                    [format!("{table}_recent")],
                    |r| r.get(0),
                )?;
                let mut sql = format!("SELECT {list} FROM \"{table}\"");
                if recent {
                    sql.push_str(&format!(" UNION ALL SELECT {list} FROM \"{table}_recent\""));
                }
                let mut stmt = s.conn.prepare(&sql)?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    let mut row = Vec::with_capacity(cols.len());
                    for i in 0..cols.len() {
                        use rusqlite::types::ValueRef;
                        row.push(match r.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(v) => Value::Int(v),
                            ValueRef::Real(v) => Value::Real(v),
                            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                        });
                    }
                    chunk.push(row);
                    if chunk.len() == CHUNK {
                        sink(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))?;
                    }
                }
            }
            Store::Postgres(p) => {
                let mut client = p.client.borrow_mut();
                let sql = format!("SELECT {list} FROM \"{table}\"");
                let params: [i32; 0] = [];
                let mut rows = client.query_raw(sql.as_str(), params)?;
                while let Some(r) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
                    let mut row = Vec::with_capacity(cols.len());
                    for (i, (_, kind)) in cols.iter().enumerate() {
                        row.push(match kind {
                            Kind::Int => r.get::<_, Option<i64>>(i).map_or(Value::Null, Value::Int),
                            Kind::Real => r.get::<_, Option<f64>>(i).map_or(Value::Null, Value::Real),
                            Kind::Text => r.get::<_, Option<String>>(i).map_or(Value::Null, Value::Text),
                            Kind::Blob => r.get::<_, Option<Vec<u8>>>(i).map_or(Value::Null, Value::Blob),
                        });
                    }
                    chunk.push(row);
                    if chunk.len() == CHUNK {
                        sink(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))?;
                    }
                }
            }
        }
        if !chunk.is_empty() {
            sink(chunk)?;
        }
        Ok(())
    }

    /// Writes `rows` into `table` unless a key of theirs is there already; how many were written.
    fn write(&self, table: &str, cols: &[(String, Kind)], rows: Vec<Vec<Value>>) -> Result<u64> {
        let list = column_list(cols);
        match self.0 {
            Store::Sqlite(s) => {
                let marks = vec!["?"; cols.len()].join(", ");
                let mut stmt = s.conn.prepare_cached(&format!(
                    "INSERT OR IGNORE INTO \"{table}\" ({list}) VALUES ({marks})"
                ))?;
                let mut n = 0;
                for row in rows {
                    let values = row.into_iter().map(|v| match v {
                        Value::Null => rusqlite::types::Value::Null,
                        Value::Int(i) => rusqlite::types::Value::Integer(i),
                        Value::Real(f) => rusqlite::types::Value::Real(f),
                        Value::Text(t) => rusqlite::types::Value::Text(t),
                        Value::Blob(b) => rusqlite::types::Value::Blob(b),
                    });
                    n += stmt.execute(rusqlite::params_from_iter(values))? as u64;
                }
                Ok(n)
            }
            Store::Postgres(p) => {
                let mut arrays: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::with_capacity(cols.len());
                for (i, (name, kind)) in cols.iter().enumerate() {
                    let column = rows.iter().map(|r| &r[i]);
                    let bad = |v: &Value| {
                        StoreError::Unsupported(format!(
                            "{table}.{name}: the value {v:?} does not fit a {} column",
                            kind.sql()
                        ))
                    };
                    arrays.push(match kind {
                        Kind::Int => Box::new(
                            column
                                .map(|v| match v {
                                    Value::Null => Ok(None),
                                    Value::Int(i) => Ok(Some(*i)),
                                    other => Err(bad(other)),
                                })
                                .collect::<Result<Vec<Option<i64>>>>()?,
                        ),
                        Kind::Real => Box::new(
                            column
                                .map(|v| match v {
                                    Value::Null => Ok(None),
                                    Value::Real(f) => Ok(Some(*f)),
                                    Value::Int(i) => Ok(Some(*i as f64)),
                                    other => Err(bad(other)),
                                })
                                .collect::<Result<Vec<Option<f64>>>>()?,
                        ),
                        Kind::Text => Box::new(
                            column
                                .map(|v| match v {
                                    Value::Null => Ok(None),
                                    Value::Text(t) => Ok(Some(t.clone())),
                                    Value::Int(i) => Ok(Some(i.to_string())),
                                    Value::Real(f) => Ok(Some(f.to_string())),
                                    other => Err(bad(other)),
                                })
                                .collect::<Result<Vec<Option<String>>>>()?,
                        ),
                        Kind::Blob => Box::new(
                            column
                                .map(|v| match v {
                                    Value::Null => Ok(None),
                                    Value::Blob(b) => Ok(Some(b.clone())),
                                    Value::Text(t) => Ok(Some(t.clone().into_bytes())),
                                    other => Err(bad(other)),
                                })
                                .collect::<Result<Vec<Option<Vec<u8>>>>>()?,
                        ),
                    });
                }
                let types = cols
                    .iter()
                    .enumerate()
                    .map(|(i, (_, k))| format!("${}::{}[]", i + 1, k.sql()))
                    .collect::<Vec<_>>()
                    .join(", ");
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    arrays.iter().map(|a| a.as_ref()).collect();
                Ok(p.client.borrow_mut().execute(
                    &format!("INSERT INTO \"{table}\" ({list}) SELECT * FROM unnest({types}) ON CONFLICT DO NOTHING"),
                    &params,
                )?)
            }
        }
    }

    /// After the rows: what the target derives from them.
    fn after_copy(&self) -> Result<()> {
        match self.0 {
            // The counts that decide when the recent index rows are merged.
            Store::Sqlite(s) => {
                s.conn.execute(
                    "UPDATE corpus_index_rows SET
                         main = (SELECT COUNT(*) FROM corpus_lsh) + (SELECT COUNT(*) FROM corpus_fp),
                         recent = (SELECT COUNT(*) FROM corpus_lsh_recent) + (SELECT COUNT(*) FROM corpus_fp_recent)",
                    [],
                )?;
            }
            // New rows get ids after the copied ones; the copied texts are indexed for search
            // (SQLite's triggers do it as the rows arrive; PostgreSQL's cannot read zstd).
            Store::Postgres(p) => {
                let mut client = p.client.borrow_mut();
                super::pg::index_unindexed(&mut **client)?;
                // The planner's statistics, now rather than when autovacuum next passes: until
                // then it takes a table of 100,000 rows for an empty one (a search scanned
                // every text instead of reading its index).
                let tables: Vec<String> = TABLES
                    .iter()
                    .chain(&["search_words", "watch_documents"])
                    .map(|t| format!("\"{t}\""))
                    .collect();
                client.batch_execute(&format!("ANALYZE {}", tables.join(", ")))?;
                for t in IDENTITIES {
                    client.execute(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{t}', 'id'),
                                           (SELECT COALESCE(MAX(id), 0) + 1 FROM \"{t}\"), false)"
                        ),
                        &[],
                    )?;
                }
            }
        }
        Ok(())
    }
}

fn column_list(cols: &[(String, Kind)]) -> String {
    cols.iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of `table` to copy, with the type each value takes on the way: every column of
/// the source, each of which the target must have.
fn plan(from: Side, to: Side, table: &str) -> Result<Vec<(String, Kind)>> {
    let source = from.columns(table)?;
    let target = to.columns(table)?;
    let mut out = Vec::with_capacity(source.len());
    for (name, kind) in source {
        let Some((_, target_kind)) = target.iter().find(|(n, _)| *n == name) else {
            return Err(StoreError::Unsupported(format!(
                "{}: table {table} has no column {name}, which {} has; upgrade the target's govwatch",
                to.describe(),
                from.describe()
            )));
        };
        // SQLite columns take any value: the PostgreSQL side, if any, says what it is.
        out.push((name, kind.or(*target_kind).unwrap_or(Kind::Blob)));
    }
    Ok(out)
}

/// Copies every table of `from` into `to`; per table, the rows read and written. All or
/// nothing: on an error the target is left as it was.
pub fn copy(from: &Store, to: &Store) -> Result<Vec<Copied>> {
    let (from, to) = (Side(from), Side(to));
    for db in [from, to] {
        if let Some(t) = db.tables()?.into_iter().find(|t| !TABLES.contains(&t.as_str())) {
            return Err(StoreError::Unsupported(format!(
                "{} holds a table `{t}` that store copy does not know; nothing was copied",
                db.describe()
            )));
        }
    }
    let plans = TABLES
        .iter()
        .map(|t| plan(from, to, t))
        .collect::<Result<Vec<_>>>()?;
    from.begin_read()?;
    to.begin_write()?;
    let result = (|| -> Result<Vec<Copied>> {
        let mut out = Vec::with_capacity(TABLES.len());
        for (table, cols) in TABLES.iter().zip(&plans) {
            let mut done = Copied {
                table,
                read: 0,
                copied: 0,
            };
            from.read(table, cols, &mut |rows| {
                done.read += rows.len() as u64;
                done.copied += to.write(table, cols, rows)?;
                Ok(())
            })?;
            tracing::info!(table, read = done.read, copied = done.copied, "copied");
            out.push(done);
        }
        to.after_copy()?;
        Ok(out)
    })();
    let committed = to.finish(result.is_ok());
    let _ = from.finish(false);
    let out = result?;
    committed?;
    Ok(out)
}
