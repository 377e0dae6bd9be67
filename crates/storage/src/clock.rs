//! The engine's time source: [`ferrite_clock`], shared with the topics engine.

pub use ferrite_clock::{Clock, ManualClock, SharedClock, SystemClock};
