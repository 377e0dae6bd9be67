//! redis-py's client-side caching (`cache_config`, RESP3 + CLIENT TRACKING) against the real
//! server: `tests/clients/redis_py_cache.py` caches a key, another RESP connection and the HTTP
//! API change it, and redis-py must serve the new value. `.ci/run` installs redis-py; on a
//! machine without it (`pip install redis`) the test says so and passes.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_client_side_cache_stays_correct() {
    if !redis_py_with_cache() {
        eprintln!("skipping: redis-py with client-side caching is not installed (pip install 'redis>=5.1')");
        return;
    }
    let srv = TestServer::start().await;
    let resp = srv.addr.to_string();
    let http = srv.running.http_addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/clients/redis_py_cache.py"
                ),
                &resp,
                &http,
            ])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "redis_py_cache.py failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.trim(), "ok");
}
