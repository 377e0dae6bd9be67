//! Redis keyspace notifications against the real server: `CONFIG SET notify-keyspace-events`,
//! every class, Redis's event names and order, expiry and eviction, events caused by gRPC and
//! HTTP writes, cache isolation, and a stalled subscriber that must not slow writers.
//!
//! Notifications come from the engine's change feed (crates/storage/src/feed.rs), not from the
//! RESP command code, which is why a Momento SDK write produces them too.

mod common;
mod grpc_util;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use grpc_util::*;

const C: &str = "default";
/// Long enough for anything a loaded machine does; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(150);

/// A pattern subscriber on every notification channel, reading (channel, payload) pairs.
struct Events {
    stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = redis::Msg> + Send>>,
}

impl Events {
    async fn new(srv: &TestServer, pattern: &str) -> Self {
        Self::at(&srv.url(), pattern).await
    }

    async fn at(url: &str, pattern: &str) -> Self {
        let client = redis::Client::open(url).unwrap();
        let mut ps = client.get_async_pubsub().await.unwrap();
        if pattern.contains('*') {
            ps.psubscribe(pattern).await.unwrap();
        } else {
            ps.subscribe(pattern).await.unwrap();
        }
        Events {
            stream: Box::pin(ps.into_on_message()),
        }
    }

    async fn next(&mut self) -> (String, String) {
        let m = tokio::time::timeout(PATIENCE, self.stream.next())
            .await
            .expect("a notification within the patience")
            .expect("subscription open");
        (
            m.get_channel_name().to_string(),
            m.get_payload::<String>().unwrap(),
        )
    }

    /// Exactly these notifications, in this order, and nothing after them.
    async fn expect(&mut self, want: &[(&str, &str)]) {
        let mut got = Vec::new();
        for _ in want {
            got.push(self.next().await);
        }
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .collect();
        assert_eq!(got, want);
        self.quiet().await;
    }

    /// Nothing arrives for a while.
    async fn quiet(&mut self) {
        if let Ok(Some(m)) = tokio::time::timeout(QUIET, self.stream.next()).await {
            panic!(
                "unexpected notification {} {:?}",
                m.get_channel_name(),
                m.get_payload::<String>()
            );
        }
    }
}

/// Key events (`__keyevent@0__:<event>` with the key) for a list of (event, key).
fn ev<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    pairs
        .iter()
        .map(|(e, k)| (format!("__keyevent@0__:{e}"), *k))
        .collect()
}

async fn expect_ev(sub: &mut Events, pairs: &[(&str, &str)]) {
    let v = ev(pairs);
    let want: Vec<(&str, &str)> = v.iter().map(|(c, k)| (c.as_str(), *k)).collect();
    sub.expect(&want).await;
}

async fn set_classes(c: &mut redis::aio::MultiplexedConnection, classes: &str) {
    let _: () = q(c, &["CONFIG", "SET", "notify-keyspace-events", classes])
        .await
        .unwrap();
}

async fn run(c: &mut redis::aio::MultiplexedConnection, cmd: &[&str]) {
    let _: redis::Value = q(c, cmd).await.unwrap();
}

#[tokio::test]
async fn config_set_and_get_speak_redis() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let get = |c: &mut redis::aio::MultiplexedConnection| {
        let mut c = c.clone();
        async move {
            let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "notify-keyspace-events"])
                .await
                .unwrap();
            v[1].clone()
        }
    };
    assert_eq!(get(&mut c).await, "", "off by default");
    for (set, shown) in [
        ("KEA", "AKE"),
        ("Ex$", "$xE"),
        ("Eg$lshzxetd", "AE"),
        ("KEAm", "AKEm"),
        ("Kn", "nK"),
        ("", ""),
    ] {
        set_classes(&mut c, set).await;
        assert_eq!(get(&mut c).await, shown, "{set}");
    }
    let e = q::<()>(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEw"])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("Invalid event class character"),
        "{e}"
    );
    // A refused value changes nothing (CONFIG SET is all or nothing).
    assert_eq!(get(&mut c).await, "");
}

#[tokio::test]
async fn keyspace_then_keyevent_in_redis_order() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    set_classes(&mut c, "KEA").await;
    let mut sub = Events::new(&srv, "__key*__:*").await;
    run(&mut c, &["SET", "k", "v", "EX", "100"]).await;
    sub.expect(&[
        ("__keyspace@0__:k", "set"),
        ("__keyevent@0__:set", "k"),
        ("__keyspace@0__:k", "expire"),
        ("__keyevent@0__:expire", "k"),
    ])
    .await;
    // Only K: keyspace channels only; only E: keyevent channels only.
    set_classes(&mut c, "K$").await;
    run(&mut c, &["SET", "k", "v"]).await;
    sub.expect(&[("__keyspace@0__:k", "set")]).await;
    set_classes(&mut c, "E$").await;
    run(&mut c, &["SET", "k", "v"]).await;
    sub.expect(&[("__keyevent@0__:set", "k")]).await;
    // A class without K or E sends nothing; K/E without a class neither.
    for classes in ["A", "KE"] {
        set_classes(&mut c, classes).await;
        run(&mut c, &["SET", "k", "v"]).await;
        run(&mut c, &["DEL", "k"]).await;
        sub.quiet().await;
    }
}

#[tokio::test]
async fn every_class_reports_its_events_and_only_them() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let mut sub = Events::new(&srv, "__keyevent@0__:*").await;

    // g: generic
    run(&mut c, &["SET", "a", "1"]).await;
    run(&mut c, &["RPUSH", "src", "x"]).await;
    set_classes(&mut c, "Eg").await;
    run(&mut c, &["EXPIRE", "a", "100"]).await;
    run(&mut c, &["PERSIST", "a"]).await;
    run(&mut c, &["PERSIST", "a"]).await; // no TTL left: nothing
    run(&mut c, &["RENAME", "a", "b"]).await;
    run(&mut c, &["COPY", "b", "c"]).await;
    run(&mut c, &["DEL", "b", "c", "missing"]).await;
    run(&mut c, &["SET", "s", "1"]).await; // a string event: not in g
    run(&mut c, &["PEXPIRE", "s", "-1"]).await; // in the past: deleted, reported as del
    expect_ev(
        &mut sub,
        &[
            ("expire", "a"),
            ("persist", "a"),
            ("rename_from", "a"),
            ("rename_to", "b"),
            ("copy_to", "c"),
            ("del", "b"),
            ("del", "c"),
            ("del", "s"),
        ],
    )
    .await;

    // $: strings
    set_classes(&mut c, "E$").await;
    run(&mut c, &["SET", "s", "1"]).await;
    run(&mut c, &["SETRANGE", "s", "1", "2"]).await;
    run(&mut c, &["INCR", "n"]).await;
    run(&mut c, &["DECRBY", "n", "5"]).await;
    run(&mut c, &["INCRBYFLOAT", "f", "1.5"]).await;
    run(&mut c, &["APPEND", "s", "3"]).await;
    run(&mut c, &["MSET", "m1", "1", "m2", "2"]).await;
    run(&mut c, &["SETNX", "m1", "x"]).await; // exists: nothing
    run(&mut c, &["GETSET", "m1", "y"]).await;
    run(&mut c, &["DEL", "m2"]).await; // generic: not in $
    expect_ev(
        &mut sub,
        &[
            ("set", "s"),
            ("setrange", "s"),
            ("incrby", "n"),
            ("incrby", "n"),
            ("incrbyfloat", "f"),
            ("append", "s"),
            ("set", "m1"),
            ("set", "m2"),
            ("set", "m1"),
        ],
    )
    .await;

    // l: lists (with g for the del of an emptied list)
    set_classes(&mut c, "Elg").await;
    run(&mut c, &["LPUSH", "l", "a"]).await;
    run(&mut c, &["RPUSH", "l", "b", "c"]).await;
    run(&mut c, &["LINSERT", "l", "BEFORE", "b", "x"]).await;
    run(&mut c, &["LINSERT", "l", "BEFORE", "nope", "x"]).await; // no pivot: nothing
    run(&mut c, &["LSET", "l", "0", "z"]).await;
    run(&mut c, &["LREM", "l", "0", "x"]).await;
    run(&mut c, &["LTRIM", "l", "0", "1"]).await;
    run(&mut c, &["LPOP", "l"]).await;
    run(&mut c, &["RPOP", "l"]).await; // empties it: rpop, then del
    run(&mut c, &["LMOVE", "src", "dst", "RIGHT", "LEFT"]).await; // push first, then pop
    expect_ev(
        &mut sub,
        &[
            ("lpush", "l"),
            ("rpush", "l"),
            ("linsert", "l"),
            ("lset", "l"),
            ("lrem", "l"),
            ("ltrim", "l"),
            ("lpop", "l"),
            ("rpop", "l"),
            ("del", "l"),
            ("lpush", "dst"),
            ("rpop", "src"),
            ("del", "src"),
        ],
    )
    .await;

    // s: sets
    set_classes(&mut c, "Es").await;
    run(&mut c, &["SADD", "s1", "a", "b", "c"]).await;
    run(&mut c, &["SADD", "s1", "a"]).await; // nothing added: nothing
    run(&mut c, &["SREM", "s1", "a"]).await;
    run(&mut c, &["SREM", "s1", "zz"]).await; // nothing removed: nothing
    run(&mut c, &["SADD", "s2", "b"]).await;
    run(&mut c, &["SINTERSTORE", "i", "s1", "s2"]).await;
    run(&mut c, &["SUNIONSTORE", "u", "s1", "s2"]).await;
    run(&mut c, &["SDIFFSTORE", "d", "s1", "s2"]).await;
    run(&mut c, &["SPOP", "d"]).await;
    expect_ev(
        &mut sub,
        &[
            ("sadd", "s1"),
            ("srem", "s1"),
            ("sadd", "s2"),
            ("sinterstore", "i"),
            ("sunionstore", "u"),
            ("sdiffstore", "d"),
            ("spop", "d"),
        ],
    )
    .await;

    // h: hashes
    set_classes(&mut c, "Eh").await;
    run(&mut c, &["HSET", "h", "f", "1", "g", "2"]).await;
    run(&mut c, &["HSETNX", "h", "f", "9"]).await; // exists: nothing
    run(&mut c, &["HINCRBY", "h", "f", "2"]).await;
    run(&mut c, &["HINCRBYFLOAT", "h", "g", "0.5"]).await;
    run(&mut c, &["HDEL", "h", "f", "nope"]).await;
    expect_ev(
        &mut sub,
        &[
            ("hset", "h"),
            ("hincrby", "h"),
            ("hincrbyfloat", "h"),
            ("hdel", "h"),
        ],
    )
    .await;

    // z: sorted sets
    set_classes(&mut c, "Ez").await;
    run(
        &mut c,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    )
    .await;
    run(&mut c, &["ZADD", "z", "1", "a"]).await; // unchanged: nothing
    run(&mut c, &["ZINCRBY", "z", "1", "a"]).await;
    run(&mut c, &["ZADD", "z", "INCR", "1", "a"]).await;
    run(&mut c, &["ZREM", "z", "b"]).await;
    run(&mut c, &["ZADD", "w", "5", "x", "6", "y", "7", "q"]).await;
    run(&mut c, &["ZREMRANGEBYSCORE", "w", "5", "5"]).await;
    run(&mut c, &["ZREMRANGEBYRANK", "w", "0", "0"]).await;
    run(&mut c, &["ZREMRANGEBYLEX", "z", "[zz", "[zzz"]).await; // nothing: nothing
    run(&mut c, &["ZPOPMIN", "z"]).await;
    run(&mut c, &["ZPOPMAX", "z"]).await;
    run(&mut c, &["ZUNIONSTORE", "zu", "2", "z", "w"]).await;
    run(&mut c, &["ZINTERSTORE", "zi", "2", "z", "zu"]).await;
    run(&mut c, &["ZDIFFSTORE", "zd", "2", "zu", "z"]).await;
    run(&mut c, &["ZRANGESTORE", "zr", "zu", "0", "-1"]).await;
    // geo sets (what redis-server 7.0 sends: ZADD's event, then the store events)
    run(&mut c, &["GEOADD", "geo", "1", "2", "a", "3", "4", "b"]).await;
    run(&mut c, &["GEOADD", "geo", "1", "2", "a"]).await; // unchanged: nothing
    run(
        &mut c,
        &["GEORADIUS", "geo", "1", "2", "1000", "km", "STORE", "gr"],
    )
    .await;
    run(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "gs",
            "geo",
            "FROMLONLAT",
            "1",
            "2",
            "BYRADIUS",
            "9",
            "km",
        ],
    )
    .await;
    expect_ev(
        &mut sub,
        &[
            ("zadd", "z"),
            ("zincr", "z"),
            ("zincr", "z"),
            ("zrem", "z"),
            ("zadd", "w"),
            ("zremrangebyscore", "w"),
            ("zremrangebyrank", "w"),
            ("zpopmin", "z"),
            ("zpopmax", "z"),
            ("zunionstore", "zu"),
            ("zinterstore", "zi"),
            ("zdiffstore", "zd"),
            ("zrangestore", "zr"),
            ("zadd", "geo"),
            ("georadiusstore", "gr"),
            ("geosearchstore", "gs"),
        ],
    )
    .await;

    // n: new keys (not in A), before the command's own event.
    set_classes(&mut c, "En$").await;
    run(&mut c, &["SET", "fresh", "1"]).await;
    run(&mut c, &["SET", "fresh", "2"]).await;
    expect_ev(
        &mut sub,
        &[("new", "fresh"), ("set", "fresh"), ("set", "fresh")],
    )
    .await;

    // m: key misses (not in A).
    set_classes(&mut c, "Em").await;
    run(&mut c, &["GET", "nothing-here"]).await;
    run(&mut c, &["GET", "fresh"]).await; // a hit: nothing
    expect_ev(&mut sub, &[("keymiss", "nothing-here")]).await;

    // t: streams (tests/redis_diff/streams.rs compares every stream event with redis-server).
    set_classes(&mut c, "Et").await;
    run(&mut c, &["XADD", "st", "MAXLEN", "0", "1-0", "f", "v"]).await;
    run(&mut c, &["SET", "t", "1"]).await; // not class t: nothing
    expect_ev(&mut sub, &[("xadd", "st"), ("xtrim", "st")]).await;

    // d is accepted (Ferrite has no modules): nothing to send.
    set_classes(&mut c, "Ed").await;
    run(&mut c, &["SET", "t", "1"]).await;
    sub.quiet().await;
}

#[tokio::test]
async fn a_transaction_reports_its_writes_in_order() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    set_classes(&mut c, "E$lg").await;
    let mut sub = Events::new(&srv, "__keyevent@0__:*").await;
    let mut raw = srv.raw().await;
    raw.roundtrip(&["MULTI"], b"+OK\r\n").await;
    raw.roundtrip(&["SET", "t1", "a"], b"+QUEUED\r\n").await;
    raw.roundtrip(&["RPUSH", "t2", "b"], b"+QUEUED\r\n").await;
    raw.roundtrip(&["DEL", "t1"], b"+QUEUED\r\n").await;
    raw.roundtrip(&["EXEC"], b"*3\r\n+OK\r\n:1\r\n:1\r\n").await;
    expect_ev(&mut sub, &[("set", "t1"), ("rpush", "t2"), ("del", "t1")]).await;
}

#[tokio::test]
async fn expired_keys_are_reported_by_active_and_lazy_expiry() {
    let mut cfg = test_config();
    cfg.expiry.active_expire_interval_ms = 20;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    set_classes(&mut c, "KEx").await;
    let mut sub = Events::new(&srv, "__key*__:*").await;
    // Active expiry: nobody touches the key.
    run(&mut c, &["SET", "soon", "v", "PX", "30"]).await;
    run(&mut c, &["HSET", "hsoon", "f", "v"]).await;
    run(&mut c, &["PEXPIRE", "hsoon", "30"]).await;
    // Which key the sweep meets first is not fixed; each key's two messages come together.
    let mut got = Vec::new();
    for _ in 0..2 {
        let (a, b) = (sub.next().await, sub.next().await);
        assert_eq!(a.0, format!("__keyspace@0__:{}", b.1), "{a:?} {b:?}");
        assert_eq!(
            (a.1.as_str(), b.0.as_str()),
            ("expired", "__keyevent@0__:expired")
        );
        got.push(b.1);
    }
    got.sort();
    assert_eq!(got, ["hsoon", "soon"]);
    sub.quiet().await;
    let exists: i64 = q(&mut c, &["EXISTS", "soon", "hsoon"]).await.unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn lazily_expired_keys_are_reported_too() {
    let mut cfg = test_config();
    // The active cycle would race the read below: make it rare.
    cfg.expiry.active_expire_interval_ms = 600_000;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    set_classes(&mut c, "Ex").await;
    let mut sub = Events::new(&srv, "__keyevent@0__:expired").await;
    run(&mut c, &["SET", "lazy", "v", "PX", "20"]).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let v: Option<String> = q(&mut c, &["GET", "lazy"]).await.unwrap();
    assert_eq!(v, None);
    sub.expect(&[("__keyevent@0__:expired", "lazy")]).await;
}

#[tokio::test]
async fn evicted_keys_are_reported() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 4 * 1024 * 1024;
    // One channel gets thousands of events in a burst: a replay window that holds them all, so
    // the subscriber cannot fall behind it on a loaded machine.
    cfg.topics.replay_max_messages = 100_000;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    set_classes(&mut c, "Ee").await;
    let mut sub = Events::new(&srv, "__keyevent@0__:evicted").await;
    let value = "x".repeat(1000);
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("SET").arg(format!("big:{i}")).arg(&value).ignore();
    }
    let _: () = pipe.query_async(&mut c).await.unwrap();
    // The first reported key is gone, and so is every other one reported.
    let (_, key) = sub.next().await;
    assert!(key.starts_with("big:"), "{key}");
    let mut reported = vec![key];
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(1), sub.stream.next()).await {
        reported.push(m.get_payload::<String>().unwrap());
    }
    for k in reported.iter().step_by(97) {
        let exists: i64 = q(&mut c, &["EXISTS", k]).await.unwrap();
        assert_eq!(exists, 0, "{k} was reported evicted");
    }
    let info: String = q(&mut c, &["INFO", "stats"]).await.unwrap();
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let evicted = field("evicted_keys");
    assert!(evicted > 1000, "4 MiB cannot hold 10 MB: {evicted}");
    // The engine reported every eviction: each one was queued for publishing. (A subscriber
    // may still miss some: at maxmemory the replay rings are trimmed before keys are evicted,
    // so one that is behind loses the oldest, as on any channel; docs/topics.md.)
    assert_eq!(field("keyspace_notifications_queued"), evicted);
    assert_eq!(field("keyspace_notifications_dropped"), 0);
    assert!(reported.len() as u64 <= evicted);
}

#[tokio::test]
async fn a_momento_sdk_set_is_a_set_event_for_resp_subscribers() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    set_classes(&mut c, "KEA").await;
    let mut keyevent = Events::new(&srv, "__keyevent@0__:set").await;
    let mut keyspace = Events::new(&srv, "__keyspace@0__:from-sdk").await;
    let sdk = cache_client(srv.grpc_addr());
    sdk.set(C, "from-sdk", "v").await.unwrap();
    keyevent.expect(&[("__keyevent@0__:set", "from-sdk")]).await;
    // Momento writes carry a TTL: `expire` follows, as for Redis's SET EX.
    keyspace
        .expect(&[
            ("__keyspace@0__:from-sdk", "set"),
            ("__keyspace@0__:from-sdk", "expire"),
        ])
        .await;
    // Collections too.
    let mut all = Events::new(&srv, "__keyevent@0__:*").await;
    sdk.dictionary_set_field(C, "dict", "f", "v").await.unwrap();
    sdk.list_concatenate_back(C, "list", vec!["a", "b"])
        .await
        .unwrap();
    sdk.delete(C, "from-sdk").await.unwrap();
    all.expect(&[
        ("__keyevent@0__:hset", "dict"),
        ("__keyevent@0__:rpush", "list"),
        ("__keyevent@0__:del", "from-sdk"),
    ])
    .await;
}

#[tokio::test]
async fn an_http_put_is_a_set_event_and_breaks_a_watch() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    set_classes(&mut c, "K$").await;
    let mut sub = Events::new(&srv, "__keyspace@0__:from-http").await;
    let mut raw = srv.raw().await;
    raw.roundtrip(&["WATCH", "from-http"], b"+OK\r\n").await;
    let resp = reqwest::Client::new()
        .put(format!(
            "http://{}/cache/{C}?key=from-http&ttl_seconds=30",
            srv.running.http_addr
        ))
        .body("v")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    sub.expect(&[("__keyspace@0__:from-http", "set")]).await;
    raw.roundtrip(&["MULTI"], b"+OK\r\n").await;
    raw.roundtrip(&["SET", "from-http", "mine"], b"+QUEUED\r\n")
        .await;
    raw.roundtrip(&["EXEC"], b"*-1\r\n").await;
}

#[tokio::test]
async fn a_grpc_list_push_wakes_a_blocked_blpop() {
    let srv = TestServer::start().await;
    let mut blocked = srv.raw().await;
    blocked.cmd(&["BLPOP", "jobs", "0"]).await;
    // Until it is blocked, nothing to see; then the SDK pushes.
    let mut c = srv.client().await;
    let start = Instant::now();
    loop {
        let info: String = q(&mut c, &["INFO", "clients"]).await.unwrap();
        if info.contains("blocked_clients:1") {
            break;
        }
        assert!(start.elapsed() < PATIENCE, "never blocked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sdk = cache_client(srv.grpc_addr());
    sdk.list_concatenate_back(C, "jobs", vec!["job-1"])
        .await
        .unwrap();
    blocked.expect(b"*2\r\n$4\r\njobs\r\n$5\r\njob-1\r\n").await;
}

#[tokio::test]
async fn notifications_stay_in_their_cache() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    set_classes(&mut c, "E$").await;
    let other_url = format!("redis://orders:any@{}/", srv.addr);
    let mut in_default = Events::new(&srv, "__keyevent@0__:*").await;
    let mut in_orders = Events::at(&other_url, "__keyevent@0__:*").await;
    let mut o = redis::Client::open(other_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    run(&mut o, &["SET", "order-1", "x"]).await;
    run(&mut c, &["SET", "default-1", "y"]).await;
    in_orders.expect(&[("__keyevent@0__:set", "order-1")]).await;
    in_default
        .expect(&[("__keyevent@0__:set", "default-1")])
        .await;
}

/// A subscriber that never reads while a writer writes as fast as it can: the writer finishes
/// (its writes wait on nothing the subscriber does), the subscriber is cut off at its output
/// limit, and INFO accounts for every event: queued or dropped.
#[tokio::test]
async fn a_stalled_subscriber_does_not_slow_writers() {
    let mut cfg = test_config();
    cfg.limits.pubsub_reply_buffer_limit = 64 * 1024;
    cfg.notifications.queue_capacity = 1024;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    set_classes(&mut c, "KE$").await;
    let mut stalled = srv.raw().await;
    stalled.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]).await;
    stalled
        .expect(b"*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n")
        .await;
    // Long keys: each notification carries its key, so 30,000 of them are ~9 MB of output,
    // far past the socket buffers and the 64 KiB limit.
    const N: usize = 30_000;
    let pad = "p".repeat(300);
    let started = Instant::now();
    for chunk in 0..(N / 1000) {
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.cmd("SET")
                .arg(format!("{pad}:{}", chunk * 1000 + i))
                .arg("v")
                .ignore();
        }
        let _: () = tokio::time::timeout(PATIENCE, pipe.query_async(&mut c))
            .await
            .expect("writes are not held up by the stalled subscriber")
            .unwrap();
    }
    let took = started.elapsed();
    // The same writes with notifications off, for the record (not asserted: a shared machine).
    set_classes(&mut c, "").await;
    let started = Instant::now();
    for chunk in 0..(N / 1000) {
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.cmd("SET")
                .arg(format!("{pad}:{}", chunk * 1000 + i))
                .arg("v")
                .ignore();
        }
        let _: () = pipe.query_async(&mut c).await.unwrap();
    }
    eprintln!(
        "{N} SETs: {took:?} with notifications and a stalled subscriber, {:?} without",
        started.elapsed()
    );
    assert!(
        stalled.is_closed().await,
        "the stalled subscriber is disconnected at its output limit"
    );
    let info: String = q(&mut c, &["INFO", "stats"]).await.unwrap();
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("INFO stats lacks {name}"))
            .trim()
            .parse()
            .unwrap()
    };
    let (queued, dropped) = (
        field("keyspace_notifications_queued"),
        field("keyspace_notifications_dropped"),
    );
    // One `set` event per SET; a drop here is the queue being full (counted, never waited
    // for) or a publish refused; each was queued first or dropped instead.
    assert!(queued + dropped >= N as u64, "{queued} + {dropped}");
    assert!(queued <= N as u64);
}

#[tokio::test]
async fn hyperloglog_writes_are_pfadd_and_a_cached_count_only_breaks_watch() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let mut sub = Events::new(&srv, "__keyevent@0__:*").await;
    set_classes(&mut c, "E$n").await;
    run(&mut c, &["PFADD", "h", "a", "b"]).await;
    run(&mut c, &["PFADD", "h", "a"]).await; // no register changed: nothing
    run(&mut c, &["PFCOUNT", "h"]).await; // caches the count: no notification (as Redis)
    run(&mut c, &["PFMERGE", "m", "h"]).await;
    run(&mut c, &["PFMERGE", "h", "m"]).await; // Redis reports a merge as `pfadd`
    run(&mut c, &["PFDEBUG", "TODENSE", "h"]).await; // nothing
    run(&mut c, &["SET", "end", "1"]).await;
    expect_ev(
        &mut sub,
        &[
            ("new", "h"),
            ("pfadd", "h"),
            ("new", "m"),
            ("pfadd", "m"),
            ("pfadd", "h"),
            ("new", "end"),
            ("set", "end"),
        ],
    )
    .await;

    // PFCOUNT writing the cached cardinality is a change WATCH sees (Redis signals it).
    run(&mut c, &["PFADD", "h", "c"]).await;
    let mut w = srv.raw().await;
    w.cmd(&["WATCH", "h"]).await;
    w.expect(b"+OK\r\n").await;
    run(&mut c, &["PFCOUNT", "h"]).await;
    w.cmd(&["MULTI"]).await;
    w.expect(b"+OK\r\n").await;
    w.cmd(&["PING"]).await;
    w.expect(b"+QUEUED\r\n").await;
    w.cmd(&["EXEC"]).await;
    w.expect(b"*-1\r\n").await;
}

/// Bit commands notify as Redis 7.0 does (checked against redis-server): SETBIT and BITFIELD
/// `setbit` only when a bit changed or the string grew, BITOP `set`, or `del` for an empty
/// result that removed the destination.
#[tokio::test]
async fn bit_commands_report_setbit_set_and_del() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let mut sub = Events::new(&srv, "__keyevent@0__:*").await;
    set_classes(&mut c, "E$g").await;
    for cmd in [
        &["SETBIT", "b", "1", "1"][..],
        &["SETBIT", "b", "1", "1"], // unchanged: nothing
        &["SETBIT", "b", "1", "0"],
        &["SETBIT", "b", "100", "0"], // grew
        &["BITFIELD", "b", "GET", "u8", "0"],
        &["BITFIELD", "b", "SET", "u8", "0", "0"], // unchanged
        &["BITFIELD", "b", "INCRBY", "u8", "0", "1"],
        &[
            "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5",
        ],
        &["BITFIELD", "nf", "OVERFLOW", "FAIL", "SET", "u2", "0", "5"], // only `new`
        &["BITOP", "OR", "d", "b"],
        &["BITOP", "OR", "d", "missing"],
        &["BITOP", "OR", "d", "missing"], // nothing to delete
    ] {
        run(&mut c, cmd).await;
    }
    let _: redis::RedisResult<redis::Value> = q(&mut c, &["SETBIT", "b", "-1", "1"]).await;
    expect_ev(
        &mut sub,
        &[
            ("setbit", "b"),
            ("setbit", "b"),
            ("setbit", "b"),
            ("setbit", "b"),
            ("set", "d"),
            ("del", "d"),
        ],
    )
    .await;
}
