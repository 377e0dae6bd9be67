//! Momento collection RPCs (dictionaries, sets, lists, sorted sets) through the official Rust SDK,
//! raw `momento-protos` requests for the RPCs the SDK has no call for, and the `redis` crate for
//! the data RESP shares with gRPC.

mod common;
mod grpc_util;

use std::collections::HashMap;
use std::time::Duration;

use common::{q, TestServer};
use grpc_util::*;
use momento::cache::{
    CollectionTtl, DictionaryFetchResponse, DictionaryGetFieldResponse, DictionaryLengthResponse,
    DictionarySetFieldRequest, ItemGetTtlResponse, ItemGetTypeResponse, ItemType,
    ListConcatenateBackRequest, ListConcatenateFrontRequest, ListFetchRequest, ListFetchResponse,
    ListLengthResponse, ListPopBackResponse, ListPopFrontResponse, ListPushBackRequest,
    ListPushFrontRequest, ListRetainRequest, ListRetainResponse, ScoreBound, SetAddElementsRequest,
    SetFetchResponse, SortedSetAggregateFunction, SortedSetFetchByScoreRequest,
    SortedSetFetchResponse, SortedSetGetRankRequest, SortedSetGetRankResponse,
    SortedSetGetScoreResponse, SortedSetLengthByScoreRequest, SortedSetLengthResponse,
    SortedSetOrder, SortedSetPutElementRequest, SortedSetUnionStoreRequest,
};
use momento::{CacheClient, MomentoErrorCode};
use momento_protos::cache_client as pb;
use momento_protos::common::Unbounded;

const C: &str = "default";

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn list(c: &CacheClient, name: &str) -> Vec<String> {
    match c.list_fetch(C, name).await.unwrap() {
        ListFetchResponse::Hit { values } => values.try_into().unwrap(),
        ListFetchResponse::Miss => panic!("list {name} missing"),
    }
}

async fn list_range(c: &CacheClient, name: &str, s: Option<i32>, e: Option<i32>) -> Vec<String> {
    let r = c
        .send_request(ListFetchRequest::new(C, name).start_index(s).end_index(e))
        .await
        .unwrap();
    r.try_into().unwrap()
}

async fn sorted_set(c: &CacheClient, name: &str) -> Vec<(String, f64)> {
    c.sorted_set_fetch_by_rank(C, name, SortedSetOrder::Ascending, None, None)
        .await
        .unwrap()
        .try_into()
        .unwrap()
}

async fn remaining_ttl(c: &CacheClient, key: &str) -> Duration {
    match c.item_get_ttl(C, key).await.unwrap() {
        ItemGetTtlResponse::Hit { remaining_ttl } => remaining_ttl,
        ItemGetTtlResponse::Miss => panic!("{key} missing"),
    }
}

async fn item_type(c: &CacheClient, key: &str) -> Option<ItemType> {
    match c.item_get_type(C, key).await.unwrap() {
        ItemGetTypeResponse::Hit { key_type } => Some(key_type),
        ItemGetTypeResponse::Miss => None,
    }
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn bs(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| b(s)).collect()
}

// ----------------------------------------------------------------------------------------------
// Dictionaries

#[tokio::test]
async fn dictionaries() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());

    // misses on an absent dictionary
    assert_eq!(
        c.dictionary_fetch(C, "d").await.unwrap(),
        DictionaryFetchResponse::Miss
    );
    assert_eq!(
        c.dictionary_get_field(C, "d", "f").await.unwrap(),
        DictionaryGetFieldResponse::Miss
    );
    assert_eq!(
        c.dictionary_length(C, "d").await.unwrap(),
        DictionaryLengthResponse::Miss
    );

    c.dictionary_set_field(C, "d", "a", "1").await.unwrap();
    c.dictionary_set_fields(C, "d", vec![("b", "2"), ("c", "3")])
        .await
        .unwrap();
    c.dictionary_set_field(C, "d", "a", "one").await.unwrap(); // overwrite
    let all: HashMap<String, String> = c
        .dictionary_fetch(C, "d")
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        all,
        HashMap::from([
            ("a".into(), "one".into()),
            ("b".into(), "2".into()),
            ("c".into(), "3".into())
        ])
    );
    let v: String = c
        .dictionary_get_field(C, "d", "b")
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(v, "2");
    assert_eq!(
        c.dictionary_get_field(C, "d", "zz").await.unwrap(),
        DictionaryGetFieldResponse::Miss
    );
    let some: HashMap<String, String> = c
        .dictionary_get_fields(C, "d", vec!["a", "nope", "c"])
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        some,
        HashMap::from([("a".into(), "one".into()), ("c".into(), "3".into())])
    );
    // raw: one part per requested field, in order, with hit/miss
    let mut s = raw_scs(srv.grpc_addr()).await;
    let r = s
        .dictionary_get(in_cache(
            C,
            pb::DictionaryGetRequest {
                dictionary_name: b("d"),
                fields: bs(&["c", "nope", "a"]),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let Some(pb::dictionary_get_response::Dictionary::Found(found)) = r.dictionary else {
        panic!("{r:?}")
    };
    let (hit, miss) = (pb::ECacheResult::Hit as i32, pb::ECacheResult::Miss as i32);
    let parts: Vec<(i32, Vec<u8>)> = found
        .items
        .into_iter()
        .map(|p| (p.result, p.cache_body))
        .collect();
    assert_eq!(parts, vec![(hit, b("3")), (miss, vec![]), (hit, b("one"))]);
    assert_eq!(
        c.dictionary_length(C, "d").await.unwrap(),
        DictionaryLengthResponse::Hit { length: 3 }
    );

    // increment: new field, existing field, a non-integer value
    assert_eq!(
        c.dictionary_increment(C, "d", "n", 5).await.unwrap().value,
        5
    );
    assert_eq!(
        c.dictionary_increment(C, "d", "n", -7).await.unwrap().value,
        -2
    );
    assert_eq!(
        c.dictionary_increment(C, "ctr", "x", 3)
            .await
            .unwrap()
            .value,
        3
    );
    let e = c.dictionary_increment(C, "d", "a", 1).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    c.dictionary_set_field(C, "d", "big", i64::MAX.to_string())
        .await
        .unwrap();
    let e = c.dictionary_increment(C, "d", "big", 1).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    // a failed increment on a new dictionary leaves nothing behind
    let e = c
        .dictionary_increment(C, "nodict", "x", 1)
        .await
        .map(|r| r.value);
    assert_eq!(e.unwrap(), 1);

    // remove fields; removing from an absent dictionary is fine
    c.dictionary_remove_field(C, "d", "a").await.unwrap();
    c.dictionary_remove_fields(C, "d", vec!["b", "n", "nope"])
        .await
        .unwrap();
    c.dictionary_remove_field(C, "absent", "a").await.unwrap();
    let all: HashMap<String, String> = c
        .dictionary_fetch(C, "d")
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(all.len(), 2);
    // an emptied dictionary disappears
    c.dictionary_remove_fields(C, "d", vec!["c", "big"])
        .await
        .unwrap();
    assert_eq!(
        c.dictionary_fetch(C, "d").await.unwrap(),
        DictionaryFetchResponse::Miss
    );
    assert_eq!(item_type(&c, "d").await, None);

    // raw DictionaryDelete All
    assert_eq!(item_type(&c, "ctr").await, Some(ItemType::Dictionary));
    s.dictionary_delete(in_cache(
        C,
        pb::DictionaryDeleteRequest {
            dictionary_name: b("ctr"),
            delete: Some(pb::dictionary_delete_request::Delete::All(
                pb::dictionary_delete_request::All {},
            )),
        },
    ))
    .await
    .unwrap();
    assert_eq!(item_type(&c, "ctr").await, None);
}

// ----------------------------------------------------------------------------------------------
// Sets

fn set_found(r: pb::SetFetchResponse) -> Option<Vec<Vec<u8>>> {
    match r.set {
        Some(pb::set_fetch_response::Set::Found(f)) => Some(f.elements),
        Some(pb::set_fetch_response::Set::Missing(_)) => None,
        None => panic!("no result"),
    }
}

#[tokio::test]
async fn sets() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let mut s = raw_scs(srv.grpc_addr()).await;

    assert_eq!(c.set_fetch(C, "s").await.unwrap(), SetFetchResponse::Miss);
    c.set_add_elements(C, "s", vec!["a", "b", "c"])
        .await
        .unwrap();
    c.set_add_elements(C, "s", vec!["c", "d"]).await.unwrap();
    let mut got: Vec<String> = c.set_fetch(C, "s").await.unwrap().try_into().unwrap();
    got.sort();
    assert_eq!(got, strs(&["a", "b", "c", "d"]));
    c.set_remove_elements(C, "s", vec!["a", "zz"])
        .await
        .unwrap();
    c.set_remove_elements(C, "absent", vec!["a"]).await.unwrap();

    // contains / length
    let r = s
        .set_contains(in_cache(
            C,
            pb::SetContainsRequest {
                set_name: b("s"),
                elements: bs(&["a", "b", "zz", "d"]),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    match r.set {
        Some(pb::set_contains_response::Set::Found(f)) => {
            assert_eq!(f.contains, vec![false, true, false, true])
        }
        other => panic!("{other:?}"),
    }
    let r = s
        .set_contains(in_cache(
            C,
            pb::SetContainsRequest {
                set_name: b("absent"),
                elements: bs(&["a"]),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.set,
        Some(pb::set_contains_response::Set::Missing(_))
    ));
    let r = s
        .set_length(in_cache(C, pb::SetLengthRequest { set_name: b("s") }))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.set,
        Some(pb::set_length_response::Set::Found(
            pb::set_length_response::Found { length: 3 }
        ))
    ));

    // sample: distinct members, at most `limit`, all of them when limit >= size
    for limit in [0u64, 2, 3, 10] {
        let r = s
            .set_sample(in_cache(
                C,
                pb::SetSampleRequest {
                    set_name: b("s"),
                    limit,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let Some(pb::set_sample_response::Set::Found(f)) = r.set else {
            panic!()
        };
        let mut got = f.elements;
        got.sort();
        got.dedup();
        assert_eq!(got.len() as u64, limit.min(3));
        assert!(got.iter().all(|e| [b("b"), b("c"), b("d")].contains(e)));
    }

    // difference: minuend (set = request - stored), subtrahend set, identity
    let r = s
        .set_difference(in_cache(
            C,
            pb::SetDifferenceRequest {
                set_name: b("s"),
                difference: Some(pb::set_difference_request::Difference::Minuend(
                    pb::set_difference_request::Minuend {
                        elements: bs(&["b", "x", "y"]),
                    },
                )),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.set,
        Some(pb::set_difference_response::Set::Found(_))
    ));
    let mut got: Vec<String> = c.set_fetch(C, "s").await.unwrap().try_into().unwrap();
    got.sort();
    assert_eq!(got, strs(&["x", "y"]));
    let r = s
        .set_difference(in_cache(
            C,
            pb::SetDifferenceRequest {
                set_name: b("absent"),
                difference: Some(pb::set_difference_request::Difference::Subtrahend(
                    pb::set_difference_request::Subtrahend {
                        subtrahend_set: Some(
                            pb::set_difference_request::subtrahend::SubtrahendSet::Identity(
                                pb::set_difference_request::subtrahend::Identity {},
                            ),
                        ),
                    },
                )),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.set,
        Some(pb::set_difference_response::Set::Missing(_))
    ));
    s.set_difference(in_cache(
        C,
        pb::SetDifferenceRequest {
            set_name: b("s"),
            difference: Some(pb::set_difference_request::Difference::Subtrahend(
                pb::set_difference_request::Subtrahend {
                    subtrahend_set: Some(
                        pb::set_difference_request::subtrahend::SubtrahendSet::Identity(
                            pb::set_difference_request::subtrahend::Identity {},
                        ),
                    ),
                },
            )),
        },
    ))
    .await
    .unwrap();
    assert_eq!(c.set_fetch(C, "s").await.unwrap(), SetFetchResponse::Miss);

    // pop: random members; popping everything deletes the set
    c.set_add_elements(C, "p", vec!["1", "2", "3", "4", "5"])
        .await
        .unwrap();
    let pop = |n: u32| pb::SetPopRequest {
        set_name: b("p"),
        count: n,
    };
    let r = s.set_pop(in_cache(C, pop(2))).await.unwrap().into_inner();
    let Some(pb::set_pop_response::Set::Found(f)) = r.set else {
        panic!()
    };
    assert_eq!(f.elements.len(), 2);
    let left: Vec<Vec<u8>> = c.set_fetch(C, "p").await.unwrap().try_into().unwrap();
    assert_eq!(left.len(), 3);
    assert!(f.elements.iter().all(|e| !left.contains(e)));
    let r = s.set_pop(in_cache(C, pop(10))).await.unwrap().into_inner();
    let Some(pb::set_pop_response::Set::Found(f)) = r.set else {
        panic!()
    };
    assert_eq!(f.elements.len(), 3);
    let r = s.set_pop(in_cache(C, pop(1))).await.unwrap().into_inner();
    assert!(matches!(r.set, Some(pb::set_pop_response::Set::Missing(_))));
    assert_eq!(item_type(&c, "p").await, None);

    // emptied by removal: gone
    c.set_add_elements(C, "e", vec!["only"]).await.unwrap();
    assert_eq!(item_type(&c, "e").await, Some(ItemType::Set));
    c.set_remove_elements(C, "e", vec!["only"]).await.unwrap();
    let r = s
        .set_fetch(in_cache(C, pb::SetFetchRequest { set_name: b("e") }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set_found(r), None);
    assert_eq!(item_type(&c, "e").await, None);
}

// ----------------------------------------------------------------------------------------------
// Lists

#[tokio::test]
async fn list_pushes_concatenation_and_truncation() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());

    assert_eq!(c.list_fetch(C, "l").await.unwrap(), ListFetchResponse::Miss);
    assert_eq!(
        c.list_length(C, "l").await.unwrap(),
        ListLengthResponse::Miss
    );
    c.list_push_back(C, "l", "b").await.unwrap();
    c.list_push_back(C, "l", "c").await.unwrap();
    c.list_push_front(C, "l", "a").await.unwrap();
    assert_eq!(list(&c, "l").await, strs(&["a", "b", "c"]));
    // concatenation keeps the given order at either end
    c.list_concatenate_back(C, "l", vec!["d", "e"])
        .await
        .unwrap();
    c.list_concatenate_front(C, "l", vec!["y", "z"])
        .await
        .unwrap();
    assert_eq!(
        list(&c, "l").await,
        strs(&["y", "z", "a", "b", "c", "d", "e"])
    );
    assert_eq!(
        c.list_length(C, "l").await.unwrap(),
        ListLengthResponse::Hit { length: 7 }
    );

    // truncation: push front trims the back, push back trims the front
    c.send_request(ListPushFrontRequest::new(C, "l", "x").truncate_back_to_size(4))
        .await
        .unwrap();
    assert_eq!(list(&c, "l").await, strs(&["x", "y", "z", "a"]));
    c.send_request(ListPushBackRequest::new(C, "l", "q").truncate_front_to_size(3))
        .await
        .unwrap();
    assert_eq!(list(&c, "l").await, strs(&["z", "a", "q"]));
    c.send_request(
        ListConcatenateBackRequest::new(C, "l", vec!["1", "2", "3"]).truncate_front_to_size(4),
    )
    .await
    .unwrap();
    assert_eq!(list(&c, "l").await, strs(&["q", "1", "2", "3"]));
    c.send_request(
        ListConcatenateFrontRequest::new(C, "l", vec!["8", "9"]).truncate_back_to_size(3),
    )
    .await
    .unwrap();
    assert_eq!(list(&c, "l").await, strs(&["8", "9", "q"]));
    // a concatenation longer than the limit keeps its own end
    c.send_request(
        ListConcatenateBackRequest::new(C, "l", vec!["a", "b", "c", "d"]).truncate_front_to_size(2),
    )
    .await
    .unwrap();
    assert_eq!(list(&c, "l").await, strs(&["c", "d"]));

    // raw: responses carry the length after truncation
    let mut s = raw_scs(srv.grpc_addr()).await;
    let r = s
        .list_concatenate_front(in_cache(
            C,
            pb::ListConcatenateFrontRequest {
                list_name: b("l"),
                values: bs(&["p", "q", "r"]),
                ttl_milliseconds: 60_000,
                refresh_ttl: true,
                truncate_back_to_size: 4,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.list_length, 4);
    let r = s
        .list_push_back(in_cache(
            C,
            pb::ListPushBackRequest {
                list_name: b("l"),
                value: b("end"),
                ttl_milliseconds: 60_000,
                refresh_ttl: true,
                truncate_front_to_size: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.list_length, 5);
    assert_eq!(list(&c, "l").await, strs(&["p", "q", "r", "c", "end"]));
}

#[tokio::test]
async fn list_ranges_pops_removes_and_retain() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let digits: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    c.list_concatenate_back(C, "l", digits.clone())
        .await
        .unwrap();

    // Python slicing: list(range(10))[start:end]
    let py = |s: Option<i32>, e: Option<i32>| -> Vec<String> {
        let n = 10i32;
        let norm = |i: i32| if i < 0 { (n + i).max(0) } else { i.min(n) };
        let s = s.map_or(0, norm);
        let e = e.map_or(n, norm);
        (s..e.max(s)).map(|i| i.to_string()).collect()
    };
    let cases = [
        (None, None),
        (Some(0), Some(5)),
        (Some(2), Some(5)),
        (Some(-3), None),
        (None, Some(-1)),
        (Some(-4), Some(-2)),
        (Some(-100), Some(100)),
        (Some(5), Some(2)),
        (Some(10), None),
        (Some(3), Some(3)),
        (Some(8), Some(-1)),
    ];
    for (s, e) in cases {
        assert_eq!(list_range(&c, "l", s, e).await, py(s, e), "[{s:?}:{e:?}]");
    }
    assert_eq!(
        list_range(&c, "l", Some(0), Some(5)).await,
        strs(&["0", "1", "2", "3", "4"])
    );

    // pops
    let v: String = c.list_pop_front(C, "l").await.unwrap().try_into().unwrap();
    assert_eq!(v, "0");
    let v: String = c.list_pop_back(C, "l").await.unwrap().try_into().unwrap();
    assert_eq!(v, "9");
    let mut s = raw_scs(srv.grpc_addr()).await;
    let r = s
        .list_pop_front(in_cache(C, pb::ListPopFrontRequest { list_name: b("l") }))
        .await
        .unwrap()
        .into_inner();
    match r.list {
        Some(pb::list_pop_front_response::List::Found(f)) => {
            assert_eq!((f.front, f.list_length), (b("1"), 7))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.list_pop_front(C, "nope").await.unwrap(),
        ListPopFrontResponse::Miss
    );
    assert_eq!(
        c.list_pop_back(C, "nope").await.unwrap(),
        ListPopBackResponse::Miss
    );

    // retain: [2..8) of "2".."8" -> Python slice [1:-1]
    assert_eq!(
        list(&c, "l").await,
        strs(&["2", "3", "4", "5", "6", "7", "8"])
    );
    let r = c
        .send_request(ListRetainRequest::new(C, "l").start_index(1).end_index(-1))
        .await
        .unwrap();
    assert_eq!(r, ListRetainResponse::Hit { length: 5 });
    assert_eq!(list(&c, "l").await, strs(&["3", "4", "5", "6", "7"]));
    assert_eq!(
        c.list_retain(C, "l", None, Some(3)).await.unwrap(),
        ListRetainResponse::Hit { length: 3 }
    );
    assert_eq!(list(&c, "l").await, strs(&["3", "4", "5"]));
    assert_eq!(
        c.list_retain(C, "nope", None, None).await.unwrap(),
        ListRetainResponse::Miss
    );
    // retaining nothing deletes the list
    c.list_retain(C, "l", Some(2), Some(1)).await.unwrap();
    assert_eq!(c.list_fetch(C, "l").await.unwrap(), ListFetchResponse::Miss);

    // remove every occurrence of a value
    c.list_concatenate_back(C, "r", vec!["a", "b", "a", "c", "a"])
        .await
        .unwrap();
    c.list_remove_value(C, "r", "a").await.unwrap();
    assert_eq!(list(&c, "r").await, strs(&["b", "c"]));
    c.list_remove_value(C, "nope", "a").await.unwrap();
    let r = s
        .list_remove(in_cache(
            C,
            pb::ListRemoveRequest {
                list_name: b("r"),
                remove: Some(pb::list_remove_request::Remove::AllElementsWithValue(b(
                    "b",
                ))),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.list,
        Some(pb::list_remove_response::List::Found(
            pb::list_remove_response::Found { list_length: 1 }
        ))
    ));
    // popping the last element deletes the list
    let r = s
        .list_pop_back(in_cache(C, pb::ListPopBackRequest { list_name: b("r") }))
        .await
        .unwrap()
        .into_inner();
    match r.list {
        Some(pb::list_pop_back_response::List::Found(f)) => {
            assert_eq!((f.back, f.list_length), (b("c"), 0))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(item_type(&c, "r").await, None);

    // ListErase: ranges over the list as it was, then All
    c.list_concatenate_back(C, "e", digits.clone())
        .await
        .unwrap();
    let erase = |erase| pb::ListEraseRequest {
        list_name: b("e"),
        erase: Some(erase),
    };
    let r = s
        .list_erase(in_cache(
            C,
            erase(pb::list_erase_request::Erase::Some(
                pb::list_erase_request::ListRanges {
                    ranges: vec![
                        pb::ListRange {
                            begin_index: 1,
                            count: 2,
                        },
                        pb::ListRange {
                            begin_index: 8,
                            count: 100,
                        },
                    ],
                },
            )),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.list,
        Some(pb::list_erase_response::List::Found(
            pb::list_erase_response::Found { list_length: 6 }
        ))
    ));
    assert_eq!(list(&c, "e").await, strs(&["0", "3", "4", "5", "6", "7"]));
    s.list_erase(in_cache(
        C,
        erase(pb::list_erase_request::Erase::All(
            pb::list_erase_request::All {},
        )),
    ))
    .await
    .unwrap();
    assert_eq!(item_type(&c, "e").await, None);

    // raw ListFetch without bounds fields = whole list
    c.list_concatenate_back(C, "w", vec!["x", "y"])
        .await
        .unwrap();
    let r = s
        .list_fetch(in_cache(
            C,
            pb::ListFetchRequest {
                list_name: b("w"),
                start_index: Some(pb::list_fetch_request::StartIndex::UnboundedStart(
                    Unbounded {},
                )),
                end_index: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    match r.list {
        Some(pb::list_fetch_response::List::Found(f)) => assert_eq!(f.values, bs(&["x", "y"])),
        other => panic!("{other:?}"),
    }
}

// ----------------------------------------------------------------------------------------------
// Sorted sets

#[tokio::test]
async fn sorted_set_fetch_by_rank_and_score() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    assert_eq!(
        c.sorted_set_fetch_by_rank(C, "z", SortedSetOrder::Ascending, None, None)
            .await
            .unwrap(),
        SortedSetFetchResponse::Miss
    );
    c.sorted_set_put_elements(
        C,
        "z",
        vec![("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0), ("e", 5.0)],
    )
    .await
    .unwrap();
    // overwrite a score; equal scores sort by member
    c.sorted_set_put_element(C, "z", "a", 3.0).await.unwrap();
    let all = sorted_set(&c, "z").await;
    let names: Vec<&str> = all.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["b", "a", "c", "d", "e"]);
    assert_eq!(all[1], ("a".to_string(), 3.0));

    let by_rank = |order, s: Option<i32>, e: Option<i32>| {
        let c = c.clone();
        async move {
            let v: Vec<(String, f64)> = c
                .sorted_set_fetch_by_rank(C, "z", order, s, e)
                .await
                .unwrap()
                .try_into()
                .unwrap();
            v.into_iter().map(|(m, _)| m).collect::<Vec<_>>()
        }
    };
    use SortedSetOrder::{Ascending as Asc, Descending as Desc};
    assert_eq!(by_rank(Asc, Some(1), Some(3)).await, strs(&["a", "c"]));
    assert_eq!(by_rank(Asc, Some(-2), None).await, strs(&["d", "e"]));
    assert_eq!(by_rank(Asc, None, Some(-3)).await, strs(&["b", "a"]));
    assert_eq!(by_rank(Asc, Some(3), Some(1)).await, Vec::<String>::new());
    assert_eq!(by_rank(Asc, Some(0), Some(100)).await.len(), 5);
    // descending ranks count from the highest score
    assert_eq!(
        by_rank(Desc, None, None).await,
        strs(&["e", "d", "c", "a", "b"])
    );
    assert_eq!(by_rank(Desc, Some(0), Some(2)).await, strs(&["e", "d"]));
    assert_eq!(by_rank(Desc, Some(-2), None).await, strs(&["a", "b"]));

    let by_score = |req: SortedSetFetchByScoreRequest<&'static str>| {
        let c = c.clone();
        async move {
            let v: Vec<(String, f64)> = c.send_request(req).await.unwrap().try_into().unwrap();
            v.into_iter().map(|(m, _)| m).collect::<Vec<_>>()
        }
    };
    let req = || SortedSetFetchByScoreRequest::new(C, "z");
    assert_eq!(by_score(req()).await, strs(&["b", "a", "c", "d", "e"]));
    assert_eq!(
        by_score(
            req()
                .min_score(ScoreBound::Inclusive(3.0))
                .max_score(ScoreBound::Inclusive(4.0))
        )
        .await,
        strs(&["a", "c", "d"])
    );
    assert_eq!(
        by_score(
            req()
                .min_score(ScoreBound::Exclusive(3.0))
                .max_score(ScoreBound::Exclusive(5.0))
        )
        .await,
        strs(&["d"])
    );
    assert_eq!(
        by_score(
            req()
                .min_score(ScoreBound::Inclusive(2.5))
                .offset(1)
                .count(2)
        )
        .await,
        strs(&["c", "d"])
    );
    assert_eq!(
        by_score(req().order(Desc).max_score(ScoreBound::Inclusive(4.0))).await,
        strs(&["d", "c", "a", "b"])
    );
    assert_eq!(
        by_score(req().order(Desc).offset(1).count(2)).await,
        strs(&["d", "c"])
    );
    assert_eq!(by_score(req().offset(4).count(-1)).await, strs(&["e"]));
    assert_eq!(
        by_score(
            req()
                .min_score(ScoreBound::Inclusive(10.0))
                .max_score(ScoreBound::Inclusive(1.0))
        )
        .await,
        Vec::<String>::new()
    );

    // raw: without scores the response carries plain values
    let mut s = raw_scs(srv.grpc_addr()).await;
    let r = s
        .sorted_set_fetch(in_cache(
            C,
            pb::SortedSetFetchRequest {
                set_name: b("z"),
                order: 1,
                with_scores: false,
                range: Some(pb::sorted_set_fetch_request::Range::ByIndex(
                    pb::sorted_set_fetch_request::ByIndex {
                        start: Some(
                            pb::sorted_set_fetch_request::by_index::Start::InclusiveStartIndex(1),
                        ),
                        end: Some(
                            pb::sorted_set_fetch_request::by_index::End::ExclusiveEndIndex(3),
                        ),
                    },
                )),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    use pb::sorted_set_fetch_response::found::Elements;
    match r.sorted_set {
        Some(pb::sorted_set_fetch_response::SortedSet::Found(f)) => match f.elements {
            Some(Elements::Values(v)) => assert_eq!(v.values, bs(&["d", "c"])),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sorted_set_scores_ranks_increments_and_removal() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    c.sorted_set_put_elements(C, "z", vec![("a", 1.0), ("b", 2.0), ("c", 3.0)])
        .await
        .unwrap();

    assert_eq!(
        c.sorted_set_get_score(C, "z", "b").await.unwrap(),
        SortedSetGetScoreResponse::Hit { score: 2.0 }
    );
    assert_eq!(
        c.sorted_set_get_score(C, "z", "x").await.unwrap(),
        SortedSetGetScoreResponse::Miss
    );
    assert_eq!(
        c.sorted_set_get_score(C, "nope", "x").await.unwrap(),
        SortedSetGetScoreResponse::Miss
    );
    let r = c
        .sorted_set_get_scores(C, "z", vec!["c", "x", "a"])
        .await
        .unwrap();
    let momento::cache::SortedSetGetScoresResponse::Hit { responses, .. } = r else {
        panic!()
    };
    assert_eq!(
        responses,
        vec![
            SortedSetGetScoreResponse::Hit { score: 3.0 },
            SortedSetGetScoreResponse::Miss,
            SortedSetGetScoreResponse::Hit { score: 1.0 }
        ]
    );

    // ranks (0-based) in both orders; absent element / set
    assert_eq!(
        c.sorted_set_get_rank(C, "z", "a").await.unwrap(),
        SortedSetGetRankResponse::Hit { rank: 0 }
    );
    assert_eq!(
        c.send_request(SortedSetGetRankRequest::new(C, "z", "a").order(SortedSetOrder::Descending))
            .await
            .unwrap(),
        SortedSetGetRankResponse::Hit { rank: 2 }
    );
    assert_eq!(
        c.sorted_set_get_rank(C, "z", "x").await.unwrap(),
        SortedSetGetRankResponse::Miss
    );
    assert_eq!(
        c.sorted_set_get_rank(C, "nope", "x").await.unwrap(),
        SortedSetGetRankResponse::Miss
    );
    let mut s = raw_scs(srv.grpc_addr()).await;
    let r = s
        .sorted_set_get_rank(in_cache(
            C,
            pb::SortedSetGetRankRequest {
                set_name: b("z"),
                value: b("x"),
                order: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    match r.rank {
        Some(pb::sorted_set_get_rank_response::Rank::ElementRank(p)) => {
            assert_eq!(p.result, pb::ECacheResult::Miss as i32)
        }
        other => panic!("{other:?}"),
    }
    let r = s
        .sorted_set_get_rank(in_cache(
            C,
            pb::SortedSetGetRankRequest {
                set_name: b("nope"),
                value: b("x"),
                order: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.rank,
        Some(pb::sorted_set_get_rank_response::Rank::Missing(_))
    ));

    // increments: existing, new element, new set
    assert_eq!(
        c.sorted_set_increment_score(C, "z", "a", 10.5)
            .await
            .unwrap()
            .score,
        11.5
    );
    assert_eq!(
        c.sorted_set_increment_score(C, "z", "n", -2.0)
            .await
            .unwrap()
            .score,
        -2.0
    );
    assert_eq!(
        c.sorted_set_increment_score(C, "fresh", "x", 1.25)
            .await
            .unwrap()
            .score,
        1.25
    );
    assert_eq!(
        c.sorted_set_get_rank(C, "z", "a").await.unwrap(),
        SortedSetGetRankResponse::Hit { rank: 3 }
    );

    // lengths
    assert_eq!(
        c.sorted_set_length(C, "z").await.unwrap(),
        SortedSetLengthResponse::Hit { length: 4 }
    );
    assert_eq!(
        c.sorted_set_length(C, "nope").await.unwrap(),
        SortedSetLengthResponse::Miss
    );
    let len = |req: SortedSetLengthByScoreRequest<&'static str>| {
        let c = c.clone();
        async move { u32::try_from(c.send_request(req).await.unwrap()).unwrap() }
    };
    // z: n=-2, b=2, c=3, a=11.5
    assert_eq!(len(SortedSetLengthByScoreRequest::new(C, "z")).await, 4);
    assert_eq!(
        len(SortedSetLengthByScoreRequest::new(C, "z")
            .min_score(ScoreBound::Inclusive(2.0))
            .max_score(ScoreBound::Inclusive(3.0)))
        .await,
        2
    );
    assert_eq!(
        len(SortedSetLengthByScoreRequest::new(C, "z")
            .min_score(ScoreBound::Exclusive(2.0))
            .max_score(ScoreBound::Exclusive(11.5)))
        .await,
        1
    );
    assert_eq!(
        len(SortedSetLengthByScoreRequest::new(C, "z").max_score(ScoreBound::Exclusive(0.0))).await,
        1
    );

    // removal; emptied set disappears; raw All deletes
    c.sorted_set_remove_elements(C, "z", vec!["a", "nope"])
        .await
        .unwrap();
    let names: Vec<String> = sorted_set(&c, "z")
        .await
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(names, strs(&["n", "b", "c"]));
    c.sorted_set_remove_elements(C, "fresh", vec!["x"])
        .await
        .unwrap();
    assert_eq!(item_type(&c, "fresh").await, None);
    s.sorted_set_remove(in_cache(
        C,
        pb::SortedSetRemoveRequest {
            set_name: b("z"),
            remove_elements: Some(pb::sorted_set_remove_request::RemoveElements::All(
                pb::sorted_set_remove_request::All {},
            )),
        },
    ))
    .await
    .unwrap();
    assert_eq!(item_type(&c, "z").await, None);

    // NaN scores are invalid
    let st = s
        .sorted_set_put(in_cache(
            C,
            pb::SortedSetPutRequest {
                set_name: b("z"),
                elements: vec![pb::SortedSetElement {
                    value: b("a"),
                    score: f64::NAN,
                }],
                ttl_milliseconds: 1000,
                refresh_ttl: true,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    // infinities are allowed, inf + -inf is refused
    c.sorted_set_put_element(C, "inf", "a", f64::INFINITY)
        .await
        .unwrap();
    let e = c
        .sorted_set_increment_score(C, "inf", "a", f64::NEG_INFINITY)
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
}

#[tokio::test]
async fn sorted_set_union_store() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    c.sorted_set_put_elements(C, "s1", vec![("a", 1.0), ("b", 2.0)])
        .await
        .unwrap();
    c.sorted_set_put_elements(C, "s2", vec![("b", 10.0), ("c", 20.0)])
        .await
        .unwrap();
    c.sorted_set_put_elements(C, "dst", vec![("old", 1.0)])
        .await
        .unwrap();

    // sum with weights; the destination's old content is replaced
    let n: u32 = c
        .sorted_set_union_store(
            C,
            "dst",
            vec![("s1", 2.0f32), ("s2", 0.5), ("missing", 3.0)],
        )
        .await
        .unwrap()
        .into();
    assert_eq!(n, 3);
    assert_eq!(
        sorted_set(&c, "dst").await,
        vec![
            ("a".to_string(), 2.0),
            ("b".to_string(), 9.0),
            ("c".to_string(), 10.0)
        ]
    );
    let ttl = remaining_ttl(&c, "dst").await;
    assert!(
        ttl > Duration::from_secs(50) && ttl <= Duration::from_secs(60),
        "{ttl:?}"
    );

    // min / max
    let r = c
        .send_request(
            SortedSetUnionStoreRequest::new(C, "mn", vec![("s1", 1.0f32), ("s2", 1.0)])
                .aggregate(SortedSetAggregateFunction::Min),
        )
        .await
        .unwrap();
    assert_eq!(r.length, 3);
    assert_eq!(
        c.sorted_set_get_score(C, "mn", "b").await.unwrap(),
        SortedSetGetScoreResponse::Hit { score: 2.0 }
    );
    c.send_request(
        SortedSetUnionStoreRequest::new(C, "mx", vec![("s1", 1.0f32), ("s2", 1.0)])
            .aggregate(SortedSetAggregateFunction::Max),
    )
    .await
    .unwrap();
    assert_eq!(
        c.sorted_set_get_score(C, "mx", "b").await.unwrap(),
        SortedSetGetScoreResponse::Hit { score: 10.0 }
    );
    // the destination is a source only when listed
    c.sorted_set_union_store(C, "s1", vec![("s1", 1.0f32), ("s2", 1.0)])
        .await
        .unwrap();
    assert_eq!(
        sorted_set(&c, "s1").await,
        vec![
            ("a".to_string(), 1.0),
            ("b".to_string(), 12.0),
            ("c".to_string(), 20.0)
        ]
    );
    // an empty union deletes the destination
    let n: u32 = c
        .sorted_set_union_store(C, "dst", vec![("missing", 1.0f32)])
        .await
        .unwrap()
        .into();
    assert_eq!(n, 0);
    assert_eq!(item_type(&c, "dst").await, None);
    // a source of another type is wrong type
    c.set(C, "scalar", "x").await.unwrap();
    let e = c
        .sorted_set_union_store(C, "dst", vec![("s2", 1.0f32), ("scalar", 1.0)])
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    // no sources at all: InvalidArgument, as Momento answers (not an empty union)
    let no_sources: Vec<(&str, f32)> = Vec::new();
    let e = c
        .sorted_set_union_store(C, "dst", no_sources)
        .await
        .unwrap_err();
    assert_eq!(
        e.error_code,
        MomentoErrorCode::InvalidArgumentError,
        "{e:?}"
    );
}

// ----------------------------------------------------------------------------------------------
// TTL rules

#[tokio::test]
async fn collection_ttl_and_refresh_ttl() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let secs = Duration::from_secs;

    // created with the request's TTL
    c.send_request(
        DictionarySetFieldRequest::new(C, "d", "f", "v")
            .ttl(CollectionTtl::refresh_on_update(secs(100))),
    )
    .await
    .unwrap();
    assert!(remaining_ttl(&c, "d").await > secs(95));
    // refresh_ttl = false keeps the expiry
    c.send_request(
        DictionarySetFieldRequest::new(C, "d", "g", "v")
            .ttl(CollectionTtl::initialize_only(secs(10))),
    )
    .await
    .unwrap();
    assert!(remaining_ttl(&c, "d").await > secs(95));
    // refresh_ttl = true resets it (down as well as up)
    c.send_request(
        DictionarySetFieldRequest::new(C, "d", "h", "v")
            .ttl(CollectionTtl::refresh_on_update(secs(10))),
    )
    .await
    .unwrap();
    assert!(remaining_ttl(&c, "d").await <= secs(10));
    // but initialize_only applies on creation
    c.send_request(
        SetAddElementsRequest::new(C, "s", vec!["a"]).ttl(CollectionTtl::initialize_only(secs(20))),
    )
    .await
    .unwrap();
    let t = remaining_ttl(&c, "s").await;
    assert!(t > secs(15) && t <= secs(20), "{t:?}");
    // the client's default TTL (60 s) applies when none is given, and refreshes
    c.list_push_back(C, "l", "a").await.unwrap();
    let t = remaining_ttl(&c, "l").await;
    assert!(t > secs(55) && t <= secs(60), "{t:?}");
    c.send_request(
        ListPushBackRequest::new(C, "l", "b").ttl(CollectionTtl::refresh_on_update(secs(5))),
    )
    .await
    .unwrap();
    assert!(remaining_ttl(&c, "l").await <= secs(5));
    // ListRetain refreshes too
    c.send_request(ListRetainRequest::new(C, "l").ttl(CollectionTtl::refresh_on_update(secs(30))))
        .await
        .unwrap();
    let t = remaining_ttl(&c, "l").await;
    assert!(t > secs(25) && t <= secs(30), "{t:?}");
    // sorted sets: increment with refresh
    c.send_request(
        SortedSetPutElementRequest::new(C, "z", "a", 1.0)
            .ttl(CollectionTtl::refresh_on_update(secs(40))),
    )
    .await
    .unwrap();
    let t = remaining_ttl(&c, "z").await;
    assert!(t > secs(35) && t <= secs(40), "{t:?}");

    // expiry: the whole collection goes
    c.send_request(
        ListConcatenateBackRequest::new(C, "short", vec!["a", "b"])
            .ttl(CollectionTtl::refresh_on_update(Duration::from_millis(300))),
    )
    .await
    .unwrap();
    assert_eq!(list(&c, "short").await, strs(&["a", "b"]));
    // a write without refresh does not extend it
    c.send_request(
        ListPushBackRequest::new(C, "short", "c").ttl(CollectionTtl::initialize_only(secs(60))),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        c.list_fetch(C, "short").await.unwrap(),
        ListFetchResponse::Miss
    );

    // TTL 0 or above 24 h: InvalidArgument
    let e = c
        .send_request(
            DictionarySetFieldRequest::new(C, "d", "f", "v")
                .ttl(CollectionTtl::refresh_on_update(secs(24 * 3600 + 1))),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::InvalidArgumentError);
    let mut s = raw_scs(srv.grpc_addr()).await;
    let st = s
        .set_union(in_cache(
            C,
            pb::SetUnionRequest {
                set_name: b("s"),
                elements: bs(&["x"]),
                ttl_milliseconds: 0,
                refresh_ttl: false,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
}

// ----------------------------------------------------------------------------------------------
// Wrong type, limits

#[tokio::test]
async fn wrong_type_is_failed_precondition() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    c.set(C, "scalar", "x").await.unwrap();
    c.list_push_back(C, "list", "x").await.unwrap();
    c.set_add_elements(C, "set", vec!["x"]).await.unwrap();
    c.dictionary_set_field(C, "dict", "f", "v").await.unwrap();
    c.sorted_set_put_element(C, "zset", "x", 1.0).await.unwrap();

    let fp = MomentoErrorCode::FailedPreconditionError;
    for key in ["scalar", "list", "set", "zset"] {
        assert_eq!(c.dictionary_fetch(C, key).await.unwrap_err().error_code, fp);
        assert_eq!(
            c.dictionary_set_field(C, key, "f", "v")
                .await
                .unwrap_err()
                .error_code,
            fp
        );
    }
    for key in ["scalar", "list", "dict", "zset"] {
        assert_eq!(c.set_fetch(C, key).await.unwrap_err().error_code, fp);
        assert_eq!(
            c.set_add_elements(C, key, vec!["x"])
                .await
                .unwrap_err()
                .error_code,
            fp
        );
    }
    for key in ["scalar", "set", "dict", "zset"] {
        assert_eq!(c.list_fetch(C, key).await.unwrap_err().error_code, fp);
        assert_eq!(
            c.list_push_front(C, key, "x").await.unwrap_err().error_code,
            fp
        );
        assert_eq!(c.list_pop_back(C, key).await.unwrap_err().error_code, fp);
    }
    for key in ["scalar", "list", "set", "dict"] {
        assert_eq!(
            c.sorted_set_length(C, key).await.unwrap_err().error_code,
            fp
        );
        assert_eq!(
            c.sorted_set_put_element(C, key, "x", 1.0)
                .await
                .unwrap_err()
                .error_code,
            fp
        );
    }
    // the raw status carries the type in its message; nothing was changed
    let mut s = raw_scs(srv.grpc_addr()).await;
    let st = s
        .list_length(in_cache(
            C,
            pb::ListLengthRequest {
                list_name: b("dict"),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::FailedPrecondition);
    assert!(st.message().contains("dictionary"), "{}", st.message());
    assert_eq!(item_type(&c, "scalar").await, Some(ItemType::Scalar));
    assert_eq!(item_type(&c, "list").await, Some(ItemType::List));
    assert_eq!(item_type(&c, "set").await, Some(ItemType::Set));
    assert_eq!(item_type(&c, "dict").await, Some(ItemType::Dictionary));
    assert_eq!(item_type(&c, "zset").await, Some(ItemType::SortedSet));
    // Delete works on every type
    c.delete(C, "dict").await.unwrap();
    assert_eq!(item_type(&c, "dict").await, None);
}

#[tokio::test]
async fn element_size_limit() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let limit = 128 * 1024;
    let ok = vec![1u8; limit];
    let big = vec![1u8; limit + 1];
    c.list_push_back(C, "l", ok.clone()).await.unwrap();
    c.set_add_elements(C, "s", vec![ok.clone()]).await.unwrap();
    c.sorted_set_put_element(C, "z", ok.clone(), 1.0)
        .await
        .unwrap();
    c.dictionary_set_field(C, "d", "f", vec![1u8; limit - 1])
        .await
        .unwrap();

    let le = MomentoErrorCode::LimitExceededError;
    assert_eq!(
        c.list_push_back(C, "l", big.clone())
            .await
            .unwrap_err()
            .error_code,
        le
    );
    assert_eq!(
        c.list_concatenate_front(C, "l", vec![b("x"), big.clone()])
            .await
            .unwrap_err()
            .error_code,
        le
    );
    assert_eq!(
        c.set_add_elements(C, "s", vec![big.clone()])
            .await
            .unwrap_err()
            .error_code,
        le
    );
    assert_eq!(
        c.sorted_set_put_element(C, "z", big.clone(), 1.0)
            .await
            .unwrap_err()
            .error_code,
        le
    );
    // a dictionary element is field + value
    assert_eq!(
        c.dictionary_set_field(C, "d", "ff", vec![1u8; limit - 1])
            .await
            .unwrap_err()
            .error_code,
        le
    );
    // nothing of a rejected request is stored
    assert_eq!(
        c.list_length(C, "l").await.unwrap(),
        ListLengthResponse::Hit { length: 1 }
    );
    let mut s = raw_scs(srv.grpc_addr()).await;
    let st = s
        .set_union(in_cache(
            C,
            pb::SetUnionRequest {
                set_name: b("s"),
                elements: vec![big],
                ttl_milliseconds: 1000,
                refresh_ttl: true,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::ResourceExhausted);
    assert_eq!(err_of(&st).as_deref(), Some("element_size_limit_exceeded"));
}

// ----------------------------------------------------------------------------------------------
// Shared with RESP

#[tokio::test]
async fn collections_are_shared_with_resp() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let mut r = srv.client().await;

    // dictionary over gRPC = hash to RESP
    c.dictionary_set_fields(C, "h", vec![("f1", "v1"), ("f2", "v2")])
        .await
        .unwrap();
    let all: HashMap<String, String> = q(&mut r, &["HGETALL", "h"]).await.unwrap();
    assert_eq!(
        all,
        HashMap::from([("f1".into(), "v1".into()), ("f2".into(), "v2".into())])
    );
    let pttl: i64 = q(&mut r, &["PTTL", "h"]).await.unwrap();
    assert!(pttl > 55_000 && pttl <= 60_000, "{pttl}");
    let t: String = q(&mut r, &["TYPE", "h"]).await.unwrap();
    assert_eq!(t, "hash");
    let _: i64 = q(&mut r, &["HINCRBY", "h", "n", "40"]).await.unwrap();
    assert_eq!(
        c.dictionary_increment(C, "h", "n", 2).await.unwrap().value,
        42
    );

    // RPUSH over RESP -> ListFetch; a list without expiry stays so after a non-refreshing write
    let _: i64 = q(&mut r, &["RPUSH", "rl", "a", "b", "c"]).await.unwrap();
    assert_eq!(list(&c, "rl").await, strs(&["a", "b", "c"]));
    assert_eq!(
        list_range(&c, "rl", Some(-2), None).await,
        strs(&["b", "c"])
    );
    c.send_request(
        ListPushFrontRequest::new(C, "rl", "z")
            .ttl(CollectionTtl::initialize_only(Duration::from_secs(5))),
    )
    .await
    .unwrap();
    let pttl: i64 = q(&mut r, &["PTTL", "rl"]).await.unwrap();
    assert_eq!(pttl, -1);
    let got: Vec<String> = q(&mut r, &["LRANGE", "rl", "0", "-1"]).await.unwrap();
    assert_eq!(got, strs(&["z", "a", "b", "c"]));

    // ZADD over RESP -> SortedSetFetch by score
    let _: i64 = q(
        &mut r,
        &["ZADD", "rz", "1", "one", "2", "two", "3", "three"],
    )
    .await
    .unwrap();
    let v: Vec<(String, f64)> = c
        .send_request(
            SortedSetFetchByScoreRequest::new(C, "rz").min_score(ScoreBound::Inclusive(2.0)),
        )
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        v,
        vec![("two".to_string(), 2.0), ("three".to_string(), 3.0)]
    );
    c.sorted_set_put_element(C, "rz", "zero", 0.0)
        .await
        .unwrap();
    let got: Vec<String> = q(&mut r, &["ZRANGE", "rz", "0", "0"]).await.unwrap();
    assert_eq!(got, strs(&["zero"]));

    // sets both ways
    let _: i64 = q(&mut r, &["SADD", "rs", "x", "y"]).await.unwrap();
    c.set_add_elements(C, "rs", vec!["z"]).await.unwrap();
    let n: i64 = q(&mut r, &["SCARD", "rs"]).await.unwrap();
    assert_eq!(n, 3);

    // a RESP type error and a gRPC one agree on what the key is
    let e = c.list_fetch(C, "rs").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    let e: redis::RedisResult<Vec<String>> = q(&mut r, &["LRANGE", "h", "0", "-1"]).await;
    assert!(e.is_err());

    // a collection emptied over RESP is Missing to gRPC
    let _: i64 = q(&mut r, &["SREM", "rs", "x", "y", "z"]).await.unwrap();
    assert_eq!(c.set_fetch(C, "rs").await.unwrap(), SetFetchResponse::Miss);
}

/// Multi-threaded so that a wake-up bug shows as a timeout failure instead of a hung runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_push_wakes_blocked_resp_client() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    // a gRPC push wakes a RESP client blocked on the list
    let mut blocked = srv.client().await;
    let waiter = tokio::spawn(async move {
        let v: Vec<String> = q(&mut blocked, &["BLPOP", "bq", "5"]).await.unwrap();
        v
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.list_push_back(C, "bq", "hello").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(3), waiter)
        .await
        .expect("BLPOP woke up")
        .unwrap();
    assert_eq!(got, strs(&["bq", "hello"]));
    // the pop emptied the list: gone for gRPC too
    assert_eq!(
        c.list_fetch(C, "bq").await.unwrap(),
        ListFetchResponse::Miss
    );
}
