//! The HTTP API front end (axum 0.8 on hyper 1, on the shared tokio runtime).
//!
//! ```text
//! GET|PUT|DELETE /cache/{cache}?key=|key_base64=   cache.rs    Momento HTTP cache API
//! POST           /topics/{cache}/{topic}           topics.rs   publish (text or binary by Content-Type)
//! GET            /topics/{cache}/{topic}           topics.rs   long poll (Momento) / sse.rs: Server-Sent Events
//! PUT|GET|DELETE /leaderboards/{cache}/{lb}         leaderboards.rs  upsert, fetch by rank or score, delete/remove
//! GET            /leaderboards/{cache}/{lb}/ranks   leaderboards.rs  ordinal or competition ranks of ids
//! GET            /leaderboards/{cache}/{lb}/length  leaderboards.rs  element count
//! GET            /openapi.json                     openapi.rs  the OpenAPI 3 document of all of the above
//! ```
//! Every handler is a translator onto the service layer (`ferrite_service`): `auth.rs` finds the
//! token and `Service::caller` resolves it (401), `Service::admit` asks the permission (403), the
//! cache (404) and the quota (429 + `Retry-After`), the admitted `Op` runs Momento's operation or
//! opens the subscription's `Delivery`, and `Op::finish` / the delivery meter it. `params.rs`
//! parses query strings; `error.rs` maps `ServiceError` to the JSON error body and status codes.
//!
//! The same engines as RESP and gRPC (`Shared`): what one protocol writes the others read, and
//! Momento's rules are the service's, the same for gRPC and HTTP.
//! See docs/http.md.

pub mod auth;
pub mod cache;
pub mod conn;
pub mod error;
pub mod leaderboards;
pub mod openapi;
pub mod params;
pub mod sse;
pub mod topics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::{get, MethodRouter};
use axum::Router;
use ferrite_config::HttpConfig;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::shared::Shared;
use error::ApiError;

/// How long browsers may cache a CORS preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// HTTP-only settings (from `[http]`, plus the topics heartbeat).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    pub long_poll_max_wait: Duration,
    pub long_poll_max_items: usize,
    pub heartbeat_interval: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub max_subscriptions: usize,
    pub max_connections: usize,
    pub body_read_timeout: Duration,
    pub max_inflight_body_bytes: usize,
    /// Request-head and idle bounds of every connection (`http.header_read_timeout_ms`,
    /// `http.idle_timeout_ms`), and the connection cap above.
    pub conn: conn::ConnLimits,
}

/// Connections always allowed beyond `http.max_subscriptions`, so a subscriber over that cap is
/// accepted and answered 429 instead of waiting in the listen backlog.
const SUBSCRIPTION_HEADROOM: usize = 1;

impl HttpSettings {
    pub fn from_config(http: &HttpConfig, heartbeat_interval_secs: u64) -> Self {
        let max_connections = http
            .max_connections
            .max(http.max_subscriptions.saturating_add(SUBSCRIPTION_HEADROOM));
        Self {
            max_body_bytes: usize::try_from(http.max_body_bytes).unwrap_or(usize::MAX),
            long_poll_max_wait: Duration::from_millis(http.long_poll_max_wait_ms),
            long_poll_max_items: http.long_poll_max_items.max(1),
            heartbeat_interval: Duration::from_secs(heartbeat_interval_secs.max(1)),
            cors_allowed_origins: http.cors_allowed_origins.clone(),
            max_subscriptions: http.max_subscriptions.max(1),
            max_connections,
            body_read_timeout: Duration::from_millis(http.body_read_timeout_ms.max(1)),
            max_inflight_body_bytes: usize::try_from(http.max_inflight_body_bytes)
                .unwrap_or(usize::MAX)
                .clamp(1, Semaphore::MAX_PERMITS),
            conn: conn::ConnLimits::from_config(http, Some(max_connections)),
        }
    }
}

/// What every HTTP handler sees: the gRPC front end's state (engines + Momento limits) and ours.
pub struct HttpState {
    pub shared: Arc<Shared>,
    pub settings: HttpSettings,
    /// One permit per open subscription (SSE stream or waiting long poll): bounds how many
    /// engine subscribers and response streams HTTP clients can hold at once.
    subscriptions: Arc<Semaphore>,
    /// One permit per request body byte being read or handled (`http.max_inflight_body_bytes`).
    body_bytes: Arc<Semaphore>,
}

impl HttpState {
    pub fn new(shared: Arc<Shared>, settings: HttpSettings) -> Arc<Self> {
        Arc::new(Self {
            shared,
            subscriptions: Arc::new(Semaphore::new(settings.max_subscriptions)),
            body_bytes: Arc::new(Semaphore::new(settings.max_inflight_body_bytes)),
            settings,
        })
    }

    /// A subscription slot, held for as long as the subscription is open; 429 when all
    /// `http.max_subscriptions` are taken.
    pub fn subscription_permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.subscriptions.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "limit_exceeded",
                format!(
                    "too many open HTTP subscriptions (at most {})",
                    self.settings.max_subscriptions
                ),
            )
        })
    }

    /// Read a request body, AFTER the caller was authenticated and authorized (handlers take
    /// the raw `Body`, so nothing is read before the 401/403: 100 unauthenticated 5 MB PUTs used
    /// to make the server buffer 498 MB). Over `http.max_body_bytes` (by `Content-Length`, before
    /// reading, or as it arrives): 413. The body's bytes are charged to the listener-wide
    /// `http.max_inflight_body_bytes` until the returned permit is dropped (keep it for the
    /// handler's life); past it the request waits for room, 503 after `http.body_read_timeout_ms`.
    /// A body that does not arrive within that timeout: 408.
    pub async fn read_body(
        &self,
        headers: &axum::http::HeaderMap,
        body: axum::body::Body,
    ) -> Result<(Bytes, OwnedSemaphorePermit), ApiError> {
        let max = self.settings.max_body_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(ApiError::payload_too_large(max));
        }
        // Unknown length (chunked): charge the most it may be.
        let charge = declared
            .map_or(max, |n| n as usize)
            .clamp(1, self.settings.max_inflight_body_bytes);
        let deadline = tokio::time::Instant::now() + self.settings.body_read_timeout;
        let permit = tokio::time::timeout_at(
            deadline,
            self.body_bytes.clone().acquire_many_owned(charge as u32),
        )
        .await
        .map_err(|_| ApiError::unavailable("too many request bodies in flight; retry later"))?
        .expect("the body semaphore is never closed");
        let bytes = tokio::time::timeout_at(deadline, axum::body::to_bytes(body, max))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body did not arrive within {} ms",
                        self.settings.body_read_timeout.as_millis()
                    ),
                )
            })?
            .map_err(|e| {
                if std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                {
                    ApiError::payload_too_large(max)
                } else {
                    ApiError::bad_request(format!("cannot read the request body: {e}"))
                }
            })?;
        Ok((bytes, permit))
    }
}

/// A path segment that does not decode (bad percent-encoding, not UTF-8).
pub fn path_error(e: PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad path: {e}"))
}

/// Every route the API serves, with its handlers: the router is built from this table, and the
/// tests check the OpenAPI document against it (same paths, same methods).
pub fn routes() -> Vec<(&'static str, MethodRouter<Arc<HttpState>>)> {
    vec![
        (
            "/cache/{cache}",
            get(cache::get).put(cache::put).delete(cache::delete),
        ),
        (
            "/topics/{cache}/{topic}",
            get(topics::subscribe).post(topics::publish),
        ),
        (
            "/leaderboards/{cache}/{leaderboard}",
            get(leaderboards::fetch)
                .put(leaderboards::upsert)
                .delete(leaderboards::delete),
        ),
        (
            "/leaderboards/{cache}/{leaderboard}/ranks",
            get(leaderboards::ranks),
        ),
        (
            "/leaderboards/{cache}/{leaderboard}/length",
            get(leaderboards::length),
        ),
        ("/openapi.json", get(openapi::serve)),
    ]
}

/// The whole application: routes, JSON 404/405 answers, body limit, CORS (when configured).
pub fn router(state: Arc<HttpState>) -> Router {
    let mut r: Router<Arc<HttpState>> = Router::new();
    for (path, methods) in routes() {
        r = r.route(path, methods.fallback(method_not_allowed));
    }
    let mut app = r
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(axum::middleware::from_fn(record_metrics))
        .with_state(state.clone());
    if let Some(cors) = cors_layer(&state.settings.cors_allowed_origins) {
        app = app.layer(cors);
    }
    app
}

/// Request counts and latency per family for the admin `/metrics` (`protocol="http"`): the
/// time until the response head is ready (for a long poll that includes its wait; an SSE
/// stream counts until its headers go out, not for the stream's life).
async fn record_metrics(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use crate::metrics::{record, Family, Protocol};
    let path = req.uri().path();
    let family = if path.starts_with("/cache/") {
        if req.method() == axum::http::Method::DELETE {
            Family::Keys
        } else {
            Family::String
        }
    } else if path.starts_with("/topics/") {
        Family::Topics
    } else if path.starts_with("/leaderboards/") {
        Family::Zset
    } else {
        Family::Other
    };
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    record(Protocol::Http, family, started.elapsed());
    response
}

/// CORS for the configured origins; `None` (no layer, no CORS headers) when the list is empty.
/// Preflights are answered by the layer itself; `Last-Event-ID` is allowed so a fetch-based SSE
/// client can resume, and `Retry-After` is exposed so a page can honour a 429.
pub fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Validated by the config crate (ASCII, scheme://host[:port]).
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::PUT, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
            ])
            // Not CORS-safelisted: without this a page cannot read how long a 429 asks it to wait.
            .expose_headers([header::RETRY_AFTER])
            .max_age(CORS_MAX_AGE),
    )
}

async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on this route"),
    )
}

/// Bind the HTTP listener (`bind:port`, port 0 = a free port).
pub async fn bind(
    bind: &str,
    port: u16,
    backlog: u32,
) -> anyhow::Result<(TcpListener, SocketAddr)> {
    crate::net::bind_listener("HTTP", bind, port, backlog).await
}

/// Serve the API on `listener` until `shared.shutdown` flips; then stop accepting, let in-flight
/// requests finish (long polls and SSE streams end at once on shutdown) and return. With `tls`,
/// HTTPS: HTTP/1.1, or HTTP/2 when the client picks `h2` by ALPN (handshakes off the accept
/// loop, see `crate::tls`). Connections are capped and timed by `conn::serve`.
pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    settings: HttpSettings,
    tls: Option<Arc<crate::tls::ServerTls>>,
) {
    if !shared.auth.enforcing() {
        tracing::warn!(
            addr = ?listener.local_addr().ok(),
            "HTTP API in DEVELOPMENT AUTH MODE: every token is accepted, including none"
        );
    }
    let conn_limits = settings.conn;
    let state = HttpState::new(shared.clone(), settings);
    let app = router(state);
    let stop = shared.shutdown.subscribe();
    match tls {
        Some(tls) => {
            let incoming = tls.listener(listener, crate::tls::Alpn::Http, "http");
            conn::serve(incoming, app, conn_limits, stop).await
        }
        None => conn::serve(listener, app, conn_limits, stop).await,
    }
    tracing::info!("HTTP listener closed for shutdown");
}
