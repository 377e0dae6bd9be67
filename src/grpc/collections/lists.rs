//! List RPCs (Redis lists). Index ranges follow Python slicing: start inclusive, end
//! exclusive, negative indexes count from the end, out-of-range indexes are clamped and a
//! reversed range is empty. Pushes and concatenations wake RESP clients blocked on the key.

use bytes::Bytes;
use ferrite_storage::value::ListValue;
use ferrite_storage::{Cache, Change};
use momento_protos::cache_client::*;
use tonic::Status;

use super::{check_elements, coll_ttl, len32, modify, read, upsert, Events};
use crate::grpc::{errors, GrpcState};

/// Python slice bounds over a list of `len` elements: `[start, end)` with `start <= end`.
pub(crate) fn py_range(len: usize, start: Option<i32>, end: Option<i32>) -> (usize, usize) {
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

fn fetch_bounds(req: &ListFetchRequest) -> (Option<i32>, Option<i32>) {
    use list_fetch_request::{EndIndex as E, StartIndex as S};
    let start = match req.start_index {
        Some(S::InclusiveStart(i)) => Some(i),
        Some(S::UnboundedStart(_)) | None => None,
    };
    let end = match req.end_index {
        Some(E::ExclusiveEnd(i)) => Some(i),
        Some(E::UnboundedEnd(_)) | None => None,
    };
    (start, end)
}

fn retain_bounds(req: &ListRetainRequest) -> (Option<i32>, Option<i32>) {
    use list_retain_request::{EndIndex as E, StartIndex as S};
    let start = match req.start_index {
        Some(S::InclusiveStart(i)) => Some(i),
        Some(S::UnboundedStart(_)) | None => None,
    };
    let end = match req.end_index {
        Some(E::ExclusiveEnd(i)) => Some(i),
        Some(E::UnboundedEnd(_)) | None => None,
    };
    (start, end)
}

/// Which end of the list a write adds to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Front,
    Back,
}

/// Push/concatenate `values` at `end` (in their order), then trim the other end down to
/// `truncate` elements (0 = no truncation). Returns the length afterwards.
#[allow(clippy::too_many_arguments)]
fn push(
    st: &GrpcState,
    cache: &Cache,
    key: &[u8],
    values: Vec<Vec<u8>>,
    end: End,
    ttl_ms: u64,
    refresh: bool,
    truncate: u32,
) -> Result<u32, Status> {
    let incoming = check_elements(st, &values)?;
    let ttl = coll_ttl(st, ttl_ms, refresh)?;
    // Redis's events: the push, then an `ltrim` when the other end was truncated.
    let events: Events<(usize, bool)> = match end {
        End::Front => |_, _, _| &[Change::LPush],
        End::Back => |_, _, _| &[Change::RPush],
    };
    let events_trimmed: Events<(usize, bool)> = match end {
        End::Front => |_, _, _| &[Change::LPush, Change::LTrim],
        End::Back => |_, _, _| &[Change::RPush, Change::LTrim],
    };
    let events = if truncate > 0 { events_trimmed } else { events };
    let (len, _) = upsert::<ListValue, _>(
        st,
        cache,
        key,
        ttl,
        incoming,
        |l| {
            match end {
                End::Front => {
                    for v in values.into_iter().rev() {
                        l.push_front(Bytes::from(v));
                    }
                }
                End::Back => {
                    for v in values {
                        l.push_back(Bytes::from(v));
                    }
                }
            }
            let mut trimmed = false;
            if truncate > 0 {
                while l.len() > truncate as usize {
                    match end {
                        End::Front => l.pop_back(),
                        End::Back => l.pop_front(),
                    };
                    trimmed = true;
                }
            }
            Ok((l.len(), trimmed))
        },
        events,
    )?;
    // RESP clients blocked on the key are woken by the change feed's `lpush`/`rpush`.
    Ok(len32(len))
}

pub fn list_push_front(
    st: &GrpcState,
    cache: &Cache,
    req: ListPushFrontRequest,
) -> Result<ListPushFrontResponse, Status> {
    let list_length = push(
        st,
        cache,
        &req.list_name,
        vec![req.value],
        End::Front,
        req.ttl_milliseconds,
        req.refresh_ttl,
        req.truncate_back_to_size,
    )?;
    Ok(ListPushFrontResponse { list_length })
}

pub fn list_push_back(
    st: &GrpcState,
    cache: &Cache,
    req: ListPushBackRequest,
) -> Result<ListPushBackResponse, Status> {
    let list_length = push(
        st,
        cache,
        &req.list_name,
        vec![req.value],
        End::Back,
        req.ttl_milliseconds,
        req.refresh_ttl,
        req.truncate_front_to_size,
    )?;
    Ok(ListPushBackResponse { list_length })
}

pub fn list_concatenate_front(
    st: &GrpcState,
    cache: &Cache,
    req: ListConcatenateFrontRequest,
) -> Result<ListConcatenateFrontResponse, Status> {
    let list_length = push(
        st,
        cache,
        &req.list_name,
        req.values,
        End::Front,
        req.ttl_milliseconds,
        req.refresh_ttl,
        req.truncate_back_to_size,
    )?;
    Ok(ListConcatenateFrontResponse { list_length })
}

pub fn list_concatenate_back(
    st: &GrpcState,
    cache: &Cache,
    req: ListConcatenateBackRequest,
) -> Result<ListConcatenateBackResponse, Status> {
    let list_length = push(
        st,
        cache,
        &req.list_name,
        req.values,
        End::Back,
        req.ttl_milliseconds,
        req.refresh_ttl,
        req.truncate_front_to_size,
    )?;
    Ok(ListConcatenateBackResponse { list_length })
}

/// Pop one element: `Some((element, length after))`, None when the list is absent.
fn pop(
    st: &GrpcState,
    cache: &Cache,
    key: &[u8],
    end: End,
) -> Result<Option<(Vec<u8>, u32)>, Status> {
    let events: Events<Option<(Vec<u8>, u32)>> = match end {
        End::Front => |r, _, _| if r.is_some() { &[Change::LPop] } else { &[] },
        End::Back => |r, _, _| if r.is_some() { &[Change::RPop] } else { &[] },
    };
    let r = modify::<ListValue, _>(
        st,
        cache,
        key,
        None,
        |l| {
            let v = match end {
                End::Front => l.pop_front(),
                End::Back => l.pop_back(),
            };
            Ok(v.map(|v| (v.to_vec(), len32(l.len()))))
        },
        events,
    )?;
    Ok(r.flatten())
}

pub fn list_pop_front(
    st: &GrpcState,
    cache: &Cache,
    req: ListPopFrontRequest,
) -> Result<ListPopFrontResponse, Status> {
    use list_pop_front_response::{Found, List as L, Missing};
    Ok(ListPopFrontResponse {
        list: Some(match pop(st, cache, &req.list_name, End::Front)? {
            Some((front, list_length)) => L::Found(Found { front, list_length }),
            None => L::Missing(Missing {}),
        }),
    })
}

pub fn list_pop_back(
    st: &GrpcState,
    cache: &Cache,
    req: ListPopBackRequest,
) -> Result<ListPopBackResponse, Status> {
    use list_pop_back_response::{Found, List as L, Missing};
    Ok(ListPopBackResponse {
        list: Some(match pop(st, cache, &req.list_name, End::Back)? {
            Some((back, list_length)) => L::Found(Found { back, list_length }),
            None => L::Missing(Missing {}),
        }),
    })
}

/// Erase `count` elements from `begin_index` for each range (indexes of the list as it was
/// before the call; overlapping ranges are fine, out-of-range parts are ignored), or the whole
/// list. Found carries the length afterwards (0 when everything was erased).
pub fn list_erase(
    st: &GrpcState,
    cache: &Cache,
    req: ListEraseRequest,
) -> Result<ListEraseResponse, Status> {
    use list_erase_request::Erase as E;
    use list_erase_response::{Found, List as L, Missing};
    let Some(erase) = req.erase else {
        return Err(errors::invalid("ListErase needs 'some' ranges or 'all'"));
    };
    let len = modify::<ListValue, _>(
        st,
        cache,
        &req.list_name,
        None,
        |l| {
            match erase {
                E::All(_) => l.retain_range(0, 0),
                E::Some(ranges) => {
                    let mut gone = vec![false; l.len()];
                    for r in &ranges.ranges {
                        let b = (r.begin_index as usize).min(gone.len());
                        let e = b.saturating_add(r.count as usize).min(gone.len());
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
    )?;
    Ok(ListEraseResponse {
        list: Some(match len {
            Some(n) => L::Found(Found {
                list_length: len32(n),
            }),
            None => L::Missing(Missing {}),
        }),
    })
}

/// Remove every element equal to the value.
pub fn list_remove(
    st: &GrpcState,
    cache: &Cache,
    req: ListRemoveRequest,
) -> Result<ListRemoveResponse, Status> {
    use list_remove_request::Remove as R;
    use list_remove_response::{Found, List as L, Missing};
    let Some(R::AllElementsWithValue(value)) = req.remove else {
        return Err(errors::invalid("ListRemove needs all_elements_with_value"));
    };
    let len = modify::<ListValue, _>(
        st,
        cache,
        &req.list_name,
        None,
        |l| {
            l.remove_matching(&value, 0, false);
            Ok(l.len())
        },
        |_, before, after| if after < before { &[Change::LRem] } else { &[] },
    )?;
    Ok(ListRemoveResponse {
        list: Some(match len {
            Some(n) => L::Found(Found {
                list_length: len32(n),
            }),
            None => L::Missing(Missing {}),
        }),
    })
}

pub fn list_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: ListFetchRequest,
) -> Result<ListFetchResponse, Status> {
    use list_fetch_response::{Found, List as L, Missing};
    let (start, end) = fetch_bounds(&req);
    let values = read::<ListValue, _>(st, cache, &req.list_name, |l| {
        let (s, e) = py_range(l.len(), start, end);
        l.range(s, e).map(|v| v.to_vec()).collect()
    })?;
    Ok(ListFetchResponse {
        list: Some(match values {
            Some(values) => L::Found(Found { values }),
            None => L::Missing(Missing {}),
        }),
    })
}

pub fn list_length(
    st: &GrpcState,
    cache: &Cache,
    req: ListLengthRequest,
) -> Result<ListLengthResponse, Status> {
    use list_length_response::{Found, List as L, Missing};
    let n = read::<ListValue, _>(st, cache, &req.list_name, |l| l.len())?;
    Ok(ListLengthResponse {
        list: Some(match n {
            Some(n) => L::Found(Found { length: len32(n) }),
            None => L::Missing(Missing {}),
        }),
    })
}

/// Keep only the slice `[start, end)` (Python rules). A TTL refresh applies with `refresh_ttl`.
/// Retaining nothing deletes the list (Found with length 0).
pub fn list_retain(
    st: &GrpcState,
    cache: &Cache,
    req: ListRetainRequest,
) -> Result<ListRetainResponse, Status> {
    use list_retain_response::{Found, List as L, Missing};
    let (start, end) = retain_bounds(&req);
    let ttl = coll_ttl(st, req.ttl_milliseconds, req.refresh_ttl)?;
    let len = modify::<ListValue, _>(
        st,
        cache,
        &req.list_name,
        Some(ttl),
        |l| {
            let (s, e) = py_range(l.len(), start, end);
            l.retain_range(s, e);
            Ok(l.len())
        },
        |_, _, _| &[Change::LTrim],
    )?;
    Ok(ListRetainResponse {
        list: Some(match len {
            Some(n) => L::Found(Found {
                list_length: len32(n),
            }),
            None => L::Missing(Missing {}),
        }),
    })
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
