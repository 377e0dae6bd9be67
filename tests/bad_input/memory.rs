//! Memory an attacker can make the server hold: huge replies, replay rings, MULTI queues, client
//! buffers, amplification by APPEND/SETRANGE (issue 12 findings 1, 4 and 6).

use std::time::Duration;

use crate::common::*;

/// What `used_memory` may pass `maxmemory` by: a write makes room for its argument bytes before
/// it runs, not for the per-entry overheads it then charges; client buffers make room before
/// they are charged, but a noeviction server cannot.
const SLACK: u64 = 128 << 10;

/// Redis's reply to a write refused at `maxmemory`.
const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// Sends `cmd(i)` for i = 0, 1, ... while each is answered `ok`, until one is answered with
/// [`OOM`]; returns how many were accepted. Fails if none is refused within `cap` commands.
async fn accepted_until_oom(
    raw: &mut RawConn,
    ok: &[u8],
    cap: usize,
    cmd: impl Fn(usize) -> Vec<String>,
) -> usize {
    for i in 0..cap {
        let parts = cmd(i);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        raw.cmd(&parts).await;
        let head = raw.read_n(ok.len()).await;
        if head == ok {
            continue;
        }
        let rest = raw.read_n(OOM.len() - ok.len()).await;
        assert_eq!(
            String::from_utf8_lossy(&[head, rest].concat()),
            String::from_utf8_lossy(OOM),
            "command #{i}"
        );
        return i;
    }
    panic!("{cap} commands and none refused at maxmemory");
}

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
    raw.roundtrip(&["SADD", "s", "a", "b", "c"], b":3\r\n")
        .await;
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

/// SORT's GET patterns multiply the reply (or stored list) by as many GETs as the client
/// sends: past the reply limit it is refused, with nothing stored, and the server goes on.
#[tokio::test]
async fn sort_with_many_gets_is_bounded() {
    let srv = TestServer::start_with(small_reply_limit()).await;
    let mut raw = srv.raw().await;
    let big = "x".repeat(4000);
    raw.roundtrip(&["SET", "v_1", &big], b"+OK\r\n").await;
    raw.roundtrip(&["RPUSH", "l", "1", "1", "1", "1", "1"], b":5\r\n")
        .await;
    // 5 elements x 100 GETs x 4 KB = 2 MB > 1 MiB.
    let mut cmd = vec!["SORT", "l"];
    for _ in 0..100 {
        cmd.extend(["GET", "v_*"]);
    }
    refused_then_ping(&mut raw, &cmd).await;
    cmd.extend(["STORE", "dst"]);
    refused_then_ping(&mut raw, &cmd).await;
    raw.roundtrip(&["EXISTS", "dst"], b":0\r\n").await;
    // Fewer GETs fit.
    raw.roundtrip(
        &["SORT", "l", "GET", "v_*", "GET", "#", "STORE", "dst"],
        b":10\r\n",
    )
    .await;
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
    raw.roundtrip(&["SETRANGE", "big", "536870911", "x"], OOM)
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
            let rest = raw.read_n(OOM.len() - 1).await;
            assert_eq!(
                String::from_utf8_lossy(&rest),
                String::from_utf8_lossy(&OOM[1..])
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
    assert!(
        info_field(&info, "used_memory") <= (8 << 20) + SLACK,
        "{info}"
    );
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// SETBIT and BITFIELD at offsets near 2^32 bits take the same path as SETRANGE: refused with
/// OOM under an 8 MiB maxmemory before allocating, leaving no key behind; the existing value
/// (and its bits) are kept; past the largest offset, Redis's offset error.
#[tokio::test]
async fn setbit_and_bitfield_huge_offsets_are_oom_checked_before_allocating() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 8 << 20;
    cfg.memory.eviction = ferrite_config::EvictionPolicy::Noeviction;
    let srv = TestServer::start_with(cfg).await;
    let mut raw = srv.raw().await;
    raw.roundtrip(&["SETBIT", "big", "4294967295", "1"], OOM)
        .await;
    raw.roundtrip(&["BITFIELD", "big", "SET", "u8", "4294967200", "1"], OOM)
        .await;
    raw.roundtrip(&["EXISTS", "big"], b":0\r\n").await;
    raw.roundtrip(&["SETBIT", "s", "7", "1"], b":0\r\n").await;
    raw.roundtrip(&["SETBIT", "s", "4000000000", "1"], OOM)
        .await;
    raw.roundtrip(&["GET", "s"], b"$1\r\n\x01\r\n").await;
    raw.roundtrip(
        &["SETBIT", "big", "4294967296", "1"],
        b"-ERR bit offset is not an integer or out of range\r\n",
    )
    .await;
    // A read far past the end allocates nothing.
    raw.roundtrip(&["GETBIT", "s", "4294967295"], b":0\r\n")
        .await;
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// Finding 6, follow-up: growth room is bounded like Redis's (twice the length below 1 MiB, 1 MiB
/// more above), so under a 16 MiB `maxmemory` (noeviction) a value appended to 12 MiB fits.
/// With plain doubling the 8 MiB value's next growth asked for 16 MiB and was refused with OOM
/// at ~8 MiB, half of what Redis holds under the same limit.
#[tokio::test]
async fn appends_can_grow_a_value_to_most_of_maxmemory() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 16 << 20;
    cfg.memory.eviction = ferrite_config::EvictionPolicy::Noeviction;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let chunk = "z".repeat(64 << 10);
    for i in 1..=192usize {
        let r: redis::RedisResult<usize> = q(&mut c, &["APPEND", "v", &chunk]).await;
        match r {
            Ok(n) => assert_eq!(n, i * chunk.len()),
            Err(e) => panic!("APPEND #{i} (to {} KiB): {e}", i * 64),
        }
    }
    let usage: u64 = q(&mut c, &["MEMORY", "USAGE", "v"]).await.unwrap();
    assert!(
        usage <= (12 << 20) + (1 << 20) + 4096,
        "MEMORY USAGE {usage}"
    );
}

/// Finding 6: APPEND grows in place (amortised) and SETRANGE writes in place; the content is
/// exact and what is charged is the capacity allocated (at most ~2x the length).
#[tokio::test]
async fn append_and_setrange_grow_in_place_with_exact_content() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let chunk: String = (0..65536)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    for i in 1..=64usize {
        let n: usize = q(&mut c, &["APPEND", "k", &chunk]).await.unwrap();
        assert_eq!(n, i * chunk.len());
    }
    let n: usize = q(&mut c, &["SETRANGE", "k", "100000", "HELLO"])
        .await
        .unwrap();
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
        (64 * 65536..=2 * 64 * 65536 + 4096).contains(&usage),
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
    // (The 4 MiB GET reply grew this connection's reply buffer: that is client memory.)
    assert!(info_field(&info, "used_memory_dataset") < 1 << 20, "{info}");
}

async fn used_memory(c: &mut redis::aio::MultiplexedConnection) -> (u64, String) {
    let info: String = q(c, &["INFO", "memory"]).await.unwrap();
    (info_field(&info, "used_memory"), info)
}

/// Finding 4: replay rings are in the budget. Publishing 256 KiB messages to 60 topics (60 MB
/// of payload, 4 MiB replay window each) under a 4 MiB maxmemory keeps used memory at the limit:
/// the rings are shrunk (oldest messages of all topics first), INFO shows what topics hold, and
/// publishes keep being accepted. Before, the rings were outside the budget (15 MB retained).
#[tokio::test]
async fn topic_replay_rings_are_in_the_memory_budget() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 4 << 20;
    cfg.memory.eviction = ferrite_config::EvictionPolicy::Noeviction;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let payload = "p".repeat(256 << 10);
    for i in 0..240 {
        let topic = format!("t{}", i % 60);
        let n: i64 = q(&mut c, &["PUBLISH", &topic, &payload]).await.unwrap();
        assert_eq!(n, 0);
    }
    let (used, info) = used_memory(&mut c).await;
    let topics = info_field(&info, "used_memory_topics");
    assert!(
        used <= (4 << 20) + SLACK,
        "used_memory {used} over the limit\n{info}"
    );
    assert!(
        topics >= 256 << 10 && topics <= used,
        "used_memory_topics {topics}\n{info}"
    );
    assert!(info_field(&info, "mem_clients_normal") > 0, "{info}");
    // Keys are refused once the budget is spent by keys (noeviction), and so is a publish:
    // there is nothing retained left to trim.
    let mut raw = srv.raw().await;
    let big = "v".repeat(64 << 10);
    accepted_until_oom(&mut raw, b"+OK\r\n", 200, |i| {
        vec!["SET".into(), format!("k{i}"), big.clone()]
    })
    .await;
    raw.roundtrip(&["PUBLISH", "t0", &payload], OOM).await;
    let (used, info) = used_memory(&mut c).await;
    assert!(used <= (4 << 20) + SLACK, "{info}");
    assert_eq!(info_field(&info, "used_memory_topics"), 0, "{info}");
    raw.roundtrip(&["PING"], b"+PONG\r\n").await;
}

/// Finding 4: an idle topic nobody subscribes to frees its ring after the idle TTL, even
/// though its messages are younger than the replay window's max age.
#[tokio::test]
async fn idle_topics_free_their_ring_after_the_idle_ttl() {
    let mut cfg = test_config();
    cfg.topics.idle_topic_ttl_secs = 1;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let payload = "p".repeat(100 << 10);
    for i in 0..10 {
        let _: i64 = q(&mut c, &["PUBLISH", &format!("t{i}"), &payload])
            .await
            .unwrap();
    }
    let (_, info) = used_memory(&mut c).await;
    assert!(
        info_field(&info, "used_memory_topics") >= 10 * (100 << 10),
        "{info}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    loop {
        let (_, info) = used_memory(&mut c).await;
        if info_field(&info, "used_memory_topics") == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rings still held past the idle TTL\n{info}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(srv.running.shared.topics.metrics().retained_bytes, 0);
}

/// Finding 4: a MULTI queue is client memory in the budget. Queueing past maxmemory is refused
/// with Redis's OOM error and the transaction is flagged, so EXEC answers EXECABORT; the queue's
/// bytes are given back afterwards. Before, 200,000 queued 1 KB SETs held 440 MB uncounted.
#[tokio::test]
async fn multi_queue_past_maxmemory_is_refused_and_aborts_exec() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 4 << 20;
    let srv = TestServer::start_with(cfg).await;
    let mut raw = srv.raw().await;
    raw.roundtrip(&["MULTI"], b"+OK\r\n").await;
    let v = "x".repeat(1024);
    let queued = accepted_until_oom(&mut raw, b"+QUEUED\r\n", 20_000, |i| {
        vec!["SET".into(), format!("k{i}"), v.clone()]
    })
    .await;
    assert!(queued > 1000, "only {queued} queued under 4 MiB");
    let mut c = srv.client().await;
    let (used, info) = used_memory(&mut c).await;
    assert!(used <= (4 << 20) + SLACK, "{info}");
    assert!(info_field(&info, "mem_clients_normal") >= 1 << 20, "{info}");
    raw.roundtrip(
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    raw.roundtrip(&["EXISTS", "k0"], b":0\r\n").await;
    let (_, info) = used_memory(&mut c).await;
    assert!(info_field(&info, "mem_clients_normal") < 1 << 20, "{info}");
}

/// Finding 4: eviction also runs from a background tick. CONFIG SET maxmemory inside EXEC
/// cannot evict (EXEC holds the shard locks), so memory stays over the new limit; with only
/// reads arriving afterwards, the tick brings it back under within a few hundred ms.
#[tokio::test]
async fn background_tick_evicts_while_only_reads_arrive() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 16 << 20;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let v = "v".repeat(20 << 10);
    for i in 0..200 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), &v]).await.unwrap();
    }
    let mut raw = srv.raw().await;
    raw.roundtrip(&["MULTI"], b"+OK\r\n").await;
    raw.roundtrip(&["CONFIG", "SET", "maxmemory", "2mb"], b"+QUEUED\r\n")
        .await;
    raw.roundtrip(&["EXEC"], b"*1\r\n+OK\r\n").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let (used, info) = used_memory(&mut c).await;
        if used <= (2 << 20) + SLACK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still over the limit with only reads\n{info}"
        );
        let _: Option<String> = q(&mut c, &["GET", "k0"]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Declares an 8 MB value and sends half of it.
fn half_of_an_8mb_set() -> Vec<u8> {
    let mut partial = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8000000\r\n".to_vec();
    partial.extend(vec![b'x'; 4_000_000]);
    partial
}

/// Polls INFO memory until `until(used_memory, info)` holds, for up to 5 s; the last figures.
async fn used_memory_until(
    c: &mut redis::aio::MultiplexedConnection,
    what: &str,
    until: impl Fn(u64, &str) -> bool,
) -> (u64, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (used, info) = used_memory(c).await;
        if until(used, &info) {
            return (used, info);
        }
        assert!(std::time::Instant::now() < deadline, "{what}\n{info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Finding 4: a connection's read buffer is memory in the budget, as Redis counts client query
/// buffers in `used_memory`. A client (authenticated: auth mode `none`) that sends 4 MB of a
/// declared 8 MB value and pauses makes its read buffer hold 4-8 MB (doubling from what
/// arrived); `used_memory` rises by that, and falls back once the value is complete (the buffer
/// is given back; the 8 MB are then the key's) and when a client disconnects mid-value. Before,
/// the buffers were only reported (`mem_clients_normal`), outside `used_memory`.
#[tokio::test]
async fn a_partial_bulk_in_the_read_buffer_is_charged_to_used_memory() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let (base, _) = used_memory(&mut c).await;
    let mut raw = srv.raw().await;
    raw.send(&half_of_an_8mb_set()).await;
    let (held, info) = used_memory_until(&mut c, "used_memory never rose", |used, _| {
        used >= base + 4_000_000
    })
    .await;
    assert!(held <= base + 8_500_000, "{held} - {base}\n{info}");
    assert!(
        info_field(&info, "mem_clients_normal") >= 4_000_000,
        "{info}"
    );
    assert!(info_field(&info, "used_memory_dataset") < 1 << 20, "{info}");

    // The rest arrives: the value is stored and the read buffer goes back to 16 KiB.
    let mut rest = vec![b'x'; 4_000_000];
    rest.extend_from_slice(b"\r\n");
    raw.send(&rest).await;
    raw.expect(b"+OK\r\n").await;
    let (stored, info) = used_memory_until(&mut c, "the read buffer was kept", |_, info| {
        info_field(info, "mem_clients_normal") < 1 << 20
    })
    .await;
    assert!(
        (base + 8_000_000..base + 8_000_000 + (1 << 20)).contains(&stored),
        "{stored} - {base}\n{info}"
    );

    // A client that disconnects mid-value gives its buffer back.
    let mut quitter = srv.raw().await;
    quitter.send(&half_of_an_8mb_set()).await;
    used_memory_until(&mut c, "used_memory never rose", |used, _| {
        used >= stored + 4_000_000
    })
    .await;
    drop(quitter);
    used_memory_until(&mut c, "the buffer's charge outlived it", |used, _| {
        used < stored + (1 << 20)
    })
    .await;
    raw.roundtrip(&["STRLEN", "k"], b":8000000\r\n").await;
}

/// Finding 4: what client buffers hold counts against `maxmemory` like data: under allkeys-lru a
/// buffer that grows evicts keys to stay under the limit, as Redis evicts for client buffers.
/// 13.7 MiB of keys under a 16 MiB limit, then a client holding 4 MB of a partial value (a 4 MiB
/// read buffer): keys are evicted and `used_memory` stays at the limit. Before, nothing was
/// evicted and the process held ~18 MiB under a 16 MiB `maxmemory`.
#[tokio::test]
async fn client_buffers_evict_keys_under_maxmemory() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 16 << 20;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let v = "v".repeat(100 << 10);
    for i in 0..140 {
        let _: () = q(&mut c, &["SET", &format!("key{i}"), &v]).await.unwrap();
    }
    let mut raw = srv.raw().await;
    raw.send(&half_of_an_8mb_set()).await;
    let (used, info) =
        used_memory_until(&mut c, "the partial value was never buffered", |_, info| {
            info_field(info, "mem_clients_normal") >= 4_000_000
        })
        .await;
    assert!(used <= (16 << 20) + SLACK, "{info}");
    let stats: String = q(&mut c, &["INFO", "stats"]).await.unwrap();
    assert!(info_field(&stats, "evicted_keys") > 0, "{stats}\n{info}");
    let keys: u64 = q(&mut c, &["DBSIZE"]).await.unwrap();
    assert!(keys < 140, "{keys} keys\n{info}");
}
