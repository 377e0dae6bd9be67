//! The set of named caches sharing one memory budget, one clock, one eviction policy.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::budget::{EvictionPolicy, MemoryBudget};
use crate::cache::Cache;
use crate::clock::SharedClock;
use crate::feed::{ChangeListener, FeedHub};
use crate::shard::ShardStats;

/// The most keys one eviction samples (see [`Store::set_eviction_samples`]).
pub const MAX_EVICTION_SAMPLES: usize = 1024;

/// The cache RESP clients use unless auth binds them to another.
pub const DEFAULT_CACHE: &str = "default";

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Bytes all caches together may use for items.
    pub maxmemory: u64,
    pub policy: EvictionPolicy,
    /// Keys sampled per eviction (Redis's maxmemory-samples).
    pub eviction_samples: usize,
    /// Shards per cache (rounded up to a power of two).
    pub shards: usize,
    /// Entries examined per shard per active-expiry tick.
    pub expire_budget: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            maxmemory: 1 << 30,
            policy: EvictionPolicy::AllKeysLru,
            eviction_samples: 5,
            shards: 16,
            expire_budget: 200,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("command not allowed when used memory > 'maxmemory'")]
    OutOfMemory,
    #[error("cache already exists")]
    CacheExists,
    #[error("cache not found")]
    CacheNotFound,
    #[error("the caches have different shard counts")]
    ShardCountMismatch,
}

pub struct Store {
    caches: RwLock<BTreeMap<String, Arc<Cache>>>,
    budget: Arc<MemoryBudget>,
    clock: SharedClock,
    cfg: RwLock<StoreConfig>,
    /// Round-robin position of the evictor over (cache, shard), so eviction spreads evenly.
    evict_cursor: AtomicUsize,
    /// Totals from deleted caches, so INFO counters never go backwards.
    retired: parking_lot::Mutex<ShardStats>,
    /// Frees memory held outside the caches but charged to the same budget (topic replay
    /// rings), asked before keys are evicted; returns bytes freed.
    reclaimer: std::sync::OnceLock<Reclaimer>,
    /// Store-wide listeners of every cache's change feed (blocked-list wake-ups, keyspace
    /// notifications).
    hub: Arc<FeedHub>,
}

/// See [`Store::set_reclaimer`].
pub type Reclaimer = Box<dyn Fn(u64) -> u64 + Send + Sync>;

impl Store {
    pub fn new(cfg: StoreConfig, clock: SharedClock) -> Arc<Self> {
        let store = Arc::new(Self {
            caches: RwLock::new(BTreeMap::new()),
            budget: Arc::new(MemoryBudget::new(cfg.maxmemory)),
            clock,
            cfg: RwLock::new(cfg),
            evict_cursor: AtomicUsize::new(0),
            retired: parking_lot::Mutex::new(ShardStats::default()),
            reclaimer: std::sync::OnceLock::new(),
            hub: Arc::default(),
        });
        let policy = store.cfg.read().policy;
        store.budget.set_tracks_frequency(policy.tracks_frequency());
        store.get_or_create(DEFAULT_CACHE);
        store
    }

    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }
    /// The budget itself, for other engines that charge it (the topics engine).
    pub fn budget_handle(&self) -> Arc<MemoryBudget> {
        self.budget.clone()
    }
    /// Register what frees non-key memory charged to the budget (topic replay rings): called
    /// with the bytes wanted before any key is evicted, and under `noeviction` too (retained
    /// messages are history, not data). Only the first registration counts.
    pub fn set_reclaimer(&self, f: Reclaimer) {
        let _ = self.reclaimer.set(f);
    }
    pub fn config(&self) -> StoreConfig {
        self.cfg.read().clone()
    }
    pub fn set_maxmemory(&self, bytes: u64) {
        self.cfg.write().maxmemory = bytes;
        self.budget.set_limit(bytes);
    }
    pub fn set_policy(&self, p: EvictionPolicy) {
        self.cfg.write().policy = p;
        self.budget.set_tracks_frequency(p.tracks_frequency());
    }

    /// Keys sampled per eviction (Redis's `maxmemory-samples`, which accepts up to 2^31-1).
    /// Capped at [`MAX_EVICTION_SAMPLES`]: a write waits for its eviction, and past a few dozen
    /// samples the choice barely improves.
    pub fn set_eviction_samples(&self, n: usize) {
        self.cfg.write().eviction_samples = n.clamp(1, MAX_EVICTION_SAMPLES);
    }

    /// Listen to every cache's change feed (server start-up). The listener is called while a
    /// cache's feed is active; see [`Self::hold_feed`] for a listener that wants every event.
    pub fn add_listener(&self, l: Arc<dyn ChangeListener>) {
        self.hub.register(l);
    }

    /// Make every cache's feed deliver events (now and for caches created later) until
    /// [`Self::release_feed`]: what keyspace notifications do while enabled.
    pub fn hold_feed(&self) {
        // Under the registry's write lock, so a cache being created either sees the new count
        // or is in the map this walks, never neither.
        let caches = self.caches.write();
        self.hub.global.fetch_add(1, Ordering::SeqCst);
        for c in caches.values() {
            c.feed().hold();
        }
    }

    pub fn release_feed(&self) {
        let caches = self.caches.write();
        self.hub.global.fetch_sub(1, Ordering::SeqCst);
        for c in caches.values() {
            c.feed().release();
        }
    }

    fn new_cache(&self, name: &str, shards: usize) -> Arc<Cache> {
        Arc::new(Cache::with_hub(
            name,
            shards,
            self.budget.clone(),
            self.hub.clone(),
        ))
    }

    pub fn cache(&self, name: &str) -> Option<Arc<Cache>> {
        self.caches.read().get(name).cloned()
    }

    pub fn get_or_create(&self, name: &str) -> Arc<Cache> {
        if let Some(c) = self.cache(name) {
            return c;
        }
        let shards = self.cfg.read().shards;
        self.caches
            .write()
            .entry(name.to_string())
            .or_insert_with(|| self.new_cache(name, shards))
            .clone()
    }

    pub fn create_cache(&self, name: &str) -> Result<Arc<Cache>, StoreError> {
        let shards = self.cfg.read().shards;
        let mut caches = self.caches.write();
        if caches.contains_key(name) {
            return Err(StoreError::CacheExists);
        }
        let c = self.new_cache(name, shards);
        caches.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Remove a cache; its memory is returned to the budget when the last handle drops.
    pub fn delete_cache(&self, name: &str) -> Result<(), StoreError> {
        let removed = self
            .caches
            .write()
            .remove(name)
            .ok_or(StoreError::CacheNotFound)?;
        let st = removed.stats();
        let mut r = self.retired.lock();
        r.hits += st.hits;
        r.misses += st.misses;
        r.expired += st.expired;
        r.evicted += st.evicted;
        drop(r);
        // Every shard emits a flush: WATCHes on the cache fail, listeners see it go.
        removed.flush();
        Ok(())
    }

    pub fn caches(&self) -> Vec<Arc<Cache>> {
        self.caches.read().values().cloned().collect()
    }

    /// Make room before a write that may grow memory by about `incoming` bytes
    /// (Redis's performEvictions before a deny-oom command).
    ///
    /// Locks one shard at a time and nothing else, so it can run before the command takes its
    /// own locks without any lock-order risk.
    pub fn ensure_memory(&self, incoming: u64) -> Result<(), StoreError> {
        if !self.budget.would_exceed(incoming) {
            return Ok(());
        }
        let (policy, samples) = {
            let c = self.cfg.read();
            (c.policy, c.eviction_samples)
        };
        if incoming > self.budget.limit() {
            return Err(StoreError::OutOfMemory);
        }
        if let Some(reclaim) = self.reclaimer.get() {
            let over = (self.budget.used() + incoming).saturating_sub(self.budget.limit());
            reclaim(over);
            if !self.budget.would_exceed(incoming) {
                return Ok(());
            }
        }
        if policy == EvictionPolicy::NoEviction {
            return Err(StoreError::OutOfMemory);
        }
        let caches = self.caches();
        let total_shards: usize = caches.iter().map(|c| c.shard_count()).sum();
        if total_shards == 0 {
            return Err(StoreError::OutOfMemory);
        }
        let now = self.now_ms();
        // Every shard gets visited at most twice before we give up; each visit evicts a batch.
        let mut empty_visits = 0;
        for _ in 0..total_shards * 2 {
            if !self.budget.would_exceed(incoming) {
                return Ok(());
            }
            let pos = self.evict_cursor.fetch_add(1, Ordering::Relaxed) % total_shards;
            let (cache, shard_idx) = locate(&caches, pos);
            let mut shard = cache.lock_shard(shard_idx);
            let mut evicted_any = false;
            for _ in 0..32 {
                if !self.budget.would_exceed(incoming) {
                    break;
                }
                match shard.evict_one(policy, samples, now) {
                    Some(_) => evicted_any = true,
                    None => break,
                }
            }
            if !evicted_any {
                empty_visits += 1;
                if empty_visits >= total_shards {
                    break;
                }
            }
        }
        if self.budget.would_exceed(incoming) {
            Err(StoreError::OutOfMemory)
        } else {
            Ok(())
        }
    }

    /// One active-expiry tick over every shard of every cache, each bounded by the budget.
    /// Shards where a quarter or more of the examined keys had expired get another pass
    /// (Redis's adaptive loop), at most a few per tick. Returns keys expired.
    pub fn active_expire_tick(&self) -> usize {
        let budget = self.cfg.read().expire_budget;
        let now = self.now_ms();
        let mut total = 0;
        for cache in self.caches() {
            for i in 0..cache.shard_count() {
                for _ in 0..4 {
                    let (examined, expired) = cache.lock_shard(i).expire_step(now, budget);
                    total += expired;
                    if examined == 0 || expired * 4 < examined {
                        break;
                    }
                }
            }
        }
        total
    }

    /// Totals over all caches (plus deleted ones).
    pub fn stats(&self) -> ShardStats {
        let mut t = *self.retired.lock();
        for c in self.caches() {
            let s = c.stats();
            t.hits += s.hits;
            t.misses += s.misses;
            t.expired += s.expired;
            t.evicted += s.evicted;
        }
        t
    }
}

fn locate(caches: &[Arc<Cache>], mut pos: usize) -> (&Arc<Cache>, usize) {
    for c in caches {
        if pos < c.shard_count() {
            return (c, pos);
        }
        pos -= c.shard_count();
    }
    unreachable!("pos is taken modulo the total shard count")
}
