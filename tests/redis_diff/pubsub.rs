//! Pub/sub introspection replies.

use crate::common::redis_ref::Diff;

/// Redis 7 answers PUBSUB NUMSUB and SHARDNUMSUB with a flat array in RESP3 too (redis-py 8,
/// RESP3 by default, parses it as one).
#[tokio::test]
async fn pubsub_introspection_replies_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["PUBSUB", "NUMSUB"],
            &["PUBSUB", "NUMSUB", "a", "b"],
            &["PUBSUB", "SHARDNUMSUB", "a"],
            &["PUBSUB", "NUMPAT"],
            &["PUBSUB", "CHANNELS"],
            &["PUBSUB", "SHARDCHANNELS"],
            &["PUBLISH", "a", "x"],
        ])
        .await;
        d.same_error(&["PUBSUB", "NOPE"], false).await;
    }
}
