//! Redis 7.0's ACL categories (`ACL CAT`, COMMAND INFO's categories, `COMMAND LIST FILTERBY
//! ACLCAT`): the 21 categories in Redis's order, and what redis-server 7.0.15 answers for every
//! command (and subcommand) Ferrite has, taken from its COMMAND INFO. Ferrite's own commands
//! (FERRITE.*, TSUBSCRIBE, ...) and subcommands Redis 7.0 does not have get categories derived
//! from their table row the way Redis derives its implicit ones (flags, then the group).
//!
//! Categories say nothing about what a token may do: permissions come from the token's grants
//! and the key specs (`resp::authz`). They are here so Redis tools and test suites that list or
//! filter by category see Redis's answers.

use crate::resp::dispatch::{flags, table, CommandSpec};

/// Category names in Redis's order (`ACLCommandCategories`): bit `i` is `NAMES[i]`.
pub const NAMES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

pub const KEYSPACE: u32 = 1 << 0;
pub const READ: u32 = 1 << 1;
pub const WRITE: u32 = 1 << 2;
pub const SET: u32 = 1 << 3;
pub const SORTEDSET: u32 = 1 << 4;
pub const LIST: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const STRING: u32 = 1 << 7;
pub const BITMAP: u32 = 1 << 8;
pub const HYPERLOGLOG: u32 = 1 << 9;
pub const GEO: u32 = 1 << 10;
pub const STREAM: u32 = 1 << 11;
pub const PUBSUB: u32 = 1 << 12;
pub const ADMIN: u32 = 1 << 13;
pub const FAST: u32 = 1 << 14;
pub const SLOW: u32 = 1 << 15;
pub const BLOCKING: u32 = 1 << 16;
pub const DANGEROUS: u32 = 1 << 17;
pub const CONNECTION: u32 = 1 << 18;
pub const TRANSACTION: u32 = 1 << 19;
pub const SCRIPTING: u32 = 1 << 20;

/// The bit of a category name (case-insensitive, without the `@`).
pub fn parse(name: &[u8]) -> Option<u32> {
    NAMES
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// `@name` for every bit set, in Redis's order.
pub fn names(bits: u32) -> Vec<String> {
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| format!("@{n}"))
        .collect()
}

/// The subcommands Ferrite implements of each command that has them, as Redis 7.0 names them
/// (`config|get`): what `ACL CAT` lists instead of (and beside, as Redis does) the container.
/// `tests/redis_diff/acl.rs` checks every one answers something other than "unknown subcommand".
pub const SUBCOMMANDS: &[(&str, &[&str])] = &[
    (
        "acl",
        &[
            "cat", "deluser", "dryrun", "genpass", "getuser", "help", "list", "load", "log",
            "save", "setuser", "users", "whoami",
        ],
    ),
    (
        "client",
        &[
            "caching",
            "getname",
            "getredir",
            "help",
            "id",
            "info",
            "kill",
            "list",
            "no-evict",
            "no-touch",
            "pause",
            "reply",
            "setinfo",
            "setname",
            "tracking",
            "trackinginfo",
            "unblock",
            "unpause",
        ],
    ),
    (
        "command",
        &[
            "count",
            "docs",
            "getkeys",
            "getkeysandflags",
            "help",
            "info",
            "list",
        ],
    ),
    ("config", &["get", "help", "resetstat", "rewrite", "set"]),
    (
        "function",
        &[
            "delete", "dump", "flush", "help", "kill", "list", "load", "restore", "stats",
        ],
    ),
    (
        "memory",
        &["doctor", "help", "malloc-stats", "purge", "stats", "usage"],
    ),
    (
        "object",
        &["encoding", "freq", "help", "idletime", "refcount"],
    ),
    (
        "pubsub",
        &[
            "channels",
            "help",
            "numpat",
            "numsub",
            "shardchannels",
            "shardnumsub",
        ],
    ),
    (
        "xgroup",
        &[
            "create",
            "createconsumer",
            "delconsumer",
            "destroy",
            "help",
            "setid",
        ],
    ),
    (
        "latency",
        &[
            "doctor",
            "graph",
            "help",
            "histogram",
            "history",
            "latest",
            "reset",
        ],
    ),
    (
        "script",
        &["debug", "exists", "flush", "help", "kill", "load"],
    ),
    ("slowlog", &["get", "help", "len", "reset"]),
    ("xinfo", &["consumers", "groups", "help", "stream"]),
];

/// The implemented subcommands of `container` (empty for a plain command).
pub fn subcommands(container: &str) -> &'static [&'static str] {
    SUBCOMMANDS
        .iter()
        .find(|(c, _)| *c == container)
        .map_or(&[], |(_, s)| s)
}

/// redis-server 7.0.15's categories (COMMAND INFO) of every command and subcommand Ferrite has
/// that Redis 7.0 has too, sorted by name (binary search).
const REDIS_7_0: &[(&str, u32)] = &[
    ("acl", SLOW),
    ("acl|cat", SLOW),
    ("acl|deluser", ADMIN | SLOW | DANGEROUS),
    ("acl|dryrun", ADMIN | SLOW | DANGEROUS),
    ("acl|genpass", SLOW),
    ("acl|getuser", ADMIN | SLOW | DANGEROUS),
    ("acl|help", SLOW),
    ("acl|list", ADMIN | SLOW | DANGEROUS),
    ("acl|load", ADMIN | SLOW | DANGEROUS),
    ("acl|log", ADMIN | SLOW | DANGEROUS),
    ("acl|save", ADMIN | SLOW | DANGEROUS),
    ("acl|setuser", ADMIN | SLOW | DANGEROUS),
    ("acl|users", ADMIN | SLOW | DANGEROUS),
    ("acl|whoami", SLOW),
    ("append", WRITE | STRING | FAST),
    ("auth", FAST | CONNECTION),
    ("bgrewriteaof", ADMIN | SLOW | DANGEROUS),
    ("bgsave", ADMIN | SLOW | DANGEROUS),
    ("bitcount", READ | BITMAP | SLOW),
    ("bitfield", WRITE | BITMAP | SLOW),
    ("bitfield_ro", READ | BITMAP | FAST),
    ("bitop", WRITE | BITMAP | SLOW),
    ("bitpos", READ | BITMAP | SLOW),
    ("blmove", WRITE | LIST | SLOW | BLOCKING),
    ("blmpop", WRITE | LIST | SLOW | BLOCKING),
    ("blpop", WRITE | LIST | SLOW | BLOCKING),
    ("brpop", WRITE | LIST | SLOW | BLOCKING),
    ("brpoplpush", WRITE | LIST | SLOW | BLOCKING),
    ("bzmpop", WRITE | SORTEDSET | SLOW | BLOCKING),
    ("bzpopmax", WRITE | SORTEDSET | FAST | BLOCKING),
    ("bzpopmin", WRITE | SORTEDSET | FAST | BLOCKING),
    ("client", SLOW),
    ("client|caching", SLOW | CONNECTION),
    ("client|getname", SLOW | CONNECTION),
    ("client|getredir", SLOW | CONNECTION),
    ("client|help", SLOW | CONNECTION),
    ("client|id", SLOW | CONNECTION),
    ("client|info", SLOW | CONNECTION),
    ("client|kill", ADMIN | SLOW | DANGEROUS | CONNECTION),
    ("client|list", ADMIN | SLOW | DANGEROUS | CONNECTION),
    ("client|no-evict", ADMIN | SLOW | DANGEROUS | CONNECTION),
    ("client|pause", ADMIN | SLOW | DANGEROUS | CONNECTION),
    ("client|reply", SLOW | CONNECTION),
    ("client|setname", SLOW | CONNECTION),
    ("client|tracking", SLOW | CONNECTION),
    ("client|trackinginfo", SLOW | CONNECTION),
    ("client|unblock", ADMIN | SLOW | DANGEROUS | CONNECTION),
    ("client|unpause", ADMIN | SLOW | DANGEROUS | CONNECTION),
    ("command", SLOW | CONNECTION),
    ("command|count", SLOW | CONNECTION),
    ("command|docs", SLOW | CONNECTION),
    ("command|getkeys", SLOW | CONNECTION),
    ("command|getkeysandflags", SLOW | CONNECTION),
    ("command|help", SLOW | CONNECTION),
    ("command|info", SLOW | CONNECTION),
    ("command|list", SLOW | CONNECTION),
    ("config", SLOW),
    ("config|get", ADMIN | SLOW | DANGEROUS),
    ("config|help", SLOW),
    ("config|resetstat", ADMIN | SLOW | DANGEROUS),
    ("config|rewrite", ADMIN | SLOW | DANGEROUS),
    ("config|set", ADMIN | SLOW | DANGEROUS),
    ("copy", KEYSPACE | WRITE | SLOW),
    ("dbsize", KEYSPACE | READ | FAST),
    ("debug", ADMIN | SLOW | DANGEROUS),
    ("decr", WRITE | STRING | FAST),
    ("decrby", WRITE | STRING | FAST),
    ("del", KEYSPACE | WRITE | SLOW),
    ("discard", FAST | TRANSACTION),
    ("dump", KEYSPACE | READ | SLOW),
    ("echo", FAST | CONNECTION),
    ("eval", SLOW | SCRIPTING),
    ("eval_ro", SLOW | SCRIPTING),
    ("evalsha", SLOW | SCRIPTING),
    ("evalsha_ro", SLOW | SCRIPTING),
    ("exec", SLOW | TRANSACTION),
    ("exists", KEYSPACE | READ | FAST),
    ("expire", KEYSPACE | WRITE | FAST),
    ("expireat", KEYSPACE | WRITE | FAST),
    ("expiretime", KEYSPACE | READ | FAST),
    ("fcall", SLOW | SCRIPTING),
    ("fcall_ro", SLOW | SCRIPTING),
    ("flushall", KEYSPACE | WRITE | SLOW | DANGEROUS),
    ("flushdb", KEYSPACE | WRITE | SLOW | DANGEROUS),
    ("function", SLOW),
    ("function|delete", WRITE | SLOW | SCRIPTING),
    ("function|dump", SLOW | SCRIPTING),
    ("function|flush", WRITE | SLOW | SCRIPTING),
    ("function|help", SLOW | SCRIPTING),
    ("function|kill", SLOW | SCRIPTING),
    ("function|list", SLOW | SCRIPTING),
    ("function|load", WRITE | SLOW | SCRIPTING),
    ("function|restore", WRITE | SLOW | SCRIPTING),
    ("function|stats", SLOW | SCRIPTING),
    ("geoadd", WRITE | GEO | SLOW),
    ("geodist", READ | GEO | SLOW),
    ("geohash", READ | GEO | SLOW),
    ("geopos", READ | GEO | SLOW),
    ("georadius", WRITE | GEO | SLOW),
    ("georadius_ro", READ | GEO | SLOW),
    ("georadiusbymember", WRITE | GEO | SLOW),
    ("georadiusbymember_ro", READ | GEO | SLOW),
    ("geosearch", READ | GEO | SLOW),
    ("geosearchstore", WRITE | GEO | SLOW),
    ("get", READ | STRING | FAST),
    ("getbit", READ | BITMAP | FAST),
    ("getdel", WRITE | STRING | FAST),
    ("getex", WRITE | STRING | FAST),
    ("getrange", READ | STRING | SLOW),
    ("getset", WRITE | STRING | FAST),
    ("hdel", WRITE | HASH | FAST),
    ("hello", FAST | CONNECTION),
    ("hexists", READ | HASH | FAST),
    ("hget", READ | HASH | FAST),
    ("hgetall", READ | HASH | SLOW),
    ("hincrby", WRITE | HASH | FAST),
    ("hincrbyfloat", WRITE | HASH | FAST),
    ("hkeys", READ | HASH | SLOW),
    ("hlen", READ | HASH | FAST),
    ("hmget", READ | HASH | FAST),
    ("hmset", WRITE | HASH | FAST),
    ("hrandfield", READ | HASH | SLOW),
    ("hscan", READ | HASH | SLOW),
    ("hset", WRITE | HASH | FAST),
    ("hsetnx", WRITE | HASH | FAST),
    ("hstrlen", READ | HASH | FAST),
    ("hvals", READ | HASH | SLOW),
    ("incr", WRITE | STRING | FAST),
    ("incrby", WRITE | STRING | FAST),
    ("incrbyfloat", WRITE | STRING | FAST),
    ("info", SLOW | DANGEROUS),
    ("keys", KEYSPACE | READ | SLOW | DANGEROUS),
    ("lastsave", ADMIN | FAST | DANGEROUS),
    ("latency", SLOW),
    ("latency|doctor", ADMIN | SLOW | DANGEROUS),
    ("latency|graph", ADMIN | SLOW | DANGEROUS),
    ("latency|help", SLOW),
    ("latency|histogram", ADMIN | SLOW | DANGEROUS),
    ("latency|history", ADMIN | SLOW | DANGEROUS),
    ("latency|latest", ADMIN | SLOW | DANGEROUS),
    ("latency|reset", ADMIN | SLOW | DANGEROUS),
    ("lcs", READ | STRING | SLOW),
    ("lindex", READ | LIST | SLOW),
    ("linsert", WRITE | LIST | SLOW),
    ("llen", READ | LIST | FAST),
    ("lmove", WRITE | LIST | SLOW),
    ("lmpop", WRITE | LIST | SLOW),
    ("lolwut", READ | FAST),
    ("lpop", WRITE | LIST | FAST),
    ("lpos", READ | LIST | SLOW),
    ("lpush", WRITE | LIST | FAST),
    ("lpushx", WRITE | LIST | FAST),
    ("lrange", READ | LIST | SLOW),
    ("lrem", WRITE | LIST | SLOW),
    ("lset", WRITE | LIST | SLOW),
    ("ltrim", WRITE | LIST | SLOW),
    ("memory", SLOW),
    ("memory|doctor", SLOW),
    ("memory|help", SLOW),
    ("memory|malloc-stats", SLOW),
    ("memory|purge", SLOW),
    ("memory|stats", SLOW),
    ("memory|usage", READ | SLOW),
    ("mget", READ | STRING | FAST),
    ("migrate", KEYSPACE | WRITE | SLOW | DANGEROUS),
    ("monitor", ADMIN | SLOW | DANGEROUS),
    ("move", KEYSPACE | WRITE | FAST),
    ("mset", WRITE | STRING | SLOW),
    ("msetnx", WRITE | STRING | SLOW),
    ("multi", FAST | TRANSACTION),
    ("object", SLOW),
    ("object|encoding", KEYSPACE | READ | SLOW),
    ("object|freq", KEYSPACE | READ | SLOW),
    ("object|help", KEYSPACE | SLOW),
    ("object|idletime", KEYSPACE | READ | SLOW),
    ("object|refcount", KEYSPACE | READ | SLOW),
    ("persist", KEYSPACE | WRITE | FAST),
    ("pexpire", KEYSPACE | WRITE | FAST),
    ("pexpireat", KEYSPACE | WRITE | FAST),
    ("pexpiretime", KEYSPACE | READ | FAST),
    ("pfadd", WRITE | HYPERLOGLOG | FAST),
    ("pfcount", READ | HYPERLOGLOG | SLOW),
    ("pfdebug", WRITE | HYPERLOGLOG | ADMIN | SLOW | DANGEROUS),
    ("pfmerge", WRITE | HYPERLOGLOG | SLOW),
    ("pfselftest", HYPERLOGLOG | ADMIN | SLOW | DANGEROUS),
    ("ping", FAST | CONNECTION),
    ("psetex", WRITE | STRING | SLOW),
    ("psubscribe", PUBSUB | SLOW),
    ("pttl", KEYSPACE | READ | FAST),
    ("publish", PUBSUB | FAST),
    ("pubsub", SLOW),
    ("pubsub|channels", PUBSUB | SLOW),
    ("pubsub|help", SLOW),
    ("pubsub|numpat", PUBSUB | SLOW),
    ("pubsub|numsub", PUBSUB | SLOW),
    ("pubsub|shardchannels", PUBSUB | SLOW),
    ("pubsub|shardnumsub", PUBSUB | SLOW),
    ("punsubscribe", PUBSUB | SLOW),
    ("quit", FAST | CONNECTION),
    ("randomkey", KEYSPACE | READ | SLOW),
    ("rename", KEYSPACE | WRITE | SLOW),
    ("renamenx", KEYSPACE | WRITE | FAST),
    ("reset", FAST | CONNECTION),
    ("restore", KEYSPACE | WRITE | SLOW | DANGEROUS),
    ("role", ADMIN | FAST | DANGEROUS),
    ("rpop", WRITE | LIST | FAST),
    ("rpoplpush", WRITE | LIST | SLOW),
    ("rpush", WRITE | LIST | FAST),
    ("rpushx", WRITE | LIST | FAST),
    ("sadd", WRITE | SET | FAST),
    ("save", ADMIN | SLOW | DANGEROUS),
    ("scan", KEYSPACE | READ | SLOW),
    ("scard", READ | SET | FAST),
    ("script", SLOW),
    ("script|debug", SLOW | SCRIPTING),
    ("script|exists", SLOW | SCRIPTING),
    ("script|flush", SLOW | SCRIPTING),
    ("script|help", SLOW | SCRIPTING),
    ("script|kill", SLOW | SCRIPTING),
    ("script|load", SLOW | SCRIPTING),
    ("sdiff", READ | SET | SLOW),
    ("sdiffstore", WRITE | SET | SLOW),
    ("select", FAST | CONNECTION),
    ("set", WRITE | STRING | SLOW),
    ("setbit", WRITE | BITMAP | SLOW),
    ("setex", WRITE | STRING | SLOW),
    ("setnx", WRITE | STRING | FAST),
    ("setrange", WRITE | STRING | SLOW),
    ("shutdown", ADMIN | SLOW | DANGEROUS),
    ("sinter", READ | SET | SLOW),
    ("sintercard", READ | SET | SLOW),
    ("sinterstore", WRITE | SET | SLOW),
    ("sismember", READ | SET | FAST),
    ("slowlog", SLOW),
    ("slowlog|get", ADMIN | SLOW | DANGEROUS),
    ("slowlog|help", SLOW),
    ("slowlog|len", ADMIN | SLOW | DANGEROUS),
    ("slowlog|reset", ADMIN | SLOW | DANGEROUS),
    ("smembers", READ | SET | SLOW),
    ("smismember", READ | SET | FAST),
    ("smove", WRITE | SET | FAST),
    ("sort", WRITE | SET | SORTEDSET | LIST | SLOW | DANGEROUS),
    ("sort_ro", READ | SET | SORTEDSET | LIST | SLOW | DANGEROUS),
    ("spop", WRITE | SET | FAST),
    ("spublish", PUBSUB | FAST),
    ("srandmember", READ | SET | SLOW),
    ("srem", WRITE | SET | FAST),
    ("sscan", READ | SET | SLOW),
    ("ssubscribe", PUBSUB | SLOW),
    ("strlen", READ | STRING | FAST),
    ("subscribe", PUBSUB | SLOW),
    ("substr", READ | STRING | SLOW),
    ("sunion", READ | SET | SLOW),
    ("sunionstore", WRITE | SET | SLOW),
    ("sunsubscribe", PUBSUB | SLOW),
    ("swapdb", KEYSPACE | WRITE | FAST | DANGEROUS),
    ("time", FAST),
    ("touch", KEYSPACE | READ | FAST),
    ("ttl", KEYSPACE | READ | FAST),
    ("type", KEYSPACE | READ | FAST),
    ("unlink", KEYSPACE | WRITE | FAST),
    ("unsubscribe", PUBSUB | SLOW),
    ("unwatch", FAST | TRANSACTION),
    ("watch", FAST | TRANSACTION),
    ("xack", WRITE | STREAM | FAST),
    ("xadd", WRITE | STREAM | FAST),
    ("xautoclaim", WRITE | STREAM | FAST),
    ("xclaim", WRITE | STREAM | FAST),
    ("xdel", WRITE | STREAM | FAST),
    ("xgroup", SLOW),
    ("xgroup|create", WRITE | STREAM | SLOW),
    ("xgroup|createconsumer", WRITE | STREAM | SLOW),
    ("xgroup|delconsumer", WRITE | STREAM | SLOW),
    ("xgroup|destroy", WRITE | STREAM | SLOW),
    ("xgroup|help", STREAM | SLOW),
    ("xgroup|setid", WRITE | STREAM | SLOW),
    ("xinfo", SLOW),
    ("xinfo|consumers", READ | STREAM | SLOW),
    ("xinfo|groups", READ | STREAM | SLOW),
    ("xinfo|help", STREAM | SLOW),
    ("xinfo|stream", READ | STREAM | SLOW),
    ("xlen", READ | STREAM | FAST),
    ("xpending", READ | STREAM | SLOW),
    ("xrange", READ | STREAM | SLOW),
    ("xread", READ | STREAM | SLOW | BLOCKING),
    ("xreadgroup", WRITE | STREAM | SLOW | BLOCKING),
    ("xrevrange", READ | STREAM | SLOW),
    ("xsetid", WRITE | STREAM | FAST),
    ("xtrim", WRITE | STREAM | SLOW),
    ("zadd", WRITE | SORTEDSET | FAST),
    ("zcard", READ | SORTEDSET | FAST),
    ("zcount", READ | SORTEDSET | FAST),
    ("zdiff", READ | SORTEDSET | SLOW),
    ("zdiffstore", WRITE | SORTEDSET | SLOW),
    ("zincrby", WRITE | SORTEDSET | FAST),
    ("zinter", READ | SORTEDSET | SLOW),
    ("zintercard", READ | SORTEDSET | SLOW),
    ("zinterstore", WRITE | SORTEDSET | SLOW),
    ("zlexcount", READ | SORTEDSET | FAST),
    ("zmpop", WRITE | SORTEDSET | SLOW),
    ("zmscore", READ | SORTEDSET | FAST),
    ("zpopmax", WRITE | SORTEDSET | FAST),
    ("zpopmin", WRITE | SORTEDSET | FAST),
    ("zrandmember", READ | SORTEDSET | SLOW),
    ("zrange", READ | SORTEDSET | SLOW),
    ("zrangebylex", READ | SORTEDSET | SLOW),
    ("zrangebyscore", READ | SORTEDSET | SLOW),
    ("zrangestore", WRITE | SORTEDSET | SLOW),
    ("zrank", READ | SORTEDSET | FAST),
    ("zrem", WRITE | SORTEDSET | FAST),
    ("zremrangebylex", WRITE | SORTEDSET | SLOW),
    ("zremrangebyrank", WRITE | SORTEDSET | SLOW),
    ("zremrangebyscore", WRITE | SORTEDSET | SLOW),
    ("zrevrange", READ | SORTEDSET | SLOW),
    ("zrevrangebylex", READ | SORTEDSET | SLOW),
    ("zrevrangebyscore", READ | SORTEDSET | SLOW),
    ("zrevrank", READ | SORTEDSET | FAST),
    ("zscan", READ | SORTEDSET | SLOW),
    ("zscore", READ | SORTEDSET | FAST),
    ("zunion", READ | SORTEDSET | SLOW),
    ("zunionstore", WRITE | SORTEDSET | SLOW),
];

/// Redis 7.0's categories of a command or subcommand (`config|get`), None for names Redis 7.0
/// does not have.
pub fn redis(name: &str) -> Option<u32> {
    REDIS_7_0
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| REDIS_7_0[i].1)
}

/// Categories derived from a table row, as Redis derives its implicit ones (`setImplicitACLCategories`:
/// write, readonly, admin → admin + dangerous, pubsub, fast, else slow, blocking) plus the
/// group's own category: for commands Redis does not have.
fn derived(spec: &CommandSpec) -> u32 {
    let mut c = match spec.group {
        "generic" => KEYSPACE,
        "string" => STRING,
        "hash" => HASH,
        "list" => LIST,
        "set" => SET,
        "sortedset" => SORTEDSET,
        "stream" => STREAM,
        "geo" => GEO,
        "bitmap" => BITMAP,
        "hyperloglog" => HYPERLOGLOG,
        "pubsub" => PUBSUB,
        "connection" => CONNECTION,
        "transactions" => TRANSACTION,
        "scripting" => SCRIPTING,
        _ => 0,
    };
    if spec.has(flags::WRITE) {
        c |= WRITE;
    }
    if spec.has(flags::READONLY) {
        c |= READ;
    }
    if spec.has(flags::ADMIN | flags::SUPER) {
        c |= ADMIN | DANGEROUS;
    }
    if spec.has(flags::BLOCKING) {
        c |= BLOCKING;
    }
    c | if spec.has(flags::FAST) { FAST } else { SLOW }
}

/// The categories of a command: Redis 7.0's for a Redis command, derived for Ferrite's own.
pub fn of_spec(spec: &CommandSpec) -> u32 {
    redis(spec.name).unwrap_or_else(|| derived(spec))
}

/// The categories of `container|sub`: Redis 7.0's, or for subcommands Redis 7.0 lacks (CLIENT
/// SETINFO and NO-TOUCH are 7.2's) the container's group category and `@slow`, as Redis 7.2
/// gives those two.
pub fn of_subcommand(spec: &CommandSpec, sub: &str) -> u32 {
    redis(&format!("{}|{sub}", spec.name)).unwrap_or_else(|| (derived(spec) & CONNECTION) | SLOW)
}

/// Every command and implemented subcommand in category `cat` (`ACL CAT <cat>`; Redis lists a
/// container when the container itself is in the category, and each subcommand that is), in
/// name order.
pub fn commands_in(cat: u32) -> Vec<String> {
    let mut specs: Vec<&'static CommandSpec> = table().values().copied().collect();
    specs.sort_by_key(|s| s.name);
    let mut out = Vec::new();
    for spec in specs {
        if of_spec(spec) & cat != 0 {
            out.push(spec.name.to_string());
        }
        for sub in subcommands(spec.name) {
            if of_subcommand(spec, sub) & cat != 0 {
                out.push(format!("{}|{sub}", spec.name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_table_is_sorted_for_binary_search() {
        assert!(REDIS_7_0.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn table_is_sorted_and_knows_every_redis_command() {
        assert!(REDIS_7_0.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(redis("get"), Some(READ | STRING | FAST));
        assert_eq!(redis("config|set"), Some(ADMIN | SLOW | DANGEROUS));
        assert_eq!(redis("nosuch"), None);
        // Every name in the table is a command Ferrite has, or an implemented subcommand.
        for (name, _) in REDIS_7_0 {
            match name.split_once('|') {
                Some((c, s)) => assert!(subcommands(c).contains(&s), "{name}"),
                None => assert!(table().contains_key(name), "{name}"),
            }
        }
        for (c, _) in SUBCOMMANDS {
            assert!(table().contains_key(c), "{c}");
        }
    }

    #[test]
    fn names_follow_redis_order() {
        assert_eq!(names(WRITE | STRING | FAST), ["@write", "@string", "@fast"]);
        assert_eq!(parse(b"SortedSet"), Some(SORTEDSET));
        assert_eq!(parse(b"@read"), None);
    }
}
