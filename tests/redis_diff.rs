//! Ferrite beside redis-server 7.0: the same commands to both over raw RESP, the same reply bytes
//! required (RESP2 and RESP3). One module per command family; `tests/common/redis_ref.rs` is the
//! harness. What still differs on purpose is listed in docs/compatibility.md.

mod common;

#[path = "redis_diff/config.rs"]
mod config;
#[path = "redis_diff/pubsub.rs"]
mod pubsub;
#[path = "redis_diff/strings.rs"]
mod strings;
#[path = "redis_diff/transactions.rs"]
mod transactions;

#[path = "redis_diff/geo.rs"]
mod geo;

#[path = "redis_diff/hyperloglog.rs"]
mod hyperloglog;

#[path = "redis_diff/bitmaps.rs"]
mod bitmaps;

#[path = "redis_diff/dump.rs"]
mod dump;

#[path = "redis_diff/reply_shapes.rs"]
mod reply_shapes;
#[path = "redis_diff/streams.rs"]
mod streams;
#[path = "redis_diff/zsets_blocking.rs"]
mod zsets_blocking;

#[path = "redis_diff/sort.rs"]
mod sort;

#[path = "redis_diff/databases.rs"]
mod databases;

#[path = "redis_diff/command_docs.rs"]
mod command_docs;

#[path = "redis_diff/introspection.rs"]
mod introspection;

#[path = "redis_diff/acl.rs"]
mod acl;
#[path = "redis_diff/eviction.rs"]
mod eviction;
#[path = "redis_diff/functions.rs"]
mod functions;
#[path = "redis_diff/scripting.rs"]
mod scripting;
#[path = "redis_diff/tracking.rs"]
mod tracking;
