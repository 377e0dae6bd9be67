//! The admin endpoint against the real server: `/metrics` (parsed and validated line by line,
//! counters checked against an exact scripted workload over RESP and gRPC), `/healthz`,
//! `/readyz`, `/stats`, and the console's SSE topic tail and publish route.
//!
//! Request metrics are process-wide (see src/metrics.rs), so every test here holds `SERIAL`:
//! exact deltas would otherwise include another test's traffic.

mod common;
mod grpc_util;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::{q, test_config, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.0 client: HTTP/1.0 makes the server close after the response and never use
// chunked encoding, so the body is simply everything after the headers.

struct HttpResponse {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Split a response head from its body: (status, lower-case headers, rest).
fn parse_head(raw: &[u8]) -> Option<(u16, HashMap<String, String>, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers, end + 4))
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut s = TcpStream::connect(addr).await.expect("admin port connects");
    s.write_all(&request_bytes(method, path, headers, body))
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("response within 10 s")
        .expect("read response");
    let (status, headers, at) = parse_head(&raw).expect("an HTTP response head");
    HttpResponse {
        status,
        headers,
        body: raw[at..].to_vec(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    http(addr, "GET", path, &[], b"").await
}

fn admin(srv: &TestServer) -> SocketAddr {
    srv.running.admin_addr.expect("admin endpoint enabled")
}

// ---------------------------------------------------------------------------------------------
// Prometheus text exposition format (0.0.4) parser: every line must be a HELP, a TYPE, another
// comment, a blank line or a valid sample of a declared metric family.

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v
            .parse::<f64>()
            .map_err(|e| format!("bad value {v:?}: {e}")),
    }
}

/// `{a="x",b="y"}` -> pairs, honouring the `\\`, `\"` and `\n` escapes.
type Labels = Vec<(String, String)>;

fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut rest = s.strip_prefix('{').ok_or("labels must start with {")?;
    let mut out = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value must be quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        out.push((name.to_string(), value));
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped: HashSet<String> = HashSet::new();
    let mut with_samples: HashSet<String> = HashSet::new();
    let mut samples = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let err = |m: String| format!("line {}: {m}: {line:?}", no + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _help) = rest
                .split_once(' ')
                .ok_or_else(|| err("HELP without text".into()))?;
            if !valid_metric_name(name) || !helped.insert(name.to_string()) {
                return Err(err("bad or repeated HELP".into()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| err("TYPE without type".into()))?;
            if !valid_metric_name(name) {
                return Err(err("bad metric name".into()));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(err(format!("unknown type {kind}")));
            }
            if with_samples.contains(name) || types.insert(name.into(), kind.into()).is_some() {
                return Err(err("TYPE repeated or after samples".into()));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| err("sample without value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(err("bad metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(err)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| err("no space before value".into()))?
            .split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(err)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| err("bad timestamp".into()))?;
        }
        if fields.next().is_some() {
            return Err(err("trailing fields".into()));
        }
        // The family this sample belongs to must be declared, with the right suffixes.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suf| {
                name.strip_suffix(suf)
                    .filter(|base| types.get(*base).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        let kind = types
            .get(family)
            .ok_or_else(|| err("sample of an undeclared metric".into()))?;
        if kind == "counter" && !name.ends_with("_total") {
            return Err(err("counter without _total".into()));
        }
        if name.ends_with("_bucket") && !labels.iter().any(|(k, _)| k == "le") {
            return Err(err("bucket without le".into()));
        }
        with_samples.insert(family.to_string());
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(samples)
}

struct Scrape(Vec<Sample>);

impl Scrape {
    async fn take(addr: SocketAddr) -> Scrape {
        let r = get(addr, "/metrics").await;
        assert_eq!(r.status, 200);
        assert!(
            r.headers["content-type"].starts_with("text/plain; version=0.0.4"),
            "{:?}",
            r.headers
        );
        let text = r.text();
        Scrape(parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}")))
    }

    /// The value of `name` with exactly these labels; absent series count as 0.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map_or(0.0, |s| s.value)
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|s| s.name == name)
    }
}

#[test]
fn exposition_parser_rejects_bad_lines() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"a\\\"b\"} 3\n";
    assert_eq!(parse_exposition(ok).unwrap()[0].labels[0].1, "a\"b");
    for bad in [
        "a_total 3\n",                           // undeclared
        "# TYPE a counter\na 3\n",               // counter without _total
        "# TYPE a gauge\na{x=y} 3\n",            // unquoted label
        "# TYPE a gauge\na 3 4 5\n",             // trailing field
        "# TYPE a gauge\na three\n",             // bad value
        "# TYPE h histogram\nh_bucket 1\n",      // bucket without le
        "# TYPE a gauge\n# TYPE a gauge\na 1\n", // repeated TYPE
        "# TYPE a gauge\na{x=\"1\"\n",           // unterminated labels
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}

// ---------------------------------------------------------------------------------------------

const REQ: &str = "ferrite_requests_total";
const DUR_COUNT: &str = "ferrite_request_duration_seconds_count";

#[tokio::test]
async fn metrics_move_by_exactly_the_scripted_workload() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start().await;
    let addr = admin(&srv);
    let resp_string = [("protocol", "resp"), ("family", "string")];
    let grpc_string = [("protocol", "grpc"), ("family", "string")];

    let mut c = srv.client().await;
    let before = Scrape::take(addr).await;
    for i in 0..7 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "value"])
            .await
            .unwrap();
    }
    for i in 0..5 {
        let v: String = q(&mut c, &["GET", &format!("k{i}")]).await.unwrap();
        assert_eq!(v, "value");
    }
    let sdk = grpc_util::cache_client(srv.grpc_addr());
    for i in 0..3 {
        let r = sdk.get("default", format!("k{i}")).await.unwrap();
        assert!(matches!(r, momento::cache::GetResponse::Hit { .. }));
    }
    // A call that fails (no such cache) is still a request: 1 more, and no keyspace read.
    assert!(sdk.get("no-such-cache", "k0").await.is_err());
    // HTTP API: 2 PUTs and 1 GET (a hit) are `string`, 1 DELETE is `keys`.
    let web = srv.running.http_addr;
    for k in ["h1", "h2"] {
        let path = format!("/cache/default?key={k}&ttl_seconds=60");
        assert_eq!(http(web, "PUT", &path, &[], b"v").await.status, 204);
    }
    assert_eq!(get(web, "/cache/default?key=h1").await.status, 200);
    let del = http(web, "DELETE", "/cache/default?key=h2", &[], b"").await;
    assert_eq!(del.status, 204);
    let after = Scrape::take(addr).await;

    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta(REQ, &resp_string), 12.0);
    assert_eq!(delta(DUR_COUNT, &resp_string), 12.0);
    assert_eq!(delta(REQ, &grpc_string), 4.0);
    assert_eq!(delta(DUR_COUNT, &grpc_string), 4.0);
    let http_string = [("protocol", "http"), ("family", "string")];
    let http_keys = [("protocol", "http"), ("family", "keys")];
    assert_eq!(delta(REQ, &http_string), 3.0);
    assert_eq!(delta(DUR_COUNT, &http_string), 3.0);
    assert_eq!(delta(REQ, &http_keys), 1.0);
    // 5 RESP GETs, 3 gRPC gets and 1 HTTP GET, all hits; nothing missed (the failed get read
    // nothing).
    assert_eq!(delta("ferrite_keyspace_hits_total", &[]), 9.0);
    assert_eq!(delta("ferrite_keyspace_misses_total", &[]), 0.0);
    // 7 RESP keys + h1 (h2 was deleted).
    assert_eq!(after.value("ferrite_db_keys", &[("cache", "default")]), 8.0);
    assert!(delta("ferrite_commands_processed_total", &[]) >= 12.0);
    assert!(after.value("ferrite_memory_used_bytes", &[]) > 0.0);
    assert_eq!(
        after.value("ferrite_memory_max_bytes", &[]),
        (256 * 1024 * 1024) as f64
    );
    assert!(after.value("ferrite_connected_clients", &[]) >= 1.0);

    // Histogram shape: cumulative buckets, +Inf = count, sum consistent with the count.
    let buckets: Vec<&Sample> = after
        .0
        .iter()
        .filter(|s| {
            s.name == "ferrite_request_duration_seconds_bucket"
                && s.labels.contains(&("protocol".into(), "resp".into()))
                && s.labels.contains(&("family".into(), "string".into()))
        })
        .collect();
    assert_eq!(buckets.len(), 23);
    assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value));
    let inf = buckets.last().unwrap();
    assert_eq!(
        inf.labels.iter().find(|(k, _)| k == "le").unwrap().1,
        "+Inf"
    );
    assert_eq!(inf.value, after.value(DUR_COUNT, &resp_string));
    assert!(after.value("ferrite_request_duration_seconds_sum", &resp_string) > 0.0);

    // Every documented family of metrics is present.
    for name in [
        "ferrite_uptime_in_seconds",
        "ferrite_connections_received_total",
        "ferrite_evicted_keys_total",
        "ferrite_expired_keys_total",
        "ferrite_topics",
        "ferrite_topic_subscribers",
        "ferrite_topic_messages_published_total",
        "ferrite_topic_messages_delivered_total",
        "ferrite_topic_messages_dropped_total",
        "ferrite_topic_discontinuities_total",
        "ferrite_topic_slow_subscriber_disconnects_total",
    ] {
        assert!(after.has(name), "missing {name}");
    }
}

#[tokio::test]
async fn topic_counters_move_with_publishes() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start().await;
    let addr = admin(&srv);
    let mut c = srv.client().await;
    let before = Scrape::take(addr).await;
    for _ in 0..4 {
        let n: i64 = q(&mut c, &["PUBLISH", "metrics-topic", "m"]).await.unwrap();
        assert_eq!(n, 0);
    }
    let after = Scrape::take(addr).await;
    let pubsub = [("protocol", "resp"), ("family", "pubsub")];
    assert_eq!(after.value(REQ, &pubsub) - before.value(REQ, &pubsub), 4.0);
    let published = "ferrite_topic_messages_published_total";
    assert_eq!(
        after.value(published, &[]) - before.value(published, &[]),
        4.0
    );
    assert!(after.value("ferrite_topics", &[]) >= 1.0);
}

#[tokio::test]
async fn health_readiness_and_unknown_routes() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start().await;
    let addr = admin(&srv);
    let h = get(addr, "/healthz").await;
    assert_eq!((h.status, h.json()["status"].as_str()), (200, Some("ok")));
    let r = get(addr, "/readyz").await;
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("ready"))
    );
    let nf = get(addr, "/nope").await;
    assert_eq!(nf.status, 404);
    assert!(nf.json()["error"].is_string());

    // Shutdown requested: still answering, but no longer ready.
    srv.running.shutdown();
    let r = get(addr, "/readyz").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["status"], "shutting down");
    assert_eq!(get(addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn admin_port_closes_after_wait() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start().await;
    let addr = admin(&srv);
    assert_eq!(get(addr, "/healthz").await.status, 200);
    srv.running.shutdown();
    srv.running.wait().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "admin port still open"
    );
}

#[tokio::test]
async fn admin_can_be_disabled() {
    let _serial = SERIAL.lock().await;
    let mut cfg = test_config();
    cfg.admin.enabled = false;
    let srv = TestServer::start_with(cfg).await;
    assert!(srv.running.admin_addr.is_none());
}

#[tokio::test]
async fn stats_json_reports_caches_and_requests() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start().await;
    let addr = admin(&srv);
    let sdk = grpc_util::cache_client(srv.grpc_addr());
    sdk.create_cache("stats-cache").await.unwrap();
    sdk.set("stats-cache", "a", "1").await.unwrap();
    sdk.set("stats-cache", "b", "22").await.unwrap();
    let mut c = srv.client().await;
    let _: () = q(&mut c, &["SET", "x", "y"]).await.unwrap();

    let r = get(addr, "/stats").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"].starts_with("application/json"));
    let s = r.json();
    let caches = s["caches"].as_array().unwrap();
    let cache = |name: &str| {
        caches
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("cache {name} in {caches:?}"))
            .clone()
    };
    assert_eq!(cache("stats-cache")["keys"], 2);
    assert!(cache("stats-cache")["used_bytes"].as_u64().unwrap() > 0);
    assert_eq!(cache("default")["keys"], 1);
    assert_eq!(s["keys"], 3);
    assert!(s["memory"]["used_bytes"].as_u64().unwrap() > 0);
    assert_eq!(s["memory"]["max_bytes"], 256 * 1024 * 1024);
    assert!(s["connections"]["connected"].as_u64().unwrap() >= 1);
    let grpc = &s["requests"]["by_protocol"]["grpc"];
    assert!(grpc["families"]["control"]["count"].as_u64().unwrap() >= 1);
    assert!(grpc["families"]["string"]["count"].as_u64().unwrap() >= 2);
    assert!(
        s["requests"]["by_protocol"]["resp"]["families"]["string"]["count"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(s["topics"]["published"].is_u64());
    assert!(s["uptime_seconds"].is_u64());
}

// ---------------------------------------------------------------------------------------------
// Console: SSE tail and publish.

/// An open SSE response, read incrementally.
struct Sse {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Sse {
    async fn open(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Sse, HttpResponse> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut h = vec![("Accept", "text/event-stream")];
        h.extend_from_slice(headers);
        stream
            .write_all(&request_bytes("GET", path, &h, b""))
            .await
            .unwrap();
        let mut buf = Vec::new();
        loop {
            if let Some((status, headers, at)) = parse_head(&buf) {
                if status != 200 {
                    let mut rest = buf[at..].to_vec();
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
                            .await;
                    return Err(HttpResponse {
                        status,
                        headers,
                        body: rest,
                    });
                }
                assert!(headers["content-type"].starts_with("text/event-stream"));
                return Ok(Sse {
                    stream,
                    buf: buf[at..].to_vec(),
                });
            }
            let mut tmp = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut tmp))
                .await
                .expect("response head within 5 s")
                .unwrap();
            assert!(n > 0, "closed before the response head");
            buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// The next event (comments and keep-alives skipped) as its `field: value` pairs.
    async fn next(&mut self) -> HashMap<String, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block = String::from_utf8(self.buf.drain(..end + 2).collect()).unwrap();
                let fields: HashMap<String, String> = block
                    .lines()
                    .filter(|l| !l.starts_with(':') && !l.is_empty())
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.to_string(), v.trim_start().to_string()))
                    .collect();
                if !fields.is_empty() {
                    return fields;
                }
            }
            let mut tmp = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut tmp))
                .await
                .expect("an SSE event within 10 s")
                .unwrap();
            assert!(n > 0, "SSE stream ended");
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }
}

/// Wait until `topic` in the default cache has `n` direct subscribers.
async fn wait_subscribers(c: &mut redis::aio::MultiplexedConnection, topic: &str, n: i64) {
    for _ in 0..500 {
        let v: (String, i64) = q(c, &["PUBSUB", "NUMSUB", topic]).await.unwrap();
        if v.1 == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{topic} never reached {n} subscribers");
}

#[tokio::test]
async fn sse_tail_receives_resp_and_console_publishes_and_resumes() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start().await;
    let addr = admin(&srv);
    let mut c = srv.client().await;
    let events = "/console/api/topics/default/news/events";
    let mut tail = Sse::open(addr, events, &[]).await.ok().expect("tail opens");
    wait_subscribers(&mut c, "news", 1).await;

    let n: i64 = q(&mut c, &["PUBLISH", "news", "hello over RESP"])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let ev = tail.next().await;
    assert_eq!(ev["event"], "message");
    assert_eq!(ev["id"], "1");
    let data: serde_json::Value = serde_json::from_str(&ev["data"]).unwrap();
    assert_eq!(data["sequence_number"], 1);
    assert_eq!(data["text"], "hello over RESP");

    // The console's publish route.
    let r = http(
        addr,
        "POST",
        "/console/api/topics/default/news",
        &[("Content-Type", "text/plain")],
        b"hello from the console",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sequence_number"], 2);
    assert_eq!(r.json()["receivers"], 1);
    let ev = tail.next().await;
    assert_eq!(ev["id"], "2");
    let data: serde_json::Value = serde_json::from_str(&ev["data"]).unwrap();
    assert_eq!(data["text"], "hello from the console");
    assert_eq!(data["kind"], "text");

    // A browser reconnecting with Last-Event-ID: 1 gets message 2 again from the replay ring.
    let mut resumed = Sse::open(addr, events, &[("Last-Event-ID", "1")])
        .await
        .ok()
        .expect("resumed tail opens");
    let ev = resumed.next().await;
    assert_eq!(ev["id"], "2");
    assert!(ev["data"].contains("hello from the console"));
}

#[tokio::test]
async fn console_api_errors() {
    let _serial = SERIAL.lock().await;
    let mut cfg = test_config();
    cfg.admin.max_tail_streams = 1;
    cfg.topics.max_message_bytes = 16;
    let srv = TestServer::start_with(cfg).await;
    let addr = admin(&srv);

    // Unknown cache: 404 with a JSON error, for the tail and for publish.
    let r = Sse::open(addr, "/console/api/topics/nope/t/events", &[])
        .await
        .err()
        .expect("refused");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("nope"));
    let r = http(addr, "POST", "/console/api/topics/nope/t", &[], b"x").await;
    assert_eq!(r.status, 404);

    // Too large: 413, nothing published.
    let r = http(
        addr,
        "POST",
        "/console/api/topics/default/t",
        &[],
        &[b'x'; 17],
    )
    .await;
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].is_string());
    assert!(srv
        .running
        .shared
        .topics
        .topic_info(b"default", b"t")
        .is_none());

    // One tail allowed: the second is refused until the first closes.
    let first = Sse::open(addr, "/console/api/topics/default/t/events", &[])
        .await
        .ok()
        .expect("first tail");
    let r = Sse::open(addr, "/console/api/topics/default/t/events", &[])
        .await
        .err()
        .expect("second tail refused");
    assert_eq!(r.status, 429);
    drop(first);
    let mut reopened = None;
    for _ in 0..500 {
        if let Ok(s) = Sse::open(addr, "/console/api/topics/default/t/events", &[]).await {
            reopened = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(reopened.is_some(), "the slot was never released");
}

#[tokio::test]
async fn console_page_and_assets_are_served() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start().await;
    let addr = admin(&srv);
    let page = get(addr, "/").await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].starts_with("text/html"));
    let html = page.text();
    assert!(html.contains("/console/app.js") && html.contains("<canvas"));
    // No CDN: nothing is loaded from another origin.
    assert!(!html.contains("http://") && !html.contains("https://"));
    let js = get(addr, "/console/app.js").await;
    assert_eq!(js.status, 200);
    assert!(js.headers["content-type"].starts_with("text/javascript"));
    assert!(js.text().contains("EventSource"));
    let css = get(addr, "/console/app.css").await;
    assert_eq!(css.status, 200);
    assert!(css.headers["content-type"].starts_with("text/css"));
}
