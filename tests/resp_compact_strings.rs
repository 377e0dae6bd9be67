//! Small strings live in the storage engine's compact segment store (issue 7); everything else in
//! the general map. These tests drive the real server over RESP across both stores: values and
//! TTLs survive moves between them, SCAN/KEYS/DBSIZE/RANDOMKEY see every key, memory follows the
//! live data (overwrite, delete, FLUSHALL), and eviction keeps `used_memory` under `maxmemory`.

mod common;
use common::*;

use std::collections::HashSet;

type Conn = redis::aio::MultiplexedConnection;

async fn used_memory(c: &mut Conn) -> u64 {
    let info: String = q(c, &["INFO", "memory"]).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .expect("INFO memory has used_memory")
        .trim()
        .parse()
        .unwrap()
}

/// SET key{i} for i in range, one pipeline per 1000 keys.
async fn load(c: &mut Conn, range: std::ops::Range<u32>, value: &[u8]) {
    let keys: Vec<u32> = range.collect();
    for chunk in keys.chunks(1000) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("SET").arg(format!("k:{i:014}")).arg(value).ignore();
        }
        let () = p.query_async(c).await.unwrap();
    }
}

#[tokio::test]
async fn strings_keep_values_and_ttls_while_moving_between_stores() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;

    let _: () = q(&mut c, &["SET", "s", "hello"]).await.unwrap();
    assert_eq!(q::<String>(&mut c, &["GET", "s"]).await.unwrap(), "hello");
    assert_eq!(q::<String>(&mut c, &["TYPE", "s"]).await.unwrap(), "string");
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "s"])
            .await
            .unwrap(),
        "embstr"
    );
    assert!(q::<i64>(&mut c, &["MEMORY", "USAGE", "s"]).await.unwrap() > 0);
    // APPEND mutates in place (the item moves to the map), SET brings it back.
    assert_eq!(
        q::<i64>(&mut c, &["APPEND", "s", " world"]).await.unwrap(),
        11
    );
    assert_eq!(
        q::<String>(&mut c, &["GET", "s"]).await.unwrap(),
        "hello world"
    );
    let _: () = q(&mut c, &["SET", "s", "again", "EX", "100"])
        .await
        .unwrap();
    let ttl: i64 = q(&mut c, &["TTL", "s"]).await.unwrap();
    assert!((1..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "s"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "s"]).await.unwrap(), -1);
    assert_eq!(q::<String>(&mut c, &["GET", "s"]).await.unwrap(), "again");

    // A value past the compact store's 4 KiB limit, then a small one again.
    let big = "x".repeat(5000);
    let _: () = q(&mut c, &["SET", "s", &big]).await.unwrap();
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "s"]).await.unwrap(), 5000);
    let _: () = q(&mut c, &["SET", "s", "small", "PX", "100000"])
        .await
        .unwrap();
    assert_eq!(q::<String>(&mut c, &["GET", "s"]).await.unwrap(), "small");

    // INCR on a compact string, GETSET/SET GET, SETNX, a collection replacing a string.
    let _: () = q(&mut c, &["SET", "n", "41"]).await.unwrap();
    assert_eq!(q::<i64>(&mut c, &["INCR", "n"]).await.unwrap(), 42);
    assert_eq!(
        q::<String>(&mut c, &["SET", "n", "7", "GET"])
            .await
            .unwrap(),
        "42"
    );
    assert_eq!(q::<i64>(&mut c, &["SETNX", "n", "8"]).await.unwrap(), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "n"]).await.unwrap(), "7");
    assert_eq!(q::<i64>(&mut c, &["DEL", "n"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["HSET", "n", "f", "v"]).await.unwrap(), 1);
    let e = q::<String>(&mut c, &["GET", "n"]).await.unwrap_err();
    assert_eq!(e.code(), Some("WRONGTYPE"));
    let _: () = q(&mut c, &["SET", "n", "back"]).await.unwrap();
    assert_eq!(q::<String>(&mut c, &["TYPE", "n"]).await.unwrap(), "string");

    // The other string writers.
    let _: () = q(&mut c, &["SETEX", "e", "100", "ev"]).await.unwrap();
    assert_eq!(q::<String>(&mut c, &["GET", "e"]).await.unwrap(), "ev");
    assert!((1..=100).contains(&q::<i64>(&mut c, &["TTL", "e"]).await.unwrap()));
    let _: () = q(&mut c, &["PSETEX", "e", "100000", "pv"]).await.unwrap();
    assert_eq!(q::<String>(&mut c, &["GET", "e"]).await.unwrap(), "pv");
    assert!(q::<i64>(&mut c, &["PTTL", "e"]).await.unwrap() > 0);
    let _: () = q(&mut c, &["MSET", "m1", "a", "m2", "b"]).await.unwrap();
    let got: Vec<String> = q(&mut c, &["MGET", "m1", "m2"]).await.unwrap();
    assert_eq!(got, ["a", "b"]);
    assert_eq!(
        q::<i64>(&mut c, &["MSETNX", "m2", "x", "m3", "y"])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        q::<i64>(&mut c, &["MSETNX", "m3", "y", "m4", "z"])
            .await
            .unwrap(),
        1
    );
    assert_eq!(q::<String>(&mut c, &["GET", "m3"]).await.unwrap(), "y");
    assert_eq!(
        q::<String>(&mut c, &["GETSET", "m1", "c"]).await.unwrap(),
        "a"
    );
    assert_eq!(q::<String>(&mut c, &["GET", "m1"]).await.unwrap(), "c");

    // RENAME and COPY keep value and expiry.
    let ttl_before: i64 = q(&mut c, &["PTTL", "s"]).await.unwrap();
    let _: () = q(&mut c, &["RENAME", "s", "r"]).await.unwrap();
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "s", "r"]).await.unwrap(), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "r"]).await.unwrap(), "small");
    let ttl_after: i64 = q(&mut c, &["PTTL", "r"]).await.unwrap();
    assert!(
        ttl_after > 0 && ttl_after <= ttl_before,
        "{ttl_after} vs {ttl_before}"
    );
    assert_eq!(q::<i64>(&mut c, &["COPY", "r", "c"]).await.unwrap(), 1);
    assert_eq!(q::<String>(&mut c, &["GET", "c"]).await.unwrap(), "small");
    assert!(q::<i64>(&mut c, &["PTTL", "c"]).await.unwrap() > 0);
    assert_eq!(
        q::<i64>(&mut c, &["DEL", "r", "c", "nope"]).await.unwrap(),
        2
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["GET", "r"]).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn scan_keys_dbsize_and_randomkey_see_both_stores() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let n = 3000u32;
    load(&mut c, 0..n, b"v").await;
    // A few keys in the map: large values and collections.
    let big = vec![b'b'; 5000];
    for i in (0..n).step_by(100) {
        let _: () = q(
            &mut c,
            &[
                "SET",
                &format!("k:{i:014}"),
                std::str::from_utf8(&big).unwrap(),
            ],
        )
        .await
        .unwrap();
    }
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]).await.unwrap();
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).await.unwrap(), n as i64 + 1);
    let keys: Vec<String> = q(&mut c, &["KEYS", "k:*"]).await.unwrap();
    assert_eq!(keys.len(), n as usize);

    // SCAN in small steps while deleting odd keys and overwriting even ones (which moves
    // their records and triggers compactions): every even key must come back.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0u32;
    loop {
        let (next, batch): (String, Vec<String>) =
            q(&mut c, &["SCAN", &cursor, "COUNT", "25"]).await.unwrap();
        seen.extend(batch);
        for j in 0..10 {
            let i = (round * 10 + j) % n;
            let k = format!("k:{i:014}");
            if i % 2 == 1 {
                let _: i64 = q(&mut c, &["DEL", &k]).await.unwrap();
            } else {
                let _: () = q(&mut c, &["SET", &k, "w"]).await.unwrap();
            }
        }
        round += 1;
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(round < 10_000, "SCAN does not finish");
    }
    for i in (0..n).step_by(2) {
        assert!(seen.contains(&format!("k:{i:014}")), "k:{i:014} missed");
    }
    assert!(seen.contains("h"));
    // TYPE filter: only the hash.
    let mut hashes = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, batch): (String, Vec<String>) =
            q(&mut c, &["SCAN", &cursor, "COUNT", "500", "TYPE", "hash"])
                .await
                .unwrap();
        hashes.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(hashes, vec!["h".to_string()]);
    // A forged cursor is answered, not crashed on.
    let _: (String, Vec<String>) = q(&mut c, &["SCAN", "9223372036854775807", "COUNT", "10"])
        .await
        .unwrap();
    for _ in 0..20 {
        let k: String = q(&mut c, &["RANDOMKEY"]).await.unwrap();
        assert_eq!(q::<i64>(&mut c, &["EXISTS", &k]).await.unwrap(), 1, "{k}");
    }
}

#[tokio::test]
async fn used_memory_follows_live_data_and_returns_after_flush() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let base = used_memory(&mut c).await;
    let n = 50_000u32;
    let v32 = [b'v'; 32];
    load(&mut c, 0..n, &v32).await;
    let loaded = used_memory(&mut c).await - base;
    let per_item = loaded as f64 / n as f64;
    // 16-byte keys, 32-byte values: 56 bytes of record + ~14 of index (map entries cost ~200).
    assert!((56.0..90.0).contains(&per_item), "{per_item} B/item");
    // Overwriting everything must not double memory: dead records are compacted away.
    load(&mut c, 0..n, &[b'w'; 32]).await;
    let rewritten = used_memory(&mut c).await - base;
    assert!(
        (rewritten as f64) < loaded as f64 * 1.5,
        "{rewritten} after rewrite vs {loaded}"
    );
    // Deleting all but a tenth frees most of it.
    let keys: Vec<String> = (0..n)
        .filter(|i| i % 10 != 0)
        .map(|i| format!("k:{i:014}"))
        .collect();
    for chunk in keys.chunks(1000) {
        let mut p = redis::pipe();
        p.cmd("DEL").arg(chunk).ignore();
        let () = p.query_async(&mut c).await.unwrap();
    }
    let after_del = used_memory(&mut c).await - base;
    assert!(
        after_del < loaded / 4,
        "{after_del} after deleting 90% of {loaded}"
    );
    for i in (0..n).step_by(10) {
        let v: String = q(&mut c, &["GET", &format!("k:{i:014}")]).await.unwrap();
        assert_eq!(v.as_bytes(), &[b'w'; 32]);
    }
    let _: () = q(&mut c, &["FLUSHALL"]).await.unwrap();
    // Everything the data held is given back. (`used_memory` also counts this connection's
    // buffers, which the 20 KB DEL commands grew a little: compare the data's share.)
    let info: String = q(&mut c, &["INFO", "memory"]).await.unwrap();
    let dataset = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_dataset:"))
        .expect("INFO memory has used_memory_dataset");
    assert_eq!(dataset.trim(), "0", "{info}");
}

#[tokio::test]
async fn eviction_keeps_used_memory_under_maxmemory_and_spares_a_read_key() {
    let mut cfg = test_config();
    cfg.memory.maxmemory = 2 * 1024 * 1024;
    let srv = TestServer::start_with(cfg).await;
    let mut c = srv.client().await;
    let _: () = q(&mut c, &["SET", "hot", "x"]).await.unwrap();
    let n = 100_000u32;
    for start in (0..n).step_by(500) {
        load(&mut c, start..start + 500, &[b'v'; 32]).await;
        // Read between batches: a key read since it was (re)written gets a second chance.
        let v: Option<String> = q(&mut c, &["GET", "hot"]).await.unwrap();
        assert_eq!(v.as_deref(), Some("x"), "hot key evicted after {start}");
    }
    let used = used_memory(&mut c).await;
    assert!(used <= 2 * 1024 * 1024 + 64 * 1024, "used {used}");
    let dbsize: i64 = q(&mut c, &["DBSIZE"]).await.unwrap();
    assert!(dbsize > 1000 && dbsize < n as i64, "dbsize {dbsize}");
    let info: String = q(&mut c, &["INFO", "stats"]).await.unwrap();
    let evicted: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(evicted > 50_000, "evicted {evicted}");
}
