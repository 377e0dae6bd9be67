//! Who is calling: the token is taken from the request in ONE place ([`extract_token`]) and
//! checked in ONE place ([`authorize`]).
//!
//! Momento's HTTP API takes the token as `Authorization: <token>` or as a `?token=` query
//! parameter (reference §6); we also accept `Authorization: Bearer <token>`, which browsers'
//! fetch wrappers and curl users tend to send. Sending it both ways is a 400 (Momento does that
//! for topics; we do it everywhere so a request never has two identities).

use std::sync::Arc;

use axum::http::{header, HeaderMap};

use super::error::ApiError;
use super::params::Query;

/// The caller, as far as the data path needs to know.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Token id carried as `publisher_id` on the messages this caller publishes (empty = none).
    pub publisher_id: Option<Arc<str>>,
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

/// The single authorization seam of the HTTP API.
///
/// Development auth mode (the only mode until token auth, issue 5, is merged): every token is
/// accepted, including none, exactly as the gRPC front end's `grpc::auth::authorize` does. Real
/// checks (unknown/expired token -> 401, missing permission -> 403) belong here; they will need
/// the cache and topic/key being accessed, which is why the handlers call this after parsing
/// the request. A key minted by the development `GenerateDisposableToken` still gives the
/// publisher id its messages carry, so HTTP and gRPC publishers look the same to subscribers.
pub fn authorize(token: Option<&str>) -> Result<Caller, ApiError> {
    let publisher_id = token.and_then(|t| {
        let mut md = tonic::metadata::MetadataMap::new();
        md.insert("authorization", t.parse().ok()?);
        crate::grpc::auth::publisher_id(&md)
    });
    Ok(Caller { publisher_id })
}

/// Extract and authorize in one call (what every data handler does first).
pub fn caller(headers: &HeaderMap, query: &Query) -> Result<Caller, ApiError> {
    let token = extract_token(headers, query)?;
    authorize(token.as_deref())
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
}
