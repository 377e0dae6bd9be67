//! Redis pub/sub over the topics engine, through raw RESP and the `redis` crate.

mod common;
use common::*;

use std::time::Duration;

use futures_util::StreamExt;

fn push3(kind: &str, ch: &str, n: i64) -> Vec<u8> {
    format!(
        "*3\r\n${}\r\n{}\r\n${}\r\n{}\r\n:{}\r\n",
        kind.len(),
        kind,
        ch.len(),
        ch,
        n
    )
    .into_bytes()
}

fn message(ch: &str, payload: &str) -> Vec<u8> {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
        ch.len(),
        ch,
        payload.len(),
        payload
    )
    .into_bytes()
}

#[tokio::test]
async fn subscribe_publish_unsubscribe_raw() {
    let srv = TestServer::start().await;
    let mut sub = srv.raw().await;
    sub.cmd(&["SUBSCRIBE", "a", "b"]).await;
    sub.expect(&push3("subscribe", "a", 1)).await;
    sub.expect(&push3("subscribe", "b", 2)).await;

    let mut c = srv.client().await;
    let n: i64 = q(&mut c, &["PUBLISH", "a", "hello"]).await.unwrap();
    assert_eq!(n, 1);
    sub.expect(&message("a", "hello")).await;
    let n: i64 = q(&mut c, &["PUBLISH", "nobody", "x"]).await.unwrap();
    assert_eq!(n, 0);

    // RESP2 subscribe mode refuses ordinary commands, but PING works with its special shape.
    sub.cmd(&["GET", "x"]).await;
    sub.expect(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n").await;

    let numsub: Vec<redis::Value> = q(&mut c, &["PUBSUB", "NUMSUB", "a", "zzz"]).await.unwrap();
    assert_eq!(numsub.len(), 4);
    let chans: Vec<String> = q(&mut c, &["PUBSUB", "CHANNELS"]).await.unwrap();
    let mut chans = chans;
    chans.sort();
    assert_eq!(chans, vec!["a", "b"]);

    sub.cmd(&["UNSUBSCRIBE"]).await;
    // Both channels are dropped, count going down to 0 (order of channels not fixed).
    let got = sub.read_n(push3("unsubscribe", "a", 1).len() * 2).await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("unsubscribe") && text.ends_with(":0\r\n"),
        "{text}"
    );
    // Out of subscribe mode: ordinary commands work again.
    sub.roundtrip(&["SET", "k", "v"], b"+OK\r\n").await;
}

#[tokio::test]
async fn patterns_and_sharded_channels() {
    let srv = TestServer::start().await;
    let mut sub = srv.raw().await;
    sub.cmd(&["PSUBSCRIBE", "news.*"]).await;
    sub.expect(&push3("psubscribe", "news.*", 1)).await;
    let mut ssub = srv.raw().await;
    ssub.cmd(&["SSUBSCRIBE", "orders"]).await;
    ssub.expect(&push3("ssubscribe", "orders", 1)).await;

    let mut c = srv.client().await;
    let n: i64 = q(&mut c, &["PUBLISH", "news.tech", "rust"]).await.unwrap();
    assert_eq!(n, 1);
    sub.expect(b"*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$9\r\nnews.tech\r\n$4\r\nrust\r\n")
        .await;
    let n: i64 = q(&mut c, &["PUBSUB", "NUMPAT"]).await.unwrap();
    assert_eq!(n, 1);

    let n: i64 = q(&mut c, &["SPUBLISH", "orders", "o1"]).await.unwrap();
    assert_eq!(n, 1);
    ssub.expect(b"*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\no1\r\n")
        .await;
}

#[tokio::test]
async fn resp3_pushes_interleave_with_replies() {
    let srv = TestServer::start().await;
    let mut s = srv.raw().await;
    s.cmd(&["HELLO", "3"]).await;
    let hello = s.read_n(1).await;
    assert_eq!(hello, b"%");
    // Drain the rest of the HELLO map (it ends with the empty modules array).
    let mut rest = Vec::new();
    while !rest.ends_with(b"*0\r\n") {
        rest.extend(s.read_n(1).await);
    }
    s.cmd(&["SUBSCRIBE", "ch"]).await;
    s.expect(b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
        .await;
    // In RESP3, ordinary commands work while subscribed.
    s.roundtrip(&["SET", "k", "v"], b"+OK\r\n").await;
    let mut c = srv.client().await;
    let _: i64 = q(&mut c, &["PUBLISH", "ch", "p"]).await.unwrap();
    s.expect(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\np\r\n")
        .await;
}

#[tokio::test]
async fn fanout_to_many_subscribers_in_order() {
    let srv = TestServer::start().await;
    let client = redis::Client::open(srv.url()).unwrap();
    let mut subs = Vec::new();
    for _ in 0..50 {
        let mut ps = client.get_async_pubsub().await.unwrap();
        ps.subscribe("fan").await.unwrap();
        subs.push(ps);
    }
    let mut c = srv.client().await;
    for i in 0..100 {
        let n: i64 = q(&mut c, &["PUBLISH", "fan", &i.to_string()])
            .await
            .unwrap();
        assert_eq!(n, 50);
    }
    for ps in subs.iter_mut() {
        let mut stream = ps.on_message();
        for i in 0..100 {
            let m = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.get_channel_name(), "fan");
            assert_eq!(m.get_payload::<String>().unwrap(), i.to_string());
        }
    }
}

#[tokio::test]
async fn tsubscribe_carries_sequence_numbers_and_resumes() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    // Publish 5 messages before anyone subscribes: they are retained for replay.
    for i in 1..=5 {
        let _: i64 = q(&mut c, &["PUBLISH", "t", &format!("m{i}")])
            .await
            .unwrap();
    }
    let mut s = srv.raw().await;
    s.cmd(&["TSUBSCRIBE", "t"]).await;
    s.expect(b"*5\r\n$10\r\ntsubscribe\r\n$1\r\nt\r\n:1\r\n")
        .await;
    // page and next_seq follow; read the page from the line.
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        line.extend(s.read_n(1).await);
    }
    let page: u64 = String::from_utf8_lossy(&line[1..line.len() - 2])
        .parse()
        .unwrap();
    // Without FROM it begins with the newest retained message (topics.subscribe_backlog = 1,
    // Momento's "latest messages"): next sequence 5, then m5.
    s.expect(b":5\r\n").await;
    s.expect(
        format!("*5\r\n$8\r\ntmessage\r\n$1\r\nt\r\n$2\r\nm5\r\n:5\r\n:{page}\r\n").as_bytes(),
    )
    .await;

    let _: i64 = q(&mut c, &["PUBLISH", "t", "live"]).await.unwrap();
    s.expect(
        format!("*5\r\n$8\r\ntmessage\r\n$1\r\nt\r\n$4\r\nlive\r\n:6\r\n:{page}\r\n").as_bytes(),
    )
    .await;

    // A second client resumes from 3 on the same page: gets 3, 4, 5, 6 with no gap.
    let mut r = srv.raw().await;
    r.cmd(&["TSUBSCRIBE", "t", "FROM", "3", "PAGE", &page.to_string()])
        .await;
    let mut ack = Vec::new();
    while ack.iter().filter(|&&b| b == b'\n').count() < 8 {
        ack.extend(r.read_n(1).await);
    }
    for (seq, body) in [(3, "m3"), (4, "m4"), (5, "m5"), (6, "live")] {
        r.expect(
            format!(
                "*5\r\n$8\r\ntmessage\r\n$1\r\nt\r\n${}\r\n{}\r\n:{}\r\n:{}\r\n",
                body.len(),
                body,
                seq,
                page
            )
            .as_bytes(),
        )
        .await;
    }
    // Resuming on a stale page gets a discontinuity first.
    let mut d = srv.raw().await;
    d.cmd(&["TSUBSCRIBE", "t", "FROM", "2", "PAGE", "1"]).await;
    let mut buf = Vec::new();
    while !String::from_utf8_lossy(&buf).contains("tdiscontinuity") {
        let b = d.read_n(1).await;
        assert!(
            !b.is_empty(),
            "no discontinuity: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend(b);
    }
}

#[tokio::test]
async fn stalled_subscriber_is_disconnected_and_others_keep_receiving() {
    let mut cfg = test_config();
    cfg.limits.pubsub_reply_buffer_limit = 256 * 1024;
    let srv = TestServer::start_with(cfg).await;
    // The stalled subscriber: subscribes, then never reads.
    let mut stalled = srv.raw().await;
    stalled.cmd(&["SUBSCRIBE", "firehose"]).await;
    stalled.expect(&push3("subscribe", "firehose", 1)).await;
    // A healthy subscriber that reads everything.
    let client = redis::Client::open(srv.url()).unwrap();
    let mut healthy = client.get_async_pubsub().await.unwrap();
    healthy.subscribe("firehose").await.unwrap();

    let payload = "x".repeat(16 * 1024);
    let mut c = srv.client().await;
    let reader = tokio::spawn(async move {
        let mut stream = healthy.on_message();
        let mut n = 0;
        while n < 2000 {
            let m = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.get_payload::<String>().unwrap().len(), 16 * 1024);
            n += 1;
        }
        n
    });
    // 2000 x 16 KiB = 32 MiB: far beyond the socket buffers and the 256 KiB budget.
    for _ in 0..2000 {
        let _: i64 = q(&mut c, &["PUBLISH", "firehose", &payload]).await.unwrap();
    }
    assert_eq!(reader.await.unwrap(), 2000);
    // The stalled one was cut off: reading now hits EOF after whatever was buffered.
    assert!(
        stalled.is_closed().await,
        "stalled subscriber still connected"
    );
    let info: String = q(&mut c, &["INFO", "stats"]).await.unwrap_or_default();
    let _ = info;
}

/// Large payloads are written to subscribers by reference (gathered writes) between the bytes
/// of the reply buffer; small ones are copied. A mix of sizes around the threshold, enough to
/// fill the socket buffers (so writes are partial and resume mid-payload), must arrive byte for
/// byte in order, on a direct and on a pattern subscription.
#[tokio::test]
async fn large_and_small_payloads_interleave_exactly() {
    let srv = TestServer::start().await;
    let mut direct = srv.raw().await;
    direct.cmd(&["SUBSCRIBE", "mix"]).await;
    direct.expect(&push3("subscribe", "mix", 1)).await;
    let mut pattern = srv.raw().await;
    pattern.cmd(&["PSUBSCRIBE", "mi?"]).await;
    pattern.expect(&push3("psubscribe", "mi?", 1)).await;

    let sizes = [10, 600, 3000, 70_000, 511, 512, 513, 5, 200_000, 1024];
    let mut payloads = Vec::new();
    for round in 0..3 {
        for (i, n) in sizes.iter().enumerate() {
            let c = (b'a' + ((round * sizes.len() + i) % 26) as u8) as char;
            payloads.push(c.to_string().repeat(*n));
        }
    }
    let mut publisher = srv.raw().await;
    let mut pipeline = Vec::new();
    for p in &payloads {
        pipeline.extend_from_slice(
            format!(
                "*3\r\n$7\r\nPUBLISH\r\n$3\r\nmix\r\n${}\r\n{p}\r\n",
                p.len()
            )
            .as_bytes(),
        );
    }
    publisher.send(&pipeline).await;
    publisher.expect(&b":2\r\n".repeat(payloads.len())).await;

    let mut want_direct = Vec::new();
    let mut want_pattern = Vec::new();
    for p in &payloads {
        want_direct.extend_from_slice(&message("mix", p));
        want_pattern.extend_from_slice(
            format!(
                "*4\r\n$8\r\npmessage\r\n$3\r\nmi?\r\n$3\r\nmix\r\n${}\r\n{p}\r\n",
                p.len()
            )
            .as_bytes(),
        );
    }
    // Read in small steps so the server's writes stay partial for a while.
    for (conn, want) in [(&mut direct, want_direct), (&mut pattern, want_pattern)] {
        let mut got = Vec::new();
        while got.len() < want.len() {
            let step = (want.len() - got.len()).min(7_919);
            let chunk = conn.read_n(step).await;
            assert!(!chunk.is_empty(), "stream ended after {} bytes", got.len());
            got.extend_from_slice(&chunk);
        }
        assert!(
            got == want,
            "delivered bytes differ from what was published"
        );
    }
    // Still in sync afterwards.
    publisher.cmd(&["PUBLISH", "mix", "tail"]).await;
    publisher.expect(b":2\r\n").await;
    direct.expect(&message("mix", "tail")).await;
}
