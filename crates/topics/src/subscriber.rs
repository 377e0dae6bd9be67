//! A connection's (or stream's) set of subscriptions, with one ready list and one wake-up.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::{Inner, Map, PatternSub, SubShared, Subscription};
use crate::types::{Event, Start, Subscribed, TopicsError};

/// Many subscriptions (direct and pattern, in any caches) behind one wait point.
///
/// Publishers push a subscription onto this subscriber's ready list (once, until drained) and wake it;
/// [`Subscriber::drain`] walks only the ready list, so its cost is O(ready), not O(subscriptions).
/// A subscriber that never drains costs one relaxed atomic load per message on each of its topics.
///
/// Dropping a `Subscriber` removes all its subscriptions.
pub struct Subscriber {
    engine: Arc<Inner>,
    pub(crate) shared: Arc<SubShared>,
    direct: Map<Bytes, Map<Bytes, Arc<Subscription>>>,
    patterns: Map<Bytes, Map<Bytes, Arc<PatternSub>>>,
    n_direct: usize,
    n_patterns: usize,
}

/// A clonable handle to wait on a [`Subscriber`] without borrowing it (for `tokio::select!` loops
/// that also need `&mut Subscriber` to subscribe/unsubscribe).
#[derive(Clone)]
pub struct Waiter {
    shared: Arc<SubShared>,
}

impl Waiter {
    /// Resolve when the subscriber may have events (returns at once if some are ready).
    /// May wake spuriously; `drain` then returns 0. Cancel-safe.
    pub async fn wait(&self) {
        if self.shared.has_ready() {
            return;
        }
        self.shared.notify.notified().await;
    }
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.shared.id)
            .field("channels", &self.n_direct)
            .field("patterns", &self.n_patterns)
            .finish()
    }
}

impl Subscriber {
    pub(crate) fn new(engine: Arc<Inner>) -> Self {
        let id = engine.next_id.fetch_add(1, Ordering::Relaxed);
        engine.metrics.subscribers.fetch_add(1, Ordering::Relaxed);
        Subscriber {
            engine,
            shared: Arc::new(SubShared::new(id)),
            direct: Map::default(),
            patterns: Map::default(),
            n_direct: 0,
            n_patterns: 0,
        }
    }

    /// Engine-unique id of this subscriber.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Subscribe to `topic` in `cache` (creating the topic if needed).
    ///
    /// `start` (an `Option<Resume>` converts: `None` is [`Start::Live`]): live only, the newest
    /// `n` retained messages first (Momento's "resume at 0"), or a resume point with
    /// [`crate::Resume`]'s rules.
    ///
    /// Already subscribed: a resume point repositions the cursor; otherwise nothing changes.
    pub fn subscribe(
        &mut self,
        cache: &[u8],
        topic: &[u8],
        start: impl Into<Start>,
    ) -> Result<Subscribed, TopicsError> {
        let start = start.into();
        if let Some(existing) = self.direct.get(cache).and_then(|m| m.get(topic)).cloned() {
            // Subscribing again repositions only to an explicit resume point.
            let r = match start {
                Start::At(_) => self.engine.reposition(&existing, start),
                Start::Live | Start::Latest(_) => self.engine.peek(&existing),
            };
            if let Some((c, page)) = r {
                return Ok(Subscribed {
                    page,
                    next_seq: c.next_seq,
                    new: false,
                });
            }
            // Stale: its cache was dropped and we have not drained the CacheGone yet.
            self.remove_direct(cache, topic);
        }
        let (sub, cursor, page) = self.engine.subscribe(&self.shared, cache, topic, start)?;
        self.direct
            .entry(sub.topic.cache.clone())
            .or_default()
            .insert(sub.topic.name.clone(), sub);
        self.n_direct += 1;
        Ok(Subscribed {
            page,
            next_seq: cursor.next_seq,
            new: true,
        })
    }

    /// Unsubscribe from one topic. Returns false if not subscribed.
    pub fn unsubscribe(&mut self, cache: &[u8], topic: &[u8]) -> bool {
        match self.remove_direct(cache, topic) {
            Some(sub) => {
                self.engine.unsubscribe(&sub);
                true
            }
            None => false,
        }
    }

    /// Unsubscribe from every topic; returns the (cache, topic) pairs removed.
    pub fn unsubscribe_all(&mut self) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::with_capacity(self.n_direct);
        for (cache, m) in std::mem::take(&mut self.direct) {
            for (topic, sub) in m {
                self.engine.unsubscribe(&sub);
                out.push((cache.clone(), topic));
            }
        }
        self.n_direct = 0;
        out
    }

    /// Subscribe to the Redis glob `pattern` over the topics of `cache`. Returns false if already
    /// subscribed to it. Matching topics get a cursor lazily, at their next publish.
    pub fn psubscribe(&mut self, cache: &[u8], pattern: &[u8]) -> Result<bool, TopicsError> {
        if let Some(p) = self.patterns.get(cache).and_then(|m| m.get(pattern)) {
            if p.alive.load(Ordering::Acquire) {
                return Ok(false);
            }
            self.remove_pattern(cache, pattern);
        }
        let p = self.engine.psubscribe(&self.shared, cache, pattern)?;
        self.patterns
            .entry(p.cache.name.clone())
            .or_default()
            .insert(p.pattern.clone(), p);
        self.n_patterns += 1;
        Ok(true)
    }

    /// Remove one pattern subscription. Returns false if not subscribed to it.
    pub fn punsubscribe(&mut self, cache: &[u8], pattern: &[u8]) -> bool {
        match self.remove_pattern(cache, pattern) {
            Some(p) => {
                self.engine.punsubscribe(&p);
                true
            }
            None => false,
        }
    }

    /// Remove every pattern subscription; returns the (cache, pattern) pairs removed.
    pub fn punsubscribe_all(&mut self) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::with_capacity(self.n_patterns);
        for (cache, m) in std::mem::take(&mut self.patterns) {
            for (pattern, p) in m {
                self.engine.punsubscribe(&p);
                out.push((cache.clone(), pattern));
            }
        }
        self.n_patterns = 0;
        out
    }

    /// Direct + pattern subscriptions (the count in Redis's subscribe/unsubscribe replies).
    pub fn subscription_count(&self) -> usize {
        self.n_direct + self.n_patterns
    }

    /// Direct subscriptions.
    pub fn channel_count(&self) -> usize {
        self.n_direct
    }

    /// Pattern subscriptions.
    pub fn pattern_count(&self) -> usize {
        self.n_patterns
    }

    /// Whether this subscriber has a direct subscription to `topic` in `cache`.
    pub fn is_subscribed(&self, cache: &[u8], topic: &[u8]) -> bool {
        self.direct
            .get(cache)
            .is_some_and(|m| m.contains_key(topic))
    }

    /// The (cache, topic) pairs subscribed directly. Unordered.
    pub fn channels(&self) -> Vec<(Bytes, Bytes)> {
        self.direct
            .iter()
            .flat_map(|(c, m)| m.keys().map(move |t| (c.clone(), t.clone())))
            .collect()
    }

    /// The (cache, pattern) pairs subscribed. Unordered.
    pub fn patterns(&self) -> Vec<(Bytes, Bytes)> {
        self.patterns
            .iter()
            .flat_map(|(c, m)| m.keys().map(move |p| (c.clone(), p.clone())))
            .collect()
    }

    /// A handle to wait on without borrowing the subscriber.
    pub fn waiter(&self) -> Waiter {
        Waiter {
            shared: self.shared.clone(),
        }
    }

    /// Resolve when events may be ready (at once if some are). See [`Waiter::wait`].
    pub async fn wait(&self) {
        if self.shared.has_ready() {
            return;
        }
        self.shared.notify.notified().await;
    }

    /// Whether `drain` would find something to do.
    pub fn has_ready(&self) -> bool {
        self.shared.has_ready()
    }

    /// Append up to `max_events` ready events to `out` without blocking; returns how many.
    ///
    /// Per subscription, events come in sequence order. A subscription whose cursor fell behind the
    /// replay window yields a `Discontinuity` and resumes at the oldest retained message. When the
    /// budget runs out mid-topic the subscription goes to the back of the ready list (fairness).
    /// `CacheGone` events come first and are not limited by `max_events`.
    pub fn drain(&mut self, max_events: usize, out: &mut Vec<Event>) -> usize {
        let start = out.len();
        let gone = std::mem::take(&mut self.shared.ready.lock().gone);
        for cache in gone {
            self.forget_cache(&cache);
            out.push(Event::CacheGone { cache });
        }
        let (mut delivered, mut gaps) = (0u64, 0u64);
        // Subscriptions this batch took messages from; with more than one, the batch is put
        // back in publish order below.
        let mut sources = 0usize;
        while out.len() - start < max_events {
            let Some(sub) = self.shared.ready.lock().queue.pop_front() else {
                break;
            };
            // Clear before reading, so a publish after our read queues us again.
            sub.queued.store(false, Ordering::Release);
            let budget = max_events - (out.len() - start);
            let t = &sub.topic;
            let st = t.state.lock();
            if st.dead || !sub.is_attached() {
                continue;
            }
            if sub
                .pattern
                .as_ref()
                .is_some_and(|p| !p.alive.load(Ordering::Acquire))
            {
                continue;
            }
            let mut cur = sub.cursor.lock();
            let mut n = 0usize;
            if let Some(g) = cur.pending.take() {
                out.push(Event::Discontinuity {
                    cache: t.cache.clone(),
                    topic: t.name.clone(),
                    pattern: sub.pattern_bytes(),
                    last_seq: g.last_seq,
                    new_seq: g.new_seq,
                    page: g.page,
                });
                n += 1;
                gaps += 1;
            }
            let oldest = st.oldest_seq();
            if n < budget && cur.next_seq < oldest {
                out.push(Event::Discontinuity {
                    cache: t.cache.clone(),
                    topic: t.name.clone(),
                    pattern: sub.pattern_bytes(),
                    last_seq: cur.next_seq.saturating_sub(1),
                    new_seq: oldest,
                    page: st.page,
                });
                cur.next_seq = oldest;
                n += 1;
                gaps += 1;
            }
            if n < budget && cur.next_seq >= oldest {
                sources += 1;
                let skip = (cur.next_seq - oldest) as usize;
                let pattern = sub.pattern_bytes();
                for m in st.ring.range(skip..).take(budget - n) {
                    out.push(Event::Message {
                        cache: t.cache.clone(),
                        topic: t.name.clone(),
                        pattern: pattern.clone(),
                        msg: m.clone(),
                    });
                    cur.next_seq = m.seq + 1;
                    delivered += 1;
                }
            }
            if cur.pending.is_some() || cur.next_seq < st.next_seq {
                sub.requeue();
            }
        }
        if sources > 1 && gaps == 0 {
            in_publish_order(&mut out[start..]);
        }
        let m = &self.engine.metrics;
        if delivered > 0 {
            m.delivered.fetch_add(delivered, Ordering::Relaxed);
        }
        if gaps > 0 {
            m.discontinuities.fetch_add(gaps, Ordering::Relaxed);
        }
        out.len() - start
    }

    fn remove_direct(&mut self, cache: &[u8], topic: &[u8]) -> Option<Arc<Subscription>> {
        let m = self.direct.get_mut(cache)?;
        let sub = m.remove(topic)?;
        if m.is_empty() {
            self.direct.remove(cache);
        }
        self.n_direct -= 1;
        Some(sub)
    }

    fn remove_pattern(&mut self, cache: &[u8], pattern: &[u8]) -> Option<Arc<PatternSub>> {
        let m = self.patterns.get_mut(cache)?;
        let p = m.remove(pattern)?;
        if m.is_empty() {
            self.patterns.remove(cache);
        }
        self.n_patterns -= 1;
        Some(p)
    }

    /// Forget subscriptions ended by `drop_cache` (new ones in the cache's next incarnation stay).
    fn forget_cache(&mut self, cache: &[u8]) {
        if let Some(m) = self.direct.get_mut(cache) {
            let before = m.len();
            m.retain(|_, s| s.is_attached());
            self.n_direct -= before - m.len();
            if m.is_empty() {
                self.direct.remove(cache);
            }
        }
        if let Some(m) = self.patterns.get_mut(cache) {
            let before = m.len();
            m.retain(|_, p| p.alive.load(Ordering::Acquire));
            self.n_patterns -= before - m.len();
            if m.is_empty() {
                self.patterns.remove(cache);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn ready_len(&self) -> usize {
        self.shared.ready.lock().queue.len()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let queued = {
            let mut r = self.shared.ready.lock();
            r.closed = true;
            r.gone.clear();
            std::mem::take(&mut r.queue)
        };
        drop(queued);
        for (_, m) in std::mem::take(&mut self.direct) {
            for (_, sub) in m {
                self.engine.unsubscribe(&sub);
            }
        }
        for (_, m) in std::mem::take(&mut self.patterns) {
            for (_, p) in m {
                self.engine.punsubscribe(&p);
            }
        }
        self.engine
            .metrics
            .subscribers
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Order a drained batch by publish stamp, so messages of several topics come out as they were
/// published (PSUBSCRIBE `__key*__:*` sees a key's `__keyspace` message, then its `__keyevent`
/// message, then the next event's). Each subscription's messages are already in order and
/// keep it; equal stamps (one message through a channel and a pattern) keep the drain's order.
///
/// An insertion sort: stable, in place (no allocation on the delivery path), O(n) for the usual
/// nearly sorted batch, and at most `max_events`² / 4 moves otherwise. Only batches of
/// messages reach it (a batch with a gap or a `CacheGone` is left as drained).
fn in_publish_order(events: &mut [Event]) {
    let stamp = |e: &Event| match e {
        Event::Message { msg, .. } => Some(msg.stamp),
        _ => None,
    };
    if events.iter().any(|e| stamp(e).is_none()) {
        return;
    }
    for i in 1..events.len() {
        let mut j = i;
        while j > 0 && stamp(&events[j - 1]) > stamp(&events[j]) {
            events.swap(j - 1, j);
            j -= 1;
        }
    }
}
