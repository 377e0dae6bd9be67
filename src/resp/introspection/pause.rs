//! CLIENT PAUSE / UNPAUSE: RESP clients hold their commands until a deadline or an UNPAUSE.
//! Mode ALL holds every command (CLIENT UNPAUSE too, as in Redis: an ALL pause ends at its
//! deadline); mode WRITE holds the commands that may change data or publish (writes, PUBLISH,
//! EXEC of a transaction with writes) and lets reads through. A held client waits on the
//! pause's `watch` channel, which UNPAUSE and each new PAUSE bump.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseMode {
    All,
    Write,
}

pub struct ClientPause {
    /// Fast path: no pause, no lock.
    active: AtomicBool,
    /// Clients holding a command for the pause (INFO `blocked_clients` counts them, as Redis
    /// counts its postponed clients).
    held: Arc<AtomicUsize>,
    state: Mutex<Option<(PauseMode, Instant)>>,
    changed: watch::Sender<u64>,
}

impl Default for ClientPause {
    fn default() -> Self {
        ClientPause {
            active: AtomicBool::new(false),
            held: Arc::default(),
            state: Mutex::new(None),
            changed: watch::channel(0).0,
        }
    }
}

/// One client held by a pause; it is counted until this is dropped.
pub struct PauseHeld(Arc<AtomicUsize>);

impl Drop for PauseHeld {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ClientPause {
    /// Count a client held by the pause, until the returned guard is dropped.
    pub fn hold(&self) -> PauseHeld {
        self.held.fetch_add(1, Ordering::Relaxed);
        PauseHeld(self.held.clone())
    }

    /// Clients held by a pause now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Pause until `until`. Like Redis, a pause never shortens one in force: the later deadline
    /// and the stricter mode win.
    pub fn pause(&self, mode: PauseMode, until: Instant) {
        let mut g = self.state.lock();
        let next = match *g {
            Some((m, u)) if u > Instant::now() => {
                let mode = if m == PauseMode::All || mode == PauseMode::All {
                    PauseMode::All
                } else {
                    PauseMode::Write
                };
                (mode, u.max(until))
            }
            _ => (mode, until),
        };
        *g = Some(next);
        self.active.store(true, Ordering::Release);
        drop(g);
        self.changed.send_modify(|v| *v += 1);
    }

    pub fn unpause(&self) {
        *self.state.lock() = None;
        self.active.store(false, Ordering::Release);
        self.changed.send_modify(|v| *v += 1);
    }

    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// The pause in force, if any (one that has passed its deadline is cleared here).
    pub fn current(&self) -> Option<(PauseMode, Instant)> {
        if !self.is_active() {
            return None;
        }
        let mut g = self.state.lock();
        match *g {
            Some((_, until)) if until <= Instant::now() => {
                *g = None;
                self.active.store(false, Ordering::Release);
                None
            }
            s => s,
        }
    }

    /// A receiver that sees the next PAUSE/UNPAUSE: subscribe, then check `current`, so a change
    /// between the two is not missed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn pauses_merge_and_end() {
        let p = ClientPause::default();
        assert_eq!(p.current(), None);
        let now = Instant::now();
        p.pause(PauseMode::Write, now + Duration::from_secs(60));
        p.pause(PauseMode::All, now + Duration::from_secs(1));
        let (mode, until) = p.current().unwrap();
        assert_eq!(mode, PauseMode::All);
        assert_eq!(until, now + Duration::from_secs(60));
        let mut rx = p.subscribe();
        p.unpause();
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        assert_eq!(p.current(), None);
        p.pause(PauseMode::Write, Instant::now() - Duration::from_millis(1));
        assert_eq!(p.current(), None, "a pause past its deadline is over");
        assert!(!p.is_active());
    }
}
