//! Parse a pipeline of 16 GET/SET commands and encode their replies: the
//! per-request work the codec adds on the hot path.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrite_resp::{encode_array_of_bulks, parse_command, BytesMut, ParseLimits, ReplyWriter};

fn pipeline() -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..16 {
        if i % 2 == 0 {
            encode_array_of_bulks(&[b"GET", b"key:000000000042"], &mut out);
        } else {
            encode_array_of_bulks(
                &[b"SET", b"key:000000000042", b"value-0123456789"],
                &mut out,
            );
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let input = pipeline();
    let limits = ParseLimits::default();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(16));

    g.bench_function("parse_16_pipelined", |b| {
        let mut args = Vec::with_capacity(8);
        b.iter(|| {
            // Cloning a BytesMut copies 16 small commands; the same copy a
            // socket read into the buffer would do.
            let mut buf = input.clone();
            let mut n = 0;
            while parse_command(&mut buf, &limits, &mut args).unwrap() {
                n += args.len();
            }
            black_box(n)
        })
    });

    g.bench_function("encode_16_replies", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let mut w = ReplyWriter::new(&mut out, false);
            for i in 0..16 {
                if i % 2 == 0 {
                    w.bulk(black_box(b"value-0123456789"));
                } else {
                    w.ok();
                }
            }
            black_box(out.len())
        })
    });

    g.bench_function("parse_and_reply_16", |b| {
        let mut args = Vec::with_capacity(8);
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let mut buf = input.clone();
            while parse_command(&mut buf, &limits, &mut args).unwrap() {
                let mut w = ReplyWriter::new(&mut out, false);
                if args.len() == 2 {
                    w.bulk(&args[1]);
                } else {
                    w.ok();
                }
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
