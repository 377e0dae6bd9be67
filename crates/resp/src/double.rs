//! Redis-compatible double formatting (Redis 7.2+ `d2string`).
//!
//! Redis renders doubles in replies (ZSCORE, RESP3 `,` doubles, ...) with
//! `d2string`: special cases for nan/inf/zero, integral values within ±2^62
//! printed as integers, and everything else through `fpconv_dtoa`, a Grisu2
//! shortest-representation printer with its own plain-vs-exponent rules.
//! We take the shortest round-trip digits from Rust's `{:e}` formatting (which
//! is exact shortest; Grisu2 is shortest in all but very rare cases) and apply
//! fpconv's layout rules, so clients see byte-identical strings.

use std::fmt::Write as _;

/// Longest output: "-" + 17 digits + "." + "e-308" is 25; keep headroom.
const CAP: usize = 40;

/// A small stack buffer so formatting never allocates.
pub(crate) struct DoubleBuf {
    buf: [u8; CAP],
    len: usize,
}

impl DoubleBuf {
    pub(crate) fn new() -> Self {
        DoubleBuf {
            buf: [0; CAP],
            len: 0,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn extend(&mut self, s: &[u8]) {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }
}

impl std::fmt::Write for DoubleBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > CAP {
            return Err(std::fmt::Error);
        }
        self.extend(s.as_bytes());
        Ok(())
    }
}

/// Append `d` formatted exactly as Redis 7.2+ formats doubles in replies.
///
/// - `nan`, `inf`, `-inf`; `0` and `-0`;
/// - integral values with |d| <= 2^62 as integers (`3`, `-12`, no `.0`);
/// - otherwise the shortest round-trip digits, laid out like `fpconv_dtoa`:
///   plain decimals such as `0.1`, `1.5`, `0.00001`, `0.0012345`, and
///   exponent form such as `1e+300`, `1.5e-7`, `1.2345e-4`, `1e+19` where
///   fpconv's rules ask for it. Note the exponent is not zero-padded (`e-7`,
///   unlike C's `%g` `e-07`): Redis 7.2+ no longer uses `%.17g`.
///
/// This is the format for ZSCORE-style replies. (Redis's INCRBYFLOAT uses a
/// long-double "human" format that never uses exponents; callers needing that
/// exact behaviour must format it themselves.)
pub fn format_double(d: f64, out: &mut Vec<u8>) {
    let mut b = DoubleBuf::new();
    fmt_double(d, &mut b);
    out.extend_from_slice(b.as_bytes());
}

/// Convenience wrapper around [`format_double`] returning a `String`.
pub fn double_to_string(d: f64) -> String {
    let mut b = DoubleBuf::new();
    fmt_double(d, &mut b);
    // Only ASCII is ever written.
    String::from_utf8_lossy(b.as_bytes()).into_owned()
}

pub(crate) fn fmt_double(d: f64, out: &mut DoubleBuf) {
    if d.is_nan() {
        return out.extend(b"nan");
    }
    if d.is_infinite() {
        return out.extend(if d < 0.0 { b"-inf" } else { b"inf" });
    }
    if d == 0.0 {
        return out.extend(if d.is_sign_negative() { b"-0" } else { b"0" });
    }
    // Redis's double2ll: the integer printer is used for integral values in
    // [-(LLONG_MAX/2), LLONG_MAX/2], which as doubles is [-2^62, 2^62].
    const LIM: f64 = 4_611_686_018_427_387_904.0;
    if (-LIM..=LIM).contains(&d) && d.fract() == 0.0 {
        let _ = write!(out, "{}", d as i64);
        return;
    }

    // Shortest round-trip digits and decimal exponent from `{:e}`,
    // e.g. "-1.2345e-7".
    let mut sci = DoubleBuf::new();
    let _ = write!(sci, "{:e}", d.abs());
    let s = sci.as_bytes();
    let e_pos = s.iter().position(|&b| b == b'e').unwrap_or(s.len());
    let mut digits = [0u8; 24];
    let mut nd = 0usize;
    for &b in &s[..e_pos] {
        if b.is_ascii_digit() && nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let x: i32 = std::str::from_utf8(&s[e_pos + 1..])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let digits = &digits[..nd];
    let nd = nd as i32;
    // fpconv's K: value = digits * 10^K.
    let k = x - (nd - 1);
    let exp = x.abs();

    if d < 0.0 {
        out.push(b'-');
    }
    // Plain integer (only reachable beyond 2^62, where few zeros are needed).
    if k >= 0 && exp < nd + 7 {
        out.extend(digits);
        for _ in 0..k {
            out.push(b'0');
        }
        return;
    }
    // Plain decimal.
    if k < 0 && (k > -7 || exp < 4) {
        let offset = nd - k.abs();
        if offset <= 0 {
            out.extend(b"0.");
            for _ in 0..-offset {
                out.push(b'0');
            }
            out.extend(digits);
        } else {
            let offset = offset as usize;
            out.extend(&digits[..offset]);
            out.push(b'.');
            out.extend(&digits[offset..]);
        }
        return;
    }
    // Exponent form: d[.ddd]e(+|-)X, exponent without zero padding.
    out.push(digits[0]);
    if nd > 1 {
        out.push(b'.');
        out.extend(&digits[1..]);
    }
    out.push(b'e');
    out.push(if x < 0 { b'-' } else { b'+' });
    let _ = write!(out, "{exp}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (3.0, "3"),
            (-12.0, "-12"),
            (1.5, "1.5"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (2.71875, "2.71875"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (0.00001, "0.00001"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (1.2e-5, "0.000012"),
            (1.2e-7, "1.2e-7"),
            (0.000012345, "1.2345e-5"),
            (0.00012345, "1.2345e-4"),
            (0.0012345, "0.0012345"),
            (1e15, "1000000000000000"),
            (1e18, "1000000000000000000"),
            (4611686018427387904.0, "4611686018427387904"),
            (-4611686018427387904.0, "-4611686018427387904"),
            (4611686018427389000.0, "4611686018427389000"),
            (1e19, "1e+19"),
            (1e20, "1e+20"),
            (1.2345e25, "1.2345e+25"),
            (1e300, "1e+300"),
            (-1e300, "-1e+300"),
            (1e-300, "1e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (10.5, "10.5"),
            (1234567.125, "1234567.125"),
        ];
        for &(d, want) in cases {
            assert_eq!(double_to_string(d), want, "formatting {d:?}");
            let mut v = b"x".to_vec();
            format_double(d, &mut v);
            assert_eq!(&v[1..], want.as_bytes());
        }
    }

    #[test]
    fn round_trips() {
        for &d in &[0.1, 1e-7, 1.5e300, 123.456e-10, 9007199254740993.0, 2.5e18] {
            let s = double_to_string(d);
            assert_eq!(s.parse::<f64>().unwrap(), d, "{s}");
        }
    }
}
