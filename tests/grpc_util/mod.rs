//! Helpers for the gRPC (Momento) tests: official SDK clients and raw `momento-protos` clients
//! pointed at a `TestServer`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use momento::{CacheClient, CredentialProvider, TopicClient};
use momento_protos::cache_client::pubsub::pubsub_client::PubsubClient;
use momento_protos::cache_client::scs_client::ScsClient;
use momento_protos::control_client::scs_control_client::ScsControlClient;
use tonic::transport::Channel;

/// base64 of `{"endpoint":"localhost","api_key":"local-dev"}` (reference §4.2): usable by every SDK.
pub const TOKEN: &str = "eyJlbmRwb2ludCI6ImxvY2FsaG9zdCIsImFwaV9rZXkiOiJsb2NhbC1kZXYifQ==";

pub fn creds(addr: SocketAddr) -> CredentialProvider {
    CredentialProvider::from_disposable_token(TOKEN)
        .expect("token parses")
        .insecure_endpoint_override(&format!("http://{addr}"))
}

pub fn cache_client(addr: SocketAddr) -> CacheClient {
    cache_client_ttl(addr, Duration::from_secs(60))
}

pub fn cache_client_ttl(addr: SocketAddr, ttl: Duration) -> CacheClient {
    CacheClient::builder()
        .default_ttl(ttl)
        .configuration(momento::cache::configurations::Laptop::latest())
        .credential_provider(creds(addr))
        .build()
        .expect("cache client builds")
}

pub fn topic_client(addr: SocketAddr) -> TopicClient {
    TopicClient::builder()
        .configuration(momento::topics::configurations::Laptop::latest())
        .credential_provider(creds(addr))
        .build()
        .expect("topic client builds")
}

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("gRPC connects")
}

pub async fn raw_scs(addr: SocketAddr) -> ScsClient<Channel> {
    ScsClient::new(channel(addr).await)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

pub async fn raw_pubsub(addr: SocketAddr) -> PubsubClient<Channel> {
    PubsubClient::new(channel(addr).await)
}

pub async fn raw_control(addr: SocketAddr) -> ScsControlClient<Channel> {
    ScsControlClient::new(channel(addr).await)
}

/// A data-plane request carrying the `cache` header.
pub fn in_cache<T>(cache: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert("cache", cache.parse().unwrap());
    r
}

/// The `err` metadata of a status, if any.
pub fn err_of(s: &tonic::Status) -> Option<String> {
    s.metadata()
        .get("err")
        .map(|v| v.to_str().unwrap().to_string())
}
