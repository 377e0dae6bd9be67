//! Sorted-set values.
//!
//! Two indexes over the same members: a hash map for member -> score in O(1), and a
//! [`RankedSet`] ordered by (score, member), Redis's order, for ranks and ranges: ZRANK, ZRANGE
//! by rank and the seek to a score or lex bound are all O(log n), which is what Momento's
//! leaderboards (a million elements, ranks in microseconds) stand on.

use std::cmp::Ordering;
use std::ops::Bound::{self, Excluded, Included, Unbounded};

use bytes::Bytes;
use indexmap::IndexMap;

use super::ranked::RankedSet;
use crate::value::bytes_cost;
use crate::FastBuild;

/// Per-member bookkeeping in the hash index: bucket (hash, `Bytes`, f64), index slot, and the
/// shared header a second reference to the member bytes needs. The ordered index's element
/// slots are counted by the `RankedSet` itself (`heap_bytes`); the member bytes are shared
/// (refcounted), charged once.
const MEMBER_OVERHEAD: usize = 8 + 32 + 8 + 8 + 16;

/// -0.0 and 0.0 compare equal in Redis; store 0.0 so the B-tree's total order agrees.
#[inline]
fn norm_zero(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x
    }
}

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
    ordered: RankedSet<(Score, Bytes)>,
    /// Member bytes and hash-index bookkeeping; [`ZSetValue::bytes`] adds the ordered index.
    bytes: usize,
}

impl ZSetValue {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bytes(&self) -> usize {
        self.bytes + self.ordered.heap_bytes()
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
        if let Some(prev) = self.set_score(&member, score) {
            return Some(prev);
        }
        let score = norm_zero(score);
        self.bytes += MEMBER_OVERHEAD + bytes_cost(member.len());
        self.scores.insert(member.clone(), score);
        self.ordered.insert((Score(score), member));
        None
    }
    /// Change the score of an existing member (no allocation: both indexes keep sharing the
    /// stored member bytes). Returns the previous score, or None (and does nothing) if absent.
    pub fn set_score(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let score = norm_zero(score);
        let (_, k, old) = self.scores.get_full_mut(member)?;
        let prev = *old;
        if prev != score {
            let k = k.clone();
            *old = score;
            self.ordered.remove(&(Score(prev), k.clone()));
            self.ordered.insert((Score(score), k));
        }
        Some(prev)
    }
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (k, score) = self.scores.swap_remove_entry(member)?;
        self.ordered.remove(&(Score(score), k.clone()));
        self.bytes -= MEMBER_OVERHEAD + bytes_cost(k.len());
        Some(score)
    }
    /// Ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.ordered.range(0, self.len()).map(|(s, m)| (m, s.0))
    }
    /// The ordered index's key for a member (shares the stored member bytes).
    fn key_of(&self, member: &[u8]) -> Option<(Score, Bytes)> {
        let (k, s) = self.scores.get_key_value(member)?;
        Some((Score(*s), k.clone()))
    }
    /// 0-based ascending rank, O(log n).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        self.ordered.rank(&self.key_of(member)?)
    }
    /// How many elements score below `score` (the competition rank of that score, ascending).
    pub fn count_below_score(&self, score: f64) -> usize {
        self.ordered
            .count_below(&(Score(norm_zero(score)), Bytes::new()))
    }
    /// How many elements score above `score` (its competition rank, descending).
    pub fn count_above_score(&self, score: f64) -> usize {
        let score = norm_zero(score);
        if score == f64::INFINITY {
            return 0;
        }
        self.len()
            - self
                .ordered
                .count_below(&(Score(score.next_up()), Bytes::new()))
    }
    /// Members in insertion-ish order with O(1) access by index, for ZRANDMEMBER / ZSCAN.
    pub fn get_index(&self, i: usize) -> Option<(&Bytes, f64)> {
        self.scores.get_index(i).map(|(k, v)| (k, *v))
    }
    /// Lowest (score, member).
    pub fn first(&self) -> Option<(&Bytes, f64)> {
        self.ordered.first().map(|(s, m)| (m, s.0))
    }
    /// Highest (score, member).
    pub fn last(&self) -> Option<(&Bytes, f64)> {
        self.ordered.last().map(|(s, m)| (m, s.0))
    }
    /// Remove and return the lowest element (ZPOPMIN).
    pub fn pop_min(&mut self) -> Option<(Bytes, f64)> {
        let (_, m) = self.ordered.first()?.clone();
        let score = self.remove(&m)?;
        Some((m, score))
    }
    /// Remove and return the highest element (ZPOPMAX).
    pub fn pop_max(&mut self) -> Option<(Bytes, f64)> {
        let (_, m) = self.ordered.last()?.clone();
        let score = self.remove(&m)?;
        Some((m, score))
    }
    /// 0-based descending rank (ZREVRANK), O(log n).
    pub fn rev_rank(&self, member: &[u8]) -> Option<usize> {
        Some(self.len() - 1 - self.rank(member)?)
    }
    /// Elements with ascending ranks in `[start, end)` (reversible), O(log n) to the first.
    pub fn range_by_rank(
        &self,
        start: usize,
        end: usize,
    ) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.ordered.range(start, end).map(|(s, m)| (m, s.0))
    }
    /// The ascending rank range `[start, end)` of the scores within the bounds.
    pub fn rank_range_by_score(&self, min: Bound<f64>, max: Bound<f64>) -> (usize, usize) {
        match score_bounds(min, max) {
            None => (0, 0),
            Some((lo, hi)) => self.ordered.rank_bounds(lo.as_ref(), hi.as_ref()),
        }
    }
    /// Elements with score in the given bounds, ascending (reversible). O(log n) to the first.
    pub fn range_by_score(
        &self,
        min: Bound<f64>,
        max: Bound<f64>,
    ) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        let (start, end) = self.rank_range_by_score(min, max);
        self.range_by_rank(start, end)
    }
    /// Elements whose member is within the lex bounds. Like Redis, lex ranges assume every
    /// element has the same score: then this is an O(log n) seek in member order. With mixed
    /// scores (unspecified in Redis) it yields, in score order, the members within the bounds.
    pub fn range_by_lex<'a>(
        &'a self,
        min: LexBound<'_>,
        max: LexBound<'_>,
    ) -> Box<dyn DoubleEndedIterator<Item = (&'a Bytes, f64)> + 'a> {
        let (Some(first), Some(last)) = (self.ordered.first(), self.ordered.last()) else {
            return Box::new(std::iter::empty());
        };
        if lex_range_empty(&min, &max) {
            return Box::new(std::iter::empty());
        }
        if first.0 == last.0 {
            let s = first.0;
            let lo = match min {
                LexBound::NegInf => Unbounded,
                LexBound::PosInf => return Box::new(std::iter::empty()),
                LexBound::Incl(m) => Included((s, Bytes::copy_from_slice(m))),
                LexBound::Excl(m) => Excluded((s, Bytes::copy_from_slice(m))),
            };
            let hi = match max {
                LexBound::PosInf => Unbounded,
                LexBound::NegInf => return Box::new(std::iter::empty()),
                LexBound::Incl(m) => Included((s, Bytes::copy_from_slice(m))),
                LexBound::Excl(m) => Excluded((s, Bytes::copy_from_slice(m))),
            };
            let (start, end) = self.ordered.rank_bounds(lo.as_ref(), hi.as_ref());
            return Box::new(self.range_by_rank(start, end));
        }
        let min = min.to_owned();
        let max = max.to_owned();
        Box::new(
            self.iter()
                .filter(move |(m, _)| min.as_ref().le_min(m) && max.as_ref().ge_max(m)),
        )
    }
}

/// A ZRANGEBYLEX bound: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexBound<'a> {
    NegInf,
    PosInf,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

impl<'a> LexBound<'a> {
    /// Parse Redis's lex range item syntax; None when invalid.
    pub fn parse(b: &'a [u8]) -> Option<Self> {
        match b.first()? {
            b'-' if b.len() == 1 => Some(LexBound::NegInf),
            b'+' if b.len() == 1 => Some(LexBound::PosInf),
            b'[' => Some(LexBound::Incl(&b[1..])),
            b'(' => Some(LexBound::Excl(&b[1..])),
            _ => None,
        }
    }
    /// Is `m` at or above this bound used as a minimum?
    pub fn le_min(&self, m: &[u8]) -> bool {
        match *self {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m >= b,
            LexBound::Excl(b) => m > b,
        }
    }
    /// Is `m` at or below this bound used as a maximum?
    pub fn ge_max(&self, m: &[u8]) -> bool {
        match *self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= b,
            LexBound::Excl(b) => m < b,
        }
    }
    fn to_owned(self) -> OwnedLexBound {
        match self {
            LexBound::NegInf => OwnedLexBound::NegInf,
            LexBound::PosInf => OwnedLexBound::PosInf,
            LexBound::Incl(b) => OwnedLexBound::Incl(b.to_vec()),
            LexBound::Excl(b) => OwnedLexBound::Excl(b.to_vec()),
        }
    }
}

enum OwnedLexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl OwnedLexBound {
    fn as_ref(&self) -> LexBound<'_> {
        match self {
            OwnedLexBound::NegInf => LexBound::NegInf,
            OwnedLexBound::PosInf => LexBound::PosInf,
            OwnedLexBound::Incl(b) => LexBound::Incl(b),
            OwnedLexBound::Excl(b) => LexBound::Excl(b),
        }
    }
}

/// Redis's zslIsInLexRange pre-check: an inverted or empty-exclusive range selects nothing.
fn lex_range_empty(min: &LexBound<'_>, max: &LexBound<'_>) -> bool {
    use LexBound::*;
    match (min, max) {
        (PosInf, _) | (_, NegInf) => true,
        (NegInf, _) | (_, PosInf) => false,
        (Incl(a), Incl(b)) => a > b,
        (Incl(a), Excl(b)) | (Excl(a), Incl(b)) | (Excl(a), Excl(b)) => a >= b,
    }
}

type ScoreKey = (Score, Bytes);

/// B-tree bounds selecting exactly the scores within `min..max`; None when nothing can match.
/// Lower bounds become `Included((s, ""))` (the empty member sorts first), upper bounds
/// `Excluded((s, ""))`, using the next representable double for the inclusive/exclusive flip.
fn score_bounds(min: Bound<f64>, max: Bound<f64>) -> Option<(Bound<ScoreKey>, Bound<ScoreKey>)> {
    // -0.0 is stored as 0.0 (see insert); bounds must agree for the total order.
    let norm = norm_zero;
    let key = |x: f64| (Score(norm(x)), Bytes::new());
    let lo = match min {
        Unbounded => Unbounded,
        Included(m) => Included(key(m)),
        Excluded(m) if m == f64::INFINITY => return None,
        Excluded(m) => Included(key(norm(m).next_up())),
    };
    let hi = match max {
        Unbounded => Unbounded,
        Included(m) if m == f64::INFINITY => Unbounded,
        Included(m) => Excluded(key(norm(m).next_up())),
        Excluded(m) => Excluded(key(m)),
    };
    if let (Included(a), Excluded(b)) = (&lo, &hi) {
        if a > b {
            return None;
        }
    }
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(items: &[(&str, f64)]) -> ZSetValue {
        let mut z = ZSetValue::new();
        for (m, s) in items {
            z.insert(Bytes::copy_from_slice(m.as_bytes()), *s);
        }
        z
    }

    fn names<'a>(it: impl Iterator<Item = (&'a Bytes, f64)>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    #[test]
    fn score_ranges_respect_exclusive_bounds() {
        let z = z(&[
            ("a", 1.0),
            ("b", 2.0),
            ("c", 2.0),
            ("d", 3.0),
            ("e", f64::INFINITY),
        ]);
        assert_eq!(
            names(z.range_by_score(Included(2.0), Included(2.0))),
            ["b", "c"]
        );
        assert_eq!(
            names(z.range_by_score(Excluded(1.0), Excluded(3.0))),
            ["b", "c"]
        );
        assert_eq!(
            names(z.range_by_score(Excluded(1.0), Unbounded).rev()),
            ["e", "d", "c", "b"]
        );
        assert_eq!(
            names(z.range_by_score(Included(3.0), Included(f64::INFINITY))),
            ["d", "e"]
        );
        assert_eq!(
            names(z.range_by_score(Excluded(f64::INFINITY), Unbounded)),
            Vec::<String>::new()
        );
        assert_eq!(
            names(z.range_by_score(Included(3.0), Included(1.0))),
            Vec::<String>::new()
        );
        assert_eq!(
            names(z.range_by_score(Excluded(2.0), Excluded(2.0))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn lex_ranges_and_ranks() {
        let z = z(&[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)]);
        let lb = |s: &'static str| LexBound::parse(s.as_bytes()).unwrap();
        assert_eq!(names(z.range_by_lex(lb("[b"), lb("(d"))), ["b", "c"]);
        assert_eq!(
            names(z.range_by_lex(lb("-"), lb("+")).rev()),
            ["d", "c", "b", "a"]
        );
        assert_eq!(
            names(z.range_by_lex(lb("(b"), lb("(b"))),
            Vec::<String>::new()
        );
        assert_eq!(
            names(z.range_by_lex(lb("+"), lb("-"))),
            Vec::<String>::new()
        );
        assert!(LexBound::parse(b"b").is_none() && LexBound::parse(b"-x").is_none());
        assert_eq!(names(z.range_by_rank(1, 3)), ["b", "c"]);
        assert_eq!(names(z.range_by_rank(1, 3).rev()), ["c", "b"]);
        assert_eq!((z.rank(b"c"), z.rev_rank(b"c")), (Some(2), Some(1)));
        let mixed = super::tests::z(&[("a", 2.0), ("b", 1.0), ("c", 0.0)]);
        assert_eq!(names(mixed.range_by_lex(lb("[b"), lb("+"))), ["c", "b"]);
    }

    #[test]
    fn bytes_return_to_zero() {
        let mut z = z(&[("a", 1.0), ("bb", 2.0), ("ccc", 3.0)]);
        assert!(z.bytes() > 0);
        z.insert(Bytes::from_static(b"a"), 5.0);
        assert_eq!(z.pop_min(), Some((Bytes::from_static(b"bb"), 2.0)));
        assert_eq!(z.pop_max(), Some((Bytes::from_static(b"a"), 5.0)));
        assert_eq!(z.remove(b"ccc"), Some(3.0));
        assert!(z.is_empty());
        assert_eq!(z.bytes(), 0);
    }
}
