//! Per-command statistics: INFO `commandstats` (calls, usec, rejected_calls, failed_calls) and
//! `latencystats` (percentiles of each command's latency), LATENCY HISTOGRAM.
//!
//! Counted per server (`CommandStats` in `Shared`) and per thread, like the request metrics in
//! `crate::metrics`: every connection task bumps cells that only its worker thread writes (a load and a store, no locked instruction,
//! no cache line shared between cores), and a reader folds every thread's cells. A thread's
//! cells are allocated per command on first use, so the cost is one small block per command a
//! thread has actually run. CONFIG RESETSTAT does not write other threads' cells: it records
//! the current totals as a baseline that later reads subtract.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use bytes::Bytes;

use crate::resp::dispatch::{command_count, spec_by_id, table, CommandSpec};

/// Commands whose subcommands Redis counts apart (`cmdstat_config|get`): the subcommands
/// Ferrite implements (`acl::categories::SUBCOMMANDS`, one list for ACL CAT, COMMAND LIST and
/// these statistics).
use crate::resp::acl::categories::SUBCOMMANDS;

/// Statistics slots: one per command (`CommandSpec::id`), then one per subcommand of the
/// commands in `SUBCOMMANDS` that the table has.
struct Slots {
    /// Per command id: where its subcommands' slots start and their names (None: counted whole).
    subs: Vec<Option<(usize, &'static [&'static str])>>,
    names: Vec<String>,
}

fn slots() -> &'static Slots {
    static S: OnceLock<Slots> = OnceLock::new();
    S.get_or_init(|| {
        let n = command_count();
        let mut subs = vec![None; n];
        let mut names: Vec<String> = (0..n).map(|i| spec_by_id(i).name.to_string()).collect();
        for (container, list) in SUBCOMMANDS {
            if let Some(spec) = table().get(container) {
                // Sessions count FAST commands by their command slot without looking for a
                // subcommand (`conn/observe.rs`, `account`).
                assert!(
                    !spec.has(crate::resp::dispatch::flags::FAST) && spec.name != "set",
                    "{container} has subcommands and is untimed"
                );
                subs[spec.id()] = Some((names.len(), *list));
                names.extend(list.iter().map(|s| format!("{container}|{s}")));
            }
        }
        Slots { subs, names }
    })
}

/// How many statistics slots there are.
pub fn slot_count() -> usize {
    slots().names.len()
}

/// The name INFO shows for a slot (`get`, `config|get`).
pub fn slot_name(slot: usize) -> &'static str {
    &slots().names[slot]
}

/// `container|sub` of every subcommand Ferrite answers (COMMAND LIST).
pub fn subcommand_names() -> impl Iterator<Item = &'static str> {
    slots().names[command_count()..].iter().map(|s| s.as_str())
}

/// The statistics slot of one invocation: the command's, or its subcommand's. None for an
/// unknown subcommand, which Redis treats as an unknown command (no statistics of its own).
#[inline]
pub fn slot_of(spec: &'static CommandSpec, args: &[Bytes]) -> Option<usize> {
    let id = spec.id();
    match slots().subs.get(id).copied().flatten() {
        None => Some(id),
        Some((base, list)) => {
            let Some(sub) = args.get(1) else {
                return Some(id);
            };
            list.iter()
                .position(|s| s.as_bytes().eq_ignore_ascii_case(sub))
                .map(|i| base + i)
        }
    }
}

/// Latency histogram buckets: 8 linear ones below 8 ns, then 8 per power of two (12.5%
/// resolution, near the 2 significant digits of Redis's HDR histograms), up to 2^40 ns (18
/// minutes; longer lands in the last bucket).
pub const HIST_BUCKETS: usize = 8 + 38 * 8;

#[inline]
pub fn bucket_of(nanos: u64) -> usize {
    if nanos < 8 {
        return nanos as usize;
    }
    let e = 63 - nanos.leading_zeros() as usize; // 3..=63
    let sub = ((nanos >> (e - 3)) & 7) as usize;
    ((e - 2) * 8 + sub).min(HIST_BUCKETS - 1)
}

/// The smallest value of bucket `i`.
pub fn bucket_low(i: usize) -> u64 {
    if i < 8 {
        return i as u64;
    }
    let e = i / 8 + 2;
    let sub = (i % 8) as u64;
    (8 + sub) << (e - 3)
}

/// The largest value of bucket `i` (what a percentile reports, as HDR's "highest equivalent").
pub fn bucket_high(i: usize) -> u64 {
    if i + 1 >= HIST_BUCKETS {
        return u64::MAX;
    }
    bucket_low(i + 1) - 1
}

struct Cells {
    calls: AtomicU64,
    nanos: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    hist: [AtomicU64; HIST_BUCKETS],
}

impl Cells {
    fn new() -> Self {
        Cells {
            calls: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            hist: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Only the owning thread writes a cell: a plain load and store, not a locked add.
    #[inline]
    fn bump(c: &AtomicU64, n: u64) {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

/// One thread's cells, one optional block per command.
struct Shard {
    cmds: Box<[OnceLock<Box<Cells>>]>,
}

impl Shard {
    fn new() -> Self {
        Shard {
            cmds: (0..slot_count()).map(|_| OnceLock::new()).collect(),
        }
    }

    #[inline]
    fn cells(&self, id: usize) -> Option<&Cells> {
        let slot = self.cmds.get(id)?;
        Some(slot.get_or_init(|| Box::new(Cells::new())))
    }
}

/// Totals of one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandTotals {
    pub calls: u64,
    pub nanos: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Per-bucket sample counts (empty when the command has none).
    pub hist: Vec<u64>,
}

impl CommandTotals {
    fn add_cells(&mut self, c: &Cells) {
        self.calls += c.calls.load(Ordering::Relaxed);
        self.nanos += c.nanos.load(Ordering::Relaxed);
        self.rejected += c.rejected.load(Ordering::Relaxed);
        self.failed += c.failed.load(Ordering::Relaxed);
        if self.hist.is_empty() {
            self.hist = vec![0; HIST_BUCKETS];
        }
        for (t, h) in self.hist.iter_mut().zip(c.hist.iter()) {
            *t += h.load(Ordering::Relaxed);
        }
    }

    fn add(&mut self, o: &CommandTotals) {
        self.calls += o.calls;
        self.nanos += o.nanos;
        self.rejected += o.rejected;
        self.failed += o.failed;
        if !o.hist.is_empty() {
            if self.hist.is_empty() {
                self.hist = vec![0; HIST_BUCKETS];
            }
            for (t, h) in self.hist.iter_mut().zip(&o.hist) {
                *t += h;
            }
        }
    }

    fn sub(&mut self, o: &CommandTotals) {
        self.calls = self.calls.saturating_sub(o.calls);
        self.nanos = self.nanos.saturating_sub(o.nanos);
        self.rejected = self.rejected.saturating_sub(o.rejected);
        self.failed = self.failed.saturating_sub(o.failed);
        for (t, h) in self.hist.iter_mut().zip(&o.hist) {
            *t = t.saturating_sub(*h);
        }
    }

    /// Whether INFO lists the command (Redis lists those called, rejected or failed).
    pub fn is_used(&self) -> bool {
        self.calls + self.rejected + self.failed > 0
    }

    /// The latency at percentile `p` (0..=100) in nanoseconds, None without samples.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        let total: u64 = self.hist.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.hist.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(bucket_high(i));
            }
        }
        Some(bucket_high(HIST_BUCKETS - 1))
    }
}

#[derive(Default)]
struct Registry {
    live: Vec<Arc<Shard>>,
    /// Totals of threads that have exited.
    retired: Vec<CommandTotals>,
    /// What CONFIG RESETSTAT saw: subtracted from every read.
    baseline: Vec<CommandTotals>,
}

/// One server's per-command statistics (one per `Shared`: servers in one process, as in the
/// tests, count apart).
pub struct CommandStats {
    /// Tells this server's thread-local shards from other servers'.
    server: usize,
    registry: Arc<Mutex<Registry>>,
}

impl Default for CommandStats {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        CommandStats {
            server: NEXT.fetch_add(1, Ordering::Relaxed),
            registry: Default::default(),
        }
    }
}

/// A thread's shard of one server's statistics; folded into the server's totals when the
/// thread exits.
struct LocalShard {
    server: usize,
    shard: Arc<Shard>,
    registry: std::sync::Weak<Mutex<Registry>>,
}

impl Drop for LocalShard {
    fn drop(&mut self) {
        let Some(r) = self.registry.upgrade() else {
            return;
        };
        let mut r = r.lock();
        let mut retired = std::mem::take(&mut r.retired);
        fold_shard(&self.shard, &mut retired);
        r.retired = retired;
        r.live.retain(|s| !Arc::ptr_eq(s, &self.shard));
    }
}

thread_local! {
    /// Usually one entry (one server per process).
    static LOCAL: std::cell::RefCell<Vec<LocalShard>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn fold_shard(shard: &Shard, into: &mut Vec<CommandTotals>) {
    if into.len() < shard.cmds.len() {
        into.resize(shard.cmds.len(), CommandTotals::default());
    }
    for (t, slot) in into.iter_mut().zip(shard.cmds.iter()) {
        if let Some(c) = slot.get() {
            t.add_cells(c);
        }
    }
}

fn raw_totals(r: &Registry) -> Vec<CommandTotals> {
    let mut out = vec![CommandTotals::default(); slot_count()];
    for (t, o) in out.iter_mut().zip(&r.retired) {
        t.add(o);
    }
    for s in &r.live {
        fold_shard(s, &mut out);
    }
    out
}

impl CommandStats {
    #[inline]
    fn with_cells(&self, slot: usize, f: impl FnOnce(&Cells)) {
        // `try_with`: a count from a thread-local destructor at thread exit is dropped.
        let _ = LOCAL.try_with(|local| {
            let mut local = local.borrow_mut();
            let i = match local.iter().position(|l| l.server == self.server) {
                Some(i) => i,
                None => {
                    // Shards of servers that are gone (tests start many) are dropped here.
                    local.retain(|l| l.registry.strong_count() > 0);
                    let shard = Arc::new(Shard::new());
                    self.registry.lock().live.push(shard.clone());
                    local.push(LocalShard {
                        server: self.server,
                        shard,
                        registry: Arc::downgrade(&self.registry),
                    });
                    local.len() - 1
                }
            };
            if let Some(c) = local[i].shard.cells(slot) {
                f(c)
            }
        });
    }

    /// `n` executions (of the command in slot `slot`) that took `nanos` apiece.
    #[inline]
    pub fn record_calls(&self, slot: usize, nanos: u64, n: u64) {
        self.with_cells(slot, |c| {
            Cells::bump(&c.calls, n);
            Cells::bump(&c.nanos, nanos.saturating_mul(n));
            Cells::bump(&c.hist[bucket_of(nanos)], n);
        });
    }

    /// The command was refused before it ran (arity, permissions, OOM, ...).
    pub fn record_rejected(&self, slot: usize) {
        self.with_cells(slot, |c| Cells::bump(&c.rejected, 1));
    }

    /// The command ran and answered an error.
    pub fn record_failed(&self, slot: usize) {
        self.with_cells(slot, |c| Cells::bump(&c.failed, 1));
    }

    /// Every slot's totals since the start or the last reset, indexed by slot.
    pub fn totals(&self) -> Vec<CommandTotals> {
        let r = self.registry.lock();
        let mut out = raw_totals(&r);
        for (t, b) in out.iter_mut().zip(&r.baseline) {
            t.sub(b);
        }
        out
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        let mut r = self.registry.lock();
        r.baseline = raw_totals(&r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        for i in 0..HIST_BUCKETS - 1 {
            assert!(bucket_low(i) <= bucket_high(i), "{i}");
            assert_eq!(bucket_high(i) + 1, bucket_low(i + 1), "{i}");
            assert_eq!(bucket_of(bucket_low(i)), i);
            assert_eq!(bucket_of(bucket_high(i)), i);
        }
        assert_eq!(bucket_of(u64::MAX), HIST_BUCKETS - 1);
        // 12.5% resolution above 8 ns.
        for v in [9u64, 100, 12_345, 1_000_000, 987_654_321] {
            let i = bucket_of(v);
            assert!(
                bucket_high(i) - bucket_low(i) <= bucket_low(i) / 8 + 1,
                "{v}"
            );
        }
    }

    #[test]
    fn percentiles_follow_the_samples() {
        let mut t = CommandTotals {
            hist: vec![0; HIST_BUCKETS],
            ..Default::default()
        };
        t.hist[bucket_of(1_000)] = 99;
        t.hist[bucket_of(1_000_000)] = 1;
        let p50 = t.percentile(50.0).unwrap();
        assert!((1_000..1_130).contains(&p50), "{p50}");
        let p99 = t.percentile(99.0).unwrap();
        assert!((1_000..1_130).contains(&p99), "{p99}");
        let p999 = t.percentile(99.9).unwrap();
        assert!((1_000_000..1_130_000).contains(&p999), "{p999}");
        assert_eq!(CommandTotals::default().percentile(50.0), None);
    }

    #[test]
    fn subcommands_have_their_own_slots() {
        let config = table()["config"];
        let args = |a: &[&str]| {
            a.iter()
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        let get = slot_of(config, &args(&["config", "GET", "x"])).unwrap();
        assert_eq!(slot_name(get), "config|get");
        assert_eq!(slot_of(config, &args(&["config", "nope"])), None);
        let getcmd = table()["get"];
        assert_eq!(
            slot_name(slot_of(getcmd, &args(&["get", "k"])).unwrap()),
            "get"
        );
    }

    #[test]
    fn counts_fold_across_threads_and_reset_by_baseline() {
        let stats = Arc::new(CommandStats::default());
        let other = CommandStats::default();
        let id = crate::resp::dispatch::table()["lolwut"].id();
        stats.record_calls(id, 500, 3);
        other.record_calls(id, 500, 7);
        let s = stats.clone();
        std::thread::spawn(move || {
            s.record_calls(id, 1500, 1);
            s.record_failed(id);
        })
        .join()
        .unwrap();
        stats.record_rejected(id);
        let t = stats.totals()[id].clone();
        assert_eq!(t.calls, 4, "each server counts its own");
        assert_eq!(t.nanos, 3000);
        assert_eq!(t.failed, 1);
        assert_eq!(t.rejected, 1);
        assert_eq!(other.totals()[id].calls, 7);
        stats.reset();
        assert_eq!(
            stats.totals()[id],
            CommandTotals {
                hist: vec![0; HIST_BUCKETS],
                ..Default::default()
            }
        );
        stats.record_calls(id, 1, 1);
        assert_eq!(stats.totals()[id].calls, 1);
    }
}
