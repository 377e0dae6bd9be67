//! SORT and SORT_RO over lists, sets and sorted sets, as Redis 7.0's sort.c does them.
//!
//! - Numeric sort (the default) reads each element, or the value its BY pattern names, with
//!   strtod's rules: all of it must be a number (an empty string is 0, a missing BY key scores
//!   0); anything else answers "One or more scores can't be converted into double". Equal
//!   scores fall back to comparing the elements' bytes, so the order is total.
//! - ALPHA compares bytes (Redis uses strcoll, which is the same in the C locale it runs under
//!   by default); with BY, elements whose BY key is missing come first, and equal BY values
//!   keep the collection's order (Redis's qsort is glibc's stable merge sort).
//! - A BY pattern without `*` (`nosort` by convention) skips sorting: a list or sorted set keeps
//!   its own order (DESC reverses it, LIMIT takes a range of it); a set is sorted ALPHA anyway
//!   when the result is STOREd, as Redis does so that replicas agree.
//! - `*` is replaced by the element (its first occurrence only); `key->field` reads a hash
//!   field; GET `#` is the element itself. STORE writes a list (none when empty: the
//!   destination is deleted) and answers its length.
//!
//! Keys named by BY and GET patterns derive from stored data, so no key spec can name them
//! (Redis marks that spec `unknown`). As Redis 7's ACLs do, a caller who may not read every key
//! of the cache is refused any GET and any BY pattern with a `*` (the two errors below), so a
//! scoped token never reaches a key outside its scope through a pattern. A SORT that looks keys
//! up through patterns locks every shard of the cache, so it sees one state, as Redis does.
//!
//! The reply (or stored list) is bounded by `limits.reply_buffer_limit`, since GET patterns let
//! the client multiply its size (`commands/bounded.rs`).

use std::cmp::Ordering;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::value::ListValue;
use ferrite_storage::{Change, Locked, Value};

use crate::resp::args::*;
use crate::resp::commands::bounded::{self, ReplyBudget};
use crate::resp::dispatch::{
    cmd, flags::*, key, ks::*, BeginSearch, CommandSpec, Ctx, FindKeys, Finder, KeySpec,
};

const G: &str = "generic";

/// A key spec Redis marks `unknown`, found by `finder`.
const fn unknown(finder: Finder, flags: u16) -> KeySpec {
    KeySpec {
        flags,
        begin: BeginSearch::Unknown(finder),
        find: FindKeys::Range {
            lastkey: 0,
            step: 1,
            limit: 0,
        },
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "sort",
        -2,
        WRITE | DENYOOM,
        &[
            key(1, RO | ACCESS),
            unknown(Finder::Never, RO | ACCESS),
            unknown(Finder::SortStore, OW | UPDATE),
        ],
        G,
        sort,
    ),
    cmd(
        "sort_ro",
        -2,
        READONLY,
        &[key(1, RO | ACCESS), unknown(Finder::Never, RO | ACCESS)],
        G,
        sort_ro,
    ),
];

const ERR_NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
const ERR_BY_DENIED: &str = "ERR BY option of SORT denied due to insufficient ACL permissions.";
const ERR_GET_DENIED: &str = "ERR GET option of SORT denied due to insufficient ACL permissions.";

/// SORT's STORE destination, parsed as Redis's sortGetKeys does (LIMIT takes two arguments,
/// BY and GET one; the last STORE wins). The key spec's finder, so permissions and WATCH name
/// exactly the key `sort` writes.
pub fn store_key_index(args: &[Bytes]) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "limit") {
            i += 2;
        } else if eq_ic(a, "get") || eq_ic(a, "by") {
            i += 1;
        } else if eq_ic(a, "store") && i + 1 < args.len() {
            found = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    found
}

/// The part of `b` a C string function sees (up to the first NUL): Redis finds `*`, `->` and
/// `#` with strchr/strstr.
fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

fn has_star(pattern: &[u8]) -> bool {
    cstr(pattern).contains(&b'*')
}

fn is_self(pattern: &[u8]) -> bool {
    cstr(pattern) == b"#"
}

struct Opts<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a Bytes>,
    by: Option<&'a [u8]>,
    /// A BY pattern without `*` was given: nothing to sort by.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    /// Called from a script: a set's order must not depend on its layout either (Redis sorts
    /// it as for STORE, so a script's result is deterministic).
    in_script: bool,
}

impl Opts<'_> {
    /// Whether running it reads keys other than the source (so every shard must be locked).
    fn reaches_other_keys(&self) -> bool {
        let by = !self.dontsort && self.by.is_some_and(has_star);
        by || self.gets.iter().any(|g| !is_self(g) && has_star(g))
    }
}

/// Redis's option loop, errors in its order; `full_access`: may the caller read every key.
fn parse<'a>(
    w: &mut ReplyWriter<'_>,
    args: &'a [Bytes],
    readonly: bool,
    full_access: bool,
) -> Option<Opts<'a>> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        in_script: false,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            let (Some(s), Some(c)) = (parse_i64(&args[j + 1]), parse_i64(&args[j + 2])) else {
                w.error(ERR_NOT_INT);
                return None;
            };
            o.limit_start = s;
            o.limit_count = c;
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            o.store = Some(&args[j + 1]);
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            let p = &args[j + 1][..];
            o.by = Some(p);
            // (Once set, as in Redis: a later BY with `*` sorts by nothing either.)
            if !has_star(p) {
                o.dontsort = true;
            } else if !full_access {
                w.error(ERR_BY_DENIED);
                return None;
            }
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            if !full_access {
                w.error(ERR_GET_DENIED);
                return None;
            }
            o.gets.push(&args[j + 1][..]);
            j += 1;
        } else {
            w.error(ERR_SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// Redis's lookupKeyByPattern: `#` is the element; otherwise the first `*` is replaced by it
/// and the key read as a string, or, for `key->field`, the hash field. None when there is no
/// `*`, no such key or field, or the key holds another type.
fn lookup(locked: &mut Locked<'_>, now: u64, pattern: &[u8], elem: &Bytes) -> Option<Bytes> {
    if is_self(pattern) {
        return Some(elem.clone());
    }
    let c = cstr(pattern);
    let star = c.iter().position(|&b| b == b'*')?;
    // `->` after the `*`, followed by a (non-empty) field name: a hash dereference.
    let arrow = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| f + 2 < c.len());
    let (post_end, field) = match arrow {
        Some(f) => (f, Some(&pattern[f + 2..])),
        None => (pattern.len(), None),
    };
    let mut k = Vec::with_capacity(pattern.len() + elem.len());
    k.extend_from_slice(&pattern[..star]);
    k.extend_from_slice(elem);
    k.extend_from_slice(&pattern[star + 1..post_end]);
    let shard = locked.shard(&k);
    match field {
        Some(f) => match &shard.get(&k, now)?.value {
            Value::Hash(h) => h.get(f).cloned(),
            _ => None,
        },
        None => shard
            .read_str(&k, now, Bytes::copy_from_slice)
            .and_then(Result::ok),
    }
}

/// strtod over the whole value, as SORT requires: leading white space is skipped, the rest
/// must be a number (hex included); the empty string is 0 (strtod converts nothing and stops
/// at the end); NaN and out-of-range values (ERANGE) are errors. Reading stops at a NUL.
fn strtod_all(b: &[u8]) -> Option<f64> {
    let b = cstr(b);
    if b.is_empty() {
        return Some(0.0);
    }
    let t = b.trim_ascii_start();
    let s = std::str::from_utf8(t).ok()?;
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let m = hex.bytes().fold(0f64, |acc, c| {
            acc * 16.0 + (c as char).to_digit(16).unwrap() as f64
        });
        if neg {
            -m
        } else {
            m
        }
    } else {
        let v: f64 = s.parse().ok()?;
        let literal_inf = digits.to_ascii_lowercase().starts_with("inf");
        if v.is_infinite() && !literal_inf {
            return None; // overflow: ERANGE
        }
        let nonzero = digits
            .bytes()
            .take_while(|c| !matches!(c, b'e' | b'E'))
            .any(|c| c.is_ascii_digit() && c != b'0');
        if (v == 0.0 && nonzero) || v.is_subnormal() {
            return None; // underflow: ERANGE
        }
        v
    };
    (!v.is_nan()).then_some(v)
}

/// One element to sort and what it sorts by.
struct Item {
    elem: Bytes,
    score: f64,
    /// ALPHA with BY: the BY value (None: no such key, sorts first).
    by: Option<Bytes>,
}

/// Redis's sortCompare (before DESC).
fn compare(a: &Item, b: &Item, alpha: bool, by_pattern: bool) -> Ordering {
    if !alpha {
        return a
            .score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.elem.cmp(&b.elem));
    }
    if by_pattern {
        // None < Some; two Nones are equal.
        a.by.cmp(&b.by)
    } else {
        a.elem.cmp(&b.elem)
    }
}

enum Kind {
    List,
    Set,
    ZSet,
}

/// Sort under the locks and write the reply (or store the list). `limit`: the reply limit.
fn run(
    locked: &mut Locked<'_>,
    now: u64,
    src: &[u8],
    o: &Opts<'_>,
    limit: u64,
    w: &mut ReplyWriter<'_>,
) {
    let (mut dontsort, mut alpha, mut by) = (o.dontsort, o.alpha, o.by);
    // The collection's length and kind (a missing key sorts as an empty list).
    let (len, kind) = match locked.shard(src).get(src, now).map(|e| &e.value) {
        None => (0, Kind::List),
        Some(Value::List(l)) => (l.len(), Kind::List),
        Some(Value::Set(s)) => (s.len(), Kind::Set),
        Some(Value::ZSet(z)) => (z.len(), Kind::ZSet),
        Some(_) => return w.error(ERR_WRONGTYPE),
    };
    if dontsort && matches!(kind, Kind::Set) && (o.store.is_some() || o.in_script) {
        // A set has no order of its own: what is stored must not depend on it.
        dontsort = false;
        alpha = true;
        by = None;
    }
    // Redis's LIMIT sanity checks, in its signed arithmetic.
    let n = len as i64;
    let mut start = o.limit_start.max(0);
    let mut end = if o.limit_count < 0 {
        n - 1
    } else {
        start.saturating_add(o.limit_count - 1)
    };
    if start >= n {
        start = n - 1;
        end = n - 2;
    }
    if end >= n {
        end = n - 1;
    }
    // Load the elements: a list or sorted set that is not sorted gives only the range asked
    // for, in its own order (reversed by DESC); everything else all of it.
    let direct = dontsort && !matches!(kind, Kind::Set);
    let mut items: Vec<Item> = Vec::new();
    {
        let item = |e: &Bytes| Item {
            elem: e.clone(),
            score: 0.0,
            by: None,
        };
        let v = locked.shard(src).peek(src, now).map(|e| &e.value);
        match v {
            Some(Value::List(l)) if direct && end >= start => {
                let take = (end - start + 1) as usize;
                let s = start as usize;
                if o.desc {
                    items.extend(l.iter().rev().skip(s).take(take).map(item));
                } else {
                    items.extend(l.iter().skip(s).take(take).map(item));
                }
                end -= start;
                start = 0;
            }
            // An empty range of an unsorted list: nothing to load.
            Some(Value::List(_)) if direct => {}
            Some(Value::ZSet(z)) if direct => {
                let take = (end - start + 1).max(0) as usize;
                let s = start.max(0) as usize;
                if o.desc {
                    items.extend(z.iter().rev().skip(s).take(take).map(|(m, _)| item(m)));
                } else {
                    items.extend(z.iter().skip(s).take(take).map(|(m, _)| item(m)));
                }
                end -= start;
                start = 0;
            }
            Some(Value::List(l)) => items.extend(l.iter().map(item)),
            Some(Value::Set(s)) => items.extend(s.iter().map(item)),
            Some(Value::ZSet(z)) => items.extend(z.iter().map(|(m, _)| item(m))),
            _ => {}
        }
    }
    if !dontsort {
        for it in items.iter_mut() {
            let val = match by {
                Some(p) => lookup(locked, now, p, &it.elem),
                None => Some(it.elem.clone()),
            };
            let Some(val) = val else {
                continue; // no BY value: scores 0 (numeric) or sorts first (ALPHA)
            };
            if alpha {
                if by.is_some() {
                    it.by = Some(val);
                }
            } else {
                match strtod_all(&val) {
                    Some(s) => it.score = s,
                    None => return w.error(ERR_NOT_DOUBLE),
                }
            }
        }
        let by_pattern = by.is_some();
        items.sort_by(|a, b| {
            let c = compare(a, b, alpha, by_pattern);
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
    }
    let picked = (end - start + 1).max(0) as u64;
    let per = if o.gets.is_empty() {
        1
    } else {
        o.gets.len() as u64
    };
    let outputlen = picked.saturating_mul(per);
    let range = || {
        items
            .iter()
            .skip(start.max(0) as usize)
            .take(picked as usize)
    };
    let Some(dst) = o.store else {
        // Each element is at least a RESP3 null (`_\r\n`).
        let Some(budget) = ReplyBudget::start_with(limit, w, outputlen, 3) else {
            return;
        };
        w.array(outputlen as usize);
        for it in range() {
            if o.gets.is_empty() {
                w.bulk(&it.elem);
            }
            for g in &o.gets {
                match lookup(locked, now, g, &it.elem) {
                    Some(v) => w.bulk(&v),
                    None => w.null(),
                }
            }
            if budget.exceeded(w) {
                return budget.refuse(w, outputlen);
            }
        }
        return;
    };
    // STORE: missing GET values are stored as empty strings. Bounded like a reply.
    let mut list = ListValue::new();
    let mut size: u64 = 0;
    for it in range() {
        let mut push = |v: Bytes| {
            size += v.len() as u64 + bounded::MIN_BULK;
            list.push_back(v);
        };
        if o.gets.is_empty() {
            push(it.elem.clone());
        }
        for g in &o.gets {
            push(lookup(locked, now, g, &it.elem).unwrap_or_default());
        }
        if size > limit {
            return w.error(&bounded::too_large(outputlen, limit));
        }
    }
    let shard = locked.shard(dst);
    if outputlen > 0 {
        shard.insert_as(dst, Value::List(Box::new(list)), 0, now, Change::SortStore);
    } else {
        // `del` when it existed, as in Redis.
        shard.remove(dst, now);
    }
    w.int(outputlen as i64);
}

fn sort_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>, readonly: bool) {
    let full_access = ctx.reads_every_key();
    let Some(mut o) = parse(w, args, readonly, full_access) else {
        return;
    };
    o.in_script = ctx.in_script;
    debug_assert!(
        readonly
            || o.store.map(|s| s as *const Bytes)
                == store_key_index(args).map(|i| &args[i] as *const Bytes),
        "SORT's key spec names the key it stores"
    );
    let limit = bounded::limit(ctx);
    let src = &args[1][..];
    let sorted = |locked: &mut Locked<'_>, now: u64| run(locked, now, src, &o, limit, w);
    if o.reaches_other_keys() {
        ctx.with_all(sorted);
    } else {
        let keys = std::iter::once(src).chain(o.store.map(|d| &d[..]));
        ctx.with_keys(keys, sorted);
    }
}

fn sort(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    sort_generic(ctx, args, w, false);
}

fn sort_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    sort_generic(ctx, args, w, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split_whitespace()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn the_store_key_is_found_as_redis_finds_it() {
        assert_eq!(store_key_index(&args("sort k")), None);
        assert_eq!(store_key_index(&args("sort k STORE d")), Some(3));
        // BY/GET arguments are skipped: a pattern named "store" is no STORE.
        assert_eq!(store_key_index(&args("sort k BY store GET store")), None);
        assert_eq!(store_key_index(&args("sort k BY store STORE d")), Some(5));
        assert_eq!(
            store_key_index(&args("sort k LIMIT store 1 STORE d")),
            Some(6)
        );
        // the last STORE wins
        assert_eq!(store_key_index(&args("sort k STORE a STORE b")), Some(5));
        assert_eq!(store_key_index(&args("sort k STORE")), None);
    }

    #[test]
    fn scores_follow_strtod() {
        for (s, v) in [
            ("", Some(0.0)),
            ("1", Some(1.0)),
            ("  -2.5", Some(-2.5)),
            ("1e3", Some(1000.0)),
            ("0x10", Some(16.0)),
            ("inf", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("1 ", None),
            (" ", None),
            ("abc", None),
            ("nan", None),
            ("1e400", None),
            ("1e-400", None),
            ("0e5", Some(0.0)),
        ] {
            assert_eq!(strtod_all(s.as_bytes()), v, "{s:?}");
        }
        assert_eq!(strtod_all(b"12\0junk"), Some(12.0));
    }
}
