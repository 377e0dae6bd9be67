//! `token.Token/GenerateDisposableToken`, the development-mode helpers, and the hand-defined
//! `cache_client.Ping`.
//!
//! Auth mode `token` (docs/auth.md): GenerateDisposableToken is for super-users only (the caller
//! is the `auth_token` body field, which the JS SDK sends instead of a header, or else the
//! `authorization` header); it requires an expiry of at most `auth.max_token_ttl_secs` and a
//! valid, non-super-user permission set, and mints a signed token whose id becomes the
//! `publisher_id` of what it publishes. Header checks on every call are `authz.rs`'s.
//!
//! Auth mode `none` (development, loopback only by default): every call is accepted, including
//! the empty token that the SDKs' "Momento local" providers send, and GenerateDisposableToken
//! hands out unsigned `ferrite-dev.<hex token_id>.<random>` keys whose token id still becomes the
//! `publisher_id`. The start-up log says so loudly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use momento_protos::token::token_server::Token;
use momento_protos::token::{GenerateDisposableTokenRequest, GenerateDisposableTokenResponse};
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::{Request, Response, Status};

use super::GrpcState;

use ferrite_service::admission::dev_key;

/// Longest `token_id` the SDKs allow (R: utils.rs is_disposable_token_id_valid).
const MAX_TOKEN_ID: usize = 64;

pub fn log_development_mode(addr: Option<SocketAddr>) {
    tracing::warn!(
        addr = ?addr,
        "gRPC (Momento) API in DEVELOPMENT AUTH MODE: every token is accepted, including the empty one; \
         do not expose this port to untrusted networks"
    );
}

pub struct TokenService {
    state: Arc<GrpcState>,
}

impl TokenService {
    pub fn new(state: Arc<GrpcState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl Token for TokenService {
    async fn generate_disposable_token(
        &self,
        request: Request<GenerateDisposableTokenRequest>,
    ) -> Result<Response<GenerateDisposableTokenResponse>, Status> {
        let local = request.local_addr();
        if let Some(a) = self.state.shared.auth.authenticator().cloned() {
            return self.generate_signed(&a, request, local);
        }
        let req = request.into_inner();
        // Development mode: `auth_token` (the body field the SDKs authenticate this call with) is
        // not checked.
        let Some(expires) = req.expires else {
            return Err(Status::invalid_argument(
                "expires is required: disposable tokens must expire",
            ));
        };
        if expires.valid_for_seconds == 0 {
            return Err(Status::invalid_argument(
                "expires.valid_for_seconds must be at least 1",
            ));
        }
        if req.permissions.is_none() {
            return Err(Status::invalid_argument("permissions are required"));
        }
        if req.token_id.len() > MAX_TOKEN_ID {
            return Err(Status::invalid_argument(format!(
                "token_id is longer than {MAX_TOKEN_ID} characters"
            )));
        }
        let now_s = self.state.now_ms() / 1000;
        let api_key = dev_key::mint(&req.token_id, rand::random::<u128>());
        let endpoint = local
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "localhost".into());
        Ok(Response::new(GenerateDisposableTokenResponse {
            api_key,
            endpoint,
            valid_until: now_s + u64::from(expires.valid_for_seconds),
        }))
    }
}

impl TokenService {
    /// Token mode: see the module docs.
    #[allow(clippy::result_large_err)]
    fn generate_signed(
        &self,
        a: &ferrite_auth::Authenticator,
        request: Request<GenerateDisposableTokenRequest>,
        local: Option<SocketAddr>,
    ) -> Result<Response<GenerateDisposableTokenResponse>, Status> {
        let caller = if request.get_ref().auth_token.trim().is_empty() {
            super::authz::principal(&request)?
        } else {
            self.state
                .shared
                .auth
                .authenticate(&request.get_ref().auth_token)
                .map_err(super::authz::unauthenticated)?
        };
        ferrite_service::authz::check_super_user(&caller, "GenerateDisposableToken")
            .map_err(super::authz::denied)?;
        let req = request.into_inner();
        let Some(expires) = req.expires else {
            return Err(Status::invalid_argument(
                "expires is required: disposable tokens must expire",
            ));
        };
        let max = self.state.shared.auth.max_token_ttl_secs;
        let ttl = u64::from(expires.valid_for_seconds);
        if ttl == 0 || ttl > max {
            return Err(Status::invalid_argument(format!(
                "expires.valid_for_seconds must be between 1 and {max}"
            )));
        }
        let perms = permissions_from_proto(req.permissions).map_err(Status::invalid_argument)?;
        if req.token_id.len() > MAX_TOKEN_ID {
            return Err(Status::invalid_argument(format!(
                "token_id is longer than {MAX_TOKEN_ID} characters"
            )));
        }
        let token_id = (!req.token_id.is_empty()).then_some(req.token_id);
        let (api_key, claims) = a
            .issue(perms, ttl, token_id, ferrite_auth::now_secs())
            .map_err(Status::invalid_argument)?;
        let endpoint = local
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "localhost".into());
        Ok(Response::new(GenerateDisposableTokenResponse {
            api_key,
            endpoint,
            valid_until: claims.exp,
        }))
    }
}

/// Momento's permission messages → ours. Super-user, function permissions, missing or unknown
/// roles and selectors, and non-UTF-8 key selectors are INVALID_ARGUMENT.
pub fn permissions_from_proto(
    p: Option<momento_protos::permission_messages::Permissions>,
) -> Result<ferrite_auth::Permissions, String> {
    use ferrite_auth::{CacheGrant, CacheRole, Selector, TopicGrant, TopicRole};
    use momento_protos::permission_messages as pm;
    use pm::permissions_type::{
        cache_item_selector, cache_permissions, cache_selector, topic_permissions, topic_selector,
    };
    let kind = p.and_then(|p| p.kind).ok_or("permissions are required")?;
    let list = match kind {
        pm::permissions::Kind::SuperUser(_) => {
            return Err("a disposable token cannot be a super-user".into())
        }
        pm::permissions::Kind::Explicit(e) => e.permissions,
    };
    let cache_of = |c: Option<String>| -> Result<Option<String>, String> {
        match c {
            None => Ok(None),
            Some(n) if n.is_empty() => Err("cache name must not be empty".into()),
            Some(n) => Ok(Some(n)),
        }
    };
    let mut caches = Vec::new();
    let mut topics = Vec::new();
    for entry in list {
        match entry.kind.ok_or("empty permission entry")? {
            pm::permissions_type::Kind::CachePermissions(c) => {
                let role = match pm::CacheRole::try_from(c.role) {
                    Ok(pm::CacheRole::CacheReadWrite) => CacheRole::ReadWrite,
                    Ok(pm::CacheRole::CacheReadOnly) => CacheRole::ReadOnly,
                    Ok(pm::CacheRole::CacheWriteOnly) => CacheRole::WriteOnly,
                    _ => return Err(format!("unknown or missing cache role {}", c.role)),
                };
                let cache = match c.cache.ok_or("cache permission without a cache selector")? {
                    cache_permissions::Cache::AllCaches(_) => None,
                    cache_permissions::Cache::CacheSelector(s) => match s.kind {
                        Some(cache_selector::Kind::CacheName(n)) => Some(n),
                        None => return Err("empty cache selector".into()),
                    },
                };
                let utf8 = |b: Vec<u8>| {
                    String::from_utf8(b).map_err(|_| "key selectors must be UTF-8".to_string())
                };
                let items = match c.cache_item {
                    None | Some(cache_permissions::CacheItem::AllItems(_)) => Selector::All,
                    Some(cache_permissions::CacheItem::ItemSelector(s)) => match s.kind {
                        Some(cache_item_selector::Kind::Key(k)) => Selector::Exact(utf8(k)?),
                        Some(cache_item_selector::Kind::KeyPrefix(k)) => Selector::Prefix(utf8(k)?),
                        None => return Err("empty item selector".into()),
                    },
                };
                caches.push(CacheGrant {
                    role,
                    cache: cache_of(cache)?,
                    items,
                });
            }
            pm::permissions_type::Kind::TopicPermissions(t) => {
                let role = match pm::TopicRole::try_from(t.role) {
                    Ok(pm::TopicRole::TopicReadWrite) => TopicRole::PublishSubscribe,
                    Ok(pm::TopicRole::TopicReadOnly) => TopicRole::SubscribeOnly,
                    Ok(pm::TopicRole::TopicWriteOnly) => TopicRole::PublishOnly,
                    _ => return Err(format!("unknown or missing topic role {}", t.role)),
                };
                let cache = match t.cache.ok_or("topic permission without a cache selector")? {
                    topic_permissions::Cache::AllCaches(_) => None,
                    topic_permissions::Cache::CacheSelector(s) => match s.kind {
                        Some(cache_selector::Kind::CacheName(n)) => Some(n),
                        None => return Err("empty cache selector".into()),
                    },
                };
                let sel = match t.topic {
                    None | Some(topic_permissions::Topic::AllTopics(_)) => Selector::All,
                    Some(topic_permissions::Topic::TopicSelector(s)) => match s.kind {
                        Some(topic_selector::Kind::TopicName(n)) => Selector::Exact(n),
                        Some(topic_selector::Kind::TopicNamePrefix(n)) => Selector::Prefix(n),
                        None => return Err("empty topic selector".into()),
                    },
                };
                topics.push(TopicGrant {
                    role,
                    cache: cache_of(cache)?,
                    topics: sel,
                });
            }
            pm::permissions_type::Kind::FunctionPermissions(_) => {
                return Err("function permissions are not supported by Ferrite".into())
            }
        }
    }
    let perms = ferrite_auth::Permissions::Explicit { caches, topics };
    perms.validate().map_err(|e| e.to_string())?;
    Ok(perms)
}

/// `cache_client._PingRequest` (empty; `proto/cacheping.proto`).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct PingRequest {}

/// `cache_client._PingResponse` (empty).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct PingResponse {}

/// The `cache_client.Ping` service (the Go SDK's `CacheClient.Ping`), defined by hand because
/// momento-protos does not include it. One unary RPC, `/cache_client.Ping/Ping`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PingServer;

impl tonic::server::NamedService for PingServer {
    const NAME: &'static str = "cache_client.Ping";
}

struct PingSvc;

impl tonic::server::UnaryService<PingRequest> for PingSvc {
    type Response = PingResponse;
    type Future = BoxFuture<Response<PingResponse>, Status>;
    fn call(&mut self, _request: Request<PingRequest>) -> Self::Future {
        Box::pin(async { Ok(Response::new(PingResponse {})) })
    }
}

impl<B> Service<http::Request<B>> for PingServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() == "/cache_client.Ping/Ping" {
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(PingSvc, req).await)
            })
        } else {
            Box::pin(async move { Ok(Status::unimplemented("unknown method").into_http()) })
        }
    }
}
