//! The admin endpoint: Prometheus `/metrics`, `/healthz`, `/readyz`, `/stats` JSON and the web
//! console, on `server.admin_port`.
//!
//! It runs on its **own OS thread with a small current-thread tokio runtime**, so a scrape (which
//! walks every cache's shards) or a console tab never takes a worker thread from the data path,
//! and a data path under load can't starve the operator's view of it.
//!
//! For operators only. In auth mode `token` every route but `/healthz`, `/readyz` (orchestrators
//! probe them) and the console's static page and assets needs a super-user token
//! (`Authorization: Bearer <token>`, or `?token=` for the browser's `EventSource`): 401 without
//! a valid one, 403 for a scoped one (`require_admin`). With `[tls]` on for `admin`, it serves
//! HTTPS (HTTP/1.1 and h2). See docs/observability.md.

mod console;
mod prometheus;
pub mod registry;
pub(crate) mod stats;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;

use crate::shared::Shared;

/// After a stop request, how long in-flight admin requests get before the runtime is dropped.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// What every admin handler sees.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub shared: Arc<Shared>,
    /// Set once every listener is bound (`Running::start` finished).
    pub ready: Arc<AtomicBool>,
    /// Flips to true when the admin server stops: open SSE tails end on it.
    pub stop: watch::Receiver<bool>,
    /// Open console tails, bounded by `admin.max_tail_streams`.
    pub tails: Arc<AtomicUsize>,
}

/// A running admin server. Dropping it stops it (without waiting).
pub struct AdminServer {
    addr: SocketAddr,
    ready: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AdminServer {
    /// Bind `bind:port` (0 = a free port) now, so errors surface from `Running::start`, and serve
    /// on a dedicated thread.
    pub fn start(
        shared: Arc<Shared>,
        bind: &str,
        port: u16,
        tls: Option<Arc<crate::tls::ServerTls>>,
    ) -> anyhow::Result<AdminServer> {
        let addr = format!("{bind}:{port}");
        let backlog = shared.config.read().server.tcp_backlog;
        let listener = crate::net::bind_std(&addr, backlog)
            .with_context(|| format!("binding admin listener on {addr}"))?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let ready = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = watch::channel(false);
        let state = AdminState {
            shared,
            ready: ready.clone(),
            stop: stop_rx.clone(),
            tails: Arc::new(AtomicUsize::new(0)),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("ferrite-admin")
            .build()
            .context("building the admin runtime")?;
        let https = tls.is_some();
        let thread = std::thread::Builder::new()
            .name("ferrite-admin".into())
            .spawn(move || runtime.block_on(serve(listener, state, stop_rx, tls)))
            .context("spawning the admin thread")?;
        tracing::info!(admin_addr = %local, tls = https, "admin listener bound (metrics, health, console)");
        Ok(AdminServer {
            addr: local,
            ready,
            stop: stop_tx,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `/readyz` answers 200 from now on (until shutdown is requested).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Stop serving and wait (off the async workers) for the admin thread to end.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(
    listener: std::net::TcpListener,
    state: AdminState,
    stop: watch::Receiver<bool>,
    tls: Option<Arc<crate::tls::ServerTls>>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "admin listener failed");
            return;
        }
    };
    // The HTTP API's head and idle timeouts (a slow or idle client must not hold the admin
    // port either); no connection cap: it is for operators, and unauthenticated requests get
    // only the probes and static files.
    let limits = crate::http::conn::ConnLimits::from_config(&state.shared.config.read().http, None);
    let app = router(state);
    // The TLS listener's handshake tasks run on this (admin) runtime, off the data path's.
    let server = async {
        match tls {
            Some(tls) => {
                let incoming = tls.listener(listener, crate::tls::Alpn::Http, "admin");
                crate::http::conn::serve(incoming, app, limits, stop.clone()).await
            }
            None => crate::http::conn::serve(listener, app, limits, stop.clone()).await,
        }
    };
    tokio::select! {
        _ = server => {}
        // The drain waits for in-flight requests; don't let one hold the process up. Dropping
        // the server aborts its connections.
        _ = async { wait_stop(stop.clone()).await; tokio::time::sleep(STOP_GRACE).await } => {}
    }
}

pub(crate) async fn wait_stop(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

fn router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/stats", get(stats))
        .route("/metering", get(metering))
        .merge(console::routes(&state))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_admin,
        ))
        .with_state(state)
}

/// Routes anyone may load in auth mode `token`: the probes orchestrators call without
/// credentials, and the console's static page and assets (they hold no data; the page asks the
/// operator for a token and sends it with every API call).
fn is_open_route(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/" | "/console/app.js" | "/console/app.css"
    )
}

/// In auth mode `token`: a super-user token for every other route (401 missing/invalid, 403
/// not a super-user), from `Authorization` (raw or `Bearer`) or `?token=` (EventSource cannot
/// send headers). The same JSON error bodies as the HTTP API.
async fn require_admin(
    axum::extract::State(st): axum::extract::State<AdminState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use crate::http::error::ApiError;
    let auth = &st.shared.auth;
    if !auth.enforcing() || is_open_route(req.uri().path()) {
        return next.run(req).await;
    }
    // The token is read as the HTTP API reads it; who it is, is the service's answer.
    let checked = (|| -> Result<(), ApiError> {
        let query = crate::http::params::Query::parse(req.uri().query())?;
        let token = crate::http::auth::extract_token(req.headers(), &query)?;
        let caller = st.shared.caller(token.as_deref())?;
        ferrite_service::authz::check_super_user(&caller.principal, "the admin port")
            .map_err(|d| ferrite_service::ServiceError::Denied(d).into())
    })();
    match checked {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Prometheus text exposition format 0.0.4.
async fn metrics(axum::extract::State(st): axum::extract::State<AdminState>) -> Response {
    let mut body = prometheus::render(&st.shared);
    // Per-tenant usage (token id x cache; bounded by `metering.max_tracked_keys`).
    body.push_str(&crate::admin::registry::render_tenants(
        &st.shared.metering.snapshot(),
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Liveness: the admin runtime answers.
async fn healthz() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Readiness: every listener bound and no shutdown requested.
async fn readyz(axum::extract::State(st): axum::extract::State<AdminState>) -> Response {
    if *st.shared.shutdown.borrow() {
        return json_status(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if !st.ready.load(Ordering::Acquire) {
        return json_status(StatusCode::SERVICE_UNAVAILABLE, "starting");
    }
    json_status(StatusCode::OK, "ready")
}

/// Per-tenant usage as JSON, for billing exports (docs/metering.md).
async fn metering(axum::extract::State(st): axum::extract::State<AdminState>) -> Response {
    let body = ferrite_service::metering::render_json(&st.shared.metering.snapshot());
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn stats(axum::extract::State(st): axum::extract::State<AdminState>) -> Response {
    Json(stats::collect(&st.shared)).into_response()
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "no such admin route")
}

fn json_status(code: StatusCode, status: &str) -> Response {
    (code, Json(serde_json::json!({ "status": status }))).into_response()
}

/// Errors on the admin port: the status code plus `{"error": "..."}`.
pub(crate) fn json_error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(serde_json::json!({ "error": message.into() }))).into_response()
}
