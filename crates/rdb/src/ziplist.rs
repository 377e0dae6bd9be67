//! Ziplists, the compact format of Redis before 7.0 (RDB version 9 and older): RESTORE accepts
//! payloads DUMPed by Redis 6, whose small hashes, sorted sets and list nodes are ziplists.
//! Read-only: Ferrite writes listpacks, as Redis 7.0 does.
//!
//! Layout: total bytes (u32 LE), tail offset (u32 LE), count (u16 LE), entries, 0xFF. An entry is
//! the previous entry's length (1 byte, or 0xFE and u32 LE), an encoding, and the data.

use crate::listpack::Element;
use crate::DecodeError;

pub fn parse(zl: &[u8]) -> Result<Vec<Element<'_>>, DecodeError> {
    const HEADER: usize = 10;
    if zl.len() < HEADER + 1 {
        return Err(DecodeError::Corrupt);
    }
    let total = u32::from_le_bytes(zl[0..4].try_into().unwrap()) as usize;
    let count = u16::from_le_bytes(zl[8..10].try_into().unwrap()) as usize;
    if total != zl.len() || zl[total - 1] != 0xff {
        return Err(DecodeError::Corrupt);
    }
    let end = total - 1;
    let take = |p: usize, n: usize| crate::take(zl, end, p, n);
    let mut out = Vec::with_capacity(count.min(zl.len()));
    let mut p = HEADER;
    let mut prev_len = 0usize;
    while p < end {
        let start = p;
        let (stored_prev, skip) = if zl[p] < 254 {
            (zl[p] as usize, 1)
        } else if zl[p] == 254 {
            (
                u32::from_le_bytes(take(p + 1, 4)?.try_into().unwrap()) as usize,
                5,
            )
        } else {
            return Err(DecodeError::Corrupt);
        };
        if stored_prev != prev_len {
            return Err(DecodeError::Corrupt);
        }
        p += skip;
        let b = *take(p, 1)?.first().unwrap();
        let el = match b >> 6 {
            0 => {
                let n = (b & 0x3f) as usize;
                let s = take(p + 1, n)?;
                p += 1 + n;
                Element::Str(s)
            }
            1 => {
                let n = (((b & 0x3f) as usize) << 8) | take(p + 1, 1)?[0] as usize;
                let s = take(p + 2, n)?;
                p += 2 + n;
                Element::Str(s)
            }
            2 => {
                if b != 0x80 {
                    return Err(DecodeError::Corrupt);
                }
                let n = u32::from_be_bytes(take(p + 1, 4)?.try_into().unwrap()) as usize;
                let s = take(p + 5, n)?;
                p += 5 + n;
                Element::Str(s)
            }
            _ => {
                let (v, n) = match b {
                    0xc0 => (
                        i16::from_le_bytes(take(p + 1, 2)?.try_into().unwrap()) as i64,
                        2,
                    ),
                    0xd0 => (
                        i32::from_le_bytes(take(p + 1, 4)?.try_into().unwrap()) as i64,
                        4,
                    ),
                    0xe0 => (i64::from_le_bytes(take(p + 1, 8)?.try_into().unwrap()), 8),
                    0xf0 => {
                        let d = take(p + 1, 3)?;
                        ((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64, 3)
                    }
                    0xfe => (take(p + 1, 1)?[0] as i8 as i64, 1),
                    0xf1..=0xfd => (((b & 0x0f) - 1) as i64, 0),
                    _ => return Err(DecodeError::Corrupt),
                };
                p += 1 + n;
                Element::Int(v)
            }
        };
        prev_len = p - start;
        out.push(el);
    }
    if count != 65535 && count != out.len() {
        return Err(DecodeError::Corrupt);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_ziplist_redis_6_wrote() {
        // A ziplist of "a", 1, 300, "bb": built by hand from the format's definition.
        let mut body = Vec::new();
        body.extend_from_slice(&[0, 0x01, b'a']); // prevlen 0, 6-bit string of 1
        body.extend_from_slice(&[3, 0xf2]); // prevlen 3, immediate 1
        body.extend_from_slice(&[2, 0xc0, 0x2c, 0x01]); // prevlen 2, int16 300
        body.extend_from_slice(&[4, 0x02, b'b', b'b']); // prevlen 4, string of 2
        let total = 10 + body.len() + 1;
        let mut zl = Vec::new();
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&0u32.to_le_bytes());
        zl.extend_from_slice(&4u16.to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xff);
        let got = parse(&zl).unwrap();
        assert_eq!(
            got,
            vec![
                Element::Str(b"a"),
                Element::Int(1),
                Element::Int(300),
                Element::Str(b"bb")
            ]
        );
        for cut in 0..zl.len() {
            assert!(parse(&zl[..cut]).is_err());
        }
    }
}
