//! Momento scalar RPCs through the official Rust SDK (and raw protos where the SDK has no call).

mod common;
mod grpc_util;

use std::time::Duration;

use common::TestServer;
use grpc_util::*;
use momento::cache::{
    DecreaseTtlResponse, GetResponse, IncreaseTtlResponse, ItemGetTtlResponse, ItemGetTypeResponse,
    ItemType, SetIfAbsentOrEqualResponse, SetIfAbsentResponse, SetIfEqualResponse,
    SetIfNotEqualResponse, SetIfPresentAndNotEqualResponse, SetIfPresentResponse, SetRequest,
    UpdateTtlResponse,
};
use momento::MomentoErrorCode;
use momento_protos::cache_client as pb;

const C: &str = "default";

fn hit(r: GetResponse) -> Vec<u8> {
    match r {
        GetResponse::Hit { value } => value.into(),
        GetResponse::Miss => panic!("expected a hit"),
    }
}

#[tokio::test]
async fn get_set_delete_hit_and_miss() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    assert_eq!(c.get(C, "nope").await.unwrap(), GetResponse::Miss);
    c.set(C, "k", "v").await.unwrap();
    assert_eq!(hit(c.get(C, "k").await.unwrap()), b"v");
    // binary keys and values, empty value
    c.set(C, vec![0u8, 255, 1], vec![9u8, 0, 8]).await.unwrap();
    assert_eq!(
        hit(c.get(C, vec![0u8, 255, 1]).await.unwrap()),
        vec![9u8, 0, 8]
    );
    c.set(C, "empty", "").await.unwrap();
    assert_eq!(hit(c.get(C, "empty").await.unwrap()), b"");
    // overwrite
    c.set(C, "k", "v2").await.unwrap();
    assert_eq!(hit(c.get(C, "k").await.unwrap()), b"v2");
    c.delete(C, "k").await.unwrap();
    assert_eq!(c.get(C, "k").await.unwrap(), GetResponse::Miss);
    // deleting a missing key succeeds
    c.delete(C, "k").await.unwrap();
    let exists: Vec<bool> = c
        .keys_exist(C, vec!["empty", "k", "nope"])
        .await
        .unwrap()
        .into();
    assert_eq!(exists, vec![true, false, false]);
    assert!(c.key_exists(C, "empty").await.unwrap().exists);
}

#[tokio::test]
async fn ttl_expiry_and_ttl_updates() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    c.send_request(SetRequest::new(C, "short", "x").ttl(Duration::from_millis(300)))
        .await
        .unwrap();
    match c.item_get_ttl(C, "short").await.unwrap() {
        ItemGetTtlResponse::Hit { remaining_ttl } => {
            assert!(remaining_ttl <= Duration::from_millis(300))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.get(C, "short").await.unwrap(),
        GetResponse::Hit { .. }
    ));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(c.get(C, "short").await.unwrap(), GetResponse::Miss);
    assert_eq!(
        c.item_get_ttl(C, "short").await.unwrap(),
        ItemGetTtlResponse::Miss
    );

    // default TTL of the client (60 s)
    c.set(C, "k", "v").await.unwrap();
    let ttl = |r: ItemGetTtlResponse| match r {
        ItemGetTtlResponse::Hit { remaining_ttl } => remaining_ttl,
        ItemGetTtlResponse::Miss => panic!("miss"),
    };
    let t = ttl(c.item_get_ttl(C, "k").await.unwrap());
    assert!(
        t > Duration::from_secs(55) && t <= Duration::from_secs(60),
        "{t:?}"
    );
    // increase only when larger, decrease only when smaller
    assert_eq!(
        c.increase_ttl(C, "k", Duration::from_secs(10))
            .await
            .unwrap(),
        IncreaseTtlResponse::NotSet
    );
    assert_eq!(
        c.increase_ttl(C, "k", Duration::from_secs(120))
            .await
            .unwrap(),
        IncreaseTtlResponse::Set
    );
    assert!(ttl(c.item_get_ttl(C, "k").await.unwrap()) > Duration::from_secs(100));
    assert_eq!(
        c.decrease_ttl(C, "k", Duration::from_secs(200))
            .await
            .unwrap(),
        DecreaseTtlResponse::NotSet
    );
    assert_eq!(
        c.decrease_ttl(C, "k", Duration::from_secs(20))
            .await
            .unwrap(),
        DecreaseTtlResponse::Set
    );
    assert!(ttl(c.item_get_ttl(C, "k").await.unwrap()) <= Duration::from_secs(20));
    assert_eq!(
        c.update_ttl(C, "k", Duration::from_secs(300))
            .await
            .unwrap(),
        UpdateTtlResponse::Set
    );
    assert!(ttl(c.item_get_ttl(C, "k").await.unwrap()) > Duration::from_secs(290));
    assert_eq!(
        c.update_ttl(C, "missing", Duration::from_secs(3))
            .await
            .unwrap(),
        UpdateTtlResponse::Miss
    );
    assert_eq!(
        c.increase_ttl(C, "missing", Duration::from_secs(3))
            .await
            .unwrap(),
        IncreaseTtlResponse::Miss
    );
    // overwrite to a short TTL: gone after it
    c.update_ttl(C, "k", Duration::from_millis(200))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(c.get(C, "k").await.unwrap(), GetResponse::Miss);
}

#[tokio::test]
async fn conditional_writes() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    assert_eq!(
        c.set_if_present(C, "k", "a").await.unwrap(),
        SetIfPresentResponse::NotStored
    );
    assert_eq!(
        c.set_if_equal(C, "k", "a", "x").await.unwrap(),
        SetIfEqualResponse::NotStored
    );
    assert_eq!(
        c.set_if_present_and_not_equal(C, "k", "a", "x")
            .await
            .unwrap(),
        SetIfPresentAndNotEqualResponse::NotStored
    );
    assert_eq!(
        c.set_if_absent(C, "k", "a").await.unwrap(),
        SetIfAbsentResponse::Stored
    );
    assert_eq!(
        c.set_if_absent(C, "k", "b").await.unwrap(),
        SetIfAbsentResponse::NotStored
    );
    assert_eq!(hit(c.get(C, "k").await.unwrap()), b"a");
    assert_eq!(
        c.set_if_present(C, "k", "b").await.unwrap(),
        SetIfPresentResponse::Stored
    );
    assert_eq!(
        c.set_if_equal(C, "k", "c", "nope").await.unwrap(),
        SetIfEqualResponse::NotStored
    );
    assert_eq!(
        c.set_if_equal(C, "k", "c", "b").await.unwrap(),
        SetIfEqualResponse::Stored
    );
    assert_eq!(
        c.set_if_not_equal(C, "k", "d", "c").await.unwrap(),
        SetIfNotEqualResponse::NotStored
    );
    assert_eq!(
        c.set_if_not_equal(C, "k", "d", "zz").await.unwrap(),
        SetIfNotEqualResponse::Stored
    );
    assert_eq!(
        c.set_if_present_and_not_equal(C, "k", "e", "d")
            .await
            .unwrap(),
        SetIfPresentAndNotEqualResponse::NotStored
    );
    assert_eq!(
        c.set_if_present_and_not_equal(C, "k", "e", "x")
            .await
            .unwrap(),
        SetIfPresentAndNotEqualResponse::Stored
    );
    assert_eq!(
        c.set_if_absent_or_equal(C, "k", "f", "x").await.unwrap(),
        SetIfAbsentOrEqualResponse::NotStored
    );
    assert_eq!(
        c.set_if_absent_or_equal(C, "k", "f", "e").await.unwrap(),
        SetIfAbsentOrEqualResponse::Stored
    );
    assert_eq!(
        c.set_if_absent_or_equal(C, "new", "n", "x").await.unwrap(),
        SetIfAbsentOrEqualResponse::Stored
    );
    // NotEqual is also true when absent
    assert_eq!(
        c.set_if_not_equal(C, "new2", "n", "x").await.unwrap(),
        SetIfNotEqualResponse::Stored
    );
    assert_eq!(hit(c.get(C, "k").await.unwrap()), b"f");
}

#[tokio::test]
#[allow(deprecated)] // SetIfNotExists is deprecated in the proto, still served
async fn set_if_hash_get_with_hash_and_set_if_not_exists() {
    use momento_protos::common::{
        AbsentOrHashEqual, PresentAndHashEqual, PresentAndNotHashEqual, Unconditional,
    };
    use pb::set_if_hash_request::Condition;
    use pb::{
        get_with_hash_response as gwh, set_if_hash_response as sih,
        set_if_not_exists_response as sine,
    };
    let srv = TestServer::start().await;
    let mut s = raw_scs(srv.grpc_addr()).await;
    let sih = |key: &str, v: &str, cond: Condition| pb::SetIfHashRequest {
        cache_key: key.into(),
        cache_body: v.into(),
        ttl_milliseconds: 60_000,
        condition: Some(cond),
    };
    let r = s
        .get_with_hash(in_cache(
            C,
            pb::GetWithHashRequest {
                cache_key: b"k".to_vec(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        r.into_inner().result,
        Some(gwh::Result::Missing(gwh::Missing {}))
    );
    let r = s
        .set_if_hash(in_cache(
            C,
            sih(
                "k",
                "v1",
                Condition::PresentAndHashEqual(PresentAndHashEqual {
                    hash_to_check: vec![1],
                }),
            ),
        ))
        .await
        .unwrap();
    assert_eq!(
        r.into_inner().result,
        Some(sih::Result::NotStored(sih::NotStored {}))
    );
    let r = s
        .set_if_hash(in_cache(
            C,
            sih("k", "v1", Condition::Unconditional(Unconditional {})),
        ))
        .await
        .unwrap();
    let Some(sih::Result::Stored(st)) = r.into_inner().result else {
        panic!()
    };
    let h1 = st.new_hash;
    let r = s
        .get_with_hash(in_cache(
            C,
            pb::GetWithHashRequest {
                cache_key: b"k".to_vec(),
            },
        ))
        .await
        .unwrap();
    let Some(gwh::Result::Found(f)) = r.into_inner().result else {
        panic!()
    };
    assert_eq!((f.value, f.hash.clone()), (b"v1".to_vec(), h1.clone()));
    // wrong hash: not stored; right hash: stored
    let wrong = Condition::PresentAndHashEqual(PresentAndHashEqual {
        hash_to_check: b"bogus".to_vec(),
    });
    let r = s
        .set_if_hash(in_cache(C, sih("k", "v2", wrong)))
        .await
        .unwrap();
    assert_eq!(
        r.into_inner().result,
        Some(sih::Result::NotStored(sih::NotStored {}))
    );
    let right = Condition::PresentAndHashEqual(PresentAndHashEqual {
        hash_to_check: h1.clone(),
    });
    let r = s
        .set_if_hash(in_cache(C, sih("k", "v2", right)))
        .await
        .unwrap();
    assert!(matches!(
        r.into_inner().result,
        Some(sih::Result::Stored(_))
    ));
    let not_eq = Condition::PresentAndNotHashEqual(PresentAndNotHashEqual {
        hash_to_check: h1.clone(),
    });
    let r = s
        .set_if_hash(in_cache(C, sih("k", "v3", not_eq)))
        .await
        .unwrap();
    assert!(matches!(
        r.into_inner().result,
        Some(sih::Result::Stored(_))
    ));
    let absent = Condition::AbsentOrHashEqual(AbsentOrHashEqual { hash_to_check: h1 });
    let r = s
        .set_if_hash(in_cache(C, sih("fresh", "x", absent)))
        .await
        .unwrap();
    assert!(matches!(
        r.into_inner().result,
        Some(sih::Result::Stored(_))
    ));
    // no condition: INVALID_ARGUMENT
    let mut bad = sih("k", "x", Condition::Unconditional(Unconditional {}));
    bad.condition = None;
    assert_eq!(
        s.set_if_hash(in_cache(C, bad)).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );

    let sine = |key: &str| pb::SetIfNotExistsRequest {
        cache_key: key.into(),
        cache_body: b"z".to_vec(),
        ttl_milliseconds: 1000,
    };
    let r = s.set_if_not_exists(in_cache(C, sine("k"))).await.unwrap();
    assert_eq!(
        r.into_inner().result,
        Some(sine::Result::NotStored(sine::NotStored {}))
    );
    let r = s
        .set_if_not_exists(in_cache(C, sine("brand-new")))
        .await
        .unwrap();
    assert_eq!(
        r.into_inner().result,
        Some(sine::Result::Stored(sine::Stored {}))
    );
}

#[tokio::test]
async fn increment() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    assert_eq!(c.increment(C, "n", 5).await.unwrap().value, 5);
    assert_eq!(c.increment(C, "n", -7).await.unwrap().value, -2);
    assert_eq!(hit(c.get(C, "n").await.unwrap()), b"-2");
    c.set(C, "s", "not a number").await.unwrap();
    let e = c.increment(C, "s", 1).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    c.set(C, "big", i64::MAX.to_string()).await.unwrap();
    let e = c.increment(C, "big", 1).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
}

#[tokio::test]
async fn item_type_and_batches() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    assert_eq!(
        c.item_get_type(C, "k").await.unwrap(),
        ItemGetTypeResponse::Miss
    );
    c.set(C, "k", "v").await.unwrap();
    assert_eq!(
        c.item_get_type(C, "k").await.unwrap(),
        ItemGetTypeResponse::Hit {
            key_type: ItemType::Scalar
        }
    );

    let items: Vec<(String, String)> = (0..50)
        .map(|i| (format!("bk{i}"), format!("bv{i}")))
        .collect();
    c.set_batch(C, items.clone()).await.unwrap();
    let mut keys: Vec<String> = items.iter().map(|(k, _)| k.clone()).collect();
    keys.push("absent".into());
    let got: std::collections::HashMap<Vec<u8>, GetResponse> =
        c.get_batch(C, keys).await.unwrap().into();
    assert_eq!(got.len(), 51);
    for (k, v) in &items {
        assert_eq!(hit(got[k.as_bytes()].clone()), v.as_bytes());
    }
    assert_eq!(got[&b"absent"[..]], GetResponse::Miss);

    // raw: GetBatch answers in request order, one per item
    let mut s = raw_scs(srv.grpc_addr()).await;
    let req = pb::GetBatchRequest {
        items: ["bk3", "zzz", "bk1"]
            .iter()
            .map(|k| pb::GetRequest {
                cache_key: k.as_bytes().to_vec(),
            })
            .collect(),
    };
    let mut stream = s.get_batch(in_cache(C, req)).await.unwrap().into_inner();
    let mut results = Vec::new();
    while let Some(r) = stream.message().await.unwrap() {
        results.push((r.result, r.cache_body));
    }
    let (hit_, miss) = (pb::ECacheResult::Hit as i32, pb::ECacheResult::Miss as i32);
    assert_eq!(
        results,
        vec![
            (hit_, b"bv3".to_vec()),
            (miss, vec![]),
            (hit_, b"bv1".to_vec())
        ]
    );
}

#[tokio::test]
async fn limits_map_to_sdk_error_codes() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    // a value of almost 5 MiB fits (above tonic's 4 MiB default message limit)
    let big = vec![7u8; 5 * 1024 * 1024 - 16];
    c.set(C, "big", big.clone()).await.unwrap();
    assert_eq!(hit(c.get(C, "big").await.unwrap()), big);
    // key + value over 5 MiB: LimitExceeded with err=item_size_limit_exceeded
    let too_big = vec![7u8; 5 * 1024 * 1024 + 1];
    let e = c.set(C, "huge", too_big.clone()).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::LimitExceededError, "{e:?}");
    let mut s = raw_scs(srv.grpc_addr()).await;
    let st = s
        .set(in_cache(
            C,
            pb::SetRequest {
                cache_key: b"huge".to_vec(),
                cache_body: too_big,
                ttl_milliseconds: 1000,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::ResourceExhausted);
    assert_eq!(err_of(&st).as_deref(), Some("item_size_limit_exceeded"));
    // A request well over the limit is refused as a request (the JS and Kotlin SDK suites set
    // 5.3 MB and expect "Request size limit exceeded for this account").
    let e = c.set(C, "huger", vec![b'x'; 5_300_000]).await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::LimitExceededError, "{e:?}");
    assert!(e.message.contains("Request size limit exceeded"), "{e:?}");
    let st = s
        .set(in_cache(
            C,
            pb::SetRequest {
                cache_key: b"huger".to_vec(),
                cache_body: vec![b'x'; 5_300_000],
                ttl_milliseconds: 1000,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err_of(&st).as_deref(), Some("request_size_limit_exceeded"));
    // TTL above 24 h, or 0: InvalidArgument
    let e = c
        .send_request(SetRequest::new(C, "k", "v").ttl(Duration::from_secs(24 * 3600 + 1)))
        .await
        .unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::InvalidArgumentError);
    let st = s
        .set(in_cache(
            C,
            pb::SetRequest {
                cache_key: b"k".to_vec(),
                cache_body: b"v".to_vec(),
                ttl_milliseconds: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    // exactly 24 h is fine
    c.send_request(SetRequest::new(C, "k", "v").ttl(Duration::from_secs(24 * 3600)))
        .await
        .unwrap();
}

#[tokio::test]
async fn cache_header_missing_or_unknown() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let e = c.get("no-such-cache", "k").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::CacheNotFoundError);
    let e = c.set("no-such-cache", "k", "v").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::CacheNotFoundError);
    let mut s = raw_scs(srv.grpc_addr()).await;
    let st = s
        .get(tonic::Request::new(pb::GetRequest {
            cache_key: b"k".to_vec(),
        }))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    let st = s
        .get(in_cache(
            "no-such-cache",
            pb::GetRequest {
                cache_key: b"k".to_vec(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::NotFound);
    assert_eq!(err_of(&st), None);
}

#[tokio::test]
async fn many_concurrent_requests_on_one_client() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    let mut set = tokio::task::JoinSet::new();
    for i in 0..300 {
        let c = c.clone();
        set.spawn(async move {
            c.set(C, format!("c{i}"), format!("v{i}")).await.unwrap();
            hit(c.get(C, format!("c{i}")).await.unwrap())
        });
    }
    let mut n = 0;
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().starts_with(b"v"));
        n += 1;
    }
    assert_eq!(n, 300);
}
