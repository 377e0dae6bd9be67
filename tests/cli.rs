//! The command-line client (`src/cli`): the built `ferrite` binary runs as a subprocess against
//! a real server on port 0, and its stdout, stderr and exit code are checked. What it writes is
//! cross-checked through the `redis` crate against the same server.

mod common;

use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use common::{q, TestServer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_ferrite");
/// A guard against a hung subprocess, not a timing assertion.
const GUARD: Duration = Duration::from_secs(60);

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("utf-8 stdout")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.out()))
    }
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("FERRITE_ENDPOINT")
        .env_remove("FERRITE_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn run_cmd(mut c: Command) -> Run {
    let out = tokio::time::timeout(GUARD, c.output())
        .await
        .expect("the CLI finishes")
        .expect("the CLI runs");
    Run {
        code: out.status.code().expect("exited normally"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `ferrite ARGS --endpoint <the server's gRPC address>`.
async fn ferrite(srv: &TestServer, args: &[&str]) -> Run {
    let endpoint = srv.grpc_addr().to_string();
    let mut all = args.to_vec();
    all.extend(["--endpoint", &endpoint]);
    run_cmd(command(&all)).await
}

/// `ferrite ARGS --endpoint ...` with `input` on its standard input.
async fn ferrite_stdin(srv: &TestServer, args: &[&str], input: &[u8]) -> Run {
    use tokio::io::AsyncWriteExt;
    let endpoint = srv.grpc_addr().to_string();
    let mut all = args.to_vec();
    all.extend(["--endpoint", &endpoint]);
    let mut c = command(&all);
    c.stdin(Stdio::piped());
    let mut child = c.spawn().expect("the CLI runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(GUARD, child.wait_with_output())
        .await
        .expect("the CLI finishes")
        .unwrap();
    Run {
        code: out.status.code().expect("exited normally"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A subscription running as a child process, read line by line.
struct Sub {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Sub {
    fn spawn(srv: &TestServer, args: &[&str]) -> Self {
        Self::spawn_cmd(srv, args, &[])
    }

    fn spawn_cmd(srv: &TestServer, args: &[&str], env: &[(&str, &str)]) -> Self {
        let endpoint = srv.grpc_addr().to_string();
        let mut all = vec!["topic", "subscribe"];
        all.extend_from_slice(args);
        all.extend(["--endpoint", &endpoint]);
        let mut c = command(&all);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("subscriber starts");
        let stdout = child.stdout.take().unwrap();
        Self {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(GUARD, self.lines.next_line())
            .await
            .expect("a line from the subscriber")
            .expect("stdout readable")
            .expect("the subscriber is still printing")
    }

    /// Read until a line satisfies `pred` (subscribed: its first heartbeat was printed).
    async fn until(&mut self, pred: impl Fn(&str) -> bool) -> String {
        loop {
            let l = self.line().await;
            if pred(&l) {
                return l;
            }
        }
    }

    async fn json_item(&mut self) -> Value {
        loop {
            let v: Value = serde_json::from_str(&self.line().await).expect("a JSON line");
            if v["type"] == "item" {
                return v;
            }
        }
    }

    async fn exit_code(mut self) -> i32 {
        tokio::time::timeout(GUARD, self.child.wait())
            .await
            .expect("the subscriber exits")
            .unwrap()
            .code()
            .expect("exited normally")
    }
}

fn is_heartbeat(l: &str) -> bool {
    l == r#"{"type":"heartbeat"}"# || l == "[heartbeat]"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_create_list_flush_delete() {
    let srv = TestServer::start().await;
    let r = ferrite(&srv, &["cache", "list"]).await;
    assert_eq!((r.code, r.out()), (0, "default\n".to_string()));

    let r = ferrite(&srv, &["cache", "create", "foo"]).await;
    assert_eq!((r.code, r.out()), (0, "created cache 'foo'\n".to_string()));
    let r = ferrite(&srv, &["cache", "create", "foo"]).await;
    assert_eq!(r.code, 4, "create twice: {}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);

    let r = ferrite(&srv, &["cache", "list"]).await;
    assert_eq!(r.out(), "default\nfoo\n");
    let r = ferrite(&srv, &["cache", "list", "--json"]).await;
    let names: Vec<_> = r.json()["caches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["default", "foo"]);

    // Flush empties a cache: `foo` through the CLI, `default` cross-checked over RESP.
    assert_eq!(
        ferrite(&srv, &["set", "k", "v", "--cache", "foo"])
            .await
            .code,
        0
    );
    let mut redis = srv.client().await;
    let _: () = q(&mut redis, &["SET", "a", "1"]).await.unwrap();
    let r = ferrite(&srv, &["cache", "flush", "foo", "--json"]).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"cache": "foo", "flushed": true})
    );
    assert_eq!(
        ferrite(&srv, &["get", "k", "--cache", "foo"]).await.code,
        1,
        "flushed"
    );
    let n: i64 = q(&mut redis, &["DBSIZE"]).await.unwrap();
    assert_eq!(n, 1, "flushing foo leaves default alone");
    let r = ferrite(&srv, &["cache", "flush", "default"]).await;
    assert_eq!(
        (r.code, r.out()),
        (0, "flushed cache 'default'\n".to_string())
    );
    let n: i64 = q(&mut redis, &["DBSIZE"]).await.unwrap();
    assert_eq!(n, 0);

    let r = ferrite(&srv, &["cache", "delete", "foo"]).await;
    assert_eq!((r.code, r.out()), (0, "deleted cache 'foo'\n".to_string()));
    let r = ferrite(&srv, &["cache", "delete", "foo"]).await;
    assert_eq!(r.code, 3, "delete missing: {}", r.stderr);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
    let r = ferrite(&srv, &["cache", "flush", "foo"]).await;
    assert_eq!(r.code, 3);
    // The default cache cannot be deleted (FAILED_PRECONDITION): a server refusal.
    let r = ferrite(&srv, &["cache", "delete", "default"]).await;
    assert_eq!(r.code, 5, "{}", r.stderr);
    let r = ferrite(&srv, &["cache", "list"]).await;
    assert_eq!(r.out(), "default\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_get_delete_cross_checked_over_resp() {
    let srv = TestServer::start().await;
    let mut redis = srv.client().await;

    let r = ferrite(&srv, &["set", "greeting", "hello world"]).await;
    assert_eq!((r.code, r.out()), (0, "OK\n".to_string()));
    let v: String = q(&mut redis, &["GET", "greeting"]).await.unwrap();
    assert_eq!(v, "hello world");
    // Without --ttl the item gets the 24 h default; with --ttl, that TTL.
    let ttl: i64 = q(&mut redis, &["TTL", "greeting"]).await.unwrap();
    assert!((86_000..=86_400).contains(&ttl), "ttl {ttl}");
    let r = ferrite(&srv, &["set", "short", "x", "--ttl", "100"]).await;
    assert_eq!(r.code, 0);
    let ttl: i64 = q(&mut redis, &["TTL", "short"]).await.unwrap();
    assert!((1..=100).contains(&ttl), "ttl {ttl}");

    let _: () = q(&mut redis, &["SET", "from-resp", "written by redis"])
        .await
        .unwrap();
    let r = ferrite(&srv, &["get", "from-resp"]).await;
    assert_eq!((r.code, r.out()), (0, "written by redis\n".to_string()));
    let r = ferrite(&srv, &["get", "from-resp", "--json"]).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"cache": "default", "key": "from-resp", "hit": true, "value": "written by redis"})
    );

    // Binary values: raw bytes on stdout, base64 in JSON.
    let mut conn = srv.client().await;
    let _: () = redis::cmd("SET")
        .arg("bin")
        .arg(&[0xffu8, 0x00, 0x01][..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let r = ferrite(&srv, &["get", "bin"]).await;
    assert_eq!(r.stdout, [0xff, 0x00, 0x01, b'\n']);
    let r = ferrite(&srv, &["get", "bin", "--json"]).await;
    assert_eq!(r.json()["value_base64"], "/wAB");

    // A miss: nothing on stdout, a message on stderr, exit 1; with --json a hit:false object.
    let r = ferrite(&srv, &["get", "nope"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("miss"), "{}", r.stderr);
    let r = ferrite(&srv, &["get", "nope", "--json"]).await;
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["hit"], false);

    let r = ferrite(&srv, &["delete", "greeting"]).await;
    assert_eq!((r.code, r.out()), (0, "OK\n".to_string()));
    let n: i64 = q(&mut redis, &["EXISTS", "greeting"]).await.unwrap();
    assert_eq!(n, 0);
    // Deleting a missing key succeeds, as in Momento.
    assert_eq!(ferrite(&srv, &["delete", "greeting"]).await.code, 0);

    // --cache: a created cache is separate from RESP's `default`.
    assert_eq!(ferrite(&srv, &["cache", "create", "other"]).await.code, 0);
    let r = ferrite(
        &srv,
        &["set", "k", "in-other", "--cache", "other", "--json"],
    )
    .await;
    assert_eq!(r.json()["stored"], true);
    let v: Option<String> = q(&mut redis, &["GET", "k"]).await.unwrap();
    assert_eq!(v, None, "not in default");
    let r = ferrite(&srv, &["get", "k", "--cache", "other"]).await;
    assert_eq!(r.out(), "in-other\n");
    let r = ferrite(&srv, &["delete", "k", "--cache", "other"]).await;
    assert_eq!(r.code, 0);
    assert_eq!(
        ferrite(&srv, &["get", "k", "--cache", "other"]).await.code,
        1
    );

    // Errors: unknown cache, bad TTLs.
    let r = ferrite(&srv, &["get", "k", "--cache", "missing"]).await;
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("cache not found"), "{}", r.stderr);
    let r = ferrite(&srv, &["set", "k", "v", "--ttl", "0"]).await;
    assert_eq!(r.code, 2, "rejected by the CLI: {}", r.stderr);
    let r = ferrite(&srv, &["set", "k", "v", "--ttl", "100000"]).await;
    assert_eq!(
        r.code, 5,
        "rejected by the server (over 24 h): {}",
        r.stderr
    );
    assert!(r.stderr.contains("InvalidArgument"), "{}", r.stderr);
    let r = ferrite(&srv, &["set", "k", "v", "--ttl", "100000", "--json"]).await;
    let err: Value = serde_json::from_str(r.stderr.trim()).expect("JSON error on stderr");
    assert_eq!(err["kind"], "server");
    assert_eq!(err["exit_code"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_receives_cli_and_resp_publishes_with_sequence_numbers() {
    let srv = TestServer::start().await;
    let mut sub = Sub::spawn(&srv, &["default", "news", "--count", "3", "--json"]);
    sub.until(is_heartbeat).await;

    let r = ferrite(&srv, &["topic", "publish", "default", "news", "first"]).await;
    assert_eq!((r.code, r.out()), (0, "OK\n".to_string()));
    let r = ferrite(
        &srv,
        &["topic", "publish", "default", "news", "second", "--json"],
    )
    .await;
    assert_eq!(r.json()["published"], true);
    let mut redis = srv.client().await;
    let n: i64 = q(&mut redis, &["PUBLISH", "news", "third via resp"])
        .await
        .unwrap();
    assert_eq!(n, 1, "the CLI's gRPC subscription counts as a subscriber");

    let mut page = None;
    for (seq, text) in [(1, "first"), (2, "second"), (3, "third via resp")] {
        let item = sub.json_item().await;
        assert_eq!(item["seq"], seq);
        assert_eq!(item["value"], text);
        assert_eq!(item["kind"], "text");
        let p = item["page"].as_u64().unwrap();
        assert_eq!(*page.get_or_insert(p), p, "one page");
    }
    assert_eq!(sub.exit_code().await, 0, "--count 3 ends it");

    // Human output, replayed from the start: `[seq] message`.
    let r = ferrite(
        &srv,
        &[
            "topic",
            "subscribe",
            "default",
            "news",
            "--from",
            "1",
            "--count",
            "3",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.out(), "[1] first\n[2] second\n[3] third via resp\n");

    // Verbose: heartbeats and pages too. Without --from a subscription begins with the newest
    // message (Momento's "latest messages", topics.subscribe_backlog), then goes on live.
    let mut sub = Sub::spawn(&srv, &["default", "news", "-v", "--count", "2"]);
    sub.until(is_heartbeat).await;
    let line = sub.until(|l| l.starts_with("[3 ")).await;
    assert_eq!(line, format!("[3 page={}] third via resp", page.unwrap()));
    let _: i64 = q(&mut redis, &["PUBLISH", "news", "fourth"]).await.unwrap();
    let line = sub.until(|l| l.starts_with("[4 ")).await;
    assert_eq!(line, format!("[4 page={}] fourth", page.unwrap()));
    assert_eq!(sub.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_from_resumes_on_the_current_or_given_page() {
    let srv = TestServer::start().await;
    for i in 1..=5 {
        let m = format!("m{i}");
        let r = ferrite(&srv, &["topic", "publish", "default", "t", &m]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // --from without --page: the current page.
    let r = ferrite(
        &srv,
        &[
            "topic",
            "subscribe",
            "default",
            "t",
            "--from",
            "3",
            "--count",
            "3",
            "--json",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let items: Vec<Value> = r
        .out()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "item")
        .collect();
    let seqs: Vec<_> = items.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(items[0]["value"], "m3");
    assert!(
        !r.out().contains("discontinuity"),
        "learning the page is not reported as a gap: {}",
        r.out()
    );
    let page = items[0]["page"].as_u64().unwrap().to_string();

    // --from with the page it printed.
    let r = ferrite(
        &srv,
        &[
            "topic",
            "subscribe",
            "default",
            "t",
            "--from",
            "4",
            "--page",
            &page,
            "--count",
            "2",
        ],
    )
    .await;
    assert_eq!(r.out(), "[4] m4\n[5] m5\n");

    // Another page: a discontinuity (nothing known lost), what the window holds, then live.
    let other = (page.parse::<u64>().unwrap() + 1).to_string();
    let mut sub = Sub::spawn(
        &srv,
        &[
            "default", "t", "--from", "2", "--page", &other, "--count", "6", "--json",
        ],
    );
    let gap: Value = serde_json::from_str(&sub.until(|l| l.contains("discontinuity")).await)
        .expect("JSON discontinuity");
    assert_eq!(
        (gap["last_seq"].as_u64(), gap["new_seq"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(gap["page"].as_u64().unwrap().to_string(), page);
    for seq in 1..=5u64 {
        assert_eq!(sub.json_item().await["seq"].as_u64(), Some(seq));
    }
    assert_eq!(
        ferrite(&srv, &["topic", "publish", "default", "t", "m6"])
            .await
            .code,
        0
    );
    let item = sub.json_item().await;
    assert_eq!(
        (item["seq"].as_u64(), item["value"].as_str()),
        (Some(6), Some("m6"))
    );
    assert_eq!(sub.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_ends_with_not_found_when_its_cache_is_deleted() {
    let srv = TestServer::start().await;
    assert_eq!(ferrite(&srv, &["cache", "create", "gone"]).await.code, 0);
    let mut sub = Sub::spawn(&srv, &["gone", "t", "-v"]);
    sub.until(is_heartbeat).await;
    assert_eq!(ferrite(&srv, &["cache", "delete", "gone"]).await.code, 0);
    assert_eq!(sub.exit_code().await, 3);

    let r = ferrite(&srv, &["topic", "subscribe", "nope", "t"]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = ferrite(&srv, &["topic", "publish", "nope", "t", "x"]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
}

/// A v1 token (base64 JSON) sends its `api_key` as `authorization`; other tokens go as they are.
/// Seen from outside: the server names a publish's `publisher_id` after the token id in a
/// `ferrite-dev.<hex id>.<random>` key, and the subscriber prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_environment_variables() {
    let srv = TestServer::start().await;
    let hex: String = "cli-test".bytes().map(|b| format!("{b:02x}")).collect();
    let key = format!("ferrite-dev.{hex}.0123");
    let v1 = base64::engine::general_purpose::STANDARD
        .encode(format!(r#"{{"endpoint":"localhost","api_key":"{key}"}}"#));

    let r = ferrite(
        &srv,
        &["topic", "publish", "default", "t", "a", "--token", &v1],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // FERRITE_ENDPOINT and FERRITE_TOKEN instead of flags.
    let mut c = command(&["topic", "publish", "default", "t", "b"]);
    c.env("FERRITE_ENDPOINT", srv.grpc_addr().to_string())
        .env("FERRITE_TOKEN", &key);
    assert_eq!(run_cmd(c).await.code, 0);
    let r = ferrite(&srv, &["topic", "publish", "default", "t", "c"]).await;
    assert_eq!(r.code, 0);

    let r = ferrite(
        &srv,
        &[
            "topic",
            "subscribe",
            "default",
            "t",
            "--from",
            "1",
            "--count",
            "3",
            "--json",
        ],
    )
    .await;
    let items: Vec<Value> = r
        .out()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "item")
        .collect();
    assert_eq!(items.len(), 3, "{}", r.out());
    assert_eq!(items[0]["publisher_id"], "cli-test", "v1 token's api_key");
    assert_eq!(items[1]["publisher_id"], "cli-test", "raw key from env");
    assert!(items[2].get("publisher_id").is_none(), "empty token");

    for bad in ["tök\u{e9}n", "tab\there"] {
        let r = ferrite(&srv, &["get", "k", "--token", bad]).await;
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("token"), "{}", r.stderr);
    }
    let r = ferrite(&srv, &["get", "k", "--cache", "caché"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_completes_and_summarizes() {
    let srv = TestServer::start().await;
    let r = ferrite(
        &srv,
        &[
            "bench",
            "--requests",
            "200",
            "--clients",
            "4",
            "--keys",
            "20",
            "--value-size",
            "16",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.out();
    for want in ["200 requests", "0 errors", "ops/s", "p50", "p99.9", "max"] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }

    let mut redis = srv.client().await;
    let _: () = q(&mut redis, &["FLUSHALL"]).await.unwrap();
    let r = ferrite(
        &srv,
        &[
            "bench",
            "-n",
            "100",
            "-c",
            "3",
            "--keys",
            "10",
            "--value-size",
            "16",
            "--set-percent",
            "100",
            "--json",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert_eq!(s["requests"], 100);
    assert_eq!(s["sets"], 100);
    assert_eq!(s["gets"], 0);
    assert_eq!(s["errors"], 0);
    assert_eq!(s["latency_us"]["all"]["count"], 100);
    assert!(
        s["latency_us"]["all"]["p50"].as_u64().unwrap()
            <= s["latency_us"]["all"]["max"].as_u64().unwrap()
    );
    // What it wrote is in the cache: only its keys, each a 16-byte value.
    let keys: Vec<String> = q(&mut redis, &["KEYS", "*"]).await.unwrap();
    assert!(!keys.is_empty() && keys.len() <= 10, "{keys:?}");
    for k in &keys {
        assert!(k.starts_with("bench:"), "{k}");
        let n: i64 = q(&mut redis, &["STRLEN", k]).await.unwrap();
        assert_eq!(n, 16);
    }

    // --duration: runs until the deadline instead of a count.
    let r = ferrite(&srv, &["bench", "--duration", "1", "-c", "2", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["requests"].as_u64().unwrap() > 0);

    // Memory stays bounded: 10,000 clients x 5 MiB values is refused before connecting.
    let r = ferrite(&srv, &["bench", "-c", "10000", "--value-size", "5242880"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--value-size"), "{}", r.stderr);

    // A cache that does not exist fails up front with its own error.
    let r = ferrite(&srv, &["bench", "-n", "10", "--cache", "nope"]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cache not found"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_invalid_endpoints_fail_clearly() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("127.0.0.1:{port}");
    for args in [
        vec!["get", "k"],
        vec!["cache", "list"],
        vec!["topic", "publish", "default", "t", "x"],
        vec!["bench", "-n", "10"],
    ] {
        let mut all = args.clone();
        all.extend(["--endpoint", &endpoint]);
        let r = run_cmd(command(&all)).await;
        assert_eq!(r.code, 6, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
        assert!(
            r.stderr.contains("cannot connect") && r.stderr.contains("refused"),
            "{args:?}: {}",
            r.stderr
        );
    }
    let r = run_cmd(command(&["get", "k", "--endpoint", &endpoint, "--json"])).await;
    let err: Value = serde_json::from_str(r.stderr.trim()).expect("JSON error");
    assert_eq!(err["kind"], "connection");

    for bad in ["ftp://127.0.0.1:1", "", "http://"] {
        let r = run_cmd(command(&["cache", "list", "--endpoint", bad])).await;
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("endpoint"), "{}", r.stderr);
    }
}

/// Binary values and messages come from standard input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_values_and_binary_messages() {
    let srv = TestServer::start().await;
    let bytes = [0u8, 0xff, b'\n', 0x80, b'x'];
    let r = ferrite_stdin(&srv, &["set", "blob", "--stdin", "--ttl", "60"], &bytes).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut redis = srv.client().await;
    let v: Vec<u8> = redis::cmd("GET")
        .arg("blob")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(v, bytes);
    let r = ferrite(&srv, &["get", "blob"]).await;
    assert_eq!(r.stdout, [&bytes[..], b"\n"].concat());
    // Both a value and --stdin, or neither: usage errors.
    assert_eq!(ferrite(&srv, &["set", "k", "v", "--stdin"]).await.code, 2);
    assert_eq!(ferrite(&srv, &["set", "k"]).await.code, 2);
    // Larger than Momento's 5 MiB item limit: refused before anything is sent.
    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    let r = ferrite_stdin(&srv, &["set", "big", "--stdin"], &big).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let n: i64 = q(&mut redis, &["EXISTS", "big"]).await.unwrap();
    assert_eq!(n, 0);

    let r = ferrite_stdin(
        &srv,
        &["topic", "publish", "default", "bin", "--stdin"],
        &bytes,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ferrite_stdin(
        &srv,
        &["topic", "publish", "default", "bin", "--stdin"],
        b"text",
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ferrite(
        &srv,
        &[
            "topic",
            "publish",
            "default",
            "bin",
            "as-binary",
            "--binary",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ferrite(
        &srv,
        &[
            "topic",
            "subscribe",
            "default",
            "bin",
            "--from",
            "1",
            "--count",
            "3",
            "--json",
        ],
    )
    .await;
    let items: Vec<Value> = r
        .out()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "item")
        .collect();
    assert_eq!(items.len(), 3, "{}", r.out());
    assert_eq!(items[0]["kind"], "binary");
    assert_eq!(items[0]["value_base64"], "AP8KgHg=");
    assert_eq!(
        (items[1]["kind"].as_str(), items[1]["value"].as_str()),
        (Some("text"), Some("text"))
    );
    assert_eq!(
        (items[2]["kind"].as_str(), items[2]["value"].as_str()),
        (Some("binary"), Some("as-binary"))
    );
    // Human output shows non-UTF-8 messages as base64.
    let r = ferrite(
        &srv,
        &[
            "topic",
            "subscribe",
            "default",
            "bin",
            "--from",
            "1",
            "--count",
            "1",
        ],
    )
    .await;
    assert_eq!(r.out(), "[1] base64:AP8KgHg=\n");
}

/// Ctrl-C (SIGINT) ends a subscription normally: exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_stops_cleanly_on_sigint() {
    let srv = TestServer::start().await;
    let mut sub = Sub::spawn(&srv, &["default", "t", "--json"]);
    sub.until(is_heartbeat).await;
    let pid = libc::pid_t::try_from(sub.child.id().expect("running")).unwrap();
    // SAFETY: a plain libc call signalling our own child process.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(rc, 0);
    assert_eq!(sub.exit_code().await, 0);
}

/// The server entry points are unchanged by the client subcommands, and the client's
/// environment variables do not upset the server's `FERRITE_*` config parsing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_still_parses() {
    let mut c = command(&["serve", "--print-config", "--grpc-port", "1234"]);
    c.env("FERRITE_ENDPOINT", "127.0.0.1:1")
        .env("FERRITE_TOKEN", "x");
    let r = run_cmd(c).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.out().contains("grpc_port = 1234"), "{}", r.out());
}

/// `ferrite` (no subcommand) run as its own process, with its gRPC port and RESP on port 0.
struct Standalone {
    child: Child,
    grpc: String,
}

impl Standalone {
    async fn start(grpc_port: u16) -> Self {
        let mut c = command(&[]);
        for key in ["RESP", "HTTP", "ADMIN"] {
            c.env(format!("FERRITE_SERVER_{key}_PORT"), "0");
        }
        c.env("FERRITE_SERVER_GRPC_PORT", grpc_port.to_string())
            .env("FERRITE_LOG", "info");
        let mut child = c.spawn().expect("server starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // The log line naming the bound gRPC address (colour codes and all).
        let grpc = loop {
            let line = tokio::time::timeout(GUARD, lines.next_line())
                .await
                .expect("a log line")
                .unwrap()
                .expect("the server is still running");
            if let Some(rest) = line.split("grpc_addr").nth(1) {
                let start = rest.find("127.0.0.1:").expect("an address");
                let addr: String = rest[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                break addr;
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, grpc }
    }

    fn port(&self) -> u16 {
        self.grpc.rsplit(':').next().unwrap().parse().unwrap()
    }

    async fn cli(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--endpoint", &self.grpc]);
        run_cmd(command(&all)).await
    }

    /// SIGINT, then the exit code of the graceful shutdown.
    async fn stop(mut self) -> Option<i32> {
        let pid = libc::pid_t::try_from(self.child.id().expect("running")).unwrap();
        // SAFETY: a plain libc call signalling our own child process.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(pid, libc::SIGINT) };
        assert_eq!(rc, 0);
        tokio::time::timeout(GUARD, self.child.wait())
            .await
            .expect("the server exits")
            .unwrap()
            .code()
    }
}

/// `ferrite` with no subcommand still runs the server (README's `cargo run --release`), and the
/// client talks to that standalone process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_ferrite_runs_the_server_the_client_talks_to() {
    let server = Standalone::start(0).await;
    let r = server.cli(&["set", "k", "standalone"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = server.cli(&["get", "k"]).await;
    assert_eq!((r.code, r.out()), (0, "standalone\n".to_string()));
    assert_eq!(server.stop().await, Some(0), "graceful shutdown");
}

/// `--reconnect`: a subscription survives a server restart. Without it, the shutdown ends the
/// subscription with the connection exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_reconnect_survives_a_server_restart() {
    let server = Standalone::start(0).await;
    let port = server.port();
    let spawn = |extra: &[&str]| {
        let mut args = vec!["topic", "subscribe", "default", "t", "--json"];
        args.extend_from_slice(extra);
        args.extend(["--endpoint", &server.grpc]);
        let mut c = command(&args);
        let mut child = c.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Sub { child, lines }
    };
    let mut plain = spawn(&[]);
    let mut sub = spawn(&["--reconnect", "--count", "3"]);
    plain.until(is_heartbeat).await;
    sub.until(is_heartbeat).await;
    for m in ["a", "b"] {
        assert_eq!(
            server
                .cli(&["topic", "publish", "default", "t", m])
                .await
                .code,
            0
        );
    }
    assert_eq!(sub.json_item().await["value"], "a");
    assert_eq!(sub.json_item().await["value"], "b");

    assert_eq!(server.stop().await, Some(0));
    assert_eq!(
        plain.exit_code().await,
        6,
        "UNAVAILABLE without --reconnect"
    );
    let reconnect: Value =
        serde_json::from_str(&sub.until(|l| l.contains("reconnect")).await).unwrap();
    assert!(
        !reconnect["error"].as_str().unwrap().is_empty(),
        "{reconnect}"
    );

    // The same port again (free since the old server exited); the subscriber finds it.
    let server = Standalone::start(port).await;
    sub.until(is_heartbeat).await;
    assert_eq!(
        server
            .cli(&["topic", "publish", "default", "t", "c"])
            .await
            .code,
        0
    );
    // A new server has a new page: a discontinuity, then the message.
    let gap: Value =
        serde_json::from_str(&sub.until(|l| l.contains("discontinuity")).await).unwrap();
    assert_eq!(gap["new_seq"], 1);
    let item = sub.json_item().await;
    assert_eq!(
        (item["seq"].as_u64(), item["value"].as_str()),
        (Some(1), Some("c"))
    );
    assert_eq!(sub.exit_code().await, 0, "--count 3 across the restart");
    assert_eq!(server.stop().await, Some(0));
}
