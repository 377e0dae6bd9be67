//! Set commands over the real server: exact RESP2/RESP3 replies and Redis 7 error strings.

mod common;
use common::*;

use std::collections::HashSet;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
use common::reply::*;
fn sorted(r: &R) -> Vec<String> {
    let mut v = strs(r);
    v.sort();
    v
}

/// Send a command and return its reply's members, sorted.
async fn members(c: &mut RawConn, parts: &[&str]) -> Vec<String> {
    sorted(&call(c, parts).await)
}

#[tokio::test]
async fn add_remove_members() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["SADD", "s", "a", "b", "a", "c"], &int(3)).await;
    rt(&mut c, &["SADD", "s", "a", "d"], &int(1)).await;
    rt(
        &mut c,
        &["SADD", "s"],
        &err("ERR wrong number of arguments for 'sadd' command"),
    )
    .await;
    assert_eq!(
        members(&mut c, &["SMEMBERS", "s"]).await,
        ["a", "b", "c", "d"]
    );
    rt(&mut c, &["SMEMBERS", "nokey"], b"*0\r\n").await;
    rt(&mut c, &["SCARD", "s"], &int(4)).await;
    rt(&mut c, &["SCARD", "nokey"], &int(0)).await;
    rt(&mut c, &["SISMEMBER", "s", "a"], &int(1)).await;
    rt(&mut c, &["SISMEMBER", "s", "z"], &int(0)).await;
    rt(&mut c, &["SISMEMBER", "nokey", "z"], &int(0)).await;
    rt(
        &mut c,
        &["SMISMEMBER", "s", "a", "z", "d"],
        b"*3\r\n:1\r\n:0\r\n:1\r\n",
    )
    .await;
    rt(
        &mut c,
        &["SMISMEMBER", "nokey", "a", "z"],
        b"*2\r\n:0\r\n:0\r\n",
    )
    .await;
    rt(&mut c, &["SREM", "s", "a", "z", "b"], &int(2)).await;
    rt(&mut c, &["SREM", "nokey", "a"], &int(0)).await;
    rt(&mut c, &["SCARD", "s"], &int(2)).await;
    rt(&mut c, &["SREM", "s", "c", "d"], &int(2)).await;
    rt(&mut c, &["EXISTS", "s"], &int(0)).await;
}

#[tokio::test]
async fn wrong_type_everywhere() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["SET", "str", "v"], OK).await;
    rt(&mut c, &["SADD", "s", "a"], &int(1)).await;
    for cmd in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "0"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SUNION", "s", "str"],
        &["SINTER", "nokey", "str"],
        &["SDIFF", "s", "str"],
        &["SUNIONSTORE", "d", "s", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SINTERCARD", "2", "nokey", "str"],
        &["SSCAN", "str", "0"],
    ] {
        c.cmd(cmd).await;
        ex(&mut c, &err(WRONGTYPE)).await;
    }
    // Nothing was touched.
    rt(&mut c, &["GET", "str"], &bulk("v")).await;
    rt(&mut c, &["SMEMBERS", "s"], &bulks(&["a"])).await;
    rt(&mut c, &["EXISTS", "d"], &int(0)).await;
    // SMOVE from a missing source answers 0 before looking at the destination's type.
    rt(&mut c, &["SMOVE", "nokey", "str", "a"], &int(0)).await;
}

#[tokio::test]
async fn spop_and_srandmember() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    let all = ["a", "b", "c", "d", "e"];
    rt(&mut c, &["SADD", "s", "a", "b", "c", "d", "e"], &int(5)).await;
    rt(&mut c, &["SRANDMEMBER", "nokey"], NIL).await;
    rt(&mut c, &["SRANDMEMBER", "nokey", "3"], b"*0\r\n").await;
    rt(&mut c, &["SRANDMEMBER", "s", "0"], b"*0\r\n").await;
    rt(&mut c, &["SRANDMEMBER", "s", "x"], &err(NOT_INT)).await;
    rt(&mut c, &["SRANDMEMBER", "s", "1", "2"], &err(SYNTAX)).await;
    c.roundtrip(
        &["SRANDMEMBER", "s", "-9223372036854775808"],
        &err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    )
    .await;
    let one = call(&mut c, &["SRANDMEMBER", "s"]).await;
    assert!(all.contains(&one.str()));
    assert_eq!(members(&mut c, &["SRANDMEMBER", "s", "10"]).await, all);
    for _ in 0..20 {
        let r = members(&mut c, &["SRANDMEMBER", "s", "3"]).await;
        assert_eq!(r.len(), 3);
        assert!(r[0] != r[1] && r[1] != r[2], "{r:?}");
        assert!(r.iter().all(|m| all.contains(&m.as_str())));
    }
    let r = strs(&call(&mut c, &["SRANDMEMBER", "s", "-12"]).await);
    assert_eq!(r.len(), 12);
    assert!(r.iter().all(|m| all.contains(&m.as_str())));
    rt(&mut c, &["SCARD", "s"], &int(5)).await;

    rt(&mut c, &["SPOP", "nokey"], NIL).await;
    rt(&mut c, &["SPOP", "nokey", "2"], b"*0\r\n").await;
    rt(
        &mut c,
        &["SPOP", "s", "-1"],
        &err("ERR value is out of range, must be positive"),
    )
    .await;
    rt(&mut c, &["SPOP", "s", "x"], &err(NOT_INT)).await;
    rt(&mut c, &["SPOP", "s", "1", "2"], &err(SYNTAX)).await;
    rt(&mut c, &["SPOP", "s", "0"], b"*0\r\n").await;
    let one = call(&mut c, &["SPOP", "s"]).await.str().to_string();
    let two = strs(&call(&mut c, &["SPOP", "s", "2"]).await);
    assert_eq!(two.len(), 2);
    rt(&mut c, &["SCARD", "s"], &int(2)).await;
    let rest = strs(&call(&mut c, &["SPOP", "s", "100"]).await);
    let mut got: Vec<String> = [vec![one], two, rest].concat();
    got.sort();
    assert_eq!(got, all);
    rt(&mut c, &["EXISTS", "s"], &int(0)).await;
}

#[tokio::test]
async fn smove() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["SADD", "src", "a", "b"], &int(2)).await;
    rt(&mut c, &["SMOVE", "src", "dst", "a"], &int(1)).await;
    rt(&mut c, &["SMOVE", "src", "dst", "zz"], &int(0)).await;
    rt(&mut c, &["SMOVE", "src", "src", "b"], &int(1)).await;
    rt(&mut c, &["SMOVE", "src", "src", "zz"], &int(0)).await;
    rt(&mut c, &["SMEMBERS", "dst"], &bulks(&["a"])).await;
    rt(&mut c, &["SADD", "dst", "b"], &int(1)).await;
    // Moving onto a member the destination already has still removes it from the source.
    rt(&mut c, &["SMOVE", "src", "dst", "b"], &int(1)).await;
    rt(&mut c, &["EXISTS", "src"], &int(0)).await;
    assert_eq!(members(&mut c, &["SMEMBERS", "dst"]).await, ["a", "b"]);
    rt(&mut c, &["SMOVE", "nokey", "dst", "a"], &int(0)).await;
}

#[tokio::test]
async fn algebra() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["SADD", "s1", "a", "b", "c", "d"], &int(4)).await;
    rt(&mut c, &["SADD", "s2", "c", "d", "e"], &int(3)).await;
    rt(&mut c, &["SADD", "s3", "a", "c", "e"], &int(3)).await;
    assert_eq!(
        members(&mut c, &["SUNION", "s1", "s2", "nokey"]).await,
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(members(&mut c, &["SINTER", "s1", "s2"]).await, ["c", "d"]);
    assert_eq!(members(&mut c, &["SINTER", "s1", "s2", "s3"]).await, ["c"]);
    assert_eq!(
        members(&mut c, &["SINTER", "s1", "s1"]).await,
        ["a", "b", "c", "d"]
    );
    rt(&mut c, &["SINTER", "s1", "nokey"], b"*0\r\n").await;
    assert_eq!(members(&mut c, &["SDIFF", "s1", "s2"]).await, ["a", "b"]);
    assert_eq!(members(&mut c, &["SDIFF", "s1", "s2", "s3"]).await, ["b"]);
    assert_eq!(
        members(&mut c, &["SDIFF", "s1", "nokey"]).await,
        ["a", "b", "c", "d"]
    );
    rt(&mut c, &["SDIFF", "s1", "s1"], b"*0\r\n").await;
    rt(&mut c, &["SDIFF", "nokey", "s1"], b"*0\r\n").await;
    rt(
        &mut c,
        &["SUNION"],
        &err("ERR wrong number of arguments for 'sunion' command"),
    )
    .await;

    rt(&mut c, &["SUNIONSTORE", "u", "s1", "s2"], &int(5)).await;
    assert_eq!(
        members(&mut c, &["SMEMBERS", "u"]).await,
        ["a", "b", "c", "d", "e"]
    );
    rt(&mut c, &["SINTERSTORE", "i", "s1", "s2"], &int(2)).await;
    assert_eq!(members(&mut c, &["SMEMBERS", "i"]).await, ["c", "d"]);
    rt(&mut c, &["SDIFFSTORE", "d", "s1", "s2"], &int(2)).await;
    assert_eq!(members(&mut c, &["SMEMBERS", "d"]).await, ["a", "b"]);
    // The destination may be a source, and is overwritten whatever it held (TTL dropped).
    rt(&mut c, &["SDIFFSTORE", "s1", "s1", "s3"], &int(2)).await;
    assert_eq!(members(&mut c, &["SMEMBERS", "s1"]).await, ["b", "d"]);
    rt(&mut c, &["SET", "str", "v"], OK).await;
    rt(&mut c, &["EXPIRE", "str", "100"], &int(1)).await;
    rt(&mut c, &["SUNIONSTORE", "str", "s2"], &int(3)).await;
    rt(&mut c, &["TTL", "str"], &int(-1)).await;
    assert_eq!(members(&mut c, &["SMEMBERS", "str"]).await, ["c", "d", "e"]);
    // An empty result deletes the destination.
    rt(&mut c, &["SINTERSTORE", "u", "s1", "nokey"], &int(0)).await;
    rt(&mut c, &["EXISTS", "u"], &int(0)).await;
    rt(&mut c, &["SDIFFSTORE", "i", "s2", "s2"], &int(0)).await;
    rt(&mut c, &["EXISTS", "i"], &int(0)).await;
    rt(&mut c, &["SUNIONSTORE", "d", "nokey"], &int(0)).await;
    rt(&mut c, &["EXISTS", "d"], &int(0)).await;
    rt(
        &mut c,
        &["SUNIONSTORE", "d"],
        &err("ERR wrong number of arguments for 'sunionstore' command"),
    )
    .await;
}

#[tokio::test]
async fn sintercard() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["SADD", "s1", "a", "b", "c", "d"], &int(4)).await;
    rt(&mut c, &["SADD", "s2", "b", "c", "d", "e"], &int(4)).await;
    rt(&mut c, &["SINTERCARD", "2", "s1", "s2"], &int(3)).await;
    rt(&mut c, &["SINTERCARD", "1", "s1"], &int(4)).await;
    rt(
        &mut c,
        &["SINTERCARD", "2", "s1", "s2", "LIMIT", "2"],
        &int(2),
    )
    .await;
    rt(
        &mut c,
        &["SINTERCARD", "2", "s1", "s2", "limit", "0"],
        &int(3),
    )
    .await;
    rt(
        &mut c,
        &["SINTERCARD", "2", "s1", "s2", "LIMIT", "10"],
        &int(3),
    )
    .await;
    rt(&mut c, &["SINTERCARD", "2", "s1", "nokey"], &int(0)).await;
    rt(
        &mut c,
        &["SINTERCARD", "0", "s1"],
        &err("ERR numkeys should be greater than 0"),
    )
    .await;
    rt(
        &mut c,
        &["SINTERCARD", "x", "s1"],
        &err("ERR numkeys should be greater than 0"),
    )
    .await;
    rt(
        &mut c,
        &["SINTERCARD", "3", "s1", "s2"],
        &err("ERR Number of keys can't be greater than number of args"),
    )
    .await;
    rt(
        &mut c,
        &["SINTERCARD", "2", "s1", "s2", "LIMIT", "-1"],
        &err("ERR LIMIT can't be negative"),
    )
    .await;
    rt(
        &mut c,
        &["SINTERCARD", "2", "s1", "s2", "LIMIT", "x"],
        &err("ERR LIMIT can't be negative"),
    )
    .await;
    rt(
        &mut c,
        &["SINTERCARD", "2", "s1", "s2", "LIMIT"],
        &err(SYNTAX),
    )
    .await;
    rt(&mut c, &["SINTERCARD", "1", "s1", "s2"], &err(SYNTAX)).await;
}

#[tokio::test]
async fn resp3_shapes() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    hello3(&mut c).await;
    rt(&mut c, &["SADD", "s1", "a", "b"], &int(2)).await;
    rt(&mut c, &["SADD", "s2", "b"], &int(1)).await;
    rt(&mut c, &["SMEMBERS", "nokey"], b"~0\r\n").await;
    rt(&mut c, &["SMEMBERS", "s2"], b"~1\r\n$1\r\nb\r\n").await;
    rt(&mut c, &["SINTER", "s1", "s2"], b"~1\r\n$1\r\nb\r\n").await;
    rt(&mut c, &["SDIFF", "s1", "s2"], b"~1\r\n$1\r\na\r\n").await;
    let r = call(&mut c, &["SUNION", "s1", "s2"]).await;
    assert!(matches!(r, R::Agg('~', _)), "{r:?}");
    assert_eq!(sorted(&r), ["a", "b"]);
    rt(&mut c, &["SINTER", "s1", "nokey"], b"~0\r\n").await;
    // SRANDMEMBER with a count may repeat members: an array.
    rt(
        &mut c,
        &["SRANDMEMBER", "s2", "-2"],
        b"*2\r\n$1\r\nb\r\n$1\r\nb\r\n",
    )
    .await;
    rt(&mut c, &["SRANDMEMBER", "s2", "5"], b"*1\r\n$1\r\nb\r\n").await;
    rt(&mut c, &["SRANDMEMBER", "nokey"], b"_\r\n").await;
    rt(&mut c, &["SPOP", "nokey"], b"_\r\n").await;
    rt(&mut c, &["SPOP", "nokey", "1"], b"~0\r\n").await;
    rt(&mut c, &["SPOP", "s2", "0"], b"~0\r\n").await;
    rt(&mut c, &["SPOP", "s2", "1"], b"~1\r\n$1\r\nb\r\n").await;
    rt(
        &mut c,
        &["SSCAN", "s1", "0", "MATCH", "a"],
        b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n",
    )
    .await;
}

#[tokio::test]
async fn sscan_guarantee() {
    let srv = TestServer::start().await;
    let mut c = srv.raw().await;
    rt(&mut c, &["SSCAN", "nokey", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n").await;
    rt(
        &mut c,
        &["SSCAN", "nokey", "abc"],
        &err("ERR invalid cursor"),
    )
    .await;
    rt(&mut c, &["SADD", "small", "m1", "m2", "x"], &int(3)).await;
    rt(&mut c, &["SSCAN", "small", "0", "NOVALUES"], &err(SYNTAX)).await;
    rt(&mut c, &["SSCAN", "small", "0", "COUNT", "0"], &err(SYNTAX)).await;
    rt(
        &mut c,
        &["SSCAN", "small", "0", "COUNT", "-3"],
        &err(SYNTAX),
    )
    .await;
    rt(
        &mut c,
        &["SSCAN", "small", "0", "COUNT", "z"],
        &err(NOT_INT),
    )
    .await;
    let r = call(
        &mut c,
        &["SSCAN", "small", "0", "MATCH", "m*", "COUNT", "1"],
    )
    .await;
    assert_eq!(r.items()[0], R::Bulk("0".into()));
    assert_eq!(sorted(&r.items()[1]), ["m1", "m2"]);

    let mut args: Vec<String> = vec!["SADD".into(), "big".into()];
    args.extend((0..2000).map(|i| format!("m{i}")));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    rt(&mut c, &refs, &int(2000)).await;
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = call(&mut c, &["SSCAN", "big", &cursor, "COUNT", "50"]).await;
        calls += 1;
        cursor = r.items()[0].str().to_string();
        seen.extend(strs(&r.items()[1]));
        // Churn the set between calls: remove members outside the checked range, add others.
        let dels: Vec<String> = (0..3)
            .map(|j| format!("m{}", 1800 + calls * 3 + j))
            .collect();
        let mut srem = vec!["SREM", "big"];
        srem.extend(dels.iter().map(String::as_str));
        call(&mut c, &srem).await;
        call(
            &mut c,
            &[
                "SADD",
                "big",
                &format!("new{calls}"),
                &format!("new{calls}b"),
            ],
        )
        .await;
        if cursor == "0" {
            break;
        }
        assert!(calls < 200, "scan does not terminate");
    }
    assert!(calls >= 40, "{calls}");
    for i in 0..1800 {
        assert!(seen.contains(&format!("m{i}")), "m{i} missing");
    }
}

#[tokio::test]
async fn ttl_kept_and_redis_crate_types() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let n: i64 = q(&mut c, &["SADD", "s", "a", "b", "c"]).await.unwrap();
    assert_eq!(n, 3);
    let _: i64 = q(&mut c, &["EXPIRE", "s", "100"]).await.unwrap();
    let _: i64 = q(&mut c, &["SADD", "s", "d"]).await.unwrap();
    let _: i64 = q(&mut c, &["SREM", "s", "a"]).await.unwrap();
    let _: String = q(&mut c, &["SPOP", "s"]).await.unwrap();
    let ttl: i64 = q(&mut c, &["TTL", "s"]).await.unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");
    let m: HashSet<String> = q(&mut c, &["SMEMBERS", "s"]).await.unwrap();
    assert_eq!(m.len(), 2);
    let flags: Vec<bool> = q(&mut c, &["SMISMEMBER", "s", "a", "zz"]).await.unwrap();
    assert_eq!(flags, [false, false]);
}
