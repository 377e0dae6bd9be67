//! The global memory budget shared by every cache and shard.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// What to do when a write needs memory and the budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Sampled LRU over all keys of all caches (Redis's allkeys-lru).
    AllKeysLru,
    /// Refuse writes with an OOM error.
    NoEviction,
}

impl EvictionPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "allkeys-lru" | "lru" => Some(Self::AllKeysLru),
            "noeviction" => Some(Self::NoEviction),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::AllKeysLru => "allkeys-lru",
            Self::NoEviction => "noeviction",
        }
    }
}

/// Bytes charged by all shards against one limit.
///
/// One atomic add per *write* (reads never touch it). At the core counts Ferrite targets this
/// is cheap; if it shows up in profiles, batch per-shard deltas before publishing them.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: AtomicU64,
    used: AtomicI64,
}

impl MemoryBudget {
    pub fn new(limit: u64) -> Self {
        Self {
            limit: AtomicU64::new(limit),
            used: AtomicI64::new(0),
        }
    }
    #[inline]
    pub fn charge(&self, delta: isize) {
        if delta != 0 {
            self.used.fetch_add(delta as i64, Ordering::Relaxed);
        }
    }
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed).max(0) as u64
    }
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }
    /// True when `extra` more bytes would exceed the limit.
    #[inline]
    pub fn would_exceed(&self, extra: u64) -> bool {
        self.used().saturating_add(extra) > self.limit()
    }
}
