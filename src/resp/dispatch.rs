//! The command table and the context a command runs in.
//!
//! Each command family module exports `COMMANDS: &[CommandSpec]`. A spec carries what generic
//! code needs to know without running the command (arity, flags, key positions), so arity
//! errors, OOM rejection, WATCH invalidation and MULTI queueing are handled once, here and in
//! the connection loop, not in every handler.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Cache, Locked, Shard};

use crate::resp::client::ClientInfo;
use crate::shared::Shared;

/// Command flags (a bitset, like Redis's command flags).
pub mod flags {
    /// Modifies the keyspace: WATCH invalidation applies.
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
}

pub type Handler = fn(&mut Ctx<'_, '_>, &[Bytes], &mut ReplyWriter<'_>);

pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N = exactly N args (with the name), -N = at least N.
    pub arity: i32,
    pub flags: u32,
    /// Key positions (1-based, Redis's first/last/step; last -1 = the last argument,
    /// -2 = all but the last). 0 = no keys.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub handler: Handler,
    /// ACL-ish category for metrics and COMMAND INFO ("string", "hash", "connection", ...).
    pub group: &'static str,
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
    /// The key arguments of an invocation.
    pub fn keys<'a>(&self, args: &'a [Bytes]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let n = args.len() as i32;
        let first = self.first_key;
        let last = if self.last_key < 0 {
            n + self.last_key
        } else {
            self.last_key.min(n - 1)
        };
        let step = self.step.max(1) as usize;
        let range = if first <= 0 || first > last {
            0..0
        } else {
            first as usize..last as usize + 1
        };
        range
            .step_by(step)
            .filter_map(move |i| args.get(i).map(|b| &b[..]))
    }
}

/// Shorthand for table rows.
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        handler,
        group,
    }
}

pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
pub const KEY1: (i32, i32, i32) = (1, 1, 1);
pub const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);

/// Command name → spec. foldhash, not SipHash: the lookup runs for every command, and SipHash was
/// ~1% of pipelined GET CPU (the keys are our own command names, not attacker-chosen).
type CommandTable = HashMap<&'static str, &'static CommandSpec, foldhash::fast::FixedState>;
static TABLE: OnceLock<CommandTable> = OnceLock::new();

fn families() -> [&'static [CommandSpec]; 10] {
    use crate::resp::commands::*;
    [
        strings::COMMANDS,
        keys::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        server::COMMANDS,
        connection::COMMANDS,
        pubsub::COMMANDS,
        tenancy::COMMANDS,
    ]
}

pub fn table() -> &'static CommandTable {
    TABLE.get_or_init(|| {
        let mut m = CommandTable::default();
        for fam in families() {
            for spec in fam {
                let prev = m.insert(spec.name, spec);
                assert!(prev.is_none(), "command {} registered twice", spec.name);
            }
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
    pub cache: &'c Arc<Cache>,
    /// Engine time for this command (read once).
    pub now: u64,
    pub client: &'a Arc<ClientInfo>,
    pub resp3: bool,
    /// Inside EXEC: every shard of `cache` is already locked here.
    pub exec: Option<&'a mut Locked<'c>>,
    /// A blocking command may ask to wait (false inside MULTI, where it acts non-blocking).
    pub may_block: bool,
    /// Set by a blocking command that found nothing: the connection waits on these keys and
    /// runs the command again when one of them is pushed to (or replies nil at the timeout).
    pub block: &'a mut Option<crate::resp::conn::BlockRequest>,
    /// Token id of the authenticated principal, if any: the `publisher_id` of what it publishes.
    pub publisher: Option<&'a Arc<str>>,
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

    /// Wake clients blocked (BLPOP & co.) on `key` in this cache.
    pub fn signal_key(&self, key: &[u8]) {
        self.shared.waiters.signal(self.cache.name(), key);
    }
}
