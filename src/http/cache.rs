//! `GET|PUT|DELETE /cache/{cache}?key=...|key_base64=...`: Momento's HTTP cache API.
//!
//! The engine work is the gRPC front end's scalar handlers (`grpc::scalars::{get,set,delete}`),
//! called with the same `GrpcState`: one implementation of Momento's rules (item size with the
//! key counted, TTL bounds, eviction before writing, the Redis event each write reports to the
//! engine's change feed) for both APIs. A scalar is a Redis string in the same cache, so RESP
//! `GET` sees what HTTP `PUT` wrote.
//!
//! Every handler: token (401) → key → permission on that key (403, before the cache is looked
//! up, like gRPC) → cache (404) → quota admission (429) → engine → metering of the caller's
//! tenant (bytes in = key + request body, bytes out = response body; docs/metering.md).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use momento_protos::cache_client::{DeleteRequest, ECacheResult, GetRequest, SetRequest};

use super::error::ApiError;
use super::params::Query;
use super::{auth, path_error, HttpState};
use crate::grpc::scalars;
use ferrite_service::Counters;
use ferrite_auth::CacheAccess;

/// `GET /cache/{cache}`: 200 with the raw value (`application/octet-stream`), or 404
/// `key_not_found` / `cache_not_found`.
pub async fn get(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Path(cache_name) = path.map_err(path_error)?;
    let q = Query::parse(raw.as_deref())?;
    let caller = auth::caller(st.auth(), &headers, &q)?;
    let key = q.key()?;
    caller.check_key(&cache_name, &key, CacheAccess::Read)?;
    let cache = st.grpc.cache_named(&cache_name)?;
    let tenant = caller.tenant(cache.name_arc().clone());
    let quota = st.admit(&tenant)?;
    let bytes_in = key.len();
    let r = scalars::get(&st.grpc, &cache, GetRequest { cache_key: key });
    let bytes_out = match &r {
        Ok(r) if r.result == ECacheResult::Hit as i32 => r.cache_body.len(),
        _ => 0,
    };
    st.account(
        &tenant,
        &quota,
        Counters::op(bytes_in as u64, bytes_out as u64),
    );
    let r = r?;
    if r.result != ECacheResult::Hit as i32 {
        return Err(ApiError::key_not_found());
    }
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        r.cache_body,
    )
        .into_response())
}

/// `PUT /cache/{cache}?key=K&ttl_seconds=T` with the value as the raw body: 204.
pub async fn put(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let Path(cache_name) = path.map_err(path_error)?;
    let q = Query::parse(raw.as_deref())?;
    let caller = auth::caller(st.auth(), &headers, &q)?;
    let key = q.key()?;
    caller.check_key(&cache_name, &key, CacheAccess::Write)?;
    let ttl_secs = q
        .u64("ttl_seconds")?
        .ok_or_else(|| ApiError::bad_request("missing query parameter 'ttl_seconds'"))?;
    let max_ttl_secs = st.grpc.limits.max_ttl_ms / 1000;
    if ttl_secs == 0 {
        return Err(ApiError::bad_request("ttl_seconds must be greater than 0"));
    }
    if ttl_secs > max_ttl_secs {
        return Err(ApiError::bad_request(format!(
            "ttl_seconds of {ttl_secs} exceeds the maximum TTL of {max_ttl_secs} seconds"
        )));
    }
    // Only now, authorized and validated, is the body read.
    let (body, _inflight) = st.read_body(&headers, body).await?;
    let cache = st.grpc.cache_named(&cache_name)?;
    let tenant = caller.tenant(cache.name_arc().clone());
    let quota = st.admit(&tenant)?;
    let bytes_in = key.len() + body.len();
    let r = scalars::set(
        &st.grpc,
        &cache,
        SetRequest {
            cache_key: key,
            cache_body: body.to_vec(),
            ttl_milliseconds: ttl_secs * 1000,
        },
    );
    st.account(&tenant, &quota, Counters::op(bytes_in as u64, 0));
    r?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /cache/{cache}?key=K`: 204 (deleting a missing key succeeds, as in Momento).
pub async fn delete(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Path(cache_name) = path.map_err(path_error)?;
    let q = Query::parse(raw.as_deref())?;
    let caller = auth::caller(st.auth(), &headers, &q)?;
    let key = q.key()?;
    // gRPC's Delete needs write access to the key (grpc/authz.rs).
    caller.check_key(&cache_name, &key, CacheAccess::Write)?;
    let cache = st.grpc.cache_named(&cache_name)?;
    let tenant = caller.tenant(cache.name_arc().clone());
    let quota = st.admit(&tenant)?;
    let bytes_in = key.len();
    let r = scalars::delete(&st.grpc, &cache, DeleteRequest { cache_key: key });
    st.account(&tenant, &quota, Counters::op(bytes_in as u64, 0));
    r?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
