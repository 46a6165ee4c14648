//! The web pages: what was found, looked at rather than read off a terminal. Server-rendered
//! HTML (minijinja, autoescaped) over read-only connections to the database, served by the
//! daemon beside `/metrics` and by `govwatch serve`. The pages ([`pages`]) read through
//! [`Web::read`]; the one write, an event's triage marks, goes through the store's handle. Who
//! may see them is [`auth`]'s business; what a diff or a shared passage looks like is
//! [`view`]'s, decided without I/O.

pub mod auth;
mod pages;
mod render;
pub mod view;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::{error, info};

use crate::config::Config;
use crate::store::{Store, StoreError, StoreHandle};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooMany(String, u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("page template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("cannot listen on {addr} (`http.listen`): {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What every page handler shares: the config, the database and the sessions.
pub struct Web {
    config: RwLock<Arc<Config>>,
    /// Where the pages read: the SQLite file, or the PostgreSQL server.
    storage: crate::config::Storage,
    /// Read-only connections, reused: opening one costs more than most pages.
    readers: Mutex<Vec<Store>>,
    /// The process's store, for the triage marks (the only write the pages make).
    writer: StoreHandle,
    auth: auth::Auth,
}

impl Web {
    /// The pages over the database `config` names, written to through `writer` (which opened
    /// and migrated it).
    pub fn new(config: Arc<Config>, writer: StoreHandle) -> Arc<Web> {
        Arc::new(Web {
            storage: config.storage.clone(),
            auth: auth::Auth::new(),
            config: RwLock::new(config),
            readers: Mutex::new(Vec::new()),
            writer,
        })
    }

    /// A config reloaded (SIGHUP): watches and users as they are now.
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs `f` on a blocking thread with a read-only store.
    async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, WebError> + Send + 'static,
    {
        let web = self.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = web.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let store = match pooled {
                Some(s) => s,
                None => Store::open_reader(&web.storage)?,
            };
            let out = f(&store);
            web.readers.lock().unwrap_or_else(|p| p.into_inner()).push(store);
            out
        })
        .await
        .unwrap_or_else(|e| Err(WebError::Forbidden(format!("page task failed: {e}"))))
    }

    /// Every page and form, for the daemon to serve beside its own endpoints.
    pub fn router(self: &Arc<Self>) -> Router {
        pages::routes()
            .layer(axum::middleware::from_fn_with_state(self.clone(), auth::gate))
            .with_state(self.clone())
    }
}

/// Serves the pages alone at `addr` (`govwatch serve`) until `stop` resolves.
pub async fn serve(
    addr: SocketAddr,
    web: Arc<Web>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Listen { addr, source })?;
    info!(%addr, "serving the pages");
    let app = web.router().into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|source| WebError::Listen { addr, source })
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            WebError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            WebError::Forbidden(_) => (StatusCode::FORBIDDEN, "Refused"),
            WebError::TooMany(..) => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            error!(error = %self, "page failed");
        }
        let html = render::error_page(status.as_u16(), title, &self.to_string());
        let mut resp = (status, axum::response::Html(html)).into_response();
        if let WebError::TooMany(_, secs) = self
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}
