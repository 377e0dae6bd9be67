//! The command table and the context a command runs in.
//!
//! Each command family module exports `COMMANDS: &[CommandSpec]`. A spec carries what generic
//! code needs to know without running the command (arity, flags, key positions), so arity
//! errors, OOM rejection and MULTI queueing are handled once, here and in the connection loop,
//! not in every handler. WATCH invalidation and blocked-list wake-ups are not the front end's
//! job at all: the engine's change feed reports every write (ARCHITECTURE.md).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Cache, Locked, Shard};

use crate::resp::args::eq_ic;
use crate::resp::client::ClientInfo;
use crate::shared::Shared;

/// Command flags (a bitset, like Redis's command flags).
pub mod flags {
    /// Modifies the keyspace (the write itself reports its changes to the engine's feed).
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: rejected with OOM when eviction cannot make room.
    pub const DENYOOM: u32 = 1 << 2;
    /// Handled by the connection loop itself (MULTI, SUBSCRIBE, BLPOP, HELLO, ...).
    pub const CONN: u32 = 1 << 3;
    /// Not allowed inside MULTI (queued commands are rejected with an error).
    pub const NO_MULTI: u32 = 1 << 4;
    /// Allowed in RESP2 subscribe mode.
    pub const PUBSUB_OK: u32 = 1 << 5;
    pub const ADMIN: u32 = 1 << 6;
    /// Blocking variant (BLPOP...): inside MULTI it runs as non-blocking.
    pub const BLOCKING: u32 = 1 << 7;
    pub const FAST: u32 = 1 << 8;
    /// Ferrite, auth mode `token`: only a super-user may run it (crosses caches or shows server
    /// internals: INFO, FLUSHALL, FERRITE.REVOKE). ADMIN implies it. Not shown by COMMAND INFO.
    pub const SUPER: u32 = 1 << 9;
    /// Ferrite, auth mode `token`: reads (READONLY) or writes (WRITE) the whole keyspace of the
    /// connection's cache without naming keys (KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB): needs
    /// all-keys permission. Not shown by COMMAND INFO.
    pub const KEYSPACE: u32 = 1 << 10;
    /// Ferrite, auth mode `token`: the access the key specs declare is refined by arguments
    /// (SET GET/NX/XX, ZADD NX/XX/GT/LT, EXPIRE NX/XX/GT/LT, BITFIELD GET-only, CLIENT
    /// subcommands); see
    /// `resp::authz::need`. Not shown by COMMAND INFO.
    pub const ARG_ACCESS: u32 = 1 << 11;
    /// Ferrite, auth mode `token`: names topics, checked against topic grants (PUBLISH,
    /// SUBSCRIBE, ...; see `resp::authz::authorize`). Not shown by COMMAND INFO.
    pub const TOPIC: u32 = 1 << 12;
}

/// Key-spec flags: Redis 7's `CMD_KEY_*` (docs: "Command key specifications"), plus one of
/// Ferrite's own. Each key spec carries exactly one of RO/RW/OW/RM, and any of the logical
/// flags saying what the command does with the key's data.
pub mod ks {
    /// Read-only: reads the value (or its metadata) without changing it.
    pub const RO: u16 = 1 << 0;
    /// Read-write: modifies the value, possibly after reading it.
    pub const RW: u16 = 1 << 1;
    /// Overwrite: replaces the value without reading it.
    pub const OW: u16 = 1 << 2;
    /// Remove: deletes the key.
    pub const RM: u16 = 1 << 3;
    /// Returns, copies or uses the user data of the value.
    pub const ACCESS: u16 = 1 << 4;
    /// Updates data in the value (new value, or elements changed).
    pub const UPDATE: u16 = 1 << 5;
    /// Adds data to the value without changing or deleting existing data.
    pub const INSERT: u16 = 1 << 6;
    /// Deletes data from the value.
    pub const DELETE: u16 = 1 << 7;
    /// Not a key (a shard channel, a topic): skipped where keys are meant.
    pub const NOT_KEY: u16 = 1 << 8;
    /// The spec may not find every key (never set on Ferrite's commands).
    pub const INCOMPLETE: u16 = 1 << 9;
    /// The flags depend on the arguments (SET ... GET).
    pub const VARIABLE_FLAGS: u16 = 1 << 10;
    /// Ferrite only (shown by COMMAND INFO as `ferrite_conditional`): the write depends on
    /// what is stored without returning it (SETNX, LPUSHX, HSETNX, ...). A token needs
    /// conditional-write permission: its outcome reveals whether the key or element exists.
    pub const CONDITIONAL: u16 = 1 << 11;
    /// Ferrite only, not shown by COMMAND INFO: a `numkeys` of 0 is well formed (Redis's
    /// `no_mandatory_keys` command flag: FCALL, FCALL_RO).
    pub const OPTIONAL: u16 = 1 << 12;

    /// Every flag and its COMMAND INFO name, in Redis's order.
    pub const NAMES: &[(u16, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
        (CONDITIONAL, "ferrite_conditional"),
    ];
}

/// Where the search for a spec's keys begins (Redis's `begin_search`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this argument index (1 = the first argument after the command name).
    Index(i32),
    /// After the first argument equal (case-insensitively) to `keyword`, searched from
    /// `start_from` (a positive index searches forward, a negative one backward from argc +
    /// start_from).
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
    /// Redis's `unknown`: only the command's own parsing finds the key (SORT's STORE, which
    /// may follow any option). COMMAND INFO shows it as Redis does; permissions, WATCH and
    /// COMMAND GETKEYS use the finder, which parses as the command does.
    Unknown(Finder),
}

/// The argument parsers behind [`BeginSearch::Unknown`] key specs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finder {
    /// SORT's `STORE destination` (Redis's sortGetKeys: the last STORE wins).
    SortStore,
    /// Keys that derive from stored data (SORT's BY/GET patterns): never found from the
    /// arguments, so the command checks them itself (`commands/sort.rs`).
    Never,
}

impl Finder {
    /// The argument index of the key, if the invocation has one.
    pub fn find(self, args: &[Bytes]) -> Option<usize> {
        match self {
            Finder::SortStore => crate::resp::commands::sort::store_key_index(args),
            Finder::Never => None,
        }
    }
}

/// How the keys are found from where the search began (Redis's `find_keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys from the begin index up to `lastkey` (≥ 0: relative to the begin index; -1 the
    /// last argument, -2 the one before, ...), every `step`; `limit` > 1 keeps 1/limit of them.
    Range { lastkey: i32, step: i32, limit: i32 },
    /// The argument `keynumidx` after the begin index is the number of keys; they start
    /// `firstkey` after the begin index, every `step`.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        step: i32,
    },
}

/// One Redis 7 key specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub flags: u16,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl KeySpec {
    pub const fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
    /// Whether the command may change this key.
    pub const fn writes(&self) -> bool {
        self.flags & (ks::RW | ks::OW | ks::RM) != 0
    }
    /// Whether the key argument positions depend on the arguments (Redis's "movablekeys").
    pub const fn movable(&self) -> bool {
        !matches!(
            (self.begin, self.find),
            (BeginSearch::Index(_), FindKeys::Range { limit: 0 | 1, .. })
        )
    }

    /// The argument indexes of this spec's keys: (first, last inclusive, step), or None when the
    /// invocation has none. `Err` when a `numkeys` argument is malformed or names more keys
    /// than there are arguments.
    pub fn positions(&self, args: &[Bytes]) -> Result<Option<(usize, usize, usize)>, KeysError> {
        let argc = args.len() as i64;
        let begin: i64 = match self.begin {
            BeginSearch::Index(i) => i as i64,
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => {
                let found = if start_from >= 0 {
                    (start_from as i64..argc).find(|&i| eq_ic(&args[i as usize], keyword))
                } else {
                    let from = argc + start_from as i64;
                    (1..=from)
                        .rev()
                        .find(|&i| eq_ic(&args[i as usize], keyword))
                };
                match found {
                    Some(i) => i + 1,
                    None => return Ok(None),
                }
            }
            BeginSearch::Unknown(f) => match f.find(args) {
                Some(i) => i as i64,
                None => return Ok(None),
            },
        };
        if begin < 1 || begin >= argc {
            return Ok(None);
        }
        match self.find {
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                let mut last = if lastkey >= 0 {
                    begin + lastkey as i64
                } else {
                    argc + lastkey as i64
                };
                last = last.min(argc - 1);
                if last < begin {
                    return Ok(None);
                }
                let step = step.max(1) as i64;
                if limit > 1 {
                    let count = (last - begin) / step + 1;
                    let keep = (count / limit as i64).max(1);
                    last = begin + (keep - 1) * step;
                }
                Ok(Some((begin as usize, last as usize, step as usize)))
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                let idx = begin + keynumidx as i64;
                if idx >= argc {
                    return Ok(None);
                }
                let n = match crate::resp::args::parse_i64(&args[idx as usize]) {
                    Some(n) => n,
                    None => return Err(KeysError::NotInteger),
                };
                if n == 0 && self.has(ks::OPTIONAL) {
                    return Ok(None);
                }
                if n < 1 {
                    return Err(KeysError::NotPositive);
                }
                let first = begin + firstkey as i64;
                let step = step.max(1) as i64;
                let last = (n - 1)
                    .checked_mul(step)
                    .and_then(|d| d.checked_add(first))
                    .filter(|&l| l < argc)
                    .ok_or(KeysError::TooMany)?;
                Ok(Some((first as usize, last as usize, step as usize)))
            }
        }
    }
}

/// A `numkeys` argument that does not describe the keys that follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysError {
    NotInteger,
    NotPositive,
    TooMany,
}

/// A key at one argument index: Redis's `index` + `range {lastkey 0, step 1, limit 0}`.
pub const fn key(index: i32, flags: u16) -> KeySpec {
    key_range(index, 0, 1, flags)
}

/// Keys from `index` to `lastkey` (relative, or negative from the end) every `step`.
pub const fn key_range(index: i32, lastkey: i32, step: i32, flags: u16) -> KeySpec {
    KeySpec {
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::Range {
            lastkey,
            step,
            limit: 0,
        },
    }
}

/// `numkeys` at `index`, the keys right after it (Redis's `keynum {0, 1, 1}`).
pub const fn keynum(index: i32, flags: u16) -> KeySpec {
    KeySpec {
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::Keynum {
            keynumidx: 0,
            firstkey: 1,
            step: 1,
        },
    }
}

pub type Handler = fn(&mut Ctx<'_, '_>, &[Bytes], &mut ReplyWriter<'_>);

#[derive(Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N = exactly N args (with the name), -N = at least N.
    pub arity: i32,
    pub flags: u32,
    /// Redis 7 key specifications: where the keys are and what the command does with each.
    /// Permissions (`resp::authz`) and COMMAND INFO/GETKEYS read these.
    pub key_specs: &'static [KeySpec],
    /// Some key spec's positions depend on the arguments (`numkeys`): the arguments are checked
    /// (`check_keys`) before the command is authorized or run.
    pub movable: bool,
    pub handler: Handler,
    /// ACL-ish category for metrics and COMMAND INFO ("string", "hash", "connection", ...).
    pub group: &'static str,
}

/// Iterator over the keys of an invocation (no allocation).
pub struct Keys<'a> {
    args: &'a [Bytes],
    specs: std::slice::Iter<'static, KeySpec>,
    /// Keep only specs passing this filter.
    want: fn(&KeySpec) -> bool,
    /// The current spec's remaining positions, and its flags.
    next: usize,
    last: usize,
    step: usize,
    flags: u16,
}

impl<'a> Iterator for Keys<'a> {
    /// A key and its spec's flags.
    type Item = (&'a [u8], u16);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.next <= self.last && self.step > 0 {
                let i = self.next;
                self.next += self.step;
                return Some((&self.args[i][..], self.flags));
            }
            let spec = self.specs.next()?;
            if !(self.want)(spec) {
                continue;
            }
            if let Ok(Some((first, last, step))) = spec.positions(self.args) {
                self.next = first;
                self.last = last;
                self.step = step;
                self.flags = spec.flags;
            }
        }
    }
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
    /// Whether any key spec names real keys (not only channels).
    pub fn has_keys(&self) -> bool {
        self.key_specs.iter().any(|s| !s.has(ks::NOT_KEY))
    }
    /// The key arguments of an invocation, with their key-spec flags (channels excluded). For
    /// a movable-key command call `check_keys` first: a malformed `numkeys` yields no keys.
    pub fn keys_with_flags<'a>(&self, args: &'a [Bytes]) -> Keys<'a> {
        self.iter_specs_a(args, |s| !s.has(ks::NOT_KEY))
    }
    /// The key arguments of an invocation (channels excluded).
    pub fn keys<'a>(&self, args: &'a [Bytes]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.keys_with_flags(args).map(|(k, _)| k)
    }
    fn iter_specs_a<'a>(&self, args: &'a [Bytes], want: fn(&KeySpec) -> bool) -> Keys<'a> {
        Keys {
            args,
            specs: self.key_specs.iter(),
            want,
            next: 1,
            last: 0,
            step: 0,
            flags: 0,
        }
    }
    /// For movable-key commands: is every `numkeys` well formed (an integer ≥ 1 naming no more
    /// keys than there are arguments)? Checked before the command is authorized or run, so its
    /// keys are exactly what the command will touch.
    pub fn check_keys(&self, args: &[Bytes]) -> Result<(), KeysError> {
        for s in self.key_specs {
            s.positions(args)?;
        }
        Ok(())
    }
    /// The error reply for a malformed `numkeys`, in the words each Redis command uses.
    pub fn keys_error(&self, e: KeysError) -> String {
        match (self.group, e) {
            // FCALL / FCALL_RO (the caller answers "Function not found" first when the
            // function is missing: Redis looks it up before it reads numkeys).
            ("scripting", KeysError::NotInteger) if self.name.starts_with("fcall") => {
                "ERR Bad number of keys provided".into()
            }
            ("scripting", KeysError::NotPositive) => "ERR Number of keys can't be negative".into(),
            ("scripting", KeysError::TooMany) => {
                "ERR Number of keys can't be greater than number of args".into()
            }
            ("list", _) if e != KeysError::TooMany => "ERR numkeys should be greater than 0".into(),
            // ZMPOP/BZMPOP parse numkeys as LMPOP does (too many keys leaves no MIN/MAX:
            // a syntax error, below).
            ("sortedset", _) if self.name.ends_with("mpop") && e != KeysError::TooMany => {
                "ERR numkeys should be greater than 0".into()
            }
            ("set", KeysError::TooMany) => {
                "ERR Number of keys can't be greater than number of args".into()
            }
            ("set", _) => "ERR numkeys should be greater than 0".into(),
            (_, KeysError::NotInteger) => crate::resp::args::ERR_NOT_INT.into(),
            (_, KeysError::NotPositive) => format!(
                "ERR at least 1 input key is needed for '{}' command",
                self.name
            ),
            (_, KeysError::TooMany) => "ERR syntax error".into(),
        }
    }
}

/// Shorthand for table rows.
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    key_specs: &'static [KeySpec],
    group: &'static str,
    handler: Handler,
) -> CommandSpec {
    let mut movable = false;
    let mut i = 0;
    while i < key_specs.len() {
        movable |= key_specs[i].movable();
        i += 1;
    }
    CommandSpec {
        name,
        arity,
        flags,
        key_specs,
        movable,
        handler,
        group,
    }
}

pub const NO_KEYS: &[KeySpec] = &[];

/// Command name → spec. foldhash, not SipHash: the lookup runs for every command, and SipHash was
/// ~1% of pipelined GET CPU (the keys are our own command names, not attacker-chosen).
type CommandTable = HashMap<&'static str, &'static CommandSpec, foldhash::fast::FixedState>;
static TABLE: OnceLock<CommandTable> = OnceLock::new();

fn families() -> [&'static [CommandSpec]; 22] {
    use crate::resp::commands::*;
    [
        strings::COMMANDS,
        bitmaps::COMMANDS,
        keys::COMMANDS,
        dump::COMMANDS,
        databases::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        zsets_blocking::COMMANDS,
        sort::COMMANDS,
        geo::COMMANDS,
        streams::COMMANDS,
        hyperloglog::COMMANDS,
        server::COMMANDS,
        introspection::COMMANDS,
        connection::COMMANDS,
        pubsub::COMMANDS,
        tenancy::COMMANDS,
        acl::COMMANDS,
        functions::COMMANDS,
        scripting::COMMANDS,
    ]
}

/// Every spec in one contiguous array: the table's references point into it, so a spec's index
/// (`CommandSpec::id`, the slot of its per-command statistics) is a pointer subtraction, not a
/// second hash lookup per command.
static ALL: OnceLock<&'static [CommandSpec]> = OnceLock::new();

fn all_specs() -> &'static [CommandSpec] {
    ALL.get_or_init(|| {
        let v: Vec<CommandSpec> = families().iter().flat_map(|f| f.iter().copied()).collect();
        Box::leak(v.into_boxed_slice())
    })
}

/// How many commands the table holds (the size of per-command arrays).
pub fn command_count() -> usize {
    all_specs().len()
}

/// The spec with index `id` (`CommandSpec::id`).
pub fn spec_by_id(id: usize) -> &'static CommandSpec {
    &all_specs()[id]
}

impl CommandSpec {
    /// This command's index in `0..command_count()`. Every spec a caller holds comes from
    /// `table()` / `lookup()`, so it lies in the one array.
    #[inline]
    pub fn id(&'static self) -> usize {
        let all = all_specs();
        let offset = (self as *const CommandSpec as usize).wrapping_sub(all.as_ptr() as usize);
        let id = offset / std::mem::size_of::<CommandSpec>();
        debug_assert!(id < all.len(), "spec {} is not from the table", self.name);
        id.min(all.len() - 1)
    }
}

pub fn table() -> &'static CommandTable {
    TABLE.get_or_init(|| {
        let mut m = CommandTable::default();
        for spec in all_specs() {
            let prev = m.insert(spec.name, spec);
            assert!(prev.is_none(), "command {} registered twice", spec.name);
        }
        m
    })
}

/// Case-insensitive lookup without allocating: command names are short, so lower-case them
/// into a stack buffer.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
    table().get(lower).copied()
}

/// Everything a handler may touch.
pub struct Ctx<'a, 'c> {
    pub shared: &'a Shared,
    /// The selected database's cache.
    pub cache: &'c Arc<Cache>,
    /// Database 0's cache (pub/sub lives there; databases are named after it).
    pub base: &'c Arc<Cache>,
    /// The selected database's index.
    pub db: usize,
    /// Engine time for this command (read once).
    pub now: u64,
    pub client: &'a Arc<ClientInfo>,
    pub resp3: bool,
    /// Inside EXEC: every shard of `cache` is already locked here.
    pub exec: Option<&'a mut Locked<'c>>,
    /// Inside EXEC: the other databases the transaction names, locked with `cache`.
    pub exec_dbs: Option<crate::resp::commands::databases::OtherDbs<'a, 'c>>,
    /// A blocking command may ask to wait (false inside MULTI, where it acts non-blocking).
    pub may_block: bool,
    /// A blocked command running again after a wake-up. A key that now holds another type is
    /// passed over, not an error: Redis serves a blocked client only from a key of the type it
    /// waits for and leaves it blocked otherwise (the first run still answers WRONGTYPE).
    pub retry: bool,
    /// Set by a blocking command that found nothing: the connection waits on these keys and
    /// runs the command again when one of them is pushed to (or replies nil at the timeout).
    pub block: &'a mut Option<crate::resp::conn::BlockRequest>,
    /// Token id of the authenticated principal, if any: the `publisher_id` of what it publishes.
    pub publisher: Option<&'a Arc<str>>,
    /// Who runs the command (None only before authentication, when no table command runs).
    /// For the commands that reach keys their key specs cannot name (SORT's BY and GET).
    pub principal: Option<&'a ferrite_auth::Principal>,
    /// Run by a script's `redis.call` (commands whose output order Redis makes deterministic
    /// for scripts look at it).
    pub in_script: bool,
}

impl<'a, 'c> Ctx<'a, 'c> {
    /// Run `f` on the shard owning `key` (locking it unless EXEC already holds it).
    #[inline]
    pub fn with_key<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Shard, u64) -> R) -> R {
        let now = self.now;
        match self.exec.as_deref_mut() {
            Some(locked) => f(locked.shard(key), now),
            None => f(&mut self.cache.lock_key(key), now),
        }
    }

    /// Run `f` with every shard owning one of `keys` locked (atomic multi-key commands).
    pub fn with_keys<'k, R>(
        &mut self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        f: impl FnOnce(&mut Locked<'_>, u64) -> R,
    ) -> R {
        let now = self.now;
        match self.exec.as_deref_mut() {
            Some(locked) => f(locked, now),
            None => f(&mut self.cache.lock_keys(keys), now),
        }
    }

    /// Whether the caller may read every key of the cache (Redis's full key access, which
    /// SORT's BY and GET patterns need).
    pub fn reads_every_key(&self) -> bool {
        self.principal.is_some_and(|p| {
            p.can_cache_all_keys(self.cache.name(), ferrite_auth::CacheAccess::Read)
        })
    }

    /// Run `f` with every shard of the cache locked (a command reading keys that only its
    /// data names, SORT BY/GET): atomic like `with_keys`, in the global lock order.
    pub fn with_all<R>(&mut self, f: impl FnOnce(&mut Locked<'_>, u64) -> R) -> R {
        let now = self.now;
        match self.exec.as_deref_mut() {
            Some(locked) => f(locked, now),
            None => f(&mut self.cache.lock_all(), now),
        }
    }

    /// Visit every shard of the cache, one at a time (or all already locked inside EXEC).
    pub fn for_each_shard(&mut self, mut f: impl FnMut(&mut Shard, u64)) {
        let now = self.now;
        match self.exec.as_deref_mut() {
            Some(locked) => locked.shards().for_each(|s| f(s, now)),
            None => {
                for i in 0..self.cache.shard_count() {
                    f(&mut self.cache.lock_shard(i), now);
                }
            }
        }
    }

    /// Number of keys in the current cache (deadlock-free inside EXEC).
    pub fn dbsize(&mut self) -> usize {
        let mut n = 0;
        self.for_each_shard(|s, _| n += s.len());
        n
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
    fn range_specs() {
        let a = args("mset a 1 b 2 c 3");
        let s = key_range(1, -1, 2, ks::OW);
        assert_eq!(s.positions(&a), Ok(Some((1, 6, 2))));
        let spec = table()["mset"];
        let keys: Vec<&[u8]> = spec.keys(&a).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"c"]);
        let a = args("blpop a b c 0");
        assert_eq!(
            key_range(1, -2, 1, ks::RW).positions(&a),
            Ok(Some((1, 3, 1)))
        );
        // a key beyond the arguments: none
        assert_eq!(key(2, ks::RO).positions(&args("object help")), Ok(None));
        // limit 2 keeps half of the keys
        let half = KeySpec {
            flags: ks::RO,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: -1,
                step: 1,
                limit: 2,
            },
        };
        assert_eq!(half.positions(&args("c a b c d")), Ok(Some((1, 2, 1))));
        assert!(half.movable());
        assert!(!key(1, ks::RO).movable());
    }

    #[test]
    fn keynum_specs() {
        let s = keynum(2, ks::RO);
        assert_eq!(
            s.positions(&args("zunionstore d 2 a b WEIGHTS 1 2")),
            Ok(Some((3, 4, 1)))
        );
        assert_eq!(
            s.positions(&args("zunionstore d 0 a")),
            Err(KeysError::NotPositive)
        );
        assert_eq!(
            s.positions(&args("zunionstore d x a")),
            Err(KeysError::NotInteger)
        );
        assert_eq!(
            s.positions(&args("zunionstore d 3 a b")),
            Err(KeysError::TooMany)
        );
        let huge = format!("zunionstore d {} a", i64::MAX);
        assert_eq!(s.positions(&args(&huge)), Err(KeysError::TooMany));
        assert!(s.movable());
        // FCALL's numkeys may be 0 (no keys), not negative.
        let f = keynum(2, ks::RO | ks::OPTIONAL);
        assert_eq!(f.positions(&args("fcall f 0 a")), Ok(None));
        assert_eq!(f.positions(&args("fcall f 1 a")), Ok(Some((3, 3, 1))));
        assert_eq!(
            f.positions(&args("fcall f -1")),
            Err(KeysError::NotPositive)
        );
    }

    #[test]
    fn keyword_specs() {
        let fwd = KeySpec {
            flags: ks::RO,
            begin: BeginSearch::Keyword {
                keyword: "STREAMS",
                start_from: 1,
            },
            find: FindKeys::Range {
                lastkey: -1,
                step: 1,
                limit: 2,
            },
        };
        let a = args("xread COUNT 2 streams s1 s2 0 0");
        assert_eq!(fwd.positions(&a), Ok(Some((4, 5, 1))));
        assert_eq!(fwd.positions(&args("xread COUNT 2")), Ok(None));
        let back = KeySpec {
            flags: ks::RO,
            begin: BeginSearch::Keyword {
                keyword: "keys",
                start_from: -2,
            },
            find: FindKeys::Range {
                lastkey: -1,
                step: 1,
                limit: 0,
            },
        };
        assert_eq!(
            back.positions(&args("migrate h p KEYS a b")),
            Ok(Some((4, 5, 1)))
        );
        // searching backward from argc - 2 does not see a KEYS in the last argument
        assert_eq!(back.positions(&args("migrate h p a KEYS")), Ok(None));
    }

    #[test]
    fn every_command_has_consistent_key_specs() {
        // Redis's one exception: PFCOUNT is flagged readonly but its key spec is RW, since it
        // may store the cached cardinality in the HLL string.
        const READONLY_THAT_WRITES: &[&str] = &["pfcount"];
        // And FCALL: not flagged write (the function's own flags decide), its key spec RW.
        const WRITES_UNFLAGGED: &[&str] = &["fcall", "eval", "evalsha"];
        for (name, spec) in table() {
            let exempt = READONLY_THAT_WRITES.contains(name) || WRITES_UNFLAGGED.contains(name);
            for s in spec.key_specs {
                let access = s.flags & (ks::RO | ks::RW | ks::OW | ks::RM);
                assert!(
                    access.count_ones() == 1 || s.has(ks::NOT_KEY),
                    "{name}: exactly one of RO/RW/OW/RM"
                );
                assert!(
                    !s.writes() || spec.has(flags::WRITE) || exempt,
                    "{name}: a spec that writes belongs to a WRITE command"
                );
                if let BeginSearch::Index(i) = s.begin {
                    assert!(i >= 1, "{name}");
                }
            }
            if spec.has(flags::READONLY) && !exempt {
                assert!(spec.key_specs.iter().all(|s| !s.writes()), "{name}");
            }
            if spec.has(flags::WRITE) && !spec.has(flags::KEYSPACE) && !spec.has(flags::SUPER) {
                assert!(
                    spec.key_specs.iter().any(|s| s.writes()),
                    "{name}: writes no key"
                );
            }
        }
    }
}
