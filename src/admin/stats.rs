//! One read of everything the admin endpoint reports, shared by `/metrics` (Prometheus text),
//! `/stats` (JSON) and INFO, so all three always describe the same numbers. Which figure goes
//! where is declared once, in `registry.rs`.

use std::sync::atomic::Ordering::Relaxed;

use serde_json::{json, Map, Value};

use ferrite_storage::ShardStats;

use super::registry::Json;
use crate::metrics::{self, Snapshot};
use crate::shared::Shared;
use ferrite_service::keyspace_events::NotifyStats;

/// One cache's size.
pub(crate) struct CacheSize {
    pub name: String,
    pub keys: u64,
    pub used_bytes: u64,
}

/// Everything reported, read once.
#[derive(Default)]
pub(crate) struct ServerSnapshot {
    pub uptime_seconds: u64,
    pub start_time_seconds: u64,
    pub connected_clients: u64,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub commands_processed: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub protocol_errors: u64,
    pub output_limit_disconnects: u64,
    /// MIGRATE's cached connections.
    pub migrate_cached_sockets: u64,
    /// RESP error replies (INFO `total_error_replies`).
    pub error_replies: u64,
    pub memory_used_bytes: u64,
    pub memory_max_bytes: u64,
    /// Part of `memory_used_bytes` held by topic replay rings.
    pub memory_topics_bytes: u64,
    /// RESP client memory: read/reply buffers + MULTI queues (both in `memory_used_bytes`).
    pub memory_clients_bytes: u64,
    /// Part of `memory_used_bytes` held by the ACL LOG.
    pub memory_acl_log_bytes: u64,
    /// The slow log, Lua VMs and script bodies: charged to the budget, not stored data.
    pub memory_introspection_bytes: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    /// Keyspace notifications (service/keyspace_events.rs).
    pub keyspace_events: NotifyStats,
    /// Empty in an INFO snapshot (`for_info`).
    pub caches: Vec<CacheSize>,
    pub topics: ferrite_topics::MetricsSnapshot,
    /// Empty in an INFO snapshot (`for_info`).
    pub requests: Snapshot,
}

impl ServerSnapshot {
    /// For `/metrics` and `/stats`.
    pub fn read(shared: &Shared) -> Self {
        // Each cache locks its shards one at a time, briefly: a scrape never holds a lock the
        // data path waits on for long.
        let caches = shared
            .store
            .caches()
            .iter()
            .map(|c| CacheSize {
                name: c.name().to_string(),
                keys: c.len() as u64,
                used_bytes: c.used_bytes() as u64,
            })
            .collect();
        Self::with(shared, shared.store.stats(), caches, metrics::snapshot())
    }

    /// For INFO: the keyspace figures come from the caller (inside EXEC, INFO must not lock the
    /// shards its own transaction holds: see resp/commands/server.rs), and the per-cache sizes
    /// and request series, which INFO does not show, are left empty (no shard walk, no fold of
    /// the request metrics).
    pub fn for_info(shared: &Shared, keyspace: ShardStats) -> Self {
        Self::with(shared, keyspace, Vec::new(), Snapshot::default())
    }

    fn with(shared: &Shared, ks: ShardStats, caches: Vec<CacheSize>, requests: Snapshot) -> Self {
        let now = shared.store.now_ms();
        let s = &shared.stats;
        ServerSnapshot {
            uptime_seconds: now.saturating_sub(shared.started_ms) / 1000,
            start_time_seconds: shared.started_ms / 1000,
            connected_clients: shared.clients.len() as u64,
            connections_received: s.total_connections.load(Relaxed),
            rejected_connections: s.rejected_connections.load(Relaxed),
            commands_processed: s.total_commands.load(Relaxed),
            net_input_bytes: s.net_input_bytes.load(Relaxed),
            net_output_bytes: s.net_output_bytes.load(Relaxed),
            protocol_errors: s.protocol_errors.load(Relaxed),
            output_limit_disconnects: s.output_limit_disconnects.load(Relaxed),
            migrate_cached_sockets: shared.migrate_sockets.count() as u64,
            error_replies: shared.introspection.errors.total(),
            memory_used_bytes: shared.store.budget().used(),
            memory_max_bytes: shared.store.budget().limit(),
            memory_topics_bytes: shared.topics.retained_memory(),
            memory_clients_bytes: s.client_memory(),
            memory_acl_log_bytes: s.acl_log_memory(),
            memory_introspection_bytes: {
                let (lua, bodies, _) = shared.scripts.memory();
                (shared.introspection.slowlog.bytes() + lua + bodies) as u64
            },
            keyspace_hits: ks.hits,
            keyspace_misses: ks.misses,
            expired_keys: ks.expired,
            evicted_keys: ks.evicted,
            keyspace_events: shared.keyspace_events.stats(),
            caches,
            topics: shared.topics.metrics(),
            requests,
        }
    }

    pub fn keys(&self) -> u64 {
        self.caches.iter().map(|c| c.keys).sum()
    }
}

fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// The `/stats` JSON document (described in docs/observability.md): every entry of the metric
/// table with a `/stats` path (`registry::Json`).
pub(crate) fn collect(shared: &Shared) -> Value {
    let s = ServerSnapshot::read(shared);
    let mut doc = Map::new();
    for m in super::registry::METRICS {
        let (path, value) = match m.json {
            Json::None => continue,
            Json::Value(path) => match m.value(&s) {
                Some(v) => (path, json!(v)),
                None => continue,
            },
            Json::Tree(path, tree) => (path, tree(&s)),
        };
        insert(&mut doc, path, value);
    }
    Value::Object(doc)
}

/// Put `value` at a dotted `path` ("connections.received_total"), creating the objects on the
/// way (the table's test keeps paths unique and never one inside another's value).
fn insert(doc: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            doc.insert(path.into(), value);
        }
        Some((head, rest)) => {
            let child = doc.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert(child, rest, value);
            }
        }
    }
}

/// `/stats` `caches`: one object per cache (the figures of `ferrite_db_keys` and
/// `ferrite_cache_used_bytes`).
pub(super) fn caches_json(s: &ServerSnapshot) -> Value {
    Value::Array(
        s.caches
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "keys": c.keys,
                    "used_bytes": c.used_bytes,
                })
            })
            .collect(),
    )
}

/// `/stats` `requests`: totals, then per protocol and per family (the figures of
/// `ferrite_requests_total` and the `_sum` of `ferrite_request_duration_seconds`).
pub(super) fn requests_json(s: &ServerSnapshot) -> Value {
    let mut by_protocol = Map::new();
    for p in metrics::Protocol::ALL {
        let mut families = Map::new();
        let (mut total, mut sum) = (0u64, 0u64);
        for f in metrics::Family::ALL {
            let series = s.requests.get(p, f);
            total += series.count;
            sum += series.sum_nanos;
            if series.count > 0 {
                families.insert(
                    f.as_str().into(),
                    json!({
                        "count": series.count,
                        "latency_sum_seconds": seconds(series.sum_nanos),
                    }),
                );
            }
        }
        by_protocol.insert(
            p.as_str().into(),
            json!({
                "count": total,
                "latency_sum_seconds": seconds(sum),
                "families": families,
            }),
        );
    }
    json!({
        "count": s.requests.total_count(),
        "latency_sum_seconds": seconds(s.requests.total_sum_nanos()),
        "by_protocol": by_protocol,
    })
}
