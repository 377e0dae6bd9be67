//! The change feed: which events the engine's write paths emit, in which order, and that
//! nothing is emitted (or built) while no one holds the feed.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::value::HashValue;
use ferrite_storage::{
    Change, ChangeEvent, ChangeListener, ManualClock, Store, StoreConfig, Value, ValueRef,
};
use parking_lot::Mutex;

/// (cache, key, event name, expires_at)
type Seen = Vec<(String, Vec<u8>, &'static str, u64)>;

#[derive(Default)]
struct Recorder(Mutex<Seen>);

impl ChangeListener for Recorder {
    fn on_change(&self, ev: &ChangeEvent<'_>) {
        self.0.lock().push((
            ev.cache.to_string(),
            ev.key.to_vec(),
            ev.change.name(),
            ev.expires_at,
        ));
    }
}

impl Recorder {
    fn take(&self) -> Seen {
        std::mem::take(&mut *self.0.lock())
    }
    fn names(&self) -> Vec<&'static str> {
        self.take().into_iter().map(|e| e.2).collect()
    }
}

fn store(cfg: StoreConfig) -> (Arc<Store>, ManualClock, Arc<Recorder>) {
    let clock = ManualClock::new(1_000_000);
    let store = Store::new(cfg, Arc::new(clock.clone()));
    let rec = Arc::new(Recorder::default());
    store.add_listener(rec.clone());
    (store, clock, rec)
}

#[test]
fn nothing_is_emitted_while_nobody_holds_the_feed() {
    let (store, clock, rec) = store(StoreConfig::default());
    let c = store.get_or_create("default");
    let now = clock.now();
    let mut s = c.lock_key(b"k");
    s.set_str(b"k", b"v", now + 10, now);
    s.remove(b"k", now);
    assert!(s.get(b"missing", now).is_none());
    drop(s);
    c.flush();
    assert!(rec.take().is_empty());
}

trait Now {
    fn now(&self) -> u64;
}
impl Now for ManualClock {
    fn now(&self) -> u64 {
        ferrite_storage::Clock::now_ms(self)
    }
}

#[test]
fn string_writes_report_new_set_expire_in_redis_order() {
    let (store, clock, rec) = store(StoreConfig::default());
    store.hold_feed();
    let c = store.get_or_create("default");
    let now = clock.now();
    c.lock_key(b"k").set_str(b"k", b"v", 0, now);
    assert_eq!(rec.names(), ["new", "set"]);
    c.lock_key(b"k").set_str(b"k", b"w", now + 5000, now);
    let seen = rec.take();
    assert_eq!(
        seen.iter().map(|e| e.2).collect::<Vec<_>>(),
        ["set", "expire"]
    );
    assert_eq!(seen[1].3, now + 5000, "the event carries the new TTL");
    // KEEPTTL-style: no expire event.
    c.lock_key(b"k")
        .set_str_with(b"k", b"x", now + 5000, now, false);
    assert_eq!(rec.names(), ["set"]);
    // A big string goes to the map: same events.
    let big = vec![7u8; 10_000];
    c.lock_key(b"big").set_str(b"big", &big, 0, now);
    assert_eq!(rec.names(), ["new", "set"]);
    assert!(c.lock_key(b"k").delete(b"k", now));
    assert!(!c.lock_key(b"k").delete(b"k", now));
    assert_eq!(rec.names(), ["del"]);
    c.lock_key(b"a").append_str(b"a", b"xy", now).unwrap();
    c.lock_key(b"a").setrange_str(b"a", 1, b"z", now).unwrap();
    assert_eq!(rec.names(), ["new", "append", "setrange"]);
}

#[test]
fn in_place_changes_report_what_the_caller_says_then_del_when_emptied() {
    let (store, clock, rec) = store(StoreConfig::default());
    store.hold_feed();
    let c = store.get_or_create("default");
    let now = clock.now();
    {
        let mut s = c.lock_key(b"h");
        let mut e = s.get_or_insert_with(b"h", now, || Value::Hash(Box::default()));
        if let Value::Hash(h) = &mut e.value {
            h.insert(Bytes::from_static(b"f"), Bytes::from_static(b"1"));
        }
        e.changed(Change::HSet);
    }
    assert_eq!(rec.names(), ["new", "hset"]);
    {
        // Borrowed mutably but unchanged: nothing.
        let mut s = c.lock_key(b"h");
        let _e = s.get_mut(b"h", now).unwrap();
    }
    assert!(rec.take().is_empty());
    {
        let mut s = c.lock_key(b"h");
        let mut e = s.get_mut(b"h", now).unwrap();
        if let Value::Hash(h) = &mut e.value {
            h.remove(&b"f"[..]);
        }
        e.changed(Change::HDel);
    }
    assert_eq!(rec.names(), ["hdel", "del"]);
    {
        // Created and left empty without a change: it never existed for anyone.
        let mut s = c.lock_key(b"e");
        let _e = s.get_or_insert_with(b"e", now, || Value::Hash(Box::<HashValue>::default()));
    }
    assert!(rec.take().is_empty());
    // remove_as / insert_as: RENAME's pair.
    c.lock_key(b"x").set_str(b"x", b"1", 0, now);
    rec.take();
    let e = c
        .lock_key(b"x")
        .remove_as(b"x", now, Change::RenameFrom)
        .unwrap();
    c.lock_key(b"y")
        .insert_as(b"y", e.value, e.expires_at, now, Change::RenameTo);
    assert_eq!(rec.names(), ["rename_from", "new", "rename_to"]);
}

#[test]
fn lazy_and_active_expiry_report_expired_and_misses_keymiss() {
    let (store, clock, rec) = store(StoreConfig::default());
    store.hold_feed();
    let c = store.get_or_create("default");
    let now = clock.now();
    c.lock_key(b"lazy").set_str(b"lazy", b"v", now + 10, now);
    for i in 0..50u32 {
        let k = format!("active{i}");
        c.lock_key(k.as_bytes())
            .set_str(k.as_bytes(), b"v", now + 10, now);
    }
    let big = vec![1u8; 8000];
    c.lock_key(b"bigttl")
        .set_str(b"bigttl", &big, now + 10, now);
    rec.take();
    clock.advance(20);
    let now = clock.now();
    assert!(c.lock_key(b"lazy").get(b"lazy", now).is_none());
    assert_eq!(rec.names(), ["expired", "keymiss"]);
    let expired = store.active_expire_tick();
    assert_eq!(expired, 51);
    let seen = rec.take();
    assert_eq!(seen.len(), 51);
    assert!(seen.iter().all(|e| e.2 == "expired" && e.0 == "default"));
    assert!(seen.iter().any(|e| e.1 == b"bigttl"));
}

#[test]
fn eviction_reports_every_evicted_key() {
    let (store, clock, rec) = store(StoreConfig {
        maxmemory: 256 * 1024,
        shards: 2,
        ..StoreConfig::default()
    });
    store.hold_feed();
    let c = store.get_or_create("default");
    let now = clock.now();
    for i in 0..20_000u32 {
        let k = format!("key:{i}");
        store.ensure_memory(200).unwrap();
        c.lock_key(k.as_bytes())
            .set_str(k.as_bytes(), &[b'x'; 100], 0, now);
    }
    // A few large map entries too.
    for i in 0..20u32 {
        let k = format!("map:{i}");
        store.ensure_memory(10_000).unwrap();
        c.lock_key(k.as_bytes())
            .set_str(k.as_bytes(), &[b'y'; 9000], 0, now);
    }
    let evicted = rec.take().into_iter().filter(|e| e.2 == "evicted").count() as u64;
    assert!(evicted > 0);
    assert_eq!(evicted, store.stats().evicted);
}

#[test]
fn flush_and_cache_deletion_fail_watches_and_writes_elsewhere_do_not() {
    let (store, clock, rec) = store(StoreConfig::default());
    let a = store.get_or_create("a");
    let b = store.get_or_create("b");
    let now = clock.now();
    // A WATCH alone makes its cache's feed active (and only its cache's).
    let t = a.watch().watch(b"k", true);
    b.lock_key(b"k").set_str(b"k", b"1", 0, now);
    assert!(a.watch().still_valid(&t), "another cache's write");
    assert!(a.lock_key(b"zz").get(b"zz", now).is_none());
    assert!(a.watch().still_valid(&t), "a miss is not a change");
    let names: Vec<_> = rec.take().into_iter().map(|e| (e.0, e.2)).collect();
    assert_eq!(names, [("a".to_string(), "keymiss")]);
    a.lock_key(b"k").set_str(b"k", b"1", 0, now);
    assert!(!a.watch().still_valid(&t));
    a.watch().unwatch(&t);

    let t = a.watch().watch(b"k", true);
    a.flush();
    assert!(!a.watch().still_valid(&t));
    a.watch().unwatch(&t);

    // Expiry of a watched key fails the watch (as in Redis 7).
    a.lock_key(b"k").set_str(b"k", b"1", now + 5, now);
    let t = a.watch().watch(b"k", true);
    clock.advance(10);
    assert!(a.lock_key(b"k").get(b"k", clock.now()).is_none());
    assert!(!a.watch().still_valid(&t));
    a.watch().unwatch(&t);
    rec.take();

    // Holding the feed per cache (a blocked client) activates that cache only.
    b.feed().hold();
    a.lock_key(b"k").set_str(b"k", b"1", 0, clock.now());
    b.lock_key(b"k").set_str(b"k", b"2", 0, clock.now());
    let caches: Vec<_> = rec.take().into_iter().map(|e| e.0).collect();
    assert!(caches.iter().all(|c| c == "b"), "{caches:?}");
    b.feed().release();

    // A store-wide hold reaches caches created after it, and a release ends it.
    store.hold_feed();
    let c = store.get_or_create("c");
    c.lock_key(b"k").set_str(b"k", b"1", 0, clock.now());
    assert_eq!(rec.names(), ["new", "set"]);
    store.release_feed();
    c.lock_key(b"k").set_str(b"k", b"2", 0, clock.now());
    assert!(rec.take().is_empty());
}

#[test]
fn events_carry_the_value_after_the_change() {
    struct Kinds(Mutex<Vec<(&'static str, bool)>>);
    impl ChangeListener for Kinds {
        fn on_change(&self, ev: &ChangeEvent<'_>) {
            self.0
                .lock()
                .push((ev.change.name(), ev.value.is_poppable()));
            if let (Change::Set, ValueRef::Str(v)) = (ev.change, ev.value) {
                assert_eq!(v, b"val");
            }
        }
    }
    let clock = ManualClock::new(1);
    let store = Store::new(StoreConfig::default(), Arc::new(clock));
    let k = Arc::new(Kinds(Mutex::new(Vec::new())));
    store.add_listener(k.clone());
    store.hold_feed();
    let c = store.get_or_create("default");
    c.lock_key(b"s").set_str(b"s", b"val", 0, 1);
    c.lock_key(b"l")
        .insert_as(b"l", Value::List(Box::default()), 0, 1, Change::RenameTo);
    let seen = k.0.lock().clone();
    assert_eq!(
        seen,
        [
            ("new", false),
            ("set", false),
            ("new", false),
            ("rename_to", true)
        ]
    );
}
