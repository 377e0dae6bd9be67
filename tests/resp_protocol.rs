//! The RESP connection loop: protocol versions, pipelining, inline commands, errors,
//! transactions, malformed input, limits (bulk length, query buffer, clients, reply buffer,
//! idle timeout) and eviction under a small maxmemory.

mod common;
use common::*;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

// The raw helpers hold 64 KiB buffers across awaits; boxing them keeps each test's (debug
// build) stack frame small: unboxed, a long test overflows the 2 MiB test-thread stack.
async fn rt(c: &mut RawConn, parts: &[&str], expected: &[u8]) {
    Box::pin(c.roundtrip(parts, expected)).await
}

async fn exp(c: &mut RawConn, expected: &[u8]) {
    Box::pin(c.expect(expected)).await
}

fn encode(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n{}\r\n", p.len(), p).as_bytes());
    }
    out
}

fn int_field(f: &HashMap<String, String>, name: &str) -> u64 {
    f.get(name)
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .parse()
        .unwrap()
}

/// Number of keys from `INFO keyspace` (0 when the section is empty).
async fn key_count(c: &mut redis::aio::MultiplexedConnection) -> u64 {
    let f = info(c, "keyspace").await;
    match f.get("db0") {
        None => 0,
        Some(v) => v
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("keys=")
            .parse()
            .unwrap(),
    }
}

#[tokio::test]
async fn resp2_and_resp3() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(&mut r, &["SET", "k", "v"], b"+OK\r\n").await;
    rt(&mut r, &["GET", "nothing"], b"$-1\r\n").await;
    r.cmd(&["HELLO"]).await;
    let hello = read_raw_reply(&mut r).await;
    assert!(hello.starts_with("*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n$5\r\nproto\r\n:2\r\n"), "{hello}");

    r.cmd(&["HELLO", "3"]).await;
    let hello = read_raw_reply(&mut r).await;
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello}");
    assert!(hello.ends_with(
        "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    ));
    rt(&mut r, &["GET", "nothing"], b"_\r\n").await;
    rt(&mut r, &["GET", "k"], b"$1\r\nv\r\n").await;

    rt(
        &mut r,
        &["HELLO", "4"],
        b"-NOPROTO unsupported protocol version\r\n",
    )
    .await;
    rt(
        &mut r,
        &["HELLO", "x"],
        b"-ERR Protocol version is not an integer or out of range\r\n",
    )
    .await;
    // A failed HELLO leaves the protocol as it was.
    rt(&mut r, &["GET", "nothing"], b"_\r\n").await;
    r.cmd(&["HELLO", "2"]).await;
    assert!(read_raw_reply(&mut r).await.starts_with("*14\r\n"));
    rt(&mut r, &["GET", "nothing"], b"$-1\r\n").await;
}

#[tokio::test]
async fn pipelining_ten_thousand_commands() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    let one = encode(&["INCR", "counter"]);
    let mut all = Vec::with_capacity(one.len() * 10_000);
    let mut expected = Vec::new();
    for i in 1..=10_000 {
        all.extend_from_slice(&one);
        expected.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    r.send(&all).await;
    exp(&mut r, &expected).await;

    // Mixed commands, values echoed back in order.
    let mut all = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10_000 {
        let (k, v) = (format!("key:{i}"), format!("value-{i}"));
        all.extend_from_slice(&encode(&["SET", &k, &v]));
        all.extend_from_slice(&encode(&["GET", &k]));
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend_from_slice(format!("${}\r\n{}\r\n", v.len(), v).as_bytes());
    }
    r.send(&all).await;
    exp(&mut r, &expected).await;
}

#[tokio::test]
async fn inline_commands() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    r.send(b"PING\r\n").await;
    exp(&mut r, b"+PONG\r\n").await;
    r.send(b"SET a \"b c\"\r\n").await;
    exp(&mut r, b"+OK\r\n").await;
    r.send(b"GET a\r\n").await;
    exp(&mut r, b"$3\r\nb c\r\n").await;
    // Bare LF, several in one write, blank lines skipped.
    r.send(b"ECHO 'x y'\n\r\nPING hi\r\n").await;
    exp(&mut r, b"$3\r\nx y\r\n$2\r\nhi\r\n").await;
    r.send(b"GET\r\n").await;
    exp(
        &mut r,
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    r.send(b"SET a \"unbalanced\r\n").await;
    exp(
        &mut r,
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    )
    .await;
    assert!(r.is_closed().await);
}

#[tokio::test]
async fn unknown_command_and_arity_errors() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(
        &mut r,
        &["FOO", "a", "b"],
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    )
    .await;
    rt(
        &mut r,
        &["nosuch"],
        b"-ERR unknown command 'nosuch', with args beginning with: \r\n",
    )
    .await;
    rt(
        &mut r,
        &["GET"],
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["get", "a", "b"],
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["SET", "a"],
        b"-ERR wrong number of arguments for 'set' command\r\n",
    )
    .await;
    // The connection is still fine.
    rt(&mut r, &["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn multi_exec_discard() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    rt(&mut r, &["SET", "a", "1"], b"+QUEUED\r\n").await;
    rt(&mut r, &["INCR", "a"], b"+QUEUED\r\n").await;
    rt(&mut r, &["GET", "a"], b"+QUEUED\r\n").await;
    rt(&mut r, &["EXEC"], b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n").await;
    rt(&mut r, &["EXEC"], b"-ERR EXEC without MULTI\r\n").await;
    rt(&mut r, &["DISCARD"], b"-ERR DISCARD without MULTI\r\n").await;

    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    rt(
        &mut r,
        &["MULTI"],
        b"-ERR MULTI calls can not be nested\r\n",
    )
    .await;
    rt(&mut r, &["SET", "a", "100"], b"+QUEUED\r\n").await;
    rt(&mut r, &["DISCARD"], b"+OK\r\n").await;
    rt(&mut r, &["GET", "a"], b"$1\r\n2\r\n").await;

    // A runtime error inside EXEC does not abort the others.
    rt(&mut r, &["SET", "s", "notanumber"], b"+OK\r\n").await;
    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    rt(&mut r, &["INCR", "s"], b"+QUEUED\r\n").await;
    rt(&mut r, &["INCR", "a"], b"+QUEUED\r\n").await;
    rt(
        &mut r,
        &["EXEC"],
        b"*2\r\n-ERR value is not an integer or out of range\r\n:3\r\n",
    )
    .await;

    // A queueing error (arity, unknown command) aborts the whole transaction.
    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    rt(&mut r, &["SET", "a", "5"], b"+QUEUED\r\n").await;
    rt(
        &mut r,
        &["GET"],
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    rt(&mut r, &["GET", "a"], b"$1\r\n3\r\n").await;
    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    rt(
        &mut r,
        &["NOSUCH"],
        b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
    )
    .await;
    rt(
        &mut r,
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;

    // RESP3: an empty transaction, and EXEC's array.
    r.cmd(&["HELLO", "3"]).await;
    read_raw_reply(&mut r).await;
    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    rt(&mut r, &["EXEC"], b"*0\r\n").await;
}

#[tokio::test]
async fn watch_aborts_exec_when_key_changes() {
    let srv = TestServer::start().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    rt(&mut a, &["SET", "w", "1"], b"+OK\r\n").await;

    // Untouched: EXEC runs.
    rt(&mut a, &["WATCH", "w"], b"+OK\r\n").await;
    rt(&mut a, &["MULTI"], b"+OK\r\n").await;
    rt(&mut a, &["INCR", "w"], b"+QUEUED\r\n").await;
    rt(&mut a, &["EXEC"], b"*1\r\n:2\r\n").await;

    // Modified by another client between WATCH and EXEC: nil.
    rt(&mut a, &["WATCH", "w"], b"+OK\r\n").await;
    rt(&mut b, &["SET", "w", "100"], b"+OK\r\n").await;
    rt(&mut a, &["MULTI"], b"+OK\r\n").await;
    rt(&mut a, &["INCR", "w"], b"+QUEUED\r\n").await;
    rt(&mut a, &["EXEC"], b"*-1\r\n").await;
    rt(&mut a, &["GET", "w"], b"$3\r\n100\r\n").await;

    // EXEC (even an aborted one) unwatches everything.
    rt(&mut b, &["SET", "w", "7"], b"+OK\r\n").await;
    rt(&mut a, &["MULTI"], b"+OK\r\n").await;
    rt(&mut a, &["INCR", "w"], b"+QUEUED\r\n").await;
    rt(&mut a, &["EXEC"], b"*1\r\n:8\r\n").await;

    // UNWATCH forgets; a watched key that does not exist yet, then is created, aborts.
    rt(&mut a, &["WATCH", "w"], b"+OK\r\n").await;
    rt(&mut a, &["UNWATCH"], b"+OK\r\n").await;
    rt(&mut b, &["SET", "w", "0"], b"+OK\r\n").await;
    rt(&mut a, &["MULTI"], b"+OK\r\n").await;
    rt(&mut a, &["EXEC"], b"*0\r\n").await;
    rt(&mut a, &["WATCH", "fresh"], b"+OK\r\n").await;
    rt(&mut b, &["SET", "fresh", "x"], b"+OK\r\n").await;
    rt(&mut a, &["MULTI"], b"+OK\r\n").await;
    rt(&mut a, &["GET", "fresh"], b"+QUEUED\r\n").await;
    rt(&mut a, &["EXEC"], b"*-1\r\n").await;

    rt(&mut a, &["MULTI"], b"+OK\r\n").await;
    rt(
        &mut a,
        &["WATCH", "w"],
        b"-ERR WATCH inside MULTI is not allowed\r\n",
    )
    .await;
    rt(&mut a, &["DISCARD"], b"+OK\r\n").await;
}

#[tokio::test]
async fn malformed_frames_close_the_connection() {
    let srv = TestServer::start().await;
    let mut good = srv.raw().await;
    rt(&mut good, &["PING"], b"+PONG\r\n").await;

    let mut bad = srv.raw().await;
    bad.send(b"*abc\r\n").await;
    exp(
        &mut bad,
        b"-ERR Protocol error: invalid multibulk length\r\n",
    )
    .await;
    assert!(bad.is_closed().await);

    let mut bad = srv.raw().await;
    bad.send(b"*1\r\n$x\r\n").await;
    exp(&mut bad, b"-ERR Protocol error: invalid bulk length\r\n").await;
    assert!(bad.is_closed().await);

    let mut bad = srv.raw().await;
    bad.send(b"*1\r\n+PING\r\n").await;
    exp(&mut bad, b"-ERR Protocol error: expected '$', got '+'\r\n").await;
    assert!(bad.is_closed().await);

    // Commands before the bad frame in the same write are answered first.
    let mut bad = srv.raw().await;
    bad.send(b"*1\r\n$4\r\nPING\r\n*-x\r\n").await;
    exp(
        &mut bad,
        b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
    )
    .await;
    assert!(bad.is_closed().await);

    rt(&mut good, &["PING"], b"+PONG\r\n").await;
    let mut c = srv.client().await;
    let f = info(&mut c, "stats").await;
    assert_eq!(int_field(&f, "total_protocol_errors"), 4);
}

#[tokio::test]
async fn max_bulk_len_limit() {
    let mut cfg = test_config();
    cfg.limits.max_bulk_len = 1024;
    let srv = TestServer::start_with(cfg).await;
    let mut r = srv.raw().await;
    let ok = "x".repeat(1024);
    rt(&mut r, &["SET", "k", &ok], b"+OK\r\n").await;
    r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n").await;
    exp(&mut r, b"-ERR Protocol error: invalid bulk length\r\n").await;
    assert!(r.is_closed().await);
    let mut other = srv.raw().await;
    rt(&mut other, &["STRLEN", "k"], b":1024\r\n").await;
}

#[tokio::test]
async fn query_buffer_limit_closes_the_connection() {
    let mut cfg = test_config();
    cfg.limits.query_buffer_limit = 64 * 1024;
    let srv = TestServer::start_with(cfg).await;
    let mut r = srv.raw().await;
    // A complete command just under the limit is fine.
    let value = "v".repeat(60 * 1024);
    rt(&mut r, &["SET", "k", &value], b"+OK\r\n").await;
    // 200 KiB of a bulk that never completes.
    let _ = r
        .stream
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000\r\n")
        .await;
    let chunk = vec![b'x'; 8 * 1024];
    for _ in 0..25 {
        if r.stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    assert!(
        r.is_closed().await,
        "a client past the query buffer limit is disconnected"
    );
    let mut other = srv.raw().await;
    rt(
        &mut other,
        &["STRLEN", "k"],
        format!(":{}\r\n", 60 * 1024).as_bytes(),
    )
    .await;
}

#[tokio::test]
async fn max_clients_limit() {
    let mut cfg = test_config();
    cfg.limits.max_clients = 2;
    let srv = TestServer::start_with(cfg).await;
    let mut a = srv.raw().await;
    rt(&mut a, &["PING"], b"+PONG\r\n").await;
    let mut b = srv.raw().await;
    rt(&mut b, &["PING"], b"+PONG\r\n").await;
    let mut c = srv.raw().await;
    exp(&mut c, b"-ERR max number of clients reached\r\n").await;
    assert!(c.is_closed().await);
    // Once a client leaves, there is room again.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = srv.raw().await;
        d.cmd(&["PING"]).await;
        let reply = read_raw_line(&mut d).await;
        if reply == "+PONG" {
            break;
        }
        assert_eq!(reply, "-ERR max number of clients reached");
        assert!(
            Instant::now() < deadline,
            "the slot of a closed client is never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rt(&mut b, &["PING"], b"+PONG\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_buffer_limit_protects_the_server() {
    let mut cfg = test_config();
    cfg.limits.reply_buffer_limit = 1024 * 1024;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let big = "v".repeat(100_000);
    let _: () = q(&mut c, &["SET", "big", &big]).await.unwrap();
    let rss_before = int_field(&info(&mut c, "memory").await, "used_memory_rss");

    // 20,000 GETs of a 100 KB value = 2 GB of replies, and the client never reads.
    let mut greedy = TcpStream::connect(srv.addr).await.unwrap();
    let one = encode(&["GET", "big"]);
    let mut all = Vec::with_capacity(one.len() * 20_000);
    for _ in 0..20_000 {
        all.extend_from_slice(&one);
    }
    let writer = tokio::spawn(async move {
        let _ = greedy.write_all(&all).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(greedy);
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Others are still served, promptly.
    let mut other = srv.raw().await;
    for i in 0..50 {
        let v = i.to_string();
        rt(&mut other, &["SET", "small", &v], b"+OK\r\n").await;
        rt(
            &mut other,
            &["GET", "small"],
            format!("${}\r\n{}\r\n", v.len(), v).as_bytes(),
        )
        .await;
    }
    let t = Instant::now();
    let got: String = q(&mut c, &["GET", "big"]).await.unwrap();
    assert_eq!(got.len(), 100_000);
    assert!(t.elapsed() < Duration::from_secs(2));

    // The server did not buffer the 2 GB (allow for other tests running in this process).
    let rss_after = int_field(&info(&mut c, "memory").await, "used_memory_rss");
    assert!(
        rss_after < rss_before + 200 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
    writer.abort();
}

#[tokio::test]
async fn idle_clients_are_closed() {
    let mut cfg = test_config();
    cfg.limits.idle_timeout_secs = 1;
    let srv = TestServer::start_with(cfg).await;
    let mut idle = srv.raw().await;
    rt(&mut idle, &["PING"], b"+PONG\r\n").await;
    let mut busy = srv.raw().await;
    let t = Instant::now();
    let busy_task = tokio::spawn(async move {
        for _ in 0..8 {
            rt(&mut busy, &["PING"], b"+PONG\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        busy
    });
    assert!(idle.is_closed().await, "an idle client is closed");
    let elapsed = t.elapsed();
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
    // A client that keeps talking stays connected.
    let mut busy = busy_task.await.unwrap();
    rt(&mut busy, &["PING"], b"+PONG\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_keeps_memory_under_maxmemory() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 2 * 1024 * 1024;
    let srv = TestServer::start_with(cfg).await;
    let value = "x".repeat(1000);
    let (mut rd, mut wr) = TcpStream::connect(srv.addr).await.unwrap().into_split();
    let mut all = Vec::new();
    for i in 0..10_000 {
        all.extend_from_slice(&encode(&["SET", &format!("key:{i:05}"), &value]));
    }
    let w = tokio::spawn(async move {
        wr.write_all(&all).await.unwrap();
        wr
    });
    let mut rd = BufReader::new(&mut rd);
    let mut line = String::new();
    for i in 0..10_000 {
        line.clear();
        rd.read_line(&mut line).await.unwrap();
        assert_eq!(line, "+OK\r\n", "write {i}");
    }
    let _wr = w.await.unwrap();

    let mut c = srv.client().await;
    let keys = key_count(&mut c).await;
    assert!(keys > 0 && keys < 10_000, "{keys} keys");
    let mem = info(&mut c, "memory").await;
    let used = int_field(&mem, "used_memory");
    assert!(used <= 2 * 1024 * 1024 + 16 * 1024, "used_memory {used}");
    assert_eq!(int_field(&mem, "maxmemory"), 2 * 1024 * 1024);
    let stats = info(&mut c, "stats").await;
    assert!(int_field(&stats, "evicted_keys") > 0);
    assert_eq!(int_field(&stats, "evicted_keys") + keys, 10_000);
    // The most recent keys survive (LRU).
    let last: Option<String> = q(&mut c, &["GET", "key:09999"]).await.unwrap();
    assert_eq!(last.as_deref(), Some(value.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noeviction_rejects_writes_but_serves_reads() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 2 * 1024 * 1024;
    cfg.memory.eviction = ferrite_config::EvictionPolicy::Noeviction;
    let srv = TestServer::start_with(cfg).await;
    let value = "x".repeat(1000);
    let (mut rd, mut wr) = TcpStream::connect(srv.addr).await.unwrap().into_split();
    let mut all = Vec::new();
    for i in 0..10_000 {
        all.extend_from_slice(&encode(&["SET", &format!("key:{i:05}"), &value]));
    }
    let w = tokio::spawn(async move {
        wr.write_all(&all).await.unwrap();
        wr
    });
    let mut rd = BufReader::new(&mut rd);
    let mut line = String::new();
    let (mut ok, mut oom) = (0u64, 0u64);
    for _ in 0..10_000 {
        line.clear();
        rd.read_line(&mut line).await.unwrap();
        match line.as_str() {
            "+OK\r\n" => {
                assert_eq!(oom, 0, "once full, writes keep failing");
                ok += 1;
            }
            "-OOM command not allowed when used memory > 'maxmemory'.\r\n" => oom += 1,
            other => panic!("unexpected reply {other:?}"),
        }
    }
    let _wr = w.await.unwrap();
    assert!(ok > 100 && oom > 0, "{ok} OK, {oom} OOM");

    let mut c = srv.client().await;
    assert_eq!(key_count(&mut c).await, ok);
    // Reads still work, and so do commands that free memory.
    let first: Option<String> = q(&mut c, &["GET", "key:00000"]).await.unwrap();
    assert_eq!(first.as_deref(), Some(value.as_str()));
    let stats = info(&mut c, "stats").await;
    assert_eq!(int_field(&stats, "evicted_keys"), 0);
    let mut r = srv.raw().await;
    rt(
        &mut r,
        &["SET", "more", &value],
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    )
    .await;
    rt(&mut r, &["PING"], b"+PONG\r\n").await;
    rt(
        &mut r,
        &["GET", "key:00001"],
        format!("${}\r\n{}\r\n", value.len(), value).as_bytes(),
    )
    .await;
}

/// Regression: a reply larger than `reply_buffer_limit` used to disconnect a client that was
/// reading it. The limit is for clients that stop reading, not for big values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_reply_larger_than_the_reply_limit_is_delivered() {
    let mut cfg = test_config();
    cfg.limits.reply_buffer_limit = 1024 * 1024;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let big = "b".repeat(2 * 1024 * 1024);
    let _: () = q(&mut c, &["SET", "big", &big]).await.unwrap();
    let got: String = q(&mut c, &["GET", "big"]).await.unwrap();
    assert_eq!(got.len(), big.len());
}

/// Regression: `CLIENT KILL` of one's own connection got no reply before the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_of_self_replies_then_closes() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.cmd(&["CLIENT", "ID"]).await;
    let id = read_raw_line(&mut c).await;
    let id = id.trim_start_matches(':').trim().to_string();
    c.cmd(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]).await;
    exp(&mut c, b":1\r\n").await;
    assert!(Box::pin(c.is_closed()).await);
}

/// Auth mode `none`: AUTH accepts any token (even an empty one or one that is not UTF-8) and
/// only the cache choice applies.
#[tokio::test]
async fn auth_in_mode_none_accepts_any_token() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(&mut r, &["AUTH", "anything"], b"+OK\r\n").await;
    rt(&mut r, &["AUTH", ""], b"+OK\r\n").await;
    r.send(b"*2\r\n$4\r\nAUTH\r\n$2\r\n\xff\xfe\r\n").await;
    exp(&mut r, b"+OK\r\n").await;
    rt(&mut r, &["AUTH", "default", "anything"], b"+OK\r\n").await;
    rt(&mut r, &["SET", "k", "v"], b"+OK\r\n").await;
    rt(&mut r, &["GET", "k"], b"$1\r\nv\r\n").await;
}
