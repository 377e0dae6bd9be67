//! The metric table: one declaration per server metric, feeding `/metrics` (prometheus.rs),
//! `/stats` (stats.rs) and INFO (resp/commands/server.rs).
//!
//! Each entry gives the Prometheus family (name, type, help), the INFO field and section where
//! INFO shows the figure, the `/stats` JSON path where `/stats` has it, and how to read it from
//! a [`ServerSnapshot`]. Adding a server metric is one entry here (plus its row in
//! docs/observability.md, which a test below checks):
//!
//! 1. make the figure readable from `ServerSnapshot` (stats.rs) if it is not yet;
//! 2. add `counter("ferrite_x_total", "Help.", |s| s.x)` (or `gauge`) at the place it should
//!    appear, chained with `.info(Section::Stats, "x")` and/or `.json("group.x")`.
//!
//! Order matters: `/metrics` lists families in table order, and INFO writes each section's
//! entries in table order, as one block at a fixed place in the section (`write_info`).
//!
//! Labelled families (request series by protocol and family, per-cache sizes, per-tenant
//! metering) are declared here too, with the function that writes their samples
//! ([`Read::Series`], [`Read::Tenant`]); their headers come from the table. Entries without a
//! Prometheus name are figures INFO or `/stats` show that `/metrics` does not (Redis
//! compatibility fields, derived figures).
//!
//! The hot path is not involved: the figures are the same relaxed atomics and shard counters
//! as before, read when a scrape, `/stats` or INFO builds its snapshot.

use std::fmt::Write;

use serde_json::Value;

use super::prometheus as prom;
use super::stats::{self, ServerSnapshot};
use ferrite_service::Counters;

/// Prometheus metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The INFO sections that show figures from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Server,
    Clients,
    Memory,
    Stats,
}

impl Section {
    /// The name INFO takes (`INFO stats`).
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Server => "server",
            Section::Clients => "clients",
            Section::Memory => "memory",
            Section::Stats => "stats",
        }
    }
}

/// Where INFO shows a figure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Info {
    pub section: Section,
    pub field: &'static str,
    /// A `<field>_human` companion line right after it (`bytes_to_human`), as Redis has.
    pub human: Option<&'static str>,
}

/// How a figure is read.
#[derive(Clone, Copy)]
pub(crate) enum Read {
    /// One unlabelled value.
    Value(fn(&ServerSnapshot) -> u64),
    /// Labelled samples, written after the table's header (arguments: the snapshot, the
    /// family's name, the output).
    Series(fn(&ServerSnapshot, &str, &mut String)),
    /// One series per (token, cache) from the metering snapshot: this is the figure of one
    /// tenant (`render_tenants`).
    Tenant(fn(&Counters) -> u64),
}

/// Where `/stats` has a figure.
#[derive(Clone, Copy)]
pub(crate) enum Json {
    None,
    /// The value (a `Read::Value`) at a dotted path.
    Value(&'static str),
    /// A subtree built by hand at a dotted path (per-cache sizes, request series).
    Tree(&'static str, fn(&ServerSnapshot) -> Value),
}

/// One declaration.
#[derive(Clone, Copy)]
pub(crate) struct Metric {
    /// The Prometheus family; `None`: not in `/metrics` (an INFO or `/stats` figure only).
    pub prom: Option<&'static str>,
    pub kind: Kind,
    pub help: &'static str,
    pub info: Option<Info>,
    pub json: Json,
    pub read: Read,
}

impl Metric {
    /// The unlabelled value, if this is one.
    pub fn value(&self, s: &ServerSnapshot) -> Option<u64> {
        match self.read {
            Read::Value(read) => Some(read(s)),
            Read::Series(_) | Read::Tenant(_) => None,
        }
    }

    /// Also shown by INFO, in `section`, as `field`.
    const fn info(mut self, section: Section, field: &'static str) -> Self {
        self.info = Some(Info {
            section,
            field,
            human: None,
        });
        self
    }

    /// Also shown by INFO, with a `_human` companion line.
    const fn info_human(
        mut self,
        section: Section,
        field: &'static str,
        human: &'static str,
    ) -> Self {
        self.info = Some(Info {
            section,
            field,
            human: Some(human),
        });
        self
    }

    /// Also in `/stats`, at `path`.
    const fn json(mut self, path: &'static str) -> Self {
        self.json = Json::Value(path);
        self
    }

    /// A hand-built `/stats` subtree at `path`.
    const fn json_tree(mut self, path: &'static str, tree: fn(&ServerSnapshot) -> Value) -> Self {
        self.json = Json::Tree(path, tree);
        self
    }
}

const fn metric(prom: Option<&'static str>, kind: Kind, help: &'static str, read: Read) -> Metric {
    Metric {
        prom,
        kind,
        help,
        info: None,
        json: Json::None,
        read,
    }
}

/// An unlabelled counter (the name ends in `_total`).
const fn counter(
    name: &'static str,
    help: &'static str,
    read: fn(&ServerSnapshot) -> u64,
) -> Metric {
    metric(Some(name), Kind::Counter, help, Read::Value(read))
}

/// An unlabelled gauge.
const fn gauge(name: &'static str, help: &'static str, read: fn(&ServerSnapshot) -> u64) -> Metric {
    metric(Some(name), Kind::Gauge, help, Read::Value(read))
}

/// A labelled family whose samples `write` renders.
const fn series(
    name: &'static str,
    kind: Kind,
    help: &'static str,
    write: fn(&ServerSnapshot, &str, &mut String),
) -> Metric {
    metric(Some(name), kind, help, Read::Series(write))
}

/// A per-tenant counter (labels `token`, `cache`).
const fn tenant(name: &'static str, help: &'static str, read: fn(&Counters) -> u64) -> Metric {
    metric(Some(name), Kind::Counter, help, Read::Tenant(read))
}

/// A figure INFO shows and `/metrics` does not.
const fn info_only(
    section: Section,
    field: &'static str,
    kind: Kind,
    help: &'static str,
    read: fn(&ServerSnapshot) -> u64,
) -> Metric {
    metric(None, kind, help, Read::Value(read)).info(section, field)
}

/// A figure `/stats` has and `/metrics` does not.
const fn json_only(
    path: &'static str,
    kind: Kind,
    help: &'static str,
    read: fn(&ServerSnapshot) -> u64,
) -> Metric {
    metric(None, kind, help, Read::Value(read)).json(path)
}

use Kind::{Counter, Gauge, Histogram};
use Section::{Clients, Memory, Server, Stats};

/// Every server metric, in `/metrics` order (and INFO order within each INFO section).
pub(crate) static METRICS: &[Metric] = &[
    // Requests per protocol and family (src/metrics.rs).
    series(
        "ferrite_requests_total",
        Counter,
        "Requests handled, by protocol and command family.",
        prom::requests_total,
    )
    .json_tree("requests", stats::requests_json),
    series(
        "ferrite_request_duration_seconds",
        Histogram,
        "Request latency inside the server, by protocol and command family.",
        prom::request_duration_seconds,
    ),
    // Server and connections (RESP connections; gRPC connections are not counted yet).
    gauge(
        "ferrite_uptime_in_seconds",
        "Seconds since the server started.",
        |s| s.uptime_seconds,
    )
    .info(Server, "uptime_in_seconds")
    .json("uptime_seconds"),
    info_only(
        Server,
        "uptime_in_days",
        Gauge,
        "Whole days since the server started.",
        |s| s.uptime_seconds / 86400,
    ),
    gauge(
        "ferrite_start_time_seconds",
        "Start time of the server, in seconds since the Unix epoch.",
        |s| s.start_time_seconds,
    ),
    gauge(
        "ferrite_connected_clients",
        "Open RESP client connections.",
        |s| s.connected_clients,
    )
    .info(Clients, "connected_clients")
    .json("connections.connected"),
    counter(
        "ferrite_connections_received_total",
        "RESP connections accepted.",
        |s| s.connections_received,
    )
    .info(Stats, "total_connections_received")
    .json("connections.received_total"),
    counter(
        "ferrite_commands_processed_total",
        "RESP commands processed.",
        |s| s.commands_processed,
    )
    .info(Stats, "total_commands_processed")
    .json("resp.commands_processed"),
    info_only(
        Stats,
        "instantaneous_ops_per_sec",
        Gauge,
        "Always 0 (Redis compatibility; rates are deltas of the counters).",
        |_| 0,
    ),
    counter(
        "ferrite_net_input_bytes_total",
        "Bytes read from RESP clients.",
        |s| s.net_input_bytes,
    )
    .info(Stats, "total_net_input_bytes")
    .json("resp.net_input_bytes"),
    counter(
        "ferrite_net_output_bytes_total",
        "Bytes written to RESP clients.",
        |s| s.net_output_bytes,
    )
    .info(Stats, "total_net_output_bytes")
    .json("resp.net_output_bytes"),
    counter(
        "ferrite_rejected_connections_total",
        "RESP connections refused because limits.max_clients was reached.",
        |s| s.rejected_connections,
    )
    .info(Stats, "rejected_connections")
    .json("connections.rejected_total"),
    // Memory and keyspace.
    gauge(
        "ferrite_memory_used_bytes",
        "Bytes charged to the memory budget: stored data, topic replay rings, MULTI queues.",
        |s| s.memory_used_bytes,
    )
    .info_human(Memory, "used_memory", "used_memory_human")
    .json("memory.used_bytes"),
    info_only(
        Memory,
        "used_memory_dataset",
        Gauge,
        "used_memory less topic replay rings, client memory, the ACL LOG, the slow log and Lua: the stored data.",
        |s| {
            s.memory_used_bytes.saturating_sub(
                s.memory_topics_bytes
                    + s.memory_clients_bytes
                    + s.memory_acl_log_bytes
                    + s.memory_introspection_bytes,
            )
        },
    ),
    // Redis's figures for memory outside eviction's count and for values freed in the
    // background. Ferrite counts everything it holds in the budget and frees a value inside the
    // command that removes it (UNLINK and FLUSHALL ASYNC included): both are 0 by construction,
    // and tools (and Redis's tests, before sampling used_memory) read them.
    info_only(
        Memory,
        "mem_not_counted_for_evict",
        Gauge,
        "Always 0: everything Ferrite holds is counted in the budget eviction works from.",
        |_| 0,
    ),
    info_only(
        Memory,
        "lazyfree_pending_objects",
        Gauge,
        "Always 0: values are freed by the command that removes them, never in the background.",
        |_| 0,
    ),
    info_only(
        Memory,
        "lazyfreed_objects",
        Counter,
        "Always 0: values are freed by the command that removes them, never in the background.",
        |_| 0,
    ),
    gauge(
        "ferrite_memory_max_bytes",
        "The memory budget (memory.maxmemory).",
        |s| s.memory_max_bytes,
    )
    .json("memory.max_bytes"),
    gauge(
        "ferrite_memory_topics_bytes",
        "Part of ferrite_memory_used_bytes held by topic replay rings.",
        |s| s.memory_topics_bytes,
    )
    .info(Memory, "used_memory_topics")
    .json("memory.topics_bytes"),
    gauge(
        "ferrite_memory_clients_bytes",
        "RESP client memory: read/reply buffers plus MULTI queues (both charged to maxmemory).",
        |s| s.memory_clients_bytes,
    )
    .info(Memory, "mem_clients_normal")
    .json("memory.clients_bytes"),
    json_only(
        "keys",
        Gauge,
        "Keys over every cache (the sum of ferrite_db_keys).",
        |s| s.keys(),
    ),
    series(
        "ferrite_db_keys",
        Gauge,
        "Keys per cache.",
        prom::db_keys,
    )
    .json_tree("caches", stats::caches_json),
    series(
        "ferrite_cache_used_bytes",
        Gauge,
        "Bytes charged to the memory budget per cache.",
        prom::cache_used_bytes,
    ),
    gauge("ferrite_caches", "Caches.", |s| s.caches.len() as u64),
    counter(
        "ferrite_expired_keys_total",
        "Keys removed because their TTL passed.",
        |s| s.expired_keys,
    )
    .info(Stats, "expired_keys")
    .json("keyspace.expired"),
    counter(
        "ferrite_evicted_keys_total",
        "Keys evicted to stay within the memory budget.",
        |s| s.evicted_keys,
    )
    .info(Stats, "evicted_keys")
    .json("keyspace.evicted"),
    info_only(
        Stats,
        "evicted_clients",
        Counter,
        "RESP clients disconnected for not reading their replies (the figure of client_output_buffer_limit_disconnections).",
        |s| s.output_limit_disconnects,
    ),
    info_only(
        Stats,
        "migrate_cached_sockets",
        Gauge,
        "Connections MIGRATE keeps open to its targets (closed after 10 s idle).",
        |s| s.migrate_cached_sockets,
    ),
    counter(
        "ferrite_keyspace_hits_total",
        "Reads that found their key.",
        |s| s.keyspace_hits,
    )
    .info(Stats, "keyspace_hits")
    .json("keyspace.hits"),
    counter(
        "ferrite_keyspace_misses_total",
        "Reads that did not find their key.",
        |s| s.keyspace_misses,
    )
    .info(Stats, "keyspace_misses")
    .json("keyspace.misses"),
    info_only(
        Stats,
        "pubsub_channels",
        Gauge,
        "Always 0 (Redis compatibility; topic figures are the ferrite_topic_* metrics).",
        |_| 0,
    ),
    info_only(
        Stats,
        "pubsub_patterns",
        Gauge,
        "Always 0 (Redis compatibility; pattern subscriptions are ferrite_pubsub_patterns).",
        |_| 0,
    ),
    // Keyspace notifications (service/keyspace_events.rs).
    counter(
        "ferrite_keyspace_notifications_queued_total",
        "Keyspace notification events queued for publishing.",
        |s| s.keyspace_events.queued,
    )
    .info(Stats, "keyspace_notifications_queued"),
    counter(
        "ferrite_keyspace_notifications_published_total",
        "Keyspace notification messages published (__keyspace and __keyevent count one each).",
        |s| s.keyspace_events.published,
    )
    .info(Stats, "keyspace_notifications_published"),
    counter(
        "ferrite_keyspace_notifications_dropped_total",
        "Keyspace notification events dropped: the queue was full, or the publish was refused.",
        |s| s.keyspace_events.dropped,
    )
    .info(Stats, "keyspace_notifications_dropped"),
    counter(
        "ferrite_resp_error_replies_total",
        "RESP error replies sent (INFO errorstats has them by error code).",
        |s| s.error_replies,
    )
    .info(Stats, "total_error_replies")
    .json("resp.error_replies"),
    counter(
        "ferrite_protocol_errors_total",
        "RESP connections closed for a protocol error.",
        |s| s.protocol_errors,
    )
    .info(Stats, "total_protocol_errors")
    .json("resp.protocol_errors"),
    counter(
        "ferrite_client_output_limit_disconnects_total",
        "RESP clients disconnected for not reading their replies (reply or pub/sub buffer limit).",
        |s| s.output_limit_disconnects,
    )
    .info(Stats, "client_output_buffer_limit_disconnections")
    .json("resp.output_limit_disconnects"),
    // Topics (pub/sub).
    gauge("ferrite_topics", "Live topics.", |s| s.topics.topics).json("topics.topics"),
    gauge(
        "ferrite_topic_subscribers",
        "Subscribers (RESP connections in pub/sub mode, gRPC and SSE subscription streams).",
        |s| s.topics.subscribers,
    )
    .json("topics.subscribers"),
    gauge(
        "ferrite_topic_subscriptions",
        "Direct topic subscriptions.",
        |s| s.topics.subscriptions,
    )
    .json("topics.subscriptions"),
    gauge(
        "ferrite_pubsub_patterns",
        "Pattern subscriptions (PSUBSCRIBE).",
        |s| s.topics.pattern_subscriptions,
    )
    .json("topics.pattern_subscriptions"),
    counter(
        "ferrite_topic_messages_published_total",
        "Messages accepted by publish.",
        |s| s.topics.published,
    )
    .json("topics.published"),
    counter(
        "ferrite_topic_messages_delivered_total",
        "Messages handed to subscribers.",
        |s| s.topics.delivered,
    )
    .json("topics.delivered"),
    counter(
        "ferrite_topic_messages_dropped_total",
        "Publishes refused because the message was larger than topics.max_message_bytes.",
        |s| s.topics.rejected_too_large,
    )
    .json("topics.rejected_too_large"),
    counter(
        "ferrite_topic_limit_rejections_total",
        "Subscribes and publishes refused by a topic, subscriber or pattern limit.",
        |s| s.topics.rejected_limit,
    )
    .json("topics.rejected_limit"),
    counter(
        "ferrite_topic_discontinuities_total",
        "Discontinuities delivered: a subscriber fell behind the replay window or resumed outside it.",
        |s| s.topics.discontinuities,
    )
    .json("topics.discontinuities"),
    counter(
        "ferrite_topic_slow_subscriber_disconnects_total",
        "Subscribers disconnected because they stopped reading.",
        |s| s.topics.slow_subscriber_disconnects,
    )
    .json("topics.slow_subscriber_disconnects"),
    counter(
        "ferrite_topic_rejected_memory_total",
        "Publishes refused because the memory budget was spent even after trimming replay windows.",
        |s| s.topics.rejected_memory,
    )
    .json("topics.rejected_memory"),
    gauge(
        "ferrite_topic_retained_messages",
        "Messages held in replay rings.",
        |s| s.topics.retained_messages,
    )
    .json("topics.retained_messages"),
    gauge(
        "ferrite_topic_retained_bytes",
        "Payload bytes held in replay rings.",
        |s| s.topics.retained_bytes,
    )
    .json("topics.retained_bytes"),
    // Per-tenant metering (service/metering.rs; appended to /metrics after the families above).
    tenant(
        "ferrite_tenant_operations_total",
        "Requests executed, per token id and cache.",
        |c| c.operations,
    ),
    tenant(
        "ferrite_tenant_bytes_in_total",
        "Request bytes received (RESP frames, protobuf request messages).",
        |c| c.bytes_in,
    ),
    tenant(
        "ferrite_tenant_bytes_out_total",
        "Reply bytes sent (RESP replies and pushes, protobuf responses and subscription items).",
        |c| c.bytes_out,
    ),
    tenant(
        "ferrite_tenant_messages_published_total",
        "Topic messages published.",
        |c| c.messages_published,
    ),
    tenant(
        "ferrite_tenant_messages_delivered_total",
        "Topic messages delivered to subscribers.",
        |c| c.messages_delivered,
    ),
];

/// `/metrics`: the `# HELP` and `# TYPE` lines of a declared family.
pub(crate) fn header(w: &mut String, m: &Metric) {
    let name = m.prom.unwrap_or_default();
    let _ = writeln!(w, "# HELP {name} {}", m.help);
    let _ = writeln!(w, "# TYPE {name} {}", m.kind.as_str());
}

/// INFO: the `field:value` lines of `section`'s entries, in table order (the section writes
/// its other, hand-written lines around this block).
pub(crate) fn write_info(section: Section, s: &ServerSnapshot, out: &mut String) {
    for m in METRICS {
        let Some(info) = m.info.filter(|i| i.section == section) else {
            continue;
        };
        let Some(v) = m.value(s) else { continue };
        let _ = write!(out, "{}:{v}\r\n", info.field);
        if let Some(human) = info.human {
            let h = crate::resp::commands::server::bytes_to_human(v);
            let _ = write!(out, "{human}:{h}\r\n");
        }
    }
}

/// Prometheus text exposition of a snapshot (what the admin port's `/metrics` will append).
/// The families, their headers and order come from the metric table (admin/registry.rs).
pub fn render_tenants(snapshot: &[(ferrite_service::MeterKey, Counters)]) -> String {
    let mut out = String::new();
    for (metric, field) in tenant_metrics() {
        let name = metric.prom.unwrap_or_default();
        header(&mut out, metric);
        for (k, c) in snapshot {
            let _ = writeln!(
                out,
                "{name}{{token=\"{}\",cache=\"{}\"}} {}",
                ferrite_service::metering::escape_label_value(&k.token),
                ferrite_service::metering::escape_label_value(&k.cache),
                field(c)
            );
        }
    }
    out
}

/// The per-tenant families, for service/metering.rs.
pub(crate) fn tenant_metrics() -> impl Iterator<Item = (&'static Metric, fn(&Counters) -> u64)> {
    METRICS.iter().filter_map(|m| match m.read {
        Read::Tenant(read) => Some((m, read)),
        _ => None,
    })
}

/// One entry of the table as plain data, for tests outside the crate (tests/metric_registry.rs
/// checks a real server's `/metrics`, `/stats` and INFO against it).
#[derive(Clone, Debug)]
pub struct Declaration {
    /// The Prometheus family, if `/metrics` has it.
    pub prom: Option<&'static str>,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    pub help: &'static str,
    /// The INFO section (`stats`) and fields (the field, then its `_human` companion if any).
    pub info: Option<(&'static str, Vec<&'static str>)>,
    /// The `/stats` path (dotted), a number or, for `stats_tree`, a hand-built subtree.
    pub stats: Option<&'static str>,
    pub stats_tree: bool,
}

/// The whole table, in order.
pub fn declarations() -> Vec<Declaration> {
    METRICS
        .iter()
        .map(|m| Declaration {
            prom: m.prom,
            kind: m.kind.as_str(),
            help: m.help,
            info: m.info.map(|i| {
                let mut fields = vec![i.field];
                fields.extend(i.human);
                (i.section.as_str(), fields)
            }),
            stats: match m.json {
                Json::None => None,
                Json::Value(p) | Json::Tree(p, _) => Some(p),
            },
            stats_tree: matches!(m.json, Json::Tree(..)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tenant_families_escape_their_labels() {
        let key = ferrite_service::MeterKey::new("to\"k".into(), "c\\1".into());
        let text = render_tenants(&[(key, Counters::op(3, 4))]);
        assert!(
            text.contains("ferrite_tenant_operations_total{token=\"to\\\"k\",cache=\"c\\\\1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ferrite_tenant_bytes_in_total{token=\"to\\\"k\",cache=\"c\\\\1\"} 3")
        );
        assert!(text.contains("# TYPE ferrite_tenant_bytes_out_total counter"));
    }

    /// Every name in `names` once; the duplicates otherwise.
    fn duplicates<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut seen = HashSet::new();
        names.into_iter().filter(|n| !seen.insert(*n)).collect()
    }

    fn info_fields() -> impl Iterator<Item = &'static str> {
        METRICS
            .iter()
            .filter_map(|m| m.info)
            .flat_map(|i| std::iter::once(i.field).chain(i.human))
    }

    fn json_paths() -> Vec<&'static str> {
        declarations().iter().filter_map(|d| d.stats).collect()
    }

    #[test]
    fn prometheus_names_are_unique() {
        let dup = duplicates(METRICS.iter().filter_map(|m| m.prom));
        assert!(dup.is_empty(), "declared twice: {dup:?}");
    }

    #[test]
    fn info_fields_are_unique() {
        let dup = duplicates(info_fields());
        assert!(dup.is_empty(), "INFO fields declared twice: {dup:?}");
    }

    #[test]
    fn stats_paths_are_unique_and_never_nested() {
        let paths = json_paths();
        let dup = duplicates(paths.iter().copied());
        assert!(dup.is_empty(), "/stats paths declared twice: {dup:?}");
        // "a" and "a.b" cannot both be there: "a" would be a number and an object.
        for a in &paths {
            for b in &paths {
                assert!(
                    !b.starts_with(&format!("{a}.")),
                    "/stats path {b} is inside {a}"
                );
            }
        }
    }

    #[test]
    fn entries_are_well_formed() {
        for m in METRICS {
            let what = m.prom.or(m.info.map(|i| i.field)).unwrap_or("?");
            // Something shows it.
            assert!(
                m.prom.is_some() || m.info.is_some() || !matches!(m.json, Json::None),
                "{what}: neither /metrics, INFO nor /stats shows it"
            );
            assert!(!m.help.is_empty(), "{what}: no help text");
            if let Some(name) = m.prom {
                assert!(
                    name.starts_with("ferrite_")
                        && name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{name}: not a ferrite_ snake_case name"
                );
                assert_eq!(
                    m.kind == Kind::Counter,
                    name.ends_with("_total"),
                    "{name}: counters (and only counters) end in _total"
                );
            }
            match m.read {
                // Labelled families need a name to hang their samples on, and have no single
                // value for INFO or a /stats number.
                Read::Series(_) | Read::Tenant(_) => {
                    assert!(m.prom.is_some(), "{what}: labelled but unnamed");
                    assert!(
                        m.info.is_none(),
                        "{what}: labelled, cannot be an INFO field"
                    );
                    assert!(!matches!(m.json, Json::Value(_)), "{what}: not one number");
                }
                Read::Value(_) => {
                    assert!(m.kind != Kind::Histogram, "{what}: a histogram has series");
                    assert!(!matches!(m.json, Json::Tree(..)), "{what}: one number");
                }
            }
        }
    }

    /// INFO snapshots leave the per-cache sizes and request series empty (`for_info`): no
    /// INFO figure may read them.
    #[test]
    fn info_figures_do_not_read_what_an_info_snapshot_leaves_out() {
        crate::metrics::record(
            crate::metrics::Protocol::Resp,
            crate::metrics::Family::String,
            std::time::Duration::from_micros(3),
        );
        let full = ServerSnapshot {
            caches: vec![stats::CacheSize {
                name: "c".into(),
                keys: 7,
                used_bytes: 70,
            }],
            requests: crate::metrics::snapshot(),
            ..ServerSnapshot::default()
        };
        let info = ServerSnapshot::default();
        for m in METRICS.iter().filter(|m| m.info.is_some()) {
            assert_eq!(m.value(&full), m.value(&info), "{:?}", m.info);
        }
    }

    /// docs/observability.md has a row for every entry (in its "`/metrics`: every metric"
    /// section: the `/metrics` table, or the table of INFO and /stats figures) that names its
    /// type, INFO section and fields, and /stats path.
    #[test]
    fn every_entry_is_documented() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/observability.md");
        let doc = std::fs::read_to_string(path).expect("docs/observability.md");
        // The section's two tables (other tables, the request families', have rows like
        // "| `keys` |" too).
        let section = doc
            .split("\n## ")
            .find(|s| s.starts_with("`/metrics`: every metric"))
            .expect("a \"## `/metrics`: every metric\" section");
        let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
        let mut missing = Vec::new();
        for d in declarations() {
            let key = d
                .prom
                .or(d.info.as_ref().map(|(_, f)| f[0]))
                .or(d.stats)
                .unwrap();
            let Some(row) = rows.iter().find(|r| r.starts_with(&format!("| `{key}` |"))) else {
                missing.push(format!("{key}: no row"));
                continue;
            };
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            if cells.get(2) != Some(&d.kind) {
                missing.push(format!("{key}: type is not {}", d.kind));
            }
            let mut wanted: Vec<String> = Vec::new();
            if let Some((section, fields)) = &d.info {
                wanted.extend(fields.iter().map(|f| format!("`{f}`")));
                wanted.push(section.to_string());
            }
            wanted.extend(d.stats.map(|p| format!("`{p}`")));
            for w in wanted {
                if !row.contains(&w) {
                    missing.push(format!("{key}: row lacks {w}"));
                }
            }
        }
        assert!(missing.is_empty(), "docs/observability.md: {missing:#?}");
    }
}
