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
use ferrite_topics::{Event, Resume, Subscriber, Waiter};
use futures_util::stream::{self, Stream};
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::auth::{self, Caller};
use super::error::ApiError;
use super::params::Query;
use super::topics::{
    admit_subscription, discontinuity_json, item_json, open_subscription, resume_from_query,
};
use super::HttpState;
use ferrite_service::{Counters, MeterKey, QuotaHandle};
use crate::shared::Shared;
use ferrite_auth::Principal;

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
    let (tenant, quota) = admit_subscription(&st, &cache_name, &caller)?;
    // Opening the stream is the operation; a refused open (no slot, cache gone) still counts,
    // as a failed gRPC call does.
    st.account(&tenant, &quota, Counters::op(topic.len() as u64, 0));
    let permit = st.subscription_permit()?;
    let sub = open_subscription(&st, &cache_name, &topic, resume)?;
    let pump = Pump {
        _permit: permit,
        waiter: sub.waiter(),
        sub,
        ready: VecDeque::with_capacity(DRAIN_BATCH),
        scratch: Vec::with_capacity(DRAIN_BATCH),
        shutdown: st.grpc.shared.shutdown.subscribe(),
        closing: false,
        shared: st.grpc.shared.clone(),
        principal: caller.principal,
        recheck: st.settings.heartbeat_interval,
        tenant,
        quota,
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
    /// Events of the last drained batch, already rendered and metered.
    ready: VecDeque<SseEvent>,
    scratch: Vec<Event>,
    shutdown: watch::Receiver<bool>,
    /// The stream ends once `ready` is sent (an `error` event is last in it).
    closing: bool,
    shared: Arc<Shared>,
    /// Re-checked before each batch: revocation or expiry ends the stream.
    principal: Principal,
    /// How often an idle stream re-checks its token (the heartbeat interval).
    recheck: Duration,
    tenant: MeterKey,
    quota: QuotaHandle,
}

impl Pump {
    /// Whether the subscriber's token is still valid (expiry, revocation); if not, queue the
    /// `error` event that ends the stream.
    fn still_authenticated(&mut self) -> bool {
        match self.shared.auth.check(&self.principal) {
            Ok(()) => true,
            Err(e) => {
                self.ready.push_back(
                    SseEvent::default()
                        .event("error")
                        .data(auth::unauthenticated(e).body()),
                );
                self.closing = true;
                false
            }
        }
    }

    /// Render a drained batch into `ready`, metering its messages for the subscriber's tenant
    /// (one record per batch), or end the stream with an `error` event when the token is no
    /// longer valid or the cache was deleted.
    fn take_batch(&mut self) {
        if !self.still_authenticated() {
            self.scratch.clear();
            return;
        }
        let mut delta = Counters::default();
        for ev in self.scratch.drain(..) {
            let out = match ev {
                Event::Message { msg, .. } => {
                    let data = item_json(&msg).to_string();
                    delta.messages_delivered += 1;
                    delta.bytes_out += data.len() as u64;
                    SseEvent::default().id(msg.seq.to_string()).data(data)
                }
                Event::Discontinuity {
                    last_seq,
                    new_seq,
                    page,
                    ..
                } => SseEvent::default()
                    .event("discontinuity")
                    .data(discontinuity_json(last_seq, new_seq, page).to_string()),
                Event::CacheGone { cache } => {
                    let name = String::from_utf8_lossy(&cache).into_owned();
                    self.ready.push_back(
                        SseEvent::default()
                            .event("error")
                            .data(ApiError::cache_not_found(&name).body()),
                    );
                    self.closing = true;
                    break;
                }
            };
            self.ready.push_back(out);
        }
        self.scratch.clear();
        self.shared.metering.record(&self.tenant, &delta);
        self.quota.charge(delta.bytes_out);
    }
}

fn events(pump: Pump) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(pump, |mut p| async move {
        loop {
            if let Some(out) = p.ready.pop_front() {
                return Some((Ok(out), p));
            }
            if p.closing || *p.shutdown.borrow_and_update() {
                return None;
            }
            if p.sub.drain(DRAIN_BATCH, &mut p.scratch) > 0 {
                p.take_batch();
                continue;
            }
            tokio::select! {
                _ = p.waiter.wait() => {}
                r = p.shutdown.changed() => if r.is_err() { return None; },
                // An idle stream notices a revoked or expired token within one heartbeat
                // interval, not only when the next message comes.
                _ = tokio::time::sleep(p.recheck) => { p.still_authenticated(); }
            }
        }
    })
}
