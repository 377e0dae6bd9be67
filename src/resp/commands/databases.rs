//! Numbered databases (`ferrite_service::databases`): database n of a connection is the cache
//! `<cache>-db<n>`. SELECT itself is a connection command (`conn/auth.rs` `select_db`, which
//! shares [`db_cache`]); here are the commands that touch two databases: MOVE, SWAPDB, and the
//! lookup COPY ... DB uses.
//!
//! Permissions: reaching another database is reaching another cache, so the token must be
//! allowed on it exactly as AUTH and SELECT require, plus the key access the command needs
//! there (MOVE: write, and conditional write since its answer tells whether the key exists
//! there; SWAPDB: every key of both caches, read and write).
//!
//! Locks across caches are taken in one order, the cache whose name sorts first first (then by
//! shard index within a cache), so MOVEs in opposite directions and SWAPDB cannot deadlock.
//! Inside MULTI, EXEC locks every database the transaction names (SELECT, MOVE, SWAPDB, COPY
//! ... DB) with the current one, in that same order, before the first command runs
//! (`conn/exec.rs`); these commands then find the other databases' locks in `Ctx::exec_dbs`.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_auth::{CacheAccess, Principal};
use ferrite_resp::ReplyWriter;
use ferrite_service::authz;
use ferrite_service::databases::{db_cache_name, DATABASES};
use ferrite_storage::{Cache, Change, Locked, Shard, DEFAULT_CACHE};
use parking_lot::MutexGuard;

use crate::resp::acl::log::Reason;
use crate::resp::args::*;
use crate::resp::dispatch::{cmd, flags::*, key, ks::*, CommandSpec, Ctx, NO_KEYS};
use crate::shared::Shared;

const G: &str = "generic";

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "move",
        3,
        WRITE | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        G,
        move_cmd,
    ),
    // KEYSPACE: all keys of the current database (the other one is checked by the handler).
    cmd("swapdb", 3, WRITE | FAST | KEYSPACE, NO_KEYS, G, swapdb),
];

const ERR_RANGE: &str = "ERR DB index is out of range";

/// Inside EXEC: the locks of the databases the transaction reaches besides the current one.
pub struct OtherDbs<'x, 'c> {
    before: &'x mut [(usize, Locked<'c>)],
    after: &'x mut [(usize, Locked<'c>)],
}

impl<'x, 'c> OtherDbs<'x, 'c> {
    /// Database `cur`'s locks, and the others'.
    pub fn split(
        all: &'x mut [(usize, Locked<'c>)],
        cur: usize,
    ) -> Option<(&'x mut Locked<'c>, Self)> {
        let pos = all.iter().position(|(d, _)| *d == cur)?;
        let (before, rest) = all.split_at_mut(pos);
        let (mine, after) = rest.split_first_mut()?;
        Some((&mut mine.1, OtherDbs { before, after }))
    }

    pub fn get(&mut self, db: usize) -> Option<&mut Locked<'c>> {
        self.before
            .iter_mut()
            .chain(self.after.iter_mut())
            .find(|(d, _)| *d == db)
            .map(|(_, l)| l)
    }

    /// Two other databases' locks at once (SWAPDB of two databases but the current one).
    pub fn pair(&mut self, a: usize, b: usize) -> Option<(&mut Locked<'c>, &mut Locked<'c>)> {
        let (mut x, mut y) = (None, None);
        for (d, l) in self.before.iter_mut().chain(self.after.iter_mut()) {
            if *d == a {
                x = Some(l);
            } else if *d == b {
                y = Some(l);
            }
        }
        Some((x?, y?))
    }
}

/// The databases a queued command reaches besides the current one (EXEC locks them first):
/// SELECT's, MOVE's, SWAPDB's and COPY ... DB's indexes that parse.
pub(crate) fn named_dbs(args: &[Bytes], out: &mut Vec<usize>) {
    let name = args[0].to_ascii_lowercase();
    let mut add = |a: &[u8]| {
        if let Ok(n) = parse_db(a, "") {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    };
    match name.as_slice() {
        b"select" if args.len() == 2 => add(&args[1]),
        b"move" if args.len() == 3 => add(&args[2]),
        b"swapdb" if args.len() == 3 => {
            add(&args[1]);
            add(&args[2]);
        }
        b"copy" => {
            for w in args.windows(2).skip(3) {
                if eq_ic(&w[0], "db") {
                    add(&w[1]);
                }
            }
        }
        _ => {}
    }
}

/// Not locked by this EXEC: the database could not be resolved when EXEC began.
pub(crate) const ERR_NOT_LOCKED: &str = "ERR the database is not available inside this transaction";

/// `key_here`'s shard of the current database and `key_there`'s of database `db` (cache
/// `there`), both locked, for `f`: inside EXEC the transaction's own locks, otherwise both taken
/// in the cross-cache order ([`lock_pair`]). MOVE and COPY ... DB.
pub(crate) fn with_shard_pair<R>(
    ctx: &mut Ctx<'_, '_>,
    db: usize,
    there: &Cache,
    key_here: &[u8],
    key_there: &[u8],
    f: impl FnOnce(&mut Shard, &mut Shard) -> R,
) -> Result<R, &'static str> {
    if ctx.exec.is_none() {
        let (mut s, mut d) = lock_pair(ctx.cache, there, key_here, key_there);
        return Ok(f(&mut s, &mut d));
    }
    match (ctx.exec.as_deref_mut(), ctx.exec_dbs.as_mut()) {
        (Some(here), Some(others)) => match others.get(db) {
            Some(other) => Ok(f(here.shard(key_here), other.shard(key_there))),
            None => Err(ERR_NOT_LOCKED),
        },
        _ => Err(ERR_NOT_LOCKED),
    }
}

/// The cache of database `n` of `base`: the token must be allowed on it; it is created on first
/// use for the `default` cache's databases (as `default` itself is) and for super-users, and
/// must exist otherwise (CreateCache). The error is a reply.
pub(crate) fn db_cache(
    shared: &Shared,
    principal: Option<&Principal>,
    base: &Arc<Cache>,
    n: usize,
) -> Result<Arc<Cache>, String> {
    if n == 0 {
        return Ok(base.clone());
    }
    let name = db_cache_name(base.name(), n);
    let max = shared.limits.max_cache_name_bytes;
    if name.len() > max {
        return Err(format!(
            "ERR database {n} of this cache would be named '{name}', longer than the {max} bytes of a cache name"
        ));
    }
    let Some(p) = principal else {
        return Err("NOAUTH Authentication required.".into());
    };
    if !p.can_use_cache(&name) {
        return Err(format!(
            "NOPERM this token has no permission on cache '{name}'"
        ));
    }
    if base.name() == DEFAULT_CACHE || p.is_super_user() {
        Ok(shared.store.get_or_create(&name))
    } else {
        shared
            .store
            .cache(&name)
            .ok_or_else(|| format!("ERR cache '{name}' does not exist"))
    }
}

/// A database index argument (Redis's getIntFromObjectOrReply, then the range check);
/// `not_int`: the command's error for a non-integer.
pub(crate) fn parse_db(b: &[u8], not_int: &str) -> Result<usize, String> {
    match parse_i64(b) {
        // With its own message a command says it for this too; without, Redis's range text.
        Some(n) if (n < i32::MIN as i64 || n > i32::MAX as i64) && not_int != ERR_NOT_INT => {
            Err(not_int.into())
        }
        Some(n) if n < i32::MIN as i64 || n > i32::MAX as i64 => Err(format!(
            "ERR value is out of range, value must between {} and {}",
            i32::MIN,
            i32::MAX
        )),
        Some(n) if (0..DATABASES as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(ERR_RANGE.into()),
        None => Err(not_int.into()),
    }
}

/// The cache of database `n` for this command's caller.
pub(crate) fn other_db(ctx: &Ctx<'_, '_>, n: usize) -> Result<Arc<Cache>, String> {
    if n == ctx.db {
        return Ok(ctx.cache.clone());
    }
    db_cache(ctx.shared, ctx.principal, ctx.base, n)
}

/// Lock `key`'s shard in two caches, in the cross-cache lock order (by name).
pub(crate) fn lock_pair<'c>(
    a: &'c Cache,
    b: &'c Cache,
    key_a: &[u8],
    key_b: &[u8],
) -> (MutexGuard<'c, Shard>, MutexGuard<'c, Shard>) {
    debug_assert!(!std::ptr::eq(a, b));
    if a.name() <= b.name() {
        let x = a.lock_key(key_a);
        (x, b.lock_key(key_b))
    } else {
        let y = b.lock_key(key_b);
        (a.lock_key(key_a), y)
    }
}

/// NOPERM for a check of the other database, recorded in the ACL LOG.
fn deny(
    ctx: &Ctx<'_, '_>,
    w: &mut ReplyWriter<'_>,
    d: authz::Denied,
    reason: Reason,
    object: &[u8],
) {
    crate::resp::acl::log::record(ctx, reason, object);
    w.error(&format!("NOPERM {d}"));
}

/// MOVE key db: 1 when moved (with its TTL), 0 when it is missing here or exists there.
fn move_cmd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let k = &args[1][..];
    let n = match parse_db(&args[2], ERR_NOT_INT) {
        Ok(n) => n,
        Err(e) => return w.error(&e),
    };
    if n == ctx.db {
        return w.error("ERR source and destination objects are the same");
    }
    let dst = match other_db(ctx, n) {
        Ok(c) => c,
        Err(e) => return w.error(&e),
    };
    if let Some(p) = ctx.principal {
        for a in [CacheAccess::Write, CacheAccess::ConditionalWrite] {
            if let Err(d) = authz::check_cache_keys(p, dst.name(), a, [k]) {
                return deny(ctx, w, d, Reason::Key, k);
            }
        }
    }
    let now = ctx.now;
    let moved = |s: &mut Shard, d: &mut Shard| {
        if s.peek(k, now).is_none() || d.peek(k, now).is_some() {
            return false;
        }
        let e = s
            .remove_as(k, now, Change::MoveFrom)
            .expect("present under the lock");
        d.insert_as(k, e.value, e.expires_at, now, Change::MoveTo);
        true
    };
    let done = match with_shard_pair(ctx, n, &dst, k, k, moved) {
        Ok(done) => done,
        Err(e) => return w.error(e),
    };
    w.int(i64::from(done));
}

/// SWAPDB a b: the two databases' caches exchange their contents (the names keep their
/// meaning for gRPC and HTTP clients; what they hold is swapped), atomically under both
/// caches' locks. Clients blocked on keys of either are woken to look again.
fn swapdb(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let a = match parse_db(&args[1], "ERR invalid first DB index") {
        Ok(n) => n,
        Err(e) => return w.error(&e),
    };
    let b = match parse_db(&args[2], "ERR invalid second DB index") {
        Ok(n) => n,
        Err(e) => return w.error(&e),
    };
    let (ca, cb) = match (other_db(ctx, a), other_db(ctx, b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return w.error(&e),
    };
    if let Some(p) = ctx.principal {
        for c in [&ca, &cb] {
            for acc in [CacheAccess::Read, CacheAccess::Write] {
                if let Err(d) = authz::check_all_keys(p, c.name(), acc) {
                    return deny(ctx, w, d, Reason::Command, b"swapdb");
                }
            }
        }
    }
    if Arc::ptr_eq(&ca, &cb) {
        return w.ok();
    }
    let now = ctx.now;
    let swapped = if ctx.exec.is_some() {
        // Inside EXEC: both databases' shards are held by this transaction already.
        let cur = ctx.db;
        let (Some(mine), Some(others)) = (ctx.exec.as_deref_mut(), ctx.exec_dbs.as_mut()) else {
            return w.error(ERR_NOT_LOCKED);
        };
        let pair = if a == cur {
            others.get(b).map(|y| mine.swap_contents_with(y, now))
        } else if b == cur {
            others.get(a).map(|x| mine.swap_contents_with(x, now))
        } else {
            others.pair(a, b).map(|(x, y)| x.swap_contents_with(y, now))
        };
        match pair {
            Some(r) => r,
            None => return w.error(ERR_NOT_LOCKED),
        }
    } else {
        Cache::swap_contents(&ca, &cb, now)
    };
    if let Err(e) = swapped {
        return w.error(&format!("ERR {e}"));
    }
    ctx.shared.waiters.wake_cache(&ca);
    ctx.shared.waiters.wake_cache(&cb);
    w.ok();
}
