//! Momento lists (Redis lists) on an admitted [`Op`]. Index ranges follow Python slicing
//! ([`py_range`]): start inclusive, end exclusive, negative indexes count from the end,
//! out-of-range indexes are clamped and a reversed range is empty; an absent bound is
//! unbounded. Pushes and concatenations wake RESP clients blocked on the key (through the change
//! feed's `lpush`/`rpush`). See `collections.rs` for the shared rules.

use bytes::Bytes;
use ferrite_storage::value::ListValue;
use ferrite_storage::Change;

use super::collections::Events;
use super::CollectionTtl;
use crate::admission::Op;
use crate::error::ServiceError;

/// Python slice bounds over a list of `len` elements: `[start, end)` with `start <= end`.
pub fn py_range(len: usize, start: Option<i32>, end: Option<i32>) -> (usize, usize) {
    let norm = |i: i32| -> usize {
        if i < 0 {
            len.saturating_sub(i.unsigned_abs() as usize)
        } else {
            (i as usize).min(len)
        }
    };
    let s = start.map_or(0, norm);
    let e = end.map_or(len, norm);
    (s, e.max(s))
}

/// Which end of a list a write adds to or a pop takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnd {
    Front,
    Back,
}

/// What ListErase erases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListErase {
    /// The whole list.
    All,
    /// `(begin_index, count)` ranges, indexing the list as it was before the call (overlapping
    /// ranges are fine, out-of-range parts are ignored).
    Ranges(Vec<(usize, usize)>),
}

impl Op<'_> {
    /// Push (one value) or concatenate `values` at `end`, in their order, then trim the other
    /// end down to `truncate_to` elements (0 = no truncation; Momento's
    /// `truncate_back_to_size` for a front write, `truncate_front_to_size` for a back write).
    /// Every value is checked against the element limit first, then the TTL. The length
    /// afterwards.
    pub fn list_push(
        &self,
        name: &[u8],
        values: Vec<Bytes>,
        end: ListEnd,
        ttl: CollectionTtl,
        truncate_to: usize,
    ) -> Result<usize, ServiceError> {
        let incoming = self.check_elements(values.iter().map(Bytes::len))?;
        let ttl = self.coll_ttl(ttl)?;
        // Redis's events: the push, then an `ltrim` when the other end was truncated.
        let events: Events<(usize, bool)> = match end {
            ListEnd::Front => |_, _, _| &[Change::LPush],
            ListEnd::Back => |_, _, _| &[Change::RPush],
        };
        let events_trimmed: Events<(usize, bool)> = match end {
            ListEnd::Front => |_, _, _| &[Change::LPush, Change::LTrim],
            ListEnd::Back => |_, _, _| &[Change::RPush, Change::LTrim],
        };
        let events = if truncate_to > 0 {
            events_trimmed
        } else {
            events
        };
        let (len, _) = self.upsert::<ListValue, _>(
            name,
            ttl,
            incoming,
            |l| {
                match end {
                    ListEnd::Front => {
                        for v in values.into_iter().rev() {
                            l.push_front(v);
                        }
                    }
                    ListEnd::Back => {
                        for v in values {
                            l.push_back(v);
                        }
                    }
                }
                let mut trimmed = false;
                if truncate_to > 0 {
                    while l.len() > truncate_to {
                        match end {
                            ListEnd::Front => l.pop_back(),
                            ListEnd::Back => l.pop_front(),
                        };
                        trimmed = true;
                    }
                }
                Ok((l.len(), trimmed))
            },
            events,
        )?;
        // RESP clients blocked on the key are woken by the change feed's `lpush`/`rpush`.
        Ok(len)
    }

    /// Pop one element from `end`: `Some((element, length after))`; None when the list is
    /// absent.
    pub fn list_pop(
        &self,
        name: &[u8],
        end: ListEnd,
    ) -> Result<Option<(Bytes, usize)>, ServiceError> {
        let events: Events<Option<(Bytes, usize)>> = match end {
            ListEnd::Front => |r, _, _| if r.is_some() { &[Change::LPop] } else { &[] },
            ListEnd::Back => |r, _, _| if r.is_some() { &[Change::RPop] } else { &[] },
        };
        let r = self.modify::<ListValue, _>(
            name,
            None,
            |l| {
                let v = match end {
                    ListEnd::Front => l.pop_front(),
                    ListEnd::Back => l.pop_back(),
                };
                Ok(v.map(|v| (v, l.len())))
            },
            events,
        )?;
        Ok(r.flatten())
    }

    /// Erase ranges or the whole list; the length afterwards (0 when everything was erased:
    /// the list is gone), None when the list is absent.
    pub fn list_erase(&self, name: &[u8], erase: ListErase) -> Result<Option<usize>, ServiceError> {
        self.modify::<ListValue, _>(
            name,
            None,
            |l| {
                match erase {
                    ListErase::All => l.retain_range(0, 0),
                    ListErase::Ranges(ranges) => {
                        let mut gone = vec![false; l.len()];
                        for (begin, count) in ranges {
                            let b = begin.min(gone.len());
                            let e = b.saturating_add(count).min(gone.len());
                            gone[b..e].iter_mut().for_each(|g| *g = true);
                        }
                        let mut i = 0;
                        l.retain(|_| {
                            let keep = !gone[i];
                            i += 1;
                            keep
                        });
                    }
                }
                Ok(l.len())
            },
            |_, before, after| if after < before { &[Change::LRem] } else { &[] },
        )
    }

    /// Remove every element equal to `value`; the length afterwards, None when the list is
    /// absent.
    pub fn list_remove_value(
        &self,
        name: &[u8],
        value: &[u8],
    ) -> Result<Option<usize>, ServiceError> {
        self.modify::<ListValue, _>(
            name,
            None,
            |l| {
                l.remove_matching(value, 0, false);
                Ok(l.len())
            },
            |_, before, after| if after < before { &[Change::LRem] } else { &[] },
        )
    }

    /// The slice `[start, end)` ([`py_range`]); None when the list is absent.
    pub fn list_fetch(
        &self,
        name: &[u8],
        start: Option<i32>,
        end: Option<i32>,
    ) -> Result<Option<Vec<Bytes>>, ServiceError> {
        self.read::<ListValue, _>(name, |l| {
            let (s, e) = py_range(l.len(), start, end);
            l.range(s, e).cloned().collect()
        })
    }

    /// The number of elements; None when the list is absent.
    pub fn list_length(&self, name: &[u8]) -> Result<Option<usize>, ServiceError> {
        self.read::<ListValue, _>(name, |l| l.len())
    }

    /// Keep only the slice `[start, end)` ([`py_range`]). The TTL is always validated, and
    /// applied only with `refresh` (a retain never creates a list). Retaining nothing deletes the list
    /// (`Some(0)`). The length afterwards, None when the list is absent.
    pub fn list_retain(
        &self,
        name: &[u8],
        start: Option<i32>,
        end: Option<i32>,
        ttl: CollectionTtl,
    ) -> Result<Option<usize>, ServiceError> {
        let ttl = self.coll_ttl(ttl)?;
        self.modify::<ListValue, _>(
            name,
            Some(ttl),
            |l| {
                let (s, e) = py_range(l.len(), start, end);
                l.retain_range(s, e);
                Ok(l.len())
            },
            |_, _, _| &[Change::LTrim],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::py_range;

    #[test]
    fn python_slices() {
        // list(range(10))[a:b]
        assert_eq!(py_range(10, None, None), (0, 10));
        assert_eq!(py_range(10, Some(2), Some(5)), (2, 5));
        assert_eq!(py_range(10, Some(-3), None), (7, 10));
        assert_eq!(py_range(10, None, Some(-1)), (0, 9));
        assert_eq!(py_range(10, Some(-100), Some(100)), (0, 10));
        assert_eq!(py_range(10, Some(5), Some(2)), (5, 5));
        assert_eq!(py_range(10, Some(12), None), (10, 10));
        assert_eq!(py_range(0, Some(-1), Some(1)), (0, 0));
        assert_eq!(py_range(10, Some(i32::MIN), Some(i32::MAX)), (0, 10));
    }
}
