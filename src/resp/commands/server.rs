//! Server and connection-admin commands: PING, ECHO, TIME, INFO, CONFIG, COMMAND, CLIENT,
//! SHUTDOWN, LASTSAVE, SAVE/BGSAVE, DEBUG, LOLWUT, ROLE.
//!
//! Deadlock rule: inside EXEC (`ctx.exec` is Some) this thread already holds every shard lock
//! of `ctx.cache`, so nothing here may lock the current cache's shards directly (no
//! `store.stats()`, `cache.len()`, `cache.stats()`): the current cache is visited through
//! `ctx.for_each_shard`, and only OTHER caches are locked directly.

use super::command_docs::Node;
use crate::resp::redis_params::RedisParams;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Cache, ShardStats};

use crate::admin::registry::{self, Section};
use crate::admin::stats::ServerSnapshot;
use crate::resp::args::*;
use crate::resp::client::ClientInfo;
use crate::resp::dispatch::{cmd, flags::*, ks::*, table, CommandSpec, Ctx, NO_KEYS};

const G: &str = "server";
const C: &str = "connection";

pub const COMMANDS: &[CommandSpec] = &[
    cmd("ping", -1, FAST | PUBSUB_OK, NO_KEYS, C, ping),
    cmd("echo", 2, FAST, NO_KEYS, C, echo),
    cmd("time", 1, FAST, NO_KEYS, G, time),
    cmd("info", -1, SUPER, NO_KEYS, G, info),
    cmd("config", -2, ADMIN, NO_KEYS, G, config),
    cmd("command", -1, 0, NO_KEYS, G, command),
    cmd("client", -2, ARG_ACCESS, NO_KEYS, C, client),
    cmd("shutdown", -1, ADMIN | NO_MULTI, NO_KEYS, G, shutdown),
    cmd("lastsave", 1, FAST, NO_KEYS, G, lastsave),
    cmd("save", 1, ADMIN | NO_MULTI, NO_KEYS, G, no_persistence),
    cmd("bgsave", -1, ADMIN, NO_KEYS, G, no_persistence),
    cmd("bgrewriteaof", 1, ADMIN, NO_KEYS, G, no_persistence),
    cmd("debug", -2, ADMIN, NO_KEYS, G, debug),
    cmd("lolwut", -1, READONLY | FAST, NO_KEYS, G, lolwut),
    cmd("role", 1, FAST, NO_KEYS, G, role),
];

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

pub(crate) fn unknown_subcommand(w: &mut ReplyWriter<'_>, cmd: &str, sub: &[u8]) {
    let sub: String = String::from_utf8_lossy(sub).chars().take(128).collect();
    w.error(&format!("ERR unknown subcommand '{sub}'. Try {cmd} HELP."));
}

pub(crate) fn subcommand_arity(w: &mut ReplyWriter<'_>, full: &str) {
    w.error(&format!(
        "ERR wrong number of arguments for '{full}' command"
    ));
}

/// A subcommand's arity check, Redis style (N exact, -N at least N, counting the command name).
pub(crate) fn arity_ok(args: &[Bytes], arity: i32) -> bool {
    if arity >= 0 {
        args.len() == arity as usize
    } else {
        args.len() >= (-arity) as usize
    }
}

pub(crate) fn help(w: &mut ReplyWriter<'_>, lines: &[&str]) {
    w.array(lines.len() + 2);
    for l in lines {
        w.simple(l);
    }
    w.simple("HELP");
    // Redis 7.0's addReplyHelp wording.
    w.simple("    Prints this help.");
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Redis's bytesToHuman: `123B`, `1.50K`, `2.00M`, ...
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (div, unit) in UNITS {
        if n >= div {
            return format!("{:.2}{}", n as f64 / div as f64, unit);
        }
    }
    format!("{n}B")
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Resident set size in bytes (Linux `/proc/self/statm`, pages of 4 KiB), 0 if unknown.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn os_string() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let name = read("/proc/sys/kernel/ostype").unwrap_or_else(|| std::env::consts::OS.to_string());
    match read("/proc/sys/kernel/osrelease") {
        Some(rel) => format!("{name} {rel} {}", std::env::consts::ARCH),
        None => format!("{name} {}", std::env::consts::ARCH),
    }
}

/// Keyspace statistics summed over every cache, without locking the current cache's shards
/// directly (see the module note).
fn keyspace_stats(ctx: &mut Ctx<'_, '_>) -> ShardStats {
    let mut t = ShardStats::default();
    let mut add = |s: &ShardStats| {
        t.hits += s.hits;
        t.misses += s.misses;
        t.expired += s.expired;
        t.evicted += s.evicted;
    };
    if ctx.exec.is_none() {
        // No lock held: the store's own sum also counts deleted caches.
        let s = ctx.shared.store.stats();
        add(&s);
        return t;
    }
    for c in ctx.shared.store.caches() {
        if !Arc::ptr_eq(&c, ctx.cache) {
            add(&c.stats());
        }
    }
    ctx.for_each_shard(|s, _| add(&s.stats));
    t
}

// ---------------------------------------------------------------------------
// PING, ECHO, TIME, LASTSAVE, ROLE, LOLWUT, SAVE
// ---------------------------------------------------------------------------

fn ping(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() > 2 {
        w.error("ERR wrong number of arguments for 'ping' command");
        return;
    }
    let subscribed = ctx.client.subscriptions.load(Ordering::Relaxed)
        + ctx.client.psubscriptions.load(Ordering::Relaxed)
        > 0;
    if subscribed && !ctx.resp3 {
        w.array(2);
        w.bulk(b"pong");
        w.bulk(args.get(1).map(|a| &a[..]).unwrap_or(b""));
    } else if let Some(a) = args.get(1) {
        w.bulk(a);
    } else {
        w.simple("PONG");
    }
}

fn echo(_: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    w.bulk(&args[1]);
}

fn time(_: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    let now = unix_now();
    w.array(2);
    w.bulk(now.as_secs().to_string().as_bytes());
    w.bulk(now.subsec_micros().to_string().as_bytes());
}

fn lastsave(ctx: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    // Nothing is ever saved: report the start of the server, like a fresh Redis.
    w.int((ctx.shared.started_ms / 1000) as i64);
}

fn no_persistence(_: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    w.error("ERR Ferrite does not persist data");
}

fn role(_: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    w.array(3);
    w.bulk(b"master");
    w.int(0);
    w.array(0);
}

fn lolwut(_: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    let text = format!(
        "Ferrite ver. {} (Redis ver. {})\n",
        env!("CARGO_PKG_VERSION"),
        crate::REDIS_COMPAT_VERSION
    );
    w.verbatim("txt", &text);
}

/// DEBUG: the subcommands test suites use that are cheap to honour; the ones that inspect or
/// crash Redis's internals answer that Ferrite does not have them.
fn debug(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let lower = String::from_utf8_lossy(sub).to_ascii_lowercase();
    let arity = |n: usize, w: &mut ReplyWriter<'_>| {
        if args.len() != n {
            subcommand_arity(w, &format!("debug|{lower}"));
            false
        } else {
            true
        }
    };
    match lower.as_str() {
        "help" => help(
            w,
            &[
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANGE-REPL-ID",
                "    Accepted (Ferrite has no replication id to change yet).",
                "ERROR <string>",
                "    Return a Redis protocol error with <string> as message.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hash signature of the values of all the specified keys.",
                "OBJECT <key>",
                "    Show low level info about the <key> and associated value.",
                "PAUSE-CRON <0|1>",
                "    Stop periodic cron job processing.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "QUICKLIST-PACKED-THRESHOLD <size>",
                "    Validated and accepted (Ferrite's list elements are allocated one by one).",
                "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
                "    Accepted: Ferrite keeps the dataset in memory, so it is unchanged.",
                "SET-DISABLE-DENY-SCRIPTS <0|1>",
                "    Enable scripts to call the table commands Redis denies them (DEBUG among",
                "    them); connection commands stay denied.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        ),
        "sleep" => {
            if !arity(3, w) {
                return;
            }
            let Some(secs) = float_or_err(w, &args[2]) else {
                return;
            };
            if secs > 0.0 && secs.is_finite() {
                // Redis blocks the whole server; we block this connection's worker thread.
                std::thread::sleep(Duration::from_secs_f64(secs));
            }
            w.ok();
        }
        // DEBUG PAUSE-CRON <0|1> and SET-ACTIVE-EXPIRE <0|1>: a switch of the background ticks.
        "pause-cron" | "set-active-expire" => {
            if !arity(3, w) {
                return;
            }
            let on = crate::resp::args::parse_i64(&args[2]).unwrap_or(0) != 0;
            let s = &ctx.shared.introspection.settings;
            let flag = if eq_ic(sub, "pause-cron") {
                &s.cron_paused
            } else {
                &s.active_expire
            };
            flag.store(on, std::sync::atomic::Ordering::Relaxed);
            w.ok();
        }
        "error" => {
            if !arity(3, w) {
                return;
            }
            w.error(&lossy(&args[2]).replace(['\r', '\n'], " "));
        }
        "log" => {
            if !arity(3, w) {
                return;
            }
            tracing::warn!(message = %lossy(&args[2]), "DEBUG LOG");
            w.ok();
        }
        "reload" | "change-repl-id" => w.ok(),
        "quicklist-packed-threshold" => {
            // Redis's size past which a list element gets a node of its own. Ferrite's lists
            // keep each element in its own allocation already: validated as Redis does, then
            // accepted, so suites that set it run.
            if arity(3, w) {
                match ferrite_config::parse_memory_size(&lossy(&args[2])) {
                    Ok(n) if n <= (1u64 << 32) - (1 << 20) => w.ok(),
                    _ => w.error(
                        "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                    ),
                }
            }
        }
        "digest-value" => {
            // Keys as stored (an unreaped expired key too, as Redis's dictFind finds it).
            w.array(args.len() - 2);
            for key in &args[2..] {
                let d = ctx.with_key(key, |s, _| {
                    s.peek(key, 0)
                        .map(|e| super::digest::value_digest(&e.value, e.expires_at != 0))
                });
                w.simple(&super::digest::hex(&d.unwrap_or([0; 20])));
            }
        }
        "protocol" => {
            if arity(3, w) {
                debug_protocol(&args[2], w);
            }
        }
        "set-disable-deny-scripts" => {
            if arity(3, w) {
                // atoi, as Redis reads it.
                let on = crate::resp::args::parse_i64(&args[2]).unwrap_or(0) != 0;
                ctx.shared
                    .scripts
                    .deny_disabled
                    .store(on, std::sync::atomic::Ordering::Relaxed);
                w.ok();
            }
        }
        "object" => {
            if !arity(3, w) {
                return;
            }
            debug_object(ctx, &args[2], w);
        }
        // Redis's subcommands that inspect, corrupt or crash its own internals.
        "segfault"
        | "panic"
        | "restart"
        | "crash-and-recover"
        | "assert"
        | "oom"
        | "leak"
        | "loadaof"
        | "drop-cluster-packet-filter"
        | "sdslen"
        | "ziplist"
        | "listpack"
        | "listpack-entries"
        | "quicklist"
        | "stringmatch-len"
        | "replybuffer"
        | "jmap"
        | "digest"
        | "set-skip-checksum-validation"
        | "aof-flush-sleep"
        | "replicate"
        | "script"
        | "mallctl"
        | "mallctl-str"
        | "htstats"
        | "htstats-key"
        | "client-eviction"
        | "dict-resizing"
        | "config-rewrite-force-all" => w.error(&format!(
            "ERR DEBUG {} is not supported by Ferrite (see DEBUG HELP)",
            lossy(sub).to_ascii_uppercase()
        )),
        _ => unknown_subcommand(w, "DEBUG", sub),
    }
}

/// DEBUG PROTOCOL <type>: one reply of each RESP3 type, Redis's values (its tests check how
/// clients and scripts convert them), downgraded for RESP2 as every reply is.
fn debug_protocol(name: &[u8], w: &mut ReplyWriter<'_>) {
    match String::from_utf8_lossy(name).to_ascii_lowercase().as_str() {
        "string" => w.bulk(b"Hello World"),
        "integer" => w.int(12345),
        // Redis's value, not π.
        #[allow(clippy::approx_constant)]
        "double" => w.double(3.141),
        "bignum" => {
            let n = b"1234567999999999999999999999999999999";
            if w.resp3() {
                w.raw(b"(");
                w.raw(n);
                w.raw(b"\r\n");
            } else {
                w.bulk(n);
            }
        }
        "null" => w.null(),
        "array" | "set" => {
            if eq_ic(name, "set") {
                w.set(3);
            } else {
                w.array(3);
            }
            for j in 0..3 {
                w.int(j);
            }
        }
        "map" => {
            w.map(3);
            for j in 0..3 {
                w.int(j);
                w.boolean(j == 1);
            }
        }
        "attrib" => {
            if w.resp3() {
                w.raw(b"|1\r\n");
                w.bulk(b"key-popularity");
                w.array(2);
                w.bulk(b"key:123");
                w.int(90);
            }
            w.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !w.resp3() {
                return w.error("ERR RESP2 is not supported by this command");
            }
            w.push(2);
            w.bulk(b"server-cpu-usage");
            w.int(42);
            w.bulk(b"Some real reply following the push reply");
        }
        "true" => w.boolean(true),
        "false" => w.boolean(false),
        "verbatim" => w.verbatim("txt", "This is a verbatim\nstring"),
        _ => w.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

/// DEBUG OBJECT: Redis's line, from what Ferrite knows of the value (its OBJECT ENCODING, the
/// length of its DUMP serialization, its idle time).
fn debug_object(ctx: &mut Ctx<'_, '_>, key: &Bytes, w: &mut ReplyWriter<'_>) {
    let t = ctx.shared.redis_params.rdb_thresholds();
    let now = ctx.now;
    // Redis looks in the keyspace as stored: a key past its expiry that nothing has reaped yet
    // is still found (its tests check exactly that). Looked up as of time 0, nothing expires.
    let info = ctx.with_key(key, |s, _| {
        s.peek(key, 0).map(|e| {
            let len = super::dump::payload_of(t, &e.value)
                .len()
                .saturating_sub(11);
            (e.value.encoding_with(&t), len, e.access)
        })
    });
    let Some((encoding, serialized, access)) = info else {
        return w.error("ERR no such key");
    };
    let idle = ferrite_storage::access::idle_secs(access, now);
    let line = format!(
        "Value at:0x0 refcount:1 encoding:{encoding} serializedlength:{serialized} lru:{access} lru_seconds_idle:{idle}"
    );
    w.simple(&line);
}

fn shutdown(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let mut abort = false;
    let (mut save, mut nosave) = (false, false);
    for a in &args[1..] {
        if eq_ic(a, "nosave") {
            nosave = true;
        } else if eq_ic(a, "save") {
            save = true;
        } else if eq_ic(a, "now") || eq_ic(a, "force") {
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            w.error(ERR_SYNTAX);
            return;
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        w.error(ERR_SYNTAX);
        return;
    }
    if abort {
        w.error("ERR No shutdown in progress.");
        return;
    }
    tracing::info!(client = ctx.client.id, "SHUTDOWN requested by a client");
    // No reply: the connection (like every other) is closed by the shutdown.
    ctx.shared.request_shutdown();
}

// ---------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------

/// Every section, in Redis 7's order.
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// INFO without arguments (and `default`): every section but the per-command ones, as Redis.
fn in_default(section: &str) -> bool {
    !matches!(section, "commandstats" | "latencystats")
}

fn info(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let defaults = || ALL_SECTIONS.iter().copied().filter(|s| in_default(s));
    let mut wanted: Vec<&'static str> = Vec::new();
    if args.len() == 1 {
        wanted.extend(defaults());
    }
    for a in &args[1..] {
        let a = String::from_utf8_lossy(a).to_ascii_lowercase();
        match a.as_str() {
            "all" | "everything" => wanted.extend_from_slice(ALL_SECTIONS),
            "default" => wanted.extend(defaults()),
            other => {
                if let Some(s) = ALL_SECTIONS.iter().find(|s| **s == other) {
                    wanted.push(s);
                }
            }
        }
    }
    let text = info_text(ctx, &wanted);
    w.verbatim("txt", &text);
}

/// The INFO text for the given sections (in Redis's order, each once).
pub fn info_text(ctx: &mut Ctx<'_, '_>, wanted: &[&str]) -> String {
    let mut out = String::with_capacity(2048);
    let mut first = true;
    // The figures the metric table (admin/registry.rs) gives the sections, read once.
    let keyspace = keyspace_stats(ctx);
    let snap = ServerSnapshot::for_info(ctx.shared, keyspace);
    for section in ALL_SECTIONS {
        if !wanted.contains(section) {
            continue;
        }
        if !first {
            out.push_str("\r\n");
        }
        first = false;
        info_section(ctx, &snap, section, &mut out);
    }
    out
}

macro_rules! field {
    ($out:expr, $name:expr, $val:expr) => {{
        let _ = write!($out, "{}:{}\r\n", $name, $val);
    }};
}

/// One section. The fields the metric table declares for it are written by
/// `registry::write_info`, as one block at the place shown; the rest are written here.
fn info_section(ctx: &mut Ctx<'_, '_>, snap: &ServerSnapshot, section: &str, out: &mut String) {
    let sh = ctx.shared;
    match section {
        "server" => {
            out.push_str("# Server\r\n");
            let port = sh.resp_addr.read().map(|a| a.port()).unwrap_or(0);
            field!(out, "redis_version", crate::REDIS_COMPAT_VERSION);
            field!(out, "ferrite_version", env!("CARGO_PKG_VERSION"));
            field!(out, "redis_git_sha1", "00000000");
            field!(out, "redis_git_dirty", 0);
            field!(out, "redis_mode", "standalone");
            field!(out, "os", os_string());
            field!(out, "arch_bits", usize::BITS);
            field!(out, "multiplexing_api", "epoll");
            field!(out, "process_id", std::process::id());
            field!(out, "run_id", sh.run_id);
            field!(out, "tcp_port", port);
            field!(out, "server_time_usec", unix_now().as_micros());
            // uptime_in_seconds, uptime_in_days
            registry::write_info(Section::Server, snap, out);
            field!(out, "hz", 10);
            field!(
                out,
                "executable",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            field!(out, "config_file", "");
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            let clients = sh.clients.all();
            let pubsub = clients
                .iter()
                .filter(|c| {
                    c.subscriptions.load(Ordering::Relaxed)
                        + c.psubscriptions.load(Ordering::Relaxed)
                        > 0
                })
                .count();
            // connected_clients
            registry::write_info(Section::Clients, snap, out);
            field!(out, "cluster_connections", 0);
            field!(out, "maxclients", sh.config.read().limits.max_clients);
            field!(out, "client_recent_max_input_buffer", 0);
            field!(out, "client_recent_max_output_buffer", 0);
            // Redis counts clients a CLIENT PAUSE holds as blocked too.
            let blocked = sh.waiters.blocked_clients() + sh.introspection.pause.held();
            field!(out, "blocked_clients", blocked);
            field!(out, "tracking_clients", sh.tracking.figures().0);
            field!(out, "pubsub_clients", pubsub);
            field!(out, "clients_in_timeout_table", 0);
        }
        "memory" => {
            out.push_str("# Memory\r\n");
            // used_memory (+ _human), then what it is made of: used_memory_dataset,
            // used_memory_topics, mem_clients_normal (Redis has the first and the last too).
            registry::write_info(Section::Memory, snap, out);
            let used = snap.memory_used_bytes;
            let rss = rss_bytes();
            let (maxmemory, policy) = {
                let c = sh.config.read();
                (c.memory.maxmemory, sh.store.config().policy.name())
            };
            field!(out, "used_memory_rss", rss);
            field!(out, "used_memory_rss_human", bytes_to_human(rss));
            // Lua: every tenant's VM and loaded script bodies (both in used_memory too).
            let (lua, bodies, cached) = sh.scripts.memory();
            field!(out, "used_memory_lua", lua);
            field!(out, "used_memory_lua_human", bytes_to_human(lua as u64));
            field!(out, "used_memory_scripts", bodies);
            field!(
                out,
                "used_memory_scripts_human",
                bytes_to_human(bodies as u64)
            );
            field!(out, "number_of_cached_scripts", cached);
            field!(out, "maxmemory", maxmemory);
            field!(out, "maxmemory_human", bytes_to_human(maxmemory));
            field!(out, "maxmemory_policy", policy);
            let frag = if used > 0 {
                rss as f64 / used as f64
            } else {
                0.0
            };
            field!(out, "mem_fragmentation_ratio", format!("{frag:.2}"));
            field!(out, "mem_allocator", "libc");
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            field!(out, "loading", 0);
            field!(out, "async_loading", 0);
            field!(out, "rdb_changes_since_last_save", 0);
            field!(out, "rdb_bgsave_in_progress", 0);
            field!(out, "rdb_last_save_time", sh.started_ms / 1000);
            field!(out, "rdb_last_bgsave_status", "ok");
            field!(out, "aof_enabled", 0);
            field!(out, "aof_rewrite_in_progress", 0);
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            // Every field: RESP traffic, keyspace, keyspace notifications (whose figures
            // /metrics has as ferrite_*), and the Redis fields that are always 0 here.
            registry::write_info(Section::Stats, snap, out);
            let (_, keys, items, prefixes) = sh.tracking.figures();
            field!(out, "tracking_total_keys", keys);
            field!(out, "tracking_total_items", items);
            field!(out, "tracking_total_prefixes", prefixes);
        }
        "replication" => {
            out.push_str("# Replication\r\n");
            field!(out, "role", "master");
            field!(out, "connected_slaves", 0);
            field!(out, "master_failover_state", "no-failover");
            field!(out, "master_replid", sh.run_id);
            field!(
                out,
                "master_replid2",
                "0000000000000000000000000000000000000000"
            );
            field!(out, "master_repl_offset", 0);
            field!(out, "second_repl_offset", -1);
            field!(out, "repl_backlog_active", 0);
        }
        "cpu" => {
            out.push_str("# CPU\r\n");
            let (user, sys) = cpu_times();
            field!(out, "used_cpu_sys", format!("{sys:.6}"));
            field!(out, "used_cpu_user", format!("{user:.6}"));
        }
        "cluster" => {
            out.push_str("# Cluster\r\n");
            field!(out, "cluster_enabled", 0);
        }
        "modules" => out.push_str("# Modules\r\n"),
        "commandstats" => super::introspection::write_commandstats(ctx.shared, out),
        "errorstats" => super::introspection::write_errorstats(ctx.shared, out),
        "latencystats" => super::introspection::write_latencystats(ctx.shared, out),
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            // Every database of the connection's cache that exists and holds keys. Inside
            // MULTI only the selected one: EXEC holds its cache's locks, and taking another
            // cache's here could invert the cross-cache lock order.
            for db in 0..ferrite_service::databases::DATABASES {
                let (mut keys, mut expires) = (0usize, 0usize);
                let mut count = |s: &mut ferrite_storage::Shard, now: u64| {
                    keys += s.len();
                    // O(keys): there is no per-shard count of volatile keys.
                    s.for_each_live(now, |k| expires += usize::from(k.expires_at != 0));
                };
                if db == ctx.db {
                    ctx.for_each_shard(&mut count);
                } else if ctx.exec.is_none() {
                    let name = ferrite_service::databases::db_cache_name(ctx.base.name(), db);
                    if let Some(c) = ctx.shared.store.cache(&name) {
                        for i in 0..c.shard_count() {
                            count(&mut c.lock_shard(i), ctx.now);
                        }
                    }
                }
                if keys > 0 {
                    let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
            }
        }
        _ => {}
    }
}

/// Process CPU time (user, system) in seconds from `/proc/self/stat`, 0 if unknown.
fn cpu_times() -> (f64, f64) {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = s.rfind(')').map(|i| &s[i + 1..]) else {
        return (0.0, 0.0);
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

// ---------------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------------

/// Parameters CONFIG GET knows, with Redis's names.
const CONFIG_NAMES: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "maxclients",
    "timeout",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "port",
    "bind",
    "databases",
    "save",
    "appendonly",
    "notify-keyspace-events",
    "hll-sparse-max-bytes",
    // Ferrite is never a replica (yet): empty, as Redis reports a master.
    "replicaof",
    "slaveof",
];

/// Redis's `HIDDEN_CONFIG` parameters: CONFIG GET answers them only when named exactly, never
/// for a pattern (`CONFIG GET *`).
const HIDDEN: &[&str] = &[
    "use-exit-on-panic",
    "lua-enable-deprecated-api",
    "rdb-key-save-delay",
    "key-load-delay",
    "watchdog-period",
    "loading-process-events-interval-bytes",
];

fn config_value(ctx: &Ctx<'_, '_>, name: &str) -> String {
    let c = ctx.shared.config.read();
    match name {
        "maxmemory" => c.memory.maxmemory.to_string(),
        "maxmemory-policy" => ctx.shared.store.config().policy.name().to_string(),
        "maxmemory-samples" => c.memory.eviction_samples.to_string(),
        "maxclients" => c.limits.max_clients.to_string(),
        "timeout" => c.limits.idle_timeout_secs.to_string(),
        "proto-max-bulk-len" => c.limits.max_bulk_len.to_string(),
        "client-query-buffer-limit" => c.limits.query_buffer_limit.to_string(),
        "port" => ctx
            .shared
            .resp_addr
            .read()
            .map(|a| a.port())
            .unwrap_or(c.server.resp_port)
            .to_string(),
        "bind" => c.server.bind.clone(),
        "databases" => ferrite_service::databases::DATABASES.to_string(),
        "appendonly" => "no".to_string(),
        "hll-sparse-max-bytes" => ctx
            .shared
            .hll_sparse_max_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
            .to_string(),
        "notify-keyspace-events" => {
            ferrite_service::keyspace_events::classes_string(ctx.shared.keyspace_events.classes())
        }
        _ => String::new(), // save, replicaof, slaveof
    }
}

fn config(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    if eq_ic(sub, "get") {
        if !arity_ok(args, -3) {
            return subcommand_arity(w, "config|get");
        }
        let mut names: Vec<&str> = Vec::new();
        for pat in &args[2..] {
            let pat = pat.to_ascii_lowercase();
            let all = CONFIG_NAMES.iter().copied().chain(RedisParams::names());
            let exact = !pat.iter().any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'));
            for n in all {
                let visible = exact || !HIDDEN.contains(&n);
                if visible && crate::resp::glob::matches(&pat, n.as_bytes()) && !names.contains(&n)
                {
                    names.push(n);
                }
            }
        }
        w.map(names.len());
        for n in names {
            w.bulk(n.as_bytes());
            let value = match ctx.shared.redis_params.get(n) {
                Some(v) => v,
                None => config_value(ctx, n),
            };
            w.bulk(value.as_bytes());
        }
    } else if eq_ic(sub, "set") {
        if !arity_ok(args, -4) || !args.len().is_multiple_of(2) {
            return subcommand_arity(w, "config|set");
        }
        config_set(ctx, &args[2..], w);
    } else if eq_ic(sub, "resetstat") {
        if args.len() != 2 {
            return subcommand_arity(w, "config|resetstat");
        }
        ctx.shared.stats.reset();
        for c in ctx.shared.store.caches() {
            if !Arc::ptr_eq(&c, ctx.cache) {
                reset_cache_stats(&c);
            }
        }
        ctx.for_each_shard(|s, _| s.stats = ShardStats::default());
        // Redis's RESETSTAT also clears commandstats, errorstats and latencystats.
        ctx.shared.introspection.commands.reset();
        ctx.shared.introspection.errors.reset();
        w.ok();
    } else if eq_ic(sub, "rewrite") {
        if args.len() != 2 {
            return subcommand_arity(w, "config|rewrite");
        }
        w.error("ERR The server is running without a config file");
    } else if eq_ic(sub, "help") {
        if args.len() != 2 {
            return subcommand_arity(w, "config|help");
        }
        help(
            w,
            &[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
            ],
        );
    } else {
        unknown_subcommand(w, "CONFIG", sub);
    }
}

/// Give effect to one of Redis's parameters that means something in Ferrite (already
/// validated): the tracking table's bound, the LFU counters' shape (`lfu-log-factor`,
/// `lfu-decay-time`, read by every key access), the slow log and latency monitor.
fn apply_param(shared: &crate::shared::Shared, name: &str, value: &str) {
    let budget = shared.store.budget();
    match name {
        "tracking-table-max-keys" => {
            if let Ok(n) = value.parse::<usize>() {
                shared.tracking.set_max_keys(n);
            }
        }
        "lfu-log-factor" => {
            if let Ok(v) = value.parse() {
                budget.set_lfu_log_factor(v);
            }
        }
        "lfu-decay-time" => {
            if let Ok(v) = value.parse() {
                budget.set_lfu_decay_minutes(v);
            }
        }
        _ => shared.introspection.apply_param(name, value, budget),
    }
}

fn reset_cache_stats(c: &Cache) {
    for i in 0..c.shard_count() {
        c.lock_shard(i).stats = ShardStats::default();
    }
}

enum Setting {
    MaxMemory(u64),
    Policy(ferrite_storage::EvictionPolicy),
    Samples(usize),
    MaxClients(usize),
    Timeout(u64),
    MaxBulkLen(u64),
    QueryBufferLimit(u64),
    KeyspaceEvents(u16),
    /// One of Redis's tuning parameters Ferrite only reports back (`resp/redis_params.rs`).
    Param(String, String),
    HllSparseMaxBytes(usize),
}

fn config_set(ctx: &mut Ctx<'_, '_>, pairs: &[Bytes], w: &mut ReplyWriter<'_>) {
    // Validate everything first, then apply: CONFIG SET is all or nothing, as in Redis 7.
    let mut settings = Vec::new();
    // Redis checks the names before any value: one named twice fails the whole command.
    for (i, pair) in pairs.chunks(2).enumerate() {
        if pairs
            .chunks(2)
            .take(i)
            .any(|p| eq_ic(&p[0], &lossy(&pair[0])))
        {
            return w.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - duplicate parameter",
                lossy(&pair[0])
            ));
        }
    }
    for pair in pairs.chunks(2) {
        let name = lossy(&pair[0]).to_ascii_lowercase();
        let val = lossy(&pair[1]);
        let fail = |w: &mut ReplyWriter<'_>, why: &str| {
            w.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ));
        };
        let memory = || ferrite_config::parse_memory_size(&val).ok();
        let int = || val.trim().parse::<u64>().ok().filter(|_| !val.is_empty());
        let s = match name.as_str() {
            "maxmemory" => match memory() {
                Some(n) => Setting::MaxMemory(n),
                None => return fail(w, "argument must be a memory value"),
            },
            "maxmemory-policy" => match ferrite_storage::EvictionPolicy::parse(&val) {
                Some(p) => Setting::Policy(p),
                None => {
                    let names = ferrite_storage::EvictionPolicy::names();
                    return fail(
                        w,
                        &format!("argument(s) must be one of the following: {names}"),
                    );
                }
            },
            "maxmemory-samples" => match val.trim().parse::<i64>() {
                Ok(n) if (1..=i32::MAX as i64).contains(&n) => Setting::Samples(n as usize),
                Ok(_) => return fail(w, "argument must be between 1 and 2147483647 inclusive"),
                Err(_) => return fail(w, "argument couldn't be parsed into an integer"),
            },
            "maxclients" => match int().filter(|&n| n >= 1) {
                Some(n) => Setting::MaxClients(n as usize),
                None => return fail(w, "argument couldn't be parsed into an integer"),
            },
            "timeout" => match int() {
                Some(n) => Setting::Timeout(n),
                None => return fail(w, "argument couldn't be parsed into an integer"),
            },
            "proto-max-bulk-len" => match memory().filter(|&n| n >= 1024 * 1024) {
                Some(n) => Setting::MaxBulkLen(n),
                None => return fail(w, "argument must be a memory value"),
            },
            "client-query-buffer-limit" => match memory().filter(|&n| n >= 1024 * 1024) {
                Some(n) => Setting::QueryBufferLimit(n),
                None => return fail(w, "argument must be a memory value"),
            },
            "notify-keyspace-events" => {
                match ferrite_service::keyspace_events::parse_classes(&pair[1]) {
                    Some(f) => Setting::KeyspaceEvents(f),
                    None => return fail(w, ferrite_service::keyspace_events::ERR_CLASS),
                }
            }
            "hll-sparse-max-bytes" => match memory().filter(|&n| n <= i64::MAX as u64) {
                Some(n) => Setting::HllSparseMaxBytes(n as usize),
                None => return fail(w, "argument must be a memory value"),
            },
            // Listeners are bound at start: setting them to what they are is a no-op (tools
            // that write back every CONFIG GET * value do that), anything else is refused.
            "port" | "bind" if config_value(ctx, &name) == val => continue,
            "port" | "bind" | "databases" | "replicaof" | "slaveof" => {
                return fail(w, "can't set immutable config");
            }
            "save" | "appendonly" if val.is_empty() || val.eq_ignore_ascii_case("no") => continue,
            "save" | "appendonly" => {
                return fail(
                    w,
                    "Ferrite does not persist data yet: only an empty save schedule and appendonly no are accepted",
                );
            }
            other if RedisParams::knows(other) => {
                match RedisParams::check(other, &val).expect("a known parameter") {
                    Ok(v) => Setting::Param(name.clone(), v),
                    Err(why) => return fail(w, &why),
                }
            }
            _ => {
                let msg = format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    lossy(&pair[0])
                );
                return w.error(&msg);
            }
        };
        settings.push(s);
    }
    let store = &ctx.shared.store;
    let mut shrink = false;
    {
        let mut c = ctx.shared.config.write();
        for s in settings {
            match s {
                Setting::MaxMemory(n) => {
                    c.memory.maxmemory = n;
                    // Redis: 0 = no limit.
                    store.set_maxmemory(if n == 0 { u64::MAX } else { n });
                    shrink = true;
                }
                Setting::Policy(p) => {
                    c.memory.eviction = p.name().parse().expect("the two enums share names");
                    store.set_policy(p);
                }
                Setting::Samples(n) => {
                    c.memory.eviction_samples = n;
                    store.set_eviction_samples(n);
                }
                // Connection limits are read when a connection starts: they apply to new ones.
                Setting::MaxClients(n) => c.limits.max_clients = n,
                Setting::Timeout(n) => c.limits.idle_timeout_secs = n,
                Setting::MaxBulkLen(n) => c.limits.max_bulk_len = n,
                Setting::QueryBufferLimit(n) => c.limits.query_buffer_limit = n,
                Setting::Param(name, value) => {
                    apply_param(ctx.shared, &name, &value);
                    ctx.shared.redis_params.set(&name, value)
                }
                Setting::HllSparseMaxBytes(n) => ctx
                    .shared
                    .hll_sparse_max_bytes
                    .store(n, std::sync::atomic::Ordering::Relaxed),
                Setting::KeyspaceEvents(f) => {
                    let e = &ctx.shared.keyspace_events;
                    e.set_classes(store, f);
                    c.notifications.keyspace_events =
                        ferrite_service::keyspace_events::classes_string(f);
                }
            }
        }
    }
    // A lower limit evicts right away, as in Redis (not inside EXEC: eviction takes the shard
    // locks this thread already holds; the next write evicts instead).
    if shrink && ctx.exec.is_none() {
        // Each call evicts a bounded amount: repeat while it makes progress.
        let mut used = store.budget().used();
        while store.ensure_memory(0).is_err() {
            let now_used = store.budget().used();
            if now_used >= used {
                break;
            }
            used = now_used;
        }
    }
    w.ok();
}

// ---------------------------------------------------------------------------
// COMMAND
// ---------------------------------------------------------------------------

fn flag_names(spec: &CommandSpec) -> Vec<&'static str> {
    let mut v = Vec::new();
    for (f, n) in [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (BLOCKING, "blocking"),
        (FAST, "fast"),
        (NO_MULTI, "no_multi"),
    ] {
        if spec.has(f) {
            v.push(n);
        }
    }
    if spec.group == "pubsub" {
        v.push("pubsub");
    }
    if legacy_range(spec).3 {
        v.push("movablekeys");
    }
    v
}

/// Redis's legacy (first, last, step) key range, computed from the key specs as Redis's
/// populateCommandLegacyRangeSpec does, and whether the command has "movablekeys".
fn legacy_range(spec: &CommandSpec) -> (i64, i64, i64, bool) {
    use crate::resp::dispatch::{BeginSearch, FindKeys};
    let specs = spec.key_specs;
    if specs.is_empty() {
        return (0, 0, 0, false);
    }
    let absolute = |pos: i32, lastkey: i32| -> i64 {
        if lastkey < 0 {
            lastkey as i64
        } else {
            (pos + lastkey) as i64
        }
    };
    if let [s] = specs {
        if let (BeginSearch::Index(pos), FindKeys::Range { lastkey, step, .. }) = (s.begin, s.find)
        {
            let movable = s.has(INCOMPLETE);
            return (pos as i64, absolute(pos, lastkey), step as i64, movable);
        }
    }
    let (mut first, mut last, mut prev_last) = (i64::MAX, 0i64, 0i64);
    let mut movable = false;
    // Redis compares last keys as unsigned: a negative (from the end) one is the largest.
    let unsigned = |x: i64| x as u64;
    for s in specs {
        let (BeginSearch::Index(pos), FindKeys::Range { lastkey, step, .. }) = (s.begin, s.find)
        else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != pos as i64 - 1) {
            movable = true;
            continue;
        }
        movable |= s.has(INCOMPLETE);
        first = first.min(pos as i64);
        let l = absolute(pos, lastkey);
        if unsigned(l) > unsigned(last) {
            last = l;
        }
        prev_last = l;
    }
    if first == i64::MAX {
        return (0, 0, 0, true);
    }
    (first, last, 1, movable)
}

/// The flags a VARIABLE_FLAGS key spec has for these arguments, as Redis's getkeys procs decide
/// them: SET without GET only writes (OW update), BITFIELD of GETs only reads (RO access).
fn resolved_key_flags(name: &str, args: &[Bytes], spec_flags: u16) -> u16 {
    use crate::resp::dispatch::ks::*;
    match name {
        "set" if !args[3..].iter().any(|a| eq_ic(a, "get")) => OW | UPDATE,
        "set" => RW | ACCESS | UPDATE,
        "bitfield" if crate::resp::authz::bitfield_reads_only(args) => RO | ACCESS,
        "bitfield" => RW | ACCESS | UPDATE,
        _ => spec_flags,
    }
}

/// One key spec in COMMAND INFO's format (maps; flattened to arrays in RESP2, as Redis does).
fn key_spec_info(w: &mut ReplyWriter<'_>, s: &crate::resp::dispatch::KeySpec) {
    use crate::resp::dispatch::{BeginSearch, FindKeys};
    w.map(3);
    w.bulk(b"flags");
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(f, _)| s.has(*f))
        .map(|&(_, n)| n)
        .collect();
    w.set(names.len());
    for n in names {
        w.simple(n);
    }
    w.bulk(b"begin_search");
    w.map(2);
    w.bulk(b"type");
    match s.begin {
        BeginSearch::Index(i) => {
            w.bulk(b"index");
            w.bulk(b"spec");
            w.map(1);
            w.bulk(b"index");
            w.int(i as i64);
        }
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => {
            w.bulk(b"keyword");
            w.bulk(b"spec");
            w.map(2);
            w.bulk(b"keyword");
            w.bulk(keyword.as_bytes());
            w.bulk(b"startfrom");
            w.int(start_from as i64);
        }
        BeginSearch::Unknown(_) => {
            w.bulk(b"unknown");
            w.bulk(b"spec");
            w.map(0);
        }
    }
    w.bulk(b"find_keys");
    w.map(2);
    w.bulk(b"type");
    if matches!(s.begin, BeginSearch::Unknown(_)) {
        // Redis pairs an unknown begin with an unknown find (the finder does both).
        w.bulk(b"unknown");
        w.bulk(b"spec");
        w.map(0);
        return;
    }
    match s.find {
        FindKeys::Range {
            lastkey,
            step,
            limit,
        } => {
            w.bulk(b"range");
            w.bulk(b"spec");
            w.map(3);
            w.bulk(b"lastkey");
            w.int(lastkey as i64);
            w.bulk(b"keystep");
            w.int(step as i64);
            w.bulk(b"limit");
            w.int(limit as i64);
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            step,
        } => {
            w.bulk(b"keynum");
            w.bulk(b"spec");
            w.map(3);
            w.bulk(b"keynumidx");
            w.int(keynumidx as i64);
            w.bulk(b"firstkey");
            w.int(firstkey as i64);
            w.bulk(b"keystep");
            w.int(step as i64);
        }
    }
}

/// COMMAND INFO's ACL categories: Redis 7.0's (`resp::acl::categories`).
fn acl_categories(spec: &CommandSpec) -> Vec<String> {
    crate::resp::acl::categories::names(crate::resp::acl::categories::of_spec(spec))
}

fn command_info(w: &mut ReplyWriter<'_>, spec: &CommandSpec) {
    w.array(10);
    w.bulk(spec.name.as_bytes());
    w.int(spec.arity as i64);
    let flags = flag_names(spec);
    w.set(flags.len());
    for f in flags {
        w.simple(f);
    }
    let (first, last, step, _) = legacy_range(spec);
    w.int(first);
    w.int(last);
    w.int(step);
    let cats = acl_categories(spec);
    w.set(cats.len());
    for c in &cats {
        w.simple(c);
    }
    w.set(0); // tips
              // Redis 7.0 sends key specs and subcommands as sets in RESP3.
    w.set(spec.key_specs.len());
    for ks in spec.key_specs {
        key_spec_info(w, ks);
    }
    let subs: Vec<&Node> = crate::resp::acl::categories::subcommands(spec.name)
        .iter()
        .filter_map(|sub| subcommand_infos().get(format!("{}|{sub}", spec.name).as_str()))
        .collect();
    w.set(subs.len());
    for node in subs {
        super::command_docs::write(w, node);
    }
}

/// redis-server 7.0's COMMAND INFO entries of subcommands (`config|get`), by full name: data
/// written by scripts/gen_command_info.py. Ferrite lists those of the subcommands it has.
fn subcommand_infos() -> &'static std::collections::HashMap<Box<str>, Node> {
    static INFOS: std::sync::OnceLock<std::collections::HashMap<Box<str>, Node>> =
        std::sync::OnceLock::new();
    INFOS.get_or_init(|| {
        super::command_docs::parse(
            include_str!("command_info_subcommands.json"),
            "command_info_subcommands.json",
        )
        .into_iter()
        .collect()
    })
}

/// COMMAND INFO of `container|sub` (any case), for a subcommand Ferrite has.
fn subcommand_info(name: &[u8]) -> Option<&'static Node> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    let (container, sub) = lower.split_once('|')?;
    if table().get(container).is_none()
        || !crate::resp::acl::categories::subcommands(container).contains(&sub)
    {
        return None;
    }
    subcommand_infos().get(lower.as_str())
}

fn sorted_specs() -> Vec<&'static CommandSpec> {
    let mut v: Vec<&'static CommandSpec> = table().values().copied().collect();
    v.sort_by_key(|s| s.name);
    v
}

fn lookup_name(name: &[u8]) -> Option<&'static CommandSpec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    table().get(lower.as_str()).copied()
}

fn command(_: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() == 1 {
        let all = sorted_specs();
        w.array(all.len());
        for s in all {
            command_info(w, s);
        }
        return;
    }
    let sub = &args[1];
    if eq_ic(sub, "count") {
        if args.len() != 2 {
            return subcommand_arity(w, "command|count");
        }
        w.int(table().len() as i64);
    } else if eq_ic(sub, "info") {
        if args.len() == 2 {
            let all = sorted_specs();
            w.array(all.len());
            for s in all {
                command_info(w, s);
            }
            return;
        }
        w.array(args.len() - 2);
        for name in &args[2..] {
            match lookup_name(name) {
                Some(s) => command_info(w, s),
                None => match subcommand_info(name) {
                    Some(node) => super::command_docs::write(w, node),
                    None => w.null(),
                },
            }
        }
    } else if eq_ic(sub, "docs") {
        super::command_docs::command_docs(&sorted_specs(), &args[2..], w);
    } else if eq_ic(sub, "list") {
        command_list(args, w);
    } else if eq_ic(sub, "getkeys") || eq_ic(sub, "getkeysandflags") {
        let with_flags = eq_ic(sub, "getkeysandflags");
        // Redis 7.0's arities: GETKEYS -3, GETKEYSANDFLAGS -4.
        if !arity_ok(args, if with_flags { -4 } else { -3 }) {
            let full = if with_flags {
                "command|getkeysandflags"
            } else {
                "command|getkeys"
            };
            return subcommand_arity(w, full);
        }
        // Redis's order of checks and errors.
        let Some(spec) = lookup_name(&args[2]) else {
            return w.error("ERR Invalid command specified");
        };
        // Channels (NOT_KEY specs: SPUBLISH, SSUBSCRIBE) are not keys, as in Redis.
        if !spec.has_keys() {
            return w.error("ERR The command has no key arguments");
        }
        let cmd_args = &args[2..];
        if !spec.arity_ok(cmd_args.len()) {
            return w.error("ERR Invalid number of arguments specified for command");
        }
        // Scripts may name no keys (Redis's `no_mandatory_keys`): numkeys 0 is no keys, not
        // an error.
        // A malformed numkeys finds no keys there either (Redis answers an empty array).
        let no_mandatory_keys = spec.group == "scripting";
        let bad_keys = spec.check_keys(cmd_args).is_err();
        if bad_keys && !no_mandatory_keys {
            return w.error("ERR Invalid arguments specified for command");
        }
        let keys: Vec<(&[u8], u16)> = if bad_keys {
            Vec::new()
        } else {
            spec.keys_with_flags(cmd_args).collect()
        };
        if keys.is_empty() && !no_mandatory_keys {
            return w.error("ERR Invalid arguments specified for command");
        }
        w.array(keys.len());
        for (k, mut key_flags) in keys {
            if key_flags & crate::resp::dispatch::ks::VARIABLE_FLAGS != 0 {
                key_flags = resolved_key_flags(spec.name, cmd_args, key_flags);
            }
            if !with_flags {
                w.bulk(k);
                continue;
            }
            // [key, {flag ...}]: the key spec's flags by Redis's names.
            w.array(2);
            w.bulk(k);
            let names: Vec<&str> = NAMES
                .iter()
                .filter(|(f, _)| key_flags & *f != 0)
                .map(|&(_, n)| n)
                .collect();
            w.set(names.len());
            for n in names {
                w.simple(n);
            }
        }
    } else if eq_ic(sub, "help") {
        help(
            w,
            &[
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ],
        );
    } else {
        unknown_subcommand(w, "COMMAND", sub);
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
fn command_list(args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let specs = sorted_specs();
    // Redis lists subcommands too (`config|get`).
    let subs = crate::resp::introspection::command_stats::subcommand_names;
    let names: Vec<&'static str> = match args.len() {
        2 => specs.iter().map(|s| s.name).chain(subs()).collect(),
        5 if eq_ic(&args[2], "filterby") => {
            let (kind, val) = (&args[3], args[4].to_ascii_lowercase());
            if eq_ic(kind, "module") {
                Vec::new()
            } else if eq_ic(kind, "aclcat") {
                // As ACL CAT: subcommands too (`config|get`); an unknown category lists nothing.
                let names = match crate::resp::acl::categories::parse(&val) {
                    Some(c) => crate::resp::acl::categories::commands_in(c),
                    None => Vec::new(),
                };
                w.array(names.len());
                for n in names {
                    w.bulk(n.as_bytes());
                }
                return;
            } else if eq_ic(kind, "pattern") {
                specs
                    .iter()
                    .map(|s| s.name)
                    .chain(subs())
                    .filter(|n| crate::resp::glob::matches(&val, n.as_bytes()))
                    .collect()
            } else {
                return w.error(ERR_SYNTAX);
            }
        }
        _ => return w.error(ERR_SYNTAX),
    };
    w.array(names.len());
    for n in names {
        w.bulk(n.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// CLIENT
// ---------------------------------------------------------------------------

/// Redis's validateClientAttr: printable ASCII without spaces.
/// Redis's rule for client names and library attributes: printable ASCII, no spaces. Shared by
/// CLIENT SETNAME/SETINFO and HELLO SETNAME, so neither can forge a line of CLIENT LIST.
pub(crate) fn valid_attr(b: &[u8]) -> bool {
    b.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn is_pubsub(c: &ClientInfo) -> bool {
    c.subscriptions.load(Ordering::Relaxed) + c.psubscriptions.load(Ordering::Relaxed) > 0
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP], with
/// Redis 7.0's checks and errors (`resp::tracking`).
fn client_tracking(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    use crate::resp::tracking::{Options, MODE_BCAST, MODE_ON, MODE_OPTIN, MODE_OPTOUT};
    let me = ctx.client;
    let on = if eq_ic(&args[2], "on") {
        true
    } else if eq_ic(&args[2], "off") {
        false
    } else {
        return w.error(ERR_SYNTAX);
    };
    let mut o = Options {
        redirect: 0,
        bcast: false,
        prefixes: Vec::new(),
        optin: false,
        optout: false,
        noloop: false,
    };
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let more = i + 1 < args.len();
        if eq_ic(a, "redirect") && more {
            i += 1;
            if o.redirect != 0 {
                return w.error("ERR A client can only redirect to a single other client");
            }
            match parse_i64(&args[i]) {
                Some(n) if n > 0 => o.redirect = n as u64,
                _ => return w.error("ERR The client ID you want redirect to does not exist"),
            }
        } else if eq_ic(a, "bcast") {
            o.bcast = true;
        } else if eq_ic(a, "optin") {
            o.optin = true;
        } else if eq_ic(a, "optout") {
            o.optout = true;
        } else if eq_ic(a, "noloop") {
            o.noloop = true;
        } else if eq_ic(a, "prefix") && more {
            i += 1;
            o.prefixes.push(args[i].clone());
        } else {
            return w.error(ERR_SYNTAX);
        }
        i += 1;
    }
    let tracking = &ctx.shared.tracking;
    if !on {
        tracking.disable(&ctx.shared.store, me.id);
        me.tracking_mode.store(0, Ordering::Relaxed);
        me.caching.store(0, Ordering::Relaxed);
        return w.ok();
    }
    let current = me.tracking_mode.load(Ordering::Relaxed);
    if current & MODE_ON != 0 {
        if (current & MODE_BCAST != 0) != o.bcast {
            return w.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        // Redis refuses only a switch between OPTIN and OPTOUT (plain to either is fine).
        if (o.optin && current & MODE_OPTOUT != 0) || (o.optout && current & MODE_OPTIN != 0) {
            return w.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
    }
    if !o.bcast && !o.prefixes.is_empty() {
        return w.error("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if o.optin && o.optout {
        return w.error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if (o.optin || o.optout) && o.bcast {
        return w.error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    // Prefixes accumulate over CLIENT TRACKING ON calls in BCAST mode, as in Redis; BCAST
    // without one tracks the empty prefix (every key).
    let existing = if current & MODE_ON != 0 && current & MODE_BCAST != 0 {
        tracking
            .options(me.id)
            .map(|t| t.prefixes)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let overlap = |p: &Bytes, q: &Bytes| p.starts_with(q) || q.starts_with(p);
    for (a, p) in o.prefixes.iter().enumerate() {
        if let Some(q) = existing.iter().find(|q| overlap(p, q)) {
            return w.error(&format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                lossy(p),
                lossy(q)
            ));
        }
        for q in &o.prefixes[a + 1..] {
            if overlap(p, q) {
                return w.error(&format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    lossy(p),
                    lossy(q)
                ));
            }
        }
    }
    // The receiver: this connection, or another of the same token (so a token cannot have
    // its key names sent to, or push messages at, someone else's connection).
    let target = if o.redirect == 0 {
        ctx.shared.clients.get(me.id)
    } else {
        // One lock at a time: the target may be this very connection (a redirect to itself
        // locked its own mutex twice and hung the worker).
        let mine = me.user.lock().clone();
        ctx.shared
            .clients
            .get(o.redirect)
            .filter(|t| *t.user.lock() == mine)
    };
    let Some(target) = target else {
        return w.error("ERR The client ID you want redirect to does not exist");
    };
    if o.bcast {
        if o.prefixes.is_empty() {
            o.prefixes.push(Bytes::new());
        }
        o.prefixes.extend(existing);
    }
    // Kept in order (Redis's radix tree lists them so).
    o.prefixes.sort();
    o.prefixes.dedup();
    let mut mode = MODE_ON;
    if o.bcast {
        mode |= MODE_BCAST;
    }
    if o.optin {
        mode |= MODE_OPTIN;
    }
    if o.optout {
        mode |= MODE_OPTOUT;
    }
    tracking.enable(
        &ctx.shared.store,
        me,
        target,
        o,
        ctx.cache.name_arc().clone(),
        ctx.principal.cloned(),
    );
    me.tracking_mode.store(mode, Ordering::Relaxed);
    w.ok()
}

/// CLIENT CACHING YES|NO: whether the next command's reads are tracked (OPTIN / OPTOUT).
fn client_caching(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    use crate::resp::tracking::{MODE_OPTIN, MODE_OPTOUT};
    let me = ctx.client;
    let mode = me.tracking_mode.load(Ordering::Relaxed);
    if mode & (MODE_OPTIN | MODE_OPTOUT) == 0 {
        return w.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    if eq_ic(&args[2], "yes") {
        if mode & MODE_OPTIN == 0 {
            return w.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        me.caching.store(1, Ordering::Relaxed);
    } else if eq_ic(&args[2], "no") {
        if mode & MODE_OPTOUT == 0 {
            return w.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        me.caching.store(2, Ordering::Relaxed);
    } else {
        return w.error(ERR_SYNTAX);
    }
    w.ok()
}

/// CLIENT TRACKINGINFO: flags, redirect, prefixes, as Redis 7.0 answers.
fn client_trackinginfo(ctx: &mut Ctx<'_, '_>, w: &mut ReplyWriter<'_>) {
    let me = ctx.client;
    let Some(o) = ctx.shared.tracking.options(me.id) else {
        w.map(3);
        w.bulk(b"flags");
        w.set(1);
        w.bulk(b"off");
        w.bulk(b"redirect");
        w.int(-1);
        w.bulk(b"prefixes");
        w.array(0);
        return;
    };
    let mut flags: Vec<&str> = vec!["on"];
    if o.bcast {
        flags.push("bcast");
    }
    if o.optin {
        flags.push("optin");
        if me.caching.load(Ordering::Relaxed) == 1 {
            flags.push("caching-yes");
        }
    }
    if o.optout {
        flags.push("optout");
        if me.caching.load(Ordering::Relaxed) == 2 {
            flags.push("caching-no");
        }
    }
    if o.noloop {
        flags.push("noloop");
    }
    if o.redirect != 0 && ctx.shared.clients.get(o.redirect).is_none() {
        flags.push("broken_redirect");
    }
    w.map(3);
    w.bulk(b"flags");
    w.set(flags.len());
    for f in flags {
        w.bulk(f.as_bytes());
    }
    w.bulk(b"redirect");
    w.int(o.redirect as i64);
    w.bulk(b"prefixes");
    w.array(o.prefixes.len());
    for p in &o.prefixes {
        w.bulk(p);
    }
}

fn client(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let me = ctx.client;
    let lower = String::from_utf8_lossy(sub).to_ascii_lowercase();
    let (arity, full): (i32, &str) = match lower.as_str() {
        "setname" => (3, "client|setname"),
        "getname" => (2, "client|getname"),
        "id" => (2, "client|id"),
        "list" => (-2, "client|list"),
        "info" => (2, "client|info"),
        "kill" => (-3, "client|kill"),
        "setinfo" => (4, "client|setinfo"),
        "no-evict" => (3, "client|no-evict"),
        "no-touch" => (3, "client|no-touch"),
        "pause" => (-3, "client|pause"),
        "unpause" => (2, "client|unpause"),
        "unblock" => (-3, "client|unblock"),
        "reply" => (3, "client|reply"),
        "getredir" => (2, "client|getredir"),
        "trackinginfo" => (2, "client|trackinginfo"),
        "tracking" => (-3, "client|tracking"),
        "caching" => (3, "client|caching"),
        "help" => (2, "client|help"),
        _ => return unknown_subcommand(w, "CLIENT", sub),
    };
    if !arity_ok(args, arity) {
        return subcommand_arity(w, full);
    }
    match lower.as_str() {
        "setname" => {
            let name = &args[2];
            if !valid_attr(name) {
                return w.error("ERR Client names cannot contain spaces, newlines or special characters.");
            }
            *me.name.lock() = if name.is_empty() { None } else { Some(Bytes::copy_from_slice(name)) };
            w.ok();
        }
        "getname" => match me.name.lock().clone() {
            Some(n) => w.bulk(&n),
            None => w.null(),
        },
        "id" => w.int(me.id as i64),
        "info" => {
            let current = Some(("client|info", request_bytes(args), argv_bytes(args)));
            let line = me.describe_as(ctx.shared.store.now_ms(), current) + "\n";
            w.verbatim("txt", &line);
        }
        "list" => client_list(ctx, args, w),
        "kill" => client_kill(ctx, args, w),
        "setinfo" => {
            let attr = &args[2];
            let label = if eq_ic(attr, "lib-name") {
                "lib-name"
            } else if eq_ic(attr, "lib-ver") {
                "lib-ver"
            } else {
                return w.error(&format!("ERR Unrecognized option '{}'", lossy(attr)));
            };
            if !valid_attr(&args[3]) {
                return w.error(&format!("ERR {label} cannot contain spaces, newlines or special characters."));
            }
            w.ok();
        }
        "no-evict" | "no-touch" => {
            if eq_ic(&args[2], "on") || eq_ic(&args[2], "off") {
                w.ok();
            } else {
                w.error(ERR_SYNTAX);
            }
        }
        "pause" => client_pause(ctx, args, w),
        "unpause" => {
            ctx.shared.introspection.pause.unpause();
            w.ok();
        }
        "unblock" => client_unblock(ctx, args, w),
        // Outside MULTI the connection answers CLIENT REPLY itself (`conn/observe.rs`).
        "reply" => w.error("ERR CLIENT REPLY inside MULTI is not supported by Ferrite"),
        "tracking" => client_tracking(ctx, args, w),
        "caching" => client_caching(ctx, args, w),
        "getredir" => match ctx.shared.tracking.options(me.id) {
            None => w.int(-1),
            Some(o) => w.int(o.redirect as i64),
        },
        "trackinginfo" => client_trackinginfo(ctx, w),
        _ => help(
            w,
            &[
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
                "    TYPE normal|pubsub, USER <username>, SKIPME yes|no, MAXAGE <seconds>.",
                "LIST [TYPE normal|pubsub] [ID <id> [<id> ...]]",
                "    Return information about client connections.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
                "NO-EVICT (ON|OFF)",
                "    Accepted for compatibility.",
                "NO-TOUCH (ON|OFF)",
                "    Accepted for compatibility.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
                "GETREDIR",
                "    Return the client ID we are redirecting to when tracking is enabled.",
                "TRACKINGINFO",
                "    Report tracking status for the current connection.",
            ],
        ),
    }
}

/// CLIENT PAUSE <timeout> [WRITE|ALL]: RESP connections hold their commands
/// (`resp/introspection/pause.rs`).
fn client_pause(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    use crate::resp::introspection::pause::PauseMode;
    let Some(ms) = crate::resp::args::parse_i64(&args[2]) else {
        return w.error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return w.error("ERR timeout is negative");
    }
    let mode = match args.get(3) {
        None => PauseMode::All,
        Some(m) if args.len() == 4 && eq_ic(m, "write") => PauseMode::Write,
        Some(m) if args.len() == 4 && eq_ic(m, "all") => PauseMode::All,
        Some(_) => return w.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let until = tokio::time::Instant::now() + std::time::Duration::from_millis(ms as u64);
    ctx.shared.introspection.pause.pause(mode, until);
    w.ok();
}

/// CLIENT UNBLOCK <id> [TIMEOUT|ERROR]: 1 if that client was in a blocking command.
fn client_unblock(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    use crate::resp::client::UnblockAs;
    let Some(id) = crate::resp::args::parse_i64(&args[2]) else {
        return w.error("ERR value is not an integer or out of range");
    };
    let how = match args.len() {
        3 => UnblockAs::Timeout,
        4 if eq_ic(&args[3], "timeout") => UnblockAs::Timeout,
        4 if eq_ic(&args[3], "error") => UnblockAs::Error,
        4 => return w.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
        _ => {
            return w.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                lossy(&args[1])
            ))
        }
    };
    let unblocked = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.shared.clients.get(id))
        .is_some_and(|c| c.unblock(how));
    w.int(i64::from(unblocked));
}

fn client_list(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let mut type_filter: Option<bool> = None; // Some(true) = pubsub only, Some(false) = normal only
    let mut none_match = false;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if eq_ic(&args[i], "type") && i + 1 < args.len() {
            let t = &args[i + 1];
            if eq_ic(t, "normal") {
                type_filter = Some(false);
            } else if eq_ic(t, "pubsub") {
                type_filter = Some(true);
            } else if eq_ic(t, "master") || eq_ic(t, "replica") || eq_ic(t, "slave") {
                none_match = true;
            } else {
                return w.error(&format!("ERR Unknown client type '{}'", lossy(t)));
            }
            i += 2;
        } else if eq_ic(&args[i], "id") && i + 1 < args.len() {
            let mut v = Vec::new();
            for a in &args[i + 1..] {
                match parse_i64(a) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return w.error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = args.len();
        } else {
            return w.error(ERR_SYNTAX);
        }
    }
    let now = ctx.shared.store.now_ms();
    let mut text = String::new();
    if !none_match {
        for c in ctx.shared.clients.all() {
            if type_filter.is_some_and(|p| p != is_pubsub(&c)) {
                continue;
            }
            if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
                continue;
            }
            let current = (c.id == ctx.client.id)
                .then(|| ("client|list", request_bytes(args), argv_bytes(args)));
            text.push_str(&c.describe_as(now, current));
            text.push('\n');
        }
    }
    w.verbatim("txt", &text);
}

/// The size of a request as sent in RESP (`*2\r\n$6\r\nclient\r\n$4\r\nlist\r\n`: 26).
fn request_bytes(args: &[Bytes]) -> usize {
    let digits = |n: usize| n.to_string().len();
    3 + digits(args.len())
        + args
            .iter()
            .map(|a| 5 + digits(a.len()) + a.len())
            .sum::<usize>()
}

/// The bytes of a request's arguments (Redis's `argv-mem`).
fn argv_bytes(args: &[Bytes]) -> usize {
    args.iter().map(|a| a.len()).sum()
}

fn client_kill(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let me = ctx.client;
    if args.len() == 3 {
        // Old form: CLIENT KILL ip:port (may kill ourselves).
        let addr = lossy(&args[2]);
        match ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.to_string() == addr)
        {
            Some(c) => {
                w.ok();
                c.kill();
            }
            None => w.error("ERR No such client"),
        }
        return;
    }
    if !args.len().is_multiple_of(2) {
        return w.error(ERR_SYNTAX);
    }
    let mut id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut ctype: Option<Option<bool>> = None; // Some(None) = matches nobody
    let mut user: Option<String> = None;
    let mut maxage: Option<u64> = None;
    let mut skipme = true;
    for pair in args[2..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if eq_ic(opt, "id") {
            match parse_i64(val) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return w.error("ERR client-id should be greater than 0"),
            }
        } else if eq_ic(opt, "addr") {
            addr = Some(lossy(val));
        } else if eq_ic(opt, "laddr") {
            laddr = Some(lossy(val));
        } else if eq_ic(opt, "type") {
            ctype = Some(if eq_ic(val, "normal") {
                Some(false)
            } else if eq_ic(val, "pubsub") {
                Some(true)
            } else if eq_ic(val, "master") || eq_ic(val, "replica") || eq_ic(val, "slave") {
                None
            } else {
                return w.error(&format!("ERR Unknown client type '{}'", lossy(val)));
            });
        } else if eq_ic(opt, "user") {
            user = Some(lossy(val));
        } else if eq_ic(opt, "skipme") {
            if eq_ic(val, "yes") {
                skipme = true;
            } else if eq_ic(val, "no") {
                skipme = false;
            } else {
                return w.error(ERR_SYNTAX);
            }
        } else if eq_ic(opt, "maxage") {
            match parse_i64(val) {
                Some(n) if n >= 0 => maxage = Some(n as u64),
                _ => return w.error(ERR_NOT_INT),
            }
        } else {
            return w.error(ERR_SYNTAX);
        }
    }
    let now = ctx.shared.store.now_ms();
    let mut killed = 0i64;
    let mut kill_me = false;
    for c in ctx.shared.clients.all() {
        let matches = id.is_none_or(|id| c.id == id)
            && addr.as_ref().is_none_or(|a| c.addr.to_string() == *a)
            && laddr.as_ref().is_none_or(|a| c.laddr.to_string() == *a)
            && ctype.is_none_or(|t| t == Some(is_pubsub(&c)))
            && user.as_ref().is_none_or(|u| *u == c.user_name())
            && maxage.is_none_or(|m| now.saturating_sub(c.created_ms) / 1000 >= m);
        if !matches {
            continue;
        }
        if c.id == me.id {
            if skipme {
                continue;
            }
            kill_me = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    w.int(killed);
    if kill_me {
        me.kill();
    }
}
