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
//!
//! Small strings (key ≤ 255 B, value ≤ 4 KiB) do not live in the map but in a
//! [`SegmentStore`] (records in per-shard segments, ~8 bytes of metadata per item instead of
//! ~140). A key lives in exactly one of the two. Readers of the general API (`get`, `peek`,
//! `remove`) see a segment record as an `Entry` materialised into a per-shard view; the hot
//! read path (`read_str`) borrows the bytes instead. Mutable access (`get_mut`) moves the item
//! to the map ("promotion"), where in-place mutations (APPEND, INCR, EXPIRE) work as before; the
//! next plain SET of a small string moves it back.

use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;

use crate::access::{self, lru_clock};
use crate::budget::{EvictionPolicy, LfuParams, MemoryBudget};
use crate::feed::{Change, Feed, ValueRef};
use crate::segments::{self, Record, SegCursor, SegmentStore};
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
    /// What the key records of its use: an LRU clock (Unix seconds) or, under an LFU policy,
    /// an LFU counter and its decay time (see [`crate::access`]).
    pub access: u32,
    /// Bytes allocated past the end of a string grown in place by [`Shard::append_str`] or
    /// [`Shard::setrange_str`] (its capacity minus its length); 0 for exact-size values. Charged
    /// with the entry, so the budget sees the allocation really made. Fits the padding after
    /// `access`, so `Entry` is no larger for it.
    spare: u32,
}

impl Entry {
    pub fn new(value: Value, expires_at: u64) -> Self {
        Self {
            value,
            expires_at,
            access: 0,
            spare: 0,
        }
    }

    /// Replace the value (dropping any spare capacity the old string had).
    pub fn set_value(&mut self, value: Value) {
        self.value = value;
        self.spare = 0;
    }

    /// Spare capacity of a string grown in place (see the field): tests and MEMORY USAGE.
    pub fn spare_capacity(&self) -> usize {
        self.spare as usize
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
fn entry_size(key: &[u8], e: &Entry) -> usize {
    let grown = if e.spare > 0 {
        e.spare as usize + GROWN_OVERHEAD
    } else {
        0
    };
    ENTRY_OVERHEAD + bytes_cost(key.len()) + e.value.heap_bytes() + grown
}

/// How many map entries a volatile-* eviction looks through for keys with a TTL when random
/// probes found none (few keys have one): bounded, so a write never scans a whole shard.
const VOLATILE_SCAN: usize = 1024;

/// How good a victim a key is under `policy`, higher = evict first: expired keys above all,
/// then idle seconds (LRU), 255 minus the decayed counter (LFU), nearness of expiry (TTL), or
/// a random draw.
fn victim_score(
    policy: EvictionPolicy,
    expires_at: u64,
    stamp: u32,
    now: u64,
    lfu: Option<LfuParams>,
    rng: &mut impl Rng,
) -> u64 {
    if expires_at != 0 && expires_at <= now {
        return u64::MAX;
    }
    let params = lfu.unwrap_or_default();
    match policy {
        EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => access::idle_secs(stamp, now),
        EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => {
            255 - access::lfu_counter(stamp, now, params) as u64
        }
        EvictionPolicy::VolatileTtl => u64::MAX - 1 - expires_at.min(u64::MAX - 2),
        EvictionPolicy::AllKeysRandom
        | EvictionPolicy::VolatileRandom
        | EvictionPolicy::NoEviction => rng.gen_range(0..u64::MAX - 1),
    }
}

/// What a string grown in place costs besides its capacity: `bytes`' shared header
/// (buffer pointer, capacity, reference count) and its allocation overhead.
pub const GROWN_OVERHEAD: usize = 24 + crate::value::ALLOC_OVERHEAD;

/// Largest string APPEND/SETRANGE may build (Redis's proto-max-bulk-len default).
pub const MAX_STRING: usize = 512 * 1024 * 1024;

/// Why an in-place string write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrWriteError {
    /// The key holds another type.
    WrongType,
    /// The result would pass [`MAX_STRING`].
    TooLarge,
    /// The memory the write must allocate would pass the budget's limit.
    OutOfMemory,
}

/// Past this length a growing string gets this much spare room, not as much again (Redis's
/// `SDS_MAX_PREALLOC`): doubling a 40 MiB value would charge 80 MiB to the budget for one byte
/// more, so under a 64 MiB `maxmemory` no value could pass 32 MiB.
const GREEDY_GROWTH_MAX: usize = 1 << 20;

/// Capacity to grow a string to when `needed` bytes no longer fit: twice `needed` below 1 MiB,
/// `needed` + 1 MiB above (as Redis's sdsMakeRoomFor), so a run of small appends reallocates
/// O(log n) times below 1 MiB and once per MiB above, where `realloc` moves the pages by
/// remapping instead of copying. Never more than [`MAX_STRING`] unless `needed` itself is
/// (which callers refuse first).
#[inline]
fn grown_capacity(needed: usize) -> usize {
    let greedy = if needed < GREEDY_GROWTH_MAX {
        needed.saturating_mul(2)
    } else {
        needed.saturating_add(GREEDY_GROWTH_MAX)
    };
    needed.max(greedy.min(MAX_STRING))
}

/// Counters kept under the shard lock (no shared atomics on the hot path); summed on demand.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

/// Where a live key is.
#[derive(Clone, Copy)]
enum Slot {
    Map(usize),
    Seg(u64),
}

/// What a shard-level walk reports per key (KEYS, SCAN, INFO keyspace).
#[derive(Debug, Clone, Copy)]
pub struct KeyInfo<'a> {
    pub key: &'a [u8],
    pub kind: ValueKind,
    /// Absolute expiry in Unix ms; 0 = never.
    pub expires_at: u64,
}

/// Bit of a shard-local SCAN cursor that says the map is done and the segment store is being
/// walked; below it: the map's remaining positions, or (segment seq << 16 | offset).
const SCAN_SEGMENTS: u64 = 1 << 46;
const SCAN_OFF_BITS: u32 = 16;

fn entry_of(r: &Record<'_>) -> Entry {
    Entry {
        value: Value::Str(Bytes::copy_from_slice(r.value)),
        expires_at: r.expires_at,
        access: r.access,
        spare: 0,
    }
}

pub struct Shard {
    map: IndexMap<Bytes, Entry, FastBuild>,
    /// Small strings (see the module docs).
    seg: SegmentStore,
    /// A segment record materialised for `get`/`peek`, which hand out `&Entry`.
    view: Entry,
    /// Bytes charged for this shard's entries (map entries + `seg.bytes()`).
    used: usize,
    /// The part of `used` that is `seg.bytes()`, as last charged.
    seg_charged: usize,
    budget: Arc<MemoryBudget>,
    expire_cursor: usize,
    pub stats: ShardStats,
    /// The cache's change feed: every mutation below emits into it (one branch when idle).
    feed: Arc<Feed>,
}

impl Shard {
    /// A shard on its own (tests, benches): its feed has no listeners.
    pub fn new(budget: Arc<MemoryBudget>) -> Self {
        Self::with_feed(budget, Feed::detached())
    }

    /// A shard of a cache, emitting its changes into the cache's `feed`.
    pub fn with_feed(budget: Arc<MemoryBudget>, feed: Arc<Feed>) -> Self {
        Self {
            map: IndexMap::with_hasher(FastBuild::default()),
            seg: SegmentStore::new(),
            view: Entry::new(Value::Str(Bytes::new()), 0),
            used: 0,
            seg_charged: 0,
            budget,
            expire_cursor: 0,
            stats: ShardStats::default(),
            feed,
        }
    }

    /// Emit a change of `key` (what the feed's listeners see). One relaxed load and branch
    /// when nothing listens; the event is built only when something does.
    #[inline(always)]
    fn note(&self, key: &[u8], change: Change, expires_at: u64, value: ValueRef<'_>) {
        if self.feed.active() {
            self.feed.emit(key, change, expires_at, value);
        }
    }

    /// A key left because its TTL passed.
    #[inline(always)]
    fn note_expired(&self, key: &[u8]) {
        self.note(key, Change::Expired, 0, ValueRef::Gone);
    }

    /// Emit `change` for `key` with its current value and TTL (no lazy expiry, no LRU touch).
    fn note_current(&self, key: &[u8], change: Change, now: u64) {
        if !self.feed.active() {
            return;
        }
        if let Some(loc) = self.seg.find(key) {
            let r = self.seg.record(loc);
            if !r.is_expired(now) {
                return self
                    .feed
                    .emit(key, change, r.expires_at, ValueRef::Str(r.value));
            }
        }
        match self.map.get(key) {
            Some(e) => self
                .feed
                .emit(key, change, e.expires_at, ValueRef::Value(&e.value)),
            None => self.feed.emit(key, change, 0, ValueRef::Gone),
        }
    }

    /// Tell the feed that `key` changed in a way no mutation method below reports by itself:
    /// SET's `expire` after its `set`, EXPIRE/PERSIST done through [`EntryMut`] report via
    /// [`EntryMut::changed`] instead. The event carries the key's current value and TTL.
    pub fn notify(&mut self, key: &[u8], change: Change, now: u64) {
        self.note_current(key, change, now);
    }

    pub fn len(&self) -> usize {
        self.map.len() + self.seg.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty() && self.seg.is_empty()
    }
    /// Keys held in the compact segment store (the rest are in the map).
    pub fn segment_keys(&self) -> usize {
        self.seg.len()
    }
    /// Segments allocated by the compact store.
    pub fn segment_count(&self) -> usize {
        self.seg.segment_count()
    }
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    fn charge(&mut self, delta: isize) {
        self.used = (self.used as isize + delta) as usize;
        self.budget.charge(delta);
    }

    /// Charge the budget for whatever the segment store's size did since the last call.
    fn sync_seg(&mut self) {
        let now = self.seg.bytes();
        let delta = now as isize - self.seg_charged as isize;
        self.seg_charged = now;
        self.charge(delta);
    }

    /// Where a live key is, expiring it lazily if its time has come.
    fn live_slot(&mut self, key: &[u8], now: u64) -> Option<Slot> {
        if let Some(loc) = self.seg.find(key) {
            if self.seg.record(loc).is_expired(now) {
                self.seg.remove_at(loc);
                self.sync_seg();
                self.stats.expired += 1;
                self.note_expired(key);
                return None;
            }
            return Some(Slot::Seg(loc));
        }
        self.live_index(key, now).map(Slot::Map)
    }

    /// Move a segment record into the map (for mutable access); returns its map position.
    fn promote(&mut self, loc: u64) -> usize {
        let (key, e) = {
            let r = self.seg.record(loc);
            (crate::value::owned(r.key), entry_of(&r))
        };
        self.seg.remove_at(loc);
        self.sync_seg();
        let size = entry_size(&key, &e);
        let (idx, _) = self.map.insert_full(key, e);
        self.charge(size as isize);
        idx
    }

    /// Position of a live key in the map, expiring it lazily if its time has come.
    fn live_index(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let idx = self.map.get_index_of(key)?;
        if self.map[idx].is_expired(now) {
            self.remove_index(idx);
            self.stats.expired += 1;
            self.note_expired(key);
            return None;
        }
        Some(idx)
    }

    /// Read access; counts a keyspace hit or miss and refreshes the LRU clock.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        match self.live_slot(key, now) {
            Some(Slot::Seg(loc)) => {
                self.stats.hits += 1;
                self.touch_seg(loc, now);
                self.view = entry_of(&self.seg.record(loc));
                Some(&self.view)
            }
            Some(Slot::Map(idx)) => {
                self.stats.hits += 1;
                let lfu = self.budget.lfu();
                let e = &mut self.map[idx];
                e.access = access::accessed(lfu, e.access, now);
                Some(&self.map[idx])
            }
            None => {
                self.stats.misses += 1;
                self.note(key, Change::KeyMiss, 0, ValueRef::Gone);
                None
            }
        }
    }

    /// A segment record was read or written: refresh its stamp (its old one is read only
    /// under LFU, which counts from it) and mark it hot.
    #[inline]
    fn touch_seg(&mut self, loc: u64, now: u64) {
        let stamp = match self.budget.lfu() {
            None => lru_clock(now),
            Some(p) => access::lfu_accessed(self.seg.record(loc).access, now, p),
        };
        self.seg.touch(loc, stamp);
    }

    /// The stamp of `key` being written now. Under LFU a rewrite keeps counting the key's uses
    /// (Redis carries the counter over when a value is overwritten), so the old stamp is looked
    /// up first; under LRU it is just the clock.
    fn write_stamp(&self, key: &[u8], now: u64) -> u32 {
        let Some(p) = self.budget.lfu() else {
            return lru_clock(now);
        };
        let old = match self.map.get(key) {
            Some(e) => Some(e.access),
            None => self.seg.find(key).map(|l| self.seg.record(l).access),
        };
        match old {
            Some(stamp) => access::lfu_accessed(stamp, now, p),
            None => access::created(Some(p), now),
        }
    }

    /// Backdate a key's last access to `idle_ms` before `now` (RESTORE IDLETIME), so OBJECT
    /// IDLETIME and LRU eviction see it as that old. Returns false when the key is missing.
    pub fn set_idle(&mut self, key: &[u8], idle_ms: u64, now: u64) -> bool {
        self.set_stamp(key, lru_clock(now.saturating_sub(idle_ms)), now)
    }

    /// Set a key's LFU counter (RESTORE FREQ), as of now. False when the key is missing.
    pub fn set_freq(&mut self, key: &[u8], freq: u8, now: u64) -> bool {
        self.set_stamp(key, access::lfu_stamp(freq, now), now)
    }

    /// The LFU counter of a stamp as eviction sees it now (OBJECT FREQ), None when no LFU
    /// policy is selected.
    pub fn frequency(&self, stamp: u32, now: u64) -> Option<u8> {
        self.budget
            .lfu()
            .map(|p| access::lfu_counter(stamp, now, p))
    }

    fn set_stamp(&mut self, key: &[u8], clock: u32, now: u64) -> bool {
        match self.live_slot(key, now) {
            Some(Slot::Seg(loc)) => {
                self.seg.touch(loc, clock);
                true
            }
            Some(Slot::Map(idx)) => {
                self.map[idx].access = clock;
                true
            }
            None => false,
        }
    }

    /// Look without counting a hit or touching LRU state (TYPE, EXISTS, TTL, OBJECT).
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        match self.live_slot(key, now)? {
            Slot::Seg(loc) => {
                self.view = entry_of(&self.seg.record(loc));
                Some(&self.view)
            }
            Slot::Map(idx) => Some(&self.map[idx]),
        }
    }

    /// A key's type and expiry without reading its value (EXISTS, TYPE, TTL): unlike `peek`, no
    /// copy of a compact string is made. No hit is counted and LRU is not touched.
    pub fn peek_meta(&mut self, key: &[u8], now: u64) -> Option<(ValueKind, u64)> {
        match self.live_slot(key, now)? {
            Slot::Seg(loc) => Some((ValueKind::String, self.seg.record(loc).expires_at)),
            Slot::Map(idx) => {
                let e = &self.map[idx];
                Some((e.kind(), e.expires_at))
            }
        }
    }

    /// The hot read path for strings (GET): counts a hit or miss and refreshes LRU like `get`,
    /// and lends the bytes to `f` instead of copying them into an `Entry`. `Some(Err(kind))`
    /// when the key holds another type.
    pub fn read_str<R>(
        &mut self,
        key: &[u8],
        now: u64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Option<Result<R, ValueKind>> {
        match self.live_slot(key, now) {
            Some(Slot::Seg(loc)) => {
                self.stats.hits += 1;
                self.touch_seg(loc, now);
                Some(Ok(f(self.seg.record(loc).value)))
            }
            Some(Slot::Map(idx)) => {
                self.stats.hits += 1;
                let lfu = self.budget.lfu();
                let e = &mut self.map[idx];
                e.access = access::accessed(lfu, e.access, now);
                Some(match &e.value {
                    Value::Str(b) => Ok(f(b)),
                    other => Err(other.kind()),
                })
            }
            None => {
                self.stats.misses += 1;
                self.note(key, Change::KeyMiss, 0, ValueRef::Gone);
                None
            }
        }
    }

    /// Mutable access. Memory accounting and removal of emptied collections happen when the
    /// returned guard is dropped, so callers can mutate freely.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<EntryMut<'_>> {
        let idx = match self.live_slot(key, now)? {
            Slot::Seg(loc) => self.promote(loc),
            Slot::Map(idx) => idx,
        };
        Some(self.entry_mut_at(idx, now, false))
    }

    fn entry_mut_at(&mut self, idx: usize, now: u64, created: bool) -> EntryMut<'_> {
        let lfu = self.budget.lfu();
        let (k, e) = self.map.get_index_mut(idx).expect("index is live");
        e.access = if created {
            access::created(lfu, now)
        } else {
            access::accessed(lfu, e.access, now)
        };
        let old_size = entry_size(k, e);
        EntryMut {
            shard: self,
            idx,
            old_size,
            created,
            reported: false,
        }
    }

    /// Mutable access to `key`, creating it with `make()` (no expiry) when absent.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now: u64,
        make: impl FnOnce() -> Value,
    ) -> EntryMut<'_> {
        let (idx, created) = match self.live_slot(key, now) {
            Some(Slot::Seg(loc)) => (self.promote(loc), false),
            Some(Slot::Map(idx)) => (idx, false),
            None => {
                let key = crate::value::owned(key);
                let e = Entry::new(make(), 0);
                let size = entry_size(&key, &e);
                let (idx, _) = self.map.insert_full(key, e);
                self.charge(size as isize);
                (idx, true)
            }
        };
        self.entry_mut_at(idx, now, created)
    }

    /// Insert or replace; returns the previous live entry. Emits `set` (see [`Self::insert_as`]).
    pub fn insert(&mut self, key: &[u8], value: Value, expires_at: u64, now: u64) -> Option<Entry> {
        self.insert_as(key, value, expires_at, now, Change::Set)
    }

    /// Insert or replace, reporting the write to the feed as `change` (RENAME's `rename_to`,
    /// COPY's `copy_to`, SINTERSTORE's `sinterstore`, ...), preceded by `new` when the key did
    /// not exist (and by `expired` when what it replaces had expired).
    pub fn insert_as(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: u64,
        now: u64,
        change: Change,
    ) -> Option<Entry> {
        let old = self.insert_quiet(key, value, expires_at, now);
        if self.feed.active() {
            if old.is_none() {
                self.note(key, Change::New, 0, ValueRef::Gone);
            }
            self.note_current(key, change, now);
        }
        old
    }

    /// `insert` without events (the caller reports them).
    fn insert_quiet(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: u64,
        now: u64,
    ) -> Option<Entry> {
        if let Value::Str(b) = &value {
            if segments::fits(key.len(), b.len()) {
                return self.insert_small(key, b, expires_at, now);
            }
        }
        // Not a small string: it goes to the map, so the key must leave the segments.
        let mut old_seg = None;
        self.seg.remove_with(key, |r| old_seg = Some(entry_of(&r)));
        if old_seg.is_some() {
            self.sync_seg();
        }
        let replaced = self.insert_in_map(key, value, expires_at, now);
        match old_seg {
            Some(old) if old.is_expired(now) => {
                self.stats.expired += 1;
                self.note_expired(key);
                None
            }
            Some(old) => Some(old),
            None => replaced,
        }
    }

    /// Store a string (SET and friends). The bytes are copied exactly once, into a segment record
    /// or an exact-size allocation, so callers pass slices of their read buffer; nothing is
    /// returned, so a replaced value is not copied out either (`insert` materialises it).
    ///
    /// Emits `set`, then `expire` when the string gets a TTL (as Redis's SET EX does).
    pub fn set_str(&mut self, key: &[u8], value: &[u8], expires_at: u64, now: u64) {
        self.set_str_with(key, value, expires_at, now, expires_at != 0)
    }

    /// [`Self::set_str`] choosing whether an `expire` event follows the `set` (SET KEEPTTL
    /// keeps the TTL it had: no `expire`).
    pub fn set_str_with(
        &mut self,
        key: &[u8],
        value: &[u8],
        expires_at: u64,
        now: u64,
        expire_event: bool,
    ) {
        let existed = if !segments::fits(key.len(), value.len()) {
            self.insert_quiet(key, Value::Str(crate::value::owned(value)), expires_at, now)
                .is_some()
        } else {
            let (mut expired, mut existed) = (false, false);
            let stamp = self.write_stamp(key, now);
            if let Some(idx) = self.map.get_index_of(key) {
                expired = self.remove_index(idx).1.is_expired(now);
                existed = !expired;
            }
            self.seg.insert(key, value, expires_at, stamp, |r| {
                expired = r.is_expired(now);
                existed = !expired;
            });
            self.sync_seg();
            if expired {
                self.stats.expired += 1;
                self.note_expired(key);
            }
            existed
        };
        if self.feed.active() {
            if !existed {
                self.note(key, Change::New, 0, ValueRef::Gone);
            }
            self.note(key, Change::Set, expires_at, ValueRef::Str(value));
            if expire_event {
                self.note(key, Change::Expire, expires_at, ValueRef::Str(value));
            }
        }
    }

    /// A small string: append to the segment store; the key must leave the map.
    fn insert_small(
        &mut self,
        key: &[u8],
        value: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Option<Entry> {
        let mut old = None;
        let stamp = self.write_stamp(key, now);
        if let Some(idx) = self.map.get_index_of(key) {
            old = Some(self.remove_index(idx).1);
        }
        self.seg
            .insert(key, value, expires_at, stamp, |r| old = Some(entry_of(&r)));
        self.sync_seg();
        match old {
            Some(o) if o.is_expired(now) => {
                self.stats.expired += 1;
                self.note_expired(key);
                None
            }
            o => o,
        }
    }

    fn insert_in_map(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: u64,
        now: u64,
    ) -> Option<Entry> {
        let mut e = Entry::new(value, expires_at);
        e.access = self.write_stamp(key, now);
        if let Some(idx) = self.map.get_index_of(key) {
            let (k, slot) = self.map.get_index_mut(idx).expect("index is live");
            let new_size = entry_size(k, &e) as isize;
            let old_size = entry_size(k, slot) as isize;
            let old = std::mem::replace(slot, e);
            self.charge(new_size - old_size);
            return if old.is_expired(now) {
                self.stats.expired += 1;
                self.note_expired(key);
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

    /// Remove a live key (emits `del` when it existed).
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        self.remove_as(key, now, Change::Del)
    }

    /// Remove a live key, reporting it as `change` (RENAME's `rename_from`).
    pub fn remove_as(&mut self, key: &[u8], now: u64, change: Change) -> Option<Entry> {
        let e = match self.live_slot(key, now)? {
            Slot::Seg(loc) => {
                let e = entry_of(&self.seg.record(loc));
                self.seg.remove_at(loc);
                self.sync_seg();
                e
            }
            Slot::Map(idx) => self.remove_index(idx).1,
        };
        self.note(key, change, 0, ValueRef::Gone);
        Some(e)
    }

    /// Remove a live key without handing back its value (DEL): true when it existed.
    pub fn delete(&mut self, key: &[u8], now: u64) -> bool {
        let found = match self.live_slot(key, now) {
            Some(Slot::Seg(loc)) => {
                self.seg.remove_at(loc);
                self.sync_seg();
                true
            }
            Some(Slot::Map(idx)) => {
                self.remove_index(idx);
                true
            }
            None => false,
        };
        if found {
            self.note(key, Change::Del, 0, ValueRef::Gone);
        }
        found
    }

    fn remove_index(&mut self, idx: usize) -> (Bytes, Entry) {
        let (k, e) = self.map.swap_remove_index(idx).expect("index is live");
        let size = entry_size(&k, &e);
        self.charge(-(size as isize));
        (k, e)
    }

    /// Drop every entry (emits one `flush`: Redis sends no per-key events for FLUSHDB).
    pub fn clear(&mut self) {
        if self.feed.active() {
            let (map, seg) = (&self.map, &self.seg);
            self.feed
                .touch_watched(|k| map.contains_key(k) || seg.find(k).is_some());
        }
        let used = self.used as isize;
        self.map = IndexMap::with_hasher(FastBuild::default());
        self.seg = SegmentStore::new();
        self.seg_charged = 0;
        self.charge(-used);
        self.expire_cursor = 0;
        self.note(b"", Change::Flush, 0, ValueRef::Gone);
    }

    /// SWAPDB: exchange every entry with `other`, the shard at the same index of a cache with
    /// the same shard count (routing is the same for every cache, so each key still lands in
    /// its shard). Watched keys of either shard that exist in either are touched first (Redis's
    /// touchAllWatchedKeysInDb); no other event is emitted (Redis sends no notification). The
    /// charges stay as they are: the budget is the store's, shared by both.
    pub fn swap_data(&mut self, other: &mut Shard, now: u64) {
        {
            let (a, b) = (&*self, &*other);
            let state = |k: &[u8]| {
                (a.holds(k) || b.holds(k)).then(|| a.holds_live(k, now) || b.holds_live(k, now))
            };
            if a.feed.active() {
                a.feed.touch_swapped(state);
            }
            if b.feed.active() {
                b.feed.touch_swapped(state);
            }
        }
        std::mem::swap(&mut self.map, &mut other.map);
        std::mem::swap(&mut self.seg, &mut other.seg);
        std::mem::swap(&mut self.used, &mut other.used);
        std::mem::swap(&mut self.seg_charged, &mut other.seg_charged);
        std::mem::swap(&mut self.expire_cursor, &mut other.expire_cursor);
    }

    /// Whether the shard stores `key` (expired or not).
    fn holds(&self, key: &[u8]) -> bool {
        self.map.contains_key(key) || self.seg.find(key).is_some()
    }

    /// Whether the shard stores `key` unexpired at `now`.
    fn holds_live(&self, key: &[u8], now: u64) -> bool {
        match self.map.get(key) {
            Some(e) => !e.is_expired(now),
            None => self
                .seg
                .find(key)
                .is_some_and(|loc| !self.seg.record(loc).is_expired(now)),
        }
    }

    /// Visit every live key (KEYS, INFO keyspace, tests). O(n): callers are admin commands.
    pub fn for_each_live(&self, now: u64, mut f: impl FnMut(KeyInfo<'_>)) {
        for (k, e) in self.map.iter().filter(|(_, e)| !e.is_expired(now)) {
            f(KeyInfo {
                key: k,
                kind: e.kind(),
                expires_at: e.expires_at,
            });
        }
        self.seg.for_each_live(now, |r| {
            f(KeyInfo {
                key: r.key,
                kind: ValueKind::String,
                expires_at: r.expires_at,
            })
        });
    }

    /// Every live key, copied (tests and admin views).
    pub fn live_keys(&self, now: u64) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each_live(now, |k| out.push(Bytes::copy_from_slice(k.key)));
        out
    }

    /// A uniformly random live key (tries a few samples to skip expired ones).
    pub fn random_key(&mut self, now: u64) -> Option<Bytes> {
        let mut rng = rand::thread_rng();
        for _ in 0..16 {
            if self.is_empty() {
                return None;
            }
            // Pick a store in proportion to its keys, so every key is about equally likely.
            if rng.gen_range(0..self.len()) < self.seg.len() {
                let loc = self.seg.random_live(&mut rng)?;
                let r = self.seg.record(loc);
                if r.is_expired(now) {
                    let key = self.feed.active().then(|| Bytes::copy_from_slice(r.key));
                    self.seg.remove_at(loc);
                    self.sync_seg();
                    self.stats.expired += 1;
                    if let Some(k) = key {
                        self.note_expired(&k);
                    }
                    continue;
                }
                return Some(Bytes::copy_from_slice(r.key));
            }
            let idx = rng.gen_range(0..self.map.len());
            if self.map[idx].is_expired(now) {
                let (k, _) = self.remove_index(idx);
                self.stats.expired += 1;
                self.note_expired(&k);
                continue;
            }
            return Some(self.map.get_index(idx).expect("in range").0.clone());
        }
        None
    }

    /// One SCAN step over a shard-local cursor: 0 starts, a returned 0 means the shard is done.
    /// Visits up to `count` positions; returns (next cursor, positions examined).
    ///
    /// The map is walked first, by positions downward (see the module docs); then the segment
    /// store in ascending (segment seq, offset) order (see `segments`). Both keep Redis's
    /// guarantee; a key that moves between the two during a scan (a promotion or a SET after
    /// one) may be returned twice, which SCAN allows, and is present in one of them throughout.
    /// Cursor layout: bit 46 = in the segment phase; below it the map's remaining positions,
    /// or segment seq << 16 | offset (segments are 64 KiB, so offsets fit in 16 bits).
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        now: u64,
        mut visit: impl FnMut(&[u8], ValueKind),
    ) -> (u64, usize) {
        let mut examined = 0;
        let mut seg_cur = SegCursor::default();
        if cursor & SCAN_SEGMENTS == 0 {
            let start = if cursor == 0 {
                self.map.len()
            } else {
                cursor as usize
            };
            let mut pos = start.min(self.map.len());
            while pos > 0 && examined < count {
                pos -= 1;
                examined += 1;
                let (k, e) = self.map.get_index(pos).expect("in range");
                if !e.is_expired(now) {
                    visit(k, e.kind());
                }
            }
            if pos > 0 {
                return (pos as u64, examined);
            }
        } else {
            let c = cursor & (SCAN_SEGMENTS - 1);
            seg_cur = SegCursor {
                seq: c >> SCAN_OFF_BITS,
                off: (c & ((1 << SCAN_OFF_BITS) - 1)) as usize,
            };
        }
        if examined >= count {
            // The map is done but the budget too: continue with the segments next call.
            return (SCAN_SEGMENTS, examined);
        }
        let (next, n) = self.seg.scan(seg_cur, count - examined, now, |k| {
            visit(k, ValueKind::String)
        });
        examined += n;
        match next {
            None => (0, examined),
            // The end of a full segment is the start of the next one (keeps `off` in 16 bits).
            Some(c) if c.off >= segments::SEGMENT_SIZE => {
                (SCAN_SEGMENTS | ((c.seq + 1) << SCAN_OFF_BITS), examined)
            }
            Some(c) => (
                SCAN_SEGMENTS | (c.seq << SCAN_OFF_BITS) | c.off as u64,
                examined,
            ),
        }
    }

    /// One bounded step of active expiry: examine up to `budget` entries from a rotating
    /// cursor and remove the expired ones. Returns (examined, expired).
    pub fn expire_step(&mut self, now: u64, budget: usize) -> (usize, usize) {
        // Share the budget between the two stores (all of it when one is empty).
        let seg_budget = if self.map.is_empty() {
            budget
        } else if self.seg.is_empty() {
            0
        } else {
            budget / 2
        };
        let (mut examined, mut expired) = (0, 0);
        if seg_budget > 0 {
            let feed = &self.feed;
            (examined, expired) = self.seg.expire_step_with(now, seg_budget, |k| {
                if feed.active() {
                    feed.emit(k, Change::Expired, 0, ValueRef::Gone);
                }
            });
            self.sync_seg();
            self.stats.expired += expired as u64;
        }
        let (e2, x2) = self.expire_map_step(now, budget - examined);
        (examined + e2, expired + x2)
    }

    fn expire_map_step(&mut self, now: u64, budget: usize) -> (usize, usize) {
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
                let (k, _) = self.remove_index(self.expire_cursor);
                self.note_expired(&k);
                expired += 1;
            } else {
                self.expire_cursor += 1;
            }
        }
        self.stats.expired += expired as u64;
        (examined, expired)
    }

    /// Evict what `policy` picks (an expired sample wins outright). Returns the bytes freed,
    /// or None when the shard has nothing the policy may evict (empty, or no key with a TTL
    /// under a volatile-* policy).
    ///
    /// The general map is sampled like Redis does (`samples` random keys, the best victim by
    /// the policy's measure); the segment store is evicted a segment at a time (see
    /// `segments`), scored by a sample of its records, and whichever of the two candidates
    /// the policy prefers goes.
    pub fn evict_one(&mut self, policy: EvictionPolicy, samples: usize, now: u64) -> Option<usize> {
        if policy == EvictionPolicy::AllKeysLru {
            return self.evict_lru(samples, now);
        }
        let lfu = self.budget.lfu();
        let mut rng = rand::thread_rng();
        let from_map = self.map_victim(policy, samples, now, lfu, &mut rng);
        let from_seg = self.segment_victim(policy, samples, now, lfu, &mut rng);
        match (from_map, from_seg) {
            (None, None) => None,
            (Some((idx, _)), None) => Some(self.evict_map_entry(idx, now)),
            // Equal scores are common (every never-read key has LFU_INIT): a coin decides, so
            // neither store is always the one to give.
            (Some((idx, map_score)), Some((_, seg_score)))
                if map_score > seg_score || (map_score == seg_score && rng.gen::<bool>()) =>
            {
                Some(self.evict_map_entry(idx, now))
            }
            (_, Some((slot, _))) => Some(self.evict_segment(slot, policy, now)),
        }
    }

    /// allkeys-lru, the default: sampled LRU over the map, against the age of the oldest
    /// segment.
    fn evict_lru(&mut self, samples: usize, now: u64) -> Option<usize> {
        // The map's candidate is only known after sampling; compare the oldest segment's age
        // with a random map entry's: a segment older than that is a good victim already.
        let segment_first = self.map.is_empty()
            || self.seg.oldest_created().is_some_and(|created| {
                let clock = lru_clock(now);
                let sample = rand::thread_rng().gen_range(0..self.map.len());
                // Wrapping differences handle the (theoretical) u32 wrap of the clock.
                clock.wrapping_sub(created) >= clock.wrapping_sub(self.map[sample].access)
            });
        if segment_first {
            let slot = self.seg.oldest_slot(false)?;
            return Some(self.evict_segment(slot, EvictionPolicy::AllKeysLru, now));
        }
        let policy = EvictionPolicy::AllKeysLru;
        let (victim, _) = self.map_victim(policy, samples, now, None, &mut rand::thread_rng())?;
        Some(self.evict_map_entry(victim, now))
    }

    /// The best of up to `samples` sampled map entries by `policy` (only keys with a TTL under
    /// volatile-*), with its score.
    fn map_victim<R: Rng>(
        &self,
        policy: EvictionPolicy,
        samples: usize,
        now: u64,
        lfu: Option<LfuParams>,
        rng: &mut R,
    ) -> Option<(usize, u64)> {
        let n = self.map.len();
        if n == 0 {
            return None;
        }
        let volatile = policy.volatile_only();
        let samples = samples.max(1);
        let mut best: Option<(usize, u64)> = None;
        let consider = |idx: usize, best: &mut Option<(usize, u64)>, rng: &mut R| -> bool {
            let e = &self.map[idx];
            if volatile && e.expires_at == 0 {
                return false;
            }
            let score = victim_score(policy, e.expires_at, e.access, now, lfu, rng);
            if best.is_none_or(|(_, b)| score > b) {
                *best = Some((idx, score));
            }
            true
        };
        // Random probes first; under volatile-* a probe may land on a key without a TTL, so a
        // few more are allowed, then a bounded run from a random start finds the rare ones.
        let mut found = 0;
        let probes = if volatile { samples * 4 } else { samples };
        for _ in 0..probes {
            let idx = rng.gen_range(0..n);
            if consider(idx, &mut best, rng) {
                found += 1;
                if found == samples {
                    return best;
                }
            }
        }
        if volatile && best.is_none() {
            let start = rng.gen_range(0..n);
            for i in 0..n.min(VOLATILE_SCAN) {
                if consider((start + i) % n, &mut best, rng) {
                    found += 1;
                    if found == samples {
                        break;
                    }
                }
            }
        }
        best
    }

    /// The segment `policy` would evict (the oldest; the oldest holding keys with a TTL under
    /// volatile-*; a random one under allkeys-random), scored by a sample of its records.
    fn segment_victim(
        &self,
        policy: EvictionPolicy,
        samples: usize,
        now: u64,
        lfu: Option<LfuParams>,
        rng: &mut impl Rng,
    ) -> Option<(usize, u64)> {
        let volatile = policy.volatile_only();
        let slot = match policy {
            EvictionPolicy::AllKeysRandom => self.seg.random_slot(rng)?,
            _ => self.seg.oldest_slot(volatile)?,
        };
        let mut best = 0;
        self.seg.sample_slot(slot, samples.max(1), volatile, |r| {
            best = best.max(victim_score(policy, r.expires_at, r.access, now, lfu, rng));
        });
        Some((slot, best))
    }

    fn evict_map_entry(&mut self, victim: usize, now: u64) -> usize {
        let before = self.used;
        let expired = self.map[victim].is_expired(now);
        let (k, _) = self.remove_index(victim);
        if expired {
            self.stats.expired += 1;
            self.note_expired(&k);
        } else {
            self.stats.evicted += 1;
            self.note(&k, Change::Evicted, 0, ValueRef::Gone);
        }
        before - self.used
    }

    /// Evict segment `slot` under `policy`: what a volatile-* policy may not evict (keys
    /// without a TTL) is moved to the head, and so, under the LRU and LFU policies, are records
    /// read since written (a second chance).
    fn evict_segment(&mut self, slot: usize, policy: EvictionPolicy, now: u64) -> usize {
        let before = self.used;
        let feed = &self.feed;
        let second_chance = !matches!(
            policy,
            EvictionPolicy::AllKeysRandom
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        );
        let volatile = policy.volatile_only();
        // Under LFU the segment's least used records go and the rest move on (the reads since
        // written that LRU's HOT flag records are what the counters measure, more finely):
        // Redis evicts the lowest counter of its sample, and at least the minimum goes here, so
        // every pass frees something.
        let lfu = self.budget.lfu().filter(|_| policy.tracks_frequency());
        let mut floor = u8::MAX;
        if let Some(p) = lfu {
            self.seg.sample_slot(slot, usize::MAX, volatile, |r| {
                floor = floor.min(access::lfu_counter(r.access, now, p));
            });
        }
        let out = self.seg.evict_slot_with(
            slot,
            now,
            |r| {
                if volatile && r.expires_at == 0 {
                    return true;
                }
                match lfu {
                    Some(p) => access::lfu_counter(r.access, now, p) > floor,
                    None => second_chance && r.is_hot(),
                }
            },
            |k, expired| {
                if feed.active() {
                    let change = if expired {
                        Change::Expired
                    } else {
                        Change::Evicted
                    };
                    feed.emit(k, change, 0, ValueRef::Gone);
                }
            },
        );
        self.sync_seg();
        self.stats.evicted += out.evicted as u64;
        self.stats.expired += out.expired as u64;
        before.saturating_sub(self.used)
    }

    /// APPEND: add `data` at the end of the string at `key` (created when missing), growing its
    /// allocation in place (see [`grown_capacity`]): O(appended) on average instead of a copy of
    /// the whole value per call. Returns the new length.
    pub fn append_str(
        &mut self,
        key: &[u8],
        data: &[u8],
        now: u64,
    ) -> Result<usize, StrWriteError> {
        self.write_str(
            key,
            now,
            Change::Append,
            |len| len.checked_add(data.len()),
            |m| {
                m.extend_from_slice(data);
                true
            },
        )
    }

    /// SETRANGE: overwrite the string at `key` from `off` with `data`, zero-padding a shorter
    /// string (created when missing). O(written) when the allocation has room; growth is
    /// greedy like [`Self::append_str`]'s. Returns the new length.
    pub fn setrange_str(
        &mut self,
        key: &[u8],
        off: usize,
        data: &[u8],
        now: u64,
    ) -> Result<usize, StrWriteError> {
        let end = off.checked_add(data.len());
        self.write_str(
            key,
            now,
            Change::SetRange,
            |len| end.map(|e| e.max(len)),
            |m| {
                let end = off + data.len();
                if m.len() < end {
                    m.resize(end, 0);
                }
                m[off..end].copy_from_slice(data);
                true
            },
        )
    }

    /// Change the string at `key` in place (created empty when missing), as the bit commands
    /// do (SETBIT, BITFIELD): `new_len(old_len)` is the length `write` may grow it to (None:
    /// overflow), charged against the budget before anything is allocated like
    /// [`Self::append_str`]; `write` changes the buffer (zero-padding it itself) and returns
    /// whether to report `change` (Redis reports nothing when no bit changed and the string did
    /// not grow; a key this call created is then still reported as `new`). Returns the new
    /// length.
    pub fn modify_str(
        &mut self,
        key: &[u8],
        now: u64,
        change: Change,
        new_len: impl FnOnce(usize) -> Option<usize>,
        write: impl FnOnce(&mut Vec<u8>) -> bool,
    ) -> Result<usize, StrWriteError> {
        self.write_str(key, now, change, new_len, write)
    }

    /// Bytes the budget would be charged if the string at `key` were made `new_len` long by
    /// [`Self::append_str`]/[`Self::setrange_str`] (0 when it has room): what callers make room
    /// for before taking the shard lock.
    pub fn str_growth(&mut self, key: &[u8], new_len: usize, now: u64) -> u64 {
        let Some((len, cap)) = self.str_len_and_capacity(key, now) else {
            return 0;
        };
        if new_len <= cap {
            0
        } else {
            (grown_capacity(new_len) - len) as u64
        }
    }

    /// Length and allocated capacity of the string at `key` ((0, 0) when missing; None when it
    /// holds another type). Compact strings in segments have no spare room.
    fn str_len_and_capacity(&mut self, key: &[u8], now: u64) -> Option<(usize, usize)> {
        match self.live_slot(key, now) {
            None => Some((0, 0)),
            Some(Slot::Seg(loc)) => {
                let l = self.seg.record(loc).value.len();
                Some((l, l))
            }
            Some(Slot::Map(idx)) => match &self.map[idx].value {
                Value::Str(b) => Some((b.len(), b.len() + self.map[idx].spare as usize)),
                _ => None,
            },
        }
    }

    /// The in-place string write both commands share: `new_len(old_len)` says how long the result
    /// is (None: overflow), `write` changes the buffer. The growth is checked against the budget
    /// before anything is allocated.
    fn write_str(
        &mut self,
        key: &[u8],
        now: u64,
        change: Change,
        new_len: impl FnOnce(usize) -> Option<usize>,
        write: impl FnOnce(&mut Vec<u8>) -> bool,
    ) -> Result<usize, StrWriteError> {
        // Check type and size before creating anything, so a refused write leaves no key behind.
        let (len, cap) = self
            .str_len_and_capacity(key, now)
            .ok_or(StrWriteError::WrongType)?;
        let target = new_len(len).ok_or(StrWriteError::TooLarge)?;
        if target > MAX_STRING {
            return Err(StrWriteError::TooLarge);
        }
        let new_cap = if target > cap {
            grown_capacity(target)
        } else {
            cap
        };
        if new_cap > cap && self.budget.would_exceed((new_cap - cap) as u64) {
            return Err(StrWriteError::OutOfMemory);
        }
        let mut e = self.get_or_insert_with(key, now, || Value::Str(Bytes::new()));
        let Value::Str(b) = &mut e.value else {
            unreachable!("checked above");
        };
        // The only handle on the allocation: taken back without a copy (a reader still holding
        // the bytes makes this one copy into a new allocation instead).
        let mut v: Vec<u8> = Vec::from(std::mem::take(b));
        if v.capacity() < new_cap {
            // Exact, so the budget check above holds; `realloc` moves big buffers by remapping.
            v.reserve_exact(new_cap - v.len());
        }
        let report = write(&mut v);
        let (len, cap) = (v.len(), v.capacity());
        *b = Bytes::from(v);
        e.spare = (cap - len) as u32;
        if report {
            e.changed(change);
        }
        Ok(len)
    }

    /// Size in bytes charged for `key` (MEMORY USAGE).
    pub fn memory_usage(&mut self, key: &[u8], now: u64) -> Option<usize> {
        match self.live_slot(key, now)? {
            Slot::Seg(loc) => Some(self.seg.record(loc).size() + segments::INDEX_COST),
            Slot::Map(idx) => {
                let (k, e) = self.map.get_index(idx).expect("live");
                Some(entry_size(k, e))
            }
        }
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
///
/// It is also where in-place changes reach the change feed: the caller says what it did with
/// [`EntryMut::changed`] (only when it changed something: an SREM of a missing member reports
/// nothing), a key this borrow created is reported as `new` first, and a collection emptied by
/// it as `del` last (Redis's order: `new`, the command's events, `del`).
pub struct EntryMut<'a> {
    shard: &'a mut Shard,
    idx: usize,
    old_size: usize,
    /// `get_or_insert_with` made the key: `new` is still to be reported.
    created: bool,
    /// Something was reported through this borrow.
    reported: bool,
}

impl EntryMut<'_> {
    pub fn key(&self) -> &Bytes {
        self.shard.map.get_index(self.idx).expect("live").0
    }

    /// Report what the caller just did to the entry (`hset`, `lpush`, `expire`, ...): the
    /// event carries the value and TTL as they are now. Call it after the change; several
    /// calls report several events in order.
    pub fn changed(&mut self, change: Change) {
        if !self.shard.feed.active() {
            self.created = false;
            self.reported = true;
            return;
        }
        let (k, e) = self.shard.map.get_index(self.idx).expect("live");
        if self.created {
            self.shard.feed.emit(k, Change::New, 0, ValueRef::Gone);
            self.created = false;
        }
        self.shard
            .feed
            .emit(k, change, e.expires_at, ValueRef::Value(&e.value));
        self.reported = true;
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
            let (k, _) = self.shard.remove_index(self.idx);
            self.shard
                .charge(new_size as isize - self.old_size as isize);
            // A key made and emptied by this borrow never existed for anyone else.
            if !self.created || self.reported {
                self.shard.note(&k, Change::Del, 0, ValueRef::Gone);
            }
            return;
        }
        if self.created && self.shard.feed.active() {
            // Created but nothing reported (e.g. INCRBYFLOAT's "0" before an error): it exists.
            self.shard.feed.emit(k, Change::New, 0, ValueRef::Gone);
        }
        self.shard
            .charge(new_size as isize - self.old_size as isize);
    }
}

#[cfg(test)]
mod in_place_string_tests {
    use super::*;
    use proptest::prelude::*;

    fn shard() -> (Shard, Arc<MemoryBudget>) {
        let budget = Arc::new(MemoryBudget::new(1 << 40));
        (Shard::new(budget.clone()), budget)
    }

    fn value(s: &mut Shard, key: &[u8]) -> Vec<u8> {
        match &s.peek(key, 0).expect("present").value {
            Value::Str(b) => b.to_vec(),
            other => panic!("not a string: {:?}", other.kind()),
        }
    }

    fn capacity(s: &mut Shard, key: &[u8]) -> usize {
        let e = s.peek(key, 0).expect("present");
        let Value::Str(b) = &e.value else {
            panic!("not a string")
        };
        b.len() + e.spare_capacity()
    }

    /// Appends grow the allocation greedily: 1,000 appends of 64 KiB (to 62.5 MiB) reallocate
    /// ~log2 times below 1 MiB and once per MiB above, not 1,000 times; the spare room is at
    /// most 1 MiB past 1 MiB (not as much again); what is charged is the capacity allocated.
    #[test]
    fn appends_reallocate_logarithmically_and_charge_capacity() {
        let (mut s, budget) = shard();
        let chunk = vec![7u8; 64 * 1024];
        let mut growths = 0;
        let mut last_cap = 0;
        for i in 1..=1000usize {
            let n = s.append_str(b"k", &chunk, 0).unwrap();
            assert_eq!(n, i * chunk.len());
            let cap = capacity(&mut s, b"k");
            assert!(cap >= n && cap <= 2 * n, "capacity {cap} for length {n}");
            assert!(cap - n <= 1 << 20, "capacity {cap} for length {n}");
            if cap != last_cap {
                growths += 1;
                last_cap = cap;
            }
            // Exact accounting: the entry is charged for its capacity, and the budget agrees.
            let charged = s.memory_usage(b"k", 0).unwrap();
            assert_eq!(
                charged,
                ENTRY_OVERHEAD
                    + bytes_cost(1)
                    + bytes_cost(n)
                    + if cap > n { cap - n + GROWN_OVERHEAD } else { 0 }
            );
            assert_eq!(budget.used() as usize, s.used_bytes());
            assert_eq!(s.used_bytes(), charged);
        }
        assert!(
            growths <= 5 + 63,
            "{growths} reallocations for 1000 appends"
        );
        assert!(s.delete(b"k", 0));
        assert_eq!(budget.used(), 0);
    }

    /// A SETRANGE inside the string writes in place: no growth, the same allocation.
    #[test]
    fn setrange_inside_writes_in_place() {
        let (mut s, _) = shard();
        s.setrange_str(b"k", 1 << 20, b"x", 0).unwrap();
        let ptr = |s: &mut Shard| match &s.peek(b"k", 0).unwrap().value {
            Value::Str(b) => b.as_ptr(),
            _ => unreachable!(),
        };
        let before = (ptr(&mut s), capacity(&mut s, b"k"), s.used_bytes());
        assert_eq!(s.setrange_str(b"k", 10, b"hello", 0), Ok((1 << 20) + 1));
        assert_eq!(
            (ptr(&mut s), capacity(&mut s, b"k"), s.used_bytes()),
            before
        );
        assert_eq!(&value(&mut s, b"k")[8..17], b"\0\0hello\0\0");
    }

    /// A write that would allocate past the budget is refused before allocating, and a
    /// refused write on a missing key leaves no key behind.
    #[test]
    fn growth_past_the_budget_is_refused_first() {
        let budget = Arc::new(MemoryBudget::new(1 << 20));
        let mut s = Shard::new(budget.clone());
        assert_eq!(
            s.setrange_str(b"k", 100 << 20, b"x", 0),
            Err(StrWriteError::OutOfMemory)
        );
        assert!(s.peek(b"k", 0).is_none());
        assert_eq!(budget.used(), 0);
        assert_eq!(
            s.setrange_str(b"k", MAX_STRING, b"x", 0),
            Err(StrWriteError::TooLarge)
        );
        s.insert(b"h", Value::Hash(Box::default()), 0, 0);
        assert_eq!(s.append_str(b"h", b"x", 0), Err(StrWriteError::WrongType));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append(Vec<u8>),
        SetRange(usize, Vec<u8>),
        Set(Vec<u8>),
        /// A reader holds a clone of the bytes across the next write (copy-on-write path).
        Hold,
        Del,
    }

    fn op() -> impl Strategy<Value = Op> {
        let data = proptest::collection::vec(any::<u8>(), 0..6000);
        prop_oneof![
            4 => data.clone().prop_map(Op::Append),
            3 => (0usize..20_000, data.clone()).prop_map(|(o, d)| Op::SetRange(o, d)),
            1 => data.prop_map(Op::Set),
            1 => Just(Op::Hold),
            1 => Just(Op::Del),
        ]
    }

    proptest! {
        /// Against a plain `Vec<u8>` model: same bytes, same lengths, capacity within 2x, and
        /// the shard's charge always equals MEMORY USAGE and returns to zero at the end.
        #[test]
        fn in_place_writes_match_a_vec_model(ops in proptest::collection::vec(op(), 1..60)) {
            let (mut s, budget) = shard();
            let mut model: Option<Vec<u8>> = None;
            let mut held = None;
            for op in ops {
                match op {
                    Op::Append(d) => {
                        let m = model.get_or_insert_with(Vec::new);
                        m.extend_from_slice(&d);
                        prop_assert_eq!(s.append_str(b"k", &d, 0), Ok(m.len()));
                    }
                    Op::SetRange(off, d) => {
                        if d.is_empty() { continue; }
                        let m = model.get_or_insert_with(Vec::new);
                        if m.len() < off + d.len() { m.resize(off + d.len(), 0); }
                        m[off..off + d.len()].copy_from_slice(&d);
                        prop_assert_eq!(s.setrange_str(b"k", off, &d, 0), Ok(m.len()));
                    }
                    Op::Set(d) => {
                        s.set_str(b"k", &d, 0, 0);
                        model = Some(d);
                    }
                    Op::Hold => {
                        held = s.peek(b"k", 0).map(|e| e.value.clone());
                    }
                    Op::Del => {
                        prop_assert_eq!(s.delete(b"k", 0), model.take().is_some());
                    }
                }
                match &model {
                    Some(m) => {
                        prop_assert_eq!(&value(&mut s, b"k"), m);
                        let cap = capacity(&mut s, b"k");
                        prop_assert!(cap >= m.len() && cap <= (2 * m.len()).max(1));
                        if s.segment_keys() == 0 {
                            // A map entry (segments charge whole records and dead bytes).
                            prop_assert_eq!(s.memory_usage(b"k", 0).unwrap(), s.used_bytes());
                        }
                    }
                    None => prop_assert!(s.is_empty()),
                }
                prop_assert_eq!(budget.used() as usize, s.used_bytes());
            }
            drop(held);
            s.clear();
            prop_assert_eq!(budget.used(), 0);
        }
    }
}
