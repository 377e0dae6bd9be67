//! respmix: closed-loop RESP load with a GET/SET mix over zipfian keys (the shape of a real cache's
//! traffic: a few hot keys, a long tail), which redis-benchmark cannot generate.
//!
//! ```text
//! respmix [--addr 127.0.0.1:6379] [--conns 50] [--pipeline 1] [--get 0.9] [--keys 100000]
//!         [--zipf 0.99] [--value-size 32] [--duration 5] [--warmup 1] [--no-preload] [--label TEXT]
//! ```
//!
//! Every connection runs on one single-threaded runtime (the client pins to one core). Each
//! connection sends `pipeline` commands, reads their replies, and records the batch's round-trip
//! time once per command (what each command waited). SET values are `value-size` bytes. Keys are
//! `key:%012d` drawn from a zipf(s) distribution over `keys` ranks (s = 0 is uniform); the keyspace
//! is preloaded so GETs hit unless `--no-preload`. Output: a human line on stderr and one JSON
//! line on stdout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    addr: String,
    conns: usize,
    pipeline: usize,
    get: f64,
    keys: u64,
    zipf: f64,
    value_size: usize,
    duration: f64,
    warmup: f64,
    preload: bool,
    label: String,
}

fn usage() -> ! {
    let doc: Vec<&str> = include_str!("main.rs")
        .lines()
        .skip(5)
        .take(2)
        .map(|l| l.trim_start_matches("//! "))
        .collect();
    eprintln!("{}", doc.join("\n"));
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:6379".into(),
        conns: 50,
        pipeline: 1,
        get: 0.9,
        keys: 100_000,
        zipf: 0.99,
        value_size: 32,
        duration: 5.0,
        warmup: 1.0,
        preload: true,
        label: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        if f == "--no-preload" {
            a.preload = false;
            continue;
        }
        let v = it.next().unwrap_or_else(|| usage());
        fn num<T: std::str::FromStr>(v: &str) -> T {
            v.parse().unwrap_or_else(|_| usage())
        }
        match f.as_str() {
            "--addr" => a.addr = v,
            "--conns" => a.conns = num(&v),
            "--pipeline" => a.pipeline = num(&v),
            "--get" => a.get = num(&v),
            "--keys" => a.keys = num(&v),
            "--zipf" => a.zipf = num(&v),
            "--value-size" => a.value_size = num(&v),
            "--duration" => a.duration = num(&v),
            "--warmup" => a.warmup = num(&v),
            "--label" => a.label = v,
            _ => usage(),
        }
    }
    if a.conns == 0 || a.pipeline == 0 || a.keys == 0 {
        usage()
    }
    a
}

/// xorshift64: cheap, per connection.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf over ranks 0..n by inverting a precomputed CDF (n = 100k: 800 KB, built once).
struct Zipf {
    cdf: Vec<f64>,
}
impl Zipf {
    fn new(n: u64, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self { cdf }
    }
    fn sample(&self, u: f64) -> u64 {
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1) as u64
    }
}

fn push_cmd(out: &mut Vec<u8>, get: bool, key: u64, value: &[u8]) {
    let k = format!("key:{key:012}");
    if get {
        out.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n${}\r\n{k}\r\n", k.len()).as_bytes());
    } else {
        out.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n",
                k.len(),
                value.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
}

/// Read until `n` complete replies (simple/error/integer lines or bulk strings) have arrived.
/// Returns the number of error replies.
async fn read_replies(s: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> std::io::Result<usize> {
    let mut done = 0;
    let mut errors = 0;
    let mut pos = 0;
    loop {
        // parse what we have
        loop {
            if done == n {
                buf.drain(..pos);
                return Ok(errors);
            }
            let Some(nl) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
                break;
            };
            let line = &buf[pos..pos + nl];
            match line.first() {
                Some(b'$') => {
                    let len: i64 = std::str::from_utf8(&line[1..]).unwrap().parse().unwrap();
                    let need = if len < 0 { 0 } else { len as usize + 2 };
                    if buf.len() < pos + nl + 2 + need {
                        break;
                    }
                    pos += nl + 2 + need;
                }
                Some(b'-') => {
                    errors += 1;
                    pos += nl + 2;
                }
                _ => pos += nl + 2,
            }
            done += 1;
        }
        let mut chunk = [0u8; 65536];
        let r = s.read(&mut chunk).await?;
        if r == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..r]);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = parse_args();
    let value = vec![b'x'; a.value_size];
    if a.preload {
        let mut s = TcpStream::connect(&a.addr).await.expect("connect");
        let mut buf = Vec::new();
        let mut k = 0;
        while k < a.keys {
            let mut out = Vec::new();
            let n = (a.keys - k).min(1000);
            for i in 0..n {
                push_cmd(&mut out, false, k + i, &value);
            }
            s.write_all(&out).await.unwrap();
            read_replies(&mut s, &mut buf, n as usize).await.unwrap();
            k += n;
        }
    }
    let zipf = Arc::new(Zipf::new(a.keys, a.zipf));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let value = Arc::new(value);
    let mut tasks = Vec::new();
    for c in 0..a.conns {
        let (zipf, measuring, stop, value) =
            (zipf.clone(), measuring.clone(), stop.clone(), value.clone());
        let (addr, pipeline, getf) = (a.addr.clone(), a.pipeline, a.get);
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.expect("connect");
            s.set_nodelay(true).unwrap();
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((c as u64 + 1) * 0x1000_0000_01B3));
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let (mut ops, mut errors) = (0u64, 0usize);
            let mut out = Vec::new();
            let mut buf = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                out.clear();
                for _ in 0..pipeline {
                    let get = rng.unit() < getf;
                    push_cmd(&mut out, get, zipf.sample(rng.unit()), &value);
                }
                let m = measuring.load(Ordering::Relaxed);
                let t = Instant::now();
                s.write_all(&out).await.expect("write");
                errors += read_replies(&mut s, &mut buf, pipeline)
                    .await
                    .expect("read");
                let us = t.elapsed().as_micros() as u64;
                if m {
                    ops += pipeline as u64;
                    h.record_n(us.max(1), pipeline as u64).ok();
                }
            }
            (h, ops, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let (mut ops, mut errors) = (0u64, 0usize);
    for t in tasks {
        let (th, o, e) = t.await.unwrap();
        h.add(&th).unwrap();
        ops += o;
        errors += e;
    }
    let ops_s = ops as f64 / elapsed;
    let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
    eprintln!(
        "{} mix get={} zipf={} conns={} P={} value={}B: {:.0} ops/s, p50 {:.3} p99 {:.3} p99.9 {:.3} ms, errors {}",
        a.label, a.get, a.zipf, a.conns, a.pipeline, a.value_size, ops_s, q(0.5), q(0.99), q(0.999), errors
    );
    println!(
        "{{\"label\":\"{}\",\"get\":{},\"zipf\":{},\"conns\":{},\"pipeline\":{},\"value\":{},\"ops_s\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"errors\":{}}}",
        a.label, a.get, a.zipf, a.conns, a.pipeline, a.value_size, ops_s, q(0.5), q(0.99), q(0.999), errors
    );
}
