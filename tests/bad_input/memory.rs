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

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .trim()
        .parse()
        .unwrap()
}

/// Finding 1/6: SETRANGE with an offset near 512 MiB used to allocate (and zero) the whole
/// value before any memory check; under an 8 MiB maxmemory it is refused with OOM before
/// allocating, leaves no key behind, and the server keeps answering.
#[tokio::test]
async fn setrange_huge_offset_is_oom_checked_before_allocating() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 8 << 20;
    cfg.memory.eviction = ferrite_config::EvictionPolicy::Noeviction;
    let srv = TestServer::start_with(cfg).await;
    let mut raw = srv.raw().await;
    raw.roundtrip(
        &["SETRANGE", "big", "536870911", "x"],
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    )
    .await;
    raw.roundtrip(&["EXISTS", "big"], b":0\r\n").await;
    // Past 512 MiB: Redis's proto-max-bulk-len error, also before any work.
    raw.roundtrip(
        &["SETRANGE", "big", "536870912", "x"],
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    )
    .await;
    // APPEND growing past the budget is refused the same way, keeping the old value.
    let chunk = "a".repeat(1 << 20);
    let mut oom = false;
    for _ in 0..16 {
        raw.cmd(&["APPEND", "s", &chunk]).await;
        let head = raw.read_n(1).await;
        if head == b"-" {
            let rest = raw.read_n(57).await;
            assert_eq!(
                String::from_utf8_lossy(&rest),
                "OOM command not allowed when used memory > 'maxmemory'.\r\n"
            );
            oom = true;
            break;
        }
        assert_eq!(head, b":");
        // The new length, "NNNNNNN\r\n" (7 digits below 10 MB).
        let _ = raw.read_n(9).await;
    }
    assert!(oom, "APPEND never hit maxmemory");
    let mut c = srv.client().await;
    let info: String = q(&mut c, &["INFO", "memory"]).await.unwrap();
    assert!(info_field(&info, "used_memory") <= 8 << 20, "{info}");
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// Finding 6: APPEND grows in place (amortised doubling) and SETRANGE writes in place; the
/// content is exact and what is charged is the capacity allocated (at most ~2x the length).
#[tokio::test]
async fn append_and_setrange_grow_in_place_with_exact_content() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let chunk: String = (0..65536).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    for i in 1..=64usize {
        let n: usize = q(&mut c, &["APPEND", "k", &chunk]).await.unwrap();
        assert_eq!(n, i * chunk.len());
    }
    let n: usize = q(&mut c, &["SETRANGE", "k", "100000", "HELLO"]).await.unwrap();
    assert_eq!(n, 64 * 65536);
    let got: String = q(&mut c, &["GETRANGE", "k", "99998", "100006"])
        .await
        .unwrap();
    let mut want = chunk.as_bytes()[(99998 % 65536)..(99998 % 65536) + 2].to_vec();
    want.extend_from_slice(b"HELLO");
    want.extend_from_slice(&chunk.as_bytes()[(100005 % 65536)..(100005 % 65536) + 2]);
    assert_eq!(got.as_bytes(), &want[..]);
    let whole: Vec<u8> = q(&mut c, &["GET", "k"]).await.unwrap();
    assert_eq!(whole.len(), 64 * 65536);
    assert_eq!(&whole[100000..100005], b"HELLO");
    assert_eq!(&whole[..65536], chunk.as_bytes());
    let usage: u64 = q(&mut c, &["MEMORY", "USAGE", "k"]).await.unwrap();
    assert!(
        usage >= 64 * 65536 && usage <= 2 * 64 * 65536 + 4096,
        "MEMORY USAGE {usage}"
    );
    // Appending to a value a reader also holds (copy-on-write) and past the 4 KiB compact
    // string size both keep the content.
    let _: () = q(&mut c, &["SET", "small", "abc"]).await.unwrap();
    for _ in 0..3000 {
        let _: usize = q(&mut c, &["APPEND", "small", "xyz"]).await.unwrap();
    }
    let v: String = q(&mut c, &["GET", "small"]).await.unwrap();
    assert_eq!(v.len(), 3 + 9000);
    assert!(v.starts_with("abcxyzxyz") && v.ends_with("xyzxyz"));
    let _: () = q(&mut c, &["DEL", "k", "small"]).await.unwrap();
    let info: String = q(&mut c, &["INFO", "memory"]).await.unwrap();
    assert!(info_field(&info, "used_memory") < 1 << 20, "{info}");
}
