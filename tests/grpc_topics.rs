//! Momento topics (Pubsub) on the topics engine: the official SDK plus raw protos for the
//! protocol details the SDK hides (heartbeats, discontinuities, stream end).

mod common;
mod grpc_util;

use std::time::Duration;

use common::{test_config, TestServer};
use futures_util::StreamExt;
use grpc_util::*;
use momento::topics::ValueKind;
use momento::MomentoErrorCode;
use momento_protos::cache_client::pubsub::{self as ps, subscription_item::Kind};
use tonic::Streaming;

const C: &str = "default";

fn sub_req(cache: &str, topic: &str, resume: u64, page: u64) -> ps::SubscriptionRequest {
    ps::SubscriptionRequest {
        cache_name: cache.into(),
        topic: topic.into(),
        resume_at_topic_sequence_number: resume,
        sequence_page: page,
    }
}

fn text(cache: &str, topic: &str, t: &str) -> ps::PublishRequest {
    ps::PublishRequest {
        cache_name: cache.into(),
        topic: topic.into(),
        value: Some(ps::TopicValue {
            kind: Some(ps::topic_value::Kind::Text(t.into())),
        }),
    }
}

async fn next(s: &mut Streaming<ps::SubscriptionItem>) -> Kind {
    tokio::time::timeout(Duration::from_secs(5), s.message())
        .await
        .expect("an item within 5 s")
        .expect("no stream error")
        .expect("stream open")
        .kind
        .expect("kind set")
}

/// Next non-heartbeat item.
async fn next_data(s: &mut Streaming<ps::SubscriptionItem>) -> Kind {
    loop {
        match next(s).await {
            Kind::Heartbeat(_) => continue,
            k => return k,
        }
    }
}

fn item(k: Kind) -> ps::TopicItem {
    match k {
        Kind::Item(i) => i,
        other => panic!("expected an item, got {other:?}"),
    }
}

fn item_text(i: &ps::TopicItem) -> String {
    match i.value.as_ref().and_then(|v| v.kind.clone()) {
        Some(ps::topic_value::Kind::Text(t)) => t,
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn sdk_subscribe_and_10000_messages_in_order() {
    let srv = TestServer::start().await;
    let topics = topic_client(srv.grpc_addr());
    let mut sub = topics.subscribe(C, "orders").await.unwrap();
    let publisher = topic_client(srv.grpc_addr());
    let pubs = tokio::spawn(async move {
        for i in 0..10_000u32 {
            publisher
                .publish(C, "orders", format!("m{i}"))
                .await
                .unwrap();
        }
    });
    for i in 0..10_000u64 {
        let v = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("message in time")
            .unwrap();
        assert_eq!(v.topic_sequence_number, i + 1);
        assert_eq!(v.kind, ValueKind::Text(format!("m{i}")));
    }
    pubs.await.unwrap();
    // binary stays binary
    topics.publish(C, "orders", vec![0u8, 1, 2]).await.unwrap();
    let v = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.kind, ValueKind::Binary(vec![0, 1, 2]));
}

#[tokio::test]
async fn heartbeat_first_and_while_idle() {
    let mut cfg = test_config();
    cfg.topics.heartbeat_interval_secs = 1;
    let srv = TestServer::start_with(cfg).await;
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    let mut s = ps
        .subscribe(sub_req(C, "t", 0, 0))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(next(&mut s).await, Kind::Heartbeat(_)),
        "first item is a heartbeat"
    );
    let t0 = std::time::Instant::now();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // publishing to a topic with no other subscribers is fine; the item arrives
    ps.publish(text(C, "t", "hello")).await.unwrap();
    let i = item(next_data(&mut s).await);
    assert_eq!(
        (i.topic_sequence_number, item_text(&i)),
        (1, "hello".to_string())
    );
    assert!(i.sequence_page > 0);
}

#[tokio::test]
async fn resume_after_dropping_the_stream() {
    let srv = TestServer::start().await;
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    let mut s = ps
        .subscribe(sub_req(C, "r", 0, 0))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    for i in 1..=10 {
        ps.publish(text(C, "r", &format!("m{i}"))).await.unwrap();
    }
    let mut last = None;
    for want in 1..=5 {
        let i = item(next_data(&mut s).await);
        assert_eq!(i.topic_sequence_number, want);
        last = Some(i);
    }
    let last = last.unwrap();
    drop(s);
    for i in 11..=15 {
        ps.publish(text(C, "r", &format!("m{i}"))).await.unwrap();
    }
    // resume at last+1 on the same page: exactly 6..=15, no discontinuity
    let mut s = ps
        .subscribe(sub_req(
            C,
            "r",
            last.topic_sequence_number + 1,
            last.sequence_page,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    for want in 6..=15u64 {
        let i = item(next_data(&mut s).await);
        assert_eq!(
            (i.topic_sequence_number, item_text(&i)),
            (want, format!("m{want}"))
        );
        assert_eq!(i.sequence_page, last.sequence_page);
    }
    // resuming at `last` (what the Rust and Go SDKs send) is inclusive: one duplicate
    let mut s = ps
        .subscribe(sub_req(C, "r", 15, last.sequence_page))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(item(next_data(&mut s).await).topic_sequence_number, 15);
}

#[tokio::test]
async fn discontinuity_on_page_change_and_retention_gap() {
    let mut cfg = test_config();
    cfg.topics.replay_max_messages = 10;
    let srv = TestServer::start_with(cfg).await;
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    // create the topic and learn its page
    let mut s = ps
        .subscribe(sub_req(C, "d", 0, 0))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    for i in 1..=50 {
        ps.publish(text(C, "d", &format!("m{i}"))).await.unwrap();
    }
    let page = item(next_data(&mut s).await).sequence_page;

    // unknown page: heartbeat, then a discontinuity carrying the current page and what it
    // starts from (the oldest retained message; nothing known was lost: last 0), then the
    // window (41..=50), then live items
    let mut s2 = ps
        .subscribe(sub_req(C, "d", 7, page - 1))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s2).await, Kind::Heartbeat(_)));
    match next(&mut s2).await {
        Kind::Discontinuity(d) => {
            assert_eq!(d.new_sequence_page, page);
            assert_eq!((d.last_topic_sequence, d.new_topic_sequence), (0, 41));
        }
        other => panic!("expected a discontinuity, got {other:?}"),
    }
    for seq in 41..=50 {
        let i = item(next_data(&mut s2).await);
        assert_eq!(
            (i.topic_sequence_number, item_text(&i)),
            (seq, format!("m{seq}"))
        );
    }
    ps.publish(text(C, "d", "live")).await.unwrap();
    let i = item(next_data(&mut s2).await);
    assert_eq!(
        (i.topic_sequence_number, item_text(&i)),
        (51, "live".to_string())
    );

    // current page but sequence 1 fell out of the 10-message window: a discontinuity, then replay
    // of what is retained
    let mut s3 = ps
        .subscribe(sub_req(C, "d", 1, page))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s3).await, Kind::Heartbeat(_)));
    match next(&mut s3).await {
        Kind::Discontinuity(d) => {
            assert_eq!(d.new_sequence_page, page);
            assert!(d.new_topic_sequence > 1);
        }
        other => panic!("expected a discontinuity, got {other:?}"),
    }
}

#[tokio::test]
async fn cache_deleted_mid_subscription_ends_with_not_found() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    c.create_cache("tmp").await.unwrap();
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    let mut s = ps
        .subscribe(sub_req("tmp", "t", 0, 0))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    c.delete_cache("tmp").await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("stream ends in time");
    let st = end.expect_err("stream ends with an error");
    assert_eq!(st.code(), tonic::Code::NotFound);
    assert_eq!(err_of(&st), None, "plain NOT_FOUND = cache not found");
    // subscribing and publishing to a missing cache: NOT_FOUND
    let st = ps.subscribe(sub_req("tmp", "t", 0, 0)).await.unwrap_err();
    assert_eq!(st.code(), tonic::Code::NotFound);
    let e = topic_client(srv.grpc_addr())
        .publish("tmp", "t", "x")
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::CacheNotFoundError);
}

#[tokio::test]
async fn publish_limit_and_publisher_id() {
    use momento_protos::token::generate_disposable_token_request::Expires;
    use momento_protos::token::token_client::TokenClient;
    let srv = TestServer::start().await;
    let t = topic_client(srv.grpc_addr());
    t.publish(C, "lim", "x".repeat(4096)).await.unwrap();
    let e = t.publish(C, "lim", "x".repeat(4097)).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::LimitExceededError);
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    let st = ps
        .publish(text(C, "lim", &"y".repeat(5000)))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::ResourceExhausted);
    assert_eq!(err_of(&st).as_deref(), Some("request_size_limit_exceeded"));
    let st = ps.publish(text(C, "", "x")).await.unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);

    // a publish authenticated with a minted disposable token carries its token_id
    let mut tc = TokenClient::new(channel(srv.grpc_addr()).await);
    let key = tc
        .generate_disposable_token(momento_protos::token::GenerateDisposableTokenRequest {
            expires: Some(Expires {
                valid_for_seconds: 60,
            }),
            auth_token: String::new(),
            permissions: Some(Default::default()),
            token_id: "alice".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .api_key;
    let mut s = ps
        .subscribe(sub_req(C, "who", 0, 0))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    let mut req = tonic::Request::new(text(C, "who", "hi"));
    req.metadata_mut()
        .insert("authorization", key.parse().unwrap());
    ps.publish(req).await.unwrap();
    ps.publish(text(C, "who", "anon")).await.unwrap();
    assert_eq!(item(next_data(&mut s).await).publisher_id, "alice");
    assert_eq!(item(next_data(&mut s).await).publisher_id, "");
}

/// Shutdown with an open subscription: the stream ends, the gRPC server drains, and
/// `Running::wait` returns well before the grace period runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_subscriptions_and_drains_grpc() {
    let mut cfg = test_config();
    cfg.server.shutdown_grace_ms = 10_000;
    let srv = TestServer::start_with(cfg).await;
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    let mut s = ps
        .subscribe(sub_req(C, "t", 0, 0))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    let t0 = std::time::Instant::now();
    srv.running.shutdown();
    tokio::time::timeout(Duration::from_secs(5), srv.running.wait())
        .await
        .expect("wait() returned");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The stream ended (with a status or end-of-stream), it did not hang.
    let end = tokio::time::timeout(Duration::from_secs(2), s.message())
        .await
        .expect("stream ended");
    assert!(
        !matches!(end, Ok(Some(_))),
        "unexpected item after shutdown: {end:?}"
    );
}

/// Subscribe and take the opening heartbeat.
async fn open(
    ps: &mut momento_protos::cache_client::pubsub::pubsub_client::PubsubClient<
        tonic::transport::Channel,
    >,
    req: ps::SubscriptionRequest,
) -> Streaming<ps::SubscriptionItem> {
    let mut s = ps.subscribe(req).await.unwrap().into_inner();
    assert!(matches!(next(&mut s).await, Kind::Heartbeat(_)));
    s
}

/// Where a subscription starts, as the Momento Python SDK's tests expect
/// (`tests/momento/topic_client/test_topics.py`): resume 0 begins with the latest message,
/// resume N with page 0 means the current page, and an unknown resume point replays what the
/// window holds after a discontinuity.
#[tokio::test]
async fn subscriptions_start_where_momento_starts_them() {
    let srv = TestServer::start().await;
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    // subscribe_happy_path_string: publish, then subscribe without a resume point.
    ps.publish(text(C, "happy", "before")).await.unwrap();
    let mut s = open(&mut ps, sub_req(C, "happy", 0, 0)).await;
    let i = item(next_data(&mut s).await);
    assert_eq!(
        (i.topic_sequence_number, item_text(&i)),
        (1, "before".into())
    );
    ps.publish(text(C, "happy", "after")).await.unwrap();
    assert_eq!(item_text(&item(next_data(&mut s).await)), "after");
    // ..._resume_at_sequence: three published, resume at 2 on page 0 (not given).
    for v in ["foo", "value", "bar"] {
        ps.publish(text(C, "three", v)).await.unwrap();
    }
    let mut s = open(&mut ps, sub_req(C, "three", 2, 0)).await;
    let i = item(next_data(&mut s).await);
    assert_eq!(
        (i.topic_sequence_number, item_text(&i)),
        (2, "value".into())
    );
    assert_eq!(item_text(&item(next_data(&mut s).await)), "bar");
    // ..._resume_at_invalid_sequence: 300 on a page the topic never had.
    ps.publish(text(C, "invalid", "value")).await.unwrap();
    let mut s = open(&mut ps, sub_req(C, "invalid", 300, 5_435_435)).await;
    match next(&mut s).await {
        Kind::Discontinuity(d) => {
            assert_eq!((d.last_topic_sequence, d.new_topic_sequence), (0, 1));
            assert!(d.new_sequence_page > 0);
        }
        other => panic!("expected a discontinuity, got {other:?}"),
    }
    let i = item(next_data(&mut s).await);
    assert_eq!(
        (i.topic_sequence_number, item_text(&i)),
        (1, "value".into())
    );
    // A sequence past the end of the current page is unknown too.
    let mut s = open(&mut ps, sub_req(C, "invalid", 300, 0)).await;
    assert!(matches!(next(&mut s).await, Kind::Discontinuity(_)));
    assert_eq!(item_text(&item(next_data(&mut s).await)), "value");
}

/// The official SDK's subscribe (resume 0) gets the message published just before it.
#[tokio::test]
async fn sdk_subscribe_begins_with_the_latest_message() {
    let srv = TestServer::start().await;
    let topics = topic_client(srv.grpc_addr());
    topics.publish(C, "late", "old").await.unwrap();
    topics.publish(C, "late", "newest").await.unwrap();
    let mut sub = topics.subscribe(C, "late").await.unwrap();
    let v = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("the latest message")
        .unwrap();
    assert_eq!(
        (v.topic_sequence_number, v.kind),
        (2, ValueKind::Text("newest".into()))
    );
}

/// `topics.subscribe_backlog = 0`: a subscription without a resume point is live only.
#[tokio::test]
async fn subscribe_backlog_zero_is_live_only() {
    let mut cfg = test_config();
    cfg.topics.subscribe_backlog = 0;
    let srv = TestServer::start_with(cfg).await;
    let mut ps = raw_pubsub(srv.grpc_addr()).await;
    ps.publish(text(C, "t", "before")).await.unwrap();
    let mut s = open(&mut ps, sub_req(C, "t", 0, 0)).await;
    ps.publish(text(C, "t", "after")).await.unwrap();
    let i = item(next_data(&mut s).await);
    assert_eq!(
        (i.topic_sequence_number, item_text(&i)),
        (2, "after".into())
    );
}
