//! Ferrite driven by the stock Redis tools (Debian's redis-tools): redis-cli and
//! redis-benchmark must work unchanged. `.ci/run` installs them; on a machine without them the
//! test says so and passes only outside CI.

mod common;
use common::*;

use std::process::Command;

fn tool(name: &str) -> Option<String> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()?;
    if found.status.success() {
        Some(String::from_utf8_lossy(&found.stdout).trim().to_string())
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "{name} must be installed in CI (.ci/run installs redis-tools)"
        );
        eprintln!("skipping: {name} not installed");
        None
    }
}

async fn cli(port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut full = vec!["-p", &port];
    full.extend_from_slice(args);
    let full: Vec<String> = full.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("redis-cli").args(&full).output().unwrap()
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_works_unchanged() {
    if tool("redis-cli").is_none() {
        return;
    }
    let srv = TestServer::start().await;
    let port = srv.addr.port();
    assert_eq!(cli(port, &["ping"]).await, "PONG");
    assert_eq!(cli(port, &["set", "greeting", "hello world"]).await, "OK");
    assert_eq!(cli(port, &["get", "greeting"]).await, "hello world");
    assert_eq!(cli(port, &["incrby", "counter", "41"]).await, "41");
    assert_eq!(cli(port, &["incr", "counter"]).await, "42");
    assert_eq!(cli(port, &["rpush", "l", "a", "b", "c"]).await, "3");
    assert_eq!(cli(port, &["lrange", "l", "0", "-1"]).await, "a\nb\nc");
    assert_eq!(cli(port, &["hset", "h", "f", "v"]).await, "1");
    assert_eq!(cli(port, &["hgetall", "h"]).await, "f\nv");
    assert_eq!(cli(port, &["type", "h"]).await, "hash");
    assert_eq!(
        cli(port, &["nosuchcommand"]).await,
        "ERR unknown command 'nosuchcommand', with args beginning with:"
    );
    // RESP3 mode of redis-cli (-3) negotiates HELLO 3.
    let port_s = port.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("redis-cli")
            .args(["-3", "-p", &port_s, "hgetall", "h"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    // Without a terminal redis-cli prints a RESP3 map entry as "key value" on one line (a RESP2
    // array would be two lines).
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "f v");
    // The interactive-style inline path: redis-cli reads commands from stdin.
    let port_s = port.to_string();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new("redis-cli")
            .args(["-p", &port_s])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"set piped yes\nget piped\n")
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "OK\nyes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_benchmark_runs_unchanged() {
    if tool("redis-benchmark").is_none() {
        return;
    }
    let srv = TestServer::start().await;
    let port = srv.addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("redis-benchmark")
            .args([
                "-p",
                &port,
                "-q",
                "-n",
                "20000",
                "-c",
                "10",
                "-P",
                "8",
                "-r",
                "1000",
                "-t",
                "set,get,incr,lpush,rpop,sadd,hset,zadd,mset",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "redis-benchmark failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for t in [
        "SET", "GET", "INCR", "LPUSH", "RPOP", "SADD", "HSET", "ZADD", "MSET",
    ] {
        let line = text.lines().find(|l| {
            l.trim_start().starts_with(&format!("{t}:")) || l.contains(&format!("{t} ("))
        });
        assert!(line.is_some(), "no {t} result in:\n{text}");
        assert!(
            line.unwrap().contains("requests per second"),
            "{t} did not complete: {text}"
        );
    }
    // The keys really landed.
    let mut c = srv.client().await;
    let n: i64 = q(&mut c, &["dbsize"]).await.unwrap();
    assert!(n > 0);
}
