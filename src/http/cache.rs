//! `GET|PUT|DELETE /cache/{cache}?key=...|key_base64=...`: Momento's HTTP cache API.
//!
//! Each handler is a translator: query → the service's admission (`Service::admit`: permission
//! on the key → cache → quota; the one sequence every protocol uses) → the service's scalar
//! operation on the admitted `Op` (`ferrite_service::cache_ops::scalars`, the same one gRPC's
//! `Get`/`Set`/`Delete` call: item size with the key counted, TTL bounds, eviction before
//! writing) → `Op::finish` (bytes in = key + request body, bytes out = response body;
//! docs/metering.md). A scalar is a Redis string in the same cache, so RESP `GET` sees what
//! HTTP `PUT` wrote.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrite_auth::CacheAccess;
use ferrite_service::{Counters, Need};

use super::error::ApiError;
use super::params::Query;
use super::{auth, path_error, HttpState};

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
    let svc = &st.shared.service;
    let caller = auth::caller(svc, &headers, &q)?;
    let key = q.key()?;
    let op = svc.admit(&caller, &cache_name, Need::Key(CacheAccess::Read, &key))?;
    // A script holding the cache: wait for it (503 past its busy threshold).
    svc.exclusive.wait_clear(op.cache()).await?;
    let value = op.get(&key);
    let bytes_out = value
        .as_ref()
        .map_or(0, |v| v.as_ref().map_or(0, |b| b.len()));
    op.finish(Counters::op(key.len() as u64, bytes_out as u64));
    let Some(value) = value? else {
        return Err(ApiError::key_not_found());
    };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], value).into_response())
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
    let svc = &st.shared.service;
    let caller = auth::caller(svc, &headers, &q)?;
    let key = q.key()?;
    let op = svc.admit(&caller, &cache_name, Need::Key(CacheAccess::Write, &key))?;
    // A script holding the cache: wait for it (503 past its busy threshold).
    svc.exclusive.wait_clear(op.cache()).await?;
    let ttl_ms = q
        .u64("ttl_seconds")?
        .ok_or_else(|| ApiError::bad_request("missing query parameter 'ttl_seconds'"))?
        .saturating_mul(1000);
    // The TTL is refused before the body is read (the service checks it again on the write:
    // one rule, `Limits::check_ttl`).
    svc.limits.check_ttl(ttl_ms)?;
    // Only now, authorized and validated, is the body read.
    let (body, _inflight) = st.read_body(&headers, body).await?;
    let r = op.set(&key, &body, ttl_ms);
    op.finish(Counters::op((key.len() + body.len()) as u64, 0));
    r?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /cache/{cache}?key=K`: 204 (deleting a missing key succeeds, as in Momento). Needs
/// write access to the key, as gRPC's Delete does.
pub async fn delete(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Path(cache_name) = path.map_err(path_error)?;
    let q = Query::parse(raw.as_deref())?;
    let svc = &st.shared.service;
    let caller = auth::caller(svc, &headers, &q)?;
    let key = q.key()?;
    let op = svc.admit(&caller, &cache_name, Need::Key(CacheAccess::Write, &key))?;
    // A script holding the cache: wait for it (503 past its busy threshold).
    svc.exclusive.wait_clear(op.cache()).await?;
    op.delete(&key);
    op.finish(Counters::op(key.len() as u64, 0));
    Ok(StatusCode::NO_CONTENT.into_response())
}
