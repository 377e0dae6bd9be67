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
pub mod run;
pub mod vm;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrite_storage::Cache;
use parking_lot::Mutex;
use tokio::sync::watch;

/// Redis's default `busy-reply-threshold` (alias `lua-time-limit`), in milliseconds.
pub const DEFAULT_BUSY_MS: u64 = 5000;

pub const ERR_BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
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

/// A script running now: what other clients of its cache and SCRIPT KILL look at.
pub struct Running {
    pub cache: Arc<Cache>,
    /// The tenant (database 0's cache): SCRIPT KILL reaches the tenant's own scripts only.
    pub tenant: Arc<str>,
    pub started: Instant,
    /// Set by SCRIPT KILL; the script's hook raises the kill error at its next check.
    pub kill: AtomicBool,
    /// The script has run a write command: it can no longer be killed (Redis's UNKILLABLE).
    pub wrote: AtomicBool,
}

/// What one tenant's scripts share: the bodies loaded (by SHA-1) and the Lua VM, created on
/// the first script run.
#[derive(Default)]
pub struct TenantScripts {
    pub bodies: Mutex<HashMap<String, Bytes>>,
    /// Locked only while holding the shards of the cache the script runs on (lock order:
    /// cache shards, then this), so two scripts of one tenant on two databases cannot deadlock.
    pub vm: Mutex<Option<vm::ScriptVm>>,
    /// SCRIPT FLUSH found the VM in use: the next run starts from a fresh one.
    pub reset: AtomicBool,
}

/// Every tenant's scripts and the scripts running now.
pub struct Scripts {
    tenants: Mutex<HashMap<Arc<str>, Arc<TenantScripts>>>,
    running: Mutex<Vec<Arc<Running>>>,
    /// `running.len()`, read without the lock on every command (the hold check's fast path).
    count: AtomicUsize,
    /// Bumped when a script ends: held clients look again.
    ended: watch::Sender<u64>,
    /// Bytes of script bodies and Lua VMs, charged to the memory budget (INFO's
    /// `used_memory_scripts` and `used_memory_lua`).
    pub body_bytes: AtomicUsize,
    pub vm_bytes: AtomicUsize,
    /// Scripts run and killed since start (INFO).
    pub runs: AtomicUsize,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            tenants: Mutex::default(),
            running: Mutex::default(),
            count: AtomicUsize::new(0),
            ended: watch::channel(0).0,
            body_bytes: AtomicUsize::new(0),
            vm_bytes: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
        }
    }
}

/// A running script's registration: unregisters when dropped (also when the script panics).
pub struct RunGuard {
    pub shared: Arc<crate::shared::Shared>,
    pub running: Arc<Running>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.shared.scripts.finish(&self.running);
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

    /// Whether any script runs now (one relaxed load: the per-command fast path).
    #[inline]
    pub fn any_running(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Register a script about to run on `cache` (before it takes the cache's locks: from
    /// here on, other clients of the cache are held rather than blocked on them).
    pub fn start(
        shared: &Arc<crate::shared::Shared>,
        cache: &Arc<Cache>,
        tenant: &Arc<str>,
    ) -> RunGuard {
        let this = &shared.scripts;
        let running = Arc::new(Running {
            cache: cache.clone(),
            tenant: tenant.clone(),
            started: Instant::now(),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
        });
        let mut r = this.running.lock();
        r.push(running.clone());
        this.count.store(r.len(), Ordering::Release);
        drop(r);
        this.runs.fetch_add(1, Ordering::Relaxed);
        RunGuard {
            shared: shared.clone(),
            running,
        }
    }

    /// The script ended: held clients look again.
    fn finish(&self, running: &Arc<Running>) {
        let mut r = self.running.lock();
        r.retain(|x| !Arc::ptr_eq(x, running));
        self.count.store(r.len(), Ordering::Release);
        drop(r);
        self.ended.send_modify(|v| *v += 1);
    }

    /// The script running on `cache`, if any.
    pub fn running_on(&self, cache: &Arc<Cache>) -> Option<Arc<Running>> {
        self.running
            .lock()
            .iter()
            .find(|r| Arc::ptr_eq(&r.cache, cache))
            .cloned()
    }

    /// The tenant's running script, if any.
    pub fn running_for(&self, tenant: &str) -> Option<Arc<Running>> {
        self.running
            .lock()
            .iter()
            .find(|r| &*r.tenant == tenant)
            .cloned()
    }

    /// A receiver that changes when a script ends.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.ended.subscribe()
    }

    /// SCRIPT KILL of the tenant's running script: Ok, or Redis's NOTBUSY / UNKILLABLE.
    pub fn kill(&self, tenant: &str) -> Result<(), &'static str> {
        let Some(r) = self.running_for(tenant) else {
            return Err(ERR_NOTBUSY);
        };
        if r.wrote.load(Ordering::Acquire) {
            return Err(ERR_UNKILLABLE);
        }
        r.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// Stop every running script (server shutdown), including those that wrote.
    pub fn kill_all(&self) {
        for r in self.running.lock().iter() {
            r.kill.store(true, Ordering::Release);
        }
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
        self.body_bytes.fetch_sub(freed, Ordering::Relaxed);
        budget.charge(-(freed as isize));
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

    /// A VM is dropped: its memory leaves the budget.
    pub fn uncharge_vm(&self, vm: &vm::ScriptVm, budget: &ferrite_storage::MemoryBudget) {
        let n = vm.charged();
        self.vm_bytes.fetch_sub(n, Ordering::Relaxed);
        budget.charge(-(n as isize));
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
                self.body_bytes.fetch_add(cost, Ordering::Relaxed);
                store.budget().charge(cost as isize);
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
