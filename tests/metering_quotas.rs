//! Metering and quotas (issue 5, items 4 and 5) over real sockets: raw RESP bytes (so reply sizes
//! are known exactly), raw `momento-protos` clients (so protobuf sizes are known exactly) and the
//! official Momento SDK (so quota errors are checked as applications see them).
//!
//! Definitions under test (docs/metering.md): RESP bytes in = the command's RESP frame, bytes out
//! = its reply (pushes included); gRPC bytes in/out = protobuf size of request / response
//! messages, subscription message items included; one operation per command / RPC.

mod common;
mod grpc_util;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{test_config, RawConn, TestServer};
use ferrite_config::{Config, QuotaOverride};
use grpc_util::*;
use momento::MomentoErrorCode;
use momento_protos::cache_client as cc;
use momento_protos::cache_client::pubsub as ps;
use prost::Message;
use serde_json::Value;

/// Figures per (token, cache) as read from `FERRITE.METERING JSON`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Fig {
    ops: u64,
    bytes_in: u64,
    bytes_out: u64,
    published: u64,
    delivered: u64,
}

impl Fig {
    fn op(&mut self, bytes_in: usize, bytes_out: usize) {
        self.ops += 1;
        self.bytes_in += bytes_in as u64;
        self.bytes_out += bytes_out as u64;
    }
}

async fn metering(srv: &TestServer) -> BTreeMap<(String, String), Fig> {
    // A raw connection: a client library's connect handshake (CLIENT SETINFO) would itself be
    // metered traffic of (anonymous, default).
    let mut c = RawConn::connect(srv.addr).await;
    c.cmd(&["FERRITE.METERING", "JSON"]).await;
    let header = read_line(&mut c).await;
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bulk reply expected, got {header}"));
    let body = c.read_n(len + 2).await;
    parse_metering_json(&body[..len])
}

/// The billing-export JSON (`FERRITE.METERING JSON` and the admin port's `/metering`).
fn parse_metering_json(body: &[u8]) -> BTreeMap<(String, String), Fig> {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = |f: &str| t[f].as_u64().unwrap();
            (
                (
                    t["token"].as_str().unwrap().to_string(),
                    t["cache"].as_str().unwrap().to_string(),
                ),
                Fig {
                    ops: n("operations"),
                    bytes_in: n("bytes_in"),
                    bytes_out: n("bytes_out"),
                    published: n("messages_published"),
                    delivered: n("messages_delivered"),
                },
            )
        })
        .collect()
}

fn key(cache: &str) -> (String, String) {
    ("anonymous".to_string(), cache.to_string())
}

/// The RESP frame a client sends for `parts` (array of bulk strings).
fn frame(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n{}\r\n", p.len(), p).as_bytes());
    }
    out
}

/// Send one command on a raw connection, check the exact reply, add both to `fig`.
async fn resp_op(conn: &mut RawConn, fig: &mut Fig, parts: &[&str], reply: &[u8]) {
    conn.roundtrip(parts, reply).await;
    fig.op(frame(parts).len(), reply.len());
}

/// One reply line (without CRLF).
async fn read_line(conn: &mut RawConn) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        let b = conn.read_n(1).await;
        assert!(
            !b.is_empty(),
            "connection closed or silent mid-line: {line:?}"
        );
        line.extend(b);
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).unwrap()
}

async fn create_cache(srv: &TestServer, name: &str) {
    cache_client(srv.grpc_addr())
        .create_cache(name)
        .await
        .expect("cache created");
}

fn get_req(k: &str) -> cc::GetRequest {
    cc::GetRequest {
        cache_key: k.into(),
    }
}

fn set_req(k: &str, v: &[u8]) -> cc::SetRequest {
    cc::SetRequest {
        cache_key: k.into(),
        cache_body: v.to_vec(),
        ttl_milliseconds: 60_000,
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

async fn next_item(s: &mut tonic::Streaming<ps::SubscriptionItem>) -> ps::SubscriptionItem {
    tokio::time::timeout(Duration::from_secs(10), s.message())
        .await
        .expect("an item within 10 s")
        .expect("no stream error")
        .expect("stream open")
}

#[tokio::test]
async fn scripted_workload_figures_add_up_exactly() {
    let srv = TestServer::start().await;
    create_cache(&srv, "meter").await; // control plane: not metered
    let mut resp = Fig::default();
    let mut grpc = Fig::default();

    // RESP: strings, an error reply, a pipeline-free transaction, pub/sub.
    let mut a = RawConn::connect(srv.addr).await;
    resp_op(&mut a, &mut resp, &["SET", "k", "hello"], b"+OK\r\n").await;
    resp_op(&mut a, &mut resp, &["GET", "k"], b"$5\r\nhello\r\n").await;
    resp_op(&mut a, &mut resp, &["GET", "missing"], b"$-1\r\n").await;
    resp_op(
        &mut a,
        &mut resp,
        &["INCR", "k"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    resp_op(&mut a, &mut resp, &["MULTI"], b"+OK\r\n").await;
    resp_op(&mut a, &mut resp, &["APPEND", "k", "!"], b"+QUEUED\r\n").await;
    resp_op(
        &mut a,
        &mut resp,
        &["PUBLISH", "nobody", "x"],
        b"+QUEUED\r\n",
    )
    .await;
    resp_op(&mut a, &mut resp, &["EXEC"], b"*2\r\n:6\r\n:0\r\n").await;
    resp.published += 1; // the PUBLISH inside EXEC

    let mut sub = RawConn::connect(srv.addr).await;
    resp_op(
        &mut sub,
        &mut resp,
        &["SUBSCRIBE", "news"],
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    )
    .await;
    resp_op(&mut a, &mut resp, &["PUBLISH", "news", "hi"], b":1\r\n").await;
    resp.published += 1;
    let push = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    sub.expect(push).await;
    resp.delivered += 1;
    resp.bytes_out += push.len() as u64;

    // gRPC data plane with raw clients: sizes are the protobuf encodings.
    let addr = srv.grpc_addr();
    let mut scs = raw_scs(addr).await;
    let req = set_req("g", b"grpc-value");
    let r = scs.set(in_cache("meter", req.clone())).await.unwrap();
    let set_reply = r.get_ref().encoded_len();
    grpc.op(req.encoded_len(), set_reply);
    let req = get_req("g");
    let r = scs.get(in_cache("meter", req.clone())).await.unwrap();
    assert!(r.get_ref().encoded_len() > 10, "a hit carries the value");
    grpc.op(req.encoded_len(), r.get_ref().encoded_len());
    let req = get_req("absent");
    let r = scs.get(in_cache("meter", req.clone())).await.unwrap();
    grpc.op(req.encoded_len(), r.get_ref().encoded_len());
    // A batch: the streamed responses add up.
    let req = cc::GetBatchRequest {
        items: vec![get_req("g"), get_req("absent")],
    };
    let mut stream = scs
        .get_batch(in_cache("meter", req.clone()))
        .await
        .unwrap()
        .into_inner();
    let mut out = 0;
    while let Some(m) = stream.message().await.unwrap() {
        out += m.encoded_len();
    }
    grpc.op(req.encoded_len(), out);
    // A call that fails in the handler is still an operation (no response bytes).
    let req = cc::IncrementRequest {
        cache_key: b"g".to_vec(),
        amount: 1,
        ttl_milliseconds: 60_000,
    };
    assert!(scs.increment(in_cache("meter", req.clone())).await.is_err());
    grpc.op(req.encoded_len(), 0);

    // The official SDK: its Set carries the client's default TTL (60 s in grpc_util).
    cache_client(addr)
        .set("meter", "sdk", "value")
        .await
        .unwrap();
    grpc.op(set_req("sdk", b"value").encoded_len(), set_reply);

    // gRPC topics: a subscription (one operation), a publish, a delivered item.
    let mut pubsub = raw_pubsub(addr).await;
    let sreq = ps::SubscriptionRequest {
        cache_name: "meter".into(),
        topic: "t".into(),
        resume_at_topic_sequence_number: 0,
        sequence_page: 0,
    };
    let mut stream = pubsub.subscribe(sreq.clone()).await.unwrap().into_inner();
    grpc.op(sreq.encoded_len(), 0);
    // The opening heartbeat proves the subscription is registered; heartbeats are free.
    next_item(&mut stream).await;
    let preq = text("meter", "t", "payload");
    pubsub.publish(preq.clone()).await.unwrap();
    grpc.op(preq.encoded_len(), 0);
    grpc.published += 1;
    let delivered = loop {
        let it = next_item(&mut stream).await;
        if matches!(it.kind, Some(ps::subscription_item::Kind::Item(_))) {
            break it;
        }
    };
    grpc.delivered += 1;
    grpc.bytes_out += delivered.encoded_len() as u64;

    let figures = metering(&srv).await;
    assert_eq!(figures.get(&key("default")), Some(&resp), "{figures:?}");
    assert_eq!(figures.get(&key("meter")), Some(&grpc), "{figures:?}");
    assert_eq!(figures.len(), 2, "{figures:?}");

    // Reading the figures is not metered: reading again gives the same numbers.
    assert_eq!(metering(&srv).await, figures);

    // The admin port serves the same figures: JSON for billing exports, and the Prometheus
    // lines inside /metrics.
    let admin = format!("http://{}", srv.running.admin_addr.expect("admin enabled"));
    let body = reqwest::get(format!("{admin}/metering")).await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(parse_metering_json(&body.bytes().await.unwrap()), figures);
    let scrape = reqwest::get(format!("{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(scrape.contains(&format!(
        "ferrite_tenant_operations_total{{token=\"anonymous\",cache=\"default\"}} {}\n",
        resp.ops
    )));

    // The other renderings carry the same numbers.
    let mut raw = RawConn::connect(srv.addr).await;
    raw.cmd(&["FERRITE.METERING", "PROMETHEUS"]).await;
    let header = read_line(&mut raw).await;
    let len: usize = header[1..].parse().unwrap();
    let prom = String::from_utf8(raw.read_n(len + 2).await).unwrap();
    assert!(prom.contains("# TYPE ferrite_tenant_operations_total counter"));
    assert!(prom.contains(&format!(
        "ferrite_tenant_bytes_in_total{{token=\"anonymous\",cache=\"meter\"}} {}\n",
        grpc.bytes_in
    )));
    assert!(prom.contains(&format!(
        "ferrite_tenant_messages_delivered_total{{token=\"anonymous\",cache=\"default\"}} {}\n",
        resp.delivered
    )));
    // Plain: one [token, cache, ops, in, out, published, delivered] row per tenant, in order.
    let row = |cache: &str, f: &Fig| {
        format!(
            "*7\r\n$9\r\nanonymous\r\n${}\r\n{cache}\r\n:{}\r\n:{}\r\n:{}\r\n:{}\r\n:{}\r\n",
            cache.len(),
            f.ops,
            f.bytes_in,
            f.bytes_out,
            f.published,
            f.delivered
        )
    };
    let plain = format!("*2\r\n{}{}", row("default", &resp), row("meter", &grpc));
    raw.roundtrip(&["FERRITE.METERING"], plain.as_bytes()).await;
    raw.roundtrip(
        &["FERRITE.METERING", "XML"],
        b"-ERR syntax error: FERRITE.METERING [JSON | PROMETHEUS]\r\n",
    )
    .await;
}

fn with_cache_limit(cfg: &mut Config, cache: &str, o: QuotaOverride) {
    cfg.quotas.caches.insert(cache.into(), o);
}

/// Retry `f` every 100 ms until it returns true (a refused request recovering); 30 s at most.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ops_rate_limit_refuses_on_both_protocols_recovers_and_spares_other_caches() {
    let mut cfg = test_config();
    with_cache_limit(
        &mut cfg,
        "default",
        QuotaOverride {
            ops_per_sec: Some(2),
            ..QuotaOverride::default()
        },
    );
    let srv = TestServer::start_with(cfg).await;
    create_cache(&srv, "free").await;

    // RESP: a pipeline of 5 commands against a 2-operation burst: 2 run, 3 are refused.
    let mut conn = RawConn::connect(srv.addr).await;
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.extend(frame(&["SET", &format!("k{i}"), "v"]));
    }
    conn.send(&batch).await;
    conn.expect(b"+OK\r\n+OK\r\n").await;
    for _ in 0..3 {
        let l = read_line(&mut conn).await;
        assert!(
            l.starts_with(
                "-ERR operations rate limit exceeded for cache 'default' (2 operations per second); retry in "
            ) && l.ends_with(" ms"),
            "{l}"
        );
    }

    // gRPC on the same cache shares the bucket: the SDK sees LimitExceeded.
    let sdk = cache_client(srv.grpc_addr());
    let mut refused = None;
    for _ in 0..50 {
        if let Err(e) = sdk.get("default", "k0").await {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("the 2 ops/s limit refuses some of 50 quick calls");
    assert_eq!(e.error_code, MomentoErrorCode::LimitExceededError, "{e:?}");
    assert_eq!(e.message, "Request rate limit exceeded for this account");
    // The raw status carries the cause the SDKs map.
    let mut scs = raw_scs(srv.grpc_addr()).await;
    let mut status = None;
    for _ in 0..50 {
        if let Err(s) = scs.get(in_cache("default", get_req("k0"))).await {
            status = Some(s);
            break;
        }
    }
    let s = status.expect("refused");
    assert_eq!(s.code(), tonic::Code::ResourceExhausted);
    assert_eq!(
        err_of(&s).as_deref(),
        Some("operations_rate_limit_exceeded")
    );
    assert!(s
        .message()
        .contains("operations rate limit exceeded for cache 'default'"));
    assert!(s.metadata().get("retry-after-ms").is_some());

    // Another cache is not affected while `default` is throttled.
    for i in 0..30 {
        sdk.set("free", format!("f{i}"), "v").await.unwrap();
    }

    // Recovery: once the window passes, both protocols are served again.
    eventually("RESP", || {
        let srv = &srv;
        async move {
            let mut c = srv.client().await;
            redis::cmd("GET")
                .arg("k0")
                .query_async::<Option<String>>(&mut c)
                .await
                .is_ok_and(|v| v.as_deref() == Some("v"))
        }
    })
    .await;
    eventually("gRPC", || {
        let sdk = sdk.clone();
        async move { sdk.get("default", "k0").await.is_ok() }
    })
    .await;
    // k2..k4 were refused, so they never existed.
    eventually("gRPC keys_exist", || {
        let sdk = sdk.clone();
        async move {
            match sdk.keys_exist("default", vec!["k2", "k3", "k4"]).await {
                Ok(r) => {
                    let v: Vec<bool> = r.into();
                    assert_eq!(v, vec![false, false, false]);
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;
}

#[tokio::test]
async fn throughput_limit_refuses_after_the_burst_and_recovers() {
    let mut cfg = test_config();
    // Every cache: 200 bytes/s (a 200-byte burst).
    cfg.quotas.cache_bytes_per_sec = 200;
    let srv = TestServer::start_with(cfg).await;
    // 1000 bytes leave the bucket ~4 s in debt: the next request is refused even on a slow,
    // loaded machine.
    let big = "x".repeat(1000);

    // RESP: the first SET is admitted (the bucket is full) and leaves it in debt.
    let mut conn = RawConn::connect(srv.addr).await;
    conn.roundtrip(&["SET", "big", &big], b"+OK\r\n").await;
    conn.cmd(&["GET", "big"]).await;
    let line = read_line(&mut conn).await;
    assert!(
        line.starts_with(
            "-ERR throughput limit exceeded for cache 'default' (200 bytes per second); retry in "
        ),
        "{line}"
    );

    // gRPC: its own cache, its own bucket.
    create_cache(&srv, "g").await;
    let sdk = cache_client(srv.grpc_addr());
    sdk.set("g", "big", big.clone()).await.unwrap();
    let e = sdk.get("g", "big").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::LimitExceededError, "{e:?}");
    assert_eq!(e.message, "Bandwidth limit exceeded for this account");
    let mut scs = raw_scs(srv.grpc_addr()).await;
    let s = scs.get(in_cache("g", get_req("big"))).await.unwrap_err();
    assert_eq!(
        err_of(&s).as_deref(),
        Some("throughput_rate_limit_exceeded")
    );
    assert!(s
        .message()
        .contains("throughput limit exceeded for cache 'g'"));

    // The debt is paid back at 200 bytes/s: both recover.
    eventually("gRPC", || {
        let sdk = sdk.clone();
        async move { sdk.get("g", "big").await.is_ok() }
    })
    .await;
    let c = srv.client().await;
    eventually("RESP", || {
        let mut c = c.clone();
        async move {
            redis::cmd("STRLEN")
                .arg("big")
                .query_async::<i64>(&mut c)
                .await
                .is_ok_and(|n| n == 1000)
        }
    })
    .await;
}

#[tokio::test]
async fn data_volume_quota_per_period_and_token_limits() {
    let mut cfg = test_config();
    cfg.quotas.volume_period_secs = 3;
    with_cache_limit(
        &mut cfg,
        "default",
        QuotaOverride {
            volume_bytes: Some(400),
            ..QuotaOverride::default()
        },
    );
    with_cache_limit(
        &mut cfg,
        "vol",
        QuotaOverride {
            volume_bytes: Some(400),
            ..QuotaOverride::default()
        },
    );
    let srv = TestServer::start_with(cfg).await;
    create_cache(&srv, "vol").await;
    let value = "v".repeat(100);

    // RESP: ~130 bytes per SET; the quota refuses within a few (a period boundary may reset it
    // once in between, hence the loop).
    let mut conn = RawConn::connect(srv.addr).await;
    let mut refused = None;
    for i in 0..30 {
        conn.cmd(&["SET", &format!("k{i}"), &value]).await;
        let line = read_line(&mut conn).await;
        if line != "+OK" {
            refused = Some(line);
            break;
        }
    }
    let msg = refused.expect("the volume quota refuses");
    assert!(
        msg.starts_with("-ERR data volume quota exceeded for cache 'default' (400 bytes per 3 seconds); retry in "),
        "{msg}"
    );

    // gRPC: LimitExceeded with the throughput cause (the SDKs have no volume cause).
    let mut scs = raw_scs(srv.grpc_addr()).await;
    let mut status = None;
    for i in 0..30 {
        if let Err(s) = scs
            .set(in_cache("vol", set_req(&format!("k{i}"), value.as_bytes())))
            .await
        {
            status = Some(s);
            break;
        }
    }
    let s = status.expect("refused");
    assert_eq!(s.code(), tonic::Code::ResourceExhausted);
    assert_eq!(
        err_of(&s).as_deref(),
        Some("throughput_rate_limit_exceeded")
    );
    assert!(s
        .message()
        .contains("data volume quota exceeded for cache 'vol'"));
    let sdk = cache_client(srv.grpc_addr());

    // The next period starts afresh.
    eventually("gRPC volume", || {
        let sdk = sdk.clone();
        async move { sdk.get("vol", "k0").await.is_ok() }
    })
    .await;
    eventually("RESP volume", || {
        let srv = &srv;
        async move {
            let mut c = srv.client().await;
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .is_ok()
        }
    })
    .await;
}

#[tokio::test]
async fn token_limits_span_every_cache_of_the_token() {
    let mut cfg = test_config();
    cfg.quotas.token_ops_per_sec = 3;
    let srv = TestServer::start_with(cfg).await;
    for c in ["a", "b"] {
        create_cache(&srv, c).await;
    }
    let mut scs = raw_scs(srv.grpc_addr()).await;
    let mut status = None;
    for i in 0..60 {
        let cache = if i % 2 == 0 { "a" } else { "b" };
        if let Err(s) = scs.get(in_cache(cache, get_req("k"))).await {
            status = Some(s);
            break;
        }
    }
    let s = status.expect("the token's 3 ops/s refuse across caches");
    assert_eq!(
        err_of(&s).as_deref(),
        Some("operations_rate_limit_exceeded")
    );
    assert!(
        s.message().contains(
            "operations rate limit exceeded for token 'anonymous' (3 operations per second)"
        ),
        "{}",
        s.message()
    );
    // RESP is the same token.
    let mut conn = RawConn::connect(srv.addr).await;
    let mut refused = false;
    for _ in 0..60 {
        conn.cmd(&["PING"]).await;
        let line = read_line(&mut conn).await;
        if line != "+PONG" {
            assert!(
                line.starts_with("-ERR operations rate limit exceeded for token 'anonymous'"),
                "{line}"
            );
            refused = true;
            break;
        }
    }
    assert!(refused);
}

#[tokio::test]
async fn tracked_keys_are_bounded_and_deleted_caches_retire() {
    let mut cfg = test_config();
    cfg.metering.max_tracked_keys = 2;
    cfg.metering.retire_interval_secs = 1;
    let srv = TestServer::start_with(cfg).await;
    for c in ["c1", "c2", "c3", "c4", "c5"] {
        create_cache(&srv, c).await;
    }
    let mut scs = raw_scs(srv.grpc_addr()).await;
    let req = get_req("k");
    let miss = scs
        .get(in_cache("c1", req.clone()))
        .await
        .unwrap()
        .get_ref()
        .encoded_len();
    for c in ["c2", "c3", "c4"] {
        scs.get(in_cache(c, req.clone())).await.unwrap();
    }
    let one = Fig {
        ops: 1,
        bytes_in: req.encoded_len() as u64,
        bytes_out: miss as u64,
        ..Fig::default()
    };
    let f = metering(&srv).await;
    assert_eq!(f.len(), 3, "{f:?}");
    assert_eq!(f[&key("c1")], one);
    assert_eq!(f[&key("c2")], one);
    let other = f[&("other".to_string(), "other".to_string())];
    assert_eq!(other.ops, 2, "c3 and c4 add up under other");
    assert_eq!(other.bytes_in, 2 * one.bytes_in);

    // Deleting c1 frees its slot (after the retire sweeps): c5 then gets its own figures.
    cache_client(srv.grpc_addr())
        .delete_cache("c1")
        .await
        .unwrap();
    eventually("retirement of c1", || {
        let srv = &srv;
        async move { !metering(srv).await.contains_key(&key("c1")) }
    })
    .await;
    scs.get(in_cache("c5", req.clone())).await.unwrap();
    let f = metering(&srv).await;
    assert_eq!(f.get(&key("c5")), Some(&one), "{f:?}");
    assert_eq!(f[&("other".to_string(), "other".to_string())].ops, 2);
}
