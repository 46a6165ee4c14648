//! Many local web sites for the fetch benchmark (`scripts/bench-fetch`): one HTTP server on each
//! of 127.0.0.1 … 127.0.0.N, all on the same port, each serving `/p/<n>.html` article pages
//! built from the test fixtures (a ministry template around corpus paragraphs, different per
//! page). Every host is a separate origin to govwatch, so per-host politeness applies per IP.
//!
//!   cargo run --release --example bench_sites -- --hosts 100 --port 18080 [--latency-ms 20]
//!
//! Prints "ready" once every listener is bound, then serves until killed.
//!
//! It also keeps a log of every request it served (robots.txt and unknown paths included), so
//! that the benchmark with several govwatch nodes can tell from the servers' side whether two
//! requests to one origin overlapped, how far apart their starts were, and whether a page was
//! fetched twice. `GET /_bench/log` on any host returns the log since the last call, one request
//! a line: `host path start_us end_us` (microseconds since the server started, the end taken
//! when the response is handed to hyper), and empties it. `--latency-ms` holds every response
//! that long before it is sent, so that a request's time in flight is long enough for a second
//! one to the same origin to land inside it, rather than a few microseconds that two
//! overlapping clients would hardly ever hit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const TEMPLATE: &str = include_str!("../tests/fixtures/chrome/ministry-article.html");
const CORPUS: [&str; 4] = [
    include_str!("../tests/fixtures/corpus/000_2c8e88b2ae00cbc5.txt"),
    include_str!("../tests/fixtures/corpus/001_ac0aaab2b33c6938.txt"),
    include_str!("../tests/fixtures/corpus/003_0772cf1c2725d416.txt"),
    include_str!("../tests/fixtures/corpus/004_1d2cd7d0eb42c1f4.txt"),
];

struct Pages {
    /// Paragraphs of all corpus documents, to draw pages from.
    paragraphs: Vec<String>,
}

impl Pages {
    /// Page `n` of host `h`: a title and 12 paragraphs chosen by the numbers, so pages differ.
    fn render(&self, h: u32, n: u32) -> String {
        let seed = (u64::from(h) << 32 | u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let body: String = (0..12)
            .map(|i| {
                let k = (seed.rotate_left(i * 5) as usize) % self.paragraphs.len();
                format!("<p>{}</p>\n", html_escape(&self.paragraphs[k]))
            })
            .collect();
        let title = format!("Position paper {n} of host {h} on global digital governance");
        TEMPLATE
            .replace("{{TITLE}}", &title)
            .replace("{{DATE}}", "2023-05-25")
            .replace("{{BODY}}", &body)
            .replace("{{COUNTER}}", &(seed % 10_000).to_string())
            .replace("{{RELATED}}", "")
            .replace("{{YEAR}}", "2026")
    }
}

/// Every request served, for `/_bench/log`.
struct Recorder {
    started: Instant,
    latency: Duration,
    hits: Mutex<Vec<Hit>>,
}

struct Hit {
    host: u32,
    path: String,
    start_us: u128,
    end_us: u128,
}

/// Logs a request (and holds it `--latency-ms`) unless it is the log's own.
async fn record(State((rec, host)): State<(Arc<Recorder>, u32)>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_bench/") {
        return next.run(req).await;
    }
    let start_us = rec.started.elapsed().as_micros();
    if !rec.latency.is_zero() {
        tokio::time::sleep(rec.latency).await;
    }
    let response = next.run(req).await;
    let end_us = rec.started.elapsed().as_micros();
    rec.hits.lock().unwrap().push(Hit {
        host,
        path,
        start_us,
        end_us,
    });
    response
}

/// The log since the last call, emptied.
async fn take_log(State(rec): State<Arc<Recorder>>) -> String {
    let hits = std::mem::take(&mut *rec.hits.lock().unwrap());
    hits.iter()
        .map(|h| format!("{} {} {} {}\n", h.host, h.path, h.start_us, h.end_us))
        .collect()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such page").into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn page(State((pages, host)): State<(Arc<Pages>, u32)>, Path(file): Path<String>) -> Response {
    let Some(n) = file.strip_suffix(".html").and_then(|n| n.parse::<u32>().ok()) else {
        return (StatusCode::NOT_FOUND, "no such page").into_response();
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        pages.render(host, n),
    )
        .into_response()
}

fn main() {
    let mut hosts = 100u32;
    let mut port = 18080u16;
    let mut latency_ms = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--hosts" => hosts = args.next().and_then(|v| v.parse().ok()).expect("--hosts N"),
            "--port" => port = args.next().and_then(|v| v.parse().ok()).expect("--port P"),
            "--latency-ms" => latency_ms = args.next().and_then(|v| v.parse().ok()).expect("--latency-ms MS"),
            other => panic!("unknown argument {other}"),
        }
    }
    let paragraphs = CORPUS
        .iter()
        .flat_map(|t| t.lines().skip(1).map(str::trim).filter(|l| l.len() > 80))
        .map(str::to_string)
        .collect();
    let pages = Arc::new(Pages { paragraphs });
    let recorder = Arc::new(Recorder {
        started: Instant::now(),
        latency: Duration::from_millis(latency_ms),
        hits: Mutex::new(Vec::new()),
    });
    // One thread is enough to outpace the clients; the benchmark is about them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut servers = Vec::new();
        for h in 1..=hosts {
            let addr = format!("127.0.0.{h}:{port}");
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .unwrap_or_else(|e| panic!("cannot bind {addr}: {e}"));
            let app = axum::Router::new()
                .route("/p/{file}", axum::routing::get(page))
                .with_state((pages.clone(), h))
                .route(
                    "/_bench/log",
                    axum::routing::get(take_log).with_state(recorder.clone()),
                )
                .fallback(not_found)
                .layer(axum::middleware::from_fn_with_state(
                    (recorder.clone(), h),
                    record,
                ));
            servers.push(tokio::spawn(async move { axum::serve(listener, app).await }));
        }
        println!("ready");
        for s in servers {
            let _ = s.await;
        }
    });
}
