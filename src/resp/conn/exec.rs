//! Running commands: one batch of parsed input (`process_input`), the quota check and
//! metering of each command (`execute_metered`), checks before a command runs
//! (`execute_spec`), the handler call (`run_handler`), blocking commands (BLPOP & co.) and
//! transactions (MULTI queueing, EXEC, WATCH).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_resp::{parse_command, ReplyWriter};
use ferrite_storage::{Cache, Locked};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::observe::Outcome;
use super::scripting::Gate;
use super::{Session, OUT_SOFT_LIMIT};
use crate::metrics::{self, Family, Protocol};
use crate::resp::args::{eq_ic, ERR_OOM};
use crate::resp::client::UnblockAs;
use crate::resp::dispatch::{flags, lookup, CommandSpec, Ctx};
use crate::shared::ServerStats;
use ferrite_service::Counters;

/// A command waiting for data (BLPOP & co.).
pub(super) struct Blocked {
    pub(super) args: Vec<Bytes>,
    pub(super) spec: &'static CommandSpec,
    /// The cache whose feed the registration holds (released on unregistering).
    pub(super) cache: Arc<Cache>,
    pub(super) keys: Vec<Bytes>,
    pub(super) deadline: Option<Instant>,
    pub(super) notify: Arc<Notify>,
}

/// What a blocking handler asks for when it found nothing to pop.
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// None = block forever.
    pub timeout: Option<Duration>,
    /// The arguments to run again on each wake-up, when not the original ones: XREAD pins `$`
    /// to the ID it stood for when the client blocked (owned copies).
    pub args: Option<Vec<Bytes>>,
}

/// What one queued MULTI command holds: its arguments (owned copies, each its own allocation), a
/// `Bytes` handle per argument and the argument vector's allocation.
fn queue_cost(args: &[Bytes]) -> usize {
    args.iter()
        .map(|a| ferrite_storage::value::bytes_cost(a.len()) + std::mem::size_of::<Bytes>())
        .sum::<usize>()
        + std::mem::size_of::<Vec<Bytes>>()
        + ferrite_storage::value::ALLOC_OVERHEAD
}

impl Session {
    /// Execute every complete command in the input buffer (until output backs up).
    pub(super) fn process_input(&mut self) {
        if self.inbuf.is_empty() && self.obs.held.is_none() {
            // Nothing to run (the loop turned for a write or a wake-up): skip the clock reads.
            return;
        }
        // The args vector lives in the session: no allocation per batch or per command
        // (`tests/zero_alloc.rs` holds warm GET/SET to zero allocations).
        let mut args = std::mem::take(&mut self.args);
        // The last command run, kept past the next parse (which clears `args`): the slow log
        // of an unpipelined FAST command needs it at the batch's end (`finish_batch`).
        let mut last = std::mem::take(&mut self.last_args);
        let mut count = 0u64;
        self.now = self.shared.store.now_ms();
        // CLIENT LIST's idle time: the batch's clock read serves it.
        self.info.last_active_ms.store(self.now, Ordering::Relaxed);
        self.still_authenticated();
        // Request metrics: exact counts per family, the batch's time shared evenly (one clock
        // read per batch; parsing included). See `metrics::BatchTimer`.
        let mut timer = metrics::BatchTimer::start();
        // NOLOOP: the change feed's listeners learn whose commands these are.
        let _writer = self
            .shared
            .tracking
            .any()
            .then(|| crate::resp::tracking::writing_as(self.info.id));
        // The command a CLIENT PAUSE held runs first (or is held again).
        if let Some((held, frame)) = self.obs.held.take() {
            if let Some(family) = self.run_held(held, frame) {
                count += 1;
                timer.add(family);
            }
        }
        while self.pending() < OUT_SOFT_LIMIT
            && !self.closing
            && self.blocked.is_none()
            && self.obs.paused.is_none()
            && self.script.is_none()
            && self.migrating.is_none()
        {
            if self.shared.introspection.pause.is_active() && self.hold_all_if_paused() {
                break;
            }
            let unparsed = self.inbuf.len();
            // Before AUTH (auth required), Redis 7's caps: refused from the header alone.
            let limits = if self.principal.is_some() {
                &self.limits
            } else {
                &self.preauth_limits
            };
            match parse_command(&mut self.inbuf, limits, &mut args) {
                Ok(true) => {
                    let frame = (unparsed - self.inbuf.len()) as u64;
                    if self.shared.introspection.pause.is_active()
                        && self.hold_if_paused(&args, frame)
                    {
                        break;
                    }
                    if self.shared.exclusive.any() {
                        match self.script_gate(&args, frame) {
                            Gate::Run => {}
                            Gate::Hold => break,
                            Gate::Busy => {
                                count += 1;
                                std::mem::swap(&mut args, &mut last);
                                continue;
                            }
                        }
                    }
                    count += 1;
                    // The args vector is reused across commands: no allocation per command.
                    let family = self.execute_metered(&args, frame);
                    timer.add(family);
                    std::mem::swap(&mut args, &mut last);
                    if self.info.killed.load(Ordering::Relaxed) {
                        self.closing = true;
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    ServerStats::add(&self.shared.stats.protocol_errors, 1);
                    self.writer().error(&e.message());
                    self.closing = true;
                    break;
                }
            }
        }
        let elapsed = timer.finish(Protocol::Resp);
        self.finish_batch(elapsed, count, &last);
        self.charge_buffers();
        self.publish_client_info();
        // Drop the references into the read buffer before it is reused.
        args.clear();
        last.clear();
        self.args = args;
        self.last_args = last;
        self.charge_input();
        if count > 0 {
            ServerStats::add(&self.shared.stats.total_commands, count);
        }
        self.arm_shrink();
    }

    /// Client-side caching, default mode: remember the keys a read-only command read (OPTIN:
    /// only after CLIENT CACHING YES; OPTOUT: unless after CLIENT CACHING NO). CLIENT CACHING
    /// applies to the one command after it.
    #[cold]
    #[inline(never)]
    fn track_reads(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        // Scripts are not tracked as commands: their declared keys are, once they read
        // (`run::CallState::track_declared_keys`).
        if !spec.has(flags::READONLY) || self.multi.is_some() || spec.group == "scripting" {
            return;
        }
        if crate::resp::tracking::tracks_reads_now(&self.info) {
            let cache = self.cache.name_arc().clone();
            for key in spec.keys(args) {
                self.shared.tracking.remember(self.info.id, &cache, key);
            }
        }
    }

    /// The command CLIENT PAUSE held: run it now, or hold it again (None).
    #[cold]
    #[inline(never)]
    fn run_held(&mut self, held: Vec<Bytes>, frame: u64) -> Option<Family> {
        if self.hold_if_paused(&held, frame) {
            return None;
        }
        if self.shared.exclusive.any() {
            match self.script_gate(&held, frame) {
                Gate::Run => {}
                Gate::Hold => return None,
                Gate::Busy => return Some(Family::Other),
            }
        }
        Some(self.execute_metered(&held, frame))
    }

    /// Quota check, execution and metering of one command whose RESP frame was `bytes_in`
    /// bytes. A refused command does not run and is not metered; everything else is one
    /// operation whose reply bytes are what it appended to the output buffer (a blocking
    /// command's later reply is added when it comes, see `retry_blocked`).
    #[inline(always)]
    pub(super) fn execute_metered(&mut self, args: &[Bytes], bytes_in: u64) -> Family {
        if args.first().is_some_and(|a| eq_ic(a, "ferrite.metering")) {
            // Reading the figures is operator traffic (the admin port's job), not the tenant's.
            return self.execute(args);
        }
        let limited = self.quota.is_active() && !quota_exempt(args);
        if limited {
            if let Err(e) = self.quota.admit() {
                let msg = format!("ERR {e}");
                self.writer().error(&msg);
                return args
                    .first()
                    .and_then(|name| lookup(name))
                    .map_or(Family::Other, |spec| Family::from_resp_group(spec.group));
            }
        }
        let start = self.out.len();
        let family = self.execute(args);
        let bytes_out = (self.out.len() - start) as u64;
        self.meter.add(&Counters::op(bytes_in, bytes_out));
        if limited {
            self.quota.charge(bytes_in + bytes_out);
        }
        family
    }

    /// Reply bytes produced outside a command's own turn (a blocked command's late reply,
    /// pub/sub pushes): metered and charged to the tenant, no operation counted.
    pub(super) fn meter_late_output(&mut self, start: usize) {
        let n = self.out.len().saturating_sub(start) as u64;
        self.meter.bytes_out += n;
        self.quota.charge(n);
    }

    /// Hand the usage gathered since the last fold to the shared metering.
    pub(super) fn fold_meter(&mut self) {
        if !self.meter.is_zero() {
            self.shared.metering.record(&self.tenant, &self.meter);
            self.meter = Counters::default();
        }
    }

    /// Execute one command; returns its metrics family.
    #[inline(always)]
    pub(super) fn execute(&mut self, args: &[Bytes]) -> Family {
        let Some(spec) = args.first().and_then(|name| lookup(name)) else {
            self.unknown_command(args);
            return Family::Other;
        };
        let start = self.out.len();
        // CLIENT REPLY OFF / SKIP: this command's reply is dropped (after it is counted).
        let drop_reply = self.obs.reply_off || self.obs.skip_armed;
        self.obs.skip_armed = false;
        self.obs.outcome = Outcome::Rejected;
        let t0 = (!Session::untimed(spec)).then(std::time::Instant::now);
        // Before the read, not after: a write landing between the read and the remembering
        // would find no entry, and the client would keep a stale value.
        let tracking =
            self.shared.tracking.any() && self.info.tracking_mode.load(Ordering::Relaxed) != 0;
        if tracking {
            self.track_reads(spec, args);
        }
        self.execute_spec(spec, args);
        if tracking && spec.name != "client" && self.multi.is_none() {
            // CLIENT CACHING applies to the next command (or transaction) but CLIENT's own
            // subcommands, as Redis's resetClient clears it.
            self.info.caching.store(0, Ordering::Relaxed);
        }
        let nanos = t0.map(|t| t.elapsed().as_nanos() as u64);
        self.account(Some(spec), args, start, nanos);
        if drop_reply {
            self.drop_reply(start, spec);
        } else {
            self.obs.turned_on = false;
        }
        Family::from_resp_group(spec.group)
    }

    /// CLIENT REPLY OFF / SKIP: the reply just written goes, unless it was CLIENT REPLY ON's.
    #[cold]
    fn drop_reply(&mut self, start: usize, spec: &CommandSpec) {
        // SUBSCRIBE's and UNSUBSCRIBE's confirmations are pushes, not replies: Redis sends
        // them anyway (in RESP2 too).
        let push = matches!(
            spec.name,
            "subscribe"
                | "psubscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "punsubscribe"
                | "sunsubscribe"
        ) && self.out.get(start) != Some(&b'-');
        if !std::mem::take(&mut self.obs.turned_on) && !push {
            self.out.truncate(start);
        }
    }

    #[cold]
    #[inline(never)]
    fn unknown_command(&mut self, args: &[Bytes]) {
        if args.is_empty() {
            return;
        }
        let drop_reply = self.obs.reply_off || std::mem::take(&mut self.obs.skip_armed);
        let start = self.out.len();
        let msg = unknown_command_message(args);
        if let Some((_, err)) = self.multi.as_mut() {
            *err = true;
        }
        self.writer().error(&msg);
        self.account(None, args, start, None);
        if drop_reply {
            self.out.truncate(start);
        }
    }

    // Inlined into `execute`: out of line, the call cost ~50 instructions per pipelined GET
    // (callgrind), a fifth of the command path.
    #[inline(always)]
    pub(super) fn execute_spec(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        // Published to CLIENT LIST once per batch (`publish_client_info`), not per command.
        self.last_cmd = spec.name;
        if !spec.arity_ok(args.len()) {
            if let Some((_, err)) = self.multi.as_mut() {
                *err = true;
            }
            let msg = format!("ERR wrong number of arguments for '{}' command", spec.name);
            self.writer().error(&msg);
            return;
        }
        if spec.movable {
            // Key positions follow `numkeys`: a malformed one is an error before the command is
            // authorized, queued or run, so its keys are exactly the ones checked.
            if let Err(e) = spec.check_keys(args) {
                if let Some((_, err)) = self.multi.as_mut() {
                    *err = true;
                }
                let msg = if spec.name.starts_with("fcall") && !self.function_exists(&args[1]) {
                    crate::resp::commands::functions::ERR_NO_FUNCTION.to_string()
                } else {
                    spec.keys_error(e)
                };
                self.writer().error(&msg);
                return;
            }
        }
        if !self.unrestricted {
            if let Err(msg) = self.authorize(spec, args) {
                if let Some((_, err)) = self.multi.as_mut() {
                    *err = true;
                }
                self.writer().error(&msg);
                return;
            }
        }
        if self.multi.is_some()
            && !matches!(
                spec.name,
                "multi" | "exec" | "discard" | "watch" | "quit" | "reset"
            )
        {
            // SELECT inside MULTI: the commands queued after it run in that database (EXEC
            // locks it with the others), so they are authorized against its cache.
            if spec.name == "select" {
                if let Ok(n) = crate::resp::commands::databases::parse_db(&args[1], "") {
                    if let Ok(c) = self.db_cache(n) {
                        self.multi_db = Some((n, c));
                    }
                }
            }
            if spec.has(flags::NO_MULTI) {
                self.multi.as_mut().expect("in multi").1 = true;
                let msg = format!(
                    "ERR Command not allowed inside a transaction: '{}'",
                    spec.name
                );
                self.writer().error(&msg);
                return;
            }
            // Queued commands hold memory until EXEC: count it in the budget, and refuse
            // queueing past it like Redis (OOM, and EXEC then answers EXECABORT).
            let cost = queue_cost(args);
            if self.shared.store.ensure_memory(cost as u64).is_err() {
                self.multi.as_mut().expect("in multi").1 = true;
                self.writer().error(ERR_OOM);
                return;
            }
            self.shared.store.budget().charge(cost as isize);
            ServerStats::add_signed(&self.shared.stats.multi_queued, cost as isize);
            self.multi_bytes += cost;
            // Owned copies: slices would pin the read buffers they came from (whole chunks of
            // pipelined input, more than `queue_cost` counts) until EXEC.
            let owned = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
            self.multi.as_mut().expect("in multi").0.push(owned);
            self.writer().simple("QUEUED");
            self.obs.outcome = Outcome::Queued;
            return;
        }
        if !self.resp3 && self.in_subscribe_mode() && !spec.has(flags::PUBSUB_OK) {
            let msg = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            );
            self.writer().error(&msg);
            return;
        }
        if self.obs.monitor.is_some() && (spec.has(flags::WRITE) || spec.has(flags::READONLY)) {
            // Redis's rule for a monitoring (replica-flagged) connection.
            self.writer()
                .error("ERR Replica can't interact with the keyspace");
            return;
        }
        self.obs.outcome = Outcome::Executed;
        if spec.has(flags::CONN) {
            self.connection_command(spec, args);
            return;
        }
        if spec.name == "client" && args.len() >= 2 && eq_ic(&args[1], "reply") {
            self.client_reply(args);
            return;
        }
        self.run(spec, args, true);
    }

    pub(super) fn in_subscribe_mode(&self) -> bool {
        self.info.subscriptions.load(Ordering::Relaxed)
            + self.info.psubscriptions.load(Ordering::Relaxed)
            > 0
    }

    /// Run a table command outside a transaction. Returns a block request if the command wants
    /// to wait (only when `may_block`).
    #[inline(always)]
    pub(super) fn run(&mut self, spec: &'static CommandSpec, args: &[Bytes], may_block: bool) {
        if let Some(req) = self.run_handler(spec, args, may_block, false) {
            self.block(spec, args, req);
        }
    }

    /// A blocking command found nothing: wait on its keys.
    #[cold]
    #[inline(never)]
    fn block(&mut self, spec: &'static CommandSpec, args: &[Bytes], req: BlockRequest) {
        let notify = Arc::new(Notify::new());
        self.shared
            .waiters
            .register(&self.cache, &req.keys, &notify);
        // A push between the handler releasing its shard lock and this registration would
        // have signalled nobody: retry once now. Retries then run while still registered
        // (see `retry_blocked`), so later pushes can't slip through either.
        notify.notify_one();
        *self.info.blocked.lock() = Some(crate::resp::client::BlockedWake {
            notify: notify.clone(),
            unblock: None,
        });
        self.blocked = Some(Blocked {
            // Owned copies, as for MULTI: slices would pin the read buffer they came from
            // (all of it, outside what `in_alloc` counts once the buffer is replaced).
            args: req
                .args
                .unwrap_or_else(|| args.iter().map(|a| Bytes::copy_from_slice(a)).collect()),
            spec,
            cache: self.cache.clone(),
            keys: req.keys,
            deadline: req.timeout.map(|t| Instant::now() + t),
            notify,
        });
    }

    /// Execute a table command; returns the block request of a blocking command that found
    /// nothing to pop.
    pub(super) fn run_handler(
        &mut self,
        spec: &'static CommandSpec,
        args: &[Bytes],
        may_block: bool,
        retry: bool,
    ) -> Option<BlockRequest> {
        if spec.has(flags::DENYOOM) {
            let incoming: usize = args[1..].iter().map(|a| a.len()).sum();
            if self.shared.store.ensure_memory(incoming as u64).is_err() {
                self.obs.outcome = Outcome::Rejected;
                self.writer().error(ERR_OOM);
                return None;
            }
        }
        let mut block: Option<BlockRequest> = None;
        let reply_start = self.out.len();
        {
            let mut w = ReplyWriter::new(&mut self.out, self.resp3);
            let mut ctx = Ctx {
                shared: &self.shared,
                cache: &self.cache,
                base: &self.base,
                db: self.db,
                now: self.now,
                client: &self.info,
                resp3: self.resp3,
                exec: None,
                exec_dbs: None,
                may_block,
                retry,
                block: &mut block,
                publisher: publisher_of(&self.principal),
                principal: self.principal.as_ref(),
                in_script: false,
            };
            (spec.handler)(&mut ctx, args, &mut w);
        }
        // WATCH invalidation and blocked-list wake-ups need nothing here: the engine's change
        // feed reports every write the handler made.
        self.meter.messages_published += published(spec, &self.out[reply_start..]);
        block
    }

    /// The blocking command `b` is over: leave its keys' wait lists, and CLIENT UNBLOCK can no
    /// longer reach it.
    pub(super) fn release_block(&self, b: &Blocked) {
        self.shared.waiters.unregister(&b.cache, &b.keys, &b.notify);
        *self.info.blocked.lock() = None;
    }

    /// A key we wait on was pushed to (or the first post-registration retry): run the command
    /// again, still registered, so a push racing with this retry leaves a wake-up behind.
    pub(super) fn retry_blocked(&mut self) {
        let Some(b) = self.blocked.take() else { return };
        let unblock = self.info.blocked.lock().as_ref().and_then(|w| w.unblock);
        match unblock {
            Some(UnblockAs::Timeout) => {
                self.blocked = Some(b);
                return self.unblock_timeout();
            }
            Some(UnblockAs::Error) => {
                self.release_block(&b);
                let start = self.out.len();
                self.writer()
                    .error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                self.account_late_error(b.spec, &b.args, start);
                self.meter_late_output(start);
                return;
            }
            None => {}
        }
        self.now = self.shared.store.now_ms();
        if !self.still_authenticated() {
            // The token that authorized the command expired or was revoked while it waited: it
            // is not served; it gets the error the connection's next command would get.
            self.release_block(&b);
            let start = self.out.len();
            let msg = self.noauth_message();
            self.writer().error(&msg);
            self.meter_late_output(start);
            return;
        }
        if self.shared.exclusive.any() {
            let rx = self.shared.exclusive.subscribe();
            if let Some(run) = self.shared.exclusive.running_on(&b.cache) {
                // A script holds the cache (its own pushes may be what woke us): retry when it
                // ends, not under its locks on this worker thread. The permit left on the
                // notify is taken once the hold ends (the loop's notify arm waits for that).
                b.notify.notify_one();
                let wait = if run.is_busy() {
                    Duration::from_secs(1)
                } else {
                    run.until_busy()
                };
                self.obs.paused = Some((rx, Instant::now() + wait));
                self.blocked = Some(b);
                return;
            }
        }
        if !self.shared.waiters.is_first(&b.cache, &b.keys, &b.notify) {
            // Someone blocked before us on each of our keys: they are served first (we are
            // woken again when the one ahead of us leaves).
            self.blocked = Some(b);
            return;
        }
        let start = self.out.len();
        let still_blocked = self.run_handler(b.spec, &b.args, true, true).is_some();
        self.meter_late_output(start);
        if still_blocked {
            self.blocked = Some(b); // still nothing: keep waiting, same deadline
        } else {
            self.release_block(&b);
        }
    }

    pub(super) fn unblock_timeout(&mut self) {
        if let Some(b) = self.blocked.take() {
            self.release_block(&b);
            let start = self.out.len();
            self.writer().null_array();
            self.meter_late_output(start);
        }
    }

    pub(super) fn unwatch_all(&mut self) {
        for (cache, t) in self.watches.drain(..) {
            cache.watch().unwatch(&t);
        }
    }

    pub(super) fn exec(&mut self) {
        let Some((queued, had_error)) = self.multi.take() else {
            self.writer().error("ERR EXEC without MULTI");
            return;
        };
        self.release_multi_memory();
        self.info.in_multi.store(false, Ordering::Relaxed);
        if had_error {
            self.unwatch_all();
            self.writer()
                .error("EXECABORT Transaction discarded because of previous errors.");
            return;
        }
        // A watched key that expired since, reaped or not, is a change (Redis's
        // isWatchedKeyExpired): looking at it reaps it, which the WATCH sees.
        let now = self.shared.store.now_ms();
        // Only keys live at WATCH: reaping one that was not is no change, and must not look
        // like one.
        for (c, t) in self.watches.iter().filter(|(_, t)| t.live) {
            let _ = c.lock_key(&t.key).peek_meta(&t.key, now);
        }
        let watches_ok = self.watches.iter().all(|(c, t)| c.watch().still_valid(t));
        self.unwatch_all();
        if !watches_ok {
            self.writer().null_array();
            return;
        }
        // Make room for the whole transaction first: eviction takes shard locks, which would
        // deadlock once EXEC holds them all.
        let incoming: usize = queued
            .iter()
            .filter(|a| {
                lookup(&a[0])
                    .map(|s| s.has(flags::DENYOOM))
                    .unwrap_or(false)
            })
            .map(|a| a[1..].iter().map(|x| x.len()).sum::<usize>())
            .sum();
        if incoming > 0 && self.shared.store.ensure_memory(incoming as u64).is_err() {
            self.writer().error(&format!("EXECABORT {}", &ERR_OOM));
            return;
        }
        // Every database the transaction reaches (SELECT, MOVE, SWAPDB, COPY ... DB), locked
        // whole before the first command, in the cross-cache order (by cache name, as
        // `databases::lock_pair`): transactions on overlapping databases cannot deadlock. One
        // that cannot be resolved now (permissions) is left out: its command answers an error.
        let mut named = vec![self.db];
        for args in &queued {
            crate::resp::commands::databases::named_dbs(args, &mut named);
        }
        let mut caches: Vec<(usize, Arc<Cache>)> = named
            .into_iter()
            .filter_map(|n| {
                if n == self.db {
                    Some((n, self.cache.clone()))
                } else {
                    self.db_cache(n).ok().map(|c| (n, c))
                }
            })
            .collect();
        caches.sort_by(|a, b| a.1.name().cmp(b.1.name()));
        caches.dedup_by(|a, b| Arc::ptr_eq(&a.1, &b.1));
        // Owned: the context's cache references live as long as the locks (the whole loop),
        // while the loop also counts each command on `self`.
        let base = self.base.clone();
        let mut locks: Vec<(usize, Locked<'_>)> =
            caches.iter().map(|(n, c)| (*n, c.lock_all())).collect();
        let mut db = self.db;
        ReplyWriter::new(&mut self.out, self.resp3).array(queued.len());
        for args in &queued {
            let spec = lookup(&args[0]).expect("validated when queued");
            let reply_start = self.out.len();
            let t0 = std::time::Instant::now();
            let mut w = ReplyWriter::new(&mut self.out, self.resp3);
            if spec.has(flags::CONN) {
                // Connection commands inside MULTI (e.g. a queued BLPOP is table-run below;
                // SELECT/HELLO here) are answered without changing transaction isolation.
                match spec.name {
                    "select" => {
                        // The commands after it run in that database (locked above).
                        match crate::resp::commands::databases::parse_db(
                            &args[1],
                            crate::resp::args::ERR_NOT_INT,
                        ) {
                            Ok(n) if locks.iter().any(|(d, _)| *d == n) => {
                                db = n;
                                w.ok();
                            }
                            // Not resolvable when EXEC began: the reason it gave.
                            Ok(n) => match crate::resp::commands::databases::db_cache(
                                &self.shared,
                                self.principal.as_ref(),
                                &self.base,
                                n,
                            ) {
                                Err(e) => w.error(&e),
                                Ok(_) => w.error(crate::resp::commands::databases::ERR_NOT_LOCKED),
                            },
                            Err(e) => w.error(&e),
                        }
                    }
                    "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => {
                        let cache = &caches
                            .iter()
                            .find(|(d, _)| *d == db)
                            .expect("the current database is locked")
                            .1;
                        let (mine, _) =
                            crate::resp::commands::databases::OtherDbs::split(&mut locks, db)
                                .expect("the current database is locked");
                        self.eval_in_exec(spec, args, cache, &base, db, mine);
                        let nanos = t0.elapsed().as_nanos() as u64;
                        self.account_queued(spec, args, reply_start, nanos);
                        continue;
                    }
                    "auth" => w.ok(),
                    "monitor" => w.error("ERR MONITOR isn't allowed for DENY BLOCKING client"),
                    _ => w.error("ERR command not allowed inside a transaction"),
                }
                let nanos = t0.elapsed().as_nanos() as u64;
                self.account_queued(spec, args, reply_start, nanos);
                continue;
            }
            let cache = &caches
                .iter()
                .find(|(d, _)| *d == db)
                .expect("the current database is locked")
                .1;
            let (mine, others) = crate::resp::commands::databases::OtherDbs::split(&mut locks, db)
                .expect("the current database is locked");
            let mut block = None;
            let mut ctx = Ctx {
                shared: &self.shared,
                cache,
                base: &base,
                db,
                now: self.shared.store.now_ms(),
                client: &self.info,
                resp3: self.resp3,
                exec: Some(mine),
                exec_dbs: Some(others),
                may_block: false,
                retry: false,
                block: &mut block,
                publisher: publisher_of(&self.principal),
                principal: self.principal.as_ref(),
                in_script: false,
            };
            (spec.handler)(&mut ctx, args, &mut w);
            self.meter.messages_published += published(spec, &self.out[reply_start..]);
            let nanos = t0.elapsed().as_nanos() as u64;
            self.account_queued(spec, args, reply_start, nanos);
        }
        // Every write above reached WATCHes and blocked clients through the change feed, under
        // the locks, so a client watching these keys sees them changed before EXEC returns.
        drop(locks);
        // SELECT inside the transaction stays in effect after it, as in Redis.
        if db != self.db {
            let cache = caches
                .into_iter()
                .find(|(d, _)| *d == db)
                .expect("locked above")
                .1;
            self.use_db(cache, db);
        }
    }
}

/// Commands a limited tenant may always run: the connection handshake (HELLO, AUTH, CLIENT
/// SETINFO/SETNAME, which client libraries send on connect: a throttled tenant must still be
/// able to connect, and AUTH must stay possible to switch to a token with room left), QUIT and
/// RESET. They are metered but neither refused nor charged to the limits (a client reconnecting
/// in a loop would otherwise keep its tenant in debt with handshakes alone).
fn quota_exempt(args: &[Bytes]) -> bool {
    ["auth", "hello", "client", "quit", "reset"]
        .iter()
        .any(|n| eq_ic(&args[0], n))
}

/// 1 when `reply` is the integer reply of a PUBLISH/SPUBLISH (the message was accepted).
fn published(spec: &CommandSpec, reply: &[u8]) -> u64 {
    (matches!(spec.name, "publish" | "spublish") && reply.first() == Some(&b':')) as u64
}

/// Redis 7's message for an unknown command, quoting the first arguments.
fn unknown_command_message(args: &[Bytes]) -> String {
    let name: String = String::from_utf8_lossy(&args[0])
        .chars()
        .take(128)
        .collect();
    let mut msg = format!("ERR unknown command '{name}', with args beginning with: ");
    let mut budget = 128usize;
    for a in &args[1..] {
        if budget == 0 {
            break;
        }
        let s: String = String::from_utf8_lossy(a).chars().take(budget).collect();
        budget = budget.saturating_sub(s.len());
        msg.push_str(&format!("'{s}' "));
    }
    msg
}

/// The `publisher_id` of what a connection publishes: its principal's token id, if it has one.
fn publisher_of(principal: &Option<ferrite_auth::Principal>) -> Option<&Arc<str>> {
    principal
        .as_ref()
        .map(|p| p.token_id())
        .filter(|id| !id.is_empty())
}
