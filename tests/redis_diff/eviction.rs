//! Redis's eight `maxmemory-policy` values beside redis-server 7.0: the CONFIG surface, LFU
//! counters (OBJECT FREQ, RESTORE FREQ), and the eviction behaviour Redis's own
//! `tests/unit/maxmemory.tcl` checks (that unit is tagged `external:skip`, so the TCL run never
//! reaches it; its cases are replayed here on both servers, each judged by its own INFO).

use crate::common::redis_ref::{bulk, Diff};
use crate::common::{info_fields, read_raw_reply, RawConn};

const POLICIES: [&str; 8] = [
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

#[tokio::test]
async fn policies_and_lfu_counters_match_redis() {
    let mut d = Diff::start(false).await;
    for p in POLICIES {
        d.same(&["CONFIG", "SET", "maxmemory-policy", p]).await;
        d.same(&["CONFIG", "GET", "maxmemory-policy"]).await;
    }
    d.same(&["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LFU"])
        .await;
    d.same_error(&["CONFIG", "SET", "maxmemory-policy", "lfu"], true)
        .await;
    for n in ["0", "-1", "x"] {
        d.same_error(&["CONFIG", "SET", "maxmemory-samples", n], true)
            .await;
    }
    d.same(&["CONFIG", "SET", "maxmemory-samples", "10"]).await;
    d.same(&["CONFIG", "GET", "maxmemory-samples"]).await;
    d.same(&["CONFIG", "SET", "lfu-log-factor", "10"]).await;
    d.same(&["CONFIG", "SET", "lfu-decay-time", "1"]).await;

    // Under an LFU policy: a new key starts at LFU_INIT_VAL (5), its first read always counts,
    // OBJECT FREQ does not count, and OBJECT IDLETIME is refused.
    d.same(&["SET", "k", "v"]).await;
    d.same(&["OBJECT", "FREQ", "k"]).await;
    d.same(&["OBJECT", "FREQ", "k"]).await;
    d.same_error(&["OBJECT", "IDLETIME", "k"], true).await;
    d.same(&["GET", "k"]).await;
    let (f, r) = d.both(&["OBJECT", "FREQ", "k"]).await;
    for freq in [f, r] {
        let n: i64 = freq.trim_start_matches(':').trim().parse().unwrap();
        assert!((6..=7).contains(&n), "{freq}");
    }
    // RESTORE ... FREQ sets the counter (Redis's dump.tcl "RESTORE can set LFU").
    let payload = bulk(&mut d.ferrite, &[b"DUMP", b"k"]).await.unwrap();
    d.same_bin(&[b"RESTORE", b"foo", b"0", &payload, b"FREQ", b"100"])
        .await;
    d.same(&["OBJECT", "FREQ", "foo"]).await;
    // ... while IDLETIME is accepted and ignored under LFU.
    d.same_bin(&[b"RESTORE", b"bar", b"0", &payload, b"IDLETIME", b"100"])
        .await;
    d.same(&["OBJECT", "FREQ", "bar"]).await;
    d.same(&["CONFIG", "SET", "maxmemory-policy", "volatile-lfu"])
        .await;
    d.same(&["OBJECT", "FREQ", "foo"]).await;
    // Back under LRU: FREQ is refused, IDLETIME answers, RESTORE FREQ is ignored.
    d.same(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
        .await;
    d.same_error(&["OBJECT", "FREQ", "foo"], true).await;
    d.same_bin(&[b"RESTORE", b"baz", b"0", &payload, b"FREQ", b"100"])
        .await;
    d.same(&["OBJECT", "IDLETIME", "baz"]).await;
    d.same_bin(&[b"RESTORE", b"old", b"0", &payload, b"IDLETIME", b"1000"])
        .await;
    // Whole seconds, like Redis: exactly 1000 unless a second passed (dump.tcl "RESTORE can set
    // LRU" allows 1000..1010).
    let (f, r) = d.both(&["OBJECT", "IDLETIME", "old"]).await;
    for idle in [f, r] {
        let s: i64 = idle.trim_start_matches(':').trim().parse().unwrap();
        assert!((1000..=1002).contains(&s), "{idle}");
    }
}

async fn call(c: &mut RawConn, parts: &[&str]) -> String {
    c.cmd(parts).await;
    read_raw_reply(c).await
}

async fn used_memory(c: &mut RawConn) -> u64 {
    let text = call(c, &["INFO", "memory"]).await;
    info_fields(&text)["used_memory"].parse().unwrap()
}

/// A key like the TCL suite's `randomKey`: from a small space, so overwrites happen too.
fn random_key() -> String {
    format!("key:{}", rand::random::<u32>() % 100_000)
}

/// maxmemory.tcl's "is the memory limit honoured?" and "only allkeys-* should remove
/// non-volatile keys": fill to just under a limit 100 KiB above the current use, then write as
/// many keys again. Returns (memory stayed within the limit, an OOM error was seen).
async fn fill_twice(c: &mut RawConn, policy: &str, volatile_keys: bool) -> (bool, bool) {
    call(c, &["FLUSHALL"]).await;
    call(c, &["CONFIG", "SET", "maxmemory", "0"]).await;
    let limit = used_memory(c).await + 100 * 1024;
    call(c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).await;
    call(c, &["CONFIG", "SET", "maxmemory-policy", policy]).await;
    let write = |k: String| -> Vec<String> {
        if volatile_keys {
            vec!["SETEX".into(), k, "10000".into(), "x".into()]
        } else {
            vec!["SET".into(), k, "x".into()]
        }
    };
    let mut numkeys = 0;
    loop {
        let cmd = write(random_key());
        let parts: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let reply = call(c, &parts).await;
        assert!(reply.starts_with('+'), "{policy}: {reply}");
        numkeys += 1;
        if used_memory(c).await + 4096 > limit {
            assert!(numkeys > 10, "{policy}: only {numkeys} keys fit");
            break;
        }
    }
    let mut oom = false;
    for _ in 0..numkeys {
        let cmd = write(random_key());
        let parts: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let reply = call(c, &parts).await;
        if reply.starts_with("-OOM") {
            oom = true;
        } else {
            assert!(reply.starts_with('+'), "{policy}: {reply}");
        }
    }
    let within = used_memory(c).await < limit + 4096;
    call(c, &["CONFIG", "SET", "maxmemory", "0"]).await;
    (within, oom)
}

#[tokio::test]
async fn every_policy_honours_the_limit_like_redis() {
    let mut d = Diff::start(false).await;
    for policy in &POLICIES[..7] {
        for (name, c) in [("ferrite", &mut d.ferrite), ("redis", &mut d.redis)] {
            let (within, oom) = fill_twice(c, policy, true).await;
            assert!(
                within && !oom,
                "{name} {policy}: within {within}, oom {oom}"
            );
        }
    }
}

#[tokio::test]
async fn only_allkeys_policies_evict_keys_without_a_ttl_like_redis() {
    let mut d = Diff::start(false).await;
    for policy in [
        "allkeys-random",
        "allkeys-lru",
        "allkeys-lfu",
        "volatile-lru",
        "volatile-random",
        "volatile-ttl",
        "noeviction",
    ] {
        for (name, c) in [("ferrite", &mut d.ferrite), ("redis", &mut d.redis)] {
            let (within, oom) = fill_twice(c, policy, false).await;
            if policy.starts_with("allkeys-") {
                assert!(
                    within && !oom,
                    "{name} {policy}: within {within}, oom {oom}"
                );
            } else {
                assert!(oom, "{name} {policy}: evicted keys without a TTL");
            }
        }
    }
}

/// maxmemory.tcl's "policy volatile-* should only remove volatile keys": half the keys have a
/// TTL; under pressure every key without one survives.
#[tokio::test]
async fn volatile_policies_keep_keys_without_a_ttl_like_redis() {
    let mut d = Diff::start(false).await;
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        for (name, c) in [("ferrite", &mut d.ferrite), ("redis", &mut d.redis)] {
            call(c, &["FLUSHALL"]).await;
            call(c, &["CONFIG", "SET", "maxmemory", "0"]).await;
            let limit = used_memory(c).await + 100 * 1024;
            call(c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).await;
            call(c, &["CONFIG", "SET", "maxmemory-policy", policy]).await;
            let mut n = 0;
            while used_memory(c).await + 4096 <= limit {
                call(c, &["SET", &format!("key:{n}"), "x"]).await;
                call(c, &["SETEX", &format!("vkey:{n}"), "10000", "x"]).await;
                n += 1;
            }
            for j in n..n * 2 {
                call(c, &["SETEX", &format!("vkey:{j}"), "10000", "x"]).await;
            }
            for j in 0..n {
                let r = call(c, &["EXISTS", &format!("key:{j}")]).await;
                assert_eq!(r, ":1\r\n", "{name} {policy}: key:{j} of {n} was evicted");
            }
            let evicted = info_fields(&call(c, &["INFO", "stats"]).await)["evicted_keys"]
                .parse::<u64>()
                .unwrap();
            assert!(evicted > 0, "{name} {policy}: nothing was evicted");
            call(c, &["CONFIG", "SET", "maxmemory", "0"]).await;
        }
    }
}

/// allkeys-lfu keeps the keys that are read over keys written once, where LRU order alone
/// (the frequently read keys were written first) would evict them.
#[tokio::test]
async fn allkeys_lfu_keeps_frequently_read_keys() {
    let mut d = Diff::start(false).await;
    for (name, c) in [("ferrite", &mut d.ferrite), ("redis", &mut d.redis)] {
        call(c, &["FLUSHALL"]).await;
        call(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]).await;
        // Strings (Ferrite's segment store) and hashes (its general map), hot and cold.
        for j in 0..20 {
            let k = format!("hot:{j}");
            let read = if j % 2 == 0 {
                call(c, &["SET", &k, "x"]).await;
                ["GET", &k, ""]
            } else {
                call(c, &["HSET", &k, "f", "x"]).await;
                ["HGET", &k, "f"]
            };
            for _ in 0..50 {
                call(c, &read[..if j % 2 == 0 { 2 } else { 3 }]).await;
            }
        }
        // Room for a few thousand keys: Ferrite evicts shard by shard, so each of its 16
        // shards needs cold keys to choose from (with a few hundred keys in all, a shard whose
        // cold keys are gone gives up its hot one).
        let limit = used_memory(c).await + 1024 * 1024;
        call(c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).await;
        for j in 0..40_000 {
            let k = format!("cold:{j}");
            if j % 2 == 0 {
                call(c, &["SET", &k, "x"]).await;
            } else {
                call(c, &["HSET", &k, "f", "x"]).await;
            }
        }
        let mut kept = 0;
        for j in 0..20 {
            kept += (call(c, &["EXISTS", &format!("hot:{j}")]).await == ":1\r\n") as u32;
        }
        assert!(kept >= 18, "{name}: only {kept} of 20 hot keys survived");
        call(c, &["CONFIG", "SET", "maxmemory", "0"]).await;
    }
}
