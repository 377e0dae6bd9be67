//! MIGRATE on a connection: Redis's argument checks, the keys' DUMP payloads taken under their
//! shard locks, the transfer as a task (`resp::migrate`) the connection waits for as it waits
//! for a script, then the migrated keys deleted (unless COPY) and the reply.
//!
//! Unlike Redis, other clients go on while the transfer runs. So a key is deleted only if it
//! still holds what was sent (its payload is taken again and compared): a write made meanwhile
//! is kept, never lost to a MIGRATE that read the value before it.

use bytes::Bytes;

use super::observe::Outcome;
use super::Session;
use crate::resp::args::{eq_ic, parse_i64, ERR_NOT_INT, ERR_OOM, ERR_SYNTAX};
use crate::resp::commands::dump::payload_of;
use crate::resp::dispatch::CommandSpec;
use crate::resp::migrate::{self, MigrateJob, MigrateOutcome, ERR_CONNECT};

/// A MIGRATE whose transfer runs: what its end needs.
pub(super) struct MigrateWait {
    pub(super) handle: tokio::task::JoinHandle<MigrateOutcome>,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    copy: bool,
    /// (key, payload sent) per key, in the job's order: the job's own buffers, shared.
    sent: Vec<(Bytes, Bytes)>,
    /// Bytes of payload charged to the memory budget until the end.
    charged: usize,
    started: std::time::Instant,
}

/// MIGRATE's options after `host port key db timeout`.
struct Options {
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    /// Index of the first key after KEYS.
    keys_at: Option<usize>,
}

fn parse_options(args: &[Bytes]) -> Result<Options, &'static str> {
    let mut o = Options {
        copy: false,
        replace: false,
        auth: None,
        keys_at: None,
    };
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - j - 1;
        if eq_ic(&args[j], "copy") {
            o.copy = true;
        } else if eq_ic(&args[j], "replace") {
            o.replace = true;
        } else if eq_ic(&args[j], "auth") && more >= 1 {
            o.auth = Some((None, args[j + 1].clone()));
            j += 1;
        } else if eq_ic(&args[j], "auth2") && more >= 2 {
            o.auth = Some((Some(args[j + 1].clone()), args[j + 2].clone()));
            j += 2;
        } else if eq_ic(&args[j], "keys") {
            if !args[3].is_empty() {
                return Err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
            }
            o.keys_at = Some(j + 1);
            break;
        } else {
            return Err(ERR_SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

impl MigrateWait {
    /// Give back the payloads' budget charge.
    pub(super) fn release(&self, shared: &crate::shared::Shared) {
        shared.store.budget().charge(-(self.charged as isize));
    }
}

/// `host:port` to connect to (an IPv6 host in brackets); None when the port is not a port.
fn target(host: &[u8], port: &[u8]) -> Option<String> {
    let host = std::str::from_utf8(host).ok()?;
    let port: u16 = std::str::from_utf8(port).ok()?.parse().ok()?;
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

impl Session {
    /// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
    /// [AUTH2 username password] [KEYS key ...]
    pub(super) fn migrate(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        let o = match parse_options(args) {
            Ok(o) => o,
            Err(e) => return self.writer().error(e),
        };
        // Redis reads the timeout before the database.
        let (Some(timeout_ms), Some(db)) = (parse_i64(&args[5]), parse_i64(&args[4])) else {
            return self.writer().error(ERR_NOT_INT);
        };
        let timeout_ms = if timeout_ms <= 0 { 1000 } else { timeout_ms };
        let keys: Vec<Bytes> = match o.keys_at {
            Some(at) => args[at..].to_vec(),
            None => vec![args[3].clone()],
        };
        let t = self.shared.redis_params.rdb_thresholds();
        let now = self.shared.store.now_ms();
        let mut items = Vec::new();
        for key in keys {
            let mut shard = self.cache.lock_key(&key);
            let Some(e) = shard.get(&key, now) else {
                continue;
            };
            // As Redis: the TTL left, at least 1 ms.
            let ttl = match e.expires_at {
                0 => 0,
                at => at.saturating_sub(now).max(1),
            };
            let payload = Bytes::from(payload_of(t, &e.value));
            drop(shard);
            items.push((key, ttl, payload));
        }
        if items.is_empty() {
            return self.writer().simple("NOKEY");
        }
        let Some(target) = target(&args[1], &args[2]) else {
            return self.writer().error(ERR_CONNECT);
        };
        // The payloads are a copy of the values until the transfer ends: counted in the budget.
        let charged: usize = items.iter().map(|(k, _, p)| k.len() + p.len()).sum();
        if self.shared.store.ensure_memory(charged as u64).is_err() {
            self.obs.outcome = Outcome::Rejected;
            return self.writer().error(ERR_OOM);
        }
        self.shared.store.budget().charge(charged as isize);
        let sent = items
            .iter()
            .map(|(k, _, p)| (k.clone(), p.clone()))
            .collect();
        let job = MigrateJob {
            target,
            db,
            timeout: std::time::Duration::from_millis(timeout_ms as u64),
            replace: o.replace,
            auth: o.auth,
            items,
        };
        let handle = tokio::spawn(migrate::run(self.shared.migrate_sockets.clone(), job));
        // Counted (statistics, slow log) when it ends (`finish_migrate`), not now.
        self.obs.outcome = Outcome::Queued;
        self.migrating = Some(MigrateWait {
            handle,
            spec,
            args: args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
            copy: o.copy,
            sent,
            charged,
            started: std::time::Instant::now(),
        });
    }

    /// The transfer ended: delete what the target accepted (unless COPY, and only keys that
    /// still hold what was sent), then answer.
    pub(super) fn finish_migrate(&mut self, r: Result<MigrateOutcome, tokio::task::JoinError>) {
        let Some(wait) = self.migrating.take() else {
            return;
        };
        wait.release(&self.shared);
        let outcome = r.unwrap_or_else(|e| {
            tracing::error!(client = self.info.id, "MIGRATE transfer failed: {e}");
            MigrateOutcome {
                acked: Vec::new(),
                error: Some(migrate::ERR_WRITE.into()),
            }
        });
        if !wait.copy {
            let t = self.shared.redis_params.rdb_thresholds();
            let now = self.shared.store.now_ms();
            for &i in &outcome.acked {
                let (key, payload) = &wait.sent[i];
                let mut shard = self.cache.lock_key(key);
                let unchanged = shard
                    .peek(key, now)
                    .is_some_and(|e| payload_of(t, &e.value) == *payload);
                if unchanged {
                    shard.delete(key, now);
                }
            }
        }
        let start = self.out.len();
        match &outcome.error {
            Some(e) => self.writer().error(e),
            None => self.writer().ok(),
        }
        let nanos = wait.started.elapsed().as_nanos() as u64;
        self.account_queued(wait.spec, &wait.args, start, nanos);
        self.meter_late_output(start);
    }
}
