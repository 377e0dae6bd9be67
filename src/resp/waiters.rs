//! Wake-ups for blocked commands (BLPOP, BRPOP, BLMOVE, BLMPOP, XREAD/XREADGROUP BLOCK).
//!
//! A blocked client registers one `Notify` under every key it waits on. `KeyWaiters` is a
//! listener of the engine's change feed: whenever a change leaves a list (or sorted set) under
//! a waited-on key, whoever made it (RESP, a gRPC or HTTP list push, a RENAME, a transaction),
//! every waiter on that key is woken. No command has to remember to signal.
//!
//! Blocked clients are served in the order they blocked, as in Redis: a woken client retries
//! only while it is the oldest waiter on one of its keys ([`KeyWaiters::is_first`]); the others
//! go back to waiting, and whenever the oldest leaves (served, timed out, gone) the next one on
//! each of its keys is woken in turn.
//!
//! While a client is blocked it holds its cache's feed active; with nobody blocked (and nothing
//! else listening) writers pay the feed's one branch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::{Cache, Change, ChangeEvent, ChangeListener};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// cache name -> key -> waiters. Nested so a feed event looks its key up by `&str`/`&[u8]`
/// without allocating.
type WaitMap = HashMap<Arc<str>, HashMap<Bytes, Vec<Arc<Notify>>>>;

#[derive(Default)]
pub struct KeyWaiters {
    blocked: AtomicUsize,
    map: Mutex<WaitMap>,
}

impl KeyWaiters {
    pub fn register(&self, cache: &Cache, keys: &[Bytes], n: &Arc<Notify>) {
        {
            let mut map = self.map.lock();
            let per_cache = map.entry(cache.name_arc().clone()).or_default();
            for k in keys {
                per_cache.entry(k.clone()).or_default().push(n.clone());
            }
        }
        self.blocked.fetch_add(1, Ordering::SeqCst);
        // From here on the cache's writes reach `on_change`.
        cache.feed().hold();
    }

    pub fn unregister(&self, cache: &Cache, keys: &[Bytes], n: &Arc<Notify>) {
        cache.feed().release();
        {
            let mut map = self.map.lock();
            if let Some(per_cache) = map.get_mut(cache.name()) {
                for k in keys {
                    if let Some(v) = per_cache.get_mut(&k[..]) {
                        let was_first = v.first().is_some_and(|x| Arc::ptr_eq(x, n));
                        v.retain(|x| !Arc::ptr_eq(x, n));
                        if v.is_empty() {
                            per_cache.remove(&k[..]);
                        } else if was_first {
                            // The next in line may find what the leaver did not take.
                            v[0].notify_one();
                        }
                    }
                }
                if per_cache.is_empty() {
                    map.remove(cache.name());
                }
            }
        }
        self.blocked.fetch_sub(1, Ordering::SeqCst);
    }

    /// Is `n` the oldest waiter on at least one of `keys`? Only then may a woken client retry:
    /// younger ones wait for their turn (they are woken when the one before them leaves).
    pub fn is_first(&self, cache: &Cache, keys: &[Bytes], n: &Arc<Notify>) -> bool {
        let map = self.map.lock();
        let Some(per_cache) = map.get(cache.name()) else {
            return true;
        };
        keys.iter().any(|k| {
            per_cache
                .get(&k[..])
                .and_then(|v| v.first())
                .is_none_or(|x| Arc::ptr_eq(x, n))
        })
    }

    /// Wake every client blocked on a key of `cache` (SWAPDB replaced all its keys at once,
    /// without per-key events); each looks again, in the order they blocked.
    pub fn wake_cache(&self, cache: &Cache) {
        let map = self.map.lock();
        if let Some(per_cache) = map.get(cache.name()) {
            for n in per_cache.values().flatten() {
                n.notify_one();
            }
        }
    }

    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }
}

impl ChangeListener for KeyWaiters {
    /// Called under the shard lock: a leaf lock and `notify_one` only.
    fn on_change(&self, ev: &ChangeEvent<'_>) {
        // A blocked pop is served by a list or sorted set left under the key; a blocked XREAD
        // by a stream's new entries, and a blocked XREADGROUP must also hear of its group or
        // key going away (it then answers an error). So every change wakes the key's waiters;
        // one that finds nothing for it goes back to waiting.
        if ev.change == Change::KeyMiss || self.blocked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let map = self.map.lock();
        if ev.change == Change::Flush {
            // FLUSHDB / FLUSHALL (and a deleted cache) name no key: every waiter of the cache
            // hears of it (a blocked XREADGROUP must answer that its stream is gone).
            for n in map
                .get(&**ev.cache)
                .into_iter()
                .flat_map(|m| m.values())
                .flatten()
            {
                n.notify_one();
            }
            return;
        }
        if let Some(v) = map.get(&**ev.cache).and_then(|m| m.get(ev.key)) {
            for n in v {
                n.notify_one();
            }
        }
    }
}
