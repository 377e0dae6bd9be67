//! C's `printf("%.17g")`, which Redis 7.0's `d2string` uses for non-integral doubles, and so for
//! the scores inside a sorted set's listpack. (Replies use Redis 7.2's shortest form, see
//! `ferrite_resp::double`; payloads must match what 7.0 writes and reads.)

/// Redis 7.0's `d2string`: nan/inf/zero spelled out, integral values inside ±(2^52) as integers,
/// everything else `%.17g`.
pub fn d2string(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let min = -4_503_599_627_370_495.0;
    let max = 4_503_599_627_370_496.0;
    if v > min && v < max && v == (v as i64) as f64 {
        return (v as i64).to_string();
    }
    g17(v)
}

/// `%.17g` of a finite, non-zero double.
pub fn g17(v: f64) -> String {
    const P: i32 = 17;
    // `{:.16e}` rounds to 17 significant digits exactly as printf does, and tells us the
    // exponent after rounding, which decides between the two layouts.
    let e = format!("{:.*e}", (P - 1) as usize, v);
    let (mantissa, exp) = e.split_once('e').expect("exponent");
    let x: i32 = exp.parse().expect("exponent digits");
    if !(-4..P).contains(&x) {
        let m = trim_fraction(mantissa);
        let sign = if x < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", x.abs())
    } else {
        let f = format!("{:.*}", (P - 1 - x) as usize, v);
        trim_fraction(&f).to_string()
    }
}

/// Drop trailing zeros of the fraction, and the point if nothing is left after it (`%g` without
/// the `#` flag).
fn trim_fraction(s: &str) -> &str {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_glibc() {
        // Values checked against glibc's printf("%.17g").
        assert_eq!(g17(0.1), "0.10000000000000001");
        assert_eq!(g17(1.5), "1.5");
        assert_eq!(g17(4.901595322885654), "4.9015953228856537");
        assert_eq!(g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(g17(1e300), "1.0000000000000001e+300");
        assert_eq!(g17(123456.789), "123456.789");
        assert_eq!(g17(-2.5e-7), "-2.4999999999999999e-07");
        assert_eq!(g17(1e17), "1e+17");
        assert_eq!(d2string(3.0), "3");
        assert_eq!(d2string(-0.0), "-0");
        assert_eq!(d2string(4_503_599_627_370_496.0), "4503599627370496");
    }
}
