//! The values an item can hold, and what they cost in memory.
//!
//! Every collection type keeps a running `bytes` total that its own mutating methods maintain, so
//! the size of an entry is O(1) to compute after any operation. The shard charges the difference
//! to the memory budget when a mutable borrow of an entry ends (see `shard::EntryMut`).

use bytes::Bytes;
use ferrite_rdb::{Int64Str, Thresholds};

pub use crate::types::hash::HashValue;
pub use crate::types::list::ListValue;
pub use crate::types::set::SetValue;
pub use crate::types::stream::{StreamId, StreamValue};
pub use crate::types::zset::ZSetValue;

/// Heap bytes we charge per allocation on top of its payload: glibc malloc's chunk header and
/// rounding. An estimate, but a stable one, so accounting tracks RSS closely enough to bound it.
pub const ALLOC_OVERHEAD: usize = 16;

/// Build an exact-size, owned copy of bytes that came from a connection's read buffer.
///
/// Why copy: argument `Bytes` are slices of a shared read buffer; keeping one alive would pin the
/// whole buffer (up to its full capacity) while the accounting only sees the slice.
#[inline]
pub fn owned(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

/// Charge for one `Bytes` payload held somewhere in a collection.
#[inline]
pub fn bytes_cost(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len + ALLOC_OVERHEAD
    }
}

/// The kind of a value, as Redis's TYPE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    Hash,
    List,
    Set,
    ZSet,
    Stream,
}

impl ValueKind {
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Hash => "hash",
            ValueKind::List => "list",
            ValueKind::Set => "set",
            ValueKind::ZSet => "zset",
            ValueKind::Stream => "stream",
        }
    }
}

/// An item's value. Collections are boxed so the common case (a scalar) keeps the entry small.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Bytes),
    Hash(Box<HashValue>),
    List(Box<ListValue>),
    Set(Box<SetValue>),
    ZSet(Box<ZSetValue>),
    Stream(Box<StreamValue>),
}

impl Value {
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Str(_) => ValueKind::String,
            Value::Hash(_) => ValueKind::Hash,
            Value::List(_) => ValueKind::List,
            Value::Set(_) => ValueKind::Set,
            Value::ZSet(_) => ValueKind::ZSet,
            Value::Stream(_) => ValueKind::Stream,
        }
    }

    /// Heap bytes the value owns (not counting the entry itself).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(b) => bytes_cost(b.len()),
            Value::Hash(h) => h.bytes() + std::mem::size_of::<HashValue>() + ALLOC_OVERHEAD,
            Value::List(l) => l.bytes() + std::mem::size_of::<ListValue>() + ALLOC_OVERHEAD,
            Value::Set(s) => s.bytes() + std::mem::size_of::<SetValue>() + ALLOC_OVERHEAD,
            Value::ZSet(z) => z.bytes() + std::mem::size_of::<ZSetValue>() + ALLOC_OVERHEAD,
            Value::Stream(x) => x.bytes() + std::mem::size_of::<StreamValue>() + ALLOC_OVERHEAD,
        }
    }

    /// A collection with no elements: Redis never keeps those, and neither do we. Streams are
    /// the exception, as in Redis: an empty stream keeps its last ID and groups.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) | Value::Stream(_) => false,
            Value::Hash(h) => h.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }

    /// Redis 7.0's OBJECT ENCODING name for the value under the default thresholds.
    pub fn encoding(&self) -> &'static str {
        self.encoding_with(&Thresholds::default())
    }

    /// Redis 7.0's OBJECT ENCODING name, chosen by size under `t` the way Redis chooses (and the
    /// encoding DUMP writes), so tools that look at encodings see familiar answers.
    pub fn encoding_with(&self, t: &Thresholds) -> &'static str {
        match self {
            Value::Str(b) => {
                if b.len() <= 20 && b[..].parse_canonical_i64().is_some() {
                    "int"
                } else if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Hash(h) => {
                let longest = h.iter().map(|(f, v)| f.len().max(v.len())).max();
                t.hash_encoding(h.len(), longest.unwrap_or(0))
            }
            Value::List(_) => t.list_encoding(),
            Value::Set(s) => {
                let ints = s.len() <= t.set_max_intset_entries
                    && s.iter().all(|m| m[..].parse_canonical_i64().is_some());
                t.set_encoding(s.len(), ints)
            }
            Value::ZSet(z) => {
                let longest = z.iter().map(|(m, _)| m.len()).max();
                t.zset_encoding(z.len(), longest.unwrap_or(0))
            }
            Value::Stream(_) => "stream",
        }
    }
}
