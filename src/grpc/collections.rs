//! Collection RPCs of `cache_client.Scs` (dictionaries, sets, lists, sorted sets).
//!
//! SCAFFOLDING: every function here is called by `scs.rs` after the `cache` header was resolved
//! (so `cache` exists) and its result is wrapped in a `Response` there. Replace the bodies; keep
//! the signatures (or split this file into submodules and re-export the same names).
//!
//! Rules the scalar RPCs follow that apply here too (see `scalars.rs` and `GrpcState`):
//! - a Momento dictionary is a Redis hash, a list a list, a set a set, a sorted set a zset, in the
//!   same cache; wrong-type access is `errors::wrong_type(kind)` (FAILED_PRECONDITION);
//! - lock one shard per key (`cache.lock_key(key)`), never across an `.await` (there is none here);
//! - `st.check_ttl` / `st.expires_at(ttl_ms, now)` for TTLs (`refresh_ttl` semantics: reference §3),
//!   `st.check_element_size(len)` (RESOURCE_EXHAUSTED `element_size_limit_exceeded`),
//!   `st.ensure_memory(bytes)` before a write (before locking);
//! - after a write: `cache.watch().touch([key])` (RESP WATCH) and, for lists,
//!   `st.shared.waiters.signal(cache.name(), key)` (RESP blocking pops);
//! - an emptied collection disappears (the engine's `EntryMut` drop does it).

#![allow(unused_variables)]

use ferrite_storage::Cache;
use momento_protos::cache_client::*;
use tonic::Status;

use super::{errors, GrpcState};

pub fn dictionary_get(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryGetRequest,
) -> Result<DictionaryGetResponse, Status> {
    Err(errors::unimplemented("DictionaryGet"))
}

pub fn dictionary_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryFetchRequest,
) -> Result<DictionaryFetchResponse, Status> {
    Err(errors::unimplemented("DictionaryFetch"))
}

pub fn dictionary_set(
    st: &GrpcState,
    cache: &Cache,
    req: DictionarySetRequest,
) -> Result<DictionarySetResponse, Status> {
    Err(errors::unimplemented("DictionarySet"))
}

pub fn dictionary_increment(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryIncrementRequest,
) -> Result<DictionaryIncrementResponse, Status> {
    Err(errors::unimplemented("DictionaryIncrement"))
}

pub fn dictionary_delete(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryDeleteRequest,
) -> Result<DictionaryDeleteResponse, Status> {
    Err(errors::unimplemented("DictionaryDelete"))
}

pub fn dictionary_length(
    st: &GrpcState,
    cache: &Cache,
    req: DictionaryLengthRequest,
) -> Result<DictionaryLengthResponse, Status> {
    Err(errors::unimplemented("DictionaryLength"))
}

pub fn set_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: SetFetchRequest,
) -> Result<SetFetchResponse, Status> {
    Err(errors::unimplemented("SetFetch"))
}

pub fn set_sample(
    st: &GrpcState,
    cache: &Cache,
    req: SetSampleRequest,
) -> Result<SetSampleResponse, Status> {
    Err(errors::unimplemented("SetSample"))
}

pub fn set_union(
    st: &GrpcState,
    cache: &Cache,
    req: SetUnionRequest,
) -> Result<SetUnionResponse, Status> {
    Err(errors::unimplemented("SetUnion"))
}

pub fn set_difference(
    st: &GrpcState,
    cache: &Cache,
    req: SetDifferenceRequest,
) -> Result<SetDifferenceResponse, Status> {
    Err(errors::unimplemented("SetDifference"))
}

pub fn set_contains(
    st: &GrpcState,
    cache: &Cache,
    req: SetContainsRequest,
) -> Result<SetContainsResponse, Status> {
    Err(errors::unimplemented("SetContains"))
}

pub fn set_length(
    st: &GrpcState,
    cache: &Cache,
    req: SetLengthRequest,
) -> Result<SetLengthResponse, Status> {
    Err(errors::unimplemented("SetLength"))
}

pub fn set_pop(
    st: &GrpcState,
    cache: &Cache,
    req: SetPopRequest,
) -> Result<SetPopResponse, Status> {
    Err(errors::unimplemented("SetPop"))
}

pub fn list_push_front(
    st: &GrpcState,
    cache: &Cache,
    req: ListPushFrontRequest,
) -> Result<ListPushFrontResponse, Status> {
    Err(errors::unimplemented("ListPushFront"))
}

pub fn list_push_back(
    st: &GrpcState,
    cache: &Cache,
    req: ListPushBackRequest,
) -> Result<ListPushBackResponse, Status> {
    Err(errors::unimplemented("ListPushBack"))
}

pub fn list_pop_front(
    st: &GrpcState,
    cache: &Cache,
    req: ListPopFrontRequest,
) -> Result<ListPopFrontResponse, Status> {
    Err(errors::unimplemented("ListPopFront"))
}

pub fn list_pop_back(
    st: &GrpcState,
    cache: &Cache,
    req: ListPopBackRequest,
) -> Result<ListPopBackResponse, Status> {
    Err(errors::unimplemented("ListPopBack"))
}

pub fn list_erase(
    st: &GrpcState,
    cache: &Cache,
    req: ListEraseRequest,
) -> Result<ListEraseResponse, Status> {
    Err(errors::unimplemented("ListErase"))
}

pub fn list_remove(
    st: &GrpcState,
    cache: &Cache,
    req: ListRemoveRequest,
) -> Result<ListRemoveResponse, Status> {
    Err(errors::unimplemented("ListRemove"))
}

pub fn list_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: ListFetchRequest,
) -> Result<ListFetchResponse, Status> {
    Err(errors::unimplemented("ListFetch"))
}

pub fn list_length(
    st: &GrpcState,
    cache: &Cache,
    req: ListLengthRequest,
) -> Result<ListLengthResponse, Status> {
    Err(errors::unimplemented("ListLength"))
}

pub fn list_concatenate_front(
    st: &GrpcState,
    cache: &Cache,
    req: ListConcatenateFrontRequest,
) -> Result<ListConcatenateFrontResponse, Status> {
    Err(errors::unimplemented("ListConcatenateFront"))
}

pub fn list_concatenate_back(
    st: &GrpcState,
    cache: &Cache,
    req: ListConcatenateBackRequest,
) -> Result<ListConcatenateBackResponse, Status> {
    Err(errors::unimplemented("ListConcatenateBack"))
}

pub fn list_retain(
    st: &GrpcState,
    cache: &Cache,
    req: ListRetainRequest,
) -> Result<ListRetainResponse, Status> {
    Err(errors::unimplemented("ListRetain"))
}

pub fn sorted_set_put(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetPutRequest,
) -> Result<SortedSetPutResponse, Status> {
    Err(errors::unimplemented("SortedSetPut"))
}

pub fn sorted_set_fetch(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetFetchRequest,
) -> Result<SortedSetFetchResponse, Status> {
    Err(errors::unimplemented("SortedSetFetch"))
}

pub fn sorted_set_get_score(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetGetScoreRequest,
) -> Result<SortedSetGetScoreResponse, Status> {
    Err(errors::unimplemented("SortedSetGetScore"))
}

pub fn sorted_set_remove(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetRemoveRequest,
) -> Result<SortedSetRemoveResponse, Status> {
    Err(errors::unimplemented("SortedSetRemove"))
}

pub fn sorted_set_increment(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetIncrementRequest,
) -> Result<SortedSetIncrementResponse, Status> {
    Err(errors::unimplemented("SortedSetIncrement"))
}

pub fn sorted_set_get_rank(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetGetRankRequest,
) -> Result<SortedSetGetRankResponse, Status> {
    Err(errors::unimplemented("SortedSetGetRank"))
}

pub fn sorted_set_length(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetLengthRequest,
) -> Result<SortedSetLengthResponse, Status> {
    Err(errors::unimplemented("SortedSetLength"))
}

pub fn sorted_set_length_by_score(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetLengthByScoreRequest,
) -> Result<SortedSetLengthByScoreResponse, Status> {
    Err(errors::unimplemented("SortedSetLengthByScore"))
}

pub fn sorted_set_union_store(
    st: &GrpcState,
    cache: &Cache,
    req: SortedSetUnionStoreRequest,
) -> Result<SortedSetUnionStoreResponse, Status> {
    Err(errors::unimplemented("SortedSetUnionStore"))
}
