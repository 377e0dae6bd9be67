//! Request metrics: counts and latency histograms per protocol and command family.
//!
//! # Recording (hot path)
//! Front ends call [`record`]`(protocol, family, elapsed)` once per request (a RESP command, a
//! gRPC call, an HTTP request). The cost is one thread-local lookup and three plain stores into
//! cells only the calling thread writes: **no shared atomic read-modify-write per operation**,
//! so worker threads never contend on a cache line. Each thread owns a [`Cells`] shard; the
//! cells are `AtomicU64` only so a scrape on another thread may read them (a relaxed
//! `load` + `store` by the owner compiles to plain moves).
//!
//! # Reading (scrape)
//! [`snapshot`] folds every live thread's shard plus the totals of exited threads (a thread's
//! shard is folded into `retired` when the thread ends, so short-lived threads neither lose
//! counts nor leak shards). A scrape may miss an increment that is being written at that very
//! moment; it shows up in the next scrape. Counters never go backwards.
//!
//! # Scope
//! The registry is process-wide (like a Prometheus client's default registry): two servers in
//! one process (integration tests) share it.
//!
//! # Labels
//! Label sets are closed enums ([`Protocol`] × [`Family`]), so the number of series is bounded
//! at compile time. Per-cache / per-token metering (issue 5) should keep that property: give
//! each cache or token a small interned index (capped, with an `other` overflow slot) and widen
//! the series index with it, rather than using free-form strings as labels.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The protocol a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Resp,
    Grpc,
    Http,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Resp, Protocol::Grpc, Protocol::Http];
    /// The `protocol` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Resp => "resp",
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// What kind of operation a request was (the `family` label). Shared by every protocol so a
/// dashboard can compare, say, string reads over RESP and over gRPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Scalar values: Redis strings, Momento Get/Set/Increment/SetIf*.
    String,
    Hash,
    List,
    Set,
    /// Sorted sets.
    Zset,
    /// Redis streams (XADD, XREAD, ...).
    Stream,
    /// Keyspace commands: DEL, EXPIRE, TTL, SCAN, Momento Delete/KeysExist/UpdateTtl/ItemGet*.
    Keys,
    /// Redis pub/sub commands (SUBSCRIBE, PUBLISH, ...).
    Pubsub,
    /// Server commands (INFO, CONFIG, DBSIZE, FLUSHALL, ...).
    Server,
    /// Connection commands (PING, HELLO, SELECT, CLIENT, AUTH...) and gRPC Ping.
    Connection,
    /// MULTI/EXEC/DISCARD/WATCH.
    Transaction,
    /// Momento topics (Publish/Subscribe) and the HTTP topic routes.
    Topics,
    /// Cache administration: Momento ScsControl, HTTP cache management.
    Control,
    /// Tokens (Momento token.Token).
    Auth,
    /// Anything else (unknown commands, unknown gRPC methods, HTTP routes that match nothing).
    Other,
}

impl Family {
    pub const ALL: [Family; 15] = [
        Family::String,
        Family::Hash,
        Family::List,
        Family::Set,
        Family::Zset,
        Family::Stream,
        Family::Keys,
        Family::Pubsub,
        Family::Server,
        Family::Connection,
        Family::Transaction,
        Family::Topics,
        Family::Control,
        Family::Auth,
        Family::Other,
    ];

    /// The `family` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::String => "string",
            Family::Hash => "hash",
            Family::List => "list",
            Family::Set => "set",
            Family::Zset => "zset",
            Family::Stream => "stream",
            Family::Keys => "keys",
            Family::Pubsub => "pubsub",
            Family::Server => "server",
            Family::Connection => "connection",
            Family::Transaction => "transaction",
            Family::Topics => "topics",
            Family::Control => "control",
            Family::Auth => "auth",
            Family::Other => "other",
        }
    }

    /// The family of a RESP command from its command-table group (`CommandSpec::group`).
    pub fn from_resp_group(group: &str) -> Family {
        match group {
            // HyperLogLogs and bitmaps are strings (Redis's own format): counted with them.
            "string" | "hyperloglog" | "bitmap" => Family::String,
            "hash" => Family::Hash,
            "list" => Family::List,
            "set" => Family::Set,
            // geo sets are sorted sets
            "sortedset" | "zset" | "sorted_set" | "geo" => Family::Zset,
            "stream" => Family::Stream,
            "generic" | "keys" | "keyspace" => Family::Keys,
            "pubsub" => Family::Pubsub,
            // FUNCTION, FCALL: no scripts run yet; counted with the server commands.
            "server" | "scripting" => Family::Server,
            "connection" => Family::Connection,
            "transactions" | "transaction" => Family::Transaction,
            _ => Family::Other,
        }
    }

    /// The family of a gRPC call from its HTTP/2 path (`/package.Service/Method`).
    pub fn from_grpc_path(path: &str) -> Family {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let service = parts.next().unwrap_or("");
        let method = parts.next().unwrap_or("");
        match service {
            "cache_client.Scs" => Self::from_scs_method(method),
            "cache_client.pubsub.Pubsub" => Family::Topics,
            "control_client.ScsControl" => Family::Control,
            "token.Token" => Family::Auth,
            "cache_client.Ping" => Family::Connection,
            _ => Family::Other,
        }
    }

    fn from_scs_method(m: &str) -> Family {
        if m.starts_with("Dictionary") {
            Family::Hash
        } else if m.starts_with("List") {
            Family::List
        } else if m.starts_with("SortedSet") {
            Family::Zset
        } else if m.starts_with("SetIf") || m == "SetBatch" {
            // Scalar writes whose names happen to start with "Set".
            Family::String
        } else if m.starts_with("Set") && m != "Set" {
            Family::Set
        } else {
            match m {
                "Delete" | "KeysExist" | "UpdateTtl" | "ItemGetTtl" | "ItemGetType" => Family::Keys,
                _ => Family::String,
            }
        }
    }
}

const PROTOCOLS: usize = Protocol::ALL.len();
const FAMILIES: usize = Family::ALL.len();
const SERIES: usize = PROTOCOLS * FAMILIES;

/// Histogram upper bounds in seconds: a 1-2-5 log-linear series from 1 µs to 10 s (linear steps
/// inside each decade, decades on a log scale). Cheap to index and readable as `le` labels.
pub const BUCKETS_SECONDS: [f64; 22] = [
    0.000_001, 0.000_002, 0.000_005, 0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_2, 0.000_5,
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];
/// The same bounds in nanoseconds (what `record` compares against).
const BUCKETS_NANOS: [u64; 22] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// Buckets per series: the finite bounds plus +Inf.
pub const BUCKETS: usize = BUCKETS_NANOS.len() + 1;

fn series_index(p: Protocol, f: Family) -> usize {
    p as usize * FAMILIES + f as usize
}

/// One thread's counters: per series a request count, a latency sum and per-bucket counts
/// (non-cumulative; made cumulative when exported).
pub struct Cells {
    count: [AtomicU64; SERIES],
    sum_nanos: [AtomicU64; SERIES],
    buckets: [[AtomicU64; BUCKETS]; SERIES],
}

impl Cells {
    fn new() -> Self {
        Self {
            count: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }

    /// Only the owning thread calls this: load + store is not a race with other writers.
    #[inline]
    fn bump(cell: &AtomicU64, n: u64) {
        cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
    }

    fn add_into(&self, out: &mut Snapshot) {
        for i in 0..SERIES {
            let s = &mut out.series[i];
            s.count += self.count[i].load(Relaxed);
            s.sum_nanos += self.sum_nanos[i].load(Relaxed);
            for (b, cell) in s.buckets.iter_mut().zip(&self.buckets[i]) {
                *b += cell.load(Relaxed);
            }
        }
    }
}

struct Registry {
    live: Vec<Arc<Cells>>,
    /// Totals of threads that have exited.
    retired: Snapshot,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(|| {
        Mutex::new(Registry {
            live: Vec::new(),
            retired: Snapshot::default(),
        })
    })
}

/// A thread's registration: registers its shard on first use, folds it into `retired` when the
/// thread exits.
struct ThreadShard(Arc<Cells>);

impl ThreadShard {
    fn new() -> Self {
        let cells = Arc::new(Cells::new());
        registry().lock().live.push(cells.clone());
        ThreadShard(cells)
    }
}

impl Drop for ThreadShard {
    fn drop(&mut self) {
        let mut r = registry().lock();
        let mut totals = std::mem::take(&mut r.retired);
        self.0.add_into(&mut totals);
        r.retired = totals;
        r.live.retain(|c| !Arc::ptr_eq(c, &self.0));
    }
}

thread_local! {
    static SHARD: ThreadShard = ThreadShard::new();
}

pub use ferrite_service::metering::escape_label_value;

/// Record one request of `family` over `protocol` that took `elapsed`.
#[inline]
pub fn record(protocol: Protocol, family: Family, elapsed: Duration) {
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    let i = series_index(protocol, family);
    let bucket = BUCKETS_NANOS.partition_point(|&b| b < nanos);
    // `try_with`: recording from a thread-local destructor during thread exit is dropped
    // rather than panicking.
    let _ = SHARD.try_with(|s| {
        let c = &s.0;
        Cells::bump(&c.count[i], 1);
        Cells::bump(&c.sum_nanos[i], nanos);
        Cells::bump(&c.buckets[i][bucket], 1);
    });
}

/// Record `n` requests of `family` over `protocol` that took `each` apiece.
#[inline]
pub fn record_n(protocol: Protocol, family: Family, each: Duration, n: u64) {
    if n == 0 {
        return;
    }
    let nanos = u64::try_from(each.as_nanos()).unwrap_or(u64::MAX);
    let i = series_index(protocol, family);
    let bucket = BUCKETS_NANOS.partition_point(|&b| b < nanos);
    let _ = SHARD.try_with(|s| {
        let c = &s.0;
        Cells::bump(&c.count[i], n);
        Cells::bump(&c.sum_nanos[i], nanos.saturating_mul(n));
        Cells::bump(&c.buckets[i][bucket], n);
    });
}

/// Timing of a batch of pipelined requests with one clock read per batch instead of one per
/// request: a clock read (`clock_gettime`) per command was ~4% of the CPU of pipelined GETs.
/// Counts are exact per family; each request of the batch is recorded with the batch's
/// average time (exact for a batch of one, i.e. unpipelined traffic).
pub struct BatchTimer {
    started: Instant,
    counts: [u32; FAMILIES],
    total: u32,
}

impl BatchTimer {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            counts: [0; FAMILIES],
            total: 0,
        }
    }

    #[inline]
    pub fn add(&mut self, family: Family) {
        self.counts[family as usize] += 1;
        self.total += 1;
    }

    /// Record the batch (nothing when it ran no request); returns how long it took (zero,
    /// without reading the clock, when it ran none).
    pub fn finish(self, protocol: Protocol) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let elapsed = self.started.elapsed();
        let each = elapsed / self.total;
        for (i, &n) in self.counts.iter().enumerate() {
            record_n(protocol, Family::ALL[i], each, u64::from(n));
        }
        elapsed
    }
}

/// Totals for one (protocol, family) series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeriesSnapshot {
    pub count: u64,
    pub sum_nanos: u64,
    /// Per-bucket counts (not cumulative), the last one is +Inf.
    pub buckets: [u64; BUCKETS],
}

/// Every series folded over all threads.
#[derive(Clone, Debug)]
pub struct Snapshot {
    series: [SeriesSnapshot; SERIES],
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            series: [SeriesSnapshot::default(); SERIES],
        }
    }
}

impl Snapshot {
    pub fn get(&self, p: Protocol, f: Family) -> &SeriesSnapshot {
        &self.series[series_index(p, f)]
    }

    /// Every (protocol, family) pair with its totals, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (Protocol, Family, &SeriesSnapshot)> {
        Protocol::ALL.into_iter().flat_map(move |p| {
            Family::ALL
                .into_iter()
                .map(move |f| (p, f, &self.series[series_index(p, f)]))
        })
    }

    /// Requests over every protocol and family.
    pub fn total_count(&self) -> u64 {
        self.series.iter().map(|s| s.count).sum()
    }

    /// Latency sum over every protocol and family, in nanoseconds.
    pub fn total_sum_nanos(&self) -> u64 {
        self.series.iter().map(|s| s.sum_nanos).sum()
    }
}

/// Fold every thread's counters (called by the admin endpoint; takes the registry lock, which
/// the hot path never takes).
pub fn snapshot() -> Snapshot {
    let r = registry().lock();
    let mut out = r.retired.clone();
    for c in &r.live {
        c.add_into(&mut out);
    }
    out
}

/// A tower layer that records every gRPC call (count and time until the response headers,
/// i.e. the handler's work for unary calls; for a subscription, until the stream is set up).
#[derive(Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around the gRPC router.
#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let family = Family::from_grpc_path(req.uri().path());
        let start = std::time::Instant::now();
        // The clone is the ready service's stand-in; the ready one serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let r = inner.call(req).await;
            record(Protocol::Grpc, family, start.elapsed());
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_timer_counts_exactly_and_shares_the_time() {
        // gRPC never records `transaction`: the deltas are ours alone.
        let before = *snapshot().get(Protocol::Grpc, Family::Transaction);
        let mut t = BatchTimer::start();
        for _ in 0..3 {
            t.add(Family::Transaction);
        }
        std::thread::sleep(Duration::from_millis(3));
        t.finish(Protocol::Grpc);
        BatchTimer::start().finish(Protocol::Grpc); // an empty batch records nothing
        let after = *snapshot().get(Protocol::Grpc, Family::Transaction);
        assert_eq!(after.count - before.count, 3);
        let added: u64 = after.buckets.iter().sum::<u64>() - before.buckets.iter().sum::<u64>();
        assert_eq!(added, 3);
        // Three equal shares of at least 3 ms.
        let sum = after.sum_nanos - before.sum_nanos;
        assert!(sum >= 3_000_000 && sum.is_multiple_of(3), "{sum}");
    }

    #[test]
    fn buckets_are_ascending_and_match() {
        for (s, n) in BUCKETS_SECONDS.iter().zip(BUCKETS_NANOS) {
            assert_eq!((s * 1e9).round() as u64, n);
        }
        assert!(BUCKETS_NANOS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn grpc_paths_map_to_families() {
        use Family::*;
        for (path, want) in [
            ("/cache_client.Scs/Get", String),
            ("/cache_client.Scs/Set", String),
            ("/cache_client.Scs/SetIfNotExists", String),
            ("/cache_client.Scs/SetBatch", String),
            ("/cache_client.Scs/SetUnion", Set),
            ("/cache_client.Scs/SetFetch", Set),
            ("/cache_client.Scs/DictionaryFetch", Hash),
            ("/cache_client.Scs/ListPushFront", List),
            ("/cache_client.Scs/SortedSetPut", Zset),
            ("/cache_client.Scs/Delete", Keys),
            ("/cache_client.pubsub.Pubsub/Publish", Topics),
            ("/control_client.ScsControl/CreateCache", Control),
            ("/token.Token/GenerateDisposableToken", Auth),
            ("/cache_client.Ping/Ping", Connection),
            ("/nope/x", Other),
        ] {
            assert_eq!(Family::from_grpc_path(path), want, "{path}");
        }
    }

    #[test]
    fn every_resp_command_has_a_family() {
        // A new command-table group must be mapped, not silently counted as `other`.
        for spec in crate::resp::dispatch::table().values() {
            assert_ne!(
                Family::from_resp_group(spec.group),
                Family::Other,
                "{} (group {:?})",
                spec.name,
                spec.group
            );
        }
    }

    #[test]
    fn records_fold_across_threads_and_survive_thread_exit() {
        // Other unit tests don't record under Http/Auth, so the deltas are ours alone.
        let before = *snapshot().get(Protocol::Http, Family::Auth);
        record(Protocol::Http, Family::Auth, Duration::from_micros(3));
        std::thread::spawn(|| {
            record(Protocol::Http, Family::Auth, Duration::from_secs(60));
            record(Protocol::Http, Family::Auth, Duration::from_nanos(10));
        })
        .join()
        .unwrap();
        let after = *snapshot().get(Protocol::Http, Family::Auth);
        assert_eq!(after.count - before.count, 3);
        assert_eq!(
            after.sum_nanos - before.sum_nanos,
            3_000 + 60_000_000_000 + 10
        );
        // 10 ns -> first bucket (<= 1 µs); 3 µs -> the 5 µs bucket; 60 s -> +Inf.
        assert_eq!(after.buckets[0] - before.buckets[0], 1);
        assert_eq!(after.buckets[2] - before.buckets[2], 1);
        assert_eq!(after.buckets[BUCKETS - 1] - before.buckets[BUCKETS - 1], 1);
    }
}
