//! Engine counters. Publish-path counters live per registry shard (no shared cache line between
//! publishers on different shards); the rest are global atomics touched at most once per call.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the engine's counters and gauges, for `/metrics` and `INFO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Messages accepted by `publish` (counter).
    pub published: u64,
    /// Message events handed out by `drain` (counter).
    pub delivered: u64,
    /// Discontinuity events handed out by `drain` (counter).
    pub discontinuities: u64,
    /// Publishes rejected as too large (counter).
    pub rejected_too_large: u64,
    /// Subscribes/publishes rejected by a topic, subscriber or pattern limit (counter).
    pub rejected_limit: u64,
    /// Publishes refused because the memory budget was spent even after trimming (counter).
    pub rejected_memory: u64,
    /// Subscribers the front end disconnected because their socket stopped reading (counter).
    pub slow_subscriber_disconnects: u64,
    /// Topics created (counter).
    pub topics_created: u64,
    /// Topics freed by `sweep_idle` or `drop_cache` (counter).
    pub topics_freed: u64,
    /// Live topics (gauge).
    pub topics: u64,
    /// Live `Subscriber` handles, i.e. connections/streams (gauge).
    pub subscribers: u64,
    /// Direct subscriptions (gauge).
    pub subscriptions: u64,
    /// Pattern subscriptions (gauge).
    pub pattern_subscriptions: u64,
    /// Messages held in replay rings (gauge).
    pub retained_messages: u64,
    /// Payload bytes held in replay rings (gauge).
    pub retained_bytes: u64,
}

#[derive(Default)]
pub(crate) struct ShardCounters {
    pub(crate) published: AtomicU64,
    pub(crate) retained_messages: AtomicU64,
    pub(crate) retained_bytes: AtomicU64,
    /// Where retained memory is charged, once the server wired one (`Topics::set_memory_account`).
    pub(crate) account: std::sync::OnceLock<std::sync::Arc<dyn crate::MemoryAccount>>,
}

impl ShardCounters {
    /// `msgs` messages of `bytes` payload bytes entered a ring.
    #[inline]
    pub(crate) fn retain(&self, msgs: u64, bytes: u64) {
        self.retained_messages.fetch_add(msgs, Relaxed);
        self.retained_bytes.fetch_add(bytes, Relaxed);
        if let Some(a) = self.account.get() {
            a.charge(crate::retained_cost(msgs, bytes) as isize);
        }
    }

    /// `msgs` messages of `bytes` payload bytes left a ring.
    #[inline]
    pub(crate) fn release(&self, msgs: u64, bytes: u64) {
        if msgs == 0 {
            return;
        }
        self.retained_messages.fetch_sub(msgs, Relaxed);
        self.retained_bytes.fetch_sub(bytes, Relaxed);
        if let Some(a) = self.account.get() {
            a.charge(-(crate::retained_cost(msgs, bytes) as isize));
        }
    }
}

#[derive(Default)]
pub(crate) struct Metrics {
    pub(crate) delivered: AtomicU64,
    pub(crate) discontinuities: AtomicU64,
    pub(crate) rejected_too_large: AtomicU64,
    pub(crate) rejected_limit: AtomicU64,
    pub(crate) rejected_memory: AtomicU64,
    pub(crate) slow_subscriber_disconnects: AtomicU64,
    pub(crate) topics_created: AtomicU64,
    pub(crate) topics_freed: AtomicU64,
    pub(crate) subscribers: AtomicU64,
    pub(crate) subscriptions: AtomicU64,
    pub(crate) pattern_subscriptions: AtomicU64,
}

impl Metrics {
    pub(crate) fn snapshot<'a>(
        &self,
        shards: impl Iterator<Item = &'a ShardCounters>,
    ) -> MetricsSnapshot {
        let mut s = MetricsSnapshot {
            delivered: self.delivered.load(Relaxed),
            discontinuities: self.discontinuities.load(Relaxed),
            rejected_too_large: self.rejected_too_large.load(Relaxed),
            rejected_limit: self.rejected_limit.load(Relaxed),
            rejected_memory: self.rejected_memory.load(Relaxed),
            slow_subscriber_disconnects: self.slow_subscriber_disconnects.load(Relaxed),
            topics_created: self.topics_created.load(Relaxed),
            topics_freed: self.topics_freed.load(Relaxed),
            subscribers: self.subscribers.load(Relaxed),
            subscriptions: self.subscriptions.load(Relaxed),
            pattern_subscriptions: self.pattern_subscriptions.load(Relaxed),
            ..Default::default()
        };
        s.topics = s.topics_created.saturating_sub(s.topics_freed);
        for c in shards {
            s.published += c.published.load(Relaxed);
            s.retained_messages += c.retained_messages.load(Relaxed);
            s.retained_bytes += c.retained_bytes.load(Relaxed);
        }
        s
    }
}
