//! Sorted-set RPCs (Redis zsets): protobuf ↔ `ferrite_service::cache_ops::sorted_sets`. An
//! unknown order or aggregate function is INVALID_ARGUMENT here (it is a protobuf enum value);
//! NaN scores and bounds are refused by the service.

use std::ops::Bound;

use ferrite_service::cache_ops::sorted_sets::{Aggregate, Order, SortedSetRange};
use ferrite_service::cache_ops::CollectionTtl;
use ferrite_service::Op;
use momento_protos::cache_client::*;

use super::{len32, owned, slices, wire, HIT, MISS, R};
use crate::grpc::errors::{self, status};

fn order(order: i32) -> R<Order> {
    use sorted_set_fetch_request::Order as O;
    match O::try_from(order) {
        Ok(O::Ascending) => Ok(Order::Ascending),
        Ok(O::Descending) => Ok(Order::Descending),
        Err(_) => Err(errors::invalid(format!("unknown sort order {order}"))),
    }
}

/// Add elements or overwrite their scores (creating the set).
pub fn sorted_set_put(op: &Op, req: SortedSetPutRequest) -> R<SortedSetPutResponse> {
    let elements = req
        .elements
        .into_iter()
        .map(|e| (owned(e.value), e.score))
        .collect();
    op.sorted_set_put(
        &req.set_name,
        elements,
        CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
    )
    .map_err(status)?;
    Ok(SortedSetPutResponse {})
}

fn score_min(m: Option<sorted_set_fetch_request::by_score::Min>) -> Bound<f64> {
    use sorted_set_fetch_request::by_score::Min;
    match m {
        None | Some(Min::UnboundedMin(_)) => Bound::Unbounded,
        Some(Min::MinScore(s)) if s.exclusive => Bound::Excluded(s.score),
        Some(Min::MinScore(s)) => Bound::Included(s.score),
    }
}

fn score_max(m: Option<sorted_set_fetch_request::by_score::Max>) -> Bound<f64> {
    use sorted_set_fetch_request::by_score::Max;
    match m {
        None | Some(Max::UnboundedMax(_)) => Bound::Unbounded,
        Some(Max::MaxScore(s)) if s.exclusive => Bound::Excluded(s.score),
        Some(Max::MaxScore(s)) => Bound::Included(s.score),
    }
}

/// ByIndex: start inclusive, end exclusive, negatives count from the end, in the requested
/// order. ByScore: `min..max` (each inclusive or exclusive), then skip `offset` and take `count`
/// (negative: all), in the requested order. No range: every element.
pub fn sorted_set_fetch(op: &Op, req: SortedSetFetchRequest) -> R<SortedSetFetchResponse> {
    use sorted_set_fetch_request::by_index::{End, Start};
    use sorted_set_fetch_request::Range;
    use sorted_set_fetch_response::found::{Elements, Values, ValuesWithScores};
    use sorted_set_fetch_response::{Found, Missing, SortedSet as S};
    let order = order(req.order)?;
    let range = match req.range {
        None => SortedSetRange::ByIndex {
            start: None,
            end: None,
        },
        Some(Range::ByIndex(ix)) => SortedSetRange::ByIndex {
            start: match ix.start {
                Some(Start::InclusiveStartIndex(i)) => Some(i),
                Some(Start::UnboundedStart(_)) | None => None,
            },
            end: match ix.end {
                Some(End::ExclusiveEndIndex(i)) => Some(i),
                Some(End::UnboundedEnd(_)) | None => None,
            },
        },
        Some(Range::ByScore(bs)) => SortedSetRange::ByScore {
            min: score_min(bs.min),
            max: score_max(bs.max),
            offset: bs.offset as usize,
            count: usize::try_from(bs.count).ok(),
        },
    };
    let found = op
        .sorted_set_fetch(&req.set_name, range, order)
        .map_err(status)?;
    Ok(SortedSetFetchResponse {
        sorted_set: Some(match found {
            Some(picked) => S::Found(Found {
                elements: Some(if req.with_scores {
                    Elements::ValuesWithScores(ValuesWithScores {
                        elements: picked
                            .into_iter()
                            .map(|(m, score)| SortedSetElement {
                                value: wire(m),
                                score,
                            })
                            .collect(),
                    })
                } else {
                    Elements::Values(Values {
                        values: picked.into_iter().map(|(m, _)| wire(m)).collect(),
                    })
                }),
            }),
            None => S::Missing(Missing {}),
        }),
    })
}

pub fn sorted_set_get_score(
    op: &Op,
    req: SortedSetGetScoreRequest,
) -> R<SortedSetGetScoreResponse> {
    use sorted_set_get_score_response::{
        SortedSet as S, SortedSetFound, SortedSetGetScoreResponsePart as Part, SortedSetMissing,
    };
    let scores = op
        .sorted_set_get_score(&req.set_name, slices(&req.values))
        .map_err(status)?;
    Ok(SortedSetGetScoreResponse {
        sorted_set: Some(match scores {
            Some(scores) => S::Found(SortedSetFound {
                elements: scores
                    .into_iter()
                    .map(|s| match s {
                        Some(score) => Part { result: HIT, score },
                        None => Part {
                            result: MISS,
                            score: 0.0,
                        },
                    })
                    .collect(),
            }),
            None => S::Missing(SortedSetMissing {}),
        }),
    })
}

pub fn sorted_set_remove(op: &Op, req: SortedSetRemoveRequest) -> R<SortedSetRemoveResponse> {
    use sorted_set_remove_request::RemoveElements as Rm;
    match req.remove_elements {
        None => return Err(errors::invalid("SortedSetRemove needs 'all' or 'some'")),
        Some(Rm::All(_)) => op.sorted_set_delete(&req.set_name),
        Some(Rm::Some(some)) => op.sorted_set_remove_elements(&req.set_name, slices(&some.values)),
    }
    .map_err(status)?;
    Ok(SortedSetRemoveResponse {})
}

/// Add `amount` to an element's score (a missing element or set starts at 0). A NaN result
/// (inf + -inf) is FAILED_PRECONDITION, as Redis's ZINCRBY refuses it.
pub fn sorted_set_increment(
    op: &Op,
    req: SortedSetIncrementRequest,
) -> R<SortedSetIncrementResponse> {
    let score = op
        .sorted_set_increment(
            &req.set_name,
            owned(req.value),
            req.amount,
            CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
        )
        .map_err(status)?;
    Ok(SortedSetIncrementResponse { score })
}

/// Rank 0 is the lowest score (ascending) or the highest (descending). A missing element is an
/// ElementRank with result Miss; a missing set is Missing.
pub fn sorted_set_get_rank(op: &Op, req: SortedSetGetRankRequest) -> R<SortedSetGetRankResponse> {
    use sorted_set_get_rank_response::{Rank, RankResponsePart, SortedSetMissing};
    let order = order(req.order)?;
    let rank = op
        .sorted_set_get_rank(&req.set_name, &req.value, order)
        .map_err(status)?;
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

pub fn sorted_set_length(op: &Op, req: SortedSetLengthRequest) -> R<SortedSetLengthResponse> {
    use sorted_set_length_response::{Found, Missing, SortedSet as S};
    Ok(SortedSetLengthResponse {
        sorted_set: Some(match op.sorted_set_length(&req.set_name).map_err(status)? {
            Some(n) => S::Found(Found { length: len32(n) }),
            None => S::Missing(Missing {}),
        }),
    })
}

pub fn sorted_set_length_by_score(
    op: &Op,
    req: SortedSetLengthByScoreRequest,
) -> R<SortedSetLengthByScoreResponse> {
    use sorted_set_length_by_score_request::{Max, Min};
    use sorted_set_length_by_score_response::{Found, Missing, SortedSet as S};
    let min = match req.min {
        None | Some(Min::UnboundedMin(_)) => Bound::Unbounded,
        Some(Min::InclusiveMin(x)) => Bound::Included(x),
        Some(Min::ExclusiveMin(x)) => Bound::Excluded(x),
    };
    let max = match req.max {
        None | Some(Max::UnboundedMax(_)) => Bound::Unbounded,
        Some(Max::InclusiveMax(x)) => Bound::Included(x),
        Some(Max::ExclusiveMax(x)) => Bound::Excluded(x),
    };
    let n = op
        .sorted_set_length_by_score(&req.set_name, min, max)
        .map_err(status)?;
    Ok(SortedSetLengthByScoreResponse {
        sorted_set: Some(match n {
            Some(n) => S::Found(Found { length: len32(n) }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Weighted union of the sources into `set_name` (ZUNIONSTORE), see
/// `Op::sorted_set_union_store`.
pub fn sorted_set_union_store(
    op: &Op,
    req: SortedSetUnionStoreRequest,
) -> R<SortedSetUnionStoreResponse> {
    use sorted_set_union_store_request::AggregateFunction as Agg;
    if req.sources.is_empty() {
        return Err(errors::invalid("sources must not be empty"));
    }
    let aggregate = match Agg::try_from(req.aggregate) {
        Ok(Agg::Sum) => Aggregate::Sum,
        Ok(Agg::Min) => Aggregate::Min,
        Ok(Agg::Max) => Aggregate::Max,
        Err(_) => {
            return Err(errors::invalid(format!(
                "unknown aggregate function {}",
                req.aggregate
            )))
        }
    };
    let sources: Vec<(&[u8], f64)> = req
        .sources
        .iter()
        .map(|s| (&s.set_name[..], f64::from(s.weight)))
        .collect();
    let length = op
        .sorted_set_union_store(&req.set_name, &sources, aggregate, req.ttl_milliseconds)
        .map_err(status)?;
    Ok(SortedSetUnionStoreResponse {
        length: len32(length),
    })
}
