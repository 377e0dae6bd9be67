//! The Momento-compatible gRPC front end: the official Momento SDKs work against Ferrite unchanged.
//!
//! Services (generated server traits from `momento-protos`, plus a hand-defined `cache_client.Ping`):
//! ```text
//! control_client.ScsControl   control.rs      create/delete/list/flush caches
//! cache_client.Scs            scs.rs          dispatch: admission on the `cache` header's cache, then
//!                              scalars.rs       Get/Set/SetIf*/Delete/KeysExist/Increment/TTL/type/batches
//!                              collections.rs   dictionary/list/set/sorted-set RPCs
//! cache_client.pubsub.Pubsub  topics.rs       Publish/Subscribe on the topics engine
//! leaderboard.Leaderboard     leaderboard.rs  the eight leaderboard RPCs (sorted sets underneath)
//! token.Token                 auth.rs         GenerateDisposableToken (development auth mode)
//! cache_client.Ping           auth.rs         hand-defined (not in momento-protos)
//! ```
//! Data is the engine's: a Momento scalar is a Redis string, a dictionary a hash, a list a list, a
//! set a set and a sorted set a zset, in the same cache (RESP uses `default`).
//! The cache RPCs (`scalars.rs`, `collections*`) are adapters: protobuf → the service's cache
//! operation on the admitted `Op` (`ferrite_service::cache_ops`, shared with the HTTP API) →
//! protobuf, with every refusal mapped by `errors::status`. Momento's rules (sizes, TTLs,
//! eviction, wrong type, the change-feed event of each write) are the service's; the transport's
//! limits are [`GrpcLimits`]. See docs/grpc.md.

pub mod auth;
pub mod authz;
pub mod collections;
pub mod control;
pub mod errors;
pub mod handshake;
pub mod inflight;
pub mod leaderboard;
pub mod scalars;
pub mod scs;
pub mod test_mode;
pub mod topics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrite_storage::Cache;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpIncoming;
use tonic::Status;

use crate::shared::Shared;
use ferrite_service::{Caller, Counters, Need, Op};

/// Largest gRPC message decoded or encoded. Above the Rust SDK's 10,486,000-byte request limit so
/// 5 MB items (and batches up to that) fit; tonic's default would be 4 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// What a data-plane request may add to the item limit (field tags, lengths, TTL, the other
/// fields of a Set) before it counts as a request over Momento's size limit.
pub const REQUEST_FRAMING_BYTES: usize = 4 * 1024;
/// Longest a request stream waits for room in `max_inflight_request_bytes` before it fails with
/// RESOURCE_EXHAUSTED (uploads holding the whole budget and each waiting for more end by then).
const INFLIGHT_REQUEST_WAIT: Duration = Duration::from_secs(10);
/// HTTP/2 flow-control windows (per connection, per stream).
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
/// Largest GenerateDisposableToken request (permissions + an auth token: a few KiB at most).
const TOKEN_MAX_MESSAGE_BYTES: usize = 64 * 1024;
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
/// Caches per ListCaches page.
pub const DEFAULT_LIST_CACHES_PAGE_SIZE: usize = 100;
/// Subscription items buffered per stream between the engine and the HTTP/2 stream. A client that
/// reads slower than this falls behind in the engine's replay ring (and gets a discontinuity), it
/// never grows our memory.
pub const DEFAULT_SUBSCRIPTION_BUFFER: usize = 256;

/// The gRPC transport's limits. Momento's data limits (item, element, TTL, topic names and
/// messages) are the service's (`ferrite_service::Limits`, `shared.limits`), shared with HTTP.
/// Those with a config key come from `[grpc]` (defaults defined once, in `ferrite_config`); the
/// rest are constants here. See docs/grpc.md.
#[derive(Debug, Clone)]
pub struct GrpcLimits {
    pub max_message_bytes: usize,
    pub max_concurrent_streams: u32,
    /// Request bytes being received at once across the listener (see `inflight`).
    pub max_inflight_request_bytes: usize,
    pub list_caches_page_size: usize,
    pub subscription_buffer: usize,
    /// `grpc.handshake_timeout_ms`: the HTTP/2 preface and first SETTINGS must arrive in time.
    pub handshake_timeout: Duration,
}

impl GrpcLimits {
    /// The limits `[grpc]` configures; the others at their defaults.
    pub fn from_config(g: &ferrite_config::GrpcConfig) -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_concurrent_streams: g.max_concurrent_streams,
            max_inflight_request_bytes: usize::try_from(g.max_inflight_request_bytes)
                .unwrap_or(usize::MAX),
            list_caches_page_size: DEFAULT_LIST_CACHES_PAGE_SIZE,
            subscription_buffer: DEFAULT_SUBSCRIPTION_BUFFER,
            handshake_timeout: Duration::from_millis(g.handshake_timeout_ms.max(1)),
        }
    }
}

impl Default for GrpcLimits {
    fn default() -> Self {
        Self::from_config(&ferrite_config::GrpcConfig::default())
    }
}

/// What every gRPC handler sees.
pub struct GrpcState {
    pub shared: Arc<Shared>,
    pub limits: GrpcLimits,
    /// `--test-mode`'s fault injection (None when off).
    pub faults: Option<Arc<test_mode::Faults>>,
}

impl GrpcState {
    pub fn new(shared: Arc<Shared>, limits: GrpcLimits) -> Arc<Self> {
        let faults = shared
            .config
            .read()
            .server
            .test_mode
            .then(|| Arc::new(test_mode::Faults::default()));
        Arc::new(Self {
            shared,
            limits,
            faults,
        })
    }

    /// The caller of a call: the principal the interceptor put in its extensions
    /// (UNAUTHENTICATED when there is none) and, in auth mode `none`, the publisher id of a
    /// development key in its `authorization` header.
    #[allow(clippy::result_large_err)]
    pub fn caller(&self, md: &MetadataMap, ext: &tonic::Extensions) -> Result<Caller, Status> {
        let principal = ext
            .get::<ferrite_auth::Principal>()
            .cloned()
            .ok_or_else(|| authz::unauthenticated(ferrite_auth::AuthError::Missing))?;
        let dev_publisher = if self.shared.auth.enforcing() {
            None
        } else {
            md.get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(ferrite_service::admission::dev_key::publisher_id)
        };
        Ok(self.shared.caller_for(principal, dev_publisher))
    }

    /// Admit a data-plane call on the cache its `cache` header names (INVALID_ARGUMENT when
    /// missing): the service's one admission sequence, with the RPC's own key permissions;
    /// then, if a script holds the cache, wait for it (UNAVAILABLE past its busy threshold)
    /// rather than on its locks on this worker thread.
    #[allow(clippy::result_large_err)]
    pub async fn admit_call<'s, T: authz::CacheOp + prost::Message>(
        &'s self,
        md: &MetadataMap,
        ext: &tonic::Extensions,
        body: &T,
    ) -> Result<Op<'s>, Status> {
        let name = authz::cache_header(md)?;
        let caller = self.caller(md, ext)?;
        // Momento refuses a request over its size limit as such (`request_size_limit_exceeded`,
        // "Request size limit exceeded"), before looking at the items in it: a 5.3 MB Set is a
        // request-size error there, not an item-size one (the SDKs' integration tests check
        // it). The limit is the item limit plus room for the message's own framing.
        let size = body.encoded_len();
        let max = self
            .shared
            .limits
            .max_item_bytes
            .saturating_add(REQUEST_FRAMING_BYTES);
        if size > max {
            return Err(errors::request_too_large(size, max));
        }
        let op = self
            .shared
            .admit(
                &caller,
                name,
                Need::Check(&|p, cache| body.authorize(p, cache)),
            )
            .map_err(errors::status)?;
        self.shared
            .exclusive
            .wait_clear(op.cache())
            .await
            .map_err(errors::status)?;
        Ok(op)
    }

    /// A cache named in a request body (control plane).
    #[allow(clippy::result_large_err)]
    pub fn cache_named(&self, name: &str) -> Result<Arc<Cache>, Status> {
        self.shared.cache_named(name).map_err(errors::status)
    }

    pub fn now_ms(&self) -> u64 {
        self.shared.store.now_ms()
    }
}

/// Metering of one call by its protobuf sizes: request in, every response message out.
pub fn usage<Resp: prost::Message>(req_len: usize, result: &Result<Resp, Status>) -> Counters {
    Counters::op(
        req_len as u64,
        result.as_ref().map_or(0, |m| m.encoded_len() as u64),
    )
}

/// Bind the gRPC listener (`bind:port`, port 0 = a free port).
pub async fn bind(
    bind: &str,
    port: u16,
    backlog: u32,
) -> anyhow::Result<(TcpListener, SocketAddr)> {
    crate::net::bind_listener("gRPC", bind, port, backlog).await
}

/// Serve every gRPC service on `listener` until `shared.shutdown` flips; with `tls`, HTTP/2 over
/// TLS (ALPN `h2`, handshakes off the accept loop, see `crate::tls`).
pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    limits: GrpcLimits,
    tls: Option<Arc<crate::tls::ServerTls>>,
) {
    use momento_protos::cache_client::pubsub::pubsub_server::PubsubServer;
    use momento_protos::cache_client::scs_server::ScsServer;
    use momento_protos::control_client::scs_control_server::ScsControlServer;
    use momento_protos::leaderboard::leaderboard_server::LeaderboardServer;
    use momento_protos::token::token_server::TokenServer;

    if !shared.auth.enforcing() {
        auth::log_development_mode(listener.local_addr().ok());
    }
    let state = GrpcState::new(shared.clone(), limits.clone());
    if state.faults.is_some() {
        tracing::warn!(
            "TEST MODE: gRPC calls carrying Momento Local's fault-injection metadata (return-error, delay-ms, stream-error, ...) fail or wait as they ask. For testing clients only."
        );
    }
    let max = limits.max_message_bytes;
    let scs = ScsServer::new(scs::CacheService::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let pubsub = PubsubServer::new(topics::PubsubService::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let control = ScsControlServer::new(control::ControlService::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    // GenerateDisposableToken may be authenticated by a body field (see `authz::AuthGateLayer`),
    // so its message is decoded before auth: keep that small.
    let leaderboard = LeaderboardServer::new(leaderboard::LeaderboardService::new(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let token = TokenServer::new(auth::TokenService::new(state.clone()))
        .max_decoding_message_size(TOKEN_MAX_MESSAGE_BYTES);
    let ping = auth::PingServer;

    let mut shutdown = shared.shutdown.subscribe();
    let signal = async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
        tracing::info!("gRPC listener closed for shutdown");
    };
    let router = tonic::transport::Server::builder()
        // The SDKs open up to 100 streams per connection (subscriptions are long-lived streams).
        .max_concurrent_streams(Some(limits.max_concurrent_streams))
        // Clients ping (Rust topic channels every 30 s, JS every few seconds): hyper answers every
        // PING and has no strict ping policy, so no GOAWAY `too_many_pings`. We ping idle
        // connections ourselves so dead peers holding subscriptions get noticed.
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        // A large fixed connection window rather than hyper's adaptive one: h2 limits the small
        // DATA frames a connection may have buffered to half the connection window (25.6 KB with
        // the adaptive window's 64 KB start), and a client with a few hundred concurrent small
        // requests on one connection would otherwise get GOAWAY ENHANCE_YOUR_CALM
        // `too_many_data_frames`. 5 MB items also upload without waiting on window updates.
        .http2_adaptive_window(Some(false))
        .initial_connection_window_size(Some(CONNECTION_WINDOW))
        .initial_stream_window_size(Some(STREAM_WINDOW))
        // Outermost: count and time every call, rejected ones included (see src/metrics.rs).
        .layer(crate::metrics::GrpcMetricsLayer)
        .layer(tonic::service::InterceptorLayer::new(authz::interceptor(
            shared.clone(),
        )))
        // Token mode: a call without a token is refused at its headers, before its body.
        .layer(authz::AuthGateLayer {
            enforcing: shared.auth.enforcing(),
        })
        // --test-mode only: injected errors and delays (one branch per call otherwise).
        .layer(test_mode::FaultLayer {
            faults: state.faults.clone(),
        })
        // Inside the gate: refused calls are never read, so only admitted ones are charged.
        .layer(inflight::RequestBytesLayer {
            budget: inflight::RequestBytesBudget::new(
                limits.max_inflight_request_bytes,
                INFLIGHT_REQUEST_WAIT,
            ),
        })
        .add_service(scs)
        .add_service(pubsub)
        .add_service(control)
        .add_service(leaderboard)
        .add_service(token)
        .add_service(ping);
    // Every connection is watched until its first call: a bounded handshake, and closed at once
    // on shutdown (tonic's graceful shutdown would wait for it), see `handshake`.
    let stop = shared.shutdown.subscribe();
    let timeout = limits.handshake_timeout;
    let result = match tls {
        Some(tls) => {
            let incoming = tls
                .listener(listener, crate::tls::Alpn::Http, "grpc")
                .map(handshake::guard(timeout, stop));
            router.serve_with_incoming_shutdown(incoming, signal).await
        }
        None => {
            let incoming = TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .map(handshake::guard(timeout, stop));
            router.serve_with_incoming_shutdown(incoming, signal).await
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "gRPC server failed");
    }
}
