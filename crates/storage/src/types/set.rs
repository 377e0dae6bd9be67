//! Set values.

use bytes::Bytes;
use indexmap::IndexSet;

use crate::value::bytes_cost;
use crate::FastBuild;

/// Per-member bookkeeping: the index-set bucket (hash + `Bytes`) and its table slot.
const MEMBER_OVERHEAD: usize = 8 + 32 + 8;

/// An index set: O(1) membership plus O(1) random access for SPOP/SRANDMEMBER and stable SSCAN.
#[derive(Debug, Clone, Default)]
pub struct SetValue {
    members: IndexSet<Bytes, FastBuild>,
    bytes: usize,
}

impl SetValue {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.members.len()
    }
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    pub fn contains(&self, m: &[u8]) -> bool {
        self.members.contains(m)
    }
    /// Returns true when the member is new.
    pub fn insert(&mut self, m: Bytes) -> bool {
        let cost = MEMBER_OVERHEAD + bytes_cost(m.len());
        let added = self.members.insert(m);
        if added {
            self.bytes += cost;
        }
        added
    }
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.members.swap_remove_full(m) {
            Some((_, k)) => {
                self.bytes -= MEMBER_OVERHEAD + bytes_cost(k.len());
                true
            }
            None => false,
        }
    }
    pub fn get_index(&self, i: usize) -> Option<&Bytes> {
        self.members.get_index(i)
    }
    pub fn swap_remove_index(&mut self, i: usize) -> Option<Bytes> {
        let k = self.members.swap_remove_index(i)?;
        self.bytes -= MEMBER_OVERHEAD + bytes_cost(k.len());
        Some(k)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.members.iter()
    }
    /// Keep only the members for which `keep` is true (SDIFF/SINTER filtering).
    pub fn retain(&mut self, mut keep: impl FnMut(&Bytes) -> bool) {
        let mut freed = 0;
        self.members.retain(|m| {
            let k = keep(m);
            if !k {
                freed += MEMBER_OVERHEAD + bytes_cost(m.len());
            }
            k
        });
        self.bytes -= freed;
    }
    /// Remove every member.
    pub fn clear(&mut self) {
        self.members.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_accounting_follows_members() {
        let mut s = SetValue::new();
        assert!(s.insert(Bytes::from_static(b"a")));
        assert!(!s.insert(Bytes::from_static(b"a")));
        assert!(s.insert(Bytes::from_static(b"bb")));
        assert!(s.insert(Bytes::from_static(b"ccc")));
        let one = |n| MEMBER_OVERHEAD + bytes_cost(n);
        assert_eq!(s.bytes(), one(1) + one(2) + one(3));
        s.retain(|m| m.len() != 2);
        assert_eq!(s.bytes(), one(1) + one(3));
        assert_eq!(s.swap_remove_index(0).as_deref(), Some(&b"a"[..]));
        assert_eq!(s.bytes(), one(3));
        assert!(s.remove(b"ccc"));
        assert_eq!(s.bytes(), 0);
        s.insert(Bytes::from_static(b"x"));
        s.clear();
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }
}
