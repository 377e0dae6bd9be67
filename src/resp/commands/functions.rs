//! FUNCTION, FCALL and FCALL_RO before Ferrite runs scripts: the answers Redis 7.0 gives a
//! server with no libraries loaded, so tools and test suites that clean up with FUNCTION FLUSH
//! (Redis's own suite does before every unit), list, dump or restore an empty library set work.
//!
//! - FLUSH → OK; LIST → empty; STATS → no running script, the LUA engine with no libraries;
//!   DELETE → "Library not found"; KILL → NOTBUSY; DUMP → the payload of no libraries (the RDB
//!   version and CRC-64 footer alone, redis-server's bytes); RESTORE of such a payload → OK
//!   (version and checksum checked as `crates/rdb` checks DUMP payloads), of a payload holding a
//!   library → an error saying scripting is not available, of anything else → Redis's error.
//! - LOAD → an error: scripting is not available yet.
//! - FCALL / FCALL_RO → "Function not found", after the arity and key checks, as Redis answers
//!   a name it has no function for (it looks the function up before it reads `numkeys`, so a
//!   malformed `numkeys` gets the same answer: `CommandSpec::keys_error`).
//!
//! A scoped token may read (LIST, STATS, DUMP); changing or stopping the server-wide libraries
//! (FLUSH, DELETE, LOAD, RESTORE, KILL) needs a super-user (`authz::subcommand_needs_super_user`).

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use crate::resp::args::eq_ic;
use crate::resp::commands::acl::subcommand_syntax;
use crate::resp::commands::server::help;
use crate::resp::commands::server::{arity_ok, subcommand_arity, unknown_subcommand};
use crate::resp::dispatch::{cmd, flags::*, keynum, ks::*, CommandSpec, Ctx, NO_KEYS};

const G: &str = "scripting";

pub const COMMANDS: &[CommandSpec] = &[
    cmd("function", -2, ARG_ACCESS, NO_KEYS, G, function),
    // Redis: "We cannot tell how the keys will be used so we assume the worst".
    cmd(
        "fcall",
        -3,
        0,
        &[keynum(2, RW | ACCESS | UPDATE | OPTIONAL)],
        G,
        fcall,
    ),
    cmd(
        "fcall_ro",
        -3,
        READONLY,
        &[keynum(2, RO | ACCESS | OPTIONAL)],
        G,
        fcall,
    ),
];

/// Redis's reply to FCALL of a function it does not have.
pub const ERR_NO_FUNCTION: &str = "ERR Function not found";

/// The error scripting's absence gives.
const ERR_NO_SCRIPTING: &str =
    "ERR Ferrite does not run scripts yet: functions cannot be loaded (scripting is not available)";

/// RDB opcodes of a function library in a FUNCTION DUMP payload (Redis 7.0's rdb.h:
/// `RDB_OPCODE_FUNCTION2`, and the pre-GA `RDB_OPCODE_FUNCTION_PRE_GA`).
const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION_PRE_GA: u8 = 246;

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
    let mut p = ferrite_rdb::RDB_VERSION.to_le_bytes().to_vec();
    let crc = ferrite_rdb::crc64::crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn fcall(_: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    w.error(ERR_NO_FUNCTION);
}

fn function(_: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let Some(&(name, arity)) = SUBS.iter().find(|(n, _)| eq_ic(sub, n)) else {
        return unknown_subcommand(w, "FUNCTION", sub);
    };
    if !arity_ok(args, arity) {
        return subcommand_arity(w, &format!("function|{name}"));
    }
    match name {
        "flush" => match args.len() {
            2 => w.ok(),
            3 if eq_ic(&args[2], "async") || eq_ic(&args[2], "sync") => w.ok(),
            3 => w.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
            _ => subcommand_syntax(w, "FUNCTION", sub),
        },
        "list" => list(args, w),
        "stats" => {
            w.map(2);
            w.bulk(b"running_script");
            w.null();
            w.bulk(b"engines");
            w.map(1);
            w.bulk(b"LUA");
            w.map(2);
            w.bulk(b"libraries_count");
            w.int(0);
            w.bulk(b"functions_count");
            w.int(0);
        }
        "delete" => w.error("ERR Library not found"),
        "kill" => w.error("NOTBUSY No scripts in execution right now."),
        "dump" => w.bulk(&empty_dump()),
        "restore" => restore(args, w),
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
            w.error(ERR_NO_SCRIPTING)
        }
        _ => help(w, HELP),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE], each at most once (Redis's parsing).
fn list(args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let (mut with_code, mut library) = (false, false);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if !with_code && eq_ic(a, "withcode") {
            with_code = true;
        } else if !library && eq_ic(a, "libraryname") {
            if i + 1 >= args.len() {
                return w.error("ERR library name argument was not given");
            }
            library = true;
            i += 1;
        } else {
            return w.error(&format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            ));
        }
        i += 1;
    }
    w.array(0);
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: Redis's checks in Redis's order.
fn restore(args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() > 4 {
        return subcommand_syntax(w, "FUNCTION", &args[1]);
    }
    if let Some(policy) = args.get(3) {
        if !["append", "replace", "flush"]
            .iter()
            .any(|p| eq_ic(policy, p))
        {
            return w.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        }
    }
    let body = match ferrite_rdb::decode::verify(&args[2]) {
        Ok(b) => b,
        Err(_) => return w.error("ERR DUMP payload version or checksum are wrong"),
    };
    match body.first() {
        // No libraries: nothing to add, and with FLUSH nothing to remove.
        None => w.ok(),
        Some(&OPCODE_FUNCTION2) | Some(&OPCODE_FUNCTION_PRE_GA) => w.error(ERR_NO_SCRIPTING),
        Some(_) => w.error("ERR given type is not a function"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_dump_is_redis_bytes() {
        // redis-server 7.0.15, FUNCTION DUMP after FUNCTION FLUSH.
        assert_eq!(super::empty_dump(), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
    }
}
