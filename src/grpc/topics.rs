//! `cache_client.pubsub.Pubsub` on the topics engine (crates/topics, docs/topics.md).
//!
//! A subscription is one engine `Subscriber` pumped by its own task into a bounded channel that
//! backs the HTTP/2 stream:
//! - the stream opens with a `Heartbeat` (Go and Python fail a subscribe whose first item is
//!   anything else), then sends a heartbeat whenever nothing was sent for
//!   `topics.heartbeat_interval_secs`;
//! - `resume_at_topic_sequence_number = 0` means "begin with the latest messages": the newest
//!   `topics.subscribe_backlog` retained ones, then live; `N > 0` with the current `sequence_page`
//!   (or page 0) replays from N inclusive if retained; otherwise a `Discontinuity` carrying the
//!   current page comes first, then what the replay window holds (`ferrite_topics::Resume`);
//! - a client that reads slower than it is published to blocks its pump, its engine cursor falls
//!   behind, and it gets a `Discontinuity` when it passes the replay window: no per-stream queue
//!   grows beyond `GrpcLimits::subscription_buffer` items;
//! - the cache being deleted (`Topics::drop_cache`) ends the stream with NOT_FOUND;
//! - the server shutting down ends the stream with UNAVAILABLE (the SDKs resubscribe).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_service::{Counters, Delivery, Need, Render};
use ferrite_topics::{Message, MessageKind, Resume};
use momento_protos::cache_client::pubsub::pubsub_server::Pubsub;
use momento_protos::cache_client::pubsub::*;
use momento_protos::common::Empty;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{errors, GrpcState};
use crate::shared::Shared;
use ferrite_auth::TopicAccess;

/// Events taken from the engine per drain.
const DRAIN_BATCH: usize = 64;

pub struct PubsubService {
    state: Arc<GrpcState>,
}

impl PubsubService {
    pub fn new(state: Arc<GrpcState>) -> Self {
        Self { state }
    }
}

fn heartbeat() -> SubscriptionItem {
    SubscriptionItem {
        kind: Some(subscription_item::Kind::Heartbeat(Heartbeat {})),
    }
}

fn item(msg: &Message) -> SubscriptionItem {
    let kind = match msg.kind {
        MessageKind::Text => match std::str::from_utf8(&msg.payload) {
            Ok(s) => topic_value::Kind::Text(s.to_string()),
            Err(_) => topic_value::Kind::Binary(msg.payload.to_vec()),
        },
        MessageKind::Binary => topic_value::Kind::Binary(msg.payload.to_vec()),
    };
    SubscriptionItem {
        kind: Some(subscription_item::Kind::Item(TopicItem {
            topic_sequence_number: msg.seq,
            value: Some(TopicValue { kind: Some(kind) }),
            publisher_id: msg.publisher_id.to_string(),
            sequence_page: msg.page,
        })),
    }
}

#[tonic::async_trait]
impl Pubsub for PubsubService {
    type SubscribeStream = ReceiverStream<Result<SubscriptionItem, Status>>;

    async fn publish(&self, request: Request<PublishRequest>) -> Result<Response<Empty>, Status> {
        let (md, ext, req) = request.into_parts();
        let caller = self.state.caller(&md, &ext)?;
        let svc = &self.state.shared;
        let op = svc
            .admit(
                &caller,
                &req.cache_name,
                Need::Topic(TopicAccess::Publish, req.topic.as_bytes()),
            )
            .map_err(errors::status)?;
        let bytes_in = prost::Message::encoded_len(&req) as u64;
        let (payload, kind) = match req.value.and_then(|v| v.kind) {
            Some(topic_value::Kind::Text(s)) => (Bytes::from(s), MessageKind::Text),
            Some(topic_value::Kind::Binary(b)) => (Bytes::from(b), MessageKind::Binary),
            None => {
                // A malformed call is still an operation of its tenant.
                op.finish(Counters::op(bytes_in, 0));
                return Err(errors::invalid("publish needs a text or binary value"));
            }
        };
        op.publish(
            req.topic.as_bytes(),
            payload,
            kind,
            caller.publisher_id,
            bytes_in,
        )
        .map_err(errors::status)?;
        Ok(Response::new(Empty {}))
    }

    async fn subscribe(
        &self,
        request: Request<SubscriptionRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let (md, ext, req) = request.into_parts();
        let caller = self.state.caller(&md, &ext)?;
        let shared = &self.state.shared;
        let op = shared
            .admit(
                &caller,
                &req.cache_name,
                Need::Topic(TopicAccess::Subscribe, req.topic.as_bytes()),
            )
            .map_err(errors::status)?;
        // 0: "begin with the latest messages" (the newest `topics.subscribe_backlog` retained
        // ones, then live); N: resume at N on `sequence_page` (0: the current page).
        let resume = shared
            .topics
            .start_from(match req.resume_at_topic_sequence_number {
                0 => None,
                seq => Some(Resume {
                    seq,
                    page: req.sequence_page,
                }),
            });
        // Opening a subscription is one operation (request bytes in); every message it then
        // delivers counts for the subscriber's tenant.
        let bytes_in = prost::Message::encoded_len(&req) as u64;
        let delivery = op
            .subscribe(&caller, req.topic.as_bytes(), resume, bytes_in)
            .map_err(errors::status)?;
        let (tx, rx) = mpsc::channel(self.state.limits.subscription_buffer.max(2));
        let interval = shared
            .topics
            .config()
            .heartbeat_interval
            .max(Duration::from_millis(100));
        // --test-mode: end the stream with an error after N messages, if the call asked.
        let stream_error = self
            .state
            .faults
            .as_ref()
            .and_then(|_| super::test_mode::stream_error(&md));
        tokio::spawn(pump(shared.clone(), delivery, tx, interval, stream_error));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Renders a batch as subscription items, each message metered at its protobuf size.
struct Items(Vec<SubscriptionItem>);

impl Render for Items {
    fn message(&mut self, msg: &Arc<Message>) -> u64 {
        let it = item(msg);
        let n = prost::Message::encoded_len(&it) as u64;
        self.0.push(it);
        n
    }

    fn discontinuity(&mut self, last_seq: u64, new_seq: u64, page: u64) {
        self.0.push(SubscriptionItem {
            kind: Some(subscription_item::Kind::Discontinuity(Discontinuity {
                last_topic_sequence: last_seq,
                new_topic_sequence: new_seq,
                new_sequence_page: page,
            })),
        });
    }
}

/// Move events from the service's delivery to the stream until the client goes away, the cache
/// is deleted, the token ends or the server shuts down. Dropping the delivery unsubscribes.
async fn pump(
    shared: Arc<Shared>,
    mut delivery: Delivery,
    tx: mpsc::Sender<Result<SubscriptionItem, Status>>,
    interval: Duration,
    stream_error: Option<(u64, tonic::Code)>,
) {
    let waiter = delivery.waiter();
    // Messages sent, for --test-mode's `stream-error-message-limit`.
    let mut messages = 0u64;
    let mut shutdown = shared.shutdown.subscribe();
    if *shutdown.borrow_and_update() || tx.send(Ok(heartbeat())).await.is_err() {
        return;
    }
    let mut last_sent = Instant::now();
    let mut items = Items(Vec::with_capacity(DRAIN_BATCH));
    loop {
        let batch = delivery.next_batch(DRAIN_BATCH, &mut items);
        for out in items.0.drain(..) {
            if stream_error.is_some_and(|(limit, _)| messages >= limit) {
                break;
            }
            messages += matches!(out.kind, Some(subscription_item::Kind::Item(_))) as u64;
            if tx.send(Ok(out)).await.is_err() {
                return;
            }
        }
        if let Some((_, code)) = stream_error.filter(|(limit, _)| messages >= *limit) {
            let _ = tx.send(Err(super::test_mode::injected(code))).await;
            return;
        }
        match batch {
            Err(e) => {
                let _ = tx.send(Err(errors::status(e))).await;
                return;
            }
            Ok(n) if n > 0 => {
                last_sent = Instant::now();
                continue;
            }
            Ok(_) => {}
        }
        tokio::select! {
            _ = waiter.wait() => {}
            _ = tokio::time::sleep_until(last_sent + interval) => {
                // An idle subscription notices a revoked or expired token at its heartbeat,
                // not only when the next message comes.
                if let Err(e) = delivery.revalidate() {
                    let _ = tx.send(Err(errors::status(e))).await;
                    return;
                }
                if tx.send(Ok(heartbeat())).await.is_err() {
                    return;
                }
                last_sent = Instant::now();
            }
            _ = tx.closed() => return,
            _ = shutdown.changed() => {
                let _ = tx.try_send(Err(Status::unavailable("server shutting down")));
                return;
            }
        }
    }
}
