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
//! These commands are refused inside MULTI (a transaction holds one cache's locks), see
//! docs/compatibility.md.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_auth::{CacheAccess, Principal};
use ferrite_resp::ReplyWriter;
use ferrite_service::authz;
use ferrite_service::databases::{db_cache_name, DATABASES};
use ferrite_storage::{Cache, Change, Shard, DEFAULT_CACHE};
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
        WRITE | FAST | NO_MULTI,
        &[key(1, RW | ACCESS | UPDATE)],
        G,
        move_cmd,
    ),
    // KEYSPACE: all keys of the current database (the other one is checked by the handler).
    cmd(
        "swapdb",
        3,
        WRITE | FAST | NO_MULTI | KEYSPACE,
        NO_KEYS,
        G,
        swapdb,
    ),
];

const ERR_RANGE: &str = "ERR DB index is out of range";

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
    debug_assert!(ctx.exec.is_none(), "MOVE is refused inside MULTI");
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
    let (mut s, mut d) = lock_pair(ctx.cache, &dst, k, k);
    if s.peek(k, now).is_none() || d.peek(k, now).is_some() {
        return w.int(0);
    }
    let e = s
        .remove_as(k, now, Change::MoveFrom)
        .expect("present under the lock");
    d.insert_as(k, e.value, e.expires_at, now, Change::MoveTo);
    w.int(1);
}

/// SWAPDB a b: the two databases' caches exchange their contents (the names keep their
/// meaning for gRPC and HTTP clients; what they hold is swapped), atomically under both
/// caches' locks. Clients blocked on keys of either are woken to look again.
fn swapdb(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    debug_assert!(ctx.exec.is_none(), "SWAPDB is refused inside MULTI");
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
    if let Err(e) = Cache::swap_contents(&ca, &cb) {
        return w.error(&format!("ERR {e}"));
    }
    ctx.shared.waiters.wake_cache(&ca);
    ctx.shared.waiters.wake_cache(&cb);
    w.ok();
}
