//! Test harness: a real HTTP server (axum) serving fixture pages that tests change between
//! passes, a real SMTP server (mailin-embedded) collecting what it receives, and the govwatch
//! binary run as a subprocess against a config in a temporary folder. Loopback only.

#![allow(dead_code)]

pub mod pg;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};

// ---------------------------------------------------------------- HTTP

#[derive(Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    /// `gzip` or `br`: the body is sent compressed with that Content-Encoding.
    pub encoding: Option<&'static str>,
    /// More response headers (Retry-After, Location, Last-Modified...).
    pub headers: Vec<(&'static str, String)>,
}

impl Resp {
    pub fn html(body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            status: 200,
            content_type: Some("text/html; charset=utf-8".into()),
            body: body.into(),
            etag: None,
            encoding: None,
            headers: Vec::new(),
        }
    }

    pub fn text(content_type: &str, body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            content_type: Some(content_type.into()),
            ..Resp::html(body)
        }
    }

    pub fn status(status: u16, headers: &[(&'static str, &str)]) -> Resp {
        Resp {
            status,
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            ..Resp::html("")
        }
    }
}

#[derive(Clone, Default)]
struct SiteState {
    pages: Arc<Mutex<HashMap<String, Resp>>>,
    hits: Arc<Mutex<HashMap<String, Vec<std::time::Instant>>>>,
    /// How long every response takes, 404s included: a request then stays in flight long
    /// enough for another one that should have waited to overlap it.
    delay: Arc<Mutex<std::time::Duration>>,
    /// Requests in flight now, and the most there ever were at once.
    in_flight: Arc<Mutex<(usize, usize)>>,
    /// Every request: its path, when it arrived and when its response was built (or the client
    /// went away); `None` while in flight.
    spans: Arc<Mutex<Vec<Span>>>,
}

/// One request to a [`Site`], as the site saw it.
#[derive(Clone, Debug)]
pub struct Span {
    pub path: String,
    pub start: std::time::Instant,
    pub end: Option<std::time::Instant>,
}

/// A request in flight, from its arrival until dropped: at the end of the handler, or when the
/// server drops the handler because the client is gone (a killed process).
struct InFlight {
    state: SiteState,
    index: usize,
}

impl InFlight {
    fn new(state: &SiteState, path: &str) -> InFlight {
        let mut spans = state.spans.lock().unwrap();
        spans.push(Span {
            path: path.to_string(),
            start: std::time::Instant::now(),
            end: None,
        });
        let mut n = state.in_flight.lock().unwrap();
        n.0 += 1;
        n.1 = n.1.max(n.0);
        InFlight {
            state: state.clone(),
            index: spans.len() - 1,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut spans = self.state.spans.lock().unwrap();
        spans[self.index].end = Some(std::time::Instant::now());
        self.state.in_flight.lock().unwrap().0 -= 1;
    }
}

/// A local web site whose pages the test sets and changes.
pub struct Site {
    pub addr: SocketAddr,
    state: SiteState,
}

impl Site {
    pub fn start() -> Site {
        Site::start_on("127.0.0.1")
    }

    /// A site on another loopback address (127.0.0.2, …): another host to govwatch.
    pub fn start_on(ip: &str) -> Site {
        let state = SiteState::default();
        let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let s = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(serve).with_state(s);
                axum::serve(listener, app).await.unwrap();
            });
        });
        Site { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, resp: Resp) {
        self.state.pages.lock().unwrap().insert(path.to_string(), resp);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hit_times(path).len()
    }

    /// When each request for `path` arrived.
    pub fn hit_times(&self, path: &str) -> Vec<std::time::Instant> {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// Every request to the site, in order of arrival: (path, when).
    pub fn all_hits(&self) -> Vec<(String, std::time::Instant)> {
        let mut v: Vec<_> = self
            .state
            .hits
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(p, ts)| ts.iter().map(|t| (p.clone(), *t)))
            .collect();
        v.sort_by_key(|(_, t)| *t);
        v
    }

    /// Every response takes this long from now on (404s and robots.txt included).
    pub fn set_delay(&self, delay: std::time::Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// The most requests the site ever had in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.in_flight.lock().unwrap().1
    }

    /// Every request so far, in order of arrival.
    pub fn spans(&self) -> Vec<Span> {
        self.state.spans.lock().unwrap().clone()
    }

    /// Pairs of requests that were in flight at once (one arrived before the other ended), in
    /// order of arrival; a request still in flight overlaps every later one.
    pub fn overlaps(&self) -> Vec<(Span, Span)> {
        let spans = self.spans();
        let mut out = Vec::new();
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                if a.end.is_none_or(|end| b.start < end) {
                    out.push((a.clone(), b.clone()));
                }
            }
        }
        out
    }
}

async fn serve(State(state): State<SiteState>, req: Request) -> Response<Body> {
    let path = req.uri().path().to_string();
    state
        .hits
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default()
        .push(std::time::Instant::now());
    let _in_flight = InFlight::new(&state, &path);
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let page = state.pages.lock().unwrap().get(&path).cloned();
    let Some(page) = page else {
        return Response::builder()
            .status(404)
            .body(Body::from("not here"))
            .unwrap();
    };
    if let (Some(etag), Some(inm)) = (&page.etag, req.headers().get(header::IF_NONE_MATCH))
        && inm.as_bytes() == etag.as_bytes()
    {
        return Response::builder().status(304).body(Body::empty()).unwrap();
    }
    let mut b = Response::builder().status(StatusCode::from_u16(page.status).unwrap());
    if let Some(ct) = &page.content_type {
        b = b.header(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    }
    if let Some(etag) = &page.etag {
        b = b.header(header::ETAG, etag.as_str());
    }
    for (k, v) in &page.headers {
        b = b.header(*k, v.as_str());
    }
    let body = match page.encoding {
        Some("gzip") => {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&page.body).unwrap();
            e.finish().unwrap()
        }
        Some("br") => {
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &page.body[..], &mut out, &Default::default()).unwrap();
            out
        }
        _ => page.body,
    };
    if let Some(enc) = page.encoding {
        b = b.header(header::CONTENT_ENCODING, enc);
    }
    b.body(Body::from(body)).unwrap()
}

/// A server that sends headers promising `promised` bytes, sends fewer, and hangs up.
pub fn truncating_server(promised: usize, sent: usize) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {promised}\r\nConnection: close\r\n\r\n"
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&b"<p>partial</p>".repeat(sent / 14 + 1)[..sent]);
        }
    });
    addr
}

/// A server that sends headers, then drips one byte a second, forever.
pub fn dripping_server() -> SocketAddr {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>");
                while s.write_all(b" ").is_ok() {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            });
        }
    });
    addr
}

/// A server that sends headers and half a body, then resets the connection (RST, not FIN).
pub fn resetting_server() -> SocketAddr {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html><body><p>half",
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
            // Linger 0: closing sends a reset, as a crashed server or a middlebox does.
            let sock = socket2::Socket::from(s);
            let _ = sock.set_linger(Some(std::time::Duration::ZERO));
            drop(sock);
        }
    });
    addr
}

/// A server that answers with a body that never ends, as fast as it can; counts bytes sent.
pub fn endless_server(sent: Arc<std::sync::atomic::AtomicU64>) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let sent = sent.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>");
                let chunk = b"<p>more and more and more</p>\n".repeat(2048);
                while s.write_all(&chunk).is_ok() {
                    sent.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    addr
}

/// A TCP server that answers a TLS ClientHello with plain-text garbage: the handshake fails.
pub fn not_tls_server() -> SocketAddr {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2 this is not TLS at all\r\n");
        }
    });
    addr
}

/// Runs `cmd` to the end, sampling its high-water resident memory (VmHWM) as it goes; returns
/// its output and the peak in KiB. VmHWM only grows, so the last sample is within a few
/// milliseconds of the true peak.
pub fn run_measuring_memory(mut cmd: Command) -> (Output, u64) {
    use std::process::Stdio;
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(s) = std::fs::read_to_string(&status_file)
                    && let Some(kib) = s
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kib, std::sync::atomic::Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    sampler.join().unwrap();
    (out, peak.load(std::sync::atomic::Ordering::SeqCst))
}

// ---------------------------------------------------------------- SMTP

#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone)]
struct Collector {
    inbox: Arc<Mutex<Vec<Mail>>>,
    current: Option<Mail>,
    opts: Arc<SmtpOptions>,
}

/// How a test SMTP server behaves.
#[derive(Clone, Default)]
pub struct SmtpOptions {
    /// STARTTLS with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// AUTH PLAIN/LOGIN required (mailin offers it only after STARTTLS), with these credentials.
    pub auth: Option<(String, String)>,
    /// Recipients refused at RCPT with 550.
    pub reject: Vec<String>,
    /// Recipients refused at RCPT with 450 (try again later) while they are in the list; the
    /// test may empty it to let them through.
    pub defer: Arc<Mutex<Vec<String>>>,
    /// Time the server takes before its 250 to the data: widens the window a kill can hit.
    pub delay: std::time::Duration,
}

/// A self-signed certificate for 127.0.0.1 and localhost, written to `dir` as cert.pem and
/// key.pem; returns their paths.
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

impl mailin_embedded::Handler for Collector {
    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.current = Some(Mail {
            from: from.to_string(),
            to: to.to_vec(),
            data: String::new(),
        });
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        if self.opts.reject.iter().any(|r| r == to) {
            mailin_embedded::response::NO_MAILBOX
        } else if self.opts.defer.lock().unwrap().iter().any(|r| r == to) {
            mailin_embedded::response::Response::custom(450, "Mailbox busy, try again later".into())
        } else {
            mailin_embedded::response::OK
        }
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> mailin_embedded::Response {
        self.auth_login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> mailin_embedded::Response {
        match &self.opts.auth {
            Some((u, p)) if u == user && p == password => mailin_embedded::response::AUTH_OK,
            _ => mailin_embedded::response::INVALID_CREDENTIALS,
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = &mut self.current {
            m.data.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        std::thread::sleep(self.opts.delay);
        if let Some(m) = self.current.take() {
            self.inbox.lock().unwrap().push(m);
        }
        mailin_embedded::response::OK
    }
}

/// A real SMTP server on loopback that keeps what it receives.
pub struct Smtp {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
}

impl Smtp {
    /// Starts on a fresh port.
    pub fn start() -> Smtp {
        Smtp::start_on(free_port())
    }

    /// Starts on `port` (for a server that was down and comes back where it was).
    pub fn start_on(port: u16) -> Smtp {
        Smtp::start_with(port, SmtpOptions::default())
    }

    /// Starts on `port` with TLS, AUTH, refusals or a delay as `opts` say.
    pub fn start_with(port: u16, opts: SmtpOptions) -> Smtp {
        // mailin builds its rustls config with the process default provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let ssl = match &opts.tls {
            Some((cert, key)) => mailin_embedded::SslConfig::SelfSigned {
                cert_path: cert.display().to_string(),
                key_path: key.display().to_string(),
            },
            None => mailin_embedded::SslConfig::None,
        };
        let auth = opts.auth.is_some();
        let handler = Collector {
            inbox: inbox.clone(),
            current: None,
            opts: Arc::new(opts),
        };
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        std::thread::spawn(move || {
            let mut server = mailin_embedded::Server::new(handler);
            server
                .with_name("smtp.test")
                .with_ssl(ssl)
                .unwrap()
                .with_num_threads(8)
                .with_tcp_listener(listener);
            if auth {
                server
                    .with_auth(mailin_embedded::AuthMechanism::Plain)
                    .with_auth(mailin_embedded::AuthMechanism::Login);
            }
            let _ = server.serve();
        });
        Smtp { port, inbox }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.inbox.lock().unwrap().clone()
    }
}

/// A port nothing listens on (just now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------- fixtures

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn chrome(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("chrome").join(name)).unwrap()
}

/// A corpus document: (title, paragraphs).
pub fn corpus_doc(prefix: &str) -> (String, Vec<String>) {
    let dir = fixtures().join("corpus");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no corpus file {prefix}*"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let title = lines.next().unwrap().to_string();
    (title, lines.map(str::to_string).collect())
}

/// The position paper inside corpus text 001 (a newsletter that pastes it whole): its title and
/// paragraphs.
pub fn paper() -> (String, Vec<String>) {
    let (_, paras) = corpus_doc("001");
    let start = paras
        .iter()
        .position(|p| p == "China’s Positions on Global Digital Governance")
        .expect("the paper's title line");
    (paras[start].clone(), paras[start + 1..].to_vec())
}

/// The paper's section titles: "Basic Principles", "Specific Proposals", "3. Protect data", ….
pub fn is_paper_heading(p: &str) -> bool {
    let numbered = p
        .split_once('.')
        .is_some_and(|(n, rest)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty());
    p.chars().count() < 80
        && !p.ends_with('.')
        && (p == "Basic Principles" || p == "Specific Proposals" || numbered)
}

/// The ministry's page for the paper: its headings as `<h3>`, the rest as paragraphs.
pub fn paper_page(title: &str, paras: &[String]) -> String {
    let body: String = paras
        .iter()
        .map(|p| match is_paper_heading(p) {
            true => format!("<h3>{}</h3>\n", escape(p)),
            false => format!("<p>{}</p>\n", escape(p)),
        })
        .collect();
    chrome("ministry-article.html")
        .replace("{{TITLE}}", &escape(title))
        .replace("{{DATE}}", "2023-05-25")
        .replace("{{BODY}}", &body)
        .replace("{{COUNTER}}", "1")
        .replace("{{RELATED}}", "")
        .replace("{{YEAR}}", "2026")
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn body_html(paragraphs: &[String]) -> String {
    paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", escape(p)))
        .collect()
}

/// Fills a template. `counter` and `related` are the parts that change on every fetch.
pub fn page(
    template: &str,
    title: &str,
    date: &str,
    paragraphs: &[String],
    counter: u32,
    related: &[&str],
) -> String {
    let related: String = related
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "<li><a href=\"/eng/news/teaser-{i}.html\">{}</a></li>\n",
                escape(t)
            )
        })
        .collect();
    chrome(template)
        .replace("{{TITLE}}", &escape(title))
        .replace("{{DATE}}", date)
        .replace("{{BODY}}", &body_html(paragraphs))
        .replace("{{COUNTER}}", &counter.to_string())
        .replace("{{RELATED}}", &related)
        .replace("{{YEAR}}", "2026")
}

/// Fills an index template with links `(path, title)`.
pub fn index(template: &str, links: &[(&str, &str)], counter: u32) -> String {
    let items: String = links
        .iter()
        .map(|(href, t)| {
            format!(
                "<li><a href=\"{href}\">{}</a><span>2023-05-25</span></li>\n",
                escape(t)
            )
        })
        .collect();
    chrome(template)
        .replace("{{LINKS}}", &items)
        .replace("{{COUNTER}}", &counter.to_string())
        .replace(
            "{{RELATED}}",
            "<li><a href=\"/eng/trending/1.html\">Trending now</a></li>",
        )
        .replace("{{YEAR}}", "2026")
}

// ---------------------------------------------------------------- govwatch

/// `on_both!(name, ...)` after `fn name(backend: Backend)`: the test `name::sqlite` and the
/// test `name::postgres` (which says it did not run when no PostgreSQL server answers). A
/// module and a function may share a name, so a test keeps its name as a filter.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::common::Backend::Postgres)
            }
        }
    )*};
}

/// Which database a test's govwatch keeps. The end-to-end, alert and kill tests run on both
/// ([`on_both!`]); the rest on SQLite, the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A govwatch installation in a temporary folder, its database a SQLite file there or a
/// schema of its own on the test PostgreSQL server.
pub struct Govwatch {
    pub dir: tempfile::TempDir,
    /// The schema, when on PostgreSQL (dropped with the installation).
    pub pg: Option<pg::Schema>,
}

impl Govwatch {
    /// `config` is the TOML after `[storage]`, which points into the temporary folder.
    pub fn new(config: &str) -> Govwatch {
        Govwatch::on(Backend::Sqlite, config).expect("SQLite needs no server")
    }

    /// An installation on `backend`; `None` when that is PostgreSQL and no server answers (said
    /// on the terminal: the test did not run).
    pub fn on(backend: Backend, config: &str) -> Option<Govwatch> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(pg::Schema::new("govwatch")?),
        };
        let gw = Govwatch {
            dir: tempfile::tempdir().unwrap(),
            pg,
        };
        gw.set_config(config);
        Some(gw)
    }

    /// The `[storage]` table of the config.
    pub fn storage(&self) -> String {
        match &self.pg {
            Some(schema) => format!("[storage]\nurl = \"{}\"\n", schema.url()),
            None => format!("[storage]\npath = \"{}\"\n", self.db_path().display()),
        }
    }

    /// The database, opened as the commands open it.
    pub fn store(&self) -> govwatch::store::Store {
        match &self.pg {
            Some(schema) => govwatch::store::Store::open_postgres(&schema.parsed()).unwrap(),
            None => govwatch::store::Store::open(&self.db_path()).unwrap(),
        }
    }

    /// Replaces the config (after `[storage]`), as a user editing the file would.
    pub fn set_config(&self, config: &str) {
        let toml = format!("{}\n{config}", self.storage());
        std::fs::write(self.config_path(), toml).unwrap();
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("govwatch.toml")
    }

    /// Writes another config file `name` in the installation's folder, on the same database
    /// (`config` is the TOML after `[storage]`): another node, say. Returns its path, for
    /// [`Govwatch::command_at`].
    pub fn write_config(&self, name: &str, config: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("{}\n{config}", self.storage())).unwrap();
        path
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("govwatch.db")
    }

    pub fn command(&self) -> Command {
        self.command_at(&self.config_path())
    }

    /// A command with the config file `config` (one [`Govwatch::write_config`] wrote, say)
    /// rather than the installation's own.
    pub fn command_at(&self, config: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_govwatch"));
        c.arg("--config").arg(config).env("RUST_LOG", "govwatch=debug");
        // On PostgreSQL there is no database file for the outbox folder to sit beside: it is
        // in the state directory, or the working directory (src/config), so here, in the
        // installation's folder, as on SQLite.
        if self.pg.is_some() {
            c.current_dir(self.dir.path());
        }
        c
    }

    /// The command line for `args`, to run in a particular way.
    pub fn command_with(&self, args: &[&str]) -> Command {
        let mut c = self.command();
        c.args(args);
        c
    }

    /// Runs a command and returns its output, whatever its exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "govwatch {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `govwatch changes --json`.
    pub fn changes(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["changes", "--json"])).unwrap()
    }

    /// `govwatch outbox --json`: every delivery row.
    pub fn outbox_rows(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["outbox", "--json"])).unwrap()
    }

    /// The `.eml` files in the outbox folder.
    pub fn outbox(&self) -> Vec<String> {
        let dir = self.dir.path().join("outbox");
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        rd.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

/// A random source for kill times, seeded from the variable `var` when set (to replay a
/// failure) or from the clock; the seed is printed, with how to replay it.
pub fn replayable_rng(test: &str, var: &str) -> fastrand::Rng {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("{test} seed: {seed} ({var}={seed} replays the kill times)");
    fastrand::Rng::with_seed(seed)
}

/// What the kill and cluster tests ask of the mail after the drain: each of `events` has a
/// delivery row for each recipient (in `rows`, `govwatch outbox --json`), is `sent`, and arrived
/// at the SMTP server in exactly one Message-ID, the one its row names. A message may arrive
/// again only with the same Message-ID and the same events (the window after the server's 250).
/// `context` is appended to failures (a log). Returns how many messages came again.
pub fn each_event_reached_each_recipient_once(
    smtp: &Smtp,
    rows: &[serde_json::Value],
    events: &[i64],
    recipients: &[&str],
    context: &str,
) -> usize {
    use std::collections::{BTreeMap, BTreeSet};
    // Per recipient and Message-ID: the events it carried, and how often it came.
    let mut got: BTreeMap<(String, String), (Vec<i64>, usize)> = BTreeMap::new();
    for m in smtp.mails() {
        let id = mail_header(&m.data, "Message-ID").expect("a Message-ID");
        let ids = expand(&mail_header(&m.data, "X-Govwatch-Events").expect("the events header"));
        for to in &m.to {
            let entry = got.entry((to.clone(), id.clone())).or_insert((ids.clone(), 0));
            assert_eq!(entry.0, ids, "one Message-ID carried different events");
            entry.1 += 1;
        }
    }
    for who in recipients {
        let mut seen: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
        for ((to, id), (ids, _)) in &got {
            if to == who {
                for e in ids {
                    seen.entry(*e).or_default().insert(id);
                }
            }
        }
        for id in events {
            let row = rows
                .iter()
                .find(|r| r["event_id"] == *id && r["recipient"] == *who)
                .unwrap_or_else(|| panic!("event {id} has no delivery row for {who}: lost\n{context}"));
            let ids = seen.get(id).cloned().unwrap_or_default();
            assert!(
                ids.len() <= 1,
                "event {id} reached {who} in {} different messages: {ids:?}",
                ids.len()
            );
            match row["state"].as_str().unwrap() {
                "sent" => {
                    // The MIME parser gives the Message-ID without its angle brackets.
                    let mid = row["message_id"].as_str().unwrap().trim_matches(['<', '>']);
                    assert!(
                        ids.contains(mid),
                        "event {id} is marked sent to {who} as {mid} but never arrived"
                    );
                }
                state => panic!("event {id} to {who} is {state} after the drain: {row}\n{context}"),
            }
        }
    }
    got.values().map(|(_, n)| n - 1).sum()
}

/// Starts `cmd` (a `govwatch run`, say) with its stderr collected line by line, as it comes,
/// into the returned log; stdout is discarded.
pub fn spawn_logged(mut cmd: Command) -> (std::process::Child, Arc<Mutex<String>>) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (sink, stderr) = (log.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    (child, log)
}

/// The event ids an `X-Govwatch-Events` header lists, its ranges (`1-3,7`) spelt out.
pub fn expand(ranges: &str) -> Vec<i64> {
    ranges
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .flat_map(|r| match r.trim().split_once('-') {
            Some((a, b)) => (a.parse::<i64>().unwrap()..=b.parse().unwrap()).collect::<Vec<_>>(),
            None => vec![r.trim().parse().unwrap()],
        })
        .collect()
}

/// A message as a reader sees it: its headers (decoded), then each text and HTML part decoded
/// (quoted-printable or base64), parsed by a real MIME parser. Good for searching text in.
pub fn mail_text(raw: &str) -> String {
    let msg = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a parsable message");
    let mut out = String::new();
    for h in raw.split("\r\n\r\n").next().unwrap_or("").split("\n") {
        let name = h.split(':').next().unwrap_or("");
        if !name.starts_with([' ', '\t']) && !name.is_empty() && name != "Subject" {
            out.push_str(h.trim_end());
            out.push('\n');
        }
    }
    out.push_str(&format!("Subject: {}\n\n", msg.subject().unwrap_or("")));
    for i in 0..msg.text_body.len() {
        out.push_str(&msg.body_text(i).unwrap_or_default());
        out.push('\n');
    }
    for i in 0..msg.html_body.len() {
        out.push_str(&msg.body_html(i).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// One decoded part of a message: `text` or `html`.
pub fn mail_part(raw: &str, html: bool) -> String {
    let msg = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a parsable message");
    let body = if html { msg.body_html(0) } else { msg.body_text(0) };
    body.unwrap_or_default().into_owned()
}

/// A header of a raw message, unfolded and decoded.
pub fn mail_header(raw: &str, name: &str) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
    msg.header(name).map(|h| match h {
        mail_parser::HeaderValue::Text(t) => t.to_string(),
        mail_parser::HeaderValue::TextList(l) => l.join(","),
        other => format!("{other:?}"),
    })
}

/// An implicit-TLS (smtps) front for a plain SMTP server on `upstream`: TLS from the first byte
/// with a fresh self-signed certificate for 127.0.0.1, relayed in plain text to `upstream`.
/// mailin speaks only STARTTLS; this is how a test gets a real port-465-style server. Returns the
/// port and the certificate's PEM file (written to `dir`).
pub fn implicit_tls_front(upstream: u16, dir: &Path) -> (u16, PathBuf) {
    use std::io::{ErrorKind, Read, Write};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = dir.join("front.pem");
    std::fs::write(&pem, ck.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let tick = Some(std::time::Duration::from_millis(10));
                let Ok(mut up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                client.set_read_timeout(tick).unwrap();
                up.set_read_timeout(tick).unwrap();
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, client);
                let mut buf = [0u8; 16 * 1024];
                let idle =
                    |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
                loop {
                    match tls.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            if up.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => return,
                    }
                    match up.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            if tls.write_all(&buf[..n]).and_then(|()| tls.flush()).is_err() {
                                return;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => return,
                    }
                }
            });
        }
    });
    (port, pem)
}
