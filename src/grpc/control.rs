//! `control_client.ScsControl`: caches are the engine's named caches (RESP's is `default`).

use std::sync::Arc;

use ferrite_storage::{StoreError, DEFAULT_CACHE};
use momento_protos::control_client::scs_control_server::ScsControl;
use momento_protos::control_client::*;
use tonic::{Request, Response, Status};

use super::{errors, GrpcState};

pub struct ControlService {
    state: Arc<GrpcState>,
}

impl ControlService {
    pub fn new(state: Arc<GrpcState>) -> Self {
        Self { state }
    }

    fn check_name(&self, name: &str) -> Result<(), Status> {
        if name.is_empty() {
            return Err(errors::invalid("cache name must not be empty"));
        }
        if name.len() > self.state.shared.limits.max_cache_name_bytes {
            return Err(errors::invalid(format!(
                "cache name is longer than {} bytes",
                self.state.shared.limits.max_cache_name_bytes
            )));
        }
        Ok(())
    }

    fn limits_of(&self) -> (CacheLimits, TopicLimits) {
        let l = &self.state.shared.limits;
        let max_subs = self.state.shared.topics.config().max_subscribers_per_topic;
        (
            CacheLimits {
                // No rate limits in Ferrite: reported as the largest value the field can carry.
                max_traffic_rate: u32::MAX,
                max_throughput_kbps: u32::MAX,
                max_item_size_kb: u32::try_from(l.max_item_bytes / 1024).unwrap_or(u32::MAX),
                max_ttl_seconds: l.max_ttl_ms / 1000,
            },
            TopicLimits {
                max_publish_rate: u32::MAX,
                max_subscription_count: u32::try_from(max_subs).unwrap_or(u32::MAX),
                max_publish_message_size_kb: u32::try_from(l.max_publish_bytes / 1024)
                    .unwrap_or(u32::MAX),
            },
        )
    }
}

#[tonic::async_trait]
impl ScsControl for ControlService {
    async fn create_cache(
        &self,
        request: Request<CreateCacheRequest>,
    ) -> Result<Response<CreateCacheResponse>, Status> {
        super::authz::require_super_user(&request, "CreateCache")?;
        let name = request.into_inner().cache_name;
        self.check_name(&name)?;
        match self.state.shared.store.create_cache(&name) {
            Ok(_) => Ok(Response::new(CreateCacheResponse {})),
            Err(StoreError::CacheExists) => Err(Status::already_exists(format!(
                "cache already exists: {name}"
            ))),
            Err(e) => Err(Status::internal(e.to_string())),
        }
    }

    async fn delete_cache(
        &self,
        request: Request<DeleteCacheRequest>,
    ) -> Result<Response<DeleteCacheResponse>, Status> {
        super::authz::require_super_user(&request, "DeleteCache")?;
        let name = request.into_inner().cache_name;
        self.check_name(&name)?;
        if name == DEFAULT_CACHE {
            // RESP connections are bound to it; it can be flushed, not deleted.
            return Err(Status::failed_precondition(
                "the 'default' cache serves RESP clients and cannot be deleted; use FlushCache",
            ));
        }
        match self.state.shared.store.delete_cache(&name) {
            Ok(()) => {
                // Its topics go with it: subscribers get CacheGone and their streams end with NOT_FOUND.
                self.state.shared.topics.drop_cache(name.as_bytes());
                Ok(Response::new(DeleteCacheResponse {}))
            }
            Err(StoreError::CacheNotFound) => Err(errors::cache_not_found(&name)),
            Err(e) => Err(Status::internal(e.to_string())),
        }
    }

    async fn list_caches(
        &self,
        request: Request<ListCachesRequest>,
    ) -> Result<Response<ListCachesResponse>, Status> {
        super::authz::require_super_user(&request, "ListCaches")?;
        let token = request.into_inner().next_token;
        let page = self.state.limits.list_caches_page_size.max(1);
        // `store.caches()` is ordered by name; the token is the last name of the previous page.
        let all = self.state.shared.store.caches();
        let mut rest = all
            .iter()
            .filter(|c| token.is_empty() || c.name() > token.as_str());
        let (cache_limits, topic_limits) = self.limits_of();
        let mut cache = Vec::new();
        for c in rest.by_ref().take(page) {
            cache.push(Cache {
                cache_name: c.name().to_string(),
                cache_limits: Some(cache_limits),
                topic_limits: Some(topic_limits),
                cache_id: c.name().to_string(),
            });
        }
        let next_token = match (rest.next(), cache.last()) {
            (Some(_), Some(last)) => last.cache_name.clone(),
            _ => String::new(),
        };
        Ok(Response::new(ListCachesResponse { cache, next_token }))
    }

    async fn flush_cache(
        &self,
        request: Request<FlushCacheRequest>,
    ) -> Result<Response<FlushCacheResponse>, Status> {
        super::authz::require_super_user(&request, "FlushCache")?;
        let name = request.into_inner().cache_name;
        self.check_name(&name)?;
        let cache = self
            .state
            .shared
            .store
            .cache(&name)
            .ok_or_else(|| errors::cache_not_found(&name))?;
        self.state
            .shared
            .exclusive
            .wait_clear(&cache)
            .await
            .map_err(errors::status)?;
        // Items only: topics and their subscribers survive a flush (docs/grpc.md).
        cache.flush();
        Ok(Response::new(FlushCacheResponse {}))
    }

    async fn create_signing_key(
        &self,
        _request: Request<CreateSigningKeyRequest>,
    ) -> Result<Response<CreateSigningKeyResponse>, Status> {
        Err(Status::unimplemented(
            "CreateSigningKey: signing keys and presigned URLs are not supported by Ferrite",
        ))
    }

    async fn revoke_signing_key(
        &self,
        _request: Request<RevokeSigningKeyRequest>,
    ) -> Result<Response<RevokeSigningKeyResponse>, Status> {
        Err(Status::unimplemented(
            "RevokeSigningKey: signing keys and presigned URLs are not supported by Ferrite",
        ))
    }

    async fn list_signing_keys(
        &self,
        _request: Request<ListSigningKeysRequest>,
    ) -> Result<Response<ListSigningKeysResponse>, Status> {
        Err(Status::unimplemented(
            "ListSigningKeys: signing keys and presigned URLs are not supported by Ferrite",
        ))
    }

    async fn create_index(
        &self,
        _request: Request<CreateIndexRequest>,
    ) -> Result<Response<CreateIndexResponse>, Status> {
        Err(Status::unimplemented(
            "CreateIndex: vector indexes are not supported by Ferrite",
        ))
    }

    async fn delete_index(
        &self,
        _request: Request<DeleteIndexRequest>,
    ) -> Result<Response<DeleteIndexResponse>, Status> {
        Err(Status::unimplemented(
            "DeleteIndex: vector indexes are not supported by Ferrite",
        ))
    }

    async fn list_indexes(
        &self,
        _request: Request<ListIndexesRequest>,
    ) -> Result<Response<ListIndexesResponse>, Status> {
        Err(Status::unimplemented(
            "ListIndexes: vector indexes are not supported by Ferrite",
        ))
    }
}
