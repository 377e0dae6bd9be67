//! Publish one message to a topic with N subscribers, then let every subscriber drain it.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrite_topics::{MessageKind, Topics};

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("publish_and_drain");
    for &n in &[1usize, 10, 100] {
        for &size in &[64usize, 1024] {
            let topics = Topics::default();
            let mut subs: Vec<_> = (0..n).map(|_| topics.subscriber()).collect();
            for s in &mut subs {
                s.subscribe(b"cache", b"topic", None).unwrap();
            }
            let payload = Bytes::from(vec![b'x'; size]);
            let mut events = Vec::with_capacity(16);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new(format!("{size}B"), n), &n, |b, _| {
                b.iter(|| {
                    topics
                        .publish(
                            b"cache",
                            b"topic",
                            payload.clone(),
                            MessageKind::Binary,
                            None,
                        )
                        .unwrap();
                    for s in &mut subs {
                        events.clear();
                        s.drain(16, &mut events);
                    }
                })
            });
        }
    }
    g.finish();

    // Publish only, with 1,000 subscribers that never drain (cost of a stalled cursor).
    let topics = Topics::default();
    let mut subs: Vec<_> = (0..1000).map(|_| topics.subscriber()).collect();
    for s in &mut subs {
        s.subscribe(b"cache", b"topic", None).unwrap();
    }
    let payload = Bytes::from(vec![b'x'; 64]);
    c.bench_function("publish_1000_stalled_subscribers", |b| {
        b.iter(|| {
            topics
                .publish(
                    b"cache",
                    b"topic",
                    payload.clone(),
                    MessageKind::Binary,
                    None,
                )
                .unwrap()
        })
    });
}

criterion_group!(benches, fanout);
criterion_main!(benches);
