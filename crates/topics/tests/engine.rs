//! Engine behaviour through the public API.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_topics::{
    Event, ManualClock, MessageKind, ReplayWindow, Resume, Subscriber, Topics, TopicsConfig,
    TopicsError,
};

fn pubs(t: &Topics, cache: &[u8], topic: &[u8], body: &str) -> ferrite_topics::Published {
    t.publish(
        cache,
        topic,
        Bytes::copy_from_slice(body.as_bytes()),
        MessageKind::Text,
        None,
    )
    .unwrap()
}

fn drain_all(s: &mut Subscriber) -> Vec<Event> {
    let mut v = Vec::new();
    while s.drain(1000, &mut v) > 0 {}
    v
}

fn seqs(evs: &[Event]) -> Vec<u64> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Message { msg, .. } => Some(msg.seq),
            _ => None,
        })
        .collect()
}

fn window(n: usize) -> TopicsConfig {
    TopicsConfig {
        replay: ReplayWindow {
            max_messages: n,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn ordering_numbering_and_fields() {
    let t = Topics::default();
    let p0 = pubs(&t, b"c", b"t", "before");
    assert_eq!((p0.seq, p0.receivers), (1, 0));
    let mut s = t.subscriber();
    let sd = s.subscribe(b"c", b"t", None).unwrap();
    assert!(sd.new);
    assert_eq!((sd.page, sd.next_seq), (p0.page, 2));
    for i in 0..10 {
        let p = t
            .publish(
                b"c",
                b"t",
                Bytes::from(format!("m{i}")),
                MessageKind::Binary,
                Some(Arc::from("tok")),
            )
            .unwrap();
        assert_eq!((p.seq, p.page, p.receivers), (i + 2, p0.page, 1));
    }
    let ev = drain_all(&mut s);
    assert_eq!(seqs(&ev), (2..12).collect::<Vec<_>>());
    match &ev[0] {
        Event::Message {
            cache,
            topic,
            pattern,
            msg,
        } => {
            assert_eq!(
                (&cache[..], &topic[..], pattern),
                (&b"c"[..], &b"t"[..], &None)
            );
            assert_eq!(&msg.payload[..], b"m0");
            assert_eq!(msg.kind, MessageKind::Binary);
            assert_eq!(&*msg.publisher_id, "tok");
            assert_eq!(msg.page, p0.page);
        }
        e => panic!("{e:?}"),
    }
    // Nothing more, and different topics have independent numbering.
    assert_eq!(s.drain(10, &mut Vec::new()), 0);
    assert_eq!(pubs(&t, b"c", b"other", "x").seq, 1);
    assert_eq!(pubs(&t, b"c2", b"t", "x").seq, 1);
    assert_eq!(t.metrics().delivered, 10);
}

#[test]
fn resume_inside_window_is_exact() {
    let t = Topics::default();
    let page = pubs(&t, b"c", b"t", "1").page;
    for i in 2..=10 {
        pubs(&t, b"c", b"t", &i.to_string());
    }
    let mut s = t.subscriber();
    let sd = s
        .subscribe(b"c", b"t", Some(Resume { seq: 5, page }))
        .unwrap();
    assert_eq!(sd.next_seq, 5);
    pubs(&t, b"c", b"t", "11");
    let ev = drain_all(&mut s);
    assert_eq!(seqs(&ev), (5..=11).collect::<Vec<_>>());
    assert_eq!(ev.len(), 7, "no discontinuity");
    // Resume at the next sequence: nothing missed, no discontinuity.
    let mut s2 = t.subscriber();
    s2.subscribe(b"c", b"t", Some(Resume { seq: 12, page }))
        .unwrap();
    assert!(drain_all(&mut s2).is_empty());
    pubs(&t, b"c", b"t", "12");
    assert_eq!(seqs(&drain_all(&mut s2)), vec![12]);
}

#[test]
fn resume_outside_window_gives_discontinuity_then_the_window() {
    let t = Topics::new(window(4));
    let page = pubs(&t, b"c", b"t", "1").page;
    for i in 2..=10 {
        pubs(&t, b"c", b"t", &i.to_string());
    }
    assert_eq!(t.topic_info(b"c", b"t").unwrap().oldest_seq, 7);
    // Trimmed on the current page: the gap from the one before it, then what is retained.
    let mut s = t.subscriber();
    s.subscribe(b"c", b"t", Some(Resume { seq: 3, page }))
        .unwrap();
    pubs(&t, b"c", b"t", "11");
    let ev = drain_all(&mut s);
    assert_eq!(
        ev[0],
        Event::Discontinuity {
            cache: Bytes::from_static(b"c"),
            topic: Bytes::from_static(b"t"),
            pattern: None,
            last_seq: 2,
            new_seq: 8,
            page
        }
    );
    assert_eq!(seqs(&ev), vec![8, 9, 10, 11]);
    // A future sequence on the current page is unknown: nothing known was lost (last 0), and
    // the window follows.
    let mut s3 = t.subscriber();
    s3.subscribe(b"c", b"t", Some(Resume { seq: 99, page }))
        .unwrap();
    let ev = drain_all(&mut s3);
    assert!(matches!(
        ev[0],
        Event::Discontinuity {
            last_seq: 0,
            new_seq: 8,
            ..
        }
    ));
    assert_eq!(seqs(&ev), vec![8, 9, 10, 11]);
    // So is another page; page 0 is the current one.
    let mut s4 = t.subscriber();
    s4.subscribe(b"c", b"t", Some(Resume { seq: 10, page: 0 }))
        .unwrap();
    assert_eq!(seqs(&drain_all(&mut s4)), vec![10, 11]);
    // Start::Latest(n): the newest n retained, then live.
    let mut s5 = t.subscriber();
    s5.subscribe(b"c", b"t", ferrite_topics::Start::Latest(2))
        .unwrap();
    assert_eq!(seqs(&drain_all(&mut s5)), vec![10, 11]);
    let mut s6 = t.subscriber();
    s6.subscribe(b"c", b"t", ferrite_topics::Start::Latest(100))
        .unwrap();
    assert_eq!(seqs(&drain_all(&mut s6)), vec![8, 9, 10, 11]);
}

#[test]
fn page_change_gives_discontinuity() {
    let clock = Arc::new(ManualClock::new(1_000));
    let cfg = TopicsConfig {
        replay: ReplayWindow {
            max_age: Duration::from_secs(1),
            ..Default::default()
        },
        idle_topic_ttl: Duration::from_secs(1),
        ..Default::default()
    };
    let t = Topics::with_clock(cfg, clock.clone());
    let old = pubs(&t, b"c", b"t", "a");
    clock.advance(5_000);
    assert_eq!(t.sweep_idle(), 1);
    assert!(t.topic_info(b"c", b"t").is_none());
    let mut s = t.subscriber();
    let sd = s
        .subscribe(
            b"c",
            b"t",
            Some(Resume {
                seq: 2,
                page: old.page,
            }),
        )
        .unwrap();
    assert!(sd.page > old.page, "a recreated topic gets a larger page");
    assert_eq!(sd.next_seq, 1);
    let ev = drain_all(&mut s);
    assert_eq!(ev.len(), 1);
    assert!(
        matches!(ev[0], Event::Discontinuity { last_seq: 0, new_seq: 1, page, .. } if page == sd.page)
    );
    let p = pubs(&t, b"c", b"t", "b");
    assert_eq!((p.seq, p.page), (1, sd.page));
    // A second engine (a restarted server) issues larger pages still.
    std::thread::sleep(Duration::from_millis(2));
    let t2 = Topics::default();
    assert!(pubs(&t2, b"c", b"t", "x").page > p.page);
}

#[test]
fn age_retention_with_manual_clock() {
    let clock = Arc::new(ManualClock::new(0));
    let cfg = TopicsConfig {
        replay: ReplayWindow {
            max_age: Duration::from_secs(10),
            ..Default::default()
        },
        ..Default::default()
    };
    let t = Topics::with_clock(cfg, clock.clone());
    let page = pubs(&t, b"c", b"t", "1").page;
    clock.advance(6_000);
    pubs(&t, b"c", b"t", "2");
    clock.advance(6_000); // message 1 is 12 s old, message 2 is 6 s old
    let mut s = t.subscriber();
    s.subscribe(b"c", b"t", Some(Resume { seq: 1, page }))
        .unwrap();
    let ev = drain_all(&mut s);
    assert!(matches!(
        ev[0],
        Event::Discontinuity {
            last_seq: 0,
            new_seq: 2,
            ..
        }
    ));
    assert_eq!(seqs(&ev), vec![2]);
    let mut s2 = t.subscriber();
    s2.subscribe(b"c", b"t", Some(Resume { seq: 2, page }))
        .unwrap();
    assert_eq!(seqs(&drain_all(&mut s2)), vec![2]);
    clock.advance(60_000);
    t.sweep_idle();
    let info = t.topic_info(b"c", b"t").unwrap();
    assert_eq!((info.retained_messages, info.oldest_seq), (0, 3));
    assert_eq!(t.metrics().retained_bytes, 0);
}

#[test]
fn byte_window_keeps_newest() {
    let cfg = TopicsConfig {
        replay: ReplayWindow {
            max_bytes: 10,
            ..Default::default()
        },
        ..Default::default()
    };
    let t = Topics::new(cfg);
    let mut s = t.subscriber();
    s.subscribe(b"c", b"t", None).unwrap();
    pubs(&t, b"c", b"t", "0123456789abcdef"); // alone larger than the window: still delivered
    assert_eq!(seqs(&drain_all(&mut s)), vec![1]);
    for _ in 0..5 {
        pubs(&t, b"c", b"t", "abcd");
    }
    let info = t.topic_info(b"c", b"t").unwrap();
    assert_eq!((info.retained_messages, info.retained_bytes), (2, 8));
}

#[test]
fn per_cache_window_override() {
    let mut cfg = window(100);
    cfg.cache_replay.insert(
        Bytes::from_static(b"small"),
        ReplayWindow {
            max_messages: 2,
            ..Default::default()
        },
    );
    let t = Topics::new(cfg);
    for _ in 0..10 {
        pubs(&t, b"small", b"t", "x");
        pubs(&t, b"big", b"t", "x");
    }
    assert_eq!(t.topic_info(b"small", b"t").unwrap().retained_messages, 2);
    assert_eq!(t.topic_info(b"big", b"t").unwrap().retained_messages, 10);
}

#[test]
fn stalled_subscriber_blocks_neither_publisher_nor_others() {
    let t = Topics::default(); // window 1024
    let mut stalled = t.subscriber();
    stalled.subscribe(b"c", b"t", None).unwrap();
    let mut live = t.subscriber();
    live.subscribe(b"c", b"t", None).unwrap();
    let mut got = Vec::with_capacity(100_000);
    let mut ev = Vec::new();
    for i in 1..=100_000u64 {
        let p = pubs(&t, b"c", b"t", "payload");
        assert_eq!(p.seq, i);
        if i % 100 == 0 {
            ev.clear();
            live.drain(usize::MAX, &mut ev);
            got.extend(seqs(&ev));
            assert_eq!(ev.len(), 100, "live subscriber never sees a gap");
        }
    }
    assert_eq!(got, (1..=100_000).collect::<Vec<_>>());
    let ev = drain_all(&mut stalled);
    assert!(matches!(
        ev[0],
        Event::Discontinuity {
            last_seq: 0,
            new_seq: 98_977,
            ..
        }
    ));
    assert_eq!(seqs(&ev), (98_977..=100_000).collect::<Vec<_>>());
    assert!(t.topic_info(b"c", b"t").unwrap().retained_messages <= 1024);
    let m = t.metrics();
    assert_eq!((m.published, m.discontinuities), (100_000, 1));
}

#[test]
fn drain_budget_is_fair_across_topics() {
    let t = Topics::default();
    let mut s = t.subscriber();
    s.subscribe(b"c", b"a", None).unwrap();
    s.subscribe(b"c", b"b", None).unwrap();
    for _ in 0..10 {
        pubs(&t, b"c", b"a", "x");
        pubs(&t, b"c", b"b", "y");
    }
    let mut ev = Vec::new();
    assert_eq!(s.drain(4, &mut ev), 4);
    assert_eq!(s.drain(4, &mut ev), 4);
    let topics: Vec<&[u8]> = ev
        .iter()
        .map(|e| match e {
            Event::Message { topic, .. } => &topic[..],
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        topics,
        vec![&b"a"[..], b"a", b"a", b"a", b"b", b"b", b"b", b"b"]
    );
    let rest = drain_all(&mut s);
    assert_eq!(rest.len(), 12);
}

#[test]
fn patterns() {
    let t = Topics::default();
    let mut s = t.subscriber();
    assert!(s.psubscribe(b"c", b"news.*").unwrap());
    assert!(!s.psubscribe(b"c", b"news.*").unwrap());
    assert!(s.subscribe(b"c", b"news.a", None).unwrap().new);
    let mut other = t.subscriber();
    other.psubscribe(b"c", b"news.*").unwrap();
    other.psubscribe(b"c", b"n?ws.[ab]").unwrap();
    assert_eq!(t.numpat(b"c"), 2, "unique patterns");
    assert_eq!(t.numpat(b"c2"), 0);
    assert_eq!(s.subscription_count(), 2);

    assert_eq!(pubs(&t, b"c", b"news.a", "1").receivers, 4);
    assert_eq!(pubs(&t, b"c", b"news.c", "2").receivers, 2);
    assert_eq!(pubs(&t, b"c", b"sports", "3").receivers, 0);
    assert_eq!(
        pubs(&t, b"c2", b"news.a", "4").receivers,
        0,
        "patterns are per cache"
    );

    let ev = drain_all(&mut s);
    let mut got: Vec<(Vec<u8>, Option<Vec<u8>>)> = ev
        .iter()
        .map(|e| match e {
            Event::Message { topic, pattern, .. } => {
                (topic.to_vec(), pattern.as_ref().map(|p| p.to_vec()))
            }
            e => panic!("{e:?}"),
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (b"news.a".to_vec(), None),
            (b"news.a".to_vec(), Some(b"news.*".to_vec())),
            (b"news.c".to_vec(), Some(b"news.*".to_vec())),
        ]
    );
    assert_eq!(drain_all(&mut other).len(), 3);

    assert!(s.punsubscribe(b"c", b"news.*"));
    assert!(!s.punsubscribe(b"c", b"news.*"));
    assert_eq!(pubs(&t, b"c", b"news.a", "5").receivers, 3);
    assert_eq!(
        seqs(&drain_all(&mut s)),
        vec![2],
        "direct only; seq is per topic"
    );
    assert_eq!(other.punsubscribe_all().len(), 2);
    assert_eq!(t.numpat(b"c"), 0);
    assert_eq!(pubs(&t, b"c", b"news.a", "6").receivers, 1);
    assert!(drain_all(&mut other).is_empty());
    // PUBSUB CHANNELS counts only direct subscriptions.
    assert_eq!(t.channels(b"c", None), vec![Bytes::from_static(b"news.a")]);
    assert_eq!(t.channels(b"c", Some(b"news.*")).len(), 1);
    assert!(t.channels(b"c", Some(b"x*")).is_empty());
    assert_eq!(t.metrics().pattern_subscriptions, 0);
}

#[test]
fn pattern_subscriber_only_gets_messages_after_psubscribe() {
    let t = Topics::default();
    pubs(&t, b"c", b"a", "before");
    let mut s = t.subscriber();
    s.psubscribe(b"c", b"*").unwrap();
    pubs(&t, b"c", b"a", "after");
    pubs(&t, b"c", b"b", "after");
    let ev = drain_all(&mut s);
    assert_eq!(ev.len(), 2);
    assert!(ev
        .iter()
        .all(|e| matches!(e, Event::Message { msg, .. } if &msg.payload[..] == b"after")));
}

#[test]
fn unsubscribe_cleanup_and_sweep() {
    let clock = Arc::new(ManualClock::new(0));
    let cfg = TopicsConfig {
        replay: ReplayWindow {
            max_age: Duration::from_secs(5),
            ..Default::default()
        },
        idle_topic_ttl: Duration::from_secs(30),
        ..Default::default()
    };
    let t = Topics::with_clock(cfg, clock.clone());
    let mut a = t.subscriber();
    let mut b = t.subscriber();
    a.subscribe(b"c", b"t", None).unwrap();
    b.subscribe(b"c", b"t", None).unwrap();
    b.subscribe(b"c", b"u", None).unwrap();
    assert!(!b.subscribe(b"c", b"u", None).unwrap().new);
    assert_eq!(t.numsub(b"c", b"t"), 2);
    pubs(&t, b"c", b"t", "x");
    assert!(a.unsubscribe(b"c", b"t"));
    assert!(!a.unsubscribe(b"c", b"t"));
    assert_eq!(t.numsub(b"c", b"t"), 1);
    assert!(drain_all(&mut a).is_empty(), "no events after unsubscribe");
    let mut removed = b.unsubscribe_all();
    removed.sort();
    assert_eq!(removed.len(), 2);
    assert_eq!(b.subscription_count(), 0);
    assert_eq!(t.numsub(b"c", b"t"), 0);
    assert!(t.channels(b"c", None).is_empty());

    // Still retained / not idle long enough: kept.
    clock.advance(10_000);
    assert_eq!(t.sweep_idle(), 0);
    clock.advance(30_000);
    assert_eq!(t.sweep_idle(), 2);
    assert!(t.topic_info(b"c", b"t").is_none());
    let m = t.metrics();
    assert_eq!(
        (
            m.topics,
            m.subscriptions,
            m.retained_bytes,
            m.retained_messages
        ),
        (0, 0, 0, 0)
    );

    // Dropping a subscriber removes everything it had.
    let mut d = t.subscriber();
    d.subscribe(b"c", b"t", None).unwrap();
    d.psubscribe(b"c", b"*").unwrap();
    assert_eq!(t.metrics().subscribers, 3);
    drop(d);
    assert_eq!(t.numsub(b"c", b"t"), 0);
    assert_eq!(t.numpat(b"c"), 0);
    let m = t.metrics();
    assert_eq!(
        (m.subscribers, m.subscriptions, m.pattern_subscriptions),
        (2, 0, 0)
    );
    // A topic with subscribers is never swept.
    a.subscribe(b"c", b"keep", None).unwrap();
    clock.advance(100_000);
    t.sweep_idle();
    assert!(t.topic_info(b"c", b"keep").is_some());
    assert!(t.topic_info(b"c", b"t").is_none());
}

#[test]
fn drop_cache_ends_subscriptions() {
    let t = Topics::default();
    let mut s = t.subscriber();
    let old = s.subscribe(b"c", b"t", None).unwrap();
    s.subscribe(b"other", b"t", None).unwrap();
    let mut p = t.subscriber();
    p.psubscribe(b"c", b"*").unwrap();
    let bystander = t.subscriber();
    pubs(&t, b"c", b"t", "x");
    assert_eq!(t.drop_cache(b"c"), 1);
    assert_eq!(t.drop_cache(b"nope"), 0);
    assert_eq!(t.numsub(b"c", b"t"), 0);
    assert_eq!(t.numpat(b"c"), 0);
    assert!(t.topic_info(b"c", b"t").is_none());
    let ev = drain_all(&mut s);
    assert_eq!(
        ev,
        vec![Event::CacheGone {
            cache: Bytes::from_static(b"c")
        }]
    );
    assert_eq!(s.subscription_count(), 1);
    assert!(!s.is_subscribed(b"c", b"t"));
    assert_eq!(
        drain_all(&mut p),
        vec![Event::CacheGone {
            cache: Bytes::from_static(b"c")
        }]
    );
    assert_eq!(p.pattern_count(), 0);
    assert!(!bystander.has_ready());
    // The cache comes back as a new incarnation.
    let new = s
        .subscribe(
            b"c",
            b"t",
            Some(Resume {
                seq: 2,
                page: old.page,
            }),
        )
        .unwrap();
    assert!(new.new && new.page > old.page);
    assert!(matches!(drain_all(&mut s)[0], Event::Discontinuity { .. }));
    assert_eq!(pubs(&t, b"c", b"t", "y").seq, 1);
    let m = t.metrics();
    assert_eq!((m.topics, m.subscriptions, m.retained_messages), (2, 2, 1));
}

#[test]
fn drop_cache_before_drain_then_resubscribe() {
    let t = Topics::default();
    let mut s = t.subscriber();
    s.subscribe(b"c", b"t", None).unwrap();
    t.drop_cache(b"c");
    // Not drained yet: the stale subscription must be replaced, not reported as existing.
    assert!(s.subscribe(b"c", b"t", None).unwrap().new);
    pubs(&t, b"c", b"t", "x");
    let ev = drain_all(&mut s);
    assert_eq!(
        ev[0],
        Event::CacheGone {
            cache: Bytes::from_static(b"c")
        }
    );
    assert_eq!(seqs(&ev), vec![1]);
    assert!(s.is_subscribed(b"c", b"t"));
    assert_eq!(s.subscription_count(), 1);
}

#[test]
fn limits() {
    let cfg = TopicsConfig {
        max_message_bytes: 8,
        max_subscribers_per_topic: 2,
        max_topics_per_cache: 3,
        max_patterns_per_cache: 1,
        ..Default::default()
    };
    let t = Topics::new(cfg);
    let e = t.publish(
        b"c",
        b"t",
        Bytes::from_static(b"123456789"),
        MessageKind::Binary,
        None,
    );
    assert_eq!(e, Err(TopicsError::MessageTooLarge { size: 9, max: 8 }));
    assert!(e.unwrap_err().to_string().contains("exceeds"));
    let mut subs: Vec<_> = (0..3).map(|_| t.subscriber()).collect();
    subs[0].subscribe(b"c", b"t", None).unwrap();
    subs[1].subscribe(b"c", b"t", None).unwrap();
    assert_eq!(
        subs[2].subscribe(b"c", b"t", None),
        Err(TopicsError::TooManySubscribers { max: 2 })
    );
    pubs(&t, b"c", b"u", "x");
    pubs(&t, b"c", b"v", "x");
    let e = t.publish(b"c", b"w", Bytes::new(), MessageKind::Binary, None);
    assert_eq!(e, Err(TopicsError::TooManyTopics { max: 3 }));
    pubs(&t, b"d", b"w", "separate");
    subs[2].psubscribe(b"c", b"*").unwrap();
    assert_eq!(
        subs[1].psubscribe(b"c", b"*"),
        Err(TopicsError::TooManyPatterns { max: 1 })
    );
    let m = t.metrics();
    assert_eq!((m.rejected_too_large, m.rejected_limit), (1, 3));
    t.record_slow_subscriber_disconnect();
    assert_eq!(t.metrics().slow_subscriber_disconnects, 1);
}

#[test]
fn repositioning_an_existing_subscription() {
    let t = Topics::default();
    let mut s = t.subscriber();
    let page = s.subscribe(b"c", b"t", None).unwrap().page;
    for i in 1..=5 {
        pubs(&t, b"c", b"t", &i.to_string());
    }
    assert_eq!(seqs(&drain_all(&mut s)), vec![1, 2, 3, 4, 5]);
    let r = s
        .subscribe(b"c", b"t", Some(Resume { seq: 3, page }))
        .unwrap();
    assert!(!r.new);
    assert_eq!(seqs(&drain_all(&mut s)), vec![3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_wakes_across_tasks() {
    let t = Topics::default();
    let mut s = t.subscriber();
    for i in 0..100 {
        s.subscribe(b"c", format!("t{i}").as_bytes(), None).unwrap();
    }
    s.psubscribe(b"c", b"t1*").unwrap();
    let waiter = s.waiter();
    let reader = tokio::spawn(async move {
        let mut ev = Vec::new();
        let mut got = 0usize;
        while got < 1000 + 110 {
            let mut batch = Vec::new();
            if s.drain(64, &mut batch) == 0 {
                waiter.wait().await;
                continue;
            }
            got += batch.len();
            ev.extend(batch);
        }
        ev
    });
    let t2 = t.clone();
    tokio::task::spawn_blocking(move || {
        for r in 0..10 {
            for i in 0..100 {
                t2.publish(
                    b"c",
                    format!("t{i}").as_bytes(),
                    Bytes::from(format!("{r}")),
                    MessageKind::Text,
                    None,
                )
                .unwrap();
            }
        }
    })
    .await
    .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .unwrap()
        .unwrap();
    // t1 and t10..t19 match the pattern. Per (topic, pattern) stream: sequences 1..=10 in order.
    let mut per: std::collections::HashMap<(Bytes, Option<Bytes>), Vec<u64>> = Default::default();
    for e in ev {
        if let Event::Message {
            topic,
            pattern,
            msg,
            ..
        } = e
        {
            per.entry((topic, pattern)).or_default().push(msg.seq);
        }
    }
    assert_eq!(per.len(), 111);
    assert!(per.values().all(|v| *v == (1..=10).collect::<Vec<_>>()));
}

#[tokio::test]
async fn concurrent_publishers_on_many_topics() {
    let t = Topics::default();
    let mut handles = Vec::new();
    for w in 0..4 {
        let t = t.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..2_000 {
                let topic = format!("w{w}-{}", i % 50);
                t.publish(
                    b"c",
                    topic.as_bytes(),
                    Bytes::from_static(b"x"),
                    MessageKind::Binary,
                    None,
                )
                .unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(t.metrics().published, 8_000);
    assert_eq!(t.topic_info(b"c", b"w3-7").unwrap().next_seq, 41);
}

/// Server-generated messages (keyspace notifications) publish only where someone listens: no
/// topic, ring or retained byte appears for a channel without a subscriber or matching pattern.
#[test]
fn publish_if_subscribed_creates_nothing_without_a_listener() {
    let t = Topics::default();
    let quiet = |t: &Topics, topic: &[u8]| {
        t.publish_if_subscribed(b"c", topic, &b"x"[..], MessageKind::Text, None)
            .unwrap()
    };
    assert!(quiet(&t, b"__keyspace@0__:k").is_none());
    assert!(t.topic_info(b"c", b"__keyspace@0__:k").is_none());
    assert_eq!(t.retained_memory(), 0);

    let mut direct = t.subscriber();
    direct.subscribe(b"c", b"__keyevent@0__:set", None).unwrap();
    let p = quiet(&t, b"__keyevent@0__:set").expect("a direct subscriber");
    assert_eq!(p.receivers, 1);
    // Another cache's subscriber does not count.
    assert!(t
        .publish_if_subscribed(
            b"other",
            b"__keyevent@0__:set",
            &b"x"[..],
            MessageKind::Text,
            None
        )
        .unwrap()
        .is_none());

    let mut pat = t.subscriber();
    pat.psubscribe(b"c", b"__keyspace@0__:*").unwrap();
    let p = quiet(&t, b"__keyspace@0__:k").expect("a matching pattern");
    assert_eq!(p.receivers, 1);
    assert!(quiet(&t, b"unrelated").is_none());
    let evs = drain_all(&mut pat);
    assert_eq!(evs.len(), 1);
    pat.punsubscribe(b"c", b"__keyspace@0__:*");
    assert!(quiet(&t, b"__keyspace@0__:k2").is_none());
}

/// A subscriber behind on several topics gets their messages in publish order, not topic by
/// topic (Redis delivers a connection's messages in the order they were published).
#[test]
fn a_batch_over_several_topics_comes_in_publish_order() {
    let t = Topics::default();
    let mut s = t.subscriber();
    s.psubscribe(b"c", b"*").unwrap();
    s.subscribe(b"c", b"b", None).unwrap();
    for i in 0..50 {
        pubs(&t, b"c", b"a", &format!("a{i}"));
        pubs(&t, b"c", b"b", &format!("b{i}"));
    }
    let evs = drain_all(&mut s);
    let got: Vec<(String, bool)> = evs
        .iter()
        .map(|e| match e {
            Event::Message { msg, pattern, .. } => (
                String::from_utf8(msg.payload.to_vec()).unwrap(),
                pattern.is_some(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    // b's messages come twice (direct and pattern), next to each other.
    let names: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    let mut want = Vec::new();
    for i in 0..50 {
        want.push(format!("a{i}"));
        want.push(format!("b{i}"));
        want.push(format!("b{i}"));
    }
    assert_eq!(names, want);
}
