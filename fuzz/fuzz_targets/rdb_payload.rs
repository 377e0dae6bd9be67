//! RESTORE's payload decoder (`ferrite-rdb`): every byte string is either refused or decoded,
//! never a panic or an allocation past the limit; and what decodes, re-encodes to a payload that
//! decodes to the same value (DUMP and RESTORE agree).
//!
//! The input is the payload body; the footer (version and CRC) is added here so the fuzzer
//! spends its time inside the decoder rather than on checksums.
#![no_main]

use ferrite_rdb::{decode, Dump, Object, Thresholds};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 << 20;

fn with_footer(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&ferrite_rdb::RDB_VERSION.to_le_bytes());
    let crc = ferrite_rdb::crc64::crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn sorted(o: Object) -> Object {
    match o {
        Object::Set(mut v) => {
            v.sort();
            Object::Set(v)
        }
        Object::ZSet(mut v) => {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            Object::ZSet(v.into_iter().map(|(m, s)| (m, if s == 0.0 { 0.0 } else { s })).collect())
        }
        o => o,
    }
}

fuzz_target!(|body: &[u8]| {
    let Ok(obj) = decode(&with_footer(body), LIMIT) else {
        return;
    };
    let t = Thresholds::default();
    let again = match &obj {
        Object::Str(s) => Dump::string(t, s),
        Object::List(v) => Dump::list(t, v.len(), v.iter().map(|e| &e[..])),
        Object::Set(v) => Dump::set(t, v.len(), || v.iter().map(|e| &e[..])),
        Object::Hash(v) => Dump::hash(t, v.len(), || v.iter().map(|(f, x)| (&f[..], &x[..]))),
        Object::Stream(s) => Dump::stream(
            t,
            &s.meta,
            s.entries.iter().map(|(id, f)| (*id, &f[..])),
            &s.groups,
        ),
        Object::ZSet(v) => {
            let mut v = v.clone();
            v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            Dump::zset(t, v.len(), || v.iter().map(|(m, s)| (&m[..], *s)))
        }
    };
    let back = decode(&again, LIMIT).expect("what we write, we read");
    assert_eq!(sorted(back), sorted(obj));
});
