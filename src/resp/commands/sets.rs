//! Set commands (t_set.c).
//!
//! Multi-key commands lock every key they touch at once (`Ctx::with_keys`), type-check all
//! source keys before computing anything (Redis reports WRONGTYPE even when an earlier key is
//! missing), and work on one shard at a time: members are `Bytes`, so carrying them from one
//! shard to the next is a reference-count bump, not a copy.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::value::{owned, SetValue};
use ferrite_storage::{Change, Locked, Shard, Value};
use rand::Rng;

use crate::resp::args::*;
use crate::resp::commands::bounded::{ReplyBudget, MIN_BULK};
use crate::resp::commands::hashes::{
    parse_cursor, parse_scan_opts, scan_matches, scan_reply_header, scan_step, ERR_RANGE_LONG,
};
use crate::resp::dispatch::{cmd, flags::*, key, key_range, keynum, ks::*, CommandSpec, Ctx};

const S: &str = "set";

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "sadd",
        -3,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | INSERT)],
        S,
        sadd,
    ),
    cmd("srem", -3, WRITE | FAST, &[key(1, RW | DELETE)], S, srem),
    cmd("smembers", 2, READONLY, &[key(1, RO | ACCESS)], S, smembers),
    cmd("sismember", 3, READONLY | FAST, &[key(1, RO)], S, sismember),
    cmd(
        "smismember",
        -3,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        S,
        smismember,
    ),
    cmd("scard", 2, READONLY | FAST, &[key(1, RO)], S, scard),
    cmd(
        "spop",
        -2,
        WRITE | FAST,
        &[key(1, RW | ACCESS | DELETE)],
        S,
        spop,
    ),
    cmd(
        "srandmember",
        -2,
        READONLY,
        &[key(1, RO | ACCESS)],
        S,
        srandmember,
    ),
    cmd(
        "smove",
        4,
        WRITE | FAST,
        &[
            key(1, RW | ACCESS | DELETE),
            key(2, RW | INSERT | CONDITIONAL),
        ],
        S,
        smove,
    ),
    cmd(
        "sunion",
        -2,
        READONLY,
        &[key_range(1, -1, 1, RO | ACCESS)],
        S,
        sunion,
    ),
    cmd(
        "sinter",
        -2,
        READONLY,
        &[key_range(1, -1, 1, RO | ACCESS)],
        S,
        sinter,
    ),
    cmd(
        "sdiff",
        -2,
        READONLY,
        &[key_range(1, -1, 1, RO | ACCESS)],
        S,
        sdiff,
    ),
    cmd(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE), key_range(2, -1, 1, RO | ACCESS)],
        S,
        sunionstore,
    ),
    cmd(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        &[key(1, RW | UPDATE), key_range(2, -1, 1, RO | ACCESS)],
        S,
        sinterstore,
    ),
    cmd(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE), key_range(2, -1, 1, RO | ACCESS)],
        S,
        sdiffstore,
    ),
    cmd(
        "sintercard",
        -3,
        READONLY,
        &[keynum(1, RO | ACCESS)],
        S,
        sintercard,
    ),
    cmd("sscan", -3, READONLY, &[key(1, RO | ACCESS)], S, sscan),
];

const ERR_MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const ERR_NUMKEYS: &str = "ERR numkeys should be greater than 0";
const ERR_NUMKEYS_ARGS: &str = "ERR Number of keys can't be greater than number of args";
const ERR_LIMIT_NEG: &str = "ERR LIMIT can't be negative";

/// Type check failed (the caller writes WRONGTYPE).
struct WrongType;

fn new_set() -> Value {
    Value::Set(Box::new(SetValue::new()))
}

/// Read-only access to the set at `key` (counts a keyspace hit/miss).
fn read_set<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&SetValue) -> R,
) -> Result<Option<R>, WrongType> {
    match s.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(v) => Ok(Some(f(v))),
            _ => Err(WrongType),
        },
    }
}

/// Mutable access to an existing set. `event` says, from `f`'s result, what it changed (None:
/// nothing), for the change feed; an emptied set is deleted when the guard drops (`del`).
fn write_set<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&mut SetValue) -> R,
    event: impl FnOnce(&R) -> Option<Change>,
) -> Result<Option<R>, WrongType> {
    match s.get_mut(key, now) {
        None => Ok(None),
        Some(mut e) => {
            let r = match &mut e.value {
                Value::Set(v) => f(v),
                _ => return Err(WrongType),
            };
            if let Some(c) = event(&r) {
                e.changed(c);
            }
            Ok(Some(r))
        }
    }
}

/// The set at `key`, created empty when missing (left empty, it is removed again on drop).
fn set_or_create<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&mut SetValue) -> R,
    event: impl FnOnce(&R) -> Option<Change>,
) -> Result<R, WrongType> {
    if let Some(e) = s.peek(key, now) {
        if !matches!(e.value, Value::Set(_)) {
            return Err(WrongType);
        }
    }
    let mut e = s.get_or_insert_with(key, now, new_set);
    let r = match &mut e.value {
        Value::Set(v) => f(v),
        _ => return Err(WrongType),
    };
    if let Some(c) = event(&r) {
        e.changed(c);
    }
    Ok(r)
}

/// Run a read-only reply writer on the set at `key`; `missing` answers for an absent key.
fn reply_read(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    w: &mut ReplyWriter<'_>,
    missing: impl FnOnce(&mut ReplyWriter<'_>),
    f: impl FnOnce(&SetValue, &mut ReplyWriter<'_>),
) {
    let r = ctx.with_key(key, |s, now| read_set(s, key, now, |v| f(v, &mut *w)));
    match r {
        Ok(Some(())) => {}
        Ok(None) => missing(w),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------------
// Single-key commands

fn sadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        set_or_create(
            s,
            key,
            now,
            |v| {
                args[2..]
                    .iter()
                    .filter(|m| !v.contains(m) && v.insert(owned(m)))
                    .count()
            },
            |&n| (n > 0).then_some(Change::SAdd),
        )
    });
    match r {
        Ok(n) => w.int(n as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn srem(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        write_set(
            s,
            key,
            now,
            |v| args[2..].iter().filter(|m| v.remove(m)).count(),
            |&n| (n > 0).then_some(Change::SRem),
        )
    });
    match r {
        Ok(n) => w.int(n.unwrap_or(0) as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn write_members<'a>(
    w: &mut ReplyWriter<'_>,
    len: usize,
    members: impl Iterator<Item = &'a Bytes>,
) {
    w.set(len);
    for m in members {
        w.bulk(m);
    }
}

fn smembers(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.set(0),
        |v, w| write_members(w, v.len(), v.iter()),
    );
}

fn sismember(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.int(0),
        |v, w| w.int(v.contains(&args[2]) as i64),
    );
}

fn smismember(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let members = &args[2..];
    reply_read(
        ctx,
        &args[1],
        w,
        |w| {
            w.array(members.len());
            for _ in members {
                w.int(0);
            }
        },
        |v, w| {
            w.array(members.len());
            for m in members {
                w.int(v.contains(m) as i64);
            }
        },
    );
}

fn scard(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(ctx, &args[1], w, |w| w.int(0), |v, w| w.int(v.len() as i64));
}

fn spop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() > 3 {
        w.error(ERR_SYNTAX);
        return;
    }
    let key = &args[1];
    if args.len() == 2 {
        let r = ctx.with_key(key, |s, now| {
            write_set(
                s,
                key,
                now,
                |v| {
                    let i = rand::thread_rng().gen_range(0..v.len());
                    v.swap_remove_index(i).expect("in range")
                },
                |_| Some(Change::SPop),
            )
        });
        match r {
            Ok(Some(m)) => w.bulk(&m),
            Ok(None) => w.null(),
            Err(WrongType) => w.error(ERR_WRONGTYPE),
        }
        return;
    }
    let count = match parse_i64(&args[2]) {
        None => return w.error(ERR_NOT_INT),
        Some(n) if n < 0 => return w.error(ERR_MUST_BE_POSITIVE),
        Some(n) => n as u64,
    };
    let r = ctx.with_key(key, |s, now| {
        write_set(
            s,
            key,
            now,
            |v| {
                let n = count.min(v.len() as u64) as usize;
                w.set(n);
                if n == v.len() {
                    // The whole set: pop from the end (no element moves), deleting the key.
                    while let Some(m) = v.swap_remove_index(v.len().wrapping_sub(1)) {
                        w.bulk(&m);
                    }
                } else {
                    let mut rng = rand::thread_rng();
                    for _ in 0..n {
                        let i = rng.gen_range(0..v.len());
                        let m = v.swap_remove_index(i).expect("in range");
                        w.bulk(&m);
                    }
                }
                n
            },
            |&n| (n > 0).then_some(Change::SPop),
        )
    });
    match r {
        Ok(Some(_)) => {}
        Ok(None) => w.set(0),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn srandmember(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() > 3 {
        w.error(ERR_SYNTAX);
        return;
    }
    let key = &args[1];
    if args.len() == 2 {
        reply_read(
            ctx,
            key,
            w,
            |w| w.null(),
            |v, w| {
                w.bulk(
                    v.get_index(rand::thread_rng().gen_range(0..v.len()))
                        .expect("in range"),
                )
            },
        );
        return;
    }
    let Some(l) = int_or_err(w, &args[2]) else {
        return;
    };
    if l == i64::MIN {
        w.error(ERR_RANGE_LONG);
        return;
    }
    // A negative count repeats members as often as asked: bound the reply before the work.
    let asked = if l < 0 { l.unsigned_abs() } else { 0 };
    let Some(budget) = ReplyBudget::start(ctx, w, asked, MIN_BULK) else {
        return;
    };
    let mut over = false;
    reply_read(
        ctx,
        key,
        w,
        |w| w.array(0),
        |v, w| {
            let size = v.len();
            let mut rng = rand::thread_rng();
            if l == 0 {
                w.array(0);
            } else if l < 0 {
                // Repetitions allowed: sample the whole set every time.
                let count = l.unsigned_abs() as usize;
                w.array(count);
                for _ in 0..count {
                    w.bulk(v.get_index(rng.gen_range(0..size)).expect("in range"));
                    if budget.exceeded(w) {
                        over = true;
                        break;
                    }
                }
            } else if l as u64 >= size as u64 {
                w.array(size);
                for m in v.iter() {
                    w.bulk(m);
                    if budget.exceeded(w) {
                        over = true;
                        break;
                    }
                }
            } else {
                let count = l as usize;
                w.array(count);
                for i in rand::seq::index::sample(&mut rng, size, count) {
                    w.bulk(v.get_index(i).expect("in range"));
                    if budget.exceeded(w) {
                        over = true;
                        break;
                    }
                }
            }
        },
    );
    if over {
        budget.refuse(w, l.unsigned_abs());
    }
}

fn smove(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let r = ctx.with_keys([&src[..], &dst[..]], |l, now| {
        let src_has = match l.shard(src).peek(src, now) {
            None => return Ok(false),
            Some(e) => match &e.value {
                Value::Set(v) => v.contains(member),
                _ => return Err(WrongType),
            },
        };
        if let Some(e) = l.shard(dst).peek(dst, now) {
            if !matches!(e.value, Value::Set(_)) {
                return Err(WrongType);
            }
        }
        if src == dst || !src_has {
            return Ok(src_has);
        }
        // Redis's order: `srem` (and `del`) on the source, then `sadd` on the destination.
        write_set(
            l.shard(src),
            src,
            now,
            |v| v.remove(member),
            |_| Some(Change::SRem),
        )?;
        set_or_create(
            l.shard(dst),
            dst,
            now,
            |v| v.insert(owned(member)),
            |&added| added.then_some(Change::SAdd),
        )?;
        Ok(true)
    });
    match r {
        Ok(moved) => w.int(moved as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------------
// Algebra: SUNION / SINTER / SDIFF, their STORE forms, SINTERCARD

/// A computed result: a set value, so a STORE variant stores it as is.
type Members = SetValue;

/// Look up every source key: `None` for a missing key, its size otherwise. WRONGTYPE if any
/// existing key is not a set. `read` picks a keyspace read (hit/miss counted) over a write lookup.
fn check_sources(
    l: &mut Locked<'_>,
    keys: &[Bytes],
    now: u64,
    read: bool,
) -> Result<Vec<Option<usize>>, WrongType> {
    keys.iter()
        .map(|k| {
            let s = l.shard(k);
            let e = if read { s.get(k, now) } else { s.peek(k, now) };
            match e {
                None => Ok(None),
                Some(e) => match &e.value {
                    Value::Set(v) => Ok(Some(v.len())),
                    _ => Err(WrongType),
                },
            }
        })
        .collect()
}

/// Apply `f` to the (type-checked, existing) set at `key`.
fn with_set<R>(
    l: &mut Locked<'_>,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&SetValue) -> R,
) -> Option<R> {
    match l.shard(key).peek(key, now) {
        Some(e) => match &e.value {
            Value::Set(v) => Some(f(v)),
            _ => None,
        },
        None => None,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

/// Compute the result of `op` over `keys`. `limit` (SINTERCARD) stops an intersection once it
/// has that many members (0 = no limit).
fn compute(
    l: &mut Locked<'_>,
    keys: &[Bytes],
    now: u64,
    op: Op,
    read: bool,
    limit: usize,
) -> Result<Members, WrongType> {
    let sizes = check_sources(l, keys, now, read)?;
    let mut out = Members::default();
    match op {
        Op::Union => {
            for k in keys {
                with_set(l, k, now, |v| {
                    for m in v.iter() {
                        out.insert(m.clone());
                    }
                });
            }
        }
        Op::Diff => {
            if sizes[0].is_none() {
                return Ok(out);
            }
            with_set(l, &keys[0], now, |v| out = v.clone());
            for k in &keys[1..] {
                if out.is_empty() {
                    break;
                }
                if k == &keys[0] {
                    out.clear();
                    break;
                }
                with_set(l, k, now, |v| out.retain(|m| !v.contains(m)));
            }
        }
        Op::Inter => {
            if sizes.iter().any(Option::is_none) {
                return Ok(out);
            }
            // Start from the smallest set, then filter it by every other one.
            let (first, _) = sizes
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| n.unwrap_or(0))
                .expect("at least one key");
            let mut cand: Vec<Bytes> =
                with_set(l, &keys[first], now, |v| v.iter().cloned().collect()).unwrap_or_default();
            for (i, k) in keys.iter().enumerate() {
                if i == first || k == &keys[first] || cand.is_empty() {
                    continue;
                }
                with_set(l, k, now, |v| cand.retain(|m| v.contains(m)));
            }
            if limit > 0 {
                cand.truncate(limit);
            }
            for m in cand {
                out.insert(m);
            }
        }
    }
    Ok(out)
}

fn algebra(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, op: Op) {
    let keys = &args[1..];
    let r = ctx.with_keys(keys.iter().map(|k| &k[..]), |l, now| {
        compute(l, keys, now, op, true, 0)
    });
    match r {
        Ok(m) => write_members(w, m.len(), m.iter()),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn algebra_store(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, op: Op) {
    let dst = &args[1];
    let keys = &args[2..];
    let r = ctx.with_keys(args[1..].iter().map(|k| &k[..]), |l, now| {
        let m = compute(l, keys, now, op, false, 0)?;
        let n = m.len();
        let shard = l.shard(dst);
        // An empty result deletes the destination (`del` if it existed), as in Redis.
        if n == 0 {
            shard.remove(dst, now);
        } else {
            let change = match op {
                Op::Union => Change::SUnionStore,
                Op::Inter => Change::SInterStore,
                Op::Diff => Change::SDiffStore,
            };
            shard.insert_as(dst, Value::Set(Box::new(m)), 0, now, change);
        }
        Ok(n)
    });
    match r {
        Ok(n) => w.int(n as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn sunion(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    algebra(ctx, args, w, Op::Union);
}
fn sinter(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    algebra(ctx, args, w, Op::Inter);
}
fn sdiff(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    algebra(ctx, args, w, Op::Diff);
}
fn sunionstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    algebra_store(ctx, args, w, Op::Union);
}
fn sinterstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    algebra_store(ctx, args, w, Op::Inter);
}
fn sdiffstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    algebra_store(ctx, args, w, Op::Diff);
}

fn sintercard(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let numkeys = match parse_i64(&args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return w.error(ERR_NUMKEYS),
    };
    if numkeys > (args.len() - 2) as u64 {
        return w.error(ERR_NUMKEYS_ARGS);
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if eq_ic(&args[i], "limit") && i + 1 < args.len() {
            match parse_i64(&args[i + 1]) {
                Some(n) if n >= 0 => limit = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return w.error(ERR_LIMIT_NEG),
            }
            i += 2;
        } else {
            return w.error(ERR_SYNTAX);
        }
    }
    let keys = &args[2..2 + numkeys];
    let r = ctx.with_keys(keys.iter().map(|k| &k[..]), |l, now| {
        compute(l, keys, now, Op::Inter, true, limit)
    });
    match r {
        Ok(m) => w.int(m.len() as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------------
// SSCAN

fn sscan(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(cursor) = parse_cursor(w, &args[2]) else {
        return;
    };
    reply_read(
        ctx,
        &args[1],
        w,
        |w| scan_reply_header(w, 0, 0),
        |v, w| {
            let Some(o) = parse_scan_opts(args, false, w) else {
                return;
            };
            let (range, next) = scan_step(v.len(), cursor, o.count);
            let hits: Vec<&Bytes> = range
                .rev()
                .filter_map(|i| v.get_index(i))
                .filter(|m| scan_matches(&o, m))
                .collect();
            scan_reply_header(w, next, hits.len());
            for m in hits {
                w.bulk(m);
            }
        },
    );
}
