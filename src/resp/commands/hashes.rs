//! Hash commands (t_hash.c), plus the collection-scan helpers HSCAN and SSCAN share.
//!
//! Read-only handlers write their reply while the shard is locked, straight from the stored
//! value, so nothing is copied out. Writers go through `EntryMut`, which keeps the memory
//! accounting right and deletes a hash that became empty (the TTL is kept otherwise).

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::value::{owned, HashValue};
use ferrite_storage::{Change, Shard, Value};
use rand::Rng;

use crate::resp::args::*;
use crate::resp::commands::bounded::{ReplyBudget, MIN_BULK};
use crate::resp::dispatch::{cmd, flags::*, key, ks::*, CommandSpec, Ctx};
use crate::resp::glob;

const H: &str = "hash";

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "hset",
        -4,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | UPDATE)],
        H,
        hset,
    ),
    cmd(
        "hmset",
        -4,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | UPDATE)],
        H,
        hmset,
    ),
    cmd(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | INSERT | CONDITIONAL)],
        H,
        hsetnx,
    ),
    cmd("hget", 3, READONLY | FAST, &[key(1, RO | ACCESS)], H, hget),
    cmd(
        "hmget",
        -3,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        H,
        hmget,
    ),
    cmd("hgetall", 2, READONLY, &[key(1, RO | ACCESS)], H, hgetall),
    cmd("hdel", -3, WRITE | FAST, &[key(1, RW | DELETE)], H, hdel),
    cmd("hlen", 2, READONLY | FAST, &[key(1, RO)], H, hlen),
    cmd("hexists", 3, READONLY | FAST, &[key(1, RO)], H, hexists),
    cmd(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        H,
        hincrby,
    ),
    cmd(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        H,
        hincrbyfloat,
    ),
    cmd("hkeys", 2, READONLY, &[key(1, RO | ACCESS)], H, hkeys),
    cmd("hvals", 2, READONLY, &[key(1, RO | ACCESS)], H, hvals),
    cmd("hstrlen", 3, READONLY | FAST, &[key(1, RO)], H, hstrlen),
    cmd("hscan", -3, READONLY, &[key(1, RO | ACCESS)], H, hscan),
    cmd(
        "hrandfield",
        -2,
        READONLY,
        &[key(1, RO | ACCESS)],
        H,
        hrandfield,
    ),
];

const ERR_HASH_NOT_INT: &str = "ERR hash value is not an integer";
const ERR_HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
const ERR_INCR_NAN_INF: &str = "ERR value is NaN or Infinity";
const ERR_RESULT_NAN_INF: &str = "ERR increment would produce NaN or Infinity";
pub(crate) const ERR_RANGE_LONG: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const ERR_RANGE: &str = "ERR value is out of range";

/// Type check failed (the caller writes WRONGTYPE).
struct WrongType;

fn new_hash() -> Value {
    Value::Hash(Box::new(HashValue::new()))
}

/// Read-only access to the hash at `key` (counts a keyspace hit/miss).
fn read_hash<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&HashValue) -> R,
) -> Result<Option<R>, WrongType> {
    match s.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(f(h))),
            _ => Err(WrongType),
        },
    }
}

/// Mutable access to an existing hash. `event` says, from `f`'s result, what it changed (None:
/// nothing), for the change feed; an emptied hash is deleted when the guard drops (`del`).
fn write_hash<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&mut HashValue) -> R,
    event: impl FnOnce(&R) -> Option<Change>,
) -> Result<Option<R>, WrongType> {
    match s.get_mut(key, now) {
        None => Ok(None),
        Some(mut e) => {
            let r = match &mut e.value {
                Value::Hash(h) => f(h),
                _ => return Err(WrongType),
            };
            if let Some(c) = event(&r) {
                e.changed(c);
            }
            Ok(Some(r))
        }
    }
}

/// The hash at `key`, created empty when missing (left empty, it is removed again on drop).
fn hash_or_create<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&mut HashValue) -> R,
    event: impl FnOnce(&R) -> Option<Change>,
) -> Result<R, WrongType> {
    if let Some(e) = s.peek(key, now) {
        if !matches!(e.value, Value::Hash(_)) {
            return Err(WrongType);
        }
    }
    let mut e = s.get_or_insert_with(key, now, new_hash);
    let r = match &mut e.value {
        Value::Hash(h) => f(h),
        _ => return Err(WrongType),
    };
    if let Some(c) = event(&r) {
        e.changed(c);
    }
    Ok(r)
}

/// Run a read-only reply writer on the hash at `key`; `missing` answers for an absent key.
fn reply_read(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    w: &mut ReplyWriter<'_>,
    missing: impl FnOnce(&mut ReplyWriter<'_>),
    f: impl FnOnce(&HashValue, &mut ReplyWriter<'_>),
) {
    let r = ctx.with_key(key, |s, now| read_hash(s, key, now, |h| f(h, &mut *w)));
    match r {
        Ok(Some(())) => {}
        Ok(None) => missing(w),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------------
// Setters

fn hset_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    name: &str,
) -> Option<i64> {
    if !args.len().is_multiple_of(2) {
        w.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return None;
    }
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        hash_or_create(
            s,
            key,
            now,
            |h| {
                let mut added = 0;
                for pair in args[2..].chunks_exact(2) {
                    if h.insert(owned(&pair[0]), owned(&pair[1])) {
                        added += 1;
                    }
                }
                added
            },
            |_| Some(Change::HSet),
        )
    });
    match r {
        Ok(n) => Some(n),
        Err(WrongType) => {
            w.error(ERR_WRONGTYPE);
            None
        }
    }
}

fn hset(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if let Some(n) = hset_generic(ctx, args, w, "hset") {
        w.int(n);
    }
}

fn hmset(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if hset_generic(ctx, args, w, "hmset").is_some() {
        w.ok();
    }
}

fn hsetnx(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        hash_or_create(
            s,
            key,
            now,
            |h| {
                if h.contains(&args[2]) {
                    false
                } else {
                    h.insert(owned(&args[2]), owned(&args[3]))
                }
            },
            |&added| added.then_some(Change::HSet),
        )
    });
    match r {
        Ok(added) => w.int(added as i64),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn hdel(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        write_hash(
            s,
            key,
            now,
            |h| {
                let mut n = 0;
                for f in &args[2..] {
                    if h.remove(f).is_some() {
                        n += 1;
                    }
                    if h.is_empty() {
                        break;
                    }
                }
                n
            },
            |&n| (n > 0).then_some(Change::HDel),
        )
    });
    match r {
        Ok(n) => w.int(n.unwrap_or(0)),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

fn hincrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(incr) = int_or_err(w, &args[3]) else {
        return;
    };
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        hash_or_create(
            s,
            key,
            now,
            |h| {
                let old = match h.get(&args[2]) {
                    Some(v) => match parse_i64(v) {
                        Some(n) => n,
                        None => return Err(ERR_HASH_NOT_INT),
                    },
                    None => 0,
                };
                let new = old.checked_add(incr).ok_or(ERR_OVERFLOW)?;
                h.insert(owned(&args[2]), Bytes::from(new.to_string().into_bytes()));
                Ok(new)
            },
            |r| r.is_ok().then_some(Change::HIncrBy),
        )
    });
    match r {
        Ok(Ok(n)) => w.int(n),
        Ok(Err(e)) => w.error(e),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

/// Redis's `ld2string(.., LD_STR_HUMAN)`: plain decimal, no exponent, at most 17 fractional
/// digits, trailing zeros (and a trailing dot) removed. The shortest round-trip form is used
/// when it fits in 17 decimals (it is what `%.17Lf` on the long double Redis uses shows).
pub(crate) fn human_double(v: f64) -> String {
    let s = format!("{v}");
    let decimals = s.find('.').map_or(0, |dot| s.len() - dot - 1);
    if decimals <= 17 {
        return s;
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

fn hincrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(incr) = float_or_err(w, &args[3]) else {
        return;
    };
    if incr.is_infinite() {
        w.error(ERR_INCR_NAN_INF);
        return;
    }
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        hash_or_create(
            s,
            key,
            now,
            |h| {
                let old = match h.get(&args[2]) {
                    Some(v) => match parse_f64(v) {
                        Some(n) => n,
                        None => return Err(ERR_HASH_NOT_FLOAT),
                    },
                    None => 0.0,
                };
                let new = old + incr;
                if new.is_nan() || new.is_infinite() {
                    return Err(ERR_RESULT_NAN_INF);
                }
                let text = Bytes::from(human_double(new).into_bytes());
                h.insert(owned(&args[2]), text.clone());
                Ok(text)
            },
            |r| r.is_ok().then_some(Change::HIncrByFloat),
        )
    });
    match r {
        Ok(Ok(v)) => w.bulk(&v),
        Ok(Err(e)) => w.error(e),
        Err(WrongType) => w.error(ERR_WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------------
// Readers

fn hget(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.null(),
        |h, w| match h.get(&args[2]) {
            Some(v) => w.bulk(v),
            None => w.null(),
        },
    );
}

fn hmget(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let fields = &args[2..];
    reply_read(
        ctx,
        &args[1],
        w,
        |w| {
            w.array(fields.len());
            for _ in fields {
                w.null();
            }
        },
        |h, w| {
            w.array(fields.len());
            for f in fields {
                match h.get(f) {
                    Some(v) => w.bulk(v),
                    None => w.null(),
                }
            }
        },
    );
}

fn hgetall(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.map(0),
        |h, w| {
            w.map(h.len());
            for (k, v) in h.iter() {
                w.bulk(k);
                w.bulk(v);
            }
        },
    );
}

fn hkeys(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.array(0),
        |h, w| {
            w.array(h.len());
            for (k, _) in h.iter() {
                w.bulk(k);
            }
        },
    );
}

fn hvals(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.array(0),
        |h, w| {
            w.array(h.len());
            for (_, v) in h.iter() {
                w.bulk(v);
            }
        },
    );
}

fn hlen(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(ctx, &args[1], w, |w| w.int(0), |h, w| w.int(h.len() as i64));
}

fn hexists(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.int(0),
        |h, w| w.int(h.contains(&args[2]) as i64),
    );
}

fn hstrlen(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    reply_read(
        ctx,
        &args[1],
        w,
        |w| w.int(0),
        |h, w| w.int(h.get(&args[2]).map_or(0, |v| v.len() as i64)),
    );
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD

fn hrandfield(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    if args.len() == 2 {
        reply_read(
            ctx,
            key,
            w,
            |w| w.null(),
            |h, w| {
                let i = rand::thread_rng().gen_range(0..h.len());
                w.bulk(h.get_index(i).expect("in range").0);
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
    if args.len() > 4 || (args.len() == 4 && !eq_ic(&args[3], "withvalues")) {
        w.error(ERR_SYNTAX);
        return;
    }
    let withvalues = args.len() == 4;
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        w.error(ERR_RANGE);
        return;
    }
    let resp3 = w.resp3();
    let emit = |w: &mut ReplyWriter<'_>, (k, v): (&Bytes, &Bytes)| {
        if withvalues && resp3 {
            w.array(2);
        }
        w.bulk(k);
        if withvalues {
            w.bulk(v);
        }
    };
    let header =
        |w: &mut ReplyWriter<'_>, n: usize| w.array(if withvalues && !resp3 { n * 2 } else { n });
    // A negative count repeats fields as often as asked: bound the reply before the work.
    let asked = if l < 0 { l.unsigned_abs() } else { 0 };
    let min_elem = if withvalues { 2 * MIN_BULK } else { MIN_BULK };
    let Some(budget) = ReplyBudget::start(ctx, w, asked, min_elem) else {
        return;
    };
    let mut over = false;
    reply_read(
        ctx,
        key,
        w,
        |w| w.array(0),
        |h, w| {
            let size = h.len();
            let mut rng = rand::thread_rng();
            if l == 0 {
                w.array(0);
            } else if l < 0 {
                // Repetitions allowed: sample the whole hash every time.
                let count = l.unsigned_abs() as usize;
                header(w, count);
                for _ in 0..count {
                    emit(w, h.get_index(rng.gen_range(0..size)).expect("in range"));
                    if budget.exceeded(w) {
                        over = true;
                        break;
                    }
                }
            } else if l as u64 >= size as u64 {
                header(w, size);
                for kv in h.iter() {
                    emit(w, kv);
                    if budget.exceeded(w) {
                        over = true;
                        break;
                    }
                }
            } else {
                let count = l as usize;
                header(w, count);
                for i in rand::seq::index::sample(&mut rng, size, count) {
                    emit(w, h.get_index(i).expect("in range"));
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

// ---------------------------------------------------------------------------------------------
// HSCAN, and the cursor logic shared with SSCAN

/// Collections up to this size are returned whole by one *SCAN call with cursor 0, as Redis
/// does for its listpack/intset encodings.
const SMALL_SCAN: usize = 128;

/// Parsed `[MATCH pattern] [COUNT count] [NOVALUES]`.
pub(crate) struct ScanOpts<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub novalues: bool,
}

/// Redis's parseScanCursorOrReply: an unsigned 64-bit decimal, else "ERR invalid cursor".
pub(crate) fn parse_cursor(w: &mut ReplyWriter<'_>, b: &[u8]) -> Option<u64> {
    let ok = !b.is_empty() && b.len() <= 20 && b.iter().all(u8::is_ascii_digit);
    let v = if ok {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    } else {
        None
    };
    if v.is_none() {
        w.error("ERR invalid cursor");
    }
    v
}

/// Parse the options after `key cursor` (Redis parses them only once the key was found).
pub(crate) fn parse_scan_opts<'a>(
    args: &'a [Bytes],
    allow_novalues: bool,
    w: &mut ReplyWriter<'_>,
) -> Option<ScanOpts<'a>> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        novalues: false,
    };
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq_ic(&args[i], "count") && more {
            let n = int_or_err(w, &args[i + 1])?;
            if n < 1 {
                w.error(ERR_SYNTAX);
                return None;
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else if eq_ic(&args[i], "match") && more {
            let p = &args[i + 1][..];
            // "*" matches everything: skip the matching work entirely.
            o.pattern = if p == b"*" { None } else { Some(p) };
            i += 2;
        } else if eq_ic(&args[i], "novalues") && allow_novalues {
            o.novalues = true;
            i += 1;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        }
    }
    Some(o)
}

/// Which positions one scan step visits, and the cursor to return.
///
/// The cursor is the number of positions still to visit, visited downward. A `swap_remove`
/// only ever moves the last element into the hole, which a downward walk has either visited
/// already or is still going to visit, so every element present for the whole scan is returned.
pub(crate) fn scan_step(len: usize, cursor: u64, count: usize) -> (std::ops::Range<usize>, u64) {
    if len <= SMALL_SCAN {
        return (0..len, 0);
    }
    let pos = if cursor == 0 {
        len
    } else {
        usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
    };
    let start = pos.saturating_sub(count);
    (start..pos, start as u64)
}

/// `*2 <cursor> <items header>`; the caller writes the items.
pub(crate) fn scan_reply_header(w: &mut ReplyWriter<'_>, cursor: u64, items: usize) {
    w.array(2);
    w.bulk(cursor.to_string().as_bytes());
    w.array(items);
}

pub(crate) fn scan_matches(o: &ScanOpts<'_>, item: &[u8]) -> bool {
    o.pattern.is_none_or(|p| glob::matches(p, item))
}

fn hscan(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(cursor) = parse_cursor(w, &args[2]) else {
        return;
    };
    reply_read(
        ctx,
        &args[1],
        w,
        |w| scan_reply_header(w, 0, 0),
        |h, w| {
            let Some(o) = parse_scan_opts(args, true, w) else {
                return;
            };
            let (range, next) = scan_step(h.len(), cursor, o.count);
            let hits: Vec<(&Bytes, &Bytes)> = range
                .rev()
                .filter_map(|i| h.get_index(i))
                .filter(|(k, _)| scan_matches(&o, k))
                .collect();
            scan_reply_header(
                w,
                next,
                if o.novalues {
                    hits.len()
                } else {
                    hits.len() * 2
                },
            );
            for (k, v) in hits {
                w.bulk(k);
                if !o.novalues {
                    w.bulk(v);
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_double_like_redis() {
        assert_eq!(human_double(10.6), "10.6");
        assert_eq!(human_double(3.0), "3");
        assert_eq!(human_double(-2.5), "-2.5");
        assert_eq!(human_double(5.0e3), "5000");
        assert_eq!(human_double(1e21), "1000000000000000000000");
        assert_eq!(human_double(1e-20), "0");
        assert_eq!(human_double(1.5e-10), "0.00000000015");
    }

    #[test]
    fn scan_step_walks_down() {
        assert_eq!(scan_step(5, 0, 1), (0..5, 0));
        assert_eq!(scan_step(300, 0, 100), (200..300, 200));
        assert_eq!(scan_step(300, 200, 100), (100..200, 100));
        assert_eq!(scan_step(300, 50, 100), (0..50, 0));
        // The collection shrank under the cursor: clamp.
        assert_eq!(scan_step(150, 400, 10), (140..150, 140));
    }
}
