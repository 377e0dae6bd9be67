//! State shared by every connection and front end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferrite_config::Config;
use ferrite_storage::Store;
use parking_lot::RwLock;
use tokio::sync::watch;

use crate::resp::client::ClientRegistry;
use crate::resp::waiters::KeyWaiters;

/// Process-wide counters for INFO stats (relaxed atomics: incremented once per connection or
/// per batch of commands, not per command).
#[derive(Default)]
pub struct ServerStats {
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub output_limit_disconnects: AtomicU64,
}

impl ServerStats {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn reset(&self) {
        for c in [
            &self.total_connections,
            &self.rejected_connections,
            &self.total_commands,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.protocol_errors,
            &self.output_limit_disconnects,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

pub struct Shared {
    pub store: Arc<Store>,
    pub topics: ferrite_topics::Topics,
    /// Effective configuration; CONFIG SET updates the settings that can change at run time.
    pub config: RwLock<Config>,
    pub clients: ClientRegistry,
    pub waiters: KeyWaiters,
    pub stats: ServerStats,
    pub started_ms: u64,
    pub run_id: String,
    /// Flipped to true to ask the whole server to shut down (SIGTERM, SHUTDOWN).
    pub shutdown: watch::Sender<bool>,
    pub resp_addr: RwLock<Option<std::net::SocketAddr>>,
    /// Per-tenant usage figures (service/metering.rs).
    pub metering: crate::service::Metering,
    /// Per-cache and per-token limits (service/quota.rs).
    pub quotas: crate::service::Quotas,
    /// Auth mode, token verification, revocations (src/authz.rs).
    pub auth: crate::authz::Auth,
    /// Unparsed RESP input buffered across all connections (`limits.resp_input_budget`).
    pub resp_input: crate::resp::inflight::InputBudget,
}

impl Shared {
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}
