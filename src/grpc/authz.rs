//! gRPC side of authentication/authorization: the `authorization` header → [`Principal`] (an
//! interceptor on every service), and which cache permission each `cache_client.Scs` RPC needs.
//! The checks are `ferrite_service::authz`'s, shared with RESP and HTTP.
//!
//! - Interceptor: a non-empty `authorization` header must be a valid token (UNAUTHENTICATED
//!   otherwise); the principal travels in the request extensions. An empty or missing header
//!   leaves no principal, and every handler that needs one answers UNAUTHENTICATED — except
//!   GenerateDisposableToken, which the SDKs (JS) authenticate with the `auth_token` body field.
//! - PERMISSION_DENIED when the principal lacks the permission (no `err` trailer: every SDK maps
//!   the code itself to its permission error).

use std::sync::Arc;

use ferrite_auth::{AuthError, CacheAccess, Principal};
use ferrite_service::cache_ops::leaderboards::leaderboard_key;
use momento_protos::cache_client::*;
use momento_protos::leaderboard as lbp;
use tonic::{Request, Status};

use super::errors;
use crate::shared::Shared;
use ferrite_service::authz::{self, Denied};

/// The interceptor (see the module docs). In auth mode `none` every call gets an unrestricted
/// principal.
pub fn interceptor(
    shared: Arc<Shared>,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |mut req: Request<()>| {
        if !shared.auth.enforcing() {
            // This thread's unrestricted principal: no allocation, no shared count per call.
            req.extensions_mut()
                .insert(ferrite_service::admission::unrestricted_principal());
            return Ok(req);
        }
        let token = match req.metadata().get("authorization") {
            None => return Ok(req),
            Some(v) => v
                .to_str()
                .map_err(|_| unauthenticated(AuthError::Malformed))?,
        };
        if token.trim().is_empty() {
            return Ok(req);
        }
        let p = shared.auth.authenticate(token).map_err(unauthenticated)?;
        req.extensions_mut().insert(p);
        Ok(req)
    }
}

pub fn unauthenticated(e: AuthError) -> Status {
    Status::unauthenticated(format!("invalid token: {e}"))
}

pub fn denied(d: Denied) -> Status {
    Status::permission_denied(d.0)
}

/// The caller: UNAUTHENTICATED when the call carried no token.
#[allow(clippy::result_large_err)]
pub fn principal<T>(req: &Request<T>) -> Result<Principal, Status> {
    req.extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| unauthenticated(AuthError::Missing))
}

/// Control-plane calls: super-user only.
#[allow(clippy::result_large_err)]
pub fn require_super_user<T>(req: &Request<T>, what: &str) -> Result<Principal, Status> {
    let p = principal(req)?;
    authz::check_super_user(&p, what).map_err(denied)?;
    Ok(p)
}

/// The `cache` header's value: INVALID_ARGUMENT when missing or not ASCII.
#[allow(clippy::result_large_err)]
pub fn cache_header(md: &tonic::metadata::MetadataMap) -> Result<&str, Status> {
    let v = md.get("cache").ok_or_else(|| {
        errors::invalid("missing 'cache' header: data-plane calls name their cache in metadata")
    })?;
    v.to_str()
        .map_err(|_| errors::invalid("the 'cache' header must be ASCII"))
}

/// What a data-plane request needs: each access it makes, on which keys.
pub trait CacheOp {
    fn authorize(&self, p: &Principal, cache: &str) -> Result<(), Denied>;
}

macro_rules! cache_op {
    ($t:ty, [$($access:ident),+], |$r:ident| $keys:expr) => {
        impl CacheOp for $t {
            fn authorize(&self, p: &Principal, cache: &str) -> Result<(), Denied> {
                let $r = self;
                $(authz::check_cache_keys(p, cache, CacheAccess::$access, $keys)?;)+
                Ok(())
            }
        }
    };
}

fn one(k: &[u8]) -> std::iter::Once<&[u8]> {
    std::iter::once(k)
}

// Reads.
cache_op!(GetRequest, [Read], |r| one(&r.cache_key));
cache_op!(GetWithHashRequest, [Read], |r| one(&r.cache_key));
cache_op!(GetBatchRequest, [Read], |r| r
    .items
    .iter()
    .map(|i| &i.cache_key[..]));
cache_op!(KeysExistRequest, [Read], |r| r
    .cache_keys
    .iter()
    .map(|k| &k[..]));
cache_op!(ItemGetTtlRequest, [Read], |r| one(&r.cache_key));
cache_op!(ItemGetTypeRequest, [Read], |r| one(&r.cache_key));
cache_op!(DictionaryGetRequest, [Read], |r| one(&r.dictionary_name));
cache_op!(DictionaryFetchRequest, [Read], |r| one(&r.dictionary_name));
cache_op!(DictionaryLengthRequest, [Read], |r| one(&r.dictionary_name));
cache_op!(SetFetchRequest, [Read], |r| one(&r.set_name));
cache_op!(SetSampleRequest, [Read], |r| one(&r.set_name));
cache_op!(SetContainsRequest, [Read], |r| one(&r.set_name));
cache_op!(SetLengthRequest, [Read], |r| one(&r.set_name));
cache_op!(ListFetchRequest, [Read], |r| one(&r.list_name));
cache_op!(ListLengthRequest, [Read], |r| one(&r.list_name));
cache_op!(SortedSetFetchRequest, [Read], |r| one(&r.set_name));
cache_op!(SortedSetGetScoreRequest, [Read], |r| one(&r.set_name));
cache_op!(SortedSetGetRankRequest, [Read], |r| one(&r.set_name));
cache_op!(SortedSetLengthRequest, [Read], |r| one(&r.set_name));
cache_op!(SortedSetLengthByScoreRequest, [Read], |r| one(&r.set_name));

// Writes.
cache_op!(SetRequest, [Write], |r| one(&r.cache_key));
cache_op!(SetBatchRequest, [Write], |r| r
    .items
    .iter()
    .map(|i| &i.cache_key[..]));
cache_op!(DeleteRequest, [Write], |r| one(&r.cache_key));
cache_op!(UpdateTtlRequest, [Write], |r| one(&r.cache_key));
cache_op!(DictionarySetRequest, [Write], |r| one(&r.dictionary_name));
cache_op!(
    DictionaryDeleteRequest,
    [Write],
    |r| one(&r.dictionary_name)
);
cache_op!(SetUnionRequest, [Write], |r| one(&r.set_name));
cache_op!(SetDifferenceRequest, [Write], |r| one(&r.set_name));
cache_op!(ListPushFrontRequest, [Write], |r| one(&r.list_name));
cache_op!(ListPushBackRequest, [Write], |r| one(&r.list_name));
cache_op!(ListConcatenateFrontRequest, [Write], |r| one(&r.list_name));
cache_op!(ListConcatenateBackRequest, [Write], |r| one(&r.list_name));
cache_op!(ListEraseRequest, [Write], |r| one(&r.list_name));
cache_op!(ListRemoveRequest, [Write], |r| one(&r.list_name));
cache_op!(ListRetainRequest, [Write], |r| one(&r.list_name));
cache_op!(SortedSetPutRequest, [Write], |r| one(&r.set_name));
cache_op!(SortedSetRemoveRequest, [Write], |r| one(&r.set_name));

// Conditional writes (read-write roles only).
cache_op!(SetIfRequest, [ConditionalWrite], |r| one(&r.cache_key));
cache_op!(SetIfHashRequest, [ConditionalWrite], |r| one(&r.cache_key));
cache_op!(SetIfNotExistsRequest, [ConditionalWrite], |r| one(
    &r.cache_key
));

// Writes that return what is stored: read and write.
cache_op!(IncrementRequest, [Read, Write], |r| one(&r.cache_key));
cache_op!(DictionaryIncrementRequest, [Read, Write], |r| one(
    &r.dictionary_name
));
cache_op!(SortedSetIncrementRequest, [Read, Write], |r| one(
    &r.set_name
));
cache_op!(SetPopRequest, [Read, Write], |r| one(&r.set_name));
cache_op!(ListPopFrontRequest, [Read, Write], |r| one(&r.list_name));
cache_op!(ListPopBackRequest, [Read, Write], |r| one(&r.list_name));

impl CacheOp for SortedSetUnionStoreRequest {
    fn authorize(&self, p: &Principal, cache: &str) -> Result<(), Denied> {
        authz::check_cache_keys(p, cache, CacheAccess::Write, one(&self.set_name))?;
        authz::check_cache_keys(
            p,
            cache,
            CacheAccess::Read,
            self.sources.iter().map(|s| &s.set_name[..]),
        )
    }
}

/// Leaderboards: the caller's permissions on the key the leaderboard is stored at
/// (`leaderboard:<name>`), so a token reaches a leaderboard exactly when RESP would let it read
/// or write that sorted set.
macro_rules! leaderboard_op {
    ($t:ty, [$($access:ident),+]) => {
        impl CacheOp for $t {
            fn authorize(&self, p: &Principal, cache: &str) -> Result<(), Denied> {
                let key = leaderboard_key(&self.leaderboard);
                $(authz::check_cache_keys(p, cache, CacheAccess::$access, one(&key))?;)+
                Ok(())
            }
        }
    };
}

leaderboard_op!(lbp::GetLeaderboardLengthRequest, [Read]);
leaderboard_op!(lbp::GetByRankRequest, [Read]);
leaderboard_op!(lbp::GetRankRequest, [Read]);
leaderboard_op!(lbp::GetByScoreRequest, [Read]);
leaderboard_op!(lbp::GetCompetitionRankRequest, [Read]);
leaderboard_op!(lbp::UpsertElementsRequest, [Write]);
leaderboard_op!(lbp::RemoveElementsRequest, [Write]);
leaderboard_op!(lbp::DeleteLeaderboardRequest, [Write]);

/// Calls that may arrive without an `authorization` header in auth mode `token`:
/// GenerateDisposableToken (the JS SDK authenticates it with a body field; its messages are
/// capped small, see `grpc::serve`) and the Go SDK's Ping.
const NO_HEADER_PATHS: [&str; 2] = [
    "/token.Token/GenerateDisposableToken",
    "/cache_client.Ping/Ping",
];

/// Refuses, from the headers alone, a call in auth mode `token` that carries no token (no or an
/// empty `authorization` header), before its message is read or decoded: an unauthenticated
/// client used to get its UNAUTHENTICATED only after the handler had buffered and decoded the
/// whole message (40 streams of 15 MiB on one connection: 613 MB). Invalid tokens are refused
/// by [`interceptor`], also before the body. Costs nothing in auth mode `none` but one branch.
#[derive(Clone)]
pub struct AuthGateLayer {
    pub enforcing: bool,
}

impl<S> tower::Layer<S> for AuthGateLayer {
    type Service = AuthGate<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthGate {
            inner,
            enforcing: self.enforcing,
        }
    }
}

#[derive(Clone)]
pub struct AuthGate<S> {
    inner: S,
    enforcing: bool,
}

impl<S, B, R> tower::Service<http::Request<B>> for AuthGate<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<S::Future, std::future::Ready<Result<S::Response, S::Error>>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if self.enforcing && !has_token(&req) && !NO_HEADER_PATHS.contains(&req.uri().path()) {
            let refused = unauthenticated(AuthError::Missing).into_http::<R>();
            return futures_util::future::Either::Right(std::future::ready(Ok(refused)));
        }
        futures_util::future::Either::Left(self.inner.call(req))
    }
}

fn has_token<B>(req: &http::Request<B>) -> bool {
    req.headers()
        .get("authorization")
        .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty())
}
