//! Momento topics on an admitted [`Op`] (admitted with `Need::Topic`, which validated the
//! topic name): publish, and subscribe returning the one [`Delivery`] every protocol's
//! subscription drains (gRPC `Subscribe`, HTTP SSE and long poll).
//!
//! A delivery owns the engine `Subscriber` and the subscriber's tenant. [`Delivery::next_batch`]
//! re-checks the caller's token whenever it has something to hand over (a revoked or expired
//! token stops receiving at once), renders the batch through the protocol's [`Render`], meters
//! it for the subscriber's tenant (one record per batch: messages delivered, the protocol's own
//! bytes), and reports a deleted cache as `CacheNotFound` once the messages before it are out.
//! Heartbeats, shutdown and back-pressure stay with the front end: they are transport.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::Cache;
use ferrite_topics::{Event, Message, MessageKind, Start, Subscriber, Waiter};

use crate::admission::{Caller, Op};
use crate::error::ServiceError;
use crate::metering::Counters;
use crate::quota::QuotaHandle;
use crate::tenant::MeterKey;
use crate::Service;

impl Op<'_> {
    /// Publish one message and meter it: one operation of `bytes_in` (the protocol's request
    /// size) and, when the engine took it, one message published.
    pub fn publish(
        self,
        topic: &[u8],
        payload: Bytes,
        kind: MessageKind,
        publisher_id: Option<Arc<str>>,
        bytes_in: u64,
    ) -> Result<(), ServiceError> {
        let svc = self.service();
        let mut usage = Counters::op(bytes_in, 0);
        let published = svc.limits.check_publish_size(payload.len()).and_then(|()| {
            svc.topics
                .publish(
                    self.cache().name().as_bytes(),
                    topic,
                    payload,
                    kind,
                    publisher_id,
                )
                .map_err(ServiceError::from)
        });
        if published.is_ok() {
            usage.messages_published = 1;
        }
        self.finish(usage);
        published.map(|_| ())
    }

    /// Open a subscription to `topic`, metered as one operation of `bytes_in`; every message
    /// the [`Delivery`] then hands over counts for the subscriber's tenant.
    pub fn subscribe(
        self,
        caller: &Caller,
        topic: &[u8],
        start: impl Into<Start>,
        bytes_in: u64,
    ) -> Result<Delivery, ServiceError> {
        let svc = self.service();
        let service = svc.self_arc();
        let (cache, tenant, quota) = self.into_parts();
        svc.metering.record(&tenant, &Counters::op(bytes_in, 0));
        quota.charge(bytes_in);
        let mut sub = svc.topics.subscriber();
        sub.subscribe(cache.name().as_bytes(), topic, start)?;
        // A delete between the admission and the subscribe would have dropped the topics before
        // we joined: check again now that we are registered.
        if svc.store.cache(cache.name()).is_none() {
            return Err(ServiceError::CacheNotFound(cache.name().to_string()));
        }
        Ok(Delivery {
            waiter: sub.waiter(),
            sub,
            events: Vec::new(),
            gone: None,
            service,
            caller: caller.clone(),
            cache,
            tenant,
            quota,
        })
    }
}

/// How a protocol puts subscription events on its wire. The delivery meters what
/// [`message`](Self::message) reports.
pub trait Render {
    /// Render one message; returns the bytes it puts on the wire for it (metered as bytes out).
    fn message(&mut self, msg: &Arc<Message>) -> u64;
    /// Render a gap: messages from `last_seq + 1` to `new_seq - 1` are no longer retained.
    /// Protocol upkeep, not metered.
    fn discontinuity(&mut self, last_seq: u64, new_seq: u64, page: u64);
}

/// One subscription, drained by its front end (see the module docs). Dropping it unsubscribes.
pub struct Delivery {
    sub: Subscriber,
    waiter: Waiter,
    events: Vec<Event>,
    /// The cache was deleted: reported after the messages drained before it.
    gone: Option<String>,
    service: Arc<Service>,
    caller: Caller,
    cache: Arc<Cache>,
    tenant: MeterKey,
    quota: QuotaHandle,
}

impl Delivery {
    /// Resolves when the engine has something for this subscription.
    pub fn waiter(&self) -> Waiter {
        self.waiter.clone()
    }

    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// Is the subscriber's token still valid? Idle streams ask at their heartbeat, so a revoked
    /// or expired token is noticed without waiting for the next message.
    pub fn revalidate(&self) -> Result<(), ServiceError> {
        self.service.revalidate(&self.caller)
    }

    /// Hand over up to `max` events through `render`; `Ok(0)` when nothing is ready. Errors:
    /// `Unauthenticated` (the token expired or was revoked: nothing is handed over) and, on the
    /// call after the messages that preceded it, `CacheNotFound` (the cache was deleted). Either
    /// ends the subscription.
    pub fn next_batch(
        &mut self,
        max: usize,
        render: &mut impl Render,
    ) -> Result<usize, ServiceError> {
        if let Some(cache) = &self.gone {
            return Err(ServiceError::CacheNotFound(cache.clone()));
        }
        self.events.clear();
        if self.sub.drain(max, &mut self.events) == 0 {
            return Ok(0);
        }
        if let Err(e) = self.revalidate() {
            self.events.clear();
            return Err(e);
        }
        // Metered before the front end sends the batch, so a client never holds a message its
        // tenant's figures lack: one record per batch, not per message.
        let mut usage = Counters::default();
        let mut handed = 0;
        for ev in self.events.drain(..) {
            match ev {
                Event::Message { msg, .. } => {
                    usage.messages_delivered += 1;
                    usage.bytes_out += render.message(&msg);
                }
                Event::Discontinuity {
                    last_seq,
                    new_seq,
                    page,
                    ..
                } => render.discontinuity(last_seq, new_seq, page),
                Event::CacheGone { cache } => {
                    self.gone = Some(String::from_utf8_lossy(&cache).into_owned());
                    break;
                }
            }
            handed += 1;
        }
        self.events.clear();
        self.service.metering.record(&self.tenant, &usage);
        self.quota.charge(usage.bytes_out);
        if handed == 0 {
            if let Some(cache) = &self.gone {
                return Err(ServiceError::CacheNotFound(cache.clone()));
            }
        }
        Ok(handed)
    }

    /// Whether the cache was deleted (the next `next_batch` reports it).
    pub fn cache_gone(&self) -> bool {
        self.gone.is_some()
    }

    /// Meter extra bytes a front end sent for this subscription outside message renders (the
    /// long poll's whole JSON answer is its bytes out).
    pub fn meter_bytes_out(&self, bytes: u64) {
        let usage = Counters {
            bytes_out: bytes,
            ..Counters::default()
        };
        self.service.metering.record(&self.tenant, &usage);
        self.quota.charge(bytes);
    }
}
