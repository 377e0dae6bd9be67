//! `/metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Every family, its `# HELP`/`# TYPE` header and (for unlabelled ones) its value come from the
//! metric table (`registry.rs`), in the table's order. The labelled families' samples are
//! written by the functions below, which the table names; the per-tenant families follow, from
//! service/metering.rs (also declared in the table).
//!
//! Names follow the Prometheus conventions (`_total` counters, `_bytes`, `_seconds`); where the
//! common Redis exporter (oliver006/redis_exporter) has a metric for the same thing, the name is
//! its name with `ferrite_` instead of `redis_` (listed in docs/observability.md).

use std::fmt::Write;

use super::registry::{header, Read, METRICS};
use super::stats::ServerSnapshot;
use crate::metrics::{BUCKETS, BUCKETS_SECONDS};
use crate::shared::Shared;

/// Render every server metric (the per-tenant families are appended by the caller).
pub(crate) fn render(shared: &Shared) -> String {
    let s = ServerSnapshot::read(shared);
    let mut out = String::with_capacity(16 * 1024);
    let w = &mut out;
    for m in METRICS {
        let Some(name) = m.prom else { continue };
        match m.read {
            Read::Value(read) => {
                header(w, m);
                let _ = writeln!(w, "{name} {}", read(&s));
            }
            Read::Series(series) => {
                header(w, m);
                series(&s, name, w);
            }
            // admin/registry.rs `render_tenants`.
            Read::Tenant(_) => {}
        }
    }
    out
}

// Labelled samples (after the header). Requests per protocol and family: only series that have
// seen a request are listed, so an idle protocol costs no series (absent = 0).

pub(super) fn requests_total(s: &ServerSnapshot, name: &str, w: &mut String) {
    for (p, f, series) in s.requests.iter().filter(|(_, _, x)| x.count > 0) {
        let _ = writeln!(
            w,
            "{name}{{protocol=\"{}\",family=\"{}\"}} {}",
            p.as_str(),
            f.as_str(),
            series.count
        );
    }
}

pub(super) fn request_duration_seconds(s: &ServerSnapshot, name: &str, w: &mut String) {
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
            let _ = writeln!(w, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(
            w,
            "{name}_sum{{{labels}}} {}",
            series.sum_nanos as f64 / 1e9
        );
        let _ = writeln!(w, "{name}_count{{{labels}}} {}", series.count);
    }
}

pub(super) fn db_keys(s: &ServerSnapshot, name: &str, w: &mut String) {
    for c in &s.caches {
        let _ = writeln!(
            w,
            "{name}{{cache=\"{}\"}} {}",
            crate::metrics::escape_label_value(&c.name),
            c.keys
        );
    }
}

pub(super) fn cache_used_bytes(s: &ServerSnapshot, name: &str, w: &mut String) {
    for c in &s.caches {
        let _ = writeln!(
            w,
            "{name}{{cache=\"{}\"}} {}",
            crate::metrics::escape_label_value(&c.name),
            c.used_bytes
        );
    }
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
