//! What each key records about its use, in one `u32` per key (`Entry::access`, the segment
//! record's clock field): an LRU clock, or Redis's LFU counter when an LFU policy is selected.
//! Redis keeps the two in one field the same way, and like Redis, a key switched between
//! policies reads its old stamp as the other kind until it is next accessed.
//!
//! - LRU: Unix seconds (wraps in 2106), so OBJECT IDLETIME and RESTORE IDLETIME are exact to
//!   the second, as in Redis (`LRU_CLOCK_RESOLUTION` 1000 ms).
//! - LFU: `minutes << 8 | counter`, Redis's layout (evict.c): the low 16 bits of Unix minutes
//!   when the counter was last decremented, and an 8-bit logarithmic counter that starts at
//!   [`LFU_INIT`], grows with probability `1 / ((counter - LFU_INIT) * log_factor + 1)` per
//!   access and loses one per `decay_minutes` idle.

use rand::Rng;

use crate::budget::LfuParams;

/// A new key's LFU counter (Redis's `LFU_INIT_VAL`): new keys are not evicted before they had a
/// chance to be read.
pub const LFU_INIT: u8 = 5;
/// Redis's `lfu-log-factor` default.
pub const DEFAULT_LOG_FACTOR: u32 = 10;
/// Redis's `lfu-decay-time` default, in minutes.
pub const DEFAULT_DECAY_MINUTES: u32 = 1;

/// The LRU stamp of an access at `now_ms`.
#[inline]
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// Seconds since an LRU stamp (OBJECT IDLETIME); wrapping, so a stamp from the future reads as
/// very old, as in Redis.
#[inline]
pub fn idle_secs(stamp: u32, now_ms: u64) -> u64 {
    lru_clock(now_ms).wrapping_sub(stamp) as u64
}

fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// Minutes since `ldt`, counting one wrap of the 16-bit minute clock (Redis's LFUTimeElapsed).
fn minutes_since(ldt: u32, now_ms: u64) -> u32 {
    let now = minutes(now_ms);
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// The counter of an LFU stamp, decayed by the time since it was last touched (Redis's
/// LFUDecrAndReturn): what OBJECT FREQ reports and eviction compares.
pub fn lfu_counter(stamp: u32, now_ms: u64, p: LfuParams) -> u8 {
    let counter = (stamp & 0xff) as u8;
    if p.decay_minutes == 0 {
        return counter;
    }
    let periods = minutes_since(stamp >> 8, now_ms) / p.decay_minutes;
    counter.saturating_sub(periods.min(255) as u8)
}

/// An LFU stamp holding `counter` as of `now_ms` (a new key, RESTORE FREQ).
#[inline]
pub fn lfu_stamp(counter: u8, now_ms: u64) -> u32 {
    minutes(now_ms) << 8 | counter as u32
}

/// The stamp after one more access (Redis's updateLFU): decay, then a logarithmic increment.
pub fn lfu_accessed(stamp: u32, now_ms: u64, p: LfuParams) -> u32 {
    let mut counter = lfu_counter(stamp, now_ms, p);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT) as f64;
        let chance = 1.0 / (base * p.log_factor as f64 + 1.0);
        if rand::thread_rng().gen::<f64>() < chance {
            counter += 1;
        }
    }
    lfu_stamp(counter, now_ms)
}

/// The stamp of a key just created.
#[inline]
pub fn created(lfu: Option<LfuParams>, now_ms: u64) -> u32 {
    match lfu {
        None => lru_clock(now_ms),
        Some(_) => lfu_stamp(LFU_INIT, now_ms),
    }
}

/// The stamp of a key read or written again, given its previous stamp.
#[inline]
pub fn accessed(lfu: Option<LfuParams>, old: u32, now_ms: u64) -> u32 {
    match lfu {
        None => lru_clock(now_ms),
        Some(p) => lfu_accessed(old, now_ms, p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: LfuParams = LfuParams {
        log_factor: 10,
        decay_minutes: 1,
    };

    #[test]
    fn lru_clock_is_whole_seconds() {
        assert_eq!(lru_clock(1_999), 1);
        assert_eq!(
            idle_secs(lru_clock(10_000_000 - 1_000_000), 10_000_000),
            1000
        );
    }

    #[test]
    fn lfu_counter_decays_one_per_period_and_saturates() {
        let t = 600_000_000u64;
        let s = lfu_stamp(100, t);
        assert_eq!(lfu_counter(s, t, P), 100);
        assert_eq!(lfu_counter(s, t + 3 * 60_000, P), 97);
        assert_eq!(lfu_counter(s, t + 500 * 60_000, P), 0);
        let slow = LfuParams {
            decay_minutes: 0,
            ..P
        };
        assert_eq!(lfu_counter(s, t + 500 * 60_000, slow), 100);
    }

    #[test]
    fn lfu_grows_logarithmically() {
        let t = 600_000_000u64;
        let mut s = created(Some(P), t);
        for _ in 0..1000 {
            s = lfu_accessed(s, t, P);
        }
        let c = lfu_counter(s, t, P);
        // Redis's table for factor 10: 1K hits reach ~18 (evict.c / redis.conf).
        assert!((12..=25).contains(&c), "counter {c}");
        for _ in 0..100_000 {
            s = lfu_accessed(s, t, P);
        }
        assert!(lfu_counter(s, t, P) > c);
    }
}
