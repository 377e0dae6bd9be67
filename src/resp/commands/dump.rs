//! DUMP and RESTORE: values in Redis 7.0's serialization (`ferrite-rdb`), so payloads move
//! between Ferrite and redis-server in both directions (and `redis-cli --rdb`-style tools and the
//! persistence work share one codec).

use bytes::Bytes;
use std::collections::BTreeMap;

use ferrite_rdb::{stream, DecodeError, Dump, GroupObject, Object, StreamMeta};
use ferrite_resp::ReplyWriter;
use ferrite_storage::types::stream::{Consumer, Group, Pending};
use ferrite_storage::value::{HashValue, ListValue, SetValue, StreamId, StreamValue, ZSetValue};
use ferrite_storage::{Change, Value};

use crate::resp::args::*;
use crate::resp::dispatch::{
    cmd, flags::*, key, ks::*, BeginSearch, CommandSpec, Ctx, FindKeys, KeySpec,
};

const G: &str = "generic";

pub const COMMANDS: &[CommandSpec] = &[
    cmd("dump", 2, READONLY, &[key(1, RO | ACCESS)], G, dump),
    cmd(
        "restore",
        -4,
        WRITE | DENYOOM,
        &[key(1, OW | UPDATE)],
        G,
        restore,
    ),
    // Run by the connection loop (`resp::conn::migrate`): it waits on the network. SUPER: it
    // makes the server connect to any address, which only an operator may ask for.
    cmd(
        "migrate",
        -6,
        WRITE | CONN | SUPER,
        &[key(3, RW | ACCESS | DELETE), MIGRATE_KEYS],
        G,
        crate::resp::commands::connection::H,
    ),
];

/// MIGRATE's keys after KEYS (Redis's second key spec; the first is the `key` argument, empty
/// when KEYS is used).
const MIGRATE_KEYS: KeySpec = KeySpec {
    flags: RW | ACCESS | DELETE,
    begin: BeginSearch::Keyword {
        keyword: "KEYS",
        start_from: -2,
    },
    find: FindKeys::Range {
        lastkey: -1,
        step: 1,
        limit: 0,
    },
};

/// A value's DUMP payload (Redis's serialization, version and CRC footer included).
pub(crate) fn payload_of(t: ferrite_rdb::Thresholds, value: &Value) -> Vec<u8> {
    match value {
        Value::Str(b) => Dump::string(t, b),
        Value::List(l) => Dump::list(t, l.len(), l.iter().map(|b| &b[..])),
        Value::Set(st) => Dump::set(t, st.len(), || st.iter().map(|b| &b[..])),
        Value::ZSet(z) => Dump::zset(t, z.len(), || z.iter().map(|(m, s)| (&m[..], s))),
        Value::Hash(h) => Dump::hash(t, h.len(), || h.iter().map(|(f, v)| (&f[..], &v[..]))),
        Value::Stream(st) => dump_stream(t, st),
    }
}

fn dump(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let t = ctx.shared.redis_params.rdb_thresholds();
    let payload = ctx.with_key(key, |s, now| {
        let e = s.get(key, now)?;
        Some(payload_of(t, &e.value))
    });
    match payload {
        Some(p) => w.bulk(&p),
        None => w.null(),
    }
}

fn restore(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let key = &args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        if eq_ic(&args[j], "replace") {
            replace = true;
        } else if eq_ic(&args[j], "absttl") {
            absttl = true;
        } else if eq_ic(&args[j], "idletime") && more && freq.is_none() {
            let Some(v) = int_or_err(w, &args[j + 1]) else {
                return;
            };
            if v < 0 {
                w.error("ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            idle = Some(v);
            j += 1;
        } else if eq_ic(&args[j], "freq") && more && idle.is_none() {
            let Some(v) = int_or_err(w, &args[j + 1]) else {
                return;
            };
            if !(0..=255).contains(&v) {
                w.error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            freq = Some(v);
            j += 1;
        } else {
            w.error(ERR_SYNTAX);
            return;
        }
        j += 1;
    }
    // Redis's order of checks: options, the existing key, the TTL, then the payload.
    if !replace && ctx.with_key(key, |s, now| s.peek_meta(key, now).is_some()) {
        w.error("BUSYKEY Target key name already exists.");
        return;
    }
    let Some(ttl) = int_or_err(w, &args[2]) else {
        return;
    };
    if ttl < 0 {
        w.error("ERR Invalid TTL value, must be >= 0");
        return;
    }
    let limit = usize::try_from(ctx.shared.store.budget().limit()).unwrap_or(usize::MAX);
    let object = match ferrite_rdb::decode(&args[3], limit) {
        Ok(o) => o,
        Err(DecodeError::Footer) => {
            w.error("ERR DUMP payload version or checksum are wrong");
            return;
        }
        Err(DecodeError::Corrupt) => {
            w.error("ERR Bad data format");
            return;
        }
        Err(DecodeError::TooLarge) => {
            w.error(ERR_OOM);
            return;
        }
    };
    let value = into_value(object);
    // The payload's own size was checked on the way in (DENYOOM); what it decodes to can be
    // larger (LZF), so make room for the value itself before it is stored.
    if ctx.exec.is_none()
        && ctx
            .shared
            .store
            .ensure_memory(value.heap_bytes() as u64)
            .is_err()
    {
        w.error(ERR_OOM);
        return;
    }
    let now = ctx.now;
    let expires_at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    ctx.with_key(key, |s, now| {
        if expires_at != 0 && expires_at <= now {
            // Already expired: nothing is created, and a replaced key is simply deleted.
            if replace {
                s.delete(key, now);
            }
            return;
        }
        if !replace && s.peek_meta(key, now).is_some() {
            // Created by another client between the check above and this lock: RESTORE
            // without REPLACE never overwrites.
            return;
        }
        s.insert_as(key, value, expires_at, now, Change::Restore);
        // As Redis's objectSetLRUOrLFU: FREQ counts under an LFU policy, IDLETIME under the
        // others; the one that does not apply is accepted and ignored.
        let lfu = s.frequency(0, now).is_some();
        match (idle, freq) {
            (Some(idle), _) if !lfu => {
                s.set_idle(key, (idle as u64).saturating_mul(1000), now);
            }
            (_, Some(freq)) if lfu => {
                s.set_freq(key, freq as u8, now);
            }
            _ => {}
        }
    });
    w.ok();
}

fn id(i: StreamId) -> stream::Id {
    (i.ms, i.seq)
}

fn dump_stream(t: ferrite_rdb::Thresholds, s: &StreamValue) -> Vec<u8> {
    let meta = StreamMeta {
        length: s.len() as u64,
        last_id: id(s.last_id()),
        first_id: id(s.first_id()),
        max_deleted_id: id(s.max_deleted()),
        entries_added: s.entries_added(),
    };
    let groups: Vec<GroupObject> = s
        .groups()
        .map(|(name, g)| GroupObject {
            name: name.to_vec(),
            last_id: id(g.last_id),
            entries_read: g.entries_read,
            pel: g
                .pel
                .iter()
                .map(|(i, p)| {
                    (
                        id(*i),
                        p.delivery_time,
                        p.delivery_count,
                        p.consumer.to_vec(),
                    )
                })
                .collect(),
            consumers: g
                .consumers
                .iter()
                .map(|(n, c)| (n.to_vec(), c.seen_time))
                .collect(),
        })
        .collect();
    let entries = s
        .range(StreamId::MIN, StreamId::MAX)
        .map(|(i, f)| (id(i), f));
    Dump::stream(t, &meta, entries, &groups)
}

fn restore_stream(s: ferrite_rdb::StreamObject) -> StreamValue {
    let sid = |(ms, seq): stream::Id| StreamId::new(ms, seq);
    let groups = s
        .groups
        .into_iter()
        .map(|g| {
            let mut consumers: BTreeMap<Bytes, Consumer> = g
                .consumers
                .into_iter()
                .map(|(n, seen)| {
                    (
                        Bytes::from(n),
                        Consumer {
                            seen_time: seen,
                            pel: Default::default(),
                        },
                    )
                })
                .collect();
            let mut pel = BTreeMap::new();
            for (i, time, count, owner) in g.pel {
                // The consumer map's own key, shared (the PEL holds no copy of the name).
                let name = consumers
                    .get_key_value(&owner[..])
                    .map(|(k, _)| k.clone())
                    .expect("the decoder checked every pending entry's owner");
                if let Some(c) = consumers.get_mut(&name) {
                    c.pel.insert(sid(i));
                }
                pel.insert(
                    sid(i),
                    Pending {
                        consumer: name,
                        delivery_time: time,
                        delivery_count: count,
                    },
                );
            }
            let group = Group {
                last_id: sid(g.last_id),
                entries_read: g.entries_read,
                pel,
                consumers,
            };
            (Bytes::from(g.name), group)
        })
        .collect();
    StreamValue::from_parts(
        s.entries
            .into_iter()
            .map(|(i, f)| (sid(i), f.into_iter().map(Bytes::from).collect())),
        sid(s.meta.last_id),
        sid(s.meta.max_deleted_id),
        s.meta.entries_added,
        groups,
    )
}

/// Build Ferrite's value from a decoded payload (collections are never empty, and hold no
/// duplicates: the decoder refused those).
fn into_value(o: Object) -> Value {
    match o {
        Object::Str(s) => Value::Str(Bytes::from(s)),
        Object::List(items) => {
            let mut l = ListValue::new();
            for i in items {
                l.push_back(Bytes::from(i));
            }
            Value::List(Box::new(l))
        }
        Object::Set(items) => {
            let mut st = SetValue::new();
            for i in items {
                st.insert(Bytes::from(i));
            }
            Value::Set(Box::new(st))
        }
        Object::ZSet(items) => {
            let mut z = ZSetValue::new();
            for (m, score) in items {
                // Redis stores -0 as 0 in sorted sets read back from payloads too.
                z.insert(Bytes::from(m), if score == 0.0 { 0.0 } else { score });
            }
            Value::ZSet(Box::new(z))
        }
        Object::Hash(items) => {
            let mut h = HashValue::new();
            for (f, v) in items {
                h.insert(Bytes::from(f), v.into());
            }
            Value::Hash(Box::new(h))
        }
        Object::Stream(s) => Value::Stream(Box::new(restore_stream(*s))),
    }
}
