//! SLOWLOG: the last `slowlog-max-len` commands that took at least `slowlog-log-slower-than`
//! microseconds, with Redis's truncation of what an entry keeps (32 arguments, 128 bytes
//! each), so an entry is bounded whatever the command was. The bytes the entries hold are
//! charged to the memory budget.

use std::collections::VecDeque;

use bytes::Bytes;
use ferrite_storage::MemoryBudget;
use parking_lot::Mutex;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
pub const MAX_ARGS: usize = 32;
pub const MAX_ARG_BYTES: usize = 128;

pub struct SlowEntry {
    pub id: u64,
    /// Unix time, seconds.
    pub time: u64,
    pub micros: u64,
    pub args: Vec<Bytes>,
    pub peer: String,
    pub name: Bytes,
}

impl SlowEntry {
    /// Redis's truncation: past 32 arguments the last kept one says how many more there were;
    /// an argument over 128 bytes keeps 128 and says how many more it had. `redact_from`: index
    /// of the first argument to show as `(redacted)` (AUTH's password).
    pub fn args_of(args: &[Bytes], redact_from: Option<usize>) -> Vec<Bytes> {
        let argc = args.len().min(MAX_ARGS);
        let mut out = Vec::with_capacity(argc);
        for (j, a) in args[..argc].iter().enumerate() {
            if argc != args.len() && j == argc - 1 {
                let more = args.len() - argc + 1;
                out.push(Bytes::from(format!("... ({more} more arguments)")));
            } else if redact_from.is_some_and(|r| j >= r) {
                out.push(Bytes::from_static(b"(redacted)"));
            } else if a.len() > MAX_ARG_BYTES {
                let mut s = a[..MAX_ARG_BYTES].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_ARG_BYTES).as_bytes(),
                );
                out.push(Bytes::from(s));
            } else {
                out.push(Bytes::copy_from_slice(a));
            }
        }
        out
    }

    fn cost(&self) -> usize {
        std::mem::size_of::<SlowEntry>()
            + self.args.iter().map(|a| a.len() + 32).sum::<usize>()
            + self.peer.len()
            + self.name.len()
            + 3 * ferrite_storage::value::ALLOC_OVERHEAD
    }
}

#[derive(Default)]
struct Inner {
    entries: VecDeque<SlowEntry>,
    next_id: u64,
    bytes: usize,
}

#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<Inner>,
}

impl SlowLog {
    /// Add an entry (its id assigned here), then trim to `max_len`.
    pub fn push(&self, mut e: SlowEntry, max_len: usize, budget: &MemoryBudget) {
        let mut delta = 0isize;
        {
            let mut g = self.inner.lock();
            e.id = g.next_id;
            g.next_id += 1;
            let c = e.cost();
            g.bytes += c;
            delta += c as isize;
            g.entries.push_front(e);
            delta -= Self::trim(&mut g, max_len) as isize;
        }
        budget.charge(delta);
    }

    fn trim(g: &mut Inner, max_len: usize) -> usize {
        let mut freed = 0;
        while g.entries.len() > max_len {
            if let Some(old) = g.entries.pop_back() {
                freed += old.cost();
            }
        }
        g.bytes -= freed;
        freed
    }

    /// Apply a lowered `slowlog-max-len` now (Redis trims at the next insert; the memory is
    /// given back at once here).
    pub fn set_max_len(&self, max_len: usize, budget: &MemoryBudget) {
        let freed = Self::trim(&mut self.inner.lock(), max_len);
        budget.charge(-(freed as isize));
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    pub fn reset(&self, budget: &MemoryBudget) {
        let freed = Self::trim(&mut self.inner.lock(), 0);
        budget.charge(-(freed as isize));
    }

    /// The newest `count` entries (all with None), newest first, through `f`.
    pub fn with_newest<R>(&self, count: Option<usize>, f: impl FnOnce(&[&SlowEntry]) -> R) -> R {
        let g = self.inner.lock();
        let n = count.unwrap_or(usize::MAX).min(g.entries.len());
        let v: Vec<&SlowEntry> = g.entries.iter().take(n).collect();
        f(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_truncated_like_redis() {
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        let kept = SlowEntry::args_of(&args, None);
        assert_eq!(kept.len(), 32);
        assert_eq!(&kept[31][..], b"... (9 more arguments)");
        let long = vec![Bytes::from("x".repeat(200))];
        let kept = SlowEntry::args_of(&long, None);
        assert_eq!(kept[0].len(), 128 + "... (72 more bytes)".len());
        let auth = vec![Bytes::from("auth"), Bytes::from("secret")];
        assert_eq!(&SlowEntry::args_of(&auth, Some(1))[1][..], b"(redacted)");
    }

    #[test]
    fn bounded_by_max_len_and_charged() {
        let budget = MemoryBudget::new(0);
        let log = SlowLog::default();
        for i in 0..10 {
            let e = SlowEntry {
                id: 0,
                time: i,
                micros: i,
                args: vec![Bytes::from("get"), Bytes::from("k")],
                peer: "127.0.0.1:1".into(),
                name: Bytes::new(),
            };
            log.push(e, 3, &budget);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(budget.used() as usize, log.bytes());
        log.with_newest(Some(2), |v| {
            assert_eq!(v.iter().map(|e| e.id).collect::<Vec<_>>(), vec![9, 8])
        });
        log.reset(&budget);
        assert_eq!(budget.used(), 0);
    }
}
