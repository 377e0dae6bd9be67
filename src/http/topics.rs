//! `POST /topics/{cache}/{topic}` (publish) and `GET /topics/{cache}/{topic}` (Momento's long
//! poll, or Server-Sent Events when the client asks for `text/event-stream`; see `sse.rs`).
//!
//! Both go straight to the topics engine with the gRPC front end's rules: the cache must exist
//! (404), topic names are 1..=255 bytes, messages are at most `grpc.max_publish_bytes` (413).
//! A message published here is the same engine message RESP and gRPC subscribers receive.
//!
//! Long poll (reference §6): `sequence_number` is the next sequence the client expects
//! (last received + 1) and `sequence_page` the page it came from; `0`/`0` (or none) means "from
//! now on". The request subscribes, answers as soon as at least one item or discontinuity is
//! ready (up to `http.long_poll_max_items` of them), or with `{"items": []}` after
//! `http.long_poll_max_wait_ms`. Each poll is its own engine subscription, dropped when the
//! answer is built, so nothing is kept between polls: the topic's replay ring is what lets the
//! next poll continue exactly where this one stopped.
//!
//! Auth (docs/http.md): publish needs the token's publish permission on the topic, long poll and
//! SSE its subscribe permission, both checked before the cache is looked up. Each request is one
//! operation of the caller's tenant, admitted by its quotas first; messages a poll or stream
//! hands over count as delivered to the subscriber (docs/metering.md).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ferrite_topics::{Event, Message, MessageKind, Resume, Subscriber};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::auth::{self, Caller};
use super::error::ApiError;
use super::params::Query;
use super::{path_error, sse, HttpState};
use ferrite_service::{Counters, MeterKey, QuotaHandle};
use ferrite_auth::TopicAccess;

/// `POST /topics/{cache}/{topic}`: the body is the message. `text/*` and `application/json`
/// bodies are published as Momento `text` (they must be UTF-8); anything else as `binary`.
/// 204 on success (also when nobody is subscribed).
pub async fn publish(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let Path((cache_name, topic)) = path.map_err(path_error)?;
    let q = Query::parse(raw.as_deref())?;
    let caller = auth::caller(st.auth(), &headers, &q)?;
    st.check_topic(&topic)?;
    caller.check_topic(&cache_name, &topic, TopicAccess::Publish)?;
    // Only now, authorized, is the body read.
    let (body, _inflight) = st.read_body(&headers, body).await?;
    let kind = if is_text(&headers) {
        if std::str::from_utf8(&body).is_err() {
            return Err(ApiError::bad_request(
                "a text message (Content-Type text/* or application/json) must be UTF-8; \
                 send binary data as application/octet-stream",
            ));
        }
        MessageKind::Text
    } else {
        MessageKind::Binary
    };
    let max = st.grpc.limits.max_publish_bytes;
    if body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_size_limit_exceeded",
            format!(
                "message of {} bytes exceeds the topic message limit of {max} bytes",
                body.len()
            ),
        ));
    }
    let cache = st.grpc.cache_named(&cache_name)?;
    let tenant = caller.tenant(cache.name_arc().clone());
    let quota = st.admit(&tenant)?;
    let mut delta = Counters::op((topic.len() + body.len()) as u64, 0);
    // Own the payload: the ring keeps it for the replay window, and the body's `Bytes` may be a
    // slice of hyper's larger read buffer, which it would pin. At most 4 KiB by default.
    let payload = Bytes::copy_from_slice(&body);
    drop(body);
    let published = st.grpc.shared.topics.publish(
        cache_name.as_bytes(),
        topic.as_bytes(),
        payload,
        kind,
        caller.publisher_id.clone(),
    );
    if published.is_ok() {
        delta.messages_published = 1;
    }
    st.account(&tenant, &quota, delta);
    published.map_err(|e| ApiError::from_topics(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn is_text(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/") || mime == "application/json"
}

/// `GET /topics/{cache}/{topic}`: SSE when `Accept` names `text/event-stream`, long poll otherwise.
pub async fn subscribe(
    State(st): State<Arc<HttpState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Path((cache_name, topic)) = path.map_err(path_error)?;
    let q = Query::parse(raw.as_deref())?;
    let caller = auth::caller(st.auth(), &headers, &q)?;
    st.check_topic(&topic)?;
    caller.check_topic(&cache_name, &topic, TopicAccess::Subscribe)?;
    if wants_event_stream(&headers) {
        return sse::subscribe(st, cache_name, topic, &headers, &q, caller).await;
    }
    long_poll(st, cache_name, topic, &q, caller).await
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/event-stream")
        })
}

/// `?sequence_number=N&sequence_page=P` as an engine resume point (`N = 0`: from now on).
pub fn resume_from_query(q: &Query) -> Result<Option<Resume>, ApiError> {
    let seq = q.u64("sequence_number")?.unwrap_or(0);
    let page = q.u64("sequence_page")?.unwrap_or(0);
    Ok((seq > 0).then_some(Resume { seq, page }))
}

/// A subscription request's admission: the cache must exist (404), then the caller's tenant on
/// it admits one operation (429). Returns the tenant and its limiters, for metering what the
/// subscription delivers.
pub fn admit_subscription(
    st: &HttpState,
    cache_name: &str,
    caller: &Caller,
) -> Result<(MeterKey, QuotaHandle), ApiError> {
    let cache = st.grpc.cache_named(cache_name)?;
    let tenant = caller.tenant(cache.name_arc().clone());
    let quota = st.admit(&tenant)?;
    Ok((tenant, quota))
}

/// Subscribe one engine `Subscriber` to the topic. 404 if the cache does not exist (checked
/// again after joining, as the gRPC front end does, so a concurrent delete cannot leave us
/// subscribed to a topic of a dropped cache without a `CacheGone`).
pub fn open_subscription(
    st: &HttpState,
    cache_name: &str,
    topic: &str,
    resume: Option<Resume>,
) -> Result<Subscriber, ApiError> {
    let shared = &st.grpc.shared;
    st.grpc.cache_named(cache_name)?;
    let mut sub = shared.topics.subscriber();
    sub.subscribe(cache_name.as_bytes(), topic.as_bytes(), resume)
        .map_err(|e| ApiError::from_topics(&e))?;
    if shared.store.cache(cache_name).is_none() {
        return Err(ApiError::cache_not_found(cache_name));
    }
    Ok(sub)
}

async fn long_poll(
    st: Arc<HttpState>,
    cache_name: String,
    topic: String,
    q: &Query,
    caller: Caller,
) -> Result<Response, ApiError> {
    let resume = resume_from_query(q)?;
    let (tenant, quota) = admit_subscription(&st, &cache_name, &caller)?;
    let bytes_in = topic.len() as u64;
    let mut answer = poll_answer(&st, &cache_name, &topic, resume).await;
    // A token revoked or expired while the poll waited gets no messages, like a gRPC stream.
    if answer.is_ok() {
        if let Err(e) = st.auth().check(&caller.principal) {
            answer = Err(auth::unauthenticated(e));
        }
    }
    let mut delta = Counters::op(bytes_in, 0);
    if let Ok((body, delivered)) = &answer {
        delta.bytes_out = body.len() as u64;
        delta.messages_delivered = *delivered;
    }
    st.account(&tenant, &quota, delta);
    let (body, _) = answer?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Wait for the poll's items; the JSON answer and how many messages it delivers.
async fn poll_answer(
    st: &HttpState,
    cache_name: &str,
    topic: &str,
    resume: Option<Resume>,
) -> Result<(String, u64), ApiError> {
    let _permit = st.subscription_permit()?;
    let mut sub = open_subscription(st, cache_name, topic, resume)?;
    let waiter = sub.waiter();
    let mut shutdown = st.grpc.shared.shutdown.subscribe();
    let deadline = Instant::now() + st.settings.long_poll_max_wait;
    let max = st.settings.long_poll_max_items;
    let mut events = Vec::new();
    loop {
        sub.drain(max, &mut events);
        if !events.is_empty() {
            break;
        }
        if *shutdown.borrow_and_update() {
            return Err(ApiError::unavailable("server shutting down"));
        }
        tokio::select! {
            _ = waiter.wait() => {}
            _ = tokio::time::sleep_until(deadline) => break,
            r = shutdown.changed() => if r.is_err() {
                return Err(ApiError::unavailable("server shutting down"));
            },
        }
    }
    let mut items = Vec::with_capacity(events.len());
    let mut delivered = 0;
    for ev in &events {
        match ev {
            Event::CacheGone { .. } => return Err(ApiError::cache_not_found(cache_name)),
            Event::Message { msg, .. } => {
                delivered += 1;
                items.push(json!({ "item": item_json(msg) }));
            }
            Event::Discontinuity {
                last_seq,
                new_seq,
                page,
                ..
            } => items
                .push(json!({ "discontinuity": discontinuity_json(*last_seq, *new_seq, *page) })),
        }
    }
    Ok((json!({ "items": items }).to_string(), delivered))
}

/// A message in Momento's JSON shape: `{"topic_sequence_number", "sequence_page", "value":
/// {"text": ...} | {"binary": "<base64>"}}` (+ `publisher_id` when the publisher had one).
/// The value keeps the kind it was published with (RESP `PUBLISH` of UTF-8 is text, as on gRPC).
pub fn item_json(msg: &Message) -> Value {
    let value = match (msg.kind, std::str::from_utf8(&msg.payload)) {
        (MessageKind::Text, Ok(s)) => json!({ "text": s }),
        _ => json!({ "binary": base64::engine::general_purpose::STANDARD.encode(&msg.payload) }),
    };
    let mut v = json!({
        "topic_sequence_number": msg.seq,
        "sequence_page": msg.page,
        "value": value,
    });
    if !msg.publisher_id.is_empty() {
        v["publisher_id"] = Value::from(&*msg.publisher_id);
    }
    v
}

pub fn discontinuity_json(last_seq: u64, new_seq: u64, page: u64) -> Value {
    json!({
        "last_topic_sequence": last_seq,
        "new_topic_sequence": new_seq,
        "new_sequence_page": page,
    })
}
