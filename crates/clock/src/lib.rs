//! The time source of Ferrite's engines (storage: TTLs and expiry; topics: publish times,
//! retention and idle sweeps). Every time decision goes through a [`Clock`], so tests (and the
//! property tests against a model) move time by hand instead of sleeping. One trait for both
//! engines, so the server can hand them one clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch. Absolute wall-clock time is what Redis's EXPIREAT/PXAT and
/// EXPIRETIME speak (the storage engine keeps absolute expiry instants in this unit) and what
/// topic messages carry as `published_at_ms`.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (or any fixed origin, for tests).
    fn now_ms(&self) -> u64;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to: for tests. Clones share one reading.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(start_ms)))
    }
    /// Move the time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Set the time.
    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_one_reading() {
        let a = ManualClock::new(5);
        let b = a.clone();
        a.advance(10);
        assert_eq!(b.now_ms(), 15);
        b.set(1);
        assert_eq!(a.now_ms(), 1);
    }

    #[test]
    fn system_clock_reads_wall_time() {
        // 2020-09-13 in ms: any real clock is past it.
        assert!(SystemClock.now_ms() > 1_600_000_000_000);
    }
}
