//! Which permission a RESP command needs, derived from its table row: the command flags and
//! the Redis 7 key specifications (`dispatch::KeySpec`), plus the few commands whose needs
//! depend on their arguments (flag `ARG_ACCESS`). The checks themselves are `ferrite_service::authz`'s,
//! shared with gRPC and HTTP; this module only classifies Redis commands.
//!
//! Classes (docs/auth.md has the table):
//! - `ADMIN` or `SUPER` commands (CONFIG, INFO, FLUSHALL, FERRITE.REVOKE, ...), and CLIENT
//!   other than ID/INFO/GET-SETNAME/...: super-user.
//! - `KEYSPACE` commands (KEYS, SCAN, RANDOMKEY, DBSIZE: READONLY → read; FLUSHDB: WRITE →
//!   write): all-keys permission on the connection's cache.
//! - every key every key spec finds is checked, with the access its spec's flags declare
//!   (`key_access`): RO or ACCESS → read (a read-only spec without ACCESS, EXISTS/TYPE/TTL,
//!   still reveals what is stored); RW/OW/RM → write, or conditional write when the spec is
//!   `CONDITIONAL` (SETNX, LPUSHX, HSETNX, ... whose outcome reveals what is stored). So a pop
//!   (RW ACCESS DELETE) needs read and write, a *STORE source (RO ACCESS) read and its
//!   destination (OW UPDATE) write, and WATCH (RO) read.
//! - `ARG_ACCESS`: SET ... GET → read and write; SET NX/XX, ZADD NX/XX/GT/LT, EXPIRE-family
//!   NX/XX/GT/LT → conditional write; BITFIELD with only GET (and OVERFLOW) → read (instead
//!   of the spec's access).
//! - `TOPIC` commands: PUBLISH/SPUBLISH publish on the topic; (S|T)SUBSCRIBE subscribe on each
//!   topic; PSUBSCRIBE and PUBSUB subscribe on all topics of the cache.
//! - Everything else (PING, ECHO, TIME, COMMAND, MULTI/EXEC, UNSUBSCRIBE, ...) is allowed.

use bytes::Bytes;
use ferrite_auth::{CacheAccess, Principal, TopicAccess};

use crate::resp::args::eq_ic;
use crate::resp::dispatch::{flags, ks, CommandSpec};
use ferrite_service::authz::{self, Denied};

/// Options that make SET / ZADD / EXPIRE-family conditional.
fn has_condition_option(args: &[Bytes]) -> bool {
    args.iter()
        .any(|a| eq_ic(a, "nx") || eq_ic(a, "xx") || eq_ic(a, "gt") || eq_ic(a, "lt"))
}

/// The accesses one key needs, from its key spec's flags: (read, write, conditional write).
pub fn key_access(flags: u16) -> (bool, bool, bool) {
    let read = flags & (ks::RO | ks::ACCESS) != 0;
    let writes = flags & (ks::RW | ks::OW | ks::RM) != 0;
    let cond = writes && flags & ks::CONDITIONAL != 0;
    (read, writes && !cond, cond)
}

enum Need {
    Nothing,
    SuperUser,
    AllKeys(CacheAccess),
    /// Every key with its spec's access.
    Specs,
    /// Every key with this access instead (argument-dependent commands).
    Keys(&'static [CacheAccess]),
}

fn need(spec: &CommandSpec, args: &[Bytes]) -> Need {
    use CacheAccess::*;
    if spec.has(flags::ADMIN | flags::SUPER) {
        return Need::SuperUser;
    }
    if spec.has(flags::KEYSPACE) {
        return Need::AllKeys(if spec.has(flags::WRITE) { Write } else { Read });
    }
    if spec.has(flags::ARG_ACCESS) {
        // The only name comparisons: commands whose access depends on their arguments.
        match spec.name {
            "client" => {
                let harmless = [
                    "id",
                    "info",
                    "getname",
                    "setname",
                    "setinfo",
                    "no-evict",
                    "no-touch",
                    "reply",
                    "getredir",
                    "trackinginfo",
                    "help",
                ];
                return if harmless.iter().any(|h| eq_ic(&args[1], h)) {
                    Need::Nothing
                } else {
                    Need::SuperUser
                };
            }
            // SET key value [NX|XX] [GET] ...: skip the value (a value "nx" is not an option).
            "set" if args[3..].iter().any(|a| eq_ic(a, "get")) => {
                return Need::Keys(&[Read, Write])
            }
            "set" | "expire" | "pexpire" | "expireat" | "pexpireat"
                if has_condition_option(&args[3..]) =>
            {
                return Need::Keys(&[ConditionalWrite])
            }
            // SET's spec says RW ACCESS (for GET, VARIABLE_FLAGS); without GET it only writes.
            "set" => return Need::Keys(&[Write]),
            "zadd" if has_condition_option(&args[2..]) => return Need::Keys(&[ConditionalWrite]),
            // BITFIELD's spec says RW ACCESS (VARIABLE_FLAGS); only GETs only read (as Redis's
            // bitfieldGetKeys decides: anything it does not recognise counts as a write).
            "bitfield" if bitfield_reads_only(args) => return Need::Keys(&[Read]),
            _ => {}
        }
    }
    if spec.has_keys() {
        Need::Specs
    } else {
        Need::Nothing
    }
}

/// BITFIELD's subcommands are all GET (and OVERFLOW): Redis's bitfieldGetKeys.
fn bitfield_reads_only(args: &[Bytes]) -> bool {
    let mut i = 2;
    while i < args.len() {
        let rem = args.len() - i - 1;
        let a = &args[i];
        if eq_ic(a, "get") && rem >= 2 {
            i += 3;
        } else if eq_ic(a, "overflow") && rem >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// May `p` run this command (already arity-checked) on `cache`? Connection-level commands
/// handled elsewhere (AUTH, HELLO, QUIT, RESET) are not passed here.
pub fn authorize(
    p: &Principal,
    cache: &str,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Result<(), Denied> {
    if spec.has(flags::TOPIC) {
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
            _ => return authz::check_all_topics(p, cache, TopicAccess::Subscribe), // psubscribe, pubsub
        }
    }
    match need(spec, args) {
        Need::Nothing => Ok(()),
        Need::SuperUser => authz::check_super_user(p, &format!("'{}'", spec.name)),
        Need::AllKeys(a) => authz::check_all_keys(p, cache, a),
        Need::Specs => {
            if p.full_cache_access(cache) {
                return Ok(());
            }
            for (k, f) in spec.keys_with_flags(args) {
                let (read, write, cond) = key_access(f);
                let k = std::iter::once(k);
                if read {
                    authz::check_cache_keys(p, cache, CacheAccess::Read, k.clone())?;
                }
                if write {
                    authz::check_cache_keys(p, cache, CacheAccess::Write, k.clone())?;
                }
                if cond {
                    authz::check_cache_keys(p, cache, CacheAccess::ConditionalWrite, k)?;
                }
            }
            Ok(())
        }
        Need::Keys(accesses) => {
            if p.full_cache_access(cache) {
                return Ok(());
            }
            for k in spec.keys(args) {
                for &a in accesses {
                    authz::check_cache_keys(p, cache, a, std::iter::once(k))?;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split_whitespace()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn bitfield_with_only_gets_only_reads() {
        for (cmd, ro) in [
            ("bitfield k", true),
            ("bitfield k GET u8 0 overflow sat GET i4 #1", true),
            ("bitfield k GET u8 0 SET u8 0 1", false),
            ("bitfield k INCRBY u8 0 1", false),
            // malformed: counted as a write (the command then fails anyway)
            ("bitfield k GET u8", false),
            ("bitfield k FOO", false),
        ] {
            assert_eq!(bitfield_reads_only(&args(cmd)), ro, "{cmd}");
        }
    }
}
