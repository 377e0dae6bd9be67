//! RESP2/RESP3 codec for Ferrite: zero-copy request parsing and direct reply
//! encoding.
//!
//! # Design
//!
//! This crate sits on the hot path of every request, so it is built around
//! two rules: no intermediate frame tree, and no per-command allocation
//! beyond the caller's (reused) argument vector.
//!
//! * **Parsing** ([`parse_command`]) works directly on the connection's
//!   `BytesMut` read buffer. It is stateless: each call scans the command at
//!   the front of the buffer, and if it is incomplete returns `Ok(false)`
//!   without touching the buffer, so the caller just reads more and calls
//!   again. Rescanning is cheap because only the short `*`/`$` headers are
//!   read; bulk payloads are skipped by length. Once a command is complete its
//!   bytes are split off and frozen (`split_to(..).freeze()`, O(1)) and every
//!   argument is a `Bytes` slice of that frame: zero copy. Header searches
//!   are bounded by [`ParseLimits::max_inline_len`] so a header or inline
//!   line that never ends is rejected rather than rescanned forever.
//! * **Protocol compatibility** follows Redis 7's `networking.c`: the same
//!   acceptance rules (strict `string2ll` lengths, `*0`/`*-1` and blank
//!   inline lines skipped, inline splitting with `sdssplitargs` quoting) and
//!   the same error strings ([`ProtocolError`]), so clients and test suites
//!   written against Redis see identical behaviour.
//! * **Encoding** ([`ReplyWriter`]) appends replies straight into the
//!   connection's output buffer. Numbers are formatted on the stack. The
//!   writer knows whether the client speaks RESP3 and degrades RESP3 types
//!   (maps, sets, pushes, doubles, booleans, nulls, verbatim strings) to
//!   their RESP2 forms, so command code is written once.
//! * **Doubles** are formatted like Redis 7.2+ ([`format_double`]) so scores
//!   round-trip byte-for-byte against Redis clients' expectations.
//!
//! A note for callers: arguments share the frame's allocation, so keeping a
//! small argument alive (e.g. storing a SET value) pins the frame's
//! allocation (the read buffer chunk it was split from). Copy small values
//! that are retained long-term (`Bytes::copy_from_slice`).

mod double;
mod parse;
mod write;

pub use bytes::{Bytes, BytesMut};

pub use double::{double_to_string, format_double};
pub use parse::{parse_command, pending_bulk_hint, split_args, ParseLimits, ProtocolError};
pub use write::{encode_array_of_bulks, encode_push_of_bulks, ReplyWriter};

#[cfg(test)]
mod tests;
