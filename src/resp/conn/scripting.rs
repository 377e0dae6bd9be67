//! EVAL & co. and SCRIPT on a connection: preparing a run (the script's body by SHA-1, its
//! shebang flags, KEYS and ARGV), running it on a blocking thread while the connection waits,
//! the reply when it ends; SCRIPT LOAD / EXISTS / FLUSH / KILL; and the gate every other
//! client of a cache passes while a script runs on it (held, or BUSY past
//! `busy-reply-threshold`). The Lua side is `resp::scripting`.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrite_storage::Locked;

use super::Session;
use crate::resp::args::{eq_ic, ERR_OOM};
use crate::resp::commands::scripting::{HELP, SUBS};
use crate::resp::commands::server::{arity_ok, help, subcommand_arity, unknown_subcommand};
use crate::resp::dispatch::CommandSpec;
use crate::resp::scripting::run::{
    parse_shebang, run_script, ScriptCall, ScriptEnv, Shebang, Target,
};
use crate::resp::scripting::{busy_error, busy_threshold, kill_refusal, ERR_NOSCRIPT};
use ferrite_service::exclusive::{ExclusiveRun, ExclusiveRuns, RunKind, RunLabel};

/// A script running for this connection on a blocking thread.
pub(super) struct ScriptJob {
    pub(super) handle: tokio::task::JoinHandle<BytesMut>,
    pub(super) spec: &'static CommandSpec,
    pub(super) args: Vec<Bytes>,
    pub(super) started: std::time::Instant,
    /// Its MONITOR line was fed when it started.
    pub(super) monitor_fed: bool,
}

/// What the gate says of a command while a script runs.
pub(super) enum Gate {
    /// Run it: no script runs on this connection's cache, or the command may pass.
    Run,
    /// Hold it until the script ends (or passes the busy threshold).
    Hold,
    /// Answered BUSY.
    Busy,
}

/// The commands Redis 7.0 flags `allow_busy` (besides SCRIPT KILL, FUNCTION KILL and FUNCTION
/// STATS): they pass the gate while a script runs.
const ALLOW_BUSY: &[&str] = &[
    "auth", "discard", "hello", "multi", "quit", "reset", "shutdown", "unwatch", "watch",
];

/// What a prepared run lacks before it starts: its registration.
struct Prepared {
    target: Target,
    keys: Vec<Bytes>,
    argv: Vec<Bytes>,
    read_only: bool,
    allow_oom: bool,
}

impl Prepared {
    fn into_call(self, running: &Arc<ExclusiveRun>) -> ScriptCall {
        ScriptCall {
            target: self.target,
            keys: self.keys,
            argv: self.argv,
            read_only: self.read_only,
            allow_oom: self.allow_oom,
            running: running.clone(),
        }
    }
}

impl Session {
    /// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO outside a transaction.
    pub(super) fn eval(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        let p = match self.prepare_script(spec, args) {
            Ok(p) => p,
            Err(e) => {
                self.writer().error(&e);
                return;
            }
        };
        // MONITOR shows EVAL before the commands its script runs (Redis's order).
        let monitor_fed = self.shared.introspection.monitors.any();
        if monitor_fed {
            self.feed_monitors(args, self.db);
        }
        let guard = self.start_run(&self.cache.clone(), &p, args);
        let mut env = self.script_env();
        let call = p.into_call(&guard.run);
        if multi_thread_runtime() {
            // On this worker, as any command: most scripts take microseconds, and a hop to
            // another thread would cost more than the script. One that runs long hands this
            // worker's other work to another thread from its hook (`run::hand_off_worker`),
            // so the runtime goes on serving everyone, SCRIPT KILL included.
            env.on_worker = true;
            let (cache, base) = (env.cache.clone(), env.base.clone());
            let mut locked = cache.lock_all();
            let mut out = BytesMut::new();
            run_script(&env, &cache, &base, &mut locked, &call, &mut out);
            drop(locked);
            drop(guard);
            self.out.extend_from_slice(&out);
            if monitor_fed {
                // This command's MONITOR line went out before the script's.
                self.obs.monitor_fed = true;
            }
            return;
        }
        // A current-thread runtime has no other worker to hand work to: the script runs on a
        // blocking thread while the connection waits for it as a blocked command waits.
        let writer = self.info.id;
        let handle = tokio::task::spawn_blocking(move || {
            let _registered = guard;
            // NOLOOP: the script's writes are this client's.
            let _writer = crate::resp::tracking::writing_as(writer);
            let mut out = BytesMut::new();
            let (cache, base) = (env.cache.clone(), env.base.clone());
            let mut locked = cache.lock_all();
            run_script(&env, &cache, &base, &mut locked, &call, &mut out);
            out
        });
        // Counted (statistics, slow log, MONITOR) when it ends (`finish_script`), not now.
        self.obs.outcome = super::observe::Outcome::Queued;
        self.script = Some(ScriptJob {
            handle,
            spec,
            args: args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
            started: std::time::Instant::now(),
            monitor_fed,
        });
    }

    /// EVAL & co. queued in a transaction: run now, inside EXEC's locks.
    pub(super) fn eval_in_exec<'c>(
        &mut self,
        spec: &'static CommandSpec,
        args: &[Bytes],
        cache: &'c Arc<ferrite_storage::Cache>,
        base: &'c Arc<ferrite_storage::Cache>,
        db: usize,
        locked: &mut Locked<'c>,
    ) {
        let p = match self.prepare_script(spec, args) {
            Ok(p) => p,
            Err(e) => {
                self.writer().error(&e);
                return;
            }
        };
        let guard = self.start_run(cache, &p, args);
        let mut env = self.script_env_on(multi_thread_runtime());
        env.cache = cache.clone();
        env.db = db;
        let call = p.into_call(&guard.run);
        let mut out = BytesMut::new();
        run_script(&env, cache, base, locked, &call, &mut out);
        drop(guard);
        self.out.extend_from_slice(&out);
    }

    /// Register the script about to run on `cache` with the service's gate.
    fn start_run(
        &self,
        cache: &Arc<ferrite_storage::Cache>,
        p: &Prepared,
        args: &[Bytes],
    ) -> ferrite_service::exclusive::RunGuard {
        let (kind, name) = match &p.target {
            Target::Script { sha, .. } => (RunKind::Script, sha.clone()),
            Target::Function { name } => (RunKind::Function, name.clone()),
        };
        let label = RunLabel {
            kind,
            name,
            command: args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
        };
        self.shared
            .scripts
            .runs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ExclusiveRuns::start(
            &self.shared.service,
            cache,
            self.base.name_arc(),
            busy_threshold(&self.shared.redis_params),
            label,
        )
    }

    fn script_env(&self) -> ScriptEnv {
        self.script_env_on(false)
    }

    fn script_env_on(&self, on_worker: bool) -> ScriptEnv {
        ScriptEnv {
            shared: self.shared.clone(),
            cache: self.cache.clone(),
            base: self.base.clone(),
            db: self.db,
            client: self.info.clone(),
            principal: self.principal.clone(),
            unrestricted: self.unrestricted,
            resp3: self.resp3,
            on_worker,
        }
    }

    /// Does this tenant have a library function called `name` (FCALL's first check)?
    pub(super) fn function_exists(&self, name: &[u8]) -> bool {
        let tenant = self.shared.scripts.tenant(self.base.name_arc());
        let libs = tenant.libraries.lock();
        libs.function(&String::from_utf8_lossy(name)).is_some()
    }

    /// The script to run: its body (EVAL loads it, EVALSHA looks it up), its flags, its keys
    /// and arguments. `Err` is the error reply.
    fn prepare_script(&mut self, spec: &CommandSpec, args: &[Bytes]) -> Result<Prepared, String> {
        let tenant = self.shared.scripts.tenant(self.base.name_arc());
        let (target, flags) = if spec.name.starts_with("fcall") {
            // A library function: its registered flags, as a shebang's.
            let name = String::from_utf8_lossy(&args[1]).into_owned();
            let libs = tenant.libraries.lock();
            let (_, registered, meta) = libs
                .function(&name)
                .ok_or_else(|| crate::resp::commands::functions::ERR_NO_FUNCTION.to_string())?;
            let name = registered.to_string();
            let flags = Shebang {
                present: true,
                no_writes: meta.has("no-writes"),
                allow_oom: meta.has("allow-oom"),
            };
            if spec.name == "fcall_ro" && !flags.no_writes {
                return Err(
                    "ERR Can not execute a script with write flag using *_ro command.".into(),
                );
            }
            (Target::Function { name }, flags)
        } else {
            let (sha, body) = if spec.name.starts_with("evalsha") {
                let body = self
                    .shared
                    .scripts
                    .body(&tenant, &args[1])
                    .ok_or_else(|| ERR_NOSCRIPT.to_string())?;
                (String::from_utf8_lossy(&args[1]).to_ascii_lowercase(), body)
            } else {
                // Past maxmemory the body is not cached (that would be memory over the limit),
                // but the script still runs: EVAL is not a deny-oom command in Redis, and a
                // script without writes must work out of memory too.
                let sha = match self
                    .shared
                    .scripts
                    .load(&tenant, &args[1], &self.shared.store)
                {
                    Ok(sha) => sha,
                    Err(_) => crate::resp::scripting::sha1_hex(&args[1]),
                };
                (sha, Bytes::copy_from_slice(&args[1]))
            };
            let flags = parse_shebang(&body)?;
            (Target::Script { sha, body }, flags)
        };
        let shebang = flags;
        let read_only = spec.name.ends_with("_ro") || shebang.no_writes;
        // Room for what the script may write, made before its locks are taken (eviction takes
        // shard locks). A script with a shebang (or a function) and without `allow-oom` is
        // refused when there is none, as Redis refuses it; one without a shebang finds out per
        // command.
        let incoming: usize = args[3..].iter().map(|a| a.len()).sum();
        if !read_only
            && self.shared.store.ensure_memory(incoming as u64).is_err()
            && shebang.present
            && !shebang.allow_oom
        {
            return Err(ERR_OOM.to_string());
        }
        let numkeys = crate::resp::args::parse_i64(&args[2]).unwrap_or(0).max(0) as usize;
        let keys = args[3..3 + numkeys]
            .iter()
            .map(|a| Bytes::copy_from_slice(a))
            .collect();
        let argv = args[3 + numkeys..]
            .iter()
            .map(|a| Bytes::copy_from_slice(a))
            .collect();
        Ok(Prepared {
            target,
            keys,
            argv,
            read_only,
            allow_oom: shebang.allow_oom,
        })
    }

    /// The script this connection waited for ended: its reply, counted as the command's.
    pub(super) fn finish_script(&mut self, r: Result<BytesMut, tokio::task::JoinError>) {
        let Some(job) = self.script.take() else {
            return;
        };
        let start = self.out.len();
        match r {
            Ok(reply) => self.out.extend_from_slice(&reply),
            Err(e) => {
                tracing::error!(client = self.info.id, "script run failed: {e}");
                self.writer()
                    .error("ERR the script failed inside the server (see the server log)");
            }
        }
        let nanos = job.started.elapsed().as_nanos() as u64;
        self.obs.monitor_fed = job.monitor_fed;
        self.account_queued(job.spec, &job.args, start, nanos);
        self.obs.monitor_fed = false;
        self.meter_late_output(start);
    }

    /// While a script runs on this connection's cache: hold the command, or answer BUSY past
    /// the threshold. SCRIPT KILL, FUNCTION KILL and SHUTDOWN pass, as in Redis.
    #[cold]
    #[inline(never)]
    pub(super) fn script_gate(&mut self, args: &[Bytes], frame: u64) -> Gate {
        // Subscribed before looking: a script ending in between still wakes us.
        let rx = self.shared.exclusive.subscribe();
        let Some(running) = self.shared.exclusive.running_on(&self.cache) else {
            return Gate::Run;
        };
        // Redis's `allow_busy` commands: they run while a script holds the database.
        let passes = match args.first() {
            Some(c) => {
                ALLOW_BUSY.iter().any(|n| eq_ic(c, n))
                    || (eq_ic(c, "script") || eq_ic(c, "function"))
                        && args.get(1).is_some_and(|s| eq_ic(s, "kill"))
                    || eq_ic(c, "function") && args.get(1).is_some_and(|s| eq_ic(s, "stats"))
            }
            None => false,
        };
        if passes {
            return Gate::Run;
        }
        if running.is_busy() {
            let start = self.out.len();
            let busy = busy_error(running.label.kind);
            // Redis's rejectCommand: a refused command inside MULTI dooms the transaction, and
            // a refused EXEC aborts it.
            if args.first().is_some_and(|c| eq_ic(c, "exec")) && self.discard_transaction() {
                let msg = format!("EXECABORT Transaction discarded because of: {busy}");
                self.writer().error(&msg);
            } else {
                if let Some((_, err)) = self.multi.as_mut() {
                    *err = true;
                }
                self.writer().error(busy);
            }
            self.obs.outcome = super::observe::Outcome::Rejected;
            let spec = crate::resp::dispatch::lookup(&args[0]);
            self.account(spec, args, start, Some(0));
            return Gate::Busy;
        }
        self.obs.held = Some((
            args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
            frame,
        ));
        let until = tokio::time::Instant::now() + running.until_busy();
        self.obs.paused = Some((rx, until));
        Gate::Hold
    }

    /// SCRIPT LOAD | EXISTS | FLUSH | KILL | DEBUG | HELP, on the tenant's scripts.
    pub(super) fn script_command(&mut self, args: &[Bytes]) {
        let sub = &args[1];
        let Some(&(name, arity)) = SUBS.iter().find(|(n, _)| eq_ic(sub, n)) else {
            return unknown_subcommand(&mut self.writer(), "SCRIPT", sub);
        };
        if !arity_ok(args, arity) {
            return subcommand_arity(&mut self.writer(), &format!("script|{name}"));
        }
        let scripts = &self.shared.scripts;
        match name {
            "help" => help(&mut self.writer(), HELP),
            "load" => {
                let tenant = scripts.tenant(self.base.name_arc());
                match scripts.load(&tenant, &args[2], &self.shared.store) {
                    Ok(sha) => self.writer().bulk(sha.as_bytes()),
                    Err(e) => self.writer().error(e),
                }
            }
            "exists" => {
                let tenant = scripts.existing(self.base.name());
                let found: Vec<bool> = args[2..]
                    .iter()
                    .map(|sha| {
                        tenant
                            .as_ref()
                            .is_some_and(|t| scripts.body(t, sha).is_some())
                    })
                    .collect();
                let mut w = self.writer();
                w.array(found.len());
                for f in found {
                    w.int(f as i64);
                }
            }
            "flush" => {
                if args.len() == 3 && !(eq_ic(&args[2], "sync") || eq_ic(&args[2], "async")) {
                    return self
                        .writer()
                        .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
                }
                if args.len() > 3 {
                    return self
                        .writer()
                        .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
                }
                scripts.flush(self.base.name(), self.shared.store.budget());
                self.writer().ok();
            }
            "kill" => match self
                .shared
                .exclusive
                .kill(self.base.name(), RunKind::Script)
            {
                Ok(()) => self.writer().ok(),
                Err(r) => self.writer().error(kill_refusal(r)),
            },
            "debug" => {
                if eq_ic(&args[2], "no") {
                    self.writer().ok()
                } else if eq_ic(&args[2], "yes") || eq_ic(&args[2], "sync") {
                    self.writer()
                        .error("ERR SCRIPT DEBUG (the Lua debugger) is not supported by Ferrite")
                } else {
                    self.writer().error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
                }
            }
            _ => unreachable!("every subcommand of SUBS is handled"),
        }
    }
}

/// Whether this thread runs a multi-thread tokio runtime's worker (where
/// `block_in_place` can hand the worker's core to another thread).
fn multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}
