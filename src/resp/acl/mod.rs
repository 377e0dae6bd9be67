//! Redis's ACL vocabulary over Ferrite's tokens (the `ACL` command is `commands/acl.rs`):
//!
//! ```text
//! categories.rs   Redis 7.0's ACL categories of every command (ACL CAT, COMMAND INFO)
//! describe.rs     a connection's principal as a Redis user (ACL WHOAMI/USERS/LIST/GETUSER)
//! log.rs          the ACL LOG of denials (NOPERM, failed AUTH), bounded and memory-counted
//! ```
//! Ferrite's users are tokens (docs/auth.md); none of this decides what a token may do.

pub mod categories;
pub mod describe;
pub mod log;
