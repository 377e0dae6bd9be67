//! Engine configuration: replay window, limits, idle time, heartbeat interval.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

/// Default replay window length in messages (per topic).
pub const DEFAULT_REPLAY_MAX_MESSAGES: usize = 1024;
/// Default replay window size in payload bytes (per topic).
pub const DEFAULT_REPLAY_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Default replay window age: messages older than this are dropped from the ring.
pub const DEFAULT_REPLAY_MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// Default largest accepted payload (RESP default; the Momento front end passes its own 4 KiB limit).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Default maximum number of direct subscriptions on one topic.
pub const DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC: usize = 100_000;
/// Default maximum number of live topics in one cache.
pub const DEFAULT_MAX_TOPICS_PER_CACHE: usize = 100_000;
/// Default maximum number of pattern subscriptions in one cache.
pub const DEFAULT_MAX_PATTERNS_PER_CACHE: usize = 100_000;
/// Default time a topic with no direct subscribers and nothing retained survives before `sweep_idle` frees it.
pub const DEFAULT_IDLE_TOPIC_TTL: Duration = Duration::from_secs(60);
/// Default heartbeat interval for front ends whose protocol has heartbeats (the engine only carries it).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// Default [`TopicsConfig::subscribe_backlog`]: the newest message, so a subscriber that joins
/// right after a publish still sees it (Momento's SDK tests expect exactly that), without a
/// burst of history on every plain subscribe.
pub const DEFAULT_SUBSCRIBE_BACKLOG: u64 = 1;
/// Default number of registry shards (rounded up to a power of two).
pub const DEFAULT_SHARDS: usize = 64;

/// The bounded replay window of one topic. A message leaves the ring when any bound is exceeded;
/// the newest message is always kept until the next publish, even when it alone exceeds `max_bytes`,
/// so live subscribers always get it. `max_messages` is clamped to at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayWindow {
    /// At most this many messages are retained.
    pub max_messages: usize,
    /// At most this many payload bytes are retained (payload lengths only).
    pub max_bytes: usize,
    /// Messages older than this are dropped (checked on publish, subscribe and `sweep_idle`).
    pub max_age: Duration,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            max_messages: DEFAULT_REPLAY_MAX_MESSAGES,
            max_bytes: DEFAULT_REPLAY_MAX_BYTES,
            max_age: DEFAULT_REPLAY_MAX_AGE,
        }
    }
}

/// Configuration of a [`crate::Topics`] engine. Fixed at construction.
#[derive(Clone, Debug)]
pub struct TopicsConfig {
    /// Replay window of every topic, unless its cache has an entry in `cache_replay`.
    pub replay: ReplayWindow,
    /// Per-cache overrides of the replay window (keyed by cache name; applies to topics created afterwards).
    pub cache_replay: HashMap<Bytes, ReplayWindow>,
    /// Largest payload accepted by `publish`, in bytes.
    pub max_message_bytes: usize,
    /// Maximum direct subscriptions per topic (pattern cursors are not counted).
    pub max_subscribers_per_topic: usize,
    /// Maximum live topics per cache.
    pub max_topics_per_cache: usize,
    /// Maximum pattern subscriptions per cache.
    pub max_patterns_per_cache: usize,
    /// How long a topic with no direct subscribers and an empty ring lingers before `sweep_idle` frees it.
    pub idle_topic_ttl: Duration,
    /// Heartbeat interval for front ends (gRPC `_Heartbeat`, HTTP keep-alive). Not used by the engine.
    pub heartbeat_interval: Duration,
    /// How many of the newest retained messages a subscription without a resume point gets
    /// first (gRPC resume 0, SSE and TSUBSCRIBE without one: Momento's "begin with the latest
    /// messages"). 0: live only. See [`crate::Topics::start_from`].
    pub subscribe_backlog: u64,
    /// Registry shards (rounded up to a power of two, at least 1).
    pub shards: usize,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            replay: ReplayWindow::default(),
            cache_replay: HashMap::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_subscribers_per_topic: DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC,
            max_topics_per_cache: DEFAULT_MAX_TOPICS_PER_CACHE,
            max_patterns_per_cache: DEFAULT_MAX_PATTERNS_PER_CACHE,
            idle_topic_ttl: DEFAULT_IDLE_TOPIC_TTL,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            subscribe_backlog: DEFAULT_SUBSCRIBE_BACKLOG,
            shards: DEFAULT_SHARDS,
        }
    }
}

impl TopicsConfig {
    /// The replay window for topics of `cache` (override or default), with `max_messages >= 1`.
    pub fn replay_for(&self, cache: &[u8]) -> ReplayWindow {
        let mut w = self.cache_replay.get(cache).copied().unwrap_or(self.replay);
        w.max_messages = w.max_messages.max(1);
        w
    }
}
