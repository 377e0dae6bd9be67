//! `Authenticator`: the server's key + the revocation set. Turns a token into a [`Principal`]
//! (signature, expiry, revocation) and mints new tokens.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::keyfile;
use crate::permissions::{CacheAccess, Permissions, TopicAccess};
use crate::token::{self, AuthError, Claims, MAX_TOKEN_ID};

/// Seconds since the Unix epoch (token times are wall-clock times).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Who is calling: resolved once per connection (RESP) or per call (gRPC). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Principal(Arc<PrincipalInner>);

#[derive(Debug)]
struct PrincipalInner {
    token_id: Arc<str>,
    expires_at: u64,
    perms: Permissions,
}

impl Principal {
    /// Everything allowed, never expires: auth mode `none`.
    pub fn unrestricted(token_id: &str) -> Self {
        Self::new(token_id, u64::MAX, Permissions::SuperUser)
    }

    pub fn new(token_id: &str, expires_at: u64, perms: Permissions) -> Self {
        Principal(Arc::new(PrincipalInner {
            token_id: Arc::from(token_id),
            expires_at,
            perms,
        }))
    }

    pub fn token_id(&self) -> &Arc<str> {
        &self.0.token_id
    }
    pub fn expires_at(&self) -> u64 {
        self.0.expires_at
    }
    pub fn permissions(&self) -> &Permissions {
        &self.0.perms
    }
    pub fn is_super_user(&self) -> bool {
        self.0.perms.is_super_user()
    }
    pub fn can_cache(&self, cache: &str, key: &[u8], access: CacheAccess) -> bool {
        self.0.perms.can_cache(cache, key, access)
    }
    pub fn can_cache_all_keys(&self, cache: &str, access: CacheAccess) -> bool {
        self.0.perms.can_cache_all_keys(cache, access)
    }
    pub fn full_cache_access(&self, cache: &str) -> bool {
        self.0.perms.full_cache_access(cache)
    }
    pub fn can_use_cache(&self, cache: &str) -> bool {
        self.0.perms.can_use_cache(cache)
    }
    pub fn can_topic(&self, cache: &str, topic: &[u8], access: TopicAccess) -> bool {
        self.0.perms.can_topic(cache, topic, access)
    }
    pub fn can_topic_all(&self, cache: &str, access: TopicAccess) -> bool {
        self.0.perms.can_topic_all(cache, access)
    }
}

/// Verifies and mints tokens with one key; holds the revocation set.
pub struct Authenticator {
    secret: Vec<u8>,
    revoked: RwLock<HashSet<String>>,
    /// Bumped on every change of `revoked`, so holders of a principal re-check only then.
    generation: AtomicU64,
    /// `<key file>.revoked`: one token id per line; None for in-memory authenticators.
    revocation_file: Option<PathBuf>,
    /// (modified time, length) of the revocation file when last read.
    file_stamp: Mutex<Option<(SystemTime, u64)>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("revocation_file", &self.revocation_file)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator with an in-memory key and revocation set.
    pub fn new(secret: Vec<u8>) -> Self {
        assert!(
            secret.len() >= keyfile::MIN_KEY_BYTES,
            "key must be at least {} bytes",
            keyfile::MIN_KEY_BYTES
        );
        Authenticator {
            secret,
            revoked: RwLock::new(HashSet::new()),
            generation: AtomicU64::new(0),
            revocation_file: None,
            file_stamp: Mutex::new(None),
        }
    }

    /// Load the key file (created with fresh random bytes, mode 0600, if missing) and the
    /// revocation list beside it (`<key file>.revoked`).
    pub fn from_key_file(path: &Path) -> std::io::Result<Self> {
        let secret = keyfile::load_or_create(path)?;
        let mut a = Authenticator::new(secret);
        a.revocation_file = Some(keyfile::revocation_path(path));
        a.reload_revocations_if_changed()?;
        Ok(a)
    }

    pub fn revocation_file(&self) -> Option<&Path> {
        self.revocation_file.as_deref()
    }

    /// Token → principal: form, signature, expiry, revocation.
    pub fn authenticate(&self, token: &str, now_secs: u64) -> Result<Principal, AuthError> {
        let jwt = token::unwrap_token(token)?;
        let claims = token::verify_signature(&self.secret, &jwt)?;
        let p = Principal::new(&claims.jti, claims.exp, claims.p);
        self.check(&p, now_secs)?;
        Ok(p)
    }

    /// Is a principal resolved earlier still good (not expired, not revoked since)? Cheap: a
    /// comparison, plus a set lookup only once anything was ever revoked.
    pub fn check(&self, p: &Principal, now_secs: u64) -> Result<(), AuthError> {
        if now_secs >= p.expires_at() {
            return Err(AuthError::Expired);
        }
        if self.generation.load(Ordering::Acquire) != 0
            && self.revoked.read().contains(&**p.token_id())
        {
            return Err(AuthError::Revoked);
        }
        Ok(())
    }

    /// Mint a token. `token_id` None = a random one. Returns the raw JWT and its claims.
    pub fn issue(
        &self,
        perms: Permissions,
        ttl_secs: u64,
        token_id: Option<String>,
        now_secs: u64,
    ) -> Result<(String, Claims), String> {
        perms.validate().map_err(|e| e.to_string())?;
        if ttl_secs == 0 {
            return Err("tokens must expire: the lifetime must be at least 1 second".into());
        }
        let jti = match token_id {
            Some(id) if id.is_empty() => token::random_token_id(),
            Some(id) => {
                if id.len() > MAX_TOKEN_ID || id.chars().any(char::is_control) {
                    return Err(format!(
                        "token id must be at most {MAX_TOKEN_ID} bytes without control characters"
                    ));
                }
                id
            }
            None => token::random_token_id(),
        };
        let claims = Claims {
            jti,
            iat: now_secs,
            exp: now_secs.saturating_add(ttl_secs),
            t: "g".into(),
            p: perms,
        };
        Ok((token::sign(&self.secret, &claims), claims))
    }

    /// Sign arbitrary claims (tests need expired tokens; `issue` refuses to make them).
    pub fn sign_claims(&self, claims: &Claims) -> String {
        token::sign(&self.secret, claims)
    }

    pub fn is_revoked(&self, token_id: &str) -> bool {
        self.revoked.read().contains(token_id)
    }

    /// Revoke a token id: effective for every later check at once, and appended to the
    /// revocation file so it survives restarts. Returns false when it was already revoked.
    pub fn revoke(&self, token_id: &str) -> std::io::Result<bool> {
        if token_id.is_empty() || token_id.contains(['\n', '\r']) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "token id must be non-empty and on one line",
            ));
        }
        if !self.revoked.write().insert(token_id.to_string()) {
            return Ok(false);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(path) = &self.revocation_file {
            keyfile::append_revocation(path, token_id)?;
            // Our own append is not news to reload.
            *self.file_stamp.lock() = keyfile::stamp(path);
        }
        Ok(true)
    }

    /// Re-read the revocation file if it changed since the last read (another process, e.g.
    /// `ferrite token revoke`, appended to it). Returns whether it was read.
    pub fn reload_revocations_if_changed(&self) -> std::io::Result<bool> {
        let Some(path) = &self.revocation_file else {
            return Ok(false);
        };
        let stamp = keyfile::stamp(path);
        {
            let mut last = self.file_stamp.lock();
            if *last == stamp {
                return Ok(false);
            }
            *last = stamp;
        }
        let ids = keyfile::read_revocations(path)?;
        let mut set = self.revoked.write();
        let before = set.len();
        set.extend(ids);
        if set.len() != before {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{CacheGrant, CacheRole, Selector};

    fn ro_all() -> Permissions {
        Permissions::Explicit {
            caches: vec![CacheGrant {
                role: CacheRole::ReadOnly,
                cache: None,
                items: Selector::All,
            }],
            topics: vec![],
        }
    }

    #[test]
    fn issue_authenticate_expire_revoke() {
        let a = Authenticator::new(vec![1; 32]);
        let (jwt, claims) = a.issue(ro_all(), 60, Some("t1".into()), 1000).unwrap();
        let p = a.authenticate(&jwt, 1000).unwrap();
        assert_eq!(&**p.token_id(), "t1");
        assert_eq!(claims.exp, 1060);
        assert!(p.can_cache("x", b"k", CacheAccess::Read));
        assert!(!p.can_cache("x", b"k", CacheAccess::Write));
        assert_eq!(a.authenticate(&jwt, 1060).unwrap_err(), AuthError::Expired);
        assert!(a.revoke("t1").unwrap());
        assert!(!a.revoke("t1").unwrap());
        assert_eq!(a.check(&p, 1000), Err(AuthError::Revoked));
        assert_eq!(a.authenticate(&jwt, 1000).unwrap_err(), AuthError::Revoked);
        let other = Authenticator::new(vec![2; 32]);
        assert_eq!(
            other.authenticate(&jwt, 1000).unwrap_err(),
            AuthError::BadSignature
        );
        assert!(a.issue(ro_all(), 0, None, 1000).is_err());
    }

    #[test]
    fn key_file_and_revocations_survive_restart() {
        let dir = std::env::temp_dir().join(format!("ferrite-auth-test-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("token.key");
        let a = Authenticator::from_key_file(&key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (jwt, _) = a
            .issue(ro_all(), 60, Some("gone".into()), now_secs())
            .unwrap();
        a.revoke("gone").unwrap();
        let b = Authenticator::from_key_file(&key).unwrap();
        assert_eq!(
            b.authenticate(&jwt, now_secs()).unwrap_err(),
            AuthError::Revoked
        );
        // another process appends to the file: a reload picks it up
        let (jwt2, _) = b
            .issue(ro_all(), 60, Some("later".into()), now_secs())
            .unwrap();
        assert!(a.authenticate(&jwt2, now_secs()).is_ok());
        b.revoke("later").unwrap();
        assert!(a.reload_revocations_if_changed().unwrap());
        assert_eq!(
            a.authenticate(&jwt2, now_secs()).unwrap_err(),
            AuthError::Revoked
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
