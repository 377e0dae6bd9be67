//! The Redis-protocol (RESP2/RESP3) front end.
pub mod acl;
pub mod args;
pub mod authz;
pub mod buffers;
pub mod client;
pub mod commands;
pub mod conn;
pub mod dispatch;
pub mod geohash;
pub mod glob;
pub mod inflight;
pub mod introspection;
pub mod migrate;
pub mod redis_params;
pub mod scripting;
pub mod tracking;
pub mod waiters;
