//! Token parsing and verification (the `authorization` header, `AUTH`, `?token=`, the v1
//! wrapper) on arbitrary input.
//!
//! Checks: no panic on any string; a string that is not a token this key signed is never
//! accepted; and a genuine token with any single byte changed, or cut short, is refused (the
//! signature covers every byte that can change what the token grants), in both the raw JWT and
//! the v1 wrapper form.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use ferrite_auth::{Authenticator, CacheGrant, CacheRole, Permissions, Selector};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_700_000_000;

fn genuine(a: &Authenticator) -> String {
    let perms = Permissions::Explicit {
        caches: vec![CacheGrant {
            role: CacheRole::ReadOnly,
            cache: Some("app".into()),
            items: Selector::Prefix("user:1:".into()),
        }],
        topics: vec![],
    };
    a.issue(perms, 600, Some("fuzz".into()), NOW).unwrap().0
}

fuzz_target!(|input: &[u8]| {
    let a = Authenticator::new(vec![7; 32]);
    let mut u = Unstructured::new(input);
    let mode = u8::arbitrary(&mut u).unwrap_or(0) % 3;
    match mode {
        // Arbitrary text: must never be accepted (it was not signed with this key; a forged
        // signature would be a finding).
        0 => {
            let text = String::from_utf8_lossy(u.take_rest()).into_owned();
            if let Ok(p) = a.authenticate(&text, NOW) {
                panic!("accepted an unsigned token {text:?} as {:?}", p.token_id());
            }
            let _ = ferrite_auth::token::unwrap_token(&text);
        }
        // One byte of a genuine token changed, or the token cut short.
        _ => {
            let jwt = genuine(&a);
            let token = if mode == 1 {
                jwt.clone()
            } else {
                ferrite_auth::token::wrap_v1("localhost", &jwt).unwrap()
            };
            assert!(a.authenticate(&token, NOW).is_ok());
            let mut bytes = token.clone().into_bytes();
            let pos = u32::arbitrary(&mut u).unwrap_or(0) as usize % bytes.len();
            let cut = bool::arbitrary(&mut u).unwrap_or(false);
            let changed = if cut {
                bytes.truncate(pos);
                String::from_utf8(bytes).unwrap()
            } else {
                let b = u8::arbitrary(&mut u).unwrap_or(0);
                if b == bytes[pos] {
                    return;
                }
                bytes[pos] = b;
                match String::from_utf8(bytes) {
                    Ok(s) => s,
                    Err(_) => return,
                }
            };
            // Surrounding whitespace is trimmed by design (headers, AUTH arguments): a change
            // that only trims to the same token is not a change.
            if changed.trim() == token {
                return;
            }
            if let Ok(p) = a.authenticate(&changed, NOW) {
                // The v1 wrapper's endpoint is not signed (the SDK reads it, the server never
                // does): a change there may still carry the genuine inner JWT. Anything else
                // accepted is a forgery.
                let inner = ferrite_auth::token::unwrap_token(&changed).unwrap();
                assert_eq!(inner, jwt, "accepted a changed token {changed:?}");
                assert_eq!(&**p.token_id(), "fuzz");
            }
        }
    }
});
