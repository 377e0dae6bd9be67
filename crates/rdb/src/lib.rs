//! Redis's serialization of single values, as `DUMP` produces and `RESTORE` consumes them (RDB
//! version 10, what Redis 7.0 writes). The persistence work reads and writes RDB files with the
//! same object codec, so this crate knows nothing of Ferrite's storage types: callers hand it
//! plain bytes (`encode`) and get plain bytes back (`decode`).
//!
//! A DUMP payload is `[type byte][object][RDB version, u16 LE][CRC-64/Jones of all before, u64 LE]`.
//! Which encoding an object gets (listpack, intset, or the plain forms) follows Redis 7.0's rules
//! and thresholds (`encoding::Thresholds`), so small values DUMP to the same bytes redis-server
//! writes, and every payload this crate writes loads in redis-server 7.0.

pub mod crc64;
pub mod decode;
pub mod encode;
pub mod encoding;
pub mod functions;
pub mod g17;
pub mod intset;
pub mod listpack;
pub mod stream;
pub mod ziplist;

pub use decode::{decode, Object};
pub use encode::Dump;
pub use encoding::Thresholds;
pub use stream::{GroupObject, StreamMeta, StreamObject};

/// The RDB format version Redis 7.0 writes, and the newest this crate reads.
pub const RDB_VERSION: u16 = 10;

/// RDB object type bytes (Redis 7.0's `rdb.h`).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Why a payload was refused, in the three ways RESTORE answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Too short, a newer RDB version, or a checksum that does not match.
    #[error("DUMP payload version or checksum are wrong")]
    Footer,
    /// The footer is right but the object is not (or is of a type this crate cannot load).
    #[error("Bad data format")]
    Corrupt,
    /// Decoding would allocate more than the caller allowed.
    #[error("payload decodes to more than the memory allowed")]
    TooLarge,
}

/// `n` bytes of `b` at `p`, all before `end`; an error (never a panic) past it.
pub(crate) fn take(b: &[u8], end: usize, p: usize, n: usize) -> Result<&[u8], DecodeError> {
    match p.checked_add(n) {
        Some(e) if e <= end => Ok(&b[p..e]),
        _ => Err(DecodeError::Corrupt),
    }
}

/// Redis's `string2ll` test: the bytes are a 64-bit integer written the one canonical way (no
/// sign on zero, no `+`, no leading zeros or spaces). Such strings are stored as integers in
/// listpacks and intsets.
pub trait Int64Str {
    fn parse_canonical_i64(&self) -> Option<i64>;
}

impl Int64Str for [u8] {
    fn parse_canonical_i64(&self) -> Option<i64> {
        let b = self;
        if b.is_empty() || b.len() > 20 {
            return None;
        }
        if b == b"0" {
            return Some(0);
        }
        let (neg, digits) = match b[0] {
            b'-' => (true, &b[1..]),
            _ => (false, b),
        };
        if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
            return None;
        }
        let mut v: i64 = 0;
        for &c in digits {
            if !c.is_ascii_digit() {
                return None;
            }
            let d = (c - b'0') as i64;
            v = if neg {
                v.checked_mul(10)?.checked_sub(d)?
            } else {
                v.checked_mul(10)?.checked_add(d)?
            };
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::Int64Str;

    #[test]
    fn only_canonical_integers_count() {
        assert_eq!(b"12".parse_canonical_i64(), Some(12));
        assert_eq!(
            b"-9223372036854775808".parse_canonical_i64(),
            Some(i64::MIN)
        );
        for s in [
            &b"+1"[..],
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"",
            b"9223372036854775808",
        ] {
            assert_eq!(s.parse_canonical_i64(), None, "{s:?}");
        }
    }
}
