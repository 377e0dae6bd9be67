//! Per-tenant usage metering: operations, bytes in/out, messages published/delivered, per
//! (token id, cache).
//!
//! Why this shape: a counter shared by every connection would put one contended cache line on
//! every operation. Instead
//! - a RESP connection adds into a plain local [`Counters`] and folds it here once per loop turn
//!   (one lock of an uncontended mutex per turn, however many commands were pipelined);
//! - gRPC handlers, which have no connection-local state, record straight into the shard of the
//!   worker thread they run on;
//! - shards are `Mutex<HashMap>`es picked by a per-thread index, so a shard's lock is only ever
//!   taken by the threads mapped to it and by a reader taking a snapshot.
//!
//! A snapshot moves every shard's counts into the cumulative totals under that shard's lock, so
//! no count is lost or counted twice. Label sets stay bounded: at most `max_tracked_keys`
//! distinct keys get their own figures; the rest add up under [`MeterKey::other`]. Keys of
//! deleted caches are dropped by [`Metering::retire`] (see docs/metering.md).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

use crate::tenant::MeterKey;

/// Usage figures of one tenant (cumulative since start, or a delta being folded in).
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Requests executed: RESP commands (each command of a pipeline or transaction, MULTI and
    /// EXEC included), gRPC calls. Requests refused by a quota are not counted.
    pub operations: u64,
    /// Request bytes: the RESP frame of the command as received; the protobuf encoding of the
    /// gRPC request message.
    pub bytes_in: u64,
    /// Reply bytes: the RESP reply as encoded (pub/sub pushes included); the protobuf encoding of
    /// the gRPC response message(s), subscription items included.
    pub bytes_out: u64,
    /// Messages accepted by a topic (PUBLISH/SPUBLISH, gRPC Publish), whatever the receivers.
    pub messages_published: u64,
    /// Messages handed to a subscriber of this tenant (one per subscriber per message).
    pub messages_delivered: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.operations += o.operations;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.messages_published += o.messages_published;
        self.messages_delivered += o.messages_delivered;
    }

    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }

    /// One executed request.
    pub fn op(bytes_in: u64, bytes_out: u64) -> Self {
        Counters {
            operations: 1,
            bytes_in,
            bytes_out,
            ..Counters::default()
        }
    }
}

/// Gives each thread a small, stable index: its shard is `index % shards`.
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

/// Cumulative figures plus the retirement bookkeeping; only readers lock this.
#[derive(Default)]
struct Totals {
    figures: BTreeMap<MeterKey, Counters>,
    /// Keys whose cache was found gone by the last retire sweep.
    doomed: HashSet<MeterKey>,
}

pub struct Metering {
    shards: Box<[Mutex<HashMap<MeterKey, Counters>>]>,
    /// Keys that have their own figures (bounded by `max_keys`). Locked only when a shard sees a
    /// key for the first time since the last snapshot.
    admitted: Mutex<HashSet<MeterKey>>,
    max_keys: usize,
    other: MeterKey,
    totals: Mutex<Totals>,
}

impl Metering {
    pub fn new(max_keys: usize) -> Self {
        // Enough shards that worker threads (one per core) rarely share one; blocking-pool
        // threads may, which only costs an uncontended-most-of-the-time lock.
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let n = (cores * 2).next_power_of_two().max(8);
        Self {
            shards: (0..n).map(|_| Mutex::new(HashMap::new())).collect(),
            admitted: Mutex::new(HashSet::new()),
            max_keys: max_keys.max(1),
            other: MeterKey::other(),
            totals: Mutex::new(Totals::default()),
        }
    }

    /// Add `delta` to `key`'s figures (into the calling thread's shard).
    pub fn record(&self, key: &MeterKey, delta: &Counters) {
        if delta.is_zero() {
            return;
        }
        let shard = &self.shards[thread_index() & (self.shards.len() - 1)];
        let mut map = shard.lock();
        if let Some(c) = map.get_mut(key) {
            c.add(delta);
            return;
        }
        let key = self.admit(key);
        map.entry(key).or_default().add(delta);
    }

    /// The key figures are kept under: `key` itself while there is room, else the `other` bucket.
    fn admit(&self, key: &MeterKey) -> MeterKey {
        let mut admitted = self.admitted.lock();
        if admitted.contains(key) {
            return key.clone();
        }
        if admitted.len() < self.max_keys {
            admitted.insert(key.clone());
            return key.clone();
        }
        self.other.clone()
    }

    /// Fold every shard into the totals; returns the cumulative figures of every tracked key.
    pub fn snapshot(&self) -> Vec<(MeterKey, Counters)> {
        let mut totals = self.totals.lock();
        for shard in self.shards.iter() {
            // Take the map under the shard lock and merge after releasing it, so recording
            // threads wait only for a pointer swap.
            let taken = std::mem::take(&mut *shard.lock());
            for (k, c) in taken {
                totals.figures.entry(k).or_default().add(&c);
            }
        }
        totals
            .figures
            .iter()
            .map(|(k, c)| (k.clone(), *c))
            .collect()
    }

    /// Drop figures of tenants that no longer exist (deleted caches; later expired or revoked
    /// tokens): a key is dropped on the second sweep in a row that finds `alive(key)` false, so
    /// its final figures stay readable for one sweep interval. Frees its slot in the bounded
    /// key set.
    pub fn retire(&self, alive: impl Fn(&MeterKey) -> bool) {
        self.snapshot();
        let mut totals = self.totals.lock();
        let Totals { figures, doomed } = &mut *totals;
        let mut dropped = Vec::new();
        figures.retain(|k, _| {
            if k.is_other() || alive(k) {
                doomed.remove(k);
                return true;
            }
            if doomed.remove(k) {
                dropped.push(k.clone());
                return false;
            }
            doomed.insert(k.clone());
            true
        });
        if !dropped.is_empty() {
            let mut admitted = self.admitted.lock();
            for k in &dropped {
                admitted.remove(k);
            }
        }
    }
}

#[derive(Serialize)]
struct JsonTenant<'a> {
    token: &'a str,
    cache: &'a str,
    #[serde(flatten)]
    counters: Counters,
}

#[derive(Serialize)]
struct JsonExport<'a> {
    tenants: Vec<JsonTenant<'a>>,
}

/// JSON for billing exports: `{"tenants":[{"token":..,"cache":..,"operations":..,...}]}`.
pub fn render_json(snapshot: &[(MeterKey, Counters)]) -> String {
    let export = JsonExport {
        tenants: snapshot
            .iter()
            .map(|(k, c)| JsonTenant {
                token: &k.token,
                cache: &k.cache,
                counters: *c,
            })
            .collect(),
    };
    serde_json::to_string(&export).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// A Prometheus label value with `\`, `"` and newlines escaped, as the text exposition format
/// requires (cache names and token ids are user input). Shared by every renderer.
pub fn escape_label_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn key(t: &str, c: &str) -> MeterKey {
        MeterKey::new(Arc::from(t), Arc::from(c))
    }

    #[test]
    fn snapshots_are_exact_across_threads() {
        let m = Arc::new(Metering::new(100));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for j in 0..1000u64 {
                        m.record(
                            &key("t", if i % 2 == 0 { "a" } else { "b" }),
                            &Counters::op(j, 1),
                        );
                        if j % 100 == 0 {
                            m.snapshot();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let snap: BTreeMap<_, _> = m.snapshot().into_iter().collect();
        let a = snap[&key("t", "a")];
        assert_eq!(a.operations, 4000);
        assert_eq!(a.bytes_in, 4 * (0..1000u64).sum::<u64>());
        assert_eq!(a.bytes_out, 4000);
        assert_eq!(snap[&key("t", "b")].operations, 4000);
    }

    #[test]
    fn key_set_is_bounded_and_retired_keys_free_their_slot() {
        let m = Metering::new(2);
        for c in ["a", "b", "c", "d"] {
            m.record(&key("t", c), &Counters::op(1, 1));
        }
        let snap: BTreeMap<_, _> = m.snapshot().into_iter().collect();
        assert_eq!(snap.len(), 3);
        assert_eq!(snap[&MeterKey::other()].operations, 2);
        // "a" is gone: kept for one sweep, dropped on the next.
        m.retire(|k| &*k.cache != "a");
        assert!(m.snapshot().iter().any(|(k, _)| &*k.cache == "a"));
        m.retire(|k| &*k.cache != "a");
        assert!(!m.snapshot().iter().any(|(k, _)| &*k.cache == "a"));
        m.record(&key("t", "e"), &Counters::op(1, 1));
        assert!(m.snapshot().iter().any(|(k, _)| &*k.cache == "e"));
    }

    #[test]
    fn json_renderer_labels() {
        let snap = vec![(key("to\"k", "c\\1"), Counters::op(3, 4))];
        let json: serde_json::Value = serde_json::from_str(&render_json(&snap)).unwrap();
        assert_eq!(json["tenants"][0]["token"], "to\"k");
        assert_eq!(json["tenants"][0]["bytes_out"], 4);
    }
}
