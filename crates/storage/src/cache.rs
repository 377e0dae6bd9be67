//! A named cache: a keyspace split into shards, each behind its own short-lived lock.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

use crate::budget::MemoryBudget;
use crate::feed::{Change, ChangeEvent, Feed, FeedHub};
use crate::shard::{Shard, ShardStats};
use crate::store::StoreError;

/// Shards of one cache. Locks are `parking_lot` mutexes held only for the duration of one
/// command's engine work (never across an `.await`), which is why a plain mutex beats an async one.
pub struct Cache {
    name: Arc<str>,
    shards: Box<[Mutex<Shard>]>,
    mask: usize,
    /// Picks the shard. A fixed seed per cache so the choice is stable for the cache's lifetime.
    router: foldhash::fast::FixedState,
    /// The change feed every shard of this cache emits into (WATCH is one of its listeners).
    feed: Arc<Feed>,
}

impl Cache {
    /// `shards` is rounded up to a power of two. A cache on its own (tests): its feed has no
    /// store-wide listeners.
    pub fn new(name: &str, shards: usize, budget: Arc<MemoryBudget>) -> Self {
        Self::with_hub(name, shards, budget, Arc::default())
    }

    /// A cache whose feed also reaches `hub`'s listeners (what [`crate::Store`] builds).
    pub fn with_hub(
        name: &str,
        shards: usize,
        budget: Arc<MemoryBudget>,
        hub: Arc<FeedHub>,
    ) -> Self {
        let name: Arc<str> = Arc::from(name);
        let feed = Arc::new(Feed::new(name.clone(), hub));
        let n = shards.max(1).next_power_of_two();
        let shards = (0..n)
            .map(|_| Mutex::new(Shard::with_feed(budget.clone(), feed.clone())))
            .collect::<Vec<_>>();
        Self {
            name,
            shards: shards.into_boxed_slice(),
            mask: n - 1,
            router: foldhash::fast::FixedState::with_seed(0x5eed_f3e2_17e0_c0de),
            feed,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    #[inline]
    pub fn shard_index(&self, key: &[u8]) -> usize {
        (self.router.hash_one(key) as usize) & self.mask
    }

    /// Lock the shard that owns `key`.
    #[inline]
    pub fn lock_key(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.shards[self.shard_index(key)].lock()
    }

    /// Lock shard `i` (admin iteration: KEYS, SCAN, DBSIZE, INFO).
    pub fn lock_shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].lock()
    }

    pub fn try_lock_shard(&self, i: usize) -> Option<MutexGuard<'_, Shard>> {
        self.shards[i].try_lock()
    }

    /// Lock every shard owning one of `keys`, in index order (the global lock order), so that
    /// multi-key commands are atomic and cannot deadlock with each other.
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        let mut idx: Vec<usize> = keys.into_iter().map(|k| self.shard_index(k)).collect();
        idx.sort_unstable();
        idx.dedup();
        Locked {
            cache: self,
            guards: idx
                .into_iter()
                .map(|i| (i, self.shards[i].lock()))
                .collect(),
        }
    }

    /// Lock all shards in order: MULTI/EXEC runs under this, which makes a transaction isolated.
    pub fn lock_all(&self) -> Locked<'_> {
        Locked {
            cache: self,
            guards: self
                .shards
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.lock()))
                .collect(),
        }
    }

    /// Lock all shards if none is held now (a caller holding another cache's shards that may
    /// not take these in the lock order).
    pub fn try_lock_all(&self) -> Option<Locked<'_>> {
        let mut guards = Vec::with_capacity(self.shards.len());
        for (i, s) in self.shards.iter().enumerate() {
            guards.push((i, s.try_lock()?));
        }
        Some(Locked {
            cache: self,
            guards,
        })
    }

    /// Number of keys (including not-yet-reaped expired ones, as Redis's DBSIZE does).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn used_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().used_bytes()).sum()
    }

    pub fn stats(&self) -> ShardStats {
        let mut t = ShardStats::default();
        for s in self.shards.iter() {
            let st = s.lock().stats;
            t.hits += st.hits;
            t.misses += st.misses;
            t.expired += st.expired;
            t.evicted += st.evicted;
        }
        t
    }

    /// SWAPDB: exchange the contents of two caches atomically. Every shard of both is locked,
    /// the cache whose name sorts first first (the lock order across caches: by name, then by
    /// shard index). `Err` when their shard counts differ (keys would route elsewhere).
    pub fn swap_contents(a: &Cache, b: &Cache, now: u64) -> Result<(), StoreError> {
        if a.shards.len() != b.shards.len() {
            return Err(StoreError::ShardCountMismatch);
        }
        if std::ptr::eq(a, b) {
            return Ok(());
        }
        let (first, second) = if a.name() <= b.name() { (a, b) } else { (b, a) };
        let mut x = first.lock_all();
        let mut y = second.lock_all();
        for ((_, s), (_, t)) in x.guards.iter_mut().zip(y.guards.iter_mut()) {
            s.swap_data(t, now);
        }
        Ok(())
    }

    /// Remove every key (FLUSHDB). Each shard touches the watched keys it held and emits
    /// [`Change::Flush`].
    pub fn flush(&self) {
        for s in self.shards.iter() {
            s.lock().clear();
        }
    }

    /// This cache's change feed: WATCH (`watch`, `unwatch`, `still_valid`) and holds.
    pub fn watch(&self) -> &Feed {
        &self.feed
    }

    /// This cache's change feed.
    pub fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }
}

/// A set of locked shards of one cache.
pub struct Locked<'c> {
    cache: &'c Cache,
    guards: Vec<(usize, MutexGuard<'c, Shard>)>,
}

impl<'c> Locked<'c> {
    /// The (already locked) shard owning `key`. Panics if the key was not part of the lock
    /// set: that is a bug in the command's key specification, not a runtime condition.
    pub fn shard(&mut self, key: &[u8]) -> &mut Shard {
        let i = self.cache.shard_index(key);
        let pos = self
            .guards
            .binary_search_by_key(&i, |(j, _)| *j)
            .expect("command touched a key outside its declared key set");
        &mut self.guards[pos].1
    }
    pub fn cache(&self) -> &Cache {
        self.cache
    }
    /// All locked shards (for whole-keyspace commands inside a transaction).
    pub fn shards(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'c> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }
    pub fn holds_all(&self) -> bool {
        self.guards.len() == self.cache.shards.len()
    }

    /// [`Cache::swap_contents`] for two caches whose shards are all held already (SWAPDB inside
    /// a transaction that locked both).
    pub fn swap_contents_with(
        &mut self,
        other: &mut Locked<'_>,
        now: u64,
    ) -> Result<(), StoreError> {
        if !self.holds_all()
            || !other.holds_all()
            || self.cache.shards.len() != other.cache.shards.len()
        {
            return Err(StoreError::ShardCountMismatch);
        }
        for ((_, s), (_, t)) in self.guards.iter_mut().zip(other.guards.iter_mut()) {
            s.swap_data(t, now);
        }
        Ok(())
    }
}

/// WATCH support: a version per watched key, bumped by the cache's change feed.
///
/// A listener of the feed ([`Feed::emit`] calls it first), so every write reaches it whoever
/// made it (any protocol, expiry, eviction, FLUSHDB). A WATCH holds the feed active; writers
/// pay one relaxed load when nothing holds it. Only keys someone watches are in the map, so it
/// stays as small as the set of watched keys.
///
/// A flush touches only the watched keys that existed (`Shard::clear` asks
/// [`Feed::touch_watched`] before it empties itself), as Redis's `touchAllWatchedKeysInDb`
/// does: a WATCH of a key that was absent survives FLUSHALL.
///
/// A key absent or already expired (not yet reaped) when it was watched was not *live*: as in
/// Redis 7.0, a change that leaves it not live (the removal of an expired key, a flush, a
/// SWAPDB that brings an expired key or none) is no logical change and leaves the WATCH intact;
/// any other change breaks it.
#[derive(Default)]
pub struct WatchRegistry {
    watchers: AtomicUsize,
    keys: Mutex<HashMap<Bytes, WatchSlot>>,
}

#[derive(Default)]
struct WatchSlot {
    version: u64,
    holders: usize,
    /// The change that made `version` left the key not live (removed it, or swapped an expired
    /// key or none in for an expired key or none).
    last_harmless: bool,
}

/// What a client remembers about one watched key.
#[derive(Debug, Clone)]
pub struct WatchTicket {
    pub key: Bytes,
    version: u64,
    /// The key existed and had not expired when watched.
    pub live: bool,
}

impl Feed {
    /// WATCH `key`: remember its version (`live`: it exists and has not expired); the feed
    /// stays active until [`Self::unwatch`].
    pub fn watch(&self, key: &[u8], live: bool) -> WatchTicket {
        self.hold();
        self.registry().watch(key, live)
    }

    pub fn unwatch(&self, ticket: &WatchTicket) {
        self.registry().unwatch(ticket);
        self.release();
    }

    /// Is the watched key unchanged since the ticket was taken?
    pub fn still_valid(&self, ticket: &WatchTicket) -> bool {
        self.registry().still_valid(ticket)
    }

    /// A flush of one shard: every watched key `held(key)` says the shard holds counts as
    /// modified. One lock of the registry; nothing to do while nobody watches.
    pub(crate) fn touch_watched(&self, held: impl Fn(&[u8]) -> bool) {
        let r = self.registry();
        if r.watchers.load(Ordering::Relaxed) == 0 {
            return;
        }
        for (key, slot) in r.keys.lock().iter_mut() {
            if held(key) {
                slot.version += 1;
                slot.last_harmless = true;
            }
        }
    }

    /// A SWAPDB of one shard: `state(key)` says, for each watched key, whether either side
    /// stores it (None: neither, nothing to touch) and whether it is live on either side.
    pub(crate) fn touch_swapped(&self, state: impl Fn(&[u8]) -> Option<bool>) {
        let r = self.registry();
        if r.watchers.load(Ordering::Relaxed) == 0 {
            return;
        }
        for (key, slot) in r.keys.lock().iter_mut() {
            if let Some(live_somewhere) = state(key) {
                slot.version += 1;
                slot.last_harmless = !live_somewhere;
            }
        }
    }
}

impl WatchRegistry {
    fn watch(&self, key: &[u8], live: bool) -> WatchTicket {
        let mut keys = self.keys.lock();
        let slot = keys.entry(Bytes::copy_from_slice(key)).or_default();
        slot.holders += 1;
        self.watchers.fetch_add(1, Ordering::SeqCst);
        WatchTicket {
            key: Bytes::copy_from_slice(key),
            version: slot.version,
            live,
        }
    }

    fn unwatch(&self, ticket: &WatchTicket) {
        let mut keys = self.keys.lock();
        if let Some(slot) = keys.get_mut(&ticket.key[..]) {
            slot.holders -= 1;
            if slot.holders == 0 {
                keys.remove(&ticket.key[..]);
            }
        }
        self.watchers.fetch_sub(1, Ordering::SeqCst);
    }

    fn still_valid(&self, ticket: &WatchTicket) -> bool {
        self.keys
            .lock()
            .get(&ticket.key[..])
            .map(|s| {
                s.version == ticket.version
                    // One change that left a key not live at WATCH not live: no change.
                    || !ticket.live && s.version == ticket.version + 1 && s.last_harmless
            })
            .unwrap_or(false)
    }

    /// The feed's first listener: a change of a watched key bumps its version (a flush was
    /// handled key by key before it, see [`Feed::touch_watched`]).
    pub(crate) fn on_change(&self, ev: &ChangeEvent<'_>) {
        if ev.change == Change::Flush {
            return;
        }
        if !ev.change.modifies() || self.watchers.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(slot) = self.keys.lock().get_mut(ev.key) {
            slot.version += 1;
            slot.last_harmless = matches!(
                ev.change,
                Change::Del | Change::Expired | Change::Evicted | Change::MoveFrom
            );
        }
    }
}
