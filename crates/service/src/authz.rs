//! Authentication and authorization for every front end, in one protocol-neutral place.
//!
//! Front ends resolve a [`Principal`] (RESP: once per `AUTH`/`HELLO AUTH`; gRPC and HTTP: per
//! request) with [`Auth::authenticate`], re-validate a long-lived one with [`Auth::check`]
//! (expiry, revocation), and ask the `check_*` functions below before touching the engines.
//! Each front end maps [`AuthError`] (→ RESP `-ERR invalid token`/`-NOAUTH`, gRPC UNAUTHENTICATED,
//! HTTP 401) and [`Denied`] (→ RESP `-NOPERM`, gRPC PERMISSION_DENIED, HTTP 403) to its own wire
//! error. The rules themselves (roles, scopes) live in the `ferrite-auth` crate.

use std::sync::Arc;

use ferrite_auth::{AuthError, Authenticator, CacheAccess, Principal, TopicAccess};
use ferrite_config::{AuthMode, Config};

/// A permission check failed: the message says what was missing (never the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// The server's auth state: the mode it runs in and, in token mode, the authenticator.
pub struct Auth {
    /// None = auth mode `none`: every request is allowed.
    authenticator: Option<Arc<Authenticator>>,
    pub max_token_ttl_secs: u64,
}

impl Auth {
    /// From the configuration: resolves `auth.mode` against the bind address (refusing to run
    /// without auth on a public address, like Redis's protected mode) and loads or creates the
    /// key file.
    pub fn from_config(cfg: &Config) -> anyhow::Result<Auth> {
        use anyhow::Context;
        let mode = cfg.effective_auth_mode()?;
        let authenticator = match mode {
            AuthMode::Token => {
                let path = std::path::Path::new(cfg.auth.token_key_file.trim());
                let a = Authenticator::from_key_file(path)
                    .with_context(|| format!("loading token key file {}", path.display()))?;
                tracing::info!(key_file = %path.display(), "auth mode: token (every protocol requires a signed token)");
                Some(Arc::new(a))
            }
            _ => {
                tracing::warn!(
                    bind = %cfg.server.bind,
                    "AUTH MODE NONE: no credentials are checked on any protocol; every client may read, \
                     write, publish, subscribe and administer. Development only: pass --auth token --token-key FILE"
                );
                None
            }
        };
        Ok(Auth {
            authenticator,
            max_token_ttl_secs: cfg.auth.max_token_ttl_secs,
        })
    }

    /// Token mode with an in-memory key (tests of the crate API).
    pub fn with_authenticator(a: Arc<Authenticator>, max_token_ttl_secs: u64) -> Auth {
        Auth {
            authenticator: Some(a),
            max_token_ttl_secs,
        }
    }

    /// Whether credentials are required (auth mode `token`).
    pub fn enforcing(&self) -> bool {
        self.authenticator.is_some()
    }

    pub fn authenticator(&self) -> Option<&Arc<Authenticator>> {
        self.authenticator.as_ref()
    }

    /// A token (any accepted form) → who is calling. In mode `none` every token, even an
    /// empty one, is an unrestricted principal with no token id.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        match &self.authenticator {
            Some(a) => a.authenticate(token, ferrite_auth::now_secs()),
            None => Ok(Principal::unrestricted("")),
        }
    }

    /// Is a principal resolved earlier still valid (not expired or revoked since)?
    pub fn check(&self, p: &Principal) -> Result<(), AuthError> {
        match &self.authenticator {
            Some(a) => a.check(p, ferrite_auth::now_secs()),
            None => Ok(()),
        }
    }

    /// Like [`check`](Self::check) with the caller's clock (RESP reads it once per batch).
    pub fn check_at(&self, p: &Principal, now_secs: u64) -> Result<(), AuthError> {
        match &self.authenticator {
            Some(a) => a.check(p, now_secs),
            None => Ok(()),
        }
    }

    /// Pick up revocations another process appended to the revocation file (called every second).
    pub fn reload_revocations(&self) {
        if let Some(a) = &self.authenticator {
            if let Err(e) = a.reload_revocations_if_changed() {
                tracing::warn!(error = %e, "cannot read the token revocation file");
            }
        }
    }
}

fn access_name(a: CacheAccess) -> &'static str {
    match a {
        CacheAccess::Read => "read",
        CacheAccess::Write => "write",
        CacheAccess::ConditionalWrite => "conditional write",
    }
}

fn show(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    if s.len() > 64 {
        format!("{}...", &s[..s.floor_char_boundary(64)])
    } else {
        s.into_owned()
    }
}

/// `access` to every key in `keys` of `cache`.
pub fn check_cache_keys<'k>(
    p: &Principal,
    cache: &str,
    access: CacheAccess,
    keys: impl IntoIterator<Item = &'k [u8]>,
) -> Result<(), Denied> {
    if p.full_cache_access(cache) {
        return Ok(());
    }
    for k in keys {
        if !p.can_cache(cache, k, access) {
            return Err(Denied(format!(
                "this token has no {} permission on key '{}' in cache '{}'",
                access_name(access),
                show(k),
                cache
            )));
        }
    }
    Ok(())
}

/// `access` to the whole keyspace of `cache` (KEYS, SCAN, FLUSHDB, DBSIZE, RANDOMKEY...).
pub fn check_all_keys(p: &Principal, cache: &str, access: CacheAccess) -> Result<(), Denied> {
    if p.can_cache_all_keys(cache, access) {
        Ok(())
    } else {
        Err(Denied(format!(
            "this token has no {} permission on all keys of cache '{cache}'",
            access_name(access)
        )))
    }
}

pub fn check_topic(
    p: &Principal,
    cache: &str,
    topic: &[u8],
    access: TopicAccess,
) -> Result<(), Denied> {
    if p.can_topic(cache, topic, access) {
        Ok(())
    } else {
        Err(Denied(format!(
            "this token has no {} permission on topic '{}' in cache '{}'",
            match access {
                TopicAccess::Publish => "publish",
                TopicAccess::Subscribe => "subscribe",
            },
            show(topic),
            cache
        )))
    }
}

/// Pattern subscriptions and topic listings can reach any topic: they need all-topics access.
pub fn check_all_topics(p: &Principal, cache: &str, access: TopicAccess) -> Result<(), Denied> {
    if p.can_topic_all(cache, access) {
        Ok(())
    } else {
        Err(Denied(format!(
            "this token has no permission on all topics of cache '{cache}'"
        )))
    }
}

/// Control plane and administration: super-user only.
pub fn check_super_user(p: &Principal, what: &str) -> Result<(), Denied> {
    if p.is_super_user() {
        Ok(())
    } else {
        Err(Denied(format!("{what} requires a super-user token")))
    }
}
