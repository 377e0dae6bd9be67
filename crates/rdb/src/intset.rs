//! Intsets: the sorted integer array Redis 7.0 keeps small all-integer sets in. Layout: the
//! element width in bytes (u32 LE: 2, 4 or 8), the count (u32 LE), then the values, ascending,
//! little-endian, all of the smallest width that fits every one of them.

use crate::DecodeError;

/// The intset of `values` (sorted here; duplicates must already be gone).
pub fn build(mut values: Vec<i64>) -> Vec<u8> {
    values.sort_unstable();
    let width: usize = if values
        .iter()
        .all(|&v| (i16::MIN as i64..=i16::MAX as i64).contains(&v))
    {
        2
    } else if values
        .iter()
        .all(|&v| (i32::MIN as i64..=i32::MAX as i64).contains(&v))
    {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The values of an intset, checked: a known width, the exact length, strictly ascending (Redis's
/// `intsetValidateIntegrity` with deep checks).
pub fn parse(b: &[u8]) -> Result<Vec<i64>, DecodeError> {
    if b.len() < 8 {
        return Err(DecodeError::Corrupt);
    }
    let width = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width) != Some(b.len() - 8) {
        return Err(DecodeError::Corrupt);
    }
    let mut out = Vec::with_capacity(count);
    for chunk in b[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes(chunk.try_into().unwrap()) as i64,
            4 => i32::from_le_bytes(chunk.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(chunk.try_into().unwrap()),
        };
        if out.last().is_some_and(|&last| last >= v) {
            return Err(DecodeError::Corrupt);
        }
        out.push(v);
    }
    if count == 0 {
        return Err(DecodeError::Corrupt);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_follows_the_widest_value() {
        assert_eq!(build(vec![3, 1, 2])[0], 2);
        assert_eq!(build(vec![1, 70_000])[0], 4);
        assert_eq!(build(vec![1, 1 << 40])[0], 8);
        let b = build(vec![5, -3, 1 << 40]);
        assert_eq!(parse(&b).unwrap(), vec![-3, 5, 1 << 40]);
    }

    #[test]
    fn unsorted_or_short_intsets_are_refused() {
        let mut b = build(vec![1, 2]);
        b.swap(8, 10);
        assert!(parse(&b).is_err());
        assert!(parse(&build(vec![1, 2])[..11]).is_err());
    }
}
