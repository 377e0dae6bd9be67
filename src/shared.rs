//! State shared by every connection and front end.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use ferrite_config::Config;
use ferrite_service::Service;
use ferrite_storage::{MemoryBudget, Store};
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
    /// Bytes queued MULTI commands hold, charged to the memory budget (part of `used_memory`).
    /// Signed: charges and releases race.
    pub multi_queued: std::sync::atomic::AtomicI64,
    /// Bytes RESP connections' read and reply buffers hold allocated, charged to the memory
    /// budget (part of `used_memory`; see `Session::charge_buffers`). Signed, as above.
    pub client_buffers: std::sync::atomic::AtomicI64,
    /// Bytes the ACL LOG's entries hold, charged to the memory budget (part of `used_memory`,
    /// not of the dataset; `resp::acl::log`). Signed, as above.
    pub acl_log: std::sync::atomic::AtomicI64,
}

impl ServerStats {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_signed(c: &std::sync::atomic::AtomicI64, n: isize) {
        c.fetch_add(n as i64, Ordering::Relaxed);
    }
    /// Bytes of queued MULTI commands (in `used_memory`).
    pub fn multi_memory(&self) -> u64 {
        self.multi_queued.load(Ordering::Relaxed).max(0) as u64
    }
    /// Client memory as Redis's `mem_clients_normal`: read/reply buffers plus MULTI queues, both
    /// in `used_memory`.
    pub fn client_memory(&self) -> u64 {
        self.client_buffers.load(Ordering::Relaxed).max(0) as u64 + self.multi_memory()
    }
    /// Bytes of the ACL LOG (in `used_memory`).
    pub fn acl_log_memory(&self) -> u64 {
        self.acl_log.load(Ordering::Relaxed).max(0) as u64
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

/// Everything a connection or front end reaches: the protocol-neutral [`Service`] (engines,
/// auth, metering, quotas, Momento's limits; `shared.store`, `shared.auth`... reach its fields
/// through `Deref`) and the server-level state around it (configuration, RESP's client registry,
/// change-feed listeners, counters, shutdown).
pub struct Shared {
    pub service: Arc<Service>,
    /// Effective configuration; CONFIG SET updates the settings that can change at run time.
    pub config: RwLock<Config>,
    pub clients: ClientRegistry,
    /// Blocked-list wake-ups: a listener of the store's change feed.
    pub waiters: Arc<KeyWaiters>,
    /// Redis keyspace notifications: a listener of the store's change feed.
    pub keyspace_events: Arc<ferrite_service::keyspace_events::KeyspaceEvents>,
    pub stats: ServerStats,
    pub started_ms: u64,
    pub run_id: String,
    /// Flipped to true to ask the whole server to shut down (SIGTERM, SHUTDOWN).
    pub shutdown: watch::Sender<bool>,
    pub resp_addr: RwLock<Option<std::net::SocketAddr>>,
    /// Unparsed RESP input buffered across all connections (`limits.resp_input_budget`).
    pub resp_input: crate::resp::inflight::InputBudget,
    /// Redis tuning parameters CONFIG SET accepts and CONFIG GET reports (no effect here).
    pub redis_params: crate::resp::redis_params::RedisParams,
    /// Redis's `hll-sparse-max-bytes` (CONFIG SET): the longest a sparse HyperLogLog string
    /// may grow before it is made dense.
    pub hll_sparse_max_bytes: AtomicUsize,
    /// Command and error statistics, SLOWLOG, LATENCY, MONITOR, CLIENT PAUSE.
    pub introspection: crate::resp::introspection::Introspection,
    /// `ACL LOG`: denials (NOPERM, failed AUTH), bounded by `acllog-max-len`.
    pub acl_log: crate::resp::acl::log::AclLog,
    /// Lua scripts: each tenant's loaded scripts and VM, and the scripts running now.
    pub scripts: crate::resp::scripting::Scripts,
    /// Client-side caching (CLIENT TRACKING): a listener of the store's change feed.
    pub tracking: Arc<crate::resp::tracking::Tracking>,
    /// MIGRATE's cached connections to its targets.
    pub migrate_sockets: Arc<crate::resp::migrate::MigrateSockets>,
}

impl std::ops::Deref for Shared {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.service
    }
}

impl Shared {
    pub fn request_shutdown(&self) {
        // Running scripts stop (written or not, as SHUTDOWN NOSAVE stops Redis's): the runtime
        // waits for its blocking threads when it shuts down.
        self.exclusive.kill_all();
        let _ = self.shutdown.send(true);
    }
}

/// Topic replay rings charged to the cache engine's memory budget (`maxmemory`), so keys and
/// retained messages live under one limit (issue 12, finding 4).
struct TopicsMemory {
    budget: Arc<MemoryBudget>,
    /// Weak: the store holds the topics (its reclaimer), not the other way round.
    store: Weak<Store>,
}

impl ferrite_topics::MemoryAccount for TopicsMemory {
    #[inline]
    fn charge(&self, delta: isize) {
        self.budget.charge(delta);
    }
    #[inline]
    fn reserve(&self, bytes: usize) -> bool {
        if !self.budget.would_exceed(bytes as u64) {
            return true;
        }
        // Over the limit: trim replay windows (and evict keys under an evicting policy).
        self.store
            .upgrade()
            .is_some_and(|s| s.ensure_memory(bytes as u64).is_ok())
    }
}

/// Wire the two engines to one budget: topics charge what their rings retain and ask for room
/// before a publish; the store trims replay windows (oldest messages of every topic) before it
/// evicts keys or refuses a write.
pub fn share_memory_budget(store: &Arc<Store>, topics: &ferrite_topics::Topics) {
    topics.set_memory_account(Arc::new(TopicsMemory {
        budget: store.budget_handle(),
        store: Arc::downgrade(store),
    }));
    let t = topics.clone();
    store.set_reclaimer(Box::new(move |wanted| t.shrink_replay(wanted)));
}
