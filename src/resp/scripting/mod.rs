//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, on Lua 5.1 with Redis's
//! environment (docs/scripting.md).
//!
//! - `vm.rs`: one sandboxed Lua VM per tenant (the base cache a connection authenticated to):
//!   Redis's globals and libraries (`redis`, `bit`, `cjson`), read-only globals, no `os`, `io`,
//!   `require`, file loading or bytecode.
//! - `convert.rs`: Redis's conversion rules, RESP reply → Lua value (what `redis.call`
//!   returns) and Lua value → RESP reply (what the script returns).
//! - `run.rs`: one script run: its keys and arguments, `redis.call`/`redis.pcall` through the
//!   command table with the caller's permissions, the time hook (SCRIPT KILL) and the error
//!   text Redis gives.
//! - this file: the per-tenant script caches and VMs, and the scripts running now (the gate
//!   that holds other clients of a cache while a script runs on it, BUSY past
//!   `busy-reply-threshold`, SCRIPT KILL).
//!
//! A script is atomic like a transaction: it runs with every shard of its cache locked (the
//! lock order of EXEC), on a blocking thread (`tokio::task::spawn_blocking`) so that no worker
//! thread ever runs Lua: the connection waits for the result as a blocked command waits, and
//! other clients of the cache are held (not blocked on its locks) until it ends, or answered
//! BUSY once it has run longer than the threshold. Other caches, and so other tenants, are
//! not held at all.

pub mod convert;
pub mod library;
pub mod msgpack;
pub mod run;
pub mod structlib;
pub mod vm;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

/// Redis's default `busy-reply-threshold` (alias `lua-time-limit`), in milliseconds.
pub const DEFAULT_BUSY_MS: u64 = 5000;

/// SCRIPT KILL's refusals, in Redis's words.
pub fn kill_refusal(r: ferrite_service::exclusive::KillRefused) -> &'static str {
    use ferrite_service::exclusive::KillRefused;
    match r {
        KillRefused::NotBusy => ERR_NOTBUSY,
        KillRefused::Unkillable => ERR_UNKILLABLE,
        KillRefused::OtherKind(running) => busy_error(running),
    }
}

/// The BUSY reply while a run of `kind` holds the database: it names the kill that stops it.
pub fn busy_error(kind: ferrite_service::exclusive::RunKind) -> &'static str {
    match kind {
        ferrite_service::exclusive::RunKind::Script => ERR_BUSY,
        ferrite_service::exclusive::RunKind::Function => ERR_BUSY_FUNCTION,
    }
}

pub const ERR_BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const ERR_BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// A script SELECTed a database another client holds against the lock order for too long.
pub const ERR_BUSY_OTHER_DB: &str =
    "BUSY the database this script selected is held by another transaction or script; try again";
pub const ERR_NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const ERR_UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
pub const ERR_NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The hex SHA-1 of a script body, Redis's script name.
pub fn sha1_hex(body: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, body);
    let mut s = String::with_capacity(40);
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// What one tenant's scripts share: the bodies loaded (by SHA-1) and the Lua VM, created on
/// the first script run.
#[derive(Default)]
pub struct TenantScripts {
    pub bodies: Mutex<HashMap<String, Bytes>>,
    /// Locked only while holding the shards of the cache the script runs on (lock order:
    /// cache shards, then this), so two scripts of one tenant on two databases cannot deadlock.
    pub vm: Mutex<Option<vm::ScriptVm>>,
    /// Function libraries (FUNCTION LOAD); a leaf lock.
    pub libraries: Mutex<library::Libraries>,
    /// SCRIPT FLUSH found the VM in use: the next run starts from a fresh one.
    pub reset: AtomicBool,
}

/// Every tenant's scripts. The scripts running now are the service layer's exclusive runs
/// (`ferrite_service::exclusive`): the gate is shared with gRPC and HTTP.
pub struct Scripts {
    tenants: Mutex<HashMap<Arc<str>, Arc<TenantScripts>>>,
    /// Bytes of script bodies and Lua VMs, charged to the memory budget (INFO's
    /// `used_memory_scripts` and `used_memory_lua`).
    pub body_bytes: AtomicUsize,
    pub vm_bytes: AtomicUsize,
    /// Scripts run since start.
    pub runs: AtomicUsize,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS 1 (admin only, as DEBUG is): scripts may call the table
    /// commands Redis flags `noscript` (DEBUG itself, for Redis's test suite). Connection
    /// commands stay out of reach: they need the connection, which a script does not have.
    pub deny_disabled: std::sync::atomic::AtomicBool,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            tenants: Mutex::default(),
            body_bytes: AtomicUsize::new(0),
            vm_bytes: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
            deny_disabled: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Scripts {
    /// The tenant's scripts (created empty on first use).
    pub fn tenant(&self, name: &Arc<str>) -> Arc<TenantScripts> {
        self.tenants.lock().entry(name.clone()).or_default().clone()
    }

    /// The tenant's scripts if it has any.
    pub fn existing(&self, name: &str) -> Option<Arc<TenantScripts>> {
        self.tenants.lock().get(name).cloned()
    }

    /// SCRIPT FLUSH: the tenant's bodies and VM go (a fresh VM on the next run, as Redis
    /// resets its Lua state). Waits for a script of the tenant running now to end.
    pub fn flush(&self, tenant: &str, budget: &ferrite_storage::MemoryBudget) {
        let Some(t) = self.existing(tenant) else {
            return;
        };
        let freed: usize = {
            let mut b = t.bodies.lock();
            let n = b.iter().map(|(k, v)| body_cost(k, v)).sum();
            b.clear();
            n
        };
        self.charge_bodies(-(freed as isize), budget);
        // A script of the tenant running now holds the VM: it is replaced after that run,
        // not waited for (this runs on a worker thread).
        let slot = t.vm.try_lock();
        match slot {
            Some(mut slot) => {
                if let Some(vm) = slot.take() {
                    self.uncharge_vm(&vm, budget);
                }
            }
            None => t.reset.store(true, Ordering::Release),
        };
    }

    /// A VM grew or shrank by `delta` bytes: the budget and INFO's `used_memory_lua` follow.
    pub fn charge_vm(&self, delta: isize, budget: &ferrite_storage::MemoryBudget) {
        charge(&self.vm_bytes, delta, budget);
    }

    /// Loaded scripts or libraries grew or shrank by `delta` bytes (`used_memory_scripts`).
    pub fn charge_bodies(&self, delta: isize, budget: &ferrite_storage::MemoryBudget) {
        charge(&self.body_bytes, delta, budget);
    }

    /// A VM is dropped: its memory leaves the budget.
    pub fn uncharge_vm(&self, vm: &vm::ScriptVm, budget: &ferrite_storage::MemoryBudget) {
        self.charge_vm(-(vm.charged() as isize), budget);
    }

    /// Load `body` into the tenant's cache (SCRIPT LOAD, EVAL); returns its SHA-1. The body's
    /// bytes are charged to the memory budget: `Err` (the OOM reply) when there is no room.
    pub fn load(
        &self,
        t: &TenantScripts,
        body: &[u8],
        store: &ferrite_storage::Store,
    ) -> Result<String, &'static str> {
        let sha = sha1_hex(body);
        let mut b = t.bodies.lock();
        if !b.contains_key(&sha) {
            let body = Bytes::copy_from_slice(body);
            let cost = body_cost(&sha, &body);
            if store.budget().would_exceed(cost as u64) {
                drop(b);
                store
                    .ensure_memory(cost as u64)
                    .map_err(|_| crate::resp::args::ERR_OOM)?;
                b = t.bodies.lock();
            }
            if b.insert(sha.clone(), body).is_none() {
                self.charge_bodies(cost as isize, store.budget());
            }
        }
        Ok(sha)
    }

    /// INFO's figures: bytes of Lua VMs, bytes of loaded bodies, bodies loaded.
    pub fn memory(&self) -> (usize, usize, usize) {
        let cached = self
            .tenants
            .lock()
            .values()
            .map(|t| t.bodies.lock().len())
            .sum();
        (
            self.vm_bytes.load(Ordering::Relaxed),
            self.body_bytes.load(Ordering::Relaxed),
            cached,
        )
    }

    /// The body of a loaded script.
    pub fn body(&self, t: &TenantScripts, sha: &[u8]) -> Option<Bytes> {
        let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
        t.bodies.lock().get(&sha).cloned()
    }
}

/// Move a signed byte count into `counter` and the budget.
fn charge(counter: &AtomicUsize, delta: isize, budget: &ferrite_storage::MemoryBudget) {
    budget.charge(delta);
    if delta >= 0 {
        counter.fetch_add(delta as usize, Ordering::Relaxed);
    } else {
        counter.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
    }
}

/// What a loaded body holds: its bytes, its name and the map entry.
fn body_cost(sha: &str, body: &Bytes) -> usize {
    ferrite_storage::value::bytes_cost(body.len())
        + ferrite_storage::value::bytes_cost(sha.len())
        + std::mem::size_of::<(String, Bytes)>()
}

/// The busy threshold from `busy-reply-threshold` (CONFIG SET, alias `lua-time-limit`).
pub fn busy_threshold(params: &crate::resp::redis_params::RedisParams) -> Duration {
    let ms = params
        .get("busy-reply-threshold")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_BUSY_MS);
    Duration::from_millis(ms)
}
