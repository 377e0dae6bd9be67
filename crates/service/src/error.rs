//! The one error every service call returns. Each front end maps it to its wire once:
//! `src/grpc/errors.rs` (`status`: gRPC code + the `err` metadata the Momento SDKs read),
//! `src/http/error.rs` (`From<ServiceError> for ApiError`: status + JSON body), and RESP
//! (`-NOAUTH`, `-NOPERM`, `-ERR`, `-OOM`) where it uses the service.
//!
//! Variants carry the facts (sizes, limits, the kind held), not wire text: where the protocols
//! word a refusal differently (a TTL in milliseconds for gRPC, in seconds for HTTP), each front
//! end writes its own message from the same facts.

use ferrite_auth::AuthError;
use ferrite_storage::ValueKind;
use ferrite_topics::TopicsError;

use crate::authz::Denied;
use crate::quota::QuotaError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// No token, or one that is not valid now (malformed, tampered, expired, revoked).
    #[error("invalid token: {0}")]
    Unauthenticated(AuthError),
    /// A valid token without the permission the request needs.
    #[error("{0}")]
    Denied(Denied),
    #[error("cache not found: {0}")]
    CacheNotFound(String),
    /// A malformed request (missing field, empty name, bad range...).
    #[error("{0}")]
    InvalidArgument(String),
    /// A write's TTL is 0 or above `Limits::max_ttl_ms`.
    #[error("{}", ttl_message(*ttl_ms, *max_ms))]
    InvalidTtl { ttl_ms: u64, max_ms: u64 },
    /// A topic name that is empty or longer than `Limits::max_topic_name_bytes`.
    #[error("{}", topic_name_message(*len, *max))]
    InvalidTopicName { len: usize, max: usize },
    /// Key + value over `Limits::max_item_bytes`.
    #[error("item size limit exceeded: {size} bytes, the limit is {max} bytes")]
    ItemTooLarge { size: usize, max: usize },
    /// A collection element over `Limits::max_element_bytes`.
    #[error("element size limit exceeded: {size} bytes, the limit is {max} bytes")]
    ElementTooLarge { size: usize, max: usize },
    /// A topic message over `Limits::max_publish_bytes`.
    #[error(
        "request limit exceeded: message of {size} bytes, the topic message limit is {max} bytes"
    )]
    MessageTooLarge { size: usize, max: usize },
    /// The key holds another type than the operation works on.
    #[error("wrong type: the item is a {} (Momento {})", .0.name(), momento_type_name(*.0))]
    WrongType(ValueKind),
    /// The item's value does not allow the operation (a non-integer for Increment, an overflow).
    #[error("{0}")]
    FailedPrecondition(String),
    /// maxmemory is reached and eviction cannot free enough (noeviction).
    #[error("out of memory: the server's maxmemory is reached and eviction cannot free enough")]
    OutOfMemory,
    /// A rate limit or data-volume quota refused the operation.
    #[error("{0}")]
    Quota(QuotaError),
    /// A script has held the cache longer than its busy threshold (Redis's BUSY).
    #[error("busy: a script has been running on this cache longer than busy-reply-threshold; retry later")]
    Busy,
    /// A topics-engine limit (subscribers per topic, topics per cache, message size, memory).
    #[error("{0}")]
    Topics(TopicsError),
}

/// Momento's error causes: the gRPC `err` metadata value the SDKs map to their error codes, and
/// the HTTP API's `error` field for the same refusals.
pub mod cause {
    /// A value (key + value) over the item size limit.
    pub const ITEM_SIZE: &str = "item_size_limit_exceeded";
    /// A collection element over the element size limit.
    pub const ELEMENT_SIZE: &str = "element_size_limit_exceeded";
    /// A request over a size limit that is not an item (topic publish payload).
    pub const REQUEST_SIZE: &str = "request_size_limit_exceeded";
    /// A topic has no room for another subscriber.
    pub const SUBSCRIPTIONS: &str = "topic_subscriptions_limit_exceeded";
    /// Refused by an operations-per-second limit.
    pub const OPS_RATE: &str = "operations_rate_limit_exceeded";
    /// Refused by a bytes-per-second limit or a data-volume quota (the SDKs have no volume
    /// cause; throughput is the closest: both limit bytes moved).
    pub const THROUGHPUT: &str = "throughput_rate_limit_exceeded";
}

impl ServiceError {
    /// Momento's cause for a limit refusal (see [`cause`]); None for other errors.
    pub fn cause(&self) -> Option<&'static str> {
        Some(match self {
            ServiceError::ItemTooLarge { .. } => cause::ITEM_SIZE,
            ServiceError::ElementTooLarge { .. } => cause::ELEMENT_SIZE,
            ServiceError::MessageTooLarge { .. } => cause::REQUEST_SIZE,
            ServiceError::Topics(TopicsError::MessageTooLarge { .. }) => cause::REQUEST_SIZE,
            ServiceError::Topics(TopicsError::TooManySubscribers { .. }) => cause::SUBSCRIPTIONS,
            ServiceError::Quota(q) => q.kind.cause(),
            _ => return None,
        })
    }
}

fn ttl_message(ttl_ms: u64, max_ms: u64) -> String {
    if ttl_ms == 0 {
        "ttl_milliseconds must be greater than 0".to_string()
    } else {
        format!("ttl of {ttl_ms} ms exceeds the maximum TTL of {max_ms} ms")
    }
}

fn topic_name_message(len: usize, max: usize) -> String {
    if len == 0 {
        "topic name must not be empty".to_string()
    } else {
        format!("topic name is longer than {max} bytes")
    }
}

impl From<QuotaError> for ServiceError {
    fn from(e: QuotaError) -> Self {
        ServiceError::Quota(e)
    }
}

impl From<Denied> for ServiceError {
    fn from(d: Denied) -> Self {
        ServiceError::Denied(d)
    }
}

impl From<AuthError> for ServiceError {
    fn from(e: AuthError) -> Self {
        ServiceError::Unauthenticated(e)
    }
}

impl From<TopicsError> for ServiceError {
    fn from(e: TopicsError) -> Self {
        match e {
            TopicsError::OutOfMemory => ServiceError::OutOfMemory,
            e => ServiceError::Topics(e),
        }
    }
}

/// Momento's name for a storage kind.
pub fn momento_type_name(k: ValueKind) -> &'static str {
    match k {
        ValueKind::String => "scalar",
        ValueKind::Hash => "dictionary",
        ValueKind::List => "list",
        ValueKind::Set => "set",
        ValueKind::ZSet => "sorted set",
        // Momento has no stream type: its operations see a stream as another type.
        ValueKind::Stream => "stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_the_wording_clients_have_seen() {
        let ttl0 = ServiceError::InvalidTtl {
            ttl_ms: 0,
            max_ms: 10,
        };
        assert_eq!(ttl0.to_string(), "ttl_milliseconds must be greater than 0");
        let ttl = ServiceError::InvalidTtl {
            ttl_ms: 11,
            max_ms: 10,
        };
        assert_eq!(
            ttl.to_string(),
            "ttl of 11 ms exceeds the maximum TTL of 10 ms"
        );
        assert_eq!(
            ServiceError::WrongType(ValueKind::Hash).to_string(),
            "wrong type: the item is a hash (Momento dictionary)"
        );
        assert!(matches!(
            ServiceError::from(TopicsError::OutOfMemory),
            ServiceError::OutOfMemory
        ));
    }
}
