//! redis-py against the real server, as its users use it: its client-side caching
//! (`cache_config`, RESP3 + CLIENT TRACKING: `tests/clients/redis_py_cache.py` caches a key,
//! another RESP connection and the HTTP API change it, and redis-py must serve the new value),
//! and its Lock, whose every operation is a Lua script (`tests/clients/redis_py_lock.py`).
//! `.ci/run` installs redis-py; on a machine without it (`pip install redis`) the tests say so
//! and pass.

mod common;

use std::process::Command;

use common::TestServer;

fn redis_py_with_cache() -> bool {
    Command::new("python3")
        .args(["-c", "import redis.cache; redis.cache.CacheConfig"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Run `tests/clients/<script>` with `args`; it must succeed and print `ok`.
async fn client_script(script: &'static str, args: Vec<String>) {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&path)
            .args(&args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_client_side_cache_stays_correct() {
    if !redis_py_with_cache() {
        eprintln!("skipping: redis-py with client-side caching is not installed (pip install 'redis>=5.1')");
        return;
    }
    let srv = TestServer::start().await;
    let args = vec![srv.addr.to_string(), srv.running.http_addr.to_string()];
    client_script("redis_py_cache.py", args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_lock_works_unchanged() {
    if !redis_py_with_cache() {
        eprintln!("skipping: redis-py is not installed (pip install 'redis>=5.1')");
        return;
    }
    let srv = TestServer::start().await;
    client_script("redis_py_lock.py", vec![srv.addr.to_string()]).await;
}
