//! `/leaderboards/{cache}/{leaderboard}[/ranks|/length]`: Momento's leaderboards over HTTP
//! (Momento has no HTTP leaderboard API; this one follows its gRPC calls one to one).
//!
//! ```text
//! PUT    /leaderboards/{cache}/{lb}          {"elements":[{"id":1,"score":2.5}]}  upsert       204
//! GET    /leaderboards/{cache}/{lb}          ?start=&end=&order=           by rank           200
//!                                            ?min=&max=&offset=&limit=&order=  by score     200
//! DELETE /leaderboards/{cache}/{lb}          (?ids=1,2: remove those elements instead)     204
//! GET    /leaderboards/{cache}/{lb}/ranks    ?ids=1,2&order=&ranking=ordinal|competition   200
//! GET    /leaderboards/{cache}/{lb}/length                                                 200
//! ```
//! Each handler is a translator, as `cache.rs`: admission on the leaderboard's key
//! (`leaderboard:<name>`, read for GETs, write otherwise) → the service's leaderboard operation
//! (`ferrite_service::cache_ops::leaderboards`, the same one gRPC calls, with Momento's limits
//! and errors) → `Op::finish`. Answers are JSON: `{"elements":[{"id","score","rank"}]}` and
//! `{"length":N}`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrite_auth::CacheAccess;
use ferrite_service::cache_ops::leaderboards::{leaderboard_key, RankedElement, ScoreSelection};
use ferrite_service::cache_ops::sorted_sets::Order;
use ferrite_service::{Counters, Need, Op};
use serde::Deserialize;

use super::error::ApiError;
use super::params::Query;
use super::{auth, path_error, HttpState};

/// The admitted operation on the path's leaderboard (after a script holding its cache lets
/// go), the parsed query and the leaderboard's name.
async fn admit<'s>(
    st: &'s HttpState,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: &HeaderMap,
    raw: Option<&str>,
    access: CacheAccess,
) -> Result<(Op<'s>, Query, String), ApiError> {
    let Path((cache, name)) = path.map_err(path_error)?;
    let q = Query::parse(raw)?;
    let svc = &st.shared.service;
    let caller = auth::caller(svc, headers, &q)?;
    let op = svc.admit(&caller, &cache, Need::Key(access, &leaderboard_key(&name)))?;
    svc.exclusive.wait_clear(op.cache()).await?;
    Ok((op, q, name))
}

fn order(q: &Query, default: Order) -> Result<Order, ApiError> {
    match q.get("order") {
        None => Ok(default),
        Some("asc" | "ascending") => Ok(Order::Ascending),
        Some("desc" | "descending") => Ok(Order::Descending),
        Some(o) => Err(ApiError::bad_request(format!(
            "query parameter 'order' must be 'asc' or 'desc', got {o:?}"
        ))),
    }
}

fn u32_param(q: &Query, name: &str) -> Result<Option<u32>, ApiError> {
    match q.u64(name)? {
        None => Ok(None),
        Some(v) => u32::try_from(v).map(Some).map_err(|_| {
            ApiError::bad_request(format!("query parameter '{name}' is above 2^32 - 1"))
        }),
    }
}

fn f64_param(q: &Query, name: &str) -> Result<Option<f64>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.trim().parse::<f64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "query parameter '{name}' must be a number, got {v:?}"
            ))
        }),
    }
}

/// `ids=1,2,3`.
fn ids(q: &Query) -> Result<Option<Vec<u32>>, ApiError> {
    let Some(list) = q.get("ids") else {
        return Ok(None);
    };
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse::<u32>().map_err(|_| {
                ApiError::bad_request(format!("'ids' holds {s:?}, which is not a u32 id"))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The JSON answer, metered with `bytes_in`.
fn json_answer(op: Op, bytes_in: usize, body: serde_json::Value) -> Response {
    let text = body.to_string();
    op.finish(Counters::op(bytes_in as u64, text.len() as u64));
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// The JSON answer, or the refusal; metered either way.
fn json_or_refusal(
    op: Op,
    bytes_in: usize,
    r: Result<serde_json::Value, ferrite_service::ServiceError>,
) -> Result<Response, ApiError> {
    match r {
        Ok(body) => Ok(json_answer(op, bytes_in, body)),
        Err(e) => {
            op.finish(Counters::op(bytes_in as u64, 0));
            Err(e.into())
        }
    }
}

fn elements_json(v: &[RankedElement]) -> serde_json::Value {
    serde_json::json!({
        "elements": v
            .iter()
            .map(|e| serde_json::json!({"id": e.id, "score": e.score, "rank": e.rank}))
            .collect::<Vec<_>>()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpsertBody {
    elements: Vec<UpsertElement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpsertElement {
    id: u32,
    score: f64,
}

/// `PUT /leaderboards/{cache}/{lb}`: insert or update elements (1 to 8192): 204.
pub async fn upsert(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let (op, _, name) = admit(&st, path, &headers, raw.as_deref(), CacheAccess::Write).await?;
    let (body, _inflight) = st.read_body(&headers, body).await?;
    let parsed: UpsertBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be {{\"elements\":[{{\"id\":<u32>,\"score\":<number>}}, ...]}}: {e}"
        ))
    })?;
    let elements: Vec<(u32, f64)> = parsed.elements.iter().map(|e| (e.id, e.score)).collect();
    let r = op.leaderboard_upsert(&name, &elements);
    op.finish(Counters::op(body.len() as u64, 0));
    r?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /leaderboards/{cache}/{lb}`: by rank (`start`, default 0; `end`, default start + 8192)
/// unless a score parameter (`min`, `max`, `offset`, `limit`) is given; `order` asc (default)
/// or desc.
pub async fn fetch(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (op, q, name) = admit(&st, path, &headers, raw.as_deref(), CacheAccess::Read).await?;
    let o = order(&q, Order::Ascending)?;
    let by_score = ["min", "max", "offset", "limit"]
        .iter()
        .any(|p| q.get(p).is_some());
    let by_rank = q.get("start").is_some() || q.get("end").is_some();
    if by_score && by_rank {
        return Err(ApiError::bad_request(
            "give a rank range (start, end) or a score range (min, max, offset, limit), not both",
        ));
    }
    let r = if by_score {
        let sel = ScoreSelection {
            min: f64_param(&q, "min")?,
            max: f64_param(&q, "max")?,
            offset: u32_param(&q, "offset")?.unwrap_or(0),
            limit: u32_param(&q, "limit")?.unwrap_or(0),
        };
        op.leaderboard_by_score(&name, sel, o)
    } else {
        let start = u32_param(&q, "start")?.unwrap_or(0);
        let end = match u32_param(&q, "end")? {
            Some(e) => e,
            None => {
                start.saturating_add(ferrite_service::cache_ops::leaderboards::MAX_BATCH as u32)
            }
        };
        op.leaderboard_by_rank(&name, start, end, o)
    };
    json_or_refusal(
        op,
        raw.as_deref().map_or(0, str::len),
        r.map(|v| elements_json(&v)),
    )
}

/// `GET /leaderboards/{cache}/{lb}/ranks?ids=...`: the ranks of those ids (absent ones left
/// out), `ranking=ordinal` (default; `order` default asc) or `competition` (`order` default
/// desc, as Momento's GetCompetitionRank).
pub async fn ranks(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (op, q, name) = admit(&st, path, &headers, raw.as_deref(), CacheAccess::Read).await?;
    let ids = ids(&q)?.ok_or_else(|| ApiError::bad_request("missing query parameter 'ids'"))?;
    let r = match q.get("ranking").unwrap_or("ordinal") {
        "ordinal" => op.leaderboard_rank(&name, &ids, order(&q, Order::Ascending)?),
        "competition" => {
            op.leaderboard_competition_rank(&name, &ids, order(&q, Order::Descending)?)
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "query parameter 'ranking' must be 'ordinal' or 'competition', got {other:?}"
            )))
        }
    };
    json_or_refusal(
        op,
        raw.as_deref().map_or(0, str::len),
        r.map(|v| elements_json(&v)),
    )
}

/// `GET /leaderboards/{cache}/{lb}/length`: `{"length": N}` (0 when it does not exist).
pub async fn length(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (op, _, name) = admit(&st, path, &headers, raw.as_deref(), CacheAccess::Read).await?;
    let r = op.leaderboard_length(&name);
    json_or_refusal(op, 0, r.map(|n| serde_json::json!({ "length": n })))
}

/// `DELETE /leaderboards/{cache}/{lb}`: delete the leaderboard, or with `ids=1,2` remove only
/// those elements: 204 either way (a missing leaderboard or id is not an error).
pub async fn delete(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (op, q, name) = admit(&st, path, &headers, raw.as_deref(), CacheAccess::Write).await?;
    let r = match ids(&q)? {
        Some(ids) => op.leaderboard_remove(&name, &ids),
        None => op.leaderboard_delete(&name),
    };
    op.finish(Counters::op(raw.as_deref().map_or(0, str::len) as u64, 0));
    r?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
