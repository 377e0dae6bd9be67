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
