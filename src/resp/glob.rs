//! Redis's glob matching (`stringmatchlen`) for KEYS, SCAN/HSCAN/SSCAN/ZSCAN MATCH, CONFIG GET
//! and PUBSUB CHANNELS: the one implementation lives in `ferrite_topics::glob` (pattern
//! subscriptions need it in the engine), a port of Redis 7's `stringmatchlen_impl` with its
//! quirks and its nesting limit. This module used to hold a second, iterative matcher that
//! differed from Redis (`*` matched the empty string; `[a-]` was not a range): the `glob` fuzz
//! target found both, and it now checks the shared one against an independent port of Redis's C.

pub use ferrite_topics::glob::matches;

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", false),
            ("", "", true),
            ("***", "", false),
            ("a*", "a", true),
            ("a[b-]", "a]", true),
            ("a[b-]", "a^", true),
            ("a[b-]", "ac", false),
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("user:*", "user:1", true),
            ("user:*", "use", false),
            ("**a", "bba", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(matches(p.as_bytes(), s.as_bytes()), *want, "{p} ~ {s}");
        }
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let p = "a*".repeat(50) + "b";
        let s = "a".repeat(100);
        assert!(!matches(p.as_bytes(), s.as_bytes()));
    }
}
