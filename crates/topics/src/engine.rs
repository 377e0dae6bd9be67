//! The registry of topics, the per-topic ring and the publish / sweep / drop paths.
//!
//! Lock order (never reversed, never held across `.await`):
//! `Inner::caches` (briefly, alone) ; shard map -> topic state -> `CacheState::patterns` (read) ;
//! topic state -> subscriber ready list. A subscriber pops its ready list *without* holding a topic lock.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::clock::{wall_micros, Clock, SystemClock};
use crate::config::{ReplayWindow, TopicsConfig};
use crate::glob;
use crate::metrics::{Metrics, MetricsSnapshot, ShardCounters};
use crate::subscriber::Subscriber;
use crate::types::{Message, MessageKind, Published, Resume, Start, TopicInfo, TopicsError};

pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Largest payload buffer a topic keeps for reuse after trimming its message (see `recycle`).
const SPARE_PAYLOAD_MAX: usize = 16 * 1024;

/// Slot value of a subscription that is not (or no longer) attached to a topic.
pub(crate) const DETACHED: usize = usize::MAX;

/// The topics engine. Cheap to clone (one `Arc`); share one per server.
#[derive(Clone)]
pub struct Topics {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: TopicsConfig,
    pub(crate) clock: Arc<dyn Clock>,
    shards: Box<[Shard]>,
    hasher: foldhash::fast::RandomState,
    caches: RwLock<Map<Bytes, Arc<CacheState>>>,
    next_page: AtomicU64,
    pub(crate) next_id: AtomicU64,
    empty_publisher: Arc<str>,
    pub(crate) metrics: Metrics,
}

type TopicMap = Map<Bytes, Map<Bytes, Arc<Topic>>>;

#[repr(align(128))]
struct Shard {
    topics: RwLock<TopicMap>,
    counters: ShardCounters,
}

/// Per-cache state: topic count (limit), pattern subscriptions, and an epoch that tells topics
/// to re-evaluate which patterns match them.
pub(crate) struct CacheState {
    pub(crate) name: Bytes,
    pub(crate) dropped: AtomicBool,
    topic_count: AtomicUsize,
    /// Next [`Message::stamp`] (taken under the topic's lock, so a topic's stamps follow its
    /// sequence numbers).
    publish_stamp: AtomicU64,
    pub(crate) pattern_epoch: AtomicU64,
    pub(crate) patterns: RwLock<PatternSet>,
}

#[derive(Default)]
pub(crate) struct PatternSet {
    pub(crate) subs: Map<u64, Arc<PatternSub>>,
    /// pattern -> number of subscriptions with it (PUBSUB NUMPAT counts unique patterns).
    pub(crate) unique: Map<Bytes, usize>,
}

/// One PSUBSCRIBE of one subscriber.
pub(crate) struct PatternSub {
    pub(crate) id: u64,
    pub(crate) owner: Arc<SubShared>,
    pub(crate) pattern: Bytes,
    pub(crate) cache: Arc<CacheState>,
    pub(crate) alive: AtomicBool,
}

pub(crate) struct Topic {
    pub(crate) cache: Bytes,
    pub(crate) name: Bytes,
    pub(crate) cache_state: Arc<CacheState>,
    /// Mirror of `state.subs.len()`, for lock-free PUBSUB queries.
    pub(crate) direct: AtomicUsize,
    pub(crate) state: Mutex<TopicState>,
}

pub(crate) struct TopicState {
    pub(crate) page: u64,
    pub(crate) next_seq: u64,
    pub(crate) ring: VecDeque<Arc<Message>>,
    pub(crate) ring_bytes: usize,
    window: ReplayWindow,
    pub(crate) subs: Vec<Arc<Subscription>>,
    pub(crate) psubs: Vec<Arc<Subscription>>,
    pattern_epoch: u64,
    pub(crate) last_activity_ms: u64,
    pub(crate) dead: bool,
    /// The last message trimmed from the ring that nobody else held: the next publish reuses
    /// its allocation (and its payload buffer when the size fits), so a warm topic publishes
    /// without allocating (`tests/zero_alloc.rs`). At most one per topic.
    spare: Option<Arc<Message>>,
}

/// A payload handed to [`Topics::publish`]: bytes the caller already owns, or a slice to copy
/// (into a recycled buffer when there is one).
pub enum Payload<'a> {
    /// Kept as it is (gRPC and HTTP bodies arrive owned).
    Owned(Bytes),
    /// Copied by the engine (RESP: a slice of the connection's read buffer).
    Copy(&'a [u8]),
}

impl Payload<'_> {
    fn len(&self) -> usize {
        match self {
            Payload::Owned(b) => b.len(),
            Payload::Copy(s) => s.len(),
        }
    }
    /// The payload as `Bytes`, reusing `old` (a recycled message's payload) for a copy when
    /// nobody else holds it and it is large enough.
    fn into_bytes(self, old: Bytes) -> Bytes {
        match self {
            Payload::Owned(b) => b,
            Payload::Copy(src) => match old.try_into_mut() {
                Ok(mut buf) if buf.capacity() >= src.len() => {
                    buf.clear();
                    buf.extend_from_slice(src);
                    buf.freeze()
                }
                _ => Bytes::copy_from_slice(src),
            },
        }
    }
}

impl From<Bytes> for Payload<'_> {
    fn from(b: Bytes) -> Self {
        Payload::Owned(b)
    }
}

impl<'a> From<&'a [u8]> for Payload<'a> {
    fn from(s: &'a [u8]) -> Self {
        Payload::Copy(s)
    }
}

/// A cursor of one subscriber on one topic (direct, or created lazily for a matching pattern).
pub(crate) struct Subscription {
    pub(crate) owner: Arc<SubShared>,
    pub(crate) topic: Arc<Topic>,
    pub(crate) pattern: Option<Arc<PatternSub>>,
    /// True while this subscription sits in its owner's ready list.
    pub(crate) queued: AtomicBool,
    /// Index in the topic's `subs` (direct) or `psubs` (pattern) vector, or `DETACHED`.
    pub(crate) slot: AtomicUsize,
    /// Only touched with the topic's state lock held.
    pub(crate) cursor: Mutex<Cursor>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PendingGap {
    pub(crate) last_seq: u64,
    pub(crate) new_seq: u64,
    pub(crate) page: u64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor {
    pub(crate) next_seq: u64,
    pub(crate) pending: Option<PendingGap>,
}

/// The part of a subscriber that publishers touch: its ready list and its wake-up.
pub(crate) struct SubShared {
    pub(crate) id: u64,
    pub(crate) notify: Notify,
    pub(crate) ready: Mutex<ReadyList>,
}

#[derive(Default)]
pub(crate) struct ReadyList {
    pub(crate) queue: VecDeque<Arc<Subscription>>,
    pub(crate) gone: Vec<Bytes>,
    pub(crate) closed: bool,
}

impl SubShared {
    pub(crate) fn new(id: u64) -> Self {
        SubShared {
            id,
            notify: Notify::new(),
            ready: Mutex::new(ReadyList::default()),
        }
    }

    fn push_ready(&self, sub: Arc<Subscription>) {
        let was_empty = {
            let mut r = self.ready.lock();
            if r.closed {
                return;
            }
            let was_empty = r.queue.is_empty() && r.gone.is_empty();
            r.queue.push_back(sub);
            was_empty
        };
        if was_empty {
            self.notify.notify_one();
        }
    }

    fn push_gone(&self, cache: Bytes) {
        let was_empty = {
            let mut r = self.ready.lock();
            if r.closed {
                return;
            }
            let was_empty = r.queue.is_empty() && r.gone.is_empty();
            r.gone.push(cache);
            was_empty
        };
        if was_empty {
            self.notify.notify_one();
        }
    }

    pub(crate) fn has_ready(&self) -> bool {
        let r = self.ready.lock();
        !r.queue.is_empty() || !r.gone.is_empty()
    }
}

impl Subscription {
    pub(crate) fn new(
        owner: Arc<SubShared>,
        topic: Arc<Topic>,
        pattern: Option<Arc<PatternSub>>,
        cursor: Cursor,
    ) -> Arc<Self> {
        Arc::new(Subscription {
            owner,
            topic,
            pattern,
            queued: AtomicBool::new(false),
            slot: AtomicUsize::new(DETACHED),
            cursor: Mutex::new(cursor),
        })
    }

    /// Put this subscription on its owner's ready list unless it is already there.
    /// Called with the topic lock held. Costs one relaxed load when already queued.
    #[inline]
    pub(crate) fn wake(self: &Arc<Self>) {
        if !self.queued.load(Ordering::Relaxed) && !self.queued.swap(true, Ordering::AcqRel) {
            self.owner.push_ready(self.clone());
        }
    }

    /// Requeue after a partial drain (budget exhausted).
    pub(crate) fn requeue(self: &Arc<Self>) {
        self.wake();
    }

    pub(crate) fn is_attached(&self) -> bool {
        self.slot.load(Ordering::Acquire) != DETACHED
    }

    pub(crate) fn pattern_bytes(&self) -> Option<Bytes> {
        self.pattern.as_ref().map(|p| p.pattern.clone())
    }
}

fn attach(list: &mut Vec<Arc<Subscription>>, sub: Arc<Subscription>) {
    sub.slot.store(list.len(), Ordering::Release);
    list.push(sub);
}

/// Remove `sub` from `list` in O(1). Returns false if it was already detached.
fn detach(list: &mut Vec<Arc<Subscription>>, sub: &Subscription) -> bool {
    let i = sub.slot.swap(DETACHED, Ordering::AcqRel);
    if i == DETACHED {
        return false;
    }
    list.swap_remove(i);
    if let Some(moved) = list.get(i) {
        moved.slot.store(i, Ordering::Release);
    }
    true
}

impl TopicState {
    pub(crate) fn oldest_seq(&self) -> u64 {
        self.ring.front().map_or(self.next_seq, |m| m.seq)
    }

    /// Enforce the replay window (count, bytes keeping the newest, age).
    fn trim(&mut self, now: u64, counters: &ShardCounters) {
        let w = self.window;
        let max_age = w.max_age.as_millis() as u64;
        let (mut n, mut bytes) = (0u64, 0u64);
        while let Some(front) = self.ring.front() {
            let over_count = self.ring.len() > w.max_messages;
            let over_bytes = self.ring_bytes > w.max_bytes && self.ring.len() > 1;
            let too_old = now.saturating_sub(front.published_at_ms) > max_age;
            if !(over_count || over_bytes || too_old) {
                break;
            }
            let len = front.payload.len();
            let gone = self.ring.pop_front().expect("front exists");
            self.recycle(gone);
            self.ring_bytes -= len;
            n += 1;
            bytes += len as u64;
        }
        counters.release(n, bytes);
    }

    /// Keep a trimmed message nobody else holds for the next publish to reuse. Its payload
    /// buffer is kept only when small: a large one would sit outside the accounting until the
    /// next publish (300 idle topics x 1 MiB).
    fn recycle(&mut self, mut gone: Arc<Message>) {
        if self.spare.is_none() {
            if let Some(m) = Arc::get_mut(&mut gone) {
                if m.payload.len() > SPARE_PAYLOAD_MAX {
                    m.payload = Bytes::new();
                }
                self.spare = Some(gone);
            }
        }
    }

    /// Under memory pressure: drop the oldest half of the ring (all of a one-message ring).
    /// Returns (messages, payload bytes) dropped; subscribers behind get a discontinuity.
    fn shed_half(&mut self, counters: &ShardCounters) -> (u64, u64) {
        let keep = self.ring_bytes / 2;
        let (mut n, mut bytes) = (0u64, 0u64);
        while self.ring_bytes > keep || (self.ring_bytes == 0 && !self.ring.is_empty()) {
            let Some(gone) = self.ring.pop_front() else {
                break;
            };
            let len = gone.payload.len();
            self.recycle(gone);
            self.ring_bytes -= len;
            n += 1;
            bytes += len as u64;
            if self.ring_bytes == 0 && len == 0 && self.ring.is_empty() {
                break;
            }
        }
        counters.release(n, bytes);
        (n, bytes)
    }

    /// Where a new (or repositioned) cursor starts (the rules are [`Resume`]'s and [`Start`]'s).
    pub(crate) fn position(&self, start: Start) -> Cursor {
        let oldest = self.oldest_seq();
        let at = |next_seq| Cursor {
            next_seq,
            pending: None,
        };
        match start {
            Start::Live => at(self.next_seq),
            Start::Latest(n) => at(self.next_seq.saturating_sub(n).max(oldest)),
            // A trimmed sequence starts before `oldest`: the drain reports the gap (from the
            // one before it) and goes on with what is retained.
            Start::At(r) if (r.page == self.page || r.page == 0) && r.seq <= self.next_seq => {
                at(r.seq.max(1))
            }
            Start::At(_) => Cursor {
                next_seq: oldest,
                pending: Some(PendingGap {
                    last_seq: 0,
                    new_seq: oldest,
                    page: self.page,
                }),
            },
        }
    }

    /// Bring the pattern cursors up to date with the cache's pattern set (only when it changed).
    fn refresh_patterns(&mut self, topic: &Arc<Topic>) {
        let cs = &topic.cache_state;
        let epoch = cs.pattern_epoch.load(Ordering::Acquire);
        if epoch == self.pattern_epoch {
            return;
        }
        self.pattern_epoch = epoch;
        let mut i = 0;
        while i < self.psubs.len() {
            let alive = self.psubs[i]
                .pattern
                .as_ref()
                .is_some_and(|p| p.alive.load(Ordering::Acquire));
            if alive {
                i += 1;
            } else {
                let s = self.psubs[i].clone();
                detach(&mut self.psubs, &s);
            }
        }
        let set = cs.patterns.read();
        for p in set.subs.values() {
            if !p.alive.load(Ordering::Acquire) || !glob::matches(&p.pattern, &topic.name) {
                continue;
            }
            let have = self
                .psubs
                .iter()
                .any(|s| s.pattern.as_ref().is_some_and(|q| q.id == p.id));
            if !have {
                let cursor = Cursor {
                    next_seq: self.next_seq,
                    pending: None,
                };
                let sub =
                    Subscription::new(p.owner.clone(), topic.clone(), Some(p.clone()), cursor);
                attach(&mut self.psubs, sub);
            }
        }
    }

    /// Free the topic: detach every cursor and empty the ring. Returns the detached subscriptions.
    fn kill(&mut self, counters: &ShardCounters) -> Vec<Arc<Subscription>> {
        self.dead = true;
        let mut out = Vec::with_capacity(self.subs.len() + self.psubs.len());
        for s in self.subs.drain(..).chain(self.psubs.drain(..)) {
            s.slot.store(DETACHED, Ordering::Release);
            out.push(s);
        }
        counters.release(self.ring.len() as u64, self.ring_bytes as u64);
        self.ring.clear();
        self.ring_bytes = 0;
        out
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics::new(TopicsConfig::default())
    }
}

impl Topics {
    /// An engine with the system clock.
    pub fn new(config: TopicsConfig) -> Self {
        Topics::with_clock(config, Arc::new(SystemClock))
    }

    /// An engine with an injected clock (tests: [`crate::ManualClock`]).
    pub fn with_clock(config: TopicsConfig, clock: Arc<dyn Clock>) -> Self {
        let n = config.shards.max(1).next_power_of_two();
        let shards = (0..n)
            .map(|_| Shard {
                topics: RwLock::new(Map::default()),
                counters: ShardCounters::default(),
            })
            .collect();
        Topics {
            inner: Arc::new(Inner {
                config,
                clock,
                shards,
                hasher: foldhash::fast::RandomState::default(),
                caches: RwLock::new(Map::default()),
                next_page: AtomicU64::new(wall_micros()),
                next_id: AtomicU64::new(1),
                empty_publisher: Arc::from(""),
                metrics: Metrics::default(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TopicsConfig {
        &self.inner.config
    }

    /// Where a Momento-style subscription starts: at its resume point, or without one with the
    /// newest `subscribe_backlog` retained messages ("begin with the latest messages"). What
    /// gRPC, SSE and TSUBSCRIBE all pass; Redis's SUBSCRIBE passes [`Start::Live`] instead.
    pub fn start_from(&self, resume: Option<Resume>) -> Start {
        resume.map_or(
            Start::Latest(self.inner.config.subscribe_backlog),
            Start::At,
        )
    }

    /// A new, empty subscriber (one per connection or stream).
    pub fn subscriber(&self) -> Subscriber {
        Subscriber::new(self.inner.clone())
    }

    /// Publish `payload` to `topic` in `cache`, creating the topic if needed. Never waits for subscribers.
    /// `publisher_id`: the publisher's token id, `None` for none (stored as the empty string).
    ///
    /// The ring keeps `payload` for up to the replay window: pass an owned buffer, not a slice of a large
    /// read buffer (which the ring would pin).
    pub fn publish<'a>(
        &self,
        cache: &[u8],
        topic: &[u8],
        payload: impl Into<Payload<'a>>,
        kind: MessageKind,
        publisher_id: Option<Arc<str>>,
    ) -> Result<Published, TopicsError> {
        self.inner
            .publish(cache, topic, payload.into(), kind, publisher_id)
    }

    /// Publish only if someone would be offered the message: a direct subscriber of `topic`, or
    /// a pattern subscription of `cache` that matches it. Otherwise nothing is created or
    /// retained and `Ok(None)` is returned. For server-generated messages on many possible
    /// topics (keyspace notifications: one channel per key), which must not create a topic and
    /// a replay ring per key nobody listens to.
    pub fn publish_if_subscribed<'a>(
        &self,
        cache: &[u8],
        topic: &[u8],
        payload: impl Into<Payload<'a>>,
        kind: MessageKind,
        publisher_id: Option<Arc<str>>,
    ) -> Result<Option<Published>, TopicsError> {
        if !self.inner.has_listener(cache, topic) {
            return Ok(None);
        }
        self.inner
            .publish(cache, topic, payload.into(), kind, publisher_id)
            .map(Some)
    }

    /// Topics of `cache` with at least one direct subscriber, optionally filtered by a glob
    /// (Redis `PUBSUB CHANNELS [pattern]`). Unordered.
    pub fn channels(&self, cache: &[u8], pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut out = Vec::new();
        for shard in self.inner.shards.iter() {
            let map = shard.topics.read();
            if let Some(topics) = map.get(cache) {
                for (name, t) in topics.iter() {
                    if t.direct.load(Ordering::Relaxed) > 0
                        && pattern.is_none_or(|p| glob::matches(p, name))
                    {
                        out.push(name.clone());
                    }
                }
            }
        }
        out
    }

    /// Direct subscribers of `topic` in `cache` (Redis `PUBSUB NUMSUB`).
    pub fn numsub(&self, cache: &[u8], topic: &[u8]) -> usize {
        let shard = self.inner.shard(cache, topic);
        let map = shard.topics.read();
        map.get(cache)
            .and_then(|m| m.get(topic))
            .map_or(0, |t| t.direct.load(Ordering::Relaxed))
    }

    /// Unique patterns subscribed in `cache` (Redis `PUBSUB NUMPAT`).
    pub fn numpat(&self, cache: &[u8]) -> usize {
        let caches = self.inner.caches.read();
        caches
            .get(cache)
            .map_or(0, |cs| cs.patterns.read().unique.len())
    }

    /// State of one topic, `None` if it does not exist.
    pub fn topic_info(&self, cache: &[u8], topic: &[u8]) -> Option<TopicInfo> {
        let shard = self.inner.shard(cache, topic);
        let map = shard.topics.read();
        let t = map.get(cache)?.get(topic)?;
        let st = t.state.lock();
        Some(TopicInfo {
            page: st.page,
            next_seq: st.next_seq,
            oldest_seq: st.oldest_seq(),
            retained_messages: st.ring.len(),
            retained_bytes: st.ring_bytes,
            subscribers: st.subs.len(),
            pattern_cursors: st.psubs.len(),
        })
    }

    /// The cache was deleted or flushed: free its topics and pattern subscriptions; every subscriber
    /// that had one gets [`crate::Event::CacheGone`]. A later publish/subscribe starts new topics with
    /// new pages. Returns the number of topics freed.
    pub fn drop_cache(&self, cache: &[u8]) -> usize {
        self.inner.drop_cache(cache)
    }

    /// Trim every ring by age and free topics that have no direct subscriber, nothing retained, and
    /// no activity for `idle_topic_ttl`. Call periodically (every few seconds). Returns topics freed.
    pub fn sweep_idle(&self) -> usize {
        self.inner.sweep_idle()
    }

    /// Charge retained messages to `account` from now on (once; later calls are ignored).
    /// Messages already retained are charged at once, so the account sees all of them.
    pub fn set_memory_account(&self, account: Arc<dyn crate::MemoryAccount>) {
        for shard in self.inner.shards.iter() {
            if shard.counters.account.set(account.clone()).is_ok() {
                let m = shard.counters.retained_messages.load(Ordering::Relaxed);
                let b = shard.counters.retained_bytes.load(Ordering::Relaxed);
                account.charge(crate::retained_cost(m, b) as isize);
            }
        }
    }

    /// Memory pressure: drop the oldest retained messages of every topic (halving each ring per
    /// pass) until about `wanted` bytes were freed or nothing is retained. Returns bytes freed,
    /// as charged ([`crate::retained_cost`]).
    pub fn shrink_replay(&self, wanted: u64) -> u64 {
        self.inner.shrink_replay(wanted)
    }

    /// Bytes the replay rings hold, as charged to the memory account.
    pub fn retained_memory(&self) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|s| {
                crate::retained_cost(
                    s.counters.retained_messages.load(Ordering::Relaxed),
                    s.counters.retained_bytes.load(Ordering::Relaxed),
                )
            })
            .sum()
    }

    /// Count a subscriber the front end disconnected because its socket stopped reading.
    pub fn record_slow_subscriber_disconnect(&self) {
        self.inner
            .metrics
            .slow_subscriber_disconnects
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counters and gauges.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner
            .metrics
            .snapshot(self.inner.shards.iter().map(|s| &s.counters))
    }
}

impl Inner {
    fn shard(&self, cache: &[u8], topic: &[u8]) -> &Shard {
        let h = self.hasher.hash_one((cache, topic));
        &self.shards[(h as usize) & (self.shards.len() - 1)]
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Whether `topic` in `cache` has a direct subscriber or a matching live pattern
    /// subscription (without creating anything). O(patterns of the cache) when no direct one.
    fn has_listener(&self, cache: &[u8], topic: &[u8]) -> bool {
        let direct = {
            let map = self.shard(cache, topic).topics.read();
            map.get(cache)
                .and_then(|m| m.get(topic))
                .is_some_and(|t| t.direct.load(Ordering::Relaxed) > 0)
        };
        if direct {
            return true;
        }
        let Some(cs) = self.caches.read().get(cache).cloned() else {
            return false;
        };
        let set = cs.patterns.read();
        set.subs
            .values()
            .any(|p| p.alive.load(Ordering::Acquire) && glob::matches(&p.pattern, topic))
    }

    pub(crate) fn cache_state(&self, cache: &[u8]) -> Arc<CacheState> {
        if let Some(cs) = self.caches.read().get(cache) {
            return cs.clone();
        }
        let mut w = self.caches.write();
        w.entry(Bytes::copy_from_slice(cache))
            .or_insert_with_key(|name| {
                Arc::new(CacheState {
                    name: name.clone(),
                    dropped: AtomicBool::new(false),
                    topic_count: AtomicUsize::new(0),
                    publish_stamp: AtomicU64::new(0),
                    pattern_epoch: AtomicU64::new(0),
                    patterns: RwLock::new(PatternSet::default()),
                })
            })
            .clone()
    }

    /// Run `f` on the (existing or new) topic with its state locked and its shard locked, so the
    /// topic cannot be freed meanwhile.
    pub(crate) fn with_topic<R>(
        &self,
        cache: &[u8],
        topic: &[u8],
        now: u64,
        f: impl FnOnce(&Arc<Topic>, &mut TopicState, &ShardCounters) -> Result<R, TopicsError>,
    ) -> Result<R, TopicsError> {
        let shard = self.shard(cache, topic);
        {
            let map = shard.topics.read();
            if let Some(t) = map.get(cache).and_then(|m| m.get(topic)) {
                let mut st = t.state.lock();
                return f(t, &mut st, &shard.counters);
            }
        }
        loop {
            let cs = self.cache_state(cache);
            let mut map = shard.topics.write();
            if let Some(t) = map.get(cache).and_then(|m| m.get(topic)) {
                let t = t.clone();
                let mut st = t.state.lock();
                return f(&t, &mut st, &shard.counters);
            }
            if cs.dropped.load(Ordering::SeqCst) {
                // drop_cache raced with us: take the cache's next incarnation.
                continue;
            }
            let max = self.config.max_topics_per_cache;
            if cs
                .topic_count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_err()
            {
                self.metrics.rejected_limit.fetch_add(1, Ordering::Relaxed);
                return Err(TopicsError::TooManyTopics { max });
            }
            let t = Arc::new(Topic {
                cache: cs.name.clone(),
                name: Bytes::copy_from_slice(topic),
                cache_state: cs.clone(),
                direct: AtomicUsize::new(0),
                state: Mutex::new(TopicState {
                    page: self.next_page.fetch_add(1, Ordering::Relaxed),
                    next_seq: 1,
                    ring: VecDeque::new(),
                    ring_bytes: 0,
                    window: self.config.replay_for(cache),
                    subs: Vec::new(),
                    psubs: Vec::new(),
                    pattern_epoch: 0,
                    last_activity_ms: now,
                    dead: false,
                    spare: None,
                }),
            });
            map.entry(cs.name.clone())
                .or_default()
                .insert(t.name.clone(), t.clone());
            self.metrics.topics_created.fetch_add(1, Ordering::Relaxed);
            let mut st = t.state.lock();
            return f(&t, &mut st, &shard.counters);
        }
    }

    fn publish(
        &self,
        cache: &[u8],
        topic: &[u8],
        payload: Payload<'_>,
        kind: MessageKind,
        publisher_id: Option<Arc<str>>,
    ) -> Result<Published, TopicsError> {
        let size = payload.len();
        let max = self.config.max_message_bytes;
        if size > max {
            self.metrics
                .rejected_too_large
                .fetch_add(1, Ordering::Relaxed);
            return Err(TopicsError::MessageTooLarge { size, max });
        }
        // Room in the memory budget first, with no topic lock held: making room may trim rings.
        if let Some(a) = self.shards[0].counters.account.get() {
            if !a.reserve(crate::retained_cost(1, size as u64) as usize) {
                self.metrics.rejected_memory.fetch_add(1, Ordering::Relaxed);
                return Err(TopicsError::OutOfMemory);
            }
        }
        let now = self.now();
        let publisher_id = publisher_id.unwrap_or_else(|| self.empty_publisher.clone());
        self.with_topic(cache, topic, now, |t, st, counters| {
            st.refresh_patterns(t);
            let seq = st.next_seq;
            st.next_seq += 1;
            let page = st.page;
            let stamp = t.cache_state.publish_stamp.fetch_add(1, Ordering::Relaxed);
            // Reuse the last trimmed message's allocation when nobody else holds it.
            let msg = match st
                .spare
                .take()
                .map(|mut a| (Arc::get_mut(&mut a).is_some(), a))
            {
                Some((true, mut recycled)) => {
                    let m = Arc::get_mut(&mut recycled).expect("checked unique");
                    m.seq = seq;
                    m.page = page;
                    m.payload = payload.into_bytes(std::mem::take(&mut m.payload));
                    m.kind = kind;
                    m.publisher_id = publisher_id;
                    m.published_at_ms = now;
                    m.stamp = stamp;
                    recycled
                }
                _ => Arc::new(Message {
                    seq,
                    page,
                    payload: payload.into_bytes(Bytes::new()),
                    kind,
                    publisher_id,
                    published_at_ms: now,
                    stamp,
                }),
            };
            st.ring.push_back(msg);
            st.ring_bytes += size;
            counters.published.fetch_add(1, Ordering::Relaxed);
            counters.retain(1, size as u64);
            st.trim(now, counters);
            st.last_activity_ms = now;
            for s in st.subs.iter().chain(st.psubs.iter()) {
                s.wake();
            }
            Ok(Published {
                seq,
                page: st.page,
                receivers: st.subs.len() + st.psubs.len(),
            })
        })
    }

    /// Attach a new direct subscription of `owner` (called by `Subscriber::subscribe`).
    pub(crate) fn subscribe(
        &self,
        owner: &Arc<SubShared>,
        cache: &[u8],
        topic: &[u8],
        start: Start,
    ) -> Result<(Arc<Subscription>, Cursor, u64), TopicsError> {
        let now = self.now();
        let max = self.config.max_subscribers_per_topic;
        self.with_topic(cache, topic, now, |t, st, counters| {
            if st.subs.len() >= max {
                self.metrics.rejected_limit.fetch_add(1, Ordering::Relaxed);
                return Err(TopicsError::TooManySubscribers { max });
            }
            st.trim(now, counters);
            let cursor = st.position(start);
            let sub = Subscription::new(owner.clone(), t.clone(), None, cursor);
            attach(&mut st.subs, sub.clone());
            t.direct.store(st.subs.len(), Ordering::Relaxed);
            st.last_activity_ms = now;
            if cursor.pending.is_some() || cursor.next_seq < st.next_seq {
                sub.wake();
            }
            self.metrics.subscriptions.fetch_add(1, Ordering::Relaxed);
            Ok((sub, cursor, st.page))
        })
    }

    /// Reposition an existing direct subscription. Returns `None` if it was detached (cache dropped).
    pub(crate) fn reposition(
        &self,
        sub: &Arc<Subscription>,
        start: Start,
    ) -> Option<(Cursor, u64)> {
        let now = self.now();
        let shard = self.shard(&sub.topic.cache, &sub.topic.name);
        let mut st = sub.topic.state.lock();
        if st.dead || !sub.is_attached() {
            return None;
        }
        st.trim(now, &shard.counters);
        let cursor = st.position(start);
        *sub.cursor.lock() = cursor;
        if cursor.pending.is_some() || cursor.next_seq < st.next_seq {
            sub.wake();
        }
        Some((cursor, st.page))
    }

    /// Current cursor and page of an attached subscription.
    pub(crate) fn peek(&self, sub: &Arc<Subscription>) -> Option<(Cursor, u64)> {
        let st = sub.topic.state.lock();
        if st.dead || !sub.is_attached() {
            return None;
        }
        let c = *sub.cursor.lock();
        Some((c, st.page))
    }

    /// Detach a direct subscription. Returns false if it was already detached.
    pub(crate) fn unsubscribe(&self, sub: &Arc<Subscription>) -> bool {
        let now = self.now();
        let t = &sub.topic;
        let mut st = t.state.lock();
        if !detach(&mut st.subs, sub) {
            return false;
        }
        t.direct.store(st.subs.len(), Ordering::Relaxed);
        st.last_activity_ms = now;
        self.metrics.subscriptions.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Register a pattern subscription of `owner` in `cache`.
    pub(crate) fn psubscribe(
        &self,
        owner: &Arc<SubShared>,
        cache: &[u8],
        pattern: &[u8],
    ) -> Result<Arc<PatternSub>, TopicsError> {
        let max = self.config.max_patterns_per_cache;
        loop {
            let cs = self.cache_state(cache);
            let mut set = cs.patterns.write();
            if cs.dropped.load(Ordering::SeqCst) {
                continue;
            }
            if set.subs.len() >= max {
                self.metrics.rejected_limit.fetch_add(1, Ordering::Relaxed);
                return Err(TopicsError::TooManyPatterns { max });
            }
            let p = Arc::new(PatternSub {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                owner: owner.clone(),
                pattern: Bytes::copy_from_slice(pattern),
                cache: cs.clone(),
                alive: AtomicBool::new(true),
            });
            set.subs.insert(p.id, p.clone());
            *set.unique.entry(p.pattern.clone()).or_default() += 1;
            cs.pattern_epoch.fetch_add(1, Ordering::AcqRel);
            self.metrics
                .pattern_subscriptions
                .fetch_add(1, Ordering::Relaxed);
            return Ok(p);
        }
    }

    /// Remove a pattern subscription. Topics drop their cursors for it lazily (next publish or sweep);
    /// drain ignores them at once. Returns false if it was already gone.
    pub(crate) fn punsubscribe(&self, p: &Arc<PatternSub>) -> bool {
        let cs = &p.cache;
        let mut set = cs.patterns.write();
        if !p.alive.swap(false, Ordering::AcqRel) {
            return false;
        }
        set.subs.remove(&p.id);
        if let Some(n) = set.unique.get_mut(&p.pattern) {
            *n -= 1;
            if *n == 0 {
                set.unique.remove(&p.pattern);
            }
        }
        cs.pattern_epoch.fetch_add(1, Ordering::AcqRel);
        self.metrics
            .pattern_subscriptions
            .fetch_sub(1, Ordering::Relaxed);
        true
    }

    fn drop_cache(&self, cache: &[u8]) -> usize {
        let Some(cs) = self.caches.write().remove(cache) else {
            return 0;
        };
        cs.dropped.store(true, Ordering::SeqCst);
        let mut owners: Map<u64, Arc<SubShared>> = Map::default();
        let mut freed = 0usize;
        for shard in self.shards.iter() {
            let mut map = shard.topics.write();
            let Some(topics) = map.get_mut(cache) else {
                continue;
            };
            topics.retain(|_, t| {
                if !Arc::ptr_eq(&t.cache_state, &cs) {
                    return true;
                }
                let mut st = t.state.lock();
                for s in st.kill(&shard.counters) {
                    if s.pattern.is_none() {
                        self.metrics.subscriptions.fetch_sub(1, Ordering::Relaxed);
                    }
                    owners.entry(s.owner.id).or_insert_with(|| s.owner.clone());
                }
                t.direct.store(0, Ordering::Relaxed);
                freed += 1;
                false
            });
            if topics.is_empty() {
                map.remove(cache);
            }
        }
        {
            let mut set = cs.patterns.write();
            for (_, p) in set.subs.drain() {
                if p.alive.swap(false, Ordering::AcqRel) {
                    self.metrics
                        .pattern_subscriptions
                        .fetch_sub(1, Ordering::Relaxed);
                }
                owners.entry(p.owner.id).or_insert_with(|| p.owner.clone());
            }
            set.unique.clear();
            cs.pattern_epoch.fetch_add(1, Ordering::AcqRel);
        }
        cs.topic_count.fetch_sub(freed, Ordering::AcqRel);
        self.metrics
            .topics_freed
            .fetch_add(freed as u64, Ordering::Relaxed);
        for o in owners.into_values() {
            o.push_gone(cs.name.clone());
        }
        freed
    }

    fn shrink_replay(&self, wanted: u64) -> u64 {
        let mut freed = 0u64;
        // Each pass halves every ring; ~64 passes empty any ring of u64-sized byte counts.
        for _ in 0..64 {
            let mut any = false;
            for shard in self.shards.iter() {
                let map = shard.topics.read();
                for topics in map.values() {
                    for t in topics.values() {
                        let mut st = t.state.lock();
                        let (n, b) = st.shed_half(&shard.counters);
                        if n > 0 {
                            any = true;
                            freed += crate::retained_cost(n, b);
                        }
                    }
                }
                if freed >= wanted {
                    return freed;
                }
            }
            if !any {
                break;
            }
        }
        freed
    }

    fn sweep_idle(&self) -> usize {
        let now = self.now();
        let ttl = self.config.idle_topic_ttl.as_millis() as u64;
        let mut freed = 0usize;
        for shard in self.shards.iter() {
            let mut map = shard.topics.write();
            for topics in map.values_mut() {
                topics.retain(|_, t| {
                    let mut st = t.state.lock();
                    st.trim(now, &shard.counters);
                    st.refresh_patterns(t);
                    let idle = now.saturating_sub(st.last_activity_ms) >= ttl;
                    // An idle topic nobody subscribes to is freed with its ring: retained
                    // messages do not keep it (and its memory) alive past the idle TTL.
                    if st.subs.is_empty() && idle {
                        st.kill(&shard.counters);
                        t.cache_state.topic_count.fetch_sub(1, Ordering::AcqRel);
                        freed += 1;
                        false
                    } else {
                        true
                    }
                });
            }
            map.retain(|_, topics| !topics.is_empty());
        }
        self.metrics
            .topics_freed
            .fetch_add(freed as u64, Ordering::Relaxed);
        freed
    }
}
