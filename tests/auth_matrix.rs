//! Tokens and permissions on every protocol (docs/auth.md): a permission matrix of token kinds ×
//! operation families over RESP (the `redis` crate) and gRPC (the official `momento` SDK, plus raw
//! tonic clients where the SDK cannot express a call); expired, tampered, wrong-key and revoked
//! tokens; disposable tokens minted through the SDK's AuthClient; publisher ids; and the
//! `ferrite token create|revoke` CLI against a running server. Real server, real sockets.

mod common;
mod grpc_util;

use std::time::Duration;

use common::reply::line;
use common::test_config;
use common::tokens::TokenServer;
use ferrite_auth::{
    Authenticator, CacheGrant, CacheRole, Claims, Permissions, Selector, TopicGrant, TopicRole,
};
use ferrite_config::AuthMode;
use momento::auth::{AuthClient, DisposableTokenScopes, ExpiresIn, GenerateDisposableTokenRequest};
use momento::{CacheClient, CredentialProvider, MomentoErrorCode};
use momento_protos::cache_client::pubsub::pubsub_client::PubsubClient;
use momento_protos::cache_client::pubsub::{
    subscription_item, topic_value, PublishRequest, SubscriptionRequest, TopicValue,
};
use tonic::transport::Channel;

const APP: &str = "app";
const OTHER: &str = "other";

/// A token-mode server with caches `app` and `other` (tokens up to an hour).
struct AuthServer(TokenServer);

impl std::ops::Deref for AuthServer {
    type Target = TokenServer;
    fn deref(&self) -> &TokenServer {
        &self.0
    }
}

async fn start() -> AuthServer {
    let mut cfg = test_config();
    cfg.auth.max_token_ttl_secs = 3600;
    let s = TokenServer::start_with(cfg, &[APP, OTHER]).await;
    assert!(
        s.key_file.exists(),
        "the key file is created on first start"
    );
    AuthServer(s)
}

impl AuthServer {
    /// A token in the v1 form the SDKs and `AUTH` take.
    fn mint(&self, id: &str, perms: Permissions) -> String {
        self.0.mint_v1(id, perms)
    }
    fn jwt(&self, id: &str, perms: Permissions) -> String {
        self.0.mint(id, perms)
    }
    fn endpoint(&self) -> String {
        self.srv.grpc_endpoint()
    }
    fn creds(&self, token: &str) -> CredentialProvider {
        CredentialProvider::from_disposable_token(token)
            .expect("the SDK parses the token")
            .insecure_endpoint_override(&self.endpoint())
    }
    fn cache_client(&self, token: &str) -> CacheClient {
        CacheClient::builder()
            .default_ttl(Duration::from_secs(60))
            .configuration(momento::cache::configurations::Laptop::latest())
            .credential_provider(self.creds(token))
            .build()
            .unwrap()
    }
    async fn resp(&self) -> redis::aio::MultiplexedConnection {
        self.srv.client().await
    }
    async fn pubsub(&self) -> PubsubClient<Channel> {
        PubsubClient::new(grpc_util::channel(self.srv.grpc_addr()).await)
    }
}

fn cache_grant(role: CacheRole, cache: Option<&str>, items: Selector) -> CacheGrant {
    CacheGrant {
        role,
        cache: cache.map(String::from),
        items,
    }
}

fn topic_grant(role: TopicRole, cache: Option<&str>, topics: Selector) -> TopicGrant {
    TopicGrant {
        role,
        cache: cache.map(String::from),
        topics,
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

/// RESP: the error code of a reply (None = success).
async fn resp_code(con: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> Option<String> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    match c.query_async::<redis::Value>(con).await {
        Ok(_) => None,
        Err(e) => Some(
            e.code()
                .map(String::from)
                .unwrap_or_else(|| format!("{e:?}")),
        ),
    }
}

/// The operation families of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// read a key inside the scoped prefix `user:1:`
    Read,
    /// read a key outside it
    ReadOut,
    Write,
    WriteOut,
    /// conditional write (SET NX / SetIfAbsent)
    CondWrite,
    /// read-and-write (INCR / Increment)
    Incr,
    /// the whole keyspace (RESP KEYS; not over gRPC)
    Keys,
    /// RESP FLUSHDB (all-keys write on the cache); gRPC FlushCache is control plane (`Admin`)
    Flush,
    Publish,
    PublishOut,
    Subscribe,
    SubscribeOut,
    /// RESP CONFIG GET; gRPC CreateCache
    Admin,
    /// a read on another cache than the token's
    OtherCache,
}

const OPS: &[Op] = &[
    Op::Read,
    Op::ReadOut,
    Op::Write,
    Op::WriteOut,
    Op::CondWrite,
    Op::Incr,
    Op::Keys,
    Op::Publish,
    Op::PublishOut,
    Op::Subscribe,
    Op::SubscribeOut,
    Op::Admin,
    Op::OtherCache,
    // last: it empties the cache
    Op::Flush,
];

/// Over RESP (`AUTH app <token>` first): Ok(()) allowed, Err(code) refused.
async fn resp_op(s: &AuthServer, token: &str, op: Op) -> Result<(), String> {
    let mut con = s.resp().await;
    let auth_cache = if op == Op::OtherCache { OTHER } else { APP };
    if let Some(code) = resp_code(&mut con, &["AUTH", auth_cache, token]).await {
        return Err(code);
    }
    let args: &[&str] = match op {
        Op::Read => &["GET", "user:1:a"],
        Op::ReadOut => &["GET", "other:a"],
        Op::Write => &["SET", "user:1:a", "v"],
        Op::WriteOut => &["SET", "other:a", "v"],
        Op::CondWrite => &["SET", "user:1:c", "v", "NX"],
        Op::Incr => &["INCR", "user:1:n"],
        Op::Keys => &["KEYS", "*"],
        Op::Flush => &["FLUSHDB"],
        Op::Publish => &["PUBLISH", "room:1", "hi"],
        Op::PublishOut => &["PUBLISH", "lobby", "hi"],
        Op::Subscribe => &["SUBSCRIBE", "room:1"],
        Op::SubscribeOut => &["SUBSCRIBE", "lobby"],
        Op::Admin => &["CONFIG", "GET", "maxmemory"],
        Op::OtherCache => &["GET", "k"],
    };
    match resp_code(&mut con, args).await {
        None => Ok(()),
        Some(code) => Err(code),
    }
}

fn momento_result<T>(r: Result<T, momento::MomentoError>) -> Result<(), String> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => match &e.error_code {
            MomentoErrorCode::PermissionError | MomentoErrorCode::AuthenticationError => {
                Err(format!("{:?}", e.error_code))
            }
            other => panic!("unexpected error {other:?}: {e}"),
        },
    }
}

fn status_result<T>(r: Result<T, tonic::Status>) -> Result<(), String> {
    match r {
        Ok(_) => Ok(()),
        Err(s) => match s.code() {
            tonic::Code::PermissionDenied => Err("PermissionError".into()),
            tonic::Code::Unauthenticated => Err("AuthenticationError".into()),
            other => panic!("unexpected status {other:?}: {s:?}"),
        },
    }
}

fn with_token<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", token.parse().unwrap());
    r
}

fn text(cache: &str, topic: &str, s: &str) -> PublishRequest {
    PublishRequest {
        cache_name: cache.into(),
        topic: topic.into(),
        value: Some(TopicValue {
            kind: Some(topic_value::Kind::Text(s.into())),
        }),
    }
}

fn sub_req(cache: &str, topic: &str) -> SubscriptionRequest {
    SubscriptionRequest {
        cache_name: cache.into(),
        topic: topic.into(),
        ..Default::default()
    }
}

/// Over gRPC: the SDK for the data plane and control plane, raw tonic for pub/sub.
/// None = the family has no gRPC form.
async fn grpc_op(s: &AuthServer, token: &str, op: Op) -> Option<Result<(), String>> {
    let c = s.cache_client(token);
    Some(match op {
        Op::Read => momento_result(c.get(APP, "user:1:a").await),
        Op::ReadOut => momento_result(c.get(APP, "other:a").await),
        Op::Write => momento_result(c.set(APP, "user:1:a", "v").await),
        Op::WriteOut => momento_result(c.set(APP, "other:a", "v").await),
        Op::CondWrite => momento_result(c.set_if_absent(APP, "user:1:c", "v").await),
        Op::Incr => momento_result(c.increment(APP, "user:1:g", 1).await),
        Op::Keys | Op::Flush => return None,
        Op::Admin => momento_result(
            c.create_cache(format!("made-{:x}", rand::random::<u32>()))
                .await,
        ),
        Op::OtherCache => momento_result(c.get(OTHER, "k").await),
        Op::Publish | Op::PublishOut => {
            let topic = if op == Op::Publish { "room:1" } else { "lobby" };
            // the SDKs send the inner JWT; the server takes the v1 wrapper too
            let mut ps = s.pubsub().await;
            status_result(ps.publish(with_token(token, text(APP, topic, "hi"))).await)
        }
        Op::Subscribe | Op::SubscribeOut => {
            let topic = if op == Op::Subscribe {
                "room:1"
            } else {
                "lobby"
            };
            let mut ps = s.pubsub().await;
            status_result(ps.subscribe(with_token(token, sub_req(APP, topic))).await)
        }
    })
}

#[tokio::test]
async fn permission_matrix_resp_and_grpc() {
    use Op::*;
    let s = start().await;
    let all = Selector::All;
    let prefix = || Selector::Prefix("user:1:".into());
    // (token kind, its permissions, what it may do; for gRPC `Flush` is not asked)
    let kinds: Vec<(&str, Permissions, Vec<Op>)> = vec![
        ("super-user", Permissions::SuperUser, OPS.to_vec()),
        (
            "cache read-write (one cache)",
            caches(vec![cache_grant(
                CacheRole::ReadWrite,
                Some(APP),
                all.clone(),
            )]),
            vec![Read, ReadOut, Write, WriteOut, CondWrite, Incr, Keys, Flush],
        ),
        (
            "cache read-write (all caches)",
            caches(vec![cache_grant(CacheRole::ReadWrite, None, all.clone())]),
            vec![
                Read, ReadOut, Write, WriteOut, CondWrite, Incr, Keys, Flush, OtherCache,
            ],
        ),
        (
            "cache read-only",
            caches(vec![cache_grant(
                CacheRole::ReadOnly,
                Some(APP),
                all.clone(),
            )]),
            vec![Read, ReadOut, Keys],
        ),
        (
            "cache write-only",
            caches(vec![cache_grant(
                CacheRole::WriteOnly,
                Some(APP),
                all.clone(),
            )]),
            vec![Write, WriteOut, Flush],
        ),
        (
            "key-prefix read-write",
            caches(vec![cache_grant(CacheRole::ReadWrite, Some(APP), prefix())]),
            vec![Read, Write, CondWrite, Incr],
        ),
        (
            "key-prefix read-only",
            caches(vec![cache_grant(CacheRole::ReadOnly, Some(APP), prefix())]),
            vec![Read],
        ),
        (
            "topic publish-subscribe",
            topics(vec![topic_grant(
                TopicRole::PublishSubscribe,
                Some(APP),
                all.clone(),
            )]),
            vec![Publish, PublishOut, Subscribe, SubscribeOut],
        ),
        (
            "topic subscribe-only",
            topics(vec![topic_grant(
                TopicRole::SubscribeOnly,
                Some(APP),
                all.clone(),
            )]),
            vec![Subscribe, SubscribeOut],
        ),
        (
            "topic publish-only",
            topics(vec![topic_grant(
                TopicRole::PublishOnly,
                Some(APP),
                all.clone(),
            )]),
            vec![Publish, PublishOut],
        ),
        (
            "topic-prefix publish-subscribe",
            topics(vec![topic_grant(
                TopicRole::PublishSubscribe,
                Some(APP),
                Selector::Prefix("room:".into()),
            )]),
            vec![Publish, Subscribe],
        ),
        (
            "topic on all caches",
            topics(vec![topic_grant(
                TopicRole::PublishSubscribe,
                None,
                all.clone(),
            )]),
            vec![Publish, PublishOut, Subscribe, SubscribeOut],
        ),
    ];
    for (i, (kind, perms, allowed)) in kinds.into_iter().enumerate() {
        let token = s.mint(&format!("kind-{i}"), perms);
        for &op in OPS {
            let expect = allowed.contains(&op);
            let got = resp_op(&s, &token, op).await;
            match &got {
                Ok(()) => assert!(expect, "RESP {kind}: {op:?} should be refused"),
                Err(code) => {
                    assert!(!expect, "RESP {kind}: {op:?} should be allowed, got {code}");
                    assert_eq!(code, "NOPERM", "RESP {kind}: {op:?}");
                }
            }
            let grpc_expect = if op == Admin {
                kind == "super-user"
            } else {
                expect
            };
            if let Some(got) = grpc_op(&s, &token, op).await {
                match &got {
                    Ok(()) => assert!(grpc_expect, "gRPC {kind}: {op:?} should be refused"),
                    Err(code) => {
                        assert!(
                            !grpc_expect,
                            "gRPC {kind}: {op:?} should be allowed, got {code}"
                        );
                        assert_eq!(code, "PermissionError", "gRPC {kind}: {op:?}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn resp_auth_flow_and_bad_tokens() {
    let s = start().await;
    let rw = caches(vec![cache_grant(CacheRole::ReadWrite, None, Selector::All)]);
    let good = s.mint("good", rw.clone());
    let mut con = s.resp().await;
    // before AUTH: NOAUTH for everything but AUTH/HELLO/QUIT/RESET
    assert_eq!(
        resp_code(&mut con, &["GET", "k"]).await.as_deref(),
        Some("NOAUTH")
    );
    assert_eq!(
        resp_code(&mut con, &["PING"]).await.as_deref(),
        Some("NOAUTH")
    );
    assert_eq!(
        resp_code(&mut con, &["HELLO", "3"]).await.as_deref(),
        Some("NOAUTH")
    );
    // bad tokens: garbage, expired, tampered, signed with another key
    let now = ferrite_auth::now_secs();
    let expired = s.auth.sign_claims(&Claims {
        jti: "old".into(),
        iat: now - 100,
        exp: now - 10,
        t: "g".into(),
        p: rw.clone(),
    });
    let good_jwt = s.jwt("good2", rw.clone());
    let mut parts: Vec<String> = good_jwt.split('.').map(String::from).collect();
    let forged = {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&e.decode(&parts[1]).unwrap()).unwrap();
        claims["p"] = serde_json::json!("su");
        parts[1] = e.encode(claims.to_string());
        parts.join(".")
    };
    let other_key = Authenticator::new(vec![42; 32])
        .issue(Permissions::SuperUser, 600, None, now)
        .unwrap()
        .0;
    for bad in ["nonsense", &expired, &forged, &other_key] {
        assert_eq!(
            resp_code(&mut con, &["AUTH", bad]).await.as_deref(),
            Some("WRONGPASS"),
            "{bad}"
        );
        assert_eq!(
            resp_code(&mut con, &["GET", "k"]).await.as_deref(),
            Some("NOAUTH")
        );
    }
    // the raw JWT and the v1 wrapper both work; AUTH <cache> picks the cache
    assert_eq!(resp_code(&mut con, &["AUTH", &good_jwt]).await, None);
    assert_eq!(
        resp_code(&mut con, &["SET", "k", "default-cache"]).await,
        None
    );
    assert_eq!(resp_code(&mut con, &["AUTH", APP, &good]).await, None);
    assert_eq!(resp_code(&mut con, &["SET", "k", "app-cache"]).await, None);
    let c = s.cache_client(&good);
    let got = c.get(APP, "k").await.unwrap();
    assert_eq!(
        String::try_from(got).unwrap(),
        "app-cache",
        "RESP wrote into cache 'app'"
    );
    assert_eq!(
        resp_code(&mut con, &["AUTH", "no-such-cache", &good])
            .await
            .as_deref(),
        Some("ERR")
    );
    // HELLO 3 AUTH <cache> <token>
    let mut con2 = s.resp().await;
    let hello: redis::Value = redis::cmd("HELLO")
        .arg("3")
        .arg("AUTH")
        .arg(APP)
        .arg(&good)
        .query_async(&mut con2)
        .await
        .unwrap();
    assert!(matches!(hello, redis::Value::Map(_)), "{hello:?}");
    let v: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut con2)
        .await
        .unwrap();
    assert_eq!(v, "app-cache");
    let mut con3 = s.resp().await;
    assert_eq!(
        resp_code(&mut con3, &["HELLO", "3", "AUTH", APP, &expired])
            .await
            .as_deref(),
        Some("WRONGPASS")
    );

    // revocation: FERRITE.REVOKE needs a super-user; it ends the token at once, also for
    // connections that authenticated with it earlier, and for gRPC
    assert_eq!(
        resp_code(&mut con, &["FERRITE.REVOKE", "good"])
            .await
            .as_deref(),
        Some("NOPERM")
    );
    let su = s.mint("root", Permissions::SuperUser);
    let mut admin = s.resp().await;
    assert_eq!(resp_code(&mut admin, &["AUTH", &su]).await, None);
    let n: i64 = redis::cmd("FERRITE.REVOKE")
        .arg("good")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        resp_code(&mut con, &["GET", "k"]).await.as_deref(),
        Some("NOAUTH")
    );
    assert_eq!(
        resp_code(&mut con, &["AUTH", APP, &good]).await.as_deref(),
        Some("WRONGPASS")
    );
    let e = s.cache_client(&good).get(APP, "k").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::AuthenticationError);
    // revocations persist beside the key file
    let text =
        std::fs::read_to_string(ferrite_auth::keyfile::revocation_path(&s.key_file)).unwrap();
    assert!(text.lines().any(|l| l == "good"));
    // RESET forgets the principal
    assert_eq!(resp_code(&mut admin, &["RESET"]).await, None);
    assert_eq!(
        resp_code(&mut admin, &["GET", "k"]).await.as_deref(),
        Some("NOAUTH")
    );
}

/// The exact RESP texts of a refused AUTH / HELLO AUTH and of NOAUTH (clients and operators
/// match on them): the connection resolves its caller through the service, the wording is RESP's.
#[tokio::test]
async fn resp_auth_error_texts() {
    let s = start().await;
    let rw = caches(vec![cache_grant(CacheRole::ReadWrite, None, Selector::All)]);
    let good = s.mint("texts", rw.clone());
    let now = ferrite_auth::now_secs();
    let expired = s.auth.sign_claims(&Claims {
        jti: "texts-old".into(),
        iat: now - 100,
        exp: now - 10,
        t: "g".into(),
        p: rw,
    });
    let mut r = s.srv.raw().await;
    r.cmd(&["GET", "k"]).await;
    assert_eq!(line(&mut r).await, "-NOAUTH Authentication required.");
    for (token, reason) in [
        ("", "missing token"),
        ("   ", "missing token"),
        ("nonsense", "malformed token"),
        (expired.as_str(), "token expired"),
    ] {
        r.cmd(&["AUTH", token]).await;
        assert_eq!(
            line(&mut r).await,
            format!("-WRONGPASS invalid token: {reason}"),
            "{token:?}"
        );
    }
    // A token that is not UTF-8.
    r.send(b"*2\r\n$4\r\nAUTH\r\n$2\r\n\xff\xfe\r\n").await;
    assert_eq!(
        line(&mut r).await,
        "-WRONGPASS invalid token: malformed token"
    );
    r.cmd(&["HELLO", "3", "AUTH", "default", "nonsense"]).await;
    assert_eq!(
        line(&mut r).await,
        "-WRONGPASS invalid token: malformed token"
    );
    // Revoked after AUTH: the next command's NOAUTH says why, and AUTH with it again is refused.
    r.cmd(&["AUTH", &good]).await;
    assert_eq!(line(&mut r).await, "+OK");
    let su = s.mint("texts-root", Permissions::SuperUser);
    let mut admin = s.resp().await;
    assert_eq!(resp_code(&mut admin, &["AUTH", &su]).await, None);
    assert_eq!(
        resp_code(&mut admin, &["FERRITE.REVOKE", "texts"]).await,
        None
    );
    r.cmd(&["GET", "k"]).await;
    assert_eq!(
        line(&mut r).await,
        "-NOAUTH Authentication required (token revoked)."
    );
    r.cmd(&["AUTH", &good]).await;
    assert_eq!(
        line(&mut r).await,
        "-WRONGPASS invalid token: token revoked"
    );
}

#[tokio::test]
async fn grpc_bad_tokens_are_unauthenticated() {
    let s = start().await;
    // no token at all (a raw client sends no authorization header)
    let mut ps = s.pubsub().await;
    let st = ps.publish(text(APP, "t", "x")).await.unwrap_err();
    assert_eq!(st.code(), tonic::Code::Unauthenticated);
    let mut scs = momento_protos::cache_client::scs_client::ScsClient::new(
        grpc_util::channel(s.srv.grpc_addr()).await,
    );
    let st = scs
        .get(grpc_util::in_cache(
            APP,
            momento_protos::cache_client::GetRequest {
                cache_key: b"k".to_vec(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::Unauthenticated);
    // the "Momento local" token (any api_key), expired, tampered, wrong key
    let now = ferrite_auth::now_secs();
    let rw = caches(vec![cache_grant(CacheRole::ReadWrite, None, Selector::All)]);
    let expired = s.auth.sign_claims(&Claims {
        jti: "old".into(),
        iat: now - 100,
        exp: now - 1,
        t: "g".into(),
        p: rw.clone(),
    });
    let good = s.jwt("fine", rw);
    let tampered = format!("{}x", &good[..good.len() - 1]);
    let wrong_key = Authenticator::new(vec![5; 32])
        .issue(Permissions::SuperUser, 600, None, now)
        .unwrap()
        .0;
    for bad in [&expired, &tampered, &wrong_key] {
        let tok = ferrite_auth::token::wrap_v1("localhost", bad).unwrap();
        let e = s.cache_client(&tok).get(APP, "k").await.unwrap_err();
        assert_eq!(e.error_code, MomentoErrorCode::AuthenticationError, "{bad}");
        let e = s.cache_client(&tok).list_caches().await.unwrap_err();
        assert_eq!(e.error_code, MomentoErrorCode::AuthenticationError);
    }
    let e = s
        .cache_client(grpc_util::TOKEN)
        .get(APP, "k")
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::AuthenticationError);
    // the raw JWT in the header works too (what the SDKs send for v1 tokens)
    s.cache_client(&ferrite_auth::token::wrap_v1("localhost", &good).unwrap())
        .set(APP, "k", "v")
        .await
        .unwrap();
}

#[tokio::test]
async fn disposable_tokens_through_the_sdk() {
    let s = start().await;
    let su = s.mint("root", Permissions::SuperUser);
    let auth = AuthClient::builder()
        .credential_provider(s.creds(&su))
        .build()
        .unwrap();
    let minted = auth
        .send_request(
            GenerateDisposableTokenRequest::new(
                DisposableTokenScopes::cache_key_prefix_read_write(APP, "user:7:"),
                ExpiresIn::minutes(5),
            )
            .token_id("alice".into()),
        )
        .await
        .unwrap();
    let token = minted.auth_token();
    let c = s.cache_client(&token);
    c.set(APP, "user:7:name", "alice").await.unwrap();
    let e = c.set(APP, "user:8:name", "mallory").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::PermissionError);
    let e = c.create_cache("mine").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::PermissionError);
    // the minted token is not a super-user: it cannot mint
    let weak = AuthClient::builder()
        .credential_provider(s.creds(&token))
        .build()
        .unwrap();
    let e = weak
        .generate_disposable_token(
            DisposableTokenScopes::cache_key_read_only(APP, "x"),
            ExpiresIn::minutes(1),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::PermissionError);
    // expiry bounded by auth.max_token_ttl_secs (1 h here)
    let e = auth
        .generate_disposable_token(
            DisposableTokenScopes::cache_key_read_only(APP, "x"),
            ExpiresIn::hours(2),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::InvalidArgumentError);

    // raw calls: the JS SDK authenticates with the body's auth_token and no header;
    // invalid, conflicting and super-user permission sets are INVALID_ARGUMENT
    use momento_protos::permission_messages as pm;
    use momento_protos::token::generate_disposable_token_request::Expires;
    use momento_protos::token::token_client::TokenClient;
    use momento_protos::token::GenerateDisposableTokenRequest as Raw;
    let mut tc = TokenClient::new(grpc_util::channel(s.srv.grpc_addr()).await);
    let su_jwt = s.jwt("root2", Permissions::SuperUser);
    let ro_all = |role: pm::CacheRole| pm::PermissionsType {
        kind: Some(pm::permissions_type::Kind::CachePermissions(
            pm::permissions_type::CachePermissions {
                role: role as i32,
                cache: Some(pm::permissions_type::cache_permissions::Cache::AllCaches(
                    pm::permissions_type::All {},
                )),
                cache_item: None,
            },
        )),
    };
    let explicit = |list: Vec<pm::PermissionsType>| pm::Permissions {
        kind: Some(pm::permissions::Kind::Explicit(pm::ExplicitPermissions {
            permissions: list,
        })),
    };
    let raw = |perms: Option<pm::Permissions>, secs: u32| Raw {
        expires: Some(Expires {
            valid_for_seconds: secs,
        }),
        auth_token: su_jwt.clone(),
        permissions: perms,
        token_id: "raw".into(),
    };
    let ok = tc
        .generate_disposable_token(raw(
            Some(explicit(vec![ro_all(pm::CacheRole::CacheReadOnly)])),
            60,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.valid_until > ferrite_auth::now_secs());
    assert_eq!(
        &**s.auth
            .authenticate(&ok.api_key, ferrite_auth::now_secs())
            .unwrap()
            .token_id(),
        "raw"
    );
    for (perms, secs) in [
        (Some(explicit(vec![])), 60),
        (
            Some(explicit(vec![
                ro_all(pm::CacheRole::CacheReadOnly),
                ro_all(pm::CacheRole::CacheWriteOnly),
            ])),
            60,
        ),
        (
            Some(pm::Permissions {
                kind: Some(pm::permissions::Kind::SuperUser(0)),
            }),
            60,
        ),
        (None, 60),
        (
            Some(explicit(vec![ro_all(pm::CacheRole::CacheReadOnly)])),
            0,
        ),
    ] {
        let st = tc
            .generate_disposable_token(raw(perms, secs))
            .await
            .unwrap_err();
        assert_eq!(st.code(), tonic::Code::InvalidArgument, "{st:?}");
    }
    let mut bad = raw(
        Some(explicit(vec![ro_all(pm::CacheRole::CacheReadOnly)])),
        60,
    );
    bad.auth_token = "garbage".into();
    let st = tc.generate_disposable_token(bad).await.unwrap_err();
    assert_eq!(st.code(), tonic::Code::Unauthenticated);
}

async fn next_message(
    s: &mut tonic::Streaming<momento_protos::cache_client::pubsub::SubscriptionItem>,
) -> momento_protos::cache_client::pubsub::TopicItem {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), s.message())
            .await
            .expect("an item arrives")
            .unwrap()
            .unwrap();
        if let Some(subscription_item::Kind::Item(i)) = item.kind {
            return i;
        }
    }
}

#[tokio::test]
async fn token_ids_are_publisher_ids() {
    let s = start().await;
    let su = s.jwt("watcher", Permissions::SuperUser);
    let mut ps = s.pubsub().await;
    let mut stream = ps
        .subscribe(with_token(&su, sub_req(APP, "room:9")))
        .await
        .unwrap()
        .into_inner();
    let publisher = topics(vec![topic_grant(
        TopicRole::PublishOnly,
        Some(APP),
        Selector::Prefix("room:".into()),
    )]);
    // RESP publish
    let resp_tok = s.mint("resp-pub", publisher.clone());
    let mut con = s.resp().await;
    assert_eq!(resp_code(&mut con, &["AUTH", APP, &resp_tok]).await, None);
    assert_eq!(
        resp_code(&mut con, &["PUBLISH", "room:9", "one"]).await,
        None
    );
    assert_eq!(next_message(&mut stream).await.publisher_id, "resp-pub");
    // gRPC publish through the SDK
    let grpc_tok = s.mint("grpc-pub", publisher);
    let topics_client = momento::TopicClient::builder()
        .configuration(momento::topics::configurations::Laptop::latest())
        .credential_provider(s.creds(&grpc_tok))
        .build()
        .unwrap();
    topics_client.publish(APP, "room:9", "two").await.unwrap();
    assert_eq!(next_message(&mut stream).await.publisher_id, "grpc-pub");

    // a revoked subscriber's stream ends
    let sub_only = topics(vec![topic_grant(
        TopicRole::SubscribeOnly,
        Some(APP),
        Selector::All,
    )]);
    let sub_jwt = s.jwt("listener", sub_only);
    let mut ps2 = s.pubsub().await;
    // A topic with nothing retained: a subscription without a resume point begins with the
    // newest retained message, which would arrive before the revocation is seen.
    let mut stream2 = ps2
        .subscribe(with_token(&sub_jwt, sub_req(APP, "room:10")))
        .await
        .unwrap()
        .into_inner();
    s.auth.revoke("listener").unwrap();
    topics_client
        .publish(APP, "room:10", "three")
        .await
        .unwrap();
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream2.message())
            .await
            .expect("the stream answers")
        {
            Ok(Some(item)) => {
                assert!(
                    !matches!(item.kind, Some(subscription_item::Kind::Item(_))),
                    "a revoked token received a message"
                );
            }
            other => break other,
        }
    };
    assert_eq!(end.unwrap_err().code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn cli_tokens_work_on_both_protocols_and_revoke() {
    let s = start().await;
    let bin = env!("CARGO_BIN_EXE_ferrite");
    let out = std::process::Command::new(bin)
        .args(["token", "create", "--token-key"])
        .arg(&s.key_file)
        .args([
            "--expires",
            "1h",
            "--token-id",
            "cli-1",
            "--cache",
            APP,
            "--role",
            "read-only",
            "--topic-cache",
            "*",
            "--topic-role",
            "subscribe",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(token.lines().count(), 1);
    // RESP
    let mut con = s.resp().await;
    assert_eq!(resp_code(&mut con, &["AUTH", APP, &token]).await, None);
    assert_eq!(resp_code(&mut con, &["GET", "k"]).await, None);
    assert_eq!(
        resp_code(&mut con, &["SET", "k", "v"]).await.as_deref(),
        Some("NOPERM")
    );
    // gRPC through the SDK
    let c = s.cache_client(&token);
    momento_result(c.get(APP, "k").await).unwrap();
    let e = c.set(APP, "k", "v").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::PermissionError);
    // bad invocations fail with a message
    let out = std::process::Command::new(bin)
        .args(["token", "create", "--token-key"])
        .arg(&s.key_file)
        .args(["--expires", "1h", "--role", "read-only"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // `ferrite token revoke` appends to the revocation file; the running server reloads it
    let out = std::process::Command::new(bin)
        .args(["token", "revoke", "--token-key"])
        .arg(&s.key_file)
        .arg("cli-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let e = c.get(APP, "k").await;
        if matches!(&e, Err(e) if e.error_code == MomentoErrorCode::AuthenticationError) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revocation was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        resp_code(&mut con, &["GET", "k"]).await.as_deref(),
        Some("NOAUTH")
    );
}

#[tokio::test]
async fn public_bind_requires_tokens() {
    // like Redis's protected mode: no key file on a public bind = no start
    let mut cfg = test_config();
    cfg.server.bind = "0.0.0.0".into();
    let err = ferrite::server::Running::start(cfg.clone())
        .await
        .err()
        .expect("refuses to start without auth on a public bind");
    assert!(err.to_string().contains("--token-key"), "{err}");
    cfg.auth.mode = AuthMode::None;
    assert!(ferrite::server::Running::start(cfg).await.is_err());
}

#[tokio::test]
async fn resp_multi_key_transactions_expiry_and_revoked_subscribers() {
    let s = start().await;
    let prefix = s.mint(
        "prefixed",
        caches(vec![cache_grant(
            CacheRole::ReadWrite,
            Some(APP),
            Selector::Prefix("user:1:".into()),
        )]),
    );
    let mut con = s.resp().await;
    assert_eq!(resp_code(&mut con, &["AUTH", APP, &prefix]).await, None);
    // every key of a multi-key command is checked
    assert_eq!(
        resp_code(&mut con, &["MSET", "user:1:a", "1", "user:1:b", "2"]).await,
        None
    );
    assert_eq!(
        resp_code(&mut con, &["MSET", "user:1:a", "1", "other", "2"])
            .await
            .as_deref(),
        Some("NOPERM")
    );
    assert_eq!(
        resp_code(&mut con, &["MGET", "user:1:a", "other"])
            .await
            .as_deref(),
        Some("NOPERM")
    );
    assert_eq!(
        resp_code(&mut con, &["RENAME", "user:1:a", "other"])
            .await
            .as_deref(),
        Some("NOPERM")
    );
    assert_eq!(
        resp_code(&mut con, &["WATCH", "other"]).await.as_deref(),
        Some("NOPERM")
    );
    assert_eq!(
        resp_code(&mut con, &["DBSIZE"]).await.as_deref(),
        Some("NOPERM")
    );
    assert_eq!(
        resp_code(&mut con, &["FLUSHALL"]).await.as_deref(),
        Some("NOPERM")
    );
    assert_eq!(
        resp_code(&mut con, &["INFO"]).await.as_deref(),
        Some("NOPERM")
    );
    assert_eq!(
        resp_code(&mut con, &["CLIENT", "LIST"]).await.as_deref(),
        Some("NOPERM")
    );
    assert_eq!(resp_code(&mut con, &["CLIENT", "ID"]).await, None);
    assert_eq!(resp_code(&mut con, &["PING"]).await, None);
    // a refused command inside MULTI aborts the transaction, and nothing of it runs
    let mut raw = s.srv.raw().await;
    raw.cmd(&["AUTH", APP, &prefix]).await;
    raw.expect(b"+OK\r\n").await;
    raw.cmd(&["MULTI"]).await;
    raw.expect(b"+OK\r\n").await;
    raw.cmd(&["SET", "user:1:t", "x"]).await;
    raw.expect(b"+QUEUED\r\n").await;
    raw.cmd(&["SET", "other", "x"]).await;
    let line = raw.read_n(7).await;
    assert_eq!(&line, b"-NOPERM");
    raw.cmd(&["EXEC"]).await;
    let mut seen = Vec::new();
    while !seen.ends_with(b"-EXECABORT") {
        let b = raw.read_n(1).await;
        assert!(
            !b.is_empty() && seen.len() < 4096,
            "no EXECABORT in {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend(b);
    }
    assert_eq!(resp_code(&mut con, &["EXISTS", "user:1:t"]).await, None);
    let n: i64 = redis::cmd("EXISTS")
        .arg("user:1:t")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(n, 0);

    // a token that expires while the connection is open: the next command gets NOAUTH
    let now = ferrite_auth::now_secs();
    let short = s.auth.sign_claims(&Claims {
        jti: "short".into(),
        iat: now,
        exp: now + 1,
        t: "g".into(),
        p: Permissions::SuperUser,
    });
    let mut c2 = s.resp().await;
    assert_eq!(resp_code(&mut c2, &["AUTH", &short]).await, None);
    while ferrite_auth::now_secs() <= now + 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        resp_code(&mut c2, &["GET", "k"]).await.as_deref(),
        Some("NOAUTH")
    );

    // a RESP subscriber whose token is revoked is disconnected at its next message
    let listener = s.mint(
        "resp-listener",
        topics(vec![topic_grant(
            TopicRole::SubscribeOnly,
            Some(APP),
            Selector::All,
        )]),
    );
    let mut sub = s.srv.raw().await;
    sub.cmd(&["AUTH", APP, &listener]).await;
    sub.expect(b"+OK\r\n").await;
    sub.cmd(&["SUBSCRIBE", "news"]).await;
    sub.expect(b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n")
        .await;
    let su = s.mint("root", Permissions::SuperUser);
    let mut admin = s.resp().await;
    assert_eq!(resp_code(&mut admin, &["AUTH", APP, &su]).await, None);
    assert_eq!(
        resp_code(&mut admin, &["PUBLISH", "news", "first"]).await,
        None
    );
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nfirst\r\n")
        .await;
    assert_eq!(
        resp_code(&mut admin, &["FERRITE.REVOKE", "resp-listener"]).await,
        None
    );
    assert_eq!(
        resp_code(&mut admin, &["PUBLISH", "news", "second"]).await,
        None
    );
    assert!(
        sub.is_closed().await,
        "the revoked subscriber is disconnected"
    );
}

#[tokio::test]
async fn idle_grpc_subscription_ends_at_its_heartbeat_when_the_token_is_revoked() {
    let s = start().await;
    let sub_only = topics(vec![topic_grant(
        TopicRole::SubscribeOnly,
        Some(APP),
        Selector::All,
    )]);
    let jwt = s.jwt("idle-listener", sub_only);
    let mut ps = s.pubsub().await;
    let mut stream = ps
        .subscribe(with_token(&jwt, sub_req(APP, "silent")))
        .await
        .unwrap()
        .into_inner();
    // The stream opens with a heartbeat: the subscription is in place.
    let first = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a first item")
        .unwrap()
        .expect("a heartbeat");
    assert!(matches!(
        first.kind,
        Some(subscription_item::Kind::Heartbeat(_))
    ));
    s.auth.revoke("idle-listener").unwrap();
    // Nothing is published: the next heartbeat time ends the stream (default interval 5 s).
    // Heartbeats keep coming on a stream that did not notice, so bound the whole wait.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let end = loop {
        match tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("the stream ends on its own within 15 s")
        {
            Ok(Some(item)) => assert!(
                !matches!(item.kind, Some(subscription_item::Kind::Item(_))),
                "a revoked token received a message"
            ),
            other => break other,
        }
    };
    assert_eq!(end.unwrap_err().code(), tonic::Code::Unauthenticated);
}
