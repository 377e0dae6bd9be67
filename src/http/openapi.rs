//! `GET /openapi.json`: the OpenAPI 3 document, hand-written (`openapi.json` next to this file)
//! and embedded in the binary. The tests check that its paths and methods are exactly the ones
//! the router serves, so it cannot silently drift from the code.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_json_with_every_route_path() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        let routes: Vec<&str> = super::super::routes().iter().map(|(p, _)| *p).collect();
        for p in &routes {
            assert!(paths.contains_key(*p), "{p} is served but not documented");
        }
        for p in paths.keys() {
            assert!(
                routes.contains(&p.as_str()),
                "{p} is documented but not served"
            );
        }
    }
}
