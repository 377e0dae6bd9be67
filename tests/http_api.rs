//! The HTTP API against the real server (port 0) with a real HTTP client (reqwest), plus the
//! `redis` crate and the Momento SDK to check that the three protocols share data and topics.

mod common;
mod grpc_util;

use std::collections::BTreeSet;
use std::time::Duration;

use common::http::{expect_error, json_of};
use common::{q, test_config, TestServer};
use ferrite_config::Config;
use futures_util::StreamExt;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;

const C: &str = "default";
/// Long enough for anything a loaded CI machine does; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);

fn base(srv: &TestServer) -> String {
    format!("http://{}", srv.running.http_addr)
}

fn client() -> Client {
    Client::builder().build().expect("reqwest client")
}

/// Config with a short long-poll wait, so "nothing arrived" answers come back quickly.
fn quick_config() -> Config {
    let mut c = test_config();
    c.http.long_poll_max_wait_ms = 300;
    c
}

/// Wait until `topic` in the default cache has `n` direct subscribers (RESP `PUBSUB NUMSUB`
/// counts HTTP and gRPC subscribers too: one engine).
async fn wait_numsub(r: &mut redis::aio::MultiplexedConnection, topic: &str, n: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let v: (String, i64) = q(r, &["PUBSUB", "NUMSUB", topic]).await.unwrap();
        if v.1 == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "numsub {topic} stuck at {}",
            v.1
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cache_put_get_delete_and_resp_sees_it() {
    let srv = TestServer::start().await;
    let http = client();
    let url = format!("{}/cache/{C}", base(&srv));
    let mut r = srv.client().await;

    // PUT: 204, and RESP GET in the same cache reads it, with the TTL applied.
    let resp = http
        .put(format!("{url}?key=greeting&ttl_seconds=60"))
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let v: String = q(&mut r, &["GET", "greeting"]).await.unwrap();
    assert_eq!(v, "hello world");
    let pttl: i64 = q(&mut r, &["PTTL", "greeting"]).await.unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "{pttl}");

    // GET hit: 200, raw bytes, octet-stream.
    let resp = http
        .get(format!("{url}?key=greeting"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/octet-stream"
    );
    assert_eq!(resp.bytes().await.unwrap(), "hello world");

    // RESP writes, HTTP reads (a key with characters that need URL encoding).
    let _: () = q(&mut r, &["SET", "a key/with?odd&chars", "from resp"])
        .await
        .unwrap();
    let resp = http
        .get(format!("{url}?key=a%20key%2Fwith%3Fodd%26chars"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), "from resp");

    // Binary key and value through key_base64 (base64url of 00 ff fe, unpadded).
    let resp = http
        .put(format!("{url}?key_base64=AP_-&ttl_seconds=5"))
        .body(vec![0u8, 1, 2, 255])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let v: Vec<u8> = redis::cmd("GET")
        .arg(&[0u8, 255, 254][..])
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(v, [0u8, 1, 2, 255]);
    let resp = http
        .get(format!("{url}?key_base64=AP_%2B"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "standard alphabet accepted too"
    );
    assert_eq!(&resp.bytes().await.unwrap()[..], [0u8, 1, 2, 255]);

    // DELETE: 204; then a miss is 404 key_not_found; deleting again still succeeds.
    let resp = http
        .delete(format!("{url}?key=greeting"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let e: i64 = q(&mut r, &["EXISTS", "greeting"]).await.unwrap();
    assert_eq!(e, 0);
    let resp = http
        .get(format!("{url}?key=greeting"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "key_not_found").await;
    let resp = http
        .delete(format!("{url}?key=greeting"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // An empty value is a value.
    let resp = http
        .put(format!("{url}?key=empty&ttl_seconds=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = http.get(format!("{url}?key=empty")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn cache_values_are_shared_with_grpc() {
    let srv = TestServer::start().await;
    let http = client();
    let url = format!("{}/cache/{C}", base(&srv));
    let momento = grpc_util::cache_client(srv.grpc_addr());
    momento.set(C, "from-grpc", "g").await.unwrap();
    let resp = http
        .get(format!("{url}?key=from-grpc"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap(), "g");
    http.put(format!("{url}?key=from-http&ttl_seconds=30"))
        .body("h")
        .send()
        .await
        .unwrap();
    match momento.get(C, "from-http").await.unwrap() {
        momento::cache::GetResponse::Hit { value } => {
            assert_eq!(Vec::<u8>::from(value), b"h")
        }
        momento::cache::GetResponse::Miss => panic!("gRPC does not see the HTTP write"),
    }
}

#[tokio::test]
async fn cache_errors() {
    let mut cfg = test_config();
    cfg.http.max_body_bytes = 64 * 1024;
    cfg.grpc.max_item_bytes = 1024;
    let srv = TestServer::start_with(cfg).await;
    let http = client();
    let url = format!("{}/cache/{C}", base(&srv));
    let bad = StatusCode::BAD_REQUEST;

    // Key parameter problems, on every method.
    for m in [Method::GET, Method::PUT, Method::DELETE] {
        let send = |u: String| http.request(m.clone(), u).body("v").send();
        expect_error(
            send(format!("{url}?ttl_seconds=5")).await.unwrap(),
            bad,
            "bad_request",
        )
        .await;
        expect_error(
            send(format!("{url}?key_base64=%25%25%25&ttl_seconds=5"))
                .await
                .unwrap(),
            bad,
            "bad_request",
        )
        .await;
        expect_error(
            send(format!("{url}?key_base64=A&ttl_seconds=5"))
                .await
                .unwrap(),
            bad,
            "bad_request",
        )
        .await;
        expect_error(
            send(format!("{url}?key=a&key_base64=YQ&ttl_seconds=5"))
                .await
                .unwrap(),
            bad,
            "bad_request",
        )
        .await;
        expect_error(
            send(format!("{url}?key=&ttl_seconds=5")).await.unwrap(),
            bad,
            "bad_request",
        )
        .await;
        expect_error(
            send(format!("{url}?key=a&key=b&ttl_seconds=5"))
                .await
                .unwrap(),
            bad,
            "bad_request",
        )
        .await;
        // Unknown cache: 404 cache_not_found (told apart from key_not_found).
        let resp = send(format!("{}/cache/nope?key=a&ttl_seconds=5", base(&srv)))
            .await
            .unwrap();
        let body = expect_error(resp, StatusCode::NOT_FOUND, "cache_not_found").await;
        assert!(body["message"].as_str().unwrap().contains("nope"));
    }

    // TTL problems.
    for qs in [
        "key=a",
        "key=a&ttl_seconds=0",
        "key=a&ttl_seconds=-5",
        "key=a&ttl_seconds=ten",
        "key=a&ttl_seconds=86401",
    ] {
        let resp = http
            .put(format!("{url}?{qs}"))
            .body("v")
            .send()
            .await
            .unwrap();
        let body = expect_error(resp, bad, "bad_request").await;
        assert!(
            body["message"].as_str().unwrap().contains("ttl_seconds"),
            "{body}"
        );
    }
    // Exactly the maximum TTL (24 h) is accepted.
    let resp = http
        .put(format!("{url}?key=a&ttl_seconds=86400"))
        .body("v")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Item over grpc.max_item_bytes (key counted): 413 item_size_limit_exceeded.
    let resp = http
        .put(format!("{url}?key=big&ttl_seconds=5"))
        .body(vec![b'x'; 1022])
        .send()
        .await
        .unwrap();
    expect_error(
        resp,
        StatusCode::PAYLOAD_TOO_LARGE,
        "item_size_limit_exceeded",
    )
    .await;
    let resp = http
        .put(format!("{url}?key=big&ttl_seconds=5"))
        .body(vec![b'x'; 1021])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::NO_CONTENT,
        "key + value = the limit fits"
    );
    // Body over http.max_body_bytes: 413 payload_too_large, whether announced or streamed.
    let resp = http
        .put(format!("{url}?key=huge&ttl_seconds=5"))
        .body(vec![b'x'; 64 * 1024 + 1])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Chunked (no Content-Length): the limit holds while streaming. Raw bytes, since the server
    // may answer and close before the whole body is written.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(srv.running.http_addr)
            .await
            .unwrap();
        let head = format!(
            "PUT /cache/{C}?key=huge&ttl_seconds=5 HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let _ = s.write_all(head.as_bytes()).await;
        let chunk = format!("1000\r\n{}\r\n", "y".repeat(4096));
        for _ in 0..40 {
            if s.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match tokio::time::timeout(PATIENCE, s.read(&mut buf))
                .await
                .unwrap()
            {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    }

    // A key that holds a collection: 409 (the gRPC side's FAILED_PRECONDITION).
    let mut r = srv.client().await;
    let _: i64 = q(&mut r, &["HSET", "h", "f", "v"]).await.unwrap();
    let resp = http.get(format!("{url}?key=h")).send().await.unwrap();
    let body = expect_error(resp, StatusCode::CONFLICT, "failed_precondition").await;
    assert!(
        body["message"].as_str().unwrap().contains("dictionary"),
        "{body}"
    );

    // Token both in the header and the query: 400. Either alone (or none): accepted.
    let resp = http
        .get(format!("{url}?key=a&token=t1"))
        .header("authorization", "t2")
        .send()
        .await
        .unwrap();
    expect_error(resp, bad, "bad_request").await;
    for req in [
        http.get(format!("{url}?key=a&token=t1")),
        http.get(format!("{url}?key=a"))
            .header("authorization", "raw-token"),
        http.get(format!("{url}?key=a")).bearer_auth("jwt.a.b"),
    ] {
        assert_eq!(req.send().await.unwrap().status(), StatusCode::OK);
    }

    // Routing: unknown path 404 not_found, unsupported method 405; both JSON.
    let resp = http
        .get(format!("{}/nope", base(&srv)))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = http.patch(format!("{url}?key=a")).send().await.unwrap();
    expect_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

// ---------------------------------------------------------------------------------------------
// Topics: publish and long poll
// ---------------------------------------------------------------------------------------------

async fn long_poll(http: &Client, srv: &TestServer, topic: &str, qs: &str) -> Value {
    let resp = http
        .get(format!("{}/topics/{C}/{topic}?{qs}", base(srv)))
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    json_of(resp).await
}

#[tokio::test]
async fn long_poll_wakes_on_a_resp_publish_and_continues_from_the_ring() {
    let srv = TestServer::start().await;
    let http = client();
    let mut r = srv.client().await;

    // A poll from "now" (0/0) blocks until a RESP client publishes.
    let poll = {
        let http = http.clone();
        let url = format!(
            "{}/topics/{C}/news?sequence_number=0&sequence_page=0",
            base(&srv)
        );
        tokio::spawn(async move {
            let resp = http.get(url).timeout(PATIENCE).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            json_of(resp).await
        })
    };
    wait_numsub(&mut r, "news", 1).await;
    let n: i64 = q(&mut r, &["PUBLISH", "news", "first"]).await.unwrap();
    assert_eq!(n, 1, "the long poll is a subscriber");
    let body = poll.await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    let item = &items[0]["item"];
    assert_eq!(item["topic_sequence_number"], 1);
    assert_eq!(item["value"]["text"], "first");
    let page = item["sequence_page"].as_u64().unwrap();
    assert!(page > 0);
    // The poll's subscription is gone once it answered.
    wait_numsub(&mut r, "news", 0).await;

    // Meanwhile two more (one not UTF-8: binary, base64); the next poll replays both at once.
    let _: i64 = q(&mut r, &["PUBLISH", "news", "second"]).await.unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg(&[0xffu8, 0x00][..])
        .query_async(&mut r)
        .await
        .unwrap();
    let body = long_poll(
        &http,
        &srv,
        "news",
        &format!("sequence_number=2&sequence_page={page}"),
    )
    .await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(items[0]["item"]["topic_sequence_number"], 2);
    assert_eq!(items[0]["item"]["value"]["text"], "second");
    assert_eq!(items[1]["item"]["topic_sequence_number"], 3);
    assert_eq!(items[1]["item"]["value"]["binary"], "/wA=");
    assert_eq!(items[1]["item"]["sequence_page"], page);

    // The batch is bounded by http.long_poll_max_items (default 100): 150 retained -> 100 + 50.
    for i in 0..150 {
        let _: i64 = q(&mut r, &["PUBLISH", "news", &format!("m{i}")])
            .await
            .unwrap();
    }
    let body = long_poll(
        &http,
        &srv,
        "news",
        &format!("sequence_number=4&sequence_page={page}"),
    )
    .await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    assert_eq!(items[99]["item"]["topic_sequence_number"], 103);
    let body = long_poll(
        &http,
        &srv,
        "news",
        &format!("sequence_number=104&sequence_page={page}"),
    )
    .await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(items[49]["item"]["value"]["text"], "m149");
}

#[tokio::test]
async fn long_poll_times_out_empty_and_reports_discontinuities() {
    let srv = TestServer::start_with(quick_config()).await;
    let http = client();
    let mut r = srv.client().await;

    // Nothing published: after http.long_poll_max_wait_ms, 200 with no items.
    let body = long_poll(&http, &srv, "quiet", "").await;
    assert_eq!(body, serde_json::json!({ "items": [] }));

    // Page 0 is the current page (Momento's "not provided"): the item itself.
    let _: i64 = q(&mut r, &["PUBLISH", "t", "a"]).await.unwrap();
    let first = long_poll(&http, &srv, "t", "sequence_number=1&sequence_page=0").await;
    let i = &first["items"][0]["item"];
    assert_eq!(i["topic_sequence_number"], 1, "{first}");
    let page = i["sequence_page"].as_u64().unwrap();
    // A page the topic never had: a discontinuity telling the client where it stands (nothing
    // known lost), then what the window holds.
    let body = long_poll(
        &http,
        &srv,
        "t",
        &format!("sequence_number=1&sequence_page={}", page + 1),
    )
    .await;
    let d = &body["items"][0]["discontinuity"];
    assert_eq!(
        (
            d["last_topic_sequence"].as_u64(),
            d["new_topic_sequence"].as_u64()
        ),
        (Some(0), Some(1)),
        "{body}"
    );
    assert_eq!(
        body["items"][1]["item"]["topic_sequence_number"], 1,
        "{body}"
    );
    // Caught up (sequence_number = next on the current page): waits, then no items.
    let body = long_poll(
        &http,
        &srv,
        "t",
        &format!("sequence_number=2&sequence_page={page}"),
    )
    .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0, "{body}");
    // A stale page: discontinuity carrying the current page, at once (no waiting for a message).
    let body = long_poll(
        &http,
        &srv,
        "t",
        &format!("sequence_number=2&sequence_page={}", page - 1),
    )
    .await;
    assert_eq!(
        body["items"][0]["discontinuity"]["new_sequence_page"], page,
        "{body}"
    );
}

#[tokio::test]
async fn publish_over_http_reaches_resp_grpc_and_http_subscribers() {
    let srv = TestServer::start().await;
    let http = client();
    let url = format!("{}/topics/{C}/chat", base(&srv));

    // RESP subscriber.
    let redis_client = redis::Client::open(srv.url()).unwrap();
    let mut pubsub = redis_client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("chat").await.unwrap();
    // gRPC (Momento SDK) subscriber: registered once subscribe() returned.
    let topics = grpc_util::topic_client(srv.grpc_addr());
    let mut grpc_sub = topics.subscribe(C, "chat").await.unwrap();

    let resp = http
        .post(&url)
        .header("content-type", "text/plain; charset=utf-8")
        .body("hi from http")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = http
        .post(&url)
        .header("content-type", "application/octet-stream")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let mut msgs = pubsub.on_message();
    for want in [&b"hi from http"[..], &[1u8, 2, 3][..]] {
        let m = tokio::time::timeout(PATIENCE, msgs.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.get_channel_name(), "chat");
        assert_eq!(m.get_payload_bytes(), want);
    }
    use momento::topics::ValueKind;
    let m = tokio::time::timeout(PATIENCE, grpc_sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.kind, ValueKind::Text("hi from http".into()));
    assert_eq!(m.topic_sequence_number, 1);
    let m = tokio::time::timeout(PATIENCE, grpc_sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.kind, ValueKind::Binary(vec![1, 2, 3]));

    // And a gRPC publish reaches an HTTP long poll that continues from there.
    let poll = {
        let http = http.clone();
        let url = format!(
            "{url}?sequence_number=3&sequence_page={}",
            m.topic_sequence_page
        );
        tokio::spawn(async move {
            let resp = http.get(url).timeout(PATIENCE).send().await.unwrap();
            json_of(resp).await
        })
    };
    topics.publish(C, "chat", "from grpc").await.unwrap();
    let body = poll.await.unwrap();
    assert_eq!(
        body["items"][0]["item"]["value"]["text"], "from grpc",
        "{body}"
    );
    assert_eq!(body["items"][0]["item"]["topic_sequence_number"], 3);
}

#[tokio::test]
async fn topic_errors() {
    let srv = TestServer::start_with(quick_config()).await;
    let http = client();
    let b = base(&srv);
    let bad = StatusCode::BAD_REQUEST;

    // Unknown cache: 404 for publish and subscribe.
    let resp = http
        .post(format!("{b}/topics/nope/t"))
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "cache_not_found").await;
    let resp = http.get(format!("{b}/topics/nope/t")).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "cache_not_found").await;
    let resp = http
        .get(format!("{b}/topics/nope/t"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "cache_not_found").await;

    // Message over grpc.max_publish_bytes (4 KiB): 413; exactly 4 KiB is fine.
    let resp = http
        .post(format!("{b}/topics/{C}/t"))
        .body(vec![b'x'; 4097])
        .send()
        .await
        .unwrap();
    expect_error(
        resp,
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_size_limit_exceeded",
    )
    .await;
    let resp = http
        .post(format!("{b}/topics/{C}/t"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Text that is not UTF-8.
    let resp = http
        .post(format!("{b}/topics/{C}/t"))
        .header("content-type", "text/plain")
        .body(vec![0xffu8, 0xfe])
        .send()
        .await
        .unwrap();
    expect_error(resp, bad, "bad_request").await;

    // Bad subscribe arguments.
    for qs in [
        "sequence_number=x",
        "sequence_page=-1",
        "sequence_number=1&sequence_number=2",
    ] {
        let resp = http
            .get(format!("{b}/topics/{C}/t?{qs}"))
            .send()
            .await
            .unwrap();
        expect_error(resp, bad, "bad_request").await;
    }
    let resp = http
        .get(format!("{b}/topics/{C}/t"))
        .header("accept", "text/event-stream")
        .header("last-event-id", "not-a-number")
        .send()
        .await
        .unwrap();
    expect_error(resp, bad, "bad_request").await;
    // Topic names: at most 255 bytes.
    let long = "t".repeat(256);
    let resp = http
        .post(format!("{b}/topics/{C}/{long}"))
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(resp, bad, "bad_request").await;
    // No topic segment: not a route.
    let resp = http.get(format!("{b}/topics/{C}/")).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

// ---------------------------------------------------------------------------------------------
// Server-Sent Events
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, PartialEq)]
struct SseMsg {
    id: Option<String>,
    event: Option<String>,
    data: String,
    comment: Option<String>,
}

/// Reads an SSE body event by event (a blank line ends each).
struct SseReader {
    resp: Response,
    buf: String,
}

impl SseReader {
    async fn open(http: &Client, url: &str, last_event_id: Option<&str>) -> Self {
        let mut req = http.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Self {
            resp,
            buf: String::new(),
        }
    }

    async fn next(&mut self) -> SseMsg {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut m = SseMsg::default();
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        m.comment = Some(c.trim().to_string());
                    } else if let Some((k, v)) = line.split_once(':') {
                        let v = v.strip_prefix(' ').unwrap_or(v).to_string();
                        match k {
                            "id" => m.id = Some(v),
                            "event" => m.event = Some(v),
                            "data" => m.data.push_str(&v),
                            _ => {}
                        }
                    }
                }
                return m;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.resp.chunk())
                .await
                .expect("an SSE event in time")
                .unwrap()
                .expect("the stream is still open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event that is not a heartbeat comment.
    async fn next_event(&mut self) -> SseMsg {
        loop {
            let m = self.next().await;
            if m.comment.is_none() {
                return m;
            }
        }
    }
}

#[tokio::test]
async fn sse_streams_messages_and_resumes_with_last_event_id() {
    let mut cfg = test_config();
    cfg.topics.heartbeat_interval_secs = 1;
    let srv = TestServer::start_with(cfg).await;
    let http = client();
    let url = format!("{}/topics/{C}/feed", base(&srv));
    let mut r = srv.client().await;

    let mut sse = SseReader::open(&http, &url, None).await;
    // Subscribed once the response headers arrived.
    for i in 1..=3 {
        let n: i64 = q(&mut r, &["PUBLISH", "feed", &format!("msg{i}")])
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let mut page = 0;
    for i in 1..=3u64 {
        let m = sse.next_event().await;
        assert_eq!(m.event, None, "message events use the default type");
        assert_eq!(m.id.as_deref(), Some(i.to_string().as_str()));
        let item: Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(item["topic_sequence_number"], i);
        assert_eq!(item["value"]["text"], format!("msg{i}"));
        page = item["sequence_page"].as_u64().unwrap();
    }
    // Idle: heartbeats are SSE comments.
    let hb = sse.next().await;
    assert_eq!(hb.comment.as_deref(), Some("heartbeat"), "{hb:?}");

    // Disconnect, miss two messages, reconnect with the last id seen: they are replayed.
    drop(sse);
    wait_numsub(&mut r, "feed", 0).await;
    for i in 4..=5 {
        let _: i64 = q(&mut r, &["PUBLISH", "feed", &format!("msg{i}")])
            .await
            .unwrap();
    }
    let mut sse = SseReader::open(&http, &url, Some("3")).await;
    for i in 4..=5u64 {
        let m = sse.next_event().await;
        assert_eq!(m.id.as_deref(), Some(i.to_string().as_str()));
        let item: Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(item["value"]["text"], format!("msg{i}"));
        assert_eq!(item["sequence_page"], page);
    }
    // ...and it is live afterwards (an HTTP publish this time).
    http.post(&url)
        .header("content-type", "text/plain")
        .body("msg6")
        .send()
        .await
        .unwrap();
    let m = sse.next_event().await;
    assert_eq!(m.id.as_deref(), Some("6"));
    drop(sse);

    // An id from the future (another page, a reset topic): a discontinuity event (nothing
    // known lost: last 0), then what the window holds, then live.
    let mut sse = SseReader::open(&http, &url, Some("1000")).await;
    let m = sse.next_event().await;
    assert_eq!(m.event.as_deref(), Some("discontinuity"), "{m:?}");
    let d: Value = serde_json::from_str(&m.data).unwrap();
    assert_eq!(
        (
            d["last_topic_sequence"].as_u64(),
            d["new_topic_sequence"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(d["new_sequence_page"], page);
    for i in 1..=6u64 {
        assert_eq!(
            sse.next_event().await.id.as_deref(),
            Some(i.to_string().as_str())
        );
    }
    let _: i64 = q(&mut r, &["PUBLISH", "feed", "msg7"]).await.unwrap();
    assert_eq!(sse.next_event().await.id.as_deref(), Some("7"));
    drop(sse);
    // No Last-Event-ID: the newest message first (topics.subscribe_backlog, as gRPC's resume 0).
    let mut sse = SseReader::open(&http, &url, None).await;
    assert_eq!(sse.next_event().await.id.as_deref(), Some("7"));
}

#[tokio::test]
async fn sse_ends_with_an_error_event_when_the_cache_is_deleted() {
    let srv = TestServer::start().await;
    let momento = grpc_util::cache_client(srv.grpc_addr());
    momento.create_cache("doomed").await.unwrap();
    let http = client();
    let url = format!("{}/topics/doomed/t", base(&srv));
    let mut sse = SseReader::open(&http, &url, None).await;
    momento.delete_cache("doomed").await.unwrap();
    let m = sse.next_event().await;
    assert_eq!(m.event.as_deref(), Some("error"));
    let e: Value = serde_json::from_str(&m.data).unwrap();
    assert_eq!(e["error"], "cache_not_found");
    // The stream then ends.
    let end = tokio::time::timeout(PATIENCE, sse.resp.chunk())
        .await
        .unwrap()
        .unwrap();
    assert!(end.is_none());
}

#[tokio::test]
async fn sse_slow_reader_gets_a_discontinuity_not_unbounded_buffering() {
    let mut cfg = test_config();
    cfg.topics.replay_max_messages = 8;
    let srv = TestServer::start_with(cfg).await;
    let http = client();
    let url = format!("{}/topics/{C}/firehose", base(&srv));
    let mut sse = SseReader::open(&http, &url, None).await;
    // Publish far more than the socket buffers can hold while the reader reads nothing. The
    // server only takes events from the engine as the client reads, so the reader falls behind
    // the 8-message ring and must see a discontinuity instead of every message.
    let mut r = srv.client().await;
    let payload = "p".repeat(4000);
    let total = 20_000u64;
    for _ in 0..total {
        let _: i64 = q(&mut r, &["PUBLISH", "firehose", &payload]).await.unwrap();
    }
    let mut seen = 0u64;
    loop {
        let m = sse.next_event().await;
        if m.event.as_deref() == Some("discontinuity") {
            let d: Value = serde_json::from_str(&m.data).unwrap();
            assert!(
                d["new_topic_sequence"].as_u64().unwrap()
                    > d["last_topic_sequence"].as_u64().unwrap() + 1
            );
            break;
        }
        seen += 1;
        assert!(
            seen < total,
            "every message was buffered for the slow reader"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// CORS and OpenAPI
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cors_only_when_configured() {
    // Off by default: no CORS headers at all.
    let srv = TestServer::start().await;
    let http = client();
    let resp = http
        .get(format!("{}/cache/{C}?key=a", base(&srv)))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    drop(srv);

    let mut cfg = test_config();
    cfg.http.cors_allowed_origins = vec!["https://app.example".into()];
    let srv = TestServer::start_with(cfg).await;
    let url = format!("{}/cache/{C}?key=a&ttl_seconds=5", base(&srv));
    // Preflight for a PUT with Authorization.
    let resp = http
        .request(Method::OPTIONS, &url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(
        methods.contains("PUT") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("last-event-id"),
        "{allowed}"
    );
    // The actual request carries the header too; another origin gets none.
    let resp = http
        .put(&url)
        .header("origin", "https://app.example")
        .body("v")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let resp = http
        .get(format!("{}/cache/{C}?key=a", base(&srv)))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn openapi_documents_exactly_the_routes_served() {
    let srv = TestServer::start_with(quick_config()).await;
    let http = client();
    let resp = http
        .get(format!("{}/openapi.json", base(&srv)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    // The router is built from `routes()`: same path templates as the document.
    let served: BTreeSet<String> = ferrite::http::routes()
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect();
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(served, documented);

    // And, per path, the methods the server answers are exactly the documented ones: every
    // documented method is routed (not 405, not the no-route 404), every other one is 405.
    let all = [
        Method::GET,
        Method::PUT,
        Method::POST,
        Method::DELETE,
        Method::PATCH,
    ];
    for (path, ops) in paths {
        let concrete = path.replace("{cache}", C).replace("{topic}", "t");
        let url = format!("{}{concrete}?key=k&ttl_seconds=5", base(&srv));
        for m in &all {
            let documented = ops.get(m.as_str().to_ascii_lowercase()).is_some();
            let resp = http
                .request(m.clone(), &url)
                .body("x")
                .send()
                .await
                .unwrap();
            let status = resp.status();
            if documented {
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
                if status == StatusCode::NOT_FOUND {
                    let body = json_of(resp).await;
                    assert_ne!(body["error"], "not_found", "{m} {path} is not routed");
                }
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{m} {path} is served but not documented"
                );
            }
        }
    }
}

#[tokio::test]
async fn open_subscriptions_are_capped() {
    let mut cfg = quick_config();
    cfg.http.max_subscriptions = 1;
    let srv = TestServer::start_with(cfg).await;
    let http = client();
    let url = format!("{}/topics/{C}/capped", base(&srv));
    let sse = SseReader::open(&http, &url, None).await;
    // The one slot is taken: another SSE stream or long poll is refused with 429.
    let resp = http
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "limit_exceeded").await;
    let resp = http.get(&url).send().await.unwrap();
    expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "limit_exceeded").await;
    // Publishing and the cache API are not subscriptions.
    let resp = http.post(&url).body("x").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // Closing the stream frees the slot.
    drop(sse);
    let mut r = srv.client().await;
    wait_numsub(&mut r, "capped", 0).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let resp = http.get(&url).send().await.unwrap();
        if resp.status() == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shutdown_ends_long_polls_and_sse_streams() {
    let mut cfg = test_config();
    cfg.http.long_poll_max_wait_ms = 60_000;
    let srv = TestServer::start_with(cfg).await;
    let http = client();
    let url = format!("{}/topics/{C}/bye", base(&srv));
    let mut sse = SseReader::open(&http, &url, None).await;
    let poll = {
        let http = http.clone();
        let url = url.clone();
        tokio::spawn(async move { http.get(url).timeout(PATIENCE).send().await })
    };
    let mut r = srv.client().await;
    wait_numsub(&mut r, "bye", 2).await;
    srv.running.shutdown();
    // Well before the long poll's 60 s: it answers (503) or its connection is closed.
    let res = poll.await.unwrap();
    if let Ok(resp) = res {
        expect_error(resp, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    }
    // The SSE stream ends (the browser would reconnect with Last-Event-ID).
    let end = tokio::time::timeout(PATIENCE, sse.resp.chunk())
        .await
        .unwrap();
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
    tokio::time::timeout(PATIENCE, srv.running.wait())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_long_poll_whose_client_hangs_up_is_unsubscribed() {
    let mut cfg = test_config();
    cfg.http.long_poll_max_wait_ms = 60_000;
    let srv = TestServer::start_with(cfg).await;
    let http = client();
    let mut r = srv.client().await;
    let url = format!("{}/topics/{C}/gone", base(&srv));
    let poll = {
        let http = http.clone();
        tokio::spawn(async move { http.get(url).send().await })
    };
    wait_numsub(&mut r, "gone", 1).await;
    poll.abort();
    // The server notices the closed connection and drops the poll's subscription long before
    // the 60 s wait would end.
    wait_numsub(&mut r, "gone", 0).await;
}

#[tokio::test]
async fn http2_prior_knowledge_works_too() {
    let srv = TestServer::start().await;
    let h2 = Client::builder().http2_prior_knowledge().build().unwrap();
    let url = format!("{}/cache/{C}", base(&srv));
    let resp = h2
        .put(format!("{url}?key=h2&ttl_seconds=5"))
        .body("over h2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = h2.get(format!("{url}?key=h2")).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), "over h2");
    // SSE over an HTTP/2 stream.
    let topic_url = format!("{}/topics/{C}/h2t", base(&srv));
    let mut sse = SseReader::open(&h2, &topic_url, None).await;
    h2.post(&topic_url).body("x").send().await.unwrap();
    let m = sse.next_event().await;
    assert_eq!(m.id.as_deref(), Some("1"));
    let item: Value = serde_json::from_str(&m.data).unwrap();
    assert_eq!(item["value"]["binary"], "eA==");
}

/// One HTTP/1.1 keep-alive GET on a raw socket; returns the status line once the response head
/// has arrived (the connection stays open).
async fn raw_keepalive_get(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /openapi.json HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn open_connections_are_capped() {
    let mut cfg = test_config();
    cfg.http.max_connections = 2;
    // The connection cap is at least one above the subscription cap (so an extra subscriber is
    // answered 429): keep that below 2.
    cfg.http.max_subscriptions = 1;
    let srv = TestServer::start_with(cfg).await;
    let addr = srv.running.http_addr;
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(raw_keepalive_get(&mut a).await, "HTTP/1.1 200 OK");
    assert_eq!(raw_keepalive_get(&mut b).await, "HTTP/1.1 200 OK");
    // A third client gets through the kernel's backlog, but is not served while two are open.
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(500), raw_keepalive_get(&mut c)).await;
    assert!(waiting.is_err(), "served beyond the cap: {waiting:?}");
    // Closing one frees its slot: the waiting client is served.
    drop(a);
    let status = tokio::time::timeout(Duration::from_secs(10), raw_keepalive_get(&mut c))
        .await
        .expect("served once a slot is free");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(raw_keepalive_get(&mut b).await, "HTTP/1.1 200 OK");
}
