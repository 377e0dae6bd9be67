//! HTTP errors: a status code plus a JSON body `{"error": "<code>", "message": "<text>"}`.
//!
//! The status codes follow Momento's HTTP API (reference §6): 400 bad arguments, 401/403 auth,
//! 404 missing cache or key (told apart by `error`), 413 too large, 429 limits, 500 otherwise.
//! Service refusals (`ferrite_service::ServiceError`, the same ones gRPC maps to its statuses)
//! are translated in ONE place, `From<ServiceError> for ApiError`; the `error` causes of limit
//! refusals are Momento's, the same strings as gRPC's `err` trailer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrite_service::error::cause;
use ferrite_service::ServiceError;
use ferrite_topics::TopicsError;

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
        let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, e.kind.cause(), e.to_string());
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

    /// A topics-engine limit.
    pub fn from_topics(e: &TopicsError) -> Self {
        match e {
            TopicsError::MessageTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                cause::REQUEST_SIZE,
                e.to_string(),
            ),
            TopicsError::TooManySubscribers { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                cause::SUBSCRIPTIONS,
                e.to_string(),
            ),
            TopicsError::TooManyTopics { .. } | TopicsError::TooManyPatterns { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "limit_exceeded",
                e.to_string(),
            ),
            // The same answer a cache write gets when maxmemory is reached.
            TopicsError::OutOfMemory => ServiceError::OutOfMemory.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.code, "message": self.message }).to_string()
    }
}

/// THE mapping of a service refusal to the HTTP API (reference §6): 400 bad arguments, 401/403
/// auth, 404 missing cache, 409 wrong type, 413 too large, 429 limits.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let message = e.to_string();
        match e {
            ServiceError::Unauthenticated(_) => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            }
            ServiceError::Denied(d) => Self::new(StatusCode::FORBIDDEN, "permission_denied", d.0),
            ServiceError::CacheNotFound(name) => Self::cache_not_found(&name),
            ServiceError::InvalidArgument(_) | ServiceError::InvalidTopicName { .. } => {
                Self::bad_request(message)
            }
            // HTTP speaks TTLs in seconds (`ttl_seconds`).
            ServiceError::InvalidTtl { ttl_ms: 0, .. } => {
                Self::bad_request("ttl_seconds must be greater than 0")
            }
            ServiceError::InvalidTtl { ttl_ms, max_ms } => Self::bad_request(format!(
                "ttl_seconds of {} exceeds the maximum TTL of {} seconds",
                ttl_ms / 1000,
                max_ms / 1000
            )),
            ServiceError::ItemTooLarge { .. } | ServiceError::ElementTooLarge { .. } => {
                let code = e.cause().expect("size limits have a cause");
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
            }
            ServiceError::MessageTooLarge { size, max } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                cause::REQUEST_SIZE,
                format!("message of {size} bytes exceeds the topic message limit of {max} bytes"),
            ),
            // The key holds a hash, list, ...: the request conflicts with the item.
            ServiceError::WrongType(_) | ServiceError::FailedPrecondition(_) => {
                Self::new(StatusCode::CONFLICT, "failed_precondition", message)
            }
            ServiceError::OutOfMemory => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "limit_exceeded", message)
            }
            e @ ServiceError::Busy => {
                let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string());
                err.retry_after = Some(1);
                err
            }
            ServiceError::Quota(q) => Self::quota(&q),
            ServiceError::Topics(t) => Self::from_topics(&t),
        }
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
    fn service_error_mapping() {
        let e = ApiError::from(ServiceError::ItemTooLarge { size: 9, max: 8 });
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.code, "item_size_limit_exceeded");
        assert_eq!(
            e.message,
            "item size limit exceeded: 9 bytes, the limit is 8 bytes"
        );
        let e = ApiError::from(ServiceError::CacheNotFound("c".into()));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::NOT_FOUND, "cache_not_found")
        );
        let e = ApiError::from(ServiceError::OutOfMemory);
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let e = ApiError::from(ServiceError::InvalidTtl {
            ttl_ms: 7_000,
            max_ms: 5_000,
        });
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(body["error"], "bad_request");
        assert_eq!(
            body["message"],
            "ttl_seconds of 7 exceeds the maximum TTL of 5 seconds"
        );
        let e = ApiError::from(ServiceError::WrongType(ferrite_storage::ValueKind::List));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::CONFLICT, "failed_precondition")
        );
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
