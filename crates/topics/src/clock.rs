//! The engine's time source: [`ferrite_clock`], shared with the storage engine, so tests drive
//! age-based retention and idle sweeping by hand.

use std::time::{SystemTime, UNIX_EPOCH};

pub use ferrite_clock::{Clock, ManualClock, SystemClock};

/// Wall-clock microseconds, used once to seed sequence pages so a restarted server issues larger pages.
pub(crate) fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1)
        .max(1)
}
