//! Redis 7 function libraries (FUNCTION LOAD, FCALL): a tenant's libraries, and loading one
//! into its Lua VM.
//!
//! A library is Lua code whose first line is `#!lua name=<lib>`; run once, it registers its
//! functions with `redis.register_function(name, callback)` or
//! `redis.register_function{function_name=..., callback=..., flags={...}, description=...}`.
//! The code runs in an environment of its own whose `redis` offers only registration (and
//! `log`, the constants) while it loads, then the full `redis` table: the callbacks it
//! registered see the full one when FCALL calls them.
//!
//! The registry (names, flags, code) is the source of truth; a VM holds the compiled
//! callbacks of one generation of it and reloads every library when the registry changed
//! (after LOAD, DELETE, FLUSH, RESTORE, or when SCRIPT FLUSH gave the tenant a fresh VM).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, HookTriggers, Table, Value, VmState};

use super::vm::{lua_error_text, ScriptVm};

/// How long loading a library may run (Redis 7.0's `LOAD_TIMEOUT_MS`).
pub const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// One registered function's metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionMeta {
    pub description: Option<String>,
    /// As given, in Redis's names (`no-writes`, `allow-oom`, ...).
    pub flags: Vec<String>,
}

impl FunctionMeta {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

#[derive(Clone)]
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: BTreeMap<String, FunctionMeta>,
}

/// A tenant's libraries.
#[derive(Default)]
pub struct Libraries {
    /// Bumped on every change: a VM whose callbacks are of another generation reloads.
    pub generation: u64,
    pub libs: BTreeMap<String, Library>,
}

impl Libraries {
    /// The library holding function `name`, the name as registered and the function's
    /// metadata. Function names are case-insensitive, as in Redis 7.0 (its `functionDictType`
    /// compares keys ignoring case; library names are case-sensitive).
    pub fn function(&self, name: &str) -> Option<(&Library, &str, &FunctionMeta)> {
        self.libs.values().find_map(|l| {
            l.functions
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(n, f)| (l, n.as_str(), f))
        })
    }

    pub fn function_count(&self) -> usize {
        self.libs.values().map(|l| l.functions.len()).sum()
    }

    /// Add `lib` (FUNCTION LOAD / RESTORE): with `replace`, a library of the same name is
    /// replaced; a function name another library has is refused either way.
    pub fn add(&mut self, lib: Library, replace: bool) -> Result<(), String> {
        if self.libs.contains_key(&lib.name) && !replace {
            return Err(format!("ERR Library '{}' already exists", lib.name));
        }
        for f in lib.functions.keys() {
            if let Some((other, _, _)) = self.function(f) {
                if other.name != lib.name {
                    return Err(format!("ERR Function {f} already exists"));
                }
            }
        }
        self.libs.insert(lib.name.clone(), lib);
        self.generation += 1;
        Ok(())
    }

    pub fn bytes(&self) -> usize {
        self.libs
            .values()
            .map(|l| l.code.len() + 64 * (l.functions.len() + 1))
            .sum()
    }
}

/// The library name from the code's first line (`#!lua name=<lib>`), Redis's errors otherwise.
pub fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = match ferrite_resp::split_args(&code[..end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("ERR Invalid library metadata".into()),
    };
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or_else(|| "ERR Library name was not given".to_string())?;
    if !valid_name(&name) {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    // Redis checks the engine after the name.
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok(name)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

const FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// What loading a library produced: its metadata and its compiled callbacks.
pub struct Loaded {
    pub library: Library,
    pub callbacks: Vec<(String, Function)>,
}

/// Run library `code` in `vm`: compile it in an environment of its own, run it with only
/// registration available (for at most `LOAD_TIMEOUT`), and collect what it registered.
pub fn load(vm: &ScriptVm, code: &Bytes) -> Result<Loaded, String> {
    let name = library_name(code)?;
    let lua = vm.lua.clone();
    let fail = |e: mlua::Error| format!("ERR {}", lua_error_text(&e));
    let g = lua.globals();
    // The library's globals: reads fall through to the (read-only) globals, writes fail.
    // While it loads, though, only the loading API is there (Redis's LIBRARY_API): `redis`
    // with registration, logging and the version; `math`, `redis.call` & co. are missing.
    let env = lua.create_table().map_err(fail)?;
    let env_meta = lua.create_table().map_err(fail)?;
    let loading = lua.create_table().map_err(fail)?;
    let load_api = lua.create_table().map_err(fail)?;
    let setup = || -> mlua::Result<()> {
        for k in [
            "log",
            "LOG_DEBUG",
            "LOG_VERBOSE",
            "LOG_NOTICE",
            "LOG_WARNING",
            "REDIS_VERSION",
            "REDIS_VERSION_NUM",
        ] {
            loading.raw_set(k, vm.redis.raw_get::<Value>(k)?)?;
        }
        let meta = lua.create_table()?;
        meta.raw_set("__index", vm.missing_global.clone())?;
        meta.raw_set("__newindex", vm.readonly_error.clone())?;
        loading.set_metatable(Some(meta.clone()));
        load_api.raw_set("redis", loading.clone())?;
        load_api.set_metatable(Some(meta));
        env_meta.raw_set("__index", load_api.clone())?;
        env_meta.raw_set("__newindex", vm.readonly_error.clone())?;
        env.set_metatable(Some(env_meta.clone()));
        Ok(())
    };
    setup().map_err(fail)?;
    let mut source = b"--".to_vec();
    source.extend_from_slice(code);
    let chunk = lua
        .load(&source[..])
        .set_name("@user_function")
        .set_mode(mlua::ChunkMode::Text)
        .set_environment(env.clone())
        .into_function()
        .map_err(|e| format!("ERR Error compiling function: {}", lua_error_text(&e)))?;
    let registered: std::cell::RefCell<Vec<(String, FunctionMeta, Function)>> = Default::default();
    let started = Instant::now();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(10_000),
        move |_, _| {
            if started.elapsed() > LOAD_TIMEOUT {
                Err(mlua::Error::runtime("FUNCTION LOAD timeout"))
            } else {
                Ok(VmState::Continue)
            }
        },
    );
    let result = lua.scope(|scope| {
        loading.raw_set(
            "register_function",
            scope.create_function(|_, args: mlua::MultiValue| {
                let (fname, meta, callback) = registration(args)?;
                let mut r = registered.borrow_mut();
                if r.iter().any(|(n, _, _)| *n == fname) {
                    return Err(mlua::Error::runtime(
                        "Function already exists in the library",
                    ));
                }
                r.push((fname, meta, callback));
                Ok(())
            })?,
        )?;
        chunk.call::<()>(())
    });
    lua.remove_hook();
    // A callback that kept the loading `redis` cannot register later (Redis's error).
    let after_load = || -> mlua::Result<()> {
        loading.raw_set(
            "register_function",
            lua.create_function(|_, _: mlua::MultiValue| -> mlua::Result<()> {
                Err(mlua::Error::runtime(
                    "redis.register_function can only be called on FUNCTION LOAD command",
                ))
            })?,
        )?;
        // From now on the callbacks see the globals, the full `redis` (the read-only proxy
        // scripts see) among them; nothing is set in `env` itself, so every assignment of a
        // global (`redis = ...` too) meets `__newindex`: read-only.
        env_meta.raw_set("__index", g.clone())
    };
    after_load().map_err(fail)?;
    if let Err(e) = result {
        return Err(format!(
            "ERR Error registering functions: ERR {}",
            lua_error_text(&e)
        ));
    }
    let registered = registered.into_inner();
    if registered.is_empty() {
        return Err("ERR No functions registered".into());
    }
    let mut functions = BTreeMap::new();
    let mut callbacks = Vec::new();
    for (fname, meta, f) in registered {
        functions.insert(fname.clone(), meta);
        callbacks.push((fname, f));
    }
    Ok(Loaded {
        library: Library {
            name,
            code: code.clone(),
            functions,
        },
        callbacks,
    })
}

/// The arguments of `redis.register_function`: (name, callback) or a table of named fields.
fn registration(args: mlua::MultiValue) -> mlua::Result<(String, FunctionMeta, Function)> {
    let args: Vec<Value> = args.into_iter().collect();
    let (name, callback, meta) = match args.as_slice() {
        [Value::Table(t)] => named_registration(t)?,
        [name, callback] => {
            let Value::String(n) = name else {
                return Err(mlua::Error::runtime(
                    "first argument to redis.register_function must be a string",
                ));
            };
            let Value::Function(f) = callback else {
                return Err(mlua::Error::runtime(
                    "second argument to redis.register_function must be a function",
                ));
            };
            (n.to_string_lossy(), f.clone(), FunctionMeta::default())
        }
        [_] => {
            return Err(mlua::Error::runtime(
                "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
            ))
        }
        _ => {
            return Err(mlua::Error::runtime(
                "wrong number of arguments to redis.register_function",
            ))
        }
    };
    if !valid_name(&name) {
        // Redis 7.0 says "Library" here too (functionLibCreateFunction).
        return Err(mlua::Error::runtime("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    Ok((name, meta, callback))
}

fn named_registration(t: &Table) -> mlua::Result<(String, Function, FunctionMeta)> {
    let mut name = None;
    let mut callback = None;
    let mut meta = FunctionMeta::default();
    for pair in t.clone().pairs::<String, Value>() {
        let (k, v) = pair?;
        match (k.as_str(), v) {
            ("function_name", Value::String(s)) => name = Some(s.to_string_lossy()),
            ("callback", Value::Function(f)) => callback = Some(f),
            ("description", Value::String(s)) => meta.description = Some(s.to_string_lossy()),
            ("flags", Value::Table(flags)) => {
                for f in flags.sequence_values::<Value>() {
                    let f = match f? {
                        Value::String(f) => f.to_string_lossy(),
                        Value::Integer(n) => n.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(mlua::Error::runtime("unknown flag given")),
                    };
                    // Case-insensitive, as Redis compares them.
                    let Some(known) = FLAGS.iter().find(|k| k.eq_ignore_ascii_case(&f)) else {
                        return Err(mlua::Error::runtime("unknown flag given"));
                    };
                    meta.flags.push(known.to_string());
                }
            }
            ("function_name", _) => return Err(mlua::Error::runtime("function_name argument given to redis.register_function must be a string")),
            ("callback", _) => return Err(mlua::Error::runtime("callback argument given to redis.register_function must be a function")),
            ("description", _) => return Err(mlua::Error::runtime("description argument given to redis.register_function must be a string")),
            ("flags", _) => return Err(mlua::Error::runtime("flags argument to redis.register_function must be a table representing function flags")),
            (other, _) => return Err(mlua::Error::runtime(format!("unknown argument given to redis.register_function: {other}"))),
        }
    }
    let name = name.ok_or_else(|| {
        mlua::Error::runtime("redis.register_function must get a function name argument")
    })?;
    let callback = callback.ok_or_else(|| {
        mlua::Error::runtime("redis.register_function must get a callback argument")
    })?;
    Ok((name, callback, meta))
}
