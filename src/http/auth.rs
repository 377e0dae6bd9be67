//! Who is calling and what they may do: the token is taken from the request in ONE place
//! ([`extract_token`]) and checked in ONE place ([`authorize`]); the permission checks are
//! `ferrite_service::authz`'s, shared with RESP and gRPC ([`Caller::check_keys`], [`Caller::check_topic`]).
//!
//! Momento's HTTP API takes the token as `Authorization: <token>` or as a `?token=` query
//! parameter (reference §6); we also accept `Authorization: Bearer <token>`, which browsers'
//! fetch wrappers and curl users tend to send. Sending it both ways is a 400 (Momento does that
//! for topics; we do it everywhere so a request never has two identities).
//!
//! Auth mode `token` (`shared.auth.enforcing()`): a missing, malformed, tampered, expired or
//! revoked token is a 401 `unauthenticated`; a valid token without the permission a request
//! needs is a 403 `permission_denied`. The token id is the caller's metering tenant and the
//! `publisher_id` of what it publishes. Auth mode `none` (development): every token, including
//! none, is an unrestricted caller metered as `anonymous`; a key minted by the development
//! `GenerateDisposableToken` still gives its publisher id, so HTTP and gRPC publishers look the
//! same to subscribers.

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use ferrite_auth::{AuthError, CacheAccess, Principal, TopicAccess};

use super::error::ApiError;
use super::params::Query;
use ferrite_service::authz::{self, Auth, Denied};
use ferrite_service::MeterKey;

/// The caller, as far as the data path needs to know.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who the token says the caller is (unrestricted in auth mode `none`).
    pub principal: Principal,
    /// Token id carried as `publisher_id` on the messages this caller publishes (None = none).
    pub publisher_id: Option<Arc<str>>,
    /// The token id this caller is metered and rate-limited as (`anonymous` in mode `none`).
    pub tenant_token: Arc<str>,
}

impl Caller {
    /// `access` to `key` of `cache`, or 403. Asked before the cache is looked up, so a stranger
    /// cannot probe which caches exist.
    pub fn check_key(&self, cache: &str, key: &[u8], access: CacheAccess) -> Result<(), ApiError> {
        authz::check_cache_keys(&self.principal, cache, access, std::iter::once(key))
            .map_err(denied)
    }

    /// `access` to `topic` of `cache`, or 403 (also before the cache is looked up).
    pub fn check_topic(
        &self,
        cache: &str,
        topic: &str,
        access: TopicAccess,
    ) -> Result<(), ApiError> {
        authz::check_topic(&self.principal, cache, topic.as_bytes(), access).map_err(denied)
    }

    /// The metering / quota tenant of a request on `cache`.
    pub fn tenant(&self, cache: Arc<str>) -> MeterKey {
        MeterKey::new(self.tenant_token.clone(), cache)
    }
}

/// 401 with the reason (never the token itself).
pub fn unauthenticated(e: AuthError) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "unauthenticated",
        format!("invalid token: {e}"),
    )
}

/// 403 naming the missing permission.
pub fn denied(d: Denied) -> ApiError {
    ApiError::new(axum::http::StatusCode::FORBIDDEN, "permission_denied", d.0)
}

/// The request's token, from the `Authorization` header (raw or `Bearer`) or the `token` query
/// parameter. `None` when neither is present (development mode accepts that, as gRPC does for
/// the SDKs' local providers).
pub fn extract_token(headers: &HeaderMap, query: &Query) -> Result<Option<String>, ApiError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| ApiError::bad_request("the Authorization header must be ASCII"))?
                .trim();
            let raw = match v.split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                _ => v,
            };
            Some(raw.to_string())
        }
    };
    let from_query = query.get("token").map(str::to_string);
    match (from_header, from_query) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "send the token either in the Authorization header or in the token query parameter, not both",
        )),
        (h, q) => Ok(h.or(q)),
    }
}

/// The single authorization seam of the HTTP API: the request's token (if any) → [`Caller`].
/// 401 in auth mode `token` when the token is missing or not valid now.
pub fn authorize(auth: &Auth, token: Option<&str>) -> Result<Caller, ApiError> {
    if auth.enforcing() {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated(AuthError::Missing))?;
        let principal = auth.authenticate(token).map_err(unauthenticated)?;
        let id = principal.token_id().clone();
        return Ok(Caller {
            principal,
            publisher_id: Some(id.clone()),
            tenant_token: id,
        });
    }
    let publisher_id = token.and_then(|t| {
        let mut md = tonic::metadata::MetadataMap::new();
        md.insert("authorization", t.parse().ok()?);
        crate::grpc::auth::publisher_id(&md)
    });
    // A per-thread copy of the id: one process-wide `Arc` cloned on every request would be the
    // shared atomic per operation the metering design avoids.
    thread_local! {
        static ANONYMOUS: Arc<str> = Arc::from(ferrite_service::tenant::ANONYMOUS_TOKEN);
    }
    Ok(Caller {
        principal: Principal::unrestricted(""),
        publisher_id,
        tenant_token: ANONYMOUS.with(Arc::clone),
    })
}

/// Extract and authorize in one call (what every data handler does first).
pub fn caller(auth: &Auth, headers: &HeaderMap, query: &Query) -> Result<Caller, ApiError> {
    let token = extract_token(headers, query)?;
    authorize(auth, token.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn token_sources() {
        let none = Query::parse(None).unwrap();
        let q = Query::parse(Some("token=abc")).unwrap();
        assert_eq!(extract_token(&headers(None), &none).unwrap(), None);
        assert_eq!(
            extract_token(&headers(Some("raw-tok")), &none)
                .unwrap()
                .as_deref(),
            Some("raw-tok")
        );
        assert_eq!(
            extract_token(&headers(Some("Bearer jwt.x.y")), &none)
                .unwrap()
                .as_deref(),
            Some("jwt.x.y")
        );
        assert_eq!(
            extract_token(&headers(None), &q).unwrap().as_deref(),
            Some("abc")
        );
        assert_eq!(
            extract_token(&headers(Some("raw")), &q).unwrap_err().status,
            axum::http::StatusCode::BAD_REQUEST
        );
    }

    fn token_mode() -> (Auth, Arc<ferrite_auth::Authenticator>) {
        let a = Arc::new(ferrite_auth::Authenticator::new(vec![3u8; 32]));
        (Auth::with_authenticator(a.clone(), 3600), a)
    }

    #[test]
    fn token_mode_needs_a_valid_token() {
        use axum::http::StatusCode;
        let (auth, a) = token_mode();
        for bad in [None, Some(""), Some("nonsense")] {
            let e = authorize(&auth, bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::UNAUTHORIZED, "unauthenticated")
            );
        }
        let perms = ferrite_auth::Permissions::Explicit {
            caches: vec![ferrite_auth::CacheGrant {
                role: ferrite_auth::CacheRole::ReadOnly,
                cache: Some("app".into()),
                items: ferrite_auth::Selector::Prefix("u:".into()),
            }],
            topics: vec![],
        };
        let (jwt, _) = a
            .issue(perms, 60, Some("reader".into()), ferrite_auth::now_secs())
            .unwrap();
        let c = authorize(&auth, Some(&jwt)).unwrap();
        assert_eq!(&*c.tenant_token, "reader");
        assert_eq!(c.publisher_id.as_deref(), Some("reader"));
        assert!(c.check_key("app", b"u:1", CacheAccess::Read).is_ok());
        for (cache, key, access) in [
            ("app", &b"x"[..], CacheAccess::Read),
            ("app", &b"u:1"[..], CacheAccess::Write),
            ("other", &b"u:1"[..], CacheAccess::Read),
        ] {
            let e = c.check_key(cache, key, access).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::FORBIDDEN, "permission_denied")
            );
        }
        let e = c
            .check_topic("app", "t", TopicAccess::Subscribe)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(a.revoke("reader").unwrap());
        assert_eq!(
            authorize(&auth, Some(&jwt)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn mode_none_accepts_anything_as_anonymous() {
        // The default configuration binds loopback: auth mode `auto` resolves to `none`.
        let auth = Auth::from_config(&ferrite_config::Config::default()).unwrap();
        assert!(!auth.enforcing());
        for t in [None, Some(""), Some("whatever")] {
            let c = authorize(&auth, t).unwrap();
            assert_eq!(&*c.tenant_token, ferrite_service::tenant::ANONYMOUS_TOKEN);
            assert!(c.publisher_id.is_none());
            assert!(c.check_key("any", b"k", CacheAccess::Write).is_ok());
            assert!(c.check_topic("any", "t", TopicAccess::Publish).is_ok());
        }
    }
}
