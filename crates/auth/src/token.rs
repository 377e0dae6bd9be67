//! Signed tokens: claims, signing, the Momento SDK wrappers, and verification.
//!
//! A Ferrite token is a JWT signed with **HS256**. Why HMAC and not EdDSA: the same process
//! mints and verifies every token (the `ferrite token create` CLI reads the same key file), so a
//! public verification key buys nothing, while HMAC keys are plain random bytes (no key format to
//! get wrong) and verification costs about a microsecond, which matters because gRPC verifies the
//! header of every call.
//!
//! Claims: `jti` (token id), `iat`, `exp` (seconds since the epoch), `t: "g"` (so the Momento SDKs'
//! v2-key check accepts the raw JWT), and `p` (the [`Permissions`]).
//!
//! What users get is the **v1 wrapper**: base64 of `{"endpoint":"<host>","api_key":"<jwt>"}`,
//! which every Momento SDK parses (`from_string` / `from_disposable_token`), and which makes the
//! SDK send only the inner JWT as `authorization`. The server accepts both forms.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::permissions::Permissions;

/// Longest token id (the Momento SDKs' limit on `token_id`).
pub const MAX_TOKEN_ID: usize = 64;
/// Longest token the server will try to parse: bounds the work a bad header can cause.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Token id: revocation and `publisher_id` use it.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// `"g"`: the Momento SDKs recognise a raw JWT with this claim as a (v2) API key.
    pub t: String,
    pub p: Permissions,
}

/// Why a token was refused (all map to UNAUTHENTICATED / `-ERR invalid token` / HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("invalid token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token revoked")]
    Revoked,
}

/// A fresh random token id (128 bits, hex).
pub fn random_token_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Signs claims with the server's key.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing of serializable claims cannot fail")
}

/// The v1 wrapper the Momento SDKs parse: base64 of `{"endpoint":..,"api_key":..}`.
///
/// The SDKs disagree on the alphabet (Rust: URL-safe, Python/JS: standard), so the JSON is
/// encoded with the standard alphabet and must not produce `+` or `/`: it never does for ASCII
/// JSON without `>`, `?` or `~` (JWT characters are safe), which `endpoint` is checked for.
pub fn wrap_v1(endpoint: &str, jwt: &str) -> Result<String, String> {
    if endpoint.is_empty() || endpoint.contains(['>', '?', '~', '"', '\\']) || !endpoint.is_ascii()
    {
        return Err(format!(
            "endpoint {endpoint:?} must be a non-empty ASCII host name without > ? ~ \" \\"
        ));
    }
    let json = serde_json::json!({ "endpoint": endpoint, "api_key": jwt }).to_string();
    let out = base64::engine::general_purpose::STANDARD.encode(json);
    debug_assert!(!out.contains(['+', '/']));
    Ok(out)
}

/// The JWT inside whatever form a client sent: a raw JWT (what the SDKs send, or a v2 key), the
/// v1 wrapper (what `ferrite token create` prints; RESP clients send it as is), optionally after
/// `Bearer `.
pub fn unwrap_token(token: &str) -> Result<String, AuthError> {
    let token = token.trim();
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    if token.bytes().filter(|&b| b == b'.').count() == 2 {
        return Ok(token.to_string());
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    let bytes = engines
        .iter()
        .find_map(|e| e.decode(token).ok())
        .ok_or(AuthError::Malformed)?;
    #[derive(Deserialize)]
    struct V1 {
        api_key: String,
    }
    let v1: V1 = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    if v1.api_key.bytes().filter(|&b| b == b'.').count() != 2 {
        return Err(AuthError::Malformed);
    }
    Ok(v1.api_key)
}

/// Check a JWT's signature and decode its claims. Expiry and revocation are the caller's
/// (`Authenticator`), which has the clock and the revocation set.
pub fn verify_signature(secret: &[u8], jwt: &str) -> Result<Claims, AuthError> {
    let mut v = Validation::new(Algorithm::HS256);
    // Expiry is checked by the Authenticator against its own clock, with no leeway.
    v.validate_exp = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Claims>(jwt, &DecodingKey::from_secret(secret), &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
            _ => AuthError::Malformed,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            jti: "id-1".into(),
            iat: 1,
            exp: 2,
            t: "g".into(),
            p: Permissions::SuperUser,
        }
    }

    #[test]
    fn sign_wrap_unwrap_verify() {
        let key = [7u8; 32];
        let jwt = sign(&key, &claims());
        let wrapped = wrap_v1("localhost", &jwt).unwrap();
        assert!(!wrapped.contains(['+', '/']));
        assert_eq!(unwrap_token(&wrapped).unwrap(), jwt);
        assert_eq!(unwrap_token(&format!("Bearer {jwt}")).unwrap(), jwt);
        assert_eq!(verify_signature(&key, &jwt).unwrap(), claims());
        assert_eq!(
            verify_signature(&[8u8; 32], &jwt),
            Err(AuthError::BadSignature)
        );
        assert_eq!(unwrap_token(""), Err(AuthError::Missing));
        assert_eq!(unwrap_token("local-dev"), Err(AuthError::Malformed));
        assert!(wrap_v1("a?b", &jwt).is_err());
    }

    #[test]
    fn unsigned_and_other_algorithms_are_refused() {
        let key = [7u8; 32];
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = e.encode(serde_json::to_vec(&claims()).unwrap());
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
        ] {
            let forged = format!("{}.{payload}.", e.encode(header));
            assert!(verify_signature(&key, &forged).is_err(), "{header}");
            let forged = format!("{}.{payload}.c2ln", e.encode(header));
            assert!(verify_signature(&key, &forged).is_err(), "{header}");
        }
    }

    #[test]
    fn tampered_payload_is_refused() {
        let key = [7u8; 32];
        let jwt = sign(&key, &claims());
        let mut parts: Vec<String> = jwt.split('.').map(String::from).collect();
        let mut c = claims();
        c.exp = u64::MAX / 2;
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&c).unwrap());
        let forged = parts.join(".");
        assert_eq!(
            verify_signature(&key, &forged),
            Err(AuthError::BadSignature)
        );
    }
}
