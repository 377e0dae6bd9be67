//! `leaderboard.Leaderboard`: Momento's leaderboards, admitted like every data-plane call (the
//! `cache` header's cache, the caller's permissions on the leaderboard's key, the tenant's
//! quota, metering) and answered by `ferrite_service::cache_ops::leaderboards`, where the rules
//! and the storage (a sorted set at `leaderboard:<name>`) are described.

use std::sync::Arc;

use ferrite_service::cache_ops::leaderboards::{self as lb, ScoreSelection};
use ferrite_service::cache_ops::sorted_sets::Order;
use ferrite_service::Op;
use momento_protos::common::Empty;
use momento_protos::leaderboard::leaderboard_server::Leaderboard;
use momento_protos::leaderboard::*;
use tonic::{Request, Response, Status};

use super::errors::{self, status};
use super::GrpcState;

type R<T> = Result<T, Status>;

pub struct LeaderboardService {
    state: Arc<GrpcState>,
}

impl LeaderboardService {
    pub fn new(state: Arc<GrpcState>) -> Self {
        Self { state }
    }
}

fn order(o: i32) -> R<Order> {
    match momento_protos::leaderboard::Order::try_from(o) {
        Ok(momento_protos::leaderboard::Order::Ascending) => Ok(Order::Ascending),
        Ok(momento_protos::leaderboard::Order::Descending) => Ok(Order::Descending),
        Err(_) => Err(errors::invalid(format!("unknown leaderboard order {o}"))),
    }
}

fn ranked(v: Vec<lb::RankedElement>) -> Vec<RankedElement> {
    v.into_iter()
        .map(|e| RankedElement {
            id: e.id,
            rank: e.rank,
            score: e.score,
        })
        .collect()
}

fn upsert(op: &Op, req: UpsertElementsRequest) -> R<Empty> {
    let elements: Vec<(u32, f64)> = req.elements.iter().map(|e| (e.id, e.score)).collect();
    op.leaderboard_upsert(&req.leaderboard, &elements)
        .map_err(status)?;
    Ok(Empty {})
}

fn remove(op: &Op, req: RemoveElementsRequest) -> R<Empty> {
    op.leaderboard_remove(&req.leaderboard, &req.ids)
        .map_err(status)?;
    Ok(Empty {})
}

fn delete(op: &Op, req: DeleteLeaderboardRequest) -> R<Empty> {
    op.leaderboard_delete(&req.leaderboard).map_err(status)?;
    Ok(Empty {})
}

fn length(op: &Op, req: GetLeaderboardLengthRequest) -> R<GetLeaderboardLengthResponse> {
    let count = op.leaderboard_length(&req.leaderboard).map_err(status)?;
    Ok(GetLeaderboardLengthResponse { count })
}

fn by_rank(op: &Op, req: GetByRankRequest) -> R<GetByRankResponse> {
    let range = req
        .rank_range
        .ok_or_else(|| errors::invalid("GetByRank needs a rank_range"))?;
    let elements = op
        .leaderboard_by_rank(
            &req.leaderboard,
            range.start_inclusive,
            range.end_exclusive,
            order(req.order)?,
        )
        .map_err(status)?;
    Ok(GetByRankResponse {
        elements: ranked(elements),
    })
}

fn by_score(op: &Op, req: GetByScoreRequest) -> R<GetByScoreResponse> {
    use score_range::{Max, Min};
    let range = req.score_range.unwrap_or_default();
    let sel = ScoreSelection {
        min: match range.min {
            Some(Min::MinInclusive(x)) => Some(x),
            Some(Min::UnboundedMin(_)) | None => None,
        },
        max: match range.max {
            Some(Max::MaxExclusive(x)) => Some(x),
            Some(Max::UnboundedMax(_)) | None => None,
        },
        offset: req.offset,
        limit: req.limit_elements,
    };
    let elements = op
        .leaderboard_by_score(&req.leaderboard, sel, order(req.order)?)
        .map_err(status)?;
    Ok(GetByScoreResponse {
        elements: ranked(elements),
    })
}

fn rank(op: &Op, req: GetRankRequest) -> R<GetRankResponse> {
    let elements = op
        .leaderboard_rank(&req.leaderboard, &req.ids, order(req.order)?)
        .map_err(status)?;
    Ok(GetRankResponse {
        elements: ranked(elements),
    })
}

/// The order defaults to descending here (the field is optional in the protos).
fn competition_rank(op: &Op, req: GetCompetitionRankRequest) -> R<GetCompetitionRankResponse> {
    let o = match req.order {
        None => Order::Descending,
        Some(o) => order(o)?,
    };
    let elements = op
        .leaderboard_competition_rank(&req.leaderboard, &req.ids, o)
        .map_err(status)?;
    Ok(GetCompetitionRankResponse {
        elements: ranked(elements),
    })
}

/// One unary RPC, as `scs.rs` does it: admission -> the adapter -> metering.
macro_rules! unary {
    ($self:ident, $req:ident, $f:ident) => {{
        let (md, ext, body) = $req.into_parts();
        let op = $self.state.admit_call(&md, &ext, &body).await?;
        let bytes_in = prost::Message::encoded_len(&body);
        let r = $f(&op, body);
        op.finish(super::usage(bytes_in, &r));
        r.map(Response::new)
    }};
}

#[tonic::async_trait]
impl Leaderboard for LeaderboardService {
    async fn delete_leaderboard(
        &self,
        request: Request<DeleteLeaderboardRequest>,
    ) -> R<Response<Empty>> {
        unary!(self, request, delete)
    }

    async fn upsert_elements(&self, request: Request<UpsertElementsRequest>) -> R<Response<Empty>> {
        unary!(self, request, upsert)
    }

    async fn remove_elements(&self, request: Request<RemoveElementsRequest>) -> R<Response<Empty>> {
        unary!(self, request, remove)
    }

    async fn get_leaderboard_length(
        &self,
        request: Request<GetLeaderboardLengthRequest>,
    ) -> R<Response<GetLeaderboardLengthResponse>> {
        unary!(self, request, length)
    }

    async fn get_by_rank(
        &self,
        request: Request<GetByRankRequest>,
    ) -> R<Response<GetByRankResponse>> {
        unary!(self, request, by_rank)
    }

    async fn get_rank(&self, request: Request<GetRankRequest>) -> R<Response<GetRankResponse>> {
        unary!(self, request, rank)
    }

    async fn get_by_score(
        &self,
        request: Request<GetByScoreRequest>,
    ) -> R<Response<GetByScoreResponse>> {
        unary!(self, request, by_score)
    }

    async fn get_competition_rank(
        &self,
        request: Request<GetCompetitionRankRequest>,
    ) -> R<Response<GetCompetitionRankResponse>> {
        unary!(self, request, competition_rank)
    }
}
