//! Client-side caching: CLIENT TRACKING, Redis 7's invalidation protocol, driven by the change
//! feed (so gRPC and HTTP writes, scripts, expiry and eviction invalidate RESP clients' caches
//! too).
//!
//! - Default mode: the keys a tracking client reads (read-only commands) are remembered in the
//!   tracking table, per cache; the first change of such a key sends an invalidation to every
//!   client that read it and forgets it (Redis's one-shot rule). OPTIN / OPTOUT with CLIENT
//!   CACHING choose which reads are remembered.
//! - BCAST: no table; every change of a key under one of the client's prefixes (all keys
//!   without one) in the cache it tracks is sent, when its token may read that key.
//! - Delivery: to the client itself (a RESP3 `invalidate` push) or, with REDIRECT, to another
//!   connection of the same token (RESP3 push, or in RESP2 a message on
//!   `__redis__:invalidate` when that connection is in subscribe mode). FLUSHDB / FLUSHALL
//!   send a null invalidation ("everything"). NOLOOP skips the client's own writes.
//! - Bounds: the table holds at most `tracking-table-max-keys` keys (CONFIG SET; 0 = no
//!   limit): past it, keys are dropped with an invalidation, as Redis does. A connection's
//!   undelivered invalidations are bounded too: past `INBOX_MAX_KEYS` they collapse into one
//!   null invalidation (a client told "everything" drops its whole local cache, which is
//!   always correct). Both are charged to the memory budget.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::{Change, ChangeEvent, ChangeListener, MemoryBudget, Store};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::resp::client::ClientInfo;

/// `ClientInfo::tracking_mode` bits.
pub const MODE_ON: u8 = 1;
pub const MODE_BCAST: u8 = 2;
pub const MODE_OPTIN: u8 = 4;
pub const MODE_OPTOUT: u8 = 8;

/// Undelivered invalidations one connection may hold before they collapse into a null one.
pub const INBOX_MAX_KEYS: usize = 4096;

/// Redis's default `tracking-table-max-keys`.
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;

/// What one table entry costs besides its key: the map slot, the cache name handle, the
/// client-id vector.
const ENTRY_OVERHEAD: usize = 96;

thread_local! {
    /// The RESP client whose command is running on this thread (0: none, or another
    /// protocol): NOLOOP's "my own write".
    static WRITER: Cell<u64> = const { Cell::new(0) };
}

/// Mark the commands run on this thread until the guard drops as client `id`'s.
pub fn writing_as(id: u64) -> WriterGuard {
    let prev = WRITER.with(|w| w.replace(id));
    WriterGuard(prev)
}

pub struct WriterGuard(u64);

impl Drop for WriterGuard {
    fn drop(&mut self) {
        WRITER.with(|w| w.set(self.0));
    }
}

/// A connection's undelivered invalidations.
#[derive(Default)]
pub struct Inbox {
    pending: Mutex<Pending>,
    pub notify: Notify,
}

#[derive(Default)]
struct Pending {
    keys: Vec<Bytes>,
    /// Keys for BCAST tracking, with the prefix each matched: delivered as one message per
    /// prefix for all that piled up since the last delivery, prefixes and keys in byte order
    /// (Redis sends one per prefix per event-loop turn, from its sorted radix trees).
    bcast: Vec<(Bytes, Bytes)>,
    /// A null invalidation: everything (FLUSHALL, or the keys overflowed).
    all: bool,
    /// The client this one redirects to has gone: `tracking-redir-broken` with its id.
    redir_broken: Option<u64>,
    bytes: usize,
}

impl Inbox {
    fn push_key(&self, key: &[u8], budget: &MemoryBudget, bcast: Option<&[u8]>) {
        let mut p = self.pending.lock();
        // One command may report one key twice (SET ... EX: set, then expire): one push.
        let repeated = match bcast {
            None => p.keys.last().is_some_and(|k| k[..] == *key),
            Some(_) => p.bcast.last().is_some_and(|(_, k)| k[..] == *key),
        };
        if p.all || repeated {
            return;
        }
        if p.keys.len() + p.bcast.len() >= INBOX_MAX_KEYS {
            budget.charge(-(p.bytes as isize));
            p.keys = Vec::new();
            p.bcast = Vec::new();
            p.bytes = 0;
            p.all = true;
        } else {
            let cost = ferrite_storage::value::bytes_cost(key.len()) + std::mem::size_of::<Bytes>();
            match bcast {
                None => p.keys.push(Bytes::copy_from_slice(key)),
                Some(prefix) => p
                    .bcast
                    .push((Bytes::copy_from_slice(prefix), Bytes::copy_from_slice(key))),
            }
            p.bytes += cost;
            budget.charge(cost as isize);
        }
        drop(p);
        self.notify.notify_one();
    }

    fn push_all(&self, budget: &MemoryBudget) {
        let mut p = self.pending.lock();
        budget.charge(-(p.bytes as isize));
        p.keys = Vec::new();
        p.bcast = Vec::new();
        p.bytes = 0;
        p.all = true;
        drop(p);
        self.notify.notify_one();
    }

    fn push_redir_broken(&self, target: u64) {
        self.pending.lock().redir_broken = Some(target);
        self.notify.notify_one();
    }

    /// Everything pending: the keys, and whether a null invalidation comes first.
    pub fn take(&self, budget: &MemoryBudget) -> Taken {
        let mut p = self.pending.lock();
        budget.charge(-(p.bytes as isize));
        p.bytes = 0;
        Taken {
            keys: std::mem::take(&mut p.keys),
            bcast: std::mem::take(&mut p.bcast),
            all: std::mem::take(&mut p.all),
            redir_broken: p.redir_broken.take(),
        }
    }
}

/// What an inbox held: keys to invalidate one message each, BCAST keys in one message, and
/// whether a null invalidation (everything) comes first.
pub struct Taken {
    pub keys: Vec<Bytes>,
    pub bcast: Vec<(Bytes, Bytes)>,
    pub all: bool,
    pub redir_broken: Option<u64>,
}

/// Whether `client`'s next read is remembered for default-mode tracking: tracking is on and
/// not BCAST; under OPTIN only after CLIENT CACHING YES, under OPTOUT unless after CLIENT
/// CACHING NO.
pub fn tracks_reads_now(client: &crate::resp::client::ClientInfo) -> bool {
    let mode = client
        .tracking_mode
        .load(std::sync::atomic::Ordering::Relaxed);
    if mode == 0 || mode & MODE_BCAST != 0 {
        return false;
    }
    let caching = client.caching.load(std::sync::atomic::Ordering::Relaxed);
    if mode & MODE_OPTIN != 0 {
        caching == 1
    } else if mode & MODE_OPTOUT != 0 {
        caching != 2
    } else {
        true
    }
}

/// One tracking client's options.
#[derive(Clone)]
pub struct Options {
    /// 0: the client itself receives.
    pub redirect: u64,
    pub bcast: bool,
    pub prefixes: Vec<Bytes>,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

struct Tracker {
    options: Options,
    /// Whose inbox receives (the client's own, or the redirect target's).
    target: Arc<ClientInfo>,
    /// The tracking client itself (told when its redirect target has gone).
    source: Arc<ClientInfo>,
    /// BCAST: the cache it follows.
    cache: Arc<str>,
    /// BCAST: whose permissions filter the keys (None: unrestricted).
    principal: Option<ferrite_auth::Principal>,
}

impl Tracker {
    /// Queue `key`'s invalidation for the receiving client; when the client it redirects to
    /// has gone, tell the tracking client instead (Redis's `tracking-redir-broken`).
    fn deliver(&self, key: &[u8], budget: &MemoryBudget, bcast: Option<&[u8]>) {
        if self.options.redirect != 0 && self.target.gone.load(Ordering::Acquire) {
            self.source
                .invalidations
                .push_redir_broken(self.options.redirect);
        } else {
            self.target.invalidations.push_key(key, budget, bcast);
        }
    }
}

#[derive(Default)]
struct Inner {
    trackers: HashMap<u64, Tracker>,
    /// Default mode: (cache, key) → the clients that read it.
    table: HashMap<(Arc<str>, Bytes), Vec<u64>>,
    table_bytes: usize,
    items: usize,
}

/// Every tracking client and the tracking table (a listener of the store's change feed).
pub struct Tracking {
    /// Tracking clients: the per-command and per-change fast path when none.
    clients: AtomicUsize,
    inner: Mutex<Inner>,
    max_keys: AtomicUsize,
    budget: Arc<MemoryBudget>,
}

impl Tracking {
    pub fn new(budget: Arc<MemoryBudget>) -> Arc<Tracking> {
        Arc::new(Tracking {
            clients: AtomicUsize::new(0),
            inner: Mutex::default(),
            max_keys: AtomicUsize::new(DEFAULT_MAX_KEYS),
            budget,
        })
    }

    #[inline]
    pub fn any(&self) -> bool {
        self.clients.load(Ordering::Relaxed) != 0
    }

    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// `tracking-table-max-keys` (0: no limit); a lower limit applies at once.
    pub fn set_max_keys(&self, n: usize) {
        self.max_keys.store(n, Ordering::Relaxed);
        let mut g = self.inner.lock();
        self.enforce_limit(&mut g);
    }

    /// Turn tracking on for client `me` (replacing its options), delivering to `target`.
    pub fn enable(
        &self,
        store: &Store,
        me: &Arc<ClientInfo>,
        target: Arc<ClientInfo>,
        options: Options,
        cache: Arc<str>,
        principal: Option<ferrite_auth::Principal>,
    ) {
        let mut g = self.inner.lock();
        let t = Tracker {
            options,
            target,
            source: me.clone(),
            cache,
            principal,
        };
        if g.trackers.insert(me.id, t).is_none() {
            // The first tracking client makes every cache's feed report its changes.
            if self.clients.fetch_add(1, Ordering::AcqRel) == 0 {
                store.hold_feed();
            }
        }
    }

    /// Turn tracking off for client `id` (CLIENT TRACKING OFF, or it disconnected). Its
    /// table entries go when next touched (Redis leaves them too).
    pub fn disable(&self, store: &Store, id: u64) {
        let mut g = self.inner.lock();
        if g.trackers.remove(&id).is_some() && self.clients.fetch_sub(1, Ordering::AcqRel) == 1 {
            store.release_feed();
            // Nobody tracks: the table goes with the last client.
            let bytes = std::mem::take(&mut g.table_bytes);
            g.table.clear();
            g.items = 0;
            self.budget.charge(-(bytes as isize));
        }
    }

    /// The client's options, if it tracks.
    pub fn options(&self, id: u64) -> Option<Options> {
        self.inner
            .lock()
            .trackers
            .get(&id)
            .map(|t| t.options.clone())
    }

    /// Default mode: client `id` read `key` of `cache`.
    pub fn remember(&self, id: u64, cache: &Arc<str>, key: &[u8]) {
        let mut g = self.inner.lock();
        match g.trackers.get(&id) {
            Some(t) if !t.options.bcast => {}
            _ => return,
        }
        let k = (cache.clone(), Bytes::copy_from_slice(key));
        let fresh = !g.table.contains_key(&k);
        let entry = g.table.entry(k).or_default();
        if entry.contains(&id) {
            return;
        }
        entry.push(id);
        g.items += 1;
        if fresh {
            let cost = ferrite_storage::value::bytes_cost(key.len()) + ENTRY_OVERHEAD;
            g.table_bytes += cost;
            self.budget.charge(cost as isize);
            self.enforce_limit(&mut g);
        }
    }

    /// Drop keys past `tracking-table-max-keys`, invalidating them for their readers.
    fn enforce_limit(&self, g: &mut Inner) {
        let max = self.max_keys.load(Ordering::Relaxed);
        if max == 0 {
            return;
        }
        while g.table.len() > max {
            let Some(k) = g.table.keys().next().cloned() else {
                break;
            };
            self.invalidate_key(g, &k.0, &k.1, 0);
        }
    }

    /// Send `key`'s invalidation to the clients that read it, and forget it.
    fn invalidate_key(&self, g: &mut Inner, cache: &Arc<str>, key: &[u8], writer: u64) {
        let Some(ids) = g
            .table
            .remove(&(cache.clone(), Bytes::copy_from_slice(key)))
        else {
            return;
        };
        let cost = ferrite_storage::value::bytes_cost(key.len()) + ENTRY_OVERHEAD;
        g.table_bytes -= cost;
        g.items -= ids.len();
        self.budget.charge(-(cost as isize));
        for id in ids {
            if let Some(t) = g.trackers.get(&id) {
                if t.options.bcast || (t.options.noloop && writer == id) {
                    continue;
                }
                t.deliver(key, &self.budget, None);
            }
        }
    }

    /// INFO: tracking clients, keys in the table, (key, client) items, distinct BCAST
    /// prefixes (Redis counts its one prefix table, shared by every client).
    pub fn figures(&self) -> (usize, usize, usize, usize) {
        let g = self.inner.lock();
        let prefixes: std::collections::HashSet<&Bytes> = g
            .trackers
            .values()
            .filter(|t| t.options.bcast)
            .flat_map(|t| t.options.prefixes.iter())
            .collect();
        (g.trackers.len(), g.table.len(), g.items, prefixes.len())
    }
}

impl ChangeListener for Tracking {
    /// Under the shard lock: the tracking lock (a leaf) and inbox pushes only.
    fn on_change(&self, ev: &ChangeEvent<'_>) {
        // `new` comes with the creating command's own event; a miss changes nothing.
        if !self.any() || matches!(ev.change, Change::KeyMiss | Change::New) {
            return;
        }
        // An expiry or eviction is nobody's write: NOLOOP does not hide it, even when the
        // client's own read or write set it off.
        let writer = if matches!(ev.change, Change::Expired | Change::Evicted) {
            0
        } else {
            WRITER.with(Cell::get)
        };
        let mut g = self.inner.lock();
        if ev.change == Change::Flush {
            // FLUSHDB / FLUSHALL: everyone is told "everything", as Redis does.
            for t in g.trackers.values() {
                t.target.invalidations.push_all(&self.budget);
            }
            let bytes = std::mem::take(&mut g.table_bytes);
            g.table.retain(|(c, _), _| c != ev.cache);
            g.items = g.table.values().map(Vec::len).sum();
            let kept: usize = g
                .table
                .keys()
                .map(|(_, k)| ferrite_storage::value::bytes_cost(k.len()) + ENTRY_OVERHEAD)
                .sum();
            g.table_bytes = kept;
            self.budget.charge(kept as isize - bytes as isize);
            return;
        }
        self.invalidate_key(&mut g, ev.cache, ev.key, writer);
        for (&id, t) in g.trackers.iter() {
            if !t.options.bcast || &t.cache != ev.cache || (t.options.noloop && writer == id) {
                continue;
            }
            let prefix: &[u8] = if t.options.prefixes.is_empty() {
                b""
            } else {
                match t.options.prefixes.iter().find(|p| ev.key.starts_with(p)) {
                    Some(p) => p,
                    None => continue,
                }
            };
            let readable = t.principal.as_ref().is_none_or(|p| {
                ferrite_service::authz::check_cache_keys(
                    p,
                    ev.cache,
                    ferrite_auth::CacheAccess::Read,
                    [ev.key],
                )
                .is_ok()
            });
            if readable {
                t.deliver(ev.key, &self.budget, Some(prefix));
            }
        }
    }
}

/// The invalidation messages for what `inbox` holds, in the receiving connection's protocol:
/// RESP3 pushes, or RESP2 `__redis__:invalidate` messages (None when a RESP2 connection is not
/// in subscribe mode: it cannot receive them, and Redis drops them too).
pub fn render(taken: &Taken, resp3: bool, subscribed: bool, out: &mut bytes::BytesMut) {
    let Taken {
        keys,
        bcast,
        all,
        redir_broken,
    } = taken;
    // RESP3 only, as Redis sends it.
    if let (Some(id), true) = (redir_broken, resp3) {
        out.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n");
        out.extend_from_slice(format!(":{id}\r\n").as_bytes());
    }
    if !resp3 && !subscribed {
        return;
    }
    let head: &[u8] = if resp3 {
        b">2\r\n$10\r\ninvalidate\r\n"
    } else {
        b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
    };
    if *all {
        out.extend_from_slice(head);
        out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }
    let put_key = |out: &mut bytes::BytesMut, k: &Bytes| {
        out.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(b"\r\n");
    };
    for k in keys {
        out.extend_from_slice(head);
        out.extend_from_slice(b"*1\r\n");
        put_key(out, k);
    }
    let mut by_prefix: std::collections::BTreeMap<&[u8], std::collections::BTreeSet<&[u8]>> =
        Default::default();
    for (prefix, key) in bcast {
        by_prefix.entry(&prefix[..]).or_default().insert(&key[..]);
    }
    for keys in by_prefix.values() {
        out.extend_from_slice(head);
        out.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
        for k in keys {
            out.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
            out.extend_from_slice(k);
            out.extend_from_slice(b"\r\n");
        }
    }
}
