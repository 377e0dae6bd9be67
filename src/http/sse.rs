//! Server-Sent Events subscribe: `GET /topics/{cache}/{topic}` with `Accept: text/event-stream`.
//!
//! Browsers' `EventSource` reconnects by itself and sends the last event `id` it saw as the
//! `Last-Event-ID` header; the id of every message event is its topic sequence number, so a
//! reconnect resumes at the next message (`seq + 1`) on the topic's current page, replayed from
//! the topic's ring when it is still retained, or after a `discontinuity` event when it is not.
//!
//! Events:
//! - message (the default event type, `onmessage`): `id: <seq>`, data = the item JSON of the long
//!   poll (`topic_sequence_number`, `sequence_page`, `value`);
//! - `event: discontinuity`: data = `{last_topic_sequence, new_topic_sequence, new_sequence_page}`;
//! - `event: error`, then the end of the stream, when the cache is deleted (data = error JSON);
//! - `: heartbeat` comments whenever nothing was sent for `topics.heartbeat_interval_secs`, so
//!   proxies keep the connection and clients can tell a quiet topic from a dead connection.
//!
//! Memory is bounded: the stream takes events from the engine only when hyper asks for the next
//! chunk, i.e. when the client has read what was sent. A slow client leaves its engine cursor
//! behind in the topic's ring and gets a `discontinuity`, as gRPC subscribers do; nothing queues
//! per client beyond one drained batch. The stream ends when the server shuts down (the browser
//! then reconnects with `Last-Event-ID`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ferrite_topics::{Event, Resume, Subscriber, Waiter};
use futures_util::stream::{self, Stream};
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::auth::Caller;
use super::error::ApiError;
use super::params::Query;
use super::topics::{discontinuity_json, item_json, open_subscription, resume_from_query};
use super::HttpState;

/// Events taken from the engine per drain (one batch is all a stream ever holds).
const DRAIN_BATCH: usize = 64;

pub async fn subscribe(
    st: Arc<HttpState>,
    cache_name: String,
    topic: String,
    headers: &HeaderMap,
    q: &Query,
    caller: Caller,
) -> Result<Response, ApiError> {
    let resume = match headers.get("last-event-id") {
        Some(v) => {
            let last = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Last-Event-ID must be a topic sequence number (an id this server sent)",
                    )
                })?;
            // The id carries no page: resume on the topic's current one. If the topic was reset
            // meanwhile (idle, freed, recreated), N+1 is past its end and the engine answers with
            // a discontinuity rather than replaying the wrong messages (see docs/http.md).
            let page = st
                .grpc
                .shared
                .topics
                .topic_info(cache_name.as_bytes(), topic.as_bytes())
                .map_or(0, |i| i.page);
            Some(Resume {
                seq: last.saturating_add(1),
                page,
            })
        }
        None => resume_from_query(q)?,
    };
    let permit = st.subscription_permit()?;
    let sub = open_subscription(&st, &cache_name, &topic, resume, &caller)?;
    let pump = Pump {
        _permit: permit,
        waiter: sub.waiter(),
        sub,
        ready: VecDeque::with_capacity(DRAIN_BATCH),
        scratch: Vec::with_capacity(DRAIN_BATCH),
        shutdown: st.grpc.shared.shutdown.subscribe(),
        done: false,
    };
    let keep_alive = KeepAlive::new()
        .interval(st.settings.heartbeat_interval)
        .text("heartbeat");
    Ok(Sse::new(events(pump))
        .keep_alive(keep_alive)
        .into_response())
}

/// One subscription's engine side. Dropping it (client gone, stream ended) unsubscribes.
struct Pump {
    /// The `http.max_subscriptions` slot, released with the stream.
    _permit: OwnedSemaphorePermit,
    sub: Subscriber,
    waiter: Waiter,
    ready: VecDeque<Event>,
    scratch: Vec<Event>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

fn events(pump: Pump) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(pump, |mut p| async move {
        if p.done {
            return None;
        }
        loop {
            if let Some(ev) = p.ready.pop_front() {
                let out = match ev {
                    Event::Message { msg, .. } => SseEvent::default()
                        .id(msg.seq.to_string())
                        .data(item_json(&msg).to_string()),
                    Event::Discontinuity {
                        last_seq,
                        new_seq,
                        page,
                        ..
                    } => SseEvent::default()
                        .event("discontinuity")
                        .data(discontinuity_json(last_seq, new_seq, page).to_string()),
                    Event::CacheGone { cache } => {
                        p.done = true;
                        let name = String::from_utf8_lossy(&cache).into_owned();
                        SseEvent::default()
                            .event("error")
                            .data(ApiError::cache_not_found(&name).body())
                    }
                };
                return Some((Ok(out), p));
            }
            if *p.shutdown.borrow_and_update() {
                return None;
            }
            if p.sub.drain(DRAIN_BATCH, &mut p.scratch) > 0 {
                p.ready.extend(p.scratch.drain(..));
                continue;
            }
            tokio::select! {
                _ = p.waiter.wait() => {}
                r = p.shutdown.changed() => if r.is_err() { return None; },
            }
        }
    })
}
