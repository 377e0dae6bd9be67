//! A real server in auth mode `token`, with its signing key in a temporary directory, and a way
//! to mint tokens for it: what the scope tests need to hold the server to each token's scope.

use std::path::PathBuf;
use std::sync::Arc;

use ferrite_auth::{Authenticator, Permissions};
use ferrite_config::{AuthMode, Config};

use super::{test_config, TestServer};

pub struct TokenServer {
    pub srv: TestServer,
    pub auth: Arc<Authenticator>,
    /// The signing key file (created by the server on its first start).
    pub key_file: PathBuf,
    dir: PathBuf,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TokenServer {
    /// Starts the test config's server with `caches` created (beside `default`).
    pub async fn start(caches: &[&str]) -> Self {
        Self::start_with(test_config(), caches).await
    }

    /// Starts `cfg`'s server in auth mode `token` with a fresh key file, `caches` created.
    pub async fn start_with(mut cfg: Config, caches: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("ferrite-tokens-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("token.key");
        cfg.auth.mode = AuthMode::Token;
        cfg.auth.token_key_file = key_file.display().to_string();
        let srv = TestServer::start_with(cfg).await;
        let auth = srv
            .running
            .shared
            .auth
            .authenticator()
            .expect("token mode")
            .clone();
        for c in caches {
            srv.running.shared.store.create_cache(c).unwrap();
        }
        Self {
            srv,
            auth,
            key_file,
            dir,
        }
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

    /// A ten-minute token in the v1 form the Momento SDKs (and browsers) are handed.
    pub fn mint_v1(&self, id: &str, perms: Permissions) -> String {
        ferrite_auth::token::wrap_v1("localhost", &self.mint(id, perms)).unwrap()
    }
}
