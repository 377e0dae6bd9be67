//! Momento's cache operations on an admitted `Op`, one module per data type. Plain arguments
//! in, typed results out, `ServiceError` for every refusal: the gRPC handlers turn protobuf
//! into these calls, the HTTP API calls them from its routes.
//!
//! - `scalars.rs`: Get, Set, SetIf*, Delete, KeysExist, Increment, TTLs, ItemGetType.
//! - `collections.rs`: the rules every collection write and read shares (collection TTL,
//!   element limit, wrong type, change-feed events, an emptied collection disappearing).
//! - `dictionaries.rs`, `sets.rs`, `lists.rs`, `sorted_sets.rs`: the collection operations, on
//!   the engine's hash, set, list and zset types.
//! - `leaderboards.rs`: Momento leaderboards, sorted sets at `leaderboard:<name>`.

pub mod collections;
pub mod dictionaries;
pub mod leaderboards;
pub mod lists;
pub mod scalars;
pub mod sets;
pub mod sorted_sets;

pub use collections::CollectionTtl;

use crate::admission::Op;
use crate::error::ServiceError;

impl Op<'_> {
    pub(crate) fn now_ms(&self) -> u64 {
        self.service().store.now_ms()
    }

    /// Make room for a write of about `incoming` bytes (eviction), before taking shard locks.
    pub fn ensure_memory(&self, incoming: usize) -> Result<(), ServiceError> {
        self.service()
            .store
            .ensure_memory(incoming as u64)
            .map_err(|_| ServiceError::OutOfMemory)
    }

    /// A write's TTL checked and turned into `Entry::expires_at` (absolute ms).
    pub fn expires_at(&self, ttl_ms: u64, now: u64) -> Result<u64, ServiceError> {
        self.service().limits.check_ttl(ttl_ms)?;
        Ok(now.saturating_add(ttl_ms))
    }
}
