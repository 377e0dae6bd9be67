//! HyperLogLogs: replies, and the stored bytes themselves (GET), equal to redis-server's after
//! the same commands: sparse, the sparse -> dense promotion, dense, merges, corrupted strings.

use crate::common::redis_ref::{bulk, Diff};

/// GET `key` on both: the same bytes (checked byte for byte, not through lossy text).
async fn same_bytes(d: &mut Diff, key: &str) -> Vec<u8> {
    let parts: &[&[u8]] = &[b"GET", key.as_bytes()];
    let f = bulk(&mut d.ferrite, parts).await;
    let r = bulk(&mut d.redis, parts).await;
    assert!(r.is_some(), "GET {key}: redis-server has no string");
    assert!(f == r, "GET {key}: the HLL bytes differ ({f:?} vs {r:?})");
    r.unwrap()
}

/// PFADD of `from..to` (`{prefix}:{i}`) in batches of `batch`, replies compared.
async fn add_range(d: &mut Diff, key: &str, prefix: &str, from: u32, to: u32, batch: u32) {
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        let eles: Vec<String> = (i..end).map(|j| format!("{prefix}:{j}")).collect();
        let mut parts = vec!["PFADD", key];
        parts.extend(eles.iter().map(|s| s.as_str()));
        d.same(&parts).await;
        i = end;
    }
}

#[tokio::test]
async fn sparse_hlls_match_byte_for_byte() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["PFADD", "h", "a", "b", "c"],
            &["PFADD", "h", "a"],
            &["PFADD", "h"],
            &["PFADD", "empty"],
            &["PFCOUNT", "empty"],
            &["PFDEBUG", "ENCODING", "h"],
            &["PFDEBUG", "DECODE", "h"],
            &["PFDEBUG", "DECODE", "empty"],
            &["TYPE", "h"],
            &["STRLEN", "h"],
        ])
        .await;
        same_bytes(&mut d, "h").await;
        same_bytes(&mut d, "empty").await;
        // PFCOUNT stores the cardinality in the header: the bytes change the same way.
        d.same(&["PFCOUNT", "h"]).await;
        same_bytes(&mut d, "h").await;
        d.same(&["PFCOUNT", "h"]).await;
        d.same(&["PFCOUNT", "missing"]).await;
        add_range(&mut d, "h", "e", 0, 300, 7).await;
        d.script(&[
            &["PFCOUNT", "h"],
            &["PFDEBUG", "ENCODING", "h"],
            &["PFDEBUG", "DECODE", "h"],
        ])
        .await;
        same_bytes(&mut d, "h").await;
        // The TTL survives PFADD.
        d.script(&[
            &["EXPIRE", "h", "1000"],
            &["PFADD", "h", "zz", "yy"],
            &["TTL", "h"],
        ])
        .await;
        same_bytes(&mut d, "h").await;
    }
}

#[tokio::test]
async fn promotion_and_dense_hlls_match_byte_for_byte() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        // Up to and past hll-sparse-max-bytes, checking the encoding and bytes on the way.
        let mut i = 0;
        while i < 3000 {
            add_range(&mut d, "p", "x", i, i + 100, 100).await;
            i += 100;
            d.same(&["PFDEBUG", "ENCODING", "p"]).await;
            same_bytes(&mut d, "p").await;
        }
        assert_eq!(d.same(&["PFDEBUG", "ENCODING", "p"]).await, "+dense\r\n");
        // Dense: 20,000 elements in batches.
        add_range(&mut d, "big", "y", 0, 20_000, 500).await;
        d.same(&["PFCOUNT", "big"]).await;
        let b = same_bytes(&mut d, "big").await;
        assert_eq!(b.len(), 12304);
        d.same(&["PFDEBUG", "GETREG", "big"]).await;
        d.same_error(&["PFDEBUG", "DECODE", "big"], true).await;
        // A register value over 32 promotes at once; TODENSE and GETREG convert.
        d.script(&[
            &["PFADD", "s1", "a", "b"],
            &["PFDEBUG", "TODENSE", "s1"],
            &["PFDEBUG", "TODENSE", "s1"],
            &["PFDEBUG", "ENCODING", "s1"],
            &["PFADD", "s2", "a", "b", "c"],
            &["PFDEBUG", "GETREG", "s2"],
            &["PFDEBUG", "ENCODING", "s2"],
        ])
        .await;
        same_bytes(&mut d, "s1").await;
        same_bytes(&mut d, "s2").await;
        // A lower hll-sparse-max-bytes promotes sooner.
        d.script(&[
            &["CONFIG", "GET", "hll-sparse-max-bytes"],
            &["CONFIG", "SET", "hll-sparse-max-bytes", "200"],
            &["CONFIG", "GET", "hll-sparse-max-bytes"],
        ])
        .await;
        d.same_error(&["CONFIG", "SET", "hll-sparse-max-bytes", "nope"], true)
            .await;
        let mut i = 0;
        while i < 200 {
            add_range(&mut d, "low", "w", i, i + 10, 10).await;
            i += 10;
            d.same(&["PFDEBUG", "ENCODING", "low"]).await;
            same_bytes(&mut d, "low").await;
        }
        assert_eq!(d.same(&["PFDEBUG", "ENCODING", "low"]).await, "+dense\r\n");
    }
}

#[tokio::test]
async fn pfcount_of_several_keys_and_pfmerge_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        add_range(&mut d, "a", "e", 0, 200, 50).await;
        add_range(&mut d, "b", "e", 100, 400, 50).await;
        add_range(&mut d, "dense", "e", 0, 5000, 500).await;
        d.script(&[
            &["PFCOUNT", "a", "b"],
            &["PFCOUNT", "a", "b", "missing"],
            &["PFCOUNT", "a", "dense"],
            &["PFCOUNT", "missing", "missing2"],
            // Into a new key from sparse sources: stays sparse.
            &["PFMERGE", "m1", "a", "b"],
            &["PFDEBUG", "ENCODING", "m1"],
            &["PFCOUNT", "m1"],
            // Into an existing key, with a dense source: the result is dense.
            &["PFMERGE", "a", "dense"],
            &["PFDEBUG", "ENCODING", "a"],
            &["PFCOUNT", "a"],
            // Only the destination, missing: an empty HLL.
            &["PFMERGE", "m2"],
            &["PFMERGE", "m3", "missing"],
            &["PFCOUNT", "m2"],
        ])
        .await;
        for k in ["m1", "a", "m2", "m3", "b"] {
            same_bytes(&mut d, k).await;
        }
    }
}

#[tokio::test]
async fn hll_errors_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["SET", "str", "not an hll"],
            &["SET", "short", "HYLL"],
            &["LPUSH", "list", "x"],
            &["PFADD", "ok", "x"],
        ])
        .await;
        for cmd in [
            &["PFADD", "str", "x"][..],
            &["PFADD", "short", "x"],
            &["PFCOUNT", "str"],
            &["PFCOUNT", "ok", "str"],
            &["PFMERGE", "dest", "str"],
            &["PFMERGE", "str", "ok"],
            &["PFDEBUG", "ENCODING", "str"],
            &["PFADD", "list", "x"],
            &["PFCOUNT", "list"],
            &["PFCOUNT", "ok", "list"],
            &["PFMERGE", "ok", "list"],
            &["PFDEBUG", "GETREG", "list"],
            &["PFDEBUG", "GETREG", "missing"],
            &["PFDEBUG", "NOPE", "ok"],
            &["PFDEBUG", "NOPE", "missing"],
            &["PFADD"],
            &["PFCOUNT"],
            &["PFMERGE"],
            &["PFDEBUG", "GETREG"],
            &["PFSELFTEST", "x"],
        ] {
            d.same_error(cmd, true).await;
        }
        d.script(&[&["EXISTS", "dest"], &["GET", "str"]]).await;
        // Corrupted sparse registers (an XZERO short of 16384), once with a valid cached
        // cardinality (PFCOUNT trusts it) and once with a stale one.
        let mut bad = b"HYLL\x01\x00\x00\x00".to_vec();
        bad.extend_from_slice(&[0; 8]);
        bad.extend_from_slice(&[0x7e, 0xff]);
        d.same_bin(&[b"SET", b"bad", &bad]).await;
        let mut stale = bad.clone();
        stale[15] = 0x80;
        d.same_bin(&[b"SET", b"stale", &stale]).await;
        d.same(&["PFCOUNT", "bad"]).await;
        d.same_error(&["PFCOUNT", "stale"], true).await;
        d.same_error(&["PFCOUNT", "bad", "ok"], true).await;
        d.same_error(&["PFMERGE", "dest", "bad"], true).await;
        d.same_error(&["PFDEBUG", "TODENSE", "bad"], true).await;
        d.same_error(&["PFDEBUG", "GETREG", "bad"], true).await;
        d.same(&["PFDEBUG", "DECODE", "bad"]).await;
        // PFADD finds the corruption only for a register past the XZERO's end.
        let eles: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
        let mut parts = vec!["PFADD", "bad"];
        parts.extend(eles.iter().map(|s| s.as_str()));
        d.same_error(&parts, true).await;
        same_bytes(&mut d, "bad").await;
        // A dense HLL one byte short is not an HLL at all.
        let mut short = b"HYLL\x00\x00\x00\x00".to_vec();
        short.resize(12303, 0);
        d.same_bin(&[b"SET", b"shortdense", &short]).await;
        d.same_error(&["PFCOUNT", "shortdense"], true).await;
        d.same(&["PFSELFTEST"]).await;
        d.same(&["EXISTS", "dest"]).await;
    }
}
