//! What every Momento collection operation shares: dictionaries (`dictionaries.rs`), sets
//! (`sets.rs`), lists (`lists.rs`) and sorted sets (`sorted_sets.rs`) are built on the helpers
//! here.
//!
//! Data is the engine's: a Momento dictionary is a Redis hash, a list a list, a set a set and a
//! sorted set a zset, in the same cache, so RESP sees what gRPC and HTTP write and the other way
//! round.
//!
//! Rules (docs/grpc.md, "Collections"):
//! - wrong-type access is `ServiceError::WrongType(kind)`, as for scalars;
//! - one shard is locked per key (`cache.lock_key`) for the engine work only;
//! - collection TTL ([`CollectionTtl`]): a write that creates the collection gives it the
//!   request's TTL; on an existing collection the expiry is reset only when `refresh` is set.
//!   The TTL is validated on every write that carries one (0 or above the maximum:
//!   `InvalidTtl`);
//! - every element is checked against `Limits::max_element_bytes` (`ElementTooLarge`) before
//!   anything is stored; a dictionary element is its field plus its value;
//! - writes make room with `ensure_memory` before locking and say which Redis event they are
//!   (`hset`, `rpush`, `zadd`, ...) to the engine's change feed, which is what invalidates
//!   RESP WATCHes, wakes RESP clients blocked on a list and sends keyspace notifications;
//! - an emptied collection disappears (the engine's `EntryMut` drop removes it), so Missing and
//!   ItemGetType report it absent.

use ferrite_storage::value::{HashValue, ListValue, SetValue, ZSetValue};
use ferrite_storage::{Change, Value};

use crate::admission::Op;
use crate::error::ServiceError;

/// A storage collection type a Momento collection maps to.
pub(crate) trait Coll: Sized {
    fn new_value() -> Value;
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn count(&self) -> usize;
}

/// Which change-feed events a collection write made, from its result and the collection's
/// length before and after (empty: it changed nothing).
pub(crate) type Events<R> = fn(&R, usize, usize) -> &'static [Change];

macro_rules! coll {
    ($t:ty, $variant:ident) => {
        impl Coll for $t {
            fn new_value() -> Value {
                Value::$variant(Box::default())
            }
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn count(&self) -> usize {
                self.len()
            }
        }
    };
}

coll!(HashValue, Hash);
coll!(ListValue, List);
coll!(SetValue, Set);
coll!(ZSetValue, ZSet);

/// The TTL a collection write carries: `ttl_ms` for a collection it creates, and for an
/// existing one too when `refresh` is set (Momento's `refresh_ttl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionTtl {
    pub ttl_ms: u64,
    pub refresh: bool,
}

impl CollectionTtl {
    pub fn new(ttl_ms: u64, refresh: bool) -> Self {
        Self { ttl_ms, refresh }
    }
}

/// A validated [`CollectionTtl`]: the absolute expiry it gives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CollTtl {
    at: u64,
    refresh: bool,
}

impl CollTtl {
    /// No expiry (leaderboards): a new collection never expires, an existing one keeps its own.
    pub(crate) fn never() -> Self {
        CollTtl {
            at: 0,
            refresh: false,
        }
    }
}

impl Op<'_> {
    /// The TTL checked (`InvalidTtl`) and turned into an absolute expiry.
    pub(crate) fn coll_ttl(&self, ttl: CollectionTtl) -> Result<CollTtl, ServiceError> {
        Ok(CollTtl {
            at: self.expires_at(ttl.ttl_ms, self.now_ms())?,
            refresh: ttl.refresh,
        })
    }

    /// Every element (by its length) within the element size limit; their total length.
    pub(crate) fn check_elements(
        &self,
        lengths: impl IntoIterator<Item = usize>,
    ) -> Result<usize, ServiceError> {
        let limits = &self.service().limits;
        let mut total = 0;
        for len in lengths {
            limits.check_element_size(len)?;
            total += len;
        }
        Ok(total)
    }

    /// Read the collection at `key` (counts a keyspace hit or miss): `Ok(None)` when absent.
    pub(crate) fn read<C: Coll, R>(
        &self,
        key: &[u8],
        f: impl FnOnce(&C) -> R,
    ) -> Result<Option<R>, ServiceError> {
        let now = self.now_ms();
        let mut s = self.cache().lock_key(key);
        match s.get(key, now) {
            None => Ok(None),
            Some(e) => match C::of(&e.value) {
                Some(c) => Ok(Some(f(c))),
                None => Err(ServiceError::WrongType(e.kind())),
            },
        }
    }

    /// Change an existing collection: `Ok(None)` when absent. With a TTL, the expiry is reset
    /// when `refresh` is set. An emptied collection is removed when the guard drops.
    pub(crate) fn modify<C: Coll, R>(
        &self,
        key: &[u8],
        ttl: Option<CollTtl>,
        f: impl FnOnce(&mut C) -> Result<R, ServiceError>,
        events: Events<R>,
    ) -> Result<Option<R>, ServiceError> {
        let now = self.now_ms();
        let mut s = self.cache().lock_key(key);
        let Some(mut e) = s.get_mut(key, now) else {
            return Ok(None);
        };
        let kind = e.kind();
        let Some(c) = C::of_mut(&mut e.value) else {
            return Err(ServiceError::WrongType(kind));
        };
        let before = c.count();
        let r = f(c)?;
        let after = C::of(&e.value).map_or(0, C::count);
        for &ev in events(&r, before, after) {
            e.changed(ev);
        }
        if let Some(t) = ttl.filter(|t| t.refresh) {
            e.expires_at = t.at;
            e.changed(Change::Expire);
        }
        Ok(Some(r))
    }

    /// Change the collection at `key`, creating it with the TTL when absent (an existing one
    /// gets the TTL only with `refresh`). `incoming` is about how many bytes the write adds.
    /// When `f` fails nothing changes (a collection created for it is empty and goes away
    /// again).
    pub(crate) fn upsert<C: Coll, R>(
        &self,
        key: &[u8],
        ttl: CollTtl,
        incoming: usize,
        f: impl FnOnce(&mut C) -> Result<R, ServiceError>,
        events: Events<R>,
    ) -> Result<R, ServiceError> {
        self.ensure_memory(key.len() + incoming)?;
        let now = self.now_ms();
        let mut s = self.cache().lock_key(key);
        let existed = match s.peek(key, now) {
            None => false,
            Some(e) if C::of(&e.value).is_some() => true,
            Some(e) => return Err(ServiceError::WrongType(e.kind())),
        };
        let mut e = s.get_or_insert_with(key, now, C::new_value);
        let c = C::of_mut(&mut e.value).expect("type checked under the same lock");
        let before = c.count();
        let r = f(c)?;
        let after = C::of(&e.value).map_or(0, C::count);
        if !existed || ttl.refresh {
            e.expires_at = ttl.at;
        }
        // The TTL a new collection gets is part of its first write: reported with it, and as an
        // `expire` only when an existing collection's TTL is refreshed.
        for &ev in events(&r, before, after) {
            e.changed(ev);
        }
        if existed && ttl.refresh {
            e.changed(Change::Expire);
        }
        Ok(r)
    }

    /// Delete the collection at `key` if it is a `C` (wrong type otherwise); whether it existed.
    pub(crate) fn delete_coll<C: Coll>(&self, key: &[u8]) -> Result<bool, ServiceError> {
        let now = self.now_ms();
        let mut s = self.cache().lock_key(key);
        match s.peek(key, now) {
            None => Ok(false),
            Some(e) if C::of(&e.value).is_none() => Err(ServiceError::WrongType(e.kind())),
            Some(_) => Ok(s.remove(key, now).is_some()),
        }
    }
}
