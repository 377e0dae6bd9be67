//! Commands that change the connection itself (flag `CONN` in the command table): MULTI /
//! EXEC / DISCARD / WATCH, QUIT, RESET, AUTH, HELLO, SELECT, the subscribe family and
//! FERRITE.REVOKE. Their table rows (`resp/commands/connection.rs`) only declare arity and
//! flags; `execute_spec` sends them here.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use ferrite_storage::DEFAULT_CACHE;

use super::Session;
use crate::resp::args::eq_ic;
use crate::resp::dispatch::CommandSpec;
use ferrite_service::MeterKey;

impl Session {
    /// Leave MULTI, dropping what was queued and the WATCHes; false when not in MULTI.
    pub(super) fn discard_transaction(&mut self) -> bool {
        if self.multi.take().is_none() {
            return false;
        }
        self.release_multi_memory();
        self.info.in_multi.store(false, Ordering::Relaxed);
        self.unwatch_all();
        true
    }

    /// Commands that change connection state.
    pub(super) fn connection_command(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        match spec.name {
            "multi" => {
                if self.multi.is_some() {
                    self.writer().error("ERR MULTI calls can not be nested");
                } else {
                    self.multi = Some((Vec::new(), false));
                    self.multi_db = None;
                    self.info.in_multi.store(true, Ordering::Relaxed);
                    self.writer().ok();
                }
            }
            "discard" => {
                if self.discard_transaction() {
                    self.writer().ok();
                } else {
                    self.writer().error("ERR DISCARD without MULTI");
                }
            }
            "exec" => self.exec(),
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => {
                self.eval(spec, args)
            }
            "script" => self.script_command(args),
            "migrate" => self.migrate(spec, args),
            "watch" => {
                if self.multi.is_some() {
                    self.writer().error("ERR WATCH inside MULTI is not allowed");
                    return;
                }
                let now = self.shared.store.now_ms();
                for k in &args[1..] {
                    // Live: stored and not expired (an expired, unreaped key is "stale" in
                    // Redis's words). Looked at as of time 0, so nothing is reaped here.
                    let expires_at = self.cache.lock_key(k).peek_meta(k, 0).map(|(_, e)| e);
                    let live = expires_at.is_some_and(|e| e == 0 || e > now);
                    let t = self.cache.watch().watch(k, live);
                    self.watches.push((self.cache.clone(), t));
                }
                self.writer().ok();
            }
            "unwatch" => {
                self.unwatch_all();
                self.writer().ok();
            }
            "quit" => {
                self.writer().ok();
                self.closing = true;
            }
            "reset" => {
                self.multi = None;
                self.release_multi_memory();
                self.info.in_multi.store(false, Ordering::Relaxed);
                self.unwatch_all();
                self.resp3 = false;
                self.info.resp.store(2, Ordering::Relaxed);
                *self.info.name.lock() = None;
                self.set_cache(self.shared.store.get_or_create(DEFAULT_CACHE));
                if self.enforcing {
                    // Like Redis: RESET drops the authenticated user.
                    self.principal = None;
                    *self.info.user.lock() = None;
                    self.unrestricted = false;
                    self.set_tenant(MeterKey::anonymous(self.cache.name_arc().clone()));
                }
                self.pubsub = None;
                self.sync_sub_counts();
                // Like Redis: RESET leaves monitor mode and turns replies back on.
                self.stop_monitor();
                self.obs.reply_off = false;
                self.obs.skip_armed = false;
                self.obs.turned_on = true;
                self.writer().simple("RESET");
            }
            "hello" => self.hello(args),
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe"
            | "sunsubscribe" | "tsubscribe" | "tunsubscribe" => {
                self.pubsub_command(spec.name, args)
            }
            "auth" => {
                let (user, token) = match args.len() {
                    2 => (None, &args[1]),
                    3 => (Some(&args[1]), &args[2]),
                    _ => {
                        self.writer().error("ERR syntax error");
                        return;
                    }
                };
                if let Err(e) = self.authenticate(user.cloned(), token) {
                    self.writer().error(&e);
                } else {
                    self.writer().ok();
                }
            }
            "ferrite.revoke" => self.revoke(&args[1]),
            "monitor" => self.start_monitor(),
            "select" => match self.select_db(&args[1]) {
                Ok(()) => self.writer().ok(),
                Err(e) => self.writer().error(&e),
            },
            other => {
                let msg = format!("ERR unknown command '{other}'");
                self.writer().error(&msg);
            }
        }
    }

    pub(super) fn hello(&mut self, args: &[Bytes]) {
        let mut i = 1;
        let mut resp3 = self.resp3;
        if args.len() > 1 {
            match crate::resp::args::parse_i64(&args[1]) {
                Some(2) => resp3 = false,
                Some(3) => resp3 = true,
                Some(_) => {
                    self.writer().error("NOPROTO unsupported protocol version");
                    return;
                }
                None => {
                    self.writer()
                        .error("ERR Protocol version is not an integer or out of range");
                    return;
                }
            }
            i = 2;
        }
        let mut auth = None;
        let mut name = None;
        while i < args.len() {
            if eq_ic(&args[i], "auth") && i + 2 < args.len() {
                auth = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 3;
            } else if eq_ic(&args[i], "setname") && i + 1 < args.len() {
                // Checked as CLIENT SETNAME checks it (Redis 7 does so while parsing options):
                // a newline or space in a name would forge lines or fields in CLIENT LIST.
                if !crate::resp::commands::server::valid_attr(&args[i + 1]) {
                    self.writer().error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                    return;
                }
                name = Some(args[i + 1].clone());
                i += 2;
            } else {
                let msg = format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[i])
                );
                self.writer().error(&msg);
                return;
            }
        }
        // Authenticate before anything changes: a failed HELLO leaves the connection as it was.
        if let Some((user, token)) = auth {
            if let Err(e) = self.authenticate(Some(user), &token) {
                self.writer().error(&e);
                return;
            }
        } else if self.principal.is_none() {
            self.writer().error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                 HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
                 select the RESP protocol version at the same time",
            );
            return;
        }
        self.resp3 = resp3;
        if let Some(n) = name {
            // Copied: a slice would pin the whole request frame. Empty clears, as in CLIENT SETNAME.
            *self.info.name.lock() = (!n.is_empty()).then(|| Bytes::copy_from_slice(&n));
        }
        self.info
            .resp
            .store(if self.resp3 { 3 } else { 2 }, Ordering::Relaxed);
        let id = self.info.id as i64;
        let proto = if self.resp3 { 3 } else { 2 };
        let mut w = self.writer();
        w.map(7);
        w.bulk(b"server");
        w.bulk(b"redis");
        w.bulk(b"version");
        w.bulk(crate::REDIS_COMPAT_VERSION.as_bytes());
        w.bulk(b"proto");
        w.int(proto);
        w.bulk(b"id");
        w.int(id);
        w.bulk(b"mode");
        w.bulk(b"standalone");
        w.bulk(b"role");
        w.bulk(b"master");
        w.bulk(b"modules");
        w.array(0);
    }
}
