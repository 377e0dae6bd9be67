//! Hostile and malformed input against the real server (issue 12): every finding of the security
//! review replayed, plus Redis's own limits, checking the error text, that the server still
//! answers, and that memory stays bounded. One module per class of attack; docs/security.md is the
//! threat model and the table of limits these tests hold the server to.

mod common;

#[path = "bad_input/grpc_inflight.rs"]
mod grpc_inflight;
#[path = "bad_input/memory.rs"]
mod memory;
#[path = "bad_input/network.rs"]
mod network;
#[path = "bad_input/scope.rs"]
mod scope;
