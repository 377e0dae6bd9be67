//! Redis's tuning parameters that Ferrite has no use for but Redis users and test suites set and
//! read back: CONFIG SET validates each the way Redis 7.0 does (type, range, the error text) and
//! CONFIG GET reports the value set (aliases too: `hash-max-ziplist-entries` is
//! `hash-max-listpack-entries`). A `start_server {overrides {...}}` block of Redis's own test
//! suite that sets one it does not know skips the whole unit, and tools read them back.
//!
//! None of these change Ferrite's behaviour (its encodings, expiry cycle, eviction sampling and
//! logging are its own; docs/compatibility.md lists them), except `acllog-max-len`, which bounds
//! the ACL LOG as in Redis, and the `*-max-listpack-*` thresholds DUMP follows. The parameters Ferrite does apply
//! (`maxmemory`, `maxmemory-policy`, `timeout`, `notify-keyspace-events`, `hll-sparse-max-bytes`, ...) are in
//! `commands/server.rs`, not here.

use std::collections::HashMap;

use parking_lot::RwLock;

#[derive(Clone, Copy)]
enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Memory {
        min: i64,
        max: i64,
    },
    Bool,
    Enum(&'static [&'static str]),
    Str,
    /// Set at start only: CONFIG SET answers "can't set immutable config".
    Immutable,
    /// A protected config (`enable-protected-configs no`): "can't set protected config".
    Protected,
}

struct Param {
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
}

const LONG_MAX: i64 = i64::MAX;
const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const fn mem(min: i64, max: i64) -> Kind {
    Kind::Memory { min, max }
}
const fn p(
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias,
        kind,
        default,
    }
}

/// Name, alias, type and range, default: as Redis 7.0's config.c declares them.
const PARAMS: &[Param] = &[
    p(
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
        int(0, LONG_MAX),
        "512",
    ),
    p(
        "hash-max-listpack-value",
        Some("hash-max-ziplist-value"),
        mem(0, LONG_MAX),
        "64",
    ),
    p("set-max-intset-entries", None, int(0, LONG_MAX), "512"),
    p(
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
        int(0, LONG_MAX),
        "128",
    ),
    p(
        "zset-max-listpack-value",
        Some("zset-max-ziplist-value"),
        mem(0, LONG_MAX),
        "64",
    ),
    p(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        int(INT_MIN, INT_MAX),
        "-2",
    ),
    p("list-compress-depth", None, int(0, INT_MAX), "0"),
    p("stream-node-max-bytes", None, mem(0, LONG_MAX), "4096"),
    p("stream-node-max-entries", None, int(0, LONG_MAX), "100"),
    p(
        "busy-reply-threshold",
        Some("lua-time-limit"),
        int(0, LONG_MAX),
        "5000",
    ),
    p("slowlog-log-slower-than", None, int(-1, LONG_MAX), "10000"),
    p("slowlog-max-len", None, int(0, LONG_MAX), "128"),
    // Applied: the ACL LOG's bound (`resp::acl::log`).
    p("acllog-max-len", None, int(0, LONG_MAX), "128"),
    p("latency-monitor-threshold", None, int(0, LONG_MAX), "0"),
    p("latency-tracking", None, Kind::Bool, "yes"),
    p(
        "latency-tracking-info-percentiles",
        None,
        Kind::Str,
        "50 99 99.9",
    ),
    p("activerehashing", None, Kind::Bool, "yes"),
    p("activedefrag", None, Kind::Bool, "no"),
    p("lazyfree-lazy-eviction", None, Kind::Bool, "no"),
    p("lazyfree-lazy-expire", None, Kind::Bool, "no"),
    p("lazyfree-lazy-server-del", None, Kind::Bool, "no"),
    p("lazyfree-lazy-user-del", None, Kind::Bool, "no"),
    p("lazyfree-lazy-user-flush", None, Kind::Bool, "no"),
    p("hz", None, int(0, INT_MAX), "10"),
    p("dynamic-hz", None, Kind::Bool, "yes"),
    p("active-expire-effort", None, int(1, 10), "1"),
    p("lfu-log-factor", None, int(0, INT_MAX), "10"),
    p("lfu-decay-time", None, int(0, INT_MAX), "1"),
    p("tracking-table-max-keys", None, int(0, LONG_MAX), "1000000"),
    p("stop-writes-on-bgsave-error", None, Kind::Bool, "yes"),
    p("rdbcompression", None, Kind::Bool, "yes"),
    p("rdbchecksum", None, Kind::Bool, "yes"),
    p(
        "appendfsync",
        None,
        Kind::Enum(&["everysec", "always", "no"]),
        "everysec",
    ),
    p(
        "loglevel",
        None,
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
    ),
    p(
        "client-output-buffer-limit",
        None,
        Kind::Str,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p("active-defrag-cycle-min", None, int(1, 99), "1"),
    p("active-defrag-cycle-max", None, int(1, 99), "25"),
    p(
        "active-defrag-ignore-bytes",
        None,
        mem(1, LONG_MAX),
        "104857600",
    ),
    p(
        "active-defrag-max-scan-fields",
        None,
        int(1, LONG_MAX),
        "1000",
    ),
    p("active-defrag-threshold-lower", None, int(0, 1000), "10"),
    p("active-defrag-threshold-upper", None, int(0, 1000), "100"),
    p("aof-use-rdb-preamble", None, Kind::Bool, "yes"),
    p("auto-aof-rewrite-percentage", None, int(0, INT_MAX), "100"),
    p(
        "auto-aof-rewrite-min-size",
        None,
        mem(0, LONG_MAX),
        "67108864",
    ),
    p("key-load-delay", None, int(INT_MIN, INT_MAX), "0"),
    p("rdb-key-save-delay", None, int(INT_MIN, INT_MAX), "0"),
    p("maxmemory-eviction-tenacity", None, int(0, 100), "10"),
    p("maxmemory-clients", None, Kind::Str, "0"),
    p(
        "min-replicas-to-write",
        Some("min-slaves-to-write"),
        int(0, INT_MAX),
        "0",
    ),
    p(
        "min-replicas-max-lag",
        Some("min-slaves-max-lag"),
        int(0, INT_MAX),
        "10",
    ),
    p("repl-backlog-size", None, mem(1, LONG_MAX), "1048576"),
    p("repl-backlog-ttl", None, int(0, INT_MAX), "3600"),
    p(
        "repl-diskless-load",
        None,
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
    ),
    p("repl-diskless-sync", None, Kind::Bool, "yes"),
    p("repl-diskless-sync-delay", None, int(0, INT_MAX), "5"),
    p(
        "repl-diskless-sync-max-replicas",
        None,
        int(0, INT_MAX),
        "0",
    ),
    p("repl-disable-tcp-nodelay", None, Kind::Bool, "no"),
    p(
        "repl-ping-replica-period",
        Some("repl-ping-slave-period"),
        int(1, INT_MAX),
        "10",
    ),
    p("repl-timeout", None, int(1, INT_MAX), "60"),
    p(
        "replica-read-only",
        Some("slave-read-only"),
        Kind::Bool,
        "yes",
    ),
    p(
        "replica-serve-stale-data",
        Some("slave-serve-stale-data"),
        Kind::Bool,
        "yes",
    ),
    p(
        "replica-priority",
        Some("slave-priority"),
        int(0, INT_MAX),
        "100",
    ),
    p(
        "replica-lazy-flush",
        Some("slave-lazy-flush"),
        Kind::Bool,
        "no",
    ),
    p("shutdown-on-sigint", None, Kind::Str, "default"),
    p("shutdown-on-sigterm", None, Kind::Str, "default"),
    p(
        "oom-score-adj",
        None,
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        "no",
    ),
    p("oom-score-adj-values", None, Kind::Str, "0 200 800"),
    p("protected-mode", None, Kind::Bool, "yes"),
    p(
        "acl-pubsub-default",
        None,
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
    ),
    p("cluster-announce-port", None, int(0, 65535), "0"),
    p("cluster-announce-bus-port", None, int(0, 65535), "0"),
    p("cluster-announce-tls-port", None, int(0, 65535), "0"),
    p("tls-port", None, int(0, 65535), "0"),
    p(
        "tls-auth-clients",
        None,
        Kind::Enum(&["no", "yes", "optional"]),
        "yes",
    ),
    p("tls-prefer-server-ciphers", None, Kind::Bool, "no"),
    p("cluster-enabled", None, Kind::Immutable, "no"),
    p("daemonize", None, Kind::Immutable, "no"),
    p("enable-module-command", None, Kind::Immutable, "no"),
    p("enable-protected-configs", None, Kind::Immutable, "no"),
    p("enable-debug-command", None, Kind::Immutable, "yes"),
    p("masterauth", None, Kind::Str, ""),
    p("masteruser", None, Kind::Str, ""),
    p("dir", None, Kind::Protected, "/"),
    p("dbfilename", None, Kind::Protected, "dump.rdb"),
];

fn find(name: &str) -> Option<&'static Param> {
    PARAMS
        .iter()
        .find(|p| p.name == name || p.alias == Some(name))
}

/// The values set since start (defaults otherwise); one per server.
#[derive(Default)]
pub struct RedisParams {
    values: RwLock<HashMap<&'static str, String>>,
}

impl RedisParams {
    /// Every name CONFIG GET may match, aliases included.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PARAMS
            .iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.alias))
    }

    pub fn knows(name: &str) -> bool {
        find(name).is_some()
    }

    /// The current value of a parameter or alias (None for a name not in the table).
    pub fn get(&self, name: &str) -> Option<String> {
        let p = find(name)?;
        Some(
            self.values
                .read()
                .get(p.name)
                .cloned()
                .unwrap_or_else(|| p.default.to_string()),
        )
    }

    /// Redis's validation of `value` for `name`: the value as CONFIG GET will report it, or the
    /// reason CONFIG SET gives (after "... - "). None when `name` is not in the table.
    pub fn check(name: &str, value: &str) -> Option<Result<String, String>> {
        let p = find(name)?;
        let range = |n: i64, min: i64, max: i64| {
            if n < min || n > max {
                Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ))
            } else {
                Ok(n.to_string())
            }
        };
        if p.name == "latency-tracking-info-percentiles" {
            let mut out = Vec::new();
            for v in value.split_whitespace() {
                let Ok(f) = v.parse::<f64>() else {
                    return Some(Err(
                        "Invalid latency-tracking-info-percentiles parameters".into()
                    ));
                };
                if !(0.0..=100.0).contains(&f) {
                    return Some(Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into()));
                }
                out.push(ferrite_resp::double_to_string(f));
            }
            return Some(Ok(out.join(" ")));
        }
        Some(match p.kind {
            Kind::Int { min, max } => match value.parse::<i64>() {
                Ok(n) => range(n, min, max),
                Err(_) => Err("argument couldn't be parsed into an integer".into()),
            },
            Kind::Memory { min, max } => match ferrite_config::parse_memory_size(value) {
                Ok(n) => range(i64::try_from(n).unwrap_or(i64::MAX), min, max),
                Err(_) => Err("argument must be a memory value".into()),
            },
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Enum(options) => {
                let v = value.to_ascii_lowercase();
                if options.contains(&v.as_str()) {
                    Ok(v)
                } else {
                    Err(format!(
                        "argument(s) must be one of the following: {}",
                        options.join(", ")
                    ))
                }
            }
            Kind::Str => Ok(value.to_string()),
            Kind::Immutable => Err("can't set immutable config".into()),
            Kind::Protected => Err("can't set protected config".into()),
        })
    }

    /// The encoding thresholds DUMP and OBJECT ENCODING follow (`hash-max-listpack-*`, ...):
    /// the one place these report-only parameters change what Ferrite answers.
    pub fn rdb_thresholds(&self) -> ferrite_rdb::Thresholds {
        let int = |name: &str, default: i64| {
            self.get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        let size = |name: &str, default: i64| int(name, default).max(0) as usize;
        ferrite_rdb::Thresholds {
            hash_max_listpack_entries: size("hash-max-listpack-entries", 512),
            hash_max_listpack_value: size("hash-max-listpack-value", 64),
            zset_max_listpack_entries: size("zset-max-listpack-entries", 128),
            zset_max_listpack_value: size("zset-max-listpack-value", 64),
            set_max_intset_entries: size("set-max-intset-entries", 512),
            list_max_listpack_size: int("list-max-listpack-size", -2),
            // The stream layout model uses Redis's defaults (report-only parameters): DUMP cuts
            // nodes where the model does.
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            rdbcompression: self.get("rdbcompression").as_deref() != Some("no"),
        }
    }

    /// Store a value [`check`](Self::check) accepted.
    pub fn set(&self, name: &str, checked: String) {
        if let Some(p) = find(name) {
            self.values.write().insert(p.name, checked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_redis() {
        assert_eq!(
            RedisParams::check("hash-max-ziplist-entries", "12"),
            Some(Ok("12".into()))
        );
        assert_eq!(
            RedisParams::check("active-expire-effort", "11"),
            Some(Err("argument must be between 1 and 10 inclusive".into()))
        );
        assert_eq!(
            RedisParams::check("hz", "x"),
            Some(Err("argument couldn't be parsed into an integer".into()))
        );
        assert_eq!(
            RedisParams::check("activerehashing", "YES"),
            Some(Ok("yes".into()))
        );
        assert_eq!(
            RedisParams::check("stream-node-max-bytes", "4kb"),
            Some(Ok("4096".into()))
        );
        assert!(RedisParams::check("no-such-thing", "1").is_none());
        let p = RedisParams::default();
        p.set("zset-max-ziplist-entries", "7".into());
        assert_eq!(p.get("zset-max-listpack-entries").as_deref(), Some("7"));
        assert_eq!(p.get("zset-max-ziplist-entries").as_deref(), Some("7"));
        assert_eq!(p.get("slowlog-max-len").as_deref(), Some("128"));
    }
}
