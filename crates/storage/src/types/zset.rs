//! Sorted-set values.
//!
//! Two indexes over the same members: a hash map for member -> score in O(1), and a B-tree
//! ordered by (score, member), Redis's order, for ranges. Ranks walk the B-tree (O(rank));
//! an order-statistic tree would make them O(log n) and is a known follow-up for huge zsets.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use bytes::Bytes;
use indexmap::IndexMap;

use crate::value::bytes_cost;
use crate::FastBuild;

/// Per-member bookkeeping: map bucket (hash, `Bytes`, f64) + B-tree element (f64, `Bytes`) +
/// amortised B-tree node overhead. The member bytes are shared (refcounted), charged once.
const MEMBER_OVERHEAD: usize = 8 + 32 + 8 + 8 + 40 + 16;

/// A score with a total order (NaN never gets in: commands reject it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ZSetValue {
    scores: IndexMap<Bytes, f64, FastBuild>,
    ordered: BTreeSet<(Score, Bytes)>,
    bytes: usize,
}

impl ZSetValue {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }
    /// Insert or update; returns the previous score.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        // -0.0 and 0.0 compare equal in Redis; normalise so the B-tree order agrees.
        let score = if score == 0.0 { 0.0 } else { score };
        match self.scores.get_mut(&member[..]) {
            Some(old) => {
                let prev = *old;
                if prev != score {
                    self.ordered.remove(&(Score(prev), member.clone()));
                    self.ordered.insert((Score(score), member));
                    *old = score;
                }
                Some(prev)
            }
            None => {
                self.bytes += MEMBER_OVERHEAD + bytes_cost(member.len());
                self.scores.insert(member.clone(), score);
                self.ordered.insert((Score(score), member));
                None
            }
        }
    }
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (k, score) = self.scores.swap_remove_entry(member)?;
        self.ordered.remove(&(Score(score), k.clone()));
        self.bytes -= MEMBER_OVERHEAD + bytes_cost(k.len());
        Some(score)
    }
    /// Ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.ordered.iter().map(|(s, m)| (m, s.0))
    }
    /// 0-based ascending rank.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.ordered.range(..(Score(score), Bytes::copy_from_slice(member))).count())
    }
    /// Members in insertion-ish order with O(1) access by index, for ZRANDMEMBER / ZSCAN.
    pub fn get_index(&self, i: usize) -> Option<(&Bytes, f64)> {
        self.scores.get_index(i).map(|(k, v)| (k, *v))
    }
    /// Elements with score in the given bounds, ascending.
    pub fn range_by_score(
        &self,
        min: std::ops::Bound<f64>,
        max: std::ops::Bound<f64>,
    ) -> impl Iterator<Item = (&Bytes, f64)> {
        use std::ops::Bound::*;
        let in_min = move |s: f64| match min {
            Included(m) => s >= m,
            Excluded(m) => s > m,
            Unbounded => true,
        };
        let in_max = move |s: f64| match max {
            Included(m) => s <= m,
            Excluded(m) => s < m,
            Unbounded => true,
        };
        let lo = match min {
            Included(m) | Excluded(m) => Included((Score(m), Bytes::new())),
            Unbounded => Unbounded,
        };
        self.ordered
            .range((lo, Unbounded))
            .map(|(s, m)| (m, s.0))
            .skip_while(move |(_, s)| !in_min(*s))
            .take_while(move |(_, s)| in_max(*s))
    }
}
