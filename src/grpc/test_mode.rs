//! `--test-mode`: Momento Local's fault injection, so the SDKs' retry suites and users' own
//! tests can make calls fail or wait on purpose. A call's metadata says what to do:
//!
//! | metadata | meaning |
//! |---|---|
//! | `request-id` | the test session: the counts below are per id |
//! | `return-error` | a gRPC code in kebab case (`unavailable`, `internal`, `deadline-exceeded`, ...) to answer instead of serving |
//! | `error-rpcs` | space-separated RPCs it applies to (`get set topic-publish`; absent: every RPC) |
//! | `error-count` | only the first N matching calls of the session fail (absent: all) |
//! | `delay-ms` (`delay-millis`) / `delay-rpcs` / `delay-count` | wait before serving, likewise |
//! | `stream-error` / `stream-error-rpcs` / `stream-error-message-limit` | end a subscription with that error after N messages (`topics.rs`) |
//!
//! RPC names are the method's in kebab case (`sorted-set-get-rank`), with Momento Local's
//! exceptions: every SetIf* is `set-if`, Publish and Subscribe are `topic-publish` and
//! `topic-subscribe`. Off unless `server.test_mode` (refused on a non-loopback bind): the layer
//! is then one branch per call.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tonic::codegen::http;
use tonic::{Code, Status};

/// Sessions remembered at most (a test opens a handful; a runaway client cannot grow this).
const MAX_SESSIONS: usize = 10_000;

/// Per-session counts of matching calls, for `error-count` / `delay-count`.
#[derive(Default)]
pub struct Faults {
    seen: Mutex<HashMap<(String, &'static str), u64>>,
}

/// What one call is to suffer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Injection {
    pub delay: Option<Duration>,
    pub error: Option<Code>,
}

fn header<'h>(h: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The RPC's name as Momento Local spells it, from the gRPC path (`/pkg.Service/Method`).
pub fn rpc_name(path: &str) -> Option<String> {
    let method = path.rsplit('/').next().filter(|m| !m.is_empty())?;
    if method.starts_with("SetIf") {
        return Some("set-if".into());
    }
    match method {
        "Publish" => return Some("topic-publish".into()),
        "Subscribe" => return Some("topic-subscribe".into()),
        _ => {}
    }
    let mut out = String::with_capacity(method.len() + 4);
    for (i, c) in method.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// A gRPC code from its kebab-case name (Momento Local's `return-error` values).
pub fn code(name: &str) -> Option<Code> {
    Some(match name {
        "cancelled" => Code::Cancelled,
        "unknown" => Code::Unknown,
        "invalid-argument" => Code::InvalidArgument,
        "deadline-exceeded" => Code::DeadlineExceeded,
        "not-found" => Code::NotFound,
        "already-exists" => Code::AlreadyExists,
        "permission-denied" => Code::PermissionDenied,
        "resource-exhausted" => Code::ResourceExhausted,
        "failed-precondition" => Code::FailedPrecondition,
        "aborted" => Code::Aborted,
        "out-of-range" => Code::OutOfRange,
        "unimplemented" => Code::Unimplemented,
        "internal" => Code::Internal,
        "unavailable" | "connection-error" => Code::Unavailable,
        "data-loss" => Code::DataLoss,
        "unauthenticated" => Code::Unauthenticated,
        _ => return None,
    })
}

fn applies(h: &http::HeaderMap, list: &str, rpc: &str) -> bool {
    header(h, list).is_none_or(|l| l.split_whitespace().any(|r| r == rpc))
}

impl Faults {
    /// Whether this is call number ≤ `limit` of its session for `what` (counting it).
    fn within(&self, h: &http::HeaderMap, what: &'static str, limit: &str) -> bool {
        let session = header(h, "request-id").unwrap_or("").to_string();
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_SESSIONS && !seen.contains_key(&(session.clone(), what)) {
            seen.clear();
        }
        let n = seen.entry((session, what)).or_default();
        *n += 1;
        match header(h, limit).and_then(|v| v.parse::<u64>().ok()) {
            Some(max) => *n <= max,
            None => true,
        }
    }

    /// What the call at `path` with these headers is to suffer.
    pub fn decide(&self, h: &http::HeaderMap, path: &str) -> Injection {
        let Some(rpc) = rpc_name(path) else {
            return Injection::default();
        };
        let delay = header(h, "delay-ms")
            .or_else(|| header(h, "delay-millis"))
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|_| applies(h, "delay-rpcs", &rpc))
            .filter(|_| self.within(h, "delay", "delay-count"))
            .map(Duration::from_millis);
        let error = header(h, "return-error")
            .and_then(code)
            .filter(|_| applies(h, "error-rpcs", &rpc))
            .filter(|_| self.within(h, "error", "error-count"));
        Injection { delay, error }
    }
}

/// A subscription asked to end with an error: after this many messages, with this code.
pub fn stream_error(md: &tonic::metadata::MetadataMap) -> Option<(u64, Code)> {
    let h = md.clone().into_headers();
    let code = header(&h, "stream-error").and_then(code)?;
    if !applies(&h, "stream-error-rpcs", "topic-subscribe") {
        return None;
    }
    let limit = header(&h, "stream-error-message-limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((limit, code))
}

/// The status an injected error answers.
pub fn injected(code: Code) -> Status {
    Status::new(code, "injected by --test-mode (return-error)")
}

/// The layer: pass-through unless test mode is on.
#[derive(Clone)]
pub struct FaultLayer {
    pub faults: Option<Arc<Faults>>,
}

impl<S> tower::Layer<S> for FaultLayer {
    type Service = FaultService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            faults: self.faults.clone(),
        }
    }
}

#[derive(Clone)]
pub struct FaultService<S> {
    inner: S,
    faults: Option<Arc<Faults>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for FaultService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<S::Future, BoxFuture<Result<http::Response<R>, S::Error>>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Some(faults) = &self.faults else {
            return futures_util::future::Either::Left(self.inner.call(req));
        };
        let inj = faults.decide(req.headers(), req.uri().path());
        if inj == Injection::default() {
            return futures_util::future::Either::Left(self.inner.call(req));
        }
        // The ready service goes into the future; a clone takes its place (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        futures_util::future::Either::Right(Box::pin(async move {
            if let Some(d) = inj.delay {
                tokio::time::sleep(d).await;
            }
            match inj.error {
                Some(c) => Ok(injected(c).into_http::<R>()),
                None => inner.call(req).await,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_names_follow_momento_local() {
        assert_eq!(rpc_name("/cache_client.Scs/Get").as_deref(), Some("get"));
        assert_eq!(
            rpc_name("/cache_client.Scs/SortedSetGetRank").as_deref(),
            Some("sorted-set-get-rank")
        );
        assert_eq!(
            rpc_name("/cache_client.Scs/SetIfNotExists").as_deref(),
            Some("set-if")
        );
        assert_eq!(
            rpc_name("/cache_client.pubsub.Pubsub/Subscribe").as_deref(),
            Some("topic-subscribe")
        );
    }

    #[test]
    fn counts_are_per_session() {
        let f = Faults::default();
        let mut h = http::HeaderMap::new();
        h.insert("request-id", "a".parse().unwrap());
        h.insert("return-error", "unavailable".parse().unwrap());
        h.insert("error-rpcs", "get set".parse().unwrap());
        h.insert("error-count", "2".parse().unwrap());
        let get = "/cache_client.Scs/Get";
        assert_eq!(f.decide(&h, get).error, Some(Code::Unavailable));
        assert_eq!(f.decide(&h, "/cache_client.Scs/Delete").error, None);
        assert_eq!(f.decide(&h, get).error, Some(Code::Unavailable));
        assert_eq!(f.decide(&h, get).error, None);
        h.insert("request-id", "b".parse().unwrap());
        assert_eq!(f.decide(&h, get).error, Some(Code::Unavailable));
    }
}
