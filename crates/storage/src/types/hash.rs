//! Dictionary (Redis hash) values.

use bytes::Bytes;
use indexmap::IndexMap;

use crate::value::bytes_cost;
use crate::FastBuild;

/// Per-field bookkeeping charged on top of the field and value bytes: the index-map bucket
/// (hash + two `Bytes`) and its slot in the hash table.
const FIELD_OVERHEAD: usize = 8 + 2 * 32 + 8;

/// An insertion-ordered map. Ordered storage gives O(1) random access, which HRANDFIELD and a
/// stable HSCAN cursor (visit indices downward, see `Shard::scan`) need.
#[derive(Debug, Clone, Default)]
pub struct HashValue {
    map: IndexMap<Bytes, Bytes, FastBuild>,
    bytes: usize,
}

impl HashValue {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        self.map.get(field)
    }
    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.contains_key(field)
    }
    /// Insert or replace; returns true when the field is new.
    pub fn insert(&mut self, field: Bytes, value: Bytes) -> bool {
        let add = bytes_cost(value.len());
        match self.map.get_mut(&field[..]) {
            Some(old) => {
                self.bytes = self.bytes - bytes_cost(old.len()) + add;
                *old = value;
                false
            }
            None => {
                self.bytes += FIELD_OVERHEAD + bytes_cost(field.len()) + add;
                self.map.insert(field, value);
                true
            }
        }
    }
    pub fn remove(&mut self, field: &[u8]) -> Option<Bytes> {
        let (k, v) = self.map.swap_remove_entry(field)?;
        self.bytes -= FIELD_OVERHEAD + bytes_cost(k.len()) + bytes_cost(v.len());
        Some(v)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.map.iter()
    }
    pub fn get_index(&self, i: usize) -> Option<(&Bytes, &Bytes)> {
        self.map.get_index(i)
    }
}
