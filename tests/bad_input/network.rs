//! Unauthenticated and slow clients on every listener: pre-auth limits, slowloris, handshakes,
//! backlog, and the small protocol findings (issue 12 findings 3, 5 and 7).

use std::time::Duration;

use ferrite_auth::Permissions;
use ferrite_config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::reply::{err, OK};
use crate::common::{q, test_config, RawConn, TestServer};

/// A server in auth mode `token`, and a super-user token for it.
struct TokenServer {
    tokens: crate::common::tokens::TokenServer,
    token: String,
}

impl std::ops::Deref for TokenServer {
    type Target = crate::common::tokens::TokenServer;
    fn deref(&self) -> &Self::Target {
        &self.tokens
    }
}

async fn token_server(cfg: Config) -> TokenServer {
    let tokens = crate::common::tokens::TokenServer::start_with(cfg, &[]).await;
    let token = tokens.mint("root", Permissions::SuperUser);
    TokenServer { tokens, token }
}

/// A RESP command as bytes.
fn resp(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A field of one CLIENT LIST line, as a number.
fn client_field(line: &str, field: &str) -> u64 {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        .parse()
        .unwrap()
}

/// `field` of the client named `name` in CLIENT LIST.
async fn named_field(
    admin: &mut redis::aio::MultiplexedConnection,
    name: &str,
    field: &str,
) -> u64 {
    let list: String = q(admin, &["CLIENT", "LIST"]).await.unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("{name} not in {list}"));
    client_field(line, field)
}

// ---- finding 3: RESP before AUTH ---------------------------------------------------------

#[tokio::test]
async fn resp_unauthenticated_multibulk_and_bulk_lengths_are_refused_from_the_header() {
    let s = token_server(test_config()).await;
    // More than 10 arguments declared: refused before a single argument arrived, then closed.
    let mut c = RawConn::connect(s.srv.addr).await;
    c.send(b"*1000000\r\n").await;
    c.expect(&err("ERR Protocol error: unauthenticated multibulk length"))
        .await;
    assert!(c.is_closed().await);
    // A bulk over 16 KiB declared: refused before its payload arrived, then closed.
    let mut c = RawConn::connect(s.srv.addr).await;
    c.send(b"*1\r\n$500000000\r\n").await;
    c.expect(&err("ERR Protocol error: unauthenticated bulk length"))
        .await;
    assert!(c.is_closed().await);
    let mut c = RawConn::connect(s.srv.addr).await;
    c.send(b"*2\r\n$3\r\nGET\r\n$16385\r\n").await;
    c.expect(&err("ERR Protocol error: unauthenticated bulk length"))
        .await;
    assert!(c.is_closed().await);
    // At the thresholds a command is parsed (and refused by auth, not by the parser).
    let mut c = RawConn::connect(s.srv.addr).await;
    let ten: Vec<&[u8]> = vec![
        b"MSET", b"a", b"1", b"b", b"2", b"c", b"3", b"d", b"4", b"e",
    ];
    c.send(&resp(&ten)).await;
    c.expect(&err("NOAUTH Authentication required.")).await;
    let big = vec![b'x'; 16384];
    c.send(&resp(&[b"GET", &big])).await;
    c.expect(&err("NOAUTH Authentication required.")).await;
    // The limits end with AUTH, even inside one pipelined write: the command after AUTH is
    // parsed with the authenticated limits.
    let value = vec![b'v'; 20_000];
    let mut pipeline = resp(&[b"AUTH", s.token.as_bytes()]);
    pipeline.extend(resp(&[b"SET", b"k", &value]));
    pipeline.extend(resp(&[b"STRLEN", b"k"]));
    c.send(&pipeline).await;
    c.expect(OK).await;
    c.expect(OK).await;
    c.expect(b":20000\r\n").await;
    // And the server still answers.
    c.send(&resp(&[b"PING"])).await;
    c.expect(b"+PONG\r\n").await;
}

#[tokio::test]
async fn resp_declared_bulk_length_reserves_only_what_arrived() {
    let srv = TestServer::start().await;
    let mut admin = srv.client().await;
    let mut c = srv.raw().await;
    c.roundtrip(&["CLIENT", "SETNAME", "uploader"], OK).await;
    // Declare a 400 MB value, send 100 KB of it, and stall.
    let mut partial = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n".to_vec();
    partial.extend(vec![b'x'; 100 * 1024]);
    c.send(&partial).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let rbs = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The read buffer (Redis's query buffer): CLIENT LIST's `qbuf-free` for a client
        // other than the caller (`qbuf` is only the caller's running request).
        let rbs = named_field(&mut admin, "uploader", "qbuf-free").await;
        if rbs >= 100 * 1024 || tokio::time::Instant::now() > deadline {
            break rbs;
        }
    };
    assert!(
        rbs >= 100 * 1024,
        "the bytes that arrived are buffered: rbs={rbs}"
    );
    // The buffer follows what arrived (amortised doubling), not what was declared: it used to
    // reserve the whole 400 MB here.
    assert!(rbs <= 1024 * 1024, "rbs={rbs} for 100 KiB received");
    let _: String = q(&mut admin, &["PING"]).await.unwrap();
}

#[tokio::test]
async fn resp_listener_input_budget_stops_reading_instead_of_buffering() {
    const BUDGET: u64 = 256 * 1024;
    const SENT: usize = 1024 * 1024;
    let mut cfg = test_config();
    cfg.limits.resp_input_budget = BUDGET;
    let srv = TestServer::start_with(cfg).await;
    let mut admin = srv.client().await;
    // Four clients each send 1 MiB of a 2 MiB value and stall.
    let mut uploaders = Vec::new();
    for i in 0..4 {
        let mut c = srv.raw().await;
        c.roundtrip(&["CLIENT", "SETNAME", &format!("up{i}")], OK)
            .await;
        let mut head = format!("*3\r\n$3\r\nSET\r\n$2\r\nk{i}\r\n${}\r\n", 2 * SENT).into_bytes();
        head.extend(vec![b'x'; SENT]);
        let (rd, mut wr) = c.stream.into_split();
        let task = tokio::spawn(async move {
            wr.write_all(&head).await.unwrap();
            wr
        });
        uploaders.push((rd, task));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut held = 0;
    for i in 0..4 {
        held += named_field(&mut admin, &format!("up{i}"), "qbuf-free").await;
    }
    // Without the budget all 4 MiB (and more: the buffers) would be held. With it, one client
    // may overdraw (so a command larger than the budget still completes) and the others stop
    // reading once the budget is used.
    assert!(
        held < 3 * SENT as u64,
        "the server buffers {held} bytes of partial commands under a {BUDGET}-byte budget"
    );
    // Small commands are still served meanwhile.
    let pong: String = q(&mut admin, &["PING"]).await.unwrap();
    assert_eq!(pong, "PONG");
    // Everyone finishes: no deadlock, every value is stored whole.
    let mut finishers = Vec::new();
    for (mut rd, task) in uploaders {
        let mut wr = task.await.unwrap();
        finishers.push(tokio::spawn(async move {
            let mut rest = vec![b'x'; SENT];
            rest.extend_from_slice(b"\r\n");
            wr.write_all(&rest).await.unwrap();
            let mut reply = [0u8; 5];
            rd.read_exact(&mut reply).await.unwrap();
            assert_eq!(&reply, OK);
        }));
    }
    for f in finishers {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .expect("every upload completes")
            .unwrap();
    }
    for i in 0..4 {
        let n: u64 = q(&mut admin, &["STRLEN", &format!("k{i}")]).await.unwrap();
        assert_eq!(n, 2 * SENT as u64);
    }
    assert_eq!(srv.running.shared.resp_input.used(), 0);
}

// ---- finding 7: small ones ---------------------------------------------------------------

#[tokio::test]
async fn hello_setname_cannot_forge_a_client_list_line() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    let bad = "a\nid=999 addr=6.6.6.6:1 name=forged";
    c.cmd(&["HELLO", "3", "SETNAME", bad]).await;
    c.expect(&err(
        "ERR Client names cannot contain spaces, newlines or special characters.",
    ))
    .await;
    for bad in ["with space", "tab\there", "nul\0", "\u{7f}"] {
        c.cmd(&["HELLO", "2", "SETNAME", bad]).await;
        c.expect(&err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ))
        .await;
    }
    // The failed HELLO changed nothing: still RESP2, still no name.
    c.roundtrip(&["CLIENT", "GETNAME"], b"$-1\r\n").await;
    let mut admin = srv.client().await;
    let list: String = q(&mut admin, &["CLIENT", "LIST"]).await.unwrap();
    assert!(!list.contains("id=999"), "{list}");
    assert_eq!(list.lines().count(), 2, "{list}");
    // A valid name is still set by HELLO.
    c.cmd(&["HELLO", "2", "SETNAME", "good-name"]).await;
    let hello = crate::common::reply::read_reply(&mut c).await;
    assert!(
        matches!(hello, crate::common::reply::R::Agg(..)),
        "{hello:?}"
    );
    c.roundtrip(&["CLIENT", "GETNAME"], b"$9\r\ngood-name\r\n")
        .await;
}

// ---- finding 5: slowloris and handshakes -------------------------------------------------

/// A rustls client trusting the server's self-signed certificate, offering `http/1.1`.
async fn https_get(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    path: &str,
) -> std::io::Result<String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn tls_idle_connections_past_the_pending_cap_do_not_keep_new_clients_waiting() {
    let mut cfg = test_config();
    cfg.tls.self_signed = true;
    cfg.tls.self_signed_cert_out = String::new();
    cfg.tls.resp = false;
    cfg.tls.max_pending_handshakes = 16;
    // Long enough that waiting for the idle ones to time out would fail the test.
    cfg.tls.handshake_timeout_ms = 60_000;
    let srv = TestServer::start_with(cfg).await;
    let tls = srv.running.tls.clone().unwrap();
    let pem = tls.self_signed_pem().unwrap().to_string();
    let http = srv.running.http_addr;
    // 300 connections that never send a ClientHello: far more than the 16 pending allowed.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(tokio::net::TcpStream::connect(http).await.unwrap());
    }
    // A real client is still served: the oldest idle handshakes make room for it.
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        https_get(http, &pem, "/openapi.json"),
    )
    .await
    .expect("an HTTPS client waited behind idle handshakes")
    .unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(tls.stats().handshakes_evicted() > 0);
    // The same on the gRPC-TLS listener's accept path: another round of idle sockets, then a
    // TLS handshake (ALPN h2) still completes.
    for _ in 0..100 {
        idle.push(
            tokio::net::TcpStream::connect(srv.grpc_addr())
                .await
                .unwrap(),
        );
    }
    let grpc = tokio::time::timeout(
        Duration::from_secs(5),
        https_get(srv.grpc_addr(), &pem, "/"),
    )
    .await
    .expect("a gRPC-TLS client waited behind idle handshakes");
    assert!(grpc.is_ok(), "{grpc:?}");
    drop(idle);
}

// ---- finding 3: gRPC before auth ---------------------------------------------------------

const FIVE_S: Duration = Duration::from_secs(5);

/// Open a raw HTTP/2 connection and start a gRPC call to `path` whose message declares
/// `declared` bytes but only 1 KiB of it is ever sent; the stream stays open. Returns the
/// response head (or an error), waited for at most `wait`.
async fn grpc_partial_call(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
    declared: u32,
    wait: Duration,
) -> Result<http::Response<h2::RecvStream>, String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let mut req = http::Request::post(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("cache", "default");
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    let (resp, mut body) = client.send_request(req.body(()).unwrap(), false).unwrap();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&declared.to_be_bytes());
    frame.extend(vec![7u8; 1024]);
    body.send_data(frame.into(), false).unwrap();
    let r = tokio::time::timeout(wait, resp).await;
    // Keep the stream open until the answer came (or not).
    drop(body);
    match r {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(format!("h2 error: {e}")),
        Err(_) => Err(format!(
            "no answer within {wait:?}: the server waits for the message"
        )),
    }
}

#[tokio::test]
async fn grpc_unauthenticated_call_is_refused_at_its_headers_before_the_message() {
    let s = token_server(test_config()).await;
    let addr = s.srv.grpc_addr();
    // No token: UNAUTHENTICATED (16) in a trailers-only answer, while the 4 MiB message has
    // barely started to arrive. It used to be read and decoded first.
    for token in [None, Some(""), Some("  ")] {
        let r = grpc_partial_call(addr, "/cache_client.Scs/Set", token, 4 << 20, FIVE_S)
            .await
            .unwrap_or_else(|e| panic!("token {token:?}: {e}"));
        assert_eq!(
            r.headers().get("grpc-status").map(|v| v.to_str().unwrap()),
            Some("16"),
            "{:?}",
            r.headers()
        );
    }
    // A bad token likewise (the interceptor, also at the headers).
    let r = grpc_partial_call(
        addr,
        "/cache_client.Scs/Set",
        Some("not-a-token"),
        4 << 20,
        FIVE_S,
    )
    .await
    .unwrap();
    assert_eq!(r.headers().get("grpc-status").unwrap(), "16");
    // Ping stays open without a token (the Go SDK pings before it has one).
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post("http://localhost/cache_client.Ping/Ping")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut body) = client.send_request(req, false).unwrap();
    body.send_data(vec![0u8, 0, 0, 0, 0].into(), true).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), resp)
        .await
        .unwrap()
        .unwrap();
    let mut recv = resp.into_body();
    while let Some(d) = recv.data().await {
        d.unwrap();
    }
    let trailers = recv.trailers().await.unwrap().unwrap();
    assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    // With a valid token the same partial call is not refused: the server waits for the rest.
    let waited = grpc_partial_call(
        addr,
        "/cache_client.Scs/Set",
        Some(&s.token),
        4 << 20,
        Duration::from_millis(300),
    )
    .await;
    assert!(waited.is_err(), "{waited:?}");
}

// ---- finding 3 and 5: HTTP ---------------------------------------------------------------

/// Send `head` (a request head, CRLFCRLF included) and some body bytes on a fresh connection,
/// then read what comes back within `wait` (the connection stays open, the body unfinished).
async fn http_partial(
    addr: std::net::SocketAddr,
    head: &str,
    body: &[u8],
    wait: Duration,
) -> String {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, c.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn http_unauthenticated_request_gets_401_before_its_body_is_read() {
    let s = token_server(test_config()).await;
    let http = s.srv.running.http_addr;
    // A 5 MB PUT without a token, of which only 1 KiB is sent: 401 at once. The body used to be
    // read (and buffered) first, so this waited for bytes that never come.
    let got = http_partial(
        http,
        "PUT /cache/default?key=k&ttl_seconds=60 HTTP/1.1\r\nhost: x\r\ncontent-length: 5000000\r\n\r\n",
        &[b'x'; 1024],
        FIVE_S,
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 401"), "{got:?}");
    assert!(got.contains("\"unauthenticated\""), "{got}");
    // Publishing likewise.
    let got = http_partial(
        http,
        "POST /topics/default/t HTTP/1.1\r\nhost: x\r\ncontent-length: 4000\r\n\r\n",
        b"partial",
        FIVE_S,
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 401"), "{got:?}");
    // A declared length over http.max_body_bytes is refused before reading (authenticated).
    let got = http_partial(
        http,
        &format!(
            "PUT /cache/default?key=k&ttl_seconds=60 HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-length: 999999999\r\n\r\n",
            s.token
        ),
        b"x",
        FIVE_S,
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 413"), "{got:?}");
}

#[tokio::test]
async fn http_body_that_never_arrives_gets_408() {
    let mut cfg = test_config();
    cfg.http.body_read_timeout_ms = 200;
    let srv = TestServer::start_with(cfg).await;
    let got = http_partial(
        srv.running.http_addr,
        "PUT /cache/default?key=k&ttl_seconds=60 HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n",
        b"only some",
        FIVE_S,
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got:?}");
    assert!(got.contains("\"request_timeout\""), "{got}");
}

#[tokio::test]
async fn sse_subscriber_over_the_cap_gets_429_not_the_backlog() {
    let mut cfg = test_config();
    // The connection cap as low as the subscription cap (the defaults were both 10,000).
    cfg.http.max_subscriptions = 3;
    cfg.http.max_connections = 3;
    let srv = TestServer::start_with(cfg).await;
    let http = srv.running.http_addr;
    let sse = "GET /topics/default/t HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = tokio::net::TcpStream::connect(http).await.unwrap();
        c.write_all(sse.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(FIVE_S, c.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        open.push(c);
    }
    let got = http_partial(http, sse, b"", FIVE_S).await;
    assert!(got.starts_with("HTTP/1.1 429"), "{got:?}");
    assert!(got.contains("\"limit_exceeded\""), "{got}");
}

// ---- finding 5: HTTP slowloris and idle keep-alive ---------------------------------------

/// How a connection that dribbles a request head ended.
#[derive(Debug, PartialEq)]
enum Dribble {
    /// The server closed it (EOF or reset) after `sent` bytes; `reply` is what it wrote first.
    Closed { sent: usize, reply: String },
    /// Still open when the client gave up.
    StillOpen { sent: usize },
}

/// Send a request head one byte every 50 ms, never finishing it (a header line that never
/// ends), until the server closes the connection or `give_up` passes.
async fn dribble(addr: std::net::SocketAddr, give_up: Duration) -> Dribble {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = b"GET /openapi.json HTTP/1.1\r\nhost: x\r\nx-slow: ";
    let deadline = tokio::time::Instant::now() + give_up;
    let mut sent = 0;
    let mut buf = vec![0u8; 1024];
    loop {
        let byte = head.get(sent).copied().unwrap_or(b'a');
        if c.write_all(&[byte]).await.is_err() {
            return Dribble::Closed {
                sent,
                reply: String::new(),
            };
        }
        sent += 1;
        let pause = tokio::time::sleep(Duration::from_millis(50));
        tokio::select! {
            r = c.read(&mut buf) => {
                let reply = match r {
                    Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
                    Err(_) => String::new(),
                };
                return Dribble::Closed { sent, reply };
            }
            _ = pause => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Dribble::StillOpen { sent };
        }
    }
}

/// One complete `GET path` with `connection: close`; the whole answer.
async fn http_get_close(addr: std::net::SocketAddr, path: &str) -> String {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn http_slowloris_heads_are_cut_off_and_other_clients_served() {
    let mut cfg = test_config();
    // Two connection slots (max_connections is at least max_subscriptions + 1).
    cfg.http.max_subscriptions = 1;
    cfg.http.max_connections = 2;
    cfg.http.header_read_timeout_ms = 300;
    let srv = TestServer::start_with(cfg).await;
    let http = srv.running.http_addr;
    let admin = srv.running.admin_addr.unwrap();
    // Six connections dribbling a head on the HTTP port (three times the slots), one on the
    // admin port. Before the header-read timeout they held the slots for as long as they kept
    // dribbling, and nobody else was ever accepted.
    let slow: Vec<_> = (0..6)
        .map(|_| tokio::spawn(dribble(http, Duration::from_secs(8))))
        .collect();
    let slow_admin = tokio::spawn(dribble(admin, Duration::from_secs(8)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A normal client behind them is served: each wave of slow heads is cut off 300 ms after
    // its accept, which frees its slot.
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        http_get_close(http, "/openapi.json"),
    )
    .await
    .expect("a normal client waited behind slow request heads");
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    for s in slow {
        match s.await.unwrap() {
            // Closed without an answer (hyper has none for a head that never finished), after
            // a few bytes of the request line: 300 ms is ~6 bytes at one per 50 ms.
            Dribble::Closed { sent, reply } => {
                assert!(
                    reply.is_empty() || reply.starts_with("HTTP/1.1 408"),
                    "{reply:?}"
                );
                assert!(sent < 40, "closed only after {sent} bytes");
            }
            other => panic!("a slow head was never cut off: {other:?}"),
        }
    }
    match slow_admin.await.unwrap() {
        Dribble::Closed { sent, .. } => assert!(sent < 40, "admin: {sent} bytes"),
        other => panic!("admin port: a slow head was never cut off: {other:?}"),
    }
    // The admin port still answers.
    let got = http_get_close(admin, "/healthz").await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
}

#[tokio::test]
async fn http_idle_keep_alive_connections_are_closed_at_the_idle_timeout() {
    let mut cfg = test_config();
    cfg.http.idle_timeout_ms = 300;
    // Longer than the test: what closes the connections here is the idle timeout.
    cfg.http.header_read_timeout_ms = 60_000;
    cfg.http.long_poll_max_wait_ms = 800;
    let srv = TestServer::start_with(cfg).await;
    let http = srv.running.http_addr;

    // HTTP/1.1: one request, answered, then nothing.
    let mut c = tokio::net::TcpStream::connect(http).await.unwrap();
    c.write_all(b"GET /no-such-route HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(FIVE_S, c.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 404"), "{:?}", &buf[..n]);
    let idle_from = tokio::time::Instant::now();
    let r = tokio::time::timeout(FIVE_S, c.read(&mut buf))
        .await
        .expect("an idle keep-alive connection was never closed");
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    let idle = idle_from.elapsed();
    assert!(idle >= Duration::from_millis(250), "closed after {idle:?}");

    // HTTP/2 (prior knowledge on the plain port): one request, then no open stream. The server
    // says GOAWAY and closes; the client's connection task ends.
    let tcp = tokio::net::TcpStream::connect(http).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    let conn = tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::get("http://localhost/no-such-route")
        .body(())
        .unwrap();
    let (resp, _) = client.send_request(req, true).unwrap();
    let resp = tokio::time::timeout(FIVE_S, resp).await.unwrap().unwrap();
    assert_eq!(resp.status(), 404);
    drop(resp);
    let idle_from = tokio::time::Instant::now();
    tokio::time::timeout(FIVE_S, conn)
        .await
        .expect("an idle HTTP/2 connection was never closed")
        .unwrap()
        .ok();
    let idle = idle_from.elapsed();
    assert!(idle >= Duration::from_millis(250), "closed after {idle:?}");
    // `client` is still held: the connection ended because the server closed it.
    drop(client);

    // A connection that was served and is in use is not cut: a long poll (no message comes)
    // outlives the idle timeout and answers with no items.
    let got = tokio::time::timeout(FIVE_S, http_get_close(http, "/topics/default/quiet"))
        .await
        .unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
}

// ---- finding 7: gRPC connections that never start a call ---------------------------------

/// The HTTP/2 client preface and an empty SETTINGS frame: a handshake, then nothing.
const H2_PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

#[tokio::test]
async fn grpc_shutdown_does_not_wait_for_connections_that_never_started_a_call() {
    let mut cfg = test_config();
    let grace = Duration::from_secs(10);
    cfg.server.shutdown_grace_ms = grace.as_millis() as u64;
    let srv = TestServer::start_with(cfg).await;
    let grpc = srv.grpc_addr();
    // One connection that sends nothing, one that sends only part of the preface, one that
    // finishes the HTTP/2 handshake but never reads (so never acknowledges the server's GOAWAY
    // ping) and never starts a call. The server used to wait out the whole grace for them.
    let silent = tokio::net::TcpStream::connect(grpc).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(grpc).await.unwrap();
    partial
        .write_all(&H2_PREFACE_AND_SETTINGS[..10])
        .await
        .unwrap();
    let mut handshaken = tokio::net::TcpStream::connect(grpc).await.unwrap();
    handshaken.write_all(H2_PREFACE_AND_SETTINGS).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = tokio::time::Instant::now();
    srv.running.shutdown();
    tokio::time::timeout(grace / 2, srv.running.wait())
        .await
        .unwrap_or_else(|_| panic!("shutdown waited for idle gRPC connections ({grace:?} grace)"));
    let took = started.elapsed();
    assert!(took < grace / 2, "shutdown took {took:?}");
    drop((silent, partial, handshaken));
}

#[tokio::test]
async fn grpc_connection_without_a_handshake_is_closed_at_the_handshake_timeout() {
    let mut cfg = test_config();
    cfg.grpc.handshake_timeout_ms = 300;
    let srv = TestServer::start_with(cfg).await;
    let grpc = srv.grpc_addr();
    let mut silent = RawConn::connect(grpc).await;
    let mut partial = RawConn::connect(grpc).await;
    partial.send(&H2_PREFACE_AND_SETTINGS[..20]).await;
    let t0 = tokio::time::Instant::now();
    assert!(
        silent.is_closed().await,
        "a silent gRPC connection stayed open"
    );
    assert!(partial.is_closed().await, "a half preface stayed open");
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    // A real client is not affected: it sends the preface at once; its calls then take as long
    // as they like (here: one call after waiting past the handshake timeout).
    let tcp = tokio::net::TcpStream::connect(grpc).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post("http://localhost/cache_client.Ping/Ping")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut body) = client.send_request(req, false).unwrap();
    body.send_data(vec![0u8, 0, 0, 0, 0].into(), true).unwrap();
    let resp = tokio::time::timeout(FIVE_S, resp).await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
}
