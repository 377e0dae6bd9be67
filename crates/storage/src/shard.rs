//! One shard of a cache's keyspace: a single-owner (`&mut self`) map from key to entry.
//!
//! Concurrency is imposed from outside (a `Mutex` per shard in [`crate::Cache`]), so everything
//! here is plain sequential code: easy to test, to reason about and to benchmark.
//!
//! Storage is an `IndexMap`: hash lookups plus dense positional access. Positions give us three
//! things without extra per-item memory: O(1) random sampling (eviction, RANDOMKEY), a bounded
//! incremental active-expiry sweep (a cursor over positions), and a SCAN cursor with Redis's
//! guarantee (visit positions downward: `swap_remove` only ever moves the *last* element, which a
//! downward cursor has either already visited or will visit).

use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;

use crate::budget::MemoryBudget;
use crate::value::{bytes_cost, Value, ValueKind};
use crate::FastBuild;

/// What one entry costs besides its key and value heap bytes: the index-map bucket (hash, key
/// handle, entry), its `usize` slot in the hash table plus control byte, amortised table slack.
pub const ENTRY_OVERHEAD: usize = 8 + 32 + std::mem::size_of::<Entry>() + 8 + 1 + 15;

/// One cached item.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 = never.
    pub expires_at: u64,
    /// Coarse last-access time (Unix ms >> 10, about a second), for sampled LRU and OBJECT IDLETIME.
    pub access: u32,
}

impl Entry {
    pub fn new(value: Value, expires_at: u64) -> Self {
        Self {
            value,
            expires_at,
            access: 0,
        }
    }
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && self.expires_at <= now
    }
    pub fn kind(&self) -> ValueKind {
        self.value.kind()
    }
}

#[inline]
fn lru_clock(now_ms: u64) -> u32 {
    (now_ms >> 10) as u32
}

#[inline]
fn entry_size(key: &[u8], e: &Entry) -> usize {
    ENTRY_OVERHEAD + bytes_cost(key.len()) + e.value.heap_bytes()
}

/// Counters kept under the shard lock (no shared atomics on the hot path); summed on demand.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

pub struct Shard {
    map: IndexMap<Bytes, Entry, FastBuild>,
    /// Bytes charged for this shard's entries.
    used: usize,
    budget: Arc<MemoryBudget>,
    expire_cursor: usize,
    pub stats: ShardStats,
}

impl Shard {
    pub fn new(budget: Arc<MemoryBudget>) -> Self {
        Self {
            map: IndexMap::with_hasher(FastBuild::default()),
            used: 0,
            budget,
            expire_cursor: 0,
            stats: ShardStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    fn charge(&mut self, delta: isize) {
        self.used = (self.used as isize + delta) as usize;
        self.budget.charge(delta);
    }

    /// Position of a live key, expiring it lazily if its time has come.
    fn live_index(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let idx = self.map.get_index_of(key)?;
        if self.map[idx].is_expired(now) {
            self.remove_index(idx);
            self.stats.expired += 1;
            return None;
        }
        Some(idx)
    }

    /// Read access; counts a keyspace hit or miss and refreshes the LRU clock.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        match self.live_index(key, now) {
            Some(idx) => {
                self.stats.hits += 1;
                let e = &mut self.map[idx];
                e.access = lru_clock(now);
                Some(&self.map[idx])
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Look without counting a hit or touching LRU state (TYPE, EXISTS, TTL, OBJECT).
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let idx = self.live_index(key, now)?;
        Some(&self.map[idx])
    }

    /// Mutable access. Memory accounting and removal of emptied collections happen when the
    /// returned guard is dropped, so callers can mutate freely.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<EntryMut<'_>> {
        let idx = self.live_index(key, now)?;
        Some(self.entry_mut_at(idx, now))
    }

    fn entry_mut_at(&mut self, idx: usize, now: u64) -> EntryMut<'_> {
        let (k, e) = self.map.get_index_mut(idx).expect("index is live");
        e.access = lru_clock(now);
        let old_size = entry_size(k, e);
        EntryMut {
            shard: self,
            idx,
            old_size,
        }
    }

    /// Mutable access to `key`, creating it with `make()` (no expiry) when absent.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now: u64,
        make: impl FnOnce() -> Value,
    ) -> EntryMut<'_> {
        let idx = match self.live_index(key, now) {
            Some(idx) => idx,
            None => {
                let key = crate::value::owned(key);
                let e = Entry::new(make(), 0);
                let size = entry_size(&key, &e);
                let (idx, _) = self.map.insert_full(key, e);
                self.charge(size as isize);
                idx
            }
        };
        self.entry_mut_at(idx, now)
    }

    /// Insert or replace; returns the previous live entry.
    pub fn insert(&mut self, key: &[u8], value: Value, expires_at: u64, now: u64) -> Option<Entry> {
        let mut e = Entry::new(value, expires_at);
        e.access = lru_clock(now);
        if let Some(idx) = self.map.get_index_of(key) {
            let (k, slot) = self.map.get_index_mut(idx).expect("index is live");
            let new_size = entry_size(k, &e) as isize;
            let old_size = entry_size(k, slot) as isize;
            let old = std::mem::replace(slot, e);
            self.charge(new_size - old_size);
            return if old.is_expired(now) {
                self.stats.expired += 1;
                None
            } else {
                Some(old)
            };
        }
        let key = crate::value::owned(key);
        let size = entry_size(&key, &e);
        self.map.insert(key, e);
        self.charge(size as isize);
        None
    }

    /// Remove a live key.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let idx = self.live_index(key, now)?;
        Some(self.remove_index(idx).1)
    }

    fn remove_index(&mut self, idx: usize) -> (Bytes, Entry) {
        let (k, e) = self.map.swap_remove_index(idx).expect("index is live");
        let size = entry_size(&k, &e);
        self.charge(-(size as isize));
        (k, e)
    }

    /// Drop every entry.
    pub fn clear(&mut self) {
        let used = self.used as isize;
        self.map = IndexMap::with_hasher(FastBuild::default());
        self.charge(-used);
        self.expire_cursor = 0;
    }

    /// Iterate live entries (KEYS, FLUSH-like admin views). O(n): callers are admin commands.
    pub fn iter_live(&self, now: u64) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.map.iter().filter(move |(_, e)| !e.is_expired(now))
    }

    /// A uniformly random live key (tries a few samples to skip expired ones).
    pub fn random_key(&mut self, now: u64) -> Option<Bytes> {
        let mut rng = rand::thread_rng();
        for _ in 0..16 {
            if self.map.is_empty() {
                return None;
            }
            let idx = rng.gen_range(0..self.map.len());
            if self.map[idx].is_expired(now) {
                self.remove_index(idx);
                self.stats.expired += 1;
                continue;
            }
            return Some(self.map.get_index(idx).expect("in range").0.clone());
        }
        None
    }

    /// One SCAN step. `pos` is how many positions remain unvisited (visit `pos-1` down to 0);
    /// pass `None` to start. Returns the new remaining count (0 = shard done).
    pub fn scan(
        &mut self,
        pos: Option<usize>,
        count: usize,
        now: u64,
        mut visit: impl FnMut(&Bytes, &Entry),
    ) -> usize {
        let mut pos = pos.unwrap_or(self.map.len()).min(self.map.len());
        let mut seen = 0;
        while pos > 0 && seen < count {
            pos -= 1;
            seen += 1;
            let (k, e) = self.map.get_index(pos).expect("in range");
            if !e.is_expired(now) {
                visit(k, e);
            }
        }
        pos
    }

    /// One bounded step of active expiry: examine up to `budget` entries from a rotating
    /// cursor and remove the expired ones. Returns (examined, expired).
    pub fn expire_step(&mut self, now: u64, budget: usize) -> (usize, usize) {
        let mut examined = 0;
        let mut expired = 0;
        while examined < budget && !self.map.is_empty() {
            if self.expire_cursor >= self.map.len() {
                self.expire_cursor = 0;
                if examined > 0 {
                    break; // wrapped around: one full lap per call at most
                }
            }
            examined += 1;
            if self.map[self.expire_cursor].is_expired(now) {
                // swap_remove moves the last entry here: examine this position again.
                self.remove_index(self.expire_cursor);
                expired += 1;
            } else {
                self.expire_cursor += 1;
            }
        }
        self.stats.expired += expired as u64;
        (examined, expired)
    }

    /// Evict one entry chosen by sampled LRU (an expired sample wins outright).
    /// Returns the bytes freed, or None when the shard is empty.
    pub fn evict_one(&mut self, samples: usize, now: u64) -> Option<usize> {
        if self.map.is_empty() {
            return None;
        }
        let mut rng = rand::thread_rng();
        let mut victim = rng.gen_range(0..self.map.len());
        let mut victim_access = self.map[victim].access;
        for _ in 1..samples.max(1) {
            let idx = rng.gen_range(0..self.map.len());
            let e = &self.map[idx];
            if e.is_expired(now) {
                victim = idx;
                break;
            }
            // Wrapping difference handles the (theoretical) u32 wrap of the coarse clock.
            if lru_clock(now).wrapping_sub(e.access) > lru_clock(now).wrapping_sub(victim_access) {
                victim = idx;
                victim_access = e.access;
            }
        }
        let before = self.used;
        let expired = self.map[victim].is_expired(now);
        self.remove_index(victim);
        if expired {
            self.stats.expired += 1;
        } else {
            self.stats.evicted += 1;
        }
        Some(before - self.used)
    }

    /// Size in bytes charged for `key` (MEMORY USAGE).
    pub fn memory_usage(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let idx = self.live_index(key, now)?;
        let (k, e) = self.map.get_index(idx).expect("live");
        Some(entry_size(k, e))
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        // Give the bytes back to the global budget when a cache is deleted.
        let used = self.used as isize;
        self.budget.charge(-used);
    }
}

/// A mutable borrow of one entry. On drop it re-measures the entry, charges the difference to
/// the budget, and removes the key if a collection became empty (Redis semantics).
pub struct EntryMut<'a> {
    shard: &'a mut Shard,
    idx: usize,
    old_size: usize,
}

impl EntryMut<'_> {
    pub fn key(&self) -> &Bytes {
        self.shard.map.get_index(self.idx).expect("live").0
    }
}

impl std::ops::Deref for EntryMut<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        &self.shard.map[self.idx]
    }
}

impl std::ops::DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut Entry {
        &mut self.shard.map[self.idx]
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        let (k, e) = self.shard.map.get_index(self.idx).expect("live");
        let new_size = entry_size(k, e);
        if e.value.is_empty_collection() {
            // remove_index credits the current size; settle the rest of what was charged.
            self.shard.remove_index(self.idx);
            self.shard
                .charge(new_size as isize - self.old_size as isize);
            return;
        }
        self.shard
            .charge(new_size as isize - self.old_size as isize);
    }
}
