//! Everything `Dump` writes, `decode` reads back unchanged, under every threshold; and no byte
//! string makes `decode` panic.

use ferrite_rdb::{
    decode, DecodeError, Dump, GroupObject, Object, StreamMeta, StreamObject, Thresholds,
};
use proptest::prelude::*;

const MAX: usize = 1 << 30;

/// A stream entry: its ID and flat field/value list.
type Entry = (ferrite_rdb::stream::Id, Vec<Vec<u8>>);

fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (-70_000i64..70_000).prop_map(|i| i.to_string().into_bytes()),
        any::<i64>().prop_map(|i| i.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..80),
        // Long and compressible: exercises LZF.
        (1usize..300).prop_map(|n| b"abc".repeat(n)),
    ]
}

fn thresholds() -> impl Strategy<Value = Thresholds> {
    (0usize..6, 0usize..70, any::<bool>(), -5i64..5).prop_map(|(n, v, c, fill)| Thresholds {
        hash_max_listpack_entries: n,
        hash_max_listpack_value: v,
        zset_max_listpack_entries: n,
        zset_max_listpack_value: v,
        set_max_intset_entries: n,
        list_max_listpack_size: if fill == 0 { 1 } else { fill },
        stream_node_max_bytes: v * 8,
        stream_node_max_entries: n,
        rdbcompression: c,
    })
}

fn dedup(v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|m| seen.insert(m.clone())).collect()
}

proptest! {
    #[test]
    fn strings_round_trip(s in element(), t in thresholds()) {
        prop_assert_eq!(decode(&Dump::string(t, &s), MAX).unwrap(), Object::Str(s));
    }

    #[test]
    fn lists_round_trip(v in proptest::collection::vec(element(), 1..400), t in thresholds()) {
        let d = Dump::list(t, v.len(), v.iter().map(|e| &e[..]));
        prop_assert_eq!(decode(&d, MAX).unwrap(), Object::List(v));
    }

    #[test]
    fn sets_round_trip(v in proptest::collection::vec(element(), 1..40), t in thresholds()) {
        let v = dedup(v);
        let d = Dump::set(t, v.len(), || v.iter().map(|e| &e[..]));
        let Object::Set(mut got) = decode(&d, MAX).unwrap() else { panic!("not a set") };
        let mut want = v.clone();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn hashes_round_trip(v in proptest::collection::vec((element(), element()), 1..40), t in thresholds()) {
        let mut seen = std::collections::HashSet::new();
        let v: Vec<_> = v.into_iter().filter(|(f, _)| seen.insert(f.clone())).collect();
        let d = Dump::hash(t, v.len(), || v.iter().map(|(f, x)| (&f[..], &x[..])));
        prop_assert_eq!(decode(&d, MAX).unwrap(), Object::Hash(v));
    }

    #[test]
    fn zsets_round_trip(
        v in proptest::collection::vec((element(), prop_oneof![any::<f64>(), -1e6f64..1e6, (-100i64..100).prop_map(|i| i as f64)]), 1..40),
        t in thresholds(),
    ) {
        let mut seen = std::collections::HashSet::new();
        let mut v: Vec<_> = v.into_iter().filter(|(m, s)| !s.is_nan() && seen.insert(m.clone())).collect();
        prop_assume!(!v.is_empty());
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let d = Dump::zset(t, v.len(), || v.iter().map(|(m, s)| (&m[..], *s)));
        let Object::ZSet(mut got) = decode(&d, MAX).unwrap() else { panic!("not a zset") };
        got.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        // -0 survives as a binary double but is written as "-0" text in listpacks; both decode
        // to a value equal to 0.
        prop_assert_eq!(got.len(), v.len());
        for (g, w) in got.iter().zip(&v) {
            prop_assert_eq!(&g.0, &w.0);
            prop_assert!(g.1 == w.1, "{} != {}", g.1, w.1);
        }
    }

    #[test]
    fn streams_round_trip(
        entries in proptest::collection::vec((1u64..5, proptest::collection::vec((prop_oneof![Just(b"f".to_vec()), Just(b"g".to_vec()), element()], element()), 1..4)), 0..300),
        groups in proptest::collection::vec((element(), any::<bool>(), proptest::collection::vec(any::<u16>(), 0..10)), 0..3),
        t in thresholds(),
    ) {
        let mut id = (1_000u64, 0u64);
        let entries: Vec<Entry> = entries
            .into_iter()
            .map(|(step, fv)| {
                id = if step == 1 { (id.0, id.1 + 1) } else { (id.0 + step, 0) };
                (id, fv.into_iter().flat_map(|(f, v)| [f, v]).collect())
            })
            .collect();
        let last = entries.last().map_or((5, 5), |e| e.0);
        let mut seen = std::collections::HashSet::new();
        let groups: Vec<GroupObject> = groups
            .into_iter()
            .filter(|(name, _, _)| seen.insert(name.clone()))
            .map(|(name, known, picks)| {
                let mut ids: Vec<(u64, u64)> = picks
                    .iter()
                    .filter_map(|p| entries.get(*p as usize % entries.len().max(1)).map(|e| e.0))
                    .collect();
                ids.sort();
                ids.dedup();
                GroupObject {
                    name,
                    last_id: last,
                    entries_read: known.then_some(entries.len() as u64),
                    pel: ids.iter().enumerate().map(|(i, id)| (*id, 1_700_000_000_000 + i as u64, i as u64 + 1, if i % 2 == 0 { b"alice".to_vec() } else { b"bob".to_vec() })).collect(),
                    consumers: vec![(b"alice".to_vec(), 1), (b"bob".to_vec(), 2), (b"idle".to_vec(), 3)],
                }
            })
            .collect();
        let meta = StreamMeta {
            length: entries.len() as u64,
            last_id: last,
            first_id: entries.first().map_or((0, 0), |e| e.0),
            max_deleted_id: (0, 0),
            entries_added: entries.len() as u64 + 7,
        };
        let d = Dump::stream(t, &meta, entries.iter().map(|(id, f)| (*id, &f[..])), &groups);
        let want = StreamObject { meta, entries, groups };
        prop_assert_eq!(decode(&d, MAX).unwrap(), Object::Stream(Box::new(want)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&b, MAX);
    }

    #[test]
    fn damaged_payloads_never_panic(v in proptest::collection::vec(element(), 1..50), at in any::<usize>(), bit in 0u8..8) {
        let mut d = Dump::list(Thresholds::default(), v.len(), v.iter().map(|e| &e[..]));
        let i = at % d.len();
        d[i] ^= 1 << bit;
        prop_assert!(decode(&d, MAX).is_err(), "a flipped bit must break the checksum");
    }
}

#[test]
fn the_limit_stops_big_payloads_before_they_are_built() {
    let big = vec![b'x'; 100_000];
    let d = Dump::string(Thresholds::default(), &big);
    assert_eq!(decode(&d, 10_000), Err(DecodeError::TooLarge));
    assert_eq!(decode(&d, 200_000), Ok(Object::Str(big)));
}

#[test]
fn redis_docs_example_payload_decodes() {
    // From the DUMP page of the Redis documentation: DUMP of "hello, dumping world!" (RDB 6).
    let p = b"\x00\x15hello, dumping world!\x06\x00E\xa0Z\x82\xd8r\xc1\xde";
    assert_eq!(
        decode(p, MAX),
        Ok(Object::Str(b"hello, dumping world!".to_vec()))
    );
}
