//! Ferrite's topics engine: sequenced, resumable, best-effort pub/sub shared by every front end
//! (RESP pub/sub, Momento gRPC `Pubsub`, HTTP). No sockets, no protocol types, no `.await` under a lock.
//!
//! # Semantics
//! - A topic lives in a named cache and is created by its first publish or subscribe. It is freed by
//!   [`Topics::sweep_idle`] once it has no direct subscriber, nothing retained and no activity for
//!   `idle_topic_ttl`, and by [`Topics::drop_cache`].
//! - Every message gets the topic's next sequence number (from 1), the topic's `page` (a u64 that is
//!   larger for every new incarnation: a global counter seeded from wall-clock microseconds, +1 per topic
//!   creation) and the publisher id (empty when none). Publishing never waits on subscribers.
//! - A subscriber gets, in order, every message published after it subscribed, or resumes at
//!   `(seq, page)`: exact replay when `page` is current and `seq` is retained (or is the next sequence);
//!   otherwise a [`Event::Discontinuity`] and then live messages.
//! - The replay ring is bounded by count, bytes and age ([`ReplayWindow`]). A subscriber is a *cursor*
//!   into it; one that falls behind the window skips to the oldest retained message with a
//!   `Discontinuity`. A subscriber that never drains costs no memory per message.
//!
//! # Data structures
//! ```text
//! Topics ─ Arc<Inner>
//!  ├─ shards[hash(cache,topic) & mask]: RwLock< cache -> topic -> Arc<Topic> >   (+ per-shard counters)
//!  ├─ caches: RwLock< cache -> Arc<CacheState{ topic_count, pattern_epoch, patterns: id -> PatternSub }> >
//!  └─ next_page: AtomicU64 (seeded from wall-clock µs)
//!
//! Topic ─ Mutex<TopicState>
//!  ├─ page, next_seq
//!  ├─ ring: VecDeque<Arc<Message{seq,page,payload: Bytes,kind,publisher_id,published_at_ms}>>
//!  ├─ subs:  Vec<Arc<Subscription>>   direct cursors  (O(1) detach via slot index)
//!  └─ psubs: Vec<Arc<Subscription>>   pattern cursors (created lazily at publish when the pattern epoch moved)
//!
//! Subscription { owner: Arc<SubShared>, topic: Arc<Topic>, pattern?, queued: AtomicBool, cursor{next_seq, pending gap} }
//!
//! Subscriber (one per connection / stream)               SubShared (what publishers touch)
//!  ├─ direct:   cache -> topic   -> Arc<Subscription>      ├─ ready: Mutex<VecDeque<Arc<Subscription>>> + CacheGone list
//!  ├─ patterns: cache -> pattern -> Arc<PatternSub>        └─ notify: tokio::sync::Notify (one wait point)
//!  └─ shared: Arc<SubShared>
//!
//! publish:  shard.read -> topic.lock -> push Arc<Message>, trim -> for each cursor: if !queued { queued = true;
//!           owner.ready.push(sub); notify if the list was empty }
//! drain:    pop ready (no topic lock) -> queued = false -> topic.lock -> emit from cursor up to budget
//! ```
//!
//! # Use from a connection loop
//! ```no_run
//! # async fn conn(topics: ferrite_topics::Topics) {
//! use ferrite_topics::{Event, Resume};
//! let mut sub = topics.subscriber();
//! sub.subscribe(b"cache", b"news", None).unwrap();
//! sub.psubscribe(b"cache", b"news.*").unwrap();
//! let waiter = sub.waiter(); // wait without borrowing `sub` (select! with the socket reader)
//! let mut events = Vec::new();
//! loop {
//!     events.clear();
//!     if sub.drain(256, &mut events) == 0 {
//!         waiter.wait().await; // tokio::select! { _ = waiter.wait() => {}, cmd = read() => ... }
//!         continue;
//!     }
//!     for ev in &events {
//!         match ev {
//!             Event::Message { topic, pattern, msg, .. } => { /* encode push; msg.seq, msg.page */ }
//!             Event::Discontinuity { .. } => { /* gRPC Discontinuity / RESP extension push */ }
//!             Event::CacheGone { .. } => { /* gRPC: end stream with NOT_FOUND */ }
//!         }
//!     }
//!     // write, flush; if the socket stays unwritable past its budget:
//!     // topics.record_slow_subscriber_disconnect(); break (dropping `sub` unsubscribes everything)
//! }
//! # }
//! ```

#![warn(missing_docs)]

mod clock;
mod config;
mod engine;
pub mod glob;
mod metrics;
mod subscriber;
mod types;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    ReplayWindow, TopicsConfig, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_IDLE_TOPIC_TTL,
    DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_PATTERNS_PER_CACHE, DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC,
    DEFAULT_MAX_TOPICS_PER_CACHE, DEFAULT_REPLAY_MAX_AGE, DEFAULT_REPLAY_MAX_BYTES,
    DEFAULT_REPLAY_MAX_MESSAGES, DEFAULT_SHARDS,
};
pub use engine::{Payload, Topics};

/// Where the engine charges the memory its replay rings retain: the server's memory budget,
/// shared with the cache engine (`maxmemory`), so topics and keys live under one limit.
pub trait MemoryAccount: Send + Sync {
    /// The retained memory changed by `delta` bytes.
    fn charge(&self, delta: isize);
    /// Room for `bytes` more before a publish; the account may trim rings
    /// ([`Topics::shrink_replay`]: no topic lock is held when this runs) or evict keys first.
    /// `false` refuses the publish with [`TopicsError::OutOfMemory`].
    fn reserve(&self, bytes: usize) -> bool;
}

/// What one retained message costs besides its payload: the `Message` with its `Arc` counts, its
/// allocation and the payload allocation's overhead (16 B each, glibc), and its ring slot.
pub const MESSAGE_OVERHEAD: usize = std::mem::size_of::<Message>() + 16 + 16 + 16 + 8;

/// Bytes charged for `msgs` retained messages of `bytes` payload bytes in all.
#[inline]
pub fn retained_cost(msgs: u64, bytes: u64) -> u64 {
    bytes + msgs * MESSAGE_OVERHEAD as u64
}
pub use metrics::MetricsSnapshot;
pub use subscriber::{Subscriber, Waiter};
pub use types::{
    Event, Message, MessageKind, Published, Resume, Start, Subscribed, TopicInfo, TopicsError,
};

#[cfg(test)]
mod tests;
