//! Streams in RDB 10 (`RDB_TYPE_STREAM_LISTPACKS_2`, what Redis 7.0 writes).
//!
//! Entries are stored as Redis keeps them in memory: a sequence of nodes, each a listpack keyed by
//! its master ID (16 bytes, big-endian ms and seq). A node starts with a master entry (live
//! count, deleted count, the master field names, a 0 terminator); each entry follows as flags,
//! its ID relative to the master, then either the values alone (the SAMEFIELDS flag: the same
//! field names as the master) or a field count and field/value pairs, and last an `lp-count` for
//! iterating backwards. After the nodes: length, last ID, first ID, max deleted ID, entries
//! added, and the consumer groups (name, last delivered ID, entries read, the pending entries
//! with delivery time and count, the consumers with their seen time and the IDs they own).
//!
//! Nodes are cut as Redis's `streamAppendItem` cuts them when the entries are appended one by
//! one (`stream-node-max-bytes`, `stream-node-max-entries`), so a stream built by XADD alone
//! DUMPs to redis-server's bytes. Deleted entries are not written (Redis keeps them flagged
//! until their node empties); the payload loads to the same stream.

use crate::decode::Reader;
use crate::encode::Dump;
use crate::listpack::{Element, ListpackWriter};
use crate::{listpack, types, DecodeError, Thresholds};

/// A stream entry ID (milliseconds, sequence).
pub type Id = (u64, u64);

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// Redis's hard cap on a stream listpack (`STREAM_LISTPACK_MAX_SIZE`, 1 GiB).
const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// A stream's state besides its entries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamMeta {
    pub length: u64,
    pub last_id: Id,
    pub first_id: Id,
    pub max_deleted_id: Id,
    pub entries_added: u64,
}

/// A consumer group, as written and as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupObject {
    pub name: Vec<u8>,
    pub last_id: Id,
    /// None: Redis's "invalid" (-1), when the group's read counter cannot be known.
    pub entries_read: Option<u64>,
    /// Pending entries: ID, delivery time (Unix ms), delivery count, owning consumer.
    pub pel: Vec<(Id, u64, u64, Vec<u8>)>,
    /// Consumers: name, seen time (Unix ms).
    pub consumers: Vec<(Vec<u8>, u64)>,
}

/// A decoded stream. Entry fields are flat: field, value, field, value...
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamObject {
    pub meta: StreamMeta,
    pub entries: Vec<(Id, Vec<Vec<u8>>)>,
    pub groups: Vec<GroupObject>,
}

fn id_key(id: Id) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.0.to_be_bytes());
    k[8..].copy_from_slice(&id.1.to_be_bytes());
    k
}

struct Node {
    master: Id,
    master_fields: Vec<Vec<u8>>,
    /// The entries' listpack elements after the master entry.
    body: ListpackWriter,
    count: i64,
    /// `lpBytes` of the node's listpack without its live count and entries (header, the rest of
    /// the master entry, terminator).
    master_rest: usize,
}

impl Node {
    /// What `lpBytes` of Redis's listpack is now.
    fn size(&self) -> usize {
        self.master_rest + listpack::int_entry_len(self.count) + (self.body.size() - 7)
    }

    fn finish(self) -> Vec<u8> {
        let mut lp = ListpackWriter::new();
        lp.push_int(self.count);
        lp.push_int(0);
        lp.push_int(self.master_fields.len() as i64);
        for f in &self.master_fields {
            lp.push(f);
        }
        lp.push_int(0);
        lp.append(self.body);
        lp.finish()
    }
}

impl Dump {
    /// A stream: `entries` in ID order, each with its flat field/value list.
    pub fn stream<'a, B: AsRef<[u8]> + 'a>(
        t: Thresholds,
        meta: &StreamMeta,
        entries: impl Iterator<Item = (Id, &'a [B])>,
        groups: &[GroupObject],
    ) -> Vec<u8> {
        let max_bytes = match t.stream_node_max_bytes {
            0 => LISTPACK_MAX_SIZE,
            n => n.min(LISTPACK_MAX_SIZE),
        };
        let mut nodes: Vec<Node> = Vec::new();
        for (id, fields) in entries {
            let total: usize = fields.iter().map(|f| f.as_ref().len()).sum();
            let new_node = match nodes.last() {
                None => true,
                Some(n) => {
                    n.size() + total >= max_bytes
                        || (t.stream_node_max_entries != 0
                            && n.count as u64 >= t.stream_node_max_entries as u64)
                }
            };
            if new_node {
                let master_fields: Vec<Vec<u8>> = fields
                    .iter()
                    .step_by(2)
                    .map(|f| f.as_ref().to_vec())
                    .collect();
                let mut probe = ListpackWriter::new();
                probe.push_int(0);
                probe.push_int(master_fields.len() as i64);
                for f in &master_fields {
                    probe.push(f);
                }
                probe.push_int(0);
                nodes.push(Node {
                    master: id,
                    master_fields,
                    body: ListpackWriter::new(),
                    count: 0,
                    master_rest: probe.size(),
                });
            }
            let node = nodes.last_mut().expect("a node");
            let same = fields.len() / 2 == node.master_fields.len()
                && fields
                    .iter()
                    .step_by(2)
                    .zip(&node.master_fields)
                    .all(|(a, b)| a.as_ref() == &b[..]);
            node.body.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
            node.body.push_int(id.0.wrapping_sub(node.master.0) as i64);
            node.body.push_int(id.1.wrapping_sub(node.master.1) as i64);
            let n = (fields.len() / 2) as i64;
            if same {
                for v in fields.iter().skip(1).step_by(2) {
                    node.body.push(v.as_ref());
                }
            } else {
                node.body.push_int(n);
                for f in fields.iter() {
                    node.body.push(f.as_ref());
                }
            }
            node.body.push_int(n + 3 + if same { 0 } else { n + 1 });
            node.count += 1;
        }
        let mut d = Dump::new(t, types::STREAM_LISTPACKS_2, 64);
        d.len(nodes.len() as u64);
        for node in nodes {
            d.raw_string(&id_key(node.master));
            d.raw_string(&node.finish());
        }
        d.len(meta.length);
        for id in [meta.last_id, meta.first_id, meta.max_deleted_id] {
            d.len(id.0);
            d.len(id.1);
        }
        d.len(meta.entries_added);
        d.len(groups.len() as u64);
        for g in groups {
            d.raw_string(&g.name);
            d.len(g.last_id.0);
            d.len(g.last_id.1);
            d.len(g.entries_read.unwrap_or(u64::MAX));
            d.len(g.pel.len() as u64);
            for (id, time, count, _) in &g.pel {
                d.raw(&id_key(*id));
                d.raw(&time.to_le_bytes());
                d.len(*count);
            }
            d.len(g.consumers.len() as u64);
            for (name, seen) in &g.consumers {
                d.raw_string(name);
                d.raw(&seen.to_le_bytes());
                let owned: Vec<Id> = g.pel.iter().filter(|p| &p.3 == name).map(|p| p.0).collect();
                d.len(owned.len() as u64);
                for id in owned {
                    d.raw(&id_key(id));
                }
            }
        }
        d.finish()
    }
}

fn read_id(r: &mut Reader<'_>) -> Result<Id, DecodeError> {
    let b = r.bytes(16)?;
    Ok((
        u64::from_be_bytes(b[..8].try_into().unwrap()),
        u64::from_be_bytes(b[8..].try_into().unwrap()),
    ))
}

fn int(e: Option<&Element<'_>>) -> Result<i64, DecodeError> {
    match e {
        Some(Element::Int(i)) => Ok(*i),
        _ => Err(DecodeError::Corrupt),
    }
}

/// Read a `RDB_TYPE_STREAM_LISTPACKS` (`v2 == false`, Redis 5/6) or `_2` stream.
pub(crate) fn read(r: &mut Reader<'_>, v2: bool) -> Result<StreamObject, DecodeError> {
    let mut s = StreamObject::default();
    let nodes = r.any_count()?;
    let mut prev: Option<Id> = None;
    for _ in 0..nodes {
        let key = r.string()?;
        if key.len() != 16 {
            return Err(DecodeError::Corrupt);
        }
        let master: Id = (
            u64::from_be_bytes(key[..8].try_into().unwrap()),
            u64::from_be_bytes(key[8..].try_into().unwrap()),
        );
        let lp = r.string()?;
        let items = listpack::parse(&lp)?;
        let mut it = items.iter();
        let count = int(it.next())?;
        let deleted = int(it.next())?;
        let nfields = int(it.next())?;
        if count < 0 || deleted < 0 || !(0..=items.len() as i64).contains(&nfields) {
            return Err(DecodeError::Corrupt);
        }
        let mut master_fields = Vec::with_capacity(nfields as usize);
        for _ in 0..nfields {
            master_fields.push(r.element(it.next().ok_or(DecodeError::Corrupt)?)?);
        }
        if int(it.next())? != 0 {
            return Err(DecodeError::Corrupt);
        }
        let (mut live, mut dead) = (0i64, 0i64);
        while let Some(flags) = it.next() {
            let flags = int(Some(flags))?;
            let ms = int(it.next())? as u64;
            let seq = int(it.next())? as u64;
            let id = (master.0.wrapping_add(ms), master.1.wrapping_add(seq));
            let mut fields = Vec::new();
            let n = if flags & FLAG_SAMEFIELDS != 0 {
                for f in &master_fields {
                    let v = it.next().ok_or(DecodeError::Corrupt)?;
                    fields.push(f.clone());
                    fields.push(r.element(v)?);
                }
                master_fields.len() as i64
            } else {
                let n = int(it.next())?;
                if n < 0 || n as usize > items.len() {
                    return Err(DecodeError::Corrupt);
                }
                for _ in 0..2 * n {
                    fields.push(r.element(it.next().ok_or(DecodeError::Corrupt)?)?);
                }
                n
            };
            let want = n
                + 3
                + if flags & FLAG_SAMEFIELDS != 0 {
                    0
                } else {
                    n + 1
                };
            if int(it.next())? != want {
                return Err(DecodeError::Corrupt);
            }
            if flags & FLAG_DELETED != 0 {
                dead += 1;
                continue;
            }
            live += 1;
            if prev.is_some_and(|p| p >= id) {
                return Err(DecodeError::Corrupt);
            }
            prev = Some(id);
            s.entries.push((id, fields));
        }
        if live != count || dead != deleted || live + dead == 0 {
            return Err(DecodeError::Corrupt);
        }
    }
    s.meta.length = r.plain_len()? as u64;
    s.meta.last_id = (r.plain_len()? as u64, r.plain_len()? as u64);
    if v2 {
        s.meta.first_id = (r.plain_len()? as u64, r.plain_len()? as u64);
        s.meta.max_deleted_id = (r.plain_len()? as u64, r.plain_len()? as u64);
        s.meta.entries_added = r.plain_len()? as u64;
    } else {
        // Redis 5/6 kept none of these: Redis 7 derives them the same way.
        s.meta.first_id = s.entries.first().map_or((0, 0), |e| e.0);
        s.meta.entries_added = s.meta.length;
    }
    if s.meta.length != s.entries.len() as u64
        || s.entries.last().is_some_and(|e| e.0 > s.meta.last_id)
    {
        return Err(DecodeError::Corrupt);
    }
    let ngroups = r.any_count()?;
    for _ in 0..ngroups {
        let name = r.string()?;
        let last_id = (r.plain_len()? as u64, r.plain_len()? as u64);
        let entries_read = if v2 {
            match r.plain_len()? as u64 {
                u64::MAX => None,
                n => Some(n),
            }
        } else {
            None
        };
        let npel = r.any_count()?;
        let mut pel: Vec<(Id, u64, u64, Vec<u8>)> = Vec::with_capacity(npel);
        let mut owned_by: Vec<bool> = Vec::with_capacity(npel);
        for _ in 0..npel {
            let id = read_id(r)?;
            let time = u64::from_le_bytes(r.bytes(8)?.try_into().unwrap());
            let count = r.plain_len()? as u64;
            if pel.last().is_some_and(|p| p.0 >= id) {
                return Err(DecodeError::Corrupt);
            }
            r.charge(64)?;
            pel.push((id, time, count, Vec::new()));
            owned_by.push(false);
        }
        let nconsumers = r.any_count()?;
        let mut consumers = Vec::with_capacity(nconsumers);
        for _ in 0..nconsumers {
            let cname = r.string()?;
            let seen = u64::from_le_bytes(r.bytes(8)?.try_into().unwrap());
            let owned = r.any_count()?;
            for _ in 0..owned {
                let id = read_id(r)?;
                let Ok(i) = pel.binary_search_by(|p| p.0.cmp(&id)) else {
                    return Err(DecodeError::Corrupt);
                };
                if owned_by[i] {
                    return Err(DecodeError::Corrupt);
                }
                owned_by[i] = true;
                pel[i].3 = cname.clone();
            }
            if consumers.iter().any(|(n, _)| n == &cname) {
                return Err(DecodeError::Corrupt);
            }
            consumers.push((cname, seen));
        }
        // Every pending entry belongs to a consumer (Redis checks this too).
        if owned_by.contains(&false) || s.groups.iter().any(|g| g.name == name) {
            return Err(DecodeError::Corrupt);
        }
        s.groups.push(GroupObject {
            name,
            last_id,
            entries_read,
            pel,
            consumers,
        });
    }
    Ok(s)
}
