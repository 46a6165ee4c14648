//! The PostgreSQL backend: connecting (TLS as `sslmode` says), applying migrations/postgres under
//! an advisory lock, and every table family of src/store, one file each. It is how several
//! govwatch nodes share one database (issue 17).
//!
//! # Design: two backends, one method set
//!
//! [`PgStore`] is a second implementation of [`super::SqliteStore`]'s methods, with the same names,
//! arguments and results, and its own SQL. The two are not one set of SQL behind a dialect layer:
//! the statements that matter for speed differ in shape, not only in spelling. SQLite is tuned
//! for one local writer (small `_recent` index tables merged in key order, group commits in
//! savepoints, probes on extra read-only connections when the disk is slow); PostgreSQL is a
//! server a round trip away, so a lookup sends its ~130 index probes as one query over arrays
//! (`= ANY`, `unnest`, `LATERAL ... LIMIT`), and an import writes a batch's rows with one
//! statement per table. What does not depend on the database is shared, not copied: signatures
//! and band keys ([`crate::similarity`]), gathering probe results into candidates
//! ([`super::corpus::gather`]), the verdicts ([`crate::compare`]), the row types of the model.
//!
//! The schema mirrors SQLite's (migrations/postgres/0001_schema.sql says how), so that
//! `govwatch store copy` ([`super::copy`]) moves a database whole in either direction, and a
//! test (tests/integration/postgres.rs) fails when a SQLite migration adds a column this schema lacks.
//!
//! The client is the blocking `postgres` crate (rust-postgres, over tokio-postgres): the store
//! is synchronous and already runs on a blocking thread behind [`super::StoreHandle`], so the
//! same handle will carry either backend. It must not be called from an async task (it runs
//! its own runtime); callers use `spawn_blocking`, as they do for SQLite.
//!
//! # Where the work between nodes is settled
//!
//! - Documents: claimed `FOR UPDATE SKIP LOCKED` ([`claims`]), and a check's write is one
//!   transaction that locks its document's row first ([`documents`]).
//! - Mail: batches claimed the same way ([`outbox`]), events locked before they are settled.
//! - Politeness: one holder per origin, the last request's start on the server's clock
//!   ([`leases`]); pauses (Retry-After, robots.txt) are rows every node reads ([`hosts`]).
//! - Every lease is stamped and judged on the server's clock ([`time`]).

mod check;
mod claims;
mod corpus;
mod documents;
mod events;
mod hosts;
mod leases;
mod nodes;
mod outbox;
mod search;
mod snapshots;
mod sql;
mod templates;
mod time;
mod web;

pub(super) use search::index_unindexed;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Row, Statement};

use super::{Result, StoreError};
use crate::config::{PostgresUrl, SslMode};

/// The PostgreSQL schema, in order: (version, name, SQL). Each is applied in a transaction of its
/// own and recorded in `govwatch_migrations`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "0001_schema",
        include_str!("../../../migrations/postgres/0001_schema.sql"),
    ),
    (
        2,
        "0002_web",
        include_str!("../../../migrations/postgres/0002_web.sql"),
    ),
    (
        3,
        "0003_nodes",
        include_str!("../../../migrations/postgres/0003_nodes.sql"),
    ),
    (
        4,
        "0004_passes",
        include_str!("../../../migrations/postgres/0004_passes.sql"),
    ),
];

/// The migration that made the search index: applied to a database that has versions already,
/// they are indexed next (the texts are compressed, so SQL alone cannot).
const SEARCH_MIGRATION: i64 = 2;

/// What makes a connection's transactions read-only (see [`PgStore::open_read_only`]).
pub(super) const READ_ONLY: &str = "SET default_transaction_read_only = on";

/// A connection that waits longer than this for the server gives up with a clear error rather
/// than leaving a command (or a node's start) hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PgStore {
    /// `RefCell`: the client needs `&mut` for every query, while the store's read methods take
    /// `&self` on SQLite; the store is used by one thread at a time (it is `Send`, not `Sync`).
    pub(super) client: RefCell<Conn>,
    url: PostgresUrl,
    /// This process's name on the work it claims (see [`claims`]).
    holder: String,
    /// Statements prepared on this connection, by their SQL (see [`PgStore::prepared`]).
    pub(super) statements: RefCell<HashMap<String, Statement>>,
    /// The server did not answer the last time a closed connection was opened again.
    down: std::cell::Cell<bool>,
    /// A reader for the pages ([`PgStore::open_read_only`]): a connection opened again is made
    /// read-only again.
    pub(super) read_only: bool,
}

impl PgStore {
    /// Connects to the database `url` names and brings its schema up to date.
    pub fn open(url: &PostgresUrl) -> Result<PgStore> {
        let mut client = connect(url)?;
        migrate(&mut client, url)?;
        Ok(PgStore {
            client: RefCell::new(Conn(Some(client))),
            url: url.clone(),
            holder: super::claims::new_holder(),
            statements: RefCell::default(),
            down: Default::default(),
            read_only: false,
        })
    }

    /// `sql` prepared on this connection the first time it is asked for, and the same statement
    /// after: a query by its text alone costs two round trips (prepare, then execute), one
    /// prepared costs one, and a page asks up to twenty-odd queries (the search page's hits).
    pub(super) fn prepared(&self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.borrow_mut().prepare(sql)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// [`Client::query`] with `sql` [`PgStore::prepared`].
    pub(super) fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().query(&statement, params)?)
    }

    /// [`Client::query_opt`] with `sql` [`PgStore::prepared`].
    pub(super) fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().query_opt(&statement, params)?)
    }

    /// [`Client::query_one`] with `sql` [`PgStore::prepared`].
    pub(super) fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().query_one(&statement, params)?)
    }

    /// [`Client::execute`] with `sql` [`PgStore::prepared`].
    pub(super) fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().execute(&statement, params)?)
    }

    /// The database, as messages name it (without its password).
    pub fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// This process's name on its claims.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The same store, claiming under another name: [`crate::store::holder_for`] the config's
    /// node (`[daemon] node`), or several nodes in one process (tests, benchmarks).
    pub fn with_holder(mut self, holder: String) -> PgStore {
        self.holder = holder;
        self
    }

    /// Connects again if the server closed the connection (a restart, a failover, an
    /// administrator's `pg_terminate_backend`): the call that found it closed failed with the
    /// server's reason, and its transaction with it; the next call gets a new connection
    /// rather than the same error until the process restarts. Claims are rows, so they
    /// survive it.
    pub fn reconnect_if_closed(&self) -> Result<()> {
        let mut client = self.client.borrow_mut();
        if !client.is_closed() {
            return Ok(());
        }
        // Said once per outage, not once per call: a node keeps calling while the server is
        // away, and each call fails with the reason anyway.
        let reopened = connect(&self.url).and_then(|mut c| {
            if self.read_only {
                c.batch_execute(READ_ONLY)?;
            }
            Ok(c)
        });
        match reopened {
            Ok(c) => {
                match self.down.replace(false) {
                    true => tracing::info!(database = %self.url, "the PostgreSQL server answers again"),
                    false => {
                        tracing::warn!(database = %self.url, "the PostgreSQL connection was closed; connected again")
                    }
                }
                *client = Conn(Some(c));
                // Prepared statements belong to the connection they were prepared on.
                self.statements.borrow_mut().clear();
                Ok(())
            }
            Err(e) => {
                if !self.down.replace(true) {
                    tracing::warn!(database = %self.url, error = %e, "the PostgreSQL server went away; every call fails until it is back");
                }
                Err(e)
            }
        }
    }

    /// The migrations applied, by version: what a test checks after several nodes started.
    pub fn applied_migrations(&self) -> Result<Vec<(i64, String)>> {
        Ok(self
            .client
            .borrow_mut()
            .query(
                "SELECT version, name FROM govwatch_migrations ORDER BY version",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }
}

/// The client of a [`PgStore`]: a [`Client`] (through `Deref`) that is closed off the async
/// workers when dropped. The blocking client runs a runtime of its own, and both closing it
/// and dropping that runtime panic on a thread that drives async tasks, where a command or
/// the pages may well let go of a store.
pub(super) struct Conn(Option<Client>);

impl Deref for Conn {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.0.as_ref().expect("the client is only taken when dropped")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("the client is only taken when dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            blocking(move || drop(client));
        }
    }
}

/// Runs `f`, a call of the blocking client, where it may block: as it is on a plain thread or a
/// `spawn_blocking` one (the store's usual turn, where this costs a thread-local check), and
/// through `block_in_place` on a worker of the multi-threaded runtime (a command calling the
/// store from its async `main`). The client would otherwise panic there ("cannot start a
/// runtime from within a runtime").
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn connect(url: &PostgresUrl) -> Result<Client> {
    let mut c = postgres::Config::new();
    c.host(&url.host)
        .port(url.port)
        .user(&url.user)
        .dbname(&url.dbname)
        .connect_timeout(CONNECT_TIMEOUT)
        .application_name(url.application_name.as_deref().unwrap_or("govwatch"));
    if let Some(p) = &url.password {
        c.password(p);
    }
    if let Some(o) = &url.options {
        c.options(o);
    }
    let failed = |source| StoreError::PgConnect {
        url: url.to_string(),
        source,
    };
    if url.sslmode == SslMode::Disable {
        return c
            .ssl_mode(postgres::config::SslMode::Disable)
            .connect(postgres::NoTls)
            .map_err(failed);
    }
    c.ssl_mode(match url.sslmode {
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        _ => postgres::config::SslMode::Require,
    });
    let tls = tls_config(url.sslmode, url.sslrootcert.as_deref())
        .map_err(|why| StoreError::Unsupported(format!("cannot connect to PostgreSQL at {url}: {why}")))?;
    c.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        .map_err(failed)
}

/// rustls (already the HTTP and SMTP stack) with ring, as libpq's `sslmode` says: no check of
/// the certificate for `prefer` and `require`; its chain against the roots for `verify-ca`, and
/// its name too for `verify-full`. The roots are `sslrootcert`'s, else the Mozilla roots.
fn tls_config(
    mode: SslMode,
    rootcert: Option<&std::path::Path>,
) -> std::result::Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let config = match mode {
        SslMode::VerifyFull => builder.with_root_certificates(roots(rootcert)?),
        SslMode::VerifyCa => {
            let chain = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(rootcert)?),
                provider,
            )
            .build()
            .map_err(|e| format!("the roots cannot check certificates: {e}"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(chain)))
        }
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
    };
    Ok(config.with_no_client_auth())
}

/// The certificates a server's chain is checked against: `sslrootcert`'s (PEM), or the Mozilla
/// roots. A file that holds none is an error, not a store that trusts nothing.
fn roots(rootcert: Option<&std::path::Path>) -> std::result::Result<rustls::RootCertStore, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let Some(path) = rootcert else {
        return Ok(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let unreadable = |e: &dyn std::fmt::Display| format!("sslrootcert {}: {e}", path.display());
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
        store
            .add(cert.map_err(|e| unreadable(&e))?)
            .map_err(|e| unreadable(&e))?;
    }
    match store.is_empty() {
        true => Err(unreadable(&"holds no PEM certificate")),
        false => Ok(store),
    }
}

/// libpq's `sslmode=verify-ca`: the chain is checked against the roots, the host name is not
/// (a server reached by an address its certificate does not name). webpki checks the name
/// last, after the chain, so a name error means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(NotValidForName | NotValidForNameContext { .. })) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// libpq's `sslmode=require`: the channel is encrypted and the handshake's signatures are
/// checked, but whose certificate it is is not (a server's self-signed certificate works).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Applies the migrations not yet applied. Several nodes may start at once: they take turns
/// on an advisory lock (one per schema), and each reads what is applied only once it holds it,
/// so a migration is applied once and the others find it done.
fn migrate(client: &mut Client, url: &PostgresUrl) -> Result<()> {
    let schema: Option<String> = client.query_one("SELECT current_schema()", &[])?.get(0);
    let Some(schema) = schema else {
        return Err(StoreError::Unsupported(format!(
            "{url}: no schema of the search path exists (create it, or fix `options` in storage.url)"
        )));
    };
    let lock_key = format!("govwatch migrations {schema}");
    client.execute("SELECT pg_advisory_lock(hashtext($1))", &[&lock_key])?;
    let out = apply(client, url);
    // Also let go when the session ends; unlocking now lets the next node go on at once.
    let unlocked = client.execute("SELECT pg_advisory_unlock(hashtext($1))", &[&lock_key]);
    out.and(unlocked.map(|_| ()).map_err(StoreError::from))
}

fn apply(client: &mut Client, url: &PostgresUrl) -> Result<()> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS govwatch_migrations (
             version     bigint PRIMARY KEY,
             name        text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         )",
    )?;
    let applied: Vec<i64> = client
        .query("SELECT version FROM govwatch_migrations", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(&found) = applied.iter().max()
        && found > known
    {
        return Err(StoreError::PgTooNew {
            url: url.to_string(),
            found,
            known,
        });
    }
    for &(version, name, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let mut tx = client.transaction()?;
        tx.batch_execute(sql)
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO govwatch_migrations (version, name) VALUES ($1, $2)",
                    &[&version, &name],
                )
            })
            .map_err(|source| StoreError::PgMigration { name, source })?;
        tx.commit()?;
        tracing::info!(migration = name, database = %url, "applied PostgreSQL migration");
        if version == SEARCH_MIGRATION {
            let mut tx = client.transaction()?;
            search::index_unindexed(&mut tx)?;
            tx.commit()?;
        }
    }
    Ok(())
}
