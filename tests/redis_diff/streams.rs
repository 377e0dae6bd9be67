//! Streams beside redis-server 7.0: XADD/XRANGE/XREVRANGE/XLEN/XDEL/XTRIM (exact and `~`
//! trimming on Redis's node layout), XREAD, consumer groups (XGROUP, XREADGROUP, XACK,
//! XPENDING, XCLAIM, XAUTOCLAIM), XINFO, XSETID, their errors, RESP3 shapes, blocking reads with
//! two clients, and WATCH. IDs are explicit (auto IDs follow the clock: tested for monotonicity
//! on Ferrite alone); times (idle, seen-time, delivery time) and `radix-tree-nodes` are masked.

use std::time::Duration;

use crate::common::redis_ref::Diff;

/// A raw reply with the time-dependent figures masked: the value after an `idle`,
/// `seen-time` or `radix-tree-nodes` key, Unix-ms timestamps, and XPENDING's idle column
/// (`idle_col`: the reply is an extended XPENDING).
fn mask(reply: &str, idle_col: bool) -> String {
    let lines: Vec<&str> = reply.split("\r\n").collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        out.push(l.to_string());
        if matches!(l, "idle" | "seen-time" | "radix-tree-nodes") && i + 1 < lines.len() {
            out.push(":T".into());
            i += 2;
            continue;
        }
        if idle_col && l == "*4" && i + 5 < lines.len() {
            // *4, $n, id, $n, consumer, :idle, :count
            for l in &lines[i + 1..i + 5] {
                out.push(l.to_string());
            }
            out.push(":T".into());
            i += 6;
            continue;
        }
        i += 1;
    }
    out.into_iter()
        .map(
            |l| match l.strip_prefix(':').and_then(|n| n.parse::<u64>().ok()) {
                Some(n) if n > 1_000_000_000_000 && n < 10_000_000_000_000 => ":TS".into(),
                _ => l,
            },
        )
        .collect::<Vec<_>>()
        .join("\r\n")
}

async fn same_masked(d: &mut Diff, parts: &[&str], idle_col: bool) -> String {
    let (f, r) = d.both(parts).await;
    let (f, r) = (mask(&f, idle_col), mask(&r, idle_col));
    assert_eq!(f, r, "{parts:?}: ferrite (left), redis (right)");
    f
}

#[tokio::test]
async fn xadd_xrange_xlen_xdel_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["XADD", "s", "1-1", "a", "1", "b", "2"],
            &["XADD", "s", "1-2", "a", "3"],
            &["XADD", "s", "1-*", "c", "4"],
            &["XADD", "s", "5", "d", "5"],
            &["XADD", "s", "7-*", "e", "6"],
            &["XADD", "s", "007-9", "f", "7"],
            &["XADD", "s", "18446744073709551615-0", "big", "1"],
            &["XLEN", "s"],
            &["XRANGE", "s", "-", "+"],
            &["XRANGE", "s", "1", "5"],
            &["XRANGE", "s", "(1-1", "(7-9"],
            &["XRANGE", "s", "-", "+", "COUNT", "2"],
            &["XRANGE", "s", "-", "+", "COUNT", "0"],
            &["XRANGE", "s", "-", "+", "COUNT", "-3"],
            &["XRANGE", "s", "5", "1"],
            &["XREVRANGE", "s", "+", "-"],
            &["XREVRANGE", "s", "+", "-", "COUNT", "3"],
            &["XREVRANGE", "s", "(7-9", "(1-1"],
            &["XRANGE", "nokey", "-", "+"],
            &["XLEN", "nokey"],
            &["XDEL", "s", "1-2", "9-9", "5-0"],
            &["XDEL", "nokey", "bad-id"],
            &["XLEN", "s"],
            &["XRANGE", "s", "-", "+"],
            &["XADD", "nokey", "NOMKSTREAM", "1-1", "a", "1"],
            &["EXISTS", "nokey"],
            &["TYPE", "s"],
            &["OBJECT", "ENCODING", "s"],
            &["XADD", "s", "18446744073709551615-*", "a", "1"],
            &[
                "XADD",
                "s",
                "18446744073709551615-18446744073709551615",
                "a",
                "1",
            ],
            &["XADD", "s", "*", "a", "1"],
            &["XADD", "s", "18446744073709551615-*", "a", "1"],
            &["XADD", "x", "0-*", "a", "1"],
            &["XADD", "x", "0-*", "a", "1"],
        ])
        .await;
        d.same(&["SET", "str", "x"]).await;
        for (cmd, exact) in [
            (&["XADD", "s", "1-1", "a", "1"][..], true),
            (&["XADD", "s2", "0-0", "a", "1"][..], true),
            (&["XADD", "s2", "0", "a", "1"][..], true),
            (&["XADD", "s2", "-", "a", "1"][..], true),
            (&["XADD", "s2", "1-x", "a", "1"][..], true),
            (&["XADD", "s2", "1-1", "a"][..], true),
            (&["XADD", "s2", "1-1", "a", "1", "b"][..], true),
            (&["XADD", "s2", "MAXLEN", "-1", "*", "a", "1"][..], true),
            (&["XADD", "s2", "MAXLEN", "x", "*", "a", "1"][..], true),
            (
                &["XADD", "s2", "MAXLEN", "1", "MINID", "1", "*", "a", "1"][..],
                true,
            ),
            (&["XADD", "s2", "LIMIT", "5", "*", "a", "1"][..], true),
            (
                &["XADD", "s2", "MAXLEN", "5", "LIMIT", "5", "*", "a", "1"][..],
                true,
            ),
            (
                &[
                    "XADD", "s2", "MAXLEN", "~", "5", "LIMIT", "-1", "*", "a", "1",
                ][..],
                true,
            ),
            (&["XADD", "str", "*", "a", "1"][..], true),
            (&["XRANGE", "s", "x", "+"][..], true),
            (&["XRANGE", "s", "(-", "+"][..], true),
            (
                &[
                    "XRANGE",
                    "s",
                    "(18446744073709551615-18446744073709551615",
                    "+",
                ][..],
                true,
            ),
            (&["XRANGE", "s", "-", "(0-0"][..], true),
            (&["XRANGE", "s", "-", "+", "COUNT"][..], true),
            (&["XRANGE", "s", "-", "+", "LIMIT", "1"][..], true),
            (&["XRANGE", "str", "-", "+"][..], true),
            (&["XDEL", "s", "bad"][..], true),
            (&["XDEL", "str", "1-1"][..], true),
            (&["XLEN", "str"][..], true),
        ] {
            d.same_error(cmd, exact).await;
        }
    }
}

#[tokio::test]
async fn trimming_follows_redis_nodes() {
    let mut d = Diff::start(false).await;
    for i in 1..=250 {
        let id = format!("{i}-0");
        d.same(&["XADD", "s", &id, "f", "v"]).await;
    }
    // Big entries fill listpacks by bytes rather than by count.
    let big = "x".repeat(900);
    for i in 1..=20 {
        let id = format!("{i}-0");
        d.same(&["XADD", "b", &id, "f", &big]).await;
    }
    // Mixed field sets and integer-looking values change the listpack sizes.
    for i in 1..=300 {
        let id = format!("{i}-1");
        let v = (i * 7919).to_string();
        if i % 3 == 0 {
            d.same(&["XADD", "m", &id, "n", &v, "other", "text-value"])
                .await;
        } else {
            d.same(&["XADD", "m", &id, "n", &v]).await;
        }
    }
    for k in ["s", "b", "m"] {
        same_masked(&mut d, &["XINFO", "STREAM", k], false).await;
    }
    d.script(&[
        &["XTRIM", "s", "MAXLEN", "~", "120"],
        &["XLEN", "s"],
        &["XTRIM", "s", "MAXLEN", "=", "120"],
        &["XLEN", "s"],
        &["XTRIM", "s", "MINID", "~", "200"],
        &["XTRIM", "s", "MINID", "200"],
        &["XRANGE", "s", "-", "+", "COUNT", "2"],
        &["XTRIM", "b", "MAXLEN", "~", "5"],
        &["XTRIM", "m", "MAXLEN", "~", "10", "LIMIT", "100"],
        &["XTRIM", "m", "MAXLEN", "~", "10", "LIMIT", "1000"],
        &["XLEN", "m"],
        &["XADD", "m", "MAXLEN", "~", "50", "400-0", "n", "1"],
        &["XLEN", "m"],
        &["XADD", "m", "MAXLEN", "3", "401-0", "n", "1"],
        &["XRANGE", "m", "-", "+"],
        &["XTRIM", "nokey", "MAXLEN", "0"],
    ])
    .await;
    // XDEL marks entries deleted in their node; a node with none left goes.
    for i in 1..=10 {
        let id = format!("{i}-0");
        d.same(&["XDEL", "b", &id]).await;
    }
    for k in ["s", "b", "m"] {
        same_masked(&mut d, &["XINFO", "STREAM", k], false).await;
    }
    for (cmd, exact) in [
        (&["XTRIM", "s"][..], true),
        (&["XTRIM", "s", "FOO", "1"][..], true),
        (&["XTRIM", "s", "MAXLEN", "1", "junk"][..], true),
        (&["XTRIM", "s", "MINID", "bad"][..], true),
        (&["XTRIM", "s", "LIMIT", "10"][..], true),
    ] {
        d.same_error(cmd, exact).await;
    }
}

#[tokio::test]
async fn xread_matches_in_both_protocols() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["XADD", "a", "1-1", "f", "1"],
            &["XADD", "a", "2-1", "f", "2"],
            &["XADD", "b", "3-1", "g", "3"],
            &["XREAD", "STREAMS", "a", "0"],
            &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"],
            &["XREAD", "STREAMS", "a", "b", "1-1", "3-1"],
            &["XREAD", "STREAMS", "a", "b", "$", "$"],
            &["XREAD", "STREAMS", "nokey", "0"],
            &["XREAD", "count", "-5", "streams", "a", "1"],
            &["XREAD", "BLOCK", "10", "STREAMS", "a", "$"],
        ])
        .await;
        d.same(&["SET", "str", "x"]).await;
        for (cmd, exact) in [
            (&["XREAD", "STREAMS", "a"][..], true),
            (&["XREAD", "STREAMS", "a", "b", "0"][..], true),
            (&["XREAD", "COUNT", "x", "STREAMS", "a", "0"][..], true),
            (&["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"][..], true),
            (&["XREAD", "BLOCK", "1.5", "STREAMS", "a", "0"][..], true),
            (&["XREAD", "FOO", "STREAMS", "a", "0"][..], true),
            (&["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"][..], true),
            (&["XREAD", "NOACK", "STREAMS", "a", "0"][..], true),
            (&["XREAD", "STREAMS", "a", ">"][..], true),
            (&["XREAD", "STREAMS", "a", "bad"][..], true),
            (&["XREAD", "STREAMS", "str", "0"][..], true),
            (&["XREAD", "COUNT", "1", "BLOCK", "0"][..], true),
        ] {
            d.same_error(cmd, exact).await;
        }
    }
}

#[tokio::test]
async fn consumer_groups_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        for i in 1..=6 {
            let id = format!("{i}-0");
            let v = format!("v{i}");
            d.same(&["XADD", "s", &id, "f", &v]).await;
        }
        d.script(&[
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["XGROUP", "CREATE", "s", "late", "$"],
            &["XGROUP", "CREATE", "s", "mid", "3-0", "ENTRIESREAD", "3"],
            // More entries read than the stream ever had: Redis 7.0's lag is negative.
            &["XGROUP", "CREATE", "s", "ahead", "0", "ENTRIESREAD", "10"],
            &["XGROUP", "CREATE", "new", "g", "$", "MKSTREAM"],
            &["XINFO", "GROUPS", "s"],
            &["XGROUP", "DESTROY", "s", "ahead"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ],
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "1",
                "STREAMS",
                "s",
                "1-0",
            ],
            &[
                "XREADGROUP",
                "GROUP",
                "mid",
                "carol",
                "NOACK",
                "STREAMS",
                "s",
                ">",
            ],
            &["XINFO", "GROUPS", "s"],
            &["XPENDING", "s", "g"],
            &["XPENDING", "s", "mid"],
            &["XPENDING", "s", "g", "IDLE", "100000000", "-", "+", "10"],
            &["XACK", "s", "g", "1-0", "9-9"],
            &["XACK", "s", "nogroup", "1-0"],
            &["XACK", "nokey", "g", "1-0"],
            &["XDEL", "s", "4-0"],
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"],
            &["XINFO", "GROUPS", "s"],
            &["XCLAIM", "s", "g", "carol", "0", "2-0", "3-0", "JUSTID"],
            &["XCLAIM", "s", "g", "carol", "0", "5-0", "RETRYCOUNT", "7"],
            &["XCLAIM", "s", "g", "carol", "0", "4-0", "9-0"],
            &["XCLAIM", "s", "g", "dave", "0", "1-0", "FORCE", "JUSTID"],
            &["XCLAIM", "s", "g", "dave", "100000000", "2-0"],
            &[
                "XCLAIM", "s", "g", "dave", "0", "6-0", "LASTID", "6-0", "IDLE", "5000",
            ],
            &["XPENDING", "s", "g"],
            &["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "2"],
            &[
                "XAUTOCLAIM",
                "s",
                "g",
                "erin",
                "0",
                "3-0",
                "COUNT",
                "2",
                "JUSTID",
            ],
            &["XAUTOCLAIM", "s", "g", "erin", "0", "(5-0"],
            &["XAUTOCLAIM", "s", "g", "erin", "100000000", "0"],
            &["XPENDING", "s", "g"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "frank"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "frank"],
            &["XGROUP", "DELCONSUMER", "s", "g", "erin"],
            &["XGROUP", "DELCONSUMER", "s", "g", "nobody"],
            &["XGROUP", "SETID", "s", "late", "0", "ENTRIESREAD", "0"],
            &["XGROUP", "SETID", "s", "mid", "$"],
            &["XINFO", "GROUPS", "s"],
            &["XGROUP", "DESTROY", "s", "late"],
            &["XGROUP", "DESTROY", "s", "late"],
            &["XINFO", "GROUPS", "s"],
            &["XGROUP", "HELP"],
            &["XINFO", "HELP"],
        ])
        .await;
        for c in [
            &["XINFO", "CONSUMERS", "s", "g"][..],
            &["XPENDING", "s", "g", "-", "+", "10"],
            &["XPENDING", "s", "g", "(1-0", "+", "2", "dave"],
            &["XPENDING", "s", "g", "-", "+", "10", "nobody"],
            &["XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "carol"],
            &["XINFO", "STREAM", "s"],
            &["XINFO", "STREAM", "s", "FULL"],
            &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"],
            &["XINFO", "STREAM", "new"],
        ] {
            same_masked(&mut d, c, c[0] == "XPENDING").await;
        }
        d.same(&["SET", "str", "x"]).await;
        for (cmd, exact) in [
            (&["XGROUP", "CREATE", "s", "g", "0"][..], true),
            (&["XGROUP", "CREATE", "nokey", "g", "0"][..], true),
            (&["XGROUP", "CREATE", "s", "g2", "bad"][..], true),
            (&["XGROUP", "CREATE", "s", "g2", "0", "FOO"][..], true),
            (
                &["XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-5"][..],
                true,
            ),
            (&["XGROUP", "CREATE", "s", "g2"][..], true),
            (&["XGROUP", "CREATE", "str", "g2", "0"][..], true),
            (&["XGROUP", "SETID", "s", "nope", "0"][..], true),
            (&["XGROUP", "CREATECONSUMER", "s", "nope", "c"][..], true),
            (&["XGROUP", "DELCONSUMER", "nokey", "g", "c"][..], true),
            (&["XGROUP", "DESTROY", "s"][..], true),
            (&["XGROUP", "FOO", "s", "g"][..], true),
            (&["XGROUP", "HELP", "x"][..], true),
            (
                &["XREADGROUP", "GROUP", "nope", "c", "STREAMS", "s", ">"][..],
                true,
            ),
            (
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"][..],
                true,
            ),
            (
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"][..],
                true,
            ),
            (
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "s", ">"][..],
                true,
            ),
            (
                &["XREADGROUP", "COUNT", "1", "STREAMS", "s", ">", "x"][..],
                true,
            ),
            (
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"][..],
                true,
            ),
            (&["XACK", "s", "g", "bad"][..], true),
            (&["XACK", "str", "g", "1-0"][..], true),
            (&["XPENDING", "s", "nope"][..], true),
            (&["XPENDING", "s", "g", "-", "+"][..], true),
            (&["XPENDING", "s", "g", "-", "+", "x"][..], true),
            (
                &["XPENDING", "s", "g", "IDLE", "x", "-", "+", "1"][..],
                true,
            ),
            (&["XPENDING", "s", "g", "IDLE", "1", "-", "+"][..], true),
            (&["XPENDING", "s", "g", "bad", "+", "1"][..], true),
            (&["XPENDING", "str", "g"][..], true),
            (&["XCLAIM", "s", "nope", "c", "0", "1-0"][..], true),
            (&["XCLAIM", "s", "g", "c", "x", "1-0"][..], true),
            (
                &["XCLAIM", "s", "g", "c", "0", "1-0", "IDLE", "x"][..],
                true,
            ),
            (
                &["XCLAIM", "s", "g", "c", "0", "1-0", "TIME", "x"][..],
                true,
            ),
            (
                &["XCLAIM", "s", "g", "c", "0", "1-0", "RETRYCOUNT", "x"][..],
                true,
            ),
            (
                &["XCLAIM", "s", "g", "c", "0", "1-0", "LASTID", "x"][..],
                true,
            ),
            (&["XCLAIM", "s", "g", "c", "0", "1-0", "BOGUS"][..], true),
            (&["XCLAIM", "s", "g", "c", "0", "notanid"][..], true),
            (&["XAUTOCLAIM", "s", "nope", "c", "0", "0"][..], true),
            (&["XAUTOCLAIM", "s", "g", "c", "x", "0"][..], true),
            (&["XAUTOCLAIM", "s", "g", "c", "0", "bad"][..], true),
            (
                &["XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0"][..],
                true,
            ),
            (&["XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO"][..], true),
            (&["XAUTOCLAIM", "str", "g", "c", "0", "0"][..], true),
            (&["XINFO", "STREAM", "nokey"][..], true),
            (&["XINFO", "STREAM", "s", "FOO"][..], true),
            (&["XINFO", "STREAM", "s", "FULL", "COUNT"][..], true),
            (&["XINFO", "STREAM", "s", "FULL", "COUNT", "x"][..], true),
            (&["XINFO", "Stream", "s", "FULL", "CNT", "1"][..], true),
            (
                &["XINFO", "STREAM", "s", "FULL", "COUNT", "1", "x"][..],
                true,
            ),
            (&["XINFO", "CONSUMERS", "s", "nope"][..], true),
            (&["XINFO", "GROUPS", "str"][..], true),
            (&["XINFO", "FOO", "s"][..], true),
            (&["XINFO", "STREAM"][..], true),
        ] {
            d.same_error(cmd, exact).await;
        }
    }
}

#[tokio::test]
async fn xsetid_and_read_counters_match() {
    let mut d = Diff::start(false).await;
    d.script(&[
        &["XADD", "s", "1-0", "a", "1"],
        &["XADD", "s", "2-0", "a", "2"],
        &["XADD", "s", "3-0", "a", "3"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XSETID", "s", "10-0"],
        &[
            "XSETID",
            "s",
            "10-0",
            "ENTRIESADDED",
            "20",
            "MAXDELETEDID",
            "5-0",
        ],
        &["XINFO", "GROUPS", "s"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        &["XINFO", "GROUPS", "s"],
        &["XDEL", "s", "2-0"],
        &["XINFO", "GROUPS", "s"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        &["XINFO", "GROUPS", "s"],
        &["XADD", "s", "4-*", "a", "4"],
        &["XADD", "s", "5-0", "a", "5"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XINFO", "GROUPS", "s"],
        &["XLEN", "s"],
        &["EXISTS", "s"],
    ])
    .await;
    same_masked(&mut d, &["XINFO", "STREAM", "s"], false).await;
    d.same(&["SET", "str", "x"]).await;
    d.same(&["XADD", "t", "5-0", "a", "1"]).await;
    for (cmd, exact) in [
        (&["XSETID", "t", "4-0"][..], true),
        (&["XSETID", "t", "bad"][..], true),
        (&["XSETID", "t", "6-0", "ENTRIESADDED", "-1"][..], true),
        (&["XSETID", "t", "6-0", "ENTRIESADDED", "0"][..], true),
        (&["XSETID", "t", "6-0", "MAXDELETEDID", "7-0"][..], true),
        (&["XSETID", "t", "6-0", "FOO"][..], true),
        (&["XSETID", "nokey", "1-0"][..], true),
        (&["XSETID", "str", "1-0"][..], true),
    ] {
        d.same_error(cmd, exact).await;
    }
}

/// Blocking reads, two clients per server: XADD wakes them, `$` means the last ID when the
/// client blocked, timeouts answer a null array, inside MULTI BLOCK acts as timed out, and a
/// blocked XREADGROUP hears of its group or key going away.
#[tokio::test]
async fn blocking_reads_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let mut c = d.another().await;
        if resp3 {
            c.both(&["HELLO", "3"]).await;
        }
        d.same(&["XADD", "s", "1-0", "a", "1"]).await;
        c.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Deleted and re-made below the ID `$` stood for: still waiting.
        d.same(&["DEL", "s"]).await;
        d.same(&["XADD", "s", "0-5", "a", "1"]).await;
        d.same(&["XADD", "s", "2-0", "b", "2"]).await;
        c.next_same("XREAD woken by XADD").await;
        // A timeout.
        c.same(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]).await;
        // Inside MULTI the read does not block.
        d.script(&[
            &["MULTI"],
            &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
            &["EXEC"],
        ])
        .await;
        // XREADGROUP woken by XADD, with COUNT.
        d.same(&["XGROUP", "CREATE", "s", "g", "$"]).await;
        c.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "5",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ])
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        d.same(&["XADD", "s", "3-0", "c", "3"]).await;
        c.next_same("XREADGROUP woken by XADD").await;
        same_masked(&mut d, &["XPENDING", "s", "g", "-", "+", "10"], true).await;
        // ... and told when its group, its key or the whole database goes. FLUSHALL and FLUSHDB
        // name no key: Ferrite's waiters were not woken by them and the client hung
        // (tracking.tcl's "Blocking XREADGROUP: flushed DB").
        let create: &[&str] = &["XGROUP", "CREATE", "s", "g", "$"];
        let add: &[&str] = &["XADD", "s", "1-0", "f", "v"];
        let cases: [(&[&[&str]], &[&str]); 4] = [
            (&[], &["XGROUP", "DESTROY", "s", "g"]),
            (&[create], &["DEL", "s"]),
            (&[add, create], &["FLUSHALL"]),
            (&[add, create], &["FLUSHDB"]),
        ];
        for (setup, trigger) in cases {
            d.script(setup).await;
            c.send(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "c1",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ])
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            d.same(trigger).await;
            c.next_same(&format!("XREADGROUP after {trigger:?}")).await;
        }
        // A blocked XREAD on two streams is served by the one that gets an entry.
        c.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "t", "$", "$"])
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        d.same(&["XADD", "t", "9-0", "x", "y"]).await;
        c.next_same("XREAD on two keys").await;
        c.same(&["PING"]).await;
    }
}

/// WATCH: only XADD/XTRIM/XDEL that change something break it (Redis 7.0 sends group and
/// XSETID events without touching watched keys).
#[tokio::test]
async fn watch_sees_only_entry_changes() {
    let mut d = Diff::start(false).await;
    let mut other = d.another().await;
    for cmd in [
        &["XGROUP", "CREATE", "s", "g2", "0"][..],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c9"],
        &["XGROUP", "SETID", "s", "g", "0"],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0"],
        &["XACK", "s", "g", "1-0"],
        &["XCLAIM", "s", "g", "c2", "0", "1-0"],
        &["XSETID", "s", "5-0"],
        &["XTRIM", "s", "MAXLEN", "5"],
        &["XDEL", "s", "9-9"],
        &["XDEL", "s", "1-0"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XADD", "s", "7-0", "a", "1"],
        &["XGROUP", "DESTROY", "s", "g"],
    ] {
        for setup in [
            &["FLUSHALL"][..],
            &["XADD", "s", "1-0", "a", "1"],
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"],
        ] {
            other.same(setup).await;
        }
        d.script(&[&["WATCH", "s"], &["MULTI"], &["PING"]]).await;
        other.same(cmd).await;
        d.same(&["EXEC"]).await;
    }
}

/// Auto IDs (`*`, `<ms>-*`) only move forward, even when the clock does not.
#[tokio::test]
async fn auto_ids_are_monotonic() {
    let mut d = Diff::start(false).await;
    let mut last = (0u64, 0u64);
    let parse = |r: &str| -> (u64, u64) {
        let id = r.split("\r\n").nth(1).unwrap();
        let (a, b) = id.split_once('-').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    for _ in 0..200 {
        let (f, _) = d.both(&["XADD", "s", "*", "a", "1"]).await;
        let id = parse(&f);
        assert!(id > last, "{id:?} after {last:?}");
        last = id;
    }
    // An explicit far-future ms pins the auto IDs' ms part.
    d.same(&["XADD", "s", "99999999999999-5", "a", "1"]).await;
    let (f, _) = d.both(&["XADD", "s", "*", "a", "1"]).await;
    assert_eq!(parse(&f), (99999999999999, 6));
    let (f, _) = d.both(&["XADD", "s", "99999999999999-*", "a", "1"]).await;
    assert_eq!(parse(&f), (99999999999999, 7));
}

// ---------------------------------------------------------------------------------------------
// Ferrite alone: memory accounting, eviction, and scoped tokens.

use crate::common::tokens::TokenServer;
use crate::common::{q, test_config, TestServer};

async fn usage(c: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    q::<Option<i64>>(c, &["MEMORY", "USAGE", key])
        .await
        .unwrap()
        .unwrap_or(0)
}

/// MEMORY USAGE follows the entries and the group state, and comes back down.
#[tokio::test]
async fn memory_usage_grows_and_shrinks_with_the_stream() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let _: String = q(&mut c, &["XADD", "s", "1-0", "f", "v"]).await.unwrap();
    let one = usage(&mut c, "s").await;
    let value = "x".repeat(200);
    for i in 2..=500 {
        let id = format!("{i}-0");
        let _: String = q(&mut c, &["XADD", "s", &id, "f", &value]).await.unwrap();
    }
    let full = usage(&mut c, "s").await;
    assert!(full > one + 499 * 200, "{one} -> {full}");
    // Group state is counted too.
    let _: () = q(&mut c, &["XGROUP", "CREATE", "s", "g", "0"])
        .await
        .unwrap();
    let _: redis::Value = q(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
    )
    .await
    .unwrap();
    let with_pel = usage(&mut c, "s").await;
    assert!(with_pel > full, "{full} -> {with_pel}");
    let _: i64 = q(&mut c, &["XTRIM", "s", "MAXLEN", "10"]).await.unwrap();
    // The 500 pending entries stay in the PEL (as in Redis): only the entries went.
    let trimmed = usage(&mut c, "s").await;
    assert!(trimmed < with_pel / 3, "{with_pel} -> {trimmed}");
    let _: i64 = q(&mut c, &["XGROUP", "DESTROY", "s", "g"]).await.unwrap();
    let no_group = usage(&mut c, "s").await;
    assert!(no_group < trimmed / 3, "{trimmed} -> {no_group}");
    let _: i64 = q(&mut c, &["XTRIM", "s", "MAXLEN", "0"]).await.unwrap();
    let empty = usage(&mut c, "s").await;
    assert!(empty > 0 && empty < one, "{one} vs empty {empty}");
    // And the cache's accounted bytes return to zero without it.
    let _: i64 = q(&mut c, &["DEL", "s"]).await.unwrap();
    let cache = srv.running.shared.store.cache("default").unwrap();
    let used: usize = (0..cache.shard_count())
        .map(|i| cache.lock_shard(i).used_bytes())
        .sum();
    assert_eq!(used, 0);
}

/// Under maxmemory, streams are evicted like any other key.
#[tokio::test]
async fn eviction_frees_streams() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 4 * 1024 * 1024;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let value = "x".repeat(1000);
    for k in 0..200 {
        let key = format!("s{k}");
        let mut pipe = redis::pipe();
        for i in 1..=50 {
            pipe.cmd("XADD")
                .arg(&key)
                .arg(format!("{i}-0"))
                .arg("f")
                .arg(&value)
                .ignore();
        }
        let () = pipe.query_async(&mut c).await.unwrap();
    }
    // 10 MB of entries cannot fit 4 MiB: streams went (which ones is up to sampled LRU, so
    // no particular one is named).
    let n: i64 = q(&mut c, &["DBSIZE"]).await.unwrap();
    assert!(n < 200 && n > 0, "{n} streams left");
    let len: i64 = q(&mut c, &["XLEN", "s199"]).await.unwrap();
    assert_eq!(len, 50);
}

/// A token scoped to `mine:` reads and writes its own streams, and XREAD/XREADGROUP (blocking
/// or not) naming a stream outside the prefix is refused before anything runs.
#[tokio::test]
async fn scoped_tokens_cannot_read_streams_outside_their_prefix() {
    use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};
    let ts = TokenServer::start(&["app"]).await;
    let su = ts.mint("admin", Permissions::SuperUser);
    let mut admin = redis::Client::open(format!("redis://app:{su}@{}/", ts.srv.addr))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for k in ["mine:s", "secret:s"] {
        let _: String = q(&mut admin, &["XADD", k, "1-0", "f", "v"]).await.unwrap();
        let _: () = q(&mut admin, &["XGROUP", "CREATE", k, "g", "0"])
            .await
            .unwrap();
    }
    let tok = ts.mint(
        "scoped",
        Permissions::Explicit {
            caches: vec![CacheGrant {
                role: CacheRole::ReadWrite,
                cache: Some("app".into()),
                items: Selector::Prefix("mine:".into()),
            }],
            topics: vec![],
        },
    );
    let mut c = redis::Client::open(format!("redis://app:{tok}@{}/", ts.srv.addr))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ok: redis::Value = q(&mut c, &["XREAD", "STREAMS", "mine:s", "0"])
        .await
        .unwrap();
    assert!(format!("{ok:?}").contains("mine:s"));
    for cmd in [
        &["XREAD", "STREAMS", "secret:s", "0"][..],
        &[
            "XREAD", "COUNT", "5", "STREAMS", "mine:s", "secret:s", "0", "0",
        ],
        &["XREAD", "BLOCK", "0", "STREAMS", "secret:s", "$"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "secret:s", ">"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "mine:s",
            "secret:s",
            ">",
            ">",
        ],
        // A keyword look-alike before STREAMS cannot move the keys off what was checked.
        &[
            "XREADGROUP",
            "COUNT",
            "1",
            "GROUP",
            "g",
            "streams",
            "STREAMS",
            "secret:s",
            ">",
        ],
    ] {
        let e = q::<redis::Value>(&mut c, cmd).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("NOPERM") || text.contains("syntax error"),
            "{cmd:?}: {text}"
        );
        assert!(!text.contains("secret:s\""), "{cmd:?}: {text}");
    }
    // Nothing was delivered from the foreign stream.
    let pending: redis::Value = q(&mut admin, &["XPENDING", "secret:s", "g"]).await.unwrap();
    let pending = format!("{pending:?}").to_lowercase();
    assert!(pending.starts_with("array([int(0)"), "{pending}");
}

/// Keyspace notifications of class `t` (with `g` and `n`): the same events, in the same order,
/// as redis-server, including a consumer made on the fly by XREADGROUP or XCLAIM.
#[tokio::test]
async fn stream_notifications_match() {
    let mut d = Diff::start(false).await;
    d.same(&["CONFIG", "SET", "notify-keyspace-events", "KEtgn"])
        .await;
    let mut sub = d.another().await;
    sub.send(&["PSUBSCRIBE", "__key*__:*"]).await;
    sub.next_same("psubscribe").await;
    let cmds: &[&[&str]] = &[
        &["XADD", "s", "1-0", "a", "1"],
        &["XADD", "s", "MAXLEN", "1", "2-0", "a", "2"],
        &["XADD", "s", "MAXLEN", "5", "3-0", "a", "3"],
        &["XDEL", "s", "9-0"],
        &["XDEL", "s", "2-0"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "new", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c1"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c1"],
        &["XADD", "s", "4-0", "a", "4"],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"],
        &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0"],
        &["XACK", "s", "g", "4-0"],
        &["XCLAIM", "s", "g", "c3", "0", "4-0", "FORCE"],
        &["XAUTOCLAIM", "s", "g", "c4", "0", "0"],
        &["XGROUP", "SETID", "s", "g", "0"],
        &["XGROUP", "DELCONSUMER", "s", "g", "c1"],
        &["XGROUP", "DESTROY", "s", "g"],
        &["XSETID", "s", "10-0"],
        &["DEL", "s"],
    ];
    d.script(cmds).await;
    // Each event is two messages (keyspace, keyevent); the PING's reply must come after all of
    // them on both, so neither has an event the other lacks. (Ferrite publishes notifications
    // from a task: give it a moment before the PING.)
    tokio::time::sleep(Duration::from_millis(200)).await;
    sub.send(&["PING"]).await;
    let mut n = 0;
    loop {
        let m = sub.next_same("notification").await;
        if m.contains("pong") {
            break;
        }
        n += 1;
        assert!(n < 200, "runaway");
    }
    assert!(n >= 30, "only {n} notifications");
}
