//! FUNCTION (LOAD, LIST, DELETE, FLUSH, STATS, KILL, DUMP, RESTORE, HELP): a tenant's Redis 7
//! function libraries (`resp::scripting::library`). FCALL and FCALL_RO are run by the
//! connection like EVAL (`resp::conn::scripting`); their rows are here.
//!
//! A scoped token may read (LIST, STATS, DUMP) and stop its tenant's running script (KILL);
//! changing the libraries (FLUSH, DELETE, LOAD, RESTORE) needs a super-user
//! (`authz::subcommand_needs_super_user`): every token of the cache calls them.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use crate::resp::args::eq_ic;
use crate::resp::commands::acl::subcommand_syntax;
use crate::resp::commands::server::help;
use crate::resp::commands::server::{arity_ok, subcommand_arity, unknown_subcommand};
use crate::resp::dispatch::{cmd, flags::*, keynum, ks::*, CommandSpec, Ctx, NO_KEYS};
use crate::resp::scripting::library;
use crate::resp::scripting::vm::ScriptVm;
use crate::resp::scripting::TenantScripts;

const G: &str = "scripting";

pub const COMMANDS: &[CommandSpec] = &[
    cmd("function", -2, ARG_ACCESS, NO_KEYS, G, function),
    // Redis: "We cannot tell how the keys will be used so we assume the worst".
    cmd(
        "fcall",
        -3,
        CONN,
        &[keynum(2, RW | ACCESS | UPDATE | OPTIONAL)],
        G,
        crate::resp::commands::connection::H,
    ),
    cmd(
        "fcall_ro",
        -3,
        CONN | READONLY,
        &[keynum(2, RO | ACCESS | OPTIONAL)],
        G,
        crate::resp::commands::connection::H,
    ),
];

/// Redis's reply to FCALL of a function it does not have.
pub const ERR_NO_FUNCTION: &str = "ERR Function not found";

/// Redis 7.0's `FUNCTION HELP`, byte for byte.
const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

/// Redis 7.0's subcommand arities.
const SUBS: &[(&str, i32)] = &[
    ("delete", 3),
    ("dump", 2),
    ("flush", -2),
    ("help", 2),
    ("kill", 2),
    ("list", -2),
    ("load", -3),
    ("restore", -3),
    ("stats", 2),
];

/// FUNCTION DUMP with no libraries: the footer alone (RDB version, CRC-64 of it).
pub fn empty_dump() -> Vec<u8> {
    ferrite_rdb::functions::dump_functions(ferrite_rdb::Thresholds::default(), std::iter::empty())
}

fn function(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let Some(&(name, arity)) = SUBS.iter().find(|(n, _)| eq_ic(sub, n)) else {
        return unknown_subcommand(w, "FUNCTION", sub);
    };
    if !arity_ok(args, arity) {
        return subcommand_arity(w, &format!("function|{name}"));
    }
    // LOAD and RESTORE are `denyoom` in Redis: refused once used memory is past the limit.
    if matches!(name, "load" | "restore") {
        let incoming: usize = args[2..].iter().map(|a| a.len()).sum();
        if ctx.shared.store.ensure_memory(incoming as u64).is_err() {
            return w.error(crate::resp::args::ERR_OOM);
        }
    }
    let tenant = ctx.shared.scripts.tenant(ctx.base.name_arc());
    match name {
        "flush" => match args.len() {
            2 => flush(ctx, &tenant, w),
            3 if eq_ic(&args[2], "async") || eq_ic(&args[2], "sync") => flush(ctx, &tenant, w),
            3 => w.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
            _ => subcommand_syntax(w, "FUNCTION", sub),
        },
        "list" => list(&tenant, args, w),
        "stats" => {
            let libs = tenant.libraries.lock();
            w.map(2);
            w.bulk(b"running_script");
            match ctx.shared.exclusive.running_on(ctx.cache) {
                Some(run) if &*run.tenant == ctx.base.name() => {
                    w.map(3);
                    w.bulk(b"name");
                    w.bulk(run.label.name.as_bytes());
                    w.bulk(b"command");
                    w.array(run.label.command.len());
                    for a in &run.label.command {
                        w.bulk(a);
                    }
                    w.bulk(b"duration_ms");
                    w.int(run.started.elapsed().as_millis() as i64);
                }
                _ => w.null(),
            }
            w.bulk(b"engines");
            w.map(1);
            w.bulk(b"LUA");
            w.map(2);
            w.bulk(b"libraries_count");
            w.int(libs.libs.len() as i64);
            w.bulk(b"functions_count");
            w.int(libs.function_count() as i64);
        }
        "delete" => {
            let lib = String::from_utf8_lossy(&args[2]).into_owned();
            let mut libs = tenant.libraries.lock();
            let before = libs.bytes();
            if libs.libs.remove(&lib).is_none() {
                return w.error("ERR Library not found");
            }
            libs.generation += 1;
            charge_libraries(ctx, before, libs.bytes());
            w.ok()
        }
        "kill" => match ctx.shared.exclusive.kill(
            ctx.base.name(),
            ferrite_service::exclusive::RunKind::Function,
        ) {
            Ok(()) => w.ok(),
            Err(r) => w.error(crate::resp::scripting::kill_refusal(r)),
        },
        "dump" => {
            let libs = tenant.libraries.lock();
            let t = ctx.shared.redis_params.rdb_thresholds();
            w.bulk(&ferrite_rdb::functions::dump_functions(
                t,
                libs.libs.values().map(|l| &l.code[..]),
            ))
        }
        "restore" => restore(ctx, &tenant, args, w),
        "load" => {
            // Redis's option parsing: every argument before the code is REPLACE.
            for a in &args[2..args.len() - 1] {
                if !eq_ic(a, "replace") {
                    return w.error(&format!(
                        "ERR Unknown option given: {}",
                        String::from_utf8_lossy(a)
                    ));
                }
            }
            let replace = args.len() > 3;
            let code = Bytes::copy_from_slice(&args[args.len() - 1]);
            match with_vm(ctx, &tenant, |vm| library::load(vm, &code)) {
                Err(e) => w.error(&e),
                Ok(loaded) => {
                    let name = loaded.library.name.clone();
                    let mut libs = tenant.libraries.lock();
                    let before = libs.bytes();
                    match libs.add(loaded.library, replace) {
                        Ok(()) => {
                            charge_libraries(ctx, before, libs.bytes());
                            w.bulk(name.as_bytes())
                        }
                        Err(e) => w.error(&e),
                    }
                }
            }
        }
        _ => help(w, HELP),
    }
}

/// Run `f` on the tenant's VM (created if needed), from a worker thread: a script of the
/// tenant holding the VM now is not waited for (BUSY).
fn with_vm<R>(
    ctx: &Ctx<'_, '_>,
    tenant: &TenantScripts,
    f: impl FnOnce(&mut ScriptVm) -> Result<R, String>,
) -> Result<R, String> {
    let Some(mut slot) = tenant.vm.try_lock() else {
        return Err(crate::resp::scripting::ERR_BUSY.into());
    };
    if slot.is_none() {
        let vm = ScriptVm::new(crate::resp::scripting::run::LUA_MEMORY_LIMIT)
            .map_err(|e| format!("ERR could not create the Lua VM: {e}"))?;
        *slot = Some(vm);
    }
    let vm = slot.as_mut().expect("created above");
    let r = f(vm);
    vm.collect();
    ctx.shared
        .scripts
        .charge_vm(vm.recharge(), ctx.shared.store.budget());
    r
}

/// The libraries' code is held in memory: the change charged to the budget (INFO
/// `used_memory_scripts`).
fn charge_libraries(ctx: &Ctx<'_, '_>, before: usize, after: usize) {
    let delta = after as isize - before as isize;
    ctx.shared
        .scripts
        .charge_bodies(delta, ctx.shared.store.budget());
}

fn flush(ctx: &Ctx<'_, '_>, tenant: &TenantScripts, w: &mut ReplyWriter<'_>) {
    let mut libs = tenant.libraries.lock();
    let before = libs.bytes();
    libs.libs.clear();
    libs.generation += 1;
    charge_libraries(ctx, before, 0);
    w.ok()
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE], each at most once (Redis's parsing).
fn list(tenant: &TenantScripts, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if !with_code && eq_ic(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(a, "libraryname") {
            if i + 1 >= args.len() {
                return w.error("ERR library name argument was not given");
            }
            pattern = Some(args[i + 1].clone());
            i += 1;
        } else {
            return w.error(&format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            ));
        }
        i += 1;
    }
    let libs = tenant.libraries.lock();
    let chosen: Vec<&library::Library> = libs
        .libs
        .values()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::resp::glob::matches(p, l.name.as_bytes()))
        })
        .collect();
    w.array(chosen.len());
    for l in chosen {
        w.map(if with_code { 4 } else { 3 });
        w.bulk(b"library_name");
        w.bulk(l.name.as_bytes());
        w.bulk(b"engine");
        w.bulk(b"LUA");
        w.bulk(b"functions");
        w.array(l.functions.len());
        for (name, meta) in &l.functions {
            w.map(3);
            w.bulk(b"name");
            w.bulk(name.as_bytes());
            w.bulk(b"description");
            match &meta.description {
                Some(d) => w.bulk(d.as_bytes()),
                None => w.null(),
            }
            w.bulk(b"flags");
            w.set(meta.flags.len());
            for f in &meta.flags {
                w.simple(f);
            }
        }
        if with_code {
            w.bulk(b"library_code");
            w.bulk(&l.code);
        }
    }
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: Redis's checks in Redis's order, then
/// every library loaded (as FUNCTION LOAD would) before any is added: all or nothing.
fn restore(ctx: &Ctx<'_, '_>, tenant: &TenantScripts, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() > 4 {
        return subcommand_syntax(w, "FUNCTION", &args[1]);
    }
    let mut policy = "append";
    if let Some(p) = args.get(3) {
        match ["append", "replace", "flush"].iter().find(|n| eq_ic(p, n)) {
            Some(n) => policy = n,
            None => return w.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        }
    }
    use ferrite_rdb::functions::{restore_functions, FunctionsError};
    let codes = match restore_functions(&args[2], args[2].len() * 100 + 4096) {
        Ok(c) => c,
        Err(FunctionsError::Decode(ferrite_rdb::DecodeError::Footer)) => {
            return w.error("ERR DUMP payload version or checksum are wrong")
        }
        Err(FunctionsError::NotAFunction) => return w.error("ERR given type is not a function"),
        Err(FunctionsError::PreGa) => return w.error("ERR Pre-GA function format not supported"),
        Err(FunctionsError::Decode(_)) => return w.error("ERR Bad data format"),
    };
    let loaded = with_vm(ctx, tenant, |vm| {
        codes
            .iter()
            .map(|c| library::load(vm, &Bytes::copy_from_slice(c)).map(|l| l.library))
            .collect::<Result<Vec<_>, String>>()
    });
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => return w.error(&e),
    };
    let mut libs = tenant.libraries.lock();
    let before = libs.bytes();
    let mut next = library::Libraries {
        generation: libs.generation + 1,
        libs: if policy == "flush" {
            Default::default()
        } else {
            libs.libs.clone()
        },
    };
    for lib in loaded {
        if !policy.eq("replace") && next.libs.contains_key(&lib.name) {
            // RESTORE's words for it (LOAD quotes the name).
            return w.error(&format!("ERR Library {} already exists", lib.name));
        }
        if let Err(e) = next.add(lib, policy == "replace") {
            return w.error(&e);
        }
    }
    next.generation = libs.generation + 1;
    *libs = next;
    charge_libraries(ctx, before, libs.bytes());
    w.ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_dump_is_redis_bytes() {
        // redis-server 7.0.15, FUNCTION DUMP after FUNCTION FLUSH.
        assert_eq!(super::empty_dump(), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
    }
}
