//! Query-string parameters: decoded once, duplicates refused, typed getters with 400 errors that
//! name the parameter.

use base64::Engine;

use super::error::ApiError;

/// Most parameters one request may carry (a bound on work, not a Momento rule).
const MAX_PARAMS: usize = 32;

/// The decoded query string of one request.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decode `a=1&b=2` (percent-decoding, `+` as space). A parameter given twice is a 400: which
    /// one we used would otherwise be a guess.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if pairs.iter().any(|(have, _)| *have == k) {
                return Err(ApiError::bad_request(format!(
                    "query parameter '{k}' is given more than once"
                )));
            }
            if pairs.len() == MAX_PARAMS {
                return Err(ApiError::bad_request(format!(
                    "too many query parameters (at most {MAX_PARAMS})"
                )));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An optional unsigned integer parameter.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "query parameter '{name}' must be a non-negative integer, got {v:?}"
                ))
            }),
        }
    }

    /// The cache key: `key` (a string, sent URL-encoded) or `key_base64` (base64url of the raw
    /// bytes, for binary keys; padding optional, the standard alphabet is accepted too).
    /// Exactly one of them, and not empty.
    pub fn key(&self) -> Result<Vec<u8>, ApiError> {
        let key = match (self.get("key"), self.get("key_base64")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give either 'key' or 'key_base64', not both",
                ))
            }
            (None, None) => {
                return Err(ApiError::bad_request(
                    "missing query parameter 'key' (or 'key_base64')",
                ))
            }
            (Some(k), None) => k.as_bytes().to_vec(),
            (None, Some(b)) => decode_base64(b).ok_or_else(|| {
                ApiError::bad_request("query parameter 'key_base64' is not valid base64url")
            })?,
        };
        if key.is_empty() {
            return Err(ApiError::bad_request("the key must not be empty"));
        }
        Ok(key)
    }
}

/// base64url with or without padding; `+` and `/` (standard alphabet) are read as `-` and `_`,
/// and so is a space (an unencoded `+` in a query string decodes to one).
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode};
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let normalized: String = s
        .trim()
        .chars()
        .map(|c| match c {
            // A '+' the client did not percent-encode arrives as a space; base64 has no spaces.
            '+' | ' ' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    ENGINE.decode(normalized).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let k = |q: &str| Query::parse(Some(q)).and_then(|q| q.key());
        assert_eq!(k("key=a%20b+c").unwrap(), b"a b c");
        assert_eq!(k("key_base64=AP8").unwrap(), [0u8, 255]);
        assert_eq!(k("key_base64=AP8%3D").unwrap(), [0u8, 255]);
        assert_eq!(k("key_base64=_-8").unwrap(), [255u8, 239]);
        assert_eq!(k("key_base64=/%2B8").unwrap(), [255u8, 239]);
        assert_eq!(k("key_base64=/+8").unwrap(), [255u8, 239]);
        assert!(k("key_base64=%%%").is_err());
        assert!(k("key_base64=A").is_err());
        assert!(k("key=").is_err());
        assert!(k("other=1").is_err());
        assert!(k("key=a&key_base64=YQ").is_err());
        assert!(Query::parse(Some("key=a&key=b")).is_err());
    }

    #[test]
    fn integers() {
        let q = Query::parse(Some("a=5&b=-1&c=x")).unwrap();
        assert_eq!(q.u64("a").unwrap(), Some(5));
        assert_eq!(q.u64("missing").unwrap(), None);
        assert!(q.u64("b").is_err());
        assert!(q.u64("c").is_err());
    }
}
