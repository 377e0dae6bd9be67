//! The protocol-neutral service layer: rules every front end (RESP, gRPC, later HTTP) applies the
//! same way, one module per job.
//!
//! - `tenant.rs`: who a request is metered and limited as (token id + cache name).
//! - `metering.rs`: per-tenant usage counters (per-thread shards, exact snapshots, bounded keys)
//!   and their Prometheus / JSON renderings.
//! - `quota.rs`: per-cache and per-token rate limits and data-volume quotas, and the one
//!   decision type (`QuotaError`) every protocol turns into its own error.
//!
//! - `keyspace_events.rs`: Redis keyspace notifications, published from the engine's change
//!   feed to every protocol's subscribers (docs/topics.md, "Keyspace notifications").
//!
//! See docs/metering.md.

pub mod keyspace_events;
pub mod metering;
pub mod quota;
pub mod tenant;

pub use metering::{Counters, Metering};
pub use quota::{QuotaError, QuotaHandle, QuotaKind, Quotas};
pub use tenant::MeterKey;
