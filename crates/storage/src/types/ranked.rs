//! An ordered set with ranks in O(log n): what Momento's leaderboards need (GetRank and
//! GetByRank over a million elements in microseconds, issue 16) and what would make ZRANK
//! O(log n) (it walks a B-tree today, see `zset.rs`).
//!
//! Layout: the elements, sorted, in chunks of at most `2 * LOAD` (Python's `SortedList` idea),
//! the last element of each chunk in `maxes` (binary search finds the chunk), and a Fenwick tree
//! over the chunk lengths (prefix counts, so the rank of a chunk's first element and the chunk
//! holding rank r are O(log chunks)). Inserting or removing moves at most a chunk's elements
//! (contiguous, cache-friendly), and a split or merge rebuilds the Fenwick tree, which happens
//! once per ~LOAD changes. No pointers and no unsafe, unlike a skip list with spans.

use std::ops::Bound;

/// Target chunk length; a chunk splits past twice this and merges with a neighbour when it
/// falls under half of it.
const LOAD: usize = 256;

#[derive(Debug)]
pub struct RankedSet<K> {
    chunks: Vec<Vec<K>>,
    maxes: Vec<K>,
    /// Fenwick tree over `chunks[i].len()` (1-based inside).
    tree: Vec<usize>,
    len: usize,
    /// Element slots allocated in `chunks` and `maxes` (their capacities), kept current by every
    /// change so that [`RankedSet::heap_bytes`] is O(1): the memory budget asks after each write.
    slots: usize,
}

impl<K: Ord + Clone> Clone for RankedSet<K> {
    /// A clone's vectors are allocated to their lengths, so its slot count is its own.
    fn clone(&self) -> Self {
        let mut c = Self {
            chunks: self.chunks.clone(),
            maxes: self.maxes.clone(),
            tree: self.tree.clone(),
            len: self.len,
            slots: 0,
        };
        c.recount();
        c
    }
}

impl<K: Ord + Clone> Default for RankedSet<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone> RankedSet<K> {
    pub fn new() -> Self {
        Self {
            chunks: Vec::new(),
            maxes: Vec::new(),
            tree: Vec::new(),
            len: 0,
            slots: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements allocated for (capacity), for memory accounting.
    pub fn capacity(&self) -> usize {
        self.slots
    }

    /// Heap bytes held: element slots (chunks and their maxima), the chunk table and the
    /// Fenwick tree. O(1).
    pub fn heap_bytes(&self) -> usize {
        self.slots * std::mem::size_of::<K>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<K>>()
            + self.tree.capacity() * std::mem::size_of::<usize>()
    }

    fn recount(&mut self) {
        self.slots = self.chunks.iter().map(Vec::capacity).sum::<usize>() + self.maxes.capacity();
    }

    /// After a split or merge: the Fenwick tree and the slot count from scratch (O(chunks),
    /// once per ~LOAD changes).
    fn rebuild(&mut self) {
        if self.chunks.is_empty() {
            // Emptied: hold nothing (an empty set costs no heap, as the budget expects).
            *self = Self::new();
            return;
        }
        self.recount();
        let n = self.chunks.len();
        self.tree = vec![0; n + 1];
        for (i, c) in self.chunks.iter().enumerate() {
            let mut j = i + 1;
            while j <= n {
                self.tree[j] += c.len();
                j += j & j.wrapping_neg();
            }
        }
    }

    fn add(&mut self, chunk: usize, delta: isize) {
        let mut j = chunk + 1;
        while j < self.tree.len() {
            self.tree[j] = (self.tree[j] as isize + delta) as usize;
            j += j & j.wrapping_neg();
        }
    }

    /// Elements in chunks before `chunk`.
    fn before(&self, chunk: usize) -> usize {
        let (mut j, mut sum) = (chunk, 0);
        while j > 0 {
            sum += self.tree[j];
            j &= j - 1;
        }
        sum
    }

    /// The chunk holding rank `r` (< len) and `r`'s offset inside it.
    fn locate(&self, mut r: usize) -> (usize, usize) {
        let n = self.chunks.len();
        let mut pos = 0;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= r {
                pos = next;
                r -= self.tree[next];
            }
            step >>= 1;
        }
        (pos, r)
    }

    /// The chunk `k` belongs in: the first whose maximum is ≥ k (the last one if none).
    fn chunk_for(&self, k: &K) -> usize {
        self.maxes
            .partition_point(|m| m < k)
            .min(self.chunks.len().saturating_sub(1))
    }

    /// Insert `k`; false (and nothing changes) when it is already there.
    pub fn insert(&mut self, k: K) -> bool {
        if self.chunks.is_empty() {
            self.maxes.push(k.clone());
            self.chunks.push(vec![k]);
            self.len = 1;
            self.rebuild();
            return true;
        }
        let i = self.chunk_for(&k);
        let c = &mut self.chunks[i];
        let at = match c.binary_search(&k) {
            Ok(_) => return false,
            Err(at) => at,
        };
        let cap = c.capacity();
        c.insert(at, k);
        self.slots += c.capacity() - cap;
        if at + 1 == c.len() {
            self.maxes[i] = c[at].clone();
        }
        self.len += 1;
        if c.len() > 2 * LOAD {
            let tail = c.split_off(LOAD);
            // The head keeps the capacity it grew to (up to 4 * LOAD); give the slack back.
            c.shrink_to_fit();
            self.maxes[i] = self.chunks[i][LOAD - 1].clone();
            self.maxes.insert(i + 1, tail[tail.len() - 1].clone());
            self.chunks.insert(i + 1, tail);
            self.rebuild();
        } else {
            self.add(i, 1);
        }
        true
    }

    /// Remove `k`; false when it was not there.
    pub fn remove(&mut self, k: &K) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let i = self.chunk_for(k);
        let Ok(at) = self.chunks[i].binary_search(k) else {
            return false;
        };
        self.chunks[i].remove(at);
        self.len -= 1;
        let c = &self.chunks[i];
        if c.is_empty() {
            self.chunks.remove(i);
            self.maxes.remove(i);
            self.rebuild();
        } else if c.len() < LOAD / 2 && self.chunks.len() > 1 {
            // Merge with a neighbour (the next one, or the previous for the last chunk), then
            // split again if the result is too long.
            let (a, b) = if i + 1 < self.chunks.len() {
                (i, i + 1)
            } else {
                (i - 1, i)
            };
            let moved = self.chunks.remove(b);
            self.maxes.remove(b);
            self.chunks[a].extend(moved);
            if self.chunks[a].len() > 2 * LOAD {
                let half = self.chunks[a].len() / 2;
                let tail = self.chunks[a].split_off(half);
                self.chunks[a].shrink_to_fit();
                self.maxes.insert(a + 1, tail[tail.len() - 1].clone());
                self.chunks.insert(a + 1, tail);
            }
            self.maxes[a] = self.chunks[a][self.chunks[a].len() - 1].clone();
            self.rebuild();
        } else {
            self.maxes[i] = c[c.len() - 1].clone();
            self.add(i, -1);
        }
        true
    }

    /// Rank of `k` (0 = smallest), None when it is not there.
    pub fn rank(&self, k: &K) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let i = self.chunk_for(k);
        let at = self.chunks[i].binary_search(k).ok()?;
        Some(self.before(i) + at)
    }

    /// How many elements are < `k` (the rank `k` would have): for ranges by value.
    pub fn count_below(&self, k: &K) -> usize {
        let i = self.maxes.partition_point(|m| m < k);
        if i == self.chunks.len() {
            return self.len;
        }
        self.before(i) + self.chunks[i].partition_point(|e| e < k)
    }

    /// The element at rank `r`.
    pub fn get(&self, r: usize) -> Option<&K> {
        if r >= self.len {
            return None;
        }
        let (i, at) = self.locate(r);
        self.chunks[i].get(at)
    }

    /// Elements with ranks in `[start, end)` (clamped to the length), ascending; `.rev()`
    /// walks them descending. O(log n) to the first element, then O(1) per element.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &K> + '_ {
        let end = end.min(self.len);
        let start = start.min(end);
        let (chunks, first, last) = if start == end {
            (&self.chunks[..0], (0, 0), (0, 0))
        } else {
            let first = self.locate(start);
            let last = self.locate(end - 1);
            (&self.chunks[first.0..=last.0], first, last)
        };
        let final_chunk = last.0 - first.0;
        chunks.iter().enumerate().flat_map(move |(n, c)| {
            let lo = if n == 0 { first.1 } else { 0 };
            let hi = if n == final_chunk {
                last.1 + 1
            } else {
                c.len()
            };
            c[lo..hi].iter()
        })
    }

    /// The rank range `[start, end)` of the elements within `lo..hi` (by value).
    pub fn rank_bounds(&self, lo: Bound<&K>, hi: Bound<&K>) -> (usize, usize) {
        let start = match lo {
            Bound::Unbounded => 0,
            Bound::Included(k) => self.count_below(k),
            Bound::Excluded(k) => self.count_below(k) + usize::from(self.rank(k).is_some()),
        };
        let end = match hi {
            Bound::Unbounded => self.len,
            Bound::Included(k) => self.count_below(k) + usize::from(self.rank(k).is_some()),
            Bound::Excluded(k) => self.count_below(k),
        };
        (start, end.max(start))
    }

    /// Elements from rank `from` on, ascending.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &K> + '_ {
        self.range(from, self.len)
    }

    /// Elements down from rank `from` (clamped to the last), descending.
    pub fn iter_down_from(&self, from: usize) -> impl Iterator<Item = &K> + '_ {
        self.range(0, from.saturating_add(1)).rev()
    }

    /// The smallest element.
    pub fn first(&self) -> Option<&K> {
        self.chunks.first().and_then(|c| c.first())
    }

    /// The largest element.
    pub fn last(&self) -> Option<&K> {
        self.maxes.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u16>().prop_map(|k| Op::Insert(k % 4000)),
            1 => any::<u16>().prop_map(|k| Op::Remove(k % 4000)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_a_btreeset(ops in proptest::collection::vec(op(), 0..3000), probe in any::<u16>()) {
            let mut s = RankedSet::new();
            let mut m = BTreeSet::new();
            for o in ops {
                match o {
                    Op::Insert(k) => prop_assert_eq!(s.insert(k), m.insert(k)),
                    Op::Remove(k) => prop_assert_eq!(s.remove(&k), m.remove(&k)),
                }
            }
            prop_assert_eq!(s.len(), m.len());
            let sorted: Vec<u16> = m.iter().copied().collect();
            prop_assert_eq!(s.iter_from(0).copied().collect::<Vec<_>>(), sorted.clone());
            for (r, k) in sorted.iter().enumerate() {
                prop_assert_eq!(s.rank(k), Some(r));
                prop_assert_eq!(s.get(r), Some(k));
            }
            prop_assert_eq!(s.get(sorted.len()), None);
            let probe = probe % 4000;
            prop_assert_eq!(s.count_below(&probe), m.range(..probe).count());
            let from = (probe as usize) % (sorted.len() + 1);
            prop_assert_eq!(
                s.iter_from(from).copied().collect::<Vec<_>>(),
                sorted[from..].to_vec()
            );
            let down: Vec<u16> = s.iter_down_from(from).copied().collect();
            let want: Vec<u16> = if sorted.is_empty() {
                vec![]
            } else {
                sorted[..=from.min(sorted.len() - 1)].iter().rev().copied().collect()
            };
            prop_assert_eq!(down, want);
            let to = (probe as usize / 7) % (sorted.len() + 2);
            let (a, b) = (from.min(to), from.max(to));
            let want: Vec<u16> = sorted[a.min(sorted.len())..b.min(sorted.len())].to_vec();
            prop_assert_eq!(s.range(a, b).copied().collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(
                s.range(a, b).rev().copied().collect::<Vec<_>>(),
                want.iter().rev().copied().collect::<Vec<_>>()
            );
            let (lo, hi) = (probe.min(probe / 3 + 5), probe.max(probe / 3 + 5));
            for (l, h) in [
                (Bound::Included(&lo), Bound::Excluded(&hi)),
                (Bound::Excluded(&lo), Bound::Included(&hi)),
                (Bound::Unbounded, Bound::Included(&hi)),
                (Bound::Excluded(&lo), Bound::Unbounded),
            ] {
                let (r0, r1) = s.rank_bounds(l, h);
                prop_assert_eq!(r1 - r0, m.range::<u16, _>((l, h)).count());
                prop_assert_eq!(
                    s.range(r0, r1).copied().collect::<Vec<_>>(),
                    m.range::<u16, _>((l, h)).copied().collect::<Vec<_>>()
                );
            }
            prop_assert_eq!(s.first(), m.first());
            prop_assert_eq!(s.last(), m.last());
            let slots = s.capacity();
            let mut recounted = s.clone();
            recounted.recount();
            prop_assert_eq!(recounted.capacity(), s.clone().capacity());
            s.recount();
            prop_assert_eq!(s.capacity(), slots, "the running slot count drifted");
            for k in sorted {
                s.remove(&k);
            }
            prop_assert_eq!(s.heap_bytes(), 0);
        }
    }

    #[test]
    fn a_million_ranks() {
        let mut s = RankedSet::new();
        for i in (0..1_000_000u32).rev() {
            s.insert((i.wrapping_mul(2_654_435_761), i));
        }
        assert_eq!(s.len(), 1_000_000);
        let k = *s.get(123_456).unwrap();
        assert_eq!(s.rank(&k), Some(123_456));
        for r in (0..1_000_000).step_by(99_991) {
            let k = *s.get(r).unwrap();
            assert_eq!(s.rank(&k), Some(r));
            assert!(s.remove(&k));
            assert_eq!(s.rank(&k), None);
            assert!(s.insert(k));
        }
    }
}
