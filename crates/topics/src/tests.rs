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
