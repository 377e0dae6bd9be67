//! Bitmap commands on string values (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
//! BITFIELD_RO) and LCS, with Redis 7.0's semantics and error texts.
//!
//! Writes go through the shard's in-place string write (`Shard::modify_str`, the path APPEND
//! and SETRANGE take): the growth is made room for before the lock and checked against the
//! budget under it, the TTL is kept, and the change feed hears `setbit` only when a bit changed
//! or the string grew (as Redis notifies). BITOP stores its result like SET (`set`, TTL
//! dropped) or deletes the destination when the result is empty (`del`).

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Change, Shard, Value, MAX_STRING};

use crate::resp::args::*;
use crate::resp::commands::bounded::ReplyBudget;
use crate::resp::commands::strings::{grow_str, str_len, str_write_reply};
use crate::resp::dispatch::{cmd, flags::*, key, key_range, ks::*, CommandSpec, Ctx};

const B: &str = "bitmap";

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "setbit",
        4,
        WRITE | DENYOOM,
        &[key(1, RW | ACCESS | UPDATE)],
        B,
        setbit,
    ),
    cmd(
        "getbit",
        3,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        B,
        getbit,
    ),
    cmd(
        "bitcount",
        -2,
        READONLY,
        &[key(1, RO | ACCESS)],
        B,
        bitcount,
    ),
    cmd("bitpos", -3, READONLY, &[key(1, RO | ACCESS)], B, bitpos),
    cmd(
        "bitop",
        -4,
        WRITE | DENYOOM,
        &[key(2, OW | UPDATE), key_range(3, -1, 1, RO | ACCESS)],
        B,
        bitop,
    ),
    cmd(
        "bitfield",
        -2,
        WRITE | DENYOOM | ARG_ACCESS,
        &[key(1, RW | ACCESS | UPDATE | VARIABLE_FLAGS)],
        B,
        bitfield,
    ),
    cmd(
        "bitfield_ro",
        -2,
        READONLY | FAST,
        &[key(1, RO | ACCESS)],
        B,
        bitfield_ro,
    ),
    cmd(
        "lcs",
        -3,
        READONLY,
        &[key_range(1, 1, 1, RO | ACCESS)],
        "string",
        lcs,
    ),
];

const ERR_BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const ERR_BIT_VALUE: &str = "ERR bit is not an integer or out of range";
const ERR_BITFIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// Redis's getBitOffsetFromArgument: a non-negative integer whose byte fits the largest string
/// (proto-max-bulk-len); with `bits` > 0 a `#N` form means N * bits (BITFIELD).
fn bit_offset(arg: &[u8], bits: u32) -> Option<u64> {
    let (hash, digits) = match arg.first() {
        Some(b'#') if bits > 0 => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut off = parse_i64(digits)?;
    if hash {
        off = off.checked_mul(bits as i64)?;
    }
    if off < 0 || (off as u64 >> 3) >= MAX_STRING as u64 {
        return None;
    }
    Some(off as u64)
}

fn bit_offset_or_err(w: &mut ReplyWriter<'_>, arg: &[u8], bits: u32) -> Option<u64> {
    let off = bit_offset(arg, bits);
    if off.is_none() {
        w.error(ERR_BIT_OFFSET);
    }
    off
}

/// A string value (a cheap handle on its bytes): Ok(None) when missing, Err(()) for another type.
fn read_value(s: &mut Shard, key: &[u8], now: u64) -> Result<Option<Bytes>, ()> {
    match s.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some(b.clone())),
            _ => Err(()),
        },
    }
}

fn setbit(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(off) = bit_offset_or_err(w, &args[2], 0) else {
        return;
    };
    let on = match parse_i64(&args[3]) {
        Some(v) if v & !1 == 0 => v as u8,
        _ => {
            w.error(ERR_BIT_VALUE);
            return;
        }
    };
    let key = &args[1];
    let byte = (off >> 3) as usize;
    let shift = 7 - (off & 7) as u8;
    let mut old = 0u8;
    let r = grow_str(
        ctx,
        key,
        |s, now| {
            s.modify_str(
                key,
                now,
                Change::SetBit,
                |len| Some(len.max(byte + 1)),
                |m| {
                    let grew = m.len() < byte + 1;
                    if grew {
                        m.resize(byte + 1, 0);
                    }
                    old = (m[byte] >> shift) & 1;
                    m[byte] = (m[byte] & !(1 << shift)) | (on << shift);
                    grew || old != on
                },
            )
        },
        |s, now| Some(str_len(s, key, now).max(byte + 1)),
    );
    match r {
        Ok(_) => w.int(old as i64),
        Err(e) => str_write_reply(Err(e), w),
    }
}

fn getbit(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(off) = bit_offset_or_err(w, &args[2], 0) else {
        return;
    };
    let byte = (off >> 3) as usize;
    let shift = 7 - (off & 7);
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| {
        s.read_str(key, now, |v| v.get(byte).map_or(0, |b| (b >> shift) & 1))
    });
    match r {
        None => w.int(0),
        Some(Ok(bit)) => w.int(bit as i64),
        Some(Err(_)) => w.error(ERR_WRONGTYPE),
    }
}

/// Set bits of `p` between bits `from` and `to` (inclusive; `to` < 8 * len).
fn count_bits(p: &[u8], from: u64, to: u64) -> u64 {
    let (fb, tb) = ((from >> 3) as usize, (to >> 3) as usize);
    let head_mask = 0xffu8 >> (from & 7);
    let tail_mask = 0xffu8 << (7 - (to & 7));
    if fb == tb {
        return (p[fb] & head_mask & tail_mask).count_ones() as u64;
    }
    let mut n = (p[fb] & head_mask).count_ones() as u64 + (p[tb] & tail_mask).count_ones() as u64;
    let mid = &p[fb + 1..tb];
    let mut chunks = mid.chunks_exact(8);
    for c in &mut chunks {
        n += u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones() as u64;
    }
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// First bit equal to `bit` between bits `from` and `to` (inclusive), if any.
fn find_bit(p: &[u8], from: u64, to: u64, bit: bool) -> Option<u64> {
    let skip = if bit { 0x00 } else { 0xff };
    let mut pos = from;
    while pos <= to {
        let byte = p[(pos >> 3) as usize];
        if pos & 7 == 0 && pos + 7 <= to && byte == skip {
            pos += 8;
            continue;
        }
        if ((byte >> (7 - (pos & 7))) & 1 == 1) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// Redis's BITCOUNT/BITPOS range: `start`/`end` (negative from the end) clamped to a string
/// of `len` units; None when empty.
fn clamp_range(mut start: i64, mut end: i64, len: i64) -> Option<(u64, u64)> {
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    (start <= end).then_some((start as u64, end as u64))
}

/// `BYTE` (false) or `BIT` (true); None after writing the syntax error.
fn bit_unit(w: &mut ReplyWriter<'_>, arg: Option<&Bytes>) -> Option<bool> {
    match arg {
        None => Some(false),
        Some(a) if eq_ic(a, "bit") => Some(true),
        Some(a) if eq_ic(a, "byte") => Some(false),
        Some(_) => {
            w.error(ERR_SYNTAX);
            None
        }
    }
}

fn bitcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    // Redis 7.0 looks the key up first: a missing key answers 0 whatever the arguments.
    let v = match ctx.with_key(&args[1], |s, now| read_value(s, &args[1], now)) {
        Err(()) => return w.error(ERR_WRONGTYPE),
        Ok(None) => return w.int(0),
        Ok(Some(v)) => v,
    };
    let bytes = v.len() as i64;
    let range = match args.len() {
        2 => clamp_range(0, -1, bytes).map(|(a, b)| (a * 8, b * 8 + 7)),
        4 | 5 => {
            let Some(start) = int_or_err(w, &args[2]) else {
                return;
            };
            let Some(end) = int_or_err(w, &args[3]) else {
                return;
            };
            let Some(isbit) = bit_unit(w, args.get(4)) else {
                return;
            };
            if start < 0 && end < 0 && start > end {
                return w.int(0);
            }
            if isbit {
                clamp_range(start, end, bytes * 8)
            } else {
                clamp_range(start, end, bytes).map(|(a, b)| (a * 8, b * 8 + 7))
            }
        }
        _ => return w.error(ERR_SYNTAX),
    };
    w.int(range.map_or(0, |(a, b)| count_bits(&v, a, b)) as i64);
}

fn bitpos(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let Some(bit) = int_or_err(w, &args[2]) else {
        return;
    };
    if bit != 0 && bit != 1 {
        return w.error("ERR The bit argument must be 1 or 0.");
    }
    let bit = bit == 1;
    // Redis 7.0: a missing key is an endless run of zeros, whatever the range arguments.
    let v = match ctx.with_key(&args[1], |s, now| read_value(s, &args[1], now)) {
        Err(()) => return w.error(ERR_WRONGTYPE),
        Ok(None) => return w.int(if bit { -1 } else { 0 }),
        Ok(Some(v)) => v,
    };
    let bytes = v.len() as i64;
    let mut end_given = false;
    let range = match args.len() {
        3 => clamp_range(0, -1, bytes).map(|(a, b)| (a * 8, b * 8 + 7)),
        4..=6 => {
            let Some(start) = int_or_err(w, &args[3]) else {
                return;
            };
            let Some(isbit) = bit_unit(w, args.get(5)) else {
                return;
            };
            let end = if args.len() >= 5 {
                let Some(end) = int_or_err(w, &args[4]) else {
                    return;
                };
                end_given = true;
                end
            } else {
                -1
            };
            if isbit {
                clamp_range(start, end, bytes * 8)
            } else {
                clamp_range(start, end, bytes).map(|(a, b)| (a * 8, b * 8 + 7))
            }
        }
        _ => return w.error(ERR_SYNTAX),
    };
    let Some((from, to)) = range else {
        return w.int(-1);
    };
    let pos = match find_bit(&v, from, to, bit) {
        Some(p) => p as i64,
        // No clear bit in the range: without an explicit end the string counts as padded with
        // zeros, so the answer is the first bit past it (the end of the last byte).
        None if !bit && !end_given => ((to >> 3) + 1) as i64 * 8,
        None => -1,
    };
    w.int(pos);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let name = &args[1];
    let op = if eq_ic(name, "and") {
        BitOp::And
    } else if eq_ic(name, "or") {
        BitOp::Or
    } else if eq_ic(name, "xor") {
        BitOp::Xor
    } else if eq_ic(name, "not") {
        BitOp::Not
    } else {
        return w.error(ERR_SYNTAX);
    };
    if op == BitOp::Not && args.len() != 4 {
        return w.error("ERR BITOP NOT must be called with a single source key.");
    }
    let dest = &args[2];
    let srcs = &args[3..];
    let keys = std::iter::once(&dest[..]).chain(srcs.iter().map(|k| &k[..]));
    let r = ctx.with_keys(keys, |l, now| {
        let mut vals: Vec<Option<Bytes>> = Vec::with_capacity(srcs.len());
        for k in srcs {
            vals.push(read_value(l.shard(k), k, now)?);
        }
        let maxlen = vals.iter().flatten().map(|v| v.len()).max().unwrap_or(0);
        if maxlen == 0 {
            l.shard(dest).remove(dest, now);
            return Ok(0);
        }
        let at = |v: &Option<Bytes>, j: usize| v.as_ref().and_then(|b| b.get(j).copied());
        let mut out = vec![0u8; maxlen];
        for (j, o) in out.iter_mut().enumerate() {
            let first = at(&vals[0], j).unwrap_or(0);
            *o = match op {
                BitOp::Not => !first,
                BitOp::And => vals[1..]
                    .iter()
                    .fold(first, |a, v| a & at(v, j).unwrap_or(0)),
                BitOp::Or => vals[1..]
                    .iter()
                    .fold(first, |a, v| a | at(v, j).unwrap_or(0)),
                BitOp::Xor => vals[1..]
                    .iter()
                    .fold(first, |a, v| a ^ at(v, j).unwrap_or(0)),
            };
        }
        l.shard(dest).set_str(dest, &out, 0, now);
        Ok::<_, ()>(maxlen)
    });
    match r {
        Ok(n) => w.int(n as i64),
        Err(()) => w.error(ERR_WRONGTYPE),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63`.
fn field_type(arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits = parse_i64(&arg[1..])?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u32))
}

/// Parse BITFIELD's subcommands; None after writing the error.
fn parse_fields(args: &[Bytes], w: &mut ReplyWriter<'_>) -> Option<Vec<Field>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = &args[j];
        let op = if eq_ic(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if eq_ic(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if eq_ic(sub, "incrby") && rem >= 3 {
            FieldOp::IncrBy
        } else if eq_ic(sub, "overflow") && rem >= 1 {
            let t = &args[j + 1];
            overflow = if eq_ic(t, "wrap") {
                Overflow::Wrap
            } else if eq_ic(t, "sat") {
                Overflow::Sat
            } else if eq_ic(t, "fail") {
                Overflow::Fail
            } else {
                w.error("ERR Invalid OVERFLOW type specified");
                return None;
            };
            j += 2;
            continue;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        };
        let Some((signed, bits)) = field_type(&args[j + 1]) else {
            w.error(ERR_BITFIELD_TYPE);
            return None;
        };
        let offset = bit_offset_or_err(w, &args[j + 2], bits)?;
        let value = if op == FieldOp::Get {
            0
        } else {
            int_or_err(w, &args[j + 3])?
        };
        ops.push(Field {
            op,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Some(ops)
}

fn get_unsigned(p: &[u8], mut offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for _ in 0..bits {
        let byte = p.get((offset >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (offset & 7))) & 1) as u64;
        offset += 1;
    }
    v
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && v & (1i64 << (bits - 1)) != 0 {
        v |= -1i64 << bits;
    }
    v
}

fn set_unsigned(p: &mut [u8], mut offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let bit = (value >> (bits - 1 - j)) & 1;
        let byte = (offset >> 3) as usize;
        let shift = 7 - (offset & 7);
        p[byte] = (p[byte] & !(1 << shift)) | ((bit as u8) << shift);
        offset += 1;
    }
}

/// Redis's checkUnsignedBitfieldOverflow: whether `value + incr` leaves `bits` bits, and the
/// value to store instead under WRAP or SAT.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

/// Redis's checkSignedBitfieldOverflow.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Sat { min } else { wrap() })
    } else {
        None
    }
}

/// Run one SET/INCRBY on `p`: the reply (None under OVERFLOW FAIL) and whether it changed a bit.
fn apply_field(p: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    if f.signed {
        let old = get_signed(p, f.offset, f.bits);
        let (ovf, new, ret) = if f.op == FieldOp::IncrBy {
            let o = signed_overflow(old, f.value, f.bits, f.overflow);
            let new = o.unwrap_or_else(|| old.wrapping_add(f.value));
            (o.is_some(), new, new)
        } else {
            let o = signed_overflow(f.value, 0, f.bits, f.overflow);
            (o.is_some(), o.unwrap_or(f.value), old)
        };
        if ovf && f.overflow == Overflow::Fail {
            return (None, false);
        }
        set_unsigned(p, f.offset, f.bits, new as u64);
        (Some(ret), old != new)
    } else {
        let old = get_unsigned(p, f.offset, f.bits);
        let (ovf, new, ret) = if f.op == FieldOp::IncrBy {
            let o = unsigned_overflow(old, f.value, f.bits, f.overflow);
            let new = o.unwrap_or_else(|| old.wrapping_add(f.value as u64));
            (o.is_some(), new, new)
        } else {
            let v = f.value as u64;
            let o = unsigned_overflow(v, 0, f.bits, f.overflow);
            (o.is_some(), o.unwrap_or(v), old)
        };
        if ovf && f.overflow == Overflow::Fail {
            return (None, false);
        }
        set_unsigned(p, f.offset, f.bits, new);
        (Some(ret as i64), old != new)
    }
}

fn read_field(p: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(p, f.offset, f.bits)
    } else {
        get_unsigned(p, f.offset, f.bits) as i64
    }
}

fn bitfield(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    bitfield_generic(ctx, args, w, false);
}

fn bitfield_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    bitfield_generic(ctx, args, w, true);
}

fn bitfield_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, ro: bool) {
    let Some(ops) = parse_fields(args, w) else {
        return;
    };
    let key = &args[1];
    let highest = ops
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max();
    let Some(highest) = highest else {
        // Only GETs: a read (a missing key reads as zeros).
        let v = match ctx.with_key(key, |s, now| read_value(s, key, now)) {
            Err(()) => return w.error(ERR_WRONGTYPE),
            Ok(v) => v.unwrap_or_default(),
        };
        w.array(ops.len());
        for f in &ops {
            w.int(read_field(&v, f));
        }
        return;
    };
    if ro {
        return w.error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let need = (highest >> 3) as usize + 1;
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    let r = grow_str(
        ctx,
        key,
        |s, now| {
            s.modify_str(
                key,
                now,
                Change::SetBit,
                |len| Some(len.max(need)),
                |m| {
                    let grew = m.len() < need;
                    if grew {
                        m.resize(need, 0);
                    }
                    let mut changes = 0;
                    for f in &ops {
                        if f.op == FieldOp::Get {
                            replies.push(Some(read_field(m, f)));
                            continue;
                        }
                        let (reply, changed) = apply_field(m, f);
                        if reply.is_some() && (grew || changed) {
                            changes += 1;
                        }
                        replies.push(reply);
                    }
                    changes > 0
                },
            )
        },
        |s, now| Some(str_len(s, key, now).max(need)),
    );
    if let Err(e) = r {
        return str_write_reply(Err(e), w);
    }
    w.array(replies.len());
    for r in replies {
        match r {
            Some(v) => w.int(v),
            None => w.null(),
        }
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (k1, k2) = (&args[1], &args[2]);
    // Both read under their shards' locks at once; the table is built after they are released.
    let vals = ctx.with_keys([&k1[..], &k2[..]], |l, now| {
        let a = read_value(l.shard(k1), k1, now)?;
        let b = read_value(l.shard(k2), k2, now)?;
        Ok::<_, ()>((a.unwrap_or_default(), b.unwrap_or_default()))
    });
    let Ok((a, b)) = vals else {
        return w.error("ERR The specified keys must contain string values");
    };
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = j + 1 < args.len();
        if eq_ic(opt, "idx") {
            getidx = true;
        } else if eq_ic(opt, "len") {
            getlen = true;
        } else if eq_ic(opt, "withmatchlen") {
            withmatchlen = true;
        } else if eq_ic(opt, "minmatchlen") && more {
            let Some(n) = int_or_err(w, &args[j + 1]) else {
                return;
            };
            minmatchlen = n.max(0);
            j += 1;
        } else {
            return w.error(ERR_SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return w.error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let max_bulk = ctx.shared.config.read().limits.max_bulk_len;
    if cells.saturating_mul(4) > max_bulk {
        return w
            .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    // LCS(i, j): length of the LCS of a[..i] and b[..j], at j + (blen + 1) * i.
    let row = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for jj in 1..=blen {
            t[i * row + jj] = if a[i - 1] == b[jj - 1] {
                t[(i - 1) * row + jj - 1] + 1
            } else {
                t[(i - 1) * row + jj].max(t[i * row + jj - 1])
            };
        }
    }
    let total = t[alen * row + blen] as usize;
    if getlen {
        return w.int(total as i64);
    }
    // Walk back from the end, collecting the string and the matching ranges (Redis's order:
    // from the end of the strings to their start).
    let mut result = vec![0u8; total];
    let mut idx = total;
    // (a start, a end, b start, b end)
    let mut ranges: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut cur: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut jj) = (alen, blen);
    while i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some((i - 1, i - 1, jj - 1, jj - 1)),
                Some(r) if r.0 == i && r.2 == jj => {
                    r.0 -= 1;
                    r.2 -= 1;
                }
                Some(_) => emit = true,
            }
            if let Some(r) = cur {
                if r.0 == 0 || r.2 == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            if t[(i - 1) * row + jj] > t[i * row + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
            if cur.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(r) = cur.take() {
                let len = r.1 - r.0 + 1;
                if minmatchlen == 0 || len as i64 >= minmatchlen {
                    ranges.push(r);
                }
            }
        }
    }
    if !getidx {
        return w.bulk(&result);
    }
    // A reply of one entry per match: bounded like the other replies sized by the client.
    let Some(budget) = ReplyBudget::start(ctx, w, ranges.len() as u64, 16) else {
        return;
    };
    w.map(2);
    w.bulk(b"matches");
    w.array(ranges.len());
    for r in &ranges {
        w.array(2 + withmatchlen as usize);
        w.array(2);
        w.int(r.0 as i64);
        w.int(r.1 as i64);
        w.array(2);
        w.int(r.2 as i64);
        w.int(r.3 as i64);
        if withmatchlen {
            w.int((r.1 - r.0 + 1) as i64);
        }
        if budget.exceeded(w) {
            return budget.refuse(w, ranges.len() as u64);
        }
    }
    w.bulk(b"len");
    w.int(total as i64);
}
