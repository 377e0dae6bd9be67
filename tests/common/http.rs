//! HTTP API answers, read with reqwest: JSON bodies and the error shape every 4xx/5xx has.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// The body as JSON; the content type must say so.
pub async fn json_of(resp: Response) -> Value {
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct.as_deref(), Some("application/json"));
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Assert an error answer: status plus the JSON body's `error` code (the message must be there).
pub async fn expect_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "for {}", resp.url());
    let body = json_of(resp).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(!body["message"].as_str().unwrap().is_empty(), "{body}");
    body
}
