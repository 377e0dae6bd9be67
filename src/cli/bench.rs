//! `ferrite bench`: a quick get/set load test over gRPC with a live progress bar and a latency
//! summary. Meant for "is this server in the right ballpark", not for publishable numbers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use momento_protos::cache_client::{ECacheResult, GetRequest, SetRequest};
use parking_lot::Mutex;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;

use super::connection::{Client, ConnectArgs};
use super::error::CliError;
use super::output::Output;

/// Latencies are recorded in microseconds up to one minute, three significant digits.
const HIST_MAX_US: u64 = 60_000_000;
/// The largest value Momento (and the server by default) accepts.
const MAX_VALUE_SIZE: u64 = 5 * 1024 * 1024;
/// Each set in flight owns a copy of the value (prost messages own their bytes): clients x
/// value size is bounded so a typo cannot ask for tens of gigabytes.
const MAX_IN_FLIGHT_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// The cache to load.
    #[arg(long, default_value = "default")]
    pub cache: String,
    /// Concurrent requests in flight.
    #[arg(long, short = 'c', default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub clients: u64,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub connections: u64,
    /// Total requests (ignored when --duration is given).
    #[arg(long, short = 'n', default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: u64,
    /// Run for this many seconds instead of a number of requests.
    #[arg(long, short = 'd', value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: Option<u64>,
    /// Bytes per value written by sets.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=MAX_VALUE_SIZE))]
    pub value_size: u64,
    /// Distinct keys (`<key-prefix><0..keys>`), picked uniformly at random.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Percentage of requests that are sets; the rest are gets.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub set_percent: u8,
    /// Prefix of the keys read and written.
    #[arg(long, default_value = "bench:")]
    pub key_prefix: String,
    /// TTL of the items written, in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl: u64,
}

/// What one client task measured.
struct Tally {
    get: Histogram<u64>,
    set: Histogram<u64>,
    hits: u64,
    misses: u64,
    errors: u64,
    first_error: Option<tonic::Status>,
}

impl Tally {
    fn new() -> Self {
        Self {
            get: Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds"),
            set: Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds"),
            hits: 0,
            misses: 0,
            errors: 0,
            first_error: None,
        }
    }

    fn merge(&mut self, other: Tally) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.get.add(&other.get);
        let _ = self.set.add(&other.set);
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// How the run ends: after a number of requests, or at a deadline.
#[derive(Clone, Copy)]
enum Budget {
    Requests(u64),
    Until(Instant),
}

struct Plan {
    budget: Budget,
    issued: AtomicU64,
    done: AtomicU64,
    stop: AtomicBool,
    cache: String,
    prefix: String,
    keys: u64,
    set_percent: u8,
    ttl_ms: u64,
    value: Vec<u8>,
}

impl Plan {
    /// Claim the right to send one more request.
    fn claim(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        match self.budget {
            Budget::Requests(n) => self.issued.fetch_add(1, Ordering::Relaxed) < n,
            Budget::Until(t) => Instant::now() < t,
        }
    }
}

/// Histograms shared by the client tasks. A histogram of this range is ~140 KB, so one per
/// client would cost gigabytes at 10,000 clients; a fixed number of shards bounds it (each lock
/// is held only to record one value, far shorter than the request it measures).
const TALLY_SHARDS: usize = 32;

async fn client_task(client: Client, plan: Arc<Plan>, tally: Arc<Mutex<Tally>>) {
    let mut rng = StdRng::from_entropy();
    let mut scs = client.scs();
    while plan.claim() {
        let key = format!("{}{}", plan.prefix, rng.gen_range(0..plan.keys)).into_bytes();
        let is_set = rng.gen_range(0..100u8) < plan.set_percent;
        let started = Instant::now();
        let result = if is_set {
            let req = SetRequest {
                cache_key: key,
                cache_body: plan.value.clone(),
                ttl_milliseconds: plan.ttl_ms,
            };
            match client.request(req, Some(&plan.cache)) {
                Ok(r) => scs.set(r).await.map(|_| None),
                Err(_) => break, // the cache name was checked before the run started
            }
        } else {
            match client.request(GetRequest { cache_key: key }, Some(&plan.cache)) {
                Ok(r) => scs
                    .get(r)
                    .await
                    .map(|r| Some(r.into_inner().result == ECacheResult::Hit as i32)),
                Err(_) => break,
            }
        };
        let us = u64::try_from(started.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        {
            let mut t = tally.lock();
            match result {
                Ok(None) => t.set.saturating_record(us),
                Ok(Some(hit)) => {
                    t.get.saturating_record(us);
                    if hit {
                        t.hits += 1;
                    } else {
                        t.misses += 1;
                    }
                }
                Err(status) => {
                    t.errors += 1;
                    if t.first_error.is_none() {
                        t.first_error = Some(status);
                    }
                }
            }
        }
        plan.done.fetch_add(1, Ordering::Relaxed);
    }
}

pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    let out = Output {
        json: args.conn.json,
    };
    if args.clients.saturating_mul(args.value_size) > MAX_IN_FLIGHT_BYTES {
        return Err(CliError::Usage(format!(
            "--clients x --value-size must be at most {MAX_IN_FLIGHT_BYTES} bytes (each request in flight holds a copy)"
        )));
    }
    let connections = args.connections.min(args.clients) as usize;
    let clients = Client::connect_many(&args.conn, connections).await?;
    // One request up front so a wrong cache, endpoint or token fails with its own clear error
    // instead of as thousands of counted errors.
    let probe = clients[0].request(
        GetRequest {
            cache_key: format!("{}0", args.key_prefix).into_bytes(),
        },
        Some(&args.cache),
    )?;
    clients[0]
        .scs()
        .get(probe)
        .await
        .map_err(|s| CliError::status(format!("bench against cache '{}'", args.cache), s))?;

    let started = Instant::now();
    let budget = match args.duration {
        Some(secs) => Budget::Until(started + Duration::from_secs(secs)),
        None => Budget::Requests(args.requests),
    };
    let plan = Arc::new(Plan {
        budget,
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        cache: args.cache.clone(),
        prefix: args.key_prefix.clone(),
        keys: args.keys,
        set_percent: args.set_percent,
        ttl_ms: args.ttl.saturating_mul(1000),
        value: (0..args.value_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect(),
    });

    let shards: Vec<_> = (0..TALLY_SHARDS.min(args.clients as usize))
        .map(|_| Arc::new(Mutex::new(Tally::new())))
        .collect();
    let tasks: Vec<_> = (0..args.clients as usize)
        .map(|i| {
            tokio::spawn(client_task(
                clients[i % connections].clone(),
                plan.clone(),
                shards[i % shards.len()].clone(),
            ))
        })
        .collect();

    // The bar draws on stderr and only on a terminal, so piped output stays clean.
    let bar = match budget {
        Budget::Requests(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} requests  {msg}  eta {eta}")
                .expect("valid template"),
        ),
        Budget::Until(_) => ProgressBar::new(args.duration.unwrap_or(1) * 1000).with_style(
            ProgressStyle::with_template("{bar:40} {elapsed}/{duration}  {msg}")
                .expect("valid template"),
        ),
    };
    // Registered now, so Ctrl-C at any point stops the run instead of killing the process.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let ticker = {
        let plan = plan.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = sigint.recv() => {
                        // Stop early: the summary still covers what was done.
                        plan.stop.store(true, Ordering::Relaxed);
                        continue;
                    }
                }
                let done = plan.done.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                match plan.budget {
                    Budget::Requests(_) => bar.set_position(done),
                    Budget::Until(_) => bar.set_position(started.elapsed().as_millis() as u64),
                }
                bar.set_message(format!("{done} ops, {:.0} ops/s", done as f64 / secs));
            }
        })
    };

    for t in tasks {
        t.await
            .map_err(|e| CliError::Internal(format!("a bench task failed: {e}")))?;
    }
    let mut total = Tally::new();
    for shard in &shards {
        total.merge(std::mem::replace(&mut *shard.lock(), Tally::new()));
    }
    let elapsed = started.elapsed();
    ticker.abort();
    bar.finish_and_clear();
    summarize(out, &args, connections, &total, elapsed)?;
    match total.first_error {
        Some(status) => Err(CliError::status(
            format!("{} of the bench requests failed; the first", total.errors),
            status,
        )),
        None => Ok(()),
    }
}

fn percentiles(h: &Histogram<u64>) -> serde_json::Value {
    json!({
        "count": h.len(),
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p99_9": h.value_at_quantile(0.999),
        "max": h.max(),
    })
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn summarize(
    out: Output,
    args: &BenchArgs,
    connections: usize,
    t: &Tally,
    elapsed: Duration,
) -> Result<(), CliError> {
    let mut all = t.get.clone();
    let _ = all.add(&t.set);
    let ok = all.len();
    let requests = ok + t.errors;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ops = ok as f64 / secs;
    if out.json {
        return out.emit(
            json!({
                "requests": requests,
                "gets": t.get.len(),
                "sets": t.set.len(),
                "hits": t.hits,
                "misses": t.misses,
                "errors": t.errors,
                "clients": args.clients,
                "connections": connections,
                "value_size": args.value_size,
                "keys": args.keys,
                "elapsed_secs": secs,
                "ops_per_sec": ops,
                "latency_us": {
                    "all": percentiles(&all),
                    "get": percentiles(&t.get),
                    "set": percentiles(&t.set),
                },
            }),
            String::new,
        );
    }
    let mut lines = vec![
        format!(
            "{requests} requests ({} get, {} set, {} errors) in {secs:.2} s with {} clients on {connections} connections",
            t.get.len(),
            t.set.len(),
            t.errors,
            args.clients
        ),
        format!(
            "value size {} B, {} keys, get hits {} / misses {}",
            args.value_size, args.keys, t.hits, t.misses
        ),
        format!("throughput: {ops:.0} ops/s"),
        format!(
            "latency (ms)  {:>9} {:>9} {:>9} {:>9} {:>9}",
            "p50", "p90", "p99", "p99.9", "max"
        ),
    ];
    for (name, h) in [("all", &all), ("get", &t.get), ("set", &t.set)] {
        if h.is_empty() {
            continue;
        }
        lines.push(format!(
            "  {name:<11} {:>9} {:>9} {:>9} {:>9} {:>9}",
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.90)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            ms(h.max()),
        ));
    }
    out.line(lines.join("\n").as_bytes())
}
