//! List RPCs (Redis lists): protobuf ↔ `ferrite_service::cache_ops::lists`. Index ranges follow
//! Python slicing (`lists::py_range`); an absent or unbounded bound is `None`.

use ferrite_service::cache_ops::lists::{ListEnd, ListErase};
use ferrite_service::cache_ops::CollectionTtl;
use ferrite_service::Op;
use momento_protos::cache_client::*;

use super::{len32, owned, wire, R};
use crate::grpc::errors::{self, status};

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

/// A push or concatenation: the list's length afterwards, as u32.
fn push(
    op: &Op,
    name: &[u8],
    values: Vec<Vec<u8>>,
    end: ListEnd,
    ttl: CollectionTtl,
    truncate_to: u32,
) -> R<u32> {
    let values = values.into_iter().map(owned).collect();
    let len = op
        .list_push(name, values, end, ttl, truncate_to as usize)
        .map_err(status)?;
    Ok(len32(len))
}

pub fn list_push_front(op: &Op, req: ListPushFrontRequest) -> R<ListPushFrontResponse> {
    let list_length = push(
        op,
        &req.list_name,
        vec![req.value],
        ListEnd::Front,
        CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
        req.truncate_back_to_size,
    )?;
    Ok(ListPushFrontResponse { list_length })
}

pub fn list_push_back(op: &Op, req: ListPushBackRequest) -> R<ListPushBackResponse> {
    let list_length = push(
        op,
        &req.list_name,
        vec![req.value],
        ListEnd::Back,
        CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
        req.truncate_front_to_size,
    )?;
    Ok(ListPushBackResponse { list_length })
}

pub fn list_concatenate_front(
    op: &Op,
    req: ListConcatenateFrontRequest,
) -> R<ListConcatenateFrontResponse> {
    let list_length = push(
        op,
        &req.list_name,
        req.values,
        ListEnd::Front,
        CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
        req.truncate_back_to_size,
    )?;
    Ok(ListConcatenateFrontResponse { list_length })
}

pub fn list_concatenate_back(
    op: &Op,
    req: ListConcatenateBackRequest,
) -> R<ListConcatenateBackResponse> {
    let list_length = push(
        op,
        &req.list_name,
        req.values,
        ListEnd::Back,
        CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
        req.truncate_front_to_size,
    )?;
    Ok(ListConcatenateBackResponse { list_length })
}

pub fn list_pop_front(op: &Op, req: ListPopFrontRequest) -> R<ListPopFrontResponse> {
    use list_pop_front_response::{Found, List as L, Missing};
    let popped = op
        .list_pop(&req.list_name, ListEnd::Front)
        .map_err(status)?;
    Ok(ListPopFrontResponse {
        list: Some(match popped {
            Some((front, n)) => L::Found(Found {
                front: wire(front),
                list_length: len32(n),
            }),
            None => L::Missing(Missing {}),
        }),
    })
}

pub fn list_pop_back(op: &Op, req: ListPopBackRequest) -> R<ListPopBackResponse> {
    use list_pop_back_response::{Found, List as L, Missing};
    let popped = op.list_pop(&req.list_name, ListEnd::Back).map_err(status)?;
    Ok(ListPopBackResponse {
        list: Some(match popped {
            Some((back, n)) => L::Found(Found {
                back: wire(back),
                list_length: len32(n),
            }),
            None => L::Missing(Missing {}),
        }),
    })
}

/// Erase `count` elements from `begin_index` for each range (indexes of the list as it was
/// before the call), or the whole list. Found carries the length afterwards.
pub fn list_erase(op: &Op, req: ListEraseRequest) -> R<ListEraseResponse> {
    use list_erase_request::Erase as E;
    use list_erase_response::{Found, List as L, Missing};
    let erase = match req.erase {
        None => return Err(errors::invalid("ListErase needs 'some' ranges or 'all'")),
        Some(E::All(_)) => ListErase::All,
        Some(E::Some(ranges)) => ListErase::Ranges(
            ranges
                .ranges
                .iter()
                .map(|r| (r.begin_index as usize, r.count as usize))
                .collect(),
        ),
    };
    let len = op.list_erase(&req.list_name, erase).map_err(status)?;
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
pub fn list_remove(op: &Op, req: ListRemoveRequest) -> R<ListRemoveResponse> {
    use list_remove_request::Remove as Rm;
    use list_remove_response::{Found, List as L, Missing};
    let Some(Rm::AllElementsWithValue(value)) = req.remove else {
        return Err(errors::invalid("ListRemove needs all_elements_with_value"));
    };
    let len = op
        .list_remove_value(&req.list_name, &value)
        .map_err(status)?;
    Ok(ListRemoveResponse {
        list: Some(match len {
            Some(n) => L::Found(Found {
                list_length: len32(n),
            }),
            None => L::Missing(Missing {}),
        }),
    })
}

pub fn list_fetch(op: &Op, req: ListFetchRequest) -> R<ListFetchResponse> {
    use list_fetch_response::{Found, List as L, Missing};
    let (start, end) = fetch_bounds(&req);
    let values = op.list_fetch(&req.list_name, start, end).map_err(status)?;
    Ok(ListFetchResponse {
        list: Some(match values {
            Some(values) => L::Found(Found {
                values: values.into_iter().map(wire).collect(),
            }),
            None => L::Missing(Missing {}),
        }),
    })
}

pub fn list_length(op: &Op, req: ListLengthRequest) -> R<ListLengthResponse> {
    use list_length_response::{Found, List as L, Missing};
    Ok(ListLengthResponse {
        list: Some(match op.list_length(&req.list_name).map_err(status)? {
            Some(n) => L::Found(Found { length: len32(n) }),
            None => L::Missing(Missing {}),
        }),
    })
}

/// Keep only the slice `[start, end)` (Python rules). A TTL refresh applies with `refresh_ttl`.
/// Retaining nothing deletes the list (Found with length 0).
pub fn list_retain(op: &Op, req: ListRetainRequest) -> R<ListRetainResponse> {
    use list_retain_response::{Found, List as L, Missing};
    let (start, end) = retain_bounds(&req);
    let len = op
        .list_retain(
            &req.list_name,
            start,
            end,
            CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
        )
        .map_err(status)?;
    Ok(ListRetainResponse {
        list: Some(match len {
            Some(n) => L::Found(Found {
                list_length: len32(n),
            }),
            None => L::Missing(Missing {}),
        }),
    })
}
