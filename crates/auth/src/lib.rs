//! Ferrite's tokens and permissions (issue 5): signed, scoped, short-lived, revocable tokens the
//! Momento SDKs accept, and the pure permission checks every front end (RESP, gRPC, HTTP) calls.
//!
//! ```text
//! permissions.rs    Permissions (super-user | cache grants + topic grants), roles, selectors, checks
//! token.rs          Claims, HS256 signing/verification, the Momento v1 wrapper (both forms accepted)
//! authenticator.rs  Authenticator (key + revocation set): token -> Principal; issuing; revoking
//! keyfile.rs        key file (created 0600 on first start) and `<key>.revoked` (the only I/O)
//! ```
//! See docs/auth.md.

pub mod authenticator;
pub mod keyfile;
pub mod permissions;
pub mod token;

pub use authenticator::{now_secs, Authenticator, Principal};
pub use permissions::{
    CacheAccess, CacheGrant, CacheRole, PermissionError, Permissions, Selector, TopicAccess,
    TopicGrant, TopicRole,
};
pub use token::{AuthError, Claims};
