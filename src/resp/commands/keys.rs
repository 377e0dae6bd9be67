//! Generic keyspace commands: DEL, EXISTS, EXPIRE & co., TTL, TYPE, KEYS, SCAN, RENAME, COPY,
//! RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL, TOUCH, OBJECT, MEMORY.
//!
//! Whole-keyspace commands (KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHDB) visit shards one at a time,
//! or, inside EXEC (where every shard of the cache is already locked), through the locked set:
//! they never lock a shard directly while `ctx.exec` is Some.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Cache, Change, Shard, Value, ValueKind};
use rand::Rng;

use crate::resp::args::*;
use crate::resp::commands::databases;
use crate::resp::dispatch::{cmd, flags::*, key, key_range, ks::*, CommandSpec, Ctx, NO_KEYS};
use crate::resp::glob;

const G: &str = "generic";

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "del",
        -2,
        WRITE,
        &[key_range(1, -1, 1, RM | DELETE)],
        G,
        del,
    ),
    cmd(
        "unlink",
        -2,
        WRITE | FAST,
        &[key_range(1, -1, 1, RM | DELETE)],
        G,
        del,
    ),
    cmd(
        "exists",
        -2,
        READONLY | FAST,
        &[key_range(1, -1, 1, RO)],
        G,
        exists,
    ),
    cmd(
        "touch",
        -2,
        READONLY | FAST,
        &[key_range(1, -1, 1, RO)],
        G,
        touch,
    ),
    cmd(
        "expire",
        -3,
        WRITE | FAST | ARG_ACCESS,
        &[key(1, RW | UPDATE)],
        G,
        expire,
    ),
    cmd(
        "pexpire",
        -3,
        WRITE | FAST | ARG_ACCESS,
        &[key(1, RW | UPDATE)],
        G,
        pexpire,
    ),
    cmd(
        "expireat",
        -3,
        WRITE | FAST | ARG_ACCESS,
        &[key(1, RW | UPDATE)],
        G,
        expireat,
    ),
    cmd(
        "pexpireat",
        -3,
        WRITE | FAST | ARG_ACCESS,
        &[key(1, RW | UPDATE)],
        G,
        pexpireat,
    ),
    cmd(
        "expiretime",
        2,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        expiretime,
    ),
    cmd(
        "pexpiretime",
        2,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        pexpiretime,
    ),
    cmd("ttl", 2, READONLY | FAST, &[key(1, RO | ACCESS)], G, ttl),
    cmd("pttl", 2, READONLY | FAST, &[key(1, RO | ACCESS)], G, pttl),
    cmd(
        "persist",
        2,
        WRITE | FAST,
        &[key(1, RW | UPDATE)],
        G,
        persist,
    ),
    cmd("type", 2, READONLY | FAST, &[key(1, RO)], G, type_cmd),
    cmd("keys", 2, READONLY | KEYSPACE, NO_KEYS, G, keys),
    cmd("scan", -2, READONLY | KEYSPACE, NO_KEYS, G, scan),
    cmd(
        "rename",
        3,
        WRITE,
        &[key(1, RW | ACCESS | DELETE), key(2, OW | UPDATE)],
        G,
        rename,
    ),
    cmd(
        "renamenx",
        3,
        WRITE | FAST,
        &[
            key(1, RW | ACCESS | DELETE),
            key(2, OW | INSERT | CONDITIONAL),
        ],
        G,
        renamenx,
    ),
    cmd(
        "copy",
        -3,
        WRITE | DENYOOM,
        &[key(1, RO | ACCESS), key(2, OW | UPDATE)],
        G,
        copy,
    ),
    cmd("randomkey", 1, READONLY | KEYSPACE, NO_KEYS, G, randomkey),
    cmd("dbsize", 1, READONLY | FAST | KEYSPACE, NO_KEYS, G, dbsize),
    cmd("flushdb", -1, WRITE | KEYSPACE, NO_KEYS, G, flushdb),
    cmd("flushall", -1, WRITE | SUPER, NO_KEYS, G, flushall),
    cmd("object", -2, READONLY, &[key(2, RO)], G, object),
    cmd("memory", -2, READONLY, &[key(2, RO)], G, memory),
];

// ---------------------------------------------------------------------------------------------
// Shard access helpers

/// Run `f` on shard `i` of the current cache: through the locked set inside EXEC (all shards
/// are held there, in index order), otherwise by locking that one shard.
fn with_shard<R>(ctx: &mut Ctx<'_, '_>, i: usize, f: impl FnOnce(&mut Shard, u64) -> R) -> R {
    let now = ctx.now;
    match ctx.exec.as_deref_mut() {
        Some(locked) => {
            debug_assert!(locked.holds_all());
            f(locked.shards().nth(i).expect("EXEC holds every shard"), now)
        }
        None => f(&mut ctx.cache.lock_shard(i), now),
    }
}

/// Number of shards of the current cache.
fn shard_count(ctx: &Ctx<'_, '_>) -> usize {
    ctx.cache.shard_count()
}

// ---------------------------------------------------------------------------------------------
// DEL / UNLINK / EXISTS / TOUCH

fn del(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let keys = &args[1..];
    let n = ctx.with_keys(keys.iter().map(|k| &k[..]), |l, now| {
        keys.iter().filter(|k| l.shard(k).delete(k, now)).count()
    });
    w.int(n as i64);
}

fn exists(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let keys = &args[1..];
    // Duplicates count once per occurrence, like Redis.
    let n = ctx.with_keys(keys.iter().map(|k| &k[..]), |l, now| {
        keys.iter()
            .filter(|k| l.shard(k).peek_meta(k, now).is_some())
            .count()
    });
    w.int(n as i64);
}

fn touch(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let keys = &args[1..];
    let n = ctx.with_keys(keys.iter().map(|k| &k[..]), |l, now| {
        keys.iter()
            .filter(|k| l.shard(k).get(k, now).is_some())
            .count()
    });
    w.int(n as i64);
}

// ---------------------------------------------------------------------------------------------
// EXPIRE family

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Redis's parseExtendedExpireArgumentsOrReply.
fn parse_expire_flags(args: &[Bytes], w: &mut ReplyWriter<'_>) -> Option<u8> {
    let mut f = 0u8;
    for a in &args[3..] {
        f |= if eq_ic(a, "nx") {
            EXPIRE_NX
        } else if eq_ic(a, "xx") {
            EXPIRE_XX
        } else if eq_ic(a, "gt") {
            EXPIRE_GT
        } else if eq_ic(a, "lt") {
            EXPIRE_LT
        } else {
            w.error(&format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            ));
            return None;
        };
    }
    if f & EXPIRE_NX != 0 && f & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        w.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if f & EXPIRE_GT != 0 && f & EXPIRE_LT != 0 {
        w.error("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(f)
}

/// Redis's expireGenericCommand. `base` is the instant relative times count from (now, or 0
/// for the *AT variants); `seconds` selects the unit of the argument.
fn expire_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    relative: bool,
    seconds: bool,
    name: &str,
) {
    let Some(flags) = parse_expire_flags(args, w) else {
        return;
    };
    let Some(mut when) = int_or_err(w, &args[2]) else {
        return;
    };
    let bad = || format!("ERR invalid expire time in '{name}' command");
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => {
                w.error(&bad());
                return;
            }
        }
    }
    if relative {
        match when.checked_add(ctx.now as i64) {
            Some(at) => when = at,
            None => {
                w.error(&bad());
                return;
            }
        }
    }
    let key = &args[1];
    let done = ctx.with_key(key, |s, now| {
        let Some(e) = s.peek(key, now) else {
            return false;
        };
        let current: i64 = if e.expires_at == 0 {
            -1
        } else {
            e.expires_at as i64
        };
        if flags & EXPIRE_NX != 0 && current != -1 {
            return false;
        }
        if flags & EXPIRE_XX != 0 && current == -1 {
            return false;
        }
        if flags & EXPIRE_GT != 0 && (current == -1 || when <= current) {
            return false;
        }
        if flags & EXPIRE_LT != 0 && current != -1 && when >= current {
            return false;
        }
        if when <= now as i64 {
            // Already in the past: the key is deleted (and the command still reports 1).
            s.remove(key, now);
        } else if let Some(mut e) = s.get_mut(key, now) {
            e.expires_at = when as u64;
            e.changed(Change::Expire);
        }
        true
    });
    w.int(done as i64);
}

fn expire(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    expire_generic(ctx, args, w, true, true, "expire");
}
fn pexpire(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    expire_generic(ctx, args, w, true, false, "pexpire");
}
fn expireat(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    expire_generic(ctx, args, w, false, true, "expireat");
}
fn pexpireat(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    expire_generic(ctx, args, w, false, false, "pexpireat");
}

/// Redis's ttlGenericCommand: -2 missing key, -1 no expiry; seconds are rounded.
fn ttl_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    ms: bool,
    absolute: bool,
) {
    let key = &args[1];
    let exp = ctx.with_key(key, |s, now| s.peek_meta(key, now).map(|(_, at)| at));
    let reply = match exp {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let v = if absolute {
                at as i64
            } else {
                (at as i64 - ctx.now as i64).max(0)
            };
            if ms {
                v
            } else {
                (v + 500) / 1000
            }
        }
    };
    w.int(reply);
}

fn ttl(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    ttl_generic(ctx, args, w, false, false);
}
fn pttl(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    ttl_generic(ctx, args, w, true, false);
}
fn expiretime(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    ttl_generic(ctx, args, w, false, true);
}
fn pexpiretime(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    ttl_generic(ctx, args, w, true, true);
}

fn persist(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let done = ctx.with_key(key, |s, now| match s.get_mut(key, now) {
        Some(mut e) if e.expires_at != 0 => {
            e.expires_at = 0;
            e.changed(Change::Persist);
            true
        }
        _ => false,
    });
    w.int(done as i64);
}

fn type_cmd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let kind = ctx.with_key(key, |s, now| s.peek_meta(key, now).map(|(kind, _)| kind));
    w.simple(kind.map(ValueKind::name).unwrap_or("none"));
}

// ---------------------------------------------------------------------------------------------
// KEYS / SCAN / RANDOMKEY / DBSIZE

fn keys(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let pat = &args[1][..];
    let all = pat == b"*";
    let mut out: Vec<Bytes> = Vec::new();
    ctx.for_each_shard(|s, now| {
        s.for_each_live(now, |k| {
            if all || glob::matches(pat, k.key) {
                out.push(Bytes::copy_from_slice(k.key));
            }
        });
    });
    w.array(out.len());
    for k in &out {
        w.bulk(k);
    }
}

/// SCAN cursor layout: `local << SCAN_SHARD_BITS | shard`.
///
/// `shard` is the index of the shard being scanned; `local` is Shard::scan's own cursor (47
/// bits), with 0 meaning "that shard has not been started" (Shard::scan returns 0 when a shard
/// is finished, so the cursor moves on to the next shard with local = 0). Cursor 0 is therefore
/// "shard 0, not started" (the start), and the reply cursor is 0 once the last shard is done.
/// Shard::scan keeps Redis's guarantee: a key present for the whole iteration is returned at
/// least once.
const SCAN_SHARD_BITS: u32 = 16;
const SCAN_SHARD_MASK: u64 = (1 << SCAN_SHARD_BITS) - 1;

fn scan(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        w.error("ERR invalid cursor");
        return;
    };
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        let has_val = i + 1 < args.len();
        if eq_ic(a, "count") && has_val {
            let Some(n) = int_or_err(w, &args[i + 1]) else {
                return;
            };
            if n < 1 {
                w.error(ERR_SYNTAX);
                return;
            }
            count = n as usize;
        } else if eq_ic(a, "match") && has_val {
            let p = &args[i + 1][..];
            pattern = if p == b"*" { None } else { Some(p) };
        } else if eq_ic(a, "type") && has_val {
            type_filter = Some(&args[i + 1][..]);
        } else {
            w.error(ERR_SYNTAX);
            return;
        }
        i += 2;
    }

    let n = shard_count(ctx);
    let mut shard = (cursor & SCAN_SHARD_MASK) as usize;
    let mut remaining = cursor >> SCAN_SHARD_BITS;
    let mut out: Vec<Bytes> = Vec::new();
    let mut budget = count;
    while shard < n && budget > 0 {
        let (left, examined) = with_shard(ctx, shard, |s, now| {
            s.scan(remaining, budget, now, |k, kind| {
                if let Some(t) = type_filter {
                    if !eq_ic(t, kind.name()) {
                        return;
                    }
                }
                if let Some(p) = pattern {
                    if !glob::matches(p, k) {
                        return;
                    }
                }
                out.push(Bytes::copy_from_slice(k));
            })
        });
        budget = budget.saturating_sub(examined);
        if left == 0 {
            shard += 1;
            remaining = 0;
        } else {
            remaining = left;
        }
    }
    let next = if shard >= n {
        0
    } else {
        remaining << SCAN_SHARD_BITS | shard as u64
    };
    w.array(2);
    w.bulk(next.to_string().as_bytes());
    w.array(out.len());
    for k in &out {
        w.bulk(k);
    }
}

fn randomkey(ctx: &mut Ctx<'_, '_>, _args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let n = shard_count(ctx);
    for _ in 0..8 {
        // Pick a shard weighted by its size, then a key inside it.
        let mut lens = Vec::with_capacity(n);
        ctx.for_each_shard(|s, _| lens.push(s.len()));
        let total: usize = lens.iter().sum();
        if total == 0 {
            break;
        }
        let mut r = rand::thread_rng().gen_range(0..total);
        let idx = lens
            .iter()
            .position(|&l| {
                if r < l {
                    true
                } else {
                    r -= l;
                    false
                }
            })
            .unwrap_or(0);
        if let Some(k) = with_shard(ctx, idx, |s, now| s.random_key(now)) {
            w.bulk(&k);
            return;
        }
    }
    w.null();
}

fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let n = ctx.dbsize();
    w.int(n as i64);
}

// ---------------------------------------------------------------------------------------------
// FLUSHDB / FLUSHALL

/// `[ASYNC|SYNC]`: both accepted (the flush is always synchronous).
fn flush_args_ok(args: &[Bytes], w: &mut ReplyWriter<'_>) -> bool {
    let ok = match args.len() {
        1 => true,
        2 => eq_ic(&args[1], "async") || eq_ic(&args[1], "sync"),
        _ => false,
    };
    if !ok {
        w.error(ERR_SYNTAX);
    }
    ok
}

/// Clear every shard of the current cache (deadlock-free inside EXEC).
fn flush_current(ctx: &mut Ctx<'_, '_>) {
    // Each shard reports a flush to the change feed: every WATCH on the cache fails.
    ctx.for_each_shard(|s, _| s.clear());
}

fn flushdb(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if !flush_args_ok(args, w) {
        return;
    }
    flush_current(ctx);
    w.ok();
}

fn flushall(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if !flush_args_ok(args, w) {
        return;
    }
    let current: &Arc<Cache> = ctx.cache;
    let others: Vec<Arc<Cache>> = ctx
        .shared
        .store
        .caches()
        .into_iter()
        .filter(|c| !Arc::ptr_eq(c, current))
        .collect();
    let in_exec = ctx.exec.is_some();
    flush_current(ctx);
    if in_exec {
        // Inside EXEC this thread holds every shard of its own cache. Locking another cache's
        // shards now could deadlock with a transaction on that cache doing the same to us, so
        // the other caches are flushed as soon as this thread's locks are free (a dedicated
        // thread that holds nothing else while it waits).
        std::thread::spawn(move || others.iter().for_each(|c| c.flush()));
    } else {
        for c in others {
            // Cache::flush also invalidates every WATCH on that cache.
            c.flush();
        }
    }
    w.ok();
}

// ---------------------------------------------------------------------------------------------
// RENAME / RENAMENX / COPY

// A list moved under a new name wakes clients blocked on that name: the change feed reports
// `rename_to`/`copy_to` with the value, and the wake-up listener (`resp::waiters`) sees a list.

enum Rename {
    NoSuchKey,
    /// Destination exists (RENAMENX only).
    Exists,
    Done,
}

fn rename_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], nx: bool) -> Rename {
    let (src, dst) = (&args[1], &args[2]);
    ctx.with_keys([&src[..], &dst[..]], |l, now| {
        if l.shard(src).peek(src, now).is_none() {
            return Rename::NoSuchKey;
        }
        if src == dst {
            return if nx { Rename::Exists } else { Rename::Done };
        }
        if nx && l.shard(dst).peek(dst, now).is_some() {
            return Rename::Exists;
        }
        // Redis's events: `rename_from` on the source, then `rename_to` on the destination.
        let e = l
            .shard(src)
            .remove_as(src, now, Change::RenameFrom)
            .expect("checked live above");
        l.shard(dst)
            .insert_as(dst, e.value, e.expires_at, now, Change::RenameTo);
        Rename::Done
    })
}

fn rename(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match rename_generic(ctx, args, false) {
        Rename::NoSuchKey => w.error(ERR_NO_KEY),
        Rename::Exists => w.ok(),
        Rename::Done => w.ok(),
    }
}

fn renamenx(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match rename_generic(ctx, args, true) {
        Rename::NoSuchKey => w.error(ERR_NO_KEY),
        Rename::Exists => w.int(0),
        Rename::Done => w.int(1),
    }
}

fn copy(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (src, dst) = (&args[1], &args[2]);
    let mut replace = false;
    let mut db = ctx.db;
    let mut i = 3;
    while i < args.len() {
        if eq_ic(&args[i], "replace") {
            replace = true;
        } else if eq_ic(&args[i], "db") && i + 1 < args.len() {
            match databases::parse_db(&args[i + 1], ERR_NOT_INT) {
                Ok(n) => db = n,
                Err(e) => return w.error(&e),
            }
            i += 1;
        } else {
            w.error(ERR_SYNTAX);
            return;
        }
        i += 1;
    }
    if db != ctx.db {
        return copy_to_db(ctx, src, dst, db, replace, w);
    }
    if src == dst {
        w.error("ERR source and destination objects are the same");
        return;
    }
    let r = ctx.with_keys([&src[..], &dst[..]], |l, now| {
        let e = l.shard(src).get(src, now)?;
        let (value, exp): (Value, u64) = (e.value.clone(), e.expires_at);
        if !replace && l.shard(dst).peek(dst, now).is_some() {
            return None;
        }
        l.shard(dst).insert_as(dst, value, exp, now, Change::CopyTo);
        Some(())
    });
    w.int(r.is_some() as i64);
}

/// COPY ... DB n into another database's cache: the token needs the destination's write (and,
/// without REPLACE, conditional write) there, as its key spec asks in this one. Inside EXEC the
/// destination's locks are the transaction's (`commands/databases.rs`, `OtherDbs`).
fn copy_to_db(
    ctx: &mut Ctx<'_, '_>,
    src: &[u8],
    dst: &[u8],
    db: usize,
    replace: bool,
    w: &mut ReplyWriter<'_>,
) {
    let target = match databases::other_db(ctx, db) {
        Ok(c) => c,
        Err(e) => return w.error(&e),
    };
    if let Some(p) = ctx.principal {
        let mut need = vec![ferrite_auth::CacheAccess::Write];
        if !replace {
            need.push(ferrite_auth::CacheAccess::ConditionalWrite);
        }
        for a in need {
            if let Err(d) = ferrite_service::authz::check_cache_keys(p, target.name(), a, [dst]) {
                crate::resp::acl::log::record(ctx, crate::resp::acl::log::Reason::Key, dst);
                return w.error(&format!("NOPERM {d}"));
            }
        }
    }
    let now = ctx.now;
    let copied = |s: &mut ferrite_storage::Shard, d: &mut ferrite_storage::Shard| {
        let Some(e) = s.get(src, now) else {
            return false;
        };
        let (value, exp) = (e.value.clone(), e.expires_at);
        if !replace && d.peek(dst, now).is_some() {
            return false;
        }
        d.insert_as(dst, value, exp, now, Change::CopyTo);
        true
    };
    let done = match databases::with_shard_pair(ctx, db, &target, src, dst, copied) {
        Ok(done) => done,
        Err(e) => return w.error(e),
    };
    w.int(i64::from(done));
}

// ---------------------------------------------------------------------------------------------
// OBJECT / MEMORY

pub(crate) fn help(w: &mut ReplyWriter<'_>, lines: &[&str]) {
    w.array(lines.len());
    for l in lines {
        w.simple(l);
    }
}

pub(crate) fn sub_arity_err(w: &mut ReplyWriter<'_>, cmd: &str, sub: &[u8]) {
    w.error(&format!(
        "ERR wrong number of arguments for '{cmd}|{}' command",
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    ));
}

pub(crate) fn unknown_sub(w: &mut ReplyWriter<'_>, cmd: &str, sub: &[u8]) {
    w.error(&format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd.to_ascii_uppercase()
    ));
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const ERR_LFU_NO_IDLE: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const ERR_NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

fn object(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    if eq_ic(sub, "help") {
        if args.len() != 2 {
            sub_arity_err(w, "object", sub);
            return;
        }
        help(w, OBJECT_HELP);
        return;
    }
    let known = ["encoding", "freq", "idletime", "refcount"];
    if !known.iter().any(|k| eq_ic(sub, k)) {
        unknown_sub(w, "object", sub);
        return;
    }
    if args.len() != 3 {
        sub_arity_err(w, "object", sub);
        return;
    }
    let key = &args[2];
    // (encoding, access stamp, LFU counter under an LFU policy) of the live entry; peek
    // leaves the stamp as it was.
    let thresholds = ctx.shared.redis_params.rdb_thresholds();
    let info = ctx.with_key(key, |s, now| {
        let (encoding, access) = s
            .peek(key, now)
            .map(|e| (e.value.encoding_with(&thresholds), e.access))?;
        Some((encoding, access, s.frequency(access, now)))
    });
    let Some((encoding, access, freq)) = info else {
        w.null();
        return;
    };
    if eq_ic(sub, "encoding") {
        w.bulk(encoding.as_bytes());
    } else if eq_ic(sub, "refcount") {
        w.int(1);
    } else if eq_ic(sub, "freq") {
        match freq {
            Some(f) => w.int(f as i64),
            None => w.error(ERR_NO_LFU),
        }
    } else if freq.is_some() {
        w.error(ERR_LFU_NO_IDLE);
    } else {
        w.int(ferrite_storage::access::idle_secs(access, ctx.now) as i64);
    }
}

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

fn memory(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let exact = |n: usize, w: &mut ReplyWriter<'_>| {
        if args.len() != n {
            sub_arity_err(w, "memory", sub);
            false
        } else {
            true
        }
    };
    if eq_ic(sub, "help") {
        if exact(2, w) {
            help(w, MEMORY_HELP);
        }
    } else if eq_ic(sub, "usage") {
        if args.len() < 3 {
            sub_arity_err(w, "memory", sub);
            return;
        }
        // [SAMPLES count]: accepted and validated; sizes are tracked exactly, not sampled.
        let mut i = 3;
        while i < args.len() {
            if eq_ic(&args[i], "samples") && i + 1 < args.len() {
                if int_or_err(w, &args[i + 1]).is_none() {
                    return;
                }
                i += 2;
            } else {
                w.error(ERR_SYNTAX);
                return;
            }
        }
        let key = &args[2];
        match ctx.with_key(key, |s, now| s.memory_usage(key, now)) {
            Some(n) => w.int(n as i64),
            None => w.null(),
        }
    } else if eq_ic(sub, "stats") {
        if !exact(2, w) {
            return;
        }
        let used = ctx.shared.store.budget().used();
        // As INFO's `used_memory_dataset`: the budget less topic rings, client memory
        // (read/reply buffers, MULTI queues), the ACL LOG, the slow log and Lua, which it also
        // covers.
        let (lua, bodies, _) = ctx.shared.scripts.memory();
        let others = ctx.shared.topics.retained_memory()
            + ctx.shared.stats.client_memory()
            + ctx.shared.stats.acl_log_memory()
            + (ctx.shared.introspection.slowlog.bytes() + lua + bodies) as u64;
        let keys = ctx.dbsize() as i64;
        let limit = ctx.shared.store.budget().limit() as i64;
        w.map(4);
        w.bulk(b"total.allocated");
        w.int(used as i64);
        w.bulk(b"dataset.bytes");
        w.int(used.saturating_sub(others) as i64);
        w.bulk(b"keys.count");
        w.int(keys);
        w.bulk(b"maxmemory");
        w.int(limit);
    } else if eq_ic(sub, "doctor") {
        if exact(2, w) {
            w.verbatim("txt", "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.");
        }
    } else if eq_ic(sub, "malloc-stats") {
        if exact(2, w) {
            w.verbatim(
                "txt",
                "Stats not supported for the current memory allocator",
            );
        }
    } else if eq_ic(sub, "purge") {
        if exact(2, w) {
            w.ok();
        }
    } else {
        unknown_sub(w, "memory", sub);
    }
}
