//! Authentication (development mode), `token.Token` and the hand-defined `cache_client.Ping`.
//!
//! Until the tenancy issue lands the gRPC front end runs in an explicit **development auth mode**:
//! every call is accepted whatever its `authorization` header says, including the empty token that
//! the SDKs' "Momento local" providers send. The start-up log says so loudly. `authorize` is the
//! single place a real check will plug in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use momento_protos::token::token_server::Token;
use momento_protos::token::{GenerateDisposableTokenRequest, GenerateDisposableTokenResponse};
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::{Request, Response, Status};

use super::GrpcState;

/// Prefix of the api keys GenerateDisposableToken hands out: `ferrite-dev.<hex token_id>.<random>`.
/// Publishes made with such a key carry the token id as `publisher_id`.
pub const DEV_KEY_PREFIX: &str = "ferrite-dev.";

/// Longest `token_id` the SDKs allow (R: utils.rs is_disposable_token_id_valid).
const MAX_TOKEN_ID: usize = 64;

pub fn log_development_mode(addr: Option<SocketAddr>) {
    tracing::warn!(
        addr = ?addr,
        "gRPC (Momento) API in DEVELOPMENT AUTH MODE: every token is accepted, including the empty one; \
         do not expose this port to untrusted networks"
    );
}

/// The auth interceptor: development mode accepts every request.
#[allow(clippy::result_large_err)]
pub fn authorize(req: Request<()>) -> Result<Request<()>, Status> {
    Ok(req)
}

/// `publisher_id` for a publish: the token id embedded in a key we minted, empty otherwise.
pub fn publisher_id(md: &tonic::metadata::MetadataMap) -> Option<Arc<str>> {
    let tok = md.get("authorization")?.to_str().ok()?;
    let rest = tok.strip_prefix(DEV_KEY_PREFIX)?;
    let hex = rest.split('.').next()?;
    let bytes = decode_hex(hex)?;
    let id = String::from_utf8(bytes).ok()?;
    (!id.is_empty()).then(|| Arc::from(id))
}

fn encode_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
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
        let api_key = format!(
            "{DEV_KEY_PREFIX}{}.{:032x}",
            encode_hex(req.token_id.as_bytes()),
            rand::random::<u128>()
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publisher_id_roundtrip() {
        let mut md = tonic::metadata::MetadataMap::new();
        let key = format!("{DEV_KEY_PREFIX}{}.{:032x}", encode_hex(b"user-7"), 5u128);
        md.insert("authorization", key.parse().unwrap());
        assert_eq!(publisher_id(&md).as_deref(), Some("user-7"));
        md.insert("authorization", "local-dev".parse().unwrap());
        assert_eq!(publisher_id(&md), None);
    }
}
