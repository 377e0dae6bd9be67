//! `POST /topics/{cache}/{topic}` (publish) and `GET /topics/{cache}/{topic}` (Momento's long
//! poll, or Server-Sent Events when the client asks for `text/event-stream`; see `sse.rs`).
//!
//! Both are the service's topic operations, the same ones gRPC's Publish/Subscribe call:
//! admission with `Need::Topic` (topic names are 1..=255 bytes, the permission, the cache must
//! exist (404), the quota), `Op::publish` (messages are at most `grpc.max_publish_bytes`: 413)
//! and `Op::subscribe`, whose `Delivery` re-checks the token and meters what it hands over. A
//! message published here is the same engine message RESP and gRPC subscribers receive.
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
//! hands over count as delivered to the subscriber, and a long poll's JSON answer is its bytes
//! out (docs/metering.md).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ferrite_auth::TopicAccess;
use ferrite_service::{Caller, Counters, Delivery, Need, Op, Render};
use ferrite_topics::{Message, MessageKind, Resume};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::auth;
use super::error::ApiError;
use super::params::Query;
use super::{path_error, sse, HttpState};

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
    let svc = &st.shared.service;
    let caller = auth::caller(svc, &headers, &q)?;
    let op = svc.admit(
        &caller,
        &cache_name,
        Need::Topic(TopicAccess::Publish, topic.as_bytes()),
    )?;
    // Only now, authorized and admitted, is the body read.
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
    let bytes_in = (topic.len() + body.len()) as u64;
    // Own the payload: the ring keeps it for the replay window, and the body's `Bytes` may be a
    // slice of hyper's larger read buffer, which it would pin. At most 4 KiB by default.
    let payload = Bytes::copy_from_slice(&body);
    drop(body);
    op.publish(
        topic.as_bytes(),
        payload,
        kind,
        caller.publisher_id.clone(),
        bytes_in,
    )?;
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
    let svc = &st.shared.service;
    let caller = auth::caller(svc, &headers, &q)?;
    let op = svc.admit(
        &caller,
        &cache_name,
        Need::Topic(TopicAccess::Subscribe, topic.as_bytes()),
    )?;
    if wants_event_stream(&headers) {
        return sse::subscribe(&st, op, &caller, &topic, &headers, &q).await;
    }
    long_poll(&st, op, &caller, &topic, &q).await
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

/// Open the subscription of an admitted request: one `http.max_subscriptions` slot (429 when
/// none is free; the refused open still counts as the caller's operation, as a failed gRPC call
/// does), then `Op::subscribe`, metered as one operation of `bytes_in`.
pub fn open_subscription(
    st: &HttpState,
    op: Op<'_>,
    caller: &Caller,
    topic: &str,
    start: impl Into<ferrite_topics::Start>,
) -> Result<(Delivery, tokio::sync::OwnedSemaphorePermit), ApiError> {
    let bytes_in = topic.len() as u64;
    let permit = match st.subscription_permit() {
        Ok(p) => p,
        Err(e) => {
            op.finish(Counters::op(bytes_in, 0));
            return Err(e);
        }
    };
    let delivery = op.subscribe(caller, topic.as_bytes(), start, bytes_in)?;
    Ok((delivery, permit))
}

/// Renders a long poll's items; their bytes are metered as the whole JSON answer instead.
struct PollItems(Vec<Value>);

impl Render for PollItems {
    fn message(&mut self, msg: &Arc<Message>) -> u64 {
        self.0.push(json!({ "item": item_json(msg) }));
        0
    }

    fn discontinuity(&mut self, last_seq: u64, new_seq: u64, page: u64) {
        self.0
            .push(json!({ "discontinuity": discontinuity_json(last_seq, new_seq, page) }));
    }
}

/// Wait for at least one item (up to `http.long_poll_max_items`) or `http.long_poll_max_wait_ms`,
/// then answer with what the delivery handed over. Its own subscription, dropped with the answer.
async fn long_poll(
    st: &HttpState,
    op: Op<'_>,
    caller: &Caller,
    topic: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    let resume = resume_from_query(q)?;
    let (mut delivery, _permit) = open_subscription(st, op, caller, topic, resume)?;
    let waiter = delivery.waiter();
    let mut shutdown = st.shared.shutdown.subscribe();
    let deadline = Instant::now() + st.settings.long_poll_max_wait;
    let max = st.settings.long_poll_max_items;
    let mut items = PollItems(Vec::new());
    loop {
        if delivery.next_batch(max, &mut items)? > 0 {
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
    // The cache was deleted while the poll waited: 404, as a gRPC stream ends with NOT_FOUND.
    if delivery.cache_gone() {
        return Err(ApiError::cache_not_found(delivery.cache().name()));
    }
    // A token revoked or expired while the poll waited gets no messages, like a gRPC stream.
    delivery.revalidate()?;
    let body = json!({ "items": items.0 }).to_string();
    delivery.meter_bytes_out(body.len() as u64);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
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
