//! Ferrite's cache engine: named caches of typed items with TTLs under one memory budget.
//!
//! ```text
//!   Store ── budget (one limit, all caches) ── clock ── eviction policy
//!     └─ Cache "default", Cache "orders", ...        (named keyspaces)
//!          └─ [Mutex<Shard>; 2^k]                    (key -> shard by hash)
//!               └─ IndexMap<Bytes, Entry>            (Entry = Value + expiry + LRU/LFU stamp)
//!                    Value = Str | Hash | List | Set | ZSet (each tracks its own bytes)
//! ```
//!
//! No I/O, no async, no protocol types: front ends (RESP, gRPC, HTTP) translate their requests
//! into calls on these types. See `docs/storage.md` for the design and its trade-offs.

pub mod access;
pub mod budget;
pub mod cache;
pub mod clock;
pub mod feed;
pub mod segments;
pub mod shard;
pub mod store;
pub mod types;
pub mod value;

pub use budget::{EvictionPolicy, LfuParams, MemoryBudget};
pub use bytes::Bytes;
pub use cache::{Cache, Locked, WatchRegistry, WatchTicket};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use feed::{Change, ChangeEvent, ChangeListener, Feed, ValueRef};
pub use shard::{Entry, EntryMut, KeyInfo, Shard, ShardStats, StrWriteError, MAX_STRING};
pub use store::{Store, StoreConfig, StoreError, DEFAULT_CACHE};
pub use value::{Value, ValueKind};

/// Hasher for in-shard and in-collection maps: foldhash is among the fastest well-reviewed
/// hashers, randomly seeded per map so attackers can't precompute colliding keys.
pub type FastBuild = foldhash::fast::RandomState;
