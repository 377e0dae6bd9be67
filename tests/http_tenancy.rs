//! The HTTP API and the admin port in a multi-tenant server (docs/http.md, docs/auth.md,
//! docs/metering.md, docs/tls.md): a permission matrix of token kinds × HTTP operations with
//! exact statuses; 401 for missing, tampered, expired, wrong-key and revoked tokens; the token
//! id as `publisher_id` seen by a gRPC subscriber; SSE ended by revocation; 429 + `Retry-After`
//! and recovery; metering figures of a scripted HTTP workload read back from the admin
//! `/metering`; admin routes behind a super-user token; both listeners over TLS with a test CA.
//! Real server on port 0, real clients (reqwest, tonic) over real sockets.

mod common;
mod grpc_util;

use std::time::Duration;

use common::http::{expect_error, json_of};
use common::pki::TestPki;
use common::test_config;
use common::tokens::TokenServer;
use ferrite_auth::{
    Authenticator, CacheGrant, CacheRole, Permissions, Selector, TopicGrant, TopicRole,
};
use ferrite_config::Config;
use momento_protos::cache_client::pubsub::pubsub_client::PubsubClient;
use momento_protos::cache_client::pubsub::{subscription_item, topic_value, SubscriptionRequest};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

const APP: &str = "app";
const OTHER: &str = "other";
/// Long enough for anything a loaded CI machine does; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);

/// A token-mode server with caches `app` and `other`, and an HTTP client for it.
struct AuthServer {
    tokens: TokenServer,
    http: Client,
}

impl std::ops::Deref for AuthServer {
    type Target = TokenServer;
    fn deref(&self) -> &TokenServer {
        &self.tokens
    }
}

async fn start_with(mut cfg: Config) -> AuthServer {
    cfg.auth.max_token_ttl_secs = 3600;
    cfg.http.long_poll_max_wait_ms = 300;
    AuthServer {
        tokens: TokenServer::start_with(cfg, &[APP, OTHER]).await,
        http: Client::new(),
    }
}

async fn start() -> AuthServer {
    start_with(test_config()).await
}

impl AuthServer {
    /// A token in the v1 form the SDKs use (what a browser would be handed).
    fn mint(&self, id: &str, perms: Permissions) -> String {
        self.tokens.mint_v1(id, perms)
    }
    fn base(&self) -> String {
        format!("http://{}", self.srv.running.http_addr)
    }
    fn admin(&self) -> String {
        format!("http://{}", self.srv.running.admin_addr.expect("admin on"))
    }
    fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let b = self.http.request(method, format!("{}{path}", self.base()));
        match token {
            Some(t) => b.header("authorization", format!("Bearer {t}")),
            None => b,
        }
    }
    async fn send(&self, method: Method, path: &str, token: Option<&str>) -> Response {
        self.req(method, path, token).send().await.unwrap()
    }
    async fn put(&self, cache: &str, key: &str, value: &str, token: &str) -> Response {
        self.req(
            Method::PUT,
            &format!("/cache/{cache}?key={key}&ttl_seconds=60"),
            Some(token),
        )
        .body(value.to_string())
        .send()
        .await
        .unwrap()
    }
    async fn publish(&self, cache: &str, topic: &str, text: &str, token: &str) -> Response {
        self.req(
            Method::POST,
            &format!("/topics/{cache}/{topic}"),
            Some(token),
        )
        .header("content-type", "text/plain")
        .body(text.to_string())
        .send()
        .await
        .unwrap()
    }
    async fn sse(&self, cache: &str, topic: &str, token: &str) -> Response {
        self.req(
            Method::GET,
            &format!("/topics/{cache}/{topic}"),
            Some(token),
        )
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap()
    }
}

fn cache_grant(role: CacheRole, cache: &str, items: Selector) -> CacheGrant {
    CacheGrant {
        role,
        cache: Some(cache.into()),
        items,
    }
}

fn topic_grant(role: TopicRole, cache: &str) -> TopicGrant {
    TopicGrant {
        role,
        cache: Some(cache.into()),
        topics: Selector::All,
    }
}

fn caches(g: Vec<CacheGrant>) -> Permissions {
    Permissions::Explicit {
        caches: g,
        topics: vec![],
    }
}

fn topics(g: Vec<TopicGrant>) -> Permissions {
    Permissions::Explicit {
        caches: vec![],
        topics: g,
    }
}

/// The operation families of the HTTP matrix.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// GET a key inside the scoped prefix `user:1:`
    Get,
    /// GET a key outside it
    GetOut,
    Put,
    PutOut,
    Delete,
    DeleteOut,
    Publish,
    LongPoll,
    Sse,
    /// GET on the cache `other`
    OtherCache,
}

const OPS: [Op; 10] = [
    Op::Get,
    Op::GetOut,
    Op::Put,
    Op::PutOut,
    Op::Delete,
    Op::DeleteOut,
    Op::Publish,
    Op::LongPoll,
    Op::Sse,
    Op::OtherCache,
];

async fn status_of(s: &AuthServer, op: Op, token: &str) -> u16 {
    let t = Some(token);
    let resp = match op {
        Op::Get => s.send(Method::GET, "/cache/app?key=user:1:a", t).await,
        Op::GetOut => s.send(Method::GET, "/cache/app?key=k", t).await,
        Op::Put => s.put(APP, "user:1:w", "v", token).await,
        Op::PutOut => s.put(APP, "w", "v", token).await,
        Op::Delete => s.send(Method::DELETE, "/cache/app?key=user:1:d", t).await,
        Op::DeleteOut => s.send(Method::DELETE, "/cache/app?key=d", t).await,
        Op::Publish => s.publish(APP, "news", "hi", token).await,
        Op::LongPoll => s.send(Method::GET, "/topics/app/news", t).await,
        Op::Sse => s.sse(APP, "news", token).await,
        Op::OtherCache => s.send(Method::GET, "/cache/other?key=k", t).await,
    };
    let status = resp.status().as_u16();
    match status {
        403 => {
            let body = json_of(resp).await;
            assert_eq!(body["error"], "permission_denied", "{op:?}: {body}");
        }
        200 if matches!(op, Op::Sse) => {
            let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with("text/event-stream"), "{ct}");
            // Dropping the response closes the stream (and the subscription).
        }
        _ => {}
    }
    status
}

#[tokio::test]
async fn permission_matrix_over_http() {
    let s = start().await;
    let root = s.mint("root", Permissions::SuperUser);
    for key in ["user:1:a", "k"] {
        assert_eq!(s.put(APP, key, "v", &root).await.status(), 204);
    }
    // What each token kind may do, in OPS order: Get, GetOut, Put, PutOut, Delete, DeleteOut,
    // Publish, LongPoll, Sse, OtherCache (404: allowed, the key is missing there).
    let rows: Vec<(&str, Permissions, [u16; 10])> = vec![
        (
            "super",
            Permissions::SuperUser,
            [200, 200, 204, 204, 204, 204, 204, 200, 200, 404],
        ),
        (
            "read-only",
            caches(vec![cache_grant(CacheRole::ReadOnly, APP, Selector::All)]),
            [200, 200, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "write-only",
            caches(vec![cache_grant(CacheRole::WriteOnly, APP, Selector::All)]),
            [403, 403, 204, 204, 204, 204, 403, 403, 403, 403],
        ),
        (
            "key-prefix",
            caches(vec![cache_grant(
                CacheRole::ReadWrite,
                APP,
                Selector::Prefix("user:1:".into()),
            )]),
            [200, 403, 204, 403, 204, 403, 403, 403, 403, 403],
        ),
        (
            "publish-only",
            topics(vec![topic_grant(TopicRole::PublishOnly, APP)]),
            [403, 403, 403, 403, 403, 403, 204, 403, 403, 403],
        ),
        (
            "subscribe-only",
            topics(vec![topic_grant(TopicRole::SubscribeOnly, APP)]),
            [403, 403, 403, 403, 403, 403, 403, 200, 200, 403],
        ),
        (
            "other-cache",
            Permissions::Explicit {
                caches: vec![cache_grant(CacheRole::ReadWrite, OTHER, Selector::All)],
                topics: vec![topic_grant(TopicRole::PublishSubscribe, OTHER)],
            },
            [403, 403, 403, 403, 403, 403, 403, 403, 403, 404],
        ),
    ];
    let mut failures = Vec::new();
    for (name, perms, expected) in rows {
        let token = s.mint(name, perms);
        for (op, want) in OPS.iter().zip(expected) {
            let got = status_of(&s, *op, &token).await;
            if got != want {
                failures.push(format!("{name} {op:?}: expected {want}, got {got}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // The permission is checked before the cache is looked up: a scoped token cannot tell a
    // missing cache from one it may not use; a super-user gets the 404.
    let scoped = s.mint(
        "scoped",
        caches(vec![cache_grant(CacheRole::ReadWrite, APP, Selector::All)]),
    );
    for token in [&scoped] {
        expect_error(
            s.send(Method::GET, "/cache/nope?key=k", Some(token)).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        expect_error(
            s.publish("nope", "t", "x", token).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
    }
    expect_error(
        s.send(Method::GET, "/cache/nope?key=k", Some(&root)).await,
        StatusCode::NOT_FOUND,
        "cache_not_found",
    )
    .await;
    // The key-prefix token really wrote inside its prefix only.
    let r = s
        .send(Method::GET, "/cache/app?key=user:1:w", Some(&root))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_tokens_get_401() {
    let s = start().await;
    let root = s.mint("root", Permissions::SuperUser);
    assert_eq!(s.put(APP, "k", "v", &root).await.status(), 204);

    let good = s.mint("soon-revoked", Permissions::SuperUser);
    // Tampered: one character of the signed JWT changed.
    let (jwt, _) = s
        .auth
        .issue(
            Permissions::SuperUser,
            600,
            Some("t".into()),
            ferrite_auth::now_secs(),
        )
        .unwrap();
    let mut tampered = jwt.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // Expired: issued 1000 s ago for 600 s.
    let (expired, _) = s
        .auth
        .issue(
            Permissions::SuperUser,
            600,
            Some("old".into()),
            ferrite_auth::now_secs() - 1000,
        )
        .unwrap();
    // Signed with another server's key.
    let stranger = Authenticator::new(vec![7u8; 32]);
    let (wrong_key, _) = stranger
        .issue(
            Permissions::SuperUser,
            600,
            Some("x".into()),
            ferrite_auth::now_secs(),
        )
        .unwrap();

    // The good token works, in the header and as ?token=, until it is revoked.
    assert_eq!(
        s.send(Method::GET, "/cache/app?key=k", Some(&good))
            .await
            .status(),
        200
    );
    let q = s
        .send(Method::GET, &format!("/cache/app?key=k&token={good}"), None)
        .await;
    assert_eq!(q.status(), 200);
    // Both ways at once: which identity counts would be a guess.
    expect_error(
        s.send(
            Method::GET,
            &format!("/cache/app?key=k&token={good}"),
            Some(&good),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(s.auth.revoke("soon-revoked").unwrap());

    let cases: Vec<(&str, Option<&str>)> = vec![
        ("missing", None),
        ("empty", Some("")),
        ("garbage", Some("not-a-token")),
        ("tampered", Some(&tampered)),
        ("expired", Some(&expired)),
        ("wrong key", Some(&wrong_key)),
        ("revoked", Some(&good)),
    ];
    for (what, token) in cases {
        let reqs = [
            s.send(Method::GET, "/cache/app?key=k", token).await,
            s.req(Method::PUT, "/cache/app?key=k&ttl_seconds=60", token)
                .body("x")
                .send()
                .await
                .unwrap(),
            s.send(Method::DELETE, "/cache/app?key=k", token).await,
            s.req(Method::POST, "/topics/app/t", token)
                .body("x")
                .send()
                .await
                .unwrap(),
            s.send(Method::GET, "/topics/app/t", token).await,
            s.req(Method::GET, "/topics/app/t", token)
                .header("accept", "text/event-stream")
                .send()
                .await
                .unwrap(),
        ];
        for r in reqs {
            let body = expect_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("invalid token"),
                "{what}: {body}"
            );
        }
    }
    // Nothing was written or deleted by the refused requests.
    let r = s.send(Method::GET, "/cache/app?key=k", Some(&root)).await;
    assert_eq!(r.text().await.unwrap(), "v");
}

/// Read SSE text until `pred` holds for what arrived, or the stream ends.
async fn read_sse_until(
    stream: &mut Response,
    buf: &mut String,
    pred: impl Fn(&str) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !pred(buf) {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.push_str(std::str::from_utf8(&chunk).unwrap()),
            Ok(Err(e)) => panic!("stream error: {e}"),
            Ok(Ok(None)) => return false,
            Err(_) => panic!("nothing arrived in {PATIENCE:?}; so far: {buf:?}"),
        }
    }
    true
}

#[tokio::test]
async fn publisher_id_of_http_publishes_reaches_grpc_subscribers() {
    let s = start().await;
    let root = s.mint("root", Permissions::SuperUser);
    let publisher = s.mint(
        "http-publisher",
        topics(vec![topic_grant(TopicRole::PublishOnly, APP)]),
    );
    let mut client = PubsubClient::new(grpc_util::channel(s.srv.grpc_addr()).await);
    let mut req = tonic::Request::new(SubscriptionRequest {
        cache_name: APP.into(),
        topic: "ids".into(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", root.parse().unwrap());
    let mut stream = client.subscribe(req).await.unwrap().into_inner();
    // The stream's first item is a heartbeat: once it arrived, the subscription is in place.
    let first = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(
        first.kind,
        Some(subscription_item::Kind::Heartbeat(_))
    ));
    assert_eq!(
        s.publish(APP, "ids", "hello", &publisher).await.status(),
        204
    );
    let (seq, page) = loop {
        let item = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Some(subscription_item::Kind::Item(it)) = item.kind {
            assert_eq!(it.publisher_id, "http-publisher");
            match it.value.and_then(|v| v.kind) {
                Some(topic_value::Kind::Text(t)) => assert_eq!(t, "hello"),
                other => panic!("{other:?}"),
            }
            break (it.topic_sequence_number, it.sequence_page);
        }
    };
    // And an HTTP long poll replaying that message shows the same id.
    let r = s
        .send(
            Method::GET,
            &format!("/topics/app/ids?sequence_number={seq}&sequence_page={page}"),
            Some(&root),
        )
        .await;
    let body = json_of(r).await;
    let items = body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["item"]["publisher_id"] == "http-publisher"),
        "{body}"
    );
}

#[tokio::test]
async fn sse_stream_ends_when_its_token_is_revoked() {
    let s = start().await;
    let root = s.mint("root", Permissions::SuperUser);
    let sub = s.mint(
        "sse-sub",
        topics(vec![topic_grant(TopicRole::SubscribeOnly, APP)]),
    );
    let resp = s.sse(APP, "live", &sub).await;
    assert_eq!(resp.status(), 200);
    let mut stream = resp;
    let mut buf = String::new();
    assert_eq!(s.publish(APP, "live", "one", &root).await.status(), 204);
    assert!(read_sse_until(&mut stream, &mut buf, |b| b.contains("\"one\"")).await);

    assert!(s.auth.revoke("sse-sub").unwrap());
    assert_eq!(s.publish(APP, "live", "two", &root).await.status(), 204);
    assert!(
        read_sse_until(&mut stream, &mut buf, |b| b.contains("event: error")).await,
        "{buf}"
    );
    // Then the server closes the stream.
    assert!(!read_sse_until(&mut stream, &mut buf, |_| false).await);
    assert!(buf.contains("unauthenticated"), "{buf}");
    assert!(
        !buf.contains("\"two\""),
        "a revoked token got a message: {buf}"
    );
    // And it cannot subscribe again.
    expect_error(
        s.sse(APP, "live", &sub).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_recovers() {
    let mut cfg = test_config();
    cfg.quotas.token_ops_per_sec = 3;
    cfg.http.cors_allowed_origins = vec!["https://app.example".into()];
    let s = start_with(cfg).await;
    let limited = s.mint("limited", Permissions::SuperUser);
    let root = s.mint("root", Permissions::SuperUser);
    let mut refused = None;
    for i in 0..60 {
        let r = s
            .req(
                Method::PUT,
                &format!("/cache/app?key=k{i}&ttl_seconds=60"),
                Some(&limited),
            )
            .header("origin", "https://app.example")
            .body("v")
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((i, r));
            break;
        }
        assert_eq!(r.status(), 204);
    }
    let (i, r) = refused.expect("3 operations per second refuse a burst of 60");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // A page on an allowed origin may read it (Retry-After is not CORS-safelisted).
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
    let body = expect_error(
        r,
        StatusCode::TOO_MANY_REQUESTS,
        "operations_rate_limit_exceeded",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains(
            "operations rate limit exceeded for token 'limited' (3 operations per second)"
        ),
        "{body}"
    );
    // The refused request did not run; other tokens are not slowed by this one's limit.
    let r = s
        .send(Method::GET, &format!("/cache/app?key=k{i}"), Some(&root))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "key_not_found").await;
    // After Retry-After the token is served again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let r = s.put(APP, "again", "v", &limited).await;
        if r.status() == 204 {
            break;
        }
        assert_eq!(r.status(), 429);
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

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

/// One tenant's figures from the admin port's `/metering` (super-user token).
async fn admin_metering(s: &AuthServer, root: &str, token: &str, cache: &str) -> Fig {
    let r = s
        .http
        .get(format!("{}/metering", s.admin()))
        .bearer_auth(root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token"] == token && t["cache"] == cache)
        .map(|t| {
            let n = |f: &str| t[f].as_u64().unwrap();
            Fig {
                ops: n("operations"),
                bytes_in: n("bytes_in"),
                bytes_out: n("bytes_out"),
                published: n("messages_published"),
                delivered: n("messages_delivered"),
            }
        })
        .unwrap_or_default()
}

/// The `data:` payload of the first message event in `buf`.
fn first_sse_data(buf: &str) -> String {
    buf.split("\n\n")
        .find(|ev| ev.lines().any(|l| l.starts_with("id:")))
        .and_then(|ev| ev.lines().find_map(|l| l.strip_prefix("data: ")))
        .unwrap_or_else(|| panic!("no message event in {buf:?}"))
        .to_string()
}

#[tokio::test]
async fn http_metering_adds_up_for_a_scripted_workload() {
    let s = start().await;
    let root = s.mint("root", Permissions::SuperUser);
    let writer = s.mint("meter", Permissions::SuperUser);
    let reader = s.mint(
        "meter-sub",
        topics(vec![topic_grant(TopicRole::SubscribeOnly, APP)]),
    );
    let mut w = Fig::default();
    let mut r = Fig::default();

    // Cache requests: bytes in = key + body, bytes out = response body.
    assert_eq!(s.put(APP, "k1", "0123456789", &writer).await.status(), 204);
    w.op(2 + 10, 0);
    let got = s
        .send(Method::GET, "/cache/app?key=k1", Some(&writer))
        .await;
    assert_eq!(got.text().await.unwrap(), "0123456789");
    w.op(2, 10);
    let miss = s
        .send(Method::GET, "/cache/app?key=missing", Some(&writer))
        .await;
    assert_eq!(miss.status(), 404);
    w.op(7, 0);
    let del = s
        .send(Method::DELETE, "/cache/app?key=k1", Some(&writer))
        .await;
    assert_eq!(del.status(), 204);
    w.op(2, 0);
    // A request refused before it runs is no operation: bad argument, denied, missing cache.
    assert_eq!(
        s.send(Method::GET, "/cache/app", Some(&writer))
            .await
            .status(),
        400
    );
    assert_eq!(
        s.send(Method::GET, "/cache/app?key=k", Some(&reader))
            .await
            .status(),
        403
    );

    // Topics: the SSE open is one operation (bytes in = topic name) ...
    let sse = s.sse(APP, "m", &reader).await;
    assert_eq!(sse.status(), 200);
    r.op(1, 0);
    let mut stream = sse;
    // ... a publish is one (topic + body in) and one message published ...
    assert_eq!(s.publish(APP, "m", "hello", &writer).await.status(), 204);
    w.op(1 + 5, 0);
    w.published += 1;
    // ... each message event is delivered to the subscriber, its data JSON the bytes out.
    let mut buf = String::new();
    assert!(read_sse_until(&mut stream, &mut buf, |b| b.contains("hello")).await);
    let data = first_sse_data(&buf);
    r.bytes_out += data.len() as u64;
    r.delivered += 1;
    let item: Value = serde_json::from_str(&data).unwrap();
    drop(stream);
    // A long poll replaying that message: the JSON answer is the bytes out.
    let path = format!(
        "/topics/app/m?sequence_number={}&sequence_page={}",
        item["topic_sequence_number"], item["sequence_page"]
    );
    let poll = s.send(Method::GET, &path, Some(&reader)).await;
    assert_eq!(poll.status(), 200);
    let text = poll.text().await.unwrap();
    assert!(text.contains("hello"), "{text}");
    r.op(1, text.len());
    r.delivered += 1;

    assert_eq!(admin_metering(&s, &root, "meter", APP).await, w);
    assert_eq!(admin_metering(&s, &root, "meter-sub", APP).await, r);
    // Reading the figures over the admin port is not metered traffic of any tenant.
    assert_eq!(admin_metering(&s, &root, "meter", APP).await, w);
    assert_eq!(admin_metering(&s, &root, "root", APP).await, Fig::default());
}

#[tokio::test]
async fn admin_routes_need_a_super_user_token_in_token_mode() {
    let s = start().await;
    let root = s.mint("root", Permissions::SuperUser);
    let scoped = s.mint(
        "scoped",
        caches(vec![cache_grant(CacheRole::ReadWrite, APP, Selector::All)]),
    );
    let get = |path: &str, token: Option<&str>| {
        let mut b = s.http.get(format!("{}{path}", s.admin()));
        if let Some(t) = token {
            b = b.bearer_auth(t);
        }
        b.send()
    };
    for path in ["/metrics", "/metering", "/stats"] {
        expect_error(
            get(path, None).await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        expect_error(
            get(path, Some("garbage")).await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        expect_error(
            get(path, Some(&scoped)).await.unwrap(),
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        assert_eq!(
            get(path, Some(&root)).await.unwrap().status(),
            200,
            "{path}"
        );
        // EventSource cannot send headers: ?token= works too.
        let q = s
            .http
            .get(format!("{}{path}?token={root}", s.admin()))
            .send()
            .await
            .unwrap();
        assert_eq!(q.status(), 200, "{path}?token=");
    }
    // The console API: tail (SSE) and publish.
    let tail = "/console/api/topics/app/t/events";
    expect_error(
        get(tail, None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let q = s
        .http
        .get(format!("{}{tail}?token={root}", s.admin()))
        .send()
        .await
        .unwrap();
    assert_eq!(q.status(), 200);
    drop(q);
    let publish = format!("{}/console/api/topics/app/t", s.admin());
    let r = s.http.post(&publish).body("x").send().await.unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = s
        .http
        .post(&publish)
        .bearer_auth(&scoped)
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    let r = s
        .http
        .post(&publish)
        .bearer_auth(&root)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Probes and the console's static files stay open.
    for path in [
        "/healthz",
        "/readyz",
        "/",
        "/console/app.js",
        "/console/app.css",
    ] {
        assert_eq!(get(path, None).await.unwrap().status(), 200, "{path}");
    }
}

// ---- TLS ----

fn tls_client(ca_pem: &str, http1_only: bool) -> Client {
    let mut b = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    if http1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

#[tokio::test]
async fn http_api_and_admin_over_tls() {
    let ca = TestPki::new();
    let mut cfg = test_config();
    cfg.tls.cert_file = ca.cert_file.display().to_string();
    cfg.tls.key_file = ca.key_file.display().to_string();
    let s = start_with(cfg).await;
    let root = s.mint("root", Permissions::SuperUser);
    let http_port = s.srv.running.http_addr.port();
    let admin_port = s.srv.running.admin_addr.unwrap().port();

    // h2 by ALPN (reqwest offers h2 first), and HTTP/1.1 for a client that only speaks it.
    for (http1_only, version) in [
        (false, reqwest::Version::HTTP_2),
        (true, reqwest::Version::HTTP_11),
    ] {
        let c = tls_client(&ca.ca_pem, http1_only);
        let base = format!("https://localhost:{http_port}");
        let r = c
            .put(format!("{base}/cache/app?key=tls&ttl_seconds=60"))
            .bearer_auth(&root)
            .body("secret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(r.version(), version);
        let r = c
            .get(format!("{base}/cache/app?key=tls"))
            .bearer_auth(&root)
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), version);
        assert_eq!(r.text().await.unwrap(), "secret");
        // Auth is enforced over TLS the same way.
        let r = c
            .get(format!("{base}/cache/app?key=tls"))
            .send()
            .await
            .unwrap();
        expect_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;

        // The admin port, by IP address this time.
        let admin = format!("https://127.0.0.1:{admin_port}");
        let r = c.get(format!("{admin}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), version);
        let r = c
            .get(format!("{admin}/metrics"))
            .bearer_auth(&root)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("ferrite_tenant_operations_total"));
    }
    // SSE over TLS.
    let c = tls_client(&ca.ca_pem, false);
    let r = c
        .get(format!("https://localhost:{http_port}/topics/app/tls"))
        .bearer_auth(&root)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r;
    assert_eq!(s.publish_tls(&c, http_port, &root).await, 204);
    let mut buf = String::new();
    assert!(read_sse_until(&mut stream, &mut buf, |b| b.contains("over-tls")).await);
    drop(stream);

    // Plain HTTP to a TLS listener fails; the listener keeps serving TLS clients.
    assert!(Client::new()
        .get(format!("http://127.0.0.1:{http_port}/openapi.json"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .map_or(true, |ok| !ok));
    // A client that does not trust the CA is refused by its own verification.
    assert!(Client::builder()
        .use_rustls_tls()
        .build()
        .unwrap()
        .get(format!("https://localhost:{http_port}/openapi.json"))
        .send()
        .await
        .is_err());
    let r = tls_client(&ca.ca_pem, false)
        .get(format!("https://localhost:{http_port}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

impl AuthServer {
    async fn publish_tls(&self, c: &Client, port: u16, token: &str) -> u16 {
        c.post(format!("https://localhost:{port}/topics/app/tls"))
            .bearer_auth(token)
            .header("content-type", "text/plain")
            .body("over-tls")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test]
async fn idle_sse_stream_ends_when_its_token_is_revoked() {
    let mut cfg = test_config();
    cfg.topics.heartbeat_interval_secs = 1;
    let s = start_with(cfg).await;
    let root = s.mint("root", Permissions::SuperUser);
    let sub = s.mint(
        "idle-sub",
        topics(vec![topic_grant(TopicRole::SubscribeOnly, APP)]),
    );
    let mut stream = s.sse(APP, "quiet", &sub).await;
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    assert_eq!(s.publish(APP, "quiet", "one", &root).await.status(), 204);
    assert!(read_sse_until(&mut stream, &mut buf, |b| b.contains("\"one\"")).await);
    // Nothing else is published: the stream must still notice the revocation on its own.
    assert!(s.auth.revoke("idle-sub").unwrap());
    assert!(
        read_sse_until(&mut stream, &mut buf, |b| b.contains("event: error")).await,
        "{buf}"
    );
    assert!(buf.contains("unauthenticated"), "{buf}");
    assert!(!read_sse_until(&mut stream, &mut buf, |_| false).await);
}
