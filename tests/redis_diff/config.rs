//! CONFIG SET / GET of Redis's tuning parameters: the same validation, errors and read-back as
//! redis-server (Ferrite accepts and reports them; docs/compatibility.md says which apply).

use crate::common::redis_ref::Diff;

#[tokio::test]
async fn tuning_parameters_validate_and_read_back_as_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        for (name, good, bad) in [
            ("hash-max-listpack-entries", "16", "x"),
            ("hash-max-ziplist-value", "32", "-1"),
            ("zset-max-ziplist-entries", "0", "1.5"),
            ("set-max-intset-entries", "1000", "abc"),
            ("list-max-ziplist-size", "-1", "nope"),
            ("list-compress-depth", "2", "-3"),
            ("stream-node-max-bytes", "8kb", "lots"),
            ("hll-sparse-max-bytes", "2500", "-5"),
            ("lua-time-limit", "100", "forever"),
            ("slowlog-log-slower-than", "-1", "-2"),
            ("activerehashing", "no", "maybe"),
            ("active-expire-effort", "10", "11"),
            ("appendfsync", "always", "sometimes"),
            ("loglevel", "warning", "loud"),
        ] {
            d.same(&["CONFIG", "SET", name, good]).await;
            d.same(&["CONFIG", "GET", name]).await;
            d.same_error(&["CONFIG", "SET", name, bad], true).await;
            d.same(&["CONFIG", "GET", name]).await;
        }
        // An alias and its name report the same value.
        d.same(&["CONFIG", "SET", "zset-max-listpack-entries", "64"])
            .await;
        d.same(&["CONFIG", "GET", "zset-max-ziplist-entries"]).await;
        // All or nothing: one bad pair refuses the whole SET.
        d.same_error(&["CONFIG", "SET", "hz", "20", "activerehashing", "x"], true)
            .await;
        d.same(&["CONFIG", "GET", "hz"]).await;
        // Replication's parameters (a master reports them empty; they are immutable), and
        // Redis's hidden parameters: answered by name, never for a pattern.
        for name in ["replicaof", "slaveof", "key-load-delay"] {
            d.same(&["CONFIG", "GET", name]).await;
        }
        d.same_error(&["CONFIG", "SET", "replicaof", "127.0.0.1 1"], true)
            .await;
        let (f, r) = d.both(&["CONFIG", "GET", "*"]).await;
        for all in [f, r] {
            assert!(!all.contains("key-load-delay") && all.contains("replicaof"));
        }
        // A parameter named twice fails before any value is looked at.
        d.same_error(
            &[
                "CONFIG",
                "SET",
                "maxmemory",
                "10000001",
                "MAXMEMORY",
                "10000002",
            ],
            true,
        )
        .await;
        // Listeners take their own value back (tools write back all of CONFIG GET *).
        let (f, r) = d.both(&["CONFIG", "GET", "port"]).await;
        let port = |reply: &str| reply.split("\r\n").nth(4).unwrap_or("").to_string();
        d.ferrite.cmd(&["CONFIG", "SET", "port", &port(&f)]).await;
        d.redis.cmd(&["CONFIG", "SET", "port", &port(&r)]).await;
        let fr = crate::common::read_raw_reply(&mut d.ferrite).await;
        let rr = crate::common::read_raw_reply(&mut d.redis).await;
        assert_eq!((fr.as_str(), rr.as_str()), ("+OK\r\n", "+OK\r\n"));
    }
}
