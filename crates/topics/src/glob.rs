//! Redis glob matching, a port of Redis's `stringmatchlen` (`util.c`): the same answers on every input,
//! including its quirks (an unterminated `[` class, a `-` range whose end is `]`, `*` not matching the
//! empty string, reversed ranges `[z-a]`).
//!
//! Syntax: `*` any run of bytes, `?` one byte, `[abc]` one of, `[^abc]` none of, `[a-z]` range,
//! `\x` the literal `x` (also inside a class).

/// Whether `string` matches the Redis glob `pattern` (case-sensitive, as pub/sub uses it).
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, false, &mut skip_longer, 0)
}

/// Like [`matches`], ASCII case-insensitive (Redis `nocase`).
pub fn matches_nocase(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, true, &mut skip_longer, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_impl(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: u32,
) -> bool {
    // Protection against abusive patterns (as Redis).
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // No match for the rest of the pattern from anywhere in the rest of the string:
                // earlier stars cannot help either.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: Redis steps back one byte so the common advance below
                        // lands at the end of the pattern; we simply stay at the end.
                        break;
                    } else if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end, mut c) = (p[0], p[2], s[0]);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if eq(p[0], s[0], nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                let lit = if c == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    c
                };
                if !eq(lit, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = p.get(1..).unwrap_or(&[]);
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn redis_doc_examples() {
        assert!(m("h?llo", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hallo"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
    }

    #[test]
    fn stars() {
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(m("news.*", "news.sports"));
        assert!(m("news.*", "news."));
        assert!(!m("news.*", "news"));
        assert!(m("*.*", "a.b"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("a*", "a"));
        assert!(m("*a", "a"));
        // Redis quirk: the loop never runs on an empty string, so `*` does not match "".
        assert!(!m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        // Many stars, no match: must terminate quickly (skip_longer).
        let s = "a".repeat(64);
        assert!(!m(&format!("{}b", "a*".repeat(30)), &s));
    }

    #[test]
    fn escapes_and_classes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(m("[z-a]", "m"), "reversed range");
        assert!(m("[a-]", "]"), "range end is ]");
        assert!(m("[abc", "a"), "unterminated class matches like Redis");
        assert!(!m("[abc", "d"));
        assert!(m("\\", "\\"), "trailing backslash is literal");
        // An empty class matches nothing; negated, it matches any byte (as Redis).
        assert!(m("[^]x", "ax"));
        assert!(!m("[]]", "]"));
    }

    #[test]
    fn nocase() {
        assert!(matches_nocase(b"HeLLo*", b"hello world"));
        assert!(matches_nocase(b"[A-C]x", b"bX"));
        assert!(!matches(b"HeLLo", b"hello"));
    }
}
