//! Stream values (Redis 7.0 streams): entries in ID order, consumer groups with their pending
//! entries lists (PEL) and consumers.
//!
//! Entries live in a B-tree keyed by [`StreamId`]. Beside it the stream keeps a model of how
//! Redis would lay the same entries out in its radix tree of listpacks ([`Node`]: which entry
//! IDs share a listpack, how many are live or deleted, the listpack's size in bytes). Redis's
//! answers depend on that layout: `MAXLEN ~`/`MINID ~` trimming removes whole nodes only, and
//! XINFO STREAM reports the number of nodes. The model reproduces Redis's node boundaries
//! (`stream-node-max-entries` 100, `stream-node-max-bytes` 4096, its defaults) by computing each
//! entry's listpack encoding size, without storing any listpack.
//!
//! Memory: every mutating method keeps `bytes` equal to [`StreamValue::recount`] (the unit tests
//! check it after each operation), so MEMORY USAGE, maxmemory and eviction see streams as they
//! see every other collection.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use bytes::Bytes;

use ferrite_rdb::listpack::{int_entry_len as lp_int, str_entry_len as lp_str};

use crate::value::{bytes_cost, ALLOC_OVERHEAD};

/// Redis's `stream-node-max-entries` and `stream-node-max-bytes` defaults: the node layout the
/// model follows (CONFIG SET of those parameters is report-only in Ferrite).
pub const NODE_MAX_ENTRIES: u32 = 100;
pub const NODE_MAX_BYTES: usize = 4096;

/// A stream entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };
    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }
    pub fn is_zero(&self) -> bool {
        *self == Self::MIN
    }
    /// The next ID (Redis's `streamIncrID`); None past the last possible one.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }
    /// The previous ID (`streamDecrID`); None before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One pending (delivered, not yet acknowledged) entry of a group.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The consumer that owns it (a handle on the consumer map's key: no payload of its own).
    pub consumer: Bytes,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Unix ms of the consumer's last attempted interaction (Redis 7.0's `seen-time`).
    pub seen_time: u64,
    /// The IDs of the group's PEL this consumer owns.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    /// The logical read counter; None is Redis's "invalid" (-1): unknown.
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Pending>,
    /// By name, in byte order (Redis's rax order, which XINFO CONSUMERS shows).
    pub consumers: BTreeMap<Bytes, Consumer>,
}

/// One listpack of Redis's radix tree, as the model keeps it: keyed by its master ID (the
/// first ID appended to it) in [`StreamValue::nodes`].
#[derive(Clone, Debug)]
struct Node {
    /// The last ID appended to the node, deleted or not (what MINID trimming compares).
    last: StreamId,
    live: u32,
    deleted: u32,
    /// The listpack's size in bytes (`lpBytes`).
    lp_bytes: usize,
    /// The master entry's field names (decides whether a later entry is "same fields").
    master_fields: Box<[Bytes]>,
}

/// How XADD/XTRIM trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// Per-entry bookkeeping: the B-tree slot (ID + boxed slice pointer) with amortised node
/// overhead, and the boxed slice's allocation.
const ENTRY_OVERHEAD: usize = 16 + 16 + 16 + ALLOC_OVERHEAD;
/// Per field or value: its `Bytes` handle.
const FIELD_HANDLE: usize = 32;
/// Per node of the layout model: the B-tree slot and the `Node` itself.
const NODE_OVERHEAD: usize = 16 + std::mem::size_of::<Node>() + 16 + ALLOC_OVERHEAD;
/// Per pending entry: its slot in the group PEL (ID, `Pending`, amortised node) and in its
/// consumer's PEL (ID, amortised node).
const PENDING_OVERHEAD: usize = 16 + std::mem::size_of::<Pending>() + 16 + 16 + 8;
/// Per group and per consumer: the map slot and struct, plus the name (charged separately).
const GROUP_OVERHEAD: usize = 32 + std::mem::size_of::<Group>() + 16;
const CONSUMER_OVERHEAD: usize = 32 + std::mem::size_of::<Consumer>() + 16;

fn fields_cost(fields: &[Bytes]) -> usize {
    fields
        .iter()
        .map(|f| FIELD_HANDLE + bytes_cost(f.len()))
        .sum()
}

fn entry_cost(fields: &[Bytes]) -> usize {
    ENTRY_OVERHEAD + fields_cost(fields)
}

fn node_cost(n: &Node) -> usize {
    NODE_OVERHEAD + fields_cost(&n.master_fields)
}

/// A stream. See the module comment.
#[derive(Clone, Debug, Default)]
pub struct StreamValue {
    /// Entry ID -> field, value, field, value, ...
    entries: BTreeMap<StreamId, Box<[Bytes]>>,
    nodes: BTreeMap<StreamId, Node>,
    last_id: StreamId,
    max_deleted: StreamId,
    entries_added: u64,
    /// By name, in byte order (Redis's rax order, which XINFO GROUPS shows).
    groups: BTreeMap<Bytes, Group>,
    bytes: usize,
}

/// What XAUTOCLAIM found: the claimed entries (`None` fields: deleted, its ID listed in
/// `deleted` instead), the cursor to continue from, and the IDs it removed from the PEL
/// because their entries no longer exist.
pub struct AutoClaim {
    pub claimed: Vec<(StreamId, Box<[Bytes]>)>,
    pub next: StreamId,
    pub deleted: Vec<StreamId>,
}

impl StreamValue {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }
    pub fn max_deleted(&self) -> StreamId {
        self.max_deleted
    }
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }
    /// Redis's `first_id`: the first live entry's ID, 0-0 when empty.
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or(StreamId::MIN)
    }
    /// The number of listpacks Redis would hold (XINFO STREAM's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn first_entry(&self) -> Option<(StreamId, &[Bytes])> {
        self.entries.iter().next().map(|(k, v)| (*k, &v[..]))
    }
    pub fn last_entry(&self) -> Option<(StreamId, &[Bytes])> {
        self.entries.iter().next_back().map(|(k, v)| (*k, &v[..]))
    }
    pub fn get(&self, id: StreamId) -> Option<&[Bytes]> {
        self.entries.get(&id).map(|v| &v[..])
    }
    /// Entries with `start <= id <= end`, forward or reversed.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl DoubleEndedIterator<Item = (StreamId, &[Bytes])> {
        let r = if start <= end {
            Some(self.entries.range(start..=end))
        } else {
            None
        };
        r.into_iter().flatten().map(|(k, v)| (*k, &v[..]))
    }

    /// Append an entry (the caller checked `id > last_id`). `fields` alternates names and values.
    pub fn append(&mut self, id: StreamId, fields: Vec<Bytes>) {
        debug_assert!(id > self.last_id);
        let numfields = fields.len() / 2;
        let totelelen: usize = fields.iter().map(|f| f.len()).sum();
        let tail = self.nodes.iter_mut().next_back();
        let fits = tail.as_ref().is_some_and(|(_, n)| {
            n.lp_bytes + totelelen < NODE_MAX_BYTES && n.live + n.deleted < NODE_MAX_ENTRIES
        });
        let names = || fields.iter().step_by(2);
        if let (true, Some((master, node))) = (fits, tail) {
            let same = node.master_fields.len() == numfields
                && node.master_fields.iter().zip(names()).all(|(a, b)| a == b);
            let mut add = lp_int(if same { 2 } else { 0 })
                + lp_int(id.ms.wrapping_sub(master.ms) as i64)
                + lp_int(id.seq.wrapping_sub(master.seq) as i64);
            let mut lp_count = numfields as i64 + 3;
            if same {
                add += fields
                    .iter()
                    .skip(1)
                    .step_by(2)
                    .map(|v| lp_str(v))
                    .sum::<usize>();
            } else {
                add += lp_int(numfields as i64) + fields.iter().map(|v| lp_str(v)).sum::<usize>();
                lp_count += numfields as i64 + 1;
            }
            add += lp_int(lp_count);
            node.lp_bytes += add;
            node.live += 1;
            node.last = id;
        } else {
            // A new listpack: header and end byte, the master entry (count, deleted, the field
            // names, a terminator), then the entry itself with the same-fields flag.
            let mut lp_bytes = 7 + lp_int(1) + lp_int(0) + lp_int(numfields as i64) + lp_int(0);
            lp_bytes += names().map(|f| lp_str(f)).sum::<usize>();
            lp_bytes += lp_int(2) + lp_int(0) + lp_int(0);
            lp_bytes += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| lp_str(v))
                .sum::<usize>();
            lp_bytes += lp_int(numfields as i64 + 3);
            let node = Node {
                last: id,
                live: 1,
                deleted: 0,
                lp_bytes,
                master_fields: names().map(|f| crate::value::owned(f)).collect(),
            };
            self.bytes += node_cost(&node);
            self.nodes.insert(id, node);
        }
        let fields = fields.into_boxed_slice();
        self.bytes += entry_cost(&fields);
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Remove the entry from the data and mark it deleted in its node (a node left with no live
    /// entry is dropped, as Redis frees the listpack).
    fn remove_entry(&mut self, id: StreamId) -> bool {
        let Some(f) = self.entries.remove(&id) else {
            return false;
        };
        self.bytes -= entry_cost(&f);
        let (&master, node) = self
            .nodes
            .range_mut(..=id)
            .next_back()
            .expect("every entry lies in a node");
        node.live -= 1;
        node.deleted += 1;
        if node.live == 0 {
            let n = self.nodes.remove(&master).expect("present");
            self.bytes -= node_cost(&n);
        }
        true
    }

    /// XDEL of one ID: true when it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if !self.remove_entry(id) {
            return false;
        }
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        true
    }

    /// Trim as XADD/XTRIM do (Redis's `streamTrim`); returns the number of entries removed.
    /// `approx` removes whole nodes only; `limit` (0 = none) caps the entries removed by whole
    /// nodes.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        let masters: Vec<StreamId> = self.nodes.keys().copied().collect();
        for master in masters {
            let len = self.entries.len() as u64;
            if let Trim::MaxLen(max) = how {
                if len <= max {
                    break;
                }
            }
            let node = &self.nodes[&master];
            let live = node.live as u64;
            if limit != 0 && deleted + live > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => len - live >= max,
                Trim::MinId(min) => node.last < min,
            };
            let upto = node.last;
            if remove_node {
                let ids: Vec<StreamId> =
                    self.entries.range(master..=upto).map(|(k, _)| *k).collect();
                for id in ids {
                    let f = self.entries.remove(&id).expect("present");
                    self.bytes -= entry_cost(&f);
                }
                let n = self.nodes.remove(&master).expect("present");
                self.bytes -= node_cost(&n);
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // Trim inside this node, entry by entry: entries are marked deleted, the node stays.
            let ids: Vec<StreamId> = self.entries.range(master..=upto).map(|(k, _)| *k).collect();
            let mut from_node = 0u32;
            for id in ids {
                let stop = match how {
                    Trim::MaxLen(max) => self.entries.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                let f = self.entries.remove(&id).expect("present");
                self.bytes -= entry_cost(&f);
                from_node += 1;
            }
            let node = self.nodes.get_mut(&master).expect("present");
            node.live -= from_node;
            node.deleted += from_node;
            deleted += from_node as u64;
            break;
        }
        deleted
    }

    /// XSETID: the caller checked the new values against the stream.
    pub fn set_id(
        &mut self,
        last: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) {
        self.last_id = last;
        if let Some(n) = entries_added {
            self.entries_added = n;
        }
        if let Some(m) = max_deleted {
            self.max_deleted = m;
        }
    }

    /// A stream rebuilt from its serialized parts (RESTORE): `entries` in ID order are appended
    /// as XADD would (so the node model is Redis's), then the metadata and groups are set as
    /// they were saved. The caller checked the parts (IDs ascending, PELs owned by consumers).
    pub fn from_parts(
        entries: impl Iterator<Item = (StreamId, Vec<Bytes>)>,
        last_id: StreamId,
        max_deleted: StreamId,
        entries_added: u64,
        groups: Vec<(Bytes, Group)>,
    ) -> Self {
        let mut s = StreamValue::new();
        for (id, fields) in entries {
            s.append(id, fields);
        }
        s.last_id = last_id;
        s.max_deleted = max_deleted;
        s.entries_added = entries_added;
        s.groups = groups.into_iter().collect();
        s.bytes = s.recount();
        s
    }

    // -----------------------------------------------------------------------------------------
    // Consumer groups

    pub fn groups(&self) -> impl Iterator<Item = (&Bytes, &Group)> {
        self.groups.iter()
    }
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }

    /// XGROUP CREATE: false when the name is taken.
    pub fn create_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
    ) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.bytes += GROUP_OVERHEAD + bytes_cost(name.len());
        self.groups.insert(
            crate::value::owned(name),
            Group {
                last_id,
                entries_read,
                pel: BTreeMap::new(),
                consumers: BTreeMap::new(),
            },
        );
        true
    }

    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        match self.groups.remove_entry(name) {
            Some((k, g)) => {
                self.bytes -= group_cost(&k, &g);
                true
            }
            None => false,
        }
    }

    /// XGROUP SETID (the group exists).
    pub fn set_group_id(&mut self, name: &[u8], last_id: StreamId, entries_read: Option<u64>) {
        if let Some(g) = self.groups.get_mut(name) {
            g.last_id = last_id;
            g.entries_read = entries_read;
        }
    }

    /// Make the consumer if the group lacks it; true when it was made.
    pub fn create_consumer(&mut self, group: &[u8], name: &[u8], now: u64) -> bool {
        let Some(g) = self.groups.get_mut(group) else {
            return false;
        };
        if g.consumers.contains_key(name) {
            return false;
        }
        self.bytes += CONSUMER_OVERHEAD + bytes_cost(name.len());
        g.consumers.insert(
            crate::value::owned(name),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// The consumer, made if missing, its seen-time set to `now` (XREADGROUP, XCLAIM).
    fn touch_consumer(&mut self, group: &[u8], name: &[u8], now: u64) -> Bytes {
        self.create_consumer(group, name, now);
        let g = self.groups.get_mut(group).expect("group exists");
        g.consumers.get_mut(name).expect("made").seen_time = now;
        g.consumers.get_key_value(name).expect("made").0.clone()
    }

    /// XGROUP DELCONSUMER: the number of pending entries it had, None when there was no such
    /// consumer. Its pending entries leave the group's PEL.
    pub fn delete_consumer(&mut self, group: &[u8], name: &[u8]) -> Option<usize> {
        let g = self.groups.get_mut(group)?;
        let (k, c) = g.consumers.remove_entry(name)?;
        for id in &c.pel {
            g.pel.remove(id);
        }
        self.bytes -= consumer_cost(&k, &c) + c.pel.len() * PENDING_OVERHEAD;
        Some(c.pel.len())
    }

    /// XREADGROUP with `>`: deliver up to `count` (0 = all) entries after the group's last ID to
    /// `consumer`, moving the group's last ID and read counter; unless `noack`, each enters the
    /// PEL (taken from whichever consumer owned it before). Returns the delivered entries.
    pub fn read_new(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        count: usize,
        noack: bool,
        now: u64,
    ) -> Vec<(StreamId, Box<[Bytes]>)> {
        let cname = self.touch_consumer(group, consumer, now);
        let start = self.groups[group].last_id;
        let ids: Vec<(StreamId, Box<[Bytes]>)> = self
            .entries
            .range((Bound::Excluded(start), Bound::Unbounded))
            .take(if count == 0 { usize::MAX } else { count })
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, _) in &ids {
            self.advance_group(group, *id);
            if !noack {
                self.add_pending(group, &cname, *id, now, 1);
            }
        }
        ids
    }

    /// Move a group's last delivered ID to `id` (greater than it), keeping its read counter as
    /// Redis's `streamReplyWithRange` does.
    fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let valid = self.groups[group].entries_read.is_some();
        let tomb = self.range_has_tombstones(id, StreamId::MAX);
        let est = self.estimate_read_counter(id);
        let added = self.entries_added;
        let g = self.groups.get_mut(group).expect("group exists");
        if id <= g.last_id {
            return;
        }
        if valid && !tomb {
            g.entries_read = g.entries_read.map(|n| n + 1);
        } else if added != 0 {
            g.entries_read = est;
        }
        g.last_id = id;
    }

    /// Put `id` in the group's PEL owned by `consumer` (re-assigning it if another owned it).
    fn add_pending(&mut self, group: &[u8], consumer: &Bytes, id: StreamId, now: u64, count: u64) {
        let g = self.groups.get_mut(group).expect("group exists");
        match g.pel.get_mut(&id) {
            Some(p) => {
                if p.consumer != *consumer {
                    if let Some(old) = g.consumers.get_mut(&p.consumer) {
                        old.pel.remove(&id);
                    }
                    p.consumer = consumer.clone();
                    g.consumers
                        .get_mut(consumer)
                        .expect("consumer")
                        .pel
                        .insert(id);
                }
                p.delivery_time = now;
                p.delivery_count = count;
            }
            None => {
                g.pel.insert(
                    id,
                    Pending {
                        consumer: consumer.clone(),
                        delivery_time: now,
                        delivery_count: count,
                    },
                );
                g.consumers
                    .get_mut(consumer)
                    .expect("consumer")
                    .pel
                    .insert(id);
                self.bytes += PENDING_OVERHEAD;
            }
        }
    }

    /// XREADGROUP with an ID: the consumer's own pending entries after `start`, up to `count`
    /// (0 = all); each delivery is counted. Entries since deleted come back as `None`.
    pub fn read_history(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        count: usize,
        now: u64,
    ) -> Vec<(StreamId, Option<Box<[Bytes]>>)> {
        self.touch_consumer(group, consumer, now);
        let g = self.groups.get_mut(group).expect("group exists");
        let c = g.consumers.get(consumer).expect("made");
        let ids: Vec<StreamId> = c
            .pel
            .range(start..)
            .take(if count == 0 { usize::MAX } else { count })
            .copied()
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = g.pel.get_mut(&id) {
                p.delivery_time = now;
                p.delivery_count += 1;
            }
            out.push((id, self.entries.get(&id).cloned()));
        }
        out
    }

    /// XACK: how many of `ids` were pending in the group (and are no longer).
    pub fn ack(&mut self, group: &[u8], ids: &[StreamId]) -> u64 {
        let Some(g) = self.groups.get_mut(group) else {
            return 0;
        };
        let mut n = 0;
        for id in ids {
            if let Some(p) = g.pel.remove(id) {
                if let Some(c) = g.consumers.get_mut(&p.consumer) {
                    c.pel.remove(id);
                }
                self.bytes -= PENDING_OVERHEAD;
                n += 1;
            }
        }
        n
    }

    /// Remove one ID from a group's PEL (XCLAIM/XAUTOCLAIM of an entry deleted since).
    fn drop_pending(&mut self, group: &[u8], id: StreamId) {
        self.ack(group, &[id]);
    }

    /// XCLAIM of one ID for `consumer` (made on the first claim, as Redis does): Some(fields)
    /// when claimed (`None` fields for JUSTID). `min_idle` is checked against the entry's last
    /// delivery unless FORCE just made the pending entry; a pending entry whose stream entry was
    /// deleted leaves the PEL and is not claimed.
    #[allow(clippy::too_many_arguments)]
    pub fn claim(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        id: StreamId,
        min_idle: u64,
        now: u64,
        delivery_time: u64,
        retry: Option<u64>,
        force: bool,
        justid: bool,
    ) -> Option<Option<Box<[Bytes]>>> {
        let exists = self.entries.contains_key(&id);
        let pending = self.groups.get(group)?.pel.get(&id).cloned();
        if !exists {
            if pending.is_some() {
                self.drop_pending(group, id);
            }
            return None;
        }
        let forced = pending.is_none();
        if forced && !force {
            return None;
        }
        // Redis's FORCE makes the pending entry with one delivery (then counted as below).
        let (last_time, count) = match &pending {
            Some(p) => (p.delivery_time, p.delivery_count),
            None => (now, 1),
        };
        if !forced && min_idle > 0 && (now as i64).wrapping_sub(last_time as i64) < min_idle as i64
        {
            return None;
        }
        let cname = self.touch_consumer(group, consumer, now);
        let count = match retry {
            Some(n) => n,
            None if justid => count,
            None => count + 1,
        };
        self.add_pending(group, &cname, id, delivery_time, count);
        if justid {
            Some(None)
        } else {
            Some(self.entries.get(&id).cloned())
        }
    }

    /// XCLAIM LASTID: move the group's last delivered ID forward only.
    pub fn raise_group_last_id(&mut self, group: &[u8], id: StreamId) {
        if let Some(g) = self.groups.get_mut(group) {
            if id > g.last_id {
                g.last_id = id;
            }
        }
    }

    /// XAUTOCLAIM (Redis 7.0): scan the PEL from `start`, at most `count * 10` IDs, claiming
    /// those idle for `min_idle` ms or more for `consumer`; deleted entries leave the PEL and
    /// are reported. Claimed and deleted IDs together are at most `count`.
    #[allow(clippy::too_many_arguments)]
    pub fn autoclaim(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        min_idle: u64,
        count: usize,
        now: u64,
        justid: bool,
    ) -> AutoClaim {
        let mut attempts = count.saturating_mul(10);
        let mut left = count;
        let mut out = AutoClaim {
            claimed: Vec::new(),
            next: StreamId::MIN,
            deleted: Vec::new(),
        };
        let mut cname: Option<Bytes> = None;
        let mut cursor = Some(start);
        while let Some(from) = cursor {
            if attempts == 0 || left == 0 {
                break;
            }
            attempts -= 1;
            let Some((&id, p)) = self.groups[group].pel.range(from..).next() else {
                cursor = None;
                break;
            };
            let (last_time, n) = (p.delivery_time, p.delivery_count);
            cursor = id.next();
            if !self.entries.contains_key(&id) {
                out.deleted.push(id);
                self.drop_pending(group, id);
                left -= 1;
                continue;
            }
            if min_idle > 0 && (now as i64).wrapping_sub(last_time as i64) < min_idle as i64 {
                continue;
            }
            let c = match &cname {
                Some(c) => c.clone(),
                None => {
                    let c = self.touch_consumer(group, consumer, now);
                    cname = Some(c.clone());
                    c
                }
            };
            self.add_pending(group, &c, id, now, if justid { n } else { n + 1 });
            let f = if justid {
                Box::default()
            } else {
                self.entries[&id].clone()
            };
            out.claimed.push((id, f));
            left -= 1;
        }
        // The cursor: the next PEL ID after the scan, 0-0 once the PEL is exhausted.
        out.next = cursor
            .and_then(|c| self.groups[group].pel.range(c..).next().map(|(k, _)| *k))
            .unwrap_or(StreamId::MIN);
        out
    }

    // -----------------------------------------------------------------------------------------
    // Read counters (Redis 7.0's lag bookkeeping)

    /// Redis's `streamRangeHasTombstones`.
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: None is "invalid".
    pub fn estimate_read_counter(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.entries.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted.is_zero() || self.max_deleted < first {
            let len = self.entries.len() as u64;
            if id < first {
                return Some(self.entries_added - len);
            } else if id == first {
                return Some(self.entries_added - len + 1);
            }
        }
        None
    }

    /// XINFO GROUPS' `lag` (Redis's `streamReplyWithCGLag`): None when it cannot be known.
    /// Signed, as Redis 7.0 computes it: a group created with an ENTRIESREAD past what the
    /// stream holds reports a negative lag (redis-py's suite checks for -6).
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let lag = |read: u64| (self.entries_added as i64).wrapping_sub(read as i64);
        if let Some(read) = g.entries_read {
            if !self.range_has_tombstones(g.last_id, StreamId::MAX) {
                return Some(lag(read));
            }
        }
        self.estimate_read_counter(g.last_id).map(lag)
    }

    /// What `bytes` should be, counted from scratch (tests).
    pub fn recount(&self) -> usize {
        self.entries.values().map(|f| entry_cost(f)).sum::<usize>()
            + self.nodes.values().map(node_cost).sum::<usize>()
            + self
                .groups
                .iter()
                .map(|(k, g)| group_cost(k, g))
                .sum::<usize>()
    }
}

fn consumer_cost(name: &Bytes, _c: &Consumer) -> usize {
    CONSUMER_OVERHEAD + bytes_cost(name.len())
}

fn group_cost(name: &Bytes, g: &Group) -> usize {
    GROUP_OVERHEAD
        + bytes_cost(name.len())
        + g.pel.len() * PENDING_OVERHEAD
        + g.consumers
            .iter()
            .map(|(k, c)| consumer_cost(k, c))
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn add(s: &mut StreamValue, ms: u64, seq: u64, kv: &[&str]) {
        s.append(StreamId::new(ms, seq), kv.iter().map(|x| b(x)).collect());
        assert_eq!(s.bytes(), s.recount());
    }

    #[test]
    fn nodes_follow_redis_entry_limit_and_trim_whole_nodes() {
        let mut s = StreamValue::new();
        for i in 1..=250 {
            add(&mut s, i, 0, &["f", "v"]);
        }
        // 100 entries per listpack: 3 nodes (100, 100, 50).
        assert_eq!(s.node_count(), 3);
        // MAXLEN ~ 120 removes the first node only (the second would leave 50 < 120).
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.bytes(), s.recount());
        // exact: down to 120 inside the next node
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.first_id(), StreamId::new(131, 0));
        assert_eq!(s.node_count(), 2);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(240, 0)), false, 0), 109);
        assert_eq!(s.len(), 11);
        assert_eq!(s.bytes(), s.recount());
    }

    #[test]
    fn large_entries_fill_nodes_by_bytes() {
        let mut s = StreamValue::new();
        let big = "x".repeat(1000);
        for i in 1..=10 {
            add(&mut s, i, 0, &["f", &big]);
        }
        // ~1 KB each: a node takes 4 entries before 4096 bytes would be passed.
        assert!(s.node_count() >= 3, "{}", s.node_count());
    }

    #[test]
    fn groups_pel_and_bytes_stay_exact() {
        let mut s = StreamValue::new();
        for i in 1..=5 {
            add(&mut s, i, 0, &["a", "1"]);
        }
        assert!(s.create_group(b"g", StreamId::MIN, None));
        assert!(!s.create_group(b"g", StreamId::MIN, None));
        let got = s.read_new(b"g", b"alice", 2, false, 1000);
        assert_eq!(got.len(), 2);
        assert_eq!(s.bytes(), s.recount());
        let got = s.read_new(b"g", b"bob", 0, false, 1000);
        assert_eq!(got.len(), 3);
        assert_eq!(s.group(b"g").unwrap().pel.len(), 5);
        assert!(s
            .claim(
                b"g",
                b"bob",
                StreamId::new(1, 0),
                0,
                2000,
                2000,
                None,
                false,
                false
            )
            .is_some());
        assert_eq!(s.group(b"g").unwrap().consumers[&b"bob"[..]].pel.len(), 4);
        assert_eq!(s.bytes(), s.recount());
        assert!(s.delete(StreamId::new(2, 0)));
        let ac = s.autoclaim(b"g", b"bob", StreamId::MIN, 0, 10, 3000, false);
        assert_eq!(ac.deleted, vec![StreamId::new(2, 0)]);
        assert_eq!(s.bytes(), s.recount());
        assert_eq!(s.ack(b"g", &[StreamId::new(1, 0), StreamId::new(9, 9)]), 1);
        assert_eq!(s.delete_consumer(b"g", b"bob"), Some(3));
        assert_eq!(s.bytes(), s.recount());
        assert!(s.destroy_group(b"g"));
        assert_eq!(s.bytes(), s.recount());
        while let Some((id, _)) = s.first_entry() {
            s.delete(id);
        }
        assert_eq!(s.bytes(), 0);
        assert_eq!(s.node_count(), 0);
    }

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_str(b"127"), 2);
        assert_eq!(lp_str(b"128"), 3);
        assert_eq!(lp_str(b"007"), 5);
        assert_eq!(lp_str(&[b'a'; 63]), 65);
        assert_eq!(lp_str(&[b'a'; 64]), 67);
        assert_eq!(lp_int(-1), 3);
    }
}
