//! RankedSet at a million elements (issue 16's leaderboard target: GetRank and GetByRank in
//! microseconds), beside the B-tree walk ZRANK does today (`BTreeSet::range(..k).count()`).
//! Run: `cargo bench -p ferrite-storage --bench ranked`.

use std::collections::BTreeSet;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrite_storage::types::ranked::RankedSet;

const N: u32 = 1_000_000;

fn key(i: u32) -> (u32, u32) {
    (i.wrapping_mul(2_654_435_761) >> 8, i)
}

fn ranked(c: &mut Criterion) {
    let mut s = RankedSet::new();
    let mut b = BTreeSet::new();
    for i in 0..N {
        s.insert(key(i));
        b.insert(key(i));
    }
    let mut i = 0u32;
    let mut g = c.benchmark_group("1M elements");
    g.bench_function("RankedSet::rank", |bch| {
        bch.iter(|| {
            i = (i + 7919) % N;
            black_box(s.rank(&key(i)))
        })
    });
    g.bench_function("RankedSet::get (by rank)", |bch| {
        bch.iter(|| {
            i = (i + 7919) % N;
            black_box(s.get(i as usize))
        })
    });
    g.bench_function("RankedSet remove + insert", |bch| {
        bch.iter(|| {
            i = (i + 7919) % N;
            s.remove(&key(i));
            s.insert(key(i))
        })
    });
    g.sample_size(10);
    g.bench_function("BTreeSet rank by walking (ZRANK today)", |bch| {
        bch.iter(|| {
            i = (i + 7919) % N;
            black_box(b.range(..key(i)).count())
        })
    });
    g.finish();
}

criterion_group!(benches, ranked);
criterion_main!(benches);
