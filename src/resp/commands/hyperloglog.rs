//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST (Redis 7.0).
//!
//! An HLL is a plain string in Redis's own format (`hll`), so GET, DUMP-style copies, APPEND
//! and friends see the same bytes as on redis-server. Writes replace the string through the
//! engine's normal string path: memory is charged, the TTL is kept, and the change feed hears
//! `pfadd` (PFADD, PFMERGE) or, for the rewrites Redis does not notify (PFCOUNT caching the
//! cardinality, PFDEBUG converting to dense), `Rewritten`, which only WATCH sees.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Change, Shard, Value};

use super::hll::{self, Corrupt, DENSE_SIZE, ERR_CORRUPT, ERR_NOT_HLL, REGISTERS};
use crate::resp::args::*;
use crate::resp::dispatch::{cmd, flags::*, key, key_range, ks::*, CommandSpec, Ctx, NO_KEYS};

const G: &str = "hyperloglog";

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "pfadd",
        -2,
        WRITE | DENYOOM | FAST,
        &[key(1, RW | INSERT)],
        G,
        pfadd,
    ),
    // Read-only for Redis, but RW in its key spec: it may store the cached cardinality.
    cmd(
        "pfcount",
        -2,
        READONLY,
        &[key_range(1, -1, 1, RW | ACCESS)],
        G,
        pfcount,
    ),
    cmd(
        "pfmerge",
        -2,
        WRITE | DENYOOM,
        &[
            key(1, RW | ACCESS | INSERT),
            key_range(2, -1, 1, RO | ACCESS),
        ],
        G,
        pfmerge,
    ),
    cmd(
        "pfdebug",
        3,
        WRITE | DENYOOM | ADMIN,
        &[key(2, RW | ACCESS)],
        G,
        pfdebug,
    ),
    cmd("pfselftest", 1, ADMIN, NO_KEYS, G, pfselftest),
];

/// `hll-sparse-max-bytes` (CONFIG SET).
fn sparse_max_bytes(ctx: &Ctx<'_, '_>) -> usize {
    ctx.shared
        .hll_sparse_max_bytes
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// What a key holds, as the HLL commands see it.
enum Found {
    Missing,
    /// The HLL's bytes and the key's expiry.
    Hll(Vec<u8>, u64),
    /// A string that is not an HLL.
    NotHll,
    /// Another type.
    WrongType,
}

/// Look the key up: `read` counts a hit or miss and touches LRU (Redis's lookupKeyRead), a
/// write lookup does not (lookupKeyWrite).
fn find(s: &mut Shard, key: &[u8], now: u64, read: bool) -> Found {
    let e = if read {
        s.get(key, now)
    } else {
        s.peek(key, now)
    };
    match e {
        None => Found::Missing,
        Some(e) => match &e.value {
            Value::Str(b) if hll::is_hll(b) => Found::Hll(b.to_vec(), e.expires_at),
            Value::Str(_) => Found::NotHll,
            _ => Found::WrongType,
        },
    }
}

/// Store the HLL's new bytes, keeping the key's TTL, reported as `change`.
fn store(s: &mut Shard, key: &[u8], bytes: Vec<u8>, expires_at: u64, now: u64, change: Change) {
    s.insert_as(key, Value::Str(Bytes::from(bytes)), expires_at, now, change);
}

/// Outside EXEC, make room for what the write may grow the string to (`bound(current)`,
/// current = the HLL's bytes or None when missing) before the shard is locked: eviction locks
/// shards. Err after replying OOM.
fn make_room(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    bound: impl FnOnce(Option<&[u8]>) -> usize,
    w: &mut ReplyWriter<'_>,
) -> Result<(), ()> {
    if ctx.exec.is_some() {
        return Ok(());
    }
    let growth = ctx.with_key(key, |s, now| match s.peek(key, now) {
        None => bound(None),
        Some(e) => match &e.value {
            Value::Str(b) if hll::is_hll(b) => bound(Some(b)).saturating_sub(b.len()),
            _ => 0,
        },
    });
    if growth > 0 && ctx.shared.store.ensure_memory(growth as u64).is_err() {
        w.error(ERR_OOM);
        return Err(());
    }
    Ok(())
}

/// The longest a sparse HLL of `len` bytes can get after `adds` register updates: each split
/// adds at most 3 bytes, and past `hll-sparse-max-bytes` it is dense.
fn sparse_bound(len: usize, adds: usize, max: usize) -> usize {
    let grown = len.saturating_add(adds.saturating_mul(3));
    if grown > max {
        DENSE_SIZE
    } else {
        grown
    }
}

fn pfadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let elements = &args[2..];
    let max = sparse_max_bytes(ctx);
    let bound = |cur: Option<&[u8]>| match cur {
        None => sparse_bound(hll::new_sparse().len(), elements.len(), max),
        Some(b) if hll::encoding(b) == hll::SPARSE => sparse_bound(b.len(), elements.len(), max),
        Some(b) => b.len(),
    };
    if make_room(ctx, key, bound, w).is_err() {
        return;
    }
    let r = ctx.with_key(key, |s, now| {
        let (mut h, exp, created) = match find(s, key, now, false) {
            Found::Missing => (hll::new_sparse(), 0, true),
            Found::Hll(h, exp) => (h, exp, false),
            Found::NotHll => return Err(ERR_NOT_HLL),
            Found::WrongType => return Err(ERR_WRONGTYPE),
        };
        let mut updated = created;
        for ele in elements {
            match hll::add(&mut h, ele, max) {
                Ok(changed) => updated |= changed,
                Err(Corrupt) => {
                    // Redis edits the string in place: what the elements before this one did
                    // stays, unreported.
                    if updated {
                        store(s, key, h, exp, now, Change::Rewritten);
                    }
                    return Err(ERR_CORRUPT);
                }
            }
        }
        if updated {
            hll::invalidate_cache(&mut h);
            store(s, key, h, exp, now, Change::PfAdd);
        }
        Ok(updated)
    });
    match r {
        Ok(updated) => w.int(updated as i64),
        Err(e) => w.error(e),
    }
}

fn pfcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() > 2 {
        // The union's cardinality; no cache is read or written.
        let keys = &args[1..];
        let r = ctx.with_keys(keys.iter().map(|k| &k[..]), |l, now| {
            let mut max = Box::new([0u8; REGISTERS]);
            for k in keys {
                match find(l.shard(k), k, now, true) {
                    Found::Missing => {}
                    Found::Hll(h, _) => hll::merge_into(&mut max, &h).map_err(|_| ERR_CORRUPT)?,
                    Found::NotHll => return Err(ERR_NOT_HLL),
                    Found::WrongType => return Err(ERR_WRONGTYPE),
                }
            }
            Ok(hll::estimate(&hll::raw_histogram(&max)))
        });
        match r {
            Ok(n) => w.int(n as i64),
            Err(e) => w.error(e),
        }
        return;
    }
    let key = &args[1];
    let r = ctx.with_key(key, |s, now| match find(s, key, now, true) {
        Found::Missing => Ok(0),
        Found::NotHll => Err(ERR_NOT_HLL),
        Found::WrongType => Err(ERR_WRONGTYPE),
        Found::Hll(mut h, exp) => {
            if let Some(card) = hll::cached_card(&h) {
                return Ok(card);
            }
            let card = hll::count(&h).map_err(|_| ERR_CORRUPT)?;
            hll::set_cached_card(&mut h, card);
            store(s, key, h, exp, now, Change::Rewritten);
            Ok(card)
        }
    });
    match r {
        Ok(n) => w.int(n as i64),
        Err(e) => w.error(e),
    }
}

fn pfmerge(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let dest = &args[1];
    // The result may be dense: room for a dense HLL unless the destination already is one.
    if make_room(ctx, dest, |_| DENSE_SIZE, w).is_err() {
        return;
    }
    let keys = &args[1..];
    let sparse_max = sparse_max_bytes(ctx);
    let r = ctx.with_keys(keys.iter().map(|k| &k[..]), |l, now| {
        // Every key, the destination included, is a source.
        let mut max = Box::new([0u8; REGISTERS]);
        let mut use_dense = false;
        for k in keys {
            match find(l.shard(k), k, now, true) {
                Found::Missing => {}
                Found::Hll(h, _) => {
                    use_dense |= hll::encoding(&h) == hll::DENSE;
                    hll::merge_into(&mut max, &h).map_err(|_| ERR_CORRUPT)?;
                }
                Found::NotHll => return Err(ERR_NOT_HLL),
                Found::WrongType => return Err(ERR_WRONGTYPE),
            }
        }
        let s = l.shard(dest);
        let (mut h, exp) = match find(s, dest, now, false) {
            Found::Hll(h, exp) => (h, exp),
            _ => (hll::new_sparse(), 0),
        };
        if use_dense {
            hll::to_dense(&mut h).map_err(|_| ERR_CORRUPT)?;
        }
        for (i, &v) in max.iter().enumerate() {
            if v != 0 {
                // The destination was decoded above: it cannot be corrupt.
                let _ = hll::set_register(&mut h, i, v, sparse_max);
            }
        }
        hll::invalidate_cache(&mut h);
        store(s, dest, h, exp, now, Change::PfAdd);
        Ok(())
    });
    match r {
        Ok(()) => w.ok(),
        Err(e) => w.error(e),
    }
}

enum Debug {
    Registers(Vec<u8>),
    Text(String),
    Status(&'static str),
    Int(i64),
}

fn pfdebug(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let key = &args[2];
    let converts = eq_ic(sub, "getreg") || eq_ic(sub, "todense");
    if converts && make_room(ctx, key, |_| DENSE_SIZE, w).is_err() {
        return;
    }
    let r = ctx.with_key(key, |s, now| {
        let (mut h, exp) = match find(s, key, now, false) {
            Found::Missing => return Err("ERR The specified key does not exist".to_string()),
            Found::Hll(h, exp) => (h, exp),
            Found::NotHll => return Err(ERR_NOT_HLL.to_string()),
            Found::WrongType => return Err(ERR_WRONGTYPE.to_string()),
        };
        let sparse = hll::encoding(&h) == hll::SPARSE;
        let densify = |h: &mut Vec<u8>, s: &mut Shard| -> Result<bool, String> {
            if !sparse {
                return Ok(false);
            }
            hll::to_dense(h).map_err(|_| ERR_CORRUPT.to_string())?;
            store(s, key, h.clone(), exp, now, Change::Rewritten);
            Ok(true)
        };
        if eq_ic(sub, "getreg") {
            densify(&mut h, s)?;
            let regs = &h[hll::HDR_SIZE..];
            Ok(Debug::Registers(
                (0..REGISTERS).map(|i| hll::dense_get(regs, i)).collect(),
            ))
        } else if eq_ic(sub, "decode") {
            if !sparse {
                return Err("ERR HLL encoding is not sparse".into());
            }
            Ok(Debug::Text(hll::decode(&h)))
        } else if eq_ic(sub, "encoding") {
            Ok(Debug::Status(if sparse { "sparse" } else { "dense" }))
        } else if eq_ic(sub, "todense") {
            Ok(Debug::Int(densify(&mut h, s)? as i64))
        } else {
            Err(format!(
                "ERR Unknown PFDEBUG subcommand '{}'",
                String::from_utf8_lossy(sub)
            ))
        }
    });
    match r {
        Ok(Debug::Registers(regs)) => {
            w.array(regs.len());
            for r in regs {
                w.int(r as i64);
            }
        }
        Ok(Debug::Text(t)) => w.bulk(t.as_bytes()),
        Ok(Debug::Status(s)) => w.simple(s),
        Ok(Debug::Int(n)) => w.int(n),
        Err(e) => w.error(&e),
    }
}

fn pfselftest(ctx: &mut Ctx<'_, '_>, _args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match hll::self_test(ctx.now ^ 0x9e37_79b9_7f4a_7c15, sparse_max_bytes(ctx)) {
        Ok(()) => w.ok(),
        Err(e) => w.error(&e),
    }
}
