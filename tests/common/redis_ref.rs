//! Differential testing against the real redis-server: start one (Debian's 7.0, what
//! docs/compatibility.md compares with) beside a Ferrite test server, send both the same
//! commands over raw RESP, and require the same reply bytes.
//!
//! `redis-server` must be installed (`apt-get install redis-server`; `.ci/run` installs it): a
//! differential test without its reference would pass without checking anything, so a missing
//! binary fails the test instead of skipping it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{read_raw_reply, RawConn, TestServer};

/// A redis-server process on a free loopback port, without persistence; killed on drop.
pub struct RedisRef {
    child: Child,
    pub addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl RedisRef {
    pub async fn start() -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir =
            std::env::temp_dir().join(format!("ferrite-redis-ref-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            // DEBUG (refused by default since 7.0) for the DEBUG and error-statistics tests.
            .args(["--enable-debug-command", "yes"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server is needed for the differential tests: apt-get install redis-server",
            );
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { child, addr, dir }
    }
}

impl Drop for RedisRef {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One connection to each server, driven in lockstep.
pub struct Diff {
    pub ferrite: RawConn,
    pub redis: RawConn,
    /// Kept alive for the connections.
    _servers: (TestServer, RedisRef),
}

impl Diff {
    /// Both servers, fresh and empty; `resp3` switches both connections with `HELLO 3`.
    pub async fn start(resp3: bool) -> Self {
        let ferrite_srv = TestServer::start().await;
        let redis_srv = RedisRef::start().await;
        let mut d = Diff {
            ferrite: ferrite_srv.raw().await,
            redis: RawConn::connect(redis_srv.addr).await,
            _servers: (ferrite_srv, redis_srv),
        };
        if resp3 {
            // HELLO's map names the server and its version: not compared.
            d.both(&["HELLO", "3"]).await;
        }
        d
    }

    /// (Ferrite's RESP address, redis-server's).
    pub fn addrs(&self) -> (SocketAddr, SocketAddr) {
        (self._servers.0.addr, self._servers.1.addr)
    }

    /// Another connection to each server, for sessions with several clients.
    pub async fn another(&self) -> Diff2 {
        Diff2 {
            ferrite: self._servers.0.raw().await,
            redis: RawConn::connect(self._servers.1.addr).await,
        }
    }

    /// Send `parts` to both; their raw replies (Ferrite's first).
    pub async fn both(&mut self, parts: &[&str]) -> (String, String) {
        both(&mut self.ferrite, &mut self.redis, parts).await
    }

    /// Both must answer `parts` with the same bytes; returns the reply.
    pub async fn same(&mut self, parts: &[&str]) -> String {
        same(&mut self.ferrite, &mut self.redis, parts).await
    }

    /// Every command of a script must get the same bytes from both.
    pub async fn script(&mut self, cmds: &[&[&str]]) {
        for c in cmds {
            Box::pin(self.same(c)).await;
        }
    }

    /// Both answer with an error (`-...`): the texts must match up to the first space-separated
    /// word set Redis uses (`ERR`, `WRONGTYPE`, ...) and, when `exact`, entirely.
    pub async fn same_error(&mut self, parts: &[&str], exact: bool) {
        let (f, r) = self.both(parts).await;
        assert!(
            f.starts_with('-') && r.starts_with('-'),
            "{parts:?}: {f:?} vs {r:?}"
        );
        if exact {
            assert_eq!(f, r, "{parts:?}");
        } else {
            assert_eq!(
                f.split_whitespace().next(),
                r.split_whitespace().next(),
                "{parts:?}: {f:?} vs {r:?}"
            );
        }
    }
}

impl Diff {
    /// A command of binary-safe arguments to both, raw replies compared; returns the reply.
    pub async fn same_bin(&mut self, parts: &[&[u8]]) -> String {
        let bytes = encode(parts);
        self.ferrite.send(&bytes).await;
        self.redis.send(&bytes).await;
        let f = read_raw_reply(&mut self.ferrite).await;
        let r = read_raw_reply(&mut self.redis).await;
        assert_eq!(f, r, "{:?}", String::from_utf8_lossy(&bytes));
        f
    }
}

/// A command of binary-safe arguments, as RESP.
pub fn encode(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Send a binary-safe command; the exact bytes of its bulk reply (None for a null or a
/// non-bulk reply).
pub async fn bulk(c: &mut RawConn, parts: &[&[u8]]) -> Option<Vec<u8>> {
    c.send(&encode(parts)).await;
    let line = crate::common::read_raw_line(c).await;
    let n: i64 = line.strip_prefix('$')?.parse().ok()?;
    if n < 0 {
        return None;
    }
    let mut b = c.read_n(n as usize + 2).await;
    b.truncate(n as usize);
    Some(b)
}

/// A further connection to each of a [`Diff`]'s servers (no servers of its own).
pub struct Diff2 {
    pub ferrite: RawConn,
    pub redis: RawConn,
}

impl Diff2 {
    pub async fn both(&mut self, parts: &[&str]) -> (String, String) {
        both(&mut self.ferrite, &mut self.redis, parts).await
    }

    pub async fn same(&mut self, parts: &[&str]) -> String {
        same(&mut self.ferrite, &mut self.redis, parts).await
    }

    /// Send without reading (a blocking command whose reply comes later).
    pub async fn send(&mut self, parts: &[&str]) {
        self.ferrite.cmd(parts).await;
        self.redis.cmd(parts).await;
    }

    /// The next reply on each connection, which must match.
    pub async fn next_same(&mut self, what: &str) -> String {
        let f = Box::pin(read_raw_reply(&mut self.ferrite)).await;
        let r = Box::pin(read_raw_reply(&mut self.redis)).await;
        assert_eq!(
            f, r,
            "{what}: ferrite (left) and redis-server (right) differ"
        );
        f
    }
}

/// Send `parts` on both connections; their raw replies (Ferrite's first).
async fn both(ferrite: &mut RawConn, redis: &mut RawConn, parts: &[&str]) -> (String, String) {
    ferrite.cmd(parts).await;
    redis.cmd(parts).await;
    let f = Box::pin(read_raw_reply(ferrite)).await;
    let r = Box::pin(read_raw_reply(redis)).await;
    (f, r)
}

/// Both must answer `parts` with the same bytes; returns the reply.
async fn same(ferrite: &mut RawConn, redis: &mut RawConn, parts: &[&str]) -> String {
    let (f, r) = both(ferrite, redis, parts).await;
    assert_eq!(
        f, r,
        "{parts:?}: ferrite (left) and redis-server (right) differ"
    );
    f
}
