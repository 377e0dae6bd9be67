//! gRPC statuses the Momento SDKs understand (reference §1.7).
//!
//! Detail the SDKs map to their own error codes travels in the `err` metadata entry, which tonic
//! sends as a trailer (or in the headers of a trailers-only response): both are read by every SDK.

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

/// `err` for a value (key + value) over the item size limit.
pub const ERR_ITEM_SIZE: &str = "item_size_limit_exceeded";
/// `err` for a collection element over the element size limit.
pub const ERR_ELEMENT_SIZE: &str = "element_size_limit_exceeded";
/// `err` for a request over a size limit that is not an item (topic publish payload).
pub const ERR_REQUEST_SIZE: &str = "request_size_limit_exceeded";
/// `err` when a topic has no room for another subscriber.
pub const ERR_SUBSCRIPTIONS: &str = "topic_subscriptions_limit_exceeded";

/// `err` for a request refused by an operations-per-second limit.
pub const ERR_OPS_RATE: &str = "operations_rate_limit_exceeded";
/// `err` for a request refused by a bytes-per-second limit, and by a data-volume quota (the
/// SDKs have no volume cause; throughput is the closest: both limit bytes moved).
pub const ERR_THROUGHPUT: &str = "throughput_rate_limit_exceeded";

/// RESOURCE_EXHAUSTED for a quota refusal, with the `err` cause the SDKs map and a
/// `retry-after-ms` entry saying when a retry can succeed.
pub fn quota(e: ferrite_service::QuotaError) -> Status {
    use ferrite_service::QuotaKind;
    let err = match e.kind {
        QuotaKind::OperationsRate => ERR_OPS_RATE,
        QuotaKind::ThroughputRate | QuotaKind::DataVolume => ERR_THROUGHPUT,
    };
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

/// NOT_FOUND without `err`: the SDKs' "cache not found".
pub fn cache_not_found(name: &str) -> Status {
    Status::not_found(format!("cache not found: {name}"))
}

pub fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}

/// Operation against a key that holds another type (our decision: FAILED_PRECONDITION, see docs/grpc.md).
pub fn wrong_type(holds: ferrite_storage::ValueKind) -> Status {
    Status::failed_precondition(format!(
        "wrong type: the item is a {} (Momento {})",
        holds.name(),
        momento_type_name(holds)
    ))
}

/// The engine's memory budget is exhausted and eviction could not make room (noeviction).
pub fn out_of_memory() -> Status {
    Status::resource_exhausted(
        "out of memory: the server's maxmemory is reached and eviction cannot free enough",
    )
}

pub fn unimplemented(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not implemented by Ferrite"))
}

/// Momento's name for a storage kind.
pub fn momento_type_name(k: ferrite_storage::ValueKind) -> &'static str {
    use ferrite_storage::ValueKind::*;
    match k {
        String => "scalar",
        Hash => "dictionary",
        List => "list",
        Set => "set",
        ZSet => "sorted set",
    }
}
