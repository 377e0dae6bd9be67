//! Exclusive runs: an operation that holds every shard of one cache for a long time (a Lua
//! script, RESP's EVAL), and the gate every protocol's requests on that cache pass while it
//! runs.
//!
//! A request on such a cache must not wait on the cache's locks: it would occupy a worker
//! thread for as long as the run lasts (a script may spin until SCRIPT KILL, which itself needs
//! a free worker). So each front end asks here first: RESP holds the command and runs it when
//! the run ends (`resp::conn::scripting`), gRPC and HTTP await [`ExclusiveRuns::wait_clear`];
//! past the run's busy threshold they are answered busy (RESP `BUSY`, gRPC UNAVAILABLE, HTTP
//! 503), as Redis answers every client while a script runs too long. Other caches are never
//! held.
//!
//! Checking costs one relaxed load when nothing runs ([`ExclusiveRuns::any`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrite_storage::Cache;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::ServiceError;

/// One exclusive run.
pub struct ExclusiveRun {
    pub cache: Arc<Cache>,
    /// Who started it (RESP: database 0's cache of the connection): SCRIPT KILL reaches only
    /// its own tenant's runs.
    pub tenant: Arc<str>,
    pub started: Instant,
    /// After this long, waiting requests are answered busy instead.
    pub busy_after: Duration,
    /// Set by a kill (SCRIPT KILL, shutdown); the run stops at its next check.
    pub kill: AtomicBool,
    /// The run changed data: a user's kill is refused (Redis's UNKILLABLE).
    pub wrote: AtomicBool,
    /// What runs: the kind SCRIPT KILL / FUNCTION KILL must name, and what FUNCTION STATS shows.
    pub label: RunLabel,
}

/// The kind of an exclusive run: a kill must name the kind it stops (Redis refuses SCRIPT KILL
/// of a function and FUNCTION KILL of an EVAL script).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    Script,
    Function,
}

/// What an exclusive run is, for introspection.
#[derive(Clone, Debug)]
pub struct RunLabel {
    pub kind: RunKind,
    /// The function's name, or the script's SHA-1.
    pub name: String,
    /// The command that started it, as sent.
    pub command: Vec<bytes::Bytes>,
}

impl ExclusiveRun {
    /// Whether waiting requests are now answered busy.
    pub fn is_busy(&self) -> bool {
        self.started.elapsed() >= self.busy_after
    }

    /// How long until it is busy (zero when it is).
    pub fn until_busy(&self) -> Duration {
        self.busy_after.saturating_sub(self.started.elapsed())
    }
}

/// Why a kill was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillRefused {
    /// Nothing of the tenant runs.
    NotBusy,
    /// It has written.
    Unkillable,
    /// What runs is of the other kind (the kind that runs is given).
    OtherKind(RunKind),
}

/// The exclusive runs in progress.
pub struct ExclusiveRuns {
    running: Mutex<Vec<Arc<ExclusiveRun>>>,
    /// `running.len()`, read without the lock on every request.
    count: AtomicUsize,
    /// Bumped when a run ends: waiters look again.
    ended: watch::Sender<u64>,
}

impl Default for ExclusiveRuns {
    fn default() -> Self {
        ExclusiveRuns {
            running: Mutex::default(),
            count: AtomicUsize::new(0),
            ended: watch::channel(0).0,
        }
    }
}

/// A run's registration: the run ends when it is dropped (also when the run panics).
pub struct RunGuard {
    runs: Arc<crate::Service>,
    pub run: Arc<ExclusiveRun>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.runs.exclusive.finish(&self.run);
    }
}

impl ExclusiveRuns {
    /// Whether anything runs now (the per-request fast path).
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Register a run about to take `cache`'s locks: from here on, requests on the cache wait
    /// here rather than on its locks.
    pub fn start(
        service: &Arc<crate::Service>,
        cache: &Arc<Cache>,
        tenant: &Arc<str>,
        busy_after: Duration,
        label: RunLabel,
    ) -> RunGuard {
        let this = &service.exclusive;
        let run = Arc::new(ExclusiveRun {
            cache: cache.clone(),
            tenant: tenant.clone(),
            started: Instant::now(),
            busy_after,
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            label,
        });
        let mut r = this.running.lock();
        r.push(run.clone());
        this.count.store(r.len(), Ordering::Release);
        drop(r);
        RunGuard {
            runs: service.clone(),
            run,
        }
    }

    fn finish(&self, run: &Arc<ExclusiveRun>) {
        let mut r = self.running.lock();
        r.retain(|x| !Arc::ptr_eq(x, run));
        self.count.store(r.len(), Ordering::Release);
        drop(r);
        self.ended.send_modify(|v| *v += 1);
    }

    /// The run holding `cache`, if any.
    pub fn running_on(&self, cache: &Arc<Cache>) -> Option<Arc<ExclusiveRun>> {
        if !self.any() {
            return None;
        }
        self.running
            .lock()
            .iter()
            .find(|r| Arc::ptr_eq(&r.cache, cache))
            .cloned()
    }

    /// A receiver that changes when a run ends. Subscribe before looking (`running_on`): a
    /// run ending in between then still wakes the waiter.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.ended.subscribe()
    }

    /// Kill the tenant's run (SCRIPT KILL): refused when none runs or it has written.
    pub fn kill(&self, tenant: &str, kind: RunKind) -> Result<(), KillRefused> {
        let r = self.running.lock();
        let Some(run) = r.iter().find(|r| &*r.tenant == tenant) else {
            return Err(KillRefused::NotBusy);
        };
        if run.wrote.load(Ordering::Acquire) {
            return Err(KillRefused::Unkillable);
        }
        if run.label.kind != kind {
            return Err(KillRefused::OtherKind(run.label.kind));
        }
        run.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// Stop every run, written or not (server shutdown).
    pub fn kill_all(&self) {
        for r in self.running.lock().iter() {
            r.kill.store(true, Ordering::Release);
        }
    }

    /// Wait until no run holds `cache`; `Busy` once the run has passed its busy threshold.
    /// Returns at once when nothing runs.
    pub async fn wait_clear(&self, cache: &Arc<Cache>) -> Result<(), ServiceError> {
        loop {
            if !self.any() {
                return Ok(());
            }
            let mut rx = self.subscribe();
            let Some(run) = self.running_on(cache) else {
                return Ok(());
            };
            if run.is_busy() {
                return Err(ServiceError::Busy);
            }
            // Woken when a run ends, or at the threshold (then answered busy above).
            let _ = tokio::time::timeout(run.until_busy(), rx.changed()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_pass_when_the_run_ends_and_are_busy_past_its_threshold() {
        let svc = crate::tests::service();
        let cache = svc.store.get_or_create("c");
        let other = svc.store.get_or_create("other");
        assert!(svc.exclusive.wait_clear(&cache).await.is_ok());
        let tenant: Arc<str> = Arc::from("c");
        let label = RunLabel {
            kind: RunKind::Script,
            name: "f".into(),
            command: vec![],
        };
        let guard = ExclusiveRuns::start(
            &svc,
            &cache,
            &tenant,
            Duration::from_millis(200),
            label.clone(),
        );
        // another cache is not held
        assert!(svc.exclusive.wait_clear(&other).await.is_ok());
        let waiter = {
            let svc = svc.clone();
            let cache = cache.clone();
            tokio::spawn(async move { svc.exclusive.wait_clear(&cache).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(guard);
        assert!(waiter.await.unwrap().is_ok());
        // past the threshold: busy
        let _guard = ExclusiveRuns::start(&svc, &cache, &tenant, Duration::from_millis(50), label);
        let started = Instant::now();
        assert!(matches!(
            svc.exclusive.wait_clear(&cache).await,
            Err(ServiceError::Busy)
        ));
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert_eq!(
            svc.exclusive.kill("nobody", RunKind::Script),
            Err(KillRefused::NotBusy)
        );
        assert_eq!(
            svc.exclusive.kill("c", RunKind::Function),
            Err(KillRefused::OtherKind(RunKind::Script))
        );
        assert_eq!(svc.exclusive.kill("c", RunKind::Script), Ok(()));
    }
}
