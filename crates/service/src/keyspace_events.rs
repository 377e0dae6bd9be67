//! Redis keyspace notifications, the first consumer of the engine's change feed.
//!
//! ```text
//!   Shard write path ──▶ Feed ──▶ KeyspaceEvents::on_change      (under the shard lock:
//!                                  class filter, key copy, push    O(1), never waits)
//!                                        │ bounded queue (drops counted)
//!                                        ▼
//!                                 KeyspaceEvents::run (one task) ──▶ Topics::publish_if_subscribed
//!                                   __keyspace@<n>__:<key>  <event>   (cache = database 0's)
//!                                   __keyevent@<n>__:<event> <key>
//! ```
//!
//! `CONFIG SET notify-keyspace-events <classes>` (or `notifications.keyspace_events`) picks the
//! classes, with Redis's letters. While any class is on, this listener holds every cache's feed
//! active; with none on, writers pay the feed's one idle branch and nothing else.
//!
//! Why a queue and a task instead of publishing in the listener: the listener runs under the
//! shard lock, and a publish may wait for the topics engine's locks and ask the memory budget
//! for room, which may evict keys, which locks shards. The queue keeps writers O(1) whatever
//! subscribers do; when it is full (the publisher task is behind), new events are dropped and
//! counted (`keyspace_notifications_dropped`), never waited for. A subscriber that stops reading
//! is the topics engine's business: it lags behind the topic's ring and its connection is
//! disconnected at `limits.pubsub_reply_buffer_limit`, as for any channel.
//!
//! Channels live in the cache whose key changed, or for database n's cache (`<cache>-db<n>`,
//! `databases.rs`) in database 0's cache with `@<n>`, so a subscriber sees only its own cache's
//! keys, every database of it as in Redis, and subscribing to them needs the
//! same topic permission as any other channel. A topic is published to only when someone
//! listens (a subscriber or a matching pattern), so notifications create no topic per key.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::feed::class;
use ferrite_storage::{Change, ChangeEvent, ChangeListener, Store};
use ferrite_topics::{MessageKind, Topics};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Events published per lock of the queue: bounds how long the queue lock is held by the
/// publisher, and how many events a batch holds in memory.
const BATCH: usize = 256;

/// The error Redis gives for a class letter it does not know.
pub const ERR_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// Redis's `keyspaceEventsStringToFlags`: None for an unknown letter.
pub fn parse_classes(s: &[u8]) -> Option<u16> {
    let mut f = 0;
    for &c in s {
        f |= match c {
            b'A' => class::ALL,
            b'g' => class::GENERIC,
            b'$' => class::STRING,
            b'l' => class::LIST,
            b's' => class::SET,
            b'h' => class::HASH,
            b'z' => class::ZSET,
            b'x' => class::EXPIRED,
            b'e' => class::EVICTED,
            b'K' => class::KEYSPACE,
            b'E' => class::KEYEVENT,
            b't' => class::STREAM,
            b'm' => class::KEY_MISS,
            b'd' => class::MODULE,
            b'n' => class::NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// Redis's `keyspaceEventsFlagsToString` (what CONFIG GET shows): `A` for every class of it,
/// else the letters in Redis's order; then `K`, `E`, `m`. One difference: Redis drops `n` from
/// the string when `A` is shown (the flag stays on); here `n` is shown after `A`, so the value
/// read back sets what is in effect.
pub fn classes_string(f: u16) -> String {
    let mut s = String::new();
    if f & class::ALL == class::ALL {
        s.push('A');
        if f & class::NEW != 0 {
            s.push('n');
        }
    } else {
        for (bit, c) in [
            (class::GENERIC, 'g'),
            (class::STRING, '$'),
            (class::LIST, 'l'),
            (class::SET, 's'),
            (class::HASH, 'h'),
            (class::ZSET, 'z'),
            (class::EXPIRED, 'x'),
            (class::EVICTED, 'e'),
            (class::STREAM, 't'),
            (class::MODULE, 'd'),
            (class::NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (class::KEYSPACE, 'K'),
        (class::KEYEVENT, 'E'),
        (class::KEY_MISS, 'm'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Whether `f` makes anything be sent: a channel kind (K or E) and an event class.
fn sends(f: u16) -> bool {
    f & (class::KEYSPACE | class::KEYEVENT) != 0 && f & !(class::KEYSPACE | class::KEYEVENT) != 0
}

/// One event waiting to be published.
struct Note {
    cache: Arc<str>,
    key: Bytes,
    change: Change,
    /// Which of K / E were on when the event happened.
    channels: u16,
}

/// Counters for INFO and /metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NotifyStats {
    /// Events taken into the queue.
    pub queued: u64,
    /// Messages published (a K and an E message for one event count two), whether or not
    /// anyone was listening on that channel at that moment.
    pub published: u64,
    /// Events dropped because the queue was full, or refused by the topics engine (its limits
    /// or `maxmemory`).
    pub dropped: u64,
}

pub struct KeyspaceEvents {
    flags: AtomicU16,
    /// Whether this listener holds the store's feed (serialises CONFIG SETs).
    holding: Mutex<bool>,
    queue: Mutex<VecDeque<Note>>,
    capacity: usize,
    wake: Notify,
    queued: AtomicU64,
    published: AtomicU64,
    dropped: AtomicU64,
}

impl KeyspaceEvents {
    /// A listener with room for `capacity` waiting events, off until [`Self::set_classes`].
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(KeyspaceEvents {
            flags: AtomicU16::new(0),
            holding: Mutex::new(false),
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            wake: Notify::new(),
            queued: AtomicU64::new(0),
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// The classes now in effect.
    pub fn classes(&self) -> u16 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Set the classes (CONFIG SET). Turning every class off releases the caches' feeds, so
    /// writers go back to paying one branch.
    pub fn set_classes(&self, store: &Store, f: u16) {
        let mut holding = self.holding.lock();
        self.flags.store(f, Ordering::SeqCst);
        let want = sends(f);
        if want && !*holding {
            store.hold_feed();
        } else if !want && *holding {
            store.release_feed();
        }
        *holding = want;
    }

    pub fn stats(&self) -> NotifyStats {
        NotifyStats {
            queued: self.queued.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// The publisher: drains the queue into the topics engine until the server stops.
    pub async fn run(self: Arc<Self>, topics: Topics) {
        let mut batch: Vec<Note> = Vec::with_capacity(BATCH);
        let mut channel: Vec<u8> = Vec::new();
        loop {
            {
                let mut q = self.queue.lock();
                let n = q.len().min(BATCH);
                batch.extend(q.drain(..n));
            }
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            for note in batch.drain(..) {
                self.publish(&topics, &note, &mut channel);
            }
            // Let the connections that subscribed run between batches.
            tokio::task::yield_now().await;
        }
    }

    /// Redis's `notifyKeyspaceEvent`: the keyspace message, then the keyevent message.
    fn publish(&self, topics: &Topics, note: &Note, channel: &mut Vec<u8>) {
        // Database n's keys are announced as `@n` in database 0's cache: pub/sub does not
        // depend on the database, as in Redis (`databases.rs`).
        let (cache, db) = crate::databases::split_db(&note.cache);
        let cache = cache.as_bytes();
        let event = note.change.name().as_bytes();
        let mut ok = true;
        let prefix = |channel: &mut Vec<u8>, kind: &[u8]| {
            channel.clear();
            channel.extend_from_slice(kind);
            channel.push(b'@');
            channel.extend_from_slice(db.to_string().as_bytes());
            channel.extend_from_slice(b"__:");
        };
        if note.channels & class::KEYSPACE != 0 {
            prefix(channel, b"__keyspace");
            channel.extend_from_slice(&note.key);
            ok &= self.send(topics, cache, channel, event, MessageKind::Text);
        }
        if note.channels & class::KEYEVENT != 0 {
            prefix(channel, b"__keyevent");
            channel.extend_from_slice(event);
            let kind = if simdutf8::basic::from_utf8(&note.key).is_ok() {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            ok &= self.send(topics, cache, channel, &note.key, kind);
        }
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn send(
        &self,
        topics: &Topics,
        cache: &[u8],
        channel: &[u8],
        payload: &[u8],
        kind: MessageKind,
    ) -> bool {
        match topics.publish_if_subscribed(cache, channel, payload, kind, None) {
            Ok(_) => {
                self.published.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "keyspace notification not published");
                false
            }
        }
    }
}

impl ChangeListener for KeyspaceEvents {
    /// Under the shard lock: a class check, then (only for an event that will be sent) a copy
    /// of the key into the bounded queue.
    fn on_change(&self, ev: &ChangeEvent<'_>) {
        let f = self.flags.load(Ordering::Relaxed);
        if f & ev.change.class() == 0 {
            return;
        }
        let channels = f & (class::KEYSPACE | class::KEYEVENT);
        if channels == 0 {
            return;
        }
        let was_empty = {
            let mut q = self.queue.lock();
            if q.len() >= self.capacity {
                drop(q);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            q.push_back(Note {
                cache: ev.cache.clone(),
                key: Bytes::copy_from_slice(ev.key),
                change: ev.change,
                channels,
            });
            q.len() == 1
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        if was_empty {
            self.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_parse_and_print_like_redis() {
        assert_eq!(parse_classes(b""), Some(0));
        assert_eq!(parse_classes(b"x"), Some(class::EXPIRED));
        assert_eq!(parse_classes(b"KEA").map(classes_string).unwrap(), "AKE");
        assert_eq!(
            parse_classes(b"Eg$lshzxetd").map(classes_string).unwrap(),
            "AE"
        );
        assert_eq!(parse_classes(b"Ex$").map(classes_string).unwrap(), "$xE");
        assert_eq!(
            parse_classes(b"KEAmn").map(classes_string).unwrap(),
            "AnKEm"
        );
        assert_eq!(parse_classes(b"Kn").map(classes_string).unwrap(), "nK");
        assert_eq!(parse_classes(b"KEw"), None);
        assert_eq!(parse_classes(b"kea"), None, "letters are case-sensitive");
        // Every letter round-trips.
        for c in ferrite_config::KEYSPACE_EVENT_CLASSES.bytes() {
            let f = parse_classes(&[c]).unwrap();
            assert_eq!(parse_classes(classes_string(f).as_bytes()), Some(f), "{c}");
        }
    }

    #[test]
    fn only_a_channel_kind_and_a_class_together_send() {
        assert!(!sends(parse_classes(b"K").unwrap()));
        assert!(!sends(parse_classes(b"A").unwrap()));
        assert!(sends(parse_classes(b"Kg").unwrap()));
        assert!(sends(parse_classes(b"Em").unwrap()));
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let n = KeyspaceEvents::new(2);
        n.flags
            .store(parse_classes(b"KE$").unwrap(), Ordering::SeqCst);
        let cache: Arc<str> = Arc::from("c");
        for k in [&b"a"[..], b"b", b"c", b"d"] {
            n.on_change(&ChangeEvent {
                cache: &cache,
                key: k,
                change: Change::Set,
                expires_at: 0,
                value: ferrite_storage::ValueRef::Gone,
            });
        }
        // A class not asked for is not even queued.
        n.on_change(&ChangeEvent {
            cache: &cache,
            key: b"l",
            change: Change::LPush,
            expires_at: 0,
            value: ferrite_storage::ValueRef::Gone,
        });
        assert_eq!(
            n.stats(),
            NotifyStats {
                queued: 2,
                published: 0,
                dropped: 2
            }
        );
        let keys: Vec<_> = n.queue.lock().iter().map(|x| x.key.clone()).collect();
        assert_eq!(keys, [&b"a"[..], b"b"]);
    }
}
