//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: their table rows. The connection loop runs
//! them (`resp::conn::scripting`): a script runs off the worker threads and the connection
//! waits for it as a blocked command waits. The Lua side is `resp::scripting`.

use crate::resp::commands::connection::H;
use crate::resp::dispatch::{cmd, flags::*, keynum, ks::*, CommandSpec, NO_KEYS};

const G: &str = "scripting";

pub const COMMANDS: &[CommandSpec] = &[
    // Redis: "We cannot tell how the keys will be used so we assume the worst" (RW). Not
    // flagged WRITE: what the script calls decides, each command checked on its own.
    cmd(
        "eval",
        -3,
        CONN,
        &[keynum(2, RW | ACCESS | UPDATE | OPTIONAL)],
        G,
        H,
    ),
    cmd(
        "evalsha",
        -3,
        CONN,
        &[keynum(2, RW | ACCESS | UPDATE | OPTIONAL)],
        G,
        H,
    ),
    cmd(
        "eval_ro",
        -3,
        CONN | READONLY,
        &[keynum(2, RO | ACCESS | OPTIONAL)],
        G,
        H,
    ),
    cmd(
        "evalsha_ro",
        -3,
        CONN | READONLY,
        &[keynum(2, RO | ACCESS | OPTIONAL)],
        G,
        H,
    ),
    cmd("script", -2, CONN, NO_KEYS, G, H),
];

/// Redis's `SCRIPT HELP`, without the HELP line `server::help` adds.
pub const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

/// SCRIPT's subcommands and their Redis 7.0 arities.
pub const SUBS: &[(&str, i32)] = &[
    ("debug", 3),
    ("exists", -3),
    ("flush", -2),
    ("help", 2),
    ("kill", 2),
    ("load", 3),
];
