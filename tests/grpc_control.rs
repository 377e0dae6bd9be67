//! Momento control plane (create/delete/list/flush caches), tokens and Ping.

mod common;
mod grpc_util;

use common::TestServer;
use grpc_util::*;
use momento::cache::{CreateCacheResponse, GetResponse};
use momento::MomentoErrorCode;
use momento_protos::control_client as cc;

#[tokio::test]
async fn create_list_flush_delete() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    assert_eq!(
        c.create_cache("orders").await.unwrap(),
        CreateCacheResponse::Created
    );
    assert_eq!(
        c.create_cache("orders").await.unwrap(),
        CreateCacheResponse::AlreadyExists
    );
    let list = c.list_caches().await.unwrap();
    let mut names: Vec<String> = list.caches.iter().map(|c| c.name.clone()).collect();
    names.sort();
    assert_eq!(names, vec!["default", "orders"]);
    let info = list.caches.iter().find(|c| c.name == "orders").unwrap();
    assert_eq!(info.cache_limits.max_item_size_kb, 5 * 1024);
    assert_eq!(info.cache_limits.max_ttl_seconds, 24 * 3600);
    assert_eq!(info.topic_limits.max_publish_message_size_kb, 4);

    // data lives per cache
    c.set("orders", "k", "in-orders").await.unwrap();
    assert_eq!(c.get("default", "k").await.unwrap(), GetResponse::Miss);
    // flush empties it (and an empty cache flushes fine)
    c.flush_cache("orders").await.unwrap();
    assert_eq!(c.get("orders", "k").await.unwrap(), GetResponse::Miss);
    c.flush_cache("orders").await.unwrap();
    let e = c.flush_cache("nope").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::CacheNotFoundError);

    // delete, then it is gone for data calls, and deleting again is NOT_FOUND
    c.set("orders", "k", "v").await.unwrap();
    c.delete_cache("orders").await.unwrap();
    let e = c.get("orders", "k").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::CacheNotFoundError);
    let e = c.delete_cache("orders").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::CacheNotFoundError);
    // recreate: empty
    c.create_cache("orders").await.unwrap();
    assert_eq!(c.get("orders", "k").await.unwrap(), GetResponse::Miss);

    // the default cache backs RESP: it can be flushed, not deleted
    let e = c.delete_cache("default").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::FailedPreconditionError);
    // empty names are invalid
    let e = c.create_cache("").await.unwrap_err();
    assert_eq!(e.error_code, MomentoErrorCode::InvalidArgumentError);
}

#[tokio::test]
async fn list_caches_pages() {
    let srv = TestServer::start().await;
    let c = cache_client(srv.grpc_addr());
    for i in 0..250 {
        c.create_cache(format!("cache-{i:03}")).await.unwrap();
    }
    let mut ctl = raw_control(srv.grpc_addr()).await;
    let mut token = String::new();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = ctl
            .list_caches(cc::ListCachesRequest {
                next_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(r.cache.len() <= 100);
        pages += 1;
        seen.extend(r.cache.into_iter().map(|c| c.cache_name));
        if r.next_token.is_empty() {
            break;
        }
        token = r.next_token;
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = (0..250).map(|i| format!("cache-{i:03}")).collect();
    expected.push("default".into());
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn unsupported_control_rpcs_are_unimplemented() {
    let srv = TestServer::start().await;
    let mut ctl = raw_control(srv.grpc_addr()).await;
    let st = ctl
        .create_signing_key(cc::CreateSigningKeyRequest { ttl_minutes: 5 })
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::Unimplemented);
    assert!(st.message().contains("signing keys"), "{}", st.message());
    let st = ctl
        .list_indexes(cc::ListIndexesRequest {})
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn disposable_token_and_ping() {
    use momento_protos::token::generate_disposable_token_request::Expires;
    use momento_protos::token::token_client::TokenClient;
    use momento_protos::token::GenerateDisposableTokenRequest;
    let srv = TestServer::start().await;
    let mut tc = TokenClient::new(channel(srv.grpc_addr()).await);
    let r = tc
        .generate_disposable_token(GenerateDisposableTokenRequest {
            expires: Some(Expires {
                valid_for_seconds: 600,
            }),
            auth_token: String::new(),
            permissions: Some(Default::default()),
            token_id: "user-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.api_key.starts_with("ferrite-dev."));
    assert!(r.valid_until > 0);
    let st = tc
        .generate_disposable_token(GenerateDisposableTokenRequest {
            expires: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);

    // the hand-defined cache_client.Ping service
    let mut grpc = tonic::client::Grpc::new(channel(srv.grpc_addr()).await);
    grpc.ready().await.unwrap();
    let resp = grpc
        .unary(
            tonic::Request::new(ferrite::grpc::auth::PingRequest {}),
            tonic::codegen::http::uri::PathAndQuery::from_static("/cache_client.Ping/Ping"),
            tonic_prost::ProstCodec::<
                ferrite::grpc::auth::PingRequest,
                ferrite::grpc::auth::PingResponse,
            >::default(),
        )
        .await;
    assert!(resp.is_ok(), "{resp:?}");
}
