//! Momento's protosocket fast path (issue 16, part 4) through the official SDK's
//! `ProtosocketCacheClient`: Get/Set/Delete sharing data with RESP and gRPC, hits and misses,
//! TTLs, the service's limits and errors, scoped tokens in auth mode `token`; and raw frames
//! for what the SDK never sends (a command before Authenticate, an oversized unauthenticated
//! frame, a connection that never authenticates, the connection cap).

mod common;
mod grpc_util;

use std::net::SocketAddr;
use std::time::Duration;

use common::tokens::TokenServer;
use common::{q, test_config, TestServer};
use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};
use ferrite_config::Config;
use momento::cache::GetResponse;
use momento::protosocket::cache::configurations::Laptop;
use momento::protosocket::cache::ProtosocketCacheClient;
use momento::{CredentialProvider, MomentoErrorCode};
use momento_protos::protosocket::cache::cache_command::RpcKind;
use momento_protos::protosocket::cache::cache_response::Kind;
use momento_protos::protosocket::cache::unary::Command;
use momento_protos::protosocket::cache::*;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn with_protosocket(mut c: Config) -> Config {
    c.server.protosocket_enabled = true;
    c.server.protosocket_port = 0;
    c
}

async fn start() -> TestServer {
    TestServer::start_with(with_protosocket(test_config())).await
}

fn addr(srv: &TestServer) -> SocketAddr {
    srv.running.protosocket_addr.expect("protosocket is on")
}

async fn client_with(token: &str, at: SocketAddr) -> ProtosocketCacheClient {
    let creds = CredentialProvider::from_disposable_token(token)
        .expect("token parses")
        // host:port, no scheme: the SDK resolves it as a socket address.
        .insecure_endpoint_override(&at.to_string());
    ProtosocketCacheClient::builder()
        .default_ttl(Duration::from_secs(60))
        .configuration(Laptop::latest())
        .credential_provider(creds)
        .runtime(tokio::runtime::Handle::current())
        .build()
        .await
        .expect("protosocket client builds")
}

async fn client(srv: &TestServer) -> ProtosocketCacheClient {
    client_with(grpc_util::TOKEN, addr(srv)).await
}

fn hit(r: GetResponse) -> Vec<u8> {
    match r {
        GetResponse::Hit { value } => value.into(),
        GetResponse::Miss => panic!("expected a hit"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_delete_share_data_with_resp_and_grpc() {
    let srv = start().await;
    let c = client(&srv).await;
    c.set("default", "k", "v1").await.unwrap();
    assert_eq!(hit(c.get("default", "k").await.unwrap()), b"v1");
    // RESP and gRPC see what protosocket wrote, and the other way round.
    let mut r = srv.client().await;
    let v: String = q(&mut r, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v1");
    let _: () = q(&mut r, &["SET", "from-resp", "r"]).await.unwrap();
    assert_eq!(hit(c.get("default", "from-resp").await.unwrap()), b"r");
    let g = grpc_util::cache_client(srv.grpc_addr());
    g.set("default", "from-grpc", "g").await.unwrap();
    assert_eq!(hit(c.get("default", "from-grpc").await.unwrap()), b"g");
    // The TTL is the client's default (60 s).
    let ttl: i64 = q(&mut r, &["PTTL", "k"]).await.unwrap();
    assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");

    c.delete("default", "k").await.unwrap();
    assert!(matches!(
        c.get("default", "k").await.unwrap(),
        GetResponse::Miss
    ));
    c.delete("default", "never-there")
        .await
        .expect("deleting a missing key succeeds");
    // A binary key and a large value.
    let big = vec![7u8; 1 << 20];
    c.set("default", vec![0u8, 255, 10], big.clone())
        .await
        .unwrap();
    assert_eq!(
        hit(c.get("default", vec![0u8, 255, 10]).await.unwrap()),
        big
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_rules_and_errors() {
    let srv = start().await;
    let c = client(&srv).await;
    let e = c
        .get("no-such-cache", "k")
        .await
        .expect_err("unknown cache");
    assert!(format!("{e:?}").contains("NotFound"), "{e:?}");
    // Over the item limit (5 MiB with the key): refused by the service's check.
    let e = c
        .set("default", "huge", vec![0u8; 5 * 1024 * 1024 + 1])
        .await
        .expect_err("too large");
    assert!(format!("{e:?}").contains("ResourceExhausted"), "{e:?}");
    // A hash at the key: a wrong type, as gRPC answers it.
    let mut r = srv.client().await;
    let _: i64 = q(&mut r, &["HSET", "h", "f", "v"]).await.unwrap();
    let e = c.get("default", "h").await.expect_err("wrong type");
    assert!(format!("{e:?}").contains("FailedPrecondition"), "{e:?}");
    // Metered like every protocol: two Gets are two operations of the default cache's tenant,
    // with their frames' bytes in and out.
    let ops = |srv: &TestServer| {
        srv.running
            .shared
            .metering
            .snapshot()
            .into_iter()
            .filter(|(k, _)| &*k.cache == "default")
            .fold((0, 0, 0), |a, (_, c)| {
                (a.0 + c.operations, a.1 + c.bytes_in, a.2 + c.bytes_out)
            })
    };
    let before = ops(&srv);
    c.set("default", "m", "12345").await.unwrap();
    let _ = c.get("default", "m").await.unwrap();
    let after = ops(&srv);
    assert_eq!(after.0 - before.0, 2, "{before:?} -> {after:?}");
    assert!(
        after.1 - before.1 >= 2 * 9,
        "request frames counted: {before:?} -> {after:?}"
    );
    assert!(
        after.2 - before.2 >= 5,
        "the value counted out: {before:?} -> {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_hold_on_protosocket() {
    let s = TokenServer::start_with(with_protosocket(test_config()), &[]).await;
    let at = s.srv.running.protosocket_addr.unwrap();
    let scoped = s.mint_v1(
        "reader",
        Permissions::Explicit {
            caches: vec![CacheGrant {
                role: CacheRole::ReadOnly,
                cache: Some("default".into()),
                items: Selector::Prefix("pub:".into()),
            }],
            topics: vec![],
        },
    );
    let root = client_with(&s.mint_v1("root", Permissions::SuperUser), at).await;
    root.set("default", "pub:a", "1").await.unwrap();
    root.set("default", "secret", "2").await.unwrap();
    let reader = client_with(&scoped, at).await;
    assert_eq!(hit(reader.get("default", "pub:a").await.unwrap()), b"1");
    for e in [
        reader
            .get("default", "secret")
            .await
            .expect_err("out of scope"),
        reader
            .set("default", "pub:a", "x")
            .await
            .expect_err("read-only"),
    ] {
        assert!(format!("{e:?}").contains("PermissionDenied"), "{e:?}");
    }
    // A bad token: the SDK cannot even connect.
    let bad = CredentialProvider::from_disposable_token(grpc_util::TOKEN)
        .unwrap()
        .insecure_endpoint_override(&at.to_string());
    let c = ProtosocketCacheClient::builder()
        .default_ttl(Duration::from_secs(60))
        .configuration(Laptop::latest())
        .credential_provider(bad)
        .runtime(tokio::runtime::Handle::current())
        .build()
        .await
        .unwrap();
    let e = c
        .get("default", "pub:a")
        .await
        .expect_err("not a valid token");
    assert_ne!(e.error_code, MomentoErrorCode::UnknownError, "{e:?}");
}

// ---- raw frames -------------------------------------------------------------------------------

fn frame(id: u64, command: Command) -> Vec<u8> {
    CacheCommand {
        message_id: id,
        control_code: 0,
        rpc_kind: Some(RpcKind::Unary(Unary {
            command: Some(command),
        })),
    }
    .encode_length_delimited_to_vec()
}

async fn read_response(s: &mut TcpStream) -> Option<CacheResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(len) = prost::decode_length_delimiter(&buf[..]) {
            let need = len + prost::length_delimiter_len(len);
            if buf.len() >= need {
                return Some(CacheResponse::decode_length_delimited(&buf[..need]).unwrap());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("an answer or a close within 5 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn get(key: &str) -> Command {
    Command::Get(GetCommand {
        namespace: "default".into(),
        key: key.as_bytes().to_vec(),
    })
}

#[tokio::test]
async fn a_command_before_authenticate_is_refused() {
    let srv = start().await;
    let mut s = TcpStream::connect(addr(&srv)).await.unwrap();
    s.write_all(&frame(1, get("k"))).await.unwrap();
    let r = read_response(&mut s).await.expect("an answer");
    assert_eq!(r.message_id, 1);
    match r.kind {
        Some(Kind::Error(e)) => assert_eq!(e.code, 16, "UNAUTHENTICATED: {e:?}"),
        other => panic!("{other:?}"),
    }
    // Then Authenticate, and the same Get answers (a miss).
    s.write_all(&frame(
        2,
        Command::Auth(AuthenticateCommand {
            token: "local-dev".into(),
        }),
    ))
    .await
    .unwrap();
    assert!(matches!(
        read_response(&mut s).await.unwrap().kind,
        Some(Kind::Auth(_))
    ));
    s.write_all(&frame(3, get("k"))).await.unwrap();
    match read_response(&mut s).await.unwrap().kind {
        Some(Kind::Error(e)) => assert_eq!((e.code, e.message.as_str()), (5, "Key not found")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unauthenticated_clients_cannot_make_the_server_buffer_much() {
    let srv = start().await;
    // A frame announcing 1 MiB before Authenticate: the connection is closed at its header.
    let mut s = TcpStream::connect(addr(&srv)).await.unwrap();
    let big = frame(
        1,
        Command::Set(SetCommand {
            namespace: "default".into(),
            key: b"k".to_vec(),
            value: vec![0; 1 << 20],
            ttl_milliseconds: 1000,
        }),
    );
    s.write_all(&big[..64]).await.unwrap();
    assert!(read_response(&mut s).await.is_none(), "closed, no answer");
    let v: Option<String> = q(&mut srv.client().await, &["GET", "k"]).await.unwrap();
    assert_eq!(v, None);
}

#[tokio::test]
async fn a_connection_that_never_authenticates_is_closed() {
    let mut cfg = with_protosocket(test_config());
    cfg.grpc.handshake_timeout_ms = 300;
    let srv = TestServer::start_with(cfg).await;
    let mut s = TcpStream::connect(addr(&srv)).await.unwrap();
    let started = std::time::Instant::now();
    assert!(read_response(&mut s).await.is_none());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn connections_past_max_clients_are_closed_at_accept() {
    let mut cfg = with_protosocket(test_config());
    cfg.limits.max_clients = 2;
    let srv = TestServer::start_with(cfg).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr(&srv)).await.unwrap();
        s.write_all(&frame(
            1,
            Command::Auth(AuthenticateCommand {
                token: "local-dev".into(),
            }),
        ))
        .await
        .unwrap();
        assert!(read_response(&mut s).await.is_some());
        held.push(s);
    }
    let mut third = TcpStream::connect(addr(&srv)).await.unwrap();
    let _ = third
        .write_all(&frame(
            1,
            Command::Auth(AuthenticateCommand {
                token: "local-dev".into(),
            }),
        ))
        .await;
    assert!(read_response(&mut third).await.is_none(), "over the cap");
    drop(held);
    // Room again once they are gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(addr(&srv)).await.unwrap();
    again
        .write_all(&frame(
            1,
            Command::Auth(AuthenticateCommand {
                token: "local-dev".into(),
            }),
        ))
        .await
        .unwrap();
    assert!(read_response(&mut again).await.is_some());
}
