//! The compact store for small strings: records appended to per-shard segments, found through a
//! hash table of 8-byte locators (Pelikan Segcache's layout, in safe Rust).
//!
//! Why: a string in the general `IndexMap<Bytes, Entry>` costs ~190 bytes at 16 B key + 32 B
//! value (two 32-byte `Bytes` handles, a 48-byte entry, two mallocs). Here the same item is one
//! record of 8 bytes of header + key + value inside a shared `Vec<u8>`, plus one 8-byte slot in
//! a `hashbrown::HashTable` — no allocation per item (see docs/storage.md for the numbers).
//!
//! Record layout (little endian), at a 4-byte-unaligned offset inside a segment:
//!
//! ```text
//!   [flags u8][key len u8][value len u16][LRU clock u32][expiry u64, only if flags & TTL][key][value]
//! ```
//!
//! A locator is `slot << 32 | offset`. Records never move in place: overwrite and delete clear
//! the record's LIVE flag and count its bytes as dead in its segment; a segment more than a third
//! dead is *compacted* (its live records are re-appended at the head, their locators
//! updated, the segment freed), so memory follows the live data. Because records only ever move
//! to the head, and every new segment gets a higher sequence number, a cursor that walks
//! segments in ascending sequence order sees every record that stays live for the whole walk at
//! least once (SCAN's guarantee): a record ahead of the cursor can only move further ahead.
//!
//! Eviction is by segment (Segcache's merge eviction, CLOCK-style): the oldest segment is
//! emptied; records read since they were written (the HOT flag, set by `touch`) get a second
//! chance at the head with the flag cleared, the rest are dropped. That frees whole segments,
//! which is what returns memory; evicting scattered records would free nothing until compaction.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rand::Rng;

use crate::value::ALLOC_OVERHEAD;
use crate::FastBuild;

/// Longest key stored here (the header keeps its length in one byte).
pub const MAX_KEY: usize = 255;
/// Longest value stored here; larger strings live in the general map, where one allocation per
/// value is a small overhead anyway.
pub const MAX_VALUE: usize = 4096;
/// A segment's full size. Small enough that evicting one is a fine-grained step (and its
/// allocation stays below glibc's mmap threshold churn), large enough that the per-segment
/// overhead is noise.
pub const SEGMENT_SIZE: usize = 64 * 1024;
/// The first segment of a shard starts this small and doubles, so an almost empty shard (there
/// are many shards per cache, and many caches) costs almost nothing; later ones are allocated
/// whole.
const FIRST_CAPACITY: usize = 512;
/// What one live key costs in the index besides its record: an 8-byte locator plus a control
/// byte per bucket, at hashbrown's load factor (7/8 at most, half that just after doubling).
pub const INDEX_COST: usize = 14;
/// What a segment costs besides its bytes: its slot in `segs` and the allocation header.
pub const SEGMENT_OVERHEAD: usize = std::mem::size_of::<Option<Segment>>() + ALLOC_OVERHEAD;

/// A segment more than 1/`COMPACT_DENOMINATOR` dead is compacted. The trade: at 1/3, moving
/// its live records costs at most 2 bytes copied per byte freed, and dead bytes stay under a
/// third of what segments hold (at 1/2, overwrite-heavy loads kept ~35 % more bytes per item).
const COMPACT_DENOMINATOR: usize = 3;

const LIVE: u8 = 1;
const TTL: u8 = 2;
/// Read since written (or since its last second chance): survives the next eviction pass.
const HOT: u8 = 4;
const HEADER: usize = 8;

/// True when a string item of these sizes is stored here.
#[inline]
pub fn fits(key_len: usize, value_len: usize) -> bool {
    key_len <= MAX_KEY && value_len <= MAX_VALUE
}

#[inline]
fn record_len(key_len: usize, value_len: usize, ttl: bool) -> usize {
    HEADER + if ttl { 8 } else { 0 } + key_len + value_len
}

#[inline]
fn locator(slot: usize, off: usize) -> u64 {
    (slot as u64) << 32 | off as u64
}

#[inline]
fn split(loc: u64) -> (usize, usize) {
    ((loc >> 32) as usize, (loc & 0xffff_ffff) as usize)
}

/// A borrowed view of one record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// Absolute expiry in Unix ms; 0 = never.
    pub expires_at: u64,
    /// Coarse last-access clock (same unit as `Entry::access`).
    pub access: u32,
    flags: u8,
    /// Total bytes of the record, header included.
    len: usize,
}

impl Record<'_> {
    #[inline]
    pub fn is_live(&self) -> bool {
        self.flags & LIVE != 0
    }
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && self.expires_at <= now
    }
    /// Bytes the record occupies in its segment.
    pub fn size(&self) -> usize {
        self.len
    }
    /// Read since written or since its last second chance.
    #[inline]
    pub fn is_hot(&self) -> bool {
        self.flags & HOT != 0
    }
}

fn parse(data: &[u8], off: usize) -> Record<'_> {
    let flags = data[off];
    let klen = data[off + 1] as usize;
    let vlen = u16::from_le_bytes([data[off + 2], data[off + 3]]) as usize;
    let access = u32::from_le_bytes(data[off + 4..off + 8].try_into().expect("4 bytes"));
    let mut p = off + HEADER;
    let expires_at = if flags & TTL != 0 {
        p += 8;
        u64::from_le_bytes(data[p - 8..p].try_into().expect("8 bytes"))
    } else {
        0
    };
    Record {
        key: &data[p..p + klen],
        value: &data[p + klen..p + klen + vlen],
        expires_at,
        access,
        flags,
        len: p + klen + vlen - off,
    }
}

pub struct Segment {
    data: Vec<u8>,
    /// Creation order; a cursor over ascending `seq` is how SCAN and active expiry walk.
    seq: u64,
    live: u32,
    /// Live records with a TTL: what a volatile-* policy may evict here.
    volatile: u32,
    dead_bytes: usize,
    /// LRU clock when the segment was opened: its age, compared with the general map's samples
    /// when choosing what to evict.
    created: u32,
}

/// A walk position over segments: (segment sequence number, byte offset inside it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegCursor {
    pub seq: u64,
    pub off: usize,
}

/// What an eviction pass over one segment did.
#[derive(Debug, Default, Clone, Copy)]
pub struct EvictOutcome {
    pub evicted: usize,
    pub expired: usize,
}

pub struct SegmentStore {
    index: HashTable<u64>,
    segs: Vec<Option<Segment>>,
    free_slots: Vec<usize>,
    head: Option<usize>,
    next_seq: u64,
    hasher: FastBuild,
    /// Bytes this store costs: written segment bytes (dead included until compaction) +
    /// `INDEX_COST` per key + `SEGMENT_OVERHEAD` per segment. Kept exact and incremental.
    bytes: usize,
    expire_cursor: SegCursor,
    /// The LRU clock of the latest write: a new segment's `created`.
    clock_hint: u32,
    /// Reused buffer for moving a record (compaction) without an allocation each time.
    scratch: Vec<u8>,
}

impl Default for SegmentStore {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentStore {
    pub fn new() -> Self {
        Self {
            index: HashTable::new(),
            segs: Vec::new(),
            free_slots: Vec::new(),
            head: None,
            next_seq: 1,
            hasher: FastBuild::default(),
            bytes: 0,
            expire_cursor: SegCursor::default(),
            clock_hint: 0,
            scratch: Vec::new(),
        }
    }

    /// Number of live keys (expired ones included until they are noticed).
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
    /// What this store costs, in bytes (what the shard charges the budget for it).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Segments currently allocated (tests and MEMORY-style introspection).
    pub fn segment_count(&self) -> usize {
        self.segs.iter().filter(|s| s.is_some()).count()
    }

    fn seg(&self, slot: usize) -> &Segment {
        self.segs[slot]
            .as_ref()
            .expect("locator points at a live segment")
    }

    /// The record a locator points at.
    pub fn record(&self, loc: u64) -> Record<'_> {
        let (slot, off) = split(loc);
        parse(&self.seg(slot).data, off)
    }

    fn key_at(segs: &[Option<Segment>], loc: u64) -> &[u8] {
        let (slot, off) = split(loc);
        let data = &segs[slot].as_ref().expect("live segment").data;
        let klen = data[off + 1] as usize;
        let p = off + HEADER + if data[off] & TTL != 0 { 8 } else { 0 };
        &data[p..p + klen]
    }

    /// Locator of `key`'s live record, if it is here (expired or not).
    pub fn find(&self, key: &[u8]) -> Option<u64> {
        if key.len() > MAX_KEY || self.index.is_empty() {
            return None;
        }
        let h = self.hasher.hash_one(key);
        self.index
            .find(h, |&l| Self::key_at(&self.segs, l) == key)
            .copied()
    }

    /// A read: refresh the LRU clock and mark the record hot (second chance on eviction).
    pub fn touch(&mut self, loc: u64, access: u32) {
        let (slot, off) = split(loc);
        let data = &mut self.segs[slot].as_mut().expect("live segment").data;
        data[off] |= HOT;
        data[off + 4..off + 8].copy_from_slice(&access.to_le_bytes());
    }

    /// Store `key -> value` (both must `fits`). If the key was here, `on_replaced` sees the old
    /// record before it is overwritten or marked dead.
    ///
    /// An overwrite with a value of the same length (and the same has-a-TTL shape) rewrites the
    /// record in place: no append, no dead bytes, so no compaction later and no index update.
    /// Measured with `redis-benchmark -t set -r 100000 -P 16`: appending every overwrite made
    /// compaction's re-appends and relinks ~38% of the server's CPU (perf), because a uniformly
    /// overwritten keyspace keeps every segment a third dead. Same-size rewrites are the common
    /// case for a cache (fixed-size values, counters, refreshed entries). The rewritten record
    /// is marked HOT: being written counts as being used, so segment eviction gives it the same
    /// second chance a read would, instead of evicting it with its segment's older neighbours.
    pub fn insert(
        &mut self,
        key: &[u8],
        value: &[u8],
        expires_at: u64,
        access: u32,
        on_replaced: impl FnOnce(Record<'_>),
    ) {
        debug_assert!(fits(key.len(), value.len()));
        let h = self.hasher.hash_one(key);
        let old = if self.index.is_empty() {
            None
        } else {
            let segs = &self.segs;
            self.index
                .find(h, |&l| Self::key_at(segs, l) == key)
                .copied()
        };
        if let Some(old) = old {
            let r = self.record(old);
            if r.value.len() == value.len() && (r.expires_at != 0) == (expires_at != 0) {
                let value_at = r.len - value.len();
                on_replaced(r);
                self.clock_hint = access;
                let (slot, off) = split(old);
                let data = &mut self.segs[slot].as_mut().expect("live segment").data;
                data[off] |= HOT;
                data[off + 4..off + HEADER].copy_from_slice(&access.to_le_bytes());
                if expires_at != 0 {
                    data[off + HEADER..off + HEADER + 8].copy_from_slice(&expires_at.to_le_bytes());
                }
                data[off + value_at..off + value_at + value.len()].copy_from_slice(value);
                return;
            }
        }
        let new = self.append(key, value, expires_at, access);
        match old {
            Some(old) => {
                // The old locator is known: find its slot by locator, no key comparison.
                *self
                    .index
                    .find_mut(h, |&l| l == old)
                    .expect("a live record is always indexed") = new;
                on_replaced(self.record(old));
                self.kill(old);
            }
            None => {
                let Self {
                    index,
                    segs,
                    hasher,
                    ..
                } = self;
                index.insert_unique(h, new, |&l| hasher.hash_one(Self::key_at(segs, l)));
                self.bytes += INDEX_COST;
            }
        }
    }

    /// Remove `key`; `f` sees its record before it is marked dead.
    pub fn remove_with<R>(&mut self, key: &[u8], f: impl FnOnce(Record<'_>) -> R) -> Option<R> {
        let loc = self.find(key)?;
        let r = f(self.record(loc));
        self.unlink(loc);
        self.kill(loc);
        Some(r)
    }

    /// Remove the record at `loc` (its key's index slot and the record itself).
    pub fn remove_at(&mut self, loc: u64) {
        self.unlink(loc);
        self.kill(loc);
    }

    /// Drop `loc` from the index (the record stays until `kill`).
    fn unlink(&mut self, loc: u64) {
        let h = self.hasher.hash_one(self.record(loc).key);
        match self.index.find_entry(h, |&l| l == loc) {
            Ok(e) => {
                e.remove();
                self.bytes -= INDEX_COST;
            }
            Err(_) => unreachable!("a live record is always indexed"),
        }
        // hashbrown never shrinks by itself: after mass deletes give the table back, so RSS
        // follows the live keys (the flat INDEX_COST per key assumes a table sized for them).
        // Shrinking to twice the live count when under a quarter full keeps this amortised O(1).
        if self.index.capacity() > 1024 && self.index.len() * 4 < self.index.capacity() {
            let Self {
                index,
                segs,
                hasher,
                ..
            } = self;
            index.shrink_to(index.len() * 2, |&l| hasher.hash_one(Self::key_at(segs, l)));
        }
    }

    /// Point `key`'s index slot from `old` to `new` (compaction, second chances).
    fn relink(&mut self, old: u64, new: u64) {
        let h = self.hasher.hash_one(self.record(new).key);
        *self
            .index
            .find_mut(h, |&l| l == old)
            .expect("a live record is always indexed") = new;
    }

    /// Mark a record dead; free or compact its segment when that pays.
    fn kill(&mut self, loc: u64) {
        let (slot, off) = split(loc);
        let seg = self.segs[slot].as_mut().expect("live segment");
        let len = parse(&seg.data, off).len;
        if seg.data[off] & TTL != 0 {
            seg.volatile -= 1;
        }
        seg.data[off] &= !LIVE;
        seg.live -= 1;
        seg.dead_bytes += len;
        if seg.live == 0 {
            self.free_segment(slot);
        } else if seg.dead_bytes * COMPACT_DENOMINATOR > seg.data.len() {
            self.compact(slot);
        }
    }

    fn free_segment(&mut self, slot: usize) {
        let seg = self.segs[slot].take().expect("live segment");
        self.bytes -= seg.data.len() + SEGMENT_OVERHEAD;
        if self.head == Some(slot) {
            self.head = None;
        }
        self.free_slots.push(slot);
    }

    /// Re-append the live records of `slot` at the head and free it.
    fn compact(&mut self, slot: usize) {
        self.empty_segment(slot, false, |_| true);
    }

    /// Empty segment `slot`: for each live record `keep` decides: true = re-append it at the
    /// head (its locator updated), false = drop it (unlinked). Then free the segment.
    ///
    /// The segment stays in `segs` during the walk (the index reads keys through locators),
    /// it stops being the head first (so appends go elsewhere), and its slot is reused only
    /// after every record was handled, so an old and a new locator can never be confused.
    fn empty_segment(
        &mut self,
        slot: usize,
        clear_hot: bool,
        mut keep: impl FnMut(&Record<'_>) -> bool,
    ) {
        if self.head == Some(slot) {
            self.head = None;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        let mut off = 0;
        loop {
            let seg = self.seg(slot);
            if off >= seg.data.len() {
                break;
            }
            let r = parse(&seg.data, off);
            let len = r.len;
            if r.is_live() {
                let old = locator(slot, off);
                if keep(&r) {
                    buf.clear();
                    buf.extend_from_slice(&seg.data[off..off + len]);
                    let new = self.append_raw(&buf, clear_hot);
                    self.relink(old, new);
                } else {
                    self.unlink(old);
                }
            }
            off += len;
        }
        self.scratch = buf;
        let seg = self.segs[slot].take().expect("live segment");
        self.bytes -= seg.data.len() + SEGMENT_OVERHEAD;
        self.free_slots.push(slot);
    }

    /// Append a new record for `key -> value`; returns its locator (not yet indexed).
    fn append(&mut self, key: &[u8], value: &[u8], expires_at: u64, access: u32) -> u64 {
        let ttl = expires_at != 0;
        let len = record_len(key.len(), value.len(), ttl);
        self.clock_hint = access;
        let slot = self.head_with_room(len);
        let seg = self.segs[slot].as_mut().expect("head is live");
        let off = seg.data.len();
        seg.data.push(LIVE | if ttl { TTL } else { 0 });
        seg.data.push(key.len() as u8);
        seg.data
            .extend_from_slice(&(value.len() as u16).to_le_bytes());
        seg.data.extend_from_slice(&access.to_le_bytes());
        if ttl {
            seg.data.extend_from_slice(&expires_at.to_le_bytes());
        }
        seg.data.extend_from_slice(key);
        seg.data.extend_from_slice(value);
        seg.live += 1;
        seg.volatile += ttl as u32;
        self.bytes += len;
        locator(slot, off)
    }

    /// Append a copy of an existing live record (compaction keeps its HOT flag; a second
    /// chance consumes it).
    fn append_raw(&mut self, raw: &[u8], clear_hot: bool) -> u64 {
        let slot = self.head_with_room(raw.len());
        let seg = self.segs[slot].as_mut().expect("head is live");
        let off = seg.data.len();
        seg.data.extend_from_slice(raw);
        if clear_hot {
            seg.data[off] &= !HOT;
        }
        seg.live += 1;
        seg.volatile += (raw[0] & TTL != 0) as u32;
        self.bytes += raw.len();
        locator(slot, off)
    }

    /// A head segment with room for `len` more bytes: grow the head (doubling up to
    /// `SEGMENT_SIZE`) or open a new one.
    fn head_with_room(&mut self, len: usize) -> usize {
        if let Some(h) = self.head {
            let seg = self.segs[h].as_mut().expect("head is live");
            let need = seg.data.len() + len;
            if need <= SEGMENT_SIZE {
                if need > seg.data.capacity() {
                    let target = (seg.data.capacity() * 2).max(need).min(SEGMENT_SIZE);
                    seg.data.reserve_exact(target - seg.data.len());
                }
                return h;
            }
        }
        // Only a shard's first segment starts small and doubles (small shards stay small); once
        // a shard has filled one, segments are allocated whole: growing each by doubling left
        // the freed half-size chunks behind as heap fragmentation (~20 B/item of RSS at 1M).
        let cap = if self.segs.iter().any(|s| s.is_some()) {
            SEGMENT_SIZE
        } else {
            FIRST_CAPACITY.max(len)
        };
        let seg = Segment {
            data: Vec::with_capacity(cap),
            seq: self.next_seq,
            live: 0,
            volatile: 0,
            dead_bytes: 0,
            created: self.clock_hint,
        };
        self.next_seq += 1;
        self.bytes += SEGMENT_OVERHEAD;
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.segs[s] = Some(seg);
                s
            }
            None => {
                self.segs.push(Some(seg));
                self.segs.len() - 1
            }
        };
        self.head = Some(slot);
        slot
    }

    /// Slot of the segment with the smallest sequence number ≥ `seq`.
    fn slot_at_or_after(&self, seq: u64) -> Option<usize> {
        self.segs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().filter(|s| s.seq >= seq).map(|s| (s.seq, i)))
            .min()
            .map(|(_, i)| i)
    }

    /// The creation clock of the oldest segment: what `evict_oldest` would evict.
    pub fn oldest_created(&self) -> Option<u32> {
        self.slot_at_or_after(0).map(|s| self.seg(s).created)
    }

    /// Evict the oldest segment: expired records go, records read since written get a second
    /// chance at the head, the rest are evicted. None when the store is empty.
    pub fn evict_oldest(&mut self, now: u64) -> Option<EvictOutcome> {
        let slot = self.oldest_slot(false)?;
        Some(self.evict_slot_with(slot, now, |r| r.is_hot(), |_, _| {}))
    }

    /// Evict segment `slot`: expired records go, `spare(record)` = true re-appends a record at
    /// the head (HOT cleared: a second chance is used up), the rest are evicted; `gone(key,
    /// expired)` hears of each record dropped. The policy-specific passes are built on this.
    pub fn evict_slot_with(
        &mut self,
        slot: usize,
        now: u64,
        mut spare: impl FnMut(&Record<'_>) -> bool,
        mut gone: impl FnMut(&[u8], bool),
    ) -> EvictOutcome {
        let mut out = EvictOutcome::default();
        self.empty_segment(slot, true, |r| {
            if r.is_expired(now) {
                out.expired += 1;
                gone(r.key, true);
                false
            } else if spare(r) {
                true
            } else {
                out.evicted += 1;
                gone(r.key, false);
                false
            }
        });
        out
    }

    /// The oldest segment (lowest sequence number), or with `volatile` the oldest holding a
    /// live record with a TTL.
    pub fn oldest_slot(&self, volatile: bool) -> Option<usize> {
        if !volatile {
            return self.slot_at_or_after(0);
        }
        self.segs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().filter(|s| s.volatile > 0).map(|s| (s.seq, i)))
            .min()
            .map(|(_, i)| i)
    }

    /// A uniformly chosen segment (allkeys-random evicts a whole one: every key is equally
    /// likely to be in it, byte for byte).
    pub fn random_slot(&self, rng: &mut impl Rng) -> Option<usize> {
        let occupied = self.segs.iter().filter(|s| s.is_some()).count();
        if occupied == 0 {
            return None;
        }
        let nth = rng.gen_range(0..occupied);
        self.segs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .nth(nth)
            .map(|(i, _)| i)
    }

    /// The first `n` live records of segment `slot` (with `volatile`, only those with a TTL):
    /// the sample an eviction policy scores the segment by.
    pub fn sample_slot(
        &self,
        slot: usize,
        n: usize,
        volatile: bool,
        mut f: impl FnMut(&Record<'_>),
    ) {
        let seg = self.seg(slot);
        let (mut off, mut seen) = (0, 0);
        while off < seg.data.len() && seen < n {
            let r = parse(&seg.data, off);
            if r.is_live() && (!volatile || r.expires_at != 0) {
                f(&r);
                seen += 1;
            }
            off += r.len;
        }
    }

    /// Walk records from `cur` in (segment seq, offset) order, at most `budget` records
    /// (dead ones included, so the work is bounded). `f` gets each live record and its locator
    /// and may not change the store; returns where to continue, None when the walk is done.
    fn walk(
        &self,
        mut cur: SegCursor,
        budget: usize,
        mut f: impl FnMut(u64, &Record<'_>),
    ) -> (Option<SegCursor>, usize) {
        let mut examined = 0;
        while examined < budget {
            let Some(slot) = self.slot_at_or_after(cur.seq) else {
                return (None, examined);
            };
            let seg = self.seg(slot);
            if seg.seq != cur.seq {
                cur = SegCursor {
                    seq: seg.seq,
                    off: 0,
                };
            }
            if cur.off >= seg.data.len() {
                cur = SegCursor {
                    seq: seg.seq + 1,
                    off: 0,
                };
                continue;
            }
            let r = parse(&seg.data, cur.off);
            examined += 1;
            if r.is_live() {
                f(locator(slot, cur.off), &r);
            }
            cur.off += r.len;
        }
        (Some(cur), examined)
    }

    /// A cursor comes from a client: if its offset is not a record boundary of its segment (a
    /// forged or corrupted cursor), move it to the next boundary, so a record is never parsed
    /// from the middle. Boundaries of a segment never change (records do not move inside one,
    /// and a sequence number is never reused), so real cursors are unaffected. O(segment).
    fn align(&self, cur: SegCursor) -> SegCursor {
        let Some(slot) = self.slot_at_or_after(cur.seq) else {
            return cur;
        };
        let seg = self.seg(slot);
        if seg.seq != cur.seq {
            return SegCursor {
                seq: seg.seq,
                off: 0,
            };
        }
        let mut off = 0;
        while off < cur.off && off < seg.data.len() {
            off += parse(&seg.data, off).len;
        }
        SegCursor { seq: cur.seq, off }
    }

    /// One SCAN step; see the module docs for why ascending segment order keeps SCAN's
    /// guarantee. Returns (next cursor or None when done, records examined).
    pub fn scan(
        &self,
        cur: SegCursor,
        budget: usize,
        now: u64,
        mut visit: impl FnMut(&[u8]),
    ) -> (Option<SegCursor>, usize) {
        let cur = self.align(cur);
        self.walk(cur, budget, |_, r| {
            if !r.is_expired(now) {
                visit(r.key);
            }
        })
    }

    /// Active expiry: examine up to `budget` records from a rotating cursor, remove expired
    /// ones. Returns (examined, expired).
    pub fn expire_step(&mut self, now: u64, budget: usize) -> (usize, usize) {
        self.expire_step_with(now, budget, |_| {})
    }

    /// [`Self::expire_step`], telling `expired(key)` about each record removed.
    pub fn expire_step_with(
        &mut self,
        now: u64,
        budget: usize,
        mut on_expired: impl FnMut(&[u8]),
    ) -> (usize, usize) {
        let mut examined = 0;
        let mut expired = 0;
        let mut wrapped = false;
        let mut victims: Vec<Vec<u8>> = Vec::new();
        while examined < budget && !self.is_empty() {
            victims.clear();
            let (next, n) = self.walk(self.expire_cursor, budget - examined, |_, r| {
                if r.is_expired(now) {
                    victims.push(r.key.to_vec());
                }
            });
            examined += n;
            // Removing may compact a segment and move records, so victims are looked up again
            // by key; the cursor is by sequence number and stays valid (moved records land
            // ahead of it).
            for key in &victims {
                if let Some(loc) = self.find(key) {
                    if self.record(loc).is_expired(now) {
                        self.remove_at(loc);
                        expired += 1;
                        on_expired(key);
                    }
                }
            }
            match next {
                Some(c) => self.expire_cursor = c,
                None => {
                    self.expire_cursor = SegCursor::default();
                    if wrapped || n == 0 {
                        break;
                    }
                    wrapped = true;
                }
            }
        }
        (examined, expired)
    }

    /// Every live, unexpired record.
    pub fn for_each_live(&self, now: u64, mut f: impl FnMut(&Record<'_>)) {
        for seg in self.segs.iter().flatten() {
            let mut off = 0;
            while off < seg.data.len() {
                let r = parse(&seg.data, off);
                if r.is_live() && !r.is_expired(now) {
                    f(&r);
                }
                off += r.len;
            }
        }
    }

    /// A uniformly chosen segment's uniformly chosen live record (RANDOMKEY): O(segment).
    pub fn random_live(&self, rng: &mut impl Rng) -> Option<u64> {
        let occupied: Vec<usize> = (0..self.segs.len())
            .filter(|&i| self.segs[i].is_some())
            .collect();
        if occupied.is_empty() {
            return None;
        }
        let slot = occupied[rng.gen_range(0..occupied.len())];
        let seg = self.seg(slot);
        let mut nth = rng.gen_range(0..seg.live as usize);
        let mut off = 0;
        while off < seg.data.len() {
            let r = parse(&seg.data, off);
            if r.is_live() {
                if nth == 0 {
                    return Some(locator(slot, off));
                }
                nth -= 1;
            }
            off += r.len;
        }
        unreachable!("a segment's live count matches its records")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// What `bytes` should be, recounted from the structure itself.
    fn recount(s: &SegmentStore) -> usize {
        s.segs
            .iter()
            .flatten()
            .map(|g| g.data.len() + SEGMENT_OVERHEAD)
            .sum::<usize>()
            + s.len() * INDEX_COST
    }

    fn get(s: &SegmentStore, k: &[u8]) -> Option<Vec<u8>> {
        s.find(k).map(|l| s.record(l).value.to_vec())
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key:{i:08}").into_bytes()
    }

    #[test]
    fn insert_overwrite_remove_and_bytes_back_to_zero() {
        let mut s = SegmentStore::new();
        s.insert(b"a", b"1", 0, 0, |_| panic!("new key"));
        s.insert(b"b", b"22", 1234, 0, |_| panic!("new key"));
        let mut old = None;
        s.insert(b"a", b"333", 0, 0, |r| old = Some(r.value.to_vec()));
        assert_eq!(old.as_deref(), Some(&b"1"[..]));
        assert_eq!(get(&s, b"a").as_deref(), Some(&b"333"[..]));
        assert_eq!(s.record(s.find(b"b").unwrap()).expires_at, 1234);
        assert_eq!(s.len(), 2);
        assert_eq!(s.bytes(), recount(&s));
        assert_eq!(
            s.remove_with(b"a", |r| r.value.to_vec()),
            Some(b"333".to_vec())
        );
        assert_eq!(s.remove_with(b"a", |_| ()), None);
        s.remove_with(b"b", |_| ());
        assert!(s.is_empty());
        assert_eq!(s.segment_count(), 0);
        assert_eq!(s.bytes(), 0);
    }

    #[test]
    fn same_size_overwrite_is_in_place_and_counts_as_a_use() {
        let mut s = SegmentStore::new();
        s.insert(b"k", b"aaaa", 0, 1, |_| panic!("new key"));
        s.insert(b"t", b"xx", 500, 1, |_| panic!("new key"));
        let (loc_k, loc_t, bytes) = (s.find(b"k").unwrap(), s.find(b"t").unwrap(), s.bytes());
        let mut old = None;
        s.insert(b"k", b"bbbb", 0, 7, |r| old = Some(r.value.to_vec()));
        s.insert(b"t", b"yy", 900, 8, |r| assert_eq!(r.expires_at, 500));
        assert_eq!(old.as_deref(), Some(&b"aaaa"[..]));
        // Same locators, no bytes appended, and the new contents read back.
        assert_eq!(
            (s.find(b"k").unwrap(), s.find(b"t").unwrap()),
            (loc_k, loc_t)
        );
        assert_eq!(s.bytes(), bytes);
        let (k, t) = (s.record(loc_k), s.record(loc_t));
        assert_eq!((k.value, k.access, k.expires_at), (&b"bbbb"[..], 7, 0));
        assert_eq!((t.value, t.access, t.expires_at), (&b"yy"[..], 8, 900));
        assert!(k.flags & HOT != 0 && k.is_live());
        // Another length, or gaining/losing a TTL, appends a new record.
        s.insert(b"k", b"ccc", 0, 9, |_| {});
        s.insert(b"t", b"zz", 0, 9, |_| {});
        assert_ne!(s.find(b"k").unwrap(), loc_k);
        assert_eq!(s.record(s.find(b"t").unwrap()).expires_at, 0);
        assert_eq!(get(&s, b"k").as_deref(), Some(&b"ccc"[..]));
        assert_eq!(s.len(), 2);
        assert_eq!(s.bytes(), recount(&s));
        // A rewritten record in the oldest segment survives one eviction pass, like a read one.
        let mut s = SegmentStore::new();
        for i in 0..3000u32 {
            s.insert(&key(i), &[0u8; 40], 0, 0, |_| {});
        }
        s.insert(&key(0), &[1u8; 40], 0, 5, |_| {});
        let out = s.evict_oldest(0).unwrap();
        assert!(out.evicted > 0);
        assert!(s.find(&key(1)).is_none(), "untouched neighbour evicted");
        assert_eq!(get(&s, &key(0)).as_deref(), Some(&[1u8; 40][..]));
        assert_eq!(s.bytes(), recount(&s));
    }

    #[test]
    fn compaction_frees_segments_and_keeps_every_live_value() {
        let mut s = SegmentStore::new();
        let n = 20_000u32;
        for i in 0..n {
            s.insert(&key(i), &[i as u8; 40], 0, 0, |_| {});
        }
        let full = s.segment_count();
        assert!(full > 10, "{full} segments");
        // Delete three quarters, overwrite some survivors: old segments go mostly dead.
        for i in 0..n {
            if i % 4 != 0 {
                s.remove_with(&key(i), |_| ());
            } else if i % 8 == 0 {
                s.insert(&key(i), b"new", 0, 0, |_| {});
            }
        }
        assert_eq!(s.len(), (n / 4) as usize);
        assert!(
            s.segment_count() * 2 < full,
            "{} segments left of {full}",
            s.segment_count()
        );
        for i in (0..n).step_by(4) {
            let want: Vec<u8> = if i % 8 == 0 {
                b"new".to_vec()
            } else {
                vec![i as u8; 40]
            };
            assert_eq!(get(&s, &key(i)), Some(want), "key {i}");
        }
        assert_eq!(s.bytes(), recount(&s));
        // The index gave back what the deletes freed (it had room for all 20k keys).
        assert!(
            s.index.capacity() < 4 * s.len(),
            "{} for {}",
            s.index.capacity(),
            s.len()
        );
        // No segment stays more than half dead.
        for g in s.segs.iter().flatten() {
            assert!(g.dead_bytes * COMPACT_DENOMINATOR <= g.data.len());
        }
    }

    #[test]
    fn scan_sees_every_key_present_throughout_despite_compaction() {
        let mut s = SegmentStore::new();
        let n = 5_000u32;
        for i in 0..n {
            s.insert(&key(i), b"v", 0, 0, |_| {});
        }
        let mut seen = HashSet::new();
        let mut cur = Some(SegCursor::default());
        let mut round = 0u32;
        while let Some(c) = cur {
            let (next, _) = s.scan(c, 37, 0, |k| {
                seen.insert(k.to_vec());
            });
            cur = next;
            // Between steps: delete odd keys (they may or may not be seen) and overwrite even
            // ones (which moves them to the head), triggering compactions all along.
            for j in 0..20 {
                let i = (round * 20 + j) % n;
                if i % 2 == 1 {
                    s.remove_with(&key(i), |_| ());
                } else {
                    s.insert(&key(i), b"w", 0, 0, |_| {});
                }
            }
            round += 1;
            assert!(round < 100_000, "scan does not end");
        }
        for i in (0..n).step_by(2) {
            assert!(seen.contains(&key(i)), "key {i} missed");
        }
        assert_eq!(s.bytes(), recount(&s));
    }

    #[test]
    fn a_forged_scan_cursor_is_aligned_to_a_record() {
        let mut s = SegmentStore::new();
        for i in 0..100u32 {
            s.insert(&key(i), b"value", 0, 0, |_| {});
        }
        let seq = s.seg(s.slot_at_or_after(0).unwrap()).seq;
        for off in [1, 3, 17, 100, 999, 65_535, 1 << 20] {
            let mut got = Vec::new();
            let c = SegCursor { seq, off };
            s.scan(c, 1000, 0, |k| got.push(k.to_vec()));
            assert!(
                got.iter().all(|k| k.len() == 12 && k.starts_with(b"key:")),
                "{got:?}"
            );
        }
        let mut got = 0;
        s.scan(
            SegCursor {
                seq: u64::MAX >> 20,
                off: 5,
            },
            10,
            0,
            |_| got += 1,
        );
        assert_eq!(got, 0);
    }

    #[test]
    fn eviction_gives_read_records_a_second_chance() {
        let mut s = SegmentStore::new();
        let mut i = 0u32;
        while s.segment_count() < 3 {
            s.insert(&key(i), &[1u8; 100], 0, 7, |_| {});
            i += 1;
        }
        let oldest = s.slot_at_or_after(0).unwrap();
        let in_oldest: Vec<Vec<u8>> = {
            let mut v = Vec::new();
            s.for_each_live(0, |r| v.push(r.key.to_vec()));
            v.into_iter()
                .filter(|k| split(s.find(k).unwrap()).0 == oldest)
                .collect()
        };
        let hot: Vec<&Vec<u8>> = in_oldest.iter().step_by(10).collect();
        for k in &hot {
            let l = s.find(k).unwrap();
            s.touch(l, 9);
        }
        let before = s.len();
        let out = s.evict_oldest(0).unwrap();
        assert_eq!(out.evicted, in_oldest.len() - hot.len());
        assert_eq!(s.len(), before - out.evicted);
        for k in &hot {
            assert!(s.find(k).is_some(), "hot key evicted");
            assert_eq!(s.record(s.find(k).unwrap()).access, 9);
        }
        assert_eq!(s.bytes(), recount(&s));
        // The second chance is used up: the next pass over them evicts them.
        while s.evict_oldest(0).is_some() {}
        assert!(s.is_empty());
        assert_eq!(s.bytes(), 0);
    }

    #[test]
    fn expire_step_is_bounded_and_removes_only_expired() {
        let mut s = SegmentStore::new();
        for i in 0..3000u32 {
            let exp = if i % 3 == 0 { 500 } else { 0 };
            s.insert(&key(i), b"v", exp, 0, |_| {});
        }
        let (examined, _) = s.expire_step(1000, 100);
        assert!(examined <= 100);
        for _ in 0..200 {
            s.expire_step(1000, 100);
        }
        assert_eq!(s.len(), 2000);
        let mut live = HashMap::new();
        s.for_each_live(1000, |r| {
            live.insert(r.key.to_vec(), ());
        });
        for i in 0..3000u32 {
            assert_eq!(live.contains_key(&key(i)), i % 3 != 0, "key {i}");
        }
        assert_eq!(s.bytes(), recount(&s));
    }

    #[test]
    fn random_live_returns_live_keys_and_limits_are_respected() {
        let mut s = SegmentStore::new();
        let mut rng = rand::thread_rng();
        assert!(s.random_live(&mut rng).is_none());
        for i in 0..500u32 {
            s.insert(&key(i), b"v", 0, 0, |_| {});
        }
        for i in 0..500u32 {
            if i % 5 != 0 {
                s.remove_with(&key(i), |_| ());
            }
        }
        for _ in 0..100 {
            let l = s.random_live(&mut rng).unwrap();
            let r = s.record(l);
            assert!(r.is_live());
            assert_eq!(s.find(r.key), Some(l));
        }
        assert!(fits(MAX_KEY, MAX_VALUE));
        assert!(!fits(MAX_KEY + 1, 1));
        assert!(!fits(1, MAX_VALUE + 1));
        // The largest record fits a segment, and its lengths fit the header.
        s.insert(&[b'k'; MAX_KEY], &[b'v'; MAX_VALUE], 99, 0, |_| {});
        let r = s.record(s.find(&[b'k'; MAX_KEY]).unwrap());
        assert_eq!(
            (r.key.len(), r.value.len(), r.expires_at),
            (MAX_KEY, MAX_VALUE, 99)
        );
    }
}
