//! Ferrite: an in-memory cache and pub/sub topics server.
//!
//! This crate holds the front ends and the server wiring; the engines live in their own crates
//! (`ferrite-storage`, `ferrite-topics`) and know nothing of sockets or protocols. See
//! ARCHITECTURE.md for the whole picture.

pub mod admin;
pub mod cli;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod net;
pub mod protosocket;
pub mod resp;
pub mod server;
pub mod shared;
pub mod tls;
pub mod token_cli;

/// The Redis version Ferrite reports (INFO, HELLO): the command semantics it follows.
pub const REDIS_COMPAT_VERSION: &str = "7.2.0";
