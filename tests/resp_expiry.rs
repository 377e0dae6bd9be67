//! Key expiry over the real server: lazy and active expiry, TTL/PTTL, EXPIRE & co. with their
//! Redis 7 options, EXPIRETIME, PERSIST, SET KEEPTTL, GETEX.

mod common;
use common::*;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value as V;

type Conn = redis::aio::MultiplexedConnection;

async fn ok(c: &mut Conn, args: &[&str]) {
    let r: String = q(c, args).await.unwrap();
    assert_eq!(r, "OK", "{args:?}");
}

async fn int(c: &mut Conn, args: &[&str]) -> i64 {
    q(c, args).await.unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

async fn err(c: &mut Conn, args: &[&str]) -> String {
    let e = q::<V>(c, args).await.expect_err("command should fail");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn lazy_expiry() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "k", "v", "PX", "50"]).await;
    let v: Option<String> = q(&mut c, &["GET", "k"]).await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let v: Option<String> = q(&mut c, &["GET", "k"]).await.unwrap();
    assert_eq!(v, None);
    assert_eq!(int(&mut c, &["EXISTS", "k"]).await, 0);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, -2);
    let t: String = q(&mut c, &["TYPE", "k"]).await.unwrap();
    assert_eq!(t, "none");
    // Collections expire too.
    int(&mut c, &["RPUSH", "l", "a"]).await;
    assert_eq!(int(&mut c, &["PEXPIRE", "l", "30"]).await, 1);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(int(&mut c, &["LLEN", "l"]).await, 0);
    assert_eq!(int(&mut c, &["EXISTS", "l"]).await, 0);
}

#[tokio::test]
async fn active_expiry_reclaims_untouched_keys() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET")
            .arg(format!("tmp:{i}"))
            .arg("v")
            .arg("PX")
            .arg(50)
            .ignore();
    }
    ok(&mut c, &["SET", "keeper", "v"]).await;
    pipe.query_async::<()>(&mut c).await.unwrap();
    // DBSIZE counts keys not yet reaped, so it only drops because of the active cycle.
    assert!(int(&mut c, &["DBSIZE"]).await > 900);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = int(&mut c, &["DBSIZE"]).await;
        if n == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "active expiry left {n} keys"
        );
    }
    let v: Option<String> = q(&mut c, &["GET", "keeper"]).await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
}

#[tokio::test]
async fn ttl_and_pttl_values() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    assert_eq!(int(&mut c, &["TTL", "missing"]).await, -2);
    assert_eq!(int(&mut c, &["PTTL", "missing"]).await, -2);
    ok(&mut c, &["SET", "forever", "v"]).await;
    assert_eq!(int(&mut c, &["TTL", "forever"]).await, -1);
    assert_eq!(int(&mut c, &["PTTL", "forever"]).await, -1);

    ok(&mut c, &["SET", "k", "v", "EX", "100"]).await;
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 100);
    let p = int(&mut c, &["PTTL", "k"]).await;
    assert!((99_000..=100_000).contains(&p), "pttl {p}");
    // TTL rounds to the nearest second: ~1.8 s left reads as 2, ~1.2 s as 1.
    ok(&mut c, &["SET", "r", "v", "PX", "1800"]).await;
    assert_eq!(int(&mut c, &["TTL", "r"]).await, 2);
    ok(&mut c, &["SET", "r", "v", "PX", "1200"]).await;
    assert_eq!(int(&mut c, &["TTL", "r"]).await, 1);
}

#[tokio::test]
async fn expire_variants() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    assert_eq!(int(&mut c, &["EXPIRE", "missing", "10"]).await, 0);
    ok(&mut c, &["SET", "k", "v"]).await;
    assert_eq!(int(&mut c, &["EXPIRE", "k", "10"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 10);
    assert_eq!(int(&mut c, &["PEXPIRE", "k", "5000"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 5);

    let at = now_ms() / 1000 + 1000;
    assert_eq!(int(&mut c, &["EXPIREAT", "k", &at.to_string()]).await, 1);
    let t = int(&mut c, &["TTL", "k"]).await;
    assert!((998..=1000).contains(&t), "ttl {t}");
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]).await, at);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]).await, at * 1000);

    let pat = now_ms() + 20_000;
    assert_eq!(int(&mut c, &["PEXPIREAT", "k", &pat.to_string()]).await, 1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]).await, pat);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]).await, (pat + 500) / 1000);

    // A time in the past (or zero / negative) deletes the key and reports 1.
    ok(&mut c, &["SET", "a", "v"]).await;
    assert_eq!(int(&mut c, &["EXPIRE", "a", "0"]).await, 1);
    assert_eq!(int(&mut c, &["EXISTS", "a"]).await, 0);
    ok(&mut c, &["SET", "a", "v"]).await;
    assert_eq!(int(&mut c, &["PEXPIRE", "a", "-100"]).await, 1);
    assert_eq!(int(&mut c, &["EXISTS", "a"]).await, 0);
    ok(&mut c, &["SET", "a", "v"]).await;
    assert_eq!(int(&mut c, &["EXPIREAT", "a", "1"]).await, 1);
    assert_eq!(int(&mut c, &["EXISTS", "a"]).await, 0);
    ok(&mut c, &["SET", "a", "v"]).await;
    assert_eq!(
        int(&mut c, &["PEXPIREAT", "a", &(now_ms() - 10).to_string()]).await,
        1
    );
    assert_eq!(int(&mut c, &["EXISTS", "a"]).await, 0);

    assert_eq!(int(&mut c, &["EXPIRETIME", "missing"]).await, -2);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "missing"]).await, -2);
    ok(&mut c, &["SET", "p", "v"]).await;
    assert_eq!(int(&mut c, &["EXPIRETIME", "p"]).await, -1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "p"]).await, -1);

    // Errors.
    assert_eq!(
        err(&mut c, &["EXPIRE", "p", "abc"]).await,
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "p", "9223372036854775807"]).await,
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err(&mut c, &["PEXPIRE", "p", "9223372036854775807"]).await,
        "ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        err(&mut c, &["EXPIREAT", "p", "9223372036854775807"]).await,
        "ERR invalid expire time in 'expireat' command"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "p"]).await,
        "ERR wrong number of arguments for 'expire' command"
    );
    assert_eq!(int(&mut c, &["TTL", "p"]).await, -1);
}

#[tokio::test]
async fn expire_options_nx_xx_gt_lt() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "k", "v"]).await;
    // XX: only when a TTL exists.
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "XX"]).await, 0);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, -1);
    // GT: no TTL counts as infinite, so GT never applies.
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "GT"]).await, 0);
    // NX: only when there is no TTL.
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "nx"]).await, 1);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "200", "NX"]).await, 0);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 100);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "200", "XX"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 200);
    // GT / LT compare with the current expiry.
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "GT"]).await, 0);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "300", "GT"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 300);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "400", "LT"]).await, 0);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "50", "lt"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 50);
    assert_eq!(int(&mut c, &["PEXPIRE", "k", "60000", "XX", "GT"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 60);
    // LT on a key without TTL: the new one is smaller than infinity.
    ok(&mut c, &["SET", "p", "v"]).await;
    assert_eq!(int(&mut c, &["EXPIRE", "p", "30", "LT"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "p"]).await, 30);
    // Options on a missing key: 0.
    assert_eq!(int(&mut c, &["EXPIRE", "missing", "30", "NX"]).await, 0);

    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "10", "NX", "XX"]).await,
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "10", "NX", "GT"]).await,
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "10", "GT", "LT"]).await,
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "10", "FOO"]).await,
        "ERR Unsupported option FOO"
    );
    // Options are checked before the time argument, like Redis.
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "x", "FOO"]).await,
        "ERR Unsupported option FOO"
    );
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 60);
}

#[tokio::test]
async fn persist_and_keepttl() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    assert_eq!(int(&mut c, &["PERSIST", "missing"]).await, 0);
    ok(&mut c, &["SET", "k", "v"]).await;
    assert_eq!(int(&mut c, &["PERSIST", "k"]).await, 0);
    ok(&mut c, &["SET", "k", "v", "EX", "100"]).await;
    assert_eq!(int(&mut c, &["PERSIST", "k"]).await, 1);
    assert_eq!(int(&mut c, &["TTL", "k"]).await, -1);

    // A plain SET clears the TTL, KEEPTTL keeps it.
    ok(&mut c, &["SET", "k", "v", "EX", "100"]).await;
    ok(&mut c, &["SET", "k", "v2", "KEEPTTL"]).await;
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 100);
    ok(&mut c, &["SET", "k", "v3"]).await;
    assert_eq!(int(&mut c, &["TTL", "k"]).await, -1);

    // Modifying a value keeps its TTL.
    ok(&mut c, &["SET", "n", "1", "EX", "100"]).await;
    int(&mut c, &["INCR", "n"]).await;
    assert_eq!(int(&mut c, &["TTL", "n"]).await, 100);
    int(&mut c, &["RPUSH", "l", "a"]).await;
    int(&mut c, &["EXPIRE", "l", "100"]).await;
    int(&mut c, &["RPUSH", "l", "b"]).await;
    assert_eq!(int(&mut c, &["TTL", "l"]).await, 100);
}

#[tokio::test]
async fn getex_sets_and_clears_ttl() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "k", "v"]).await;
    let v: String = q(&mut c, &["GETEX", "k", "EX", "100"]).await.unwrap();
    assert_eq!(v, "v");
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 100);
    let _: String = q(&mut c, &["GETEX", "k"]).await.unwrap();
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 100);
    let _: String = q(&mut c, &["GETEX", "k", "PX", "5000"]).await.unwrap();
    assert_eq!(int(&mut c, &["TTL", "k"]).await, 5);
    let at = now_ms() / 1000 + 500;
    let _: String = q(&mut c, &["GETEX", "k", "EXAT", &at.to_string()])
        .await
        .unwrap();
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]).await, at);
    let _: String = q(&mut c, &["GETEX", "k", "PERSIST"]).await.unwrap();
    assert_eq!(int(&mut c, &["TTL", "k"]).await, -1);
    let none: Option<String> = q(&mut c, &["GETEX", "missing", "EX", "10"]).await.unwrap();
    assert_eq!(none, None);
    assert_eq!(
        err(&mut c, &["GETEX", "k", "EX", "0"]).await,
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(int(&mut c, &["TTL", "k"]).await, -1);
}

#[tokio::test]
async fn expired_keys_are_not_renamed_or_copied() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    ok(&mut c, &["SET", "k", "v", "PX", "20"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(err(&mut c, &["RENAME", "k", "x"]).await, "ERR no such key");
    assert_eq!(int(&mut c, &["COPY", "k", "x"]).await, 0);
    assert_eq!(int(&mut c, &["PERSIST", "k"]).await, 0);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100"]).await, 0);
}
