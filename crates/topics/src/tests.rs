//! Engine tests that look at internals (ready-list length).

use std::sync::Arc;

use bytes::Bytes;

use crate::{Event, MessageKind, ReplayWindow, Topics, TopicsConfig};

#[test]
fn idle_subscribers_and_stalled_subscriber_stay_bounded() {
    let window = ReplayWindow {
        max_messages: 256,
        max_bytes: 64 * 1024,
        ..Default::default()
    };
    let topics = Topics::new(TopicsConfig {
        replay: window,
        ..Default::default()
    });
    let mut idle: Vec<_> = (0..10_000).map(|_| topics.subscriber()).collect();
    for s in &mut idle {
        s.subscribe(b"c", b"t", None).unwrap();
    }
    let mut stalled = topics.subscriber();
    stalled.subscribe(b"c", b"t", None).unwrap();
    let payload = Bytes::from(vec![7u8; 100]);
    for i in 0..5_000 {
        let p = topics
            .publish(b"c", b"t", payload.clone(), MessageKind::Binary, None)
            .unwrap();
        assert_eq!(p.receivers, 10_001);
        assert_eq!(p.seq, i + 1);
        let info = topics.topic_info(b"c", b"t").unwrap();
        assert!(info.retained_messages <= 256);
        assert!(info.retained_bytes <= 64 * 1024);
    }
    // Each subscriber is queued at most once, however many messages were published.
    assert!(idle.iter().all(|s| s.ready_len() == 1));
    assert_eq!(stalled.ready_len(), 1);
    let m = topics.metrics();
    assert!(m.retained_bytes <= 64 * 1024);
    assert!(m.retained_messages <= 256);
    assert_eq!(m.subscriptions, 10_001);
    // The ring is shared: one Arc per retained message, each payload shared.
    let mut ev = Vec::new();
    stalled.drain(usize::MAX, &mut ev);
    assert!(matches!(ev[0], Event::Discontinuity { last_seq: 0, .. }));
    assert_eq!(ev.len(), 1 + 256); // 256 x 100 B fits in 64 KiB: the count bound applies
    drop(idle);
    assert_eq!(topics.metrics().subscriptions, 1);
    assert_eq!(topics.numsub(b"c", b"t"), 1);
}

#[test]
fn dropped_subscriber_leaves_no_cycle() {
    let topics = Topics::default();
    let mut s = topics.subscriber();
    s.subscribe(b"c", b"t", None).unwrap();
    s.psubscribe(b"c", b"*").unwrap();
    topics
        .publish(
            b"c",
            b"t",
            Bytes::from_static(b"x"),
            MessageKind::Text,
            None,
        )
        .unwrap();
    assert_eq!(s.ready_len(), 2);
    let shared = Arc::downgrade(&s.shared);
    drop(s);
    // Pattern cursors are pruned at the next publish (pattern epoch moved).
    topics
        .publish(
            b"c",
            b"t",
            Bytes::from_static(b"y"),
            MessageKind::Text,
            None,
        )
        .unwrap();
    assert_eq!(topics.topic_info(b"c", b"t").unwrap().pattern_cursors, 0);
    assert!(shared.upgrade().is_none(), "SubShared leaked");
}

#[test]
fn trimmed_messages_are_recycled_only_when_nobody_holds_them() {
    let topics = Topics::new(TopicsConfig {
        replay: ReplayWindow {
            max_messages: 1,
            ..Default::default()
        },
        ..Default::default()
    });
    let mut s = topics.subscriber();
    s.subscribe(b"c", b"t", None).unwrap();
    let publish = |p: &[u8]| {
        topics
            .publish(b"c", b"t", p, MessageKind::Text, None)
            .unwrap()
    };
    let drain = |s: &mut crate::Subscriber| {
        let mut ev = Vec::new();
        s.drain(usize::MAX, &mut ev);
        ev.into_iter()
            .filter_map(|e| match e {
                Event::Message { msg, .. } => Some(msg),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    publish(b"one");
    let held = drain(&mut s);
    // "one" is trimmed twice over, but the subscriber still holds it: it must not be reused.
    publish(b"two");
    publish(b"six");
    assert_eq!(held[0].payload, Bytes::from_static(b"one"));
    let three = drain(&mut s);
    assert_eq!(three.len(), 1, "only the retained message is replayed");
    let reused_at = Arc::as_ptr(&three[0]) as usize;
    drop(three);
    publish(b"ten"); // trims "six", which nobody holds any more: it becomes the spare
    drain(&mut s);
    publish(b"new");
    let got = drain(&mut s);
    assert_eq!(got[0].payload, Bytes::from_static(b"new"));
    assert_eq!(got[0].seq, 5);
    assert_eq!(
        Arc::as_ptr(&got[0]) as usize,
        reused_at,
        "allocation recycled"
    );
}
