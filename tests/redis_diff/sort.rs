//! SORT and SORT_RO beside redis-server 7.0: numeric and ALPHA order, ASC/DESC, LIMIT edge
//! cases, BY patterns (string keys, hash fields, `nosort` on lists and sorted sets), GET
//! patterns (`#`, missing keys, hash fields), STORE (a list, the count, an empty result
//! deleting the destination), the conversion error and the syntax errors, in RESP2 and RESP3.
//! (A set sorted by `nosort` without STORE comes out in the set's own order, which differs.)

use crate::common::redis_ref::Diff;

const SEED: &[&[&str]] = &[
    &["RPUSH", "l", "3", "1", "2", "10", "-5", "1.5", "2"],
    &[
        "MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "5", "w_-5", "100",
    ],
    &["SET", "w_1.5", "15"],
    &["HSET", "h_3", "f", "c", "n", "3"],
    &["HSET", "h_1", "f", "a"],
    &["HSET", "h_2", "f", "b", "n", "x"],
    &["SADD", "st", "5", "3", "9", "1", "40", "-2"],
    &["SADD", "sa", "pear", "apple", "fig", "kiwi"],
    &[
        "ZADD", "z", "3", "c", "1", "a", "2", "b", "5", "e", "4", "d",
    ],
    &["RPUSH", "words", "b", "a", "c", "B", ""],
    &["MSET", "x_a", "1", "x_b", "1", "x_c", "1"],
    &["SET", "str", "v"],
];

#[tokio::test]
async fn sort_matches_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(SEED).await;
        d.script(&[
            // numeric, DESC, LIMIT (negative start, past the end, zero and negative counts)
            &["SORT", "l"],
            &["SORT", "l", "DESC"],
            &["SORT", "l", "ASC", "LIMIT", "1", "3"],
            &["SORT", "l", "LIMIT", "1", "3", "DESC"],
            &["SORT", "l", "LIMIT", "-5", "2"],
            &["SORT", "l", "LIMIT", "10", "2"],
            &["SORT", "l", "LIMIT", "0", "0"],
            &["SORT", "l", "LIMIT", "2", "-1"],
            &["SORT", "st"],
            &["SORT", "st", "DESC", "LIMIT", "1", "2"],
            &["SORT", "nokey"],
            // ALPHA
            &["SORT", "l", "ALPHA"],
            &["SORT", "l", "ALPHA", "DESC", "LIMIT", "0", "3"],
            &["SORT", "words", "ALPHA"],
            &["SORT", "sa", "ALPHA"],
            &["SORT", "z", "ALPHA", "DESC"],
            &["SORT", "words"],
            // BY nosort: the list's / sorted set's own order, DESC reversing, LIMIT a range
            &["SORT", "l", "BY", "nosort"],
            &["SORT", "l", "BY", "nosort", "DESC"],
            &["SORT", "l", "BY", "nosort", "LIMIT", "2", "3"],
            &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "2", "3"],
            &["SORT", "l", "BY", "nosort", "LIMIT", "6", "10"],
            &["SORT", "l", "BY", "nosort", "LIMIT", "10", "10"],
            &["SORT", "z", "BY", "nosort"],
            &["SORT", "z", "BY", "nosort", "DESC"],
            &["SORT", "z", "BY", "nosort", "LIMIT", "1", "2"],
            &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
            &["SORT", "z", "BY", "nosort", "LIMIT", "4", "10"],
            &["SORT", "z", "BY", "nosort", "LIMIT", "5", "10"],
            &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "0", "0"],
            &["SORT", "nokey", "BY", "nosort"],
            // a later BY with `*` does not undo an earlier constant one
            &["SORT", "l", "BY", "nosort", "BY", "w_*"],
            &["SORT", "l", "BY", "w_*", "BY", "nosort"],
            // BY patterns: strings, missing keys (score 0), hash fields, only the first `*`
            &["SORT", "l", "BY", "w_*"],
            &["SORT", "l", "BY", "w_*", "DESC"],
            &["SORT", "l", "BY", "nokey_*"],
            &["SORT", "l", "BY", "w_*", "LIMIT", "1", "3"],
            &["SORT", "l", "BY", "h_*->f", "ALPHA"],
            &["SORT", "l", "BY", "h_*->f", "ALPHA", "DESC"],
            &["SORT", "l", "BY", "w_*_*"],
            &["SORT", "z", "BY", "w_*"],
            // equal BY values keep the collection's order (ALPHA) or compare elements
            &["RPUSH", "t", "b", "a", "c"],
            &["SORT", "t", "BY", "x_*"],
            &["SORT", "t", "BY", "x_*", "ALPHA"],
            &["SORT", "t", "BY", "x_*", "ALPHA", "DESC"],
            // GET
            &["SORT", "l", "BY", "w_*", "GET", "#"],
            &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*"],
            &["SORT", "l", "GET", "nokey_*", "GET", "#"],
            &["SORT", "l", "GET", "#", "GET", "w_*", "LIMIT", "1", "2"],
            &[
                "SORT", "l", "BY", "h_*->f", "ALPHA", "GET", "h_*->f", "GET", "#",
            ],
            &["SORT", "l", "GET", "h_*->"],
            &["SORT", "l", "GET", "h_*->nofield"],
            &["SORT", "l", "GET", "h_*->n", "GET", "fixed"],
            &["SORT", "l", "BY", "nosort", "GET", "w_*"],
            &[
                "SORT", "z", "BY", "nosort", "DESC", "GET", "#", "GET", "h_*->f",
            ],
            &["SORT", "l", "GET", "str"],
            // conversion errors: a value, a BY value, a hash field BY value
            &["SORT", "words"],
            &["SORT", "l", "BY", "h_*->n"],
            &["SORT", "sa"],
            // numbers as strtod reads them (empty is 0; hex; infinities)
            &[
                "RPUSH", "nums", "", "1", "-1", "0x10", "inf", "-inf", " 7", "1e3",
            ],
            &["SORT", "nums"],
            &["RPUSH", "bad1", "1", "7 "],
            &["SORT", "bad1"],
            &["RPUSH", "bad2", "1", "nan"],
            &["SORT", "bad2"],
            // errors and types
            &["SORT", "str"],
            &["SORT", "l", "foo"],
            &["SORT", "l", "LIMIT", "1"],
            &["SORT", "l", "LIMIT", "x", "1"],
            &["SORT", "l", "LIMIT", "1", "x"],
            &["SORT", "l", "BY"],
            &["SORT", "l", "GET"],
            &["SORT", "l", "STORE"],
            &["SORT"],
            &["SORT_RO", "l", "STORE", "x"],
            &["SORT_RO", "l"],
            &["SORT_RO", "z", "BY", "nosort", "DESC"],
            &["SORT_RO", "l", "BY", "w_*", "GET", "#", "GET", "w_*"],
            &[
                "COMMAND", "GETKEYS", "SORT", "l", "BY", "store", "STORE", "dst", "GET", "#",
            ],
            &["COMMAND", "GETKEYS", "SORT_RO", "l", "GET", "#"],
        ])
        .await;
        // STORE
        d.script(&[
            &["SORT", "l", "STORE", "dst"],
            &["LRANGE", "dst", "0", "-1"],
            &["TYPE", "dst"],
            &[
                "SORT", "l", "BY", "w_*", "GET", "w_*", "GET", "nope_*", "STORE", "dst2",
            ],
            &["LRANGE", "dst2", "0", "-1"],
            &["SORT", "st", "BY", "nosort", "STORE", "sdst"],
            &["LRANGE", "sdst", "0", "-1"],
            &["SORT", "sa", "BY", "nosort", "DESC", "STORE", "sdst"],
            &["LRANGE", "sdst", "0", "-1"],
            &[
                "SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "3", "STORE", "zdst",
            ],
            &["LRANGE", "zdst", "0", "-1"],
            &["SET", "over", "x"],
            &["EXPIRE", "over", "100"],
            &["SORT", "l", "LIMIT", "0", "2", "STORE", "over"],
            &["TTL", "over"],
            &["LRANGE", "over", "0", "-1"],
            // an empty result deletes the destination
            &["SORT", "l", "LIMIT", "0", "0", "STORE", "over"],
            &["EXISTS", "over"],
            &["SORT", "nokey", "STORE", "dst"],
            &["EXISTS", "dst"],
            // the last STORE wins; storing onto the source
            &["SORT", "l", "STORE", "a", "STORE", "b"],
            &["EXISTS", "a", "b"],
            &["SORT", "l", "DESC", "STORE", "l"],
            &["LRANGE", "l", "0", "-1"],
            &["SORT", "words", "STORE", "w"],
            &["EXISTS", "w"],
            // inside MULTI
            &["MULTI"],
            &["SORT", "l", "BY", "w_*", "GET", "#", "STORE", "m"],
            &["SORT_RO", "m", "ALPHA"],
            &["EXEC"],
        ])
        .await;
    }
}
