//! Scalar RPCs of `cache_client.Scs`. A Momento scalar is a Redis string (`Value::Str`) in the
//! same cache, so RESP sees what gRPC writes and the other way round.
//!
//! Each handler locks the key's shard for its engine work only (no `.await` here at all), makes
//! room with `ensure_memory` before a write. WATCH invalidation, blocked-list wake-ups and
//! keyspace notifications follow from the engine's change feed, which every write reaches.

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use ferrite_storage::{Cache, Change, Shard, Value, ValueKind};
use momento_protos::cache_client::*;
use tonic::Status;

use super::{errors, GrpcState};

const HIT: i32 = ECacheResult::Hit as i32;
const MISS: i32 = ECacheResult::Miss as i32;
const OK: i32 = ECacheResult::Ok as i32;

/// Opaque 128-bit hash of a scalar (GetWithHash / SetIfHash). Clients only echo it back.
pub fn value_hash(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    for seed in [0x6665_7272_6974_6531u64, 0x6d6f_6d65_6e74_6f32] {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        v.hash(&mut h);
        out.extend_from_slice(&h.finish().to_be_bytes());
    }
    out
}

/// What a key holds, for conditional writes: `Ok(None)` absent, `Ok(Some(v))` a scalar, `Err` another type.
fn peek_scalar(s: &mut Shard, key: &[u8], now: u64) -> Result<Option<Bytes>, Status> {
    match s.peek(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some(b.clone())),
            other => Err(errors::wrong_type(other.kind())),
        },
    }
}

/// Read with hit/miss accounting.
fn get_scalar(s: &mut Shard, key: &[u8], now: u64) -> Result<Option<Bytes>, Status> {
    // The response owns its bytes: copy them out of the shard while it is locked.
    match s.read_str(key, now, Bytes::copy_from_slice) {
        None => Ok(None),
        Some(Ok(b)) => Ok(Some(b)),
        Some(Err(kind)) => Err(errors::wrong_type(kind)),
    }
}

pub fn get(st: &GrpcState, cache: &Cache, req: GetRequest) -> Result<GetResponse, Status> {
    let now = st.now_ms();
    let v = get_scalar(&mut cache.lock_key(&req.cache_key), &req.cache_key, now)?;
    Ok(match v {
        Some(b) => GetResponse {
            result: HIT,
            cache_body: b.to_vec(),
            message: String::new(),
        },
        None => GetResponse {
            result: MISS,
            cache_body: Vec::new(),
            message: String::new(),
        },
    })
}

pub fn get_with_hash(
    st: &GrpcState,
    cache: &Cache,
    req: GetWithHashRequest,
) -> Result<GetWithHashResponse, Status> {
    use get_with_hash_response::{Found, Missing, Result as R};
    let now = st.now_ms();
    let v = get_scalar(&mut cache.lock_key(&req.cache_key), &req.cache_key, now)?;
    Ok(GetWithHashResponse {
        result: Some(match v {
            Some(b) => R::Found(Found {
                hash: value_hash(&b),
                value: b.to_vec(),
            }),
            None => R::Missing(Missing {}),
        }),
    })
}

pub fn get_batch(
    st: &GrpcState,
    cache: &Cache,
    req: GetBatchRequest,
) -> Result<Vec<GetResponse>, Status> {
    req.items.into_iter().map(|r| get(st, cache, r)).collect()
}

/// Validated write: expiry and size checked, memory made room for.
fn prepare_write(st: &GrpcState, key: &[u8], value_len: usize, ttl_ms: u64) -> Result<u64, Status> {
    st.check_item_size(key, value_len)?;
    let at = st.expires_at(ttl_ms, st.now_ms())?;
    st.ensure_memory(key.len() + value_len)?;
    Ok(at)
}

fn store(s: &mut Shard, key: &[u8], value: &[u8], at: u64, now: u64) {
    s.set_str(key, value, at, now);
}

pub fn set(st: &GrpcState, cache: &Cache, req: SetRequest) -> Result<SetResponse, Status> {
    let at = prepare_write(
        st,
        &req.cache_key,
        req.cache_body.len(),
        req.ttl_milliseconds,
    )?;
    let now = st.now_ms();
    store(
        &mut cache.lock_key(&req.cache_key),
        &req.cache_key,
        &req.cache_body,
        at,
        now,
    );
    Ok(SetResponse {
        result: OK,
        message: String::new(),
    })
}

/// SetBatch: every item is validated first; one bad item fails the call and nothing is stored.
pub fn set_batch(
    st: &GrpcState,
    cache: &Cache,
    req: SetBatchRequest,
) -> Result<Vec<SetResponse>, Status> {
    let mut total = 0;
    for r in &req.items {
        st.check_item_size(&r.cache_key, r.cache_body.len())?;
        st.check_ttl(r.ttl_milliseconds)?;
        total += r.cache_key.len() + r.cache_body.len();
    }
    st.ensure_memory(total)?;
    let mut out = Vec::with_capacity(req.items.len());
    for r in req.items {
        let now = st.now_ms();
        let at = st.expires_at(r.ttl_milliseconds, now)?;
        store(
            &mut cache.lock_key(&r.cache_key),
            &r.cache_key,
            &r.cache_body,
            at,
            now,
        );
        out.push(SetResponse {
            result: OK,
            message: String::new(),
        });
    }
    Ok(out)
}

/// Store `value` if `cond(current)` holds; returns whether it stored.
fn set_when(
    st: &GrpcState,
    cache: &Cache,
    key: &[u8],
    value: &[u8],
    ttl_ms: u64,
    cond: impl FnOnce(Option<&Bytes>) -> bool,
) -> Result<bool, Status> {
    let at = prepare_write(st, key, value.len(), ttl_ms)?;
    let now = st.now_ms();
    let stored = {
        let mut s = cache.lock_key(key);
        let cur = peek_scalar(&mut s, key, now)?;
        if cond(cur.as_ref()) {
            store(&mut s, key, value, at, now);
            true
        } else {
            false
        }
    };
    Ok(stored)
}

pub fn set_if(st: &GrpcState, cache: &Cache, req: SetIfRequest) -> Result<SetIfResponse, Status> {
    use set_if_request::Condition as C;
    use set_if_response::{NotStored, Result as R, Stored};
    let Some(cond) = req.condition else {
        return Err(errors::invalid("SetIf needs a condition"));
    };
    let stored = set_when(
        st,
        cache,
        &req.cache_key,
        &req.cache_body,
        req.ttl_milliseconds,
        |cur| match (&cond, cur) {
            (C::Present(_), c) => c.is_some(),
            (C::PresentAndNotEqual(x), c) => c.is_some_and(|v| v[..] != x.value_to_check[..]),
            (C::Absent(_), c) => c.is_none(),
            (C::Equal(x), c) => c.is_some_and(|v| v[..] == x.value_to_check[..]),
            (C::AbsentOrEqual(x), c) => c.is_none_or(|v| v[..] == x.value_to_check[..]),
            (C::NotEqual(x), c) => c.is_none_or(|v| v[..] != x.value_to_check[..]),
        },
    )?;
    Ok(SetIfResponse {
        result: Some(if stored {
            R::Stored(Stored {})
        } else {
            R::NotStored(NotStored {})
        }),
    })
}

pub fn set_if_hash(
    st: &GrpcState,
    cache: &Cache,
    req: SetIfHashRequest,
) -> Result<SetIfHashResponse, Status> {
    use set_if_hash_request::Condition as C;
    use set_if_hash_response::{NotStored, Result as R, Stored};
    let Some(cond) = req.condition else {
        return Err(errors::invalid("SetIfHash needs a condition"));
    };
    let stored = set_when(
        st,
        cache,
        &req.cache_key,
        &req.cache_body,
        req.ttl_milliseconds,
        |cur| {
            let h = cur.map(|v| value_hash(v));
            match (&cond, h) {
                (C::PresentAndNotHashEqual(x), h) => h.is_some_and(|h| h != x.hash_to_check),
                (C::PresentAndHashEqual(x), h) => h.is_some_and(|h| h == x.hash_to_check),
                (C::AbsentOrHashEqual(x), h) => h.is_none_or(|h| h == x.hash_to_check),
                (C::AbsentOrNotHashEqual(x), h) => h.is_none_or(|h| h != x.hash_to_check),
                (C::Unconditional(_), _) => true,
            }
        },
    )?;
    Ok(SetIfHashResponse {
        result: Some(if stored {
            R::Stored(Stored {
                new_hash: value_hash(&req.cache_body),
            })
        } else {
            R::NotStored(NotStored {})
        }),
    })
}

pub fn set_if_not_exists(
    st: &GrpcState,
    cache: &Cache,
    req: SetIfNotExistsRequest,
) -> Result<SetIfNotExistsResponse, Status> {
    use set_if_not_exists_response::{NotStored, Result as R, Stored};
    // Any live item counts as existing, whatever its type.
    let at = prepare_write(
        st,
        &req.cache_key,
        req.cache_body.len(),
        req.ttl_milliseconds,
    )?;
    let now = st.now_ms();
    let stored = {
        let mut s = cache.lock_key(&req.cache_key);
        if s.peek(&req.cache_key, now).is_some() {
            false
        } else {
            store(&mut s, &req.cache_key, &req.cache_body, at, now);
            true
        }
    };
    Ok(SetIfNotExistsResponse {
        result: Some(if stored {
            R::Stored(Stored {})
        } else {
            R::NotStored(NotStored {})
        }),
    })
}

/// Delete any item (any type); deleting a missing key succeeds.
pub fn delete(st: &GrpcState, cache: &Cache, req: DeleteRequest) -> Result<DeleteResponse, Status> {
    let now = st.now_ms();
    cache.lock_key(&req.cache_key).remove(&req.cache_key, now);
    Ok(DeleteResponse {})
}

pub fn keys_exist(
    st: &GrpcState,
    cache: &Cache,
    req: KeysExistRequest,
) -> Result<KeysExistResponse, Status> {
    let now = st.now_ms();
    let exists = req
        .cache_keys
        .iter()
        .map(|k| cache.lock_key(k).peek(k, now).is_some())
        .collect();
    Ok(KeysExistResponse { exists })
}

/// Increment: values are base-10 i64 strings; a missing key is created as `amount`. A non-integer
/// value, an overflow or another type is FAILED_PRECONDITION. The TTL is applied on every
/// increment, as on every other Momento write.
pub fn increment(
    st: &GrpcState,
    cache: &Cache,
    req: IncrementRequest,
) -> Result<IncrementResponse, Status> {
    let at = prepare_write(st, &req.cache_key, 20, req.ttl_milliseconds)?;
    let now = st.now_ms();
    let value = {
        let mut s = cache.lock_key(&req.cache_key);
        let cur = peek_scalar(&mut s, &req.cache_key, now)?;
        let base = match cur {
            None => 0,
            Some(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| {
                    Status::failed_precondition("the value is not a base-10 64-bit integer")
                })?,
        };
        let v = base.checked_add(req.amount).ok_or_else(|| {
            Status::failed_precondition("increment would overflow a 64-bit integer")
        })?;
        // Redis's event for an increment (Momento's TTL refresh is part of the write).
        s.insert_as(
            &req.cache_key,
            Value::Str(Bytes::from(v.to_string())),
            at,
            now,
            Change::IncrBy,
        );
        v
    };
    Ok(IncrementResponse { value })
}

pub fn update_ttl(
    st: &GrpcState,
    cache: &Cache,
    req: UpdateTtlRequest,
) -> Result<UpdateTtlResponse, Status> {
    use update_ttl_request::UpdateTtl as U;
    use update_ttl_response::{Missing, NotSet, Result as R, Set};
    let Some(upd) = req.update_ttl else {
        return Err(errors::invalid(
            "UpdateTtl needs increase_to, decrease_to or overwrite_to",
        ));
    };
    let (U::IncreaseToMilliseconds(ttl)
    | U::DecreaseToMilliseconds(ttl)
    | U::OverwriteToMilliseconds(ttl)) = upd;
    st.check_ttl(ttl)?;
    let now = st.now_ms();
    let new_at = now.saturating_add(ttl);
    let result = {
        let mut s = cache.lock_key(&req.cache_key);
        let r = match s.get_mut(&req.cache_key, now) {
            None => R::Missing(Missing {}),
            Some(mut e) => {
                // No expiry (written over RESP without one) counts as an infinite TTL.
                let apply = match upd {
                    U::IncreaseToMilliseconds(_) => e.expires_at != 0 && new_at > e.expires_at,
                    U::DecreaseToMilliseconds(_) => e.expires_at == 0 || new_at < e.expires_at,
                    U::OverwriteToMilliseconds(_) => true,
                };
                if apply {
                    e.expires_at = new_at;
                    e.changed(Change::Expire);
                    R::Set(Set {})
                } else {
                    R::NotSet(NotSet {})
                }
            }
        };
        r
    };
    Ok(UpdateTtlResponse {
        result: Some(result),
    })
}

/// Remaining TTL; an item without expiry (set over RESP without one) reports `u64::MAX`.
pub fn item_get_ttl(
    st: &GrpcState,
    cache: &Cache,
    req: ItemGetTtlRequest,
) -> Result<ItemGetTtlResponse, Status> {
    use item_get_ttl_response::{Found, Missing, Result as R};
    let now = st.now_ms();
    let exp = cache
        .lock_key(&req.cache_key)
        .peek(&req.cache_key, now)
        .map(|e| e.expires_at);
    Ok(ItemGetTtlResponse {
        result: Some(match exp {
            None => R::Missing(Missing {}),
            Some(0) => R::Found(Found {
                remaining_ttl_millis: u64::MAX,
            }),
            Some(at) => R::Found(Found {
                remaining_ttl_millis: at.saturating_sub(now),
            }),
        }),
    })
}

pub fn item_get_type(
    st: &GrpcState,
    cache: &Cache,
    req: ItemGetTypeRequest,
) -> Result<ItemGetTypeResponse, Status> {
    use item_get_type_response::{Found, ItemType, Missing, Result as R};
    let now = st.now_ms();
    let kind = cache
        .lock_key(&req.cache_key)
        .peek(&req.cache_key, now)
        .map(|e| e.kind());
    Ok(ItemGetTypeResponse {
        result: Some(match kind {
            None => R::Missing(Missing {}),
            Some(k) => R::Found(Found {
                item_type: match k {
                    ValueKind::String => ItemType::Scalar,
                    ValueKind::Hash => ItemType::Dictionary,
                    ValueKind::List => ItemType::List,
                    ValueKind::Set => ItemType::Set,
                    ValueKind::ZSet => ItemType::SortedSet,
                } as i32,
            }),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::value_hash;

    #[test]
    fn hash_is_stable_and_discriminating() {
        assert_eq!(value_hash(b"abc"), value_hash(b"abc"));
        assert_ne!(value_hash(b"abc"), value_hash(b"abd"));
        assert_eq!(value_hash(b"").len(), 16);
    }
}
