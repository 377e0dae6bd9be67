//! Connection-state commands. Their table rows only declare arity and flags: the connection
//! loop (`resp::conn`) executes them because they change the connection itself.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use crate::resp::dispatch::{cmd, flags::*, key_range, ks::*, CommandSpec, Ctx, NO_KEYS};

fn handled_by_connection(_: &mut Ctx<'_, '_>, _: &[Bytes], w: &mut ReplyWriter<'_>) {
    w.error("ERR command is handled by the connection loop");
}

pub(crate) const H: crate::resp::dispatch::Handler = handled_by_connection;

pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "multi",
        1,
        CONN | FAST | NO_MULTI,
        NO_KEYS,
        "transactions",
        H,
    ),
    cmd("exec", 1, CONN | NO_MULTI, NO_KEYS, "transactions", H),
    cmd(
        "discard",
        1,
        CONN | FAST | NO_MULTI,
        NO_KEYS,
        "transactions",
        H,
    ),
    cmd(
        "watch",
        -2,
        CONN | FAST | NO_MULTI,
        &[key_range(1, -1, 1, RO)],
        "transactions",
        H,
    ),
    cmd("unwatch", 1, CONN | FAST, NO_KEYS, "transactions", H),
    cmd(
        "quit",
        -1,
        CONN | FAST | PUBSUB_OK,
        NO_KEYS,
        "connection",
        H,
    ),
    cmd(
        "reset",
        1,
        CONN | FAST | PUBSUB_OK,
        NO_KEYS,
        "connection",
        H,
    ),
    cmd(
        "hello",
        -1,
        CONN | FAST | NO_MULTI,
        NO_KEYS,
        "connection",
        H,
    ),
    cmd("auth", -2, CONN | FAST | NO_MULTI, NO_KEYS, "connection", H),
    cmd("select", 2, CONN | FAST, NO_KEYS, "connection", H),
    // Every command the server runs, to this connection (`conn/observe.rs`). ADMIN: a
    // scoped token must not see other tenants' commands.
    cmd("monitor", 1, CONN | ADMIN, NO_KEYS, "server", H),
    // Token revocation (docs/auth.md): super-user only, takes effect at once on every protocol.
    cmd(
        "ferrite.revoke",
        2,
        CONN | ADMIN | NO_MULTI | SUPER,
        NO_KEYS,
        "connection",
        H,
    ),
];
