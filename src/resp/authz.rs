//! Which permission a RESP command needs, derived from its table row: the command flags and
//! the Redis 7 key specifications (`dispatch::KeySpec`), plus the few commands whose needs
//! depend on their arguments (flag `ARG_ACCESS`). The checks themselves are `ferrite_service::authz`'s,
//! shared with gRPC and HTTP; this module only classifies Redis commands.
//!
//! Classes (docs/auth.md has the table):
//! - `ADMIN` or `SUPER` commands (CONFIG, INFO, FLUSHALL, FERRITE.REVOKE, ...), CLIENT
//!   other than ID/INFO/GET-SETNAME/..., ACL LOG/SETUSER/..., FUNCTION FLUSH/DELETE/...:
//!   super-user (`subcommand_needs_super_user`).
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

use crate::resp::acl::categories;
use crate::resp::acl::log::Reason;
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
            "client" | "acl" | "function" => {
                return if subcommand_needs_super_user(spec.name, &args[1]) {
                    Need::SuperUser
                } else {
                    Need::Nothing
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

/// Commands whose subcommands need different permissions (flag `ARG_ACCESS`): does `sub`
/// need a super-user token?
/// - CLIENT: all but ID, INFO, GETNAME, SETNAME, SETINFO, NO-EVICT, REPLY (the connection's own).
/// - ACL: LOG (other tokens' denials, other connections' CLIENT INFO) and the user-changing
///   subcommands (SETUSER, DELUSER, LOAD, SAVE, which Ferrite refuses anyway). WHOAMI, USERS,
///   LIST, GETUSER and DRYRUN only ever describe the caller's own token, so any token may ask.
/// - FUNCTION: what changes or stops the server-wide libraries (FLUSH, DELETE, LOAD, RESTORE,
///   KILL); LIST, STATS, DUMP and HELP only read.
///
/// Unknown subcommands of ACL and FUNCTION are left to the command (its "unknown subcommand"
/// error reveals nothing); CLIENT's need a super-user, as before.
pub fn subcommand_needs_super_user(command: &str, sub: &[u8]) -> bool {
    let any = |names: &[&str]| names.iter().any(|n| eq_ic(sub, n));
    match command {
        "client" => !any(&[
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
            "tracking",
            "caching",
            "help",
        ]),
        "acl" => any(&["log", "setuser", "deluser", "load", "save"]),
        "function" => any(&["flush", "delete", "load", "restore"]),
        _ => false,
    }
}

/// Whether `spec` (with subcommand `sub`, for a command that has them) needs a super-user token
/// whatever its keys: what `ACL GETUSER` renders as `-command` rules.
pub fn needs_super_user(spec: &CommandSpec, sub: Option<&[u8]>) -> bool {
    if spec.has(flags::ADMIN | flags::SUPER) {
        return true;
    }
    match sub {
        Some(sub) if spec.has(flags::ARG_ACCESS) => subcommand_needs_super_user(spec.name, sub),
        _ => false,
    }
}

/// BITFIELD's subcommands are all GET (and OVERFLOW): Redis's bitfieldGetKeys.
pub(crate) fn bitfield_reads_only(args: &[Bytes]) -> bool {
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

/// A refused command: the message (after `NOPERM `) and what `ACL LOG` records of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub denied: Denied,
    pub reason: Reason,
    /// The command (`client|kill` for a subcommand), key or channel refused.
    pub object: Vec<u8>,
}

impl Refusal {
    fn command(d: Denied, spec: &CommandSpec, args: &[Bytes]) -> Self {
        Refusal {
            denied: d,
            reason: Reason::Command,
            object: full_name(spec, args).into_bytes(),
        }
    }
    fn key(d: Denied, key: &[u8]) -> Self {
        Refusal {
            denied: d,
            reason: Reason::Key,
            object: key.to_vec(),
        }
    }
    fn channel(d: Denied, channel: &[u8]) -> Self {
        Refusal {
            denied: d,
            reason: Reason::Channel,
            object: channel.to_vec(),
        }
    }
}

/// Redis's full name of an invocation: `container|sub` for an implemented subcommand of a
/// command that has them (lower case), else the command's name.
pub fn full_name(spec: &CommandSpec, args: &[Bytes]) -> String {
    if let Some(sub) = args.get(1) {
        if let Some(s) = categories::subcommands(spec.name)
            .iter()
            .find(|s| eq_ic(sub, s))
        {
            return format!("{}|{s}", spec.name);
        }
    }
    spec.name.to_string()
}

/// May `p` run this command (already arity-checked) on `cache`? Connection-level commands
/// handled elsewhere (AUTH, HELLO, QUIT, RESET) are not passed here.
pub fn authorize(
    p: &Principal,
    cache: &str,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Result<(), Refusal> {
    if spec.has(flags::TOPIC) {
        let topic =
            |t: &Bytes, a| authz::check_topic(p, cache, t, a).map_err(|d| Refusal::channel(d, t));
        return match spec.name {
            "publish" | "spublish" => topic(&args[1], TopicAccess::Publish),
            "subscribe" | "ssubscribe" => {
                for t in &args[1..] {
                    topic(t, TopicAccess::Subscribe)?;
                }
                Ok(())
            }
            "tsubscribe" => topic(&args[1], TopicAccess::Subscribe),
            // A pattern can match any topic: Redis logs the pattern as the channel refused.
            "psubscribe" => authz::check_all_topics(p, cache, TopicAccess::Subscribe)
                .map_err(|d| Refusal::channel(d, &args[1])),
            _ => authz::check_all_topics(p, cache, TopicAccess::Subscribe)
                .map_err(|d| Refusal::command(d, spec, args)), // pubsub
        };
    }
    let keys = |k: &[u8], accesses: &[CacheAccess]| {
        for &a in accesses {
            authz::check_cache_keys(p, cache, a, std::iter::once(k))
                .map_err(|d| Refusal::key(d, k))?;
        }
        Ok(())
    };
    match need(spec, args) {
        Need::Nothing => Ok(()),
        Need::SuperUser => authz::check_super_user(p, &format!("'{}'", full_name(spec, args)))
            .map_err(|d| Refusal::command(d, spec, args)),
        // Redis has no such check (KEYS, SCAN, FLUSHDB are per command there): the command is
        // what is refused.
        Need::AllKeys(a) => {
            authz::check_all_keys(p, cache, a).map_err(|d| Refusal::command(d, spec, args))
        }
        Need::Specs => {
            if p.full_cache_access(cache) {
                return Ok(());
            }
            for (k, f) in spec.keys_with_flags(args) {
                let (read, write, cond) = key_access(f);
                if read {
                    keys(k, &[CacheAccess::Read])?;
                }
                if write {
                    keys(k, &[CacheAccess::Write])?;
                }
                if cond {
                    keys(k, &[CacheAccess::ConditionalWrite])?;
                }
            }
            Ok(())
        }
        Need::Keys(accesses) => {
            if p.full_cache_access(cache) {
                return Ok(());
            }
            for k in spec.keys(args) {
                keys(k, accesses)?;
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
