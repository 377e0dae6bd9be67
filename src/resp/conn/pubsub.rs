//! Pub/sub on a connection: its subscriptions (`PubSub`, created on the first subscribe),
//! SUBSCRIBE and friends with Redis's reply shapes, and moving ready messages into the reply
//! buffer (`deliver_events`).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_topics::{Event, Resume, Subscriber, Waiter};
use std::collections::HashSet;

use super::io::bulk_payload;
use super::Session;
use crate::resp::args::eq_ic;

/// A connection's subscriptions: one engine subscriber (cursors into topic rings, one wake-up
/// point) plus which channels were subscribed through which command, for the push shapes.
pub(super) struct PubSub {
    pub(super) sub: Subscriber,
    pub(super) waiter: Waiter,
    /// Channels subscribed with SSUBSCRIBE (pushed as "smessage").
    pub(super) sharded: HashSet<Bytes>,
    /// Topics subscribed with TSUBSCRIBE (pushed as "tmessage" with sequence and page).
    pub(super) sequenced: HashSet<Bytes>,
    pub(super) events: Vec<Event>,
}

impl Session {
    /// Client-side caching: write the invalidations waiting for this connection (metered as
    /// late output, like pub/sub deliveries).
    pub(super) fn deliver_invalidations(&mut self) {
        let taken = self.info.invalidations.take(self.shared.tracking.budget());
        let start = self.out.len();
        let subscribed = self.in_subscribe_mode();
        crate::resp::tracking::render(&taken, self.resp3, subscribed, &mut self.out);
        self.meter_late_output(start);
    }

    pub(super) fn pubsub_state(&mut self) -> &mut PubSub {
        if self.pubsub.is_none() {
            let sub = self.shared.topics.subscriber();
            let waiter = sub.waiter();
            self.pubsub = Some(PubSub {
                sub,
                waiter,
                sharded: HashSet::new(),
                sequenced: HashSet::new(),
                events: Vec::new(),
            });
        }
        self.pubsub.as_mut().expect("just created")
    }

    pub(super) fn sync_sub_counts(&self) {
        let (ch, pat) = self
            .pubsub
            .as_ref()
            .map(|p| (p.sub.channel_count(), p.sub.pattern_count()))
            .unwrap_or((0, 0));
        self.info.subscriptions.store(ch, Ordering::Relaxed);
        self.info.psubscriptions.store(pat, Ordering::Relaxed);
    }

    /// SUBSCRIBE and friends, with Redis's reply shapes (one push per channel).
    pub(super) fn pubsub_command(&mut self, name: &'static str, args: &[Bytes]) {
        let cache_name = self.base.name_arc().clone();
        let cache = cache_name.as_bytes();
        let resp3 = self.resp3;
        match name {
            "subscribe" | "ssubscribe" => {
                let kind: &[u8] = if name == "subscribe" {
                    b"subscribe"
                } else {
                    b"ssubscribe"
                };
                for ch in &args[1..] {
                    let ps = self.pubsub_state();
                    if let Err(e) = ps.sub.subscribe(cache, ch, None) {
                        let msg = crate::resp::commands::pubsub::topics_error(&e);
                        ReplyWriter::new(&mut self.out, resp3).error(&msg);
                        continue;
                    }
                    if name == "ssubscribe" {
                        ps.sharded.insert(ch.clone());
                    }
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(kind);
                    w.bulk(ch);
                    w.int(count);
                }
            }
            "tsubscribe" => {
                let topic = &args[1];
                let mut resume = None;
                let (mut seq, mut page) = (None, None);
                let mut i = 2;
                while i + 1 < args.len() {
                    let v = crate::resp::args::parse_u64(&args[i + 1]);
                    if eq_ic(&args[i], "from") {
                        seq = v;
                    } else if eq_ic(&args[i], "page") {
                        page = v;
                    } else {
                        seq = None;
                        break;
                    }
                    if v.is_none() {
                        break;
                    }
                    i += 2;
                }
                if i != args.len() || (args.len() > 2 && seq.is_none()) {
                    self.writer()
                        .error("ERR syntax error: TSUBSCRIBE topic [FROM seq [PAGE page]]");
                    return;
                }
                if let Some(seq) = seq {
                    resume = Some(Resume {
                        seq,
                        page: page.unwrap_or(0),
                    });
                }
                // Without FROM: the newest retained message(s) first, as Momento's subscribe
                // without a resume point (`topics.subscribe_backlog`).
                let start = self.shared.topics.start_from(resume);
                let ps = self.pubsub_state();
                match ps.sub.subscribe(cache, topic, start) {
                    Ok(sub) => {
                        ps.sequenced.insert(topic.clone());
                        let count = ps.sub.subscription_count() as i64;
                        let mut w = ReplyWriter::new(&mut self.out, resp3);
                        w.push(5);
                        w.bulk(b"tsubscribe");
                        w.bulk(topic);
                        w.int(count);
                        w.int(sub.page as i64);
                        w.int(sub.next_seq as i64);
                    }
                    Err(e) => {
                        let msg = crate::resp::commands::pubsub::topics_error(&e);
                        self.writer().error(&msg);
                    }
                }
            }
            "unsubscribe" | "sunsubscribe" | "tunsubscribe" => {
                let kind: &[u8] = match name {
                    "unsubscribe" => b"unsubscribe",
                    "sunsubscribe" => b"sunsubscribe",
                    _ => b"tunsubscribe",
                };
                let channels: Vec<Bytes> = if args.len() > 1 {
                    args[1..].to_vec()
                } else {
                    match self.pubsub.as_ref() {
                        Some(ps) => ps.sub.channels().into_iter().map(|(_, t)| t).collect(),
                        None => Vec::new(),
                    }
                };
                if channels.is_empty() {
                    let count = self
                        .pubsub
                        .as_ref()
                        .map(|p| p.sub.subscription_count())
                        .unwrap_or(0) as i64;
                    let mut w = self.writer();
                    w.push(3);
                    w.bulk(kind);
                    w.null();
                    w.int(count);
                }
                for ch in channels {
                    let ps = self.pubsub_state();
                    ps.sub.unsubscribe(cache, &ch);
                    ps.sharded.remove(&ch);
                    ps.sequenced.remove(&ch);
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(kind);
                    w.bulk(&ch);
                    w.int(count);
                }
            }
            "psubscribe" => {
                for pat in &args[1..] {
                    let ps = self.pubsub_state();
                    if let Err(e) = ps.sub.psubscribe(cache, pat) {
                        let msg = crate::resp::commands::pubsub::topics_error(&e);
                        ReplyWriter::new(&mut self.out, resp3).error(&msg);
                        continue;
                    }
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(b"psubscribe");
                    w.bulk(pat);
                    w.int(count);
                }
            }
            _ => {
                // punsubscribe
                let patterns: Vec<Bytes> = if args.len() > 1 {
                    args[1..].to_vec()
                } else {
                    match self.pubsub.as_ref() {
                        Some(ps) => ps.sub.patterns().into_iter().map(|(_, p)| p).collect(),
                        None => Vec::new(),
                    }
                };
                if patterns.is_empty() {
                    let count = self
                        .pubsub
                        .as_ref()
                        .map(|p| p.sub.subscription_count())
                        .unwrap_or(0) as i64;
                    let mut w = self.writer();
                    w.push(3);
                    w.bulk(b"punsubscribe");
                    w.null();
                    w.int(count);
                }
                for pat in patterns {
                    let ps = self.pubsub_state();
                    ps.sub.punsubscribe(cache, &pat);
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(b"punsubscribe");
                    w.bulk(&pat);
                    w.int(count);
                }
            }
        }
        self.sync_sub_counts();
        if self
            .pubsub
            .as_ref()
            .map(|p| p.sub.subscription_count() == 0)
            .unwrap_or(false)
        {
            self.pubsub = None; // leave subscribe mode; frees the engine subscriber
        }
    }

    /// Move ready messages into the output buffer. Returns false when the subscriber's output
    /// budget is exceeded (the caller disconnects it: Redis's pubsub output-buffer limit).
    pub(super) fn deliver_events(&mut self) -> bool {
        let Some(ps) = self.pubsub.as_mut() else {
            return true;
        };
        let resp3 = self.resp3;
        loop {
            ps.events.clear();
            if ps.sub.drain(256, &mut ps.events) == 0 {
                return true;
            }
            let start = self.out.len();
            let spliced_start = self.spliced.bytes;
            let mut w = ReplyWriter::new(&mut self.out, resp3);
            for ev in ps.events.drain(..) {
                if matches!(ev, Event::Message { .. }) {
                    self.meter.messages_delivered += 1;
                }
                match ev {
                    Event::Message {
                        topic,
                        pattern: Some(pat),
                        msg,
                        ..
                    } => {
                        w.push(4);
                        w.bulk(b"pmessage");
                        w.bulk(&pat);
                        w.bulk(&topic);
                        bulk_payload(&mut w, &msg, &mut self.spliced);
                    }
                    Event::Message {
                        topic,
                        pattern: None,
                        msg,
                        ..
                    } => {
                        // Most subscribers use neither TSUBSCRIBE nor SSUBSCRIBE: skip hashing
                        // the topic name per message then (SipHash was ~1% of 1-subscriber
                        // fan-out CPU).
                        if !ps.sequenced.is_empty() && ps.sequenced.contains(&topic) {
                            w.push(5);
                            w.bulk(b"tmessage");
                            w.bulk(&topic);
                            bulk_payload(&mut w, &msg, &mut self.spliced);
                            w.int(msg.seq as i64);
                            w.int(msg.page as i64);
                        } else {
                            w.push(3);
                            w.bulk(if !ps.sharded.is_empty() && ps.sharded.contains(&topic) {
                                b"smessage"
                            } else {
                                b"message"
                            });
                            w.bulk(&topic);
                            bulk_payload(&mut w, &msg, &mut self.spliced);
                        }
                    }
                    Event::Discontinuity {
                        topic,
                        pattern: None,
                        last_seq,
                        new_seq,
                        page,
                        ..
                    } if ps.sequenced.contains(&topic) => {
                        w.push(5);
                        w.bulk(b"tdiscontinuity");
                        w.bulk(&topic);
                        w.int(last_seq as i64);
                        w.int(new_seq as i64);
                        w.int(page as i64);
                    }
                    // Plain Redis subscribers have no way to be told of a gap: Redis itself
                    // drops such clients; the engine's metrics count the discontinuity.
                    Event::Discontinuity { .. } => {}
                    Event::CacheGone { .. } => {}
                }
            }
            let pushed = (self.out.len() - start + self.spliced.bytes - spliced_start) as u64;
            self.meter.bytes_out += pushed;
            self.quota.charge(pushed);
            if self.out.len() + self.spliced.bytes > self.pubsub_limit {
                return false;
            }
        }
    }
}
