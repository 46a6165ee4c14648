//! The daemon's HTTP endpoints (`[http] listen`): `GET /metrics` in the Prometheus text format
//! and `GET /healthz`, which answers 200 only while the scheduler loop and the database do; and
//! the web pages ([`crate::web`]) beside them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tracing::{error, info};

use super::{DaemonError, State};
use crate::metrics;

/// Binds `addr` now, so that a port in use fails startup before READY=1, and serves in a task.
pub async fn serve(addr: SocketAddr, state: Arc<State>) -> Result<(), DaemonError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Listen { addr, source })?;
    let mut app = axum::Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(healthz))
        .with_state(state.clone());
    if let Some(web) = &state.web {
        // Its own routes only: /metrics and /healthz stay as they are, outside the login.
        app = app.merge(web.router());
    }
    info!(%addr, "serving /metrics, /healthz and the pages");
    // The address of each client: failed logins are counted per address.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(%addr, error = %e, "HTTP server stopped");
        }
    });
    Ok(())
}

async fn metrics_page(AxumState(state): AxumState<Arc<State>>) -> impl IntoResponse {
    let health = state.health().await;
    let gauges = metrics::Gauges {
        watches: state.config().watches.len(),
        mail_pending: health.as_ref().copied().unwrap_or(0),
        last_pass_unix: state.last_pass_unix(),
        healthy: health.is_ok(),
        node: state.config().daemon.node.clone(),
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics::render(&gauges),
    )
}

async fn healthz(AxumState(state): AxumState<Arc<State>>) -> impl IntoResponse {
    match state.health().await {
        Ok(_) => (StatusCode::OK, "ok\n".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {why}\n")),
    }
}
