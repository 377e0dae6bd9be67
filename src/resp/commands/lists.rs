//! List commands, including the blocking ones (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP).
//!
//! Blocking protocol: a blocking handler first tries the non-blocking operation. When there is
//! nothing to pop it either asks the connection to wait (`*ctx.block = Some(..)`, writing
//! nothing) or, inside MULTI (`!ctx.may_block`), answers nil itself. Waiting clients retry when
//! the engine's change feed reports a list under a key they wait on (`resp::waiters`), so no
//! command here has to remember to wake them.
//!
//! Every write reports its Redis event (`lpush`, `rpop`, `ltrim`, ...) through the entry it
//! changed; the engine adds `new` and `del` around it.

use std::time::Duration;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::value::{owned, ListValue};
use ferrite_storage::{Change, Shard, Value};

use crate::resp::args::*;
use crate::resp::conn::BlockRequest;
use crate::resp::dispatch::{cmd, flags::*, key, key_range, keynum, ks::*, CommandSpec, Ctx};

const L: &str = "list";

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd("lpush", -3, WRITE | DENYOOM | FAST, &[key(1, RW | INSERT)], L, lpush),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, &[key(1, RW | INSERT)], L, rpush),
    cmd("lpushx", -3, WRITE | DENYOOM | FAST, &[key(1, RW | INSERT | CONDITIONAL)], L, lpushx),
    cmd("rpushx", -3, WRITE | DENYOOM | FAST, &[key(1, RW | INSERT | CONDITIONAL)], L, rpushx),
    cmd("lpop", -2, WRITE | FAST, &[key(1, RW | ACCESS | DELETE)], L, lpop),
    cmd("rpop", -2, WRITE | FAST, &[key(1, RW | ACCESS | DELETE)], L, rpop),
    cmd("llen", 2, READONLY | FAST, &[key(1, RO)], L, llen),
    cmd("lrange", 4, READONLY, &[key(1, RO | ACCESS)], L, lrange),
    cmd("lindex", 3, READONLY, &[key(1, RO | ACCESS)], L, lindex),
    cmd("lset", 4, WRITE | DENYOOM, &[key(1, RW | UPDATE)], L, lset),
    cmd("lrem", 4, WRITE, &[key(1, RW | DELETE | CONDITIONAL)], L, lrem),
    cmd("ltrim", 4, WRITE, &[key(1, RW | DELETE)], L, ltrim),
    cmd("linsert", 5, WRITE | DENYOOM, &[key(1, RW | INSERT | CONDITIONAL)], L, linsert),
    cmd("lpos", -3, READONLY, &[key(1, RO | ACCESS)], L, lpos),
    cmd("lmove", 5, WRITE | DENYOOM, &[key(1, RW | ACCESS | DELETE), key(2, RW | INSERT)], L, lmove),
    cmd("rpoplpush", 3, WRITE | DENYOOM, &[key(1, RW | ACCESS | DELETE), key(2, RW | INSERT)], L, rpoplpush),
    cmd("lmpop", -4, WRITE, &[keynum(1, RW | ACCESS | DELETE)], L, lmpop),
    cmd("blpop", -3, WRITE | BLOCKING, &[key_range(1, -2, 1, RW | ACCESS | DELETE)], L, blpop),
    cmd("brpop", -3, WRITE | BLOCKING, &[key_range(1, -2, 1, RW | ACCESS | DELETE)], L, brpop),
    cmd("blmove", 6, WRITE | DENYOOM | BLOCKING, &[key(1, RW | ACCESS | DELETE), key(2, RW | INSERT)], L, blmove),
    cmd("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, &[key(1, RW | ACCESS | DELETE), key(2, RW | INSERT)], L, brpoplpush),
    cmd("blmpop", -5, WRITE | BLOCKING, &[keynum(2, RW | ACCESS | DELETE)], L, blmpop),
];

const ERR_MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const ERR_TIMEOUT_RANGE: &str = "ERR timeout is out of range";
const ERR_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";

/// Type check failed (the caller writes WRONGTYPE).
struct WrongType;

fn new_list() -> Value {
    Value::List(Box::new(ListValue::new()))
}

fn is_list(v: &Value) -> bool {
    matches!(v, Value::List(_))
}

/// Read-only access to the list at `key` (counts a keyspace hit/miss).
fn read_list<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&ListValue) -> R,
) -> Result<Option<R>, WrongType> {
    match s.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(f(l))),
            _ => Err(WrongType),
        },
    }
}

/// Mutable access to an existing list. `events` says, from `f`'s result, which changes it made
/// (none when it changed nothing); they go to the change feed. Emptied lists are deleted when
/// the guard drops (reported as `del`); the TTL is kept.
fn write_list<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&mut ListValue) -> R,
    events: impl FnOnce(&R) -> &'static [Change],
) -> Result<Option<R>, WrongType> {
    match s.get_mut(key, now) {
        None => Ok(None),
        Some(mut e) => {
            let r = match &mut e.value {
                Value::List(l) => f(l),
                _ => return Err(WrongType),
            };
            for &c in events(&r) {
                e.changed(c);
            }
            Ok(Some(r))
        }
    }
}

/// The list at `key`, created empty when missing (the caller must push onto it, and report
/// `change`).
fn list_or_create<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    change: Change,
    f: impl FnOnce(&mut ListValue) -> R,
) -> Result<R, WrongType> {
    if let Some(e) = s.peek(key, now) {
        if !is_list(&e.value) {
            return Err(WrongType);
        }
    }
    let mut e = s.get_or_insert_with(key, now, new_list);
    let r = match &mut e.value {
        Value::List(l) => f(l),
        _ => return Err(WrongType),
    };
    e.changed(change);
    Ok(r)
}

fn push_change(left: bool) -> Change {
    if left {
        Change::LPush
    } else {
        Change::RPush
    }
}

fn pop_change(left: bool) -> &'static [Change] {
    if left {
        &[Change::LPop]
    } else {
        &[Change::RPop]
    }
}

/// Events of a pop that returned `popped` elements.
fn popped(left: bool, v: &[Bytes]) -> &'static [Change] {
    if v.is_empty() {
        &[]
    } else {
        pop_change(left)
    }
}

#[inline]
fn pop_end(l: &mut ListValue, left: bool) -> Option<Bytes> {
    if left {
        l.pop_front()
    } else {
        l.pop_back()
    }
}

#[inline]
fn push_end(l: &mut ListValue, v: Bytes, left: bool) {
    if left {
        l.push_front(v)
    } else {
        l.push_back(v)
    }
}

/// getPositiveLongFromObjectOrReply: not an integer -> `msg` (or the generic integer error),
/// negative -> `msg` (or "must be positive").
fn non_negative(w: &mut ReplyWriter<'_>, b: &[u8], msg: Option<&str>) -> Option<i64> {
    match parse_i64(b) {
        None => {
            w.error(msg.unwrap_or(ERR_NOT_INT));
            None
        }
        Some(v) if v < 0 => {
            w.error(msg.unwrap_or(ERR_MUST_BE_POSITIVE));
            None
        }
        Some(v) => Some(v),
    }
}

/// `LEFT` / `RIGHT` -> true for left; otherwise writes a syntax error.
fn parse_side(w: &mut ReplyWriter<'_>, b: &[u8]) -> Option<bool> {
    parse_end(w, b, ("left", "right"))
}

/// One of two words (`LEFT`/`RIGHT`, `MIN`/`MAX`) -> true for the first; otherwise writes a
/// syntax error.
fn parse_end(w: &mut ReplyWriter<'_>, b: &[u8], words: (&str, &str)) -> Option<bool> {
    if eq_ic(b, words.0) {
        Some(true)
    } else if eq_ic(b, words.1) {
        Some(false)
    } else {
        w.error(ERR_SYNTAX);
        None
    }
}

/// Redis's getTimeoutFromObjectOrReply in seconds: a float, rounded up to whole milliseconds;
/// 0 = block forever (`Some(None)`).
pub(crate) fn parse_timeout(
    w: &mut ReplyWriter<'_>,
    b: &[u8],
    now_ms: u64,
) -> Option<Option<Duration>> {
    // Redis reads a long double: a decimal past f64's range ("1e400") is still a number there.
    let huge = || {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_infinite())
    };
    let Some(secs) = parse_f64(b).or_else(huge) else {
        w.error(ERR_TIMEOUT_INVALID);
        return None;
    };
    let ms = (secs * 1000.0).ceil();
    // Redis 7.0 casts the milliseconds to long long unchecked: past LLONG_MAX that is
    // LLONG_MIN on x86-64, so it answers "negative".
    if ms < 0.0 || ms >= i64::MAX as f64 {
        w.error(ERR_TIMEOUT_NEG);
        return None;
    }
    if ms == 0.0 {
        return Some(None);
    }
    let ms = ms as u64;
    if ms > i64::MAX as u64 - now_ms {
        w.error(ERR_TIMEOUT_RANGE);
        return None;
    }
    Some(Some(Duration::from_millis(ms)))
}

/// Nothing to pop: wait (outside MULTI) or answer nil now.
pub(crate) fn block_or_nil(
    ctx: &mut Ctx<'_, '_>,
    keys: &[Bytes],
    timeout: Option<Duration>,
    w: &mut ReplyWriter<'_>,
    nil_bulk: bool,
) {
    if ctx.may_block {
        *ctx.block = Some(BlockRequest {
            keys: keys.iter().map(|k| owned(k)).collect(),
            timeout,
            args: None,
        });
    } else if nil_bulk {
        w.null();
    } else {
        w.null_array();
    }
}

// ---------------------------------------------------------------------------------------------
// Pushes

fn push_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    left: bool,
    only_existing: bool,
) {
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        let push_all = |l: &mut ListValue| {
            for v in &args[2..] {
                push_end(l, owned(v), left);
            }
            l.len()
        };
        let change = push_change(left);
        if only_existing {
            let ev: &'static [Change] = if left {
                &[Change::LPush]
            } else {
                &[Change::RPush]
            };
            write_list(s, key, now, push_all, |_| ev).map(|n| n.unwrap_or(0))
        } else {
            list_or_create(s, key, now, change, push_all)
        }
    });
    match r {
        Ok(n) => w.int(n as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn lpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    push_generic(ctx, args, w, true, false);
}

fn rpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    push_generic(ctx, args, w, false, false);
}

fn lpushx(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    push_generic(ctx, args, w, true, true);
}

fn rpushx(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    push_generic(ctx, args, w, false, true);
}

// ---------------------------------------------------------------------------------------------
// Pops

fn pop_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, left: bool) {
    if args.len() > 3 {
        let name = if left { "lpop" } else { "rpop" };
        w.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return;
    }
    let count = match args.get(2) {
        Some(c) => match non_negative(w, c, None) {
            Some(n) => Some(n as usize),
            None => return,
        },
        None => None,
    };
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        write_list(
            s,
            key,
            now,
            |l| {
                let n = count.unwrap_or(1).min(l.len());
                (0..n)
                    .filter_map(|_| pop_end(l, left))
                    .collect::<Vec<Bytes>>()
            },
            |v| popped(left, v),
        )
    });
    match (r, count) {
        (Err(WrongType), _) => w.error(ERR_WRONGTYPE),
        (Ok(None), None) => w.null(),
        (Ok(None), Some(_)) => w.null_array(),
        (Ok(Some(v)), None) => match v.first() {
            Some(b) => w.bulk(b),
            None => w.null(),
        },
        (Ok(Some(v)), Some(_)) => {
            w.array(v.len());
            for b in &v {
                w.bulk(b);
            }
        }
    }
}

fn lpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    pop_generic(ctx, args, w, true);
}

fn rpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    pop_generic(ctx, args, w, false);
}

/// Pop up to `count` elements from the first existing list among `keys` (atomically over all
/// of them). Ok(None) when every key is missing.
fn pop_first(
    ctx: &mut Ctx<'_, '_>,
    keys: &[Bytes],
    left: bool,
    count: usize,
) -> Result<Option<(Bytes, Vec<Bytes>)>, WrongType> {
    let retry = ctx.retry;
    ctx.with_keys(keys.iter().map(|k| &k[..]), |locked, now| {
        for k in keys {
            let out = match write_list(
                locked.shard(k),
                k,
                now,
                |l| {
                    let n = count.min(l.len());
                    (0..n)
                        .filter_map(|_| pop_end(l, left))
                        .collect::<Vec<Bytes>>()
                },
                |v| popped(left, v),
            ) {
                // Woken, but the key is no longer a list: keep waiting on it (see `Ctx::retry`).
                Err(WrongType) if retry => continue,
                r => r?,
            };
            if let Some(v) = out {
                return Ok(Some((k.clone(), v)));
            }
        }
        Ok(None)
    })
}

fn bpop_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, left: bool) {
    let Some(timeout) = parse_timeout(w, &args[args.len() - 1], ctx.now) else {
        return;
    };
    let keys = &args[1..args.len() - 1];
    match pop_first(ctx, keys, left, 1) {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Some((k, v))) => {
            w.array(2);
            w.bulk(&k);
            w.bulk(&v[0]);
        }
        Ok(None) => block_or_nil(ctx, keys, timeout, w, false),
    }
}

fn blpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    bpop_generic(ctx, args, w, true);
}

fn brpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    bpop_generic(ctx, args, w, false);
}

/// LMPOP/BLMPOP (ends `LEFT`/`RIGHT`) and ZMPOP/BZMPOP (`MIN`/`MAX`) after `numkeys` at
/// `args[idx]`: (keys range, first end, count). Redis's lmpopGenericCommand and
/// zmpopGenericCommand parse alike.
pub(crate) fn parse_mpop(
    w: &mut ReplyWriter<'_>,
    args: &[Bytes],
    idx: usize,
    ends: (&str, &str),
) -> Option<(std::ops::Range<usize>, bool, usize)> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    const COUNT: &str = "ERR count should be greater than 0";
    let numkeys = match parse_i64(&args[idx]) {
        Some(n) if n >= 1 => n as usize,
        _ => {
            w.error(NUMKEYS);
            return None;
        }
    };
    let where_idx = match idx.checked_add(numkeys).and_then(|i| i.checked_add(1)) {
        Some(i) if i < args.len() => i,
        _ => {
            w.error(ERR_SYNTAX);
            return None;
        }
    };
    let left = parse_end(w, &args[where_idx], ends)?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(&args[j], "count") && j + 1 < args.len() {
            match parse_i64(&args[j + 1]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => {
                    w.error(COUNT);
                    return None;
                }
            }
            j += 2;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        }
    }
    Some((idx + 1..where_idx, left, count.unwrap_or(1)))
}

fn write_mpop(w: &mut ReplyWriter<'_>, key: &[u8], vals: &[Bytes]) {
    w.array(2);
    w.bulk(key);
    w.array(vals.len());
    for v in vals {
        w.bulk(v);
    }
}

fn lmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some((keys, left, count)) = parse_mpop(w, args, 1, ("left", "right")) else {
        return;
    };
    match pop_first(ctx, &args[keys], left, count) {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Some((k, v))) => write_mpop(w, &k, &v),
        Ok(None) => w.null_array(),
    }
}

fn blmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(timeout) = parse_timeout(w, &args[1], ctx.now) else {
        return;
    };
    let Some((keys, left, count)) = parse_mpop(w, args, 2, ("left", "right")) else {
        return;
    };
    let keys = &args[keys];
    match pop_first(ctx, keys, left, count) {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Some((k, v))) => write_mpop(w, &k, &v),
        Ok(None) => block_or_nil(ctx, keys, timeout, w, false),
    }
}

// ---------------------------------------------------------------------------------------------
// Moves

/// Pop from `src`'s `from_left` end and push onto `dst`'s `to_left` end, atomically. Ok(None)
/// when `src` is missing; a wrong-typed destination fails before anything is popped.
fn move_one(
    ctx: &mut Ctx<'_, '_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, WrongType> {
    ctx.with_keys([src, dst], |locked, now| {
        match locked.shard(src).peek(src, now) {
            None => return Ok(None),
            Some(e) if !is_list(&e.value) => return Err(WrongType),
            Some(_) => {}
        }
        if let Some(e) = locked.shard(dst).peek(dst, now) {
            if !is_list(&e.value) {
                return Err(WrongType);
            }
        }
        // Redis reports the push onto the destination, then the pop from the source.
        let both: &'static [Change] = match (to_left, from_left) {
            (true, true) => &[Change::LPush, Change::LPop],
            (true, false) => &[Change::LPush, Change::RPop],
            (false, true) => &[Change::RPush, Change::LPop],
            (false, false) => &[Change::RPush, Change::RPop],
        };
        if src == dst {
            // Rotate in place (one guard, so a single-element list survives with its TTL).
            return write_list(
                locked.shard(src),
                src,
                now,
                |l| {
                    let v = pop_end(l, from_left)?;
                    push_end(l, v.clone(), to_left);
                    Some(v)
                },
                |v| if v.is_some() { both } else { &[] },
            )
            .map(Option::flatten);
        }
        // The element that will move, read first so the push (and its event) comes first.
        // (`peek`: the source was counted as read above already.)
        let v = match locked.shard(src).peek(src, now).map(|e| &e.value) {
            Some(Value::List(l)) => {
                let end = if from_left {
                    0
                } else {
                    l.len().wrapping_sub(1)
                };
                l.get(end).cloned()
            }
            _ => None,
        };
        let Some(v) = v else {
            return Ok(None);
        };
        list_or_create(locked.shard(dst), dst, now, push_change(to_left), |l| {
            push_end(l, v.clone(), to_left)
        })?;
        write_list(
            locked.shard(src),
            src,
            now,
            |l| pop_end(l, from_left),
            |_| pop_change(from_left),
        )?;
        Ok(Some(v))
    })
}

fn move_reply(r: Result<Option<Bytes>, WrongType>, w: &mut ReplyWriter<'_>) -> bool {
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Some(v)) => w.bulk(&v),
        Ok(None) => return false,
    }
    true
}

fn lmove(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(from) = parse_side(w, &args[3]) else {
        return;
    };
    let Some(to) = parse_side(w, &args[4]) else {
        return;
    };
    let r = move_one(ctx, &args[1], &args[2], from, to);
    if !move_reply(r, w) {
        w.null();
    }
}

fn rpoplpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let r = move_one(ctx, &args[1], &args[2], false, true);
    if !move_reply(r, w) {
        w.null();
    }
}

fn blmove_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    from: bool,
    to: bool,
    timeout: Option<Duration>,
) {
    if ctx.retry {
        // Woken, but the source is no longer a list: keep waiting (see `Ctx::retry`). A
        // destination of another type still answers WRONGTYPE, as in Redis.
        let src = &args[1];
        let src_is_other = ctx.with_key(src, |s, now| {
            s.peek(src, now)
                .is_some_and(|e| !matches!(e.value, Value::List(_)))
        });
        if src_is_other {
            block_or_nil(ctx, &args[1..2], timeout, w, true);
            return;
        }
    }
    let r = move_one(ctx, &args[1], &args[2], from, to);
    if !move_reply(r, w) {
        // Inside MULTI Redis answers a null bulk here (a timeout gives a null array).
        block_or_nil(ctx, &args[1..2], timeout, w, true);
    }
}

fn blmove(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(from) = parse_side(w, &args[3]) else {
        return;
    };
    let Some(to) = parse_side(w, &args[4]) else {
        return;
    };
    let Some(timeout) = parse_timeout(w, &args[5], ctx.now) else {
        return;
    };
    blmove_generic(ctx, args, w, from, to, timeout);
}

fn brpoplpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(timeout) = parse_timeout(w, &args[3], ctx.now) else {
        return;
    };
    blmove_generic(ctx, args, w, false, true, timeout);
}

// ---------------------------------------------------------------------------------------------
// Reads and in-place edits

fn llen(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match ctx.with_key(&args[1], |s, now| read_list(s, &args[1], now, |l| l.len())) {
        Ok(n) => w.int(n.unwrap_or(0) as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn lrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(start) = int_or_err(w, &args[2]) else {
        return;
    };
    let Some(stop) = int_or_err(w, &args[3]) else {
        return;
    };
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        read_list(s, key, now, |l| {
            match normalize_range(start, stop, l.len()) {
                None => w.array(0),
                Some((a, b)) => {
                    w.array(b - a);
                    for v in l.range(a, b) {
                        w.bulk(v);
                    }
                }
            }
        })
    });
    match r {
        Ok(Some(())) => {}
        Ok(None) => w.array(0),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

/// A Redis list index (negative from the tail) -> position, if in range.
fn list_index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    // Redis looks the key up (and type-checks it) before parsing the index.
    let r = ctx.with_key(key, |s, now| {
        read_list(s, key, now, |l| {
            parse_i64(&args[2]).map(|i| list_index(i, l.len()).and_then(|p| l.get(p).cloned()))
        })
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(None) => w.null(),
        Ok(Some(None)) => w.error(ERR_NOT_INT),
        Ok(Some(Some(Some(v)))) => w.bulk(&v),
        Ok(Some(Some(None))) => w.null(),
    }
}

fn lset(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    enum Out {
        Ok,
        NotInt,
        Range,
    }
    let r = ctx.with_key(key, |s, now| {
        write_list(
            s,
            key,
            now,
            |l| {
                let Some(i) = parse_i64(&args[2]) else {
                    return Out::NotInt;
                };
                match list_index(i, l.len()) {
                    Some(p) => {
                        l.set(p, owned(&args[3]));
                        Out::Ok
                    }
                    None => Out::Range,
                }
            },
            |o| match o {
                Out::Ok => &[Change::LSet],
                _ => &[],
            },
        )
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(None) => w.error(ERR_NO_KEY),
        Ok(Some(Out::NotInt)) => w.error(ERR_NOT_INT),
        Ok(Some(Out::Range)) => w.error(ERR_INDEX_RANGE),
        Ok(Some(Out::Ok)) => w.ok(),
    }
}

fn lrem(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(count) = int_or_err(w, &args[2]) else {
        return;
    };
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        write_list(
            s,
            key,
            now,
            |l| {
                l.remove_matching(
                    &args[3],
                    count.unsigned_abs().min(usize::MAX as u64) as usize,
                    count < 0,
                )
            },
            |&n| if n > 0 { &[Change::LRem] } else { &[] },
        )
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(n) => w.int(n.unwrap_or(0) as i64),
    }
}

fn ltrim(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(start) = int_or_err(w, &args[2]) else {
        return;
    };
    let Some(stop) = int_or_err(w, &args[3]) else {
        return;
    };
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        write_list(
            s,
            key,
            now,
            |l| {
                match normalize_range(start, stop, l.len()) {
                    Some((a, b)) => l.retain_range(a, b),
                    // Empty range: the whole list goes (the guard deletes the key).
                    None => l.retain_range(0, 0),
                }
            },
            // Redis reports `ltrim` whenever the key exists, trimmed or not.
            |_| &[Change::LTrim],
        )
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(_) => w.ok(),
    }
}

fn linsert(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let after = if eq_ic(&args[2], "after") {
        true
    } else if eq_ic(&args[2], "before") {
        false
    } else {
        w.error(ERR_SYNTAX);
        return;
    };
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        write_list(
            s,
            key,
            now,
            |l| match l.position(&args[3]) {
                None => -1,
                Some(p) => {
                    l.insert(p + after as usize, owned(&args[4]));
                    l.len() as i64
                }
            },
            |&n| if n > 0 { &[Change::LInsert] } else { &[] },
        )
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(n) => w.int(n.unwrap_or(0)),
    }
}

fn lpos(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq_ic(&args[j], "rank") && more {
            j += 1;
            match parse_i64(&args[j]) {
                None => return w.error(ERR_NOT_INT),
                Some(i64::MIN) => {
                    return w.error(&format!(
                        "ERR value is out of range, value must between {} and {}",
                        -i64::MAX,
                        i64::MAX
                    ))
                }
                Some(0) => return w.error(ERR_RANK_ZERO),
                Some(r) => rank = r,
            }
        } else if eq_ic(&args[j], "count") && more {
            j += 1;
            let Some(c) = non_negative(w, &args[j], Some("ERR COUNT can't be negative")) else {
                return;
            };
            count = Some(c as usize);
        } else if eq_ic(&args[j], "maxlen") && more {
            j += 1;
            let Some(m) = non_negative(w, &args[j], Some("ERR MAXLEN can't be negative")) else {
                return;
            };
            maxlen = m as usize;
        } else {
            return w.error(ERR_SYNTAX);
        }
        j += 1;
    }
    let key = &args[1];
    let elem = &args[2];
    let r = ctx.with_key(key, |s, now| {
        read_list(s, key, now, |l| {
            let len = l.len();
            let want = match count {
                Some(0) => usize::MAX,
                Some(c) => c,
                None => 1,
            };
            let skip = rank.unsigned_abs() - 1;
            let limit = if maxlen == 0 { len } else { maxlen.min(len) };
            let mut found = Vec::new();
            let mut matches: u64 = 0;
            let mut visit = |idx: usize, b: &Bytes| {
                if b[..] == elem[..] {
                    matches += 1;
                    if matches > skip {
                        found.push(idx);
                        return found.len() < want;
                    }
                }
                true
            };
            if rank > 0 {
                for (i, b) in l.iter().enumerate().take(limit) {
                    if !visit(i, b) {
                        break;
                    }
                }
            } else {
                for (i, b) in l.iter().enumerate().rev().take(limit) {
                    if !visit(i, b) {
                        break;
                    }
                }
            }
            found
        })
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(found) => {
            let found = found.unwrap_or_default();
            if count.is_some() {
                w.array(found.len());
                for i in found {
                    w.int(i as i64);
                }
            } else {
                match found.first() {
                    Some(&i) => w.int(i as i64),
                    None => w.null(),
                }
            }
        }
    }
}
