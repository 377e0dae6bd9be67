//! `cache_client.Scs`: admits each call on the cache its `cache` header names, then dispatches to
//! the adapters in `scalars.rs` or `collections.rs` (plain functions on the admitted `Op`,
//! synchronous: engine work only).

use std::sync::Arc;

use momento_protos::cache_client::scs_server::Scs;
use momento_protos::cache_client::*;
use tonic::{Request, Response, Status};

use super::{collections, scalars, GrpcState};
use ferrite_service::Counters;

pub struct CacheService {
    state: Arc<GrpcState>,
}

impl CacheService {
    pub fn new(state: Arc<GrpcState>) -> Self {
        Self { state }
    }
}

/// One unary RPC: admission (the caller's key permissions, the `cache` header's cache, the
/// tenant's quota; `GrpcState::admit_call`) -> the handler's adapter on the admitted `Op` (the
/// service's cache operations) -> metering of the protobuf sizes of request and response
/// (`Op::finish`) -> Response.
macro_rules! unary {
    ($self:ident, $req:ident, $module:ident :: $f:ident) => {{
        let (md, ext, body) = $req.into_parts();
        let op = $self.state.admit_call(&md, &ext, &body).await?;
        let bytes_in = prost::Message::encoded_len(&body);
        let r = $module::$f(&op, body);
        op.finish(super::usage(bytes_in, &r));
        r.map(Response::new)
    }};
}

/// A batch answered as a stream computed up front: metered like a unary call, every response
/// message counted as bytes out.
macro_rules! batch {
    ($self:ident, $req:ident, $f:ident) => {{
        let (md, ext, body) = $req.into_parts();
        let op = $self.state.admit_call(&md, &ext, &body).await?;
        let bytes_in = prost::Message::encoded_len(&body) as u64;
        let r = scalars::$f(&op, body);
        let bytes_out = r.as_ref().map_or(0, |v| {
            v.iter()
                .map(|m| prost::Message::encoded_len(m) as u64)
                .sum()
        });
        op.finish(Counters::op(bytes_in, bytes_out));
        Ok(Response::new(tokio_stream::iter(
            r?.into_iter().map(Ok).collect::<Vec<_>>(),
        )))
    }};
}

/// A server stream that is computed up front (GetBatch, SetBatch: answers in request order).
pub type BatchStream<T> = tokio_stream::Iter<std::vec::IntoIter<Result<T, Status>>>;

#[tonic::async_trait]
impl Scs for CacheService {
    type GetBatchStream = BatchStream<GetResponse>;
    type SetBatchStream = BatchStream<SetResponse>;

    async fn get_batch(
        &self,
        request: Request<GetBatchRequest>,
    ) -> Result<Response<Self::GetBatchStream>, Status> {
        batch!(self, request, get_batch)
    }

    async fn set_batch(
        &self,
        request: Request<SetBatchRequest>,
    ) -> Result<Response<Self::SetBatchStream>, Status> {
        batch!(self, request, set_batch)
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        unary!(self, request, scalars::get)
    }

    async fn get_with_hash(
        &self,
        request: Request<GetWithHashRequest>,
    ) -> Result<Response<GetWithHashResponse>, Status> {
        unary!(self, request, scalars::get_with_hash)
    }

    async fn set(&self, request: Request<SetRequest>) -> Result<Response<SetResponse>, Status> {
        unary!(self, request, scalars::set)
    }

    async fn set_if(
        &self,
        request: Request<SetIfRequest>,
    ) -> Result<Response<SetIfResponse>, Status> {
        unary!(self, request, scalars::set_if)
    }

    async fn set_if_hash(
        &self,
        request: Request<SetIfHashRequest>,
    ) -> Result<Response<SetIfHashResponse>, Status> {
        unary!(self, request, scalars::set_if_hash)
    }

    async fn set_if_not_exists(
        &self,
        request: Request<SetIfNotExistsRequest>,
    ) -> Result<Response<SetIfNotExistsResponse>, Status> {
        unary!(self, request, scalars::set_if_not_exists)
    }

    async fn delete(
        &self,
        request: Request<DeleteRequest>,
    ) -> Result<Response<DeleteResponse>, Status> {
        unary!(self, request, scalars::delete)
    }

    async fn keys_exist(
        &self,
        request: Request<KeysExistRequest>,
    ) -> Result<Response<KeysExistResponse>, Status> {
        unary!(self, request, scalars::keys_exist)
    }

    async fn increment(
        &self,
        request: Request<IncrementRequest>,
    ) -> Result<Response<IncrementResponse>, Status> {
        unary!(self, request, scalars::increment)
    }

    async fn update_ttl(
        &self,
        request: Request<UpdateTtlRequest>,
    ) -> Result<Response<UpdateTtlResponse>, Status> {
        unary!(self, request, scalars::update_ttl)
    }

    async fn item_get_ttl(
        &self,
        request: Request<ItemGetTtlRequest>,
    ) -> Result<Response<ItemGetTtlResponse>, Status> {
        unary!(self, request, scalars::item_get_ttl)
    }

    async fn item_get_type(
        &self,
        request: Request<ItemGetTypeRequest>,
    ) -> Result<Response<ItemGetTypeResponse>, Status> {
        unary!(self, request, scalars::item_get_type)
    }

    async fn dictionary_get(
        &self,
        request: Request<DictionaryGetRequest>,
    ) -> Result<Response<DictionaryGetResponse>, Status> {
        unary!(self, request, collections::dictionary_get)
    }

    async fn dictionary_fetch(
        &self,
        request: Request<DictionaryFetchRequest>,
    ) -> Result<Response<DictionaryFetchResponse>, Status> {
        unary!(self, request, collections::dictionary_fetch)
    }

    async fn dictionary_set(
        &self,
        request: Request<DictionarySetRequest>,
    ) -> Result<Response<DictionarySetResponse>, Status> {
        unary!(self, request, collections::dictionary_set)
    }

    async fn dictionary_increment(
        &self,
        request: Request<DictionaryIncrementRequest>,
    ) -> Result<Response<DictionaryIncrementResponse>, Status> {
        unary!(self, request, collections::dictionary_increment)
    }

    async fn dictionary_delete(
        &self,
        request: Request<DictionaryDeleteRequest>,
    ) -> Result<Response<DictionaryDeleteResponse>, Status> {
        unary!(self, request, collections::dictionary_delete)
    }

    async fn dictionary_length(
        &self,
        request: Request<DictionaryLengthRequest>,
    ) -> Result<Response<DictionaryLengthResponse>, Status> {
        unary!(self, request, collections::dictionary_length)
    }

    async fn set_fetch(
        &self,
        request: Request<SetFetchRequest>,
    ) -> Result<Response<SetFetchResponse>, Status> {
        unary!(self, request, collections::set_fetch)
    }

    async fn set_sample(
        &self,
        request: Request<SetSampleRequest>,
    ) -> Result<Response<SetSampleResponse>, Status> {
        unary!(self, request, collections::set_sample)
    }

    async fn set_union(
        &self,
        request: Request<SetUnionRequest>,
    ) -> Result<Response<SetUnionResponse>, Status> {
        unary!(self, request, collections::set_union)
    }

    async fn set_difference(
        &self,
        request: Request<SetDifferenceRequest>,
    ) -> Result<Response<SetDifferenceResponse>, Status> {
        unary!(self, request, collections::set_difference)
    }

    async fn set_contains(
        &self,
        request: Request<SetContainsRequest>,
    ) -> Result<Response<SetContainsResponse>, Status> {
        unary!(self, request, collections::set_contains)
    }

    async fn set_length(
        &self,
        request: Request<SetLengthRequest>,
    ) -> Result<Response<SetLengthResponse>, Status> {
        unary!(self, request, collections::set_length)
    }

    async fn set_pop(
        &self,
        request: Request<SetPopRequest>,
    ) -> Result<Response<SetPopResponse>, Status> {
        unary!(self, request, collections::set_pop)
    }

    async fn list_push_front(
        &self,
        request: Request<ListPushFrontRequest>,
    ) -> Result<Response<ListPushFrontResponse>, Status> {
        unary!(self, request, collections::list_push_front)
    }

    async fn list_push_back(
        &self,
        request: Request<ListPushBackRequest>,
    ) -> Result<Response<ListPushBackResponse>, Status> {
        unary!(self, request, collections::list_push_back)
    }

    async fn list_pop_front(
        &self,
        request: Request<ListPopFrontRequest>,
    ) -> Result<Response<ListPopFrontResponse>, Status> {
        unary!(self, request, collections::list_pop_front)
    }

    async fn list_pop_back(
        &self,
        request: Request<ListPopBackRequest>,
    ) -> Result<Response<ListPopBackResponse>, Status> {
        unary!(self, request, collections::list_pop_back)
    }

    async fn list_erase(
        &self,
        request: Request<ListEraseRequest>,
    ) -> Result<Response<ListEraseResponse>, Status> {
        unary!(self, request, collections::list_erase)
    }

    async fn list_remove(
        &self,
        request: Request<ListRemoveRequest>,
    ) -> Result<Response<ListRemoveResponse>, Status> {
        unary!(self, request, collections::list_remove)
    }

    async fn list_fetch(
        &self,
        request: Request<ListFetchRequest>,
    ) -> Result<Response<ListFetchResponse>, Status> {
        unary!(self, request, collections::list_fetch)
    }

    async fn list_length(
        &self,
        request: Request<ListLengthRequest>,
    ) -> Result<Response<ListLengthResponse>, Status> {
        unary!(self, request, collections::list_length)
    }

    async fn list_concatenate_front(
        &self,
        request: Request<ListConcatenateFrontRequest>,
    ) -> Result<Response<ListConcatenateFrontResponse>, Status> {
        unary!(self, request, collections::list_concatenate_front)
    }

    async fn list_concatenate_back(
        &self,
        request: Request<ListConcatenateBackRequest>,
    ) -> Result<Response<ListConcatenateBackResponse>, Status> {
        unary!(self, request, collections::list_concatenate_back)
    }

    async fn list_retain(
        &self,
        request: Request<ListRetainRequest>,
    ) -> Result<Response<ListRetainResponse>, Status> {
        unary!(self, request, collections::list_retain)
    }

    async fn sorted_set_put(
        &self,
        request: Request<SortedSetPutRequest>,
    ) -> Result<Response<SortedSetPutResponse>, Status> {
        unary!(self, request, collections::sorted_set_put)
    }

    async fn sorted_set_fetch(
        &self,
        request: Request<SortedSetFetchRequest>,
    ) -> Result<Response<SortedSetFetchResponse>, Status> {
        unary!(self, request, collections::sorted_set_fetch)
    }

    async fn sorted_set_get_score(
        &self,
        request: Request<SortedSetGetScoreRequest>,
    ) -> Result<Response<SortedSetGetScoreResponse>, Status> {
        unary!(self, request, collections::sorted_set_get_score)
    }

    async fn sorted_set_remove(
        &self,
        request: Request<SortedSetRemoveRequest>,
    ) -> Result<Response<SortedSetRemoveResponse>, Status> {
        unary!(self, request, collections::sorted_set_remove)
    }

    async fn sorted_set_increment(
        &self,
        request: Request<SortedSetIncrementRequest>,
    ) -> Result<Response<SortedSetIncrementResponse>, Status> {
        unary!(self, request, collections::sorted_set_increment)
    }

    async fn sorted_set_get_rank(
        &self,
        request: Request<SortedSetGetRankRequest>,
    ) -> Result<Response<SortedSetGetRankResponse>, Status> {
        unary!(self, request, collections::sorted_set_get_rank)
    }

    async fn sorted_set_length(
        &self,
        request: Request<SortedSetLengthRequest>,
    ) -> Result<Response<SortedSetLengthResponse>, Status> {
        unary!(self, request, collections::sorted_set_length)
    }

    async fn sorted_set_length_by_score(
        &self,
        request: Request<SortedSetLengthByScoreRequest>,
    ) -> Result<Response<SortedSetLengthByScoreResponse>, Status> {
        unary!(self, request, collections::sorted_set_length_by_score)
    }

    async fn sorted_set_union_store(
        &self,
        request: Request<SortedSetUnionStoreRequest>,
    ) -> Result<Response<SortedSetUnionStoreResponse>, Status> {
        unary!(self, request, collections::sorted_set_union_store)
    }
}
