//! MONITOR: every command the server runs, as Redis prints it
//! (`+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"`), to every monitoring connection.
//!
//! Sessions check one atomic per command (`active`); only with monitors present is a line
//! formatted and queued. Each monitor's queue is bounded (`MONITOR_QUEUE_MAX` bytes): a monitor
//! that does not read is disconnected rather than growing the server's memory or slowing the
//! commands it watches, as Redis does with its output-buffer limits. Queued bytes are charged to
//! the memory budget (`used_memory`) until delivered or dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::MemoryBudget;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Bytes one monitor may have queued and unsent before it is disconnected.
pub const MONITOR_QUEUE_MAX: usize = 8 << 20;

/// One monitoring connection's queue.
pub struct MonitorQueue {
    lines: Mutex<(Vec<Bytes>, usize)>,
    pub ready: Notify,
    /// Set when the queue overflowed: the connection closes.
    overflowed: std::sync::atomic::AtomicBool,
    budget: Arc<MemoryBudget>,
}

impl MonitorQueue {
    fn new(budget: Arc<MemoryBudget>) -> Self {
        MonitorQueue {
            lines: Mutex::new((Vec::new(), 0)),
            ready: Notify::new(),
            overflowed: Default::default(),
            budget,
        }
    }

    fn push(&self, line: &Bytes) {
        let mut g = self.lines.lock();
        if g.1 + line.len() > MONITOR_QUEUE_MAX {
            self.overflowed.store(true, Ordering::Relaxed);
        } else {
            g.1 += line.len();
            g.0.push(line.clone());
            self.budget.charge(line.len() as isize);
        }
        drop(g);
        self.ready.notify_one();
    }

    /// Everything queued, in order (its bytes leave the budget: the caller's reply buffer
    /// counts them from here).
    pub fn drain(&self) -> Vec<Bytes> {
        let mut g = self.lines.lock();
        self.budget.charge(-(std::mem::take(&mut g.1) as isize));
        std::mem::take(&mut g.0)
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct Monitors {
    active: AtomicUsize,
    queues: Mutex<Vec<(u64, Arc<MonitorQueue>)>>,
}

impl Monitors {
    #[inline]
    pub fn any(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Start monitoring for client `id` (again: the same queue).
    pub fn add(&self, id: u64, budget: Arc<MemoryBudget>) -> Arc<MonitorQueue> {
        let mut g = self.queues.lock();
        if let Some((_, q)) = g.iter().find(|(c, _)| *c == id) {
            return q.clone();
        }
        let q = Arc::new(MonitorQueue::new(budget));
        g.push((id, q.clone()));
        self.active.store(g.len(), Ordering::Relaxed);
        q
    }

    /// Stop monitoring for client `id`; what it had queued leaves the budget.
    pub fn remove(&self, id: u64) {
        let mut g = self.queues.lock();
        g.retain(|(c, q)| {
            if *c == id {
                q.drain();
            }
            *c != id
        });
        self.active.store(g.len(), Ordering::Relaxed);
    }

    /// Queue one formatted line for every monitor (a monitor sees its own commands too, as in
    /// Redis).
    pub fn feed(&self, line: Bytes) {
        for (_, q) in self.queues.lock().iter() {
            q.push(&line);
        }
    }
}

/// Redis's sdscatrepr: the argument in double quotes, `\\ \" \n \r \t \a \b` escaped, other
/// bytes outside printable ASCII as `\xHH`.
pub fn push_repr(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// One MONITOR line (a RESP simple string, CRLF included). `redact_from`: first argument shown
/// as `(redacted)` (AUTH's credentials, HELLO's AUTH pair).
pub fn line(
    unix_micros: u64,
    db: usize,
    peer: &str,
    args: &[Bytes],
    redact: impl Fn(usize) -> bool,
) -> Bytes {
    let mut out = Vec::with_capacity(64 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.extend_from_slice(
        format!(
            "+{}.{:06} [{db} {peer}]",
            unix_micros / 1_000_000,
            unix_micros % 1_000_000
        )
        .as_bytes(),
    );
    for (i, a) in args.iter().enumerate() {
        out.push(b' ');
        if redact(i) {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            push_repr(&mut out, a);
        }
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_like_redis() {
        let args = [
            Bytes::from("set"),
            Bytes::from("k\"\\"),
            Bytes::from(&b"a\r\n\x00\xff"[..]),
        ];
        let l = line(1_700_000_000_012_345, 2, "127.0.0.1:5000", &args, |_| false);
        assert_eq!(
            &l[..],
            b"+1700000000.012345 [2 127.0.0.1:5000] \"set\" \"k\\\"\\\\\" \"a\\r\\n\\x00\\xff\"\r\n"
        );
        let auth = [Bytes::from("auth"), Bytes::from("pw")];
        let l = line(0, 0, "p", &auth, |i| i >= 1);
        assert!(l.ends_with(b"\"auth\" \"(redacted)\"\r\n"));
    }

    #[test]
    fn a_monitor_that_does_not_read_overflows_instead_of_growing() {
        let budget = Arc::new(MemoryBudget::new(0));
        let m = Monitors::default();
        let q = m.add(7, budget.clone());
        assert!(m.any());
        let big = Bytes::from(vec![b'x'; 1 << 20]);
        for _ in 0..9 {
            m.feed(big.clone());
        }
        assert!(q.overflowed());
        assert_eq!(budget.used(), 8 << 20, "queued bytes are charged");
        assert_eq!(q.drain().len(), 8);
        assert_eq!(budget.used(), 0);
        m.feed(big.clone());
        m.remove(7);
        assert_eq!(
            budget.used(),
            0,
            "a monitor that leaves gives its queue back"
        );
        assert!(!m.any());
    }
}
