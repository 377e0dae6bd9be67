//! Momento's scalar operations on an admitted [`Op`]: plain bytes in, typed results out. A
//! Momento scalar is a Redis string (`Value::Str`) in the same cache, so RESP sees what gRPC and
//! HTTP write and the other way round.
//!
//! Each operation locks the key's shard for its engine work only and makes room with
//! `ensure_memory` before a write. WATCH invalidation, blocked-list wake-ups and keyspace
//! notifications follow from the engine's change feed, which every write reaches.

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use ferrite_storage::{Change, Shard, Value, ValueKind};

use crate::admission::Op;
use crate::error::ServiceError;

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

/// SetIf's conditions on the current value.
#[derive(Debug, Clone, Copy)]
pub enum SetCondition<'a> {
    Present,
    PresentAndNotEqual(&'a [u8]),
    Absent,
    Equal(&'a [u8]),
    AbsentOrEqual(&'a [u8]),
    NotEqual(&'a [u8]),
}

impl SetCondition<'_> {
    fn holds(&self, cur: Option<&Bytes>) -> bool {
        match (*self, cur) {
            (SetCondition::Present, c) => c.is_some(),
            (SetCondition::PresentAndNotEqual(x), c) => c.is_some_and(|v| v[..] != *x),
            (SetCondition::Absent, c) => c.is_none(),
            (SetCondition::Equal(x), c) => c.is_some_and(|v| v[..] == *x),
            (SetCondition::AbsentOrEqual(x), c) => c.is_none_or(|v| v[..] == *x),
            (SetCondition::NotEqual(x), c) => c.is_none_or(|v| v[..] != *x),
        }
    }
}

/// SetIfHash's conditions on the hash ([`value_hash`]) of the current value.
#[derive(Debug, Clone, Copy)]
pub enum HashCondition<'a> {
    PresentAndNotHashEqual(&'a [u8]),
    PresentAndHashEqual(&'a [u8]),
    AbsentOrHashEqual(&'a [u8]),
    AbsentOrNotHashEqual(&'a [u8]),
    Unconditional,
}

impl HashCondition<'_> {
    fn holds(&self, cur: Option<&Bytes>) -> bool {
        let h = cur.map(|v| value_hash(v));
        match (*self, h) {
            (HashCondition::PresentAndNotHashEqual(x), h) => h.is_some_and(|h| h != x),
            (HashCondition::PresentAndHashEqual(x), h) => h.is_some_and(|h| h == x),
            (HashCondition::AbsentOrHashEqual(x), h) => h.is_none_or(|h| h == x),
            (HashCondition::AbsentOrNotHashEqual(x), h) => h.is_none_or(|h| h != x),
            (HashCondition::Unconditional, _) => true,
        }
    }
}

/// UpdateTtl's three ways to change an expiry, each with the new TTL in ms.
#[derive(Debug, Clone, Copy)]
pub enum TtlUpdate {
    /// Only if the new expiry is later than the current one.
    IncreaseTo(u64),
    /// Only if the new expiry is sooner (an item without expiry counts as infinite).
    DecreaseTo(u64),
    OverwriteTo(u64),
}

/// What UpdateTtl did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlUpdated {
    Missing,
    NotSet,
    Set,
}

/// What a key holds, for conditional writes: `Ok(None)` absent, `Ok(Some(v))` a scalar, `Err` another type.
fn peek_scalar(s: &mut Shard, key: &[u8], now: u64) -> Result<Option<Bytes>, ServiceError> {
    match s.peek(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some(b.clone())),
            other => Err(ServiceError::WrongType(other.kind())),
        },
    }
}

impl Op<'_> {
    /// Validated write: size and expiry checked, memory made room for.
    fn prepare_write(
        &self,
        key: &[u8],
        value_len: usize,
        ttl_ms: u64,
    ) -> Result<u64, ServiceError> {
        self.service().limits.check_item_size(key, value_len)?;
        let at = self.expires_at(ttl_ms, self.now_ms())?;
        self.ensure_memory(key.len() + value_len)?;
        Ok(at)
    }

    /// The scalar at `key`, with hit/miss accounting; `WrongType` for another type.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, ServiceError> {
        let now = self.now_ms();
        // The answer owns its bytes: copy them out of the shard while it is locked.
        match self
            .cache()
            .lock_key(key)
            .read_str(key, now, Bytes::copy_from_slice)
        {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(kind)) => Err(ServiceError::WrongType(kind)),
        }
    }

    pub fn set(&self, key: &[u8], value: &[u8], ttl_ms: u64) -> Result<(), ServiceError> {
        let at = self.prepare_write(key, value.len(), ttl_ms)?;
        let now = self.now_ms();
        self.cache().lock_key(key).set_str(key, value, at, now);
        Ok(())
    }

    /// Every item is validated first; one bad item fails the call and nothing is stored.
    pub fn set_batch<'i>(
        &self,
        items: impl Iterator<Item = (&'i [u8], &'i [u8], u64)> + Clone,
    ) -> Result<(), ServiceError> {
        let limits = &self.service().limits;
        let mut total = 0;
        for (key, value, ttl_ms) in items.clone() {
            limits.check_item_size(key, value.len())?;
            limits.check_ttl(ttl_ms)?;
            total += key.len() + value.len();
        }
        self.ensure_memory(total)?;
        for (key, value, ttl_ms) in items {
            let now = self.now_ms();
            let at = self.expires_at(ttl_ms, now)?;
            self.cache().lock_key(key).set_str(key, value, at, now);
        }
        Ok(())
    }

    /// Store `value` if `holds(current)`; whether it stored.
    fn set_when(
        &self,
        key: &[u8],
        value: &[u8],
        ttl_ms: u64,
        holds: impl FnOnce(Option<&Bytes>) -> bool,
    ) -> Result<bool, ServiceError> {
        let at = self.prepare_write(key, value.len(), ttl_ms)?;
        let now = self.now_ms();
        let mut s = self.cache().lock_key(key);
        let cur = peek_scalar(&mut s, key, now)?;
        if holds(cur.as_ref()) {
            s.set_str(key, value, at, now);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub fn set_if(
        &self,
        key: &[u8],
        value: &[u8],
        ttl_ms: u64,
        cond: SetCondition<'_>,
    ) -> Result<bool, ServiceError> {
        self.set_when(key, value, ttl_ms, |cur| cond.holds(cur))
    }

    pub fn set_if_hash(
        &self,
        key: &[u8],
        value: &[u8],
        ttl_ms: u64,
        cond: HashCondition<'_>,
    ) -> Result<bool, ServiceError> {
        self.set_when(key, value, ttl_ms, |cur| cond.holds(cur))
    }

    /// Any live item counts as existing, whatever its type.
    pub fn set_if_not_exists(
        &self,
        key: &[u8],
        value: &[u8],
        ttl_ms: u64,
    ) -> Result<bool, ServiceError> {
        let at = self.prepare_write(key, value.len(), ttl_ms)?;
        let now = self.now_ms();
        let mut s = self.cache().lock_key(key);
        if s.peek(key, now).is_some() {
            return Ok(false);
        }
        s.set_str(key, value, at, now);
        Ok(true)
    }

    /// Delete any item (any type); deleting a missing key succeeds.
    pub fn delete(&self, key: &[u8]) {
        let now = self.now_ms();
        self.cache().lock_key(key).remove(key, now);
    }

    pub fn keys_exist<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> Vec<bool> {
        let now = self.now_ms();
        keys.map(|k| self.cache().lock_key(k).peek(k, now).is_some())
            .collect()
    }

    /// Values are base-10 i64 strings; a missing key is created as `amount`. A non-integer
    /// value or an overflow is `FailedPrecondition`, another type `WrongType`. The TTL is
    /// applied on every increment, as on every other Momento write.
    pub fn increment(&self, key: &[u8], amount: i64, ttl_ms: u64) -> Result<i64, ServiceError> {
        let at = self.prepare_write(key, 20, ttl_ms)?;
        let now = self.now_ms();
        let mut s = self.cache().lock_key(key);
        let base = match peek_scalar(&mut s, key, now)? {
            None => 0,
            Some(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| {
                    ServiceError::FailedPrecondition(
                        "the value is not a base-10 64-bit integer".into(),
                    )
                })?,
        };
        let v = base.checked_add(amount).ok_or_else(|| {
            ServiceError::FailedPrecondition("increment would overflow a 64-bit integer".into())
        })?;
        // Redis's event for an increment (Momento's TTL refresh is part of the write).
        s.insert_as(
            key,
            Value::Str(Bytes::from(v.to_string())),
            at,
            now,
            Change::IncrBy,
        );
        Ok(v)
    }

    pub fn update_ttl(&self, key: &[u8], update: TtlUpdate) -> Result<TtlUpdated, ServiceError> {
        let (TtlUpdate::IncreaseTo(ttl) | TtlUpdate::DecreaseTo(ttl) | TtlUpdate::OverwriteTo(ttl)) =
            update;
        self.service().limits.check_ttl(ttl)?;
        let now = self.now_ms();
        let new_at = now.saturating_add(ttl);
        let mut s = self.cache().lock_key(key);
        let Some(mut e) = s.get_mut(key, now) else {
            return Ok(TtlUpdated::Missing);
        };
        // No expiry (written over RESP without one) counts as an infinite TTL.
        let apply = match update {
            TtlUpdate::IncreaseTo(_) => e.expires_at != 0 && new_at > e.expires_at,
            TtlUpdate::DecreaseTo(_) => e.expires_at == 0 || new_at < e.expires_at,
            TtlUpdate::OverwriteTo(_) => true,
        };
        if !apply {
            return Ok(TtlUpdated::NotSet);
        }
        e.expires_at = new_at;
        e.changed(Change::Expire);
        Ok(TtlUpdated::Set)
    }

    /// Remaining TTL in ms (`u64::MAX` for an item without expiry, set over RESP without one);
    /// None when missing.
    pub fn remaining_ttl(&self, key: &[u8]) -> Option<u64> {
        let now = self.now_ms();
        let exp = self
            .cache()
            .lock_key(key)
            .peek(key, now)
            .map(|e| e.expires_at);
        exp.map(|at| {
            if at == 0 {
                u64::MAX
            } else {
                at.saturating_sub(now)
            }
        })
    }

    /// What kind of item `key` holds; None when missing.
    pub fn item_type(&self, key: &[u8]) -> Option<ValueKind> {
        let now = self.now_ms();
        self.cache().lock_key(key).peek(key, now).map(|e| e.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_discriminating() {
        assert_eq!(value_hash(b"abc"), value_hash(b"abc"));
        assert_ne!(value_hash(b"abc"), value_hash(b"abd"));
        assert_eq!(value_hash(b"").len(), 16);
    }

    #[test]
    fn conditions() {
        let v = Bytes::from_static(b"x");
        assert!(SetCondition::Equal(b"x").holds(Some(&v)));
        assert!(!SetCondition::Equal(b"x").holds(None));
        assert!(SetCondition::AbsentOrEqual(b"y").holds(None));
        assert!(!SetCondition::AbsentOrEqual(b"y").holds(Some(&v)));
        assert!(SetCondition::NotEqual(b"y").holds(Some(&v)));
        let h = value_hash(b"x");
        assert!(HashCondition::PresentAndHashEqual(&h).holds(Some(&v)));
        assert!(!HashCondition::PresentAndNotHashEqual(&h).holds(Some(&v)));
        assert!(HashCondition::Unconditional.holds(None));
    }
}
