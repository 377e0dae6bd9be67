//! The web console: static HTML/JS/CSS compiled into the binary (no build step, no CDN), a topic
//! tail over Server-Sent Events and a publish route, all on the admin port.
//!
//! ```text
//! GET  /                                          console page (polls /stats for its charts)
//! GET  /console/app.js, /console/app.css          its script and styles
//! GET  /console/api/topics/{cache}/{topic}/events SSE tail: `id:` = sequence number; Last-Event-ID resumes
//! POST /console/api/topics/{cache}/{topic}        publish the body (text/* = text, else binary)
//! ```
//!
//! The tail is bounded: at most `admin.max_tail_streams` at once; each is a topics-engine
//! `Subscriber` (a cursor into the replay ring, so a browser that reads slowly costs no memory
//! per message and gets a `discontinuity` event when it falls behind), drained 64 events at a
//! time, and only as fast as hyper writes them to the socket.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use ferrite_topics::{Event, MessageKind, Resume, Subscriber, TopicsError, Waiter};
use serde_json::json;
use tokio::sync::watch;

use super::{json_error, wait_stop, AdminState};

const INDEX_HTML: &str = include_str!("console/index.html");
const APP_JS: &str = include_str!("console/app.js");
const APP_CSS: &str = include_str!("console/app.css");

/// Events taken from the engine per drain.
const DRAIN_BATCH: usize = 64;
/// SSE comment sent on idle tails so proxies and browsers keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(super) fn routes(_state: &AdminState) -> Router<AdminState> {
    Router::new()
        .route("/", get(index))
        .route("/console/app.js", get(app_js))
        .route("/console/app.css", get(app_css))
        .route("/console/api/topics/{cache}/{topic}/events", get(tail))
        .route(
            "/console/api/topics/{cache}/{topic}",
            axum::routing::post(publish),
        )
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}
async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}
async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn topics_error(e: &TopicsError) -> Response {
    let code = match e {
        TopicsError::MessageTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::TOO_MANY_REQUESTS,
    };
    json_error(code, e.to_string())
}

/// `Some(404 response)` when the cache does not exist.
fn missing_cache(st: &AdminState, cache: &str) -> Option<Response> {
    st.shared.store.cache(cache).is_none().then(|| {
        json_error(
            StatusCode::NOT_FOUND,
            format!("cache {cache:?} does not exist"),
        )
    })
}

/// Publish the request body to a topic.
async fn publish(
    State(st): State<AdminState>,
    Path((cache, topic)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(r) = missing_cache(&st, &cache) {
        return r;
    }
    let max = st.shared.topics.config().max_message_bytes;
    // Read at most one byte past the limit: a larger body is refused without buffering it.
    let payload = match axum::body::to_bytes(body, max.saturating_add(1)).await {
        Ok(b) => b,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("message exceeds the maximum of {max} bytes"),
            )
        }
    };
    let text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/"));
    let kind = if text && std::str::from_utf8(&payload).is_ok() {
        MessageKind::Text
    } else {
        MessageKind::Binary
    };
    // An exact-size copy: the ring keeps the payload for the replay window.
    let payload = Bytes::copy_from_slice(&payload);
    match st
        .shared
        .topics
        .publish(cache.as_bytes(), topic.as_bytes(), payload, kind, None)
    {
        Ok(p) => Json(json!({
            "sequence_number": p.seq,
            "sequence_page": p.page,
            "receivers": p.receivers,
        }))
        .into_response(),
        Err(e) => topics_error(&e),
    }
}

/// Releases a tail slot when the stream ends (client gone, cache gone, server stopping).
struct TailSlot(Arc<AtomicUsize>);

impl Drop for TailSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Tail {
    sub: Subscriber,
    waiter: Waiter,
    events: Vec<Event>,
    pending: VecDeque<Event>,
    stop: watch::Receiver<bool>,
    done: bool,
    _slot: TailSlot,
}

/// Subscribe to a topic and stream its messages as SSE.
async fn tail(
    State(st): State<AdminState>,
    Path((cache, topic)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = missing_cache(&st, &cache) {
        return r;
    }
    let max = st.shared.config.read().admin.max_tail_streams as usize;
    if st.tails.fetch_add(1, Ordering::AcqRel) >= max {
        st.tails.fetch_sub(1, Ordering::AcqRel);
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many open topic tails (admin.max_tail_streams = {max})"),
        );
    }
    let slot = TailSlot(st.tails.clone());
    // Last-Event-ID is the last sequence number the browser saw: resume right after it on the
    // topic's current page (a different page shows up as a discontinuity).
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .and_then(|last| {
            st.shared
                .topics
                .topic_info(cache.as_bytes(), topic.as_bytes())
                .map(|info| Resume {
                    seq: last + 1,
                    page: info.page,
                })
        });
    let mut sub = st.shared.topics.subscriber();
    if let Err(e) = sub.subscribe(cache.as_bytes(), topic.as_bytes(), resume) {
        return topics_error(&e);
    }
    let state = Tail {
        waiter: sub.waiter(),
        sub,
        events: Vec::with_capacity(DRAIN_BATCH),
        pending: VecDeque::with_capacity(DRAIN_BATCH),
        stop: st.stop.clone(),
        done: false,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(state, next_event);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

async fn next_event(mut t: Tail) -> Option<(Result<SseEvent, Infallible>, Tail)> {
    loop {
        if t.done {
            return None;
        }
        if let Some(ev) = t.pending.pop_front() {
            let sse = match ev {
                Event::Message { msg, .. } => SseEvent::default()
                    .id(msg.seq.to_string())
                    .event("message")
                    .data(
                        json!({
                            "sequence_number": msg.seq,
                            "sequence_page": msg.page,
                            "kind": match msg.kind {
                                MessageKind::Text => "text",
                                MessageKind::Binary => "binary",
                            },
                            "text": String::from_utf8_lossy(&msg.payload),
                            "published_at_ms": msg.published_at_ms,
                        })
                        .to_string(),
                    ),
                Event::Discontinuity {
                    last_seq,
                    new_seq,
                    page,
                    ..
                } => SseEvent::default().event("discontinuity").data(
                    json!({"last_sequence_number": last_seq, "new_sequence_number": new_seq, "sequence_page": page})
                        .to_string(),
                ),
                Event::CacheGone { .. } => {
                    t.done = true;
                    SseEvent::default()
                        .event("cache_gone")
                        .data(json!({"error": "the cache was deleted or flushed"}).to_string())
                }
            };
            return Some((Ok(sse), t));
        }
        if t.sub.drain(DRAIN_BATCH, &mut t.events) == 0 {
            let waiter = t.waiter.clone();
            tokio::select! {
                _ = waiter.wait() => {}
                _ = wait_stop(t.stop.clone()) => return None,
            }
            continue;
        }
        t.pending.extend(t.events.drain(..));
    }
}
