//! The change feed: one event per mutation of a key, emitted by the shard's write path.
//!
//! ```text
//!   any front end ─┐                                   ┌─ WatchRegistry (this cache's WATCHes)
//!   expiry ────────┤   Shard write path                │
//!   eviction ──────┼─▶ (set_str, insert, EntryMut, ──▶ Feed::emit ─┼─ FeedHub listeners (store-wide):
//!   FLUSHDB ───────┤    remove, expire, evict, clear)  │     blocked-list wake-ups, keyspace
//!   EXEC ──────────┘                                   │     notifications, ...
//! ```
//!
//! Whoever asked for a change (RESP, gRPC, HTTP, a transaction, the expiry or eviction jobs),
//! the shard that makes it emits one [`ChangeEvent`] through its cache's [`Feed`]; no front end
//! tells listeners about writes. Events of one shard are emitted under that shard's lock, so
//! every listener sees them in the order the shard applied them.
//!
//! Cost when nobody listens: one relaxed load and branch per mutation (`Feed::active`) and no
//! allocation. A cache's feed is active while something holds interest in it: a WATCH on one
//! of its keys, a client blocked on one of its keys, or a store-wide listener that asked for
//! every cache (keyspace notifications while `notify-keyspace-events` is set).
//!
//! Listeners run synchronously under the shard lock, so they must be cheap and take only leaf
//! locks; anything slow (publishing a notification) belongs behind a bounded queue the listener
//! fills and something else drains (see `src/service/keyspace_events.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::cache::WatchRegistry;
use crate::value::Value;

/// What happened to a key. The names are Redis's keyspace-notification event names, and
/// [`Change::class`] is the `notify-keyspace-events` class each belongs to, so every consumer
/// (WATCH, wake-ups, notifications, and later triggers or a log) reads one vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    // generic (g)
    Del,
    Expire,
    Persist,
    RenameFrom,
    RenameTo,
    CopyTo,
    /// RESTORE.
    Restore,
    /// MOVE to another database: `move_from` in the source, `move_to` in the destination.
    MoveFrom,
    MoveTo,
    // strings ($)
    Set,
    SetRange,
    /// SETBIT and BITFIELD (Redis's `setbit`).
    SetBit,
    IncrBy,
    IncrByFloat,
    Append,
    /// PFADD, and PFMERGE (Redis reports a merge as a mass add).
    PfAdd,
    // lists (l)
    LPush,
    RPush,
    LPop,
    RPop,
    LInsert,
    LSet,
    LRem,
    LTrim,
    /// SORT ... STORE (Redis files it under the list class: it stores a list).
    SortStore,
    // sets (s)
    SAdd,
    SRem,
    SPop,
    SInterStore,
    SUnionStore,
    SDiffStore,
    // hashes (h)
    HSet,
    HDel,
    HIncrBy,
    HIncrByFloat,
    // sorted sets (z)
    ZAdd,
    ZIncr,
    ZRem,
    ZRemRangeByScore,
    ZRemRangeByRank,
    ZRemRangeByLex,
    ZPopMin,
    ZPopMax,
    ZUnionStore,
    ZInterStore,
    ZDiffStore,
    ZRangeStore,
    // geo sets (z: Redis files them under the sorted-set class)
    GeoRadiusStore,
    GeoSearchStore,
    // streams (t)
    XAdd,
    XTrim,
    XDel,
    XSetId,
    XGroupCreate,
    XGroupCreateConsumer,
    XGroupDelConsumer,
    XGroupDestroy,
    XGroupSetId,
    /// The key's time to live passed (lazy or active expiry).
    Expired,
    /// Removed to make room under `maxmemory`.
    Evicted,
    /// A key that did not exist was created (Redis's `new`, before the command's own event).
    New,
    /// A read looked for the key and did not find it (Redis's `keymiss`).
    KeyMiss,
    /// The stored bytes changed, but Redis sends no keyspace notification for it, only
    /// invalidates WATCH (`signalModifiedKey`): PFCOUNT caching the cardinality in the HLL
    /// string, PFDEBUG GETREG/TODENSE converting it to dense.
    Rewritten,
    /// Every key of the cache is gone (FLUSHDB, FLUSHALL, cache deleted): the event's key is
    /// empty. Redis sends no keyspace notification for it; WATCH treats it as touching all.
    Flush,
}

/// `notify-keyspace-events` class bits ([`Change::class`]); `K`/`E` are the two channel kinds.
pub mod class {
    pub const GENERIC: u16 = 1 << 0; // g
    pub const STRING: u16 = 1 << 1; // $
    pub const LIST: u16 = 1 << 2; // l
    pub const SET: u16 = 1 << 3; // s
    pub const HASH: u16 = 1 << 4; // h
    pub const ZSET: u16 = 1 << 5; // z
    pub const EXPIRED: u16 = 1 << 6; // x
    pub const EVICTED: u16 = 1 << 7; // e
    pub const STREAM: u16 = 1 << 8; // t
    pub const KEY_MISS: u16 = 1 << 9; // m
    pub const NEW: u16 = 1 << 10; // n
    pub const MODULE: u16 = 1 << 11; // d
    pub const KEYSPACE: u16 = 1 << 12; // K
    pub const KEYEVENT: u16 = 1 << 13; // E
    /// Events no notification class covers (`Flush`).
    pub const NONE: u16 = 0;
    /// Redis's `A`: every data class but `m` and `n` (Redis 7: "g$lshzxetd").
    pub const ALL: u16 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

impl Change {
    /// Redis's event name (the payload of `__keyspace@<db>__:<key>`, the channel suffix of
    /// `__keyevent@<db>__:<event>`).
    pub fn name(self) -> &'static str {
        use Change::*;
        match self {
            Del => "del",
            Expire => "expire",
            Persist => "persist",
            RenameFrom => "rename_from",
            RenameTo => "rename_to",
            CopyTo => "copy_to",
            Restore => "restore",
            MoveFrom => "move_from",
            MoveTo => "move_to",
            Set => "set",
            SetRange => "setrange",
            SetBit => "setbit",
            IncrBy => "incrby",
            IncrByFloat => "incrbyfloat",
            Append => "append",
            PfAdd => "pfadd",
            LPush => "lpush",
            RPush => "rpush",
            LPop => "lpop",
            RPop => "rpop",
            LInsert => "linsert",
            LSet => "lset",
            LRem => "lrem",
            LTrim => "ltrim",
            SortStore => "sortstore",
            SAdd => "sadd",
            SRem => "srem",
            SPop => "spop",
            SInterStore => "sinterstore",
            SUnionStore => "sunionstore",
            SDiffStore => "sdiffstore",
            HSet => "hset",
            HDel => "hdel",
            HIncrBy => "hincrby",
            HIncrByFloat => "hincrbyfloat",
            ZAdd => "zadd",
            ZIncr => "zincr",
            ZRem => "zrem",
            ZRemRangeByScore => "zremrangebyscore",
            ZRemRangeByRank => "zremrangebyrank",
            ZRemRangeByLex => "zremrangebylex",
            ZPopMin => "zpopmin",
            ZPopMax => "zpopmax",
            ZUnionStore => "zunionstore",
            ZInterStore => "zinterstore",
            ZDiffStore => "zdiffstore",
            ZRangeStore => "zrangestore",
            GeoRadiusStore => "georadiusstore",
            GeoSearchStore => "geosearchstore",
            XAdd => "xadd",
            XTrim => "xtrim",
            XDel => "xdel",
            XSetId => "xsetid",
            XGroupCreate => "xgroup-create",
            XGroupCreateConsumer => "xgroup-createconsumer",
            XGroupDelConsumer => "xgroup-delconsumer",
            XGroupDestroy => "xgroup-destroy",
            XGroupSetId => "xgroup-setid",
            Expired => "expired",
            Evicted => "evicted",
            New => "new",
            KeyMiss => "keymiss",
            Rewritten => "rewritten",
            Flush => "flush",
        }
    }

    /// The `notify-keyspace-events` class (a [`class`] bit) the event belongs to.
    pub fn class(self) -> u16 {
        use Change::*;
        match self {
            Del | Expire | Persist | RenameFrom | RenameTo | CopyTo | Restore | MoveFrom
            | MoveTo => class::GENERIC,
            Set | SetRange | SetBit | IncrBy | IncrByFloat | Append | PfAdd => class::STRING,
            LPush | RPush | LPop | RPop | LInsert | LSet | LRem | LTrim | SortStore => class::LIST,
            SAdd | SRem | SPop | SInterStore | SUnionStore | SDiffStore => class::SET,
            HSet | HDel | HIncrBy | HIncrByFloat => class::HASH,
            ZAdd | ZIncr | ZRem | ZRemRangeByScore | ZRemRangeByRank | ZRemRangeByLex | ZPopMin
            | ZPopMax | ZUnionStore | ZInterStore | ZDiffStore | ZRangeStore | GeoRadiusStore
            | GeoSearchStore => class::ZSET,
            XAdd | XTrim | XDel | XSetId | XGroupCreate | XGroupCreateConsumer
            | XGroupDelConsumer | XGroupDestroy | XGroupSetId => class::STREAM,
            Expired => class::EXPIRED,
            Evicted => class::EVICTED,
            New => class::NEW,
            KeyMiss => class::KEY_MISS,
            Rewritten | Flush => class::NONE,
        }
    }

    /// Whether the change breaks a WATCH on the key: everything but a read miss and the
    /// stream events Redis 7.0 sends without `signalModifiedKey` (XSETID and the XGROUP
    /// subcommands change only IDs and group state).
    pub fn modifies(self) -> bool {
        use Change::*;
        !matches!(
            self,
            KeyMiss
                | XSetId
                | XGroupCreate
                | XGroupCreateConsumer
                | XGroupDelConsumer
                | XGroupDestroy
                | XGroupSetId
        )
    }
}

/// The key's value right after the change, for listeners that act on it.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    /// The key no longer exists (del, expired, evicted, rename_from, flush) or was not found.
    Gone,
    /// A string kept in the compact segment store.
    Str(&'a [u8]),
    Value(&'a Value),
}

impl ValueRef<'_> {
    /// Whether the value is a list or sorted set: what blocked pops wait for.
    pub fn is_poppable(&self) -> bool {
        matches!(self, ValueRef::Value(Value::List(_) | Value::ZSet(_)))
    }
}

/// One change of one key, as a listener sees it (borrowed: it lives for the callback only).
#[derive(Clone, Copy, Debug)]
pub struct ChangeEvent<'a> {
    /// The cache the key lives in.
    pub cache: &'a Arc<str>,
    /// The key (empty for [`Change::Flush`]).
    pub key: &'a [u8],
    pub change: Change,
    /// The key's absolute expiry after the change, Unix ms; 0 = none (or gone).
    pub expires_at: u64,
    pub value: ValueRef<'a>,
}

/// Something that reacts to changes. Called under the shard lock, in the shard's order: it
/// must be quick, must not block, and may take only leaf locks (never a shard lock).
pub trait ChangeListener: Send + Sync {
    fn on_change(&self, ev: &ChangeEvent<'_>);
}

/// The store-wide part of the feed: listeners that see every cache's events, and how many of
/// them want every cache's events now (see [`crate::Store::hold_feed`]).
#[derive(Default)]
pub struct FeedHub {
    listeners: RwLock<Vec<Arc<dyn ChangeListener>>>,
    /// Holds on every cache (each also counted in every cache's `interest`).
    pub(crate) global: AtomicUsize,
}

impl FeedHub {
    /// Add a listener for every cache's events (server start-up). It is called only while the
    /// cache's feed is active, so a listener that needs events without any other interest must
    /// also hold the feed (per cache: [`Feed::hold`]; for all: [`crate::Store::hold_feed`]).
    pub fn register(&self, l: Arc<dyn ChangeListener>) {
        self.listeners.write().push(l);
    }
}

/// One cache's feed (shared by its shards).
pub struct Feed {
    cache: Arc<str>,
    /// Active while > 0: WATCHes, blocked clients, and `FeedHub::global` holds.
    interest: AtomicUsize,
    hub: Arc<FeedHub>,
    watch: WatchRegistry,
}

impl Feed {
    pub(crate) fn new(cache: Arc<str>, hub: Arc<FeedHub>) -> Self {
        let global = hub.global.load(Ordering::SeqCst);
        Feed {
            cache,
            interest: AtomicUsize::new(global),
            hub,
            watch: WatchRegistry::default(),
        }
    }

    /// A feed nobody listens to (a shard built on its own, in tests and benches).
    pub fn detached() -> Arc<Self> {
        Arc::new(Feed::new(Arc::from(""), Arc::default()))
    }

    /// The hot-path check: does anything want this cache's events now?
    #[inline(always)]
    pub fn active(&self) -> bool {
        self.interest.load(Ordering::Relaxed) != 0
    }

    /// Make the feed deliver events until [`Self::release`] (a blocked client, a WATCH).
    pub fn hold(&self) {
        self.interest.fetch_add(1, Ordering::SeqCst);
    }
    pub fn release(&self) {
        self.interest.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn cache(&self) -> &Arc<str> {
        &self.cache
    }

    pub(crate) fn registry(&self) -> &WatchRegistry {
        &self.watch
    }

    /// Deliver one event to every listener. Callers check [`Self::active`] first (the one
    /// branch writers pay), so this stays out of line.
    #[cold]
    #[inline(never)]
    pub(crate) fn emit(&self, key: &[u8], change: Change, expires_at: u64, value: ValueRef<'_>) {
        let ev = ChangeEvent {
            cache: &self.cache,
            key,
            change,
            expires_at,
            value,
        };
        self.watch.on_change(&ev);
        for l in self.hub.listeners.read().iter() {
            l.on_change(&ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_has_a_redis_name_and_class() {
        use Change::*;
        let all = [
            Del,
            Expire,
            Persist,
            RenameFrom,
            RenameTo,
            CopyTo,
            Restore,
            MoveFrom,
            MoveTo,
            Set,
            SetRange,
            IncrBy,
            IncrByFloat,
            Append,
            LPush,
            RPush,
            LPop,
            RPop,
            LInsert,
            LSet,
            LRem,
            LTrim,
            SortStore,
            SAdd,
            SRem,
            SPop,
            SInterStore,
            SUnionStore,
            SDiffStore,
            HSet,
            HDel,
            HIncrBy,
            HIncrByFloat,
            ZAdd,
            ZIncr,
            ZRem,
            ZRemRangeByScore,
            ZRemRangeByRank,
            ZRemRangeByLex,
            ZPopMin,
            ZPopMax,
            ZUnionStore,
            ZInterStore,
            ZDiffStore,
            ZRangeStore,
            GeoRadiusStore,
            GeoSearchStore,
            XAdd,
            XTrim,
            XDel,
            XSetId,
            XGroupCreate,
            XGroupCreateConsumer,
            XGroupDelConsumer,
            XGroupDestroy,
            XGroupSetId,
            Expired,
            Evicted,
            New,
            KeyMiss,
        ];
        let mut names = std::collections::HashSet::new();
        for c in all {
            assert!(names.insert(c.name()), "{c:?}");
            assert_eq!(c.class().count_ones(), 1, "{c:?}");
            assert!(c
                .name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-'));
        }
        assert_eq!(Flush.class(), class::NONE);
        // `A` leaves out key-miss and new-key events, as in Redis.
        assert_eq!(class::ALL & (class::KEY_MISS | class::NEW), 0);
    }
}
