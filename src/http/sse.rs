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
//! - `event: error`, then the end of the stream, when the cache is deleted or, in auth mode
//!   `token`, when the subscriber's token expired or was revoked (data = error JSON:
//!   `cache_not_found` / `unauthenticated`; the token is re-checked before each batch of
//!   messages, as the gRPC pump does);
//! - `: heartbeat` comments whenever nothing was sent for `topics.heartbeat_interval_secs`, so
//!   proxies keep the connection and clients can tell a quiet topic from a dead connection.
//!
//! Memory is bounded: the stream takes events from the engine only when hyper asks for the next
//! chunk, i.e. when the client has read what was sent. A slow client leaves its engine cursor
//! behind in the topic's ring and gets a `discontinuity`, as gRPC subscribers do; nothing queues
//! per client beyond one drained batch. The stream ends when the server shuts down (the browser
//! then reconnects with `Last-Event-ID`).
//!
//! Metering: opening the stream is one operation of the subscriber's tenant (bytes in = the
//! topic name); each message event counts as one delivered message and its `data` JSON as bytes
//! out, recorded once per drained batch before the batch is sent (docs/metering.md).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ferrite_service::{Caller, Delivery, Op, Render};
use ferrite_topics::{Message, Resume, Waiter};
use futures_util::stream::{self, Stream};
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::error::ApiError;
use super::params::Query;
use super::topics::{discontinuity_json, item_json, open_subscription, resume_from_query};
use super::HttpState;

/// Events taken from the engine per drain (one batch is all a stream ever holds).
const DRAIN_BATCH: usize = 64;

pub async fn subscribe(
    st: &HttpState,
    op: Op<'_>,
    caller: &Caller,
    topic: &str,
    headers: &HeaderMap,
    q: &Query,
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
                .shared
                .topics
                .topic_info(op.cache().name().as_bytes(), topic.as_bytes())
                .map_or(0, |i| i.page);
            Some(Resume {
                seq: last.saturating_add(1),
                page,
            })
        }
        None => resume_from_query(q)?,
    };
    // No resume point: the newest retained message(s) first, as a gRPC subscription without
    // one gets (Momento's "begin with the latest messages"; `topics.subscribe_backlog`).
    let start = st.shared.topics.start_from(resume);
    // Opening the stream is the operation; a refused open (no slot, cache gone) still counts,
    // as a failed gRPC call does.
    let (delivery, permit) = open_subscription(st, op, caller, topic, start)?;
    let pump = Pump {
        _permit: permit,
        waiter: delivery.waiter(),
        delivery,
        ready: Events(VecDeque::with_capacity(DRAIN_BATCH)),
        shutdown: st.shared.shutdown.subscribe(),
        closing: false,
        recheck: st.settings.heartbeat_interval,
    };
    let keep_alive = KeepAlive::new()
        .interval(st.settings.heartbeat_interval)
        .text("heartbeat");
    Ok(Sse::new(events(pump))
        .keep_alive(keep_alive)
        .into_response())
}

/// Rendered events of the last drained batch, metered by the delivery at their `data` size.
struct Events(VecDeque<SseEvent>);

impl Render for Events {
    fn message(&mut self, msg: &Arc<Message>) -> u64 {
        let data = item_json(msg).to_string();
        let n = data.len() as u64;
        self.0
            .push_back(SseEvent::default().id(msg.seq.to_string()).data(data));
        n
    }

    fn discontinuity(&mut self, last_seq: u64, new_seq: u64, page: u64) {
        self.0.push_back(
            SseEvent::default()
                .event("discontinuity")
                .data(discontinuity_json(last_seq, new_seq, page).to_string()),
        );
    }
}

/// One subscription's stream side. Dropping it (client gone, stream ended) unsubscribes.
struct Pump {
    /// The `http.max_subscriptions` slot, released with the stream.
    _permit: OwnedSemaphorePermit,
    delivery: Delivery,
    waiter: Waiter,
    ready: Events,
    shutdown: watch::Receiver<bool>,
    /// The stream ends once `ready` is sent (an `error` event is last in it).
    closing: bool,
    /// How often an idle stream re-checks its token (the heartbeat interval).
    recheck: Duration,
}

impl Pump {
    /// End the stream with an `error` event (data = the error JSON: `cache_not_found`,
    /// `unauthenticated`).
    fn fail(&mut self, e: ferrite_service::ServiceError) {
        self.ready.0.push_back(
            SseEvent::default()
                .event("error")
                .data(ApiError::from(e).body()),
        );
        self.closing = true;
    }
}

fn events(pump: Pump) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(pump, |mut p| async move {
        loop {
            if let Some(out) = p.ready.0.pop_front() {
                return Some((Ok(out), p));
            }
            if p.closing || *p.shutdown.borrow_and_update() {
                return None;
            }
            match p.delivery.next_batch(DRAIN_BATCH, &mut p.ready) {
                Ok(0) => {}
                Ok(_) => continue,
                Err(e) => {
                    p.fail(e);
                    continue;
                }
            }
            tokio::select! {
                _ = p.waiter.wait() => {}
                r = p.shutdown.changed() => if r.is_err() { return None; },
                // An idle stream notices a revoked or expired token within one heartbeat
                // interval, not only when the next message comes.
                _ = tokio::time::sleep(p.recheck) => {
                    if let Err(e) = p.delivery.revalidate() {
                        p.fail(e);
                    }
                }
            }
        }
    })
}
