//! List commands over the real server: exact RESP replies, Redis 7 error strings, blocking pops.

mod common;
use common::*;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Boxed wrappers around `RawConn`'s helpers: their futures hold a 64 KiB read buffer, and a
/// debug build gives every await point of a long test its own copy on the stack (overflow).
type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
trait Boxed {
    fn rt<'a>(&'a mut self, parts: &'a [&'a str], exp: &'a [u8]) -> BoxFut<'a, ()>;
    fn ex<'a>(&'a mut self, exp: &'a [u8]) -> BoxFut<'a, ()>;
    fn rd(&mut self, n: usize) -> BoxFut<'_, Vec<u8>>;
}
impl Boxed for RawConn {
    fn rt<'a>(&'a mut self, parts: &'a [&'a str], exp: &'a [u8]) -> BoxFut<'a, ()> {
        Box::pin(self.roundtrip(parts, exp))
    }
    fn ex<'a>(&'a mut self, exp: &'a [u8]) -> BoxFut<'a, ()> {
        Box::pin(self.expect(exp))
    }
    fn rd(&mut self, n: usize) -> BoxFut<'_, Vec<u8>> {
        Box::pin(self.read_n(n))
    }
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{}\r\n", s.len(), s).into_bytes()
}
fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}
fn err(s: &str) -> Vec<u8> {
    format!("-{s}\r\n").into_bytes()
}
fn bulks(items: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend(bulk(i));
    }
    out
}
fn ints(items: &[i64]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend(int(*i));
    }
    out
}
fn arr(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}
const NIL: &[u8] = b"$-1\r\n";
const NIL_ARR: &[u8] = b"*-1\r\n";
const OK: &[u8] = b"+OK\r\n";

async fn hello3(c: &mut RawConn) {
    c.cmd(&["HELLO", "3"]).await;
    assert_eq!(c.rd(1).await, b"%");
    let mut rest = Vec::new();
    while !rest.ends_with(b"*0\r\n") {
        let b = c.rd(1).await;
        assert!(!b.is_empty(), "HELLO reply ended early");
        rest.extend(b);
    }
}

#[tokio::test]
async fn push_pop_range_len() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(&["RPUSH", "l", "a", "b", "c"], &int(3)).await;
    c.rt(&["LPUSH", "l", "x", "y"], &int(5)).await;
    c.rt(
        &["LRANGE", "l", "0", "-1"],
        &bulks(&["y", "x", "a", "b", "c"]),
    )
    .await;
    c.rt(&["LRANGE", "l", "-2", "100"], &bulks(&["b", "c"]))
        .await;
    c.rt(&["LRANGE", "l", "3", "1"], &bulks(&[])).await;
    c.rt(&["LRANGE", "l", "-100", "0"], &bulks(&["y"])).await;
    c.rt(&["LRANGE", "l", "a", "1"], &err(NOT_INT)).await;
    c.rt(&["LRANGE", "nokey", "0", "-1"], &bulks(&[])).await;
    c.rt(&["LLEN", "l"], &int(5)).await;
    c.rt(&["LLEN", "nokey"], &int(0)).await;

    c.rt(&["LPOP", "l"], &bulk("y")).await;
    c.rt(&["RPOP", "l"], &bulk("c")).await;
    c.rt(&["LPOP", "l", "2"], &bulks(&["x", "a"])).await;
    c.rt(&["LPOP", "l", "0"], &bulks(&[])).await;
    c.rt(
        &["LPOP", "l", "-1"],
        &err("ERR value is out of range, must be positive"),
    )
    .await;
    c.rt(&["LPOP", "l", "x"], &err(NOT_INT)).await;
    c.rt(
        &["LPOP", "l", "1", "2"],
        &err("ERR wrong number of arguments for 'lpop' command"),
    )
    .await;
    c.rt(&["RPOP", "l", "10"], &bulks(&["b"])).await;
    // The emptied list is gone: GET (a string command) sees no key instead of a list.
    c.rt(&["GET", "l"], NIL).await;
    c.rt(&["LPOP", "l"], NIL).await;
    c.rt(&["LPOP", "l", "1"], NIL_ARR).await;
    c.rt(&["RPOP", "l", "0"], NIL_ARR).await;

    c.rt(&["RPUSH", "r", "1", "2", "3"], &int(3)).await;
    c.rt(&["RPOP", "r", "2"], &bulks(&["3", "2"])).await;
    c.rt(
        &["LPUSH"],
        &err("ERR wrong number of arguments for 'lpush' command"),
    )
    .await;
    c.rt(
        &["LPUSH", "r"],
        &err("ERR wrong number of arguments for 'lpush' command"),
    )
    .await;

    // Type errors.
    c.rt(&["SET", "s", "v"], OK).await;
    for cmd in [
        &["LPUSH", "s", "a"][..],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "1"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "v"],
        &["LREM", "s", "0", "v"],
        &["LTRIM", "s", "0", "1"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "1", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "s", "0"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "d", "0"],
    ] {
        c.rt(cmd, &err(WRONGTYPE)).await;
    }
    c.rt(&["GET", "s"], &bulk("v")).await;
}

#[tokio::test]
async fn pushx_only_existing() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(&["LPUSHX", "l", "a"], &int(0)).await;
    c.rt(&["RPUSHX", "l", "a"], &int(0)).await;
    c.rt(&["LLEN", "l"], &int(0)).await;
    c.rt(&["RPUSH", "l", "m"], &int(1)).await;
    c.rt(&["LPUSHX", "l", "a", "b"], &int(3)).await;
    c.rt(&["RPUSHX", "l", "y", "z"], &int(5)).await;
    c.rt(
        &["LRANGE", "l", "0", "-1"],
        &bulks(&["b", "a", "m", "y", "z"]),
    )
    .await;
}

#[tokio::test]
async fn lindex_lset() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(&["RPUSH", "l", "a", "b", "c"], &int(3)).await;
    c.rt(&["LINDEX", "l", "0"], &bulk("a")).await;
    c.rt(&["LINDEX", "l", "-1"], &bulk("c")).await;
    c.rt(&["LINDEX", "l", "-3"], &bulk("a")).await;
    c.rt(&["LINDEX", "l", "3"], NIL).await;
    c.rt(&["LINDEX", "l", "-4"], NIL).await;
    c.rt(&["LINDEX", "l", "x"], &err(NOT_INT)).await;
    // Redis looks the key up before parsing the index.
    c.rt(&["LINDEX", "nokey", "x"], NIL).await;

    c.rt(&["LSET", "l", "1", "BB"], OK).await;
    c.rt(&["LSET", "l", "-1", "CC"], OK).await;
    c.rt(&["LRANGE", "l", "0", "-1"], &bulks(&["a", "BB", "CC"]))
        .await;
    c.rt(&["LSET", "l", "3", "x"], &err("ERR index out of range"))
        .await;
    c.rt(&["LSET", "l", "-4", "x"], &err("ERR index out of range"))
        .await;
    c.rt(&["LSET", "l", "z", "x"], &err(NOT_INT)).await;
    c.rt(&["LSET", "nokey", "0", "x"], &err("ERR no such key"))
        .await;
}

#[tokio::test]
async fn lrem_ltrim_linsert() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(&["RPUSH", "l", "a", "b", "a", "c", "a", "b"], &int(6))
        .await;
    c.rt(&["LREM", "l", "-2", "a"], &int(2)).await;
    c.rt(&["LRANGE", "l", "0", "-1"], &bulks(&["a", "b", "c", "b"]))
        .await;
    c.rt(&["LREM", "l", "1", "b"], &int(1)).await;
    c.rt(&["LRANGE", "l", "0", "-1"], &bulks(&["a", "c", "b"]))
        .await;
    c.rt(&["LREM", "l", "0", "zz"], &int(0)).await;
    c.rt(&["LREM", "l", "x", "a"], &err(NOT_INT)).await;
    c.rt(&["LREM", "nokey", "0", "a"], &int(0)).await;
    c.rt(&["RPUSH", "dup", "q", "q", "q"], &int(3)).await;
    c.rt(&["LREM", "dup", "0", "q"], &int(3)).await;
    c.rt(&["GET", "dup"], NIL).await;

    c.rt(&["RPUSH", "t", "1", "2", "3", "4", "5"], &int(5))
        .await;
    c.rt(&["LTRIM", "t", "1", "-2"], OK).await;
    c.rt(&["LRANGE", "t", "0", "-1"], &bulks(&["2", "3", "4"]))
        .await;
    c.rt(&["LTRIM", "t", "-100", "100"], OK).await;
    c.rt(&["LRANGE", "t", "0", "-1"], &bulks(&["2", "3", "4"]))
        .await;
    c.rt(&["LTRIM", "t", "x", "1"], &err(NOT_INT)).await;
    c.rt(&["LTRIM", "nokey", "0", "1"], OK).await;
    c.rt(&["LTRIM", "t", "2", "1"], OK).await;
    c.rt(&["GET", "t"], NIL).await;

    c.rt(&["RPUSH", "i", "a", "c"], &int(2)).await;
    c.rt(&["LINSERT", "i", "BEFORE", "c", "b"], &int(3)).await;
    c.rt(&["LINSERT", "i", "after", "c", "d"], &int(4)).await;
    c.rt(&["LINSERT", "i", "BEFORE", "a", "0"], &int(5)).await;
    c.rt(
        &["LRANGE", "i", "0", "-1"],
        &bulks(&["0", "a", "b", "c", "d"]),
    )
    .await;
    c.rt(&["LINSERT", "i", "BEFORE", "zz", "x"], &int(-1)).await;
    c.rt(&["LINSERT", "i", "MIDDLE", "a", "x"], &err(SYNTAX))
        .await;
    c.rt(&["LINSERT", "nokey", "BEFORE", "a", "x"], &int(0))
        .await;
    c.rt(&["LLEN", "nokey"], &int(0)).await;
}

#[tokio::test]
async fn lpos_options() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(
        &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
        &int(8),
    )
    .await;
    c.rt(&["LPOS", "l", "c"], &int(2)).await;
    c.rt(&["LPOS", "l", "zz"], NIL).await;
    c.rt(&["LPOS", "l", "c", "RANK", "2"], &int(6)).await;
    c.rt(&["LPOS", "l", "c", "RANK", "-1"], &int(7)).await;
    c.rt(&["LPOS", "l", "c", "RANK", "-3"], &int(2)).await;
    c.rt(&["LPOS", "l", "c", "RANK", "4"], NIL).await;
    c.rt(&["LPOS", "l", "c", "COUNT", "2"], &ints(&[2, 6]))
        .await;
    c.rt(&["LPOS", "l", "c", "COUNT", "0"], &ints(&[2, 6, 7]))
        .await;
    c.rt(
        &["LPOS", "l", "c", "COUNT", "0", "RANK", "2"],
        &ints(&[6, 7]),
    )
    .await;
    c.rt(
        &["LPOS", "l", "c", "COUNT", "0", "RANK", "-1"],
        &ints(&[7, 6, 2]),
    )
    .await;
    c.rt(
        &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"],
        &ints(&[2, 6]),
    )
    .await;
    c.rt(
        &["LPOS", "l", "c", "COUNT", "0", "RANK", "-1", "MAXLEN", "2"],
        &ints(&[7, 6]),
    )
    .await;
    c.rt(&["LPOS", "l", "c", "MAXLEN", "2"], NIL).await;
    c.rt(&["LPOS", "l", "zz", "COUNT", "0"], &ints(&[])).await;
    c.rt(&["LPOS", "nokey", "a"], NIL).await;
    c.rt(&["LPOS", "nokey", "a", "COUNT", "1"], &ints(&[]))
        .await;
    c.rt(
        &["LPOS", "l", "c", "RANK", "0"],
        &err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"),
    )
    .await;
    c.rt(&["LPOS", "l", "c", "RANK", "x"], &err(NOT_INT)).await;
    c.rt(
        &["LPOS", "l", "c", "COUNT", "-1"],
        &err("ERR COUNT can't be negative"),
    )
    .await;
    c.rt(
        &["LPOS", "l", "c", "MAXLEN", "-1"],
        &err("ERR MAXLEN can't be negative"),
    )
    .await;
    c.rt(&["LPOS", "l", "c", "COUNT"], &err(SYNTAX)).await;
    c.rt(&["LPOS", "l", "c", "FOO", "1"], &err(SYNTAX)).await;
}

#[tokio::test]
async fn lmove_and_rpoplpush() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(&["RPUSH", "src", "a", "b", "c"], &int(3)).await;
    c.rt(&["LMOVE", "src", "dst", "LEFT", "RIGHT"], &bulk("a"))
        .await;
    c.rt(&["LMOVE", "src", "dst", "right", "left"], &bulk("c"))
        .await;
    c.rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["c", "a"]))
        .await;
    c.rt(&["RPOPLPUSH", "src", "dst"], &bulk("b")).await;
    c.rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["b", "c", "a"]))
        .await;
    c.rt(&["GET", "src"], NIL).await;
    c.rt(&["LMOVE", "src", "dst", "LEFT", "LEFT"], NIL).await;
    c.rt(&["RPOPLPUSH", "src", "dst"], NIL).await;
    c.rt(&["LMOVE", "dst", "dst", "UP", "LEFT"], &err(SYNTAX))
        .await;
    // Same key: rotation.
    c.rt(&["LMOVE", "dst", "dst", "LEFT", "RIGHT"], &bulk("b"))
        .await;
    c.rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["c", "a", "b"]))
        .await;
    c.rt(&["RPOPLPUSH", "dst", "dst"], &bulk("b")).await;
    c.rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["b", "c", "a"]))
        .await;
    c.rt(&["RPUSH", "one", "x"], &int(1)).await;
    c.rt(&["RPOPLPUSH", "one", "one"], &bulk("x")).await;
    c.rt(&["LRANGE", "one", "0", "-1"], &bulks(&["x"])).await;
    // A wrong-typed destination fails before anything is popped.
    c.rt(&["SET", "str", "v"], OK).await;
    c.rt(&["LMOVE", "dst", "str", "LEFT", "LEFT"], &err(WRONGTYPE))
        .await;
    c.rt(&["RPOPLPUSH", "dst", "str"], &err(WRONGTYPE)).await;
    c.rt(&["LLEN", "dst"], &int(3)).await;
    // Missing source with a wrong-typed destination: nil (the source is checked first).
    c.rt(&["RPOPLPUSH", "nokey", "str"], NIL).await;
}

#[tokio::test]
async fn lmpop_forms() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(&["LMPOP", "2", "a", "b", "LEFT"], NIL_ARR).await;
    c.rt(&["RPUSH", "b", "1", "2", "3"], &int(3)).await;
    c.rt(
        &["LMPOP", "2", "a", "b", "LEFT"],
        &arr(&[bulk("b"), bulks(&["1"])]),
    )
    .await;
    c.rt(
        &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10"],
        &arr(&[bulk("b"), bulks(&["3", "2"])]),
    )
    .await;
    c.rt(&["GET", "b"], NIL).await;
    c.rt(
        &["LMPOP", "0", "a", "LEFT"],
        &err("ERR numkeys should be greater than 0"),
    )
    .await;
    c.rt(
        &["LMPOP", "x", "a", "LEFT"],
        &err("ERR numkeys should be greater than 0"),
    )
    .await;
    c.rt(&["LMPOP", "1", "a", "MIDDLE"], &err(SYNTAX)).await;
    c.rt(&["LMPOP", "2", "a", "LEFT"], &err(SYNTAX)).await;
    c.rt(&["LMPOP", "1", "a", "LEFT", "COUNT"], &err(SYNTAX))
        .await;
    c.rt(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2"],
        &err(SYNTAX),
    )
    .await;
    c.rt(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
        &err("ERR count should be greater than 0"),
    )
    .await;
    c.rt(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "x"],
        &err("ERR count should be greater than 0"),
    )
    .await;
    c.rt(
        &["LMPOP", "1", "a"],
        &err("ERR wrong number of arguments for 'lmpop' command"),
    )
    .await;
}

#[tokio::test]
async fn resp3_shapes() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    hello3(&mut c).await;
    c.rt(&["LPOP", "nokey"], b"_\r\n").await;
    c.rt(&["LPOP", "nokey", "2"], b"_\r\n").await;
    c.rt(&["LMPOP", "1", "nokey", "LEFT"], b"_\r\n").await;
    c.rt(&["LPOS", "nokey", "a"], b"_\r\n").await;
    c.rt(&["BLPOP", "nokey", "0.05"], b"_\r\n").await;
    c.rt(&["RPUSH", "l", "a"], &int(1)).await;
    c.rt(&["BLPOP", "l", "0"], &bulks(&["l", "a"])).await;
}

#[tokio::test]
async fn blpop_with_data_and_key_order() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    c.rt(&["RPUSH", "b", "1", "2"], &int(2)).await;
    c.rt(&["RPUSH", "c", "x"], &int(1)).await;
    c.rt(&["BLPOP", "a", "b", "c", "0"], &bulks(&["b", "1"]))
        .await;
    c.rt(&["BRPOP", "a", "c", "b", "0"], &bulks(&["c", "x"]))
        .await;
    c.rt(&["BRPOP", "a", "b", "1"], &bulks(&["b", "2"])).await;
    c.rt(&["BLPOP", "a", "-1"], &err("ERR timeout is negative"))
        .await;
    c.rt(
        &["BLPOP", "a", "abc"],
        &err("ERR timeout is not a float or out of range"),
    )
    .await;
    c.rt(
        &["BLMOVE", "a", "b", "LEFT", "LEFT", "-0.5"],
        &err("ERR timeout is negative"),
    )
    .await;
    c.rt(
        &["BRPOPLPUSH", "a", "b", "x"],
        &err("ERR timeout is not a float or out of range"),
    )
    .await;
    c.rt(
        &["BLMPOP", "-2", "1", "a", "LEFT"],
        &err("ERR timeout is negative"),
    )
    .await;
    c.rt(&["BLMOVE", "a", "b", "UP", "LEFT", "0"], &err(SYNTAX))
        .await;
    c.rt(
        &["BLPOP", "a"],
        &err("ERR wrong number of arguments for 'blpop' command"),
    )
    .await;
}

#[tokio::test]
async fn blpop_woken_by_other_clients_push() {
    let srv = TestServer::start().await;
    let mut waiter = srv.raw().await;
    let mut pusher = srv.client().await;
    let t0 = Instant::now();
    waiter.cmd(&["BLPOP", "q", "5"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n: i64 = q(&mut pusher, &["RPUSH", "q", "v1"]).await.unwrap();
    assert_eq!(n, 1);
    waiter.ex(&bulks(&["q", "v1"])).await;
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(90) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    // The popped element is gone and the connection works normally again.
    waiter.rt(&["LLEN", "q"], &int(0)).await;

    // BRPOP on several keys wakes on whichever gets data.
    waiter.cmd(&["BRPOP", "k1", "k2", "5"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _: i64 = q(&mut pusher, &["LPUSH", "k2", "a", "b"]).await.unwrap();
    waiter.ex(&bulks(&["k2", "a"])).await;
    let rest: Vec<String> = q(&mut pusher, &["LRANGE", "k2", "0", "-1"]).await.unwrap();
    assert_eq!(rest, vec!["b".to_string()]);
}

#[tokio::test]
async fn two_blocked_clients_each_get_one() {
    let srv = TestServer::start().await;
    let mut w1 = srv.raw().await;
    let mut w2 = srv.raw().await;
    let mut pusher = srv.client().await;
    w1.cmd(&["BLPOP", "q", "5"]).await;
    w2.cmd(&["BLPOP", "q", "5"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _: i64 = q(&mut pusher, &["RPUSH", "q", "a", "b"]).await.unwrap();
    let r1 = w1.rd(bulks(&["q", "a"]).len()).await;
    let r2 = w2.rd(bulks(&["q", "a"]).len()).await;
    let mut got = vec![
        String::from_utf8(r1).unwrap(),
        String::from_utf8(r2).unwrap(),
    ];
    got.sort();
    let want = vec![
        String::from_utf8(bulks(&["q", "a"])).unwrap(),
        String::from_utf8(bulks(&["q", "b"])).unwrap(),
    ];
    assert_eq!(got, want);
    let n: i64 = q(&mut pusher, &["LLEN", "q"]).await.unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn blpop_times_out_with_nil() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    let t0 = Instant::now();
    c.rt(&["BLPOP", "q", "0.2"], NIL_ARR).await;
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    c.rt(&["BRPOP", "q", "q2", "0.1"], NIL_ARR).await;
    // A timeout on BLMOVE is a null array too (as in Redis).
    c.rt(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0.1"], NIL_ARR)
        .await;
    c.rt(&["BLMPOP", "0.1", "2", "q", "q2", "LEFT"], NIL_ARR)
        .await;
    // A push to an unrelated key does not end the wait early.
    let mut other = srv.client().await;
    c.cmd(&["BLPOP", "q", "0.3"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _: i64 = q(&mut other, &["RPUSH", "unrelated", "x"]).await.unwrap();
    c.ex(NIL_ARR).await;
    c.rt(&["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn blmove_and_brpoplpush_wake_and_move() {
    let srv = TestServer::start().await;
    let mut waiter = srv.raw().await;
    let mut pusher = srv.client().await;
    waiter
        .cmd(&["BLMOVE", "src", "dst", "RIGHT", "LEFT", "5"])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _: i64 = q(&mut pusher, &["RPUSH", "src", "a", "b"]).await.unwrap();
    waiter.ex(&bulk("b")).await;
    waiter
        .rt(&["LRANGE", "src", "0", "-1"], &bulks(&["a"]))
        .await;
    waiter
        .rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["b"]))
        .await;
    // With data present it does not block.
    waiter
        .rt(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"], &bulk("a"))
        .await;
    waiter
        .rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["b", "a"]))
        .await;

    waiter.cmd(&["BRPOPLPUSH", "src", "dst", "5"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _: i64 = q(&mut pusher, &["LPUSH", "src", "z"]).await.unwrap();
    waiter.ex(&bulk("z")).await;
    waiter
        .rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["z", "b", "a"]))
        .await;

    // A BLPOP waiting on the destination is woken by the move.
    let mut chain = srv.raw().await;
    chain.cmd(&["BLPOP", "out", "5"]).await;
    waiter
        .cmd(&["BLMOVE", "in", "out", "LEFT", "LEFT", "5"])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _: i64 = q(&mut pusher, &["RPUSH", "in", "m"]).await.unwrap();
    waiter.ex(&bulk("m")).await;
    chain.ex(&bulks(&["out", "m"])).await;
    let n: i64 = q(&mut pusher, &["LLEN", "out"]).await.unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn blmpop_wakes_with_count() {
    let srv = TestServer::start().await;
    let mut waiter = srv.raw().await;
    let mut pusher = srv.client().await;
    waiter.rt(&["RPUSH", "l2", "1", "2", "3"], &int(3)).await;
    waiter
        .rt(
            &["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "2"],
            &arr(&[bulk("l2"), bulks(&["3", "2"])]),
        )
        .await;
    waiter.rt(&["LPOP", "l2"], &bulk("1")).await;
    waiter
        .cmd(&["BLMPOP", "5", "2", "l1", "l2", "LEFT", "COUNT", "5"])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _: i64 = q(&mut pusher, &["RPUSH", "l1", "x", "y"]).await.unwrap();
    waiter.ex(&arr(&[bulk("l1"), bulks(&["x", "y"])])).await;
}

#[tokio::test]
async fn blocking_commands_inside_multi_do_not_block() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    let t0 = Instant::now();
    c.rt(&["MULTI"], OK).await;
    c.rt(&["BLPOP", "q", "0"], b"+QUEUED\r\n").await;
    c.rt(&["BRPOP", "q", "10"], b"+QUEUED\r\n").await;
    c.rt(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"], b"+QUEUED\r\n")
        .await;
    c.rt(&["BRPOPLPUSH", "q", "d", "0"], b"+QUEUED\r\n").await;
    c.rt(&["BLMPOP", "0", "1", "q", "LEFT"], b"+QUEUED\r\n")
        .await;
    c.rt(&["RPUSH", "q", "v"], b"+QUEUED\r\n").await;
    c.rt(&["BLPOP", "q", "0"], b"+QUEUED\r\n").await;
    let want = arr(&[
        NIL_ARR.to_vec(),
        NIL_ARR.to_vec(),
        NIL.to_vec(),
        NIL.to_vec(),
        NIL_ARR.to_vec(),
        int(1),
        bulks(&["q", "v"]),
    ]);
    c.rt(&["EXEC"], &want).await;
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn redis_crate_round_trip() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let n: i64 = q(&mut c, &["RPUSH", "l", "a", "b", "c"]).await.unwrap();
    assert_eq!(n, 3);
    let all: Vec<String> = q(&mut c, &["LRANGE", "l", "0", "-1"]).await.unwrap();
    assert_eq!(all, vec!["a", "b", "c"]);
    let popped: Option<(String, String)> = q(&mut c, &["BLPOP", "l", "1"]).await.unwrap();
    assert_eq!(popped, Some(("l".to_string(), "a".to_string())));
    let none: Option<(String, String)> = q(&mut c, &["BLPOP", "nokey", "0.05"]).await.unwrap();
    assert_eq!(none, None);
}

#[tokio::test]
async fn modifications_keep_ttl_and_type() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let _: i64 = q(&mut c, &["RPUSH", "l", "a", "b", "c", "d"])
        .await
        .unwrap();
    let t: String = q(&mut c, &["TYPE", "l"]).await.unwrap();
    assert_eq!(t, "list");
    let _: i64 = q(&mut c, &["EXPIRE", "l", "100"]).await.unwrap();
    let _: i64 = q(&mut c, &["LPUSH", "l", "z"]).await.unwrap();
    let _: String = q(&mut c, &["LPOP", "l"]).await.unwrap();
    let _: () = q(&mut c, &["LSET", "l", "0", "A"]).await.unwrap();
    let _: i64 = q(&mut c, &["LREM", "l", "0", "b"]).await.unwrap();
    let _: i64 = q(&mut c, &["LINSERT", "l", "AFTER", "A", "x"])
        .await
        .unwrap();
    let _: () = q(&mut c, &["LTRIM", "l", "0", "-1"]).await.unwrap();
    let _: String = q(&mut c, &["LMOVE", "l", "l", "LEFT", "RIGHT"])
        .await
        .unwrap();
    let ttl: i64 = q(&mut c, &["TTL", "l"]).await.unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    // Moving into a new key does not copy the TTL.
    let _: String = q(&mut c, &["RPOPLPUSH", "l", "fresh"]).await.unwrap();
    let ttl: i64 = q(&mut c, &["TTL", "fresh"]).await.unwrap();
    assert_eq!(ttl, -1);
    // A single-element list rotated onto itself survives with its TTL.
    let _: i64 = q(&mut c, &["RPUSH", "one", "v"]).await.unwrap();
    let _: i64 = q(&mut c, &["EXPIRE", "one", "100"]).await.unwrap();
    let _: String = q(&mut c, &["LMOVE", "one", "one", "RIGHT", "LEFT"])
        .await
        .unwrap();
    let ttl: i64 = q(&mut c, &["TTL", "one"]).await.unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    // Emptied and recreated: no TTL, and EXISTS agrees the key went away in between.
    let _: String = q(&mut c, &["LPOP", "one"]).await.unwrap();
    let n: i64 = q(&mut c, &["EXISTS", "one"]).await.unwrap();
    assert_eq!(n, 0);
    let _: i64 = q(&mut c, &["RPUSH", "one", "v"]).await.unwrap();
    let ttl: i64 = q(&mut c, &["TTL", "one"]).await.unwrap();
    assert_eq!(ttl, -1);
}

#[tokio::test]
async fn memory_usage_tracks_pushes_and_pops() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let _: i64 = q(&mut c, &["RPUSH", "m", "a"]).await.unwrap();
    let base: i64 = q(&mut c, &["MEMORY", "USAGE", "m"]).await.unwrap();
    let big = "x".repeat(1000);
    let _: i64 = q(&mut c, &["RPUSH", "m", &big, &big, "b"]).await.unwrap();
    let grown: i64 = q(&mut c, &["MEMORY", "USAGE", "m"]).await.unwrap();
    assert!(grown >= base + 2000, "{base} -> {grown}");
    let _: () = q(&mut c, &["LSET", "m", "3", &big]).await.unwrap();
    let set: i64 = q(&mut c, &["MEMORY", "USAGE", "m"]).await.unwrap();
    assert!(set >= grown + 998, "{grown} -> {set}");
    let _: i64 = q(&mut c, &["LREM", "m", "1", &big]).await.unwrap();
    let _: () = q(&mut c, &["LTRIM", "m", "0", "1"]).await.unwrap();
    let _: Vec<String> = q(&mut c, &["RPOP", "m", "1"]).await.unwrap();
    let back: i64 = q(&mut c, &["MEMORY", "USAGE", "m"]).await.unwrap();
    assert_eq!(back, base);
}

#[tokio::test]
async fn writes_invalidate_watch_on_every_key() {
    let srv = TestServer::start().await;
    let mut w = srv.raw().await;
    let mut other = srv.client().await;
    let _: i64 = q(&mut other, &["RPUSH", "src", "a", "b", "c"])
        .await
        .unwrap();
    for (watched, cmd) in [
        ("dst", &["LMOVE", "src", "dst", "LEFT", "LEFT"][..]),
        ("dst", &["RPOPLPUSH", "src", "dst"]),
        ("src", &["LMPOP", "2", "nokey", "src", "LEFT", "COUNT", "1"]),
    ] {
        w.rt(&["WATCH", watched], OK).await;
        let _: redis::Value = q(&mut other, cmd).await.unwrap();
        w.rt(&["MULTI"], OK).await;
        w.rt(&["LLEN", watched], b"+QUEUED\r\n").await;
        w.rt(&["EXEC"], NIL_ARR).await;
    }
    w.rt(&["LRANGE", "dst", "0", "-1"], &bulks(&["c", "a"]))
        .await;
    w.rt(&["LLEN", "src"], &int(0)).await;
}
