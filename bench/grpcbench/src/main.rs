//! grpcbench: drive Ferrite's Momento-compatible gRPC API (`cache_client.Scs` Get/Set) with the
//! tonic client from `momento-protos`, over N HTTP/2 connections x M concurrent requests each,
//! either at a fixed offered rate (open loop) or back to back (closed loop), and report ops/s and
//! latency percentiles (hdrhistogram, microsecond resolution).
//!
//! ```text
//! grpcbench [--addr http://127.0.0.1:50051] [--cache bench] [--conns 4] [--concurrency 16]
//!           [--rate 20000 | --rate 0 (closed loop)] [--duration 5] [--warmup 1]
//!           [--op get|set|mix:0.9] [--keys 100000] [--value-size 32] [--no-preload]
//!           [--threads 1] [--token local-dev] [--label TEXT] [--pace-batch-us 0]
//! ```
//!
//! Open loop: a pacer thread schedules requests at the offered rate, round robin over the
//! connections; `concurrency` worker tasks per connection issue them, so at most `concurrency` are in flight per connection. Two latencies are recorded per
//! request: *service* time, from the moment the request is issued, and *response* time, from the
//! moment the schedule meant to issue it. Response time includes queueing when all `concurrency`
//! slots are busy, so a server stall shows up and is not hidden (coordinated omission). It also
//! includes the client's own scheduling delay (the pacer thread sleeps with std::thread::sleep, so
//! tens of µs, more when the client CPU is shared). Response time is the number to hold against
//! a latency goal; service time shows how much of it the server and the network took.
//! `--pace-batch-us N` makes the pacer sleep at least N µs between wake-ups (fewer wake-ups, up to
//! N µs of added response time); 0 = wake for every request.
//! Closed loop: conns x concurrency tasks, each sends its next request as soon as the last one
//! answers; service time = response time.
//!
//! Output: a human summary on stderr and one JSON line on stdout (bench/grpc.sh parses it).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use momento_protos::cache_client::scs_client::ScsClient;
use momento_protos::cache_client::{ECacheResult, GetRequest, SetRequest};
use momento_protos::control_client::scs_control_client::ScsControlClient;
use momento_protos::control_client::CreateCacheRequest;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

#[derive(Clone, Debug)]
struct Args {
    addr: String,
    cache: String,
    conns: usize,
    concurrency: usize,
    rate: u64,
    duration: f64,
    warmup: f64,
    get_fraction: f64,
    keys: u64,
    value_size: usize,
    preload: bool,
    threads: usize,
    token: String,
    label: String,
    pace_batch_us: u64,
}

fn usage() -> ! {
    let doc = include_str!("main.rs").lines().skip(5).take(7);
    let doc: Vec<&str> = doc
        .map(|l| {
            l.strip_prefix("//! ")
                .unwrap_or(l.trim_start_matches("//!"))
        })
        .collect();
    eprintln!("{}", doc.join("\n"));
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "http://127.0.0.1:50051".into(),
        cache: "bench".into(),
        conns: 4,
        concurrency: 16,
        rate: 0,
        duration: 5.0,
        warmup: 1.0,
        get_fraction: 1.0,
        keys: 100_000,
        value_size: 32,
        preload: true,
        threads: 1,
        token: "local-dev".into(),
        label: String::new(),
        pace_batch_us: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--no-preload" {
            a.preload = false;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            usage();
        }
        let Some(v) = it.next() else { usage() };
        fn num<T: FromStr>(v: &str) -> T {
            v.parse().unwrap_or_else(|_| {
                eprintln!("bad number: {v}");
                std::process::exit(2)
            })
        }
        match flag.as_str() {
            "--addr" => a.addr = v,
            "--cache" => a.cache = v,
            "--conns" => a.conns = num(&v),
            "--concurrency" => a.concurrency = num(&v),
            "--rate" => a.rate = num(&v),
            "--duration" => a.duration = num(&v),
            "--warmup" => a.warmup = num(&v),
            "--keys" => a.keys = num(&v),
            "--value-size" => a.value_size = num(&v),
            "--threads" => a.threads = num(&v),
            "--token" => a.token = v,
            "--label" => a.label = v,
            "--pace-batch-us" => a.pace_batch_us = num(&v),
            "--op" => {
                a.get_fraction = match v.as_str() {
                    "get" => 1.0,
                    "set" => 0.0,
                    m if m.starts_with("mix:") => num(&m[4..]),
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    if a.conns == 0 || a.concurrency == 0 || a.keys == 0 || a.threads == 0 {
        usage();
    }
    a
}

/// Per-task results, merged at the end.
struct Stats {
    service: Histogram<u64>,
    response: Histogram<u64>,
    ok: u64,
    misses: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Stats {
    fn new() -> Self {
        Self {
            // 1 µs .. 60 s, 3 significant digits
            service: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
            response: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
            ok: 0,
            misses: 0,
            errors: 0,
            first_error: None,
        }
    }
    fn merge(&mut self, o: &Stats) {
        self.service.add(&o.service).unwrap();
        self.response.add(&o.response).unwrap();
        self.ok += o.ok;
        self.misses += o.misses;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
    }
}

/// A cheap per-task xorshift generator (no `rand` dependency).
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

#[derive(Clone)]
struct Client {
    scs: ScsClient<Channel>,
    cache: MetadataValue<tonic::metadata::Ascii>,
    auth: MetadataValue<tonic::metadata::Ascii>,
    value: Arc<Vec<u8>>,
}

impl Client {
    fn req<T>(&self, body: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(body);
        r.metadata_mut().insert("cache", self.cache.clone());
        r.metadata_mut().insert("authorization", self.auth.clone());
        r
    }

    /// One Get or Set; Ok(hit) or Err(message).
    async fn one(&mut self, get: bool, key: u64) -> Result<bool, String> {
        let cache_key = format!("key:{key}").into_bytes();
        if get {
            let r = self
                .scs
                .get(self.req(GetRequest { cache_key }))
                .await
                .map_err(|s| s.to_string())?;
            Ok(r.into_inner().result == ECacheResult::Hit as i32)
        } else {
            let body = SetRequest {
                cache_key,
                cache_body: self.value.to_vec(),
                ttl_milliseconds: 3_600_000,
            };
            self.scs
                .set(self.req(body))
                .await
                .map_err(|s| s.to_string())?;
            Ok(true)
        }
    }
}

async fn connect(a: &Args) -> Channel {
    Endpoint::from_shared(a.addr.clone())
        .expect("bad --addr")
        .tcp_nodelay(true)
        .initial_connection_window_size(Some(8 * 1024 * 1024))
        .initial_stream_window_size(Some(2 * 1024 * 1024))
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap_or_else(|e| {
            eprintln!("connect {}: {e}", a.addr);
            std::process::exit(1)
        })
}

fn record(
    st: &mut Stats,
    res: Result<bool, String>,
    service_us: u64,
    response_us: u64,
    measuring: bool,
) {
    if !measuring {
        return;
    }
    match res {
        Ok(hit) => {
            st.ok += 1;
            if !hit {
                st.misses += 1;
            }
            st.service.saturating_record(service_us.max(1));
            st.response.saturating_record(response_us.max(1));
        }
        Err(e) => {
            st.errors += 1;
            if st.first_error.is_none() {
                st.first_error = Some(e);
            }
        }
    }
}

async fn run(a: Args) {
    let auth: MetadataValue<_> = a.token.parse().expect("token must be ASCII");
    let cache: MetadataValue<_> = a.cache.parse().expect("cache name must be ASCII");

    // Create the cache (ALREADY_EXISTS is fine).
    let ch0 = connect(&a).await;
    let mut ctl = ScsControlClient::new(ch0.clone());
    let mut req = tonic::Request::new(CreateCacheRequest {
        cache_name: a.cache.clone(),
    });
    req.metadata_mut().insert("authorization", auth.clone());
    match ctl.create_cache(req).await {
        Ok(_) => {}
        Err(s) if s.code() == tonic::Code::AlreadyExists => {}
        // A server without the control plane (e.g. ../shared/bench/grpcfloor's do-nothing
        // server, to measure the floor of the gRPC path with this same client).
        Err(s) if s.code() == tonic::Code::Unimplemented => {}
        Err(s) => {
            eprintln!("CreateCache {}: {s}", a.cache);
            std::process::exit(1)
        }
    }

    let value = Arc::new(vec![b'x'; a.value_size]);
    let mut clients = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        let scs = ScsClient::new(connect(&a).await)
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        clients.push(Client {
            scs,
            cache: cache.clone(),
            auth: auth.clone(),
            value: value.clone(),
        });
    }

    // Preload every key so Gets hit (closed loop over all connections).
    if a.preload && a.get_fraction > 0.0 {
        let t = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let mut hs = Vec::new();
        for i in 0..a.conns * a.concurrency.min(32) {
            let mut c = clients[i % a.conns].clone();
            let next = next.clone();
            let keys = a.keys;
            hs.push(tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= keys {
                        break;
                    }
                    if let Err(e) = c.one(false, k).await {
                        eprintln!("preload: {e}");
                        std::process::exit(1)
                    }
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
        eprintln!(
            "preloaded {} keys in {:.2}s",
            a.keys,
            t.elapsed().as_secs_f64()
        );
    }

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(Mutex::new(Stats::new()));
    let mut handles = Vec::new();
    let start = Instant::now() + Duration::from_millis(20);

    if a.rate == 0 {
        // closed loop
        for i in 0..a.conns * a.concurrency {
            let mut c = clients[i % a.conns].clone();
            let (measuring, stop, total, a) =
                (measuring.clone(), stop.clone(), total.clone(), a.clone());
            handles.push(tokio::spawn(async move {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x1000_0000_01B3));
                let mut st = Stats::new();
                tokio::time::sleep_until(start.into()).await;
                while !stop.load(Ordering::Relaxed) {
                    let get = rng.unit() < a.get_fraction;
                    let key = rng.next() % a.keys;
                    let m = measuring.load(Ordering::Relaxed);
                    let t = Instant::now();
                    let res = c.one(get, key).await;
                    let us = t.elapsed().as_micros() as u64;
                    record(&mut st, res, us, us, m);
                }
                total.lock().unwrap().merge(&st);
            }));
        }
    } else {
        // open loop: one pacer thread (std::thread::sleep is precise to tens of µs, tokio's timer
        // to 1 ms) hands each request's intended start time to its connection's queue, round
        // robin. `concurrency` long-lived worker tasks per connection take intended times from
        // that queue (MPMC) and issue one request each: no task spawn, semaphore or shared lock
        // per request, so the generator's own CPU per request is close to the closed loop's. When
        // every worker of a connection is busy, intended times wait in the queue and that wait
        // counts in response time (no coordinated omission).
        let mut txs = Vec::new();
        for (ci, c) in clients.iter().enumerate() {
            let (tx, rx) = async_channel::unbounded::<Instant>();
            txs.push(tx);
            for w in 0..a.concurrency {
                let mut c = c.clone();
                let rx = rx.clone();
                let (measuring, total, a) = (measuring.clone(), total.clone(), a.clone());
                let seed = 0x2545_F491_4F6C_DD1D
                    ^ (((ci * a.concurrency + w) as u64 + 1) * 0x1000_0000_01B3);
                handles.push(tokio::spawn(async move {
                    let mut rng = Rng(seed);
                    let mut st = Stats::new();
                    while let Ok(intended) = rx.recv().await {
                        let get = rng.unit() < a.get_fraction;
                        let key = rng.next() % a.keys;
                        let m = measuring.load(Ordering::Relaxed);
                        let t = Instant::now();
                        let res = c.one(get, key).await;
                        let done = Instant::now();
                        let service = (done - t).as_micros() as u64;
                        let response = (done - intended).as_micros() as u64;
                        record(&mut st, res, service, response, m);
                    }
                    total.lock().unwrap().merge(&st);
                }));
            }
        }
        let (rate, stop, batch) = (a.rate, stop.clone(), Duration::from_micros(a.pace_batch_us));
        std::thread::spawn(move || {
            let interval = 1.0 / rate as f64;
            let mut n: u64 = 0;
            let mut last_wake = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let intended = start + Duration::from_secs_f64(n as f64 * interval);
                let now = Instant::now();
                if intended > now + Duration::from_micros(20) {
                    // sleep at least `batch` between wake-ups: fewer thread wake-ups per request
                    // (each costs tens of µs of client CPU on a VM), at most `batch` added delay
                    let wake = intended.max(last_wake + batch);
                    std::thread::sleep(wake.saturating_duration_since(now));
                    last_wake = Instant::now();
                    continue;
                }
                if txs[(n % txs.len() as u64) as usize]
                    .send_blocking(intended)
                    .is_err()
                {
                    break;
                }
                n += 1;
            }
            // dropping the senders ends the dispatchers
        });
    }

    tokio::time::sleep_until((start + Duration::from_secs_f64(a.warmup)).into()).await;
    measuring.store(true, Ordering::Relaxed);
    let m0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = m0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }

    let st = total.lock().unwrap();
    let ops = st.ok as f64 / elapsed;
    let p = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0; // ms
    let mode = if a.rate == 0 {
        "closed".to_string()
    } else {
        format!("open@{}", a.rate)
    };
    let op = match a.get_fraction {
        f if f >= 1.0 => "get".to_string(),
        f if f <= 0.0 => "set".to_string(),
        f => format!("mix:{f}"),
    };
    eprintln!(
        "{} {op} {mode} conns={} conc={} value={}B: {:.0} ops/s over {:.2}s, ok={} miss={} err={}\n  \
         service  ms p50 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}\n  \
         response ms p50 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}",
        a.label,
        a.conns,
        a.concurrency,
        a.value_size,
        ops,
        elapsed,
        st.ok,
        st.misses,
        st.errors,
        p(&st.service, 0.5),
        p(&st.service, 0.99),
        p(&st.service, 0.999),
        st.service.max() as f64 / 1000.0,
        p(&st.response, 0.5),
        p(&st.response, 0.99),
        p(&st.response, 0.999),
        st.response.max() as f64 / 1000.0,
    );
    if let Some(e) = &st.first_error {
        eprintln!("  first error: {e}");
    }
    println!(
        "{{\"label\":\"{}\",\"op\":\"{op}\",\"mode\":\"{mode}\",\"offered\":{},\"conns\":{},\"concurrency\":{},\
         \"value_size\":{},\"seconds\":{:.3},\"ok\":{},\"misses\":{},\"errors\":{},\"ops\":{:.1},\
         \"service_ms\":{{\"p50\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}},\
         \"response_ms\":{{\"p50\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}}}}",
        a.label.replace('"', "'"),
        a.rate,
        a.conns,
        a.concurrency,
        a.value_size,
        elapsed,
        st.ok,
        st.misses,
        st.errors,
        ops,
        p(&st.service, 0.5),
        p(&st.service, 0.99),
        p(&st.service, 0.999),
        st.service.max() as f64 / 1000.0,
        p(&st.response, 0.5),
        p(&st.response, 0.99),
        p(&st.response, 0.999),
        st.response.max() as f64 / 1000.0,
    );
}

fn main() {
    let a = parse_args();
    let rt = if a.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.threads)
            .enable_all()
            .build()
    }
    .unwrap();
    rt.block_on(run(a));
}
