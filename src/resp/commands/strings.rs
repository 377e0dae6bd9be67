//! String commands.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Change, Shard, StrWriteError, Value, MAX_STRING};

use crate::resp::args::*;
use crate::resp::dispatch::{cmd, flags::*, key, key_range, ks::*, CommandSpec, Ctx};

const S: &str = "string";

pub const COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, READONLY | FAST, &[key(1, RO | ACCESS)], S, get),
    cmd(
        "set",
        -3,
        WRITE | DENYOOM | ARG_ACCESS,
        &[key(1, RW | ACCESS | UPDATE | VARIABLE_FLAGS)],
        S,
        set,
    ),
    cmd(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        &[key(1, OW | INSERT | CONDITIONAL)],
        S,
        setnx,
    ),
    cmd(
        "setex",
        4,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE)],
        S,
        setex,
    ),
    cmd(
        "psetex",
        4,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE)],
        S,
        psetex,
    ),
    cmd(
        "mget",
        -2,
        READONLY | FAST,
        &[key_range(1, -1, 1, RO | ACCESS)],
        S,
        mget,
    ),
    cmd(
        "mset",
        -3,
        WRITE | DENYOOM,
        &[key_range(1, -1, 2, OW | UPDATE)],
        S,
        mset,
    ),
    cmd(
        "msetnx",
        -3,
        WRITE | DENYOOM,
        &[key_range(1, -1, 2, OW | INSERT | CONDITIONAL)],
        S,
        msetnx,
    ),
    cmd(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        S,
        getset,
    ),
    cmd(
        "getdel",
        2,
        WRITE | FAST,
        &[key(1, RW | ACCESS | DELETE)],
        S,
        getdel,
    ),
    cmd(
        "getex",
        -2,
        WRITE | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        S,
        getex,
    ),
    cmd(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        S,
        incr,
    ),
    cmd(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        S,
        decr,
    ),
    cmd(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        S,
        incrby,
    ),
    cmd(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        S,
        decrby,
    ),
    cmd(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | ACCESS | UPDATE)],
        S,
        incrbyfloat,
    ),
    cmd(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | INSERT)],
        S,
        append,
    ),
    cmd("strlen", 2, READONLY | FAST, &[key(1, RO)], S, strlen),
    cmd("getrange", 4, READONLY, &[key(1, RO | ACCESS)], S, getrange),
    cmd("substr", 4, READONLY, &[key(1, RO | ACCESS)], S, getrange),
    cmd(
        "setrange",
        4,
        WRITE | DENYOOM,
        &[key(1, RW | UPDATE)],
        S,
        setrange,
    ),
];

/// Read a string value: Ok(None) when missing, Err(()) after writing WRONGTYPE.
fn read_str(shard: &mut Shard, key: &[u8], now: u64) -> Result<Option<Bytes>, ()> {
    match shard.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some(b.clone())),
            _ => Err(()),
        },
    }
}

fn get(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    // The hot path: the value is written into the reply straight from the shard (under its
    // lock), with no copy into an owned buffer first.
    let found = ctx.with_key(&args[1], |s, now| s.read_str(&args[1], now, |v| w.bulk(v)));
    match found {
        Some(Ok(())) => {}
        None => w.null(),
        Some(Err(_)) => w.error(ERR_WRONGTYPE),
    }
}

/// Parsed SET options.
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Absolute expiry (ms), if any.
    expire_at: Option<u64>,
}

/// Parse `EX s | PX ms | EXAT ts | PXAT ts`, returning the absolute instant, writing Redis's
/// errors ("invalid expire time in 'set' command") on bad values.
fn parse_expiry(
    kind: &[u8],
    val: &[u8],
    now: u64,
    cmd: &str,
    w: &mut ReplyWriter<'_>,
) -> Option<u64> {
    let Some(n) = parse_i64(val) else {
        w.error(ERR_NOT_INT);
        return None;
    };
    let bad = || format!("ERR invalid expire time in '{cmd}' command");
    if n <= 0 {
        w.error(&bad());
        return None;
    }
    let at = if eq_ic(kind, "ex") {
        n.checked_mul(1000)
            .and_then(|ms| ms.checked_add(now as i64))
    } else if eq_ic(kind, "px") {
        n.checked_add(now as i64)
    } else if eq_ic(kind, "exat") {
        n.checked_mul(1000)
    } else {
        Some(n)
    };
    match at {
        Some(at) => Some(at as u64),
        None => {
            w.error(&bad());
            None
        }
    }
}

fn parse_set_opts(args: &[Bytes], now: u64, w: &mut ReplyWriter<'_>) -> Option<SetOpts> {
    let mut o = SetOpts {
        nx: false,
        xx: false,
        get: false,
        keepttl: false,
        expire_at: None,
    };
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if eq_ic(a, "get") {
            o.get = true;
        } else if eq_ic(a, "keepttl") && o.expire_at.is_none() {
            o.keepttl = true;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && !o.keepttl
            && o.expire_at.is_none()
            && i + 1 < args.len()
        {
            o.expire_at = Some(parse_expiry(a, &args[i + 1], now, "set", w)?);
            i += 1;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        }
        i += 1;
    }
    Some(o)
}

fn set(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(o) = parse_set_opts(args, ctx.now, w) else {
        return;
    };
    let key = &args[1];
    let value = &args[2];
    enum Out {
        Done(Option<Bytes>),
        Skipped(Option<Bytes>),
        WrongType,
    }
    if !(o.nx || o.xx || o.get || o.keepttl) {
        // Plain SET (the common case): one hash lookup, no look at the old value.
        let exp = o.expire_at.unwrap_or(0);
        ctx.with_key(key, |s, now| s.set_str(key, value, exp, now));
        w.ok();
        return;
    }
    let out = ctx.with_key(key, |s, now| {
        let (exists, old_val, old_exp) = match s.peek(key, now) {
            None => (false, None, 0),
            Some(e) => match &e.value {
                Value::Str(b) => (true, Some(b.clone()), e.expires_at),
                _ if o.get => return Out::WrongType,
                _ => (true, None, e.expires_at),
            },
        };
        if (o.nx && exists) || (o.xx && !exists) {
            return Out::Skipped(old_val);
        }
        let exp = match (o.expire_at, o.keepttl) {
            (Some(at), _) => at,
            (None, true) => old_exp,
            (None, false) => 0,
        };
        // `expire` follows `set` only when this SET gave a TTL (KEEPTTL keeps the old one).
        s.set_str_with(key, value, exp, now, o.expire_at.is_some());
        Out::Done(old_val)
    });
    match out {
        Out::WrongType => w.error(ERR_WRONGTYPE),
        Out::Done(old) if o.get => match old {
            Some(v) => w.bulk(&v),
            None => w.null(),
        },
        Out::Done(_) => w.ok(),
        Out::Skipped(old) if o.get => match old {
            Some(v) => w.bulk(&v),
            None => w.null(),
        },
        Out::Skipped(_) => w.null(),
    }
}

fn setnx(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let done = ctx.with_key(&args[1], |s, now| {
        if s.peek(&args[1], now).is_some() {
            false
        } else {
            s.set_str(&args[1], &args[2], 0, now);
            true
        }
    });
    w.int(done as i64);
}

fn setex_common(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    w: &mut ReplyWriter<'_>,
    unit: &str,
    name: &str,
) {
    let Some(at) = parse_expiry(unit.as_bytes(), &args[2], ctx.now, name, w) else {
        return;
    };
    ctx.with_key(&args[1], |s, now| {
        s.set_str(&args[1], &args[3], at, now);
    });
    w.ok();
}

fn setex(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setex_common(ctx, args, w, "ex", "setex");
}

fn psetex(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    setex_common(ctx, args, w, "px", "psetex");
}

fn mget(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    w.array(args.len() - 1);
    for k in &args[1..] {
        match ctx.with_key(k, |s, now| read_str(s, k, now)) {
            Ok(Some(v)) => w.bulk(&v),
            _ => w.null(),
        }
    }
}

fn mset_pairs(args: &[Bytes]) -> impl Iterator<Item = (&Bytes, &Bytes)> {
    args[1..].chunks_exact(2).map(|c| (&c[0], &c[1]))
}

fn mset(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len().is_multiple_of(2) {
        w.error("ERR wrong number of arguments for 'mset' command");
        return;
    }
    ctx.with_keys(mset_pairs(args).map(|(k, _)| &k[..]), |l, now| {
        for (k, v) in mset_pairs(args) {
            l.shard(k).set_str(k, v, 0, now);
        }
    });
    w.ok();
}

fn msetnx(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len().is_multiple_of(2) {
        w.error("ERR wrong number of arguments for 'msetnx' command");
        return;
    }
    let done = ctx.with_keys(mset_pairs(args).map(|(k, _)| &k[..]), |l, now| {
        if mset_pairs(args).any(|(k, _)| l.shard(k).peek(k, now).is_some()) {
            return false;
        }
        for (k, v) in mset_pairs(args) {
            l.shard(k).set_str(k, v, 0, now);
        }
        true
    });
    w.int(done as i64);
}

fn getset(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let r = ctx.with_key(&args[1], |s, now| {
        let old = read_str(s, &args[1], now)?;
        s.set_str(&args[1], &args[2], 0, now);
        Ok::<_, ()>(old)
    });
    match r {
        Ok(Some(v)) => w.bulk(&v),
        Ok(None) => w.null(),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn getdel(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let r = ctx.with_key(&args[1], |s, now| {
        let old = read_str(s, &args[1], now)?;
        if old.is_some() {
            s.remove(&args[1], now);
        }
        Ok::<_, ()>(old)
    });
    match r {
        Ok(Some(v)) => w.bulk(&v),
        Ok(None) => w.null(),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn getex(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    // None = leave the TTL alone; Some(0) = PERSIST; Some(at) = new expiry.
    let mut new_exp: Option<u64> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "persist") && new_exp.is_none() {
            new_exp = Some(0);
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && new_exp.is_none()
            && i + 1 < args.len()
        {
            let Some(at) = parse_expiry(a, &args[i + 1], ctx.now, "getex", w) else {
                return;
            };
            new_exp = Some(at);
            i += 1;
        } else {
            w.error(ERR_SYNTAX);
            return;
        }
        i += 1;
    }
    let r = ctx.with_key(&args[1], |s, now| {
        let Some(mut e) = s.get_mut(&args[1], now) else {
            return Ok(None);
        };
        let Value::Str(b) = &e.value else {
            return Err(());
        };
        let v = b.clone();
        match new_exp {
            None => {}
            // PERSIST: reported only when there was a TTL to remove (as in Redis).
            Some(0) if e.expires_at != 0 => {
                e.expires_at = 0;
                e.changed(Change::Persist);
            }
            Some(0) => {}
            // A time already past deletes the key (Redis reports `del`, not `expired`).
            Some(at) if at <= now => {
                drop(e);
                s.remove(&args[1], now);
            }
            Some(at) => {
                e.expires_at = at;
                e.changed(Change::Expire);
            }
        }
        Ok(Some(v))
    });
    match r {
        Ok(Some(v)) => w.bulk(&v),
        Ok(None) => w.null(),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

enum NumErr {
    WrongType,
    NotInt,
    Overflow,
    NotFloat,
    NanOrInf,
}

fn write_num_err(w: &mut ReplyWriter<'_>, e: NumErr) {
    w.error(match e {
        NumErr::WrongType => ERR_WRONGTYPE,
        NumErr::NotInt => ERR_NOT_INT,
        NumErr::Overflow => ERR_OVERFLOW,
        NumErr::NotFloat => ERR_NOT_FLOAT,
        NumErr::NanOrInf => "ERR increment would produce NaN or Infinity",
    });
}

/// INCRBY core; keeps the key's TTL like Redis.
fn incr_by(ctx: &mut Ctx<'_, '_>, key: &[u8], delta: i64) -> Result<i64, NumErr> {
    ctx.with_key(key, |s, now| {
        let mut e = s.get_or_insert_with(key, now, || Value::Str(Bytes::from_static(b"0")));
        let Value::Str(b) = &e.value else {
            return Err(NumErr::WrongType);
        };
        let cur = parse_i64(b).ok_or(NumErr::NotInt)?;
        let next = cur.checked_add(delta).ok_or(NumErr::Overflow)?;
        e.set_value(Value::Str(Bytes::from(next.to_string())));
        e.changed(Change::IncrBy);
        Ok(next)
    })
}

fn incr_reply(ctx: &mut Ctx<'_, '_>, key: &[u8], delta: i64, w: &mut ReplyWriter<'_>) {
    match incr_by(ctx, key, delta) {
        Ok(v) => w.int(v),
        Err(e) => write_num_err(w, e),
    }
}

fn incr(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    incr_reply(ctx, &args[1], 1, w);
}
fn decr(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    incr_reply(ctx, &args[1], -1, w);
}
fn incrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(d) = int_or_err(w, &args[2]) else {
        return;
    };
    incr_reply(ctx, &args[1], d, w);
}
fn decrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(d) = int_or_err(w, &args[2]) else {
        return;
    };
    let Some(d) = d.checked_neg() else {
        w.error("ERR decrement would overflow");
        return;
    };
    incr_reply(ctx, &args[1], d, w);
}

fn incrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(d) = float_or_err(w, &args[2]) else {
        return;
    };
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        let mut e = s.get_or_insert_with(key, now, || Value::Str(Bytes::from_static(b"0")));
        let Value::Str(b) = &e.value else {
            return Err(NumErr::WrongType);
        };
        let cur = parse_f64(b).ok_or(NumErr::NotFloat)?;
        let next = cur + d;
        if !next.is_finite() {
            return Err(NumErr::NanOrInf);
        }
        // Redis prints INCRBYFLOAT results with %.17Lf and trims zeros: never an exponent.
        let text = Bytes::from(format!("{next}"));
        e.set_value(Value::Str(text.clone()));
        e.changed(Change::IncrByFloat);
        Ok(text)
    });
    match r {
        Ok(t) => w.bulk(&t),
        Err(e) => write_num_err(w, e),
    }
}

fn append(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let r = grow_str(
        ctx,
        key,
        |s, now| s.append_str(key, &args[2], now),
        |s, now| str_len(s, key, now).checked_add(args[2].len()),
    );
    str_write_reply(r, w);
}

/// Length of the string at `key` (0 when missing or another type: the write reports that).
pub(crate) fn str_len(s: &mut Shard, key: &[u8], now: u64) -> usize {
    // `peek`, not a read: the pre-check must not count a hit or touch LRU.
    match s.peek(key, now).map(|e| &e.value) {
        Some(Value::Str(b)) => b.len(),
        _ => 0,
    }
}

/// Run an in-place string write (APPEND, SETRANGE). Outside EXEC, room for the growth it will
/// allocate is made first (eviction locks shards, so it must run before this command locks its
/// own); the write then checks the budget again under the lock, before allocating.
pub(crate) fn grow_str(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    write: impl FnOnce(&mut Shard, u64) -> Result<usize, StrWriteError>,
    new_len: impl FnOnce(&mut Shard, u64) -> Option<usize>,
) -> Result<usize, StrWriteError> {
    if ctx.exec.is_none() {
        let growth = ctx.with_key(key, |s, now| {
            new_len(s, now).map(|n| s.str_growth(key, n.min(MAX_STRING), now))
        });
        if let Some(g) = growth.filter(|&g| g > 0) {
            if ctx.shared.store.ensure_memory(g).is_err() {
                return Err(StrWriteError::OutOfMemory);
            }
        }
    }
    ctx.with_key(key, write)
}

pub(crate) fn str_write_reply(r: Result<usize, StrWriteError>, w: &mut ReplyWriter<'_>) {
    match r {
        Ok(n) => w.int(n as i64),
        Err(StrWriteError::WrongType) => w.error(ERR_WRONGTYPE),
        Err(StrWriteError::TooLarge) => {
            w.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        }
        Err(StrWriteError::OutOfMemory) => w.error(ERR_OOM),
    }
}

fn strlen(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match ctx.with_key(&args[1], |s, now| read_str(s, &args[1], now)) {
        Ok(v) => w.int(v.map(|b| b.len()).unwrap_or(0) as i64),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

fn getrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(start) = int_or_err(w, &args[2]) else {
        return;
    };
    let Some(end) = int_or_err(w, &args[3]) else {
        return;
    };
    match ctx.with_key(&args[1], |s, now| read_str(s, &args[1], now)) {
        Err(()) => w.error(ERR_WRONGTYPE),
        Ok(None) => w.bulk(b""),
        Ok(Some(v)) => {
            // Redis: negative start and end both past the beginning -> empty.
            if start < 0 && end < 0 && start > end {
                w.bulk(b"");
                return;
            }
            match normalize_range(start, end, v.len()) {
                Some((a, b)) => w.bulk(&v[a..b]),
                None => w.bulk(b""),
            }
        }
    }
}

fn setrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(off) = int_or_err(w, &args[2]) else {
        return;
    };
    if off < 0 {
        w.error("ERR offset is out of range");
        return;
    }
    let off = off as usize;
    let val = &args[3];
    if off.saturating_add(val.len()) > MAX_STRING {
        w.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    let key = &args[1];
    if val.is_empty() {
        // Redis: no change, not even creating the key; the reply is the current length.
        match ctx.with_key(key, |s, now| read_str(s, key, now)) {
            Ok(v) => w.int(v.map(|b| b.len()).unwrap_or(0) as i64),
            Err(()) => w.error(ERR_WRONGTYPE),
        }
        return;
    }
    let r = grow_str(
        ctx,
        key,
        |s, now| s.setrange_str(key, off, val, now),
        |s, now| Some(str_len(s, key, now).max(off + val.len())),
    );
    str_write_reply(r, w);
}
