//! Strings and keys: the harness's own check that replies already known to match, match.

use crate::common::redis_ref::Diff;

#[tokio::test]
async fn string_replies_match_in_resp2_and_resp3() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["SET", "k", "v"],
            &["GET", "k"],
            &["GET", "missing"],
            &["APPEND", "k", "123"],
            &["STRLEN", "k"],
            &["GETRANGE", "k", "1", "-2"],
            &["SETRANGE", "k", "10", "x"],
            &["GET", "k"],
            &["INCRBY", "n", "41"],
            &["INCRBYFLOAT", "n", "0.5"],
            &["MSET", "a", "1", "b", "2"],
            &["MGET", "a", "b", "missing"],
            &["DEL", "a", "b", "missing"],
            &["EXISTS", "k", "n"],
        ])
        .await;
        d.same_error(&["INCR", "k"], true).await;
        d.same_error(&["GET"], true).await;
    }
}
