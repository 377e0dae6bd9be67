//! Every command in the RESP command table, run by scoped tokens against keys inside and outside
//! their scope (issue 12 finding 2): none may read or change a key outside its scope.
//!
//! The walk iterates `ferrite::resp::dispatch::table()`, so a new command is covered without
//! touching this file: commands without a template below get arguments built from their key
//! specs (keys where the specs say, `1` at a `numkeys`, filler up to the arity). Each template
//! is run once with every key slot in scope, then for each slot twice with that slot replaced by
//! a foreign key: one of the type the command expects there, one of another type. Before every run all keys are re-seeded through a
//! super-user connection; after it the keys outside the token's scope are compared with the
//! seed (TYPE, TTL presence and full contents) and the reply is searched for foreign data
//! (values marked `FOREIGN`, numbers containing `9191919`, foreign key names).
//!
//! Token kinds: one key (read-write on exactly `mine:x`), one prefix (read-write on `mine:`),
//! read-only on every key (nothing may change), write-only on every key (nothing may be read).

mod common;

use std::collections::BTreeMap;

use common::tokens::TokenServer;
use common::{try_read_line, RawConn};
use ferrite::resp::dispatch::{ks, table, BeginSearch, CommandSpec, FindKeys};
use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};

const APP: &str = "app";
/// Data types of the seeded keys: string, integer string, hash, list, set, sorted set, stream
/// (one entry, group `g` with it pending for consumer `c`).
const TYPES: [char; 7] = ['s', 'i', 'h', 'l', 'S', 'z', 't'];

/// Argument templates: `{t}` is a key slot holding type `t` (`n`: any, seeded as a string).
fn templates() -> BTreeMap<&'static str, Vec<&'static str>> {
    let rows: &[(&str, &[&str])] = &[
        ("get", &["{s}"]),
        (
            "set",
            &["{s} v", "{s} v GET", "{s} v NX", "{s} v XX KEEPTTL"],
        ),
        ("setnx", &["{s} v"]),
        ("setex", &["{s} 100 v"]),
        ("psetex", &["{s} 100000 v"]),
        ("mget", &["{s} {s}"]),
        ("mset", &["{s} v {s} w"]),
        ("msetnx", &["{s} v {n} w"]),
        ("getset", &["{s} v"]),
        ("getdel", &["{s}"]),
        ("getex", &["{s}", "{s} PERSIST", "{s} EX 100"]),
        ("incr", &["{i}"]),
        ("decr", &["{i}"]),
        ("incrby", &["{i} 2"]),
        ("decrby", &["{i} 2"]),
        ("incrbyfloat", &["{i} 1.5"]),
        ("append", &["{s} x"]),
        ("strlen", &["{s}"]),
        ("getrange", &["{s} 0 -1"]),
        ("substr", &["{s} 0 -1"]),
        ("setrange", &["{s} 1 x"]),
        ("setbit", &["{s} 1 1"]),
        ("getbit", &["{s} 1"]),
        ("bitcount", &["{s}", "{s} 0 -1 BIT"]),
        ("bitpos", &["{s} 1", "{s} 0 0 -1 BIT"]),
        ("bitop", &["AND {n} {s} {s}", "NOT {n} {s}"]),
        (
            "bitfield",
            &["{s} GET u8 0", "{s} SET u8 0 1 OVERFLOW SAT INCRBY i5 #1 1"],
        ),
        ("bitfield_ro", &["{s} GET u8 0 GET i4 #1"]),
        ("lcs", &["{s} {s}", "{s} {s} IDX WITHMATCHLEN"]),
        ("del", &["{n} {n}"]),
        ("unlink", &["{n} {n}"]),
        ("exists", &["{n} {n}"]),
        ("touch", &["{n}"]),
        ("expire", &["{n} 100", "{n} 100 NX"]),
        ("pexpire", &["{n} 100000", "{n} 100000 GT"]),
        ("expireat", &["{n} 99999999999"]),
        ("pexpireat", &["{n} 99999999999000"]),
        ("expiretime", &["{n}"]),
        ("pexpiretime", &["{n}"]),
        ("ttl", &["{n}"]),
        ("pttl", &["{n}"]),
        ("persist", &["{n}"]),
        ("type", &["{n}"]),
        ("rename", &["{n} {n}"]),
        ("renamenx", &["{n} {n}"]),
        ("copy", &["{n} {n}", "{n} {n} REPLACE", "{n} {n} DB 1"]),
        // other databases are other caches (`app-db1`), outside every token here
        ("move", &["{n} 1"]),
        ("swapdb", &["0 1"]),
        ("object", &["ENCODING {n}", "FREQ {n}", "IDLETIME {n}"]),
        ("memory", &["USAGE {n}"]),
        ("hset", &["{h} f v"]),
        ("hmset", &["{h} f v"]),
        ("hsetnx", &["{h} f2 v"]),
        ("hget", &["{h} f"]),
        ("hmget", &["{h} f n"]),
        ("hgetall", &["{h}"]),
        ("hdel", &["{h} f"]),
        ("hlen", &["{h}"]),
        ("hexists", &["{h} f"]),
        ("hincrby", &["{h} n 1"]),
        ("hincrbyfloat", &["{h} n 1.5"]),
        ("hkeys", &["{h}"]),
        ("hvals", &["{h}"]),
        ("hstrlen", &["{h} f"]),
        // HyperLogLogs: the seeded strings are not HLLs (WRONGTYPE), a missing key is made one.
        ("pfadd", &["{n} a b"]),
        ("pfcount", &["{n}", "{n} {n}"]),
        ("pfmerge", &["{n} {n}", "{n} {n} {n}"]),
        (
            "pfdebug",
            &["ENCODING {n}", "DECODE {n}", "GETREG {n}", "TODENSE {n}"],
        ),
        ("pfselftest", &[""]),
        ("hscan", &["{h} 0"]),
        ("hrandfield", &["{h} 2 WITHVALUES"]),
        ("lpush", &["{l} v"]),
        ("rpush", &["{l} v"]),
        ("lpushx", &["{l} v"]),
        ("rpushx", &["{l} v"]),
        ("lpop", &["{l}"]),
        ("rpop", &["{l} 2"]),
        ("llen", &["{l}"]),
        ("lrange", &["{l} 0 -1"]),
        ("lindex", &["{l} 0"]),
        ("lset", &["{l} 0 v"]),
        ("lrem", &["{l} 0 m"]),
        ("ltrim", &["{l} 0 0"]),
        ("linsert", &["{l} BEFORE m v"]),
        ("lpos", &["{l} m"]),
        ("lmove", &["{l} {l} LEFT RIGHT"]),
        ("rpoplpush", &["{l} {l}"]),
        ("lmpop", &["2 {l} {l} LEFT", "1 {l} RIGHT COUNT 5"]),
        ("blpop", &["{l} {l} 0.01"]),
        ("brpop", &["{l} 0.01"]),
        ("blmove", &["{l} {l} LEFT RIGHT 0.01"]),
        ("brpoplpush", &["{l} {l} 0.01"]),
        ("blmpop", &["0.01 2 {l} {l} LEFT COUNT 2"]),
        ("sadd", &["{S} v"]),
        ("srem", &["{S} m"]),
        ("smembers", &["{S}"]),
        ("sismember", &["{S} m"]),
        ("smismember", &["{S} m v"]),
        ("scard", &["{S}"]),
        ("spop", &["{S}", "{S} 5"]),
        ("srandmember", &["{S} 2"]),
        ("smove", &["{S} {S} m"]),
        ("sunion", &["{S} {S}"]),
        ("sinter", &["{S} {S}"]),
        ("sdiff", &["{S} {S}"]),
        ("sunionstore", &["{n} {S} {S}"]),
        ("sinterstore", &["{n} {S} {S}"]),
        ("sdiffstore", &["{n} {S} {S}"]),
        ("sintercard", &["2 {S} {S}"]),
        ("sscan", &["{S} 0"]),
        ("zadd", &["{z} 1 m", "{z} NX 1 v", "{z} GT 9 m"]),
        ("zincrby", &["{z} 1 m"]),
        ("zrem", &["{z} m"]),
        ("zscore", &["{z} m"]),
        ("zmscore", &["{z} m v"]),
        ("zcard", &["{z}"]),
        ("zcount", &["{z} -inf +inf"]),
        ("zlexcount", &["{z} - +"]),
        ("zrange", &["{z} 0 -1 WITHSCORES"]),
        ("zrevrange", &["{z} 0 -1 WITHSCORES"]),
        ("zrangebyscore", &["{z} -inf +inf WITHSCORES"]),
        ("zrevrangebyscore", &["{z} +inf -inf WITHSCORES"]),
        ("zrangebylex", &["{z} - +"]),
        ("zrevrangebylex", &["{z} + -"]),
        ("zrangestore", &["{n} {z} 0 -1"]),
        ("zrank", &["{z} m"]),
        ("zrevrank", &["{z} m"]),
        ("zremrangebyrank", &["{z} 0 0"]),
        ("zremrangebyscore", &["{z} -inf +inf"]),
        ("zremrangebylex", &["{z} - +"]),
        ("zpopmin", &["{z}"]),
        ("zpopmax", &["{z} 2"]),
        ("zrandmember", &["{z} 2 WITHSCORES"]),
        ("zmpop", &["2 {z} {z} MIN", "1 {z} MAX COUNT 5"]),
        ("bzmpop", &["0.01 2 {z} {z} MAX COUNT 2"]),
        ("bzpopmin", &["{z} {z} 0.01"]),
        ("bzpopmax", &["{z} 0.01"]),
        ("zunionstore", &["{n} 2 {z} {z}"]),
        ("zinterstore", &["{n} 2 {z} {z}"]),
        ("zdiffstore", &["{n} 2 {z} {z}"]),
        ("zunion", &["2 {z} {z} WITHSCORES"]),
        ("zinter", &["2 {z} {z} WITHSCORES"]),
        ("zdiff", &["2 {z} {z} WITHSCORES"]),
        ("zintercard", &["2 {z} {z}"]),
        ("zscan", &["{z} 0"]),
        ("geoadd", &["{z} 1 2 m", "{z} NX CH 3 4 v"]),
        (
            "xadd",
            &[
                "{t} 2-0 f v",
                "{t} MAXLEN 0 * f v",
                "{t} NOMKSTREAM 3-0 f v",
            ],
        ),
        ("xrange", &["{t} - +"]),
        ("xrevrange", &["{t} + - COUNT 5"]),
        ("xlen", &["{t}"]),
        ("xdel", &["{t} 1-0"]),
        ("xtrim", &["{t} MAXLEN 0", "{t} MINID ~ 5"]),
        (
            "xread",
            &[
                "STREAMS {t} 0",
                "COUNT 5 STREAMS {t} {t} 0 0",
                "BLOCK 1 STREAMS {t} $",
            ],
        ),
        (
            "xreadgroup",
            &[
                "GROUP g c STREAMS {t} 0",
                "GROUP g c2 COUNT 5 STREAMS {t} >",
                "GROUP g c2 NOACK STREAMS {t} {t} 0 0",
            ],
        ),
        (
            "xgroup",
            &[
                "CREATE {t} g2 0",
                "CREATE {n} g2 $ MKSTREAM",
                "SETID {t} g 0",
                "DESTROY {t} g",
                "CREATECONSUMER {t} g c3",
                "DELCONSUMER {t} g c",
            ],
        ),
        ("xack", &["{t} g 1-0"]),
        (
            "xpending",
            &["{t} g", "{t} g - + 10", "{t} g IDLE 0 - + 10 c"],
        ),
        (
            "xclaim",
            &["{t} g c2 0 1-0", "{t} g c2 0 1-0 JUSTID FORCE LASTID 5-0"],
        ),
        ("xautoclaim", &["{t} g c2 0 0", "{t} g c2 0 0 JUSTID"]),
        (
            "xinfo",
            &[
                "STREAM {t}",
                "STREAM {t} FULL",
                "GROUPS {t}",
                "CONSUMERS {t} g",
            ],
        ),
        (
            "xsetid",
            &["{t} 5-0", "{t} 9-0 ENTRIESADDED 9 MAXDELETEDID 1-0"],
        ),
        ("geodist", &["{z} m MINE-z km"]),
        ("geohash", &["{z} m"]),
        ("geopos", &["{z} m v"]),
        (
            "georadius",
            &[
                "{z} 0 0 20000 km WITHCOORD WITHDIST WITHHASH",
                "{z} 0 0 20000 km STORE {n}",
                "{z} 0 0 20000 km STOREDIST {n}",
            ],
        ),
        ("georadius_ro", &["{z} 0 0 20000 km WITHDIST"]),
        (
            "georadiusbymember",
            &["{z} m 20000 km WITHHASH", "{z} m 20000 km STORE {n}"],
        ),
        ("georadiusbymember_ro", &["{z} m 20000 km WITHCOORD"]),
        (
            "geosearch",
            &[
                "{z} FROMMEMBER m BYRADIUS 20000 km WITHCOORD",
                "{z} FROMLONLAT 0 0 BYBOX 40000 40000 km WITHHASH",
            ],
        ),
        (
            "geosearchstore",
            &[
                "{n} {z} FROMLONLAT 0 0 BYRADIUS 20000 km",
                "{n} {z} FROMMEMBER m BYBOX 100 100 km STOREDIST",
            ],
        ),
        // BY/GET patterns need access to every key (refused for scoped tokens, see below).
        (
            "sort",
            &[
                "{l}",
                "{S} ALPHA DESC LIMIT 0 5",
                "{z} BY nosort STORE {n}",
                "{l} BY w_* GET # GET h_*->f",
            ],
        ),
        ("sort_ro", &["{l} ALPHA", "{z} BY nosort", "{l} GET mine:*"]),
        ("watch", &["{n}"]),
        // keyless: each must be refused or harmless for a scoped token
        ("keys", &["*"]),
        ("scan", &["0", "0 MATCH secret:*"]),
        ("randomkey", &[""]),
        ("dbsize", &[""]),
        ("flushdb", &[""]),
        ("flushall", &[""]),
        ("info", &["", "keyspace"]),
        ("config", &["GET maxmemory", "SET maxmemory 1"]),
        ("client", &["LIST", "ID", "KILL ID 999999"]),
        ("shutdown", &["NOSAVE"]),
        ("debug", &["SLEEP 0"]),
        ("echo", &["x"]),
        ("command", &["INFO get", "GETKEYS get k"]),
        ("auth", &["not-a-token"]),
        ("hello", &["3"]),
        ("select", &["0", "1"]),
        ("ferrite.revoke", &["admin"]),
        ("ferrite.metering", &[""]),
        ("publish", &["chan m"]),
        ("spublish", &["chan m"]),
        ("pubsub", &["CHANNELS"]),
        ("subscribe", &["chan"]),
        ("ssubscribe", &["chan"]),
        ("psubscribe", &["*"]),
        ("tsubscribe", &["chan"]),
        // describe only the token itself; LOG, SETUSER & co. need a super-user
        (
            "acl",
            &[
                "WHOAMI",
                "USERS",
                "LIST",
                "GETUSER x",
                "CAT",
                "LOG",
                "LOG RESET",
                "SETUSER x on",
                "DRYRUN x get k",
            ],
        ),
        ("function", &["LIST", "STATS", "DUMP", "FLUSH", "DELETE x"]),
        // scripts reach their declared keys; each command they call is checked too
        (
            "eval",
            &[
                "return(redis.call('get',KEYS[1])) 1 {s}",
                "return(redis.call('set',KEYS[1],ARGV[1])) 1 {n} v",
            ],
        ),
        ("eval_ro", &["return(redis.call('get',KEYS[1])) 1 {s}"]),
        // the SHA-1 of EVAL's first script, which runs before (the table is in name order)
        (
            "evalsha",
            &["c77382aa965ed715a9230ae8a1d2409e254c2b00 1 {s}"],
        ),
        (
            "evalsha_ro",
            &["c77382aa965ed715a9230ae8a1d2409e254c2b00 1 {s}"],
        ),
        ("script", &["LOAD x", "EXISTS x", "FLUSH"]),
        ("fcall", &["f 1 {n}", "f 2 {s} {h} a"]),
        ("fcall_ro", &["f 1 {n}"]),
    ];
    rows.iter().map(|(n, t)| (*n, t.to_vec())).collect()
}

/// Arguments for a command without a template, from its key specs: keys where they say (type
/// `n`), `1` at a `numkeys`, `x` elsewhere, up to the arity.
fn from_specs(spec: &CommandSpec) -> String {
    let min = spec.arity.unsigned_abs() as usize;
    let mut args: Vec<String> = vec!["x".into(); min.max(1)];
    fn put(i: usize, v: &str, args: &mut Vec<String>) {
        if args.len() <= i {
            args.resize(i + 1, "x".into());
        }
        args[i] = v.into();
    }
    for ks in spec.key_specs {
        let BeginSearch::Index(b) = ks.begin else {
            continue;
        };
        let b = b as usize;
        match ks.find {
            // a channel, not a key
            FindKeys::Range { .. } if ks.has(ks::NOT_KEY) => put(b, "chan", &mut args),
            FindKeys::Range { lastkey, .. } => {
                put(b, "{n}", &mut args);
                if lastkey > 0 {
                    put(b + lastkey as usize, "{n}", &mut args);
                }
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                ..
            } => {
                put(b + keynumidx as usize, "1", &mut args);
                put(b + firstkey as usize, "{n}", &mut args);
            }
        }
    }
    args[1..].join(" ")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    OneKey,
    Prefix,
    ReadOnly,
    WriteOnly,
}

struct Srv {
    tokens: TokenServer,
    admin: redis::aio::MultiplexedConnection,
}

async fn start() -> Srv {
    let tokens = TokenServer::start(&[APP]).await;
    let su = tokens.mint("admin", Permissions::SuperUser);
    let url = format!("redis://{APP}:{su}@{}/", tokens.srv.addr);
    let admin = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    Srv { tokens, admin }
}

fn seed_cmds(p: &mut redis::Pipeline, key: &str, t: char, marker: &str) {
    // Foreign numbers keep the digits 9191919 under the small increments the templates apply.
    let num = if marker == "FOREIGN" {
        "91919190000"
    } else {
        "5"
    };
    let score = if marker == "FOREIGN" {
        "91919190000.5"
    } else {
        "1"
    };
    p.cmd("DEL").arg(key).ignore();
    match t {
        's' | 'n' => p.cmd("SET").arg(key).arg(format!("{marker}-s")).ignore(),
        'i' => p.cmd("SET").arg(key).arg(num).ignore(),
        'h' => p
            .cmd("HSET")
            .arg(key)
            .arg("f")
            .arg(format!("{marker}-h"))
            .arg("n")
            .arg(num)
            .ignore(),
        'l' => p
            .cmd("RPUSH")
            .arg(key)
            .arg(format!("{marker}-l"))
            .arg("m")
            .ignore(),
        'S' => p
            .cmd("SADD")
            .arg(key)
            .arg(format!("{marker}-S"))
            .arg("m")
            .ignore(),
        'z' => p
            .cmd("ZADD")
            .arg(key)
            .arg(score)
            .arg("m")
            .arg(score)
            .arg(format!("{marker}-z"))
            .ignore(),
        't' => p
            .cmd("XADD")
            .arg(key)
            .arg("1-0")
            .arg("f")
            .arg(format!("{marker}-t"))
            .ignore()
            .cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg("g")
            .arg("0")
            .ignore()
            .cmd("XREADGROUP")
            .arg("GROUP")
            .arg("g")
            .arg("c")
            .arg("STREAMS")
            .arg(key)
            .arg(">")
            .ignore(),
        _ => unreachable!(),
    };
}

fn all_keys() -> Vec<String> {
    let mut v: Vec<String> = TYPES.iter().map(|t| format!("mine:{t}")).collect();
    v.extend(TYPES.iter().map(|t| format!("secret:{t}")));
    v.push("mine:x".into());
    v
}

impl Srv {
    async fn seed(&mut self, one_key_type: char) {
        let mut p = redis::pipe();
        p.cmd("FLUSHDB").ignore();
        for t in TYPES {
            seed_cmds(&mut p, &format!("mine:{t}"), t, "MINE");
            seed_cmds(&mut p, &format!("secret:{t}"), t, "FOREIGN");
        }
        seed_cmds(&mut p, "mine:x", one_key_type, "MINE");
        let () = p.query_async(&mut self.admin).await.unwrap();
    }

    /// TYPE, TTL presence and full contents of `keys`, read as a super-user.
    async fn dump(&mut self, keys: &[String]) -> Vec<String> {
        let mut p = redis::pipe();
        for k in keys {
            p.cmd("TYPE").arg(k).cmd("PTTL").arg(k);
        }
        let meta: Vec<redis::Value> = p.query_async(&mut self.admin).await.unwrap();
        let mut p = redis::pipe();
        for (i, k) in keys.iter().enumerate() {
            let ty: String = redis::from_redis_value(&meta[2 * i]).unwrap();
            match ty.as_str() {
                "string" => p.cmd("GET").arg(k),
                "hash" => p.cmd("HGETALL").arg(k),
                "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                "set" => p.cmd("SMEMBERS").arg(k),
                "zset" => p.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
                // Entries, then (below) the groups: their PELs, consumers and read positions.
                "stream" => p.cmd("XRANGE").arg(k).arg("-").arg("+"),
                _ => p.cmd("EXISTS").arg(k),
            };
        }
        let contents: Vec<redis::Value> = p.query_async(&mut self.admin).await.unwrap();
        let mut groups = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let ty: String = redis::from_redis_value(&meta[2 * i]).unwrap();
            groups.push(if ty == "stream" {
                let g: redis::Value = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(k)
                    .query_async(&mut self.admin)
                    .await
                    .unwrap();
                let p: redis::Value = redis::cmd("XPENDING")
                    .arg(k)
                    .arg("g")
                    .query_async(&mut self.admin)
                    .await
                    .unwrap_or(redis::Value::Nil);
                format!(" {g:?} {p:?}")
            } else {
                String::new()
            });
        }
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let ttl: i64 = redis::from_redis_value(&meta[2 * i + 1]).unwrap();
                let mut c = format!("{:?}", contents[i]);
                // sets and hashes come back in any order
                let ty = format!("{:?}", meta[2 * i]);
                if let redis::Value::Array(items) = &contents[i] {
                    let chunk = if ty.contains("hash") { 2 } else { 1 };
                    if ty.contains("hash") || ty.contains("set") && !ty.contains("zset") {
                        let mut v: Vec<String> =
                            items.chunks(chunk).map(|x| format!("{x:?}")).collect();
                        v.sort();
                        c = v.join(",");
                    }
                }
                format!("{k} {:?} ttl={} {c}{}", meta[2 * i], ttl == -1, groups[i])
            })
            .collect()
    }
}

/// A reply as text (RESP2), or None if none came within 5 s.
async fn reply(c: &mut RawConn) -> Option<(bool, String)> {
    let l = try_read_line(c).await?;
    let (t, rest) = l.split_at(1);
    match t {
        "$" => {
            let n: i64 = rest.parse().ok()?;
            if n < 0 {
                return Some((false, "nil".into()));
            }
            let body = Box::pin(c.read_n(n as usize + 2)).await;
            Some((false, String::from_utf8_lossy(&body).into_owned()))
        }
        "*" | "%" | "~" | ">" => {
            let n: i64 = rest.parse().ok()?;
            let n = if t == "%" { 2 * n } else { n };
            let mut out = String::from("[");
            for _ in 0..n.max(0) {
                let (_, s) = Box::pin(reply(c)).await?;
                out.push_str(&s);
                out.push(',');
            }
            out.push(']');
            Some((false, out))
        }
        "-" => Some((true, rest.into())),
        _ => Some((false, rest.into())),
    }
}

fn perms(kind: Kind) -> Permissions {
    let (role, items) = match kind {
        Kind::OneKey => (CacheRole::ReadWrite, Selector::Exact("mine:x".into())),
        Kind::Prefix => (CacheRole::ReadWrite, Selector::Prefix("mine:".into())),
        Kind::ReadOnly => (CacheRole::ReadOnly, Selector::All),
        Kind::WriteOnly => (CacheRole::WriteOnly, Selector::All),
    };
    Permissions::Explicit {
        caches: vec![CacheGrant {
            role,
            cache: Some(APP.into()),
            items,
        }],
        topics: vec![],
    }
}

/// Split a template into arguments with its key slots' types.
fn parse(template: &str) -> (Vec<String>, Vec<(usize, char)>) {
    let mut args = Vec::new();
    let mut slots = Vec::new();
    for (i, w) in template.split_whitespace().enumerate() {
        if w.len() == 3 && w.starts_with('{') && w.ends_with('}') {
            slots.push((i, w.chars().nth(1).unwrap()));
        }
        args.push(w.to_string());
    }
    (args, slots)
}

async fn walk(kind: Kind) {
    let mut s = start().await;
    let token = s.tokens.mint(&format!("{kind:?}"), perms(kind));
    let templates = templates();
    let mut names: Vec<&'static str> = table().keys().copied().collect();
    names.sort();
    for t in templates.keys() {
        assert!(names.contains(t), "template for unknown command {t}");
    }
    let keys = all_keys();
    let mut failures = Vec::new();
    let (mut in_scope_ok, mut in_scope_runs) = (0, 0);
    let mut in_scope_errors = Vec::new();
    let mut seeded: BTreeMap<char, Vec<String>> = BTreeMap::new();
    for name in names {
        let spec = table()[name];
        let list: Vec<String> = match templates.get(name) {
            Some(v) => v.iter().map(|s| s.to_string()).collect(),
            None => vec![from_specs(spec)],
        };
        for template in list {
            let (args, slots) = parse(&template);
            let in_key = |t: char| match kind {
                Kind::OneKey => "mine:x".to_string(),
                _ => format!("mine:{}", if t == 'n' { 's' } else { t }),
            };
            let one_key_type = slots
                .iter()
                .map(|&(_, t)| t)
                .find(|&t| t != 'n')
                .unwrap_or('s');
            // (slot replaced, its foreign type), None = everything in scope
            // Each slot in turn holds a foreign key of the type the command expects there, and
            // one of another type (a type-agnostic slot: a string and a sorted set).
            let mut variants: Vec<Option<(usize, char)>> = vec![None];
            for (i, &(_, t)) in slots.iter().enumerate() {
                let other = match t {
                    'n' => ['s', 'z'],
                    's' => ['s', 'h'],
                    t => [t, 's'],
                };
                variants.extend(other.map(|t| Some((i, t))));
            }
            for v in variants {
                s.seed(one_key_type).await;
                // Seeding is deterministic: one snapshot per type of `mine:x`.
                let before = match seeded.get(&one_key_type) {
                    Some(b) => b.clone(),
                    None => {
                        let b = s.dump(&keys).await;
                        seeded.insert(one_key_type, b.clone());
                        b
                    }
                };
                let mut cmd: Vec<String> = vec![name.to_string()];
                for (j, a) in args.iter().enumerate() {
                    match slots.iter().position(|&(p, _)| p == j) {
                        Some(si) => match v {
                            Some((fi, ft)) if fi == si => cmd.push(format!("secret:{ft}")),
                            _ => cmd.push(in_key(slots[si].1)),
                        },
                        None => cmd.push(a.clone()),
                    }
                }
                let mut c = s.tokens.srv.raw().await;
                c.cmd(&["AUTH", APP, &token]).await;
                let auth = Box::pin(reply(&mut c)).await;
                assert_eq!(auth, Some((false, "OK".into())), "AUTH");
                let parts: Vec<&str> = cmd.iter().map(|x| x.as_str()).collect();
                c.cmd(&parts).await;
                let Some((is_err, text)) = Box::pin(reply(&mut c)).await else {
                    failures.push(format!("{cmd:?}: no reply"));
                    continue;
                };
                drop(c);
                if v.is_none() && spec.has_keys() {
                    in_scope_runs += 1;
                    if !is_err {
                        in_scope_ok += 1;
                    } else {
                        in_scope_errors.push(format!("{cmd:?}: {text}"));
                    }
                }
                // The reply: no foreign data (and, write-only, no stored data at all).
                let mut markers = vec!["FOREIGN", "9191919"];
                if kind == Kind::WriteOnly {
                    markers.push("MINE");
                }
                if !is_err {
                    markers.push("secret:");
                    if kind == Kind::WriteOnly {
                        markers.push("mine:");
                    }
                }
                if kind != Kind::ReadOnly {
                    for m in &markers {
                        if text.contains(m) {
                            failures.push(format!("{cmd:?} replied foreign data: {text}"));
                        }
                    }
                }
                // The keys outside the scope: unchanged.
                let after = s.dump(&keys).await;
                for (b, a) in before.iter().zip(&after) {
                    let key = b.split(' ').next().unwrap();
                    let outside = match kind {
                        Kind::OneKey => key != "mine:x",
                        Kind::Prefix => key.starts_with("secret:"),
                        Kind::ReadOnly => true,
                        Kind::WriteOnly => false,
                    };
                    if outside && a != b {
                        failures.push(format!("{cmd:?} changed {key}: {b} -> {a}"));
                    }
                    // Nor was foreign data copied into the token's own keys (*STORE, moves).
                    let copied = a.contains("FOREIGN") || a.contains("9191919");
                    if !outside && copied && matches!(kind, Kind::OneKey | Kind::Prefix) {
                        failures.push(format!("{cmd:?} copied foreign data into {key}: {a}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{kind:?}: {} violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The templates are plausible: with every key in scope, a read-write token's commands work.
    if matches!(kind, Kind::Prefix | Kind::OneKey) {
        assert!(
            in_scope_ok * 10 >= in_scope_runs * 9,
            "{kind:?}: only {in_scope_ok} of {in_scope_runs} in-scope runs succeeded: {in_scope_errors:#?}"
        );
    }
}

#[tokio::test]
async fn one_key_token_touches_no_other_key() {
    walk(Kind::OneKey).await;
}

#[tokio::test]
async fn prefix_token_touches_no_key_outside_its_prefix() {
    walk(Kind::Prefix).await;
}

#[tokio::test]
async fn read_only_token_changes_nothing() {
    walk(Kind::ReadOnly).await;
}

#[tokio::test]
async fn write_only_token_reads_nothing() {
    walk(Kind::WriteOnly).await;
}

/// SORT's BY and GET patterns reach keys that only the sorted data names: as Redis 7's ACLs do,
/// a token that may not read every key is refused them (a BY without `*` reads nothing and is
/// allowed); a token that reads every key runs them.
#[tokio::test]
async fn sort_patterns_need_access_to_every_key() {
    let s = start().await;
    let mut admin = s.admin.clone();
    let _: () = redis::pipe()
        .cmd("RPUSH")
        .arg("mine:l")
        .arg("2")
        .arg("1")
        .ignore()
        .cmd("SET")
        .arg("mine:w_1")
        .arg("20")
        .ignore()
        .cmd("SET")
        .arg("mine:w_2")
        .arg("10")
        .ignore()
        .cmd("SET")
        .arg("secret:1")
        .arg("FOREIGN")
        .ignore()
        .query_async(&mut admin)
        .await
        .unwrap();
    let scoped = s.tokens.mint("prefix", perms(Kind::Prefix));
    let full = s.tokens.mint("reader", perms(Kind::ReadOnly));
    let mut c = s.tokens.srv.raw().await;
    c.cmd(&["AUTH", APP, &scoped]).await;
    assert_eq!(reply(&mut c).await, Some((false, "OK".into())));
    let by = "ERR BY option of SORT denied due to insufficient ACL permissions.";
    let get = "ERR GET option of SORT denied due to insufficient ACL permissions.";
    for (cmd, err) in [
        (&["SORT", "mine:l", "BY", "mine:w_*"][..], by),
        (&["SORT", "mine:l", "GET", "secret:*"][..], get),
        (&["SORT", "mine:l", "GET", "mine:w_*"][..], get),
        (&["SORT_RO", "mine:l", "BY", "nosort", "GET", "#"][..], get),
        (
            &["SORT", "mine:l", "BY", "secret:*", "STORE", "mine:d"][..],
            by,
        ),
    ] {
        c.cmd(cmd).await;
        assert_eq!(reply(&mut c).await, Some((true, err.into())), "{cmd:?}");
    }
    // No pattern lookups: allowed within the scope.
    c.cmd(&["SORT", "mine:l", "BY", "nosort"]).await;
    assert_eq!(reply(&mut c).await, Some((false, "[2\r\n,1\r\n,]".into())));
    // Nothing was stored by the refused STORE.
    let exists: i64 = redis::cmd("EXISTS")
        .arg("mine:d")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    // A token reading every key may use patterns.
    let mut r = s.tokens.srv.raw().await;
    r.cmd(&["AUTH", APP, &full]).await;
    assert_eq!(reply(&mut r).await, Some((false, "OK".into())));
    r.cmd(&[
        "SORT_RO", "mine:l", "BY", "mine:w_*", "GET", "#", "GET", "mine:w_*",
    ])
    .await;
    let got = reply(&mut r).await;
    assert_eq!(got, Some((false, "[2\r\n,10\r\n,1\r\n,20\r\n,]".into())));
}
