//! Argument parsing with Redis's exact rules and error strings.

use ferrite_resp::ReplyWriter;

pub const ERR_NOT_INT: &str = "ERR value is not an integer or out of range";
pub const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
pub const ERR_SYNTAX: &str = "ERR syntax error";
pub const ERR_WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const ERR_NO_KEY: &str = "ERR no such key";
pub const ERR_OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const ERR_OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const ERR_INDEX_RANGE: &str = "ERR index out of range";
pub const ERR_TIMEOUT_NEG: &str = "ERR timeout is negative";
pub const ERR_TIMEOUT_INVALID: &str = "ERR timeout is not a float or out of range";

/// Redis's string2ll: optional '-', digits, no '+', no spaces, no leading zeros, fits i64 (the
/// one implementation, shared with the listpack and intset encoders in `ferrite-rdb`).
#[inline]
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    ferrite_rdb::Int64Str::parse_canonical_i64(b)
}

pub fn parse_u64(b: &[u8]) -> Option<u64> {
    parse_i64(b).and_then(|v| u64::try_from(v).ok())
}

/// Redis's strtold-based float parsing: accepts "inf", "+inf", "-inf" and decimal/exponent
/// forms; rejects empty strings, spaces and NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        other => {
            if other.contains("inf") || other.contains("nan") {
                return None;
            }
            // Out-of-range input ("1e400") overflows to infinity: Redis rejects it (ERANGE).
            let v = other.parse::<f64>().ok()?;
            if v.is_infinite() {
                return None;
            }
            v
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// ASCII case-insensitive comparison of an argument with an option name.
#[inline]
pub fn eq_ic(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Write the integer-parse error and return None, so handlers can `let Some(x) = .. else { return }`.
pub fn int_or_err(w: &mut ReplyWriter, b: &[u8]) -> Option<i64> {
    let v = parse_i64(b);
    if v.is_none() {
        w.error(ERR_NOT_INT);
    }
    v
}

pub fn float_or_err(w: &mut ReplyWriter, b: &[u8]) -> Option<f64> {
    let v = parse_f64(b);
    if v.is_none() {
        w.error(ERR_NOT_FLOAT);
    }
    v
}

/// Normalise Redis-style (possibly negative) start/stop indexes over a length into a
/// half-open range; None when empty.
pub fn normalize_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if stop < 0 { len + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if e >= len {
        e = len - 1;
    }
    if s > e || s >= len || len == 0 {
        return None;
    }
    Some((s as usize, e as usize + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"+1",
            b"01",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1.0",
            b"-",
            b"-0",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_strtold() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e400"), None);
    }

    #[test]
    fn ranges_like_lrange() {
        assert_eq!(normalize_range(0, -1, 3), Some((0, 3)));
        assert_eq!(normalize_range(-2, -1, 3), Some((1, 3)));
        assert_eq!(normalize_range(5, 10, 3), None);
        assert_eq!(normalize_range(-100, 1, 3), Some((0, 2)));
        assert_eq!(normalize_range(2, 1, 3), None);
        assert_eq!(normalize_range(0, -1, 0), None);
    }
}
