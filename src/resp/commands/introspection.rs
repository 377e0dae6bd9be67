//! SLOWLOG and LATENCY, and the INFO sections `commandstats`, `errorstats` and
//! `latencystats`: what `resp::introspection` gathered, in Redis 7's shapes.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use super::server::{help, subcommand_arity, unknown_subcommand};
use crate::resp::args::{eq_ic, parse_i64};
use crate::resp::dispatch::{cmd, flags::*, CommandSpec, Ctx, NO_KEYS};
use crate::resp::introspection::command_stats::{self, CommandTotals};
use crate::resp::introspection::latency;
use crate::shared::Shared;

pub const COMMANDS: &[CommandSpec] = &[
    cmd("slowlog", -2, ADMIN, NO_KEYS, "server", slowlog),
    cmd("latency", -2, ADMIN, NO_KEYS, "server", latency_cmd),
];

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------------
// SLOWLOG
// ---------------------------------------------------------------------------

fn slowlog(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let log = &ctx.shared.introspection.slowlog;
    if eq_ic(sub, "get") {
        if args.len() > 3 {
            return subcommand_arity(w, "slowlog|get");
        }
        let count = match args.get(2) {
            None => Some(10),
            Some(a) => match parse_i64(a) {
                Some(-1) => None,
                Some(n) if n >= 0 => Some(n as usize),
                _ => return w.error("ERR count should be greater than or equal to -1"),
            },
        };
        log.with_newest(count, |entries| {
            w.array(entries.len());
            for e in entries {
                w.array(6);
                w.int(e.id as i64);
                w.int(e.time as i64);
                w.int(e.micros as i64);
                w.array(e.args.len());
                for a in &e.args {
                    w.bulk(a);
                }
                w.bulk(e.peer.as_bytes());
                w.bulk(&e.name);
            }
        });
    } else if eq_ic(sub, "len") {
        if args.len() != 2 {
            return subcommand_arity(w, "slowlog|len");
        }
        w.int(log.len() as i64);
    } else if eq_ic(sub, "reset") {
        if args.len() != 2 {
            return subcommand_arity(w, "slowlog|reset");
        }
        log.reset(ctx.shared.store.budget());
        w.ok();
    } else if eq_ic(sub, "help") {
        if args.len() != 2 {
            return subcommand_arity(w, "slowlog|help");
        }
        help(
            w,
            &[
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ],
        );
    } else {
        unknown_subcommand(w, "SLOWLOG", sub);
    }
}

// ---------------------------------------------------------------------------
// LATENCY
// ---------------------------------------------------------------------------

fn latency_cmd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let mon = &ctx.shared.introspection.latency;
    if eq_ic(sub, "latest") {
        if args.len() != 2 {
            return subcommand_arity(w, "latency|latest");
        }
        let events = mon.events();
        w.array(events.len());
        for (name, e) in events {
            let last = e
                .samples
                .last()
                .copied()
                .unwrap_or(latency::Sample { time: 0, ms: 0 });
            w.array(4);
            w.bulk(name.as_bytes());
            w.int(last.time as i64);
            w.int(last.ms as i64);
            w.int(e.max as i64);
        }
    } else if eq_ic(sub, "history") {
        if args.len() != 3 {
            return subcommand_arity(w, "latency|history");
        }
        let samples = mon.event(&args[2]).map(|e| e.samples).unwrap_or_default();
        w.array(samples.len());
        for s in samples {
            w.array(2);
            w.int(s.time as i64);
            w.int(s.ms as i64);
        }
    } else if eq_ic(sub, "reset") {
        let names: Vec<&[u8]> = args[2..].iter().map(|a| a.as_ref()).collect();
        w.int(mon.reset(&names) as i64);
    } else if eq_ic(sub, "graph") {
        if args.len() != 3 {
            return subcommand_arity(w, "latency|graph");
        }
        let name = String::from_utf8_lossy(&args[2]).into_owned();
        match mon.event(&args[2]) {
            Some(e) if !e.samples.is_empty() => {
                w.verbatim("txt", &latency::graph(&name, &e, unix_now()));
            }
            _ => w.error(&format!("ERR No samples available for event '{name}'")),
        }
    } else if eq_ic(sub, "doctor") {
        if args.len() != 2 {
            return subcommand_arity(w, "latency|doctor");
        }
        let threshold = ctx
            .shared
            .introspection
            .settings
            .latency_threshold_ms
            .load(Ordering::Relaxed);
        w.verbatim("txt", &latency::doctor(&mon.events(), threshold));
    } else if eq_ic(sub, "histogram") {
        latency_histogram(ctx, args, w);
    } else if eq_ic(sub, "help") {
        if args.len() != 2 {
            return subcommand_arity(w, "latency|help");
        }
        help(
            w,
            &[
                "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "GRAPH <event>",
                "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
            ],
        );
    } else {
        unknown_subcommand(w, "LATENCY", sub);
    }
}

/// Redis's cumulative distribution: at 1024 ns and each doubling, the samples up to there
/// (µs, cumulative count), listed where the count grew.
fn cumulative_usec(t: &CommandTotals) -> Vec<(u64, u64)> {
    let total: u64 = t.hist.iter().sum();
    let mut out = Vec::new();
    let mut prev = 0;
    let mut k = 0u32;
    while prev < total && k < 40 {
        let bound = 1024u64 << k;
        let count: u64 = t
            .hist
            .iter()
            .enumerate()
            .filter(|(i, _)| command_stats::bucket_high(*i) < bound)
            .map(|(_, n)| n)
            .sum();
        let count = if k == 39 { total } else { count };
        if count > prev {
            out.push((bound / 1000, count));
            prev = count;
        }
        k += 1;
    }
    out
}

fn latency_histogram(ctx: &Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let totals = ctx.shared.introspection.commands.totals();
    let wanted: Vec<usize> = if args.len() == 2 {
        (0..totals.len()).collect()
    } else {
        let mut v = Vec::new();
        for a in &args[2..] {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            if let Some(i) = (0..totals.len()).find(|&i| command_stats::slot_name(i) == name) {
                if !v.contains(&i) {
                    v.push(i);
                }
            }
        }
        v
    };
    let rows: Vec<usize> = wanted
        .into_iter()
        .filter(|&i| totals[i].calls > 0)
        .collect();
    w.map(rows.len());
    for i in rows {
        let t = &totals[i];
        w.bulk(command_stats::slot_name(i).as_bytes());
        w.map(2);
        w.bulk(b"calls");
        w.int(t.calls as i64);
        w.bulk(b"histogram_usec");
        let cdf = cumulative_usec(t);
        w.map(cdf.len());
        for (us, n) in cdf {
            w.int(us as i64);
            w.int(n as i64);
        }
    }
}

// ---------------------------------------------------------------------------
// INFO sections
// ---------------------------------------------------------------------------

fn used_slots(totals: &[CommandTotals]) -> Vec<usize> {
    let mut v: Vec<usize> = (0..totals.len()).filter(|&i| totals[i].is_used()).collect();
    v.sort_by_key(|&i| command_stats::slot_name(i));
    v
}

pub fn write_commandstats(shared: &Shared, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let totals = shared.introspection.commands.totals();
    for i in used_slots(&totals) {
        let t = &totals[i];
        let usec = t.nanos / 1000;
        let per_call = if t.calls == 0 {
            0.0
        } else {
            usec as f64 / t.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={usec},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            command_stats::slot_name(i),
            t.calls,
            t.rejected,
            t.failed
        );
    }
}

pub fn write_errorstats(shared: &Shared, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (code, n) in shared.introspection.errors.codes() {
        let _ = write!(out, "errorstat_{code}:count={n}\r\n");
    }
}

/// Redis's percentile label: `p50`, `p99.9` (the shortest decimal form).
fn percentile_label(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("p{s}")
}

pub fn write_latencystats(shared: &Shared, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    let s = &shared.introspection.settings;
    if !s.latency_tracking.load(Ordering::Relaxed) {
        return;
    }
    let percentiles = s.latency_percentiles.lock().clone();
    let totals = shared.introspection.commands.totals();
    for i in used_slots(&totals) {
        let t = &totals[i];
        if t.calls == 0 {
            continue;
        }
        let _ = write!(
            out,
            "latency_percentiles_usec_{}:",
            command_stats::slot_name(i)
        );
        for (j, p) in percentiles.iter().enumerate() {
            let v = t.percentile(*p).unwrap_or(0);
            let sep = if j == 0 { "" } else { "," };
            let _ = write!(
                out,
                "{sep}{}={:.3}",
                percentile_label(*p),
                v as f64 / 1000.0
            );
        }
        out.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_match_redis() {
        assert_eq!(percentile_label(50.0), "p50");
        assert_eq!(percentile_label(99.9), "p99.9");
        assert_eq!(percentile_label(99.99), "p99.99");
    }

    #[test]
    fn cumulative_distribution_doubles_from_one_microsecond() {
        let mut t = CommandTotals {
            hist: vec![0; command_stats::HIST_BUCKETS],
            ..Default::default()
        };
        t.hist[command_stats::bucket_of(12_000)] = 1;
        assert_eq!(cumulative_usec(&t), vec![(16, 1)]);
        t.hist[command_stats::bucket_of(500)] = 2;
        assert_eq!(cumulative_usec(&t), vec![(1, 2), (16, 3)]);
    }
}
