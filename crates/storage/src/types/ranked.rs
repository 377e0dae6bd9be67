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

/// Target chunk length; a chunk splits past twice this and merges with a neighbour when it
/// falls under half of it.
const LOAD: usize = 256;

#[derive(Debug, Clone)]
pub struct RankedSet<K> {
    chunks: Vec<Vec<K>>,
    maxes: Vec<K>,
    /// Fenwick tree over `chunks[i].len()` (1-based inside).
    tree: Vec<usize>,
    len: usize,
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
            tree: vec![0],
            len: 0,
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
        self.chunks.iter().map(Vec::capacity).sum::<usize>() + self.maxes.capacity()
    }

    fn rebuild(&mut self) {
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
        c.insert(at, k);
        if at + 1 == c.len() {
            self.maxes[i] = c[at].clone();
        }
        self.len += 1;
        if c.len() > 2 * LOAD {
            let tail = c.split_off(LOAD);
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

    /// Elements from rank `from` on, ascending.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &K> + '_ {
        let (i, at) = if from >= self.len {
            (self.chunks.len(), 0)
        } else {
            self.locate(from)
        };
        self.chunks
            .iter()
            .skip(i)
            .enumerate()
            .flat_map(move |(n, c)| c[if n == 0 { at } else { 0 }..].iter())
    }

    /// Elements down from rank `from`, descending.
    pub fn iter_down_from(&self, from: usize) -> impl Iterator<Item = &K> + '_ {
        let (i, at) = if self.len == 0 {
            (0, None)
        } else {
            let (i, at) = self.locate(from.min(self.len - 1));
            (i, Some(at))
        };
        let head = at.map_or(0, |_| i + 1);
        self.chunks[..head]
            .iter()
            .rev()
            .enumerate()
            .flat_map(move |(n, c)| {
                let end = if n == 0 {
                    at.map_or(0, |a| a + 1)
                } else {
                    c.len()
                };
                c[..end].iter().rev()
            })
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
