//! psbench: drive Ferrite's protosocket port with the official `momento` SDK's
//! `ProtosocketCacheClient`, closed loop: `concurrency` tasks each send their next request as soon
//! as the last one answered, over `connections` pooled connections (the SDK's configuration, 15 s timeout),
//! for `duration` seconds after `warmup`; report ops/s and latency percentiles.
//!
//! ```text
//! psbench [--addr 127.0.0.1:9004] [--cache default] [--concurrency 64] [--duration 5]
//!         [--warmup 1] [--op get|set] [--keys 100000] [--value-size 32] [--threads 1]
//!         [--connections 4]
//! ```
//! Output: a human line on stderr and one JSON line on stdout (bench/protosocket.sh parses it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use momento::cache::GetResponse;
use momento::protosocket::cache::{Configuration, ProtosocketCacheClient};
use momento::CredentialProvider;

/// base64 of `{"endpoint":"localhost","api_key":"local-dev"}`.
const TOKEN: &str = "eyJlbmRwb2ludCI6ImxvY2FsaG9zdCIsImFwaV9rZXkiOiJsb2NhbC1kZXYifQ==";

struct Args {
    addr: String,
    cache: String,
    concurrency: usize,
    duration: f64,
    warmup: f64,
    get: bool,
    keys: u64,
    value_size: usize,
    threads: usize,
    connections: u32,
}

fn args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:9004".into(),
        cache: "default".into(),
        concurrency: 64,
        duration: 5.0,
        warmup: 1.0,
        get: true,
        keys: 100_000,
        value_size: 32,
        threads: 1,
        connections: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let v = it.next().expect("every flag takes a value");
        match f.as_str() {
            "--addr" => a.addr = v,
            "--cache" => a.cache = v,
            "--concurrency" => a.concurrency = v.parse().unwrap(),
            "--duration" => a.duration = v.parse().unwrap(),
            "--warmup" => a.warmup = v.parse().unwrap(),
            "--op" => a.get = v == "get",
            "--keys" => a.keys = v.parse().unwrap(),
            "--value-size" => a.value_size = v.parse().unwrap(),
            "--threads" => a.threads = v.parse().unwrap(),
            "--connections" => a.connections = v.parse().unwrap(),
            _ => panic!("unknown flag {f}"),
        }
    }
    a
}

fn key(i: u64) -> String {
    format!("key:{i:08}")
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let creds = CredentialProvider::from_disposable_token(TOKEN)
        .unwrap()
        .insecure_endpoint_override(&a.addr);
    let client = ProtosocketCacheClient::builder()
        .default_ttl(Duration::from_secs(3600))
        .configuration(
            Configuration::builder()
                .timeout(Duration::from_secs(15))
                .connection_count(a.connections)
                .az_id(None),
        )
        .credential_provider(creds)
        .runtime(tokio::runtime::Handle::current())
        .build()
        .await
        .expect("client builds");
    let value = vec![b'x'; a.value_size];
    // Preload every key (64 at a time).
    let mut i = 0;
    while i < a.keys {
        let end = (i + 64).min(a.keys);
        let mut set = tokio::task::JoinSet::new();
        for k in i..end {
            let c = client.clone();
            let (cache, v) = (a.cache.clone(), value.clone());
            set.spawn(async move { c.set(cache, key(k), v).await.expect("preload set") });
        }
        while set.join_next().await.is_some() {}
        i = end;
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..a.concurrency {
        let c = client.clone();
        let (cache, value) = (a.cache.clone(), value.clone());
        let (measuring, stop, errors) = (measuring.clone(), stop.clone(), errors.clone());
        let (keys, get) = (a.keys, a.get);
        tasks.spawn(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            let mut k = (t as u64).wrapping_mul(7919) % keys;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                k = (k + 104_729) % keys;
                let started = Instant::now();
                let ok = if get {
                    matches!(c.get(cache.as_str(), key(k)).await, Ok(GetResponse::Hit { .. }))
                } else {
                    c.set(cache.as_str(), key(k), value.clone()).await.is_ok()
                };
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        let _ = h.record(started.elapsed().as_micros() as u64);
                        n += 1;
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (h, n)
        });
    }
    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut n = 0;
    while let Some(r) = tasks.join_next().await {
        let (th, tn) = r.unwrap();
        h.add(th).unwrap();
        n += tn;
    }
    let op = if a.get { "get" } else { "set" };
    let ops = n as f64 / elapsed;
    let (p50, p99, p999) = (
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
    );
    eprintln!(
        "protosocket {op} concurrency={}: {ops:.0} ops/s over {elapsed:.2}s, ok={n} err={}, p50 {p50} µs p99 {p99} µs p99.9 {p999} µs",
        a.concurrency,
        errors.load(Ordering::Relaxed)
    );
    println!(
        "{{\"op\":\"{op}\",\"concurrency\":{},\"ops_per_sec\":{ops:.1},\"ok\":{n},\"errors\":{},\"p50_us\":{p50},\"p99_us\":{p99},\"p999_us\":{p999}}}",
        a.concurrency,
        errors.load(Ordering::Relaxed)
    );
}
