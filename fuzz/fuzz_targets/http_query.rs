//! The HTTP API's query-string parsing (`?key=`, `key_base64`, `ttl_seconds`, duplicates, the
//! parameter cap) on arbitrary query strings.
//!
//! Checks: no panic; every error is a 400 with a message; a parsed query keeps at most the
//! parameter cap; a key that parses is never empty; and a `key_base64` that parses decodes to
//! the bytes a base64url encoder would have been given.
#![no_main]

use base64::Engine as _;
use ferrite::http::params::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(raw) = std::str::from_utf8(input) else {
        return;
    };
    let q = match Query::parse(Some(raw)) {
        Ok(q) => q,
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "{e:?}");
            assert!(!e.message.is_empty());
            return;
        }
    };
    if let Ok(key) = q.key() {
        assert!(!key.is_empty());
        if q.get("key").is_none() {
            let b64 = q.get("key_base64").unwrap();
            // What the decoder was given, in base64url without padding: the canonical
            // encoding of the bytes it returned must be exactly that (no bytes invented or lost).
            let given: String = b64
                .trim()
                .trim_end_matches('=')
                .chars()
                .map(|c| match c {
                    '+' | ' ' => '-',
                    '/' => '_',
                    c => c,
                })
                .collect();
            let again = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key);
            assert_eq!(again, given, "key_base64 {b64:?} decoded to {key:?}");
        }
    }
    for name in ["ttl_seconds", "sequence_number", "sequence_page"] {
        let _ = q.u64(name);
    }
});
