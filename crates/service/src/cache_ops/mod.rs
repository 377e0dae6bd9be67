//! Momento's cache operations on an admitted `Op`, one module per data type. Plain arguments
//! in, typed results out, `ServiceError` for every refusal: the gRPC handlers turn protobuf
//! into these calls, the HTTP API calls them from its routes.
//!
//! Collections (dictionary, list, set, sorted set) are still implemented in `src/grpc/collections*`
//! on top of `Op` and `Limits`; moving them here is the next step of issue 13 (ARCHITECTURE.md).

pub mod scalars;
