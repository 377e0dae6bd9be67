//! Pub/sub on the topics engine. A Redis channel is a topic in the connection's cache.
//!
//! PUBLISH/SPUBLISH/PUBSUB are ordinary commands. The subscribe family changes connection state
//! and is executed by the connection loop (`resp::conn`, see `pubsub_command`), which also
//! delivers messages.
//!
//! Extension for resumable subscriptions (documented in docs/topics.md):
//! `TSUBSCRIBE topic [FROM seq [PAGE page]]` subscribes like SUBSCRIBE but its pushes carry the
//! sequence number and page, and a gap is reported instead of silently skipped:
//! - `["tsubscribe", topic, count, page, next_seq]`
//! - `["tmessage", topic, payload, seq, page]`
//! - `["tdiscontinuity", topic, last_seq, new_seq, page]`
//!
//! `TUNSUBSCRIBE [topic ...]` ends them.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_topics::{MessageKind, TopicsError};

use crate::resp::args::eq_ic;
use crate::resp::dispatch::{cmd, flags::*, key, key_range, ks::*, CommandSpec, Ctx, NO_KEYS};

const G: &str = "pubsub";

fn handled_by_connection(_: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    w.error("ERR command is handled by the connection loop");
}
const H: crate::resp::dispatch::Handler = handled_by_connection;

pub const COMMANDS: &[CommandSpec] = &[
    cmd("publish", 3, PUBSUB_OK | FAST | TOPIC, NO_KEYS, G, publish),
    cmd(
        "spublish",
        3,
        PUBSUB_OK | FAST | TOPIC,
        &[key(1, NOT_KEY)],
        G,
        publish,
    ),
    cmd("pubsub", -2, PUBSUB_OK | TOPIC, NO_KEYS, G, pubsub),
    cmd(
        "subscribe",
        -2,
        CONN | PUBSUB_OK | NO_MULTI | TOPIC,
        NO_KEYS,
        G,
        H,
    ),
    cmd(
        "unsubscribe",
        -1,
        CONN | PUBSUB_OK | NO_MULTI,
        NO_KEYS,
        G,
        H,
    ),
    cmd(
        "psubscribe",
        -2,
        CONN | PUBSUB_OK | NO_MULTI | TOPIC,
        NO_KEYS,
        G,
        H,
    ),
    cmd(
        "punsubscribe",
        -1,
        CONN | PUBSUB_OK | NO_MULTI,
        NO_KEYS,
        G,
        H,
    ),
    cmd(
        "ssubscribe",
        -2,
        CONN | PUBSUB_OK | NO_MULTI | TOPIC,
        &[key_range(1, -1, 1, NOT_KEY)],
        G,
        H,
    ),
    cmd(
        "sunsubscribe",
        -1,
        CONN | PUBSUB_OK | NO_MULTI,
        &[key_range(1, -1, 1, NOT_KEY)],
        G,
        H,
    ),
    cmd(
        "tsubscribe",
        -2,
        CONN | PUBSUB_OK | NO_MULTI | TOPIC,
        &[key(1, NOT_KEY)],
        G,
        H,
    ),
    cmd(
        "tunsubscribe",
        -1,
        CONN | PUBSUB_OK | NO_MULTI,
        &[key_range(1, -1, 1, NOT_KEY)],
        G,
        H,
    ),
];

/// Redis-protocol text for a topics error.
pub fn topics_error(e: &TopicsError) -> String {
    match e {
        TopicsError::OutOfMemory => crate::resp::args::ERR_OOM.to_string(),
        _ => format!("ERR {e}"),
    }
}

fn publish(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    // The engine copies the payload (into a recycled buffer when the topic has one): the ring
    // keeps it for the replay window, and a slice would pin the connection's read buffer.
    let payload = &args[2][..];
    // simdutf8: std's validation was ~4% of 1 KiB fan-out CPU.
    let kind = if simdutf8::basic::from_utf8(payload).is_ok() {
        MessageKind::Text
    } else {
        MessageKind::Binary
    };
    match ctx.shared.topics.publish(
        ctx.base.name().as_bytes(),
        &args[1],
        payload,
        kind,
        ctx.publisher.cloned(),
    ) {
        Ok(p) => w.int(p.receivers as i64),
        Err(e) => w.error(&topics_error(&e)),
    }
}

fn pubsub(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let topics = &ctx.shared.topics;
    let cache = ctx.base.name().as_bytes();
    let sub = &args[1];
    if (eq_ic(sub, "channels") || eq_ic(sub, "shardchannels")) && args.len() <= 3 {
        let list = topics.channels(cache, args.get(2).map(|p| &p[..]));
        w.array(list.len());
        for c in list {
            w.bulk(&c);
        }
    } else if eq_ic(sub, "numsub") || eq_ic(sub, "shardnumsub") {
        // A flat array of channel, count pairs in RESP3 too: Redis 7.0 answers so, and redis-py
        // (RESP3 by default since 8) parses it that way.
        w.array(2 * (args.len() - 2));
        for ch in &args[2..] {
            w.bulk(ch);
            w.int(topics.numsub(cache, ch) as i64);
        }
    } else if eq_ic(sub, "numpat") && args.len() == 2 {
        w.int(topics.numpat(cache) as i64);
    } else if eq_ic(sub, "help") {
        // Redis 7.0's text.
        let lines = [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ];
        super::server::help(w, &lines);
    } else {
        let msg = format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(sub)
        );
        w.error(&msg);
    }
}
