//! Collection value types. Each keeps its own byte count current in every mutating method.
pub mod hash;
pub mod list;
pub mod ranked;
pub mod set;
pub mod stream;
pub mod zset;
