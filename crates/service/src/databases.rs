//! Redis's numbered databases as Ferrite caches (RESP `SELECT n`, `MOVE`, `SWAPDB`, `COPY ..
//! DB n`, keyspace notifications' `@<n>`).
//!
//! Database 0 is a connection's own cache (`default`, or the cache AUTH names); database `n`
//! of 1..[`DATABASES`] is the cache named `<cache>-db<n>` ([`db_cache_name`]), so what a Redis
//! client stores in `SELECT 3` is an ordinary cache that gRPC and HTTP clients reach by that
//! name, under the same permissions and limits. [`split_db`] reads a name back; a cache whose
//! own name ends in `-db1`..`-db15` is read as such a database.

use std::borrow::Cow;

/// How many databases a RESP connection sees (Redis's default `databases 16`).
pub const DATABASES: usize = 16;

/// The cache that is database `n` (< [`DATABASES`]) of `base` (database 0).
pub fn db_cache_name(base: &str, n: usize) -> Cow<'_, str> {
    if n == 0 {
        Cow::Borrowed(base)
    } else {
        Cow::Owned(format!("{base}-db{n}"))
    }
}

/// `(database 0's cache, n)` for a cache name: `("default", 3)` for `default-db3`, the name
/// itself and 0 for anything else.
pub fn split_db(name: &str) -> (&str, usize) {
    if let Some((base, n)) = name.rsplit_once("-db") {
        // No sign, no leading zero: exactly what `db_cache_name` writes.
        if !base.is_empty() && !n.starts_with('0') && n.bytes().all(|c| c.is_ascii_digit()) {
            if let Ok(n) = n.parse::<usize>() {
                if (1..DATABASES).contains(&n) {
                    return (base, n);
                }
            }
        }
    }
    (name, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for base in ["default", "app", "a-db", "x-db3"] {
            for n in 0..DATABASES {
                let name = db_cache_name(base, n);
                if n > 0 {
                    assert_eq!(split_db(&name), (base, n), "{name}");
                }
            }
        }
        assert_eq!(db_cache_name("default", 0), "default");
        assert_eq!(db_cache_name("default", 15), "default-db15");
        for plain in [
            "default",
            "default-db0",
            "default-db16",
            "default-db01",
            "-db3",
            "x-db+1",
        ] {
            assert_eq!(split_db(plain), (plain, 0), "{plain}");
        }
    }
}
