//! Property test: the engine against a naive model (per-topic counters and per-subscription cursors).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use ferrite_topics::{Event, MessageKind, ReplayWindow, Resume, Subscriber, Topics, TopicsConfig};
use proptest::prelude::*;

const WINDOW: u64 = 4;
const TOPICS: [&[u8]; 3] = [b"a", b"b", b"c"];

#[derive(Clone, Debug)]
enum Op {
    Publish(usize),
    Subscribe {
        s: usize,
        t: usize,
        resume: Option<(u64, bool)>,
    },
    Unsubscribe {
        s: usize,
        t: usize,
    },
    Drain {
        s: usize,
        batch: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize).prop_map(Op::Publish),
        2 => (0..3usize, 0..3usize, proptest::option::of((0..16u64, any::<bool>())))
            .prop_map(|(s, t, resume)| Op::Subscribe { s, t, resume }),
        1 => (0..3usize, 0..3usize).prop_map(|(s, t)| Op::Unsubscribe { s, t }),
        2 => (0..3usize, 1..6usize).prop_map(|(s, batch)| Op::Drain { s, batch }),
    ]
}

/// What a subscription's stream looks like: messages by seq, gaps as (last, new).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Msg(u64),
    Gap(u64, u64),
}

#[derive(Clone, Copy)]
struct MTopic {
    next: u64,
    page: u64,
}

impl MTopic {
    fn oldest(&self) -> u64 {
        self.next - (self.next - 1).min(WINDOW)
    }
}

#[derive(Clone, Copy)]
struct MCursor {
    next: u64,
    pending: Option<(u64, u64)>,
}

/// `ferrite_topics::Resume`'s rules: page 0 is the current page; a point on it up to `next`
/// starts there (a trimmed one gets its gap from the drain); any other point gets a gap with
/// `last` 0 and the whole window.
fn position(t: &MTopic, resume: Option<(u64, u64)>) -> MCursor {
    match resume {
        None => MCursor {
            next: t.next,
            pending: None,
        },
        Some((seq, page)) if (page == t.page || page == 0) && seq <= t.next => MCursor {
            next: seq.max(1),
            pending: None,
        },
        Some(_) => MCursor {
            next: t.oldest(),
            pending: Some((0, t.oldest())),
        },
    }
}

fn run(ops: Vec<Op>) {
    let cfg = TopicsConfig {
        replay: ReplayWindow {
            max_messages: WINDOW as usize,
            ..Default::default()
        },
        ..Default::default()
    };
    let engine = Topics::new(cfg);
    let mut subs: Vec<Subscriber> = (0..3).map(|_| engine.subscriber()).collect();
    let mut topics: HashMap<usize, MTopic> = HashMap::new();
    let mut cursors: BTreeMap<(usize, usize), MCursor> = BTreeMap::new();

    for op in ops {
        match op {
            Op::Publish(t) => {
                let p = engine
                    .publish(
                        b"cache",
                        TOPICS[t],
                        Bytes::from_static(b"x"),
                        MessageKind::Binary,
                        None,
                    )
                    .unwrap();
                let mt = topics.entry(t).or_insert(MTopic {
                    next: 1,
                    page: p.page,
                });
                assert_eq!((p.seq, p.page), (mt.next, mt.page));
                mt.next += 1;
                let receivers = cursors.keys().filter(|(_, tt)| *tt == t).count();
                assert_eq!(p.receivers, receivers);
            }
            Op::Subscribe { s, t, resume } => {
                let resume_arg = resume.map(|(seq, page_ok)| {
                    let page = match topics.get(&t) {
                        Some(mt) if page_ok => mt.page,
                        Some(mt) => mt.page - 1,
                        None => 0,
                    };
                    (seq, page)
                });
                let r = subs[s]
                    .subscribe(
                        b"cache",
                        TOPICS[t],
                        resume_arg.map(|(seq, page)| Resume { seq, page }),
                    )
                    .unwrap();
                let mt = *topics.entry(t).or_insert(MTopic {
                    next: 1,
                    page: r.page,
                });
                assert_eq!(r.page, mt.page);
                let existed = cursors.contains_key(&(s, t));
                assert_eq!(r.new, !existed);
                if !existed || resume_arg.is_some() {
                    cursors.insert((s, t), position(&mt, resume_arg));
                }
                assert_eq!(r.next_seq, cursors[&(s, t)].next);
            }
            Op::Unsubscribe { s, t } => {
                let had = cursors.remove(&(s, t)).is_some();
                assert_eq!(subs[s].unsubscribe(b"cache", TOPICS[t]), had);
            }
            Op::Drain { s, batch } => {
                let mut got: HashMap<Vec<u8>, Vec<Ev>> = HashMap::new();
                let mut out = Vec::new();
                loop {
                    out.clear();
                    let n = subs[s].drain(batch, &mut out);
                    assert!(n <= batch);
                    if n == 0 {
                        break;
                    }
                    for e in &out {
                        match e {
                            Event::Message {
                                topic,
                                msg,
                                pattern: None,
                                ..
                            } => got
                                .entry(topic.to_vec())
                                .or_default()
                                .push(Ev::Msg(msg.seq)),
                            Event::Discontinuity {
                                topic,
                                last_seq,
                                new_seq,
                                page,
                                ..
                            } => {
                                let t = TOPICS.iter().position(|x| *x == &topic[..]).unwrap();
                                assert_eq!(*page, topics[&t].page);
                                got.entry(topic.to_vec())
                                    .or_default()
                                    .push(Ev::Gap(*last_seq, *new_seq))
                            }
                            e => panic!("unexpected {e:?}"),
                        }
                    }
                }
                let mut want: HashMap<Vec<u8>, Vec<Ev>> = HashMap::new();
                for ((ss, t), c) in cursors.iter_mut() {
                    if *ss != s {
                        continue;
                    }
                    let mt = topics[t];
                    let mut evs = Vec::new();
                    if let Some((last, new)) = c.pending.take() {
                        evs.push(Ev::Gap(last, new));
                    }
                    if c.next < mt.oldest() {
                        evs.push(Ev::Gap(c.next - 1, mt.oldest()));
                        c.next = mt.oldest();
                    }
                    evs.extend((c.next..mt.next).map(Ev::Msg));
                    c.next = mt.next;
                    if !evs.is_empty() {
                        want.insert(TOPICS[*t].to_vec(), evs);
                    }
                }
                assert_eq!(got, want);
            }
        }
    }
    for (t, mt) in &topics {
        let info = engine.topic_info(b"cache", TOPICS[*t]).unwrap();
        assert_eq!((info.next_seq, info.oldest_seq), (mt.next, mt.oldest()));
        let n = cursors.keys().filter(|(_, tt)| tt == t).count();
        assert_eq!(engine.numsub(b"cache", TOPICS[*t]), n);
    }
    drop(subs);
    assert_eq!(engine.metrics().subscriptions, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops);
    }
}
