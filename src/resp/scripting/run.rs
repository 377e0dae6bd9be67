//! One script run: KEYS and ARGV, `redis.call` / `redis.pcall` through the command table with
//! the caller's permissions, the SCRIPT KILL hook, and Redis's error text.
//!
//! The caller holds every shard of the cache (`Locked`), so the commands the script calls run
//! as a transaction's do (`Ctx::exec`): atomic, and nothing else reaches the cache meanwhile.
//! Each command goes through the checks a client's would: it exists, its arity, it is allowed
//! in scripts, its keys' `numkeys`, the caller's token permits it (`resp::authz::authorize`,
//! the rule every protocol's requests pass), it does not write from a read-only script, and a
//! command that may grow memory does not when the budget is full (eviction is not possible
//! here: it would take the shards this script holds).

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrite_resp::ReplyWriter;
use ferrite_storage::{Cache, Locked};
use mlua::{HookTriggers, Lua, MultiValue, Table, Value, VmState};

use super::convert::{format_g14, lua_to_reply, reply_to_lua};
use super::vm::{lua_error_text, ScriptVm};
use crate::resp::args::eq_ic;
use crate::resp::client::ClientInfo;
use crate::resp::dispatch::{flags, lookup, CommandSpec, Ctx};
use crate::shared::Shared;
use ferrite_service::exclusive::ExclusiveRun;

/// How much memory one tenant's Lua VM may use (its compiled scripts and what a run builds).
pub const LUA_MEMORY_LIMIT: usize = 64 << 20;

/// Lua instructions between two looks at SCRIPT KILL.
const HOOK_EVERY: u32 = 10_000;

pub const ERR_KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// Who runs the script and where: owned, so the run can move to a blocking thread.
pub struct ScriptEnv {
    pub shared: Arc<Shared>,
    pub cache: Arc<Cache>,
    pub base: Arc<Cache>,
    pub db: usize,
    pub client: Arc<ClientInfo>,
    pub principal: Option<ferrite_auth::Principal>,
    /// A super-user (or auth mode `none`): no per-command permission checks.
    pub unrestricted: bool,
    /// The caller's protocol: the script's result is written in it.
    pub resp3: bool,
    /// The script runs on a worker thread of the multi-thread runtime (`run_inline`): once it
    /// has run a while, its hook hands the worker's other tasks to another thread.
    pub on_worker: bool,
}

/// When a script running on a worker thread hands that worker's other tasks (its run queue,
/// the connections it serves) to another thread: after this long, then again at each later
/// mark while it runs (a hand-off that found no thread ready is tried again).
const HANDOFF_AT: [Duration; 4] = [
    Duration::from_millis(2),
    Duration::from_millis(50),
    Duration::from_millis(500),
    Duration::from_secs(5),
];

/// Hand the current worker's core to another thread (`tokio::task::block_in_place`): the
/// runtime goes on serving everyone else, SCRIPT KILL included, while this thread finishes the
/// script. The pause gives the blocking-pool thread that takes the core time to start; if it
/// did not, the core comes back and a later mark tries again.
fn hand_off_worker() {
    tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(1)));
}

/// A script (EVAL, EVALSHA) or a library function (FCALL).
pub enum Target {
    Script { sha: String, body: Bytes },
    Function { name: String },
}

/// How far past `maxmemory` an `allow-oom` script may write: Redis lets it write without limit;
/// Ferrite keeps a bound (a sixteenth of the limit, at least 1 MiB) so no script can make the
/// server die of memory.
pub fn oom_headroom(limit: u64) -> u64 {
    (limit / 16).max(1 << 20)
}

/// What to run.
pub struct ScriptCall {
    pub target: Target,
    pub keys: Vec<Bytes>,
    pub argv: Vec<Bytes>,
    /// EVAL_RO / EVALSHA_RO, or the `no-writes` shebang flag: write commands are refused.
    pub read_only: bool,
    /// The `allow-oom` flag: its writes may go past `maxmemory`, within [`oom_headroom`].
    pub allow_oom: bool,
    pub running: Arc<ExclusiveRun>,
}

/// A script's shebang flags (`#!lua flags=no-writes,allow-oom`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shebang {
    pub present: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
}

/// Parse the shebang line, as Redis 7.0's `evalExtractShebangFlags`.
pub fn parse_shebang(body: &[u8]) -> Result<Shebang, String> {
    if !body.starts_with(b"#!") {
        return Ok(Shebang::default());
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    // Redis compares the line's first word, "#!" included, with "#!lua".
    let engine = if line.starts_with(' ') {
        ""
    } else {
        parts.next().unwrap_or("")
    };
    if engine != "lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: #!{engine}"
        ));
    }
    let mut s = Shebang {
        present: true,
        ..Shebang::default()
    };
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => s.no_writes = true,
                "allow-oom" => s.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok(s)
}

/// The `redis` functions that need no run: sha1hex, error_reply, status_reply, log, the
/// replication no-ops and the constants. `call`, `pcall`, `setresp` and `acl_check_cmd` are
/// set by each run (they reach its shards and permissions).
pub fn install_redis_statics(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::external(RedisLibError(
                    "wrong number of arguments",
                )));
            }
            let v = &args[0];
            // lua_tolstring: strings and numbers; anything else hashes as no bytes.
            let bytes = match v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => format_g14(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(super::sha1_hex(&bytes))
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, s: mlua::String| {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(error_reply_text(&s.as_bytes()))?)?;
            Ok(t)
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, s: mlua::String| {
            let t = lua.create_table()?;
            t.raw_set("ok", s)?;
            Ok(t)
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, (level, parts): (i64, mlua::Variadic<mlua::String>)| {
            let text: Vec<String> = parts.iter().map(|p| p.to_string_lossy()).collect();
            let text = text.join(" ");
            match level {
                3 => tracing::warn!(target: "ferrite::script", "{text}"),
                2 => tracing::info!(target: "ferrite::script", "{text}"),
                _ => tracing::debug!(target: "ferrite::script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    // Effects replication is the only mode (Redis 7): these are accepted and change nothing.
    redis.raw_set("set_repl", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    redis.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set(
        "setresp",
        lua.create_function(|lua, n: i64| {
            if n != 2 && n != 3 {
                return Err(mlua::Error::external(RedisLibError(
                    "RESP version must be 2 or 3.",
                )));
            }
            if let Some(r) = lua.app_data_ref::<RunInfo>() {
                r.resp3.set(n == 3);
            }
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "acl_check_cmd",
        lua.create_function(|lua, args: MultiValue| {
            let args = call_args(args).map_err(mlua::Error::runtime)?;
            let Some(spec) = lookup(&args[0]) else {
                return Err(mlua::Error::runtime(
                    "Invalid command passed to redis.acl_check_cmd()",
                ));
            };
            let Some(r) = lua.app_data_ref::<RunInfo>() else {
                return Ok(false);
            };
            if r.unrestricted {
                return Ok(true);
            }
            Ok(r.principal
                .as_ref()
                .is_some_and(|p| crate::resp::authz::authorize(p, &r.cache, spec, &args).is_ok()))
        })?,
    )?;
    for (name, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, v)?;
    }
    redis.raw_set("REDIS_VERSION", crate::REDIS_COMPAT_VERSION)?;
    redis.raw_set(
        "REDIS_VERSION_NUM",
        version_num(crate::REDIS_COMPAT_VERSION),
    )?;
    // SAFETY: both are plain C functions of the Lua API (see `redis_call`).
    #[allow(unsafe_code)]
    unsafe {
        redis.raw_set("call", lua.create_c_function(redis_call)?)?;
        redis.raw_set("pcall", lua.create_c_function(redis_pcall)?)?;
    }
    Ok(())
}

/// `redis.error_reply`'s text, as Redis 7.0's `luaPushErrorBuff` makes it: "CODE msg" when the
/// text has a space (a leading '-' dropped), else "ERR <text>"; line breaks at the ends trimmed.
fn error_reply_text(s: &[u8]) -> Vec<u8> {
    let s = s.strip_prefix(b"-").unwrap_or(s);
    let (code, msg): (&[u8], &[u8]) = match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (b"ERR", s),
    };
    let trim = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = msg.iter().position(|b| !trim(b)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|b| !trim(b)).map_or(start, |i| i + 1);
    let mut out = code.to_vec();
    out.push(b' ');
    out.extend_from_slice(&msg[start..end.max(start)]);
    out
}

/// Where each run puts its `redis.call` implementation (a scoped Rust function returning the
/// reply and whether it is an error), in the Lua registry.
const CALL_KEY: &std::ffi::CStr = c"ferrite.redis_call";

/// Call the run's implementation with this call's arguments; leaves (reply, failed) on the
/// stack.
///
/// # Safety
/// Called by Lua as a C function, with the run's implementation in the registry.
#[allow(unsafe_code)]
unsafe fn call_implementation(state: *mut mlua::ffi::lua_State) {
    use mlua::ffi;
    let mut nargs = ffi::lua_gettop(state);
    if nargs > PACKED_ARGS_OVER {
        // Many arguments (`redis.call('lpush', k, unpack(t))`): mlua's callback needs stack
        // room above them that Lua 5.1's C stack limit (8000 slots) may not leave, so they go
        // in one table, behind the marker only this function can make (a light userdata).
        ffi::lua_createtable(state, nargs, 1);
        for i in 1..=nargs {
            ffi::lua_pushvalue(state, i);
            ffi::lua_rawseti(state, -2, i as _);
        }
        ffi::lua_pushinteger(state, nargs as _);
        ffi::lua_setfield(state, -2, c"n".as_ptr());
        ffi::lua_replace(state, 1);
        ffi::lua_settop(state, 1);
        ffi::lua_pushlightuserdata(state, packed_marker());
        ffi::lua_insert(state, 1);
        nargs = 2;
    }
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, CALL_KEY.as_ptr());
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, 2);
}

/// Past this many, `redis.call`'s arguments reach the implementation packed in a table.
const PACKED_ARGS_OVER: std::ffi::c_int = 64;

/// The light userdata that says "the next argument is the packed arguments".
fn packed_marker() -> *mut std::ffi::c_void {
    CALL_KEY.as_ptr() as *mut std::ffi::c_void
}

/// `redis.call`: the reply, or the error reply raised as a Lua error whose value is the
/// `{err=...}` table (what `pcall(redis.call, ...)` hands a script in Redis).
///
/// A C function rather than a Rust callback or a Lua wrapper: an mlua callback can only raise
/// its own error userdata, not a table; and `return redis.call(...)` tail-calls a Lua wrapper,
/// dropping the script's frame and with it the line Redis's error text names (a C function's
/// caller keeps its frame).
///
/// # Safety
/// Called by Lua as a C function. It holds no Rust values with destructors, so the longjmp of
/// `lua_error` (or of an error inside the implementation) crosses no drop.
#[allow(unsafe_code)]
unsafe extern "C-unwind" fn redis_call(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    call_implementation(state);
    if ffi::lua_toboolean(state, -1) != 0 {
        ffi::lua_pop(state, 1);
        ffi::lua_error(state);
    }
    ffi::lua_pop(state, 1);
    1
}

/// `redis.pcall`: the reply, an error reply as the `{err=...}` table.
///
/// # Safety
/// As `redis_call`.
#[allow(unsafe_code)]
unsafe extern "C-unwind" fn redis_pcall(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    call_implementation(state);
    ffi::lua_pop(state, 1);
    1
}

/// Redis's error handler (made once per VM): a string error becomes `{err='ERR ' .. msg}`,
/// and the line it happened on is recorded for the reply.
pub fn error_handler(lua: &Lua) -> mlua::Result<mlua::Function> {
    lua.create_function(|lua, e: Value| {
        let line = script_line(lua);
        let t = match e {
            Value::Table(t) => t,
            Value::String(s) => {
                let t = lua.create_table()?;
                t.raw_set("err", format!("ERR {}", s.to_string_lossy()))?;
                t
            }
            Value::Error(e) => {
                // Raised by a library function (cjson, cmsgpack, struct, bit): Lua's
                // `luaL_error` names the calling line, as Redis's C libraries do; the `redis`
                // library's own errors do not.
                let t = lua.create_table()?;
                if is_redis_lib_error(&e) {
                    t.raw_set("err", format!("ERR {}", lua_error_text(&e)))?;
                } else {
                    let (chunk, at) = script_position(lua);
                    t.raw_set("err", format!("ERR {chunk}:{at}: {}", lua_error_text(&e)))?;
                }
                t
            }
            other => {
                let t = lua.create_table()?;
                let s = lua.coerce_string(other)?.map(|s| s.to_string_lossy());
                t.raw_set("err", format!("ERR {}", s.unwrap_or_default()))?;
                t
            }
        };
        if t.raw_get::<Value>("line")?.is_nil() {
            t.raw_set("line", line)?;
        }
        Ok(t)
    })
}

/// "7.0.15" → 0x00070f.
fn version_num(v: &str) -> i64 {
    let mut n = 0i64;
    for part in v.split('.').take(3) {
        n = (n << 8) | part.parse::<i64>().unwrap_or(0);
    }
    n
}

/// Redis 7.0's `noscript` commands (COMMAND INFO's flag): refused from scripts with "This Redis
/// command is not allowed from script". Container commands are listed by subcommand below.
const NOSCRIPT: &[&str] = &[
    "auth",
    "bgrewriteaof",
    "bgsave",
    "blmove",
    "blpop",
    "brpop",
    "brpoplpush",
    "bzpopmax",
    "bzpopmin",
    "debug",
    "discard",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "failover",
    "fcall",
    "fcall_ro",
    "hello",
    "monitor",
    "multi",
    "psubscribe",
    "psync",
    "punsubscribe",
    "quit",
    "replconf",
    "replicaof",
    "reset",
    "role",
    "save",
    "shutdown",
    "slaveof",
    "ssubscribe",
    "subscribe",
    "sunsubscribe",
    "sync",
    "unsubscribe",
    "unwatch",
    "wait",
    "watch",
];

/// Containers whose every subcommand but HELP is `noscript` in Redis 7.0.
const NOSCRIPT_CONTAINERS: &[&str] = &[
    "config", "script", "client", "acl", "function", "module", "latency",
];

fn not_allowed_from_script(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if spec.name == "select" {
        // A connection command, but scripts may call it (CallState::call runs it).
        return false;
    }
    if NOSCRIPT.contains(&spec.name) || spec.has(flags::CONN) {
        return true;
    }
    if NOSCRIPT_CONTAINERS.contains(&spec.name) {
        return !args
            .get(1)
            .is_some_and(|s| crate::resp::args::eq_ic(s, "help"));
    }
    spec.name == "cluster"
        && args
            .get(1)
            .is_some_and(|s| crate::resp::args::eq_ic(s, "reset"))
}

/// What `redis.call` reaches during one run.
struct CallState<'l, 'c> {
    env: &'l ScriptEnv,
    /// The cache the shards in `locked` belong to, and database 0's (`Ctx`'s lifetimes).
    cache: &'c Arc<Cache>,
    base: &'c Arc<Cache>,
    locked: &'l mut Locked<'c>,
    running: &'l ExclusiveRun,
    read_only: bool,
    allow_oom: bool,
    scratch: BytesMut,
    /// Engine time when the script started: every command it runs sees this time.
    started_ms: u64,
    /// The script's declared keys, and whether they are remembered for the caller's CLIENT
    /// TRACKING yet (at its first read-only command, as Redis tracks them).
    keys: &'l [Bytes],
    keys_tracked: bool,
    /// After `redis.call('select', n)` of another database: n and its cache. Its shards are
    /// locked per command (`lock_other`), not for the whole script.
    selected: Option<(usize, Arc<Cache>)>,
}

/// What the `redis` functions made once per VM need of the run in progress (Lua app data).
pub struct RunInfo {
    /// `redis.setresp(3)`: commands reply in RESP3 and booleans convert as RESP3's.
    pub resp3: std::cell::Cell<bool>,
    pub principal: Option<ferrite_auth::Principal>,
    pub cache: Arc<str>,
    pub unrestricted: bool,
}

/// The error table `{err=msg}`.
fn err_table(lua: &Lua, msg: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok(Value::Table(t))
}

/// The arguments of a `redis.call`: strings and numbers (as Lua writes numbers, `%.14g`).
fn arg_bytes(v: Value) -> Result<Bytes, &'static str> {
    Ok(match v {
        Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
        Value::Integer(n) => Bytes::from(n.to_string()),
        Value::Number(n) => Bytes::from(format_g14(n)),
        _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
    })
}

fn call_args(args: MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if let (2, Some(Value::LightUserData(m)), Some(Value::Table(t))) =
        (args.len(), args.front(), args.back())
    {
        if m.0 == packed_marker() {
            let n: i64 = t.raw_get("n").unwrap_or(0);
            let mut out = Vec::with_capacity(n as usize);
            for i in 1..=n {
                let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
                out.push(arg_bytes(v)?);
            }
            return Ok(out);
        }
    }
    let mut out = Vec::with_capacity(args.len());
    for v in args {
        out.push(arg_bytes(v)?);
    }
    if out.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    Ok(out)
}

impl CallState<'_, '_> {
    /// Why the command may not run from this script, if it may not.
    fn refuse(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Option<String> {
        if !spec.arity_ok(args.len()) {
            return Some("ERR Wrong number of args calling Redis command from script".into());
        }
        let deny_disabled = self
            .env
            .shared
            .scripts
            .deny_disabled
            .load(Ordering::Relaxed);
        let deny = if deny_disabled {
            spec.has(flags::CONN) && spec.name != "select"
        } else {
            not_allowed_from_script(spec, args)
        };
        if deny {
            return Some("ERR This Redis command is not allowed from script".into());
        }
        if matches!(spec.name, "xread" | "xreadgroup") {
            // Redis's stream commands refuse BLOCK from scripts (where they cannot wait).
            let options = args[1..].iter().take_while(|a| !eq_ic(a, "streams"));
            if options.clone().any(|a| eq_ic(a, "block")) {
                return Some(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(&args[0])
                ));
            }
        }
        let mut other_dbs = Vec::new();
        crate::resp::commands::databases::named_dbs(args, &mut other_dbs);
        if !other_dbs.is_empty() && spec.name != "select" {
            return Some(format!(
                "ERR {} naming another database is not supported inside scripts by Ferrite",
                spec.name.to_ascii_uppercase()
            ));
        }
        if spec.movable {
            if let Err(e) = spec.check_keys(args) {
                return Some(spec.keys_error(e));
            }
        }
        if !self.env.unrestricted {
            let Some(p) = &self.env.principal else {
                return Some("NOAUTH Authentication required.".into());
            };
            let cache = match &self.selected {
                Some((_, c)) => c.name(),
                None => self.env.cache.name(),
            };
            if let Err(r) = crate::resp::authz::authorize(p, cache, spec, args) {
                return Some(format!("NOPERM {}", r.denied));
            }
        }
        // Redis's `may_replicate` commands count as writes for read-only scripts.
        let may_replicate = matches!(spec.name, "publish" | "spublish" | "pfcount");
        if self.read_only && (spec.has(flags::WRITE) || may_replicate) {
            return Some("ERR Write commands are not allowed from read-only scripts.".into());
        }
        if spec.has(flags::WRITE) && spec.has(flags::DENYOOM) {
            let incoming: usize = args[1..].iter().map(|a| a.len()).sum();
            let budget = self.env.shared.store.budget();
            let headroom = if self.allow_oom {
                oom_headroom(budget.limit())
            } else {
                0
            };
            if budget.used().saturating_add(incoming as u64)
                > budget.limit().saturating_add(headroom)
            {
                return Some(crate::resp::args::ERR_OOM.into());
            }
        }
        None
    }

    /// CLIENT TRACKING of a script: once it runs a read-only command, the keys it declared are
    /// remembered for its caller (Redis's rule; the keys its commands name are not). Under the
    /// script's locks, so no write can slip in before they are remembered.
    fn track_declared_keys(&self) {
        let env = self.env;
        if env.shared.tracking.any() && crate::resp::tracking::tracks_reads_now(&env.client) {
            let cache = self.cache.name_arc().clone();
            for key in self.keys {
                env.shared.tracking.remember(env.client.id, &cache, key);
            }
        }
    }

    /// Run one command for the script: its reply as a Lua value, and whether it is an error.
    fn call(&mut self, lua: &Lua, args: MultiValue) -> mlua::Result<(Value, bool)> {
        let args = match call_args(args) {
            Ok(a) => a,
            Err(e) => return Ok((err_table(lua, e)?, true)),
        };
        let Some(spec) = lookup(&args[0]) else {
            return Ok((
                err_table(lua, "ERR Unknown Redis command called from script")?,
                true,
            ));
        };
        let stats = &self.env.shared.introspection.commands;
        let slot = crate::resp::introspection::command_stats::slot_of(spec, &args);
        if let Some(msg) = self.refuse(spec, &args) {
            if let Some(slot) = slot {
                stats.record_rejected(slot);
            }
            return Ok((err_table(lua, &msg)?, true));
        }
        if spec.name == "select" {
            // Redis 7: the script's later commands run in that database; the caller's stays.
            let n = crate::resp::commands::databases::parse_db(
                &args[1],
                crate::resp::args::ERR_NOT_INT,
            )
            .and_then(|n| {
                crate::resp::commands::databases::db_cache(
                    &self.env.shared,
                    self.env.principal.as_ref(),
                    self.base,
                    n,
                )
                .map(|c| (n, c))
            });
            return match n {
                Ok((n, c)) => {
                    self.selected = (!Arc::ptr_eq(&c, self.cache)).then_some((n, c));
                    let t = lua.create_table()?;
                    t.raw_set("ok", "OK")?;
                    Ok((Value::Table(t), false))
                }
                Err(e) => Ok((err_table(lua, &e)?, true)),
            };
        }
        let started = std::time::Instant::now();
        if spec.has(flags::WRITE) {
            self.running.wrote.store(true, Ordering::Release);
        }
        if spec.has(flags::READONLY) && !self.keys_tracked {
            self.keys_tracked = true;
            self.track_declared_keys();
        }
        let db = self.selected.as_ref().map_or(self.env.db, |(n, _)| *n);
        let monitors = &self.env.shared.introspection.monitors;
        if monitors.any() {
            // Redis's line for a script's command: the client is `lua`.
            let micros = crate::resp::conn::unix_micros();
            monitors.feed(crate::resp::introspection::monitor::line(
                micros,
                db,
                "lua",
                &args,
                |_| false,
            ));
        }
        self.scratch.clear();
        let resp3 = lua.app_data_ref::<RunInfo>().is_some_and(|r| r.resp3.get());
        {
            let env = self.env;
            let mut block = None;
            let publisher = env
                .principal
                .as_ref()
                .map(|p| p.token_id())
                .filter(|id| !id.is_empty());
            let mut w = ReplyWriter::new(&mut self.scratch, resp3);
            // One Ctx per branch: `exec`'s `&mut Locked<'c>` fixes the caches' lifetime.
            macro_rules! run_in {
                ($cache:expr, $base:expr, $locked:expr) => {{
                    let mut ctx = Ctx {
                        shared: &env.shared,
                        cache: $cache,
                        base: $base,
                        db,
                        // The script's clock stands still while it runs (Redis 7): a key does not
                        // expire between two of its commands.
                        now: self.started_ms,
                        client: &env.client,
                        resp3,
                        exec: Some($locked),
                        exec_dbs: None,
                        may_block: false,
                        retry: false,
                        block: &mut block,
                        publisher,
                        principal: env.principal.as_ref(),
                        in_script: true,
                    };
                    (spec.handler)(&mut ctx, &args, &mut w);
                }};
            }
            match self.selected.clone() {
                None => run_in!(self.cache, self.base, &mut *self.locked),
                Some((_, other)) => {
                    let base = self.base.clone();
                    let Some(mut l) = lock_other(self.cache, &other) else {
                        let e = crate::resp::scripting::ERR_BUSY_OTHER_DB;
                        return Ok((err_table(lua, e)?, true));
                    };
                    run_in!(&other, &base, &mut l)
                }
            }
        }
        let failed = self.scratch.first() == Some(&b'-');
        // INFO commandstats counts a script's commands too, as Redis does.
        if let Some(slot) = slot {
            stats.record_calls(slot, started.elapsed().as_nanos() as u64, 1);
            if failed {
                stats.record_failed(slot);
            }
        }
        let mut pos = 0;
        let v = reply_to_lua(lua, &self.scratch, &mut pos)?;
        Ok((v, failed))
    }
}

/// Lock every shard of `other`, a database the script SELECTed, while the script holds `held`'s.
/// In the lock order across caches (by name) it simply waits; against the order it only tries,
/// for up to a second, so a holder of `other` waiting for `held` cannot deadlock with us.
fn lock_other<'o>(held: &Cache, other: &'o Cache) -> Option<Locked<'o>> {
    if other.name() > held.name() {
        return Some(other.lock_all());
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        if let Some(l) = other.try_lock_all() {
            return Some(l);
        }
        if std::time::Instant::now() >= until {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// An error of the `redis` library itself: Redis raises those without a position.
#[derive(Debug)]
struct RedisLibError(&'static str);

impl std::fmt::Display for RedisLibError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for RedisLibError {}

fn is_redis_lib_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::CallbackError { cause, .. } => is_redis_lib_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<RedisLibError>().is_some(),
        _ => false,
    }
}

/// The user-script line executing now: the innermost frame of the script's own chunk.
fn script_line(lua: &Lua) -> i32 {
    script_position(lua).1
}

/// The user chunk executing now (`user_script` or `user_function`) and its line.
fn script_position(lua: &Lua) -> (&'static str, i32) {
    for level in 0..32 {
        let Some(d) = lua.inspect_stack(level) else {
            break;
        };
        match d.source().source.as_deref() {
            Some("@user_script") => return ("user_script", d.curr_line()),
            Some("@user_function") => return ("user_function", d.curr_line()),
            _ => {}
        }
    }
    ("user_script", 0)
}

/// Run the script, writing its reply (or its error, in Redis's words) into `out`.
pub fn run_script<'c>(
    env: &ScriptEnv,
    cache: &'c Arc<Cache>,
    base: &'c Arc<Cache>,
    locked: &mut Locked<'c>,
    call: &ScriptCall,
    out: &mut BytesMut,
) {
    let tenant = env.shared.scripts.tenant(env.base.name_arc());
    let mut vm_slot = tenant.vm.lock();
    if tenant.reset.swap(false, Ordering::AcqRel) {
        // SCRIPT FLUSH ran while a script of the tenant held the VM: a fresh one now.
        if let Some(old) = vm_slot.take() {
            env.shared
                .scripts
                .uncharge_vm(&old, env.shared.store.budget());
        }
    }
    if vm_slot.is_none() {
        match ScriptVm::new(LUA_MEMORY_LIMIT) {
            Ok(vm) => *vm_slot = Some(vm),
            Err(e) => {
                let msg = format!("ERR could not create the Lua VM: {}", lua_error_text(&e));
                ReplyWriter::new(out, env.resp3).error(&msg);
                return;
            }
        }
    }
    let vm = vm_slot.as_mut().expect("created above");
    let result = run_in(vm, env, cache, base, locked, call);
    let mut w = ReplyWriter::new(out, env.resp3);
    match result {
        Ok((v, script_resp3)) => lua_to_reply(&v, script_resp3, &mut w),
        Err(msg) => w.error(&super::convert::error_line(&msg)),
    }
    // Keep the VM small between runs, and its memory counted.
    vm.tidy();
    env.shared
        .scripts
        .charge_vm(vm.recharge(), env.shared.store.budget());
}

/// The script's result and whether it set RESP3, or the error reply's text.
fn run_in<'c>(
    vm: &mut ScriptVm,
    env: &ScriptEnv,
    cache: &'c Arc<Cache>,
    base: &'c Arc<Cache>,
    locked: &mut Locked<'c>,
    call: &ScriptCall,
) -> Result<(Value, bool), String> {
    let (f, label, source) = match &call.target {
        Target::Script { sha, body } => (vm.function(sha, body)?, sha.as_str(), "@user_script"),
        Target::Function { name } => {
            let tenant = env.shared.scripts.tenant(env.base.name_arc());
            let libs = tenant.libraries.lock();
            (
                vm.library_function(&libs, name)?,
                name.as_str(),
                "@user_function",
            )
        }
    };
    let is_function = matches!(call.target, Target::Function { .. });
    let lua = vm.lua.clone();
    let fail = |e: mlua::Error| format!("ERR {}", lua_error_text(&e));
    let g = lua.globals();
    let seq = |items: &[Bytes]| -> mlua::Result<Table> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, k) in items.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(k)?)?;
        }
        Ok(t)
    };
    let keys = seq(&call.keys).map_err(fail)?;
    let argv = seq(&call.argv).map_err(fail)?;
    if !is_function {
        // Scripts read them as globals; a function gets them as its arguments.
        g.raw_set("KEYS", keys.clone()).map_err(fail)?;
        g.raw_set("ARGV", argv.clone()).map_err(fail)?;
    }
    let running = call.running.clone();
    let on_worker = env.on_worker;
    let next_handoff = std::cell::Cell::new(0usize);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, _| {
            if running.kill.load(Ordering::Acquire) {
                return Err(mlua::Error::runtime(ERR_KILLED));
            }
            let i = next_handoff.get();
            if on_worker && i < HANDOFF_AT.len() && running.started.elapsed() >= HANDOFF_AT[i] {
                next_handoff.set(i + 1);
                hand_off_worker();
            }
            Ok(VmState::Continue)
        },
    );
    let state = RefCell::new(CallState {
        env,
        cache,
        base,
        locked,
        running: &call.running,
        read_only: call.read_only,
        allow_oom: call.allow_oom,
        scratch: BytesMut::new(),
        started_ms: env.shared.store.now_ms(),
        keys: &call.keys,
        keys_tracked: false,
        selected: None,
    });
    lua.set_app_data(RunInfo {
        resp3: std::cell::Cell::new(false),
        principal: env.principal.clone(),
        cache: env.cache.name_arc().clone(),
        unrestricted: env.unrestricted,
    });
    let outcome = lua.scope(|scope| {
        lua.set_named_registry_value(
            CALL_KEY.to_str().expect("ASCII"),
            scope.create_function(|lua, args: MultiValue| state.borrow_mut().call(lua, args))?,
        )?;
        if is_function {
            vm.call_with
                .call::<MultiValue>((f, vm.error_handler.clone(), keys, argv))
        } else {
            vm.xpcall.call::<MultiValue>((f, vm.error_handler.clone()))
        }
    });
    lua.remove_hook();
    let _ = lua.set_named_registry_value(CALL_KEY.to_str().expect("ASCII"), Value::Nil);
    let resp3 = lua.app_data_ref::<RunInfo>().is_some_and(|r| r.resp3.get());
    lua.remove_app_data::<RunInfo>();
    let mut values = outcome.map_err(fail)?.into_iter();
    let ok = matches!(values.next(), Some(Value::Boolean(true)));
    let first = values.next().unwrap_or(Value::Nil);
    if ok {
        return Ok((first, resp3));
    }
    // The error table from the handler.
    let (err, line) = match &first {
        Value::Table(t) => {
            let err = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => "ERR unknown error".into(),
            };
            (err, t.raw_get::<i64>("line").unwrap_or(0))
        }
        other => (format!("ERR {other:?}"), 0),
    };
    let err = if call.running.kill.load(Ordering::Acquire) {
        ERR_KILLED.to_string()
    } else {
        err
    };
    Err(format!("{err} script: {label}, on {source}:{line}."))
}
