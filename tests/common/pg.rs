//! A schema of its own on the test PostgreSQL server (127.0.0.1:5432, trust authentication,
//! database `test`) for each test, dropped when the test ends, so tests run in parallel and
//! again. Without a server a test says on the terminal that it did not run, and with
//! GOVWATCH_REQUIRE_POSTGRES=1 (as .ci/run sets) it fails instead.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use govwatch::config::PostgresUrl;

pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct Schema {
    pub name: String,
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

impl Schema {
    /// A fresh schema, or `None` when no server answers (said on the terminal, past the test
    /// harness's capture; a failure if the run requires one).
    pub fn new(test: &str) -> Option<Schema> {
        let mut admin = match admin() {
            Ok(c) => c,
            Err(e) => {
                let msg = format!(
                    "PostgreSQL tests DID NOT RUN ({test}): no server at {SERVER} ({e}); start one (.ci/run does) to run them\n"
                );
                if std::env::var_os("GOVWATCH_REQUIRE_POSTGRES").is_some_and(|v| v == "1") {
                    panic!("{msg}");
                }
                let _ = std::io::stderr().write_all(msg.as_bytes());
                return None;
            }
        };
        let name = format!(
            "gw_{}_{}_{}",
            std::process::id(),
            SCHEMAS.fetch_add(1, Ordering::SeqCst),
            fastrand::u32(..)
        );
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create a schema");
        Some(Schema { name })
    }

    /// The URL govwatch is given: the test database, with this schema as its search path.
    pub fn url(&self) -> String {
        format!(
            "{SERVER}?sslmode=disable&options=-c%20search_path%3D{}",
            self.name
        )
    }

    pub fn parsed(&self) -> PostgresUrl {
        PostgresUrl::parse(&self.url()).unwrap()
    }

    /// A plain connection in this schema, to look at (or age) what govwatch wrote.
    pub fn client(&self) -> postgres::Client {
        let mut c = admin().unwrap();
        c.batch_execute(&format!("SET search_path = {}", self.name))
            .unwrap();
        c
    }

    /// The rows of `table` in this schema.
    pub fn count(&self, table: &str) -> i64 {
        self.client()
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .unwrap()
            .get(0)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = admin() {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

pub fn admin() -> Result<postgres::Client, postgres::Error> {
    let mut config: postgres::Config = SERVER.parse().unwrap();
    config.connect_timeout(std::time::Duration::from_secs(3));
    config.connect(postgres::NoTls)
}

/// A TCP relay on loopback in front of the test server, that can be cut (every connection
/// through it closed, and no new one taken) and put back on the same port: the database
/// going away in the middle of a pass, and coming back, as a network or a restart does it.
pub struct Relay {
    pub port: u16,
    state: std::sync::Arc<RelayState>,
}

#[derive(Default)]
struct RelayState {
    up: std::sync::atomic::AtomicBool,
    streams: std::sync::Mutex<Vec<std::net::TcpStream>>,
}

impl Relay {
    pub fn start() -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(RelayState::default());
        state.up.store(true, Ordering::SeqCst);
        let relay = Relay { port, state };
        relay.serve(listener);
        relay
    }

    /// The URL of `schema` through the relay.
    pub fn url(&self, schema: &Schema) -> String {
        schema
            .url()
            .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", self.port))
    }

    fn serve(&self, listener: std::net::TcpListener) {
        let state = self.state.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while state.up.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = std::net::TcpStream::connect("127.0.0.1:5432") else {
                    continue;
                };
                let mut streams = state.streams.lock().unwrap();
                streams.push(client.try_clone().unwrap());
                streams.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
            // Dropping the listener here refuses new connections until `restore`.
        });
    }

    /// Closes every connection through the relay and refuses new ones.
    pub fn cut(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        for s in self.state.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        // Until the accept loop has let go of the port.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    /// Takes connections again, on the same port.
    pub fn restore(&self) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.state.up.store(true, Ordering::SeqCst);
        self.serve(listener);
    }
}
