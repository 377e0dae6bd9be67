//! Stream commands (Redis 7.0): XADD XRANGE XREVRANGE XLEN XDEL XTRIM XREAD XREADGROUP XGROUP
//! XACK XPENDING XCLAIM XAUTOCLAIM XINFO XSETID, on `ferrite_storage`'s `StreamValue`.
//!
//! Argument parsing follows t_stream.c's order, so the first error Redis would report is the
//! one reported here. Writes report Redis's keyspace events (`xadd`, `xtrim`, `xdel`,
//! `xsetid`, `xgroup-*`) through the entry they changed; XREADGROUP, XACK and XCLAIM change
//! group state only and, as in Redis, report nothing (no notification, WATCH unaffected).
//!
//! Blocking (XREAD/XREADGROUP BLOCK) uses the connection's waiter machinery like BLPOP: the
//! handler asks to wait with the arguments to run again on each wake-up, XREAD's `$` pinned to
//! the ID it meant when the client blocked and Redis's default COUNT of 1000 for blocked
//! reads. A woken XREADGROUP whose key or group is gone answers Redis's UNBLOCKED/NOGROUP
//! errors.

use std::time::Duration;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::value::{owned, StreamId, StreamValue};
use ferrite_storage::{Change, Shard, Value};

use crate::resp::args::*;
use crate::resp::commands::keys::{help, sub_arity_err, unknown_sub};
use crate::resp::conn::BlockRequest;
use crate::resp::dispatch::{
    cmd, flags::*, key, ks::*, BeginSearch, CommandSpec, Ctx, FindKeys, KeySpec,
};

const T: &str = "stream";

/// XREAD's keys: after the STREAMS keyword, the first half of what follows (Redis's key spec).
const XREAD_KEYS: KeySpec = KeySpec {
    flags: RO | ACCESS,
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

/// XREADGROUP's: the same, searched after `GROUP <group> <consumer>`. Redis 7.0 flags it RO
/// ACCESS; Ferrite says RW, since the read changes the group's PEL and a read-only token must
/// not change anything.
const XREADGROUP_KEYS: KeySpec = KeySpec {
    flags: RW | ACCESS | UPDATE,
    begin: BeginSearch::Keyword {
        keyword: "STREAMS",
        start_from: 4,
    },
    find: FindKeys::Range {
        lastkey: -1,
        step: 1,
        limit: 2,
    },
};

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd("xadd", -5, WRITE | DENYOOM | FAST, &[key(1, RW | UPDATE)], T, xadd),
    cmd("xrange", -4, READONLY, &[key(1, RO | ACCESS)], T, xrange),
    cmd("xrevrange", -4, READONLY, &[key(1, RO | ACCESS)], T, xrevrange),
    cmd("xlen", 2, READONLY | FAST, &[key(1, RO)], T, xlen),
    cmd("xdel", -3, WRITE | FAST, &[key(1, RW | DELETE)], T, xdel),
    cmd("xtrim", -4, WRITE, &[key(1, RW | DELETE)], T, xtrim),
    cmd("xread", -4, READONLY | BLOCKING, &[XREAD_KEYS], T, xread),
    cmd("xreadgroup", -7, WRITE | BLOCKING, &[XREADGROUP_KEYS], T, xreadgroup),
    cmd("xgroup", -2, WRITE | DENYOOM, &[key(2, RW | UPDATE)], T, xgroup),
    cmd("xack", -4, WRITE | FAST, &[key(1, RW | UPDATE)], T, xack),
    cmd("xpending", -3, READONLY, &[key(1, RO | ACCESS)], T, xpending),
    // Redis 7.0 leaves ACCESS off these two, but both reply with entries: a write-only token
    // must not read them.
    cmd("xclaim", -6, WRITE | FAST, &[key(1, RW | UPDATE | ACCESS)], T, xclaim),
    cmd("xautoclaim", -6, WRITE | FAST, &[key(1, RW | DELETE | ACCESS)], T, xautoclaim),
    cmd("xinfo", -2, READONLY, &[key(2, RO | ACCESS)], T, xinfo),
    cmd("xsetid", -3, WRITE | DENYOOM | FAST, &[key(1, RW | UPDATE)], T, xsetid),
];

const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const ERR_START_ID: &str = "ERR invalid start ID for the interval";
const ERR_END_ID: &str = "ERR invalid end ID for the interval";
/// Redis's XREAD_BLOCKED_DEFAULT_COUNT: a blocked read without COUNT is served this many.
const BLOCKED_DEFAULT_COUNT: &str = "1000";

struct WrongType;

fn new_stream() -> Value {
    Value::Stream(Box::new(StreamValue::new()))
}

// ---------------------------------------------------------------------------------------------
// IDs

/// Redis's `string2ull`: string2ll when it fits (negative rejected), else `strtoull` (leading
/// space, a sign, leading zeros; the whole string consumed, no overflow).
fn string2ull(b: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(b) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    if i >= b.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A parsed ID: `seq_given` false for XADD's `<ms>-*`.
struct ParsedId {
    id: StreamId,
    seq_given: bool,
}

/// Redis's `streamGenericParseIDOrReply`: `-`/`+` (unless `strict`), `<ms>`, `<ms>-<seq>`,
/// and `<ms>-*` when `allow_star`.
fn parse_id_full(b: &[u8], missing_seq: u64, strict: bool, allow_star: bool) -> Option<ParsedId> {
    if b.len() > 127 {
        return None;
    }
    // C-string semantics: an embedded NUL ends the argument.
    let b = match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    };
    if b == b"-" || b == b"+" {
        if strict {
            return None;
        }
        let id = if b == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        };
        return Some(ParsedId {
            id,
            seq_given: true,
        });
    }
    match b.iter().position(|&c| c == b'-') {
        Some(dash) => {
            let ms = string2ull(&b[..dash])?;
            let rest = &b[dash + 1..];
            if allow_star && rest == b"*" {
                return Some(ParsedId {
                    id: StreamId::new(ms, 0),
                    seq_given: false,
                });
            }
            Some(ParsedId {
                id: StreamId::new(ms, string2ull(rest)?),
                seq_given: true,
            })
        }
        None => Some(ParsedId {
            id: StreamId::new(string2ull(b)?, missing_seq),
            seq_given: true,
        }),
    }
}

fn strict_id(w: &mut ReplyWriter<'_>, b: &[u8]) -> Option<StreamId> {
    match parse_id_full(b, 0, true, false) {
        Some(p) => Some(p.id),
        None => {
            w.error(ERR_INVALID_ID);
            None
        }
    }
}

/// `streamParseIntervalIDOrReply`: `(id` is exclusive (strict ID after the parenthesis).
fn interval_id(w: &mut ReplyWriter<'_>, b: &[u8], missing_seq: u64) -> Option<(StreamId, bool)> {
    let r = if b.len() > 1 && b[0] == b'(' {
        parse_id_full(&b[1..], missing_seq, true, false).map(|p| (p.id, true))
    } else {
        parse_id_full(b, missing_seq, false, false).map(|p| (p.id, false))
    };
    if r.is_none() {
        w.error(ERR_INVALID_ID);
    }
    r
}

/// The start of an interval, `(` applied.
fn range_start(w: &mut ReplyWriter<'_>, b: &[u8]) -> Option<StreamId> {
    let (id, ex) = interval_id(w, b, 0)?;
    if !ex {
        return Some(id);
    }
    let r = id.next();
    if r.is_none() {
        w.error(ERR_START_ID);
    }
    r
}

fn range_end(w: &mut ReplyWriter<'_>, b: &[u8]) -> Option<StreamId> {
    let (id, ex) = interval_id(w, b, u64::MAX)?;
    if !ex {
        return Some(id);
    }
    let r = id.prev();
    if r.is_none() {
        w.error(ERR_END_ID);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Replies

fn reply_id(w: &mut ReplyWriter<'_>, id: StreamId) {
    w.bulk(id.to_string().as_bytes());
}

fn reply_entry(w: &mut ReplyWriter<'_>, id: StreamId, fields: &[Bytes]) {
    w.array(2);
    reply_id(w, id);
    w.array(fields.len());
    for f in fields {
        w.bulk(f);
    }
}

fn nogroup(w: &mut ReplyWriter<'_>, key: &[u8], group: &[u8], suffix: &str) {
    w.error(&format!(
        "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ));
}

fn nogroup_for_key(w: &mut ReplyWriter<'_>, key: &[u8], group: &[u8]) {
    w.error(&format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ));
}

// ---------------------------------------------------------------------------------------------
// Access

/// Read the stream at `key` (a keyspace hit or miss is counted).
fn read_stream<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(Option<&StreamValue>) -> R,
) -> Result<R, WrongType> {
    match s.get(key, now) {
        None => Ok(f(None)),
        Some(e) => match &e.value {
            Value::Stream(x) => Ok(f(Some(x))),
            _ => Err(WrongType),
        },
    }
}

/// Change the existing stream at `key`; `f` returns its result and the events it caused.
fn write_stream<R>(
    s: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(Option<&mut StreamValue>) -> (R, Vec<Change>),
) -> Result<R, WrongType> {
    match s.get_mut(key, now) {
        None => Ok(f(None).0),
        Some(mut e) => {
            let (r, events) = match &mut e.value {
                Value::Stream(x) => f(Some(x)),
                _ => return Err(WrongType),
            };
            for c in events {
                e.changed(c);
            }
            Ok(r)
        }
    }
}

/// Whether the group has a consumer of that name (to tell whether a read or claim made it:
/// Redis reports a consumer made on the fly as `xgroup-createconsumer`).
fn has_consumer(x: &StreamValue, g: &[u8], c: &[u8]) -> bool {
    x.group(g).is_some_and(|g| g.consumers.contains_key(c))
}

/// The events of a read or claim: `xgroup-createconsumer` when it made the consumer.
fn consumer_events(before: bool, x: &StreamValue, g: &[u8], c: &[u8]) -> Vec<Change> {
    if !before && has_consumer(x, g, c) {
        vec![Change::XGroupCreateConsumer]
    } else {
        vec![]
    }
}

fn stream_kind(s: &mut Shard, key: &[u8], now: u64) -> Result<bool, WrongType> {
    match s.peek_meta(key, now) {
        None => Ok(false),
        Some((ferrite_storage::ValueKind::Stream, _)) => Ok(true),
        Some(_) => Err(WrongType),
    }
}

// ---------------------------------------------------------------------------------------------
// XADD / XTRIM

struct TrimArgs {
    trim: Option<ferrite_storage::types::stream::Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// XADD: the ID argument's index and what it said (None = `*`).
    id_at: usize,
    id: Option<ParsedId>,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(w: &mut ReplyWriter<'_>, args: &[Bytes], xadd: bool) -> Option<TrimArgs> {
    use ferrite_storage::types::stream::Trim;
    let mut t = TrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        nomkstream: false,
        id_at: args.len(),
        id: None,
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            t.id_at = i;
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && more > 0 {
            if t.trim.is_some() {
                w.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return None;
            }
            t.approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && next == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if eq_ic(opt, "maxlen") {
                let n = int_or_err(w, &args[i + 1])?;
                if n < 0 {
                    w.error("ERR The MAXLEN argument must be >= 0.");
                    return None;
                }
                t.trim = Some(Trim::MaxLen(n as u64));
            } else {
                t.trim = Some(Trim::MinId(strict_id(w, &args[i + 1])?));
            }
            i += 2;
        } else if eq_ic(opt, "limit") && more > 0 {
            let n = int_or_err(w, &args[i + 1])?;
            if n < 0 {
                w.error("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            t.limit = n as u64;
            limit_given = true;
            i += 2;
        } else if xadd && eq_ic(opt, "nomkstream") {
            t.nomkstream = true;
            i += 1;
        } else if xadd {
            let Some(p) = parse_id_full(opt, 0, true, true) else {
                w.error(ERR_INVALID_ID);
                return None;
            };
            t.id = Some(p);
            t.id_at = i;
            break;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        }
    }
    if t.limit != 0 && t.trim.is_none() {
        w.error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && t.trim.is_none() {
        w.error("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if limit_given {
        if !t.approx {
            w.error("ERR syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
    } else if t.approx {
        // 100 * stream-node-max-entries, capped at 10000 (Redis's default work bound).
        t.limit = 10000;
    } else {
        t.limit = 0;
    }
    Some(t)
}

fn arity_err(w: &mut ReplyWriter<'_>, name: &str) {
    w.error(&format!(
        "ERR wrong number of arguments for '{name}' command"
    ));
}

fn xadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(t) = parse_add_trim(w, args, true) else {
        return;
    };
    let field_pos = t.id_at + 1;
    if field_pos > args.len() || args.len() - field_pos < 2 || (args.len() - field_pos) % 2 == 1 {
        arity_err(w, "xadd");
        return;
    }
    if let Some(p) = &t.id {
        if p.seq_given && p.id.is_zero() {
            w.error("ERR The ID specified in XADD must be greater than 0-0");
            return;
        }
    }
    let key = &args[1];
    let wall = ctx.now;
    let r = ctx.with_key(key, |s, now| {
        let exists = stream_kind(s, key, now)?;
        if !exists && t.nomkstream {
            return Ok(Ok(None));
        }
        let mut e = s.get_or_insert_with(key, now, new_stream);
        let Value::Stream(x) = &mut e.value else {
            return Err(WrongType);
        };
        let last = x.last_id();
        if last == StreamId::MAX {
            return Ok(Err(
                "ERR The stream has exhausted the last possible ID, unable to add more items",
            ));
        }
        let id = match &t.id {
            None => {
                if wall > last.ms {
                    Some(StreamId::new(wall, 0))
                } else {
                    last.next()
                }
            }
            Some(p) if p.seq_given => Some(p.id),
            Some(p) => {
                if p.id.ms == last.ms {
                    if last.seq == u64::MAX {
                        None
                    } else {
                        Some(StreamId::new(last.ms, last.seq + 1))
                    }
                } else {
                    Some(p.id)
                }
            }
        };
        let Some(id) = id.filter(|id| *id > last) else {
            return Ok(Err(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            ));
        };
        x.append(id, args[field_pos..].iter().map(|a| owned(a)).collect());
        let trimmed = match t.trim {
            Some(how) => x.trim(how, t.approx, t.limit),
            None => 0,
        };
        e.changed(Change::XAdd);
        if trimmed > 0 {
            e.changed(Change::XTrim);
        }
        Ok(Ok(Some(id)))
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Err(msg)) => w.error(msg),
        Ok(Ok(None)) => w.null(),
        Ok(Ok(Some(id))) => reply_id(w, id),
    }
}

fn xtrim(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(t) = parse_add_trim(w, args, false) else {
        return;
    };
    let how = t.trim.expect("XTRIM has a strategy");
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        write_stream(s, key, now, |x| match x {
            None => (0, vec![]),
            Some(x) => {
                let n = x.trim(how, t.approx, t.limit);
                (n, if n > 0 { vec![Change::XTrim] } else { vec![] })
            }
        })
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(n) => w.int(n as i64),
    }
}

fn xdel(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    // Redis looks the key up (and type-checks it) before parsing the IDs.
    match ctx.with_key(key, |s, now| stream_kind(s, key, now)) {
        Err(WrongType) => return w.error(ERR_WRONGTYPE),
        Ok(false) => return w.int(0),
        Ok(true) => {}
    }
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in &args[2..] {
        let Some(id) = strict_id(w, a) else { return };
        ids.push(id);
    }
    let r = ctx.with_key(key, |s, now| {
        write_stream(s, key, now, |x| match x {
            None => (0, vec![]),
            Some(x) => {
                let n = ids.iter().filter(|id| x.delete(**id)).count();
                (n, if n > 0 { vec![Change::XDel] } else { vec![] })
            }
        })
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(n) => w.int(n as i64),
    }
}

// ---------------------------------------------------------------------------------------------
// XLEN / XRANGE / XREVRANGE

fn xlen(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    match ctx.with_key(key, |s, now| {
        read_stream(s, key, now, |x| x.map_or(0, |x| x.len()))
    }) {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(n) => w.int(n as i64),
    }
}

fn range_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, rev: bool) {
    let (sa, ea) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let Some(start) = range_start(w, sa) else {
        return;
    };
    let Some(end) = range_end(w, ea) else { return };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if eq_ic(&args[j], "count") && j + 1 < args.len() {
            let Some(n) = int_or_err(w, &args[j + 1]) else {
                return;
            };
            count = n.max(0);
            j += 2;
        } else {
            w.error(ERR_SYNTAX);
            return;
        }
    }
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        read_stream(s, key, now, |x| {
            let Some(x) = x else {
                w.array(0);
                return;
            };
            if count == 0 {
                w.null_array();
                return;
            }
            let limit = if count < 0 {
                usize::MAX
            } else {
                count as usize
            };
            let it = x.range(start, end);
            let items: Vec<_> = if rev {
                it.rev().take(limit).collect()
            } else {
                it.take(limit).collect()
            };
            w.array(items.len());
            for (id, f) in items {
                reply_entry(w, id, f);
            }
        })
    });
    if r.is_err() {
        w.error(ERR_WRONGTYPE);
    }
}

fn xrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    range_generic(ctx, args, w, false);
}

fn xrevrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    range_generic(ctx, args, w, true);
}

// ---------------------------------------------------------------------------------------------
// XREAD / XREADGROUP

/// What `>` stands for among parsed read IDs.
const NEW_ONLY: StreamId = StreamId::MAX;

struct ReadArgs {
    timeout: Option<Option<Duration>>,
    count: usize,
    count_given: bool,
    group: Option<(Bytes, Bytes)>,
    noack: bool,
    streams_at: usize,
    n: usize,
}

/// Redis 7's getTimeoutFromObjectOrReply in milliseconds: an integer, 0 = forever.
fn parse_block_ms(w: &mut ReplyWriter<'_>, b: &[u8], now: u64) -> Option<Option<Duration>> {
    let Some(ms) = parse_i64(b) else {
        w.error("ERR timeout is not an integer or out of range");
        return None;
    };
    if ms < 0 {
        w.error(ERR_TIMEOUT_NEG);
        return None;
    }
    if ms == 0 {
        return Some(None);
    }
    if ms > i64::MAX - now as i64 {
        w.error("ERR timeout is out of range");
        return None;
    }
    Some(Some(Duration::from_millis(ms as u64)))
}

fn parse_read(
    ctx: &Ctx<'_, '_>,
    w: &mut ReplyWriter<'_>,
    args: &[Bytes],
    group: bool,
) -> Option<ReadArgs> {
    let mut r = ReadArgs {
        timeout: None,
        count: 0,
        count_given: false,
        group: None,
        noack: false,
        streams_at: 0,
        n: 0,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i][..];
        if eq_ic(o, "block") && more > 0 {
            r.timeout = Some(parse_block_ms(w, &args[i + 1], ctx.now)?);
            i += 2;
        } else if eq_ic(o, "count") && more > 0 {
            let n = int_or_err(w, &args[i + 1])?;
            r.count = n.max(0) as usize;
            r.count_given = true;
            i += 2;
        } else if eq_ic(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let rest = args.len() - r.streams_at;
            if !rest.is_multiple_of(2) {
                // Redis 7.0 words it so for XREADGROUP too.
                w.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
                return None;
            }
            r.n = rest / 2;
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !group {
                w.error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return None;
            }
            r.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if eq_ic(o, "noack") {
            if !group {
                w.error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return None;
            }
            r.noack = true;
            i += 1;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        }
    }
    if r.streams_at == 0 {
        w.error(ERR_SYNTAX);
        return None;
    }
    if group && r.group.is_none() {
        w.error("ERR Missing GROUP option for XREADGROUP");
        return None;
    }
    // Permissions were checked on the keys the key spec finds; a command whose own parse finds
    // other keys (a group or consumer named "streams" before the real keyword) is refused
    // rather than run on keys nobody checked.
    let spec = if group { XREADGROUP_KEYS } else { XREAD_KEYS };
    match spec.positions(args) {
        Ok(Some((first, _, _))) if first == r.streams_at => {}
        _ => {
            w.error(ERR_SYNTAX);
            return None;
        }
    }
    Some(r)
}

fn xread(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    read_generic(ctx, args, w, false);
}

fn xreadgroup(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    read_generic(ctx, args, w, true);
}

/// One stream's part of a read reply.
type Served = (Bytes, Vec<(StreamId, Option<Box<[Bytes]>>)>);
/// The streams served, and the IDs each key's read started after (`$` resolved).
type ReadOutcome = (Vec<Served>, Vec<StreamId>);

fn read_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, is_group: bool) {
    let Some(r) = parse_read(ctx, w, args, is_group) else {
        return;
    };
    let keys = &args[r.streams_at..r.streams_at + r.n];
    let id_args = &args[r.streams_at + r.n..];
    let retry = ctx.retry;
    let may_block = ctx.may_block;
    let group = r.group.clone();
    // Resolve the IDs and serve, all under the keys' locks (one atomic read, as in Redis).
    let outcome: Result<Result<ReadOutcome, String>, WrongType> =
        ctx.with_keys(keys.iter().map(|k| &k[..]), |locked, now| {
            let mut ids = Vec::with_capacity(r.n);
            for (k, a) in keys.iter().zip(id_args) {
                let s = locked.shard(k);
                let kind = match stream_kind(s, k, now) {
                    Ok(k) => k,
                    // Woken while the key holds another type: XREAD keeps waiting on it.
                    Err(WrongType) if retry && group.is_none() => false,
                    Err(WrongType) if retry => {
                        return Ok(Err("UNBLOCKED the stream key no longer exists".into()))
                    }
                    Err(WrongType) => return Err(WrongType),
                };
                if let Some((g, _)) = &group {
                    let has = kind
                        && read_stream(s, k, now, |x| x.is_some_and(|x| x.group(g).is_some()))
                            .unwrap_or(false);
                    if !has {
                        return Ok(Err(if retry && !kind {
                            "UNBLOCKED the stream key no longer exists".into()
                        } else if retry {
                            "NOGROUP the consumer group this client was blocked on no longer exists".into()
                        } else {
                            format!(
                                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                                String::from_utf8_lossy(k),
                                String::from_utf8_lossy(g)
                            )
                        }));
                    }
                }
                if &a[..] == b"$" {
                    if group.is_some() {
                        return Ok(Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into()));
                    }
                    let last = if kind {
                        read_stream(s, k, now, |x| x.map_or(StreamId::MIN, |x| x.last_id()))
                            .unwrap_or(StreamId::MIN)
                    } else {
                        StreamId::MIN
                    };
                    ids.push(last);
                    continue;
                }
                if &a[..] == b">" {
                    if group.is_none() {
                        return Ok(Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into()));
                    }
                    ids.push(NEW_ONLY);
                    continue;
                }
                match parse_id_full(a, 0, true, false) {
                    Some(p) => ids.push(p.id),
                    None => return Ok(Err(ERR_INVALID_ID.into())),
                }
            }
            let mut served: Vec<Served> = Vec::new();
            for (k, &gt) in keys.iter().zip(&ids) {
                let s = locked.shard(k);
                let got = match &group {
                    None => read_stream(s, k, now, |x| {
                        let x = x?;
                        let start = gt.next()?;
                        let last = x.last_entry()?.0;
                        if last <= gt {
                            return None;
                        }
                        let n = if r.count == 0 { usize::MAX } else { r.count };
                        Some(
                            x.range(start, StreamId::MAX)
                                .take(n)
                                .map(|(id, f)| (id, Some(f.to_vec().into_boxed_slice())))
                                .collect::<Vec<_>>(),
                        )
                    })
                    .ok()
                    .flatten(),
                    Some((g, c)) => write_stream(s, k, now, |x| {
                        let Some(x) = x else { return (None, vec![]) };
                        let had = has_consumer(x, g, c);
                        if gt != NEW_ONLY {
                            // History: the consumer's pending entries after the given ID.
                            let v = match gt.next() {
                                Some(start) => x.read_history(g, c, start, r.count, now),
                                None => vec![],
                            };
                            let ev = consumer_events(had, x, g, c);
                            return (Some(v), ev);
                        }
                        let last_delivered = x.group(g).map_or(StreamId::MAX, |g| g.last_id);
                        match x.last_entry() {
                            Some((last, _)) if last > last_delivered => {}
                            _ => return (None, vec![]),
                        }
                        let v = x
                            .read_new(g, c, r.count, r.noack, now)
                            .into_iter()
                            .map(|(id, f)| (id, Some(f)))
                            .collect();
                        let ev = consumer_events(had, x, g, c);
                        (Some(v), ev)
                    })
                    .ok()
                    .flatten(),
                };
                if let Some(v) = got {
                    served.push((k.clone(), v));
                }
            }
            Ok(Ok((served, ids)))
        });
    let (served, ids) = match outcome {
        Err(WrongType) => return w.error(ERR_WRONGTYPE),
        Ok(Err(msg)) => return w.error(&msg),
        Ok(Ok(v)) => v,
    };
    if !served.is_empty() {
        if ctx.resp3 {
            w.map(served.len());
        } else {
            w.array(served.len());
        }
        for (k, entries) in served {
            if !ctx.resp3 {
                w.array(2);
            }
            w.bulk(&k);
            w.array(entries.len());
            for (id, f) in entries {
                match f {
                    Some(f) => reply_entry(w, id, &f),
                    None => {
                        w.array(2);
                        reply_id(w, id);
                        w.null_array();
                    }
                }
            }
        }
        return;
    }
    match r.timeout {
        Some(timeout) if may_block => {
            *ctx.block = Some(BlockRequest {
                keys: keys.iter().map(|k| owned(k)).collect(),
                timeout,
                args: Some(blocked_args(args, &r, &ids, is_group)),
            });
        }
        // No BLOCK, or inside MULTI (where blocking reads act as timed out).
        _ => w.null_array(),
    }
}

/// The command a blocked read runs on each wake-up: XREAD's IDs as resolved now (`$` pinned),
/// and Redis's default COUNT for blocked reads when none was given.
fn blocked_args(args: &[Bytes], r: &ReadArgs, ids: &[StreamId], is_group: bool) -> Vec<Bytes> {
    let s = |x: &str| Bytes::copy_from_slice(x.as_bytes());
    let mut v = vec![owned(&args[0])];
    if let Some((g, c)) = &r.group {
        v.extend([s("GROUP"), owned(g), owned(c)]);
    }
    v.extend([
        s("COUNT"),
        if r.count_given {
            s(&r.count.to_string())
        } else {
            s(BLOCKED_DEFAULT_COUNT)
        },
    ]);
    if r.noack {
        v.push(s("NOACK"));
    }
    // BLOCK stays, so a wake-up that finds nothing asks to keep waiting.
    v.extend([s("BLOCK"), s("0"), s("STREAMS")]);
    v.extend(
        args[r.streams_at..r.streams_at + r.n]
            .iter()
            .map(|k| owned(k)),
    );
    for id in ids {
        v.push(if is_group { s(">") } else { s(&id.to_string()) });
    }
    v
}

// ---------------------------------------------------------------------------------------------
// XGROUP

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

/// Redis 7's subcommand arities (`xgroup|create` -5, ...).
fn sub_arity(sub: &[u8], table: &[(&str, i32)]) -> Option<i32> {
    table.iter().find(|(n, _)| eq_ic(sub, n)).map(|(_, a)| *a)
}

fn arity_fits(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

fn xgroup(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    const SUBS: &[(&str, i32)] = &[
        ("create", -5),
        ("setid", -5),
        ("destroy", 4),
        ("createconsumer", 5),
        ("delconsumer", 5),
        ("help", 2),
    ];
    let sub = &args[1];
    let Some(arity) = sub_arity(sub, SUBS) else {
        return unknown_sub(w, "xgroup", sub);
    };
    if !arity_fits(arity, args.len()) {
        return sub_arity_err(w, "xgroup", sub);
    }
    if eq_ic(sub, "help") {
        return help(w, XGROUP_HELP);
    }
    // Options of CREATE and SETID.
    let mut mkstream = false;
    let mut entries_read: Option<u64> = None;
    let create = eq_ic(sub, "create");
    let setid = eq_ic(sub, "setid");
    if create || setid {
        let mut i = 5;
        while i < args.len() {
            if create && eq_ic(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if eq_ic(&args[i], "entriesread") && i + 1 < args.len() {
                let Some(n) = int_or_err(w, &args[i + 1]) else {
                    return;
                };
                if n < 0 && n != -1 {
                    w.error("ERR value for ENTRIESREAD must be positive or -1");
                    return;
                }
                entries_read = u64::try_from(n).ok();
                i += 2;
            } else {
                w.error(&format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
                    String::from_utf8_lossy(sub)
                ));
                return;
            }
        }
    }
    let key = &args[2];
    let gname = &args[3];
    let now_ms = ctx.now;
    // (exists, group exists)
    let state = ctx.with_key(key, |s, now| {
        let kind = stream_kind(s, key, now)?;
        let g = kind
            && read_stream(s, key, now, |x| x.is_some_and(|x| x.group(gname).is_some()))
                .unwrap_or(false);
        Ok::<_, WrongType>((kind, g))
    });
    let Ok((exists, has_group)) = state else {
        return w.error(ERR_WRONGTYPE);
    };
    if !mkstream {
        if !exists {
            w.error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
            return;
        }
        if !has_group && !create && !eq_ic(sub, "destroy") {
            return nogroup_for_key(w, key, gname);
        }
    }
    if create {
        if args.len() > 8 {
            return sub_arity_err(w, "xgroup", sub);
        }
        let given = if &args[4][..] == b"$" {
            None
        } else {
            let Some(id) = strict_id(w, &args[4]) else {
                return;
            };
            Some(id)
        };
        let r = ctx.with_key(key, |s, now| {
            let mut e = s.get_or_insert_with(key, now, new_stream);
            let Value::Stream(x) = &mut e.value else {
                return false;
            };
            let id = given.unwrap_or_else(|| x.last_id());
            let made = x.create_group(gname, id, entries_read);
            if made {
                e.changed(Change::XGroupCreate);
            }
            made
        });
        if r {
            w.ok();
        } else {
            w.error("BUSYGROUP Consumer Group name already exists");
        }
    } else if setid {
        if args.len() != 5 && args.len() != 7 {
            return sub_arity_err(w, "xgroup", sub);
        }
        let given = if &args[4][..] == b"$" {
            None
        } else {
            match parse_id_full(&args[4], 0, false, false) {
                Some(p) => Some(p.id),
                None => return w.error(ERR_INVALID_ID),
            }
        };
        let _ = ctx.with_key(key, |s, now| {
            write_stream(s, key, now, |x| {
                let Some(x) = x else { return ((), vec![]) };
                let id = given.unwrap_or_else(|| x.last_id());
                x.set_group_id(gname, id, entries_read);
                ((), vec![Change::XGroupSetId])
            })
        });
        w.ok();
    } else if eq_ic(sub, "destroy") {
        let r = ctx.with_key(key, |s, now| {
            write_stream(s, key, now, |x| match x.map(|x| x.destroy_group(gname)) {
                Some(true) => (true, vec![Change::XGroupDestroy]),
                _ => (false, vec![]),
            })
        });
        w.int(matches!(r, Ok(true)) as i64);
    } else if eq_ic(sub, "createconsumer") {
        let cname = &args[4];
        let r = ctx.with_key(key, |s, now| {
            write_stream(s, key, now, |x| {
                match x.map(|x| x.create_consumer(gname, cname, now_ms)) {
                    Some(true) => (true, vec![Change::XGroupCreateConsumer]),
                    _ => (false, vec![]),
                }
            })
        });
        w.int(matches!(r, Ok(true)) as i64);
    } else {
        let cname = &args[4];
        let r = ctx.with_key(key, |s, now| {
            write_stream(s, key, now, |x| {
                match x.and_then(|x| x.delete_consumer(gname, cname)) {
                    Some(n) => (n, vec![Change::XGroupDelConsumer]),
                    None => (0, vec![]),
                }
            })
        });
        w.int(r.unwrap_or(0) as i64);
    }
}

// ---------------------------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM

fn xack(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let g = &args[2];
    let has = ctx.with_key(key, |s, now| {
        read_stream(s, key, now, |x| x.is_some_and(|x| x.group(g).is_some()))
    });
    match has {
        Err(WrongType) => return w.error(ERR_WRONGTYPE),
        Ok(false) => return w.int(0),
        Ok(true) => {}
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in &args[3..] {
        let Some(id) = strict_id(w, a) else { return };
        ids.push(id);
    }
    let n = ctx.with_key(key, |s, now| {
        write_stream(s, key, now, |x| (x.map_or(0, |x| x.ack(g, &ids)), vec![]))
    });
    w.int(n.unwrap_or(0) as i64);
}

fn xpending(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let g = &args[2];
    let justinfo = args.len() == 3;
    if args.len() != 3 && (args.len() < 6 || args.len() > 9) {
        return w.error(ERR_SYNTAX);
    }
    let mut min_idle: i64 = 0;
    let mut count: i64 = 0;
    let (mut start, mut end) = (StreamId::MIN, StreamId::MAX);
    let mut consumer: Option<&Bytes> = None;
    if args.len() >= 6 {
        let mut at = 3;
        if eq_ic(&args[3], "idle") {
            let Some(n) = int_or_err(w, &args[4]) else {
                return;
            };
            min_idle = n;
            if args.len() < 8 {
                return w.error(ERR_SYNTAX);
            }
            at += 2;
        }
        let Some(n) = int_or_err(w, &args[at + 2]) else {
            return;
        };
        count = n.max(0);
        let Some(s) = range_start(w, &args[at]) else {
            return;
        };
        let Some(e) = range_end(w, &args[at + 1]) else {
            return;
        };
        start = s;
        end = e;
        consumer = args.get(at + 3);
    }
    let r = ctx.with_key(key, |s, now| {
        read_stream(s, key, now, |x| {
            let Some(grp) = x.and_then(|x| x.group(g)) else {
                nogroup(w, key, g, "");
                return;
            };
            if justinfo {
                w.array(4);
                w.int(grp.pel.len() as i64);
                match (grp.pel.keys().next(), grp.pel.keys().next_back()) {
                    (Some(a), Some(b)) => {
                        reply_id(w, *a);
                        reply_id(w, *b);
                        let with: Vec<_> = grp
                            .consumers
                            .iter()
                            .filter(|(_, c)| !c.pel.is_empty())
                            .collect();
                        w.array(with.len());
                        for (name, c) in with {
                            w.array(2);
                            w.bulk(name);
                            w.bulk(c.pel.len().to_string().as_bytes());
                        }
                    }
                    _ => {
                        w.null();
                        w.null();
                        w.null_array();
                    }
                }
                return;
            }
            let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
                Some(c) => match grp.consumers.get(&c[..]) {
                    Some(c) => Box::new(c.pel.range(start..).copied()),
                    None => {
                        w.array(0);
                        return;
                    }
                },
                None => Box::new(grp.pel.range(start..).map(|(k, _)| *k)),
            };
            let mut out = Vec::new();
            for id in ids.take_while(|id| *id <= end) {
                if out.len() as i64 >= count {
                    break;
                }
                let p = &grp.pel[&id];
                let idle = (now as i64).wrapping_sub(p.delivery_time as i64);
                if min_idle != 0 && idle < min_idle {
                    continue;
                }
                out.push((id, p, idle.max(0)));
            }
            w.array(out.len());
            for (id, p, idle) in out {
                w.array(4);
                reply_id(w, id);
                w.bulk(&p.consumer);
                w.int(idle);
                w.int(p.delivery_count as i64);
            }
        })
    });
    if r.is_err() {
        w.error(ERR_WRONGTYPE);
    }
}

/// Whether the group exists on the stream at `key` (Err: another type).
fn group_exists(ctx: &mut Ctx<'_, '_>, key: &[u8], g: &[u8]) -> Result<bool, WrongType> {
    ctx.with_key(key, |s, now| {
        read_stream(s, key, now, |x| x.is_some_and(|x| x.group(g).is_some()))
    })
}

fn xclaim(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (key, g, cname) = (&args[1], &args[2], &args[3]);
    match group_exists(ctx, key, g) {
        Err(WrongType) => return w.error(ERR_WRONGTYPE),
        Ok(false) => return nogroup(w, key, g, ""),
        Ok(true) => {}
    }
    let Some(min_idle) = parse_i64(&args[4]) else {
        return w.error("ERR Invalid min-idle-time argument for XCLAIM");
    };
    let min_idle = min_idle.max(0) as u64;
    let mut j = 5;
    let mut ids = Vec::new();
    while j < args.len() {
        match parse_id_full(&args[j], 0, true, false) {
            Some(p) => ids.push(p.id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now as i64;
    let (mut force, mut justid) = (false, false);
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j][..];
        let num = |w: &mut ReplyWriter<'_>, b: &[u8], what: &str| {
            let r = parse_i64(b);
            if r.is_none() {
                w.error(&format!("ERR Invalid {what} option argument for XCLAIM"));
            }
            r
        };
        if eq_ic(opt, "force") {
            force = true;
        } else if eq_ic(opt, "justid") {
            justid = true;
        } else if eq_ic(opt, "idle") && more > 0 {
            j += 1;
            let Some(n) = num(w, &args[j], "IDLE") else {
                return;
            };
            delivery = Some(now.wrapping_sub(n));
        } else if eq_ic(opt, "time") && more > 0 {
            j += 1;
            let Some(n) = num(w, &args[j], "TIME") else {
                return;
            };
            delivery = Some(n);
        } else if eq_ic(opt, "retrycount") && more > 0 {
            j += 1;
            let Some(n) = num(w, &args[j], "RETRYCOUNT") else {
                return;
            };
            retry = Some(n);
        } else if eq_ic(opt, "lastid") && more > 0 {
            j += 1;
            let Some(id) = strict_id(w, &args[j]) else {
                return;
            };
            last_id = id;
        } else {
            w.error(&format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            ));
            return;
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(d) if d >= 0 && d <= now => d as u64,
        _ => now as u64,
    };
    // A negative RETRYCOUNT is Redis's "not given".
    let retry = retry.and_then(|n| u64::try_from(n).ok());
    let r = ctx.with_key(key, |s, now| {
        write_stream(s, key, now, |x| {
            let Some(x) = x else { return (vec![], vec![]) };
            let had = has_consumer(x, g, cname);
            x.raise_group_last_id(g, last_id);
            let mut out = Vec::new();
            for id in &ids {
                if let Some(f) =
                    x.claim(g, cname, *id, min_idle, now, delivery, retry, force, justid)
                {
                    out.push((*id, f));
                }
            }
            let ev = consumer_events(had, x, g, cname);
            (out, ev)
        })
    });
    let out = r.unwrap_or_default();
    w.array(out.len());
    for (id, f) in out {
        match f {
            Some(f) => reply_entry(w, id, &f),
            None => reply_id(w, id),
        }
    }
}

fn xautoclaim(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (key, g, cname) = (&args[1], &args[2], &args[3]);
    let Some(min_idle) = parse_i64(&args[4]) else {
        return w.error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
    };
    let min_idle = min_idle.max(0) as u64;
    let Some(start) = range_start(w, &args[5]) else {
        return;
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(&args[j], "count") && more > 0 {
            match parse_i64(&args[j + 1]) {
                // Redis bounds COUNT so that count * sizeof(streamID) fits a long.
                Some(n) if (1..=i64::MAX / 16).contains(&n) => count = n,
                _ => return w.error("ERR COUNT must be > 0"),
            }
            j += 2;
        } else if eq_ic(&args[j], "justid") {
            justid = true;
            j += 1;
        } else {
            return w.error(ERR_SYNTAX);
        }
    }
    match group_exists(ctx, key, g) {
        Err(WrongType) => return w.error(ERR_WRONGTYPE),
        Ok(false) => return nogroup(w, key, g, ""),
        Ok(true) => {}
    }
    let r = ctx.with_key(key, |s, now| {
        write_stream(s, key, now, |x| {
            // Checked above, but under an earlier lock: another client may have removed it.
            let Some(x) = x.filter(|x| x.group(g).is_some()) else {
                return (None, vec![]);
            };
            let had = has_consumer(x, g, cname);
            let ac = x.autoclaim(g, cname, start, min_idle, count as usize, now, justid);
            let ev = consumer_events(had, x, g, cname);
            (Some(ac), ev)
        })
    });
    let Ok(Some(ac)) = r else {
        return nogroup(w, key, g, "");
    };
    w.array(3);
    reply_id(w, ac.next);
    w.array(ac.claimed.len());
    for (id, f) in &ac.claimed {
        if justid {
            reply_id(w, *id);
        } else {
            reply_entry(w, *id, f);
        }
    }
    w.array(ac.deleted.len());
    for id in ac.deleted {
        reply_id(w, id);
    }
}

// ---------------------------------------------------------------------------------------------
// XINFO

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn opt_int(w: &mut ReplyWriter<'_>, v: Option<u64>) {
    match v {
        Some(n) => w.int(n as i64),
        None => w.null(),
    }
}

fn opt_signed(w: &mut ReplyWriter<'_>, v: Option<i64>) {
    match v {
        Some(n) => w.int(n),
        None => w.null(),
    }
}

fn xinfo(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    const SUBS: &[(&str, i32)] = &[("consumers", 4), ("groups", 3), ("stream", -3), ("help", 2)];
    let sub = &args[1];
    let Some(arity) = sub_arity(sub, SUBS) else {
        return unknown_sub(w, "xinfo", sub);
    };
    if !arity_fits(arity, args.len()) {
        return sub_arity_err(w, "xinfo", sub);
    }
    if eq_ic(sub, "help") {
        return help(w, XINFO_HELP);
    }
    let key = &args[2];
    let stream = eq_ic(sub, "stream");
    let mut full = false;
    let mut count: i64 = 10;
    // FULL and COUNT are checked after the key lookup, as Redis does (a missing key answers
    // "no such key" whatever follows).
    if stream && args.len() > 3 {
        full = true;
    }
    let now_ms = ctx.now;
    let r = ctx.with_key(key, |s, now| {
        read_stream(s, key, now, |x| {
            let Some(x) = x else {
                w.error(ERR_NO_KEY);
                return;
            };
            if eq_ic(sub, "consumers") {
                let g = &args[3];
                let Some(grp) = x.group(g) else {
                    return nogroup_for_key(w, key, g);
                };
                w.array(grp.consumers.len());
                for (name, c) in &grp.consumers {
                    w.map(3);
                    w.bulk(b"name");
                    w.bulk(name);
                    w.bulk(b"pending");
                    w.int(c.pel.len() as i64);
                    w.bulk(b"idle");
                    w.int((now_ms as i64).wrapping_sub(c.seen_time as i64).max(0));
                }
                return;
            }
            if !stream {
                w.array(x.group_count());
                for (name, g) in x.groups() {
                    w.map(6);
                    w.bulk(b"name");
                    w.bulk(name);
                    w.bulk(b"consumers");
                    w.int(g.consumers.len() as i64);
                    w.bulk(b"pending");
                    w.int(g.pel.len() as i64);
                    w.bulk(b"last-delivered-id");
                    reply_id(w, g.last_id);
                    w.bulk(b"entries-read");
                    opt_int(w, g.entries_read);
                    w.bulk(b"lag");
                    opt_signed(w, x.lag(g));
                }
                return;
            }
            if full {
                let bad = |w: &mut ReplyWriter<'_>| {
                    w.error(&format!(
                        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
                        String::from_utf8_lossy(sub)
                    ))
                };
                if !eq_ic(&args[3], "full") {
                    return bad(w);
                }
                if args.len() > 4 {
                    if args.len() != 6 || !eq_ic(&args[4], "count") {
                        return bad(w);
                    }
                    let Some(n) = int_or_err(w, &args[5]) else { return };
                    count = if n < 0 { 10 } else { n };
                }
            }
            stream_info(w, x, full, count as u64);
        })
    });
    if r.is_err() {
        w.error(ERR_WRONGTYPE);
    }
}

fn stream_info(w: &mut ReplyWriter<'_>, x: &StreamValue, full: bool, count: u64) {
    w.map(if full { 9 } else { 10 });
    w.bulk(b"length");
    w.int(x.len() as i64);
    w.bulk(b"radix-tree-keys");
    w.int(x.node_count() as i64);
    w.bulk(b"radix-tree-nodes");
    w.int(radix_nodes_estimate(x.node_count()) as i64);
    w.bulk(b"last-generated-id");
    reply_id(w, x.last_id());
    w.bulk(b"max-deleted-entry-id");
    reply_id(w, x.max_deleted());
    w.bulk(b"entries-added");
    w.int(x.entries_added() as i64);
    w.bulk(b"recorded-first-entry-id");
    reply_id(w, x.first_id());
    let limit = |n: usize| if count == 0 { n } else { n.min(count as usize) };
    if !full {
        w.bulk(b"groups");
        w.int(x.group_count() as i64);
        w.bulk(b"first-entry");
        match x.first_entry() {
            Some((id, f)) => reply_entry(w, id, f),
            None => w.null(),
        }
        w.bulk(b"last-entry");
        match x.last_entry() {
            Some((id, f)) => reply_entry(w, id, f),
            None => w.null(),
        }
        return;
    }
    w.bulk(b"entries");
    let n = limit(x.len());
    w.array(n);
    for (id, f) in x.range(StreamId::MIN, StreamId::MAX).take(n) {
        reply_entry(w, id, f);
    }
    w.bulk(b"groups");
    w.array(x.group_count());
    for (name, g) in x.groups() {
        w.map(7);
        w.bulk(b"name");
        w.bulk(name);
        w.bulk(b"last-delivered-id");
        reply_id(w, g.last_id);
        w.bulk(b"entries-read");
        opt_int(w, g.entries_read);
        w.bulk(b"lag");
        opt_signed(w, x.lag(g));
        w.bulk(b"pel-count");
        w.int(g.pel.len() as i64);
        w.bulk(b"pending");
        let n = limit(g.pel.len());
        w.array(n);
        for (id, p) in g.pel.iter().take(n) {
            w.array(4);
            reply_id(w, *id);
            w.bulk(&p.consumer);
            w.int(p.delivery_time as i64);
            w.int(p.delivery_count as i64);
        }
        w.bulk(b"consumers");
        w.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            w.map(4);
            w.bulk(b"name");
            w.bulk(cname);
            w.bulk(b"seen-time");
            w.int(c.seen_time as i64);
            w.bulk(b"pel-count");
            w.int(c.pel.len() as i64);
            w.bulk(b"pending");
            let n = limit(c.pel.len());
            w.array(n);
            for id in c.pel.iter().take(n) {
                let p = &g.pel[id];
                w.array(3);
                reply_id(w, *id);
                w.int(p.delivery_time as i64);
                w.int(p.delivery_count as i64);
            }
        }
    }
}

/// XINFO STREAM's `radix-tree-nodes`: Redis counts the inner nodes of its radix tree, which
/// depend on how the 128-bit node keys share prefixes. Ferrite keeps no radix tree; it answers
/// Redis's figure for an empty tree (1) and a single key (2), and an estimate beyond.
fn radix_nodes_estimate(keys: usize) -> usize {
    match keys {
        0 => 1,
        1 => 2,
        n => 2 * n + 1,
    }
}

// ---------------------------------------------------------------------------------------------
// XSETID

fn xsetid(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let Some(id) = strict_id(w, &args[2]) else {
        return;
    };
    let mut entries_added: Option<u64> = None;
    let mut max_del: Option<StreamId> = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq_ic(&args[i], "entriesadded") && more > 0 {
            let Some(n) = int_or_err(w, &args[i + 1]) else {
                return;
            };
            if n < 0 {
                return w.error("ERR entries_added must be positive");
            }
            entries_added = Some(n as u64);
            i += 2;
        } else if eq_ic(&args[i], "maxdeletedid") && more > 0 {
            let Some(m) = strict_id(w, &args[i + 1]) else {
                return;
            };
            if id < m {
                return w.error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            max_del = Some(m);
            i += 2;
        } else {
            return w.error(ERR_SYNTAX);
        }
    }
    let r = ctx.with_key(key, |s, now| {
        if !stream_kind(s, key, now)? {
            return Ok(Err(ERR_NO_KEY));
        }
        write_stream(s, key, now, |x| {
            let x = x.expect("a stream");
            if id < x.max_deleted() {
                return (
                    Err("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"),
                    vec![],
                );
            }
            if let Some((top, _)) = x.last_entry() {
                if id < top {
                    return (
                        Err("ERR The ID specified in XSETID is smaller than the target stream top item"),
                        vec![],
                    );
                }
                if entries_added.is_some_and(|n| (x.len() as u64) > n) {
                    return (
                        Err("ERR The entries_added specified in XSETID is smaller than the target stream length"),
                        vec![],
                    );
                }
            }
            x.set_id(id, entries_added, max_del.filter(|m| !m.is_zero()));
            (Ok(()), vec![Change::XSetId])
        })
    });
    match r {
        Err(WrongType) => w.error(ERR_WRONGTYPE),
        Ok(Err(m)) => w.error(m),
        Ok(Ok(())) => w.ok(),
    }
}
