//! `cache_client.pubsub.Pubsub` on the topics engine (crates/topics, docs/topics.md).
//!
//! A subscription is one engine `Subscriber` pumped by its own task into a bounded channel that
//! backs the HTTP/2 stream:
//! - the stream opens with a `Heartbeat` (Go and Python fail a subscribe whose first item is
//!   anything else), then sends a heartbeat whenever nothing was sent for
//!   `topics.heartbeat_interval_secs`;
//! - `resume_at_topic_sequence_number = 0` means "latest" (live only); `N > 0` with the current
//!   `sequence_page` replays from N inclusive if retained; otherwise a `Discontinuity` carrying the
//!   current page comes first (the engine decides);
//! - a client that reads slower than it is published to blocks its pump, its engine cursor falls
//!   behind, and it gets a `Discontinuity` when it passes the replay window: no per-stream queue
//!   grows beyond `GrpcLimits::subscription_buffer` items;
//! - the cache being deleted (`Topics::drop_cache`) ends the stream with NOT_FOUND;
//! - the server shutting down ends the stream with UNAVAILABLE (the SDKs resubscribe).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_topics::{Event, Message, MessageKind, Resume, Subscriber, TopicsError};
use momento_protos::cache_client::pubsub::pubsub_server::Pubsub;
use momento_protos::cache_client::pubsub::*;
use momento_protos::common::Empty;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{auth, authz, errors, GrpcState};
use ferrite_service::{Counters, MeterKey, QuotaHandle};
use crate::shared::Shared;
use ferrite_auth::{Principal, TopicAccess};
use ferrite_storage::Cache;

/// Events taken from the engine per drain.
const DRAIN_BATCH: usize = 64;

pub struct PubsubService {
    state: Arc<GrpcState>,
}

impl PubsubService {
    pub fn new(state: Arc<GrpcState>) -> Self {
        Self { state }
    }

    fn check_topic(&self, topic: &str) -> Result<(), Status> {
        if topic.is_empty() {
            return Err(errors::invalid("topic name must not be empty"));
        }
        if topic.len() > self.state.limits.max_topic_name_bytes {
            return Err(errors::invalid(format!(
                "topic name is longer than {} bytes",
                self.state.limits.max_topic_name_bytes
            )));
        }
        Ok(())
    }

    /// A valid topic name the caller may use this way, and its cache (NOT_FOUND when missing).
    /// The permission is checked before the cache is looked up, so a stranger cannot probe
    /// which caches exist.
    #[allow(clippy::result_large_err)]
    fn authorized_topic(
        &self,
        principal: &Principal,
        cache_name: &str,
        topic: &str,
        access: TopicAccess,
    ) -> Result<Arc<Cache>, Status> {
        self.check_topic(topic)?;
        ferrite_service::authz::check_topic(principal, cache_name, topic.as_bytes(), access)
            .map_err(authz::denied)?;
        self.state.cache_named(cache_name)
    }
}

fn topics_error(e: TopicsError) -> Status {
    match e {
        TopicsError::MessageTooLarge { .. } => {
            errors::limit(errors::ERR_REQUEST_SIZE, e.to_string())
        }
        TopicsError::TooManySubscribers { .. } => {
            errors::limit(errors::ERR_SUBSCRIPTIONS, e.to_string())
        }
        TopicsError::TooManyTopics { .. } | TopicsError::TooManyPatterns { .. } => {
            Status::resource_exhausted(e.to_string())
        }
        TopicsError::OutOfMemory => errors::out_of_memory(),
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
        let principal = authz::principal(&request)?;
        let publisher = if self.state.shared.auth.enforcing() {
            // Token mode: the token id of the verified token is the publisher id.
            Some(principal.token_id().clone())
        } else {
            auth::publisher_id(request.metadata())
        };
        let r = request.get_ref();
        let cache =
            self.authorized_topic(&principal, &r.cache_name, &r.topic, TopicAccess::Publish)?;
        let tenant = self.state.tenant(&request, cache.name_arc().clone());
        let req = request.into_inner();
        self.state
            .metered_many(&tenant, req, 1, |req| self.publish_now(req, publisher))
            .map(|_| Response::new(Empty {}))
    }

    async fn subscribe(
        &self,
        request: Request<SubscriptionRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let principal = authz::principal(&request)?;
        let r = request.get_ref();
        let cache =
            self.authorized_topic(&principal, &r.cache_name, &r.topic, TopicAccess::Subscribe)?;
        // Opening a subscription is one operation (request bytes in); every message it then
        // delivers counts for the subscriber's tenant in `pump`.
        let tenant = self.state.tenant(&request, cache.name_arc().clone());
        let req = request.into_inner();
        let quota = self.state.admit(&tenant)?;
        let bytes_in = prost::Message::encoded_len(&req) as u64;
        self.state
            .shared
            .metering
            .record(&tenant, &Counters::op(bytes_in, 0));
        quota.charge(bytes_in);
        let shared = &self.state.shared;
        let mut sub = shared.topics.subscriber();
        let resume = match req.resume_at_topic_sequence_number {
            0 => None,
            seq => Some(Resume {
                seq,
                page: req.sequence_page,
            }),
        };
        sub.subscribe(req.cache_name.as_bytes(), req.topic.as_bytes(), resume)
            .map_err(topics_error)?;
        // A delete between the check above and the subscribe would have dropped the topics before
        // we joined: check again now that we are registered.
        if shared.store.cache(&req.cache_name).is_none() {
            return Err(errors::cache_not_found(&req.cache_name));
        }
        let (tx, rx) = mpsc::channel(self.state.limits.subscription_buffer.max(2));
        let interval = shared
            .topics
            .config()
            .heartbeat_interval
            .max(Duration::from_millis(100));
        let meter = StreamMeter { tenant, quota };
        tokio::spawn(pump(
            shared.clone(),
            sub,
            tx,
            interval,
            req.cache_name,
            meter,
            principal,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

impl PubsubService {
    /// Publish after the quota check; the engine's answer is the (empty) response.
    fn publish_now(
        &self,
        req: PublishRequest,
        publisher: Option<Arc<str>>,
    ) -> Result<Vec<Empty>, Status> {
        let (payload, kind) = match req.value.and_then(|v| v.kind) {
            Some(topic_value::Kind::Text(s)) => (Bytes::from(s), MessageKind::Text),
            Some(topic_value::Kind::Binary(b)) => (Bytes::from(b), MessageKind::Binary),
            None => return Err(errors::invalid("publish needs a text or binary value")),
        };
        let max = self.state.limits.max_publish_bytes;
        if payload.len() > max {
            return Err(errors::limit(
                errors::ERR_REQUEST_SIZE,
                format!("request limit exceeded: message of {} bytes, the topic message limit is {max} bytes", payload.len()),
            ));
        }
        self.state
            .shared
            .topics
            .publish(
                req.cache_name.as_bytes(),
                req.topic.as_bytes(),
                payload,
                kind,
                publisher,
            )
            .map_err(topics_error)?;
        Ok(vec![Empty {}])
    }
}

/// Whom a subscription's deliveries are metered and charged to.
struct StreamMeter {
    tenant: MeterKey,
    quota: QuotaHandle,
}

/// Move events from the engine to the stream until the client goes away, the cache is deleted
/// or the server shuts down. Dropping `sub` unsubscribes.
async fn pump(
    shared: Arc<Shared>,
    mut sub: Subscriber,
    tx: mpsc::Sender<Result<SubscriptionItem, Status>>,
    interval: Duration,
    cache_name: String,
    meter: StreamMeter,
    principal: Principal,
) {
    let waiter = sub.waiter();
    let mut shutdown = shared.shutdown.subscribe();
    if *shutdown.borrow_and_update() || tx.send(Ok(heartbeat())).await.is_err() {
        return;
    }
    let mut last_sent = Instant::now();
    let mut events = Vec::with_capacity(DRAIN_BATCH);
    loop {
        events.clear();
        if sub.drain(DRAIN_BATCH, &mut events) == 0 {
            tokio::select! {
                _ = waiter.wait() => {}
                _ = tokio::time::sleep_until(last_sent + interval) => {
                    // An idle subscription notices a revoked or expired token at its heartbeat,
                    // not only when the next message comes.
                    if let Err(e) = shared.auth.check(&principal) {
                        let _ = tx.send(Err(authz::unauthenticated(e))).await;
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
            continue;
        }
        // A token revoked (or expired) while subscribed stops receiving at once.
        if let Err(e) = shared.auth.check(&principal) {
            let _ = tx.send(Err(authz::unauthenticated(e))).await;
            return;
        }
        // Meter the batch before sending it, so a client never holds a message its tenant's
        // figures lack: one record per drained batch, not per message. Message items count as
        // delivered and their protobuf size as bytes out; heartbeats and discontinuity markers
        // are protocol upkeep and free.
        let mut delta = Counters::default();
        let mut items = Vec::with_capacity(events.len());
        let mut gone = false;
        for ev in &events {
            items.push(match ev {
                Event::Message { msg, .. } => {
                    let it = item(msg);
                    delta.messages_delivered += 1;
                    delta.bytes_out += prost::Message::encoded_len(&it) as u64;
                    it
                }
                Event::Discontinuity {
                    last_seq,
                    new_seq,
                    page,
                    ..
                } => SubscriptionItem {
                    kind: Some(subscription_item::Kind::Discontinuity(Discontinuity {
                        last_topic_sequence: *last_seq,
                        new_topic_sequence: *new_seq,
                        new_sequence_page: *page,
                    })),
                },
                Event::CacheGone { .. } => {
                    gone = true;
                    break;
                }
            });
        }
        shared.metering.record(&meter.tenant, &delta);
        meter.quota.charge(delta.bytes_out);
        for out in items {
            if tx.send(Ok(out)).await.is_err() {
                return;
            }
        }
        if gone {
            let _ = tx.send(Err(errors::cache_not_found(&cache_name))).await;
            return;
        }
        last_sent = Instant::now();
    }
}
