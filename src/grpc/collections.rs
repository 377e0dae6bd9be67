//! Collection RPCs of `cache_client.Scs`: dictionaries and sets here, lists in
//! `collections/lists.rs`, sorted sets in `collections/sorted_sets.rs`.
//!
//! Data is the engine's: a Momento dictionary is a Redis hash, a list a list, a set a set and a
//! sorted set a zset, in the same cache, so RESP sees what gRPC writes and the other way round.
//!
//! Rules (docs/grpc.md, reference §3):
//! - wrong-type access is `errors::wrong_type(kind)` (FAILED_PRECONDITION), as for scalars;
//! - one shard is locked per key (`cache.lock_key`), never across an `.await` (there is none);
//! - collection TTL: a write that creates the collection gives it the request's TTL; on an
//!   existing collection the expiry is reset only when `refresh_ttl` is set. The TTL is
//!   validated on every write that carries one (0 or above the maximum: INVALID_ARGUMENT);
//! - every element is checked against `max_element_bytes` (RESOURCE_EXHAUSTED
//!   `element_size_limit_exceeded`) before anything is stored; a dictionary element is its
//!   field plus its value;
//! - writes make room with `ensure_memory` before locking and say which Redis event they are
//!   (`hset`, `rpush`, `zadd`, ...) to the engine's change feed, which is what invalidates
//!   RESP WATCHes, wakes RESP clients blocked on a list and sends keyspace notifications;
//! - an emptied collection disappears (the engine's `EntryMut` drop removes it), so Missing and
//!   ItemGetType report it absent.

mod lists;
mod sorted_sets;

pub use lists::*;
pub use sorted_sets::*;

use bytes::Bytes;
use ferrite_storage::value::{HashValue, ListValue, SetValue, ZSetValue};
use ferrite_storage::{Cache, Change, Value};
use momento_protos::cache_client::*;
use rand::Rng;
use tonic::Status;

use super::{errors, GrpcState};

pub(crate) const HIT: i32 = ECacheResult::Hit as i32;
pub(crate) const MISS: i32 = ECacheResult::Miss as i32;

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

/// A write's collection TTL: the absolute expiry it gives, and whether an existing collection
/// gets it too (`refresh_ttl`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CollTtl {
    at: u64,
    refresh: bool,
}

pub(crate) fn coll_ttl(st: &GrpcState, ttl_ms: u64, refresh: bool) -> Result<CollTtl, Status> {
    Ok(CollTtl {
        at: st.expires_at(ttl_ms, st.now_ms())?,
        refresh,
    })
}

/// Every element within the element size limit.
pub(crate) fn check_elements<'a>(
    st: &GrpcState,
    elements: impl IntoIterator<Item = &'a Vec<u8>>,
) -> Result<usize, Status> {
    let mut total = 0;
    for e in elements {
        st.check_element_size(e.len())?;
        total += e.len();
    }
    Ok(total)
}

/// Read the collection at `key` (counts a keyspace hit or miss): `Ok(None)` when absent.
pub(crate) fn read<C: Coll, R>(
    st: &GrpcState,
    cache: &Cache,
    key: &[u8],
    f: impl FnOnce(&C) -> R,
) -> Result<Option<R>, Status> {
    let now = st.now_ms();
    let mut s = cache.lock_key(key);
    match s.get(key, now) {
        None => Ok(None),
        Some(e) => match C::of(&e.value) {
            Some(c) => Ok(Some(f(c))),
            None => Err(errors::wrong_type(e.kind())),
        },
    }
}

/// Change an existing collection: `Ok(None)` when absent. With a TTL, the expiry is reset when
/// `refresh_ttl` is set. An emptied collection is removed when the guard drops.
pub(crate) fn modify<C: Coll, R>(
    st: &GrpcState,
    cache: &Cache,
    key: &[u8],
    ttl: Option<CollTtl>,
    f: impl FnOnce(&mut C) -> Result<R, Status>,
    events: Events<R>,
) -> Result<Option<R>, Status> {
    let now = st.now_ms();
    let mut s = cache.lock_key(key);
    let Some(mut e) = s.get_mut(key, now) else {
        return Ok(None);
    };
    let kind = e.kind();
    let Some(c) = C::of_mut(&mut e.value) else {
        return Err(errors::wrong_type(kind));
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

/// Change the collection at `key`, creating it with the TTL when absent (an existing one gets
/// the TTL only with `refresh_ttl`). `incoming` is about how many bytes the write adds. When `f`
/// fails nothing changes (a collection created for it is empty and goes away again).
pub(crate) fn upsert<C: Coll, R>(
    st: &GrpcState,
    cache: &Cache,
    key: &[u8],
    ttl: CollTtl,
    incoming: usize,
    f: impl FnOnce(&mut C) -> Result<R, Status>,
    events: Events<R>,
) -> Result<R, Status> {
    st.ensure_memory(key.len() + incoming)?;
    let now = st.now_ms();
    let mut s = cache.lock_key(key);
    let existed = match s.peek(key, now) {
        None => false,
        Some(e) if C::of(&e.value).is_some() => true,
        Some(e) => return Err(errors::wrong_type(e.kind())),
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
pub(crate) fn delete_coll<C: Coll>(
    st: &GrpcState,
    cache: &Cache,
    key: &[u8],
) -> Result<bool, Status> {
    let now = st.now_ms();
    let mut s = cache.lock_key(key);
    match s.peek(key, now) {
        None => Ok(false),
        Some(e) if C::of(&e.value).is_none() => Err(errors::wrong_type(e.kind())),
        Some(_) => Ok(s.remove(key, now).is_some()),
    }
}

/// Lengths travel as u32.
pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn owned(v: Vec<u8>) -> Bytes {
    Bytes::from(v)
}

// ----------------------------------------------------------------------------------------------
// Dictionaries (Redis hashes)

pub fn dictionary_get(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryGetRequest,
) -> Result<DictionaryGetResponse, Status> {
    use dictionary_get_response::{Dictionary as D, DictionaryGetResponsePart as Part, Found};
    let items = read::<HashValue, _>(st, cache, &req.dictionary_name, |h| {
        req.fields
            .iter()
            .map(|f| match h.get(f) {
                Some(v) => Part {
                    result: HIT,
                    cache_body: v.to_vec(),
                },
                None => Part {
                    result: MISS,
                    cache_body: Vec::new(),
                },
            })
            .collect()
    })?;
    Ok(DictionaryGetResponse {
        dictionary: Some(match items {
            Some(items) => D::Found(Found { items }),
            None => D::Missing(dictionary_get_response::Missing {}),
        }),
    })
}

pub fn dictionary_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryFetchRequest,
) -> Result<DictionaryFetchResponse, Status> {
    use dictionary_fetch_response::{Dictionary as D, Found, Missing};
    let items = read::<HashValue, _>(st, cache, &req.dictionary_name, |h| {
        h.iter()
            .map(|(f, v)| DictionaryFieldValuePair {
                field: f.to_vec(),
                value: v.to_vec(),
            })
            .collect()
    })?;
    Ok(DictionaryFetchResponse {
        dictionary: Some(match items {
            Some(items) => D::Found(Found { items }),
            None => D::Missing(Missing {}),
        }),
    })
}

pub fn dictionary_set(
    st: &GrpcState,
    cache: &Cache,
    req: DictionarySetRequest,
) -> Result<DictionarySetResponse, Status> {
    let mut incoming = 0;
    for it in &req.items {
        st.check_element_size(it.field.len() + it.value.len())?;
        incoming += it.field.len() + it.value.len();
    }
    let ttl = coll_ttl(st, req.ttl_milliseconds, req.refresh_ttl)?;
    let items = req.items;
    upsert::<HashValue, _>(
        st,
        cache,
        &req.dictionary_name,
        ttl,
        incoming,
        |h| {
            for it in items {
                h.insert(owned(it.field), owned(it.value));
            }
            Ok(())
        },
        |_, _, _| &[Change::HSet],
    )?;
    Ok(DictionarySetResponse {})
}

/// Fields hold base-10 i64 strings; a missing field starts at 0. A non-integer value or an
/// overflow is FAILED_PRECONDITION (as scalar Increment).
pub fn dictionary_increment(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryIncrementRequest,
) -> Result<DictionaryIncrementResponse, Status> {
    st.check_element_size(req.field.len())?;
    let ttl = coll_ttl(st, req.ttl_milliseconds, req.refresh_ttl)?;
    let field = req.field;
    let amount = req.amount;
    let value = upsert::<HashValue, _>(
        st,
        cache,
        &req.dictionary_name,
        ttl,
        field.len() + 20,
        |h| {
            let base = match h.get(&field) {
                None => 0,
                Some(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or_else(|| {
                        Status::failed_precondition(
                            "the dictionary field's value is not a base-10 64-bit integer",
                        )
                    })?,
            };
            let v = base.checked_add(amount).ok_or_else(|| {
                Status::failed_precondition("increment would overflow a 64-bit integer")
            })?;
            h.insert(owned(field), Bytes::from(v.to_string()));
            Ok(v)
        },
        |_, _, _| &[Change::HIncrBy],
    )?;
    Ok(DictionaryIncrementResponse { value })
}

pub fn dictionary_delete(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryDeleteRequest,
) -> Result<DictionaryDeleteResponse, Status> {
    use dictionary_delete_request::Delete as D;
    match req.delete {
        None => return Err(errors::invalid("DictionaryDelete needs 'some' or 'all'")),
        Some(D::All(_)) => {
            delete_coll::<HashValue>(st, cache, &req.dictionary_name)?;
        }
        Some(D::Some(some)) => {
            modify::<HashValue, _>(
                st,
                cache,
                &req.dictionary_name,
                None,
                |h| {
                    for f in &some.fields {
                        h.remove(f);
                    }
                    Ok(())
                },
                |_, before, after| if after < before { &[Change::HDel] } else { &[] },
            )?;
        }
    }
    Ok(DictionaryDeleteResponse {})
}

pub fn dictionary_length(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryLengthRequest,
) -> Result<DictionaryLengthResponse, Status> {
    use dictionary_length_response::{Dictionary as D, Found, Missing};
    let n = read::<HashValue, _>(st, cache, &req.dictionary_name, |h| h.len())?;
    Ok(DictionaryLengthResponse {
        dictionary: Some(match n {
            Some(n) => D::Found(Found { length: len32(n) }),
            None => D::Missing(Missing {}),
        }),
    })
}

// ----------------------------------------------------------------------------------------------
// Sets

pub fn set_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: SetFetchRequest,
) -> Result<SetFetchResponse, Status> {
    use set_fetch_response::{Found, Missing, Set as S};
    let elements = read::<SetValue, _>(st, cache, &req.set_name, |s| {
        s.iter().map(|m| m.to_vec()).collect()
    })?;
    Ok(SetFetchResponse {
        set: Some(match elements {
            Some(elements) => S::Found(Found { elements }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Up to `limit` distinct random members (all of them when `limit` >= the size).
pub fn set_sample(
    st: &GrpcState,
    cache: &Cache,
    req: SetSampleRequest,
) -> Result<SetSampleResponse, Status> {
    use set_sample_response::{Found, Missing, Set as S};
    let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
    let elements = read::<SetValue, _>(st, cache, &req.set_name, |s| {
        if limit >= s.len() {
            return s.iter().map(|m| m.to_vec()).collect();
        }
        rand::seq::index::sample(&mut rand::thread_rng(), s.len(), limit)
            .into_iter()
            .filter_map(|i| s.get_index(i).map(|m| m.to_vec()))
            .collect()
    })?;
    Ok(SetSampleResponse {
        set: Some(match elements {
            Some(elements) => S::Found(Found { elements }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Add elements (creating the set).
pub fn set_union(
    st: &GrpcState,
    cache: &Cache,
    req: SetUnionRequest,
) -> Result<SetUnionResponse, Status> {
    let incoming = check_elements(st, &req.elements)?;
    let ttl = coll_ttl(st, req.ttl_milliseconds, req.refresh_ttl)?;
    let elements = req.elements;
    upsert::<SetValue, _>(
        st,
        cache,
        &req.set_name,
        ttl,
        incoming,
        |s| {
            for e in elements {
                s.insert(owned(e));
            }
            Ok(())
        },
        |_, before, after| if after > before { &[Change::SAdd] } else { &[] },
    )?;
    Ok(SetUnionResponse {})
}

/// Subtrahend{Set}: remove the elements (the SDKs' "remove elements"); Subtrahend{Identity}:
/// delete the set; Minuend: the set becomes `request - stored`. Missing when the set is absent.
pub fn set_difference(
    st: &GrpcState,
    cache: &Cache,
    req: SetDifferenceRequest,
) -> Result<SetDifferenceResponse, Status> {
    use set_difference_request::subtrahend::SubtrahendSet as Sub;
    use set_difference_request::Difference as D;
    use set_difference_response::{Found, Missing, Set as S};
    let found = match req.difference {
        None => {
            return Err(errors::invalid(
                "SetDifference needs a minuend or a subtrahend",
            ))
        }
        Some(D::Subtrahend(sub)) => match sub.subtrahend_set {
            None => return Err(errors::invalid("SetDifference needs a subtrahend set")),
            Some(Sub::Identity(_)) => delete_coll::<SetValue>(st, cache, &req.set_name)?,
            Some(Sub::Set(set)) => modify::<SetValue, _>(
                st,
                cache,
                &req.set_name,
                None,
                |s| {
                    for e in &set.elements {
                        s.remove(e);
                    }
                    Ok(())
                },
                |_, before, after| if after < before { &[Change::SRem] } else { &[] },
            )?
            .is_some(),
        },
        Some(D::Minuend(min)) => {
            let incoming = check_elements(st, &min.elements)?;
            st.ensure_memory(incoming)?;
            modify::<SetValue, _>(
                st,
                cache,
                &req.set_name,
                None,
                |s| {
                    let mut next = SetValue::new();
                    for e in min.elements {
                        if !s.contains(&e) {
                            next.insert(owned(e));
                        }
                    }
                    *s = next;
                    Ok(())
                },
                // The set is replaced by a difference: Redis's SDIFFSTORE event.
                |_, _, _| &[Change::SDiffStore],
            )?
            .is_some()
        }
    };
    Ok(SetDifferenceResponse {
        set: Some(if found {
            S::Found(Found {})
        } else {
            S::Missing(Missing {})
        }),
    })
}

pub fn set_contains(
    st: &GrpcState,
    cache: &Cache,
    req: SetContainsRequest,
) -> Result<SetContainsResponse, Status> {
    use set_contains_response::{Found, Missing, Set as S};
    let contains = read::<SetValue, _>(st, cache, &req.set_name, |s| {
        req.elements.iter().map(|e| s.contains(e)).collect()
    })?;
    Ok(SetContainsResponse {
        set: Some(match contains {
            Some(contains) => S::Found(Found { contains }),
            None => S::Missing(Missing {}),
        }),
    })
}

pub fn set_length(
    st: &GrpcState,
    cache: &Cache,
    req: SetLengthRequest,
) -> Result<SetLengthResponse, Status> {
    use set_length_response::{Found, Missing, Set as S};
    let n = read::<SetValue, _>(st, cache, &req.set_name, |s| s.len())?;
    Ok(SetLengthResponse {
        set: Some(match n {
            Some(n) => S::Found(Found { length: len32(n) }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Remove and return up to `count` random members (a set emptied this way disappears).
pub fn set_pop(
    st: &GrpcState,
    cache: &Cache,
    req: SetPopRequest,
) -> Result<SetPopResponse, Status> {
    use set_pop_response::{Found, Missing, Set as S};
    let count = req.count as usize;
    let elements = modify::<SetValue, _>(
        st,
        cache,
        &req.set_name,
        None,
        |s| {
            let mut rng = rand::thread_rng();
            let n = count.min(s.len());
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let i = rng.gen_range(0..s.len());
                if let Some(m) = s.swap_remove_index(i) {
                    out.push(m.to_vec());
                }
            }
            Ok(out)
        },
        |_, before, after| if after < before { &[Change::SPop] } else { &[] },
    )?;
    Ok(SetPopResponse {
        set: Some(match elements {
            Some(elements) => S::Found(Found { elements }),
            None => S::Missing(Missing {}),
        }),
    })
}
