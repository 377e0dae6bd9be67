//! Sorted-set pops over several keys: ZMPOP, and the blocking BZPOPMIN, BZPOPMAX and BZMPOP.
//!
//! Built like the list family's LMPOP/BLPOP/BLMPOP (`commands/lists.rs`, whose argument and
//! timeout parsing they share): the first existing key among those named is popped, atomically
//! over all of them; with nothing to pop a blocking command asks the connection to wait
//! (`Ctx::block`) or, inside MULTI, answers a null array. Waiters are woken by the change feed
//! whenever a sorted set is left under a key they wait on (`resp::waiters`), served in the order
//! they blocked, and a woken client whose key now holds another type keeps waiting
//! (`Ctx::retry`), as in Redis.
//!
//! Replies (Redis 7.0's genericZpopCommand): BZPOPMIN/BZPOPMAX `[key, member, score]`;
//! ZMPOP/BZMPOP `[key, [[member, score], ...]]`; scores are bulk strings in RESP2 and doubles
//! in RESP3.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Change, Value};

use crate::resp::args::ERR_WRONGTYPE;
use crate::resp::commands::lists::{block_or_nil, parse_mpop, parse_timeout};
use crate::resp::dispatch::{cmd, flags::*, key_range, keynum, ks::*, CommandSpec, Ctx};

const G: &str = "sortedset";

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd("zmpop", -4, WRITE, &[keynum(1, RW | ACCESS | DELETE)], G, zmpop),
    cmd("bzmpop", -5, WRITE | BLOCKING, &[keynum(2, RW | ACCESS | DELETE)], G, bzmpop),
    cmd("bzpopmin", -3, WRITE | BLOCKING | FAST, &[key_range(1, -2, 1, RW | ACCESS | DELETE)], G, bzpopmin),
    cmd("bzpopmax", -3, WRITE | BLOCKING | FAST, &[key_range(1, -2, 1, RW | ACCESS | DELETE)], G, bzpopmax),
];

/// A key held another type (the caller answers WRONGTYPE).
struct WrongType;

/// The key popped from and its members with their scores, in pop order.
type Popped = (Bytes, Vec<(Bytes, f64)>);

/// Pop up to `count` members (lowest scores first, or highest when `max`) from the first
/// existing sorted set among `keys`, atomically over all of them. `Ok(None)` when none exists.
fn pop_first(
    ctx: &mut Ctx<'_, '_>,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> Result<Option<Popped>, WrongType> {
    let retry = ctx.retry;
    let change = if max {
        Change::ZPopMax
    } else {
        Change::ZPopMin
    };
    ctx.with_keys(keys.iter().map(|k| &k[..]), |locked, now| {
        for k in keys {
            let Some(mut e) = locked.shard(k).get_mut(k, now) else {
                continue;
            };
            let Value::ZSet(z) = &mut e.value else {
                // Woken, but the key is no longer a sorted set: keep waiting on it.
                if retry {
                    continue;
                }
                return Err(WrongType);
            };
            let n = count.min(z.len());
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                match if max { z.pop_max() } else { z.pop_min() } {
                    Some(x) => out.push(x),
                    None => break,
                }
            }
            if !out.is_empty() {
                // The guard deletes an emptied set (reported as `del`) when it drops.
                e.changed(change);
            }
            return Ok(Some((k.clone(), out)));
        }
        Ok(None)
    })
}

fn bzpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, max: bool) {
    let Some(timeout) = parse_timeout(w, &args[args.len() - 1], ctx.now) else {
        return;
    };
    let keys = &args[1..args.len() - 1];
    match pop_first(ctx, keys, max, 1) {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Some((k, popped))) if !popped.is_empty() => {
            w.array(3);
            w.bulk(&k);
            w.bulk(&popped[0].0);
            w.double(popped[0].1);
        }
        // (An existing sorted set is never empty: only a missing key gets here.)
        Ok(_) => block_or_nil(ctx, keys, timeout, w, false),
    }
}

fn bzpopmin(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    bzpop(ctx, args, w, false);
}

fn bzpopmax(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    bzpop(ctx, args, w, true);
}

/// `[key, [[member, score], ...]]`: each pair nested, in RESP2 too (as Redis does for ZMPOP).
fn write_mpop(w: &mut ReplyWriter<'_>, key: &[u8], popped: &[(Bytes, f64)]) {
    w.array(2);
    w.bulk(key);
    w.array(popped.len());
    for (m, s) in popped {
        w.array(2);
        w.bulk(m);
        w.double(*s);
    }
}

fn zmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some((keys, min, count)) = parse_mpop(w, args, 1, ("min", "max")) else {
        return;
    };
    match pop_first(ctx, &args[keys], !min, count) {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Some((k, popped))) => write_mpop(w, &k, &popped),
        Ok(None) => w.null_array(),
    }
}

fn bzmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(timeout) = parse_timeout(w, &args[1], ctx.now) else {
        return;
    };
    let Some((keys, min, count)) = parse_mpop(w, args, 2, ("min", "max")) else {
        return;
    };
    let keys = &args[keys];
    match pop_first(ctx, keys, !min, count) {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Some((k, popped))) => write_mpop(w, &k, &popped),
        Ok(None) => block_or_nil(ctx, keys, timeout, w, false),
    }
}
