//! Sorted-set commands (Redis 7 semantics, including the 6.2+ unified ZRANGE syntax).
//!
//! Reply shapes follow Redis: scores are doubles (bulk strings in RESP2), and in RESP3 the
//! commands that return member/score pairs (ZRANGE & co. WITHSCORES, ZPOPMIN/ZPOPMAX with a
//! count, ZRANDMEMBER WITHSCORES, ZUNION/ZINTER/ZDIFF WITHSCORES) nest each pair in a
//! two-element array. ZSCAN keeps a flat array with scores as bulk strings, as Redis does.

use std::collections::HashMap;
use std::ops::Bound;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::types::zset::LexBound;
use ferrite_storage::value::{owned, SetValue, ZSetValue};
use ferrite_storage::{Change, Locked, Shard, Value};
use rand::Rng;

use crate::resp::args::*;
use crate::resp::commands::bounded::{ReplyBudget, MIN_BULK, MIN_SCORE};
use crate::resp::dispatch::{cmd, flags::*, key, keynum, ks::*, CommandSpec, Ctx};
use crate::resp::glob;

const G: &str = "sortedset";

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "zadd",
        -4,
        WRITE | DENYOOM | FAST | ARG_ACCESS,
        &[key(1, RW | UPDATE)],
        G,
        zadd,
    ),
    cmd(
        "zincrby",
        4,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        G,
        zincrby,
    ),
    cmd("zrem", -3, WRITE | FAST, &[key(1, RW | DELETE)], G, zrem),
    cmd(
        "zscore",
        3,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        zscore,
    ),
    cmd(
        "zmscore",
        -3,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        zmscore,
    ),
    cmd("zcard", 2, READONLY | FAST, &[key(1, RO)], G, zcard),
    cmd(
        "zcount",
        4,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        zcount,
    ),
    cmd(
        "zlexcount",
        4,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        zlexcount,
    ),
    cmd("zrange", -4, READONLY, &[key(1, RO | ACCESS)], G, zrange),
    cmd(
        "zrevrange",
        -4,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        zrevrange,
    ),
    cmd(
        "zrangebyscore",
        -4,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        zrangebyscore,
    ),
    cmd(
        "zrevrangebyscore",
        -4,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        zrevrangebyscore,
    ),
    cmd(
        "zrangebylex",
        -4,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        zrangebylex,
    ),
    cmd(
        "zrevrangebylex",
        -4,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        zrevrangebylex,
    ),
    cmd(
        "zrangestore",
        -5,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE), key(2, RO | ACCESS)],
        G,
        zrangestore,
    ),
    cmd(
        "zrank",
        -3,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        zrank,
    ),
    cmd(
        "zrevrank",
        -3,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        G,
        zrevrank,
    ),
    cmd(
        "zremrangebyrank",
        4,
        WRITE,
        &[key(1, RW | DELETE)],
        G,
        zremrangebyrank,
    ),
    cmd(
        "zremrangebyscore",
        4,
        WRITE,
        &[key(1, RW | DELETE)],
        G,
        zremrangebyscore,
    ),
    cmd(
        "zremrangebylex",
        4,
        WRITE,
        &[key(1, RW | DELETE)],
        G,
        zremrangebylex,
    ),
    cmd(
        "zpopmin",
        -2,
        WRITE | FAST,
        &[key(1, RW | ACCESS | DELETE)],
        G,
        zpopmin,
    ),
    cmd(
        "zpopmax",
        -2,
        WRITE | FAST,
        &[key(1, RW | ACCESS | DELETE)],
        G,
        zpopmax,
    ),
    cmd(
        "zrandmember",
        -2,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        zrandmember,
    ),
    // Keys follow `numkeys` (Redis key spec keynum): checked before the command is
    // authorized or run (`CommandSpec::check_keys`).
    cmd(
        "zunionstore",
        -4,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE), keynum(2, RO | ACCESS)],
        G,
        zunionstore,
    ),
    cmd(
        "zinterstore",
        -4,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE), keynum(2, RO | ACCESS)],
        G,
        zinterstore,
    ),
    cmd(
        "zdiffstore",
        -4,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE), keynum(2, RO | ACCESS)],
        G,
        zdiffstore,
    ),
    cmd("zunion", -3, READONLY, &[keynum(1, RO | ACCESS)], G, zunion),
    cmd("zinter", -3, READONLY, &[keynum(1, RO | ACCESS)], G, zinter),
    cmd("zdiff", -3, READONLY, &[keynum(1, RO | ACCESS)], G, zdiff),
    cmd(
        "zintercard",
        -3,
        READONLY,
        &[keynum(1, RO | ACCESS)],
        G,
        zintercard,
    ),
    cmd("zscan", -3, READONLY, &[key(1, RO | ACCESS)], G, zscan),
];

const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";
const ERR_MINMAX_FLOAT: &str = "ERR min or max is not a float";
const ERR_MINMAX_LEX: &str = "ERR min or max not valid string range item";
const ERR_POSITIVE: &str = "ERR value is out of range, must be positive";

// ---------------------------------------------------------------------------------------------
// Access helpers

/// Read the zset at `key`: `Ok(f(None))` when missing, `Err(())` on a type mismatch.
fn read_in<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(Option<&ZSetValue>) -> R,
) -> Result<R, ()> {
    match s.get(key, now) {
        None => Ok(f(None)),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(f(Some(z))),
            _ => Err(()),
        },
    }
}

fn read<R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(Option<&ZSetValue>) -> R,
) -> Result<R, ()> {
    ctx.with_key(key, |s, now| read_in(s, key, now, f))
}

/// Mutate an existing zset: `Ok(None)` when missing. An emptied zset is deleted (and memory
/// re-measured) when the entry guard drops; the TTL is kept.
/// `event` says, from `f`'s result, what it changed (None: nothing), for the change feed.
fn modify<R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut ZSetValue) -> R,
    event: impl FnOnce(&R) -> Option<Change>,
) -> Result<Option<R>, ()> {
    ctx.with_key(key, |s, now| {
        let Some(mut e) = s.get_mut(key, now) else {
            return Ok(None);
        };
        let r = match &mut e.value {
            Value::ZSet(z) => f(z),
            _ => return Err(()),
        };
        if let Some(c) = event(&r) {
            e.changed(c);
        }
        Ok(Some(r))
    })
}

/// Replace `dst` with `z` (no TTL), reported as `change`, or delete it when `z` is empty
/// (`del` if it existed, as in Redis). Returns the stored size.
pub(crate) fn store(
    shard: &mut Shard,
    dst: &[u8],
    z: ZSetValue,
    now: u64,
    change: Change,
) -> usize {
    let n = z.len();
    if n == 0 {
        shard.remove(dst, now);
    } else {
        shard.insert_as(dst, Value::ZSet(Box::new(z)), 0, now, change);
    }
    n
}

/// One member (and optionally its score): RESP3 nests the pair in a 2-array.
#[inline]
fn write_elem(w: &mut ReplyWriter<'_>, m: &[u8], s: f64, withscores: bool) {
    if withscores && w.resp3() {
        w.array(2);
    }
    w.bulk(m);
    if withscores {
        w.double(s);
    }
}

/// Array header for `n` members, flat (2n) in RESP2 when scores follow.
#[inline]
fn write_header(w: &mut ReplyWriter<'_>, n: usize, withscores: bool) {
    w.array(if withscores && !w.resp3() { n * 2 } else { n });
}

fn write_elems<'a>(
    w: &mut ReplyWriter<'_>,
    items: impl ExactSizeIterator<Item = (&'a Bytes, f64)>,
    withscores: bool,
) {
    write_header(w, items.len(), withscores);
    for (m, s) in items {
        write_elem(w, m, s, withscores);
    }
}

/// Redis's zslParseRange: `(` makes the bound exclusive; the rest goes through strtod, so an
/// empty number reads as 0 and leading spaces are skipped (NaN is rejected).
fn parse_score_bound(b: &[u8]) -> Option<Bound<f64>> {
    let strtod = |s: &[u8]| {
        let s = s.trim_ascii_start();
        if s.is_empty() {
            Some(0.0)
        } else {
            parse_f64(s)
        }
    };
    match b.strip_prefix(b"(") {
        Some(rest) => strtod(rest).map(Bound::Excluded),
        None => strtod(b).map(Bound::Included),
    }
}

fn score_range_or_err(w: &mut ReplyWriter<'_>, min: &[u8], max: &[u8]) -> Option<Range<'static>> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(a), Some(b)) => Some(Range::Score(a, b)),
        _ => {
            w.error(ERR_MINMAX_FLOAT);
            None
        }
    }
}

fn lex_range_or_err<'a>(
    w: &mut ReplyWriter<'_>,
    min: &'a [u8],
    max: &'a [u8],
) -> Option<Range<'a>> {
    match (LexBound::parse(min), LexBound::parse(max)) {
        (Some(a), Some(b)) => Some(Range::Lex(a, b)),
        _ => {
            w.error(ERR_MINMAX_LEX);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

enum AddOutcome {
    Added,
    Updated,
    Unchanged,
    Nop,
}

/// Redis's zsetAdd: returns what happened and the resulting score; Err(()) on a NaN result.
fn zset_add(
    z: &mut ZSetValue,
    score: f64,
    member: &[u8],
    f: AddFlags,
) -> Result<(AddOutcome, f64), ()> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok((AddOutcome::Nop, cur));
            }
            let mut score = score;
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return Err(());
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Ok((AddOutcome::Nop, score));
            }
            if score != cur {
                z.set_score(member, score);
                Ok((AddOutcome::Updated, score))
            } else {
                Ok((AddOutcome::Unchanged, score))
            }
        }
        None if f.xx => Ok((AddOutcome::Nop, score)),
        None => {
            z.insert(owned(member), score);
            Ok((AddOutcome::Added, score))
        }
    }
}

pub(crate) fn zadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zadd_generic(ctx, args, w, false);
}

fn zincrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zadd_generic(ctx, args, w, true);
}

fn zadd_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, incr_cmd: bool) {
    let mut f = AddFlags {
        incr: incr_cmd,
        ..Default::default()
    };
    // Redis parses options from argv[2] for ZINCRBY too (then finds no pair: syntax error).
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "nx") {
            f.nx = true;
        } else if eq_ic(a, "xx") {
            f.xx = true;
        } else if eq_ic(a, "ch") {
            f.ch = true;
        } else if eq_ic(a, "incr") {
            f.incr = true;
        } else if eq_ic(a, "gt") {
            f.gt = true;
        } else if eq_ic(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        w.error(ERR_SYNTAX);
        return;
    }
    if f.nx && f.xx {
        w.error("ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        w.error("ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if f.incr && pairs.len() > 2 {
        w.error("ERR INCR option supports a single increment-element pair");
        return;
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for p in pairs.chunks_exact(2) {
        let Some(s) = float_or_err(w, &p[0]) else {
            return;
        };
        scores.push(s);
    }
    enum Out {
        WrongType,
        Nan,
        Done {
            added: i64,
            updated: i64,
            processed: i64,
            score: f64,
        },
    }
    let key = &args[1];
    let out = ctx.with_key(key, |s, now| {
        match s.peek(key, now) {
            Some(e) if !matches!(e.value, Value::ZSet(_)) => return Out::WrongType,
            None if f.xx => {
                return Out::Done {
                    added: 0,
                    updated: 0,
                    processed: 0,
                    score: 0.0,
                }
            }
            _ => {}
        }
        let mut e = s.get_or_insert_with(key, now, || Value::ZSet(Box::default()));
        let Value::ZSet(z) = &mut e.value else {
            return Out::WrongType;
        };
        let (mut added, mut updated, mut processed, mut last) = (0, 0, 0, 0.0);
        for (p, &score) in pairs.chunks_exact(2).zip(&scores) {
            match zset_add(z, score, &p[1], f) {
                Err(()) => {
                    if added + updated > 0 {
                        e.changed(if f.incr { Change::ZIncr } else { Change::ZAdd });
                    }
                    return Out::Nan;
                }
                Ok((o, sc)) => {
                    last = sc;
                    match o {
                        AddOutcome::Added => added += 1,
                        AddOutcome::Updated => updated += 1,
                        AddOutcome::Unchanged => {}
                        AddOutcome::Nop => continue,
                    }
                    processed += 1;
                }
            }
        }
        // Redis reports `zadd` (`zincr` for INCR) only when something was added or updated.
        if added + updated > 0 {
            e.changed(if f.incr { Change::ZIncr } else { Change::ZAdd });
        }
        Out::Done {
            added,
            updated,
            processed,
            score: last,
        }
    });
    match out {
        Out::WrongType => w.error(ERR_WRONGTYPE),
        Out::Nan => w.error(ERR_NAN),
        Out::Done {
            processed, score, ..
        } if f.incr => {
            if processed > 0 {
                w.double(score)
            } else {
                w.null()
            }
        }
        Out::Done { added, updated, .. } => w.int(if f.ch { added + updated } else { added }),
    }
}

// ---------------------------------------------------------------------------------------------
// Point reads and removals

fn zrem(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match modify(
        ctx,
        &args[1],
        |z| args[2..].iter().filter(|m| z.remove(m).is_some()).count(),
        |&n| (n > 0).then_some(Change::ZRem),
    ) {
        Ok(n) => w.int(n.unwrap_or(0) as i64),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn zscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match read(ctx, &args[1], |z| z.and_then(|z| z.score(&args[2]))) {
        Ok(Some(s)) => w.double(s),
        Ok(None) => w.null(),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn zmscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let r = read(ctx, &args[1], |z| {
        args[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)))
            .collect::<Vec<_>>()
    });
    match r {
        Ok(scores) => {
            w.array(scores.len());
            for s in scores {
                match s {
                    Some(s) => w.double(s),
                    None => w.null(),
                }
            }
        }
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn zcard(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match read(ctx, &args[1], |z| z.map(|z| z.len()).unwrap_or(0)) {
        Ok(n) => w.int(n as i64),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn count_range(ctx: &mut Ctx<'_, '_>, key: &[u8], range: Range<'_>, w: &mut ReplyWriter<'_>) {
    let q = RangeQuery::plain(range);
    match read(ctx, key, |z| z.map(|z| select(z, &q).len()).unwrap_or(0)) {
        Ok(n) => w.int(n as i64),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn zcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(range) = score_range_or_err(w, &args[2], &args[3]) else {
        return;
    };
    count_range(ctx, &args[1], range, w);
}

fn zlexcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(range) = lex_range_or_err(w, &args[2], &args[3]) else {
        return;
    };
    count_range(ctx, &args[1], range, w);
}

fn zrank_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, rev: bool) {
    if args.len() > 4 {
        w.error(ERR_SYNTAX);
        return;
    }
    let withscore = args.len() == 4;
    if withscore && !eq_ic(&args[3], "withscore") {
        w.error(ERR_SYNTAX);
        return;
    }
    let m = &args[2];
    let r = read(ctx, &args[1], |z| {
        let z = z?;
        let rank = if rev { z.rev_rank(m) } else { z.rank(m) }?;
        Some((rank, z.score(m).unwrap_or(0.0)))
    });
    match r {
        Err(()) => w.error(ERR_WRONGTYPE),
        Ok(None) if withscore => w.null_array(),
        Ok(None) => w.null(),
        Ok(Some((rank, score))) => {
            if withscore {
                w.array(2);
                w.int(rank as i64);
                w.double(score);
            } else {
                w.int(rank as i64);
            }
        }
    }
}

fn zrank(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrank_generic(ctx, args, w, false);
}

fn zrevrank(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrank_generic(ctx, args, w, true);
}

// ---------------------------------------------------------------------------------------------
// Ranges: ZRANGE and its legacy forms, ZRANGESTORE, ZREMRANGEBY*

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

#[derive(Clone, Copy)]
enum Range<'a> {
    Rank(i64, i64),
    Score(Bound<f64>, Bound<f64>),
    Lex(LexBound<'a>, LexBound<'a>),
}

struct RangeQuery<'a> {
    range: Range<'a>,
    rev: bool,
    withscores: bool,
    offset: i64,
    /// Negative = no limit.
    limit: i64,
}

impl<'a> RangeQuery<'a> {
    fn plain(range: Range<'a>) -> Self {
        Self {
            range,
            rev: false,
            withscores: false,
            offset: 0,
            limit: -1,
        }
    }
}

/// Redis's zrangeGenericCommand argument parsing. `key_idx` is the source key's position;
/// min/max follow it, then the options.
fn parse_range_query<'a>(
    args: &'a [Bytes],
    key_idx: usize,
    store: bool,
    mut kind: Kind,
    mut dir: Dir,
    w: &mut ReplyWriter<'_>,
) -> Option<RangeQuery<'a>> {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = key_idx + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = int_or_err(w, &args[j + 1])?;
            limit = int_or_err(w, &args[j + 2])?;
            j += 2;
        } else if dir == Dir::Auto && eq_ic(a, "rev") {
            dir = Dir::Rev;
        } else if kind == Kind::Auto && eq_ic(a, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && eq_ic(a, "byscore") {
            kind = Kind::Score;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        }
        j += 1;
    }
    let rev = dir == Dir::Rev;
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        w.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    if withscores && kind == Kind::Lex {
        w.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    let (mut lo, mut hi) = (&args[key_idx + 1], &args[key_idx + 2]);
    if rev && kind != Kind::Rank {
        // Reverse score/lex ranges are given as max, min.
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match kind {
        Kind::Score => score_range_or_err(w, lo, hi)?,
        Kind::Lex => lex_range_or_err(w, lo, hi)?,
        _ => Range::Rank(int_or_err(w, lo)?, int_or_err(w, hi)?),
    };
    Some(RangeQuery {
        range,
        rev,
        withscores,
        offset,
        limit,
    })
}

/// Apply LIMIT offset/count the way Redis does: a negative offset selects nothing, a
/// negative count means "all the rest".
fn limited<'z>(
    it: impl DoubleEndedIterator<Item = (&'z Bytes, f64)>,
    q: &RangeQuery<'_>,
) -> Vec<(&'z Bytes, f64)> {
    if q.offset < 0 {
        return Vec::new();
    }
    let skip = usize::try_from(q.offset).unwrap_or(usize::MAX);
    let take = if q.limit < 0 {
        usize::MAX
    } else {
        usize::try_from(q.limit).unwrap_or(usize::MAX)
    };
    if q.rev {
        it.rev().skip(skip).take(take).collect()
    } else {
        it.skip(skip).take(take).collect()
    }
}

/// The elements a range query selects, in reply order.
fn select<'z>(z: &'z ZSetValue, q: &RangeQuery<'_>) -> Vec<(&'z Bytes, f64)> {
    match q.range {
        Range::Rank(a, b) => {
            let n = z.len();
            let Some((s, e)) = normalize_range(a, b, n) else {
                return Vec::new();
            };
            if q.rev {
                z.range_by_rank(n - e, n - s).rev().collect()
            } else {
                z.range_by_rank(s, e).collect()
            }
        }
        Range::Score(min, max) => limited(z.range_by_score(min, max), q),
        Range::Lex(min, max) => limited(z.range_by_lex(min, max), q),
    }
}

fn zrange_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    kind: Kind,
    dir: Dir,
) {
    let Some(q) = parse_range_query(args, 1, false, kind, dir, w) else {
        return;
    };
    let r = read(ctx, &args[1], |z| {
        let items = z.map(|z| select(z, &q)).unwrap_or_default();
        write_elems(w, items.into_iter(), q.withscores);
    });
    if r.is_err() {
        w.error(ERR_WRONGTYPE);
    }
}

fn zrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrange_generic(ctx, args, w, Kind::Auto, Dir::Auto);
}
fn zrevrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrange_generic(ctx, args, w, Kind::Rank, Dir::Rev);
}
fn zrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrange_generic(ctx, args, w, Kind::Score, Dir::Fwd);
}
fn zrevrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrange_generic(ctx, args, w, Kind::Score, Dir::Rev);
}
fn zrangebylex(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrange_generic(ctx, args, w, Kind::Lex, Dir::Fwd);
}
fn zrevrangebylex(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zrange_generic(ctx, args, w, Kind::Lex, Dir::Rev);
}

fn zrangestore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(q) = parse_range_query(args, 2, true, Kind::Auto, Dir::Auto, w) else {
        return;
    };
    let (dst, src) = (&args[1], &args[2]);
    let r = ctx.with_keys([&dst[..], &src[..]], |l, now| {
        let mut out = ZSetValue::new();
        read_in(l.shard(src), src, now, |z| {
            if let Some(z) = z {
                for (m, s) in select(z, &q) {
                    // Shares the member bytes with the source (immutable, refcounted).
                    out.insert(m.clone(), s);
                }
            }
        })?;
        Ok::<_, ()>(store(l.shard(dst), dst, out, now, Change::ZRangeStore))
    });
    match r {
        Ok(n) => w.int(n as i64),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn zremrange(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    range: Range<'_>,
    change: Change,
) {
    let q = RangeQuery::plain(range);
    let r = modify(
        ctx,
        &args[1],
        |z| {
            let victims: Vec<Bytes> = select(z, &q).into_iter().map(|(m, _)| m.clone()).collect();
            for m in &victims {
                z.remove(m);
            }
            victims.len()
        },
        |&n| (n > 0).then_some(change),
    );
    match r {
        Ok(n) => w.int(n.unwrap_or(0) as i64),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn zremrangebyrank(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(a) = int_or_err(w, &args[2]) else {
        return;
    };
    let Some(b) = int_or_err(w, &args[3]) else {
        return;
    };
    zremrange(ctx, args, w, Range::Rank(a, b), Change::ZRemRangeByRank);
}

fn zremrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(range) = score_range_or_err(w, &args[2], &args[3]) else {
        return;
    };
    zremrange(ctx, args, w, range, Change::ZRemRangeByScore);
}

fn zremrangebylex(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(range) = lex_range_or_err(w, &args[2], &args[3]) else {
        return;
    };
    zremrange(ctx, args, w, range, Change::ZRemRangeByLex);
}

// ---------------------------------------------------------------------------------------------
// ZPOPMIN / ZPOPMAX / ZRANDMEMBER

fn zpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, max: bool) {
    if args.len() > 3 {
        w.error(ERR_SYNTAX);
        return;
    }
    // -1 = no count given: a single pop, always a flat reply.
    let count = if args.len() == 3 {
        match parse_i64(&args[2]) {
            Some(c) if c >= 0 => c,
            _ => {
                w.error(ERR_POSITIVE);
                return;
            }
        }
    } else {
        -1
    };
    let change = if max {
        Change::ZPopMax
    } else {
        Change::ZPopMin
    };
    let r = modify(
        ctx,
        &args[1],
        |z| {
            let n = if count == -1 { 1 } else { count as usize };
            let mut out = Vec::with_capacity(n.min(z.len()));
            while out.len() < n {
                match if max { z.pop_max() } else { z.pop_min() } {
                    Some(x) => out.push(x),
                    None => break,
                }
            }
            out
        },
        |out| (!out.is_empty()).then_some(change),
    );
    match r {
        Err(()) => w.error(ERR_WRONGTYPE),
        Ok(None) => w.array(0),
        Ok(Some(items)) => {
            let nested = w.resp3() && count != -1;
            w.array(if nested { items.len() } else { items.len() * 2 });
            for (m, s) in items {
                if nested {
                    w.array(2);
                }
                w.bulk(&m);
                w.double(s);
            }
        }
    }
}

fn zpopmin(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zpop(ctx, args, w, false);
}

fn zpopmax(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    zpop(ctx, args, w, true);
}

fn zrandmember(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    if args.len() == 2 {
        let r = read(ctx, key, |z| {
            let z = z.filter(|z| !z.is_empty())?;
            let i = rand::thread_rng().gen_range(0..z.len());
            z.get_index(i).map(|(m, _)| m.clone())
        });
        match r {
            Ok(Some(m)) => w.bulk(&m),
            Ok(None) => w.null(),
            Err(()) => w.error(ERR_WRONGTYPE),
        }
        return;
    }
    let Some(l) = int_or_err(w, &args[2]) else {
        return;
    };
    if l == i64::MIN {
        w.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
        return;
    }
    if args.len() > 4 || (args.len() == 4 && !eq_ic(&args[3], "withscores")) {
        w.error(ERR_SYNTAX);
        return;
    }
    let withscores = args.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        w.error("ERR value is out of range");
        return;
    }
    // A negative count repeats members as often as asked: bound the reply before the work.
    let asked = if l < 0 { l.unsigned_abs() } else { 0 };
    let min_elem = if withscores {
        MIN_BULK + MIN_SCORE
    } else {
        MIN_BULK
    };
    let Some(budget) = ReplyBudget::start(ctx, w, asked, min_elem) else {
        return;
    };
    let mut over = false;
    let r = read(ctx, key, |z| {
        let Some(z) = z.filter(|_| l != 0) else {
            w.array(0);
            return;
        };
        let mut rng = rand::thread_rng();
        let len = z.len();
        if l < 0 || l == 1 {
            // Repetitions allowed: independent uniform picks.
            let n = l.unsigned_abs() as usize;
            write_header(w, n, withscores);
            for _ in 0..n {
                let (m, s) = z.get_index(rng.gen_range(0..len)).expect("in range");
                write_elem(w, m, s, withscores);
                if budget.exceeded(w) {
                    over = true;
                    break;
                }
            }
        } else if l as usize >= len {
            // The whole set; Redis walks it from the highest score down.
            write_header(w, len, withscores);
            for (m, s) in z.iter().rev() {
                write_elem(w, m, s, withscores);
                if budget.exceeded(w) {
                    over = true;
                    break;
                }
            }
        } else {
            let n = l as usize;
            write_header(w, n, withscores);
            for i in rand::seq::index::sample(&mut rng, len, n).iter() {
                let (m, s) = z.get_index(i).expect("in range");
                write_elem(w, m, s, withscores);
                if budget.exceeded(w) {
                    over = true;
                    break;
                }
            }
        }
    });
    if r.is_err() {
        w.error(ERR_WRONGTYPE);
    } else if over {
        budget.refuse(w, l.unsigned_abs());
    }
}

// ---------------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF (+STORE), ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// Redis's zunionInterAggregate (a NaN sum becomes 0; MIN/MAX ignore a NaN value).
#[inline]
fn aggregate(t: &mut f64, v: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *t += v;
            if t.is_nan() {
                *t = 0.0;
            }
        }
        Agg::Min => {
            if v < *t {
                *t = v
            }
        }
        Agg::Max => {
            if v > *t {
                *t = v
            }
        }
    }
}

/// A source of a set operation: a sorted set, or a plain set whose members score 1.
enum Src<'a> {
    Z(&'a ZSetValue),
    S(&'a SetValue),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }
    fn for_each(&self, mut f: impl FnMut(&Bytes, f64)) {
        match self {
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.iter().for_each(|m| f(m, 1.0)),
        }
    }
}

/// Run `f` on the source at `key` (None when missing). Err(()) when it is neither a zset nor
/// a set. `count_hit`: count a keyspace hit/miss (once per source per command).
fn with_src<R>(
    l: &mut Locked<'_>,
    key: &[u8],
    now: u64,
    count_hit: bool,
    f: impl FnOnce(Option<Src<'_>>) -> R,
) -> Result<R, ()> {
    let shard = l.shard(key);
    let entry = if count_hit {
        shard.get(key, now)
    } else {
        shard.peek(key, now)
    };
    match entry {
        None => Ok(f(None)),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(f(Some(Src::Z(z)))),
            Value::Set(s) => Ok(f(Some(Src::S(s)))),
            _ => Err(()),
        },
    }
}

struct SetOpts {
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
    /// ZINTERCARD LIMIT (0 = none).
    limit: usize,
}

fn parse_setop_opts(
    rest: &[Bytes],
    n: usize,
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<SetOpts, &'static str> {
    let mut o = SetOpts {
        weights: vec![1.0; n],
        agg: Agg::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = 0;
    while j < rest.len() {
        let remaining = rest.len() - j;
        let a = &rest[j];
        if op != SetOp::Diff && !card && remaining > n && eq_ic(a, "weights") {
            for i in 0..n {
                o.weights[i] =
                    parse_f64(&rest[j + 1 + i]).ok_or("ERR weight value is not a float")?;
            }
            j += n + 1;
        } else if op != SetOp::Diff && !card && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = &rest[j + 1];
            o.agg = if eq_ic(v, "sum") {
                Agg::Sum
            } else if eq_ic(v, "min") {
                Agg::Min
            } else if eq_ic(v, "max") {
                Agg::Max
            } else {
                return Err(ERR_SYNTAX);
            };
            j += 2;
        } else if !store && !card && eq_ic(a, "withscores") {
            o.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && eq_ic(a, "limit") {
            let v = parse_i64(&rest[j + 1])
                .filter(|v| *v >= 0)
                .ok_or("ERR LIMIT can't be negative")?;
            o.limit = usize::try_from(v).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(ERR_SYNTAX);
        }
    }
    Ok(o)
}

/// Compute a union/intersection/difference over `keys` (all locked in `l`).
/// Err carries the error to reply (WRONGTYPE is checked before the options, as in Redis).
fn compute_setop(
    l: &mut Locked<'_>,
    keys: &[Bytes],
    op: SetOp,
    opts: &Result<SetOpts, &'static str>,
    now: u64,
) -> Result<ZSetValue, &'static str> {
    let mut lens = Vec::with_capacity(keys.len());
    for k in keys {
        lens.push(
            with_src(l, k, now, true, |s| s.map(|s| s.len()).unwrap_or(0))
                .map_err(|_| ERR_WRONGTYPE)?,
        );
    }
    let o = opts.as_ref().map_err(|e| *e)?;
    let mut out = ZSetValue::new();
    // Union and intersection visit sources smallest first, like Redis (same float sums).
    let mut order: Vec<usize> = (0..keys.len()).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| lens[i]);
    }
    let src = |l: &mut Locked<'_>, i: usize, f: &mut dyn FnMut(Option<Src<'_>>)| {
        // Types were checked above: the source cannot fail now.
        let _ = with_src(l, &keys[i], now, false, f);
    };
    match op {
        SetOp::Union => {
            let mut acc: HashMap<Bytes, f64> = HashMap::new();
            for &i in &order {
                let wgt = o.weights[i];
                src(l, i, &mut |s| {
                    if let Some(s) = s {
                        s.for_each(|m, sc| {
                            let mut v = wgt * sc;
                            if v.is_nan() {
                                v = 0.0;
                            }
                            match acc.get_mut(&m[..]) {
                                Some(t) => aggregate(t, v, o.agg),
                                None => {
                                    acc.insert(m.clone(), v);
                                }
                            }
                        })
                    }
                });
            }
            for (m, s) in acc {
                out.insert(m, s);
            }
        }
        SetOp::Inter => {
            let first = order[0];
            if lens[first] == 0 {
                return Ok(out);
            }
            let mut acc: Vec<(Bytes, f64)> = Vec::with_capacity(lens[first]);
            let wgt = o.weights[first];
            src(l, first, &mut |s| {
                if let Some(s) = s {
                    s.for_each(|m, sc| {
                        let v = wgt * sc;
                        acc.push((m.clone(), if v.is_nan() { 0.0 } else { v }));
                    })
                }
            });
            for &j in &order[1..] {
                if acc.is_empty() {
                    break;
                }
                let wgt = o.weights[j];
                src(l, j, &mut |s| match s {
                    None => acc.clear(),
                    Some(s) => acc.retain_mut(|(m, t)| match s.score(m) {
                        Some(v) => {
                            aggregate(t, v * wgt, o.agg);
                            true
                        }
                        None => false,
                    }),
                });
            }
            for (m, s) in acc {
                out.insert(m, s);
            }
        }
        SetOp::Diff => {
            if lens[0] == 0 {
                return Ok(out);
            }
            let mut acc: Vec<(Bytes, f64)> = Vec::with_capacity(lens[0]);
            src(l, 0, &mut |s| {
                if let Some(s) = s {
                    s.for_each(|m, sc| acc.push((m.clone(), sc)))
                }
            });
            for j in 1..keys.len() {
                if acc.is_empty() {
                    break;
                }
                src(l, j, &mut |s| {
                    if let Some(s) = s {
                        acc.retain(|(m, _)| s.score(m).is_none());
                    }
                });
            }
            for (m, s) in acc {
                out.insert(m, s);
            }
        }
    }
    Ok(out)
}

/// zunionInterDiffGenericCommand. `dst`: the destination argument for the STORE forms;
/// `card`: ZINTERCARD (reply the size only).
fn setop_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    op: SetOp,
    dst: Option<&Bytes>,
    card: bool,
    name: &str,
) {
    let numkeys_idx = if dst.is_some() { 2 } else { 1 };
    let Some(n) = int_or_err(w, &args[numkeys_idx]) else {
        return;
    };
    if n < 1 {
        w.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
        return;
    }
    let first = numkeys_idx + 1;
    if n as u64 > (args.len() - first) as u64 {
        w.error(ERR_SYNTAX);
        return;
    }
    let n = n as usize;
    let keys = &args[first..first + n];
    let opts = parse_setop_opts(&args[first + n..], n, op, dst.is_some(), card);
    let lock = keys.iter().chain(dst).map(|k| &k[..]);
    let r = ctx.with_keys(lock, |l, now| {
        let z = compute_setop(l, keys, op, &opts, now)?;
        match dst {
            Some(d) => {
                let change = match op {
                    SetOp::Union => Change::ZUnionStore,
                    SetOp::Inter => Change::ZInterStore,
                    SetOp::Diff => Change::ZDiffStore,
                };
                Ok(Err(store(l.shard(d), d, z, now, change)))
            }
            None => Ok(Ok(z)),
        }
    });
    match r {
        Err(e) => w.error(e),
        Ok(Err(stored)) => w.int(stored as i64),
        Ok(Ok(z)) if card => {
            let limit = opts.map(|o| o.limit).unwrap_or(0);
            let n = if limit > 0 {
                z.len().min(limit)
            } else {
                z.len()
            };
            w.int(n as i64);
        }
        Ok(Ok(z)) => {
            let withscores = opts.map(|o| o.withscores).unwrap_or(false);
            write_header(w, z.len(), withscores);
            for (m, s) in z.iter() {
                write_elem(w, m, s, withscores);
            }
        }
    }
}

fn zunionstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setop_generic(
        ctx,
        args,
        w,
        SetOp::Union,
        Some(&args[1]),
        false,
        "zunionstore",
    );
}
fn zinterstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setop_generic(
        ctx,
        args,
        w,
        SetOp::Inter,
        Some(&args[1]),
        false,
        "zinterstore",
    );
}
fn zdiffstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setop_generic(
        ctx,
        args,
        w,
        SetOp::Diff,
        Some(&args[1]),
        false,
        "zdiffstore",
    );
}
fn zunion(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setop_generic(ctx, args, w, SetOp::Union, None, false, "zunion");
}
fn zinter(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setop_generic(ctx, args, w, SetOp::Inter, None, false, "zinter");
}
fn zdiff(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setop_generic(ctx, args, w, SetOp::Diff, None, false, "zdiff");
}
fn zintercard(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setop_generic(ctx, args, w, SetOp::Inter, None, true, "zintercard");
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

/// Sorted sets this small are returned whole in one call (cursor 0), like Redis's listpacks.
const SCAN_WHOLE_MAX: usize = 128;

/// Redis's parseScanCursorOrReply: a decimal unsigned integer.
fn parse_cursor(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count].
///
/// Larger zsets are walked by position, downward, in the member index (see `Shard::scan`):
/// removals only ever move the last element, so every member present for the whole scan is
/// returned at least once. The cursor is the number of positions still to visit.
fn zscan(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(cursor) = parse_cursor(&args[2]) else {
        w.error("ERR invalid cursor");
        return;
    };
    let r = read(ctx, &args[1], |z| {
        let Some(z) = z else {
            w.array(2);
            w.bulk(b"0");
            w.array(0);
            return Ok(());
        };
        let (mut count, mut pattern) = (10usize, None::<&[u8]>);
        let mut i = 3;
        while i < args.len() {
            let left = args.len() - i;
            if eq_ic(&args[i], "count") && left >= 2 {
                let c = parse_i64(&args[i + 1]).ok_or(ERR_NOT_INT)?;
                if c < 1 {
                    return Err(ERR_SYNTAX);
                }
                count = usize::try_from(c).unwrap_or(usize::MAX);
                i += 2;
            } else if eq_ic(&args[i], "match") && left >= 2 {
                let p = &args[i + 1][..];
                pattern = if p == b"*" { None } else { Some(p) };
                i += 2;
            } else {
                return Err(ERR_SYNTAX);
            }
        }
        let len = z.len();
        let mut found: Vec<(&Bytes, f64)> = Vec::new();
        let next = if cursor == 0 && len <= SCAN_WHOLE_MAX {
            // Sorted, as Redis returns a listpack-encoded zset.
            found.extend(z.iter());
            0
        } else {
            let mut pos = if cursor == 0 {
                len
            } else {
                usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
            };
            let mut seen = 0;
            while pos > 0 && seen < count {
                pos -= 1;
                seen += 1;
                found.extend(z.get_index(pos));
            }
            pos
        };
        if let Some(p) = pattern {
            found.retain(|(m, _)| glob::matches(p, m));
        }
        w.array(2);
        w.bulk(next.to_string().as_bytes());
        w.array(found.len() * 2);
        let mut buf = Vec::with_capacity(32);
        for (m, s) in found {
            w.bulk(m);
            buf.clear();
            ferrite_resp::format_double(s, &mut buf);
            w.bulk(&buf);
        }
        Ok(())
    });
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => w.error(e),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}
