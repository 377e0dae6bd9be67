//! Test helpers: start a real Ferrite server on port 0 in-process and talk to it with real
//! clients (the `redis` crate and raw RESP bytes).
#![allow(dead_code)]

pub mod http;
pub mod pki;
pub mod redis_ref;
pub mod reply;
pub mod tokens;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use ferrite::server::Running;
use ferrite_config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Configuration for tests: every port 0, small defaults.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.server.bind = "127.0.0.1".into();
    c.server.resp_port = 0;
    c.server.grpc_port = 0;
    c.server.http_port = 0;
    c.server.admin_port = 0;
    // Off as by default; when a test turns it on, a free port.
    c.server.protosocket_port = 0;
    c.server.shutdown_grace_ms = 1000;
    c.memory.maxmemory = 256 * 1024 * 1024;
    c.memory.shards = 8;
    c
}

pub struct TestServer {
    pub running: Running,
    pub addr: SocketAddr,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }
    pub async fn start_with(cfg: Config) -> Self {
        let running = Running::start(cfg).await.expect("server starts");
        let addr = running.resp_addr;
        Self { running, addr }
    }
    /// The Momento-compatible gRPC listener.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.running.grpc_addr
    }
    /// `http://127.0.0.1:PORT`, what the Momento SDKs' endpoint override wants.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.running.grpc_addr)
    }
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }
    /// A multiplexed `redis` crate connection (RESP2).
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
    pub async fn raw(&self) -> RawConn {
        RawConn::connect(self.addr).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.running.shutdown();
    }
}

/// A raw TCP connection for byte-level tests.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }
    /// Send a command as a RESP array of bulk strings.
    pub async fn cmd(&mut self, parts: &[&str]) {
        let mut out = format!("*{}\r\n", parts.len()).into_bytes();
        for p in parts {
            out.extend_from_slice(format!("${}\r\n{}\r\n", p.len(), p).as_bytes());
        }
        self.send(&out).await;
    }
    /// Read until exactly `expected.len()` bytes arrived (or 5 s pass) and compare.
    pub async fn expect(&mut self, expected: &[u8]) {
        let got = self.read_n(expected.len()).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }
    pub async fn read_n(&mut self, n: usize) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.buf.len() < n {
            // On the heap: a 64 KiB array held across an await bloats every future that calls
            // this and overflows test threads' stacks in debug builds.
            let mut tmp = vec![0u8; 65536];
            let r = tokio::time::timeout_at(deadline, self.stream.read(&mut tmp)).await;
            match r {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(k)) => self.buf.extend_from_slice(&tmp[..k]),
                Ok(Err(_)) => break,
            }
        }
        let take = n.min(self.buf.len());
        self.buf.drain(..take).collect()
    }
    /// Send a command and compare the full reply bytes.
    pub async fn roundtrip(&mut self, parts: &[&str], expected: &[u8]) {
        self.cmd(parts).await;
        self.expect(expected).await;
    }
    /// True when the server closed the connection (reads EOF within 5 s).
    pub async fn is_closed(&mut self) -> bool {
        let mut tmp = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut tmp)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// Run a command through the `redis` crate and return the typed result.
pub async fn q<T: redis::FromRedisValue>(
    c: &mut redis::aio::MultiplexedConnection,
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c).await
}

/// One reply line (CRLF stripped), read byte by byte; None if the connection ends (or nothing
/// arrives within `read_n`'s wait) first.
pub async fn try_read_line(c: &mut RawConn) -> Option<String> {
    let mut out = Vec::new();
    while !out.ends_with(b"\r\n") {
        let b = Box::pin(c.read_n(1)).await;
        if b.is_empty() {
            return None;
        }
        out.extend(b);
    }
    out.truncate(out.len() - 2);
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// One reply line (CRLF stripped), read byte by byte; panics if the connection ends first.
pub async fn read_raw_line(c: &mut RawConn) -> String {
    let mut line = Vec::new();
    loop {
        let b = Box::pin(c.read_n(1)).await;
        assert!(
            !b.is_empty(),
            "connection closed or timed out after {:?}",
            String::from_utf8_lossy(&line)
        );
        line.push(b[0]);
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            return String::from_utf8_lossy(&line).into_owned();
        }
    }
}

/// One complete RESP2/RESP3 reply, as its raw text (CRLFs included).
pub async fn read_raw_reply(c: &mut RawConn) -> String {
    let line = read_raw_line(c).await;
    let mut out = format!("{line}\r\n");
    let (kind, rest) = line.split_at(1);
    match kind {
        "$" | "=" | "!" => {
            let n: i64 = rest.parse().unwrap();
            if n >= 0 {
                out.push_str(&String::from_utf8_lossy(
                    &Box::pin(c.read_n(n as usize + 2)).await,
                ));
            }
        }
        "*" | "~" | ">" | "%" | "|" => {
            let n: i64 = rest.parse().unwrap();
            let n = if kind == "%" || kind == "|" { n * 2 } else { n };
            for _ in 0..n.max(0) {
                out.push_str(&Box::pin(read_raw_reply(c)).await);
            }
        }
        _ => {}
    }
    out
}

/// The `field:value` lines of an INFO reply.
pub fn info_fields(text: &str) -> HashMap<String, String> {
    text.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `INFO section`, as fields.
pub async fn info(
    c: &mut redis::aio::MultiplexedConnection,
    section: &str,
) -> HashMap<String, String> {
    let text: String = q(c, &["INFO", section]).await.unwrap();
    info_fields(&text)
}
