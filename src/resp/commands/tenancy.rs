//! Ferrite's tenancy commands (docs/metering.md).
//!
//! `FERRITE.METERING [JSON | PROMETHEUS]`: the per-tenant usage figures
//! (`service::Metering::snapshot`). Without an argument: an array with one
//! `[token, cache, operations, bytes_in, bytes_out, messages_published, messages_delivered]`
//! array per tenant; `JSON`: the billing export as a bulk string; `PROMETHEUS`: the text
//! exposition. The same renderers will back the admin port's routes. Reading the figures is not
//! itself metered or rate-limited. Once auth lands this command is for super-user tokens only.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use crate::admin::registry::render_tenants as render_prometheus;
use crate::resp::args::eq_ic;
use crate::resp::dispatch::{cmd, flags::*, CommandSpec, Ctx, NO_KEYS};
use ferrite_service::metering::render_json;

pub const COMMANDS: &[CommandSpec] = &[cmd(
    "ferrite.metering",
    -1,
    ADMIN,
    NO_KEYS,
    "server",
    metering,
)];

fn metering(ctx: &mut Ctx<'_, '_>, args: &[Bytes], w: &mut ReplyWriter<'_>) {
    if args.len() > 2 {
        w.error("ERR syntax error: FERRITE.METERING [JSON | PROMETHEUS]");
        return;
    }
    let snapshot = ctx.shared.metering.snapshot();
    match args.get(1) {
        None => {
            w.array(snapshot.len());
            for (k, c) in &snapshot {
                w.array(7);
                w.bulk(k.token.as_bytes());
                w.bulk(k.cache.as_bytes());
                for n in [
                    c.operations,
                    c.bytes_in,
                    c.bytes_out,
                    c.messages_published,
                    c.messages_delivered,
                ] {
                    w.int(n as i64);
                }
            }
        }
        Some(a) if eq_ic(a, "json") => w.bulk(render_json(&snapshot).as_bytes()),
        Some(a) if eq_ic(a, "prometheus") => w.bulk(render_prometheus(&snapshot).as_bytes()),
        Some(_) => w.error("ERR syntax error: FERRITE.METERING [JSON | PROMETHEUS]"),
    }
}
