//! Byte-level RESP helpers shared by the collection test files: expected-reply builders and a
//! small reply parser for order-independent checks.
#![allow(dead_code)]

use super::RawConn;

pub fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{}\r\n", s.len(), s).into_bytes()
}
pub fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}
pub fn err(s: &str) -> Vec<u8> {
    format!("-{s}\r\n").into_bytes()
}
pub fn bulks(items: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend(bulk(i));
    }
    out
}
pub const NIL: &[u8] = b"$-1\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// A parsed reply, for order-independent checks.
#[derive(Debug, Clone, PartialEq)]
pub enum R {
    Bulk(String),
    Int(i64),
    Nil,
    Simple(String),
    Err(String),
    Double(String),
    Agg(char, Vec<R>),
}

impl R {
    pub fn items(&self) -> &[R] {
        match self {
            R::Agg(_, v) => v,
            other => panic!("not an aggregate: {other:?}"),
        }
    }
    pub fn str(&self) -> &str {
        match self {
            R::Bulk(s) => s,
            other => panic!("not a bulk: {other:?}"),
        }
    }
}

pub async fn line(c: &mut RawConn) -> String {
    let mut out = Vec::new();
    while !out.ends_with(b"\r\n") {
        let b = Box::pin(c.read_n(1)).await;
        assert!(
            !b.is_empty(),
            "reply ended early: {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend(b);
    }
    out.truncate(out.len() - 2);
    String::from_utf8(out).unwrap()
}

pub async fn read_reply(c: &mut RawConn) -> R {
    let l = line(c).await;
    let (t, rest) = l.split_at(1);
    match t {
        "$" => {
            let n: i64 = rest.parse().unwrap();
            if n < 0 {
                return R::Nil;
            }
            let body = Box::pin(c.read_n(n as usize + 2)).await;
            R::Bulk(String::from_utf8(body[..n as usize].to_vec()).unwrap())
        }
        ":" => R::Int(rest.parse().unwrap()),
        "_" => R::Nil,
        "+" => R::Simple(rest.into()),
        "-" => R::Err(rest.into()),
        "," => R::Double(rest.into()),
        "*" | "~" | "%" => {
            let n: i64 = rest.parse().unwrap();
            if n < 0 {
                return R::Nil;
            }
            let n = if t == "%" { 2 * n } else { n };
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(Box::pin(read_reply(c)).await);
            }
            R::Agg(t.chars().next().unwrap(), v)
        }
        other => panic!("unexpected reply type {other}"),
    }
}

pub async fn call(c: &mut RawConn, parts: &[&str]) -> R {
    c.cmd(parts).await;
    Box::pin(read_reply(c)).await
}

// `RawConn::read_n` keeps a 64 KiB buffer in its future; boxing the reads keeps the long test
// bodies' futures small (debug builds otherwise overflow the test thread's stack).
pub async fn rt(c: &mut RawConn, parts: &[&str], expected: &[u8]) {
    Box::pin(c.roundtrip(parts, expected)).await
}
pub async fn ex(c: &mut RawConn, expected: &[u8]) {
    Box::pin(c.expect(expected)).await
}

pub async fn hello3(c: &mut RawConn) {
    match call(c, &["HELLO", "3"]).await {
        R::Agg('%', _) => {}
        other => panic!("HELLO 3 replied {other:?}"),
    }
}

pub fn strs(r: &R) -> Vec<String> {
    r.items().iter().map(|x| x.str().to_string()).collect()
}
