//! Memory an attacker can make the server hold: huge replies, replay rings, MULTI queues, client
//! buffers, amplification by APPEND/SETRANGE (issue 12 findings 1, 4 and 6).

use std::time::Duration;

use crate::common::*;

/// A small reply limit keeps the tests quick: 1 MiB.
const REPLY_LIMIT: u64 = 1 << 20;

fn small_reply_limit() -> ferrite_config::Config {
    let mut c = test_config();
    c.limits.reply_buffer_limit = REPLY_LIMIT;
    c
}

/// The error a too-large count gets, then PING still answers on the same connection.
async fn refused_then_ping(raw: &mut RawConn, parts: &[&str]) {
    raw.cmd(parts).await;
    let head = raw.read_n(4).await;
    assert_eq!(&head, b"-ERR", "{parts:?} must be refused");
    // The rest of the error line.
    let mut line = head;
    while !line.ends_with(b"\r\n") {
        let b = raw.read_n(1).await;
        assert!(!b.is_empty(), "error line never ended");
        line.extend_from_slice(&b);
    }
    let text = String::from_utf8_lossy(&line);
    assert!(
        text.contains("reply buffer limit"),
        "{parts:?}: unexpected error {text}"
    );
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// Finding 1: a negative count asks for as many repetitions as the client likes. The reply is
/// refused at once (no work under the shard lock), every variant, and the server stays up.
#[tokio::test]
async fn random_member_huge_negative_counts_are_refused() {
    let srv = TestServer::start_with(small_reply_limit()).await;
    let mut raw = srv.raw().await;
    raw.roundtrip(&["SADD", "s", "a", "b", "c"], b":3\r\n").await;
    raw.roundtrip(&["HSET", "h", "a", "1", "b", "2"], b":2\r\n")
        .await;
    raw.roundtrip(&["ZADD", "z", "1", "a", "2", "b"], b":2\r\n")
        .await;
    let huge = "-9223372036854775807";
    let half = "-4611686018427387903";
    for cmd in [
        &["SRANDMEMBER", "s", huge][..],
        &["HRANDFIELD", "h", huge],
        &["HRANDFIELD", "h", half, "WITHVALUES"],
        &["ZRANDMEMBER", "z", huge],
        &["ZRANDMEMBER", "z", half, "WITHSCORES"],
    ] {
        // Before the fix each of these built the reply under the shard lock until the process
        // aborted; a 5 s read timeout in `read_n` turns that into a failure here.
        tokio::time::timeout(Duration::from_secs(5), refused_then_ping(&mut raw, cmd))
            .await
            .expect("answered promptly");
    }
    // Another client is answered too, and the data is intact.
    let mut c = srv.client().await;
    let n: i64 = q(&mut c, &["SCARD", "s"]).await.unwrap();
    assert_eq!(n, 3);
}

/// Finding 1, the streamed half: a count small enough that its smallest possible reply fits,
/// but whose members make it pass the limit, is cut off at the limit and refused the same way.
#[tokio::test]
async fn random_member_reply_past_the_limit_is_refused_midway() {
    let srv = TestServer::start_with(small_reply_limit()).await;
    let mut raw = srv.raw().await;
    let big = "x".repeat(4000);
    raw.roundtrip(&["SADD", "s", &big], b":1\r\n").await;
    raw.roundtrip(&["HSET", "h", "f", &big], b":1\r\n").await;
    raw.roundtrip(&["ZADD", "z", "1", &big], b":1\r\n").await;
    // 1000 x 4 KB = 4 MB > 1 MiB, while 1000 x 6 B would fit.
    for cmd in [
        &["SRANDMEMBER", "s", "-1000"][..],
        &["HRANDFIELD", "h", "-1000", "WITHVALUES"],
        &["ZRANDMEMBER", "z", "-1000", "WITHSCORES"],
    ] {
        refused_then_ping(&mut raw, cmd).await;
    }
    // Counts whose reply fits are still served in full.
    let mut c = srv.client().await;
    let v: Vec<String> = q(&mut c, &["SRANDMEMBER", "s", "-100"]).await.unwrap();
    assert_eq!(v.len(), 100);
    let v: Vec<String> = q(&mut c, &["ZRANDMEMBER", "z", "-50", "WITHSCORES"])
        .await
        .unwrap();
    assert_eq!(v.len(), 100);
}
