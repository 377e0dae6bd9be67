//! Data and topics are shared between the Momento gRPC API and RESP.

mod common;
mod grpc_util;

use std::time::Duration;

use common::{q, TestServer};
use futures_util::StreamExt;
use grpc_util::*;
use momento::cache::{GetResponse, ItemGetTypeResponse, ItemType};
use momento::topics::ValueKind;
use momento::MomentoErrorCode;

const C: &str = "default";

#[tokio::test]
async fn scalars_are_redis_strings() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let mut r = srv.client().await;

    c.set(C, "from-grpc", "hello").await.unwrap();
    let v: String = q(&mut r, &["GET", "from-grpc"]).await.unwrap();
    assert_eq!(v, "hello");
    let pttl: i64 = q(&mut r, &["PTTL", "from-grpc"]).await.unwrap();
    assert!(pttl > 55_000 && pttl <= 60_000, "{pttl}");

    let _: () = q(&mut r, &["SET", "from-resp", "world"]).await.unwrap();
    match c.get(C, "from-resp").await.unwrap() {
        GetResponse::Hit { value } => assert_eq!(Vec::<u8>::from(value), b"world"),
        GetResponse::Miss => panic!("miss"),
    }
    // RESP's counter and Momento's increment agree
    let _: i64 = q(&mut r, &["INCRBY", "n", "40"]).await.unwrap();
    assert_eq!(c.increment(C, "n", 2).await.unwrap().value, 42);
    let n: i64 = q(&mut r, &["INCR", "n"]).await.unwrap();
    assert_eq!(n, 43);
    // a gRPC delete is seen by RESP
    c.delete(C, "from-resp").await.unwrap();
    let e: i64 = q(&mut r, &["EXISTS", "from-resp"]).await.unwrap();
    assert_eq!(e, 0);
    // a RESP expiry is seen by gRPC
    let _: () = q(&mut r, &["SET", "short", "x", "PX", "100"])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.get(C, "short").await.unwrap(), GetResponse::Miss);
}

#[tokio::test]
async fn wrong_type_and_item_type_across_protocols() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let mut r = srv.client().await;
    let _: i64 = q(&mut r, &["HSET", "h", "f", "v"]).await.unwrap();
    let _: i64 = q(&mut r, &["RPUSH", "l", "a"]).await.unwrap();
    let _: i64 = q(&mut r, &["SADD", "s", "a"]).await.unwrap();
    let _: i64 = q(&mut r, &["ZADD", "z", "1", "a"]).await.unwrap();
    for (k, t) in [
        ("h", ItemType::Dictionary),
        ("l", ItemType::List),
        ("s", ItemType::Set),
        ("z", ItemType::SortedSet),
    ] {
        assert_eq!(
            c.item_get_type(C, k).await.unwrap(),
            ItemGetTypeResponse::Hit { key_type: t }
        );
    }
    let e = c.get(C, "h").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    let e = c.increment(C, "l", 1).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    // Set overwrites any type (as Redis SET does)
    c.set(C, "h", "now a string").await.unwrap();
    let t: String = q(&mut r, &["TYPE", "h"]).await.unwrap();
    assert_eq!(t, "string");
}

#[tokio::test]
async fn grpc_write_breaks_a_resp_watch() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let mut raw = srv.raw().await;
    raw.roundtrip(&["WATCH", "w"], b"+OK\r\n").await;
    c.set(C, "w", "changed").await.unwrap();
    raw.roundtrip(&["MULTI"], b"+OK\r\n").await;
    raw.roundtrip(&["SET", "w", "mine"], b"+QUEUED\r\n").await;
    raw.roundtrip(&["EXEC"], b"*-1\r\n").await;
}

#[tokio::test]
async fn resp_publish_reaches_grpc_subscriber() {
    let srv = TestServer::start().await;
    let topics = topic_client(srv.grpc_addr());
    let mut sub = topics.subscribe(C, "news").await.unwrap();
    let mut r = srv.client().await;
    // the subscription is registered once subscribe() returned (it waits for the first heartbeat)
    let n: i64 = q(&mut r, &["PUBLISH", "news", "from-resp"]).await.unwrap();
    assert_eq!(n, 1);
    let v = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    // RESP marks UTF-8 payloads as text, so Momento subscribers get a text value
    assert_eq!(v.kind, ValueKind::Text("from-resp".into()));
    assert_eq!(v.topic_sequence_number, 1);
}

#[tokio::test]
async fn grpc_publish_reaches_resp_subscriber() {
    let srv = TestServer::start().await;
    let client = redis::Client::open(srv.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("alerts").await.unwrap();
    let topics = topic_client(srv.grpc_addr());
    topics.publish(C, "alerts", "from-grpc").await.unwrap();
    topics.publish(C, "alerts", vec![1u8, 2, 3]).await.unwrap();
    let mut msgs = pubsub.on_message();
    let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.get_channel_name(), "alerts");
    assert_eq!(m.get_payload_bytes(), b"from-grpc");
    let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.get_payload_bytes(), &[1u8, 2, 3]);
}

/// A Lua script holds its cache: gRPC and HTTP requests on it wait for the script (and see all
/// of its writes), then are answered busy past `busy-reply-threshold`, instead of waiting on the
/// cache's locks on a worker thread; SCRIPT KILL still gets through.
#[tokio::test]
async fn grpc_and_http_wait_for_a_script_then_answer_busy() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let http = reqwest::Client::new();
    let url = format!("http://{}/cache/{C}?key=k", srv.running.http_addr);
    // A short script: a gRPC read waits for it and sees its last write.
    let mut runner = srv.client().await;
    let spin = "redis.call('set', 'k', 'before') local s = redis.call('time') \
                while true do local n = redis.call('time') \
                if (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 300000 then break end end \
                redis.call('set', 'k', 'after') return 'done'";
    let script = tokio::spawn(async move { q::<String>(&mut runner, &["EVAL", spin, "0"]).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    match c.get(C, "k").await.unwrap() {
        GetResponse::Hit { value } => assert_eq!(Vec::<u8>::from(value), b"after"),
        GetResponse::Miss => panic!("miss"),
    }
    assert_eq!(script.await.unwrap().unwrap(), "done");
    // A runaway script past the threshold: HTTP gets 503 busy, gRPC UNAVAILABLE.
    let mut r = srv.client().await;
    let _: () = q(&mut r, &["CONFIG", "SET", "busy-reply-threshold", "100"])
        .await
        .unwrap();
    let mut runner = srv.client().await;
    let script =
        tokio::spawn(
            async move { q::<String>(&mut runner, &["EVAL", "while true do end", "0"]).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "busy", "{body}");
    let e = c.set(C, "k", "v").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::ServerUnavailable, "{e:?}");
    let _: String = q(&mut r, &["SCRIPT", "KILL"]).await.unwrap();
    let e = script.await.unwrap().unwrap_err();
    assert!(format!("{e}").contains("Script killed"), "{e}");
    // afterwards everything is served again
    c.set(C, "k", "v").await.unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
}

/// A client blocked on a list that a script pushes to is served after the script ends, with
/// what the script left, and is retried off the script's locks: meanwhile the server goes on
/// serving other databases (this test's runtime has one thread, which a retry waiting on the
/// script's locks would have stopped until the script ended).
#[tokio::test]
async fn a_blocked_pop_woken_by_a_script_is_served_after_it() {
    let srv = TestServer::start().await;
    let mut popper = srv.client().await;
    let pop =
        tokio::spawn(async move { q::<Vec<String>>(&mut popper, &["BLPOP", "jobs", "10"]).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut r = srv.client().await;
    // Connected and moved to database 1 first: a new connection's handshake runs in database 0,
    // where the script will hold it.
    let mut other_db = srv.client().await;
    let _: () = q(&mut other_db, &["SELECT", "1"]).await.unwrap();
    let push_then_spin = "redis.call('rpush', 'jobs', 'first') local s = redis.call('time') \
                while true do local n = redis.call('time') \
                if (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 2000000 then break end end \
                redis.call('lset', 'jobs', 0, 'rewritten') return 'done'";
    let script =
        tokio::spawn(async move { q::<String>(&mut r, &["EVAL", push_then_spin, "0"]).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _: () = q(&mut other_db, &["SET", "k", "v"]).await.unwrap();
    assert!(
        !script.is_finished(),
        "another database was served while the script ran"
    );
    assert_eq!(script.await.unwrap().unwrap(), "done");
    assert_eq!(pop.await.unwrap().unwrap(), ["jobs", "rewritten"]);
}

/// Client-side caching: a write from the Momento gRPC API invalidates a RESP3 client's cached
/// key (CLIENT TRACKING), as a RESP write does.
#[tokio::test]
async fn grpc_writes_invalidate_tracking_clients() {
    let srv = TestServer::start().await;
    let mut raw = srv.raw().await;
    raw.cmd(&["HELLO", "3"]).await;
    common::read_raw_reply(&mut raw).await;
    raw.roundtrip(&["CLIENT", "TRACKING", "ON"], b"+OK\r\n")
        .await;
    raw.roundtrip(&["GET", "k"], b"_\r\n").await;
    let c = cache_client(srv.grpc_addr());
    c.set(C, "k", "from-grpc").await.unwrap();
    assert_eq!(
        common::read_raw_reply(&mut raw).await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    // read again: tracked again; a gRPC delete invalidates it too
    raw.roundtrip(&["GET", "k"], b"$9\r\nfrom-grpc\r\n").await;
    c.delete(C, "k").await.unwrap();
    assert_eq!(
        common::read_raw_reply(&mut raw).await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    );
}
