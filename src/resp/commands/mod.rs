//! Command families, one module each. Every module exports `COMMANDS`, its table rows.
pub mod bitmaps;
pub mod bounded;
pub mod connection;
pub mod geo;
pub mod hashes;
pub mod hll;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod tenancy;
pub mod zsets;
pub mod zsets_blocking;
