//! The glob matcher behind KEYS, SCAN MATCH and PUBSUB CHANNELS, against a line-by-line port of
//! Redis 7's own `stringmatchlen` (util.c).
//!
//! Checks: no panic, the same answer as Redis for every pattern and string, and (through
//! libFuzzer's timeout) no pattern that makes matching slow.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Redis 7 `stringmatchlen_impl` (util.c, case-sensitive), ported statement by statement: C's
/// pointer + length become an index `pi` and the remaining length `pl`; reading `pattern[0]` or
/// `pattern[1]` at or past the end reads the string's NUL terminator in C, so `at` returns 0
/// there. The nesting limit and `skipLongerMatches` are kept as Redis has them.
fn redis_match(p: &[u8], s: &[u8]) -> bool {
    let mut skip_longer = false;
    impl_(p, 0, p.len(), s, 0, s.len(), &mut skip_longer, 0)
}

#[allow(clippy::too_many_arguments)]
fn impl_(
    p: &[u8],
    mut pi: usize,
    mut pl: usize,
    s: &[u8],
    mut si: usize,
    mut sl: usize,
    skip_longer: &mut bool,
    nesting: u32,
) -> bool {
    let at = |i: usize| -> u8 { p.get(i).copied().unwrap_or(0) };
    if nesting > 1000 {
        return false;
    }
    while pl > 0 && sl > 0 {
        match at(pi) {
            b'*' => {
                while pl > 0 && at(pi + 1) == b'*' {
                    pi += 1;
                    pl -= 1;
                }
                if pl == 1 {
                    return true;
                }
                while sl > 0 {
                    if impl_(p, pi + 1, pl - 1, s, si, sl, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    si += 1;
                    sl -= 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                si += 1;
                sl -= 1;
            }
            b'[' => {
                pi += 1;
                pl -= 1;
                let not = at(pi) == b'^';
                if not {
                    pi += 1;
                    pl -= 1;
                }
                let mut matched = false;
                loop {
                    if at(pi) == b'\\' && pl >= 2 {
                        pi += 1;
                        pl -= 1;
                        if at(pi) == s[si] {
                            matched = true;
                        }
                    } else if at(pi) == b']' {
                        break;
                    } else if pl == 0 {
                        pi -= 1;
                        pl += 1;
                        break;
                    } else if pl >= 3 && at(pi + 1) == b'-' {
                        let (mut start, mut end) = (at(pi), at(pi + 2));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        pi += 2;
                        pl -= 2;
                        if s[si] >= start && s[si] <= end {
                            matched = true;
                        }
                    } else if at(pi) == s[si] {
                        matched = true;
                    }
                    pi += 1;
                    pl -= 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
                sl -= 1;
            }
            c => {
                let c = if c == b'\\' && pl >= 2 {
                    pi += 1;
                    pl -= 1;
                    at(pi)
                } else {
                    c
                };
                if c != s[si] {
                    return false;
                }
                si += 1;
                sl -= 1;
            }
        }
        pi += 1;
        pl -= 1;
        if sl == 0 {
            while at(pi) == b'*' {
                pi += 1;
                pl -= 1;
            }
            break;
        }
    }
    pl == 0 && sl == 0
}

fuzz_target!(|input: &[u8]| {
    let mut u = Unstructured::new(input);
    // Patterns from a small alphabet of glob syntax, so the interesting cases are dense.
    let alphabet = b"ab*?[]^-\\c";
    let plen = u8::arbitrary(&mut u).unwrap_or(0) as usize % 24;
    let pattern: Vec<u8> = (0..plen)
        .map(|_| alphabet[u8::arbitrary(&mut u).unwrap_or(0) as usize % alphabet.len()])
        .collect();
    let s = u.take_rest();
    let s = &s[..s.len().min(64)];
    let ours = ferrite::resp::glob::matches(&pattern, s);
    let redis = redis_match(&pattern, s);
    assert_eq!(
        ours,
        redis,
        "pattern {:?} string {:?}",
        String::from_utf8_lossy(&pattern),
        String::from_utf8_lossy(s)
    );
});
