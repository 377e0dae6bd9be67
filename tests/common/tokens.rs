//! A real server in auth mode `token`, with its signing key in a temporary directory, and a way
//! to mint tokens for it: what the scope tests need to hold the server to each token's scope.

use std::path::PathBuf;
use std::sync::Arc;

use ferrite_auth::{Authenticator, Permissions};
use ferrite_config::AuthMode;

use super::{test_config, TestServer};

pub struct TokenServer {
    pub srv: TestServer,
    pub auth: Arc<Authenticator>,
    dir: PathBuf,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TokenServer {
    /// Starts the server with `caches` created (beside `default`).
    pub async fn start(caches: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("ferrite-tokens-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg = test_config();
        cfg.auth.mode = AuthMode::Token;
        cfg.auth.token_key_file = dir.join("token.key").display().to_string();
        let srv = TestServer::start_with(cfg).await;
        let auth = srv.running.shared.auth.authenticator().unwrap().clone();
        for c in caches {
            srv.running.shared.store.create_cache(c).unwrap();
        }
        Self { srv, auth, dir }
    }

    /// A token for `perms` named `id`, valid for `ttl` seconds from now.
    pub fn mint_ttl(&self, id: &str, perms: Permissions, ttl: u64) -> String {
        self.auth
            .issue(perms, ttl, Some(id.into()), ferrite_auth::now_secs())
            .unwrap()
            .0
    }

    /// A token for `perms` named `id`, valid for ten minutes.
    pub fn mint(&self, id: &str, perms: Permissions) -> String {
        self.mint_ttl(id, perms, 600)
    }
}
