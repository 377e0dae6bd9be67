//! The web console in a real headless browser: Debian's chromium driven by playwright-core
//! (`tests/console/console_test.js`). The script loads the page, checks the caches table, drives
//! RESP traffic and waits for the counters and the operations chart to change, subscribes the
//! topic tail, publishes over RESP and through the form, and waits for both messages to appear
//! with their sequence numbers. `console_token_test.js` does the same against a server in auth
//! mode `token`, with a super-user token pasted into the page.
//!
//! `.ci/run` installs chromium and `npm ci --prefix tests/console`; on a machine without them the
//! test says so and passes only outside CI (the same convention as tests/redis_tools.rs).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::TestServer;

const CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser test needs, or why it can't run here.
fn prerequisites() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    if !Path::new(CHROMIUM).exists() {
        return Err(format!(
            "{CHROMIUM} not installed (apt-get install chromium)"
        ));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node not installed".into());
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Err("playwright-core not installed (npm ci --prefix tests/console)".into());
    }
    Ok(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_headless_chromium() {
    let dir = match prerequisites() {
        Ok(d) => d,
        Err(why) => {
            assert!(
                std::env::var("CI").is_err(),
                "the console browser test must run in CI: {why}"
            );
            eprintln!("skipping the console browser test: {why}");
            return;
        }
    };
    let srv = TestServer::start().await;
    let admin = srv.running.admin_addr.expect("admin endpoint enabled");
    run_script(
        &dir.join("console_test.js"),
        &[format!("http://{admin}/"), srv.addr.to_string()],
    )
    .await;
}

/// The console in auth mode `token`: it loads, asks for a token, and with a pasted super-user
/// token polls, tails (EventSource `?token=`) and publishes (`Authorization: Bearer`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_with_a_token_in_headless_chromium() {
    let dir = match prerequisites() {
        Ok(d) => d,
        Err(why) => {
            assert!(
                std::env::var("CI").is_err(),
                "the console browser test must run in CI: {why}"
            );
            eprintln!("skipping the console browser test: {why}");
            return;
        }
    };
    let keys = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config();
    cfg.auth.mode = ferrite_config::AuthMode::Token;
    cfg.auth.token_key_file = keys.path().join("token.key").display().to_string();
    let srv = TestServer::start_with(cfg).await;
    let (token, _) = srv
        .running
        .shared
        .auth
        .authenticator()
        .expect("token mode")
        .issue(
            ferrite_auth::Permissions::SuperUser,
            600,
            Some("operator".into()),
            ferrite_auth::now_secs(),
        )
        .unwrap();
    let admin = srv.running.admin_addr.expect("admin endpoint enabled");
    run_script(
        &dir.join("console_token_test.js"),
        &[format!("http://{admin}/"), token],
    )
    .await;
}

/// Run one node script of tests/console and require it to print OK and exit 0.
async fn run_script(script: &Path, args: &[String]) {
    let child = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), child)
        .await
        .expect("the browser test finishes within 180 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success() && stdout.contains("OK"),
        "console browser test failed:\n{stdout}\n{stderr}"
    );
}
