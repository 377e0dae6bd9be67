//! List values.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::value::bytes_cost;

/// Per-element bookkeeping: the `Bytes` handle in the deque.
const ELEM_OVERHEAD: usize = 32;

/// A deque of elements: O(1) push/pop at both ends, O(1) index.
#[derive(Debug, Clone, Default)]
pub struct ListValue {
    items: VecDeque<Bytes>,
    bytes: usize,
}

impl ListValue {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    fn cost(b: &Bytes) -> usize {
        ELEM_OVERHEAD + bytes_cost(b.len())
    }
    pub fn push_front(&mut self, v: Bytes) {
        self.bytes += Self::cost(&v);
        self.items.push_front(v);
    }
    pub fn push_back(&mut self, v: Bytes) {
        self.bytes += Self::cost(&v);
        self.items.push_back(v);
    }
    pub fn pop_front(&mut self) -> Option<Bytes> {
        let v = self.items.pop_front()?;
        self.bytes -= Self::cost(&v);
        Some(v)
    }
    pub fn pop_back(&mut self) -> Option<Bytes> {
        let v = self.items.pop_back()?;
        self.bytes -= Self::cost(&v);
        Some(v)
    }
    pub fn get(&self, i: usize) -> Option<&Bytes> {
        self.items.get(i)
    }
    /// Replace element `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: Bytes) -> bool {
        let add = Self::cost(&v);
        match self.items.get_mut(i) {
            Some(slot) => {
                self.bytes = self.bytes - ELEM_OVERHEAD - bytes_cost(slot.len()) + add;
                *slot = v;
                true
            }
            None => false,
        }
    }
    pub fn insert(&mut self, i: usize, v: Bytes) {
        self.bytes += Self::cost(&v);
        self.items.insert(i, v);
    }
    pub fn remove(&mut self, i: usize) -> Option<Bytes> {
        let v = self.items.remove(i)?;
        self.bytes -= Self::cost(&v);
        Some(v)
    }
    /// Keep only `[start, end)`.
    pub fn retain_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.items.len());
        let start = start.min(end);
        self.items.truncate(end);
        self.items.drain(..start);
        self.bytes = self.items.iter().map(Self::cost).sum();
    }
    /// Keep the elements for which `keep` is true (used by LREM).
    pub fn retain(&mut self, mut keep: impl FnMut(&Bytes) -> bool) {
        self.items.retain(|b| keep(b));
        self.bytes = self.items.iter().map(Self::cost).sum();
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.items.iter()
    }
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &Bytes> {
        self.items.range(start..end)
    }

    /// Remove up to `limit` elements equal to `elem` (0 = all), scanning from the head, or from
    /// the tail when `from_tail` (LREM). Returns how many were removed.
    pub fn remove_matching(&mut self, elem: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0usize;
        let mut freed = 0usize;
        let mut keep = |b: &Bytes| {
            if (limit == 0 || removed < limit) && b[..] == *elem {
                removed += 1;
                freed += Self::cost(b);
                false
            } else {
                true
            }
        };
        if from_tail {
            // Walk from the tail: rebuild in order, deciding in reverse.
            let mut kept: VecDeque<Bytes> = VecDeque::with_capacity(self.items.len());
            while let Some(b) = self.items.pop_back() {
                if keep(&b) {
                    kept.push_front(b);
                }
            }
            self.items = kept;
        } else {
            self.items.retain(|b| keep(b));
        }
        self.bytes -= freed;
        removed
    }
    /// Position of the first element equal to `elem` (LINSERT's pivot).
    pub fn position(&self, elem: &[u8]) -> Option<usize> {
        self.items.iter().position(|b| b[..] == *elem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> ListValue {
        let mut l = ListValue::new();
        for i in items {
            l.push_back(Bytes::copy_from_slice(i.as_bytes()));
        }
        l
    }

    fn recount(l: &ListValue) -> usize {
        l.iter().map(ListValue::cost).sum()
    }

    #[test]
    fn remove_matching_keeps_bytes_exact() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 2, true), 2);
        assert_eq!(
            l.iter().map(|b| &b[..]).collect::<Vec<_>>(),
            vec![&b"a"[..], b"b", b"c"]
        );
        assert_eq!(l.bytes(), recount(&l));
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 2, false), 2);
        assert_eq!(
            l.iter().map(|b| &b[..]).collect::<Vec<_>>(),
            vec![&b"b"[..], b"c", b"a"]
        );
        assert_eq!(l.bytes(), recount(&l));
        assert_eq!(l.remove_matching(b"zz", 0, false), 0);
        assert_eq!(l.remove_matching(b"b", 0, false), 1);
        assert_eq!(l.bytes(), recount(&l));
        assert_eq!(l.position(b"a"), Some(1));
        assert_eq!(l.position(b"q"), None);
    }
}
