//! One read of everything the admin endpoint reports, shared by `/metrics` (Prometheus text)
//! and `/stats` (JSON), so both always describe the same numbers.

use std::sync::atomic::Ordering::Relaxed;

use serde_json::{json, Map, Value};

use crate::metrics::{self, Snapshot};
use crate::shared::Shared;

/// One cache's size.
pub(crate) struct CacheSize {
    pub name: String,
    pub keys: u64,
    pub used_bytes: u64,
}

/// Everything reported, read once.
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
    pub memory_used_bytes: u64,
    pub memory_max_bytes: u64,
    /// Part of `memory_used_bytes` held by topic replay rings.
    pub memory_topics_bytes: u64,
    /// RESP client memory: read/reply buffers + MULTI queues (both in `memory_used_bytes`).
    pub memory_clients_bytes: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub caches: Vec<CacheSize>,
    pub topics: ferrite_topics::MetricsSnapshot,
    pub requests: Snapshot,
}

impl ServerSnapshot {
    pub fn read(shared: &Shared) -> Self {
        let now = shared.store.now_ms();
        let s = &shared.stats;
        let ks = shared.store.stats();
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
            memory_used_bytes: shared.store.budget().used(),
            memory_max_bytes: shared.store.budget().limit(),
            memory_topics_bytes: shared.topics.retained_memory(),
            memory_clients_bytes: s.client_memory(),
            keyspace_hits: ks.hits,
            keyspace_misses: ks.misses,
            expired_keys: ks.expired,
            evicted_keys: ks.evicted,
            caches,
            topics: shared.topics.metrics(),
            requests: metrics::snapshot(),
        }
    }

    pub fn keys(&self) -> u64 {
        self.caches.iter().map(|c| c.keys).sum()
    }
}

fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// The `/stats` JSON document (described in docs/observability.md).
pub(crate) fn collect(shared: &Shared) -> Value {
    let s = ServerSnapshot::read(shared);
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
    let t = &s.topics;
    json!({
        "uptime_seconds": s.uptime_seconds,
        "connections": {
            "connected": s.connected_clients,
            "received_total": s.connections_received,
            "rejected_total": s.rejected_connections,
        },
        "memory": {
            "used_bytes": s.memory_used_bytes,
            "max_bytes": s.memory_max_bytes,
            "topics_bytes": s.memory_topics_bytes,
            "clients_bytes": s.memory_clients_bytes,
        },
        "keys": s.keys(),
        "keyspace": {
            "hits": s.keyspace_hits,
            "misses": s.keyspace_misses,
            "expired": s.expired_keys,
            "evicted": s.evicted_keys,
        },
        "caches": s.caches.iter().map(|c| json!({
            "name": c.name,
            "keys": c.keys,
            "used_bytes": c.used_bytes,
        })).collect::<Vec<_>>(),
        "requests": {
            "count": s.requests.total_count(),
            "latency_sum_seconds": seconds(s.requests.total_sum_nanos()),
            "by_protocol": by_protocol,
        },
        "resp": {
            "commands_processed": s.commands_processed,
            "net_input_bytes": s.net_input_bytes,
            "net_output_bytes": s.net_output_bytes,
            "protocol_errors": s.protocol_errors,
            "output_limit_disconnects": s.output_limit_disconnects,
        },
        "topics": {
            "topics": t.topics,
            "subscribers": t.subscribers,
            "subscriptions": t.subscriptions,
            "pattern_subscriptions": t.pattern_subscriptions,
            "published": t.published,
            "delivered": t.delivered,
            "discontinuities": t.discontinuities,
            "rejected_too_large": t.rejected_too_large,
            "rejected_limit": t.rejected_limit,
            "rejected_memory": t.rejected_memory,
            "slow_subscriber_disconnects": t.slow_subscriber_disconnects,
            "retained_messages": t.retained_messages,
            "retained_bytes": t.retained_bytes,
        },
    })
}
