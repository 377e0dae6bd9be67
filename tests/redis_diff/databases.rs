//! SELECT, MOVE, SWAPDB, COPY ... DB and INFO keyspace beside redis-server 7.0 (Ferrite maps
//! database n onto the cache `default-db<n>`; tests/resp_databases.rs checks that side).

use std::time::Duration;

use crate::common::redis_ref::Diff;

#[tokio::test]
async fn databases_match_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["SELECT", "x"],
            &["SELECT", "16"],
            &["SELECT", "-1"],
            &["SELECT", "99999999999"],
            &["CONFIG", "GET", "databases"],
            &["SET", "k", "zero"],
            &["SELECT", "1"],
            &["GET", "k"],
            &["DBSIZE"],
            &["SET", "k1", "one"],
            &["EXPIRE", "k1", "1000"],
            &["RPUSH", "l", "a", "b"],
            &["SELECT", "0"],
            // MOVE: moved, missing here, present there, same database, bad indexes
            &["MOVE", "k", "1"],
            &["MOVE", "k", "1"],
            &["SET", "k1", "zero"],
            &["MOVE", "k1", "1"],
            &["MOVE", "k1", "0"],
            &["MOVE", "k1", "x"],
            &["MOVE", "k1", "16"],
            &["MOVE", "k1", "99999999999"],
            &["SELECT", "1"],
            &["GET", "k"],
            &["MOVE", "k1", "2"],
            &["MOVE", "l", "2"],
            &["SELECT", "2"],
            &["TTL", "k1"],
            &["LRANGE", "l", "0", "-1"],
            // COPY ... DB
            &["COPY", "k1", "k9", "DB", "3"],
            &["COPY", "k1", "k9", "DB", "3"],
            &["COPY", "k1", "k9", "DB", "3", "REPLACE"],
            &["COPY", "k1", "k1", "DB", "3"],
            &["COPY", "k1", "k1", "DB", "2"],
            &["COPY", "k1", "k1", "DB", "x"],
            &["COPY", "k1", "k1", "DB", "17"],
            &["COPY", "nokey", "k1", "DB", "3"],
            &["SELECT", "3"],
            &["GET", "k9"],
            &["TTL", "k1"],
            &["DBSIZE"],
            // SWAPDB swaps the contents; the connection stays on its index
            &["SWAPDB", "3", "0"],
            &["DBSIZE"],
            &["GET", "k1"],
            &["SELECT", "0"],
            &["GET", "k9"],
            &["SWAPDB", "x", "1"],
            &["SWAPDB", "1", "x"],
            &["SWAPDB", "1", "16"],
            &["SWAPDB", "-1", "1"],
            &["SWAPDB", "99999999999", "1"],
            &["SWAPDB", "1", "1"],
            &["SWAPDB", "5", "6"],
            &["PERSIST", "k1"],
            &["SELECT", "2"],
            &["PERSIST", "k1"],
            &["INFO", "keyspace"],
            &["FLUSHDB"],
            &["INFO", "keyspace"],
            &["FLUSHALL"],
            &["INFO", "keyspace"],
            // SELECT of the current database inside MULTI
            &["MULTI"],
            &["SELECT", "2"],
            &["SET", "a", "1"],
            &["EXEC"],
            &["GET", "a"],
        ])
        .await;
    }
}

/// A client blocked on a key of database 1 is served when SWAPDB brings a list there, and a
/// WATCH on a key that SWAPDB changes aborts the transaction.
#[tokio::test]
async fn swapdb_wakes_blocked_clients_and_breaks_watches() {
    let mut d = Diff::start(false).await;
    let mut w = d.another().await;
    w.same(&["SELECT", "1"]).await;
    w.send(&["BLPOP", "q", "2"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    d.script(&[&["RPUSH", "q", "x", "y"], &["SWAPDB", "0", "1"]])
        .await;
    w.next_same("the blocked BLPOP").await;
    let mut other = d.another().await;
    d.script(&[&["SET", "w", "1"], &["WATCH", "w"], &["MULTI"], &["PING"]])
        .await;
    other.same(&["SWAPDB", "0", "1"]).await;
    d.same(&["EXEC"]).await;
    d.script(&[&["WATCH", "nokey"], &["MULTI"], &["PING"]])
        .await;
    other.same(&["SWAPDB", "0", "1"]).await;
    d.same(&["EXEC"]).await;
}

/// Inside MULTI: SELECT switches the database the next queued commands run in (and stays
/// selected after EXEC), MOVE, SWAPDB and COPY ... DB reach other databases, all atomically
/// with the rest of the transaction (issue 14: EXEC locks every database it names).
#[tokio::test]
async fn databases_inside_multi_match_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["SET", "k", "zero"],
            &["MULTI"],
            &["SELECT", "1"],
            &["SET", "k", "one"],
            &["SELECT", "2"],
            &["SET", "k", "two"],
            &["GET", "k"],
            &["SELECT", "0"],
            &["GET", "k"],
            &["SELECT", "3"],
            &["EXEC"],
            // Still database 3 after EXEC.
            &["SET", "in3", "x"],
            &["SELECT", "0"],
            &["EXISTS", "in3"],
            &["MULTI"],
            &["SET", "m", "v"],
            &["EXPIRE", "m", "1000"],
            &["MOVE", "m", "5"],
            &["MOVE", "m", "5"],
            &["MOVE", "nosuch", "5"],
            &["MOVE", "k", "0"],
            &["MOVE", "k", "x"],
            &["COPY", "k", "copied", "DB", "6"],
            &["COPY", "k", "copied", "DB", "6"],
            &["COPY", "k", "copied", "DB", "6", "REPLACE"],
            &["SELECT", "5"],
            &["TTL", "m"],
            &["GET", "m"],
            &["SELECT", "6"],
            &["GET", "copied"],
            &["SELECT", "0"],
            &["EXEC"],
            &["MULTI"],
            &["SWAPDB", "0", "1"],
            &["GET", "k"],
            &["SWAPDB", "1", "2"],
            &["SELECT", "2"],
            &["GET", "k"],
            &["SWAPDB", "7", "8"],
            &["SWAPDB", "0", "99"],
            &["SELECT", "99"],
            &["GET", "k"],
            &["EXEC"],
            &["GET", "k"],
            &["SELECT", "0"],
            &["GET", "k"],
            &["SELECT", "1"],
            &["GET", "k"],
            &["INFO", "keyspace"],
        ])
        .await;
    }
}

/// Transactions on overlapping databases from two clients, in opposite orders, neither
/// deadlock nor interleave.
#[tokio::test]
async fn crossing_multi_database_transactions_do_not_deadlock() {
    let srv = crate::common::TestServer::start().await;
    let mut tasks = Vec::new();
    for t in 0..4 {
        let mut c = srv.raw().await;
        tasks.push(tokio::spawn(async move {
            let (a, b) = if t % 2 == 0 { ("1", "2") } else { ("2", "1") };
            for i in 0..50 {
                let k = format!("k{t}-{i}");
                for cmd in [
                    &["MULTI"][..],
                    &["SELECT", a],
                    &["SET", &k, "v"],
                    &["MOVE", &k, b],
                    &["SWAPDB", a, b],
                    &["SELECT", "0"],
                    &["EXEC"],
                ] {
                    c.cmd(cmd).await;
                    crate::common::read_raw_reply(&mut c).await;
                }
            }
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("a transaction deadlocked")
            .unwrap();
    }
}
