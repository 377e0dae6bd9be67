//! Momento leaderboards on an admitted [`Op`]: the eight `leaderboard.Leaderboard` RPCs.
//!
//! A leaderboard is a sorted set (the engine's zset) in its cache, at the key
//! `leaderboard:<name>` ([`leaderboard_key`]), whose members are element ids written in decimal
//! and whose scores are the elements' scores. So it shares the cache's memory budget, eviction,
//! permissions (a token must reach that key), metering and change feed with every other item,
//! and RESP sees it as the sorted set it is: `ZREVRANGE leaderboard:season1 0 9 WITHSCORES`
//! lists the top ten, `ZINCRBY leaderboard:season1 5 42` adds to element 42's score.
//!
//! Momento's rules (its protos and the SDKs' integration tests):
//! - ids are u32; scores are finite (NaN and infinities are INVALID_ARGUMENT);
//! - upsert and remove take 1 to 8192 elements; rank ranges span 1 to 8192 ranks
//!   (`start < end`); by-score fetches return at most 8192 (`limit` 0 means 8192) and refuse
//!   `min > max`;
//! - a leaderboard that does not exist reads as empty, and deleting or removing from it
//!   succeeds;
//! - ranks are 0-based. Ordinal ranks (GetRank, GetByRank, GetByScore) order equal scores by
//!   the id's decimal text (the sorted set's member order, as Redis orders equal scores);
//!   competition ranks give equal scores one rank, the number of elements scoring strictly
//!   better ("1224" ranking), and default to descending;
//! - GetRank and GetCompetitionRank answer in the order of the requested ids and leave out ids
//!   that are not in the leaderboard.
//!
//! Leaderboards have no TTL (Momento's never expire either); like every item they can be
//! evicted under `allkeys-*` eviction policies.

use std::ops::Bound;

use ferrite_rdb::Int64Str;
use ferrite_storage::value::ZSetValue;
use ferrite_storage::Change;

use super::collections::CollTtl;
use super::sorted_sets::Order;
use crate::admission::Op;
use crate::error::ServiceError;

/// Where leaderboard `name` lives in its cache: `leaderboard:<name>`. Momento keeps
/// leaderboards apart from cache items; the prefix keeps them apart here too, except from an
/// item someone deliberately names `leaderboard:...`.
pub const LEADERBOARD_KEY_PREFIX: &str = "leaderboard:";

/// Momento's limit on the elements or ids in one call, and on a rank range's width.
pub const MAX_BATCH: usize = 8192;

/// The key leaderboard `name` is stored at.
pub fn leaderboard_key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(LEADERBOARD_KEY_PREFIX.len() + name.len());
    k.extend_from_slice(LEADERBOARD_KEY_PREFIX.as_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// An element with its rank in the order the call asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankedElement {
    pub id: u32,
    pub score: f64,
    pub rank: u32,
}

/// A by-score selection: `min` inclusive, `max` exclusive (None: unbounded), then `offset`
/// elements skipped and at most `limit` taken (0: [`MAX_BATCH`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreSelection {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub offset: u32,
    pub limit: u32,
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::InvalidArgument(msg.into())
}

/// The leaderboard's key, refusing an empty or blank name.
fn key_of(name: &str) -> Result<Vec<u8>, ServiceError> {
    if name.trim().is_empty() {
        return Err(invalid("a leaderboard name must not be empty"));
    }
    Ok(leaderboard_key(name))
}

fn check_count(what: &str, n: usize) -> Result<(), ServiceError> {
    if n == 0 {
        return Err(invalid(format!("{what}: at least one is required")));
    }
    if n > MAX_BATCH {
        return Err(invalid(format!(
            "{what}: {n} given, the limit is {MAX_BATCH} per call"
        )));
    }
    Ok(())
}

fn check_score(score: f64) -> Result<f64, ServiceError> {
    if !score.is_finite() {
        return Err(invalid(format!(
            "leaderboard scores must be finite numbers (NaN and infinities are not allowed); got {score}"
        )));
    }
    Ok(score)
}

/// The member an id is stored as: its decimal text.
fn member(id: u32) -> ([u8; 10], usize) {
    use std::io::Write;
    let mut buf = [0u8; 10];
    let mut rest = &mut buf[..];
    write!(rest, "{id}").expect("a u32 has at most 10 digits");
    let len = 10 - rest.len();
    (buf, len)
}

/// The id a member stands for: canonical decimal text of a u32 (what [`member`] writes). A
/// member written some other way (by RESP, into the same sorted set) is not an element id.
fn id_of(m: &[u8]) -> Result<u32, ServiceError> {
    m.parse_canonical_i64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| {
            ServiceError::FailedPrecondition(format!(
                "the leaderboard holds the member {:?}, which is not an element id (a u32 in decimal); \
                 it was written to the sorted set by another client",
                String::from_utf8_lossy(&m[..m.len().min(64)])
            ))
        })
}

/// The elements at ascending ranks `[start, end)`, listed and ranked in `order`.
fn elements_at(
    z: &ZSetValue,
    start: usize,
    end: usize,
    order: Order,
) -> Result<Vec<RankedElement>, ServiceError> {
    let first = match order {
        Order::Ascending => start,
        Order::Descending => z.len() - end.min(z.len()),
    };
    let element = |i: usize, (m, score): (&bytes::Bytes, f64)| {
        Ok(RankedElement {
            id: id_of(m)?,
            score,
            rank: rank32(first + i),
        })
    };
    let range = z.range_by_rank(start, end);
    match order {
        Order::Ascending => range.enumerate().map(|(i, e)| element(i, e)).collect(),
        Order::Descending => range
            .rev()
            .enumerate()
            .map(|(i, e)| element(i, e))
            .collect(),
    }
}

fn rank32(r: usize) -> u32 {
    u32::try_from(r).unwrap_or(u32::MAX)
}

impl Op<'_> {
    /// Insert elements or overwrite their scores (creating the leaderboard). 1 to 8192
    /// elements, every score finite; all or nothing. A repeated id keeps its last score.
    pub fn leaderboard_upsert(
        &self,
        name: &str,
        elements: &[(u32, f64)],
    ) -> Result<(), ServiceError> {
        let key = key_of(name)?;
        check_count("elements to upsert", elements.len())?;
        for &(_, score) in elements {
            check_score(score)?;
        }
        // About what each element adds (its decimal id, score and index entries).
        let incoming = elements.len() * 96;
        self.upsert::<ZSetValue, _>(
            &key,
            CollTtl::never(),
            incoming,
            |z| {
                for &(id, score) in elements {
                    let (buf, len) = member(id);
                    if z.set_score(&buf[..len], score).is_none() {
                        z.insert(bytes::Bytes::copy_from_slice(&buf[..len]), score);
                    }
                }
                Ok(())
            },
            |_, _, _| &[Change::ZAdd],
        )
    }

    /// Remove elements by id (1 to 8192); ids and leaderboards that do not exist are no-ops.
    pub fn leaderboard_remove(&self, name: &str, ids: &[u32]) -> Result<(), ServiceError> {
        let key = key_of(name)?;
        check_count("ids to remove", ids.len())?;
        self.modify::<ZSetValue, _>(
            &key,
            None,
            |z| {
                for &id in ids {
                    let (buf, len) = member(id);
                    z.remove(&buf[..len]);
                }
                Ok(())
            },
            |_, before, after| if after < before { &[Change::ZRem] } else { &[] },
        )?;
        Ok(())
    }

    /// The number of elements (0 when the leaderboard does not exist).
    pub fn leaderboard_length(&self, name: &str) -> Result<u32, ServiceError> {
        let key = key_of(name)?;
        Ok(self
            .read::<ZSetValue, _>(&key, |z| rank32(z.len()))?
            .unwrap_or(0))
    }

    /// Delete the leaderboard (a no-op when it does not exist).
    pub fn leaderboard_delete(&self, name: &str) -> Result<(), ServiceError> {
        let key = key_of(name)?;
        self.delete_coll::<ZSetValue>(&key)?;
        Ok(())
    }

    /// The elements with ranks in `[start, end)` in `order` (1 to 8192 ranks).
    pub fn leaderboard_by_rank(
        &self,
        name: &str,
        start: u32,
        end: u32,
        order: Order,
    ) -> Result<Vec<RankedElement>, ServiceError> {
        let key = key_of(name)?;
        if start >= end {
            return Err(invalid(format!(
                "the rank range {start}..{end} is empty: the start must be below the end"
            )));
        }
        if (end - start) as usize > MAX_BATCH {
            return Err(invalid(format!(
                "the rank range {start}..{end} spans {} ranks, the limit is {MAX_BATCH}",
                end - start
            )));
        }
        let found = self.read::<ZSetValue, _>(&key, |z| {
            let n = z.len();
            let (s, e) = ((start as usize).min(n), (end as usize).min(n));
            match order {
                Order::Ascending => elements_at(z, s, e, order),
                Order::Descending => elements_at(z, n - e, n - s, order),
            }
        })?;
        Ok(found.transpose()?.unwrap_or_default())
    }

    /// The elements with scores in `min..max` (inclusive, exclusive) in `order`, from the
    /// `offset`-th on, at most `limit`; each with its rank in the whole leaderboard.
    pub fn leaderboard_by_score(
        &self,
        name: &str,
        sel: ScoreSelection,
        order: Order,
    ) -> Result<Vec<RankedElement>, ServiceError> {
        let key = key_of(name)?;
        for bound in [sel.min, sel.max].into_iter().flatten() {
            if bound.is_nan() {
                return Err(invalid("a score bound must not be NaN"));
            }
        }
        if let (Some(min), Some(max)) = (sel.min, sel.max) {
            if min > max {
                return Err(invalid(format!(
                    "the score range's minimum ({min}) is above its maximum ({max})"
                )));
            }
        }
        let limit = match sel.limit as usize {
            0 => MAX_BATCH,
            n if n > MAX_BATCH => {
                return Err(invalid(format!(
                    "limit_elements is {n}, the limit is {MAX_BATCH}"
                )))
            }
            n => n,
        };
        let min = sel.min.map_or(Bound::Unbounded, Bound::Included);
        let max = sel.max.map_or(Bound::Unbounded, Bound::Excluded);
        let found = self.read::<ZSetValue, _>(&key, |z| {
            // The ascending ranks the range covers; the page within it in the asked order.
            let (lo, hi) = z.rank_range_by_score(min, max);
            let width = hi - lo;
            let skip = (sel.offset as usize).min(width);
            let take = limit.min(width - skip);
            match order {
                Order::Ascending => elements_at(z, lo + skip, lo + skip + take, order),
                Order::Descending => elements_at(z, hi - skip - take, hi - skip, order),
            }
        })?;
        Ok(found.transpose()?.unwrap_or_default())
    }

    /// The ordinal ranks of `ids` in `order`, in the order asked, leaving out ids that are not
    /// in the leaderboard (1 to 8192 ids).
    pub fn leaderboard_rank(
        &self,
        name: &str,
        ids: &[u32],
        order: Order,
    ) -> Result<Vec<RankedElement>, ServiceError> {
        self.ranks_of(name, ids, |z, m, _| match order {
            Order::Ascending => z.rank(m),
            Order::Descending => z.rev_rank(m),
        })
    }

    /// The competition ranks of `ids` ("1224": equal scores share the rank of the first of
    /// them, the number of elements scoring strictly better) in `order`, in the order asked,
    /// leaving out ids that are not in the leaderboard (1 to 8192 ids).
    pub fn leaderboard_competition_rank(
        &self,
        name: &str,
        ids: &[u32],
        order: Order,
    ) -> Result<Vec<RankedElement>, ServiceError> {
        self.ranks_of(name, ids, |z, _, score| {
            Some(match order {
                Order::Ascending => z.count_below_score(score),
                Order::Descending => z.count_above_score(score),
            })
        })
    }

    fn ranks_of(
        &self,
        name: &str,
        ids: &[u32],
        rank: impl Fn(&ZSetValue, &[u8], f64) -> Option<usize>,
    ) -> Result<Vec<RankedElement>, ServiceError> {
        let key = key_of(name)?;
        check_count("ids", ids.len())?;
        let found = self.read::<ZSetValue, _>(&key, |z| {
            ids.iter()
                .filter_map(|&id| {
                    let (buf, len) = member(id);
                    let m = &buf[..len];
                    let score = z.score(m)?;
                    Some(RankedElement {
                        id,
                        score,
                        rank: rank32(rank(z, m, score)?),
                    })
                })
                .collect()
        })?;
        Ok(found.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_decimal_members() {
        for id in [0, 7, 10, 123, 4_294_967_295] {
            let (buf, len) = member(id);
            assert_eq!(&buf[..len], id.to_string().as_bytes());
            assert_eq!(id_of(&buf[..len]).unwrap(), id);
        }
        for bad in [
            &b""[..],
            b"0123",
            b"+5",
            b"-1",
            b"4294967296",
            b"12a",
            b" 1",
        ] {
            assert!(id_of(bad).is_err(), "{bad:?}");
        }
    }
}
