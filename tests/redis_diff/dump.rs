//! DUMP and RESTORE beside redis-server 7.0: the same payload bytes for values whose encoding
//! and order are determined (strings, small and large lists, intsets, listpack hashes and sorted
//! sets, skiplist sorted sets), payloads moved in both directions, and RESTORE's errors.

use crate::common::redis_ref::{bulk, Diff, RedisRef};
use crate::common::{read_raw_reply, RawConn};

/// DUMP `key` on both; the payloads must be equal byte for byte.
async fn same_dump(d: &mut Diff, key: &str) -> Vec<u8> {
    let parts: &[&[u8]] = &[b"DUMP", key.as_bytes()];
    let f = bulk(&mut d.ferrite, parts).await;
    let r = bulk(&mut d.redis, parts).await;
    assert!(r.is_some(), "DUMP {key}: redis-server has no value");
    assert!(
        f == r,
        "DUMP {key} differs:\n ferrite {f:?}\n redis   {r:?}"
    );
    r.unwrap()
}

/// DUMP `key` from one connection.
async fn dump_of(c: &mut crate::common::RawConn, key: &str) -> Vec<u8> {
    bulk(c, &[b"DUMP", key.as_bytes()])
        .await
        .unwrap_or_else(|| panic!("DUMP {key}: no value"))
}

/// DUMP `key` on both, and RESTORE each server's payload into the other as `<key>:copy`
/// (both must answer OK); returns the copy's name.
async fn swap_restore(d: &mut Diff, key: &str) -> String {
    let from_redis = dump_of(&mut d.redis, key).await;
    let from_ferrite = dump_of(&mut d.ferrite, key).await;
    let copy = format!("{key}:copy");
    let enc = crate::common::redis_ref::encode;
    d.ferrite
        .send(&enc(&[b"RESTORE", copy.as_bytes(), b"0", &from_redis]))
        .await;
    d.redis
        .send(&enc(&[b"RESTORE", copy.as_bytes(), b"0", &from_ferrite]))
        .await;
    let f = crate::common::read_raw_reply(&mut d.ferrite).await;
    let r = crate::common::read_raw_reply(&mut d.redis).await;
    assert_eq!(
        (f.as_str(), r.as_str()),
        ("+OK\r\n", "+OK\r\n"),
        "RESTORE {key}"
    );
    copy
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

#[tokio::test]
async fn payloads_equal_redis_servers_byte_for_byte() {
    let mut d = Diff::start(false).await;
    let long_text = "lorem ipsum dolor sit amet ".repeat(20);
    let incompressible: String = (0..40)
        .map(|i| char::from(b'!' + (i * 37 % 90) as u8))
        .collect();
    d.script(&[
        &["SET", "int8", "12"],
        &["SET", "int16", "-3000"],
        &["SET", "int32", "2000000000"],
        &["SET", "int64", "9000000000"],
        &["SET", "leading0", "007"],
        &["SET", "short", "hello"],
        &["SET", "compressible", &long_text],
        &["SET", "incompressible", &incompressible],
        &["SET", "empty", ""],
        &[
            "RPUSH",
            "list",
            "a",
            "1",
            "-5",
            "300",
            "70000",
            "hello world",
            "9000000000",
        ],
        &["SADD", "intset", "3", "1", "2", "-100", "70000"],
        &["SADD", "bigints", "1", "9000000000"],
        &["SADD", "oneword", "word"],
        &["HSET", "hash", "f1", "v1", "f2", "2", "f3", "33333"],
        &["HSET", "bighashval", "f", &"x".repeat(100)],
        &[
            "ZADD", "zset", "1", "a", "2.5", "b", "-0.1", "c", "1e100", "d", "inf", "e",
        ],
    ])
    .await;
    for key in [
        "int8",
        "int16",
        "int32",
        "int64",
        "leading0",
        "short",
        "compressible",
        "incompressible",
        "empty",
        "list",
        "intset",
        "bigints",
        "oneword",
        "hash",
        "bighashval",
        "zset",
    ] {
        same_dump(&mut d, key).await;
    }
    // A list over one quicklist node (8 KiB), pushed one by one at the tail.
    for i in 0..400 {
        d.same(&[
            "RPUSH",
            "biglist",
            &format!("element-{i}-{}", "p".repeat(i % 50)),
        ])
        .await;
    }
    same_dump(&mut d, "biglist").await;
    // Sorted sets past the listpack limit: the skiplist, written greatest first.
    let members: Vec<String> = (0..200)
        .flat_map(|i| [format!("{}", i as f64 / 7.0), format!("m{i}")])
        .collect();
    let mut zadd = vec!["ZADD", "bigz"];
    zadd.extend(strs(&members));
    d.same(&zadd).await;
    same_dump(&mut d, "bigz").await;
    d.same(&["ZADD", "longmember", "1", &"m".repeat(65)]).await;
    same_dump(&mut d, "longmember").await;
    for key in [
        "list",
        "intset",
        "oneword",
        "hash",
        "bighashval",
        "zset",
        "bigz",
        "int8",
        "short",
        "compressible",
    ] {
        d.same(&["OBJECT", "ENCODING", key]).await;
    }
    // Thresholds from CONFIG SET change the encoding of values written after it on both (Redis
    // leaves values already written as they were: see docs/compatibility.md).
    d.same(&["CONFIG", "SET", "zset-max-listpack-entries", "2"])
        .await;
    d.same(&["ZADD", "z3", "1", "a", "2", "b", "3", "c"]).await;
    same_dump(&mut d, "z3").await;
    d.same(&["OBJECT", "ENCODING", "z3"]).await;
    d.same(&["CONFIG", "SET", "rdbcompression", "no"]).await;
    same_dump(&mut d, "compressible").await;
    d.same(&["DUMP", "missing"]).await;
}

#[tokio::test]
async fn payloads_move_both_ways() {
    let mut d = Diff::start(false).await;
    // Values whose payloads depend on hash order: the contents must survive the trip.
    let many: Vec<String> = (0..600).map(|i| format!("member-{i}")).collect();
    let mut sadd = vec!["SADD", "bigset"];
    sadd.extend(strs(&many));
    d.same(&sadd).await;
    let ints: Vec<String> = (0..600).map(|i| (i * 3).to_string()).collect();
    let mut sadd = vec!["SADD", "manyints"];
    sadd.extend(strs(&ints));
    d.same(&sadd).await;
    let mut hset = vec!["HSET", "bighash"];
    let pairs: Vec<String> = (0..300)
        .flat_map(|i| [format!("f{i}"), format!("v{i}")])
        .collect();
    hset.extend(strs(&pairs));
    d.same(&hset).await;
    d.same(&["RPUSH", "list", "x", "y", "z"]).await;
    d.same(&["ZADD", "z", "1", "a", "2", "b"]).await;
    d.same(&["SET", "s", &"abc".repeat(100)]).await;
    for key in ["bigset", "manyints", "bighash", "list", "z", "s"] {
        // Each server restores the other's payload...
        let copy = swap_restore(&mut d, key).await;
        // ...and holds what the original holds.
        d.same(&["TYPE", &copy]).await;
        match key {
            "bigset" | "manyints" => {
                d.same(&["SCARD", &copy]).await;
                d.same(&["SINTERCARD", "2", key, &copy]).await;
                d.same(&["SMISMEMBER", &copy, "member-5", "27", "nope"])
                    .await;
            }
            "bighash" => {
                d.same(&["HLEN", &copy]).await;
                d.same(&["HMGET", &copy, "f0", "f299", "f300"]).await;
            }
            "list" => drop(d.same(&["LRANGE", &copy, "0", "-1"]).await),
            "z" => drop(d.same(&["ZRANGE", &copy, "0", "-1", "WITHSCORES"]).await),
            _ => drop(d.same(&["GET", &copy]).await),
        }
    }
}

#[tokio::test]
async fn restore_options_and_errors_match_redis() {
    let mut d = Diff::start(false).await;
    d.same(&["SET", "src", "value"]).await;
    let p = same_dump(&mut d, "src").await;
    let p = &p[..];
    // RESTORE is reported as `restore` (class g).
    d.same(&["CONFIG", "SET", "notify-keyspace-events", "Eg"])
        .await;
    let mut sub = d.another().await;
    sub.same(&["SUBSCRIBE", "__keyevent@0__:restore"]).await;
    d.same_bin(&[b"RESTORE", b"ev", b"0", p]).await;
    sub.next_same("the restore event").await;
    // Plain restore, then BUSYKEY, then REPLACE.
    d.same_bin(&[b"RESTORE", b"k", b"0", p]).await;
    d.same_bin(&[b"RESTORE", b"k", b"0", p]).await;
    d.same_bin(&[b"RESTORE", b"k", b"0", p, b"REPLACE"]).await;
    d.same(&["GET", "k"]).await;
    // TTLs: relative, absolute in the past (nothing created; REPLACE deletes), bad values.
    d.same_bin(&[b"RESTORE", b"ttl", b"100000", p]).await;
    let (f, r) = d.both(&["PTTL", "ttl"]).await;
    for pttl in [f, r] {
        let ms: i64 = pttl.trim_start_matches(':').trim().parse().unwrap();
        assert!((90_000..=100_000).contains(&ms), "{pttl}");
    }
    d.same_bin(&[b"RESTORE", b"past", b"1000", p, b"ABSTTL"])
        .await;
    d.same(&["EXISTS", "past"]).await;
    d.same_bin(&[b"RESTORE", b"k", b"1000", p, b"ABSTTL", b"REPLACE"])
        .await;
    d.same(&["EXISTS", "k"]).await;
    d.same_bin(&[b"RESTORE", b"far", b"99999999999999", p, b"ABSTTL"])
        .await;
    d.same(&["EXISTS", "far"]).await;
    for ttl in [&b"-1"[..], b"abc", b"1.5"] {
        d.same_bin(&[b"RESTORE", b"t", ttl, p]).await;
    }
    // IDLETIME / FREQ.
    d.same_bin(&[b"RESTORE", b"idle", b"0", p, b"IDLETIME", b"1000"])
        .await;
    let (f, r) = d.both(&["OBJECT", "IDLETIME", "idle"]).await;
    for idle in [f, r] {
        let s: i64 = idle.trim_start_matches(':').trim().parse().unwrap();
        assert!((1000..=1003).contains(&s), "{idle}");
    }
    d.same_bin(&[b"RESTORE", b"fr", b"0", p, b"FREQ", b"100"])
        .await;
    for bad in [
        &[&b"IDLETIME"[..], b"-1"][..],
        &[b"IDLETIME", b"x"],
        &[b"FREQ", b"256"],
        &[b"FREQ", b"-1"],
        &[b"IDLETIME", b"1", b"FREQ", b"1"],
        &[b"FREQ", b"1", b"IDLETIME", b"1"],
        &[b"IDLETIME"],
        &[b"BOGUS"],
    ] {
        let mut parts: Vec<&[u8]> = vec![b"RESTORE", b"opt", b"0", p];
        parts.extend_from_slice(bad);
        d.same_bin(&parts).await;
    }
    // Options are checked before the key, the key before the TTL, the TTL before the payload.
    d.same_bin(&[b"RESTORE", b"src", b"-1", b"junk", b"FREQ", b"300"])
        .await;
    d.same_bin(&[b"RESTORE", b"src", b"-1", b"junk"]).await;
    d.same_bin(&[b"RESTORE", b"new", b"-1", b"junk"]).await;
    // Payloads: too short, a flipped bit, a newer RDB version, a good footer on a bad body.
    d.same_bin(&[b"RESTORE", b"bad", b"0", b"junk"]).await;
    let mut flipped = p.to_vec();
    flipped[2] ^= 0x40;
    d.same_bin(&[b"RESTORE", b"bad", b"0", &flipped]).await;
    let mut newer = p[..p.len() - 10].to_vec();
    newer.extend_from_slice(&11u16.to_le_bytes());
    let crc = ferrite_rdb::crc64::crc64(0, &newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    d.same_bin(&[b"RESTORE", b"bad", b"0", &newer]).await;
    for body in [
        &[0u8][..],
        &[0, 0x3f],
        &[2, 0],
        &[4, 1, 1, b'f'],
        &[99, 0],
        &[0xc0],
    ] {
        let mut bad = body.to_vec();
        bad.extend_from_slice(&10u16.to_le_bytes());
        let crc = ferrite_rdb::crc64::crc64(0, &bad);
        bad.extend_from_slice(&crc.to_le_bytes());
        d.same_bin(&[b"RESTORE", b"bad", b"0", &bad]).await;
    }
    d.same(&["EXISTS", "bad"]).await;
    // Arity.
    d.same(&["RESTORE", "a", "0"]).await;
    d.same(&["DUMP"]).await;
    d.same(&["DUMP", "a", "b"]).await;
}

#[tokio::test]
async fn restore_of_an_oversized_payload_is_refused_within_maxmemory() {
    // 64 MiB of zeros compresses to a few hundred KiB: decoding is charged to the budget, so a
    // small maxmemory refuses it before the value is built.
    let mut d = Diff::start(false).await;
    d.same(&["SET", "zeros", &"0".repeat(1 << 20)]).await;
    let p = dump_of(&mut d.ferrite, "zeros").await;
    assert!(
        p.len() < 64 * 1024,
        "LZF compresses the zeros ({} bytes)",
        p.len()
    );
    d.ferrite
        .cmd(&["CONFIG", "SET", "maxmemory", "600000"])
        .await;
    let _ = crate::common::read_raw_reply(&mut d.ferrite).await;
    d.ferrite
        .cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .await;
    let _ = crate::common::read_raw_reply(&mut d.ferrite).await;
    d.ferrite
        .send(&crate::common::redis_ref::encode(&[
            b"RESTORE", b"z2", b"0", &p,
        ]))
        .await;
    let reply = crate::common::read_raw_reply(&mut d.ferrite).await;
    assert!(reply.starts_with("-OOM"), "{reply}");
}

#[tokio::test]
async fn streams_dump_like_redis_and_move_both_ways() {
    let mut d = Diff::start(false).await;
    // 250 entries over three nodes, some with the master's fields and some not.
    for i in 1..=250u64 {
        let id = format!("{}-{}", 1000 + i / 3, i % 3);
        if i % 7 == 0 {
            d.same(&["XADD", "s", &id, "other", &i.to_string()]).await;
        } else {
            d.same(&[
                "XADD",
                "s",
                &id,
                "sensor",
                "temp",
                "value",
                &format!("{}.5", i),
            ])
            .await;
        }
    }
    d.same(&["XGROUP", "CREATE", "s", "g1", "0"]).await;
    d.same(&["XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "250"])
        .await;
    d.same(&["XADD", "plain", "5-1", "a", "1"]).await;
    same_dump(&mut d, "plain").await;
    same_dump(&mut d, "s").await;
    // Consumers carry their seen time (ms): compared after the trip, not in bytes.
    d.same(&["XGROUP", "CREATECONSUMER", "s", "g2", "idle"])
        .await;
    // Delivered entries have times: compare the restored streams' state instead of bytes.
    d.same(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "s",
        ">",
    ])
    .await;
    d.same(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ])
    .await;
    d.same(&["XDEL", "s", "1001-0", "1040-1"]).await;
    d.same(&["XADD", "empty", "1-1", "f", "v"]).await;
    d.same(&["XDEL", "empty", "1-1"]).await;
    for key in ["s", "empty"] {
        let copy = swap_restore(&mut d, key).await;
        d.same(&["XLEN", &copy]).await;
        d.same(&["XRANGE", &copy, "-", "+", "COUNT", "20"]).await;
        d.same(&["XREVRANGE", &copy, "+", "-", "COUNT", "5"]).await;
        d.same(&["XINFO", "GROUPS", &copy]).await;
        d.same(&["XPENDING", &copy, "g1"]).await;
        d.same(&["XADD", &copy, "99999-1", "after", "restore"])
            .await;
    }
}

/// MIGRATE from each server to a third (a redis-server): Ferrite's keys land in the target's
/// database 1, redis-server's in database 2; each source gets the same command otherwise, and
/// the replies must match.
async fn migrate_same(d: &mut Diff, target: std::net::SocketAddr, key: &str, rest: &[&str]) {
    let host = target.ip().to_string();
    let port = target.port().to_string();
    let build = |db: &'static str| {
        let mut v: Vec<&str> = vec!["MIGRATE", &host, &port, key, db, "5000"];
        v.extend_from_slice(rest);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let (f, r) = (build("1"), build("2"));
    d.ferrite
        .cmd(&f.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    d.redis
        .cmd(&r.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let fr = read_raw_reply(&mut d.ferrite).await;
    let rr = read_raw_reply(&mut d.redis).await;
    assert_eq!(fr, rr, "MIGRATE {key} {rest:?}");
}

async fn on(c: &mut RawConn, parts: &[&str]) -> String {
    c.cmd(parts).await;
    read_raw_reply(c).await
}

#[tokio::test]
async fn migrate_matches_redis() {
    let mut d = Diff::start(false).await;
    let target = RedisRef::start().await;
    let mut t = RawConn::connect(target.addr).await;
    d.script(&[
        &["SET", "s", "value"],
        &["PEXPIRE", "s", "100000"],
        &["RPUSH", "l", "a", "b", "c"],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["ZADD", "z", "1", "m1", "2.5", "m2"],
        &["SET", "busy", "here"],
        &["SET", "m1", "1"],
        &["SET", "m2", "2"],
    ])
    .await;
    for k in ["s", "l", "h", "z"] {
        migrate_same(&mut d, target.addr, k, &[]).await;
        d.same(&["EXISTS", k]).await;
    }
    // What each source sent arrived the same.
    let mut seen = Vec::new();
    for db in ["1", "2"] {
        on(&mut t, &["SELECT", db]).await;
        let mut got = Vec::new();
        for c in [
            &["GET", "s"][..],
            &["LRANGE", "l", "0", "-1"],
            &["HGETALL", "h"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        ] {
            got.push(on(&mut t, c).await);
        }
        let pttl: i64 = on(&mut t, &["PTTL", "s"]).await[1..]
            .trim()
            .parse()
            .unwrap();
        assert!((90_000..=100_000).contains(&pttl), "db {db}: PTTL {pttl}");
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1]);
    assert!(seen[0][1].contains("$1\r\nc\r\n"), "{:?}", seen[0]);
    // Missing key; BUSYKEY from the target, then REPLACE; COPY keeps the source's key.
    migrate_same(&mut d, target.addr, "nope", &[]).await;
    for db in ["1", "2"] {
        on(&mut t, &["SELECT", db]).await;
        on(&mut t, &["SET", "busy", "there"]).await;
    }
    migrate_same(&mut d, target.addr, "busy", &[]).await;
    d.same(&["GET", "busy"]).await;
    migrate_same(&mut d, target.addr, "busy", &["REPLACE", "COPY"]).await;
    d.same(&["GET", "busy"]).await;
    migrate_same(&mut d, target.addr, "busy", &["REPLACE"]).await;
    d.same(&["EXISTS", "busy"]).await;
    // KEYS: the ones that exist go; the key argument must then be empty.
    migrate_same(&mut d, target.addr, "", &["KEYS", "m1", "gone", "m2"]).await;
    d.same(&["EXISTS", "m1", "m2"]).await;
    migrate_same(&mut d, target.addr, "", &["KEYS", "gone"]).await;
    d.same(&["SET", "x", "1"]).await;
    migrate_same(&mut d, target.addr, "x", &["KEYS", "x"]).await;
    // The target's own errors come back as `Target instance replied with error`.
    migrate_same(&mut d, target.addr, "x", &["AUTH", "secret"]).await;
    migrate_same(&mut d, target.addr, "x", &["AUTH2", "u", "p"]).await;
    d.same(&["EXISTS", "x"]).await;
    // Argument errors, before anything is sent.
    for rest in [
        &["BOGUS"][..],
        &["AUTH"],
        &["AUTH2", "u"],
        &["COPY", "KEYS"],
    ] {
        migrate_same(&mut d, target.addr, "x", rest).await;
    }
    for (db, timeout) in [("x", "1000"), ("0", "x"), ("99999999999", "1000")] {
        d.same(&["MIGRATE", "127.0.0.1", "1", "x", db, timeout])
            .await;
    }
    // Nothing listens on port 1 of the loopback.
    d.same(&["MIGRATE", "127.0.0.1", "1", "x", "0", "1000"])
        .await;
    d.same(&["EXISTS", "x"]).await;
    // The connection to the target is cached (Redis keeps it 10 s).
    let (f, r) = d.both(&["INFO", "stats"]).await;
    for info in [f, r] {
        assert!(info.contains("migrate_cached_sockets:1"), "{info}");
    }
    drop(target);
}

/// Ferrite can MIGRATE to itself (another database), which Redis's blocking MIGRATE cannot:
/// its connection waits for the transfer while the server goes on serving the RESTORE.
#[tokio::test]
async fn migrate_to_the_same_ferrite_server_works() {
    let srv = crate::common::TestServer::start().await;
    let mut c = srv.raw().await;
    on(&mut c, &["SET", "k", "v"]).await;
    let port = srv.addr.port().to_string();
    let reply = on(&mut c, &["MIGRATE", "127.0.0.1", &port, "k", "9", "5000"]).await;
    assert_eq!(reply, "+OK\r\n");
    assert_eq!(on(&mut c, &["EXISTS", "k"]).await, ":0\r\n");
    on(&mut c, &["SELECT", "9"]).await;
    assert_eq!(on(&mut c, &["GET", "k"]).await, "$1\r\nv\r\n");
    // MIGRATE inside MULTI is refused (it waits on the network; EXEC cannot).
    on(&mut c, &["MULTI"]).await;
    on(&mut c, &["MIGRATE", "127.0.0.1", &port, "k", "0", "5000"]).await;
    let exec = on(&mut c, &["EXEC"]).await;
    assert!(exec.contains("-ERR"), "{exec}");
}
