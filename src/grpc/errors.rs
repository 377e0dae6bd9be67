//! gRPC statuses the Momento SDKs understand (reference §1.7).
//!
//! Detail the SDKs map to their own error codes travels in the `err` metadata entry, which tonic
//! sends as a trailer (or in the headers of a trailers-only response): both are read by every SDK.

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use ferrite_service::error::cause;
use ferrite_service::ServiceError;
use ferrite_topics::TopicsError;

/// `err` for a value (key + value) over the item size limit.
pub const ERR_ITEM_SIZE: &str = cause::ITEM_SIZE;
/// `err` for a collection element over the element size limit.
pub const ERR_ELEMENT_SIZE: &str = cause::ELEMENT_SIZE;
/// `err` for a request over a size limit that is not an item (topic publish payload).
pub const ERR_REQUEST_SIZE: &str = cause::REQUEST_SIZE;
/// `err` when a topic has no room for another subscriber.
pub const ERR_SUBSCRIPTIONS: &str = cause::SUBSCRIPTIONS;
/// `err` for a request refused by a bytes-per-second limit (and a data-volume quota).
pub const ERR_THROUGHPUT: &str = cause::THROUGHPUT;

/// THE mapping of a service refusal to gRPC: the code each Momento SDK expects and, for limits,
/// the `err` cause it maps to its own error (reference §1.7).
pub fn status(e: ServiceError) -> Status {
    match e {
        ServiceError::Unauthenticated(a) => Status::unauthenticated(format!("invalid token: {a}")),
        // No `err`: every SDK maps the code itself to its permission error.
        ServiceError::Denied(d) => Status::permission_denied(d.0),
        ServiceError::CacheNotFound(name) => cache_not_found(&name),
        ServiceError::InvalidArgument(m) => invalid(m),
        e @ (ServiceError::InvalidTtl { .. } | ServiceError::InvalidTopicName { .. }) => {
            invalid(e.to_string())
        }
        e @ (ServiceError::ItemTooLarge { .. }
        | ServiceError::ElementTooLarge { .. }
        | ServiceError::MessageTooLarge { .. }) => {
            let err = e.cause().expect("size limits have a cause");
            limit(err, e.to_string())
        }
        e @ ServiceError::WrongType(_) => Status::failed_precondition(e.to_string()),
        ServiceError::FailedPrecondition(m) => Status::failed_precondition(m),
        ServiceError::OutOfMemory => out_of_memory(),
        e @ ServiceError::Busy => Status::unavailable(e.to_string()),
        ServiceError::Quota(q) => quota(q),
        ServiceError::Topics(t) => topics(t),
    }
}

/// A topics-engine limit.
fn topics(e: TopicsError) -> Status {
    match e {
        TopicsError::MessageTooLarge { .. } => limit(ERR_REQUEST_SIZE, e.to_string()),
        TopicsError::TooManySubscribers { .. } => limit(ERR_SUBSCRIPTIONS, e.to_string()),
        TopicsError::TooManyTopics { .. } | TopicsError::TooManyPatterns { .. } => {
            Status::resource_exhausted(e.to_string())
        }
        TopicsError::OutOfMemory => out_of_memory(),
    }
}

/// RESOURCE_EXHAUSTED for a quota refusal, with the `err` cause the SDKs map and a
/// `retry-after-ms` entry saying when a retry can succeed.
pub fn quota(e: ferrite_service::QuotaError) -> Status {
    let err = e.kind.cause();
    let mut md = MetadataMap::new();
    md.insert("err", MetadataValue::from_static(err));
    let ms = e.retry_after.as_millis().max(1).to_string();
    if let Ok(v) = ms.parse() {
        md.insert("retry-after-ms", v);
    }
    Status::with_metadata(Code::ResourceExhausted, e.to_string(), md)
}

/// A status with the `err` metadata entry set.
pub fn with_err(code: Code, message: impl Into<String>, err: &'static str) -> Status {
    let mut md = MetadataMap::new();
    md.insert("err", MetadataValue::from_static(err));
    Status::with_metadata(code, message, md)
}

/// RESOURCE_EXHAUSTED with the `err` cause the SDKs turn into LimitExceeded.
pub fn limit(err: &'static str, message: impl Into<String>) -> Status {
    with_err(Code::ResourceExhausted, message, err)
}

/// RESOURCE_EXHAUSTED `request_size_limit_exceeded`: the request itself is over the size limit.
pub fn request_too_large(size: usize, max: usize) -> Status {
    limit(
        ERR_REQUEST_SIZE,
        format!("request of {size} bytes exceeds the request size limit of {max} bytes"),
    )
}

/// NOT_FOUND without `err`: the SDKs' "cache not found".
pub fn cache_not_found(name: &str) -> Status {
    Status::not_found(format!("cache not found: {name}"))
}

pub fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}

/// The engine's memory budget is exhausted and eviction could not make room (noeviction).
pub fn out_of_memory() -> Status {
    Status::resource_exhausted(ServiceError::OutOfMemory.to_string())
}

pub fn unimplemented(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not implemented by Ferrite"))
}

pub use ferrite_service::error::momento_type_name;
