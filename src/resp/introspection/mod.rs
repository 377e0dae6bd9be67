//! What Redis's introspection commands read: per-command statistics (INFO commandstats /
//! latencystats, `command_stats`), error counts (INFO errorstats), the slow log (SLOWLOG), the
//! latency monitor (LATENCY), MONITOR's feed and CLIENT PAUSE's state. One `Introspection`
//! lives in `Shared`; sessions record into it after each command (`conn/exec.rs`, `account`).
//!
//! Everything here is bounded: the slow log by `slowlog-max-len` (its bytes charged to the
//! memory budget), the latency monitor by 160 samples per event, error codes by
//! `ERROR_CODES_MAX`, each monitor's queue by `MONITOR_QUEUE_MAX` bytes.

pub mod command_stats;
pub mod latency;
pub mod monitor;
pub mod pause;
pub mod slowlog;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

/// Distinct error codes INFO errorstats keeps (Redis's ERROR_STATS_NUMBER). Replies with further
/// codes count in `total_error_replies` only: a client inventing codes can't grow the table.
pub const ERROR_CODES_MAX: usize = 128;

/// The settings sessions read on every command, mirrored from CONFIG SET into atomics (the
/// parameter table is strings under a lock).
pub struct Settings {
    /// `slowlog-log-slower-than` in microseconds; negative disables the slow log.
    pub slowlog_slower_than_us: AtomicI64,
    pub slowlog_max_len: AtomicU64,
    /// `latency-monitor-threshold` in milliseconds; 0 disables the latency monitor.
    pub latency_threshold_ms: AtomicU64,
    /// `latency-tracking`: per-command latency histograms (INFO latencystats).
    pub latency_tracking: AtomicBool,
    /// `latency-tracking-info-percentiles`.
    pub latency_percentiles: Mutex<Vec<f64>>,
    /// DEBUG SET-ACTIVE-EXPIRE: the background expiry sweep runs.
    pub active_expire: AtomicBool,
    /// DEBUG PAUSE-CRON: the background ticks (expiry sweep, eviction back under the limit)
    /// stand still, as Redis's serverCron does.
    pub cron_paused: AtomicBool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            slowlog_slower_than_us: AtomicI64::new(10_000),
            slowlog_max_len: AtomicU64::new(128),
            latency_threshold_ms: AtomicU64::new(0),
            latency_tracking: AtomicBool::new(true),
            latency_percentiles: Mutex::new(vec![50.0, 99.0, 99.9]),
            active_expire: AtomicBool::new(true),
            cron_paused: AtomicBool::new(false),
        }
    }
}

/// INFO errorstats: replies per error code (the first word of the message).
#[derive(Default)]
pub struct ErrorStats {
    codes: Mutex<BTreeMap<String, u64>>,
    total: AtomicU64,
}

impl ErrorStats {
    /// Count one error reply whose message (without `-` and CRLF) is `msg`. Redis's rule: the
    /// code is the first word when a space comes within 32 bytes, else `ERR`.
    pub fn record(&self, msg: &[u8]) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let head = &msg[..msg.len().min(32)];
        let code = match head.iter().position(|&b| b == b' ') {
            Some(n) => &msg[..n],
            None => b"ERR".as_slice(),
        };
        let code = String::from_utf8_lossy(code);
        let mut codes = self.codes.lock();
        if let Some(n) = codes.get_mut(code.as_ref()) {
            *n += 1;
        } else if codes.len() < ERROR_CODES_MAX {
            codes.insert(code.into_owned(), 1);
        }
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Codes in Redis's order (byte order of the code).
    pub fn codes(&self) -> Vec<(String, u64)> {
        self.codes
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn reset(&self) {
        self.codes.lock().clear();
        self.total.store(0, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct Introspection {
    pub settings: Settings,
    pub commands: command_stats::CommandStats,
    pub errors: ErrorStats,
    pub slowlog: slowlog::SlowLog,
    pub latency: latency::LatencyMonitor,
    pub monitors: monitor::Monitors,
    pub pause: pause::ClientPause,
}

impl Introspection {
    /// A CONFIG SET of `name` (canonical, validated) to `value`: update the mirrored setting.
    /// A lowered `slowlog-max-len` trims the log at once, its bytes given back to `budget`.
    pub fn apply_param(&self, name: &str, value: &str, budget: &ferrite_storage::MemoryBudget) {
        let s = &self.settings;
        match name {
            "slowlog-log-slower-than" => {
                if let Ok(v) = value.parse() {
                    s.slowlog_slower_than_us.store(v, Ordering::Relaxed);
                }
            }
            "slowlog-max-len" => {
                if let Ok(v) = value.parse::<u64>() {
                    s.slowlog_max_len.store(v, Ordering::Relaxed);
                    let max = usize::try_from(v).unwrap_or(usize::MAX);
                    self.slowlog.set_max_len(max, budget);
                }
            }
            "latency-monitor-threshold" => {
                if let Ok(v) = value.parse() {
                    s.latency_threshold_ms.store(v, Ordering::Relaxed);
                }
            }
            "latency-tracking" => s
                .latency_tracking
                .store(value.eq_ignore_ascii_case("yes"), Ordering::Relaxed),
            "latency-tracking-info-percentiles" => {
                let v: Vec<f64> = value
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                *s.latency_percentiles.lock() = v;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_follow_redis_and_stay_bounded() {
        let e = ErrorStats::default();
        e.record(b"WRONGTYPE Operation against a key holding the wrong kind of value");
        e.record(b"ERR unknown command");
        e.record(b"NOSPACEINTHEFIRST32BYTESATALLxxxxxxxxxxxx at all");
        e.record(b"NOSPACE");
        assert_eq!(
            e.codes(),
            vec![("ERR".to_string(), 3), ("WRONGTYPE".to_string(), 1)]
        );
        for i in 0..1000 {
            e.record(format!("C{i} x").as_bytes());
        }
        assert_eq!(e.codes().len(), ERROR_CODES_MAX);
        assert_eq!(e.total(), 1004);
    }
}
