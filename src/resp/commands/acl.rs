//! ACL, answered from Ferrite's tokens (docs/auth.md; `resp::acl` has the pieces):
//!
//! - WHOAMI, USERS, LIST, GETUSER describe the connection's own principal, nothing else: the
//!   token id (or Redis's `default` user in auth mode `none`) and its grants as Redis rules
//!   (`acl::describe`). There is no registry of tokens to list, and a token must never learn
//!   of another.
//! - CAT: Redis 7.0's categories and the commands in each (`acl::categories`).
//! - LOG: the server's log of denials (`acl::log`), super-user only (Redis: @admin @dangerous).
//! - GENPASS: random hex from the OS's generator, Redis's validation.
//! - DRYRUN <own name> <command> [args]: would this connection's token be allowed to run it?
//! - SETUSER, DELUSER, LOAD, SAVE: refused with an error that points to tokens.
//!
//! Which subcommands need a super-user token is `authz::subcommand_needs_super_user` (flag
//! `ARG_ACCESS`).

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use crate::resp::acl::categories;
use crate::resp::acl::describe::User;
use crate::resp::args::{eq_ic, parse_i64, ERR_NOT_INT};
use crate::resp::commands::server::{arity_ok, help, subcommand_arity, unknown_subcommand};
use crate::resp::dispatch::{cmd, flags::*, lookup, CommandSpec, Ctx, NO_KEYS};

pub const COMMANDS: &[CommandSpec] = &[cmd("acl", -2, ARG_ACCESS, NO_KEYS, "server", acl)];

/// Redis 7.0's `ACL HELP`, byte for byte.
const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

/// Redis 7.0's subcommand arities.
const SUBS: &[(&str, i32)] = &[
    ("cat", -2),
    ("deluser", -3),
    ("dryrun", -4),
    ("genpass", -2),
    ("getuser", 3),
    ("help", 2),
    ("list", 2),
    ("load", 2),
    ("log", -2),
    ("save", 2),
    ("setuser", -3),
    ("users", 2),
    ("whoami", 2),
];

/// Redis's addReplySubcommandSyntaxError: extra arguments a subcommand's arity allows but it
/// does not take.
pub(crate) fn subcommand_syntax(w: &mut ReplyWriter<'_>, cmd: &str, sub: &[u8]) {
    let sub: String = String::from_utf8_lossy(sub).chars().take(128).collect();
    w.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."
    ));
}

/// The user this connection is, as Redis would describe it.
fn me(ctx: &Ctx<'_, '_>) -> User {
    let unrestricted;
    let p = match ctx.principal {
        Some(p) => p,
        None => {
            unrestricted = ferrite_auth::Principal::unrestricted("");
            &unrestricted
        }
    };
    User::of(
        p,
        ctx.shared.auth.enforcing(),
        ctx.cache.name(),
        ctx.base.name(),
    )
}

fn acl(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let sub = &args[1];
    let Some(&(name, arity)) = SUBS.iter().find(|(n, _)| eq_ic(sub, n)) else {
        return unknown_subcommand(w, "ACL", sub);
    };
    if !arity_ok(args, arity) {
        return subcommand_arity(w, &format!("acl|{name}"));
    }
    match name {
        "whoami" => w.bulk(me(ctx).name.as_bytes()),
        "users" => {
            w.array(1);
            w.bulk(me(ctx).name.as_bytes());
        }
        "list" => {
            w.array(1);
            w.bulk(me(ctx).line().as_bytes());
        }
        "getuser" => getuser(ctx, &args[2], w),
        "cat" => cat(args, w),
        "log" => log(ctx, args, w),
        "genpass" => genpass(args, w),
        "dryrun" => dryrun(ctx, args, w),
        "setuser" | "deluser" => w.error(&format!(
            "ERR ACL {} is not supported: Ferrite's users are tokens; issue a scoped token instead (docs/auth.md)",
            name.to_ascii_uppercase()
        )),
        "load" | "save" => w.error(&format!(
            "ERR ACL {} is not supported: Ferrite's users are tokens, there is no ACL file (docs/auth.md)",
            name.to_ascii_uppercase()
        )),
        _ => help(w, HELP),
    }
}

/// ACL GETUSER <name>: this connection's user, nil for any other name.
fn getuser(ctx: &Ctx<'_, '_>, name: &[u8], w: &mut ReplyWriter<'_>) {
    let u = me(ctx);
    if name != u.name.as_bytes() {
        return w.null();
    }
    w.map(6);
    w.bulk(b"flags");
    w.set(u.flags.len());
    for f in &u.flags {
        w.bulk(f.as_bytes());
    }
    w.bulk(b"passwords");
    w.array(0);
    w.bulk(b"commands");
    w.bulk(u.commands_field().as_bytes());
    w.bulk(b"keys");
    w.bulk(u.keys_field().as_bytes());
    w.bulk(b"channels");
    w.bulk(u.channels_field().as_bytes());
    w.bulk(b"selectors");
    w.array(0);
}

/// ACL CAT [category].
fn cat(args: &[Bytes], w: &mut ReplyWriter<'_>) {
    match args.len() {
        2 => {
            w.array(categories::NAMES.len());
            for n in categories::NAMES {
                w.bulk(n.as_bytes());
            }
        }
        3 => {
            let Some(c) = categories::parse(&args[2]) else {
                return w.error(&format!(
                    "ERR Unknown category '{}'",
                    String::from_utf8_lossy(&args[2])
                ));
            };
            let names = categories::commands_in(c);
            w.array(names.len());
            for n in names {
                w.bulk(n.as_bytes());
            }
        }
        _ => subcommand_syntax(w, "ACL", &args[1]),
    }
}

/// ACL LOG [count | RESET]: newest first, 10 by default.
fn log(ctx: &Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let count = match args.len() {
        2 => 10,
        3 if eq_ic(&args[2], "reset") => {
            ctx.shared.acl_log.reset(ctx.shared);
            return w.ok();
        }
        3 => match parse_i64(&args[2]) {
            Some(n) => n.max(0) as usize,
            None => return w.error(ERR_NOT_INT),
        },
        _ => return subcommand_syntax(w, "ACL", &args[1]),
    };
    let now = ctx.shared.store.now_ms();
    let entries = ctx.shared.acl_log.newest(count);
    w.array(entries.len());
    for e in entries {
        w.map(7);
        w.bulk(b"count");
        w.int(e.count as i64);
        w.bulk(b"reason");
        w.bulk(e.reason.name().as_bytes());
        w.bulk(b"context");
        w.bulk(e.context.name().as_bytes());
        w.bulk(b"object");
        w.bulk(&e.object);
        w.bulk(b"username");
        w.bulk(e.username.as_bytes());
        w.bulk(b"age-seconds");
        w.double(now.saturating_sub(e.ctime_ms) as f64 / 1000.0);
        w.bulk(b"client-info");
        w.bulk(e.client_info.as_bytes());
    }
}

/// ACL GENPASS [bits]: `bits` (default 256, at most 4096) of randomness as hex, one character
/// per 4 bits rounded up (Redis's output length).
fn genpass(args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let bits = match args.len() {
        2 => 256,
        3 => match parse_i64(&args[2]) {
            Some(n) if (1..=4096).contains(&n) => n as usize,
            Some(_) => {
                return w.error(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                )
            }
            None => return w.error(ERR_NOT_INT),
        },
        _ => return subcommand_syntax(w, "ACL", &args[1]),
    };
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(chars);
    w.bulk(hex.as_bytes());
}

/// ACL DRYRUN <username> <command> [arg ...]: Redis's order of checks (user, command, arity),
/// then the permission check the command would get, without running it. Only this
/// connection's own user exists.
fn dryrun(ctx: &Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    let u = me(ctx);
    if args[2] != u.name.as_bytes() {
        return w.error(&format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(&args[2])
        ));
    }
    let cmd_args = &args[3..];
    let not_found = || {
        format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&cmd_args[0])
        )
    };
    let Some(spec) = lookup(&cmd_args[0]) else {
        return w.error(&not_found());
    };
    // A command with subcommands is looked up with its subcommand, as Redis does.
    let subs = categories::subcommands(spec.name);
    if cmd_args.len() > 1 && !subs.is_empty() && !subs.iter().any(|s| eq_ic(&cmd_args[1], s)) {
        return w.error(&not_found());
    }
    if !spec.arity_ok(cmd_args.len()) {
        return w.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            crate::resp::authz::full_name(spec, cmd_args)
        ));
    }
    let Some(p) = ctx.principal.filter(|p| !p.is_super_user()) else {
        return w.ok();
    };
    let cache = if spec.has(TOPIC) {
        ctx.base.name()
    } else {
        ctx.cache.name()
    };
    match crate::resp::authz::authorize(p, cache, spec, cmd_args) {
        Ok(()) => w.ok(),
        Err(r) => w.bulk(r.denied.to_string().as_bytes()),
    }
}
