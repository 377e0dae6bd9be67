//! Authenticated gRPC clients cannot make the server hold more request bytes than
//! `grpc.max_inflight_request_bytes` across the listener (issue 12 finding 3: "cap the total bytes
//! of requests in flight per connection and per listener"). Before the budget, every stream of
//! every connection could hold a message up to the message limit while it arrived.

use std::time::Duration;

use momento_protos::cache_client::SetRequest;
use prost::Message;

use crate::common::{test_config, TestServer};

const BUDGET: u64 = 1024 * 1024;

async fn server() -> TestServer {
    let mut cfg = test_config();
    cfg.grpc.max_inflight_request_bytes = BUDGET;
    TestServer::start_with(cfg).await
}

/// A gRPC frame (uncompressed) holding `SetRequest { key, value }`.
fn set_frame(key: &str, value_len: usize) -> Vec<u8> {
    let msg = SetRequest {
        cache_key: key.as_bytes().to_vec(),
        cache_body: vec![b'v'; value_len],
        ttl_milliseconds: 60_000,
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend(msg);
    frame
}

struct Call {
    response: h2::client::ResponseFuture,
    body: h2::SendStream<bytes::Bytes>,
}

/// Starts a Set on a fresh HTTP/2 connection and sends the first `send` bytes of `frame`
/// (`end` when they are all of it).
async fn start_set(addr: std::net::SocketAddr, frame: &[u8], send: usize) -> Call {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::Builder::new()
        .initial_window_size(8 << 20)
        .initial_connection_window_size(8 << 20)
        .handshake(tcp)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post("http://localhost/cache_client.Scs/Set")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("cache", "default")
        .body(())
        .unwrap();
    let (response, mut body) = client.send_request(req, false).unwrap();
    body.reserve_capacity(send);
    body.send_data(frame[..send].to_vec().into(), send == frame.len())
        .unwrap();
    Call { response, body }
}

/// The call's grpc-status (trailers-only or after the body), waited for at most `wait`.
async fn status(resp: h2::client::ResponseFuture, wait: Duration) -> Option<String> {
    tokio::time::timeout(wait, async move {
        let resp = resp.await.unwrap();
        if let Some(s) = resp.headers().get("grpc-status") {
            return s.to_str().unwrap().to_string();
        }
        let mut recv = resp.into_body();
        while let Some(d) = recv.data().await {
            d.unwrap();
        }
        let t = recv.trailers().await.unwrap().unwrap();
        t.get("grpc-status").unwrap().to_str().unwrap().to_string()
    })
    .await
    .ok()
}

#[tokio::test]
async fn a_message_larger_than_the_whole_budget_is_refused_as_it_arrives() {
    let srv = server().await;
    // 2 MiB is under the 5 MiB message limit but over the 1 MiB budget: RESOURCE_EXHAUSTED (8)
    // once the budget is passed, not after the whole message was buffered.
    let frame = set_frame("big", 2 << 20);
    let call = start_set(srv.grpc_addr(), &frame, (BUDGET as usize) + 64 * 1024).await;
    let st = status(call.response, Duration::from_secs(5)).await;
    assert_eq!(st.as_deref(), Some("8"), "{st:?}");
    drop(call.body);
    // Small requests still go through.
    let frame = set_frame("small", 100);
    let call = start_set(srv.grpc_addr(), &frame, frame.len()).await;
    assert_eq!(
        status(call.response, Duration::from_secs(5))
            .await
            .as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn uploads_past_the_budget_wait_for_room_then_complete() {
    let srv = server().await;
    let addr = srv.grpc_addr();
    // A holds 700 KiB of an unfinished 900 KiB message; B sends a whole 700 KiB message, which
    // does not fit beside A's: B is not read until A is gone.
    let a_frame = set_frame("a", 900 * 1024);
    let a = start_set(addr, &a_frame, 700 * 1024).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b_frame = set_frame("b", 700 * 1024);
    let b = start_set(addr, &b_frame, b_frame.len()).await;
    let mut b_response = b.response;
    let early = tokio::time::timeout(Duration::from_millis(500), &mut b_response).await;
    assert!(
        early.is_err(),
        "B was answered while A held the budget: {early:?}"
    );
    // A's client gives up (RST_STREAM): its bytes are released and B completes.
    let mut a_body = a.body;
    a_body.send_reset(h2::Reason::CANCEL);
    drop(a.response);
    assert_eq!(
        status(b_response, Duration::from_secs(5)).await.as_deref(),
        Some("0")
    );
    drop(b.body);
    let mut c = srv.client().await;
    let _: () = redis::cmd("PING").query_async(&mut c).await.unwrap();
    let len: usize = redis::cmd("STRLEN")
        .arg("b")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 700 * 1024);
}
