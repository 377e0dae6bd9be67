//! Generic keyspace commands over the real server: DEL/UNLINK/EXISTS/TOUCH, TYPE, KEYS, SCAN,
//! RENAME/RENAMENX/COPY, RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL, OBJECT, MEMORY.

mod common;
use common::*;

use std::collections::HashSet;

use redis::Value as V;

type Conn = redis::aio::MultiplexedConnection;

async fn ok(c: &mut Conn, args: &[&str]) {
    let r: String = q(c, args).await.unwrap();
    assert_eq!(r, "OK", "{args:?}");
}

async fn int(c: &mut Conn, args: &[&str]) -> i64 {
    q(c, args).await.unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The error text (code + message) of a failing command.
async fn err(c: &mut Conn, args: &[&str]) -> String {
    let e = q::<V>(c, args).await.expect_err("command should fail");
    let code = e.code().unwrap_or("").to_string();
    let detail = e.detail().unwrap_or("").to_string();
    format!("{code} {detail}")
}

async fn hello3(c: &mut RawConn) {
    c.cmd(&["HELLO", "3"]).await;
    assert_eq!(c.read_n(1).await, b"%");
    let mut rest = Vec::new();
    while !rest.ends_with(b"*0\r\n") {
        let b = c.read_n(1).await;
        assert!(!b.is_empty(), "HELLO reply ended early");
        rest.extend(b);
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn del_unlink_exists_touch() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]).await;
    // EXISTS counts each occurrence of a key.
    assert_eq!(int(&mut c, &["EXISTS", "a", "a", "b", "nope"]).await, 3);
    assert_eq!(int(&mut c, &["TOUCH", "a", "b", "nope", "a"]).await, 3);
    assert_eq!(int(&mut c, &["DEL", "a", "nope", "a"]).await, 1);
    assert_eq!(int(&mut c, &["EXISTS", "a"]).await, 0);
    assert_eq!(int(&mut c, &["UNLINK", "b", "c", "zz"]).await, 2);
    assert_eq!(int(&mut c, &["EXISTS", "b", "c"]).await, 0);
    assert_eq!(int(&mut c, &["DBSIZE"]).await, 0);
    assert_eq!(
        err(&mut c, &["DEL"]).await,
        "ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(
        err(&mut c, &["EXISTS"]).await,
        "ERR wrong number of arguments for 'exists' command"
    );
}

#[tokio::test]
async fn type_of_every_kind() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "s", "v"]).await;
    int(&mut c, &["RPUSH", "l", "x"]).await;
    int(&mut c, &["HSET", "h", "f", "v"]).await;
    int(&mut c, &["SADD", "st", "m"]).await;
    int(&mut c, &["ZADD", "z", "1", "m"]).await;
    for (k, t) in [
        ("s", "string"),
        ("l", "list"),
        ("h", "hash"),
        ("st", "set"),
        ("z", "zset"),
        ("none", "none"),
    ] {
        let got: String = q(&mut c, &["TYPE", k]).await.unwrap();
        assert_eq!(got, t, "TYPE {k}");
    }
    // Simple-string reply, not bulk.
    let mut r = srv.raw().await;
    r.roundtrip(&["TYPE", "l"], b"+list\r\n").await;
    r.roundtrip(&["TYPE", "missing"], b"+none\r\n").await;
}

#[tokio::test]
async fn keys_with_patterns() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(
        &mut c,
        &[
            "MSET", "user:1", "a", "user:2", "b", "user:10", "c", "other", "d", "h[x]llo", "e",
        ],
    )
    .await;
    let all: Vec<String> = q(&mut c, &["KEYS", "*"]).await.unwrap();
    assert_eq!(
        sorted(all),
        vec!["h[x]llo", "other", "user:1", "user:10", "user:2"]
    );
    let users: Vec<String> = q(&mut c, &["KEYS", "user:*"]).await.unwrap();
    assert_eq!(sorted(users), vec!["user:1", "user:10", "user:2"]);
    let one: Vec<String> = q(&mut c, &["KEYS", "user:?"]).await.unwrap();
    assert_eq!(sorted(one), vec!["user:1", "user:2"]);
    let cls: Vec<String> = q(&mut c, &["KEYS", "user:[12]*"]).await.unwrap();
    assert_eq!(sorted(cls), vec!["user:1", "user:10", "user:2"]);
    let esc: Vec<String> = q(&mut c, &["KEYS", "h\\[x\\]llo"]).await.unwrap();
    assert_eq!(esc, vec!["h[x]llo"]);
    let none: Vec<String> = q(&mut c, &["KEYS", "zzz*"]).await.unwrap();
    assert!(none.is_empty());
    // Expired keys are not listed.
    ok(&mut c, &["SET", "user:gone", "x", "PX", "1"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let users: Vec<String> = q(&mut c, &["KEYS", "user:*"]).await.unwrap();
    assert_eq!(users.len(), 3);
}

/// Run a full SCAN iteration with extra options, returning every key seen (with duplicates)
/// and the number of calls.
async fn scan_all(c: &mut Conn, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, keys): (String, Vec<String>) = q(c, &args).await.unwrap();
        calls += 1;
        seen.extend(keys);
        if next == "0" {
            break;
        }
        assert!(calls < 100_000, "SCAN never finished");
        cursor = next;
    }
    (seen, calls)
}

#[tokio::test]
async fn scan_visits_everything() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    // Empty keyspace: one call, cursor 0.
    let (next, keys): (String, Vec<String>) = q(&mut c, &["SCAN", "0"]).await.unwrap();
    assert_eq!(next, "0");
    assert!(keys.is_empty());

    for i in 0..500 {
        ok(&mut c, &["SET", &format!("k:{i}"), "v"]).await;
    }
    for i in 0..20 {
        int(&mut c, &["RPUSH", &format!("list:{i}"), "x"]).await;
    }
    let (seen, calls) = scan_all(&mut c, &[]).await;
    let uniq: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(uniq.len(), 520);
    assert!(
        calls > 10,
        "COUNT 10 default should need many calls, got {calls}"
    );

    let (seen, calls) = scan_all(&mut c, &["COUNT", "1000"]).await;
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 520);
    assert_eq!(
        calls, 1,
        "COUNT larger than the keyspace finishes in one call"
    );

    let (seen, _) = scan_all(&mut c, &["MATCH", "list:*", "COUNT", "7"]).await;
    let uniq: HashSet<String> = seen.into_iter().collect();
    assert_eq!(uniq.len(), 20);
    assert!(uniq.iter().all(|k| k.starts_with("list:")));

    let (seen, _) = scan_all(&mut c, &["TYPE", "list"]).await;
    assert_eq!(seen.into_iter().collect::<HashSet<_>>().len(), 20);
    let (seen, _) = scan_all(&mut c, &["TYPE", "STRING", "MATCH", "k:1?"]).await;
    let uniq: HashSet<String> = seen.into_iter().collect();
    assert_eq!(uniq, (10..20).map(|i| format!("k:{i}")).collect());
    // Unknown types match nothing (Redis 7 behaviour).
    let (seen, _) = scan_all(&mut c, &["TYPE", "stream"]).await;
    assert!(seen.is_empty());
}

#[tokio::test]
async fn scan_survives_deletes_during_iteration() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    for i in 0..300 {
        ok(&mut c, &["SET", &format!("keep:{i}"), "v"]).await;
        ok(&mut c, &["SET", &format!("drop:{i}"), "v"]).await;
    }
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut dropped = 0;
    loop {
        let (next, keys): (String, Vec<String>) =
            q(&mut c, &["SCAN", &cursor, "COUNT", "20"]).await.unwrap();
        seen.extend(keys);
        // Delete some keys between calls: every key present throughout must still be returned.
        for _ in 0..10 {
            if dropped < 300 {
                int(&mut c, &["DEL", &format!("drop:{dropped}")]).await;
                dropped += 1;
            }
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    for i in 0..300 {
        assert!(seen.contains(&format!("keep:{i}")), "keep:{i} missed");
    }
}

#[tokio::test]
async fn scan_errors() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    assert_eq!(err(&mut c, &["SCAN", "abc"]).await, "ERR invalid cursor");
    assert_eq!(err(&mut c, &["SCAN", "-1"]).await, "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["SCAN", "0", "COUNT", "0"]).await,
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SCAN", "0", "COUNT", "x"]).await,
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["SCAN", "0", "MATCH"]).await,
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SCAN", "0", "BOGUS", "1"]).await,
        "ERR syntax error"
    );
    // A cursor for a shard that does not exist just ends the iteration.
    let (next, keys): (String, Vec<String>) = q(&mut c, &["SCAN", "65535"]).await.unwrap();
    assert_eq!((next.as_str(), keys.len()), ("0", 0));
}

#[tokio::test]
async fn rename_and_renamenx() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    assert_eq!(
        err(&mut c, &["RENAME", "nope", "x"]).await,
        "ERR no such key"
    );
    assert_eq!(
        err(&mut c, &["RENAMENX", "nope", "x"]).await,
        "ERR no such key"
    );

    ok(&mut c, &["SET", "a", "1", "EX", "100"]).await;
    ok(&mut c, &["RENAME", "a", "b"]).await;
    assert_eq!(int(&mut c, &["EXISTS", "a"]).await, 0);
    let v: String = q(&mut c, &["GET", "b"]).await.unwrap();
    assert_eq!(v, "1");
    // The TTL travels with the value.
    let t = int(&mut c, &["TTL", "b"]).await;
    assert!((99..=100).contains(&t), "ttl {t}");

    // RENAME overwrites (and drops the destination's TTL / type).
    int(&mut c, &["RPUSH", "l", "x", "y"]).await;
    ok(&mut c, &["RENAME", "b", "l"]).await;
    let v: String = q(&mut c, &["GET", "l"]).await.unwrap();
    assert_eq!(v, "1");

    // Same key: OK for RENAME, 0 for RENAMENX, the key untouched.
    ok(&mut c, &["RENAME", "l", "l"]).await;
    assert_eq!(int(&mut c, &["RENAMENX", "l", "l"]).await, 0);
    assert_eq!(int(&mut c, &["EXISTS", "l"]).await, 1);

    ok(&mut c, &["SET", "other", "2"]).await;
    assert_eq!(int(&mut c, &["RENAMENX", "l", "other"]).await, 0);
    let v: String = q(&mut c, &["GET", "other"]).await.unwrap();
    assert_eq!(v, "2");
    assert_eq!(int(&mut c, &["RENAMENX", "l", "fresh"]).await, 1);
    assert_eq!(int(&mut c, &["EXISTS", "l", "fresh"]).await, 1);
    assert!(int(&mut c, &["TTL", "fresh"]).await > 0);

    // Collections move intact.
    int(&mut c, &["HSET", "h", "f1", "v1", "f2", "v2"]).await;
    ok(&mut c, &["RENAME", "h", "h2"]).await;
    let n = int(&mut c, &["HLEN", "h2"]).await;
    assert_eq!(n, 2);
}

#[tokio::test]
async fn rename_wakes_blocked_list_pop() {
    let srv = TestServer::start().await;
    let mut blocked = srv.raw().await;
    blocked.cmd(&["BLPOP", "dst", "5"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut c = srv.client().await;
    int(&mut c, &["RPUSH", "src", "hello"]).await;
    ok(&mut c, &["RENAME", "src", "dst"]).await;
    blocked.expect(b"*2\r\n$3\r\ndst\r\n$5\r\nhello\r\n").await;
}

#[tokio::test]
async fn copy_command() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    assert_eq!(int(&mut c, &["COPY", "nope", "x"]).await, 0);
    ok(&mut c, &["SET", "a", "1", "PX", "100000"]).await;
    assert_eq!(int(&mut c, &["COPY", "a", "b"]).await, 1);
    let v: String = q(&mut c, &["GET", "b"]).await.unwrap();
    assert_eq!(v, "1");
    assert!(int(&mut c, &["PTTL", "b"]).await > 90_000);
    ok(&mut c, &["SET", "a", "2"]).await;
    // Destination exists: 0 without REPLACE, 1 with it.
    assert_eq!(int(&mut c, &["COPY", "a", "b"]).await, 0);
    let v: String = q(&mut c, &["GET", "b"]).await.unwrap();
    assert_eq!(v, "1");
    assert_eq!(int(&mut c, &["COPY", "a", "b", "REPLACE"]).await, 1);
    let v: String = q(&mut c, &["GET", "b"]).await.unwrap();
    assert_eq!(v, "2");
    assert_eq!(int(&mut c, &["TTL", "b"]).await, -1);

    // Deep copy of a collection: changing the copy leaves the source alone.
    int(&mut c, &["SADD", "s", "x", "y"]).await;
    assert_eq!(int(&mut c, &["COPY", "s", "s2", "DB", "0"]).await, 1);
    int(&mut c, &["SADD", "s2", "z"]).await;
    assert_eq!(int(&mut c, &["SCARD", "s"]).await, 2);
    assert_eq!(int(&mut c, &["SCARD", "s2"]).await, 3);

    assert_eq!(
        err(&mut c, &["COPY", "a", "a"]).await,
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err(&mut c, &["COPY", "a", "b", "DB", "16"]).await,
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["COPY", "a", "b", "DB", "x"]).await,
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["COPY", "a", "b", "FOO"]).await,
        "ERR syntax error"
    );
}

#[tokio::test]
async fn randomkey_dbsize_flush() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let mut r = srv.raw().await;
    r.roundtrip(&["RANDOMKEY"], b"$-1\r\n").await;
    assert_eq!(int(&mut c, &["DBSIZE"]).await, 0);

    ok(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]).await;
    assert_eq!(int(&mut c, &["DBSIZE"]).await, 3);
    let mut got = HashSet::new();
    for _ in 0..200 {
        let k: String = q(&mut c, &["RANDOMKEY"]).await.unwrap();
        got.insert(k);
    }
    let want: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want, "RANDOMKEY should return every key eventually");

    ok(&mut c, &["FLUSHDB"]).await;
    assert_eq!(int(&mut c, &["DBSIZE"]).await, 0);
    ok(&mut c, &["SET", "x", "1"]).await;
    ok(&mut c, &["FLUSHDB", "ASYNC"]).await;
    ok(&mut c, &["SET", "x", "1"]).await;
    ok(&mut c, &["FLUSHALL", "sync"]).await;
    assert_eq!(int(&mut c, &["DBSIZE"]).await, 0);
    ok(&mut c, &["FLUSHALL"]).await;
    assert_eq!(err(&mut c, &["FLUSHDB", "now"]).await, "ERR syntax error");
    assert_eq!(
        err(&mut c, &["FLUSHALL", "sync", "async"]).await,
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["DBSIZE", "x"]).await,
        "ERR wrong number of arguments for 'dbsize' command"
    );
    // The data's memory is given back (`total.allocated` also counts this connection's buffers).
    let dataset: i64 = {
        let v: Vec<V> = q(&mut c, &["MEMORY", "STATS"]).await.unwrap();
        assert_eq!(v[2], V::BulkString(b"dataset.bytes".to_vec()));
        match &v[3] {
            V::Int(n) => *n,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(dataset, 0);
}

#[tokio::test]
async fn flushdb_invalidates_watch() {
    let srv = TestServer::start().await;
    let mut w = srv.raw().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "k", "1"]).await;
    w.roundtrip(&["WATCH", "k"], b"+OK\r\n").await;
    ok(&mut c, &["FLUSHDB"]).await;
    w.roundtrip(&["MULTI"], b"+OK\r\n").await;
    w.roundtrip(&["SET", "k", "2"], b"+QUEUED\r\n").await;
    w.roundtrip(&["EXEC"], b"*-1\r\n").await;
}

#[tokio::test]
async fn whole_keyspace_commands_inside_exec() {
    // Inside EXEC every shard is already locked: these must not deadlock.
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["MSET", "a", "1", "b", "2"]).await;
    let mut r = srv.raw().await;
    r.roundtrip(&["MULTI"], b"+OK\r\n").await;
    for cmd in [
        &["DBSIZE"][..],
        &["KEYS", "a"],
        &["SCAN", "0", "COUNT", "100", "MATCH", "b"],
        &["RANDOMKEY"],
        &["RENAME", "a", "c"],
        &["FLUSHDB"],
        &["DBSIZE"],
        &["SET", "z", "1"],
        &["FLUSHALL"],
        &["RANDOMKEY"],
    ] {
        r.roundtrip(cmd, b"+QUEUED\r\n").await;
    }
    r.cmd(&["EXEC"]).await;
    let head = r
        .read_n(b"*10\r\n:2\r\n*1\r\n$1\r\na\r\n*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n".len())
        .await;
    assert_eq!(
        String::from_utf8_lossy(&head),
        "*10\r\n:2\r\n*1\r\n$1\r\na\r\n*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n"
    );
    // RANDOMKEY: a or b.
    let rk = r.read_n(7).await;
    assert!(
        rk == b"$1\r\na\r\n" || rk == b"$1\r\nb\r\n",
        "{}",
        String::from_utf8_lossy(&rk)
    );
    r.expect(b"+OK\r\n+OK\r\n:0\r\n+OK\r\n+OK\r\n$-1\r\n").await;
    assert_eq!(int(&mut c, &["DBSIZE"]).await, 0);
}

#[tokio::test]
async fn object_subcommands() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "n", "12345"]).await;
    ok(&mut c, &["SET", "s", "hello"]).await;
    ok(&mut c, &["SET", "big", &"x".repeat(100)]).await;
    int(&mut c, &["RPUSH", "l", "a"]).await;
    int(&mut c, &["SADD", "is", "1", "2"]).await;
    int(&mut c, &["SADD", "ss", "a", "b"]).await;
    int(&mut c, &["HSET", "h", "f", "v"]).await;
    int(&mut c, &["ZADD", "z", "1", "m"]).await;
    for (k, enc) in [
        ("n", "int"),
        ("s", "embstr"),
        ("big", "raw"),
        ("l", "quicklist"),
        ("is", "intset"),
        ("ss", "hashtable"),
        ("h", "listpack"),
        ("z", "listpack"),
    ] {
        let got: String = q(&mut c, &["OBJECT", "ENCODING", k]).await.unwrap();
        assert_eq!(got, enc, "OBJECT ENCODING {k}");
    }
    let missing: Option<String> = q(&mut c, &["OBJECT", "ENCODING", "nope"]).await.unwrap();
    assert_eq!(missing, None);
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "s"]).await, 1);
    let idle = int(&mut c, &["OBJECT", "IDLETIME", "s"]).await;
    assert!((0..=2).contains(&idle), "idle {idle}");
    assert!(err(&mut c, &["OBJECT", "FREQ", "s"])
        .await
        .starts_with("ERR An LFU maxmemory policy is not selected"));
    let help: Vec<String> = q(&mut c, &["OBJECT", "HELP"]).await.unwrap();
    assert_eq!(
        help[0],
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert!(help.iter().any(|l| l == "IDLETIME <key>"));
    assert_eq!(
        err(&mut c, &["OBJECT", "FOO", "s"]).await,
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert_eq!(
        err(&mut c, &["OBJECT", "ENCODING"]).await,
        "ERR wrong number of arguments for 'object|encoding' command"
    );
    assert_eq!(
        err(&mut c, &["OBJECT"]).await,
        "ERR wrong number of arguments for 'object' command"
    );
    // Raw shape: HELP lines are simple strings; a missing key is a null bulk.
    let mut r = srv.raw().await;
    r.roundtrip(&["OBJECT", "ENCODING", "nope"], b"$-1\r\n")
        .await;
    r.roundtrip(&["OBJECT", "ENCODING", "s"], b"$6\r\nembstr\r\n")
        .await;
}

#[tokio::test]
async fn memory_subcommands() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "small", "x"]).await;
    ok(&mut c, &["SET", "large", &"x".repeat(10_000)]).await;
    let small = int(&mut c, &["MEMORY", "USAGE", "small"]).await;
    let large = int(&mut c, &["MEMORY", "USAGE", "large", "SAMPLES", "0"]).await;
    assert!(small > 0);
    assert!(large >= small + 9_990, "{small} {large}");
    let missing: Option<i64> = q(&mut c, &["MEMORY", "USAGE", "nope"]).await.unwrap();
    assert_eq!(missing, None);
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE", "small", "SAMPLES"]).await,
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE", "small", "SAMPLES", "x"]).await,
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "USAGE"]).await,
        "ERR wrong number of arguments for 'memory|usage' command"
    );
    assert_eq!(
        err(&mut c, &["MEMORY", "BOGUS"]).await,
        "ERR unknown subcommand 'BOGUS'. Try MEMORY HELP."
    );
    ok(&mut c, &["MEMORY", "PURGE"]).await;
    let help: Vec<String> = q(&mut c, &["MEMORY", "HELP"]).await.unwrap();
    assert!(help.iter().any(|l| l == "USAGE <key> [SAMPLES <count>]"));
    let doctor: String = q(&mut c, &["MEMORY", "DOCTOR"]).await.unwrap();
    assert!(doctor.starts_with("Hi Sam"));

    let stats: Vec<V> = q(&mut c, &["MEMORY", "STATS"]).await.unwrap();
    assert_eq!(stats.len(), 8);
    assert_eq!(stats[4], V::BulkString(b"keys.count".to_vec()));
    assert_eq!(stats[5], V::Int(2));
}

#[tokio::test]
async fn resp3_shapes() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    hello3(&mut r).await;
    r.roundtrip(&["RANDOMKEY"], b"_\r\n").await;
    r.roundtrip(&["OBJECT", "ENCODING", "nope"], b"_\r\n").await;
    r.roundtrip(&["MEMORY", "USAGE", "nope"], b"_\r\n").await;
    r.roundtrip(&["SET", "k", "v"], b"+OK\r\n").await;
    r.roundtrip(
        &["SCAN", "0", "COUNT", "100"],
        b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n",
    )
    .await;
    r.roundtrip(&["KEYS", "*"], b"*1\r\n$1\r\nk\r\n").await;
    r.roundtrip(&["TYPE", "k"], b"+string\r\n").await;
    r.cmd(&["MEMORY", "STATS"]).await;
    r.expect(b"%4\r\n$15\r\ntotal.allocated\r\n:").await;
    r.cmd(&["MEMORY", "DOCTOR"]).await;
    // Skip the rest of STATS and check DOCTOR is a verbatim string.
    let mut buf = Vec::new();
    while !buf.ends_with(b"=") {
        let b = r.read_n(1).await;
        assert!(!b.is_empty());
        buf.extend(b);
    }
}

/// Redis 7's glob answers, found different by the `glob` fuzz target: `*`-only patterns other
/// than a lone `*` do not match the empty key (a lone `*` is "no pattern" in KEYS and the SCAN
/// family, so it does), and `[b-]` is a range from `]` to `b`. Checked against redis-server
/// 7.0.15 by hand (`SET "" 1`, `KEYS ***` lists only the other keys).
#[tokio::test]
async fn glob_patterns_answer_as_redis() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["MSET", "", "1", "ab", "2", "a]", "3", "ac", "4"]).await;
    let keys = |p: &'static str| {
        let mut c = c.clone();
        async move { sorted(q::<Vec<String>>(&mut c, &["KEYS", p]).await.unwrap()) }
    };
    assert_eq!(keys("*").await, ["", "a]", "ab", "ac"]);
    assert_eq!(keys("***").await, ["a]", "ab", "ac"]);
    assert_eq!(keys("a[b-]").await, ["a]", "ab"]);
    let (_, scanned): (String, Vec<String>) =
        q(&mut c, &["SCAN", "0", "MATCH", "*", "COUNT", "100"])
            .await
            .unwrap();
    assert_eq!(sorted(scanned), ["", "a]", "ab", "ac"]);
    // ZSCAN MATCH * is "no pattern" too, as in Redis: the empty member is listed.
    assert_eq!(int(&mut c, &["ZADD", "z", "1", "", "2", "m"]).await, 2);
    let (_, items): (String, Vec<String>) =
        q(&mut c, &["ZSCAN", "z", "0", "MATCH", "*"]).await.unwrap();
    assert_eq!(items, ["", "1", "m", "2"]);
}
