//! Many local web sites for the fetch benchmark (`scripts/bench-fetch`): one HTTP server on each
//! of 127.0.0.1 … 127.0.0.N, all on the same port, each serving `/p/<n>.html` article pages
//! built from the test fixtures (a ministry template around corpus paragraphs, different per
//! page). Every host is a separate origin to govwatch, so per-host politeness applies per IP.
//!
//!   cargo run --release --example bench_sites -- --hosts 100 --port 18080
//!
//! Prints "ready" once every listener is bound, then serves until killed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
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
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--hosts" => hosts = args.next().and_then(|v| v.parse().ok()).expect("--hosts N"),
            "--port" => port = args.next().and_then(|v| v.parse().ok()).expect("--port P"),
            other => panic!("unknown argument {other}"),
        }
    }
    let paragraphs = CORPUS
        .iter()
        .flat_map(|t| t.lines().skip(1).map(str::trim).filter(|l| l.len() > 80))
        .map(str::to_string)
        .collect();
    let pages = Arc::new(Pages { paragraphs });
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
                .with_state((pages.clone(), h));
            servers.push(tokio::spawn(async move { axum::serve(listener, app).await }));
        }
        println!("ready");
        for s in servers {
            let _ = s.await;
        }
    });
}
