//! ZMPOP, BZMPOP, BZPOPMIN and BZPOPMAX beside redis-server 7.0: reply shapes (RESP2 and
//! RESP3), argument errors, WRONGTYPE, MULTI (non-blocking), timeouts, wake-ups in the order
//! clients blocked, and a blocked client that stays blocked while its key holds another type.

use std::time::Duration;

use crate::common::redis_ref::Diff;

const SEED: &[&[&str]] = &[
    &["ZADD", "z", "1", "a", "2", "b", "3", "c", "2.5", "bb"],
    &["ZADD", "z2", "-1.5", "x", "7", "y"],
    &["SET", "str", "v"],
];

/// Replies and errors of the non-blocking forms and of the blocking ones that find data.
#[tokio::test]
async fn pops_and_errors_match_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(SEED).await;
        d.script(&[
            &["ZMPOP", "1", "z", "MIN"],
            &["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2"],
            &["ZMPOP", "3", "nokey", "z2", "z", "min", "count", "100"],
            &["ZMPOP", "1", "nokey", "MIN"],
            &["ZMPOP", "2", "nokey", "z", "MAX"],
            // errors: numkeys, MIN/MAX, COUNT, extra arguments, wrong type (in key order)
            &["ZMPOP", "0", "z", "MIN"],
            &["ZMPOP", "-1", "z", "MIN"],
            &["ZMPOP", "x", "z", "MIN"],
            &["ZMPOP", "3", "z", "MIN"],
            &["ZMPOP", "9", "z", "MIN"],
            &["ZMPOP", "1", "z", "LEFT"],
            &["ZMPOP", "1", "z", "MIN", "COUNT", "0"],
            &["ZMPOP", "1", "z", "MIN", "COUNT", "-3"],
            &["ZMPOP", "1", "z", "MIN", "COUNT", "x"],
            &["ZMPOP", "1", "z", "MIN", "COUNT"],
            &["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"],
            &["ZMPOP", "1", "z", "MIN", "extra"],
            &["ZMPOP", "2", "str", "z", "MIN"],
            &["ZMPOP"],
            &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
            &["ZMPOP", "2", "z", "str", "MIN"],
            &["BZPOPMIN", "z", "0"],
            &["BZPOPMAX", "nokey", "z", "0"],
            &["BZPOPMAX", "nokey", "z", "1.5"],
            &["BZPOPMIN", "str", "z", "0"],
            &["BZPOPMIN", "z", "x"],
            &["BZPOPMIN", "z", "-1"],
            &["BZPOPMIN", "z", "1e400"],
            &["BZPOPMIN", "z", "9223372036854775807"],
            &["BZPOPMIN", "z"],
            &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
            &["BZMPOP", "0", "1", "z", "MIN"],
            &["BZMPOP", "0.5", "2", "nokey", "z", "MAX", "COUNT", "5"],
            &["BZMPOP", "x", "1", "z", "MIN"],
            &["BZMPOP", "-1", "1", "z", "MIN"],
            &["BZMPOP", "0", "0", "z", "MIN"],
            &["BZMPOP", "0", "1", "z", "UP"],
            &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"],
            &["BZMPOP", "0", "1", "str", "MIN"],
            // the last member leaves the key gone
            &["EXISTS", "z"],
        ])
        .await;
        // Inside MULTI the blocking forms answer at once.
        d.script(&[
            &["MULTI"],
            &["BZPOPMIN", "nokey", "0"],
            &["BZMPOP", "0", "1", "nokey", "MIN"],
            &["BZPOPMAX", "z2", "0"],
            &["BZMPOP", "0", "1", "z2", "MIN", "COUNT", "3"],
            &["EXEC"],
        ])
        .await;
        // Timeouts: a null array (RESP2 `*-1`, RESP3 `_`).
        d.same(&["BZPOPMIN", "nokey", "0.05"]).await;
        d.same(&["BZPOPMAX", "nokey", "other", "0.05"]).await;
        d.same(&["BZMPOP", "0.05", "2", "nokey", "other", "MAX"])
            .await;
    }
}

/// Clients blocked on one sorted set are woken by ZADD, in the order they blocked, each with
/// its own reply shape.
#[tokio::test]
async fn blocked_clients_are_served_in_order() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let hello: &[&str] = if resp3 { &["HELLO", "3"] } else { &["PING"] };
        let mut waiters = Vec::new();
        let cmds: [&[&str]; 4] = [
            &["BZPOPMIN", "q", "5"],
            &["BZMPOP", "5", "2", "other", "q", "MAX", "COUNT", "2"],
            &["BZPOPMAX", "other", "q", "5"],
            &["BZMPOP", "5", "1", "q", "MIN"],
        ];
        for c in cmds {
            let mut w = d.another().await;
            w.both(hello).await;
            w.send(c).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            waiters.push(w);
        }
        d.same(&[
            "ZADD", "q", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ])
        .await;
        for (i, w) in waiters.iter_mut().enumerate() {
            w.next_same(&format!("waiter {i}")).await;
        }
        d.same(&["ZRANGE", "q", "0", "-1", "WITHSCORES"]).await;
    }
}

/// A client blocked on a sorted set is not woken with WRONGTYPE when the key becomes a string
/// (or a list) inside a transaction, and is served once a sorted set appears there.
#[tokio::test]
async fn a_blocked_zset_pop_survives_a_type_change() {
    let mut d = Diff::start(false).await;
    let mut w = d.another().await;
    let mut m = d.another().await;
    w.send(&["BZPOPMIN", "k", "3"]).await;
    m.send(&["BZMPOP", "3", "1", "k2", "MAX"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    d.script(&[
        &["MULTI"],
        &["ZADD", "k", "1", "x"],
        &["ZADD", "k2", "1", "x"],
        &["DEL", "k", "k2"],
        &["SET", "k", "str"],
        &["RPUSH", "k2", "l"],
        &["EXEC"],
        &["DEL", "k", "k2"],
        &["ZADD", "k2", "9", "m"],
        &["ZADD", "k", "2", "y"],
    ])
    .await;
    w.next_same("BZPOPMIN").await;
    m.next_same("BZMPOP").await;
}

/// A timed-out blocked pop answers the null array; one blocked forever is served by a later
/// ZADD from another client.
#[tokio::test]
async fn timeouts_and_blocking_forever() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let hello: &[&str] = if resp3 { &["HELLO", "3"] } else { &["PING"] };
        let mut t = d.another().await;
        t.both(hello).await;
        t.send(&["BZMPOP", "0.1", "1", "none", "MIN"]).await;
        t.next_same("timed out").await;
        let mut f = d.another().await;
        f.both(hello).await;
        f.send(&["BZPOPMAX", "forever", "0"]).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        d.same(&["ZADD", "forever", "1", "one", "2", "two"]).await;
        f.next_same("served").await;
        d.same(&["ZRANGE", "forever", "0", "-1", "WITHSCORES"])
            .await;
    }
}
