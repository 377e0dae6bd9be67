//! The global memory budget shared by every cache and shard, and the eviction policy that
//! decides what goes when it is spent.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// What to do when a write needs memory and the budget is spent: Redis's eight
/// `maxmemory-policy` values, with Redis's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Sampled LRU among keys with a TTL.
    VolatileLru,
    /// Sampled LFU among keys with a TTL.
    VolatileLfu,
    /// A random key with a TTL.
    VolatileRandom,
    /// Among sampled keys with a TTL, the one that expires soonest.
    VolatileTtl,
    /// Sampled LRU over all keys of all caches.
    AllKeysLru,
    /// Sampled LFU (Redis's logarithmic counter with decay) over all keys.
    AllKeysLfu,
    /// A random key.
    AllKeysRandom,
    /// Refuse writes with an OOM error.
    NoEviction,
}

impl EvictionPolicy {
    /// Every policy, in the order Redis lists them in its CONFIG SET error.
    pub const ALL: [Self; 8] = [
        Self::VolatileLru,
        Self::VolatileLfu,
        Self::VolatileRandom,
        Self::VolatileTtl,
        Self::AllKeysLru,
        Self::AllKeysLfu,
        Self::AllKeysRandom,
        Self::NoEviction,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("lru") {
            return Some(Self::AllKeysLru);
        }
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::VolatileLru => "volatile-lru",
            Self::VolatileLfu => "volatile-lfu",
            Self::VolatileRandom => "volatile-random",
            Self::VolatileTtl => "volatile-ttl",
            Self::AllKeysLru => "allkeys-lru",
            Self::AllKeysLfu => "allkeys-lfu",
            Self::AllKeysRandom => "allkeys-random",
            Self::NoEviction => "noeviction",
        }
    }

    /// "volatile-lru, volatile-lfu, ..., noeviction": what a bad name is told.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Only keys with a TTL may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Self::VolatileLru | Self::VolatileLfu | Self::VolatileRandom | Self::VolatileTtl
        )
    }

    /// Keys carry an LFU counter instead of an LRU clock (see [`crate::access`]).
    pub fn tracks_frequency(self) -> bool {
        matches!(self, Self::VolatileLfu | Self::AllKeysLfu)
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
    /// Read by every key access (which stamp to write), so it sits on its own cache line, away
    /// from `used`, which every write on every core changes.
    access: CacheLine<AccessTracking>,
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct CacheLine<T>(T);

/// How key accesses are recorded: Redis keeps either an LRU clock or an LFU counter in the
/// same field of each key, depending on the policy; so does Ferrite.
#[derive(Debug)]
struct AccessTracking {
    lfu: AtomicBool,
    log_factor: AtomicU32,
    decay_minutes: AtomicU32,
}

impl Default for AccessTracking {
    fn default() -> Self {
        let p = LfuParams::default();
        Self {
            lfu: AtomicBool::new(false),
            log_factor: AtomicU32::new(p.log_factor),
            decay_minutes: AtomicU32::new(p.decay_minutes),
        }
    }
}

/// The LFU tuning in force (Redis's `lfu-log-factor` and `lfu-decay-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LfuParams {
    pub log_factor: u32,
    pub decay_minutes: u32,
}

impl Default for LfuParams {
    /// Redis's defaults.
    fn default() -> Self {
        Self {
            log_factor: crate::access::DEFAULT_LOG_FACTOR,
            decay_minutes: crate::access::DEFAULT_DECAY_MINUTES,
        }
    }
}

impl MemoryBudget {
    pub fn new(limit: u64) -> Self {
        Self {
            limit: AtomicU64::new(limit),
            used: AtomicI64::new(0),
            access: CacheLine::default(),
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

    /// The LFU parameters when keys carry LFU counters, None when they carry LRU clocks.
    #[inline]
    pub fn lfu(&self) -> Option<LfuParams> {
        let a = &self.access.0;
        if !a.lfu.load(Ordering::Relaxed) {
            return None;
        }
        Some(LfuParams {
            log_factor: a.log_factor.load(Ordering::Relaxed),
            decay_minutes: a.decay_minutes.load(Ordering::Relaxed),
        })
    }

    /// Switch what accesses record (the policy changed). Like Redis, keys keep what they had:
    /// their stamps read as the other kind until they are next accessed.
    pub fn set_tracks_frequency(&self, on: bool) {
        self.access.0.lfu.store(on, Ordering::Relaxed);
    }

    pub fn set_lfu_log_factor(&self, v: u32) {
        self.access.0.log_factor.store(v, Ordering::Relaxed);
    }

    pub fn set_lfu_decay_minutes(&self, v: u32) {
        self.access.0.decay_minutes.store(v, Ordering::Relaxed);
    }
}
