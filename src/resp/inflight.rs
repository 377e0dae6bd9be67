//! The listener-wide budget of buffered-but-unexecuted RESP input (`limits.resp_input_budget`).
//!
//! Each connection's unparsed input is capped by `limits.query_buffer_limit`; this caps the sum,
//! so many connections each sending part of a large command cannot together make the server
//! buffer without bound. Only connections holding more than [`INPUT_CHARGE_ABOVE`] unparsed bytes
//! are charged: ordinary requests (and pipelines of them) never touch the shared counter, so the
//! per-request path pays nothing. Past the budget, charged connections stop reading (their
//! clients see TCP back-pressure) until others execute or close; uncharged ones keep being
//! served, so small clients are not starved by large uploads. So that a command larger than
//! the whole budget can still complete, one charged connection at a time (the first to find
//! the budget exhausted) may go on reading past it, up to its own `query_buffer_limit`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A connection is charged for its whole unparsed input once that passes this many bytes.
pub const INPUT_CHARGE_ABOVE: usize = 64 * 1024;
/// How often a connection stopped by the budget looks again without being woken.
const RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

pub struct InputBudget {
    used: AtomicUsize,
    limit: usize,
    /// The client id allowed to read past the budget (0 = none), so one command always
    /// progresses.
    overdraft: AtomicU64,
    /// Woken when charged bytes are released, for connections waiting to read again.
    freed: Notify,
}

impl InputBudget {
    pub fn new(limit: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            limit,
            overdraft: AtomicU64::new(0),
            freed: Notify::new(),
        }
    }

    /// Bytes charged right now, across every RESP connection.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether the budget is used up.
    pub fn exhausted(&self) -> bool {
        self.used() >= self.limit
    }

    /// Whether client `id`, holding `charged` bytes, must stop reading for now.
    pub fn must_wait(&self, id: u64, charged: usize) -> bool {
        if charged == 0 || !self.exhausted() {
            return false;
        }
        let holder = self.overdraft.load(Ordering::Relaxed);
        if holder == id {
            return false;
        }
        holder != 0
            || self
                .overdraft
                .compare_exchange(0, id, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
    }

    /// Move client `id`'s charge from `*charged` to `now` bytes.
    pub fn set(&self, id: u64, charged: &mut usize, now: usize) {
        if now > *charged {
            self.used.fetch_add(now - *charged, Ordering::Relaxed);
        } else if now < *charged {
            self.used.fetch_sub(*charged - now, Ordering::Relaxed);
            if now == 0 {
                let _ =
                    self.overdraft
                        .compare_exchange(id, 0, Ordering::Relaxed, Ordering::Relaxed);
            }
            self.freed.notify_waiters();
        }
        *charged = now;
    }

    /// Resolves after some charge is released (see [`InputBudget::set`]), or after a short
    /// recheck interval: a release between the caller's `exhausted()` check and this wait
    /// would otherwise be missed.
    pub async fn released(&self) {
        let _ = tokio::time::timeout(RECHECK, self.freed.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_and_releases() {
        let b = InputBudget::new(100);
        let (mut x, mut y, mut z) = (0, 0, 0);
        b.set(1, &mut x, 60);
        assert!(!b.exhausted());
        assert!(!b.must_wait(1, x));
        b.set(2, &mut y, 50);
        assert!(b.exhausted());
        assert_eq!(b.used(), 110);
        // One connection may overdraw so a command larger than the budget completes; the rest
        // wait, and uncharged connections never do.
        assert!(!b.must_wait(2, y));
        assert!(b.must_wait(1, x));
        assert!(!b.must_wait(3, z));
        b.set(3, &mut z, 10);
        assert!(b.must_wait(3, z));
        b.set(2, &mut y, 0);
        assert!(!b.must_wait(3, z), "70 of 100 used");
        b.set(1, &mut x, 0);
        assert_eq!((b.used(), x), (10, 0));
        assert!(!b.exhausted());
        b.set(3, &mut z, 0);
        assert_eq!(b.used(), 0);
    }
}
