//! WATCH/MULTI/EXEC and blocking fidelity, two clients per server (issue 14, "Transaction and
//! blocking fidelity").

use std::time::Duration;

use crate::common::redis_ref::Diff;

/// WATCH is broken only by a real change of the watched key.
#[tokio::test]
async fn watch_is_broken_only_by_real_changes() {
    let mut d = Diff::start(false).await;
    let mut other = d.another().await;
    // An SMOVE of a member the watched source does not hold changes nothing.
    d.script(&[
        &["SADD", "s", "a"],
        &["WATCH", "s", "dst"],
        &["MULTI"],
        &["PING"],
    ])
    .await;
    other.same(&["SMOVE", "s", "dst", "not-a-member"]).await;
    d.same(&["EXEC"]).await;
    // FLUSHALL while the watched key does not exist touches nothing watched.
    d.script(&[&["WATCH", "nokey"], &["MULTI"], &["PING"]])
        .await;
    other.same(&["FLUSHALL"]).await;
    d.same(&["EXEC"]).await;
    // FLUSHALL deleting a watched key that existed aborts.
    d.script(&[&["SET", "k", "1"], &["WATCH", "k"], &["MULTI"], &["PING"]])
        .await;
    other.same(&["FLUSHALL"]).await;
    d.same(&["EXEC"]).await;
    // A real SMOVE out of the watched set aborts.
    d.script(&[&["SADD", "s", "a"], &["WATCH", "s"], &["MULTI"], &["PING"]])
        .await;
    other.same(&["SMOVE", "s", "dst", "a"]).await;
    d.same(&["EXEC"]).await;
}

/// A watched key that expires between WATCH and EXEC aborts the transaction (Redis 7).
#[tokio::test]
async fn the_expiry_of_a_watched_key_aborts_exec() {
    let mut d = Diff::start(false).await;
    d.script(&[
        &["SET", "k", "v", "PX", "50"],
        &["WATCH", "k"],
        &["MULTI"],
        &["PING"],
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    d.same(&["EXEC"]).await;
}

/// Redis 7.0's stale keys: a key already expired (not reaped) when watched may be deleted,
/// reaped or flushed without breaking the WATCH; one that expires after WATCH breaks it even
/// when nothing reaped it (active expiry off).
#[tokio::test]
async fn watched_stale_keys_match_redis() {
    let mut d = Diff::start(false).await;
    d.same(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await;
    for between in [
        &["PING"][..],
        &["EXISTS", "x"][..],
        &["DEL", "x"][..],
        &["FLUSHDB"][..],
        &["SET", "x", "new"][..],
    ] {
        d.script(&[&["DEL", "x"], &["SET", "x", "foo", "PX", "1"]])
            .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        d.script(&[&["WATCH", "x"], between, &["MULTI"], &["PING"], &["EXEC"]])
            .await;
    }
    // SWAPDB: an expired key or none for an expired key or none is no change; a live one is
    for (in0, in1) in [
        ("stale", "none"),
        ("none", "stale"),
        ("stale", "stale"),
        ("live", "stale"),
    ] {
        d.script(&[&["FLUSHALL"], &["SELECT", "0"]]).await;
        for (db, what) in [("0", in0), ("1", in1)] {
            d.same(&["SELECT", db]).await;
            match what {
                "stale" => d.same(&["SET", "x", "foo", "PX", "1"]).await,
                "live" => d.same(&["SET", "x", "foo"]).await,
                _ => String::new(),
            };
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        d.script(&[
            &["WATCH", "x"],
            &["SWAPDB", "0", "1"],
            &["MULTI"],
            &["PING"],
            &["EXEC"],
        ])
        .await;
    }
    d.same(&["SELECT", "0"]).await;
    // lazily expired after WATCH: EXEC fails
    d.script(&[&["SET", "k", "1", "PX", "30"], &["WATCH", "k"]])
        .await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    d.script(&[&["MULTI"], &["INCR", "k"], &["EXEC"]]).await;
    d.same(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).await;
}

/// Clients blocked on one list are served in the order they blocked.
#[tokio::test]
async fn blocked_clients_are_served_in_the_order_they_blocked() {
    let mut d = Diff::start(false).await;
    let mut waiters = Vec::new();
    for i in 0..8 {
        let mut c = d.another().await;
        c.same(&["CLIENT", "SETNAME", &format!("w{i}")]).await;
        c.send(&["BLPOP", "l", "5"]).await;
        // Let each block before the next one does.
        tokio::time::sleep(Duration::from_millis(50)).await;
        waiters.push(c);
    }
    d.same(&["RPUSH", "l", "a", "b", "c", "d"]).await;
    for (i, c) in waiters.iter_mut().enumerate().take(4) {
        c.next_same(&format!("waiter {i}")).await;
    }
    // One element at a time, from another client each time: still in blocking order.
    for e in ["e", "f", "g", "h"] {
        d.same(&["LPUSH", "l", e]).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (i, c) in waiters.iter_mut().enumerate().skip(4) {
        c.next_same(&format!("waiter {i}")).await;
    }
}

/// A client blocked on a list stays blocked when the key is replaced by a string inside MULTI
/// (it is not woken with WRONGTYPE), and is served once a list appears.
#[tokio::test]
async fn a_blocked_pop_survives_the_key_becoming_another_type() {
    let mut d = Diff::start(false).await;
    let mut w = d.another().await;
    w.send(&["BLPOP", "l", "2"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    d.script(&[
        &["MULTI"],
        &["RPUSH", "l", "x"],
        &["DEL", "l"],
        &["SET", "l", "str"],
        &["EXEC"],
        &["DEL", "l"],
        &["RPUSH", "l", "y"],
    ])
    .await;
    w.next_same("the blocked BLPOP").await;
}

/// The same for BLMOVE and BLMPOP: woken while the source holds another type, they keep
/// waiting; BLMOVE into a destination of another type answers WRONGTYPE when served.
#[tokio::test]
async fn blmove_and_blmpop_keep_waiting_through_a_type_change() {
    let mut d = Diff::start(false).await;
    let mut mover = d.another().await;
    let mut mpop = d.another().await;
    mover
        .send(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "2"])
        .await;
    mpop.send(&["BLMPOP", "2", "1", "other", "src2", "LEFT"])
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    d.script(&[
        &["MULTI"],
        &["RPUSH", "src", "x"],
        &["RPUSH", "src2", "x"],
        &["DEL", "src", "src2"],
        &["SET", "src", "s"],
        &["SET", "src2", "s"],
        &["EXEC"],
        &["DEL", "src", "src2"],
        &["RPUSH", "src2", "y"],
        &["SET", "dst", "not-a-list"],
        &["RPUSH", "src", "z"],
    ])
    .await;
    mpop.next_same("BLMPOP").await;
    mover.next_same("BLMOVE into a string").await;
    d.same(&["LRANGE", "src", "0", "-1"]).await;
}
