//! `/metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Names follow the Prometheus conventions (`_total` counters, `_bytes`, `_seconds`); where the
//! common Redis exporter (oliver006/redis_exporter) has a metric for the same thing, the name is
//! its name with `ferrite_` instead of `redis_` (listed in docs/observability.md).

use std::fmt::Write;

use super::stats::ServerSnapshot;
use crate::metrics::{BUCKETS, BUCKETS_SECONDS};
use crate::shared::Shared;

/// Render every metric.
pub(crate) fn render(shared: &Shared) -> String {
    let s = ServerSnapshot::read(shared);
    let mut out = String::with_capacity(16 * 1024);
    let w = &mut out;

    // Requests per protocol and family: only series that have seen a request are listed, so an
    // idle protocol costs no series (absent = 0).
    header(
        w,
        "ferrite_requests_total",
        "counter",
        "Requests handled, by protocol and command family.",
    );
    for (p, f, series) in s.requests.iter().filter(|(_, _, x)| x.count > 0) {
        let _ = writeln!(
            w,
            "ferrite_requests_total{{protocol=\"{}\",family=\"{}\"}} {}",
            p.as_str(),
            f.as_str(),
            series.count
        );
    }
    header(
        w,
        "ferrite_request_duration_seconds",
        "histogram",
        "Request latency inside the server, by protocol and command family.",
    );
    for (p, f, series) in s.requests.iter().filter(|(_, _, x)| x.count > 0) {
        let labels = format!("protocol=\"{}\",family=\"{}\"", p.as_str(), f.as_str());
        let mut cumulative = 0u64;
        for (i, n) in series.buckets.iter().enumerate() {
            cumulative += n;
            let le = if i + 1 == BUCKETS {
                "+Inf".to_string()
            } else {
                format!("{}", BUCKETS_SECONDS[i])
            };
            let _ = writeln!(
                w,
                "ferrite_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            w,
            "ferrite_request_duration_seconds_sum{{{labels}}} {}",
            series.sum_nanos as f64 / 1e9
        );
        let _ = writeln!(
            w,
            "ferrite_request_duration_seconds_count{{{labels}}} {}",
            series.count
        );
    }

    // Server and connections (RESP connections; gRPC connections are not counted yet).
    gauge(
        w,
        "ferrite_uptime_in_seconds",
        "Seconds since the server started.",
        s.uptime_seconds,
    );
    gauge(
        w,
        "ferrite_start_time_seconds",
        "Start time of the server, in seconds since the Unix epoch.",
        s.start_time_seconds,
    );
    gauge(
        w,
        "ferrite_connected_clients",
        "Open RESP client connections.",
        s.connected_clients,
    );
    counter(
        w,
        "ferrite_connections_received_total",
        "RESP connections accepted.",
        s.connections_received,
    );
    counter(
        w,
        "ferrite_rejected_connections_total",
        "RESP connections refused because limits.max_clients was reached.",
        s.rejected_connections,
    );
    counter(
        w,
        "ferrite_commands_processed_total",
        "RESP commands processed.",
        s.commands_processed,
    );
    counter(
        w,
        "ferrite_net_input_bytes_total",
        "Bytes read from RESP clients.",
        s.net_input_bytes,
    );
    counter(
        w,
        "ferrite_net_output_bytes_total",
        "Bytes written to RESP clients.",
        s.net_output_bytes,
    );
    counter(
        w,
        "ferrite_protocol_errors_total",
        "RESP connections closed for a protocol error.",
        s.protocol_errors,
    );
    counter(
        w,
        "ferrite_client_output_limit_disconnects_total",
        "RESP clients disconnected for not reading their replies (reply or pub/sub buffer limit).",
        s.output_limit_disconnects,
    );

    // Memory and keyspace.
    gauge(
        w,
        "ferrite_memory_used_bytes",
        "Bytes charged to the memory budget: stored data, topic replay rings, MULTI queues.",
        s.memory_used_bytes,
    );
    gauge(
        w,
        "ferrite_memory_max_bytes",
        "The memory budget (memory.maxmemory).",
        s.memory_max_bytes,
    );
    gauge(
        w,
        "ferrite_memory_topics_bytes",
        "Part of ferrite_memory_used_bytes held by topic replay rings.",
        s.memory_topics_bytes,
    );
    gauge(
        w,
        "ferrite_memory_clients_bytes",
        "RESP client memory: read/reply buffers plus MULTI queues (both charged to maxmemory).",
        s.memory_clients_bytes,
    );
    header(w, "ferrite_db_keys", "gauge", "Keys per cache.");
    for c in &s.caches {
        let _ = writeln!(
            w,
            "ferrite_db_keys{{cache=\"{}\"}} {}",
            crate::metrics::escape_label_value(&c.name),
            c.keys
        );
    }
    header(
        w,
        "ferrite_cache_used_bytes",
        "gauge",
        "Bytes charged to the memory budget per cache.",
    );
    for c in &s.caches {
        let _ = writeln!(
            w,
            "ferrite_cache_used_bytes{{cache=\"{}\"}} {}",
            crate::metrics::escape_label_value(&c.name),
            c.used_bytes
        );
    }
    gauge(w, "ferrite_caches", "Caches.", s.caches.len() as u64);
    counter(
        w,
        "ferrite_keyspace_hits_total",
        "Reads that found their key.",
        s.keyspace_hits,
    );
    counter(
        w,
        "ferrite_keyspace_misses_total",
        "Reads that did not find their key.",
        s.keyspace_misses,
    );
    counter(
        w,
        "ferrite_expired_keys_total",
        "Keys removed because their TTL passed.",
        s.expired_keys,
    );
    counter(
        w,
        "ferrite_evicted_keys_total",
        "Keys evicted to stay within the memory budget.",
        s.evicted_keys,
    );

    // Keyspace notifications (service/keyspace_events.rs).
    let ke = shared.keyspace_events.stats();
    counter(
        w,
        "ferrite_keyspace_notifications_queued_total",
        "Keyspace notification events queued for publishing.",
        ke.queued,
    );
    counter(
        w,
        "ferrite_keyspace_notifications_published_total",
        "Keyspace notification messages published (__keyspace and __keyevent count one each).",
        ke.published,
    );
    counter(
        w,
        "ferrite_keyspace_notifications_dropped_total",
        "Keyspace notification events dropped: the queue was full, or the publish was refused.",
        ke.dropped,
    );

    // Topics (pub/sub).
    let t = &s.topics;
    gauge(w, "ferrite_topics", "Live topics.", t.topics);
    gauge(
        w,
        "ferrite_topic_subscribers",
        "Subscribers (RESP connections in pub/sub mode, gRPC and SSE subscription streams).",
        t.subscribers,
    );
    gauge(
        w,
        "ferrite_topic_subscriptions",
        "Direct topic subscriptions.",
        t.subscriptions,
    );
    gauge(
        w,
        "ferrite_pubsub_patterns",
        "Pattern subscriptions (PSUBSCRIBE).",
        t.pattern_subscriptions,
    );
    counter(
        w,
        "ferrite_topic_messages_published_total",
        "Messages accepted by publish.",
        t.published,
    );
    counter(
        w,
        "ferrite_topic_messages_delivered_total",
        "Messages handed to subscribers.",
        t.delivered,
    );
    counter(
        w,
        "ferrite_topic_messages_dropped_total",
        "Publishes refused because the message was larger than topics.max_message_bytes.",
        t.rejected_too_large,
    );
    counter(
        w,
        "ferrite_topic_limit_rejections_total",
        "Subscribes and publishes refused by a topic, subscriber or pattern limit.",
        t.rejected_limit,
    );
    counter(
        w,
        "ferrite_topic_discontinuities_total",
        "Discontinuities delivered: a subscriber fell behind the replay window or resumed outside it.",
        t.discontinuities,
    );
    counter(
        w,
        "ferrite_topic_slow_subscriber_disconnects_total",
        "Subscribers disconnected because they stopped reading.",
        t.slow_subscriber_disconnects,
    );
    counter(
        w,
        "ferrite_topic_rejected_memory_total",
        "Publishes refused because the memory budget was spent even after trimming replay windows.",
        t.rejected_memory,
    );
    gauge(
        w,
        "ferrite_topic_retained_messages",
        "Messages held in replay rings.",
        t.retained_messages,
    );
    gauge(
        w,
        "ferrite_topic_retained_bytes",
        "Payload bytes held in replay rings.",
        t.retained_bytes,
    );
    out
}

fn header(w: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(w, "# HELP {name} {help}");
    let _ = writeln!(w, "# TYPE {name} {kind}");
}

fn gauge(w: &mut String, name: &str, help: &str, v: u64) {
    header(w, name, "gauge", help);
    let _ = writeln!(w, "{name} {v}");
}

fn counter(w: &mut String, name: &str, help: &str, v: u64) {
    header(w, name, "counter", help);
    let _ = writeln!(w, "{name} {v}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            crate::metrics::escape_label_value("a\"b\\c\nd"),
            "a\\\"b\\\\c\\nd"
        );
    }
}
