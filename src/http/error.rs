//! HTTP errors: a status code plus a JSON body `{"error": "<code>", "message": "<text>"}`.
//!
//! The status codes follow Momento's HTTP API (reference §6): 400 bad arguments, 401/403 auth,
//! 404 missing cache or key (told apart by `error`), 413 too large, 429 limits, 500 otherwise.
//! Engine answers arrive as the gRPC front end's `tonic::Status` (the HTTP API reuses its scalar
//! handlers so both APIs enforce one set of rules); [`ApiError::from_status`] translates them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrite_topics::TopicsError;
use tonic::Code;

use crate::grpc::errors as grpc_errors;

/// An HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Machine-readable cause (`cache_not_found`, `item_size_limit_exceeded`, ...).
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429 answers of a quota or rate limit).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A quota or rate limit refused the request: 429 with `Retry-After` and the same cause
    /// code as gRPC's `err` trailer (`operations_rate_limit_exceeded`,
    /// `throughput_rate_limit_exceeded`; a data-volume quota is a throughput limit there too).
    pub fn quota(e: &ferrite_service::QuotaError) -> Self {
        use ferrite_service::QuotaKind;
        let code = match e.kind {
            QuotaKind::OperationsRate => grpc_errors::ERR_OPS_RATE,
            QuotaKind::ThroughputRate | QuotaKind::DataVolume => grpc_errors::ERR_THROUGHPUT,
        };
        let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, code, e.to_string());
        err.retry_after = Some(e.retry_after_secs());
        err
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn cache_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "cache_not_found",
            format!("cache not found: {name}"),
        )
    }

    pub fn key_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "key_not_found", "key not found")
    }

    pub fn payload_too_large(max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds the limit of {max} bytes"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Translate the gRPC front end's status (and its `err` detail) into the HTTP API's answer.
    pub fn from_status(s: &tonic::Status) -> Self {
        let err = s.metadata().get("err").and_then(|v| v.to_str().ok());
        let (status, code) = match (s.code(), err) {
            (Code::InvalidArgument, _) => (StatusCode::BAD_REQUEST, "bad_request"),
            // NOT_FOUND without `err` is "cache not found" (the only NOT_FOUND scalars give).
            (Code::NotFound, _) => (StatusCode::NOT_FOUND, "cache_not_found"),
            (Code::ResourceExhausted, Some(grpc_errors::ERR_ITEM_SIZE)) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "item_size_limit_exceeded")
            }
            (Code::ResourceExhausted, Some(grpc_errors::ERR_REQUEST_SIZE)) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "request_size_limit_exceeded")
            }
            (Code::ResourceExhausted, Some(grpc_errors::ERR_SUBSCRIPTIONS)) => (
                StatusCode::TOO_MANY_REQUESTS,
                "topic_subscriptions_limit_exceeded",
            ),
            // Out of memory under noeviction, other limits.
            (Code::ResourceExhausted, _) => (StatusCode::TOO_MANY_REQUESTS, "limit_exceeded"),
            // Wrong type (the key holds a hash, list, ...): the request conflicts with the item.
            (Code::FailedPrecondition, _) => (StatusCode::CONFLICT, "failed_precondition"),
            (Code::Unauthenticated, _) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            (Code::PermissionDenied, _) => (StatusCode::FORBIDDEN, "permission_denied"),
            (Code::Unavailable, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (Code::Unimplemented, _) => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, code, s.message())
    }

    /// A topics-engine limit.
    pub fn from_topics(e: &TopicsError) -> Self {
        match e {
            TopicsError::MessageTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_size_limit_exceeded",
                e.to_string(),
            ),
            TopicsError::TooManySubscribers { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "topic_subscriptions_limit_exceeded",
                e.to_string(),
            ),
            TopicsError::TooManyTopics { .. } | TopicsError::TooManyPatterns { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "limit_exceeded",
                e.to_string(),
            ),
            // The same answer a cache write gets when maxmemory is reached.
            TopicsError::OutOfMemory => Self::from_status(&grpc_errors::out_of_memory()),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.code, "message": self.message }).to_string()
    }
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> Self {
        Self::from_status(&s)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        let s = grpc_errors::limit(grpc_errors::ERR_ITEM_SIZE, "too big");
        let e = ApiError::from_status(&s);
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.code, "item_size_limit_exceeded");
        assert_eq!(e.message, "too big");
        let e = ApiError::from_status(&grpc_errors::cache_not_found("c"));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::NOT_FOUND, "cache_not_found")
        );
        let e = ApiError::from_status(&grpc_errors::out_of_memory());
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let e = ApiError::from_status(&tonic::Status::invalid_argument("bad ttl"));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(body["error"], "bad_request");
        assert_eq!(body["message"], "bad ttl");
    }

    #[test]
    fn quota_errors_are_429_with_retry_after() {
        use ferrite_service::quota::QuotaScope;
        use ferrite_service::{QuotaError, QuotaKind};
        use std::time::Duration;
        let q = |kind, ms| QuotaError {
            kind,
            scope: QuotaScope::Token,
            name: "t".into(),
            limit: 3,
            period: Duration::from_secs(60),
            retry_after: Duration::from_millis(ms),
        };
        for (kind, ms, code, secs) in [
            (
                QuotaKind::OperationsRate,
                340,
                "operations_rate_limit_exceeded",
                "1",
            ),
            (
                QuotaKind::ThroughputRate,
                2001,
                "throughput_rate_limit_exceeded",
                "3",
            ),
            (
                QuotaKind::DataVolume,
                1000,
                "throughput_rate_limit_exceeded",
                "1",
            ),
        ] {
            let e = ApiError::quota(&q(kind, ms));
            assert_eq!((e.status, e.code), (StatusCode::TOO_MANY_REQUESTS, code));
            let resp = e.into_response();
            assert_eq!(resp.headers()[header::RETRY_AFTER], secs);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        }
        // Other errors carry no Retry-After.
        let resp = ApiError::bad_request("x").into_response();
        assert!(resp.headers().get(header::RETRY_AFTER).is_none());
    }
}
