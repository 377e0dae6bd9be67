//! Where an HTTP request's token comes from ([`extract_token`]) and who that makes the caller
//! ([`caller`]: `Service::caller`, the same rules as every protocol). Permissions are the
//! service's admission (`Service::admit`), not checked here.
//!
//! Momento's HTTP API takes the token as `Authorization: <token>` or as a `?token=` query
//! parameter (reference §6); we also accept `Authorization: Bearer <token>`, which browsers'
//! fetch wrappers and curl users tend to send. Sending it both ways is a 400 (Momento does that
//! for topics; we do it everywhere so a request never has two identities).
//!
//! Auth mode `token`: a missing, malformed, tampered, expired or revoked token is a 401
//! `unauthenticated`; a valid token without the permission a request needs is a 403
//! `permission_denied` (from admission). The token id is the caller's metering tenant and the
//! `publisher_id` of what it publishes. Auth mode `none` (development): every token, including
//! none, is an unrestricted caller metered as `anonymous`; a key minted by the development
//! `GenerateDisposableToken` still gives its publisher id, so HTTP and gRPC publishers look the
//! same to subscribers. The admin port reads its tokens with [`extract_token`] too.

use axum::http::{header, HeaderMap};
use ferrite_service::{Caller, Service};

use super::error::ApiError;
use super::params::Query;

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

/// Extract the token and resolve the caller (what every data handler does first): 401 in auth
/// mode `token` when the token is missing or not valid now.
pub fn caller(svc: &Service, headers: &HeaderMap, query: &Query) -> Result<Caller, ApiError> {
    let token = extract_token(headers, query)?;
    Ok(svc.caller(token.as_deref())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_auth::{CacheAccess, TopicAccess};
    use ferrite_service::Auth;
    use std::sync::Arc;

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

    fn service(auth: Auth) -> Arc<Service> {
        let clock: ferrite_storage::SharedClock = Arc::new(ferrite_storage::SystemClock);
        let store = ferrite_storage::Store::new(ferrite_storage::StoreConfig::default(), clock);
        let cfg = ferrite_config::Config::default();
        Service::new(
            store,
            ferrite_topics::Topics::new(ferrite_topics::TopicsConfig::default()),
            auth,
            ferrite_service::Metering::new(16),
            ferrite_service::Quotas::new(&cfg.quotas),
            ferrite_service::Limits::default(),
        )
    }

    fn token_mode() -> (Arc<Service>, Arc<ferrite_auth::Authenticator>) {
        let a = Arc::new(ferrite_auth::Authenticator::new(vec![3u8; 32]));
        (service(Auth::with_authenticator(a.clone(), 3600)), a)
    }

    fn authorize(svc: &Service, token: Option<&str>) -> Result<Caller, ApiError> {
        Ok(svc.caller(token)?)
    }

    fn check_key(c: &Caller, cache: &str, key: &[u8], access: CacheAccess) -> Result<(), ApiError> {
        ferrite_service::authz::check_cache_keys(&c.principal, cache, access, [key])
            .map_err(|d| ApiError::from(ferrite_service::ServiceError::Denied(d)))
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
        assert!(check_key(&c, "app", b"u:1", CacheAccess::Read).is_ok());
        for (cache, key, access) in [
            ("app", &b"x"[..], CacheAccess::Read),
            ("app", &b"u:1"[..], CacheAccess::Write),
            ("other", &b"u:1"[..], CacheAccess::Read),
        ] {
            let e = check_key(&c, cache, key, access).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::FORBIDDEN, "permission_denied")
            );
        }
        assert!(ferrite_service::authz::check_topic(
            &c.principal,
            "app",
            b"t",
            TopicAccess::Subscribe
        )
        .is_err());
        assert!(a.revoke("reader").unwrap());
        assert_eq!(
            authorize(&auth, Some(&jwt)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn mode_none_accepts_anything_as_anonymous() {
        // The default configuration binds loopback: auth mode `auto` resolves to `none`.
        let auth = service(Auth::from_config(&ferrite_config::Config::default()).unwrap());
        assert!(!auth.auth.enforcing());
        for t in [None, Some(""), Some("whatever")] {
            let c = authorize(&auth, t).unwrap();
            assert_eq!(&*c.tenant_token, ferrite_service::tenant::ANONYMOUS_TOKEN);
            assert!(c.publisher_id.is_none());
            assert!(check_key(&c, "any", b"k", CacheAccess::Write).is_ok());
            assert!(c.principal.can_topic("any", b"t", TopicAccess::Publish));
        }
    }
}
