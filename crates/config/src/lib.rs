//! Ferrite's configuration: embedded defaults, an optional TOML file,
//! `FERRITE_*` environment variables and command-line flags.
//!
//! # Precedence
//!
//! Each layer overrides the one before it:
//!
//! 1. embedded defaults (below),
//! 2. the TOML file given with `--config FILE` (or `FERRITE_CONFIG=FILE`),
//! 3. `FERRITE_<SECTION>_<KEY>` environment variables,
//! 4. command-line flags of `ferrite serve`.
//!
//! The result is validated before the server starts; `ferrite serve --print-config`
//! prints the effective configuration as TOML and exits.
//!
//! # The TOML file
//!
//! Every key is optional; unknown sections or keys are an error, so typos are caught.
//! Byte sizes (`maxmemory`, the `*_len`, `*_limit` and `*_bytes` keys marked
//! "bytes" below) accept either an integer or a Redis-style string such as
//! `"100mb"`, `"1gb"` or `"512k"` (see [`parse_memory_size`]).
//!
//! ```toml
//! [server]
//! bind = "0.0.0.0"
//! resp_port = 7000
//!
//! [memory]
//! maxmemory = "2gb"
//! eviction = "noeviction"
//!
//! [limits]
//! max_clients = 500
//! ```
//!
//! # Environment variables
//!
//! `FERRITE_<SECTION>_<KEY>` in upper case sets `<section>.<key>`, for example
//! `FERRITE_SERVER_RESP_PORT=7000`, `FERRITE_MEMORY_MAXMEMORY=100mb`,
//! `FERRITE_LIMITS_MAX_CLIENTS=5`. Any other `FERRITE_*` variable is an error that
//! names it, except `FERRITE_CONFIG` (the config file), `FERRITE_LOG`,
//! `FERRITE_ENDPOINT` and `FERRITE_TOKEN`, which the binary reads itself.
//!
//! # Command-line flags (`ferrite serve`)
//!
//! | Flag | Sets |
//! |------|------|
//! | `--config FILE` | the TOML file to load |
//! | `--bind ADDR` | `server.bind` |
//! | `--resp-port PORT` | `server.resp_port` (0 = pick a free port) |
//! | `--grpc-port PORT` | `server.grpc_port` (0 = pick a free port) |
//! | `--http-port PORT` | `server.http_port` (0 = pick a free port) |
//! | `--admin-port PORT` | `server.admin_port` (0 = pick a free port) |
//! | `--protosocket-port PORT` | `server.protosocket_port` and `server.protosocket_enabled = true` (0 = pick a free port) |
//! | `--maxmemory BYTES` | `memory.maxmemory` (`100mb`, `1gb`, `512k`, `12345`) |
//! | `--maxclients N` | `limits.max_clients` |
//! | `--tls-cert FILE` | `tls.cert_file` (PEM certificate chain; needs `--tls-key`) |
//! | `--tls-key FILE` | `tls.key_file` (PEM private key; needs `--tls-cert`) |
//! | `--tls-self-signed` | `tls.self_signed = true` (generate a certificate at start) |
//! | `--log-level FILTER` | log filter (not part of the config; overrides `FERRITE_LOG`) |
//! | `--print-config` | print the effective configuration as TOML and exit |
//!
//! # Keys and defaults
//!
//! | Key | Default | Meaning |
//! |-----|---------|---------|
//! | `server.bind` | `"127.0.0.1"` | IP address every listener binds to |
//! | `server.resp_port` | `6379` | RESP (Redis protocol) port; 0 = pick a free port |
//! | `server.grpc_port` | `8080` | Momento-compatible gRPC port; 0 = pick a free port |
//! | `server.http_port` | `8081` | HTTP API port; 0 = pick a free port |
//! | `server.admin_port` | `9091` | admin / metrics port; 0 = pick a free port |
//! | `server.protosocket_enabled` | `false` | serve Momento's protosocket fast path (the SDK's `ProtosocketCacheClient`: Get, Set, Delete) |
//! | `server.protosocket_port` | `9004` | its port (Momento's); 0 = pick a free port |
//! | `server.shutdown_grace_ms` | `5000` | how long shutdown waits for connections to drain |
//! | `server.tcp_backlog` | `511` | listen backlog of every listener (Redis `tcp-backlog`); the kernel caps it at `net.core.somaxconn` |
//! | `server.test_mode` | `false` | `--test-mode`: honour Momento Local's fault-injection metadata on gRPC (docs/grpc.md "Test mode"); loopback binds only |
//! | `server.worker_threads` | `0` | data-path worker threads; 0 = one per CPU the process may run on. With 1, a current-thread scheduler (cheaper than a one-worker work-stealing pool) |
//! | `memory.maxmemory` | ¼ of RAM | bytes: memory limit for stored data; a quarter of physical RAM (`MemTotal` in `/proc/meminfo`, capped by a cgroup memory limit), or 1 GiB if that cannot be read |
//! | `memory.eviction` | `"allkeys-lru"` | Redis's eight `maxmemory-policy` values: `"allkeys-lru"` (sampled LRU), `"allkeys-lfu"`, `"allkeys-random"`, `"volatile-lru"`, `"volatile-lfu"`, `"volatile-random"`, `"volatile-ttl"` (only keys with a TTL are evicted), `"noeviction"` (writes fail with OOM when full) |
//! | `memory.eviction_samples` | `5` | keys sampled per eviction (1–64), like Redis `maxmemory-samples` |
//! | `memory.shards` | `0` | number of storage shards, a power of two; 0 = auto (next power of two ≥ 4 × CPU cores) |
//! | `limits.max_bulk_len` | `536870912` (512 MiB) | bytes: largest RESP bulk string (`proto-max-bulk-len`) |
//! | `limits.max_multibulk_len` | `1048576` | most elements in one RESP command array |
//! | `limits.query_buffer_limit` | `1073741824` (1 GiB) | bytes: largest unparsed input per client (`client-query-buffer-limit`) |
//! | `limits.resp_input_budget` | `268435456` (256 MiB) | bytes: unparsed RESP input buffered across all connections; past it, connections holding over 64 KiB of a partial command stop reading until it drains |
//! | `limits.max_clients` | `10000` | most simultaneous client connections (`maxclients`) |
//! | `limits.reply_buffer_limit` | `67108864` (64 MiB) | bytes: a client whose pending reply bytes exceed this is disconnected |
//! | `limits.pubsub_reply_buffer_limit` | `33554432` (32 MiB) | bytes: the same for a client in pub/sub mode |
//! | `limits.idle_timeout_secs` | `0` | close clients idle this long; 0 = never |
//! | `topics.replay_max_messages` | `1024` | messages kept per topic for replay |
//! | `topics.replay_max_bytes` | `4194304` (4 MiB) | bytes: payload bytes kept per topic for replay |
//! | `topics.replay_max_age_secs` | `600` | oldest message kept for replay, in seconds |
//! | `topics.max_message_bytes` | `1048576` (1 MiB) | bytes: largest message that can be published |
//! | `topics.max_subscribers_per_topic` | `100000` | most subscribers on one topic |
//! | `topics.max_topics_per_cache` | `100000` | most topics in one cache |
//! | `topics.heartbeat_interval_secs` | `5` | heartbeat interval on idle subscriptions |
//! | `topics.idle_topic_ttl_secs` | `60` | a topic with no subscribers is dropped after this long |
//! | `topics.subscribe_backlog` | `1` | newest retained messages a subscription without a resume point gets first (Momento's "begin with the latest messages"; 0 = live only) |
//! | `expiry.active_expire_interval_ms` | `100` | period of the active expiry cycle |
//! | `expiry.active_expire_budget` | `200` | keys checked per shard per expiry cycle |
//! | `notifications.keyspace_events` | `""` | Redis's `notify-keyspace-events` classes at start (`""` = off; e.g. `KEA`) |
//! | `notifications.queue_capacity` | `65536` | keyspace notifications waiting to be published; more are dropped and counted |
//! | `grpc.max_item_bytes` | `5242880` (5 MiB) | bytes: largest item (key + value) over gRPC |
//! | `grpc.max_element_bytes` | `131072` (128 KiB) | bytes: largest collection element over gRPC |
//! | `grpc.max_ttl_secs` | `86400` | longest TTL a gRPC request may set |
//! | `grpc.max_publish_bytes` | `4096` | bytes: largest topic message published over gRPC |
//! | `grpc.max_concurrent_streams` | `1024` | HTTP/2 streams per connection (at least 100) |
//! | `grpc.max_inflight_request_bytes` | `268435456` (256 MiB) | bytes: request messages being received at once on the gRPC listener (bodies past 64 KiB are counted); past it, their streams wait for room (RESOURCE_EXHAUSTED after 10 s) |
//! | `grpc.handshake_timeout_ms` | `10000` | a gRPC connection must send the HTTP/2 preface and its SETTINGS frame within this long of being accepted (after TLS, if on); else it is closed. On shutdown, connections that never started a call are closed at once |
//! | `http.cors_allowed_origins` | `[]` | origins allowed by CORS (`["*"]` = any); empty = CORS off. Env: comma-separated |
//! | `http.max_body_bytes` | `5242880` (5 MiB) | bytes: largest HTTP request body |
//! | `http.long_poll_max_wait_ms` | `30000` | longest a topic long poll waits before answering with no items |
//! | `http.long_poll_max_items` | `100` | most items and discontinuities in one long-poll answer |
//! | `http.max_subscriptions` | `10000` | most open HTTP subscriptions (SSE streams + waiting long polls); more get 429 |
//! | `http.max_connections` | `10000` | most open HTTP connections; further clients wait in the listen backlog until one closes. At least `http.max_subscriptions` + 1 are allowed, so a subscriber over its cap reaches its 429 |
//! | `http.body_read_timeout_ms` | `30000` | a request body must arrive within this long after its head; else 408 |
//! | `http.max_inflight_body_bytes` | `268435456` (256 MiB) | bytes: request bodies being read or handled at once on the HTTP listener; past it, requests wait for room (503 after `body_read_timeout_ms`) |
//! | `http.header_read_timeout_ms` | `10000` | a request head (request line + headers) must arrive within this long: from the accept for a connection's first request, from the first byte for later ones; else the connection is closed. Also the HTTP API's and the admin port's |
//! | `http.idle_timeout_ms` | `60000` | a keep-alive connection with no request in flight (HTTP/1.1: waiting for the next request's first byte; HTTP/2: no open stream) is closed after this long. HTTP API and admin port |
//! | `admin.enabled` | `true` | serve the admin endpoint (metrics, health, console) on `server.admin_port` |
//! | `admin.max_tail_streams` | `64` | most concurrent console topic tails (SSE streams) on the admin port |
//! | `quotas.cache_ops_per_sec` | `0` | operations per second allowed to each cache; 0 = unlimited (docs/metering.md) |
//! | `quotas.cache_bytes_per_sec` | `0` | bytes: bytes in + out per second for each cache; 0 = unlimited |
//! | `quotas.cache_volume_bytes` | `0` | bytes: bytes in + out per period for each cache; 0 = unlimited |
//! | `quotas.token_ops_per_sec` | `0` | the same three limits for each token id |
//! | `quotas.token_bytes_per_sec` | `0` | bytes: see above |
//! | `quotas.token_volume_bytes` | `0` | bytes: see above |
//! | `quotas.volume_period_secs` | `2592000` (30 days) | length of a data-volume period |
//! | `quotas.caches.NAME.*`, `quotas.tokens.ID.*` | (defaults) | per-cache / per-token overrides of `ops_per_sec`, `bytes_per_sec`, `volume_bytes` (TOML only) |
//! | `metering.max_tracked_keys` | `10000` | distinct (token, cache) pairs metered on their own; the rest add up under `other` |
//! | `metering.retire_interval_secs` | `300` | how often figures of deleted caches are dropped |
//! | `auth.mode` | `"auto"` | `auto` (= `none` while `server.bind` is loopback, else `token`), `none` (development: every client may do everything) or `token` (signed tokens required) |
//! | `auth.token_key_file` | `""` | HMAC key file for tokens; created (random, 0600) on first start if missing; required in `token` mode |
//! | `auth.max_token_ttl_secs` | `90000` (25 h) | longest lifetime GenerateDisposableToken may give a token |
//! | `auth.allow_none_on_public` | `false` | let `auth.mode = "none"` run on a non-loopback bind (otherwise start-up is refused) |
//! | `tls.cert_file` | `""` | PEM certificate chain (leaf first); with `key_file` turns TLS on. `""` = none |
//! | `tls.key_file` | `""` | PEM private key (PKCS#8, PKCS#1 or SEC1) for `cert_file` |
//! | `tls.self_signed` | `false` | generate a self-signed certificate at start (SANs: localhost, 127.0.0.1, ::1, the bind address) |
//! | `tls.self_signed_cert_out` | `"ferrite-selfsigned.pem"` | where the generated certificate's PEM is written for clients to trust; `""` = don't write |
//! | `tls.resp` | `true` | when TLS is on: the RESP listener speaks TLS |
//! | `tls.grpc` | `true` | when TLS is on: the gRPC listener speaks TLS (HTTP/2 over TLS, ALPN `h2`) |
//! | `tls.http` | `true` | when TLS is on: the HTTP listener speaks TLS |
//! | `tls.admin` | `true` | when TLS is on: the admin / metrics listener speaks TLS |
//! | `tls.handshake_timeout_ms` | `10000` | a client that has not finished its TLS handshake by then is disconnected |
//! | `tls.max_pending_handshakes` | `1024` | handshakes in progress per gRPC/HTTP/admin TLS listener; at the cap the oldest pending one is dropped, so new clients are still accepted |
//!
//! TLS is on when `tls.cert_file`/`tls.key_file` or `tls.self_signed` is set; the per-listener
//! switches only matter then. Each TLS listener speaks only TLS (no plaintext on the same port).
//!
//! All integers must be greater than zero except the ports, `shutdown_grace_ms`,
//! `worker_threads`, `shards`, `idle_timeout_secs` and the `quotas.*` limits (0 = unlimited). List keys
//! (`http.cors_allowed_origins`) are TOML arrays in the file and comma-separated in `FERRITE_*`
//! variables.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

mod quotas;
pub use quotas::*;

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Default `server.bind`: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Default `server.resp_port`.
pub const DEFAULT_RESP_PORT: u16 = 6379;
/// Default `server.grpc_port` (Momento gRPC).
pub const DEFAULT_GRPC_PORT: u16 = 8080;
/// Default `server.http_port`.
pub const DEFAULT_HTTP_PORT: u16 = 8081;
/// Default `server.admin_port` (admin and metrics).
pub const DEFAULT_ADMIN_PORT: u16 = 9091;
/// Default `server.protosocket_port`: Momento's own protosocket port.
pub const DEFAULT_PROTOSOCKET_PORT: u16 = 9004;
/// Default `server.shutdown_grace_ms`.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 5000;

/// `memory.maxmemory` when physical RAM cannot be determined: 1 GiB.
/// The real default is [`default_maxmemory`], a quarter of physical RAM.
pub const DEFAULT_MAXMEMORY_FALLBACK: u64 = GIB;
/// Divisor applied to physical RAM for the default `memory.maxmemory`.
pub const DEFAULT_MAXMEMORY_RAM_DIVISOR: u64 = 4;
/// Default `memory.eviction`.
pub const DEFAULT_EVICTION: EvictionPolicy = EvictionPolicy::AllkeysLru;
/// Default `memory.eviction_samples` (Redis `maxmemory-samples`).
pub const DEFAULT_EVICTION_SAMPLES: usize = 5;
/// Largest allowed `memory.eviction_samples` (as in Redis).
pub const MAX_EVICTION_SAMPLES: usize = 64;
/// Default `memory.shards`: 0 = auto, see [`MemoryConfig::effective_shards`].
pub const DEFAULT_SHARDS: usize = 0;
/// Largest allowed explicit `memory.shards`.
pub const MAX_SHARDS: usize = 1 << 16;

/// Default `limits.max_bulk_len`: 512 MiB (Redis `proto-max-bulk-len`).
pub const DEFAULT_MAX_BULK_LEN: u64 = 512 * MIB;
/// Default `limits.max_multibulk_len`: 1048576 elements.
pub const DEFAULT_MAX_MULTIBULK_LEN: u64 = 1024 * 1024;
/// Default `limits.query_buffer_limit`: 1 GiB (Redis `client-query-buffer-limit`).
pub const DEFAULT_QUERY_BUFFER_LIMIT: u64 = GIB;
/// Default `limits.resp_input_budget`: 256 MiB of unparsed RESP input across all connections.
pub const DEFAULT_RESP_INPUT_BUDGET: u64 = 256 * MIB;
/// Default `server.tcp_backlog` (Redis `tcp-backlog`).
pub const DEFAULT_TCP_BACKLOG: u32 = 511;
/// Default `limits.max_clients` (Redis `maxclients`).
pub const DEFAULT_MAX_CLIENTS: usize = 10_000;
/// Default `limits.reply_buffer_limit`: 64 MiB (Redis `client-output-buffer-limit normal`).
pub const DEFAULT_REPLY_BUFFER_LIMIT: u64 = 64 * MIB;
/// Default `limits.pubsub_reply_buffer_limit`: 32 MiB (Redis pubsub class hard limit).
pub const DEFAULT_PUBSUB_REPLY_BUFFER_LIMIT: u64 = 32 * MIB;
/// Default `limits.idle_timeout_secs`: 0 = never close idle clients.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 0;

/// Default `topics.replay_max_messages`.
pub const DEFAULT_REPLAY_MAX_MESSAGES: usize = 1024;
/// Default `topics.replay_max_bytes`: 4 MiB.
pub const DEFAULT_REPLAY_MAX_BYTES: u64 = 4 * MIB;
/// Default `topics.replay_max_age_secs`: 10 minutes.
pub const DEFAULT_REPLAY_MAX_AGE_SECS: u64 = 600;
/// Default `topics.max_message_bytes`: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = MIB;
/// Default `topics.max_subscribers_per_topic`.
pub const DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC: usize = 100_000;
/// Default `topics.max_topics_per_cache`.
pub const DEFAULT_MAX_TOPICS_PER_CACHE: usize = 100_000;
/// Default `topics.heartbeat_interval_secs`.
pub const DEFAULT_HEARTBEAT_INTERVAL_SECS: u64 = 5;
/// Default `topics.idle_topic_ttl_secs`.
pub const DEFAULT_IDLE_TOPIC_TTL_SECS: u64 = 60;
/// Default `topics.subscribe_backlog`.
pub const DEFAULT_SUBSCRIBE_BACKLOG: u64 = 1;

/// Default `expiry.active_expire_interval_ms`.
pub const DEFAULT_ACTIVE_EXPIRE_INTERVAL_MS: u64 = 100;
/// Default `expiry.active_expire_budget`: keys checked per shard per tick.
pub const DEFAULT_ACTIVE_EXPIRE_BUDGET: usize = 200;

/// Default `tls.self_signed_cert_out`: relative to the working directory.
pub const DEFAULT_TLS_SELF_SIGNED_CERT_OUT: &str = "ferrite-selfsigned.pem";
/// Default `tls.handshake_timeout_ms`.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// Default `tls.max_pending_handshakes`.
pub const DEFAULT_TLS_MAX_PENDING_HANDSHAKES: usize = 1024;

/// Prefix of the environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "FERRITE_";
/// `FERRITE_*` variables that are not configuration keys but are read by the
/// binary itself; [`Config::load_from`] ignores them instead of rejecting them.
pub const ENV_ALLOWLIST: &[&str] = &[
    "FERRITE_CONFIG",
    "FERRITE_LOG",
    "FERRITE_ENDPOINT",
    "FERRITE_TOKEN",
];

/// The default `memory.maxmemory`: a quarter of physical RAM (`MemTotal` in
/// `/proc/meminfo`, capped by a cgroup memory limit when one is set), or
/// [`DEFAULT_MAXMEMORY_FALLBACK`] (1 GiB) when that cannot be read.
/// Computed once per process.
pub fn default_maxmemory() -> u64 {
    static CACHED: OnceLock<u64> = OnceLock::new();
    *CACHED.get_or_init(|| match total_memory_bytes() {
        Some(total) if total / DEFAULT_MAXMEMORY_RAM_DIVISOR > 0 => {
            total / DEFAULT_MAXMEMORY_RAM_DIVISOR
        }
        _ => DEFAULT_MAXMEMORY_FALLBACK,
    })
}

/// Physical RAM in bytes, capped by the cgroup (v2 or v1) memory limit if lower.
fn total_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total = parse_meminfo_total(&meminfo)?;
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .filter_map(|s| s.trim().parse::<u64>().ok())
    .filter(|&n| n > 0)
    .min();
    Some(cgroup.map_or(total, |c| c.min(total)))
}

/// Extracts `MemTotal` (reported in kB) from `/proc/meminfo` text, in bytes.
fn parse_meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some(unit) if unit.eq_ignore_ascii_case("kb") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Everything that can go wrong while loading or validating the configuration.
#[derive(thiserror::Error, Debug)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown / mistyped keys.
    #[error("invalid config file {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The parser's message (includes line and column).
        message: String,
    },
    /// A `FERRITE_*` variable that is neither a config key nor allowlisted.
    #[error(
        "unknown environment variable {var}: no such config key (expected FERRITE_<SECTION>_<KEY>, \
         e.g. FERRITE_SERVER_RESP_PORT; sections: server, memory, limits, topics, expiry, grpc, http, admin, quotas, metering, auth, tls, notifications)"
    )]
    UnknownEnv {
        /// The variable's name.
        var: String,
    },
    /// A `FERRITE_*` variable names a key but its value does not fit the key's type.
    #[error("invalid value {value:?} in environment variable {var}: {message}")]
    InvalidEnv {
        /// The variable's name.
        var: String,
        /// Its value.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A command-line flag has an invalid value.
    #[error("invalid value {value:?} for {flag}: {message}")]
    InvalidFlag {
        /// The flag, e.g. `--maxmemory`.
        flag: String,
        /// Its value.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A memory size string such as `100mb` could not be parsed.
    #[error("invalid memory size {input:?}: {reason}")]
    InvalidMemorySize {
        /// The input.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// The effective configuration fails validation.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// The key, e.g. `memory.maxmemory`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------
// Memory sizes
// ---------------------------------------------------------------------------

/// Parses a memory size the way Redis's `memtoll` does, case-insensitively:
/// a non-negative integer optionally followed by a unit, where
/// `b` = 1, `k` = 1000, `kb` = 1024, `m` = 1000², `mb` = 1024², `g` = 1000³,
/// `gb` = 1024³. Surrounding whitespace is ignored.
///
/// `"100mb"` → 104857600, `"1gb"` → 1073741824, `"512k"` → 512000, `"12345"` → 12345.
pub fn parse_memory_size(s: &str) -> Result<u64, ConfigError> {
    let err = |reason: &str| ConfigError::InvalidMemorySize {
        input: s.to_string(),
        reason: reason.to_string(),
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(err(
            "expected a number of bytes optionally followed by a unit (b, k, kb, m, mb, g, gb)",
        ));
    }
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => KIB,
        "m" => 1000 * 1000,
        "mb" => MIB,
        "g" => 1000 * 1000 * 1000,
        "gb" => GIB,
        _ => return Err(err("unknown unit (expected b, k, kb, m, mb, g or gb)")),
    };
    let n: u64 = digits.parse().map_err(|_| err("number too large"))?;
    n.checked_mul(mul).ok_or_else(|| err("number too large"))
}

/// Serde helper: a byte count given as an integer or as a string like `"100mb"`.
mod byte_size {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte count: an integer or a string like \"100mb\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
                u64::try_from(v).map_err(|_| E::custom("a byte count cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
                super::parse_memory_size(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }

    /// The same for an optional key (override tables): present = `Some`.
    pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        deserialize(d).map(Some)
    }
}

// ---------------------------------------------------------------------------
// Config types
// ---------------------------------------------------------------------------

/// What happens when `memory.maxmemory` is reached: Redis's `maxmemory-policy` values, with
/// Redis's meaning (the engine's `ferrite_storage::EvictionPolicy` implements them).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionPolicy {
    /// Sampled LRU among keys with a TTL (`"volatile-lru"`).
    VolatileLru,
    /// Sampled LFU among keys with a TTL (`"volatile-lfu"`).
    VolatileLfu,
    /// A random key with a TTL (`"volatile-random"`).
    VolatileRandom,
    /// Among sampled keys with a TTL, the one expiring soonest (`"volatile-ttl"`).
    VolatileTtl,
    /// Evict the least recently used key among a sample of
    /// `memory.eviction_samples` keys (`"allkeys-lru"`, like Redis).
    #[default]
    AllkeysLru,
    /// Sampled LFU over all keys (`"allkeys-lfu"`).
    AllkeysLfu,
    /// A random key (`"allkeys-random"`).
    AllkeysRandom,
    /// Never evict; writes that need memory fail with an OOM error (`"noeviction"`).
    Noeviction,
}

impl EvictionPolicy {
    pub const ALL: [Self; 8] = [
        Self::VolatileLru,
        Self::VolatileLfu,
        Self::VolatileRandom,
        Self::VolatileTtl,
        Self::AllkeysLru,
        Self::AllkeysLfu,
        Self::AllkeysRandom,
        Self::Noeviction,
    ];

    /// The name used in config files, e.g. `"allkeys-lru"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VolatileLru => "volatile-lru",
            Self::VolatileLfu => "volatile-lfu",
            Self::VolatileRandom => "volatile-random",
            Self::VolatileTtl => "volatile-ttl",
            Self::AllkeysLru => "allkeys-lru",
            Self::AllkeysLfu => "allkeys-lfu",
            Self::AllkeysRandom => "allkeys-random",
            Self::Noeviction => "noeviction",
        }
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EvictionPolicy {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|p| p.as_str()).collect();
                invalid(
                    "memory.eviction",
                    format!(
                        "unknown policy {s:?} (expected one of {})",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// The whole configuration. See the crate documentation for every key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: listeners.
    pub server: ServerConfig,
    /// `[memory]`: memory limit and eviction.
    pub memory: MemoryConfig,
    /// `[limits]`: protocol and per-client limits.
    pub limits: LimitsConfig,
    /// `[topics]`: pub/sub topics.
    pub topics: TopicsConfig,
    /// `[expiry]`: active expiry of keys with a TTL.
    pub expiry: ExpiryConfig,
    /// `[grpc]`: limits of the Momento-compatible gRPC API (Momento's own by default).
    pub grpc: GrpcConfig,
    /// `[http]`: the HTTP API (CORS, body limit, long poll).
    pub http: HttpConfig,
    /// `[admin]`: the admin endpoint (metrics, health, stats, web console).
    pub admin: AdminConfig,
    /// `[quotas]`: per-cache and per-token rate limits and data-volume quotas (quotas.rs).
    pub quotas: QuotasConfig,
    /// `[metering]`: per-tenant usage metering (quotas.rs).
    pub metering: MeteringConfig,
    /// `[auth]`: tokens and permissions (docs/auth.md).
    pub auth: AuthConfig,
    /// `[tls]`: TLS on the listeners (off by default).
    pub tls: TlsConfig,
    /// `[notifications]`: Redis keyspace notifications from the engine's change feed.
    pub notifications: NotificationsConfig,
}

/// Default `notifications.queue_capacity`.
pub const DEFAULT_NOTIFY_QUEUE_CAPACITY: usize = 65_536;
/// The class letters `notifications.keyspace_events` (and `CONFIG SET notify-keyspace-events`)
/// accept: Redis 7's.
pub const KEYSPACE_EVENT_CLASSES: &str = "KEg$lshzxetmndA";

/// `[notifications]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Redis's `notify-keyspace-events` at start ("" = none); CONFIG SET changes it at run time.
    pub keyspace_events: String,
    /// Notifications waiting to be published at once; past it they are dropped and counted.
    pub queue_capacity: usize,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            keyspace_events: String::new(),
            queue_capacity: DEFAULT_NOTIFY_QUEUE_CAPACITY,
        }
    }
}

/// `[server]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// IP address every listener binds to.
    pub bind: String,
    /// RESP port; 0 = pick a free port.
    pub resp_port: u16,
    /// Momento gRPC port; 0 = pick a free port.
    pub grpc_port: u16,
    /// HTTP port; 0 = pick a free port.
    pub http_port: u16,
    /// Admin / metrics port; 0 = pick a free port.
    pub admin_port: u16,
    /// Serve Momento's protosocket fast path (`ProtosocketCacheClient`) on `protosocket_port`.
    pub protosocket_enabled: bool,
    /// Protosocket port (when enabled); 0 = pick a free port.
    pub protosocket_port: u16,
    /// How long shutdown waits for connections to drain, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// Data-path worker threads; 0 = one per CPU in the process's affinity mask.
    pub worker_threads: usize,
    /// Listen backlog of every listener (Redis `tcp-backlog`).
    pub tcp_backlog: u32,
    /// Momento Local's fault injection on gRPC (`--test-mode`): calls carrying its metadata
    /// fail or wait as asked. For testing clients only; refused on a non-loopback bind.
    pub test_mode: bool,
}

impl ServerConfig {
    /// Worker threads to run: `worker_threads`, or one per CPU this process may run on (its
    /// affinity mask, so `taskset -c 0 ferrite` gives 1).
    pub fn effective_worker_threads(&self) -> usize {
        match self.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: DEFAULT_BIND.to_string(),
            resp_port: DEFAULT_RESP_PORT,
            grpc_port: DEFAULT_GRPC_PORT,
            http_port: DEFAULT_HTTP_PORT,
            admin_port: DEFAULT_ADMIN_PORT,
            protosocket_enabled: false,
            protosocket_port: DEFAULT_PROTOSOCKET_PORT,
            shutdown_grace_ms: DEFAULT_SHUTDOWN_GRACE_MS,
            worker_threads: 0,
            tcp_backlog: DEFAULT_TCP_BACKLOG,
            test_mode: false,
        }
    }
}

/// `[memory]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Memory limit for stored data, in bytes.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub maxmemory: u64,
    /// What to do when the limit is reached.
    pub eviction: EvictionPolicy,
    /// Keys sampled per eviction (1..=64).
    pub eviction_samples: usize,
    /// Number of storage shards (a power of two); 0 = auto.
    pub shards: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            maxmemory: default_maxmemory(),
            eviction: DEFAULT_EVICTION,
            eviction_samples: DEFAULT_EVICTION_SAMPLES,
            shards: DEFAULT_SHARDS,
        }
    }
}

impl MemoryConfig {
    /// The shard count to use: `shards` if set, otherwise the next power of two
    /// that is at least 4 × the number of CPU cores.
    pub fn effective_shards(&self) -> usize {
        if self.shards > 0 {
            self.shards
        } else {
            (4 * cpu_count()).next_power_of_two().min(MAX_SHARDS)
        }
    }
}

/// `[limits]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest RESP bulk string, in bytes.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_bulk_len: u64,
    /// Most elements in one RESP command array.
    pub max_multibulk_len: u64,
    /// Largest unparsed input buffered per client, in bytes.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub query_buffer_limit: u64,
    /// Unparsed RESP input buffered across all connections, in bytes.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub resp_input_budget: u64,
    /// Most simultaneous client connections.
    pub max_clients: usize,
    /// A client whose pending reply bytes exceed this is disconnected.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub reply_buffer_limit: u64,
    /// The same for a client in pub/sub mode.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub pubsub_reply_buffer_limit: u64,
    /// Close clients idle this many seconds; 0 = never.
    pub idle_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_multibulk_len: DEFAULT_MAX_MULTIBULK_LEN,
            query_buffer_limit: DEFAULT_QUERY_BUFFER_LIMIT,
            resp_input_budget: DEFAULT_RESP_INPUT_BUDGET,
            max_clients: DEFAULT_MAX_CLIENTS,
            reply_buffer_limit: DEFAULT_REPLY_BUFFER_LIMIT,
            pubsub_reply_buffer_limit: DEFAULT_PUBSUB_REPLY_BUFFER_LIMIT,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
        }
    }
}

/// `[topics]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Messages kept per topic for replay.
    pub replay_max_messages: usize,
    /// Payload bytes kept per topic for replay.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub replay_max_bytes: u64,
    /// Oldest message kept for replay, in seconds.
    pub replay_max_age_secs: u64,
    /// Largest message that can be published, in bytes.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_message_bytes: u64,
    /// Most subscribers on one topic.
    pub max_subscribers_per_topic: usize,
    /// Most topics in one cache.
    pub max_topics_per_cache: usize,
    /// Heartbeat interval on idle subscriptions, in seconds.
    pub heartbeat_interval_secs: u64,
    /// A topic with no subscribers is dropped after this many seconds.
    pub idle_topic_ttl_secs: u64,
    /// Newest retained messages a subscription without a resume point gets first (0: live only).
    pub subscribe_backlog: u64,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            replay_max_messages: DEFAULT_REPLAY_MAX_MESSAGES,
            replay_max_bytes: DEFAULT_REPLAY_MAX_BYTES,
            replay_max_age_secs: DEFAULT_REPLAY_MAX_AGE_SECS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_subscribers_per_topic: DEFAULT_MAX_SUBSCRIBERS_PER_TOPIC,
            max_topics_per_cache: DEFAULT_MAX_TOPICS_PER_CACHE,
            heartbeat_interval_secs: DEFAULT_HEARTBEAT_INTERVAL_SECS,
            idle_topic_ttl_secs: DEFAULT_IDLE_TOPIC_TTL_SECS,
            subscribe_backlog: DEFAULT_SUBSCRIBE_BACKLOG,
        }
    }
}

/// `[expiry]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ExpiryConfig {
    /// Period of the active expiry cycle, in milliseconds.
    pub active_expire_interval_ms: u64,
    /// Keys checked per shard per cycle.
    pub active_expire_budget: usize,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        ExpiryConfig {
            active_expire_interval_ms: DEFAULT_ACTIVE_EXPIRE_INTERVAL_MS,
            active_expire_budget: DEFAULT_ACTIVE_EXPIRE_BUDGET,
        }
    }
}

/// Largest item (key + value) the gRPC API accepts: Momento's 5 MB.
pub const DEFAULT_GRPC_MAX_ITEM_BYTES: u64 = 5 * 1024 * 1024;
/// Largest collection element the gRPC API accepts: Momento's 128 KB.
pub const DEFAULT_GRPC_MAX_ELEMENT_BYTES: u64 = 128 * 1024;
/// Longest TTL the gRPC API accepts: Momento's 24 hours.
pub const DEFAULT_GRPC_MAX_TTL_SECS: u64 = 24 * 60 * 60;
/// Largest topic message the gRPC API accepts: Momento's 4 KiB.
pub const DEFAULT_GRPC_MAX_PUBLISH_BYTES: u64 = 4 * 1024;
/// HTTP/2 concurrent streams per connection (the SDKs need at least 100).
pub const DEFAULT_GRPC_MAX_CONCURRENT_STREAMS: u32 = 1024;
/// Request bytes being received at once on the gRPC listener.
pub const DEFAULT_GRPC_MAX_INFLIGHT_REQUEST_BYTES: u64 = 256 * MIB;
/// Longest a gRPC connection may take to send the HTTP/2 preface and SETTINGS (a real client
/// sends them at once on connecting), as `tls.handshake_timeout_ms` bounds the TLS handshake.
pub const DEFAULT_GRPC_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// `[grpc]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    /// Largest item, key included (bytes).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_item_bytes: u64,
    /// Largest collection element (bytes).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_element_bytes: u64,
    /// Longest TTL a request may ask for, in seconds.
    pub max_ttl_secs: u64,
    /// Largest topic message published over gRPC (bytes).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_publish_bytes: u64,
    /// HTTP/2 concurrent streams per connection.
    pub max_concurrent_streams: u32,
    /// Request message bytes being received at once, across the listener.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_inflight_request_bytes: u64,
    /// Longest a connection may take to send the HTTP/2 preface and SETTINGS, in milliseconds.
    pub handshake_timeout_ms: u64,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            max_item_bytes: DEFAULT_GRPC_MAX_ITEM_BYTES,
            max_element_bytes: DEFAULT_GRPC_MAX_ELEMENT_BYTES,
            max_ttl_secs: DEFAULT_GRPC_MAX_TTL_SECS,
            max_publish_bytes: DEFAULT_GRPC_MAX_PUBLISH_BYTES,
            max_concurrent_streams: DEFAULT_GRPC_MAX_CONCURRENT_STREAMS,
            max_inflight_request_bytes: DEFAULT_GRPC_MAX_INFLIGHT_REQUEST_BYTES,
            handshake_timeout_ms: DEFAULT_GRPC_HANDSHAKE_TIMEOUT_MS,
        }
    }
}

/// Largest HTTP request body: Momento's 5 MB item limit (the item limit itself is `grpc.max_item_bytes`).
pub const DEFAULT_HTTP_MAX_BODY_BYTES: u64 = 5 * MIB;
/// Longest a topic long poll waits for a message before answering with no items.
pub const DEFAULT_HTTP_LONG_POLL_MAX_WAIT_MS: u64 = 30_000;
/// Most items (and discontinuities) returned by one long poll.
pub const DEFAULT_HTTP_LONG_POLL_MAX_ITEMS: usize = 100;
/// Most HTTP subscriptions (SSE streams and waiting long polls) open at once.
pub const DEFAULT_HTTP_MAX_SUBSCRIPTIONS: usize = 10_000;
/// Most HTTP connections open at once.
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 10_000;
/// Longest a request body may take to arrive after its head.
pub const DEFAULT_HTTP_BODY_READ_TIMEOUT_MS: u64 = 30_000;
/// Request body bytes being read or handled at once on the HTTP listener.
pub const DEFAULT_HTTP_MAX_INFLIGHT_BODY_BYTES: u64 = 256 * MIB;
/// Longest a request head may take to arrive (nginx's `client_header_timeout` is 60 s, Go
/// servers commonly set 5-10 s): long enough for any real client on a slow link, short enough
/// that connections dribbling a head do not hold connection slots for long.
pub const DEFAULT_HTTP_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Longest a keep-alive connection may sit with no request in flight (nginx's
/// `keepalive_timeout` is 75 s): browsers and pooled clients reuse connections within that.
pub const DEFAULT_HTTP_IDLE_TIMEOUT_MS: u64 = 60_000;

/// `[http]` section. The item size, TTL and publish limits are `[grpc]`'s: both APIs enforce the
/// same Momento rules.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins allowed by CORS: exact origins such as `https://app.example.com`, or `"*"` for any.
    /// Empty (the default) = no CORS headers, so browsers only allow same-origin use.
    pub cors_allowed_origins: Vec<String>,
    /// Largest request body (bytes); larger bodies get 413.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_body_bytes: u64,
    /// Longest a topic long poll waits before answering with no items, in milliseconds.
    pub long_poll_max_wait_ms: u64,
    /// Most items and discontinuities in one long-poll answer.
    pub long_poll_max_items: usize,
    /// Most HTTP subscriptions (SSE streams + waiting long polls) open at once; more get 429.
    pub max_subscriptions: usize,
    /// Most open HTTP connections; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Longest a request body may take to arrive after its head, in milliseconds.
    pub body_read_timeout_ms: u64,
    /// Request body bytes being read or handled at once.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub max_inflight_body_bytes: u64,
    /// Longest a request head may take to arrive, in milliseconds (HTTP API and admin port).
    pub header_read_timeout_ms: u64,
    /// Longest a connection may sit with no request in flight, in milliseconds.
    pub idle_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cors_allowed_origins: Vec::new(),
            max_body_bytes: DEFAULT_HTTP_MAX_BODY_BYTES,
            long_poll_max_wait_ms: DEFAULT_HTTP_LONG_POLL_MAX_WAIT_MS,
            long_poll_max_items: DEFAULT_HTTP_LONG_POLL_MAX_ITEMS,
            max_subscriptions: DEFAULT_HTTP_MAX_SUBSCRIPTIONS,
            max_connections: DEFAULT_HTTP_MAX_CONNECTIONS,
            body_read_timeout_ms: DEFAULT_HTTP_BODY_READ_TIMEOUT_MS,
            max_inflight_body_bytes: DEFAULT_HTTP_MAX_INFLIGHT_BODY_BYTES,
            header_read_timeout_ms: DEFAULT_HTTP_HEADER_READ_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_HTTP_IDLE_TIMEOUT_MS,
        }
    }
}

/// `[tls]` section. Paths are strings (`""` = not set) so that `FERRITE_TLS_*` variables can
/// set them like any other key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: String,
    /// PEM private key for `cert_file`.
    pub key_file: String,
    /// Generate a self-signed certificate at start instead of reading files.
    pub self_signed: bool,
    /// Where the generated certificate's PEM is written; `""` = don't write it.
    pub self_signed_cert_out: String,
    /// Whether the RESP listener uses TLS (when TLS is on).
    pub resp: bool,
    /// Whether the gRPC listener uses TLS (when TLS is on).
    pub grpc: bool,
    /// Whether the HTTP listener uses TLS (when TLS is on).
    pub http: bool,
    /// Whether the admin / metrics listener uses TLS (when TLS is on).
    pub admin: bool,
    /// Longest time a client may take to finish its TLS handshake, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// Handshakes in progress per listener; at the cap the oldest pending one is dropped.
    pub max_pending_handshakes: usize,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: String::new(),
            key_file: String::new(),
            self_signed: false,
            self_signed_cert_out: DEFAULT_TLS_SELF_SIGNED_CERT_OUT.to_string(),
            resp: true,
            grpc: true,
            http: true,
            admin: true,
            handshake_timeout_ms: DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
            max_pending_handshakes: DEFAULT_TLS_MAX_PENDING_HANDSHAKES,
        }
    }
}

/// `auth.mode`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// `none` on a loopback bind, `token` otherwise (like Redis's protected mode).
    #[default]
    Auto,
    /// Development: no credentials needed, everything allowed.
    None,
    /// Signed tokens required on every protocol.
    Token,
}

impl FromStr for AuthMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(AuthMode::Auto),
            "none" => Ok(AuthMode::None),
            "token" => Ok(AuthMode::Token),
            other => Err(format!(
                "unknown auth mode {other:?} (expected auto, none or token)"
            )),
        }
    }
}

impl HttpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("http.max_body_bytes", self.max_body_bytes)?;
        positive("http.long_poll_max_wait_ms", self.long_poll_max_wait_ms)?;
        positive("http.long_poll_max_items", self.long_poll_max_items as u64)?;
        positive("http.max_subscriptions", self.max_subscriptions as u64)?;
        positive("http.max_connections", self.max_connections as u64)?;
        positive("http.body_read_timeout_ms", self.body_read_timeout_ms)?;
        positive("http.max_inflight_body_bytes", self.max_inflight_body_bytes)?;
        // No "0 = off": a listener without these bounds is what slowloris needs.
        positive("http.header_read_timeout_ms", self.header_read_timeout_ms)?;
        positive("http.idle_timeout_ms", self.idle_timeout_ms)?;
        let origins = &self.cors_allowed_origins;
        if origins.iter().any(|o| o == "*") && origins.len() > 1 {
            return Err(invalid(
                "http.cors_allowed_origins",
                "\"*\" allows every origin and cannot be combined with others",
            ));
        }
        for o in origins {
            let ok = o == "*"
                || ((o.starts_with("http://") || o.starts_with("https://"))
                    && !o.ends_with('/')
                    && o.bytes().all(|b| b.is_ascii_graphic()));
            if !ok {
                return Err(invalid(
                    "http.cors_allowed_origins",
                    format!(
                        "{o:?} is not an origin (scheme://host[:port], no path or trailing slash) or \"*\""
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A listener that can speak TLS, for [`TlsConfig::on_for`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The RESP (Redis protocol) listener.
    Resp,
    /// The Momento-compatible gRPC listener.
    Grpc,
    /// The HTTP API listener.
    Http,
    /// The admin / metrics listener.
    Admin,
}

impl TlsConfig {
    /// Whether TLS is configured at all (certificate files or a self-signed certificate).
    pub fn enabled(&self) -> bool {
        self.self_signed || !self.cert_file.is_empty() || !self.key_file.is_empty()
    }

    /// Whether `listener` speaks TLS.
    pub fn on_for(&self, listener: Listener) -> bool {
        self.enabled()
            && match listener {
                Listener::Resp => self.resp,
                Listener::Grpc => self.grpc,
                Listener::Http => self.http,
                Listener::Admin => self.admin,
            }
    }

    /// Both files or neither, not together with `self_signed`, and the files readable: a
    /// mistake here is reported at start-up, not at the first client's handshake.
    fn validate(&self) -> Result<(), ConfigError> {
        let (cert, key) = (self.cert_file.trim(), self.key_file.trim());
        if self.self_signed && (!cert.is_empty() || !key.is_empty()) {
            return Err(invalid(
                "tls.self_signed",
                "cannot be combined with tls.cert_file / tls.key_file: use either your own \
                 certificate or a generated one",
            ));
        }
        match (cert.is_empty(), key.is_empty()) {
            (false, true) => {
                return Err(invalid(
                    "tls.key_file",
                    "tls.cert_file is set but tls.key_file is not: both are needed (--tls-cert \
                     FILE --tls-key FILE)",
                ))
            }
            (true, false) => {
                return Err(invalid(
                    "tls.cert_file",
                    "tls.key_file is set but tls.cert_file is not: both are needed (--tls-cert \
                     FILE --tls-key FILE)",
                ))
            }
            _ => {}
        }
        for (key_name, path) in [("tls.cert_file", cert), ("tls.key_file", key)] {
            if path.is_empty() {
                continue;
            }
            if let Err(e) = std::fs::File::open(path) {
                return Err(invalid(key_name, format!("cannot read {path:?}: {e}")));
            }
        }
        positive("tls.handshake_timeout_ms", self.handshake_timeout_ms)?;
        positive(
            "tls.max_pending_handshakes",
            self.max_pending_handshakes as u64,
        )?;
        if self.handshake_timeout_ms > i64::MAX as u64 {
            return Err(invalid("tls.handshake_timeout_ms", "is too large"));
        }
        Ok(())
    }
}

/// Default `admin.max_tail_streams`.
pub const DEFAULT_ADMIN_MAX_TAIL_STREAMS: u32 = 64;

/// `[admin]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve the admin endpoint on `server.admin_port`.
    pub enabled: bool,
    /// Most concurrent console topic tails (SSE streams).
    pub max_tail_streams: u32,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            max_tail_streams: DEFAULT_ADMIN_MAX_TAIL_STREAMS,
        }
    }
}

/// Default `auth.max_token_ttl_secs`: Momento's documented maximum of 25 hours.
pub const DEFAULT_AUTH_MAX_TOKEN_TTL_SECS: u64 = 25 * 60 * 60;

/// `[auth]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// HMAC key file (hex); created on first start if missing. Empty = none configured.
    pub token_key_file: String,
    /// Longest lifetime of a token minted by GenerateDisposableToken.
    pub max_token_ttl_secs: u64,
    /// Allow `mode = "none"` on a non-loopback bind.
    pub allow_none_on_public: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Auto,
            token_key_file: String::new(),
            max_token_ttl_secs: DEFAULT_AUTH_MAX_TOKEN_TTL_SECS,
            allow_none_on_public: false,
        }
    }
}

impl Config {
    /// The auth mode the server runs in: `Auto` resolved against `server.bind`. Errors (refusing
    /// to start) when a non-loopback bind would run without auth, or token mode has no key file.
    pub fn effective_auth_mode(&self) -> Result<AuthMode, ConfigError> {
        let public = !self.is_loopback_only();
        let mode = match self.auth.mode {
            AuthMode::Auto if public => AuthMode::Token,
            AuthMode::Auto => AuthMode::None,
            m => m,
        };
        if self.server.test_mode && public {
            return Err(invalid(
                "server.test_mode",
                format!(
                    "refusing to serve {} in test mode: fault injection is for tests on a loopback bind",
                    self.server.bind
                ),
            ));
        }
        if mode == AuthMode::None && public && !self.auth.allow_none_on_public {
            return Err(invalid(
                "auth.mode",
                format!(
                    "refusing to serve {} without authentication: use --auth token --token-key FILE, \
                     or set auth.allow_none_on_public = true if this network is trusted",
                    self.server.bind
                ),
            ));
        }
        if mode == AuthMode::Token && self.auth.token_key_file.trim().is_empty() {
            return Err(invalid(
                "auth.token_key_file",
                if public && self.auth.mode == AuthMode::Auto {
                    format!(
                        "server.bind {} is not loopback, so tokens are required: pass --token-key FILE \
                         (created on first start if missing)",
                        self.server.bind
                    )
                } else {
                    "token mode needs a key file: pass --token-key FILE (created on first start if missing)"
                        .to_string()
                },
            ));
        }
        Ok(mode)
    }
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

/// Flags of `ferrite serve` (also used when `ferrite` runs with no subcommand).
/// Embed in the binary's own clap types with `#[command(flatten)]` or as a
/// subcommand variant `Serve(ServeArgs)`.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", env = "FERRITE_CONFIG")]
    pub config: Option<PathBuf>,
    /// IP address to bind every listener to (server.bind).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// RESP port; 0 = pick a free port (server.resp_port).
    #[arg(long, value_name = "PORT")]
    pub resp_port: Option<u16>,
    /// Momento gRPC port; 0 = pick a free port (server.grpc_port).
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,
    /// HTTP port; 0 = pick a free port (server.http_port).
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// Admin / metrics port; 0 = pick a free port (server.admin_port).
    #[arg(long, value_name = "PORT")]
    pub admin_port: Option<u16>,
    /// Serve Momento's protosocket fast path on this port; 0 = pick a free port
    /// (server.protosocket_port, and server.protosocket_enabled = true).
    #[arg(long, value_name = "PORT")]
    pub protosocket_port: Option<u16>,
    /// Memory limit: bytes or a size like 100mb, 1gb, 512k (memory.maxmemory).
    #[arg(long, value_name = "BYTES", value_parser = check_memory_flag)]
    pub maxmemory: Option<String>,
    /// Most simultaneous clients (limits.max_clients).
    #[arg(long, value_name = "N")]
    pub maxclients: Option<usize>,
    /// Authentication: auto, none or token (auth.mode).
    #[arg(long = "auth", value_name = "MODE", value_parser = check_auth_flag)]
    pub auth_mode: Option<String>,
    /// Token signing key file, created on first start if missing (auth.token_key_file).
    #[arg(long = "token-key", value_name = "FILE")]
    pub token_key: Option<PathBuf>,
    /// PEM certificate chain for TLS on every listener (tls.cert_file; needs --tls-key).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert (tls.key_file).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// TLS with a certificate generated at start; its PEM is written to
    /// tls.self_signed_cert_out for clients to trust (tls.self_signed).
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Honour Momento Local's fault-injection metadata on gRPC calls (return-error, delay-ms,
    /// stream-error, ...) so retry logic can be tested (server.test_mode; loopback only).
    #[arg(long)]
    pub test_mode: bool,
    /// Log filter, e.g. info or ferrite=debug (overrides FERRITE_LOG; not part of the config).
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
}

fn check_auth_flag(s: &str) -> Result<String, String> {
    s.parse::<AuthMode>().map(|_| s.to_string())
}

fn check_memory_flag(s: &str) -> Result<String, ConfigError> {
    parse_memory_size(s).map(|_| s.to_string())
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

impl Config {
    /// Builds the effective configuration: defaults < file (`args.config`) <
    /// `FERRITE_*` environment variables < flags, then [`validate`](Self::validate)s it.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let env = std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            k.starts_with(ENV_PREFIX)
                .then(|| (k, v.to_string_lossy().into_owned()))
        });
        Self::load_from(args, env)
    }

    /// Like [`load`](Self::load) but reads the environment from `env` (for tests).
    /// Variables without the `FERRITE_` prefix are ignored.
    pub fn load_from(
        args: &ServeArgs,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = match &args.config {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.apply_args(args)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a TOML file over the defaults (keys it omits keep their defaults).
    /// Does not validate.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// Parses TOML text over the defaults. Does not validate.
    pub fn from_toml_str(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Applies `FERRITE_<SECTION>_<KEY>` variables. Each value is read as the
    /// type of the key it sets; byte-size keys also accept `100mb` and the like.
    fn apply_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_ALLOWLIST.contains(&k.as_str()))
            .collect();
        if vars.is_empty() {
            return Ok(());
        }
        vars.sort();
        let mut table = match toml::Value::try_from(&*self) {
            Ok(toml::Value::Table(t)) => t,
            Ok(_) => unreachable!("Config serializes to a table"),
            Err(e) => {
                return Err(invalid(
                    "config",
                    format!("cannot convert to TOML (is a size above 2^63?): {e}"),
                ))
            }
        };
        for (var, value) in vars {
            let unknown = || ConfigError::UnknownEnv { var: var.clone() };
            let name = var[ENV_PREFIX.len()..].to_ascii_lowercase();
            let (section, key) = name.split_once('_').ok_or_else(unknown)?;
            let slot = table
                .get_mut(section)
                .and_then(|s| s.as_table_mut())
                .and_then(|s| s.get_mut(key))
                .ok_or_else(unknown)?;
            let bad = |message: String| ConfigError::InvalidEnv {
                var: var.clone(),
                value: value.clone(),
                message,
            };
            let raw = value.trim();
            *slot = match slot {
                toml::Value::Integer(_) => match raw.parse::<i64>() {
                    Ok(n) => toml::Value::Integer(n),
                    // Byte sizes accept "100mb"; other keys reject the string below.
                    Err(_) => toml::Value::String(raw.to_string()),
                },
                toml::Value::Boolean(_) => match raw.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
                    "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
                    _ => return Err(bad("expected true or false".into())),
                },
                toml::Value::String(_) => toml::Value::String(value.clone()),
                // Lists of strings: comma-separated, blanks dropped ("" = empty list).
                toml::Value::Array(_) => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_string()))
                        .collect(),
                ),
                _ => return Err(unknown()),
            };
            // Check each variable as it is applied so the error names it.
            *self = toml::Value::Table(table.clone())
                .try_into()
                .map_err(|e: toml::de::Error| bad(e.message().trim().to_string()))?;
        }
        Ok(())
    }

    /// Applies command-line flags.
    fn apply_args(&mut self, args: &ServeArgs) -> Result<(), ConfigError> {
        if let Some(bind) = &args.bind {
            self.server.bind = bind.clone();
        }
        if let Some(p) = args.resp_port {
            self.server.resp_port = p;
        }
        if let Some(p) = args.grpc_port {
            self.server.grpc_port = p;
        }
        if let Some(p) = args.http_port {
            self.server.http_port = p;
        }
        if let Some(p) = args.admin_port {
            self.server.admin_port = p;
        }
        if let Some(p) = args.protosocket_port {
            self.server.protosocket_port = p;
            self.server.protosocket_enabled = true;
        }
        if let Some(m) = &args.maxmemory {
            self.memory.maxmemory = parse_memory_size(m).map_err(|e| ConfigError::InvalidFlag {
                flag: "--maxmemory".into(),
                value: m.clone(),
                message: match e {
                    ConfigError::InvalidMemorySize { reason, .. } => reason,
                    other => other.to_string(),
                },
            })?;
        }
        if let Some(n) = args.maxclients {
            self.limits.max_clients = n;
        }
        if let Some(m) = &args.auth_mode {
            self.auth.mode = m.parse().map_err(|message| ConfigError::InvalidFlag {
                flag: "--auth".into(),
                value: m.clone(),
                message,
            })?;
        }
        if let Some(k) = &args.token_key {
            self.auth.token_key_file = k.display().to_string();
        }
        if let Some(p) = &args.tls_cert {
            self.tls.cert_file = p.to_string_lossy().into_owned();
        }
        if let Some(p) = &args.tls_key {
            self.tls.key_file = p.to_string_lossy().into_owned();
        }
        if args.tls_self_signed {
            self.tls.self_signed = true;
        }
        if args.test_mode {
            self.server.test_mode = true;
        }
        Ok(())
    }

    /// Checks the configuration; the error names the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if s.bind.trim().parse::<IpAddr>().is_err() {
            return Err(invalid(
                "server.bind",
                format!(
                    "{:?} is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)",
                    s.bind
                ),
            ));
        }
        let ports = [
            ("server.resp_port", s.resp_port),
            ("server.grpc_port", s.grpc_port),
            ("server.http_port", s.http_port),
            ("server.admin_port", s.admin_port),
        ];
        let mut seen: HashMap<u16, &str> = HashMap::new();
        for (key, port) in ports {
            if port == 0 {
                continue;
            }
            if let Some(other) = seen.insert(port, key) {
                return Err(invalid(key, format!("port {port} is also used by {other}")));
            }
        }

        let m = &self.memory;
        positive("memory.maxmemory", m.maxmemory)?;
        if !(1..=MAX_EVICTION_SAMPLES).contains(&m.eviction_samples) {
            return Err(invalid(
                "memory.eviction_samples",
                format!("must be between 1 and {MAX_EVICTION_SAMPLES}"),
            ));
        }
        if m.shards != 0 && (!m.shards.is_power_of_two() || m.shards > MAX_SHARDS) {
            return Err(invalid(
                "memory.shards",
                format!("must be 0 (auto) or a power of two up to {MAX_SHARDS}"),
            ));
        }

        let l = &self.limits;
        positive("limits.max_bulk_len", l.max_bulk_len)?;
        positive("limits.max_multibulk_len", l.max_multibulk_len)?;
        positive("limits.query_buffer_limit", l.query_buffer_limit)?;
        positive("limits.resp_input_budget", l.resp_input_budget)?;
        positive("server.tcp_backlog", u64::from(s.tcp_backlog))?;
        positive("limits.max_clients", l.max_clients as u64)?;
        positive("limits.reply_buffer_limit", l.reply_buffer_limit)?;
        positive(
            "limits.pubsub_reply_buffer_limit",
            l.pubsub_reply_buffer_limit,
        )?;

        let t = &self.topics;
        positive("topics.replay_max_messages", t.replay_max_messages as u64)?;
        positive("topics.replay_max_bytes", t.replay_max_bytes)?;
        positive("topics.replay_max_age_secs", t.replay_max_age_secs)?;
        positive("topics.max_message_bytes", t.max_message_bytes)?;
        positive(
            "topics.max_subscribers_per_topic",
            t.max_subscribers_per_topic as u64,
        )?;
        positive("topics.max_topics_per_cache", t.max_topics_per_cache as u64)?;
        positive("topics.heartbeat_interval_secs", t.heartbeat_interval_secs)?;
        positive("topics.idle_topic_ttl_secs", t.idle_topic_ttl_secs)?;

        let n = &self.notifications;
        positive("notifications.queue_capacity", n.queue_capacity as u64)?;
        if let Some(c) = n
            .keyspace_events
            .chars()
            .find(|c| !KEYSPACE_EVENT_CLASSES.contains(*c))
        {
            return Err(invalid(
                "notifications.keyspace_events",
                format!("{c:?} is not a keyspace event class (one of {KEYSPACE_EVENT_CLASSES})"),
            ));
        }

        let g = &self.grpc;
        positive("grpc.max_item_bytes", g.max_item_bytes)?;
        positive("grpc.max_element_bytes", g.max_element_bytes)?;
        positive("grpc.max_ttl_secs", g.max_ttl_secs)?;
        positive("grpc.max_publish_bytes", g.max_publish_bytes)?;
        positive(
            "grpc.max_inflight_request_bytes",
            g.max_inflight_request_bytes,
        )?;
        positive("grpc.handshake_timeout_ms", g.handshake_timeout_ms)?;
        if g.max_concurrent_streams < 100 {
            return Err(invalid(
                "grpc.max_concurrent_streams",
                "must be at least 100 (the Momento SDKs open that many streams)".to_string(),
            ));
        }

        self.http.validate()?;
        positive("admin.max_tail_streams", self.admin.max_tail_streams as u64)?;
        positive("auth.max_token_ttl_secs", self.auth.max_token_ttl_secs)?;

        let e = &self.expiry;
        positive(
            "expiry.active_expire_interval_ms",
            e.active_expire_interval_ms,
        )?;
        positive("expiry.active_expire_budget", e.active_expire_budget as u64)?;
        self.quotas.validate()?;
        self.metering.validate()?;

        self.tls.validate()?;

        // TOML integers are signed 64-bit; keep every value printable.
        let big = [
            ("server.shutdown_grace_ms", s.shutdown_grace_ms),
            ("server.worker_threads", s.worker_threads as u64),
            ("memory.maxmemory", m.maxmemory),
            ("limits.max_bulk_len", l.max_bulk_len),
            ("limits.max_multibulk_len", l.max_multibulk_len),
            ("limits.query_buffer_limit", l.query_buffer_limit),
            ("limits.resp_input_budget", l.resp_input_budget),
            ("limits.reply_buffer_limit", l.reply_buffer_limit),
            (
                "limits.pubsub_reply_buffer_limit",
                l.pubsub_reply_buffer_limit,
            ),
            ("limits.idle_timeout_secs", l.idle_timeout_secs),
            ("topics.replay_max_bytes", t.replay_max_bytes),
            ("topics.replay_max_age_secs", t.replay_max_age_secs),
            ("topics.max_message_bytes", t.max_message_bytes),
            ("topics.heartbeat_interval_secs", t.heartbeat_interval_secs),
            ("topics.idle_topic_ttl_secs", t.idle_topic_ttl_secs),
            ("topics.subscribe_backlog", t.subscribe_backlog),
            ("http.max_body_bytes", self.http.max_body_bytes),
            ("http.body_read_timeout_ms", self.http.body_read_timeout_ms),
            (
                "http.header_read_timeout_ms",
                self.http.header_read_timeout_ms,
            ),
            ("http.idle_timeout_ms", self.http.idle_timeout_ms),
            ("grpc.handshake_timeout_ms", g.handshake_timeout_ms),
            (
                "http.max_inflight_body_bytes",
                self.http.max_inflight_body_bytes,
            ),
            (
                "http.long_poll_max_wait_ms",
                self.http.long_poll_max_wait_ms,
            ),
            ("auth.max_token_ttl_secs", self.auth.max_token_ttl_secs),
            (
                "expiry.active_expire_interval_ms",
                e.active_expire_interval_ms,
            ),
        ];
        for (key, v) in big {
            if v > i64::MAX as u64 {
                return Err(invalid(key, format!("{v} is too large (max {})", i64::MAX)));
            }
        }
        Ok(())
    }

    /// The configuration as TOML, one `[section]` per group (what `--print-config` prints).
    /// Parsing the output with [`from_toml_str`](Self::from_toml_str) gives back `self`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# cannot print configuration: {e}\n"))
    }

    /// Whether `server.bind` is a loopback address (127.0.0.0/8 or ::1), i.e.
    /// the server is reachable only from this machine.
    pub fn is_loopback_only(&self) -> bool {
        self.server
            .bind
            .trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    }
}

fn positive(key: &str, v: u64) -> Result<(), ConfigError> {
    if v == 0 {
        Err(invalid(key, "must be greater than 0"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
