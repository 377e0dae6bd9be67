//! Tenant identity: what a request is metered and rate-limited as.
//!
//! The seam for auth: today every caller is the development-mode token [`ANONYMOUS_TOKEN`]. Once
//! signed tokens exist, the RESP connection replaces its [`MeterKey`] on `AUTH` / `HELLO AUTH`
//! (`Session::set_tenant` in resp/conn/auth.rs) and gRPC derives the token id from the
//! `authorization` header per call (`GrpcState::tenant` in grpc/mod.rs); nothing else changes.

use std::fmt;
use std::sync::Arc;

/// Token id of every caller while the server runs in development auth mode.
pub const ANONYMOUS_TOKEN: &str = "anonymous";
/// Token id and cache name of the bucket that collects keys past `metering.max_tracked_keys`.
pub const OTHER: &str = "other";

/// (token id, cache name): the unit of metering and of per-token/per-cache limits.
/// Cloning is two reference-count increments; connections keep theirs for their lifetime.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeterKey {
    pub token: Arc<str>,
    pub cache: Arc<str>,
}

impl MeterKey {
    pub fn new(token: Arc<str>, cache: Arc<str>) -> Self {
        Self { token, cache }
    }

    /// The development-mode identity for a cache.
    pub fn anonymous(cache: Arc<str>) -> Self {
        Self::new(Arc::from(ANONYMOUS_TOKEN), cache)
    }

    /// The overflow bucket.
    pub fn other() -> Self {
        Self::new(Arc::from(OTHER), Arc::from(OTHER))
    }

    pub fn is_other(&self) -> bool {
        &*self.token == OTHER && &*self.cache == OTHER
    }
}

impl fmt::Debug for MeterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.token, self.cache)
    }
}
