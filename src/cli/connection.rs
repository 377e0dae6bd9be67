//! How the CLI reaches a server: endpoint parsing, the token, the gRPC channel and the metadata
//! headers the Momento SDKs send (`authorization`, and `cache` on data-plane and pubsub calls).

use std::time::Duration;

use base64::Engine as _;
use clap::Args;
use momento_protos::cache_client::pubsub::pubsub_client::PubsubClient;
use momento_protos::cache_client::scs_client::ScsClient;
use momento_protos::control_client::scs_control_client::ScsControlClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::error::CliError;

/// Largest gRPC message the CLI decodes or encodes: room for a 5 MiB item (Momento's limit) with
/// headroom, above tonic's 4 MiB default. Matches the server's own limit.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// How long establishing the connection may take before the CLI gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 PINGs on an idle connection (the Rust SDK's topic channels use 30 s), so a subscription
/// to a server that vanished without closing the connection fails instead of waiting forever.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the server is and how to authenticate: accepted by every client subcommand.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The server's gRPC address: HOST:PORT, or an http:// or https:// URL.
    #[arg(
        long,
        env = "FERRITE_ENDPOINT",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub endpoint: String,
    /// The token sent as `authorization`: a raw key, or a Momento v1 token (base64 JSON with
    /// `endpoint` and `api_key`, of which the `api_key` is sent). Empty is allowed (development mode).
    #[arg(
        long,
        env = "FERRITE_TOKEN",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true,
        global = true
    )]
    pub token: String,
    /// Print machine-readable JSON (one object per line for streams) instead of human text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Deadline of each request in seconds (sent as `grpc-timeout`; subscriptions have none).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub timeout: u64,
}

/// A connected channel plus the headers every request carries. Cloning is cheap (the channel is
/// a handle onto one HTTP/2 connection).
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    authorization: AsciiMetadataValue,
    timeout: Duration,
}

impl Client {
    /// Connect now (not lazily), so an unreachable endpoint is reported before any command runs.
    pub async fn connect(args: &ConnectArgs) -> Result<Self, CliError> {
        let endpoint = endpoint(&args.endpoint)?;
        let authorization = authorization_value(&args.token)?;
        let display = endpoint.uri().to_string();
        let channel = endpoint.connect().await.map_err(|e| {
            CliError::Connect(format!("cannot connect to {display}: {}", chain(&e)))
        })?;
        Ok(Self {
            channel,
            authorization,
            timeout: Duration::from_secs(args.timeout),
        })
    }

    /// Open `connections` separate HTTP/2 connections to the same server (bench spreads its load).
    pub async fn connect_many(
        args: &ConnectArgs,
        connections: usize,
    ) -> Result<Vec<Self>, CliError> {
        let mut out = Vec::with_capacity(connections);
        for _ in 0..connections {
            out.push(Self::connect(args).await?);
        }
        Ok(out)
    }

    /// A request with `authorization`, the request deadline, and `cache` when given.
    pub fn request<T>(&self, msg: T, cache: Option<&str>) -> Result<tonic::Request<T>, CliError> {
        let mut req = self.stream_request(msg, cache)?;
        req.set_timeout(self.timeout);
        Ok(req)
    }

    /// Like [`Client::request`] but without a deadline: for subscriptions, which last until the
    /// user stops them.
    pub fn stream_request<T>(
        &self,
        msg: T,
        cache: Option<&str>,
    ) -> Result<tonic::Request<T>, CliError> {
        let mut req = tonic::Request::new(msg);
        let md = req.metadata_mut();
        md.insert("authorization", self.authorization.clone());
        if let Some(cache) = cache {
            md.insert("cache", cache_header(cache)?);
        }
        Ok(req)
    }

    pub fn control(&self) -> ScsControlClient<Channel> {
        ScsControlClient::new(self.channel.clone())
    }

    pub fn scs(&self) -> ScsClient<Channel> {
        ScsClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn pubsub(&self) -> PubsubClient<Channel> {
        PubsubClient::new(self.channel.clone())
    }
}

/// `HOST:PORT` becomes `http://HOST:PORT` (the server's port is plaintext HTTP/2); an explicit
/// `http://` or `https://` URL is used as given (https verifies against the public web PKI roots).
pub fn endpoint(spec: &str) -> Result<Endpoint, CliError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(CliError::Usage("the endpoint must not be empty".into()));
    }
    let url = if spec.contains("://") {
        if !(spec.starts_with("http://") || spec.starts_with("https://")) {
            return Err(CliError::Usage(format!(
                "invalid endpoint '{spec}': use HOST:PORT or an http:// or https:// URL"
            )));
        }
        spec.to_string()
    } else {
        format!("http://{spec}")
    };
    let ep = Endpoint::from_shared(url.clone())
        .map_err(|e| CliError::Usage(format!("invalid endpoint '{spec}': {}", chain(&e))))?;
    if ep.uri().host().is_none_or(str::is_empty) {
        return Err(CliError::Usage(format!(
            "invalid endpoint '{spec}': no host"
        )));
    }
    let ep = if url.starts_with("https://") {
        ep.tls_config(ClientTlsConfig::new().with_webpki_roots())
            .map_err(|e| CliError::Usage(format!("invalid endpoint '{spec}': {}", chain(&e))))?
    } else {
        ep
    };
    Ok(ep
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}

/// The value of the `authorization` header for a token, as the Momento SDKs compute it: a v1
/// token (base64 of JSON `{"endpoint", "api_key"}`) sends only its `api_key`; anything else
/// (a raw key, a JWT, the empty token) is sent as it is.
pub fn api_key(token: &str) -> String {
    let token = token.trim();
    decode_v1(token).unwrap_or_else(|| token.to_string())
}

/// The `api_key` of a v1 token, or None when `token` is not one. The SDKs disagree on the base64
/// alphabet (Rust: URL-safe, Python/JS: standard), so both are accepted, padded or not.
fn decode_v1(token: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    if token.is_empty() {
        return None;
    }
    let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(token).ok())?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let key = json.as_object()?.get("api_key")?.as_str()?;
    Some(key.to_string())
}

/// The cache header for calls that also name the cache in their body (pubsub): sent like the
/// Rust SDK does when it can travel as a header, left out (like the JS and Python SDKs) otherwise.
pub fn optional_cache_header(cache: &str) -> Option<&str> {
    (!cache.is_empty() && printable_ascii(cache)).then_some(cache)
}

/// Header values the server can read back as text: visible ASCII and spaces. (HTTP itself also
/// allows tabs and bytes above 127, which the server's `to_str` would refuse.)
fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn authorization_value(token: &str) -> Result<AsciiMetadataValue, CliError> {
    let key = api_key(token);
    let value = printable_ascii(&key)
        .then(|| MetadataValue::try_from(key).ok())
        .flatten();
    value.ok_or_else(|| {
        CliError::Usage(
            "the token must be printable ASCII (it travels in the authorization header)".into(),
        )
    })
}

/// The `cache` header: cache names travel as ASCII metadata.
fn cache_header(cache: &str) -> Result<AsciiMetadataValue, CliError> {
    if cache.is_empty() {
        return Err(CliError::Usage("the cache name must not be empty".into()));
    }
    let value = printable_ascii(cache)
        .then(|| MetadataValue::try_from(cache).ok())
        .flatten();
    value.ok_or_else(|| {
        CliError::Usage(format!(
            "cache name '{cache}' must be printable ASCII (it travels in the cache header)"
        ))
    })
}

/// An error and its sources on one line: tonic's top-level transport errors say only
/// "transport error"; the cause ("Connection refused") is further down the chain.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_tokens_send_their_api_key() {
        // base64 of {"endpoint":"localhost","api_key":"local-dev"} (reference §4.2).
        let t = "eyJlbmRwb2ludCI6ImxvY2FsaG9zdCIsImFwaV9rZXkiOiJsb2NhbC1kZXYifQ==";
        assert_eq!(api_key(t), "local-dev");
        assert_eq!(api_key(t.trim_end_matches('=')), "local-dev");
        // A key whose base64 has '-'/'_' in the URL-safe alphabet.
        let json = r#"{"endpoint":"e","api_key":"k?>~"}"#;
        let url = base64::engine::general_purpose::URL_SAFE.encode(json);
        let std = base64::engine::general_purpose::STANDARD.encode(json);
        assert_ne!(url, std);
        assert_eq!(api_key(&url), "k?>~");
        assert_eq!(api_key(&std), "k?>~");
    }

    #[test]
    fn other_tokens_are_sent_as_they_are() {
        assert_eq!(api_key(""), "");
        assert_eq!(api_key("ferrite-dev.6162.0f"), "ferrite-dev.6162.0f");
        // Valid base64 that is not JSON, and JSON without api_key.
        assert_eq!(api_key("aGVsbG8="), "aGVsbG8=");
        let no_key = base64::engine::general_purpose::STANDARD.encode(r#"{"endpoint":"e"}"#);
        assert_eq!(api_key(&no_key), no_key);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ0IjoiZyJ9.c2ln";
        assert_eq!(api_key(jwt), jwt);
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("127.0.0.1:8080").unwrap().uri().to_string(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            endpoint("http://localhost:1234").unwrap().uri().port_u16(),
            Some(1234)
        );
        assert!(endpoint("https://cache.example.com").is_ok());
        for bad in ["", "ftp://x:1", "not a host:1", "http://"] {
            assert!(
                matches!(endpoint(bad), Err(CliError::Usage(_))),
                "{bad:?} should be a usage error"
            );
        }
    }
}
