//! The reply shape of every data command family in RESP2 and RESP3, beside redis-server 7.0:
//! maps, sets, doubles, nulls and nested arrays where Redis 7 sends them (the audit issue 14
//! asks for). Values are chosen so order and formatting are determined on both servers: single
//! members or intsets where Redis's hash order would differ, scores with short decimal forms.

use crate::common::redis_ref::Diff;

const SCRIPT: &[&[&str]] = &[
    // strings
    &["SET", "s", "hello"],
    &["SET", "s", "x", "GET"],
    &["SET", "s", "y", "NX", "GET"],
    &["GETEX", "s", "PERSIST"],
    &["GETDEL", "missing"],
    &["MSETNX", "m1", "1", "m2", "2"],
    &["SETNX", "m1", "1"],
    &["INCRBYFLOAT", "f", "1.5"],
    &["LCS", "s", "m1"],
    // keys
    &["TYPE", "s"],
    &["TYPE", "missing"],
    &["TTL", "s"],
    &["PTTL", "missing"],
    &["EXPIRETIME", "s"],
    &["EXISTS", "s", "missing"],
    &["RENAMENX", "m1", "m2"],
    &["COPY", "s", "s2"],
    &["OBJECT", "ENCODING", "s"],
    &["OBJECT", "REFCOUNT", "missing"],
    &["SCAN", "0", "MATCH", "s2"],
    &["KEYS", "s2"],
    &["DBSIZE"],
    // hashes
    &["HSET", "h", "a", "1", "b", "2.5", "c", "x"],
    &["HGETALL", "h"],
    &["HGETALL", "missing"],
    &["HMGET", "h", "a", "nope"],
    &["HKEYS", "h"],
    &["HVALS", "h"],
    &["HGET", "h", "nope"],
    &["HINCRBYFLOAT", "h", "b", "0.5"],
    &["HSTRLEN", "h", "c"],
    &["HRANDFIELD", "missing"],
    &["HRANDFIELD", "missing", "2", "WITHVALUES"],
    &["HSET", "h1", "only", "v"],
    &["HRANDFIELD", "h1", "1", "WITHVALUES"],
    &["HRANDFIELD", "h1", "-2", "WITHVALUES"],
    &["HSCAN", "h1", "0"],
    // lists
    &["RPUSH", "l", "a", "b", "c", "b"],
    &["LRANGE", "l", "0", "-1"],
    &["LPOS", "l", "b"],
    &["LPOS", "l", "b", "COUNT", "0"],
    &["LPOS", "l", "z"],
    &["LPOS", "l", "z", "COUNT", "2"],
    &["LPOP", "l", "2"],
    &["LPOP", "missing", "2"],
    &["RPOP", "missing"],
    &["LMPOP", "2", "missing", "l", "LEFT", "COUNT", "1"],
    &["LMPOP", "1", "missing", "LEFT"],
    &["LINDEX", "l", "9"],
    &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
    // sets (intsets are sorted on both; a one-member set has one order)
    &["SADD", "is", "1", "2", "3", "10"],
    &["SMEMBERS", "is"],
    &["SMEMBERS", "missing"],
    &["SISMEMBER", "is", "2"],
    &["SMISMEMBER", "is", "2", "5"],
    &["SINTER", "is", "is"],
    &["SUNION", "missing"],
    &["SDIFF", "is", "is"],
    &["SADD", "one", "m"],
    &["SRANDMEMBER", "one"],
    &["SRANDMEMBER", "one", "2"],
    &["SRANDMEMBER", "missing"],
    &["SRANDMEMBER", "missing", "2"],
    &["SPOP", "missing"],
    &["SPOP", "missing", "2"],
    &["SINTERCARD", "2", "is", "one"],
    &["SSCAN", "one", "0"],
    // sorted sets
    &["ZADD", "z", "1", "a", "2.5", "b", "3", "c"],
    &["ZADD", "z", "INCR", "1", "a"],
    &["ZADD", "z", "XX", "INCR", "1", "nope"],
    &["ZSCORE", "z", "b"],
    &["ZSCORE", "z", "nope"],
    &["ZMSCORE", "z", "a", "nope"],
    &["ZINCRBY", "z", "0.5", "c"],
    &["ZRANGE", "z", "0", "-1"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &[
        "ZRANGE",
        "z",
        "(1",
        "+inf",
        "BYSCORE",
        "WITHSCORES",
        "LIMIT",
        "0",
        "2",
    ],
    &["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES"],
    &["ZRANGEBYLEX", "z", "-", "+"],
    &["ZRANK", "z", "b"],
    &["ZRANK", "z", "nope"],
    &["ZCOUNT", "z", "-inf", "+inf"],
    &["ZPOPMIN", "z"],
    &["ZPOPMIN", "z", "2"],
    &["ZPOPMAX", "missing"],
    &["ZPOPMAX", "missing", "2"],
    &["ZADD", "z1", "1.5", "only"],
    &["ZRANDMEMBER", "z1"],
    &["ZRANDMEMBER", "z1", "1", "WITHSCORES"],
    &["ZRANDMEMBER", "z1", "-2", "WITHSCORES"],
    &["ZRANDMEMBER", "missing", "2", "WITHSCORES"],
    &["ZUNION", "2", "z", "z1", "WITHSCORES"],
    &["ZINTER", "2", "z1", "z1", "WITHSCORES"],
    &["ZDIFF", "1", "z1", "WITHSCORES"],
    &["ZUNIONSTORE", "zu", "2", "z", "z1"],
    &["ZSCAN", "z1", "0"],
    // server-side shapes clients parse
    &["CONFIG", "GET", "hash-max-listpack-entries"],
    &["CONFIG", "GET", "no-such-parameter"],
    &["ECHO", "hi"],
    &["PING"],
    &["PING", "x"],
];

#[tokio::test]
async fn every_family_replies_in_redis_7_shapes() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(SCRIPT).await;
    }
}

#[tokio::test]
async fn transactions_and_errors_keep_their_shapes_in_resp3() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["MULTI"],
            &["SET", "k", "1"],
            &["HSET", "h", "f", "v"],
            &["HGETALL", "h"],
            &["ZADD", "z", "1.5", "m"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["ZSCORE", "z", "m"],
            &["SMEMBERS", "missing"],
            &["INCR", "h"],
            &["EXEC"],
            &["EXEC"],
            &["DISCARD"],
            &["WATCH", "k"],
            &["MULTI"],
            &["GET", "k"],
            &["EXEC"],
        ])
        .await;
    }
}

/// CONFIG GET * on both: every parameter the two share reads the same by default, except those
/// where Ferrite's defaults are its own on purpose (listed, each with its reason).
#[tokio::test]
async fn shared_parameters_have_redis_defaults() {
    use std::collections::BTreeMap;
    let mut d = Diff::start(false).await;
    let pairs = |reply: &str| -> BTreeMap<String, String> {
        let lines: Vec<&str> = reply.split("\r\n").collect();
        // *N, then $len / value pairs.
        let values: Vec<&str> = lines[1..]
            .chunks(2)
            .filter_map(|c| c.get(1).copied())
            .collect();
        values
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].to_string(), c[1].to_string()))
            .collect()
    };
    let (f, r) = d.both(&["CONFIG", "GET", "*"]).await;
    let (f, r) = (pairs(&f), pairs(&r));
    // Ferrite's own on purpose: a memory limit and LRU by default (it never dies of memory),
    // its own listener and process settings, and no persistence.
    let own = [
        "maxmemory",
        "maxmemory-policy",
        "port",
        "bind",
        "dir",
        "dbfilename",
        "save",
        "logfile",
        "pidfile",
        "daemonize",
        "supervised",
        "protected-mode",
        "io-threads",
        "databases",
        "unixsocket",
        "tls-port",
        "timeout",
        "maxclients",
        "client-query-buffer-limit",
        "client-output-buffer-limit",
        "notify-keyspace-events",
        "appendonly",
        "appenddirname",
        "requirepass",
        "masterauth",
        "masteruser",
        "tcp-backlog",
        "oom-score-adj-values",
        "always-show-logo",
        "set-proc-title",
    ];
    let shared = f.keys().filter(|n| r.contains_key(*n)).count();
    assert!(
        shared > 40,
        "only {shared} parameters in common: the reply was not parsed"
    );
    let mut differ = Vec::new();
    for (name, fv) in &f {
        if let Some(rv) = r.get(name) {
            if fv != rv && !own.contains(&name.as_str()) {
                differ.push(format!("{name}: ferrite {fv:?}, redis-server {rv:?}"));
            }
        }
    }
    assert!(differ.is_empty(), "defaults differ:\n{}", differ.join("\n"));
}
