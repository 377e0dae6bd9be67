//! Messages, events, results and errors: the engine's protocol-neutral vocabulary.

use std::sync::Arc;

use bytes::Bytes;

/// Whether a payload was published as text or binary (Momento keeps the distinction; RESP is always binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (Momento `text`).
    Text,
    /// Opaque bytes (Momento `binary`, every RESP publish).
    Binary,
}

/// One published message. Shared (`Arc`) by the ring and every subscriber that drains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Sequence number in the topic, from 1, no gaps within a page.
    pub seq: u64,
    /// The topic incarnation (`sequence_page`); larger for every new incarnation.
    pub page: u64,
    /// The payload (one copy, shared).
    pub payload: Bytes,
    /// Text or binary.
    pub kind: MessageKind,
    /// The publisher's token id; empty when none.
    pub publisher_id: Arc<str>,
    /// Engine clock at publish, in milliseconds.
    pub published_at_ms: u64,
    /// The cache's publish order: every publish in a cache takes the next stamp (across its
    /// topics), so a subscriber's drain can hand out messages of several topics in the order
    /// they were published (Redis delivers a connection's messages in publish order).
    pub stamp: u64,
}

/// Something a [`crate::Subscriber`] drains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A message on a topic this subscriber follows, directly (`pattern: None`) or through a pattern.
    Message {
        /// Cache the topic lives in.
        cache: Bytes,
        /// Topic (channel) name.
        topic: Bytes,
        /// The pattern subscription that matched (Redis `pmessage`), or `None` for a direct subscription.
        pattern: Option<Bytes>,
        /// The message.
        msg: Arc<Message>,
    },
    /// Messages were skipped: `last_seq + 1 .. new_seq` will never arrive (or the page changed).
    Discontinuity {
        /// Cache the topic lives in.
        cache: Bytes,
        /// Topic name.
        topic: Bytes,
        /// The pattern subscription concerned, if any.
        pattern: Option<Bytes>,
        /// Last sequence the subscriber had on this page (0 when unknown, e.g. another page).
        last_seq: u64,
        /// The next sequence number it will receive.
        new_seq: u64,
        /// The current page.
        page: u64,
    },
    /// The cache was deleted or flushed (`Topics::drop_cache`): every subscription in it has ended.
    CacheGone {
        /// The cache.
        cache: Bytes,
    },
}

/// Result of [`crate::Topics::publish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// Sequence number given to the message.
    pub seq: u64,
    /// Page of the topic.
    pub page: u64,
    /// Subscriptions (direct + pattern) that will be offered it: Redis `PUBLISH`'s reply.
    pub receivers: usize,
}

/// Where to resume a subscription: the next sequence wanted (`last seen + 1`) on `page`.
///
/// Page 0 means the topic's current page (Momento's "not provided"). On the current page, a
/// sequence still retained replays from there; one already trimmed gives a discontinuity
/// (`last_seq` = the one before it) and what the window still holds; any other resume point (a
/// page the topic no longer has, a sequence it never reached) gives a discontinuity with
/// `last_seq` 0 (unknown) and the whole window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    /// First sequence number wanted.
    pub seq: u64,
    /// Page it belongs to (0: the current one).
    pub page: u64,
}

/// Where a new subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Only messages published from now on (Redis's SUBSCRIBE).
    Live,
    /// Up to this many of the newest retained messages, then live: Momento's "begin with the
    /// latest messages" for a subscription without a resume point (`TopicsConfig::subscribe_backlog`).
    Latest(u64),
    /// Resume at a sequence number (see [`Resume`]).
    At(Resume),
}

impl From<Option<Resume>> for Start {
    fn from(r: Option<Resume>) -> Self {
        r.map_or(Start::Live, Start::At)
    }
}

/// Result of [`crate::Subscriber::subscribe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscribed {
    /// Current page of the topic.
    pub page: u64,
    /// Sequence number of the first message the cursor will deliver.
    pub next_seq: u64,
    /// False when this subscriber already had the subscription (a resume then repositions it).
    pub new: bool,
}

/// A point-in-time view of one topic (tests, admin, INFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    /// Current page.
    pub page: u64,
    /// Sequence the next publish will get.
    pub next_seq: u64,
    /// Oldest retained sequence (== `next_seq` when the ring is empty).
    pub oldest_seq: u64,
    /// Messages in the ring.
    pub retained_messages: usize,
    /// Payload bytes in the ring.
    pub retained_bytes: usize,
    /// Direct subscriptions.
    pub subscribers: usize,
    /// Pattern cursors currently attached.
    pub pattern_cursors: usize,
}

/// Errors with the limit that was hit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopicsError {
    /// The memory budget is spent even after trimming replay windows (and evicting keys, under
    /// an evicting policy).
    #[error("command not allowed when used memory > 'maxmemory'")]
    OutOfMemory,
    /// Payload larger than `max_message_bytes`.
    #[error("message of {size} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// Payload size.
        size: usize,
        /// Configured limit.
        max: usize,
    },
    /// The topic already has `max_subscribers_per_topic` direct subscriptions.
    #[error("topic subscription limit exceeded: at most {max} subscribers per topic")]
    TooManySubscribers {
        /// Configured limit.
        max: usize,
    },
    /// The cache already has `max_topics_per_cache` topics.
    #[error("topic limit exceeded: at most {max} topics per cache")]
    TooManyTopics {
        /// Configured limit.
        max: usize,
    },
    /// The cache already has `max_patterns_per_cache` pattern subscriptions.
    #[error("pattern subscription limit exceeded: at most {max} pattern subscriptions per cache")]
    TooManyPatterns {
        /// Configured limit.
        max: usize,
    },
}
