//! What happens after each command besides its reply: INFO commandstats / errorstats /
//! latencystats, the slow log, the latency monitor and MONITOR's feed (`account`), and CLIENT
//! REPLY OFF | SKIP dropping replies.
//!
//! Timing follows the request metrics' rule (`metrics::BatchTimer`): O(1) commands (flag FAST)
//! are not timed one by one, a clock read per GET was ~4% of pipelined GET CPU; they share what
//! is left of their batch's time after the other commands, which are timed individually. A
//! batch of one (unpipelined traffic) is thus exact for every command, and only a FAST command
//! inside a pipeline has an averaged time (and cannot reach the slow log on its own).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Session;
use crate::resp::dispatch::{flags, CommandSpec};
use crate::resp::introspection::command_stats;
use crate::resp::introspection::monitor::{self, MonitorQueue};
use crate::resp::introspection::pause::PauseMode;
use crate::resp::introspection::slowlog::SlowEntry;

/// How a command ended, for its statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Refused before it ran (arity, keys, permissions, MULTI state, OOM): `rejected_calls`.
    Rejected,
    /// Ran (its handler or the connection's own code): a call, `failed_calls` if it errored.
    Executed,
    /// Queued inside MULTI: counted when EXEC runs it.
    Queued,
}

/// Per-connection state of the above.
pub(super) struct Observe {
    pub(super) outcome: Outcome,
    /// The next accounted command's MONITOR line was already fed (EVAL & co. feed theirs before
    /// the script's own commands, as Redis orders them).
    pub(super) monitor_fed: bool,
    /// FAST commands of the current batch, (slot, count), timed at the batch's end. Reused
    /// (no allocation per batch once warm).
    pub(super) fast_batch: Vec<(u32, u32)>,
    /// Time the individually timed commands of the batch took.
    pub(super) timed_nanos: u64,
    /// The batch's last untimed command: in a batch of one, its time is the batch's (slow log).
    pub(super) last_untimed: Option<&'static CommandSpec>,
    /// CLIENT REPLY OFF.
    pub(super) reply_off: bool,
    /// CLIENT REPLY SKIP was the last command: drop the next command's reply.
    pub(super) skip_armed: bool,
    /// The command just run was CLIENT REPLY ON: its OK goes out.
    pub(super) turned_on: bool,
    /// MONITOR: this connection's queue of lines.
    pub(super) monitor: Option<Arc<MonitorQueue>>,
    /// CLIENT PAUSE holds this connection: the command it stopped at (owned copies, with its
    /// frame size for metering), and what it waits on.
    pub(super) held: Option<(Vec<Bytes>, u64)>,
    pub(super) paused: Option<(watch::Receiver<u64>, Instant)>,
    /// Held by CLIENT PAUSE (not by a script): counted in INFO's `blocked_clients` meanwhile.
    pub(super) pause_held: Option<crate::resp::introspection::pause::PauseHeld>,
}

impl Default for Observe {
    fn default() -> Self {
        Observe {
            outcome: Outcome::Rejected,
            monitor_fed: false,
            fast_batch: Vec::new(),
            timed_nanos: 0,
            last_untimed: None,
            reply_off: false,
            skip_armed: false,
            turned_on: false,
            monitor: None,
            held: None,
            paused: None,
            pause_held: None,
        }
    }
}

/// Which arguments MONITOR and SLOWLOG show as `(redacted)`: AUTH's credentials, HELLO's AUTH
/// pair, as Redis does.
pub(super) fn redacted(args: &[Bytes]) -> impl Fn(usize) -> bool + '_ {
    let name = args
        .first()
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_default();
    let auth_at = if name == b"hello" {
        args.iter()
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
            .unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    let sub = |s: &[u8]| args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(s));
    // ACL SETUSER: the user and its rules; CONFIG SET of a credential: its value (Redis's
    // redactClientCommandArgument callers).
    let acl_setuser = name == b"acl" && sub(b"setuser");
    // MIGRATE's AUTH password and AUTH2 username and password.
    let mut migrate_secret = [usize::MAX; 2];
    if name == b"migrate" {
        let mut j = 6;
        while j < args.len() {
            let a = &args[j];
            if a.eq_ignore_ascii_case(b"auth") && j + 1 < args.len() {
                migrate_secret = [j + 1, usize::MAX];
                j += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") && j + 2 < args.len() {
                migrate_secret = [j + 1, j + 2];
                j += 2;
            } else if a.eq_ignore_ascii_case(b"keys") {
                break;
            }
            j += 1;
        }
    }
    let config_set = name == b"config" && sub(b"set");
    move |i| {
        (name == b"auth" && i >= 1)
            || (auth_at != usize::MAX && (i == auth_at + 1 || i == auth_at + 2))
            || (acl_setuser && i >= 2)
            || migrate_secret.contains(&i)
            || (config_set
                && i >= 3
                && i % 2 == 1
                && args.get(i - 1).is_some_and(|p| {
                    SENSITIVE_CONFIGS
                        .iter()
                        .any(|c| p.eq_ignore_ascii_case(c.as_bytes()))
                }))
    }
}

/// Parameters whose values CONFIG SET keeps out of SLOWLOG and MONITOR (Redis's
/// `SENSITIVE_CONFIG` flag).
const SENSITIVE_CONFIGS: &[&str] = &["masterauth", "masteruser", "requirepass"];

pub(crate) fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl Session {
    /// After one command, whose reply starts at `start` in `out`: count it, its error, log it
    /// if slow, feed monitors. `nanos`: its own time if it was timed (not FAST).
    ///
    /// The common case (an O(1) command that ran and succeeded, no monitor) is a few compares
    /// and one slot bump here; the rest is out of line (`account_other`). Profiled with
    /// callgrind on pipelined GETs: the whole accounting had cost ~120 instructions per GET.
    #[inline]
    pub(super) fn account(
        &mut self,
        spec: Option<&'static CommandSpec>,
        args: &[Bytes],
        start: usize,
        nanos: Option<u64>,
    ) {
        if let (Some(spec), None) = (spec, nanos) {
            if self.obs.outcome == Outcome::Executed
                && self.out.get(start) != Some(&b'-')
                && !self.shared.introspection.monitors.any()
            {
                // Untimed commands have no subcommand slots (`command_stats::slots` checks).
                self.note_fast(spec.id() as u32);
                self.obs.last_untimed = Some(spec);
                return;
            }
        }
        self.account_other(spec, args, start, nanos);
    }

    /// One more FAST command of slot `slot` in this batch.
    #[inline]
    fn note_fast(&mut self, slot: u32) {
        let batch = &mut self.obs.fast_batch;
        match batch.last_mut() {
            Some((s, n)) if *s == slot => *n += 1,
            _ => match batch.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, n)) => *n += 1,
                None => batch.push((slot, 1)),
            },
        }
    }

    #[inline(never)]
    fn account_other(
        &mut self,
        spec: Option<&'static CommandSpec>,
        args: &[Bytes],
        start: usize,
        nanos: Option<u64>,
    ) {
        // DEBUG ERROR writes a raw error outside the statistics (Redis's addReplyProto).
        let raw_error = spec.is_some_and(|s| s.name == "debug")
            && args
                .get(1)
                .is_some_and(|a| a.eq_ignore_ascii_case(b"error"));
        let errored = self.out.get(start) == Some(&b'-') && !raw_error;
        if errored {
            self.record_error_reply(start);
        }
        let Some(spec) = spec else { return };
        let Some(slot) = command_stats::slot_of(spec, args) else {
            return;
        };
        // CLIENT LIST's `cmd` names a subcommand in full (`config|get`), as Redis 7's.
        self.last_cmd = command_stats::slot_name(slot);
        match self.obs.outcome {
            Outcome::Queued => return,
            Outcome::Rejected => {
                if errored {
                    self.shared.introspection.commands.record_rejected(slot);
                }
                return;
            }
            Outcome::Executed => {}
        }
        if errored {
            self.shared.introspection.commands.record_failed(slot);
        }
        match nanos {
            Some(n) => {
                self.obs.timed_nanos += n;
                self.shared.introspection.commands.record_calls(slot, n, 1);
                if self.is_slow(n) {
                    self.check_slow(spec, args, n);
                }
            }
            None => {
                self.note_fast(slot as u32);
                self.obs.last_untimed = Some(spec);
            }
        }
        if self.shared.introspection.monitors.any()
            && !spec.has(flags::ADMIN)
            && !std::mem::take(&mut self.obs.monitor_fed)
        {
            self.feed_monitors(args, self.db);
        }
    }

    /// Whether `spec` runs in a RESP batch without its own clock reads: O(1) commands (Redis's
    /// FAST flag), and SET, which Redis leaves unflagged (for its options) but is O(1) too and
    /// the most common write. Timing it alone cost ~400 instructions per pipelined SET
    /// (callgrind: two clock reads and the per-command record).
    #[inline]
    pub(super) fn untimed(spec: &CommandSpec) -> bool {
        spec.has(flags::FAST) || spec.name == "set"
    }

    /// End of a batch that took `elapsed` and ran `commands` commands, the last with `last`:
    /// the FAST commands share the time the timed ones did not use.
    pub(super) fn finish_batch(&mut self, elapsed: Duration, commands: u64, last: &[Bytes]) {
        let timed = std::mem::take(&mut self.obs.timed_nanos);
        if self.obs.fast_batch.is_empty() {
            return;
        }
        let n: u64 = self.obs.fast_batch.iter().map(|(_, c)| u64::from(*c)).sum();
        let left = (elapsed.as_nanos() as u64).saturating_sub(timed);
        let each = left / n.max(1);
        for &(slot, count) in &self.obs.fast_batch {
            self.shared
                .introspection
                .commands
                .record_calls(slot as usize, each, u64::from(count));
        }
        self.obs.fast_batch.clear();
        let last_spec = self.obs.last_untimed.take();
        if commands == 1 && n == 1 && self.is_slow(each) {
            // Unpipelined: the batch's time is this command's own.
            if let Some(spec) = last_spec {
                self.check_slow(spec, last, each);
            }
        }
    }

    /// Whether `nanos` reaches the slow log's or the latency monitor's threshold.
    #[inline]
    fn is_slow(&self, nanos: u64) -> bool {
        let s = &self.shared.introspection.settings;
        let slower_than = s
            .slowlog_slower_than_us
            .load(std::sync::atomic::Ordering::Relaxed);
        let latency_ms = s
            .latency_threshold_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        (slower_than >= 0 && nanos / 1000 >= slower_than as u64)
            || (latency_ms > 0 && nanos / 1_000_000 >= latency_ms)
    }

    /// The slow log and the latency monitor.
    fn check_slow(&mut self, spec: &'static CommandSpec, args: &[Bytes], nanos: u64) {
        let intro = &self.shared.introspection;
        let s = &intro.settings;
        let micros = nanos / 1000;
        let slower_than = s
            .slowlog_slower_than_us
            .load(std::sync::atomic::Ordering::Relaxed);
        // EXEC is logged as the commands it ran (Redis's skip_slowlog).
        if slower_than >= 0 && micros >= slower_than as u64 && spec.name != "exec" {
            let redact = redacted(args);
            let redact_from = (0..args.len()).find(|&i| redact(i));
            let entry = SlowEntry {
                id: 0,
                time: unix_micros() / 1_000_000,
                micros,
                args: SlowEntry::args_of(args, redact_from),
                peer: self.info.addr.to_string(),
                name: self.info.name.lock().clone().unwrap_or_default(),
            };
            let max = s.slowlog_max_len.load(std::sync::atomic::Ordering::Relaxed) as usize;
            intro.slowlog.push(entry, max, self.shared.store.budget());
        }
        let threshold = s
            .latency_threshold_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        let ms = nanos / 1_000_000;
        if threshold > 0 && ms >= threshold {
            let event = if spec.has(flags::FAST) {
                "fast-command"
            } else {
                "command"
            };
            intro.latency.record(event, unix_micros() / 1_000_000, ms);
        }
    }

    pub(super) fn feed_monitors(&self, args: &[Bytes], db: usize) {
        let peer = self.info.addr.to_string();
        let line = monitor::line(unix_micros(), db, &peer, args, redacted(args));
        self.shared.introspection.monitors.feed(line);
    }

    /// A command inside EXEC: counted like a command of its own (Redis's calls, failed_calls,
    /// slow log and monitor lines for each queued command).
    pub(super) fn account_queued(
        &mut self,
        spec: &'static CommandSpec,
        args: &[Bytes],
        start: usize,
        nanos: u64,
    ) {
        self.obs.outcome = Outcome::Executed;
        self.account(spec.into(), args, start, Some(nanos));
    }

    /// Count the error reply that starts at `start` of the reply buffer in INFO errorstats.
    fn record_error_reply(&self, start: usize) {
        let reply = &self.out[start + 1..];
        let end = reply
            .iter()
            .position(|&b| b == b'\r')
            .unwrap_or(reply.len());
        self.shared.introspection.errors.record(&reply[..end]);
    }

    /// An error reply a blocked command got after its first run (CLIENT UNBLOCK ... ERROR):
    /// Redis counts it in errorstats and the command's failed_calls.
    pub(super) fn account_late_error(
        &mut self,
        spec: &'static CommandSpec,
        args: &[Bytes],
        start: usize,
    ) {
        self.record_error_reply(start);
        if let Some(slot) = command_stats::slot_of(spec, args) {
            self.shared.introspection.commands.record_failed(slot);
        }
    }

    /// MONITOR's queued lines, appended to the reply buffer. False when the monitor fell so far
    /// behind that its queue overflowed (the connection closes, as Redis's output limit does).
    pub(super) fn deliver_monitor_lines(&mut self) -> bool {
        let Some(q) = self.obs.monitor.clone() else {
            return true;
        };
        if q.overflowed() {
            return false;
        }
        for l in q.drain() {
            self.out.extend_from_slice(&l);
        }
        true
    }

    /// CLIENT REPLY ON | OFF | SKIP (only ON answers).
    pub(super) fn client_reply(&mut self, args: &[Bytes]) {
        if args.len() != 3 {
            self.writer()
                .error("ERR wrong number of arguments for 'client|reply' command");
            return;
        }
        let mode = &args[2];
        if mode.eq_ignore_ascii_case(b"on") {
            self.obs.reply_off = false;
            self.obs.skip_armed = false;
            self.obs.turned_on = true;
            self.writer().ok();
        } else if mode.eq_ignore_ascii_case(b"off") {
            self.obs.reply_off = true;
        } else if mode.eq_ignore_ascii_case(b"skip") {
            if !self.obs.reply_off {
                self.obs.skip_armed = true;
            }
        } else {
            self.writer().error("ERR syntax error");
        }
    }

    /// CLIENT PAUSE: hold `args` (copied) if the pause in force covers it. Subscribing before
    /// looking at the pause means an UNPAUSE in between still wakes the connection.
    pub(super) fn hold_if_paused(&mut self, args: &[Bytes], frame: u64) -> bool {
        let pause = &self.shared.introspection.pause;
        let rx = pause.subscribe();
        let Some((mode, until)) = pause.current() else {
            return false;
        };
        if mode == PauseMode::Write && !self.pause_covers(args) {
            return false;
        }
        self.obs.held = Some((
            args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
            frame,
        ));
        self.obs.paused = Some((rx, until));
        self.obs.pause_held = Some(pause.hold());
        true
    }

    /// CLIENT PAUSE ALL: hold before reading the next command.
    pub(super) fn hold_all_if_paused(&mut self) -> bool {
        let pause = &self.shared.introspection.pause;
        let rx = pause.subscribe();
        match pause.current() {
            Some((PauseMode::All, until)) if !self.inbuf.is_empty() => {
                self.obs.paused = Some((rx, until));
                self.obs.pause_held = Some(pause.hold());
                true
            }
            _ => false,
        }
    }

    /// Whether a WRITE pause holds this command: it may change data or publish (Redis's
    /// write and may-replicate commands), or it is the EXEC of a transaction that does.
    fn pause_covers(&self, args: &[Bytes]) -> bool {
        let Some(spec) = args.first().and_then(|a| crate::resp::dispatch::lookup(a)) else {
            return false;
        };
        // A command with the wrong number of arguments is answered right away (Redis checks
        // arity before the pause).
        if !spec.arity_ok(args.len()) {
            return false;
        }
        if spec.name == "exec" {
            return self.multi.as_ref().is_some_and(|(q, _)| {
                q.iter()
                    .any(|a| match crate::resp::dispatch::lookup(&a[0]) {
                        Some(spec) => self.command_writes(spec, a),
                        None => false,
                    })
            });
        }
        self.command_writes(spec, args)
    }

    /// Whether a command may change data or replicate: a write, one of Redis's `may_replicate`
    /// commands, or a script without the `no-writes` flag (Redis's evalGetCommandFlags).
    fn command_writes(&self, spec: &CommandSpec, args: &[Bytes]) -> bool {
        match spec.name {
            "eval" | "evalsha" | "fcall" => !self.script_declares_no_writes(spec.name, args),
            "publish" | "spublish" | "pfcount" => true,
            _ => spec.has(flags::WRITE),
        }
    }

    /// Whether the script EVAL / EVALSHA / FCALL would run has the `no-writes` flag.
    fn script_declares_no_writes(&self, name: &str, args: &[Bytes]) -> bool {
        let Some(target) = args.get(1) else {
            return false;
        };
        let tenant = self.shared.scripts.tenant(self.base.name_arc());
        let body = match name {
            "eval" => Some(target.clone()),
            "evalsha" => self.shared.scripts.body(&tenant, target),
            _ => {
                let libs = tenant.libraries.lock();
                return libs
                    .function(&String::from_utf8_lossy(target))
                    .is_some_and(|(_, _, meta)| meta.has("no-writes"));
            }
        };
        body.and_then(|b| crate::resp::scripting::run::parse_shebang(&b).ok())
            .is_some_and(|s| s.no_writes)
    }

    /// MONITOR: from now on this connection receives every command the server runs.
    pub(super) fn start_monitor(&mut self) {
        if self.multi.is_some() {
            self.writer()
                .error("ERR MONITOR isn't allowed for DENY BLOCKING client");
            return;
        }
        if self.obs.monitor.is_none() {
            let budget = self.shared.store.budget_handle();
            self.obs.monitor = Some(self.shared.introspection.monitors.add(self.info.id, budget));
        }
        self.writer().ok();
    }

    /// Stop monitoring (RESET, close).
    pub(super) fn stop_monitor(&mut self) {
        if self.obs.monitor.take().is_some() {
            self.shared.introspection.monitors.remove(self.info.id);
        }
    }
}
