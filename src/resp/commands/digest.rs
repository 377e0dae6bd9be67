//! DEBUG DIGEST-VALUE: Redis 7.0's per-value digest (`xorObjectDigest` in its debug.c), byte for
//! byte, so a test or tool comparing digests taken here with digests taken there agrees. Order
//! matters for strings, lists and streams (`mix`: SHA-1 of the digest xor SHA-1 of the data);
//! sets, hashes and sorted sets xor their elements' digests, so their layout does not.

use ferrite_storage::value::{StreamId, Value};

type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

/// Redis's `xorDigest`: digest ^= SHA1(data).
fn xor(digest: &mut Digest, data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(data)) {
        *d ^= h;
    }
}

/// Redis's `mixDigest`: digest = SHA1(digest ^ SHA1(data)).
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = sha1(&digest[..]);
}

/// Redis's object type numbers (OBJ_STRING ... OBJ_STREAM), mixed in first.
fn type_number(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// The digest of one value (`expires`: whether the key has a TTL), as DEBUG DIGEST-VALUE gives
/// it in hex.
pub fn value_digest(value: &Value, expires: bool) -> Digest {
    let mut d = [0u8; 20];
    mix(&mut d, &type_number(value).to_be_bytes());
    match value {
        Value::Str(s) => mix(&mut d, s),
        Value::List(l) => l.iter().for_each(|e| mix(&mut d, e)),
        Value::Set(s) => s.iter().for_each(|e| xor(&mut d, e)),
        Value::ZSet(z) => {
            for (member, score) in z.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, member);
                mix(
                    &mut e,
                    crate::resp::scripting::convert::format_g(score, 17).as_bytes(),
                );
                xor(&mut d, &e);
            }
        }
        Value::Hash(h) => {
            for (field, val) in h.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, field);
                mix(&mut e, val);
                xor(&mut d, &e);
            }
        }
        Value::Stream(s) => {
            for (id, fields) in s.range(StreamId::MIN, StreamId::MAX) {
                mix(&mut d, format!("{}.{}", id.ms, id.seq).as_bytes());
                fields.iter().for_each(|f| mix(&mut d, f));
            }
        }
    }
    if expires {
        xor(&mut d, b"!!expire!!");
    }
    d
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn string_digest_is_redis_s() {
        // redis-server 7.0.15: SET s hello; DEBUG DIGEST-VALUE s (the other types are compared
        // with redis-server in tests/redis_diff/introspection.rs).
        let d = value_digest(&Value::Str(Bytes::from_static(b"hello")), false);
        assert_eq!(hex(&d), "36b23a1456b2dce2c3ed252c456761301dba8060");
    }
}
