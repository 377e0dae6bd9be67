//! Geo commands (Redis 7.0 semantics, geo.c): a geo set is a sorted set whose scores are
//! 52-bit geohashes (`resp::geohash`), so GEOADD is ZADD with encoded scores and every other
//! sorted-set command works on geo sets.
//!
//! Reply shapes follow Redis 7.0: distances are bulk strings with 4 decimals in RESP2 and
//! RESP3 alike (addReplyDoubleDistance); coordinates are `%.17Lf` without trailing zeros
//! (addReplyHumanLongDouble): bulk strings in RESP2, doubles in RESP3. GEOHASH's integer
//! scores (WITHHASH) are integers.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::value::ZSetValue;
use ferrite_storage::{Change, Value};
use std::ops::Bound;

use crate::resp::args::*;
use crate::resp::commands::zsets;
use crate::resp::dispatch::{
    cmd, flags::*, key, ks::*, BeginSearch, CommandSpec, Ctx, FindKeys, KeySpec,
};
use crate::resp::geohash::{self, Search, Shape};

const G: &str = "geo";

/// A key after the keyword `kw`, searched from argument `from` (Redis's keyword key spec).
const fn key_after(kw: &'static str, from: i32, flags: u16) -> KeySpec {
    KeySpec {
        flags,
        begin: BeginSearch::Keyword {
            keyword: kw,
            start_from: from,
        },
        find: FindKeys::Range {
            lastkey: 0,
            step: 1,
            limit: 0,
        },
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "geoadd",
        -5,
        WRITE | DENYOOM | ARG_ACCESS,
        &[key(1, RW | UPDATE)],
        G,
        geoadd,
    ),
    cmd("geodist", -4, READONLY, &[key(1, RO | ACCESS)], G, geodist),
    cmd(
        "geohash",
        -2,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        geohash_cmd,
    ),
    cmd("geopos", -2, READONLY, &[key(1, RO | ACCESS)], G, geopos),
    cmd(
        "georadius",
        -6,
        WRITE | DENYOOM,
        &[
            key(1, RO | ACCESS),
            key_after("STORE", 6, OW | UPDATE),
            key_after("STOREDIST", 6, OW | UPDATE),
        ],
        G,
        georadius,
    ),
    cmd(
        "georadius_ro",
        -6,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        georadius_ro,
    ),
    cmd(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM,
        &[
            key(1, RO | ACCESS),
            key_after("STORE", 5, OW | UPDATE),
            key_after("STOREDIST", 5, OW | UPDATE),
        ],
        G,
        georadiusbymember,
    ),
    cmd(
        "georadiusbymember_ro",
        -5,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        georadiusbymember_ro,
    ),
    cmd(
        "geosearch",
        -7,
        READONLY,
        &[key(1, RO | ACCESS)],
        G,
        geosearch,
    ),
    cmd(
        "geosearchstore",
        -8,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE), key(2, RO | ACCESS)],
        G,
        geosearchstore,
    ),
];

const ERR_STORE_TWICE: &str = "ERR syntax error, STORE and STOREDIST may each be given once";
const ERR_MEMBER: &str = "ERR could not decode requested zset member";

// ---------------------------------------------------------------------------------------------
// Argument helpers (geo.c's extract*OrReply)

/// Redis's getDoubleFromObjectOrReply with an optional message of its own.
fn double_arg(b: &[u8], msg: Option<&str>) -> Result<f64, String> {
    parse_f64(b).ok_or_else(|| match msg {
        Some(m) => format!("ERR {m}"),
        None => ERR_NOT_FLOAT.to_string(),
    })
}

/// extractUnitOrReply: the unit's size in meters.
fn unit_arg(b: &[u8]) -> Result<f64, String> {
    if eq_ic(b, "m") {
        Ok(1.0)
    } else if eq_ic(b, "km") {
        Ok(1000.0)
    } else if eq_ic(b, "ft") {
        Ok(0.3048)
    } else if eq_ic(b, "mi") {
        Ok(1609.34)
    } else {
        Err("ERR unsupported unit provided. please use M, KM, FT, MI".into())
    }
}

/// extractLongLatOrReply.
fn lonlat_arg(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], String> {
    let x = double_arg(lon, None)?;
    let y = double_arg(lat, None)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        return Err(format!("ERR invalid longitude,latitude pair {x:.6},{y:.6}"));
    }
    Ok([x, y])
}

/// extractDistanceOrReply: (radius, unit in meters).
fn radius_arg(r: &[u8], unit: &[u8]) -> Result<(f64, f64), String> {
    let d = double_arg(r, Some("need numeric radius"))?;
    if d < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((d, unit_arg(unit)?))
}

/// extractBoxOrReply: (width, height, unit in meters).
fn box_arg(w: &[u8], h: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), String> {
    let width = double_arg(w, Some("need numeric width"))?;
    let height = double_arg(h, Some("need numeric height"))?;
    if height < 0.0 || width < 0.0 {
        return Err("ERR height or width cannot be negative".into());
    }
    Ok((width, height, unit_arg(unit)?))
}

/// Read the zset at `key`: Err on a type mismatch.
fn read<R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(Option<&ZSetValue>) -> R,
) -> Result<R, ()> {
    ctx.with_key(key, |s, now| match s.get(key, now) {
        None => Ok(f(None)),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(f(Some(z))),
            _ => Err(()),
        },
    })
}

/// addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3.
fn write_coord(w: &mut ReplyWriter<'_>, d: f64) {
    let s = geohash::format_coord(d);
    if w.resp3() {
        w.raw(b",");
        w.raw(s.as_bytes());
        w.raw(b"\r\n");
    } else {
        w.bulk(s.as_bytes());
    }
}

fn write_distance(w: &mut ReplyWriter<'_>, d: f64) {
    w.bulk(geohash::format_distance(d).as_bytes());
}

// ---------------------------------------------------------------------------------------------
// GEOADD / GEOPOS / GEODIST / GEOHASH

/// GEOADD is ZADD with each longitude/latitude pair turned into its geohash score (geo.c
/// rewrites the command the same way), so NX/XX/CH, the `zadd` event, memory accounting and
/// the type check are ZADD's.
fn geoadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (mut nx, mut xx) = (false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        let a = &args[longidx];
        if eq_ic(a, "nx") {
            nx = true;
        } else if eq_ic(a, "xx") {
            xx = true;
        } else if !eq_ic(a, "ch") {
            break;
        }
        longidx += 1;
    }
    if !(args.len() - longidx).is_multiple_of(3) || (xx && nx) {
        w.error(ERR_SYNTAX);
        return;
    }
    let mut zargs: Vec<Bytes> = Vec::with_capacity(longidx + (args.len() - longidx) / 3 * 2);
    zargs.push(Bytes::from_static(b"zadd"));
    zargs.extend(args[1..longidx].iter().cloned());
    for t in args[longidx..].chunks_exact(3) {
        let [x, y] = match lonlat_arg(&t[0], &t[1]) {
            Ok(xy) => xy,
            Err(e) => return w.error(&e),
        };
        let Some(score) = geohash::score_of(x, y) else {
            return w.error(ERR_SYNTAX);
        };
        zargs.push(Bytes::from(score.to_string()));
        zargs.push(t[2].clone());
    }
    zsets::zadd(ctx, &zargs, w);
}

fn geopos(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let r = read(ctx, &args[1], |z| {
        args[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).and_then(geohash::decode_score))
            .collect::<Vec<_>>()
    });
    let Ok(points) = r else {
        return w.error(ERR_WRONGTYPE);
    };
    w.array(points.len());
    for p in points {
        match p {
            Some([x, y]) => {
                w.array(2);
                write_coord(w, x);
                write_coord(w, y);
            }
            None => w.null_array(),
        }
    }
}

fn geodist(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let to_meter = match args.len() {
        4 => 1.0,
        5 => match unit_arg(&args[4]) {
            Ok(u) => u,
            Err(e) => return w.error(&e),
        },
        _ => return w.error(ERR_SYNTAX),
    };
    let r = read(ctx, &args[1], |z| {
        let z = z?;
        let a = geohash::decode_score(z.score(&args[2])?)?;
        let b = geohash::decode_score(z.score(&args[3])?)?;
        Some(geohash::distance(a[0], a[1], b[0], b[1]))
    });
    match r {
        Err(()) => w.error(ERR_WRONGTYPE),
        Ok(None) => w.null(),
        Ok(Some(d)) => write_distance(w, d / to_meter),
    }
}

fn geohash_cmd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let r = read(ctx, &args[1], |z| {
        args[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).and_then(geohash::hash_string))
            .collect::<Vec<_>>()
    });
    let Ok(hashes) = r else {
        return w.error(ERR_WRONGTYPE);
    };
    w.array(hashes.len());
    for h in hashes {
        match h {
            Some(h) => w.bulk(&h),
            None => w.null(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GEORADIUS & co., GEOSEARCH, GEOSEARCHSTORE (geo.c's georadiusGeneric)

const RADIUS_COORDS: u8 = 1;
const RADIUS_MEMBER: u8 = 2;
const RADIUS_NOSTORE: u8 = 4;
const GEOSEARCH: u8 = 8;
const GEOSEARCHSTORE: u8 = 16;

fn georadius(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    generic(ctx, args, w, 1, RADIUS_COORDS);
}
fn georadius_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    generic(ctx, args, w, 1, RADIUS_COORDS | RADIUS_NOSTORE);
}
fn georadiusbymember(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    generic(ctx, args, w, 1, RADIUS_MEMBER);
}
fn georadiusbymember_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    generic(ctx, args, w, 1, RADIUS_MEMBER | RADIUS_NOSTORE);
}
fn geosearch(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    generic(ctx, args, w, 1, GEOSEARCH);
}
fn geosearchstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    generic(ctx, args, w, 2, GEOSEARCH | GEOSEARCHSTORE);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// The parsed request.
struct Query<'a> {
    search: Search,
    store: Option<&'a Bytes>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoords: bool,
    sort: Sort,
    any: bool,
    count: usize,
}

struct Point {
    member: Bytes,
    dist: f64,
    score: f64,
    xy: [f64; 2],
}

/// georadiusGeneric's argument parsing, which needs the source zset (a FROMMEMBER or
/// BYMEMBER centre is the member's position). `None` source: the source key is missing, and
/// the member-based centre is skipped as in Redis.
fn parse<'a>(args: &'a [Bytes], flags: u8, z: Option<&ZSetValue>) -> Result<Query<'a>, String> {
    let mut q = Query {
        search: Search {
            xy: [0.0, 0.0],
            shape: Shape::Radius(0.0),
            conversion: 1.0,
        },
        store: None,
        storedist: false,
        withdist: false,
        withhash: false,
        withcoords: false,
        sort: Sort::None,
        any: false,
        count: 0,
    };
    let member_xy = |m: &[u8]| {
        z.and_then(|z| z.score(m))
            .and_then(geohash::decode_score)
            .ok_or_else(|| ERR_MEMBER.to_string())
    };
    let base: usize;
    if flags & RADIUS_COORDS != 0 {
        base = 6;
        q.search.xy = lonlat_arg(&args[2], &args[3])?;
        let (r, conv) = radius_arg(&args[4], &args[5])?;
        q.search.shape = Shape::Radius(r);
        q.search.conversion = conv;
    } else if flags & RADIUS_MEMBER != 0 {
        base = 5;
        if z.is_some() {
            q.search.xy = member_xy(&args[2])?;
            let (r, conv) = radius_arg(&args[3], &args[4])?;
            q.search.shape = Shape::Radius(r);
            q.search.conversion = conv;
        }
    } else if flags & GEOSEARCHSTORE != 0 {
        base = 3;
        q.store = Some(&args[1]);
    } else {
        base = 2;
    }
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let remaining = args.len().saturating_sub(base);
    let mut i = 0;
    while i < remaining {
        let arg = &args[base + i];
        let more = |n: usize| i + n < remaining;
        let geosearch = flags & GEOSEARCH != 0;
        let may_store = flags & RADIUS_NOSTORE == 0 && !geosearch;
        if eq_ic(arg, "withdist") {
            q.withdist = true;
        } else if eq_ic(arg, "withhash") {
            q.withhash = true;
        } else if eq_ic(arg, "withcoord") {
            q.withcoords = true;
        } else if eq_ic(arg, "any") {
            q.any = true;
        } else if eq_ic(arg, "asc") {
            q.sort = Sort::Asc;
        } else if eq_ic(arg, "desc") {
            q.sort = Sort::Desc;
        } else if eq_ic(arg, "count") && more(1) {
            let n = parse_i64(&args[base + i + 1]).ok_or_else(|| ERR_NOT_INT.to_string())?;
            if n <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            q.count = n as usize;
            i += 1;
        } else if eq_ic(arg, "store") && more(1) && may_store {
            q.store = Some(&args[base + i + 1]);
            q.storedist = false;
            i += 1;
        } else if eq_ic(arg, "storedist") && more(1) && may_store {
            q.store = Some(&args[base + i + 1]);
            q.storedist = true;
            i += 1;
        } else if eq_ic(arg, "storedist") && geosearch && flags & GEOSEARCHSTORE != 0 {
            q.storedist = true;
        } else if eq_ic(arg, "frommember") && more(1) && geosearch && !fromloc {
            if z.is_some() {
                q.search.xy = member_xy(&args[base + i + 1])?;
            }
            frommember = true;
            i += 1;
        } else if eq_ic(arg, "fromlonlat") && more(2) && geosearch && !frommember {
            q.search.xy = lonlat_arg(&args[base + i + 1], &args[base + i + 2])?;
            fromloc = true;
            i += 2;
        } else if eq_ic(arg, "byradius") && more(2) && geosearch && !bybox {
            let (r, conv) = radius_arg(&args[base + i + 1], &args[base + i + 2])?;
            q.search.shape = Shape::Radius(r);
            q.search.conversion = conv;
            byradius = true;
            i += 2;
        } else if eq_ic(arg, "bybox") && more(3) && geosearch && !byradius {
            let (width, height, conv) = box_arg(
                &args[base + i + 1],
                &args[base + i + 2],
                &args[base + i + 3],
            )?;
            q.search.shape = Shape::Box { width, height };
            q.search.conversion = conv;
            bybox = true;
            i += 3;
        } else {
            return Err(ERR_SYNTAX.into());
        }
        i += 1;
    }
    if q.store.is_some() && (q.withdist || q.withhash || q.withcoords) {
        return Err(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if flags & GEOSEARCHSTORE != 0 {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        ));
    }
    let name = String::from_utf8_lossy(&args[0]);
    if flags & GEOSEARCH != 0 && !(frommember || fromloc) {
        return Err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
    }
    if flags & GEOSEARCH != 0 && !(byradius || bybox) {
        return Err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
    }
    if q.any && q.count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    if q.count != 0 && q.sort == Sort::None && !q.any {
        q.sort = Sort::Asc;
    }
    Ok(q)
}

/// membersOfAllNeighbors: the points inside the shape, box by box in Redis's order, stopping
/// at `limit` (COUNT ... ANY; 0: no limit).
fn search(z: &ZSetValue, s: &Search, limit: usize) -> Vec<Point> {
    let mut out = Vec::new();
    for (min, max) in s.score_ranges() {
        if limit != 0 && out.len() >= limit {
            break;
        }
        let range = z.range_by_score(Bound::Included(min as f64), Bound::Excluded(max as f64));
        for (m, score) in range {
            let Some(xy) = geohash::decode_score(score) else {
                continue;
            };
            if let Some(dist) = s.within(xy) {
                out.push(Point {
                    member: m.clone(),
                    dist,
                    score,
                    xy,
                });
                if limit != 0 && out.len() >= limit {
                    break;
                }
            }
        }
    }
    out
}

enum Outcome {
    WrongType,
    Error(String),
    Points(Vec<Point>),
    Stored(usize),
}

struct Opts {
    withdist: bool,
    withhash: bool,
    withcoords: bool,
    conversion: f64,
}

fn generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, src: usize, flags: u8) {
    let src_key = &args[src];
    let mut opts = Opts {
        withdist: false,
        withhash: false,
        withcoords: false,
        conversion: 1.0,
    };
    // The keys it may touch: the source and a STORE/STOREDIST/GEOSEARCHSTORE destination (the
    // spec finds the same argument the parser will).
    let spec = crate::resp::dispatch::lookup(&args[0]);
    let keys: Vec<&[u8]> = match spec {
        Some(s) => s.keys(args).collect(),
        None => vec![&src_key[..]],
    };
    let out = ctx.with_keys(keys.iter().copied(), |l, now| {
        let found = {
            let shard = l.shard(src_key);
            let z = match shard.get(src_key, now) {
                None => None,
                Some(e) => match &e.value {
                    Value::ZSet(z) => Some(&**z),
                    _ => return Outcome::WrongType,
                },
            };
            let q = match parse(args, flags, z) {
                Ok(q) => q,
                Err(e) => return Outcome::Error(e),
            };
            opts = Opts {
                withdist: q.withdist,
                withhash: q.withhash,
                withcoords: q.withcoords,
                conversion: q.search.conversion,
            };
            let mut points = match z {
                Some(z) => search(z, &q.search, if q.any { q.count } else { 0 }),
                None => Vec::new(),
            };
            let returned = if q.count == 0 {
                points.len()
            } else {
                points.len().min(q.count)
            };
            match q.sort {
                Sort::None => {}
                Sort::Asc => points.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
                Sort::Desc => points.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
            }
            points.truncate(returned);
            (q.store.cloned(), q.storedist, points)
        };
        let (store, storedist, points) = found;
        let Some(dst) = store else {
            return Outcome::Points(points);
        };
        // Redis writes to the last STORE/STOREDIST given; the key specs (what permissions,
        // WATCH and the lock cover) find the first of each keyword. Refuse the odd command
        // where they disagree rather than write a key nobody checked.
        if !keys.contains(&&dst[..]) {
            return Outcome::Error(ERR_STORE_TWICE.into());
        }
        let mut zs = ZSetValue::new();
        for p in points {
            let score = if storedist {
                p.dist / opts.conversion
            } else {
                p.score
            };
            zs.insert(p.member, score);
        }
        let change = if flags & GEOSEARCH != 0 {
            Change::GeoSearchStore
        } else {
            Change::GeoRadiusStore
        };
        Outcome::Stored(zsets::store(l.shard(&dst), &dst, zs, now, change))
    });
    match out {
        Outcome::WrongType => w.error(ERR_WRONGTYPE),
        Outcome::Error(e) => w.error(&e),
        Outcome::Stored(n) => w.int(n as i64),
        Outcome::Points(points) => {
            let extra = opts.withdist as usize + opts.withhash as usize + opts.withcoords as usize;
            w.array(points.len());
            for p in points {
                if extra > 0 {
                    w.array(extra + 1);
                }
                w.bulk(&p.member);
                if opts.withdist {
                    write_distance(w, p.dist / opts.conversion);
                }
                if opts.withhash {
                    w.int(p.score as i64);
                }
                if opts.withcoords {
                    w.array(2);
                    write_coord(w, p.xy[0]);
                    write_coord(w, p.xy[1]);
                }
            }
        }
    }
}
