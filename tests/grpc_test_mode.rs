//! `--test-mode`: Momento Local's fault-injection metadata on real gRPC calls (raw protos, as
//! the SDKs' Momento Local middlewares send it).

mod common;
mod grpc_util;

use std::time::{Duration, Instant};

use common::{test_config, TestServer};
use grpc_util::*;
use momento_protos::cache_client as pb;
use momento_protos::cache_client::pubsub::{self as ps, subscription_item::Kind};

const C: &str = "default";

fn with<T>(mut r: tonic::Request<T>, md: &[(&'static str, &str)]) -> tonic::Request<T> {
    for (k, v) in md {
        r.metadata_mut().insert(*k, v.parse().unwrap());
    }
    r
}

fn get(key: &str) -> pb::GetRequest {
    pb::GetRequest {
        cache_key: key.as_bytes().to_vec(),
    }
}

fn set(key: &str) -> pb::SetRequest {
    pb::SetRequest {
        cache_key: key.as_bytes().to_vec(),
        cache_body: b"v".to_vec(),
        ttl_milliseconds: 60_000,
    }
}

async fn test_mode_server() -> TestServer {
    let mut cfg = test_config();
    cfg.server.test_mode = true;
    TestServer::start_with(cfg).await
}

#[tokio::test]
async fn injected_errors_follow_rpcs_and_counts_per_session() {
    let srv = test_mode_server().await;
    let mut s = raw_scs(srv.grpc_addr()).await;
    let faults = [
        ("request-id", "session-1"),
        ("return-error", "unavailable"),
        ("error-rpcs", "get"),
        ("error-count", "2"),
    ];
    for _ in 0..2 {
        let e = s
            .get(with(in_cache(C, get("k")), &faults))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
    }
    // A Set is not in error-rpcs; the third Get is past error-count.
    s.set(with(in_cache(C, set("k")), &faults)).await.unwrap();
    s.get(with(in_cache(C, get("k")), &faults)).await.unwrap();
    // Another session starts its own count.
    let other = [
        ("request-id", "session-2"),
        ("return-error", "internal"),
        ("error-rpcs", "get set"),
        ("error-count", "1"),
    ];
    let e = s
        .set(with(in_cache(C, set("k")), &other))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Internal);
    s.set(with(in_cache(C, set("k")), &other)).await.unwrap();
}

#[tokio::test]
async fn injected_delays_follow_their_count() {
    let srv = test_mode_server().await;
    let mut s = raw_scs(srv.grpc_addr()).await;
    let faults = [
        ("request-id", "d"),
        ("delay-ms", "300"),
        ("delay-rpcs", "set"),
        ("delay-count", "1"),
    ];
    let t0 = Instant::now();
    s.set(with(in_cache(C, set("k")), &faults)).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
    // The delay was asked once: the next Set is not held (well under the delay).
    let t1 = Instant::now();
    s.set(with(in_cache(C, set("k")), &faults)).await.unwrap();
    assert!(
        t1.elapsed() < Duration::from_millis(300),
        "{:?}",
        t1.elapsed()
    );
}

#[tokio::test]
async fn a_subscription_ends_with_the_injected_error_after_its_message_limit() {
    let srv = test_mode_server().await;
    let mut p = raw_pubsub(srv.grpc_addr()).await;
    let req = ps::SubscriptionRequest {
        cache_name: C.into(),
        topic: "t".into(),
        resume_at_topic_sequence_number: 0,
        sequence_page: 0,
    };
    let md = [
        ("request-id", "s"),
        ("stream-error", "internal"),
        ("stream-error-rpcs", "topic-subscribe"),
        ("stream-error-message-limit", "2"),
    ];
    let mut stream = p
        .subscribe(with(tonic::Request::new(req), &md))
        .await
        .unwrap()
        .into_inner();
    for i in 0..3 {
        p.publish(ps::PublishRequest {
            cache_name: C.into(),
            topic: "t".into(),
            value: Some(ps::TopicValue {
                kind: Some(ps::topic_value::Kind::Text(format!("m{i}"))),
            }),
        })
        .await
        .unwrap();
    }
    let mut items = 0;
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("the stream answers")
        {
            Ok(Some(it)) => {
                if matches!(it.kind, Some(Kind::Item(_))) {
                    items += 1;
                }
            }
            other => break other,
        }
    };
    assert_eq!(items, 2);
    assert_eq!(end.unwrap_err().code(), tonic::Code::Internal);
}

#[tokio::test]
async fn without_test_mode_the_metadata_is_ignored() {
    let srv = TestServer::start().await;
    let mut s = raw_scs(srv.grpc_addr()).await;
    let faults = [("return-error", "unavailable"), ("delay-ms", "5000")];
    let t0 = Instant::now();
    s.get(with(in_cache(C, get("k")), &faults)).await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn test_mode_is_refused_on_a_public_bind() {
    let mut cfg = test_config();
    cfg.server.test_mode = true;
    cfg.server.bind = "0.0.0.0".into();
    cfg.auth.allow_none_on_public = true;
    let e = ferrite::server::Running::start(cfg)
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("test mode"), "{e}");
}
