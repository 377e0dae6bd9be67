//! Momento sorted sets (Redis zsets) on an admitted [`Op`]. Scores are f64; NaN scores and
//! bounds are `InvalidArgument`, infinities are allowed as in Redis. Order is Redis's: by score,
//! then by member bytes. See `collections.rs` for the shared rules.

use std::collections::HashMap;
use std::ops::Bound;

use bytes::Bytes;
use ferrite_storage::value::ZSetValue;
use ferrite_storage::{Change, Value};

use super::lists::py_range;
use super::CollectionTtl;
use crate::admission::Op;
use crate::error::ServiceError;

/// The order ranks and fetches count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Rank 0 is the lowest score.
    Ascending,
    /// Rank 0 is the highest score.
    Descending,
}

/// What SortedSetFetch selects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortedSetRange {
    /// Python-style `[start, end)` ([`py_range`]) over the ranks in the requested order
    /// (`None`, `None`: every element).
    ByIndex {
        start: Option<i32>,
        end: Option<i32>,
    },
    /// The elements with scores within `min..max`, in the requested order, then skip `offset`
    /// and take `count` (None: all of them).
    ByScore {
        min: Bound<f64>,
        max: Bound<f64>,
        offset: usize,
        count: Option<usize>,
    },
}

/// How SortedSetUnionStore combines the weighted scores of a member found in several sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Min,
    Max,
}

fn check_score(x: f64) -> Result<f64, ServiceError> {
    if x.is_nan() {
        return Err(ServiceError::InvalidArgument(
            "a sorted set score must not be NaN".into(),
        ));
    }
    Ok(x)
}

fn check_bound(b: Bound<f64>) -> Result<Bound<f64>, ServiceError> {
    Ok(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(x) => Bound::Included(check_score(x)?),
        Bound::Excluded(x) => Bound::Excluded(check_score(x)?),
    })
}

impl Op<'_> {
    /// Add `(member, score)` elements or overwrite their scores (creating the set). Every member
    /// is checked against the element limit first, then every score (NaN), then the TTL.
    pub fn sorted_set_put(
        &self,
        name: &[u8],
        elements: Vec<(Bytes, f64)>,
        ttl: CollectionTtl,
    ) -> Result<(), ServiceError> {
        let incoming = self.check_elements(elements.iter().map(|(m, _)| m.len()))?;
        for (_, score) in &elements {
            check_score(*score)?;
        }
        let ttl = self.coll_ttl(ttl)?;
        let incoming = incoming + 8 * elements.len();
        self.upsert::<ZSetValue, _>(
            name,
            ttl,
            incoming,
            |z| {
                for (m, score) in elements {
                    z.insert(m, score);
                }
                Ok(())
            },
            |_, _, _| &[Change::ZAdd],
        )
    }

    /// The selected `(member, score)` elements in `order`. ByIndex counts ranks in the
    /// requested order (descending: rank 0 is the highest score). The range is validated
    /// (NaN bounds) before the lock is taken. None when the set is absent.
    pub fn sorted_set_fetch(
        &self,
        name: &[u8],
        range: SortedSetRange,
        order: Order,
    ) -> Result<Option<Vec<(Bytes, f64)>>, ServiceError> {
        let range = match range {
            SortedSetRange::ByScore {
                min,
                max,
                offset,
                count,
            } => SortedSetRange::ByScore {
                min: check_bound(min)?,
                max: check_bound(max)?,
                offset,
                count,
            },
            r => r,
        };
        let desc = order == Order::Descending;
        self.read::<ZSetValue, _>(name, |z| match range {
            SortedSetRange::ByIndex { start, end } => {
                let n = z.len();
                let (s, e) = py_range(n, start, end);
                if desc {
                    z.range_by_rank(n - e, n - s)
                        .rev()
                        .map(|(m, score)| (m.clone(), score))
                        .collect()
                } else {
                    z.range_by_rank(s, e)
                        .map(|(m, score)| (m.clone(), score))
                        .collect()
                }
            }
            SortedSetRange::ByScore {
                min,
                max,
                offset,
                count,
            } => {
                // Ranks, not a walk: the page starts O(log n) in however deep the offset is.
                let (lo, hi) = z.rank_range_by_score(min, max);
                let skip = offset.min(hi - lo);
                let take = count.unwrap_or(usize::MAX).min(hi - lo - skip);
                let page = |a, b| z.range_by_rank(a, b).map(|(m, score)| (m.clone(), score));
                if desc {
                    page(hi - skip - take, hi - skip).rev().collect()
                } else {
                    page(lo + skip, lo + skip + take).collect()
                }
            }
        })
    }

    /// The score of each of `members`, in order (None: not in the set); None when the set is
    /// absent.
    pub fn sorted_set_get_score<'m>(
        &self,
        name: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> Result<Option<Vec<Option<f64>>>, ServiceError> {
        self.read::<ZSetValue, _>(name, |z| members.into_iter().map(|m| z.score(m)).collect())
    }

    /// Remove `members` (the set disappears when emptied); whether the set existed.
    pub fn sorted_set_remove_elements<'m>(
        &self,
        name: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> Result<bool, ServiceError> {
        let found = self.modify::<ZSetValue, _>(
            name,
            None,
            |z| {
                for m in members {
                    z.remove(m);
                }
                Ok(())
            },
            |_, before, after| if after < before { &[Change::ZRem] } else { &[] },
        )?;
        Ok(found.is_some())
    }

    /// Delete the whole sorted set (`WrongType` for another type); whether it existed.
    pub fn sorted_set_delete(&self, name: &[u8]) -> Result<bool, ServiceError> {
        self.delete_coll::<ZSetValue>(name)
    }

    /// Add `amount` to a member's score (a missing member or set starts at 0); the new score. A
    /// NaN result (inf + -inf) is `FailedPrecondition`, as Redis's ZINCRBY refuses it.
    pub fn sorted_set_increment(
        &self,
        name: &[u8],
        member: Bytes,
        amount: f64,
        ttl: CollectionTtl,
    ) -> Result<f64, ServiceError> {
        self.service().limits.check_element_size(member.len())?;
        let amount = check_score(amount)?;
        let ttl = self.coll_ttl(ttl)?;
        let incoming = member.len() + 8;
        self.upsert::<ZSetValue, _>(
            name,
            ttl,
            incoming,
            |z| {
                let next = z.score(&member).unwrap_or(0.0) + amount;
                if next.is_nan() {
                    return Err(ServiceError::FailedPrecondition(
                        "the resulting score would be NaN".into(),
                    ));
                }
                if z.set_score(&member, next).is_none() {
                    z.insert(member, next);
                }
                Ok(next)
            },
            |_, _, _| &[Change::ZIncr],
        )
    }

    /// The member's rank in `order`: `None` when the set is absent, `Some(None)` when the
    /// member is not in it.
    pub fn sorted_set_get_rank(
        &self,
        name: &[u8],
        member: &[u8],
        order: Order,
    ) -> Result<Option<Option<usize>>, ServiceError> {
        self.read::<ZSetValue, _>(name, |z| match order {
            Order::Descending => z.rev_rank(member),
            Order::Ascending => z.rank(member),
        })
    }

    /// The number of elements; None when the set is absent.
    pub fn sorted_set_length(&self, name: &[u8]) -> Result<Option<usize>, ServiceError> {
        self.read::<ZSetValue, _>(name, |z| z.len())
    }

    /// The number of elements with scores within `min..max` (NaN bounds: `InvalidArgument`);
    /// None when the set is absent.
    pub fn sorted_set_length_by_score(
        &self,
        name: &[u8],
        min: Bound<f64>,
        max: Bound<f64>,
    ) -> Result<Option<usize>, ServiceError> {
        let min = check_bound(min)?;
        let max = check_bound(max)?;
        self.read::<ZSetValue, _>(name, |z| {
            let (lo, hi) = z.rank_range_by_score(min, max);
            hi - lo
        })
    }

    /// Weighted union of the `(set name, weight)` sources into `dest` (ZUNIONSTORE): the
    /// destination is replaced (it is a source only when listed), gets the TTL when the result
    /// is non-empty and is deleted when it is empty. The TTL is validated first. Missing sources
    /// are empty; a source or destination holding another type is `WrongType`. Like Redis, a
    /// weighted score or a sum that is NaN (0 * inf, inf - inf) counts as 0. All involved shards
    /// are locked together, so the union is atomic. The destination's length.
    pub fn sorted_set_union_store(
        &self,
        dest: &[u8],
        sources: &[(&[u8], f64)],
        aggregate: Aggregate,
        ttl_ms: u64,
    ) -> Result<usize, ServiceError> {
        let at = self.expires_at(ttl_ms, self.now_ms())?;
        let cache = self.cache();
        // Room for about the sources' size, measured without holding more than one lock at a time.
        let now = self.now_ms();
        let estimate: usize = sources
            .iter()
            .map(|(src, _)| {
                let mut s = cache.lock_key(src);
                match s.peek(src, now).map(|e| &e.value) {
                    Some(Value::ZSet(z)) => z.bytes(),
                    _ => 0,
                }
            })
            .sum();
        self.ensure_memory(dest.len() + estimate)?;

        let keys = std::iter::once(dest).chain(sources.iter().map(|(src, _)| *src));
        let now = self.now_ms();
        let mut locked = cache.lock_keys(keys);
        let mut acc: HashMap<Bytes, f64> = HashMap::new();
        for &(src, w) in sources {
            let s = locked.shard(src);
            let Some(e) = s.get(src, now) else {
                continue;
            };
            let Value::ZSet(z) = &e.value else {
                return Err(ServiceError::WrongType(e.kind()));
            };
            for (m, score) in z.iter() {
                let mut x = score * w;
                if x.is_nan() {
                    x = 0.0;
                }
                acc.entry(m.clone())
                    .and_modify(|cur| {
                        *cur = match aggregate {
                            Aggregate::Sum => {
                                let s = *cur + x;
                                if s.is_nan() {
                                    0.0
                                } else {
                                    s
                                }
                            }
                            Aggregate::Min => cur.min(x),
                            Aggregate::Max => cur.max(x),
                        }
                    })
                    .or_insert(x);
            }
        }
        let s = locked.shard(dest);
        if let Some(e) = s.peek(dest, now) {
            if !matches!(e.value, Value::ZSet(_)) {
                return Err(ServiceError::WrongType(e.kind()));
            }
        }
        let n = acc.len();
        if n == 0 {
            s.remove(dest, now);
        } else {
            let mut z = ZSetValue::new();
            for (m, score) in acc {
                // Member bytes may be shared with a source: copy so each value owns its bytes.
                z.insert(Bytes::copy_from_slice(&m), score);
            }
            s.insert_as(dest, Value::ZSet(Box::new(z)), at, now, Change::ZUnionStore);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_scores_and_bounds_are_refused() {
        assert_eq!(check_score(f64::INFINITY).unwrap(), f64::INFINITY);
        let e = check_score(f64::NAN).unwrap_err();
        assert!(matches!(e, ServiceError::InvalidArgument(_)));
        assert_eq!(e.to_string(), "a sorted set score must not be NaN");
        assert_eq!(check_bound(Bound::Unbounded).unwrap(), Bound::Unbounded);
        assert_eq!(
            check_bound(Bound::Excluded(-1.5)).unwrap(),
            Bound::Excluded(-1.5)
        );
        assert!(check_bound(Bound::Included(f64::NAN)).is_err());
        assert!(check_bound(Bound::Excluded(f64::NAN)).is_err());
    }
}
