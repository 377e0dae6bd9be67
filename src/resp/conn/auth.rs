//! Who the connection is: AUTH / HELLO AUTH, re-validation once per batch, the NOAUTH and
//! NOPERM checks, the tenant it is metered as, and FERRITE.REVOKE.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_auth::AuthError;
use ferrite_resp::ReplyWriter;
use ferrite_storage::DEFAULT_CACHE;

use super::Session;
use crate::resp::acl::log::{Context, Entry, Reason};
use crate::resp::dispatch::CommandSpec;
use ferrite_service::{MeterKey, ServiceError};

const NOAUTH: &str = "NOAUTH Authentication required.";

impl Session {
    /// Re-validate the principal (expiry, revocation) once per batch; drops it when no longer
    /// valid, so later commands get NOAUTH. Returns whether the connection is authenticated.
    pub(super) fn still_authenticated(&mut self) -> bool {
        if !self.enforcing {
            return true;
        }
        let Some(p) = &self.principal else {
            return false;
        };
        match self.shared.auth.check_at(p, self.now / 1000) {
            Ok(()) => true,
            Err(e) => {
                self.principal = None;
                self.unrestricted = false;
                self.lost_auth = Some(e);
                false
            }
        }
    }

    /// The NOAUTH error for a connection without a (valid) principal.
    pub(super) fn noauth_message(&self) -> String {
        match &self.lost_auth {
            Some(e) => format!("NOAUTH Authentication required ({e})."),
            None => NOAUTH.to_string(),
        }
    }

    /// Token mode: NOAUTH before authentication, NOPERM outside the token's permissions.
    pub(super) fn authorize(
        &self,
        spec: &'static CommandSpec,
        args: &[Bytes],
    ) -> Result<(), String> {
        let Some(p) = &self.principal else {
            if matches!(spec.name, "auth" | "hello" | "quit" | "reset") {
                return Ok(());
            }
            return Err(self.noauth_message());
        };
        // Channels are database 0's whatever the database (as in Redis); keys the selected one's
        // (inside MULTI, the one a queued SELECT chose: the command will run there).
        let cache = if spec.has(crate::resp::dispatch::flags::TOPIC) {
            self.base.name()
        } else {
            match (&self.multi, &self.multi_db) {
                (Some(_), Some((_, c))) => c.name(),
                _ => self.cache.name(),
            }
        };
        crate::resp::authz::authorize(p, cache, spec, args).map_err(|r| {
            let msg = format!("NOPERM {}", r.denied);
            let user = p.token_id().to_string();
            self.log_denial(r.reason, r.object, user);
            msg
        })
    }

    /// Record a denial in the ACL LOG, with this connection's CLIENT INFO (cold path).
    pub(super) fn log_denial(&self, reason: Reason, object: Vec<u8>, username: String) {
        self.publish_client_info();
        let now = self.shared.store.now_ms();
        let entry = Entry {
            count: 1,
            reason,
            context: if self.multi.is_some() {
                Context::Multi
            } else {
                Context::Toplevel
            },
            object,
            username,
            ctime_ms: now,
            client_info: self.info.describe(now),
        };
        self.shared.acl_log.add(&self.shared, entry);
    }

    /// SELECT n: database n of the connection's cache (`databases.rs`). The same rules as AUTH's
    /// cache choice: the token must be allowed on that cache; it is created on first use for
    /// the `default` cache's databases (as `default` itself is) and for super-users, and must
    /// exist otherwise (create it with CreateCache). Errors are replies.
    pub(super) fn select_db(&mut self, index: &[u8]) -> Result<(), String> {
        let n = crate::resp::commands::databases::parse_db(index, crate::resp::args::ERR_NOT_INT)?;
        let cache = self.db_cache(n)?;
        if !Arc::ptr_eq(&cache, &self.cache) {
            self.use_db(cache, n);
        }
        Ok(())
    }

    /// The cache of database `n`, checked and created as `select_db` says.
    pub(super) fn db_cache(&self, n: usize) -> Result<Arc<ferrite_storage::Cache>, String> {
        if self.principal.is_none() {
            return Err(self.noauth_message());
        }
        crate::resp::commands::databases::db_cache(
            &self.shared,
            self.principal.as_ref(),
            &self.base,
            n,
        )
    }

    /// Change who this connection is metered and limited as: usage so far stays with the old
    /// identity. The seam for auth: AUTH / HELLO AUTH call this with the token's id.
    pub(super) fn set_tenant(&mut self, tenant: MeterKey) {
        if tenant != self.tenant {
            self.fold_meter();
            self.quota = self.shared.quotas.handle(&tenant);
            self.tenant = tenant;
        }
    }

    /// AUTH / HELLO AUTH. The username slot names the cache the connection uses (`default` is
    /// the default cache, as Redis's default user); the password slot is the token. In auth
    /// mode `none` any token is accepted and only the cache choice applies. Errors are replies.
    /// Who the token is, and so the tenant the connection is metered and limited as, is the
    /// service's [`Caller`](ferrite_service::Caller), resolved as on every protocol.
    pub(super) fn authenticate(&mut self, user: Option<Bytes>, token: &[u8]) -> Result<(), String> {
        let caller = match std::str::from_utf8(token) {
            Ok(t) => self.shared.caller(Some(t)),
            // Mode `none` accepts any token, even one that is not UTF-8.
            Err(_) if !self.enforcing => self.shared.caller(None),
            Err(_) => Err(ServiceError::Unauthenticated(AuthError::Malformed)),
        };
        let caller = match caller {
            Ok(c) => c,
            Err(ServiceError::Unauthenticated(e)) => {
                // Redis logs the username the client gave (here the cache slot), `default` if
                // none: the token's own claims are not trusted before it is verified.
                let user = user.as_deref().map_or_else(
                    || "default".to_string(),
                    |u| String::from_utf8_lossy(u).into_owned(),
                );
                self.log_denial(Reason::Auth, b"AUTH".to_vec(), user);
                return Err(format!("WRONGPASS invalid token: {e}"));
            }
            Err(e) => return Err(format!("ERR {e}")),
        };
        let principal = &caller.principal;
        if let Some(user) = user {
            let Ok(name) = std::str::from_utf8(&user) else {
                return Err("ERR the cache name (AUTH username) must be UTF-8".into());
            };
            let name = if name == "default" {
                DEFAULT_CACHE
            } else {
                name
            };
            if !principal.can_use_cache(name) {
                // A valid token refused the cache it asked for: an AUTH failure, logged under
                // the token's id.
                self.log_denial(
                    Reason::Auth,
                    b"AUTH".to_vec(),
                    principal.token_id().to_string(),
                );
                return Err(format!(
                    "NOPERM this token has no permission on cache '{name}'"
                ));
            }
            let cache = if name == DEFAULT_CACHE || principal.is_super_user() {
                self.shared.store.get_or_create(name)
            } else {
                match self.shared.store.cache(name) {
                    Some(c) => c,
                    None => return Err(format!("ERR cache '{name}' does not exist")),
                }
            };
            if !Arc::ptr_eq(&cache, &self.cache) {
                self.set_cache(cache);
            }
        }
        self.unrestricted = principal.is_super_user();
        // From now on this connection's usage is metered and limited as the caller's: the
        // token's id in auth mode `token`; `anonymous` in mode `none`, which it already was.
        self.set_tenant(caller.tenant(self.cache.name_arc().clone()));
        let id = caller.principal.token_id();
        *self.info.user.lock() = (!id.is_empty()).then(|| id.clone());
        self.principal = Some(caller.principal);
        self.lost_auth = None;
        self.recheck_subscriptions();
        Ok(())
    }

    /// After a (re-)AUTH: a subscription must not outlive the token that authorized it. Every
    /// subscription (of any cache) is checked against the new principal and those it may not
    /// have are dropped, with the unsubscribe push a client expects; what is kept is authorized
    /// by the current token, whose expiry and revocation the connection enforces (a subscriber
    /// is disconnected at its next message once it is no longer valid).
    pub(super) fn recheck_subscriptions(&mut self) {
        let (Some(p), Some(ps)) = (self.principal.as_ref(), self.pubsub.as_mut()) else {
            return;
        };
        if p.is_super_user() {
            return;
        }
        let resp3 = self.resp3;
        for (cache, topic) in ps.sub.channels() {
            let cache_name = String::from_utf8_lossy(&cache);
            if p.can_topic(&cache_name, &topic, ferrite_auth::TopicAccess::Subscribe) {
                continue;
            }
            ps.sub.unsubscribe(&cache, &topic);
            let kind: &[u8] = if ps.sharded.remove(&topic) {
                b"sunsubscribe"
            } else if ps.sequenced.remove(&topic) {
                b"tunsubscribe"
            } else {
                b"unsubscribe"
            };
            let count = ps.sub.subscription_count() as i64;
            let mut w = ReplyWriter::new(&mut self.out, resp3);
            w.push(3);
            w.bulk(kind);
            w.bulk(&topic);
            w.int(count);
        }
        for (cache, pattern) in ps.sub.patterns() {
            let cache_name = String::from_utf8_lossy(&cache);
            if p.can_topic_all(&cache_name, ferrite_auth::TopicAccess::Subscribe) {
                continue;
            }
            ps.sub.punsubscribe(&cache, &pattern);
            let count = ps.sub.subscription_count() as i64;
            let mut w = ReplyWriter::new(&mut self.out, resp3);
            w.push(3);
            w.bulk(b"punsubscribe");
            w.bulk(&pattern);
            w.int(count);
        }
        self.sync_sub_counts();
        if self
            .pubsub
            .as_ref()
            .is_some_and(|p| p.sub.subscription_count() == 0)
        {
            self.pubsub = None;
        }
    }

    /// FERRITE.REVOKE <token-id>: 1 if newly revoked, 0 if it already was (super-user only,
    /// checked by `authorize`).
    pub(super) fn revoke(&mut self, id: &[u8]) {
        let Some(a) = self.shared.auth.authenticator().cloned() else {
            self.writer().error(
                "ERR token revocation needs auth mode token (there are no tokens in mode none)",
            );
            return;
        };
        let Ok(id) = std::str::from_utf8(id) else {
            self.writer().error("ERR token id must be UTF-8");
            return;
        };
        match a.revoke(id) {
            Ok(new) => self.writer().int(new as i64),
            Err(e) => {
                let msg = format!("ERR cannot revoke: {e}");
                self.writer().error(&msg)
            }
        }
    }
}
