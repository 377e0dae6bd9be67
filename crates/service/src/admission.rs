//! THE admission sequence, for every protocol: who is calling ([`Service::caller`]), then
//! [`Service::admit`]: the permission (before the cache is looked up, so a stranger cannot probe
//! which caches exist) → the cache (not found) → the tenant's quota. What it returns, an
//! [`Op`], is the only way to the data, and its [`Op::finish`] is the only place a one-shot
//! request is metered and charged to its quota.
//!
//! RESP is the exception by design: a connection admits and meters per command with plain
//! fields folded once per loop turn (`Session::execute_metered`, which `tests/zero_alloc.rs`
//! pins at zero allocations), but it takes its identity from the same [`Caller`] rules and its
//! limiters from the same [`crate::Quotas`].

use std::sync::Arc;

use ferrite_auth::{AuthError, CacheAccess, Principal, TopicAccess};
use ferrite_storage::Cache;

use crate::authz::{self, Denied};
use crate::error::ServiceError;
use crate::metering::Counters;
use crate::quota::QuotaHandle;
use crate::tenant::{MeterKey, ANONYMOUS_TOKEN};
use crate::Service;

/// Who is calling, as every data path needs to know it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who the token says the caller is (unrestricted in auth mode `none`).
    pub principal: Principal,
    /// Carried as `publisher_id` on the messages this caller publishes (None = none).
    pub publisher_id: Option<Arc<str>>,
    /// The token id this caller is metered and rate-limited as (`anonymous` in mode `none`).
    pub tenant_token: Arc<str>,
}

impl Caller {
    /// The metering / quota tenant of a request on `cache`.
    pub fn tenant(&self, cache: Arc<str>) -> MeterKey {
        MeterKey::new(self.tenant_token.clone(), cache)
    }
}

// Per-thread copies: one process-wide `Arc` cloned on every request would be a shared atomic per
// operation (its reference count), and a fresh one per request an allocation.
thread_local! {
    static ANONYMOUS: Arc<str> = Arc::from(ANONYMOUS_TOKEN);
    static UNRESTRICTED: Principal = Principal::unrestricted("");
}

/// The unrestricted principal of auth mode `none` (this thread's copy: no allocation, no shared
/// reference count per request).
pub fn unrestricted_principal() -> Principal {
    UNRESTRICTED.with(Principal::clone)
}

/// The development-mode tenant token id (this thread's copy).
pub fn anonymous_token() -> Arc<str> {
    ANONYMOUS.with(Arc::clone)
}

/// What a request needs of its caller on one cache.
pub enum Need<'a> {
    /// `access` to one key.
    Key(CacheAccess, &'a [u8]),
    /// `access` to one topic (its name is validated first: `Limits::check_topic_name`).
    Topic(TopicAccess, &'a [u8]),
    /// A front end's own list of key checks (a gRPC request naming several keys, or reading some
    /// and writing others), asked with `authz::check_cache_keys` and friends.
    Check(&'a dyn Fn(&Principal, &str) -> Result<(), Denied>),
}

impl Need<'_> {
    fn check(&self, p: &Principal, cache: &str) -> Result<(), Denied> {
        match self {
            Need::Key(access, key) => {
                authz::check_cache_keys(p, cache, *access, std::iter::once(*key))
            }
            Need::Topic(access, topic) => authz::check_topic(p, cache, topic, *access),
            Need::Check(f) => f(p, cache),
        }
    }
}

/// An admitted operation on one cache: the caller passed its permission check and its quota
/// admitted it. Metering and quota charging happen only in [`finish`](Self::finish).
#[must_use = "an admitted operation is metered only by Op::finish"]
pub struct Op<'s> {
    service: &'s Service,
    cache: Arc<Cache>,
    tenant: MeterKey,
    quota: QuotaHandle,
}

impl<'s> Op<'s> {
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    pub fn tenant(&self) -> &MeterKey {
        &self.tenant
    }

    pub fn service(&self) -> &'s Service {
        self.service
    }

    /// Record what the operation moved (the protocol's own byte counts) for its tenant and
    /// charge its bytes to the tenant's quota: one uncontended lock of this thread's metering
    /// shard.
    pub fn finish(self, usage: Counters) {
        self.service.metering.record(&self.tenant, &usage);
        self.quota.charge(usage.bytes_in + usage.bytes_out);
    }

    /// The parts a subscription keeps for metering its deliveries (`Service::subscribe`).
    pub(crate) fn into_parts(self) -> (Arc<Cache>, MeterKey, QuotaHandle) {
        (self.cache, self.tenant, self.quota)
    }
}

impl Service {
    /// The caller of a request that carried `token` (any accepted form; `None` or empty = no
    /// token). Auth mode `token`: a missing or invalid token is `Unauthenticated`, and the token
    /// id is both the tenant and the publisher id. Auth mode `none`: everyone is an unrestricted
    /// caller metered as `anonymous`; a development key minted by `GenerateDisposableToken` still
    /// names its publisher, so every protocol's publishers look the same to subscribers.
    pub fn caller(&self, token: Option<&str>) -> Result<Caller, ServiceError> {
        if self.auth.enforcing() {
            let token = token
                .filter(|t| !t.trim().is_empty())
                .ok_or(ServiceError::Unauthenticated(AuthError::Missing))?;
            let principal = self.auth.authenticate(token)?;
            return Ok(self.caller_for(principal, None));
        }
        Ok(self.caller_for(
            unrestricted_principal(),
            token.and_then(dev_key::publisher_id),
        ))
    }

    /// The caller for a principal a front end resolved itself (gRPC's interceptor, RESP's AUTH).
    /// `dev_publisher` is the publisher id of a development key (auth mode `none` only).
    pub fn caller_for(&self, principal: Principal, dev_publisher: Option<Arc<str>>) -> Caller {
        if self.auth.enforcing() {
            let id = principal.token_id().clone();
            return Caller {
                principal,
                publisher_id: Some(id.clone()),
                tenant_token: id,
            };
        }
        Caller {
            principal,
            publisher_id: dev_publisher,
            tenant_token: anonymous_token(),
        }
    }

    /// Is a caller admitted earlier still valid (expiry, revocation)? Long-lived requests ask
    /// before they hand over more data.
    pub fn revalidate(&self, caller: &Caller) -> Result<(), ServiceError> {
        self.auth.check(&caller.principal).map_err(Into::into)
    }

    /// Admit one operation of `caller` on `cache_name`: permission, then the cache, then the
    /// quota (see the module docs). In auth mode `none` the permission check costs one branch.
    pub fn admit(
        &self,
        caller: &Caller,
        cache_name: &str,
        need: Need<'_>,
    ) -> Result<Op<'_>, ServiceError> {
        if let Need::Topic(_, topic) = need {
            self.limits.check_topic_name(topic)?;
        }
        // An empty cache name is asked no key permission (it names no keys) but is refused
        // below; a topic permission is asked whatever the name, as it always was.
        let named = !cache_name.is_empty() || matches!(need, Need::Topic(..));
        if self.auth.enforcing() && named {
            need.check(&caller.principal, cache_name)?;
        }
        let cache = self.cache_named(cache_name)?;
        let tenant = caller.tenant(cache.name_arc().clone());
        let quota = self.quotas.handle(&tenant);
        quota.admit()?;
        Ok(Op {
            service: self,
            cache,
            tenant,
            quota,
        })
    }

    /// A cache by name (`CacheNotFound` when it does not exist). Data paths go through
    /// [`admit`](Self::admit); this is for the control plane and re-checks.
    pub fn cache_named(&self, name: &str) -> Result<Arc<Cache>, ServiceError> {
        if name.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "cache name must not be empty".into(),
            ));
        }
        self.store
            .cache(name)
            .ok_or_else(|| ServiceError::CacheNotFound(name.to_string()))
    }
}

/// Development-mode api keys: `ferrite-dev.<hex token_id>.<random>`, handed out by
/// `GenerateDisposableToken` in auth mode `none`. Unsigned (nothing is checked in that mode);
/// their token id becomes the `publisher_id` of what they publish, on every protocol.
pub mod dev_key {
    use std::sync::Arc;

    pub const PREFIX: &str = "ferrite-dev.";

    /// A new development key for `token_id`.
    pub fn mint(token_id: &str, nonce: u128) -> String {
        let hex: String = token_id
            .as_bytes()
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        format!("{PREFIX}{hex}.{nonce:032x}")
    }

    /// The token id of a development key; None for anything else.
    pub fn publisher_id(token: &str) -> Option<Arc<str>> {
        let rest = token.strip_prefix(PREFIX)?;
        let hex = rest.split('.').next()?;
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let id = String::from_utf8(bytes).ok()?;
        (!id.is_empty()).then(|| Arc::from(id))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_minted_key_names_its_publisher() {
            let k = super::mint("user-7", 5);
            assert_eq!(super::publisher_id(&k).as_deref(), Some("user-7"));
            assert_eq!(super::publisher_id("ferrite-dev.zz.1"), None);
            assert_eq!(super::publisher_id("ferrite-dev..1"), None);
            assert_eq!(super::publisher_id("anything"), None);
        }
    }
}
