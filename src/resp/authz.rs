//! Which permission a RESP command needs, from its table row (flags, key positions) plus the
//! few commands whose needs depend on their arguments. The checks themselves are
//! `crate::authz`'s, shared with gRPC and HTTP; this module only classifies Redis commands.
//!
//! Classes (docs/auth.md has the table):
//! - `ADMIN` commands, CONFIG, INFO, FLUSHALL, CLIENT other than ID/INFO/GET-SETNAME,
//!   FERRITE.REVOKE: super-user.
//! - keyspace-wide commands (KEYS, SCAN, RANDOMKEY, DBSIZE: read; FLUSHDB: write): all-keys
//!   permission on the connection's cache.
//! - commands with keys: every key is checked. READONLY → read; WRITE → write; writes whose
//!   effect depends on what is stored (SETNX, SET NX/XX, ZADD NX/XX/GT/LT, ...) → conditional
//!   write; writes that also return or copy stored data (GETSET, pops, INCR, *STORE, ...) → read
//!   and write. WATCH → read on its keys.
//! - PUBLISH/SPUBLISH: publish on the topic; (S|T)SUBSCRIBE: subscribe on each topic;
//!   PSUBSCRIBE and PUBSUB: subscribe on all topics of the cache.
//! - Everything else (PING, ECHO, TIME, COMMAND, MULTI/EXEC, UNSUBSCRIBE, ...) is allowed.

use bytes::Bytes;
use ferrite_auth::{CacheAccess, Principal, TopicAccess};

use crate::authz::{self, Denied};
use crate::resp::args::eq_ic;
use crate::resp::dispatch::{flags, CommandSpec};

/// Writes that also read what is stored (return it, or compute from it).
const READ_AND_WRITE: &[&str] = &[
    "getset",
    "getdel",
    "getex",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "hincrby",
    "hincrbyfloat",
    "zincrby",
    "lpop",
    "rpop",
    "blpop",
    "brpop",
    "lmove",
    "blmove",
    "rpoplpush",
    "brpoplpush",
    "spop",
    "zpopmin",
    "zpopmax",
    "sunionstore",
    "sinterstore",
    "sdiffstore",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "rename",
];

/// Writes whose effect depends on what is stored.
const CONDITIONAL: &[&str] = &[
    "setnx", "msetnx", "hsetnx", "lpushx", "rpushx", "renamenx", "linsert", "lrem", "smove",
];

/// Options that make SET / ZADD / EXPIRE-family conditional.
fn has_condition_option(args: &[Bytes]) -> bool {
    args[1..]
        .iter()
        .any(|a| eq_ic(a, "nx") || eq_ic(a, "xx") || eq_ic(a, "gt") || eq_ic(a, "lt"))
}

enum Need {
    Nothing,
    SuperUser,
    AllKeys(CacheAccess),
    Keys(&'static [CacheAccess]),
}

fn need(spec: &CommandSpec, args: &[Bytes]) -> Need {
    use CacheAccess::*;
    if spec.has(flags::ADMIN) {
        return Need::SuperUser;
    }
    match spec.name {
        "info" | "flushall" | "ferrite.revoke" => return Need::SuperUser,
        "client" => {
            let sub = &args[1];
            let harmless = [
                "id", "info", "getname", "setname", "setinfo", "no-evict", "reply",
            ];
            return if harmless.iter().any(|h| eq_ic(sub, h)) {
                Need::Nothing
            } else {
                Need::SuperUser
            };
        }
        "keys" | "scan" | "randomkey" | "dbsize" => return Need::AllKeys(Read),
        "flushdb" => return Need::AllKeys(Write),
        "watch" => return Need::Keys(&[Read]),
        _ => {}
    }
    if spec.first_key == 0 {
        return Need::Nothing;
    }
    if spec.has(flags::WRITE) {
        if READ_AND_WRITE.contains(&spec.name) {
            return Need::Keys(&[Read, Write]);
        }
        if CONDITIONAL.contains(&spec.name) {
            return Need::Keys(&[ConditionalWrite]);
        }
        match spec.name {
            "set" if args[3..].iter().any(|a| eq_ic(a, "get")) => {
                return Need::Keys(&[Read, Write])
            }
            // skip the value: a value "nx" is not an option
            "set" | "expire" | "pexpire" | "expireat" | "pexpireat"
                if has_condition_option(&args[2..]) =>
            {
                return Need::Keys(&[ConditionalWrite])
            }
            "zadd" if has_condition_option(&args[1..]) => return Need::Keys(&[ConditionalWrite]),
            _ => {}
        }
        return Need::Keys(&[Write]);
    }
    Need::Keys(&[Read])
}

/// May `p` run this command (already arity-checked) on `cache`? Connection-level commands
/// handled elsewhere (AUTH, HELLO, QUIT, RESET) are not passed here.
pub fn authorize(
    p: &Principal,
    cache: &str,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Result<(), Denied> {
    match spec.name {
        "publish" | "spublish" => {
            return authz::check_topic(p, cache, &args[1], TopicAccess::Publish)
        }
        "subscribe" | "ssubscribe" => {
            for t in &args[1..] {
                authz::check_topic(p, cache, t, TopicAccess::Subscribe)?;
            }
            return Ok(());
        }
        "tsubscribe" => return authz::check_topic(p, cache, &args[1], TopicAccess::Subscribe),
        "psubscribe" | "pubsub" => {
            return authz::check_all_topics(p, cache, TopicAccess::Subscribe)
        }
        _ => {}
    }
    match need(spec, args) {
        Need::Nothing => Ok(()),
        Need::SuperUser => authz::check_super_user(p, &format!("'{}'", spec.name)),
        Need::AllKeys(a) => authz::check_all_keys(p, cache, a),
        Need::Keys(accesses) => {
            let keys: &mut dyn Iterator<Item = &[u8]> = if spec.name == "watch" {
                &mut args[1..].iter().map(|k| &k[..])
            } else {
                &mut spec.keys(args)
            };
            if p.full_cache_access(cache) {
                return Ok(());
            }
            for k in keys {
                for &a in accesses {
                    authz::check_cache_keys(p, cache, a, std::iter::once(k))?;
                }
            }
            Ok(())
        }
    }
}
