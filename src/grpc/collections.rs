//! Collection RPCs of `cache_client.Scs`: protobuf → the service's collection operations on the
//! admitted `Op` (`ferrite_service::cache_ops::{dictionaries, sets, lists, sorted_sets}`) →
//! protobuf. Dictionaries and sets here, lists in `collections/lists.rs`, sorted sets in
//! `collections/sorted_sets.rs`.
//!
//! Momento's collection rules (collection TTL and `refresh_ttl`, the element limit, wrong type,
//! eviction before writing, Redis's event for each write, an emptied collection disappearing)
//! are the service's (`cache_ops/collections.rs`, docs/grpc.md "Collections"); only the wire
//! shapes live here: a request without one of its required choices is INVALID_ARGUMENT, lengths
//! travel as u32, and every refusal goes through `errors::status`.

mod lists;
mod sorted_sets;

pub use lists::*;
pub use sorted_sets::*;

use bytes::Bytes;
use ferrite_service::cache_ops::CollectionTtl;
use ferrite_service::Op;
use momento_protos::cache_client::*;
use tonic::Status;

use super::errors::{self, status};

pub(crate) const HIT: i32 = ECacheResult::Hit as i32;
pub(crate) const MISS: i32 = ECacheResult::Miss as i32;

pub(crate) type R<T> = Result<T, Status>;

/// Lengths travel as u32.
pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Owned bytes for the response (no copy when the service handed over the only reference).
pub(crate) fn wire(b: Bytes) -> Vec<u8> {
    Vec::from(b)
}

/// Owned bytes for the engine, without a copy.
pub(crate) fn owned(v: Vec<u8>) -> Bytes {
    Bytes::from(v)
}

pub(crate) fn slices(v: &[Vec<u8>]) -> impl Iterator<Item = &[u8]> {
    v.iter().map(|x| &x[..])
}

// ----------------------------------------------------------------------------------------------
// Dictionaries (Redis hashes)

pub fn dictionary_get(op: &Op, req: DictionaryGetRequest) -> R<DictionaryGetResponse> {
    use dictionary_get_response::{Dictionary as D, DictionaryGetResponsePart as Part, Found};
    let values = op
        .dictionary_get(&req.dictionary_name, slices(&req.fields))
        .map_err(status)?;
    Ok(DictionaryGetResponse {
        dictionary: Some(match values {
            Some(values) => D::Found(Found {
                items: values
                    .into_iter()
                    .map(|v| match v {
                        Some(v) => Part {
                            result: HIT,
                            cache_body: wire(v),
                        },
                        None => Part {
                            result: MISS,
                            cache_body: Vec::new(),
                        },
                    })
                    .collect(),
            }),
            None => D::Missing(dictionary_get_response::Missing {}),
        }),
    })
}

pub fn dictionary_fetch(op: &Op, req: DictionaryFetchRequest) -> R<DictionaryFetchResponse> {
    use dictionary_fetch_response::{Dictionary as D, Found, Missing};
    let items = op.dictionary_fetch(&req.dictionary_name).map_err(status)?;
    Ok(DictionaryFetchResponse {
        dictionary: Some(match items {
            Some(items) => D::Found(Found {
                items: items
                    .into_iter()
                    .map(|(f, v)| DictionaryFieldValuePair {
                        field: wire(f),
                        value: wire(v),
                    })
                    .collect(),
            }),
            None => D::Missing(Missing {}),
        }),
    })
}

pub fn dictionary_set(op: &Op, req: DictionarySetRequest) -> R<DictionarySetResponse> {
    let items = req
        .items
        .into_iter()
        .map(|it| (owned(it.field), owned(it.value)))
        .collect();
    op.dictionary_set(
        &req.dictionary_name,
        items,
        CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
    )
    .map_err(status)?;
    Ok(DictionarySetResponse {})
}

/// Fields hold base-10 i64 strings; a missing field starts at 0. A non-integer value or an
/// overflow is FAILED_PRECONDITION (as scalar Increment).
pub fn dictionary_increment(
    op: &Op,
    req: DictionaryIncrementRequest,
) -> R<DictionaryIncrementResponse> {
    let value = op
        .dictionary_increment(
            &req.dictionary_name,
            owned(req.field),
            req.amount,
            CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
        )
        .map_err(status)?;
    Ok(DictionaryIncrementResponse { value })
}

pub fn dictionary_delete(op: &Op, req: DictionaryDeleteRequest) -> R<DictionaryDeleteResponse> {
    use dictionary_delete_request::Delete as D;
    match req.delete {
        None => return Err(errors::invalid("DictionaryDelete needs 'some' or 'all'")),
        Some(D::All(_)) => op.dictionary_delete(&req.dictionary_name),
        Some(D::Some(some)) => {
            op.dictionary_remove_fields(&req.dictionary_name, slices(&some.fields))
        }
    }
    .map_err(status)?;
    Ok(DictionaryDeleteResponse {})
}

pub fn dictionary_length(op: &Op, req: DictionaryLengthRequest) -> R<DictionaryLengthResponse> {
    use dictionary_length_response::{Dictionary as D, Found, Missing};
    let n = op.dictionary_length(&req.dictionary_name).map_err(status)?;
    Ok(DictionaryLengthResponse {
        dictionary: Some(match n {
            Some(n) => D::Found(Found { length: len32(n) }),
            None => D::Missing(Missing {}),
        }),
    })
}

// ----------------------------------------------------------------------------------------------
// Sets

fn elements(v: Vec<Bytes>) -> Vec<Vec<u8>> {
    v.into_iter().map(wire).collect()
}

pub fn set_fetch(op: &Op, req: SetFetchRequest) -> R<SetFetchResponse> {
    use set_fetch_response::{Found, Missing, Set as S};
    Ok(SetFetchResponse {
        set: Some(match op.set_fetch(&req.set_name).map_err(status)? {
            Some(e) => S::Found(Found {
                elements: elements(e),
            }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Up to `limit` distinct random members (all of them when `limit` >= the size).
pub fn set_sample(op: &Op, req: SetSampleRequest) -> R<SetSampleResponse> {
    use set_sample_response::{Found, Missing, Set as S};
    let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
    Ok(SetSampleResponse {
        set: Some(match op.set_sample(&req.set_name, limit).map_err(status)? {
            Some(e) => S::Found(Found {
                elements: elements(e),
            }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Add elements (creating the set).
pub fn set_union(op: &Op, req: SetUnionRequest) -> R<SetUnionResponse> {
    op.set_union(
        &req.set_name,
        req.elements.into_iter().map(owned).collect(),
        CollectionTtl::new(req.ttl_milliseconds, req.refresh_ttl),
    )
    .map_err(status)?;
    Ok(SetUnionResponse {})
}

/// Subtrahend{Set}: remove the elements (the SDKs' "remove elements"); Subtrahend{Identity}:
/// delete the set; Minuend: the set becomes `request - stored`. Missing when the set is absent.
pub fn set_difference(op: &Op, req: SetDifferenceRequest) -> R<SetDifferenceResponse> {
    use set_difference_request::subtrahend::SubtrahendSet as Sub;
    use set_difference_request::Difference as D;
    use set_difference_response::{Found, Missing, Set as S};
    let found = match req.difference {
        None => {
            return Err(errors::invalid(
                "SetDifference needs a minuend or a subtrahend",
            ))
        }
        Some(D::Subtrahend(sub)) => match sub.subtrahend_set {
            None => return Err(errors::invalid("SetDifference needs a subtrahend set")),
            Some(Sub::Identity(_)) => op.set_delete(&req.set_name),
            Some(Sub::Set(set)) => op.set_remove_elements(&req.set_name, slices(&set.elements)),
        },
        Some(D::Minuend(min)) => op.set_replace_with_difference(
            &req.set_name,
            min.elements.into_iter().map(owned).collect(),
        ),
    }
    .map_err(status)?;
    Ok(SetDifferenceResponse {
        set: Some(if found {
            S::Found(Found {})
        } else {
            S::Missing(Missing {})
        }),
    })
}

pub fn set_contains(op: &Op, req: SetContainsRequest) -> R<SetContainsResponse> {
    use set_contains_response::{Found, Missing, Set as S};
    let contains = op
        .set_contains(&req.set_name, slices(&req.elements))
        .map_err(status)?;
    Ok(SetContainsResponse {
        set: Some(match contains {
            Some(contains) => S::Found(Found { contains }),
            None => S::Missing(Missing {}),
        }),
    })
}

pub fn set_length(op: &Op, req: SetLengthRequest) -> R<SetLengthResponse> {
    use set_length_response::{Found, Missing, Set as S};
    Ok(SetLengthResponse {
        set: Some(match op.set_length(&req.set_name).map_err(status)? {
            Some(n) => S::Found(Found { length: len32(n) }),
            None => S::Missing(Missing {}),
        }),
    })
}

/// Remove and return up to `count` random members (a set emptied this way disappears).
pub fn set_pop(op: &Op, req: SetPopRequest) -> R<SetPopResponse> {
    use set_pop_response::{Found, Missing, Set as S};
    let popped = op
        .set_pop(&req.set_name, req.count as usize)
        .map_err(status)?;
    Ok(SetPopResponse {
        set: Some(match popped {
            Some(e) => S::Found(Found {
                elements: elements(e),
            }),
            None => S::Missing(Missing {}),
        }),
    })
}
