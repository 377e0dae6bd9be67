//! Sorted-set RPCs (Redis zsets). Scores are f64; NaN is rejected (INVALID_ARGUMENT), infinities
//! are allowed as in Redis. Order is Redis's: by score, then by member bytes.

use std::collections::HashMap;
use std::ops::Bound;

use bytes::Bytes;
use ferrite_storage::value::ZSetValue;
use ferrite_storage::{Cache, Change, Value};
use momento_protos::cache_client::*;
use tonic::Status;

use super::{check_elements, coll_ttl, delete_coll, len32, modify, read, upsert, HIT, MISS};
use crate::grpc::{errors, GrpcState};

fn check_score(x: f64) -> Result<f64, Status> {
    if x.is_nan() {
        return Err(errors::invalid("a sorted set score must not be NaN"));
    }
    Ok(x)
}

fn descending(order: i32) -> Result<bool, Status> {
    use sorted_set_fetch_request::Order;
    match Order::try_from(order) {
        Ok(Order::Ascending) => Ok(false),
        Ok(Order::Descending) => Ok(true),
        Err(_) => Err(errors::invalid(format!("unknown sort order {order}"))),
    }
}

/// Add elements or overwrite their scores (creating the set).
pub fn sorted_set_put(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetPutRequest,
) -> Result<SortedSetPutResponse, Status> {
    let incoming = check_elements(st, req.elements.iter().map(|e| &e.value))?;
    for e in &req.elements {
        check_score(e.score)?;
    }
    let ttl = coll_ttl(st, req.ttl_milliseconds, req.refresh_ttl)?;
    let elements = req.elements;
    upsert::<ZSetValue, _>(
        st,
        cache,
        &req.set_name,
        ttl,
        incoming + 8 * elements.len(),
        |z| {
            for e in elements {
                z.insert(Bytes::from(e.value), e.score);
            }
            Ok(())
        },
        |_, _, _| &[Change::ZAdd],
    )?;
    Ok(SortedSetPutResponse {})
}

fn score_min(m: Option<sorted_set_fetch_request::by_score::Min>) -> Result<Bound<f64>, Status> {
    use sorted_set_fetch_request::by_score::Min;
    Ok(match m {
        None | Some(Min::UnboundedMin(_)) => Bound::Unbounded,
        Some(Min::MinScore(s)) if s.exclusive => Bound::Excluded(check_score(s.score)?),
        Some(Min::MinScore(s)) => Bound::Included(check_score(s.score)?),
    })
}

fn score_max(m: Option<sorted_set_fetch_request::by_score::Max>) -> Result<Bound<f64>, Status> {
    use sorted_set_fetch_request::by_score::Max;
    Ok(match m {
        None | Some(Max::UnboundedMax(_)) => Bound::Unbounded,
        Some(Max::MaxScore(s)) if s.exclusive => Bound::Excluded(check_score(s.score)?),
        Some(Max::MaxScore(s)) => Bound::Included(check_score(s.score)?),
    })
}

/// What a fetch selects, validated before the lock is taken.
enum Selection {
    /// Python-style `[start, end)` over the elements in the requested order.
    Index(Option<i32>, Option<i32>),
    /// Score bounds, then `offset` and `count` (negative = all) in the requested order.
    Score {
        min: Bound<f64>,
        max: Bound<f64>,
        offset: usize,
        count: Option<usize>,
    },
}

/// ByIndex: start inclusive, end exclusive, negatives count from the end, in the requested
/// order (descending ranks count from the highest score). ByScore: `min..max` (each inclusive
/// or exclusive), then skip `offset` and take `count` (negative: all), in the requested order.
/// No range: every element.
pub fn sorted_set_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetFetchRequest,
) -> Result<SortedSetFetchResponse, Status> {
    use sorted_set_fetch_request::by_index::{End, Start};
    use sorted_set_fetch_request::Range;
    use sorted_set_fetch_response::found::{Elements, Values, ValuesWithScores};
    use sorted_set_fetch_response::{Found, Missing, SortedSet as S};
    let desc = descending(req.order)?;
    let sel = match req.range {
        None => Selection::Index(None, None),
        Some(Range::ByIndex(ix)) => Selection::Index(
            match ix.start {
                Some(Start::InclusiveStartIndex(i)) => Some(i),
                Some(Start::UnboundedStart(_)) | None => None,
            },
            match ix.end {
                Some(End::ExclusiveEndIndex(i)) => Some(i),
                Some(End::UnboundedEnd(_)) | None => None,
            },
        ),
        Some(Range::ByScore(bs)) => Selection::Score {
            min: score_min(bs.min)?,
            max: score_max(bs.max)?,
            offset: bs.offset as usize,
            count: usize::try_from(bs.count).ok(),
        },
    };
    let with_scores = req.with_scores;
    let found = read::<ZSetValue, _>(st, cache, &req.set_name, |z| {
        let picked: Vec<(&Bytes, f64)> = match sel {
            Selection::Index(start, end) => {
                let n = z.len();
                let (s, e) = super::lists::py_range(n, start, end);
                if desc {
                    z.range_by_rank(n - e, n - s).rev().collect()
                } else {
                    z.range_by_rank(s, e).collect()
                }
            }
            Selection::Score {
                min,
                max,
                offset,
                count,
            } => {
                let it = z.range_by_score(min, max);
                let it: Box<dyn Iterator<Item = (&Bytes, f64)>> = if desc {
                    Box::new(it.rev())
                } else {
                    Box::new(it)
                };
                it.skip(offset).take(count.unwrap_or(usize::MAX)).collect()
            }
        };
        if with_scores {
            Elements::ValuesWithScores(ValuesWithScores {
                elements: picked
                    .into_iter()
                    .map(|(m, score)| SortedSetElement {
                        value: m.to_vec(),
                        score,
                    })
                    .collect(),
            })
        } else {
            Elements::Values(Values {
                values: picked.into_iter().map(|(m, _)| m.to_vec()).collect(),
            })
        }
    })?;
    Ok(SortedSetFetchResponse {
        sorted_set: Some(match found {
            Some(e) => S::Found(Found { elements: Some(e) }),
            None => S::Missing(Missing {}),
        }),
    })
}

pub fn sorted_set_get_score(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetGetScoreRequest,
) -> Result<SortedSetGetScoreResponse, Status> {
    use sorted_set_get_score_response::{
        SortedSet as S, SortedSetFound, SortedSetGetScoreResponsePart as Part, SortedSetMissing,
    };
    let elements = read::<ZSetValue, _>(st, cache, &req.set_name, |z| {
        req.values
            .iter()
            .map(|v| match z.score(v) {
                Some(score) => Part { result: HIT, score },
                None => Part {
                    result: MISS,
                    score: 0.0,
                },
            })
            .collect()
    })?;
    Ok(SortedSetGetScoreResponse {
        sorted_set: Some(match elements {
            Some(elements) => S::Found(SortedSetFound { elements }),
            None => S::Missing(SortedSetMissing {}),
        }),
    })
}

pub fn sorted_set_remove(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetRemoveRequest,
) -> Result<SortedSetRemoveResponse, Status> {
    use sorted_set_remove_request::RemoveElements as R;
    match req.remove_elements {
        None => return Err(errors::invalid("SortedSetRemove needs 'all' or 'some'")),
        Some(R::All(_)) => {
            delete_coll::<ZSetValue>(st, cache, &req.set_name)?;
        }
        Some(R::Some(some)) => {
            modify::<ZSetValue, _>(
                st,
                cache,
                &req.set_name,
                None,
                |z| {
                    for v in &some.values {
                        z.remove(v);
                    }
                    Ok(())
                },
                |_, before, after| if after < before { &[Change::ZRem] } else { &[] },
            )?;
        }
    }
    Ok(SortedSetRemoveResponse {})
}

/// Add `amount` to an element's score (a missing element or set starts at 0). A NaN result
/// (inf + -inf) is FAILED_PRECONDITION, as Redis's ZINCRBY refuses it.
pub fn sorted_set_increment(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetIncrementRequest,
) -> Result<SortedSetIncrementResponse, Status> {
    st.check_element_size(req.value.len())?;
    let amount = check_score(req.amount)?;
    let ttl = coll_ttl(st, req.ttl_milliseconds, req.refresh_ttl)?;
    let value = req.value;
    let incoming = value.len() + 8;
    let score = upsert::<ZSetValue, _>(
        st,
        cache,
        &req.set_name,
        ttl,
        incoming,
        |z| {
            let next = z.score(&value).unwrap_or(0.0) + amount;
            if next.is_nan() {
                return Err(Status::failed_precondition(
                    "the resulting score would be NaN",
                ));
            }
            if z.set_score(&value, next).is_none() {
                z.insert(Bytes::from(value), next);
            }
            Ok(next)
        },
        |_, _, _| &[Change::ZIncr],
    )?;
    Ok(SortedSetIncrementResponse { score })
}

/// Rank 0 is the lowest score (ascending) or the highest (descending). A missing element is an
/// ElementRank with result Miss; a missing set is Missing.
pub fn sorted_set_get_rank(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetGetRankRequest,
) -> Result<SortedSetGetRankResponse, Status> {
    use sorted_set_get_rank_response::{Rank, RankResponsePart, SortedSetMissing};
    let desc = descending(req.order)?;
    let rank = read::<ZSetValue, _>(st, cache, &req.set_name, |z| {
        if desc {
            z.rev_rank(&req.value)
        } else {
            z.rank(&req.value)
        }
    })?;
    Ok(SortedSetGetRankResponse {
        rank: Some(match rank {
            None => Rank::Missing(SortedSetMissing {}),
            Some(Some(r)) => Rank::ElementRank(RankResponsePart {
                result: HIT,
                rank: r as u64,
            }),
            Some(None) => Rank::ElementRank(RankResponsePart {
                result: MISS,
                rank: 0,
            }),
        }),
    })
}

pub fn sorted_set_length(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetLengthRequest,
) -> Result<SortedSetLengthResponse, Status> {
    use sorted_set_length_response::{Found, Missing, SortedSet as S};
    let n = read::<ZSetValue, _>(st, cache, &req.set_name, |z| z.len())?;
    Ok(SortedSetLengthResponse {
        sorted_set: Some(match n {
            Some(n) => S::Found(Found { length: len32(n) }),
            None => S::Missing(Missing {}),
        }),
    })
}

pub fn sorted_set_length_by_score(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetLengthByScoreRequest,
) -> Result<SortedSetLengthByScoreResponse, Status> {
    use sorted_set_length_by_score_request::{Max, Min};
    use sorted_set_length_by_score_response::{Found, Missing, SortedSet as S};
    let min = match req.min {
        None | Some(Min::UnboundedMin(_)) => Bound::Unbounded,
        Some(Min::InclusiveMin(x)) => Bound::Included(check_score(x)?),
        Some(Min::ExclusiveMin(x)) => Bound::Excluded(check_score(x)?),
    };
    let max = match req.max {
        None | Some(Max::UnboundedMax(_)) => Bound::Unbounded,
        Some(Max::InclusiveMax(x)) => Bound::Included(check_score(x)?),
        Some(Max::ExclusiveMax(x)) => Bound::Excluded(check_score(x)?),
    };
    let n = read::<ZSetValue, _>(st, cache, &req.set_name, |z| {
        z.range_by_score(min, max).count()
    })?;
    Ok(SortedSetLengthByScoreResponse {
        sorted_set: Some(match n {
            Some(n) => S::Found(Found { length: len32(n) }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Weighted union of the sources into `set_name` (ZUNIONSTORE): the destination is replaced
/// (it is a source only when listed), gets the TTL when the result is non-empty and is deleted
/// when it is empty. Missing sources are empty; a source or destination holding another type is
/// wrong type. Like Redis, a weighted score or a sum that is NaN (0 * inf, inf - inf) counts as 0.
/// All involved shards are locked together, so the union is atomic.
pub fn sorted_set_union_store(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetUnionStoreRequest,
) -> Result<SortedSetUnionStoreResponse, Status> {
    use sorted_set_union_store_request::AggregateFunction as Agg;
    let agg = Agg::try_from(req.aggregate)
        .map_err(|_| errors::invalid(format!("unknown aggregate function {}", req.aggregate)))?;
    let at = st.expires_at(req.ttl_milliseconds, st.now_ms())?;
    // Room for about the sources' size, measured without holding more than one lock at a time.
    let now = st.now_ms();
    let estimate: usize = req
        .sources
        .iter()
        .map(|src| {
            let mut s = cache.lock_key(&src.set_name);
            match s.peek(&src.set_name, now).map(|e| &e.value) {
                Some(Value::ZSet(z)) => z.bytes(),
                _ => 0,
            }
        })
        .sum();
    st.ensure_memory(req.set_name.len() + estimate)?;

    let dest = &req.set_name[..];
    let keys = std::iter::once(dest).chain(req.sources.iter().map(|s| &s.set_name[..]));
    let now = st.now_ms();
    let length = {
        let mut locked = cache.lock_keys(keys);
        let mut acc: HashMap<Bytes, f64> = HashMap::new();
        for src in &req.sources {
            let s = locked.shard(&src.set_name);
            let Some(e) = s.get(&src.set_name, now) else {
                continue;
            };
            let Value::ZSet(z) = &e.value else {
                return Err(errors::wrong_type(e.kind()));
            };
            let w = f64::from(src.weight);
            for (m, score) in z.iter() {
                let mut x = score * w;
                if x.is_nan() {
                    x = 0.0;
                }
                acc.entry(m.clone())
                    .and_modify(|cur| {
                        *cur = match agg {
                            Agg::Sum => {
                                let s = *cur + x;
                                if s.is_nan() {
                                    0.0
                                } else {
                                    s
                                }
                            }
                            Agg::Min => cur.min(x),
                            Agg::Max => cur.max(x),
                        }
                    })
                    .or_insert(x);
            }
        }
        let s = locked.shard(dest);
        if let Some(e) = s.peek(dest, now) {
            if !matches!(e.value, Value::ZSet(_)) {
                return Err(errors::wrong_type(e.kind()));
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
        n
    };
    Ok(SortedSetUnionStoreResponse {
        length: len32(length),
    })
}
