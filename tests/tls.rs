//! TLS on the listeners: RESP over TLS with the `redis` crate (rustls), gRPC (HTTP/2 over TLS)
//! with tonic channels trusting a test CA, self-signed start, handshake failures and timeouts,
//! and configuration errors. Certificates are made here with rcgen; nothing is checked in.
//!
//! Why not the official `momento` SDK over TLS: momento 0.70 builds every gRPC channel with
//! `ClientTlsConfig::default().with_webpki_roots()` (public CAs only, no hook for another root),
//! and `unverified_tls_endpoint_override` only affects its protosocket client. So gRPC over TLS
//! is driven with the same `momento-protos` clients over a tonic channel that trusts the test CA.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::pki::TestPki;
use common::{test_config, TestServer};
use ferrite::server::Running;
use ferrite_config::Config;
use futures_util::StreamExt;
use momento_protos::cache_client as pb;
use momento_protos::cache_client::pubsub as ps;
use momento_protos::cache_client::pubsub::pubsub_client::PubsubClient;
use momento_protos::cache_client::scs_client::ScsClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

/// The `redis` crate builds its rustls config with the process-wide default provider; with both
/// ring and aws-lc-rs compiled in, one has to be named.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn tls_client(addr: SocketAddr, ca_pem: &str) -> redis::Client {
    install_crypto_provider();
    redis::Client::build_with_tls(
        format!("rediss://{addr}/"),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca_pem.as_bytes().to_vec()),
        },
    )
    .unwrap()
}

async fn tls_conn(addr: SocketAddr, ca_pem: &str) -> redis::aio::MultiplexedConnection {
    tls_client(addr, ca_pem)
        .get_multiplexed_async_connection()
        .await
        .expect("TLS connection")
}

/// A raw rustls client connection trusting `ca_pem`, offering `alpn`.
async fn raw_tls(
    addr: SocketAddr,
    ca_pem: &str,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// Everything the peer sends until it closes (or 10 s pass, which fails the test).
async fn read_to_close<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut all = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = vec![0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the server did not close the connection");
    all
}

/// Wait (up to 10 s) until `f` holds: counters are bumped by the server's own tasks.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

async fn grpc_tls_channel(
    addr: SocketAddr,
    ca_pem: &str,
) -> Result<Channel, tonic::transport::Error> {
    install_crypto_provider();
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca_pem))
                .domain_name("localhost"),
        )?
        .connect()
        .await
}

fn in_cache<T>(cache: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert("cache", cache.parse().unwrap());
    r
}

async fn grpc_set_get(ch: Channel) {
    let mut scs = ScsClient::new(ch);
    scs.set(in_cache(
        "default",
        pb::SetRequest {
            cache_key: b"grpc-key".to_vec(),
            cache_body: b"grpc-value".to_vec(),
            ttl_milliseconds: 60_000,
        },
    ))
    .await
    .expect("Set over TLS");
    let got = scs
        .get(in_cache(
            "default",
            pb::GetRequest {
                cache_key: b"grpc-key".to_vec(),
            },
        ))
        .await
        .expect("Get over TLS")
        .into_inner();
    assert_eq!(got.result, pb::ECacheResult::Hit as i32);
    assert_eq!(got.cache_body, b"grpc-value");
}

/// The next published value on a subscription, skipping heartbeats.
async fn next_text(s: &mut tonic::Streaming<ps::SubscriptionItem>) -> String {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), s.message())
            .await
            .expect("subscription item in time")
            .expect("stream ok")
            .expect("stream open");
        if let Some(ps::subscription_item::Kind::Item(i)) = item.kind {
            match i.value.and_then(|v| v.kind) {
                Some(ps::topic_value::Kind::Text(t)) => return t,
                other => panic!("unexpected value {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn resp_over_tls_with_a_ca_signed_certificate() {
    let pki = TestPki::new();
    let srv = TestServer::start_with(pki.config()).await;
    let mut c = tls_conn(srv.addr, &pki.ca_pem).await;

    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut c)
        .await
        .unwrap();
    let v: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "v");
    // A value larger than a TLS record and than the read buffer's first size, both ways.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query_async(&mut c)
        .await
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET")
        .arg("big")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(back, big);

    // Pub/sub over TLS: subscriber and publisher on separate TLS connections.
    let mut sub = tls_client(srv.addr, &pki.ca_pem)
        .get_async_pubsub()
        .await
        .unwrap();
    sub.subscribe("news").await.unwrap();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello over tls")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let msg = tokio::time::timeout(Duration::from_secs(10), sub.on_message().next())
        .await
        .expect("message in time")
        .expect("a message");
    assert_eq!(msg.get_channel_name(), "news");
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello over tls");

    // The RESP listener offers no ALPN, so a client offering its own protocol name still
    // connects (a server offering h2 would reject it).
    let mut raw = raw_tls(srv.addr, &pki.ca_pem, &[b"redis"]).await.unwrap();
    assert_eq!(raw.get_ref().1.alpn_protocol(), None);
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let mut buf = [0u8; 7];
    raw.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"+PONG\r\n");

    let tls = srv.running.tls.as_ref().expect("TLS is on");
    assert!(tls.stats().handshakes() >= 3);
    assert_eq!(tls.stats().handshake_failures(), 0);
}

#[tokio::test]
async fn plaintext_and_untrusting_clients_fail_cleanly_and_the_server_keeps_serving() {
    let pki = TestPki::new();
    let srv = TestServer::start_with(pki.config()).await;
    let tls = srv.running.tls.clone().expect("TLS is on");

    // A plaintext RESP client: no reply to its command, the connection is closed.
    let mut plain = TcpStream::connect(srv.addr).await.unwrap();
    plain.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let got = read_to_close(&mut plain).await;
    assert!(
        !String::from_utf8_lossy(&got).contains("PONG"),
        "plaintext got an answer: {got:?}"
    );
    // The redis crate without TLS reports an error instead of hanging.
    let plain_client = redis::Client::open(srv.url()).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), async {
        let mut c = plain_client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut c).await
    })
    .await
    .expect("plaintext client gives up in time");
    assert!(r.is_err(), "plaintext PING succeeded on a TLS port");

    // A client that does not trust the server's CA refuses the certificate.
    let other = TestPki::new();
    let e = raw_tls(srv.addr, &other.ca_pem, &[]).await.unwrap_err();
    assert!(
        e.to_string().to_lowercase().contains("certificate"),
        "unexpected error: {e}"
    );
    eventually("three failed handshakes counted", || {
        tls.stats().handshake_failures() >= 3
    })
    .await;

    // And a good client is served as before.
    let mut c = tls_conn(srv.addr, &pki.ca_pem).await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn grpc_over_tls_set_get_and_topics() {
    let pki = TestPki::new();
    let srv = TestServer::start_with(pki.config()).await;
    let ch = grpc_tls_channel(srv.grpc_addr(), &pki.ca_pem)
        .await
        .expect("gRPC over TLS connects (ALPN h2)");
    grpc_set_get(ch.clone()).await;

    // What gRPC wrote, RESP over TLS reads.
    let mut c = tls_conn(srv.addr, &pki.ca_pem).await;
    let v: String = redis::cmd("GET")
        .arg("grpc-key")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "grpc-value");

    // Topics: subscribe over gRPC/TLS, publish over gRPC/TLS and over RESP/TLS.
    let mut pubsub = PubsubClient::new(ch.clone());
    let mut stream = pubsub
        .subscribe(ps::SubscriptionRequest {
            cache_name: "default".into(),
            topic: "t".into(),
            resume_at_topic_sequence_number: 0,
            sequence_page: 0,
        })
        .await
        .unwrap()
        .into_inner();
    PubsubClient::new(ch)
        .publish(ps::PublishRequest {
            cache_name: "default".into(),
            topic: "t".into(),
            value: Some(ps::TopicValue {
                kind: Some(ps::topic_value::Kind::Text("from grpc".into())),
            }),
        })
        .await
        .expect("Publish over TLS");
    assert_eq!(next_text(&mut stream).await, "from grpc");
    let n: i64 = redis::cmd("PUBLISH")
        .arg("t")
        .arg("from resp")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(next_text(&mut stream).await, "from resp");

    // A plaintext HTTP/2 client to the TLS gRPC port fails; the port keeps serving TLS.
    let plain = tokio::time::timeout(Duration::from_secs(10), async {
        let ch = Channel::from_shared(format!("http://{}", srv.grpc_addr()))
            .unwrap()
            .connect()
            .await?;
        ScsClient::new(ch)
            .get(in_cache(
                "default",
                pb::GetRequest {
                    cache_key: b"grpc-key".to_vec(),
                },
            ))
            .await
            .map_err(|s| Box::new(s) as Box<dyn std::error::Error + Send + Sync>)?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
    .await
    .expect("plaintext gRPC client gives up in time");
    assert!(
        plain.is_err(),
        "plaintext gRPC call succeeded on a TLS port"
    );
    let ch = grpc_tls_channel(srv.grpc_addr(), &pki.ca_pem)
        .await
        .unwrap();
    grpc_set_get(ch).await;

    // The gRPC listener negotiates h2 by ALPN.
    let raw = raw_tls(srv.grpc_addr(), &pki.ca_pem, &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(raw.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn self_signed_certificate_is_written_and_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ferrite-selfsigned.pem");
    let mut cfg = test_config();
    cfg.tls.self_signed = true;
    cfg.tls.self_signed_cert_out = out.to_string_lossy().into_owned();
    let srv = TestServer::start_with(cfg).await;
    let tls = srv.running.tls.clone().expect("TLS is on");

    let pem = std::fs::read_to_string(&out).expect("certificate written");
    assert_eq!(Some(pem.as_str()), tls.self_signed_pem());
    // The logged fingerprint is the SHA-256 of the written certificate.
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(tls.fingerprint(), hex.join(":"));

    // Clients that trust the written file connect by IP (RESP) and by name (gRPC).
    let mut c = tls_conn(srv.addr, &pem).await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
    let ch = grpc_tls_channel(srv.grpc_addr(), &pem).await.unwrap();
    grpc_set_get(ch).await;
}

#[tokio::test]
async fn tls_can_be_switched_off_per_listener() {
    let pki = TestPki::new();
    let mut cfg = pki.config();
    cfg.tls.resp = false;
    let srv = TestServer::start_with(cfg).await;
    // RESP is plaintext...
    let mut c = srv.client().await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
    // ...while gRPC speaks only TLS.
    let ch = grpc_tls_channel(srv.grpc_addr(), &pki.ca_pem)
        .await
        .unwrap();
    grpc_set_get(ch).await;
    assert!(raw_tls(srv.addr, &pki.ca_pem, &[]).await.is_err());
}

#[tokio::test]
async fn slow_handshakes_do_not_hold_up_other_clients() {
    let pki = TestPki::new();
    let mut cfg = pki.config();
    cfg.tls.handshake_timeout_ms = 3_600_000;
    let srv = TestServer::start_with(cfg).await;
    // Clients that connect and never say hello, on both listeners.
    let mut idle = Vec::new();
    for addr in [srv.addr, srv.grpc_addr()] {
        for _ in 0..3 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
    }
    // Handshakes run off the accept loops: new clients are served while those hang (with the
    // handshake in the accept loop this would wait for the hour-long timeout).
    let served = tokio::time::timeout(Duration::from_secs(30), async {
        let mut c = tls_conn(srv.addr, &pki.ca_pem).await;
        let _: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
        let ch = grpc_tls_channel(srv.grpc_addr(), &pki.ca_pem)
            .await
            .unwrap();
        grpc_set_get(ch).await;
    })
    .await;
    assert!(served.is_ok(), "a pending handshake blocked other clients");
    drop(idle);
}

#[tokio::test]
async fn handshakes_that_never_finish_are_cut_off() {
    let pki = TestPki::new();
    let mut cfg = pki.config();
    cfg.tls.handshake_timeout_ms = 200;
    let srv = TestServer::start_with(cfg).await;
    let tls = srv.running.tls.clone().unwrap();
    for addr in [srv.addr, srv.grpc_addr()] {
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let got = read_to_close(&mut idle).await;
        assert!(got.is_empty(), "{got:?}");
    }
    eventually("two handshake timeouts counted", || {
        tls.stats().handshake_timeouts() >= 2
    })
    .await;
    // The server still serves.
    let mut c = tls_conn(srv.addr, &pki.ca_pem).await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn maxclients_error_is_sent_over_tls() {
    let pki = TestPki::new();
    let mut cfg = pki.config();
    cfg.limits.max_clients = 1;
    let srv = TestServer::start_with(cfg).await;
    let mut first = tls_conn(srv.addr, &pki.ca_pem).await;
    let _: String = redis::cmd("PING").query_async(&mut first).await.unwrap();
    let mut second = raw_tls(srv.addr, &pki.ca_pem, &[]).await.unwrap();
    let got = read_to_close(&mut second).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR max number of clients reached\r\n"
    );
}

#[tokio::test]
async fn bad_tls_configuration_stops_the_start() {
    let pki = TestPki::new();
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();

    // Validation (what `ferrite serve` runs before starting): cert without key, missing file.
    let mut c = test_config();
    c.tls.cert_file = path(&pki.cert_file);
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("tls.key_file"), "{e}");
    c.tls.key_file = path(&pki.dir.path().join("missing-key.pem"));
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("tls.key_file") && e.contains("missing-key.pem"),
        "{e}"
    );

    let start_err = |c: Config| async move {
        match Running::start(c).await {
            Ok(_) => panic!("the server started with a bad TLS configuration"),
            Err(e) => format!("{e:#}"),
        }
    };
    // A certificate file that holds no certificate.
    let mut c = pki.config();
    c.tls.cert_file = path(&pki.key_file);
    let e = start_err(c).await;
    assert!(e.contains("no CERTIFICATE"), "{e}");
    // A key file that holds no key.
    let mut c = pki.config();
    c.tls.key_file = path(&pki.cert_file);
    let e = start_err(c).await;
    assert!(e.contains("no private key"), "{e}");
    // A key that is not the certificate's.
    let mut c = pki.config();
    c.tls.key_file = path(&pki.ca_key_file);
    let e = start_err(c).await;
    assert!(e.contains("cannot be used together"), "{e}");
    // A self-signed certificate that cannot be written where asked.
    let mut c = test_config();
    c.tls.self_signed = true;
    c.tls.self_signed_cert_out = path(&pki.dir.path().join("no-such-dir").join("x.pem"));
    let e = start_err(c).await;
    assert!(e.contains("tls.self_signed_cert_out"), "{e}");
}

#[tokio::test]
async fn large_replies_to_a_slow_reader_arrive_whole() {
    // Backpressure over TLS: the server's socket fills while a reply is half written, so writes
    // return Pending and rustls holds records it could not send yet (the connection loop
    // flushes them once its own buffer is empty). Every reply must arrive whole and in order.
    let pki = TestPki::new();
    let srv = TestServer::start_with(pki.config()).await;
    let mut c = tls_conn(srv.addr, &pki.ca_pem).await;
    let big: Vec<u8> = (0..8_000_000u32).map(|i| (i % 253) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query_async(&mut c)
        .await
        .unwrap();
    let mut raw = raw_tls(srv.addr, &pki.ca_pem, &[]).await.unwrap();
    for _ in 0..3 {
        raw.write_all(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
            .await
            .unwrap();
        // Don't read yet: the server's socket fills up while it still has reply bytes to write.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let header = format!("${}\r\n", big.len());
        let mut got = vec![0u8; header.len() + big.len() + 2];
        tokio::time::timeout(Duration::from_secs(20), raw.read_exact(&mut got))
            .await
            .expect("the whole reply arrives")
            .unwrap();
        assert_eq!(&got[..header.len()], header.as_bytes());
        assert!(got[header.len()..header.len() + big.len()] == big[..]);
    }
}

/// The stock redis-cli (Debian's redis-tools, built with TLS) trusting the self-signed file.
/// `.ci/run` installs it; without it the test says so and passes only outside CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_over_tls_with_the_self_signed_file() {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v redis-cli"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "redis-cli must be installed in CI"
        );
        eprintln!("skipping: redis-cli not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ferrite-selfsigned.pem");
    let mut cfg = test_config();
    cfg.tls.self_signed = true;
    cfg.tls.self_signed_cert_out = pem.to_string_lossy().into_owned();
    let srv = TestServer::start_with(cfg).await;
    let cli = |host: &'static str, args: &'static [&'static str]| {
        let port = srv.addr.port().to_string();
        let pem = pem.to_string_lossy().into_owned();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new("redis-cli")
                .args(["--tls", "--cacert", &pem, "-h", host, "-p", &port])
                .args(args)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim_end().to_string()
        })
    };
    assert_eq!(cli("127.0.0.1", &["ping"]).await.unwrap(), "PONG");
    assert_eq!(cli("localhost", &["set", "k", "v"]).await.unwrap(), "OK");
    assert_eq!(cli("127.0.0.1", &["get", "k"]).await.unwrap(), "v");
    // Without --tls, redis-cli gets no answer from the TLS port.
    let port = srv.addr.port().to_string();
    let plain = tokio::task::spawn_blocking(move || {
        std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port, "ping"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("PONG"));
}

#[tokio::test]
async fn shutdown_drops_pending_handshakes_and_closes_tls_clients() {
    let pki = TestPki::new();
    let mut cfg = pki.config();
    cfg.tls.handshake_timeout_ms = 3_600_000;
    let srv = TestServer::start_with(cfg).await;
    let mut c = tls_conn(srv.addr, &pki.ca_pem).await;
    let _: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    // A client stuck in its handshake is registered (it counts against maxclients)...
    let _idle = TcpStream::connect(srv.addr).await.unwrap();
    let shared = srv.running.shared.clone();
    eventually("both clients registered", || shared.clients.len() == 2).await;
    // ...and shutdown does not wait an hour for it: it is dropped with the others.
    srv.running.shutdown();
    tokio::time::timeout(Duration::from_secs(30), srv.running.wait())
        .await
        .expect("shutdown finishes");
    eventually("every client unregistered", || shared.clients.is_empty()).await;
}
