//! Hash commands over the real server: exact RESP2/RESP3 replies and Redis 7 error strings.

mod common;
use common::*;

use std::collections::{HashMap, HashSet};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";
use common::reply::*;
#[tokio::test]
async fn set_get_and_friends() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["HSET", "h", "a", "1", "b", "2"], &int(2)).await;
    rt(&mut c, &["HSET", "h", "a", "10", "c", "3"], &int(1)).await;
    rt(
        &mut c,
        &["HSET", "h", "a"],
        &err("ERR wrong number of arguments for 'hset' command"),
    )
    .await;
    rt(
        &mut c,
        &["HSET", "h", "a", "1", "b"],
        &err("ERR wrong number of arguments for 'hset' command"),
    )
    .await;
    rt(&mut c, &["HMSET", "h", "d", "4"], OK).await;
    rt(
        &mut c,
        &["HMSET", "h", "d", "4", "e"],
        &err("ERR wrong number of arguments for 'hmset' command"),
    )
    .await;
    rt(&mut c, &["HGET", "h", "a"], &bulk("10")).await;
    rt(&mut c, &["HGET", "h", "zz"], NIL).await;
    rt(&mut c, &["HGET", "nokey", "a"], NIL).await;
    rt(&mut c, &["HSETNX", "h", "a", "x"], &int(0)).await;
    rt(&mut c, &["HSETNX", "h", "n", "x"], &int(1)).await;
    rt(&mut c, &["HSETNX", "fresh", "f", "v"], &int(1)).await;
    rt(&mut c, &["HGET", "fresh", "f"], &bulk("v")).await;
    rt(
        &mut c,
        &["HMGET", "h", "a", "zz", "b"],
        b"*3\r\n$2\r\n10\r\n$-1\r\n$1\r\n2\r\n",
    )
    .await;
    rt(
        &mut c,
        &["HMGET", "nokey", "a", "b"],
        b"*2\r\n$-1\r\n$-1\r\n",
    )
    .await;
    rt(&mut c, &["HLEN", "h"], &int(5)).await;
    rt(&mut c, &["HLEN", "nokey"], &int(0)).await;
    rt(&mut c, &["HEXISTS", "h", "a"], &int(1)).await;
    rt(&mut c, &["HEXISTS", "h", "zz"], &int(0)).await;
    rt(&mut c, &["HEXISTS", "nokey", "a"], &int(0)).await;
    rt(&mut c, &["HSTRLEN", "h", "a"], &int(2)).await;
    rt(&mut c, &["HSTRLEN", "h", "zz"], &int(0)).await;
    rt(&mut c, &["HSTRLEN", "nokey", "zz"], &int(0)).await;
    // Insertion order is kept for a small hash.
    rt(&mut c, &["HKEYS", "h"], &bulks(&["a", "b", "c", "d", "n"])).await;
    rt(&mut c, &["HVALS", "h"], &bulks(&["10", "2", "3", "4", "x"])).await;
    rt(&mut c, &["HKEYS", "nokey"], b"*0\r\n").await;
    rt(&mut c, &["HVALS", "nokey"], b"*0\r\n").await;
    rt(&mut c, &["HGETALL", "nokey"], b"*0\r\n").await;
    rt(&mut c, &["HDEL", "h", "a", "zz", "b"], &int(2)).await;
    rt(&mut c, &["HDEL", "nokey", "a"], &int(0)).await;
    rt(
        &mut c,
        &["HGETALL", "h"],
        &bulks(&["n", "x", "d", "4", "c", "3"]),
    )
    .await;
    // An emptied hash disappears.
    rt(&mut c, &["HDEL", "h", "c", "d", "n"], &int(3)).await;
    rt(&mut c, &["EXISTS", "h"], &int(0)).await;
}

#[tokio::test]
async fn wrong_type_everywhere() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["SET", "s", "v"], OK).await;
    for cmd in [
        &["HSET", "s", "a", "1"][..],
        &["HMSET", "s", "a", "1"],
        &["HSETNX", "s", "a", "1"],
        &["HGET", "s", "a"],
        &["HMGET", "s", "a"],
        &["HGETALL", "s"],
        &["HDEL", "s", "a"],
        &["HLEN", "s"],
        &["HEXISTS", "s", "a"],
        &["HINCRBY", "s", "a", "1"],
        &["HINCRBYFLOAT", "s", "a", "1"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HSTRLEN", "s", "a"],
        &["HSCAN", "s", "0"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
    ] {
        c.cmd(cmd).await;
        ex(&mut c, &err(WRONGTYPE)).await;
    }
    rt(&mut c, &["GET", "s"], &bulk("v")).await;
    rt(&mut c, &["HSET", "h", "f", "v"], &int(1)).await;
    rt(&mut c, &["GET", "h"], &err(WRONGTYPE)).await;
    rt(
        &mut c,
        &["HGET", "h"],
        &err("ERR wrong number of arguments for 'hget' command"),
    )
    .await;
}

#[tokio::test]
async fn hincrby_and_float() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["HINCRBY", "h", "n", "5"], &int(5)).await;
    rt(&mut c, &["HINCRBY", "h", "n", "-7"], &int(-2)).await;
    rt(&mut c, &["HGET", "h", "n"], &bulk("-2")).await;
    rt(&mut c, &["HINCRBY", "h", "n", "x"], &err(NOT_INT)).await;
    rt(&mut c, &["HINCRBY", "h", "n", "1.5"], &err(NOT_INT)).await;
    rt(
        &mut c,
        &["HSET", "h", "s", "abc", "big", "9223372036854775800"],
        &int(2),
    )
    .await;
    rt(
        &mut c,
        &["HINCRBY", "h", "s", "1"],
        &err("ERR hash value is not an integer"),
    )
    .await;
    rt(
        &mut c,
        &["HINCRBY", "h", "big", "100"],
        &err("ERR increment or decrement would overflow"),
    )
    .await;
    rt(&mut c, &["HINCRBY", "h", "big", "7"], &int(i64::MAX)).await;
    // A failed increment on a new key leaves nothing behind.
    rt(&mut c, &["HINCRBY", "h2", "n", "x"], &err(NOT_INT)).await;
    rt(&mut c, &["EXISTS", "h2"], &int(0)).await;

    rt(&mut c, &["HINCRBYFLOAT", "f", "x", "10.5"], &bulk("10.5")).await;
    rt(&mut c, &["HINCRBYFLOAT", "f", "x", "0.1"], &bulk("10.6")).await;
    rt(&mut c, &["HINCRBYFLOAT", "f", "x", "-5.6"], &bulk("5")).await;
    rt(&mut c, &["HINCRBYFLOAT", "f", "x", "5.0e3"], &bulk("5005")).await;
    rt(
        &mut c,
        &["HINCRBYFLOAT", "f", "y", "1e21"],
        &bulk("1000000000000000000000"),
    )
    .await;
    rt(&mut c, &["HGET", "f", "x"], &bulk("5005")).await;
    rt(&mut c, &["HINCRBYFLOAT", "f", "x", "abc"], &err(NOT_FLOAT)).await;
    rt(
        &mut c,
        &["HINCRBYFLOAT", "f", "x", "inf"],
        &err("ERR value is NaN or Infinity"),
    )
    .await;
    rt(
        &mut c,
        &["HSET", "f", "s", "hello", "m", "1.7e308"],
        &int(2),
    )
    .await;
    rt(
        &mut c,
        &["HINCRBYFLOAT", "f", "s", "1"],
        &err("ERR hash value is not a float"),
    )
    .await;
    rt(
        &mut c,
        &["HINCRBYFLOAT", "f", "m", "1.7e308"],
        &err("ERR increment would produce NaN or Infinity"),
    )
    .await;
    rt(&mut c, &["HINCRBY", "f", "x", "1"], &int(5006)).await;
    rt(&mut c, &["HINCRBYFLOAT", "f", "x", "1"], &bulk("5007")).await;
}

#[tokio::test]
async fn resp3_shapes() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    hello3(&mut c).await;
    rt(&mut c, &["HSET", "h", "a", "1", "b", "2"], &int(2)).await;
    rt(
        &mut c,
        &["HGETALL", "h"],
        b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    )
    .await;
    rt(&mut c, &["HGETALL", "nokey"], b"%0\r\n").await;
    rt(&mut c, &["HGET", "h", "zz"], b"_\r\n").await;
    rt(
        &mut c,
        &["HMGET", "h", "a", "zz"],
        b"*2\r\n$1\r\n1\r\n_\r\n",
    )
    .await;
    rt(&mut c, &["HINCRBYFLOAT", "h", "a", "0.5"], &bulk("1.5")).await;
    // HRANDFIELD WITHVALUES: pairs in RESP3.
    let r = call(&mut c, &["HRANDFIELD", "h", "5", "WITHVALUES"]).await;
    assert_eq!(
        r,
        R::Agg(
            '*',
            vec![
                R::Agg('*', vec![R::Bulk("a".into()), R::Bulk("1.5".into())]),
                R::Agg('*', vec![R::Bulk("b".into()), R::Bulk("2".into())]),
            ]
        )
    );
    let r = call(&mut c, &["HRANDFIELD", "h", "-3", "WITHVALUES"]).await;
    assert_eq!(r.items().len(), 3);
    for pair in r.items() {
        let kv = strs(pair);
        assert!(kv == ["a", "1.5"] || kv == ["b", "2"], "{kv:?}");
    }
    rt(&mut c, &["HRANDFIELD", "nokey"], b"_\r\n").await;
    rt(
        &mut c,
        &["HSCAN", "h", "0"],
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$3\r\n1.5\r\n",
    )
    .await;
}

#[tokio::test]
async fn hrandfield_counts() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(
        &mut c,
        &["HSET", "h", "a", "1", "b", "2", "c", "3"],
        &int(3),
    )
    .await;
    rt(&mut c, &["HRANDFIELD", "nokey"], NIL).await;
    rt(&mut c, &["HRANDFIELD", "nokey", "3"], b"*0\r\n").await;
    rt(
        &mut c,
        &["HRANDFIELD", "nokey", "3", "WITHVALUES"],
        b"*0\r\n",
    )
    .await;
    rt(&mut c, &["HRANDFIELD", "h", "0"], b"*0\r\n").await;
    rt(&mut c, &["HRANDFIELD", "h", "x"], &err(NOT_INT)).await;
    rt(&mut c, &["HRANDFIELD", "h", "1", "xx"], &err(SYNTAX)).await;
    rt(
        &mut c,
        &["HRANDFIELD", "h", "1", "WITHVALUES", "x"],
        &err(SYNTAX),
    )
    .await;
    c.roundtrip(
        &["HRANDFIELD", "h", "-9223372036854775808"],
        &err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    )
    .await;
    rt(
        &mut c,
        &["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"],
        &err("ERR value is out of range"),
    )
    .await;

    let all: HashSet<&str> = ["a", "b", "c"].into();
    let one = call(&mut c, &["HRANDFIELD", "h"]).await;
    assert!(all.contains(one.str()));
    // Count >= size: the whole hash, distinct.
    let r = strs(&call(&mut c, &["HRANDFIELD", "h", "10"]).await);
    assert_eq!(r.iter().map(String::as_str).collect::<HashSet<_>>(), all);
    assert_eq!(r.len(), 3);
    // Positive count below size: distinct fields.
    for _ in 0..20 {
        let r = strs(&call(&mut c, &["HRANDFIELD", "h", "2"]).await);
        assert_eq!(r.len(), 2);
        assert_ne!(r[0], r[1]);
        assert!(r.iter().all(|f| all.contains(f.as_str())));
    }
    // Negative count: exactly |count| fields, repetitions allowed.
    let r = strs(&call(&mut c, &["HRANDFIELD", "h", "-10"]).await);
    assert_eq!(r.len(), 10);
    assert!(r.iter().all(|f| all.contains(f.as_str())));
    // RESP2 WITHVALUES: flat field, value list.
    let r = strs(&call(&mut c, &["HRANDFIELD", "h", "-4", "withvalues"]).await);
    assert_eq!(r.len(), 8);
    for kv in r.chunks(2) {
        let expect = match kv[0].as_str() {
            "a" => "1",
            "b" => "2",
            "c" => "3",
            other => panic!("{other}"),
        };
        assert_eq!(kv[1], expect);
    }
    let r = strs(&call(&mut c, &["HRANDFIELD", "h", "2", "WITHVALUES"]).await);
    assert_eq!(r.len(), 4);
    assert_ne!(r[0], r[2]);
}

#[tokio::test]
async fn hscan_small_and_large() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["HSCAN", "nokey", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n").await;
    rt(&mut c, &["HSCAN", "nokey", "x"], &err("ERR invalid cursor")).await;
    rt(
        &mut c,
        &["HSET", "small", "k1", "v1", "k2", "v2", "x", "y"],
        &int(3),
    )
    .await;
    rt(
        &mut c,
        &["HSCAN", "small", "-1"],
        &err("ERR invalid cursor"),
    )
    .await;
    rt(&mut c, &["HSCAN", "small", "0", "COUNT", "0"], &err(SYNTAX)).await;
    rt(
        &mut c,
        &["HSCAN", "small", "0", "COUNT", "x"],
        &err(NOT_INT),
    )
    .await;
    rt(&mut c, &["HSCAN", "small", "0", "MATCH"], &err(SYNTAX)).await;
    rt(&mut c, &["HSCAN", "small", "0", "BOGUS"], &err(SYNTAX)).await;
    // Small hashes come back whole with cursor 0, whatever COUNT says.
    let r = call(&mut c, &["HSCAN", "small", "0", "COUNT", "1"]).await;
    assert_eq!(r.items()[0], R::Bulk("0".into()));
    let mut pairs: Vec<(String, String)> = strs(&r.items()[1])
        .chunks(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("k1".into(), "v1".into()),
            ("k2".into(), "v2".into()),
            ("x".into(), "y".into())
        ]
    );
    let r = call(&mut c, &["HSCAN", "small", "0", "MATCH", "k*", "NOVALUES"]).await;
    let mut keys = strs(&r.items()[1]);
    keys.sort();
    assert_eq!(keys, ["k1", "k2"]);

    // A large hash: iterate with a small COUNT while deleting and adding fields; every field
    // present for the whole scan must be returned.
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..1000 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    rt(&mut c, &refs, &int(1000)).await;
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = call(&mut c, &["HSCAN", "big", &cursor, "COUNT", "37"]).await;
        calls += 1;
        cursor = r.items()[0].str().to_string();
        for kv in strs(&r.items()[1]).chunks(2) {
            seen.insert(kv[0].clone(), kv[1].clone());
        }
        // Churn: delete two fields that are not in the checked range, add one.
        let del_a = format!("f{}", 900 + calls * 2);
        let del_b = format!("f{}", 901 + calls * 2);
        call(&mut c, &["HDEL", "big", &del_a, &del_b]).await;
        call(&mut c, &["HSET", "big", &format!("new{calls}"), "x"]).await;
        if cursor == "0" {
            break;
        }
        assert!(calls < 200, "scan does not terminate");
    }
    assert!(calls > 10);
    for i in 0..900 {
        assert_eq!(
            seen.get(&format!("f{i}")).map(String::as_str),
            Some(format!("v{i}").as_str()),
            "f{i} missing"
        );
    }
    // MATCH filters, NOVALUES drops values, in the large case too.
    let mut cursor = "0".to_string();
    let mut matched = Vec::new();
    loop {
        let r = call(
            &mut c,
            &[
                "HSCAN", "big", &cursor, "MATCH", "f1?", "COUNT", "100", "NOVALUES",
            ],
        )
        .await;
        cursor = r.items()[0].str().to_string();
        matched.extend(strs(&r.items()[1]));
        if cursor == "0" {
            break;
        }
    }
    matched.sort();
    let mut expect: Vec<String> = (10..20).map(|i| format!("f{i}")).collect();
    expect.sort();
    assert_eq!(matched, expect);
}

#[tokio::test]
async fn ttl_is_kept_when_modified() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let _: i64 = q(&mut c, &["HSET", "h", "a", "1", "b", "2"]).await.unwrap();
    let _: i64 = q(&mut c, &["EXPIRE", "h", "100"]).await.unwrap();
    let _: i64 = q(&mut c, &["HSET", "h", "c", "3"]).await.unwrap();
    let _: i64 = q(&mut c, &["HDEL", "h", "a"]).await.unwrap();
    let _: i64 = q(&mut c, &["HINCRBY", "h", "b", "1"]).await.unwrap();
    let ttl: i64 = q(&mut c, &["TTL", "h"]).await.unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");
    let all: HashMap<String, String> = q(&mut c, &["HGETALL", "h"]).await.unwrap();
    assert_eq!(
        all,
        HashMap::from([("b".into(), "3".into()), ("c".into(), "3".into())])
    );
}
