//! Structure-aware: random sequences of real commands, drawn from the server's own command table,
//! sent over a real socket to an in-process server by a client whose token is scoped to one key
//! prefix of one cache, under a small memory budget and reply limit.
//!
//! Checks, after every command and every sequence:
//! - no panic anywhere in the server (libFuzzer's panic hook aborts the process, server tasks
//!   included) and no allocation past libFuzzer's malloc limit;
//! - every reply arrives within `REPLY_WAIT` (a stalled server or a command that works for
//!   seconds under a shard lock is a finding) and is no larger than the reply limit;
//! - no reply carries data the token may not read (the foreign values all contain `SECRET`, and
//!   no argument the fuzzer sends does);
//! - the foreign keys (other prefixes, and the same names in another cache) are exactly as they
//!   were, read back through a super-user connection;
//! - `used_memory` stays within the budget plus a slack.
//!
//! Blocking and subscribing commands are left out: they change what a reply is (pushes, waits),
//! which this target's lock-step reader does not model; tests/bad_input covers them.
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ferrite::resp::dispatch::{flags, table};
use ferrite::server::Running;
use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector, TopicGrant, TopicRole};
use ferrite_config::{AuthMode, Config};
use libfuzzer_sys::fuzz_target;

const MAXMEMORY: u64 = 16 * 1024 * 1024;
const REPLY_LIMIT: u64 = 1024 * 1024;
/// How far over the budget `used_memory` may be seen between eviction passes.
const MEMORY_SLACK: u64 = 4 * 1024 * 1024;
const REPLY_WAIT: Duration = Duration::from_secs(5);
const MARKER: &[u8] = b"SECRET";

/// Data the scoped token must neither read nor change: other prefixes of its cache, and the
/// in-scope names in another cache. (cache, command that creates it, command that reads it all).
const FOREIGN: &[(&str, &[&str], &[&str])] = &[
    ("app", &["SET", "out:s", "SECRET-s"], &["GET", "out:s"]),
    (
        "app",
        &["HSET", "out:h", "f", "SECRET-h"],
        &["HGETALL", "out:h"],
    ),
    (
        "app",
        &["RPUSH", "out:l", "SECRET-l1", "SECRET-l2"],
        &["LRANGE", "out:l", "0", "-1"],
    ),
    (
        "app",
        &["SADD", "out:set", "SECRET-m1", "SECRET-m2"],
        &["SMEMBERS", "out:set"],
    ),
    (
        "app",
        &["ZADD", "out:z", "1", "SECRET-z1", "2", "SECRET-z2"],
        &["ZRANGE", "out:z", "0", "-1", "WITHSCORES"],
    ),
    (
        "default",
        &["SET", "in:a", "SECRET-default"],
        &["GET", "in:a"],
    ),
    (
        "default",
        &["RPUSH", "in:l", "SECRET-dl"],
        &["LRANGE", "in:l", "0", "-1"],
    ),
];

struct World {
    addr: SocketAddr,
    scoped_token: String,
    admin_token: String,
    admin: Mutex<Conn>,
    commands: Vec<&'static str>,
    maxmemory: u64,
    _runtime: tokio::runtime::Runtime,
    _running: Running,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ferrite-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg = Config::default();
        cfg.server.bind = "127.0.0.1".into();
        cfg.server.resp_port = 0;
        cfg.server.grpc_port = 0;
        cfg.server.http_port = 0;
        cfg.server.admin_port = 0;
        cfg.server.shutdown_grace_ms = 100;
        cfg.memory.maxmemory = MAXMEMORY;
        cfg.memory.shards = 4;
        cfg.limits.reply_buffer_limit = REPLY_LIMIT;
        cfg.limits.query_buffer_limit = 4 * 1024 * 1024;
        cfg.auth.mode = AuthMode::Token;
        cfg.auth.token_key_file = dir.join("token.key").display().to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = runtime
            .block_on(Running::start(cfg))
            .expect("server starts");
        let shared = running.shared.clone();
        shared.store.create_cache("app").unwrap();
        let auth = shared.auth.authenticator().expect("token mode").clone();
        let now = ferrite_auth::now_secs();
        let su = auth
            .issue(
                Permissions::SuperUser,
                86_400,
                Some("fuzz-admin".into()),
                now,
            )
            .unwrap()
            .0;
        let scoped = Permissions::Explicit {
            caches: vec![CacheGrant {
                role: CacheRole::ReadWrite,
                cache: Some("app".into()),
                items: Selector::Prefix("in:".into()),
            }],
            topics: vec![TopicGrant {
                role: TopicRole::PublishSubscribe,
                cache: Some("app".into()),
                topics: Selector::Prefix("in:".into()),
            }],
        };
        let scoped_token = auth
            .issue(scoped, 86_400, Some("fuzz-scoped".into()), now)
            .unwrap()
            .0;
        let addr = running.resp_addr;
        let mut admin = Conn::connect(addr);
        admin.must(&["AUTH", &su]);
        let mut commands: Vec<&'static str> = table()
            .values()
            .filter(|s| {
                !s.has(flags::BLOCKING)
                    && !matches!(
                        s.name,
                        "subscribe"
                            | "psubscribe"
                            | "ssubscribe"
                            | "tsubscribe"
                            | "monitor"
                            | "quit"
                            | "reset"
                            | "shutdown"
                            | "hello"
                            | "auth"
                    )
            })
            .map(|s| s.name)
            .collect();
        commands.sort_unstable();
        World {
            addr,
            scoped_token,
            admin_token: su,
            admin: Mutex::new(admin),
            commands,
            maxmemory: MAXMEMORY,
            _runtime: runtime,
            _running: running,
        }
    })
}

/// A RESP value, as far as these checks need it.
#[derive(Debug, PartialEq, Clone)]
enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(REPLY_WAIT)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    fn send(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
    }

    /// One reply, and its size on the wire; None when the server closed the connection.
    fn read(&mut self) -> Option<(Reply, u64)> {
        let mut size = 0u64;
        let r = self.value(&mut size)?;
        Some((r, size))
    }

    fn line(&mut self, size: &mut u64) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        match self.r.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("no reply within {REPLY_WAIT:?}: the server stalled")
            }
            Err(_) => return None,
        }
        *size += line.len() as u64;
        assert!(
            line.ends_with(b"\r\n"),
            "a reply line without CRLF: {line:?}"
        );
        line.truncate(line.len() - 2);
        Some(line)
    }

    fn value(&mut self, size: &mut u64) -> Option<Reply> {
        let line = self.line(size)?;
        let (kind, rest) = line.split_first().expect("an empty reply line");
        let num = || -> i64 { std::str::from_utf8(rest).unwrap().parse().unwrap() };
        Some(match kind {
            b'+' => Reply::Simple(rest.to_vec()),
            b'-' => Reply::Error(rest.to_vec()),
            b':' => Reply::Int(num()),
            b'$' => {
                let n = num();
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    assert!(n as u64 <= REPLY_LIMIT, "a {n}-byte bulk reply");
                    let mut b = vec![0; n as usize + 2];
                    if let Err(e) = self.r.read_exact(&mut b) {
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut
                        {
                            panic!("a bulk reply stalled");
                        }
                        return None;
                    }
                    *size += b.len() as u64;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            b'*' => {
                let n = num();
                if n < 0 {
                    Reply::Array(None)
                } else {
                    assert!(n as u64 <= REPLY_LIMIT, "a {n}-element array reply");
                    let mut v = Vec::with_capacity(n.min(1024) as usize);
                    for _ in 0..n {
                        v.push(self.value(size)?);
                        assert!(
                            *size <= REPLY_LIMIT + 64 * 1024,
                            "a reply past the reply limit"
                        );
                    }
                    Reply::Array(Some(v))
                }
            }
            other => panic!("unexpected RESP2 reply type {:?}", *other as char),
        })
    }

    fn call(&mut self, args: &[&str]) -> Reply {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&a);
        self.read().expect("the admin connection stays open").0
    }

    fn must(&mut self, args: &[&str]) -> Reply {
        let r = self.call(args);
        assert!(!matches!(r, Reply::Error(_)), "{args:?} -> {r:?}");
        r
    }
}

fn contains_marker(r: &Reply) -> bool {
    let has = |b: &[u8]| b.windows(MARKER.len()).any(|w| w == MARKER);
    match r {
        Reply::Simple(b) | Reply::Error(b) | Reply::Bulk(Some(b)) => has(b),
        Reply::Array(Some(v)) => v.iter().any(contains_marker),
        _ => false,
    }
}

/// The argument `$N` stands for a value of size class N (so big values need no big inputs).
fn value(class: u8) -> Vec<u8> {
    match class % 6 {
        0 => b"v".to_vec(),
        1 => b"".to_vec(),
        2 => vec![b'x'; 100],
        3 => vec![b'y'; 5000],
        4 => vec![b'z'; 70_000],
        _ => vec![b'w'; 300_000],
    }
}

/// The fuzzer must not be able to write the marker itself, or a key it owns could look foreign.
fn strip_marker(b: &mut [u8]) {
    let n = MARKER.len();
    for i in 0..b.len().saturating_sub(n - 1) {
        if b[i..i + n].eq_ignore_ascii_case(MARKER) {
            b[i] = b'_';
        }
    }
}

/// The input is text: one command per line, arguments split on spaces (the seeds in
/// fuzz/seeds/server_commands are readable replays of the findings, and fuzz/server_commands.dict
/// gives libFuzzer the command names and options).
fn commands(input: &[u8], w: &World) -> Vec<Vec<Vec<u8>>> {
    input
        .split(|&b| b == b'\n')
        .take(32)
        .filter_map(|line| {
            let args: Vec<Vec<u8>> = line
                .split(|&b| b == b' ')
                .filter(|a| !a.is_empty())
                .take(16)
                .map(|a| match a {
                    [b'$', d] if d.is_ascii_digit() => value(d - b'0'),
                    _ => {
                        let mut a = a.to_vec();
                        strip_marker(&mut a);
                        a
                    }
                })
                .collect();
            let name = std::str::from_utf8(args.first()?)
                .ok()?
                .to_ascii_lowercase();
            // Unknown names are sent (they must get an error); left-out ones are skipped.
            let known = ferrite::resp::dispatch::lookup(name.as_bytes());
            if known.is_some() && !w.commands.contains(&known.unwrap().name) {
                return None;
            }
            // CLIENT REPLY OFF/SKIP silence the replies this target reads in lock step.
            if name == "client"
                && args
                    .get(1)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"reply"))
            {
                return None;
            }
            Some(args)
        })
        .collect()
}

fn snapshot(admin: &mut Conn) -> Vec<(String, Reply)> {
    let mut out = Vec::new();
    for (cache, _, read) in FOREIGN {
        admin.must(&["AUTH", cache, &world_token()]);
        out.push((cache.to_string(), admin.must(read)));
        out.push((cache.to_string(), admin.must(&["PTTL", read[1]])));
    }
    out
}

fn world_token() -> String {
    world().admin_token.clone()
}

fn used_memory(admin: &mut Conn) -> u64 {
    let Reply::Bulk(Some(info)) = admin.must(&["INFO", "memory"]) else {
        panic!("INFO is a bulk string")
    };
    let text = String::from_utf8(info).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .expect("INFO memory has used_memory")
        .trim()
        .parse()
        .unwrap()
}

fuzz_target!(|input: &[u8]| {
    let w = world();
    let commands = commands(input, w);
    let mut admin = w.admin.lock().unwrap();
    // A clean world for every input: the foreign data as it should be, nothing else.
    admin.must(&["FLUSHALL"]);
    for (cache, create, _) in FOREIGN {
        admin.must(&["AUTH", cache, &world_token()]);
        admin.must(create);
    }
    let before = snapshot(&mut admin);

    let mut c = Conn::connect(w.addr);
    let auth = c.call(&["AUTH", "app", &w.scoped_token]);
    assert_eq!(auth, Reply::Simple(b"OK".to_vec()));
    for args in &commands {
        let name = String::from_utf8_lossy(&args[0]);
        let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        c.send(&refs);
        let Some((reply, size)) = c.read() else {
            // The server may close a connection (a protocol error, QUIT-like commands); it must
            // not have done so because it died: the admin connection still answers.
            assert_eq!(admin.call(&["PING"]), Reply::Simple(b"PONG".to_vec()));
            break;
        };
        assert!(
            size <= REPLY_LIMIT + 64 * 1024,
            "{name}: a {size}-byte reply"
        );
        assert!(
            !contains_marker(&reply),
            "{name} {:?} returned foreign data: {reply:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
    drop(c);

    let after = snapshot(&mut admin);
    assert_eq!(before, after, "the scoped token changed foreign keys");
    let used = used_memory(&mut admin);
    assert!(
        used <= w.maxmemory + MEMORY_SLACK,
        "used_memory {used} is past maxmemory {} + slack",
        w.maxmemory
    );
});
