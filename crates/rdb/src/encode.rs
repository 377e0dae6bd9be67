//! Writing DUMP payloads. Each `Dump::*` function takes the value's parts as borrowed slices (no
//! copy of the value is made) and returns the finished payload, footer included.

use crate::crc64::crc64;
use crate::encoding::Thresholds;
use crate::listpack::ListpackWriter;
use crate::{intset, types, Int64Str, RDB_VERSION};

/// Strings at least this long are stored as a single PLAIN quicklist node (Redis's
/// `packed_threshold`, 1 GiB by default).
const PACKED_THRESHOLD: usize = 1 << 30;
/// Quicklist node size limits: `list-max-listpack-size` -1..-5 and the safety limit for positive
/// (count-based) fills.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
const SIZE_SAFETY_LIMIT: usize = 8192;

/// A payload under construction.
pub struct Dump {
    buf: Vec<u8>,
    t: Thresholds,
}

impl Dump {
    pub(crate) fn new(t: Thresholds, kind: u8, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 16);
        buf.push(kind);
        Dump { buf, t }
    }

    /// A payload with no type byte (FUNCTION DUMP's records follow).
    pub(crate) fn empty(t: Thresholds) -> Self {
        Dump { buf: Vec::new(), t }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }

    pub fn string(t: Thresholds, s: &[u8]) -> Vec<u8> {
        let mut d = Dump::new(t, types::STRING, s.len());
        d.raw_string(s);
        d.finish()
    }

    /// A list, front to back. Nodes are cut where Redis's quicklist would cut them when the
    /// elements are pushed at the tail one by one.
    pub fn list<'a>(t: Thresholds, len: usize, items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut nodes: Vec<Node> = Vec::new();
        for item in items {
            let fits = match nodes.last() {
                Some(Node::Packed(lp)) => {
                    node_allows_insert(lp, t.list_max_listpack_size, item.len())
                }
                _ => false,
            };
            if item.len() >= PACKED_THRESHOLD {
                nodes.push(Node::Plain(item));
                continue;
            }
            if !fits {
                nodes.push(Node::Packed(ListpackWriter::new()));
            }
            if let Some(Node::Packed(lp)) = nodes.last_mut() {
                lp.push(item);
            }
        }
        let mut d = Dump::new(t, types::LIST_QUICKLIST_2, len * 4);
        d.len(nodes.len() as u64);
        for node in nodes {
            match node {
                Node::Plain(item) => {
                    d.len(1);
                    d.raw_string(item);
                }
                Node::Packed(lp) => {
                    d.len(2);
                    d.raw_string(&lp.finish());
                }
            }
        }
        d.finish()
    }

    /// A set, as an intset when Redis would keep it in one.
    /// `items` is called once per pass over the members (up to twice).
    pub fn set<'a, I: Iterator<Item = &'a [u8]>>(
        t: Thresholds,
        len: usize,
        items: impl Fn() -> I,
    ) -> Vec<u8> {
        let ints: Option<Vec<i64>> = if len <= t.set_max_intset_entries {
            items().map(|m| m.parse_canonical_i64()).collect()
        } else {
            None
        };
        match ints {
            Some(ints) if t.set_is_intset(len, true) => {
                let mut d = Dump::new(t, types::SET_INTSET, len * 8);
                d.raw_string(&intset::build(ints));
                d.finish()
            }
            _ => {
                let mut d = Dump::new(t, types::SET, len * 8);
                d.len(len as u64);
                for m in items() {
                    d.raw_string(m);
                }
                d.finish()
            }
        }
    }

    /// A sorted set; `items` gives the members in ascending (score, member) order.
    pub fn zset<'a, I: DoubleEndedIterator<Item = (&'a [u8], f64)>>(
        t: Thresholds,
        len: usize,
        items: impl Fn() -> I,
    ) -> Vec<u8> {
        let longest = items().map(|(m, _)| m.len()).max().unwrap_or(0);
        if t.zset_is_listpack(len, longest) {
            let mut lp = ListpackWriter::new();
            for (m, score) in items() {
                lp.push(m);
                lp.push(crate::g17::d2string(score).as_bytes());
            }
            let mut d = Dump::new(t, types::ZSET_LISTPACK, lp.size());
            d.raw_string(&lp.finish());
            d.finish()
        } else {
            // Redis writes the skiplist from the greatest element down, so loading inserts at
            // the head each time.
            let mut d = Dump::new(t, types::ZSET_2, len * 16);
            d.len(len as u64);
            for (m, score) in items().rev() {
                d.raw_string(m);
                d.buf.extend_from_slice(&score.to_le_bytes());
            }
            d.finish()
        }
    }

    /// A hash, fields in iteration order.
    pub fn hash<'a, I: Iterator<Item = (&'a [u8], &'a [u8])>>(
        t: Thresholds,
        len: usize,
        items: impl Fn() -> I,
    ) -> Vec<u8> {
        let longest = items()
            .map(|(f, v)| f.len().max(v.len()))
            .max()
            .unwrap_or(0);
        if t.hash_is_listpack(len, longest) {
            let mut lp = ListpackWriter::new();
            for (f, v) in items() {
                lp.push(f);
                lp.push(v);
            }
            let mut d = Dump::new(t, types::HASH_LISTPACK, lp.size());
            d.raw_string(&lp.finish());
            d.finish()
        } else {
            let mut d = Dump::new(t, types::HASH, len * 16);
            d.len(len as u64);
            for (f, v) in items() {
                d.raw_string(f);
                d.raw_string(v);
            }
            d.finish()
        }
    }

    /// Bytes written as they are (IDs and millisecond times in PELs).
    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// `rdbSaveLen`.
    pub(crate) fn len(&mut self, n: u64) {
        write_len(&mut self.buf, n);
    }

    /// `rdbSaveRawString`: small canonical integers as integers, long compressible strings LZF
    /// compressed (when `rdbcompression` is on), everything else as length + bytes.
    pub(crate) fn raw_string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = s.parse_canonical_i64() {
                if let Ok(v) = i8::try_from(v) {
                    self.buf.extend_from_slice(&[0xc0, v as u8]);
                    return;
                }
                if let Ok(v) = i16::try_from(v) {
                    self.buf.push(0xc1);
                    self.buf.extend_from_slice(&v.to_le_bytes());
                    return;
                }
                if let Ok(v) = i32::try_from(v) {
                    self.buf.push(0xc2);
                    self.buf.extend_from_slice(&v.to_le_bytes());
                    return;
                }
            }
        }
        if self.t.rdbcompression && s.len() > 20 {
            // Redis gives liblzf an output buffer of len - 4 bytes: compression that saves less
            // than that is not used.
            if let Ok(c) = lzf::compress(s) {
                if c.len() <= s.len() - 4 {
                    self.buf.push(0xc3);
                    write_len(&mut self.buf, c.len() as u64);
                    write_len(&mut self.buf, s.len() as u64);
                    self.buf.extend_from_slice(&c);
                    return;
                }
            }
        }
        write_len(&mut self.buf, s.len() as u64);
        self.buf.extend_from_slice(s);
    }
}

enum Node<'a> {
    Plain(&'a [u8]),
    Packed(ListpackWriter),
}

/// Redis 7.0's `_quicklistNodeAllowInsert`: may an element of `sz` bytes join this node?
fn node_allows_insert(node: &ListpackWriter, fill: i64, sz: usize) -> bool {
    let mut overhead = if sz < 254 { 1 } else { 5 };
    overhead += if sz < 64 {
        1
    } else if sz < 16384 {
        2
    } else {
        5
    };
    let new_sz = node.size() + sz + overhead;
    if fill < 0 {
        let offset = (-fill - 1) as usize;
        if offset < OPTIMIZATION_LEVEL.len() {
            return new_sz <= OPTIMIZATION_LEVEL[offset];
        }
        return false;
    }
    new_sz <= SIZE_SAFETY_LIMIT && (node.len() as i64) < fill
}

/// `rdbSaveLen`: 6-bit, 14-bit (big-endian), 32-bit or 64-bit (big-endian) lengths.
pub(crate) fn write_len(buf: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        buf.push(n as u8);
    } else if n < 1 << 14 {
        buf.push(0x40 | (n >> 8) as u8);
        buf.push(n as u8);
    } else if n <= u32::MAX as u64 {
        buf.push(0x80);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        buf.push(0x81);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}
