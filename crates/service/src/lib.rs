//! ferrite-service: the protocol-neutral service layer under every front end (RESP, Momento
//! gRPC, HTTP, and the callers still to come: functions, webhooks, cluster forwarding).
//!
//! The dependency direction is `front ends → service → engines`: this crate knows the engines
//! (`ferrite-storage`, `ferrite-topics`), tokens (`ferrite-auth`) and the configuration, and no
//! wire format (no tonic, axum or RESP types).
//!
//! - `admission.rs`: the caller (token → principal, tenant, publisher id) and THE admission
//!   sequence (permission → cache → quota) returning an [`Op`], whose `finish` is where a
//!   request is metered.
//! - `cache_ops/`: Momento's cache operations on an `Op`.
//! - `topic_ops.rs`: publish, and subscribe returning the [`Delivery`] every protocol drains.
//! - `limits.rs`: Momento's limits, one set of defaults.
//! - `error.rs`: [`ServiceError`], which each front end maps to its wire once.
//! - `authz.rs`: auth mode, token checks, permission checks (shared with RESP's command table).
//! - `tenant.rs`, `metering.rs`, `quota.rs`: who is metered and limited, the usage counters, the
//!   rate limits and quotas (docs/metering.md).
//! - `keyspace_events.rs`: Redis keyspace notifications, published from the engine's change
//!   feed to every protocol's subscribers (docs/topics.md, "Keyspace notifications").

pub mod admission;
pub mod authz;
pub mod cache_ops;
pub mod databases;
pub mod error;
pub mod exclusive;
pub mod keyspace_events;
pub mod limits;
pub mod metering;
pub mod quota;
pub mod tenant;
pub mod topic_ops;

use std::sync::{Arc, Weak};

use ferrite_storage::Store;
use ferrite_topics::Topics;

pub use admission::{Caller, Need, Op};
pub use authz::{Auth, Denied};
pub use error::ServiceError;
pub use limits::Limits;
pub use metering::{Counters, Metering};
pub use quota::{QuotaError, QuotaHandle, QuotaKind, Quotas};
pub use tenant::MeterKey;
pub use topic_ops::{Delivery, Render};

/// The engines and the rules every request goes through, whatever protocol it came on.
pub struct Service {
    pub store: Arc<Store>,
    pub topics: Topics,
    /// Auth mode, token verification, revocations.
    pub auth: Auth,
    /// Per-tenant usage figures.
    pub metering: Metering,
    /// Per-cache and per-token limits.
    pub quotas: Quotas,
    /// Momento's data limits.
    pub limits: Limits,
    /// Operations holding a whole cache (Lua scripts): the gate requests on it pass.
    pub exclusive: exclusive::ExclusiveRuns,
    /// Itself, for the subscriptions that outlive the request that opened them.
    me: Weak<Service>,
}

impl Service {
    pub fn new(
        store: Arc<Store>,
        topics: Topics,
        auth: Auth,
        metering: Metering,
        quotas: Quotas,
        limits: Limits,
    ) -> Arc<Service> {
        Arc::new_cyclic(|me| Service {
            store,
            topics,
            auth,
            metering,
            quotas,
            limits,
            exclusive: Default::default(),
            me: me.clone(),
        })
    }

    fn self_arc(&self) -> Arc<Service> {
        self.me
            .upgrade()
            .expect("a Service is only used while its Arc is alive")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A service with the default configuration (auth mode `none`).
    pub fn service() -> Arc<Service> {
        let clock: ferrite_storage::SharedClock = Arc::new(ferrite_storage::SystemClock);
        let store = Store::new(ferrite_storage::StoreConfig::default(), clock);
        let cfg = ferrite_config::Config::default();
        Service::new(
            store,
            Topics::new(ferrite_topics::TopicsConfig::default()),
            Auth::from_config(&cfg).expect("default auth"),
            Metering::new(16),
            Quotas::new(&cfg.quotas),
            Limits::default(),
        )
    }
}
