//! Bitmaps (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO) and LCS beside
//! redis-server 7.0, in RESP2 and RESP3: every option and error path, byte for byte.

use crate::common::redis_ref::Diff;

/// Run every command on both servers; every reply that differs is reported at the end (all of
/// them, not only the first).
async fn check(d: &mut Diff, cmds: &[&[&str]]) -> Vec<String> {
    let mut diffs = Vec::new();
    for c in cmds {
        let (f, r) = d.both(c).await;
        if f != r {
            diffs.push(format!("{c:?}: ferrite {f:?} vs redis {r:?}"));
        }
    }
    diffs
}

async fn run_both(cmds: &[&[&str]]) {
    let mut all = Vec::new();
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        for x in check(&mut d, cmds).await {
            all.push(format!("resp3={resp3} {x}"));
        }
    }
    assert!(all.is_empty(), "differences:\n{}", all.join("\n"));
}

#[tokio::test]
async fn setbit_and_getbit() {
    run_both(&[
        &["SETBIT", "b", "7", "1"],
        &["SETBIT", "b", "7", "1"],
        &["SETBIT", "b", "7", "0"],
        &["GETBIT", "b", "7"],
        &["SETBIT", "b", "0", "1"],
        &["GET", "b"],
        &["SETBIT", "b", "100", "1"],
        &["STRLEN", "b"],
        &["GET", "b"],
        &["GETBIT", "b", "100"],
        &["GETBIT", "b", "99"],
        &["GETBIT", "b", "1000000"],
        &["GETBIT", "b", "4294967295"],
        &["GETBIT", "missing", "5"],
        &["EXISTS", "missing"],
        // an integer-looking string is bits like any other
        &["SET", "n", "12"],
        &["SETBIT", "n", "6", "1"],
        &["GET", "n"],
        &["GETBIT", "n", "2"],
        // TTL kept
        &["SET", "t", "foo", "EX", "100"],
        &["SETBIT", "t", "1", "1"],
        &["TTL", "t"],
        &["GET", "t"],
        // errors
        &["SETBIT", "b", "-1", "1"],
        &["SETBIT", "b", "4294967296", "1"],
        &["SETBIT", "b", "99999999999999999999", "1"],
        &["SETBIT", "b", "abc", "1"],
        &["SETBIT", "b", "1", "2"],
        &["SETBIT", "b", "1", "-1"],
        &["SETBIT", "b", "1", "x"],
        &["SETBIT", "b", "1", ""],
        &["SETBIT", "b", "+1", "1"],
        &["GETBIT", "b", "-1"],
        &["GETBIT", "b", "4294967296"],
        &["GETBIT", "b", "x"],
        &["SETBIT", "nokey", "-1", "1"],
        &["EXISTS", "nokey"],
        &["RPUSH", "list", "a"],
        &["SETBIT", "list", "1", "1"],
        &["GETBIT", "list", "1"],
        &["SETBIT", "b", "1"],
        &["GETBIT", "b"],
        &["SETBIT", "b", "1", "1", "1"],
    ])
    .await;
}

#[tokio::test]
async fn bitcount_ranges_bytes_and_bits() {
    run_both(&[
        &["SET", "f", "foobar"],
        &["BITCOUNT", "f"],
        &["BITCOUNT", "f", "0", "0"],
        &["BITCOUNT", "f", "1", "1"],
        &["BITCOUNT", "f", "0", "-1"],
        &["BITCOUNT", "f", "-2", "-1"],
        &["BITCOUNT", "f", "-1", "-2"],
        &["BITCOUNT", "f", "-100", "-1"],
        &["BITCOUNT", "f", "-100", "-90"],
        &["BITCOUNT", "f", "1", "0"],
        &["BITCOUNT", "f", "100", "200"],
        &["BITCOUNT", "f", "2", "100"],
        &["BITCOUNT", "f", "5", "30", "BIT"],
        &["BITCOUNT", "f", "5", "30", "byte"],
        &["BITCOUNT", "f", "5", "30", "bit"],
        &["BITCOUNT", "f", "0", "-1", "BIT"],
        &["BITCOUNT", "f", "-5", "-1", "BIT"],
        &["BITCOUNT", "f", "-1", "-5", "BIT"],
        &["BITCOUNT", "f", "3", "3", "BIT"],
        &["BITCOUNT", "f", "1", "6", "BIT"],
        &["BITCOUNT", "f", "9", "46", "BIT"],
        &["BITCOUNT", "f", "47", "47", "BIT"],
        &["BITCOUNT", "f", "40", "1000", "BIT"],
        &[
            "BITCOUNT",
            "f",
            "-9223372036854775808",
            "9223372036854775807",
        ],
        &["BITCOUNT", "missing"],
        &["BITCOUNT", "missing", "0", "-1"],
        &["BITCOUNT", "missing", "0", "-1", "BIT"],
        &["SET", "e", ""],
        &["BITCOUNT", "e"],
        &["BITCOUNT", "e", "0", "-1"],
        &["BITCOUNT", "e", "0", "-1", "BIT"],
        // errors
        &["BITCOUNT", "f", "0"],
        &["BITCOUNT", "f", "0", "1", "2"],
        &["BITCOUNT", "f", "0", "1", "BIT", "x"],
        &["BITCOUNT", "f", "a", "1"],
        &["BITCOUNT", "f", "0", "b"],
        &["BITCOUNT", "f", "0", "1", "bits"],
        &["BITCOUNT", "missing", "0"],
        &["BITCOUNT", "missing", "a", "b"],
        &["RPUSH", "list", "a"],
        &["BITCOUNT", "list"],
        &["BITCOUNT", "list", "0", "-1"],
        &["BITCOUNT", "list", "0"],
        &["BITCOUNT"],
    ])
    .await;
}

#[tokio::test]
async fn bitpos_ranges_bytes_and_bits() {
    run_both(&[
        // 0xff 0xf0 0x00
        &[
            "BITFIELD", "p", "SET", "u8", "0", "255", "SET", "u8", "8", "240", "SET", "u8", "16",
            "0",
        ],
        &["BITPOS", "p", "0"],
        &["BITPOS", "p", "1"],
        &["BITPOS", "p", "0", "0"],
        &["BITPOS", "p", "0", "1"],
        &["BITPOS", "p", "1", "2"],
        &["BITPOS", "p", "0", "2", "-1"],
        &["BITPOS", "p", "1", "2", "-1"],
        &["BITPOS", "p", "0", "0", "0"],
        &["BITPOS", "p", "0", "0", "-1", "BIT"],
        &["BITPOS", "p", "1", "7", "15", "BIT"],
        &["BITPOS", "p", "1", "12", "23", "BIT"],
        &["BITPOS", "p", "0", "3", "10", "BIT"],
        &["BITPOS", "p", "0", "0", "11", "BIT"],
        &["BITPOS", "p", "0", "-12", "-1", "BIT"],
        &["BITPOS", "p", "1", "-12", "-1", "BIT"],
        &["BITPOS", "p", "0", "5", "BIT"],
        &["BITPOS", "p", "1", "17", "BIT"],
        &["BITPOS", "p", "0", "3"],
        &["BITPOS", "p", "1", "3"],
        &["BITPOS", "p", "0", "2", "1"],
        &["BITPOS", "p", "0", "-1", "-2"],
        &["BITPOS", "p", "1", "0", "-1", "byte"],
        &["BITPOS", "p", "0", "-100", "100"],
        // all ones: a clear bit is only found past the string when no end is given
        &["BITFIELD", "o", "SET", "u16", "0", "65535"],
        &["BITPOS", "o", "0"],
        &["BITPOS", "o", "0", "0"],
        &["BITPOS", "o", "0", "1"],
        &["BITPOS", "o", "0", "0", "-1"],
        &["BITPOS", "o", "0", "0", "-1", "BIT"],
        &["BITPOS", "o", "0", "3", "BIT"],
        &["BITPOS", "o", "0", "9", "14", "BIT"],
        &["BITPOS", "o", "1"],
        // all zeros
        &["SETBIT", "z", "23", "0"],
        &["BITPOS", "z", "1"],
        &["BITPOS", "z", "0"],
        &["BITPOS", "z", "1", "1"],
        &["BITPOS", "z", "0", "1", "-1"],
        &["BITPOS", "z", "1", "0", "-1", "BIT"],
        // missing and empty
        &["BITPOS", "missing", "0"],
        &["BITPOS", "missing", "1"],
        &["BITPOS", "missing", "1", "0", "-1", "BIT"],
        &["BITPOS", "missing", "0", "5", "10"],
        &["BITPOS", "missing", "0", "a"],
        &["SET", "e", ""],
        &["BITPOS", "e", "0"],
        &["BITPOS", "e", "1"],
        &["BITPOS", "e", "0", "0"],
        &["BITPOS", "e", "0", "0", "-1", "BIT"],
        // errors
        &["BITPOS", "p", "2"],
        &["BITPOS", "p", "-1"],
        &["BITPOS", "p", "x"],
        &["BITPOS", "p", "0", "a"],
        &["BITPOS", "p", "0", "0", "a"],
        &["BITPOS", "p", "0", "0", "1", "bitz"],
        &["BITPOS", "p", "0", "0", "1", "BIT", "extra"],
        &["BITPOS", "missing", "2"],
        &["RPUSH", "list", "a"],
        &["BITPOS", "list", "0"],
        &["BITPOS", "list", "0", "1", "2"],
        &["BITPOS", "list", "3"],
        &["BITPOS", "p"],
    ])
    .await;
}

#[tokio::test]
async fn bitop_and_or_xor_not() {
    run_both(&[
        &["SET", "a", "foobar"],
        &["SET", "b", "abcdef"],
        &["SET", "c", "ab"],
        &["BITOP", "AND", "d", "a", "b"],
        &["GET", "d"],
        &["BITOP", "or", "d", "a", "b", "c"],
        &["GET", "d"],
        &["BITOP", "Xor", "d", "a", "c"],
        &["GET", "d"],
        &["BITOP", "AND", "d", "a", "c"],
        &["GET", "d"],
        &["BITOP", "NOT", "d", "c"],
        &["GET", "d"],
        &["BITOP", "AND", "d", "a", "missing"],
        &["GET", "d"],
        &["BITOP", "OR", "d", "missing", "a"],
        &["GET", "d"],
        &["BITOP", "XOR", "d", "a"],
        &["GET", "d"],
        &["BITOP", "AND", "a", "a", "b"],
        &["GET", "a"],
        // an empty result deletes the destination
        &["BITOP", "OR", "d", "missing", "missing2"],
        &["EXISTS", "d"],
        &["BITOP", "NOT", "d", "missing"],
        &["EXISTS", "d"],
        &["SET", "e", ""],
        &["BITOP", "NOT", "d", "e"],
        &["EXISTS", "d"],
        // the destination loses its TTL and its type
        &["SET", "d", "x", "EX", "100"],
        &["BITOP", "OR", "d", "b"],
        &["TTL", "d"],
        &["RPUSH", "L", "1"],
        &["BITOP", "OR", "L", "b"],
        &["TYPE", "L"],
        &["GET", "L"],
        // errors
        &["BITOP", "NOT", "d", "a", "b"],
        &["BITOP", "NOT", "d"],
        &["BITOP", "NAND", "d", "a"],
        &["BITOP", "AND", "d"],
        &["RPUSH", "list", "a"],
        &["BITOP", "NOT", "d", "list"],
        &["BITOP", "AND", "d", "a", "list"],
        &["BITOP", "OR", "list", "a"],
        &["TYPE", "list"],
        &["BITOP", "NAND", "d", "list"],
    ])
    .await;
}

#[tokio::test]
async fn bitfield_types_offsets_and_overflow() {
    run_both(&[
        &["BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "i8", "0"],
        &["BITFIELD", "bf", "INCRBY", "i8", "0", "100"],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "200",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-300",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "-1", "GET", "i8", "0",
        ],
        &[
            "BITFIELD", "bf", "overflow", "fail", "INCRBY", "i8", "0", "1", "GET", "i8", "0",
        ],
        &[
            "BITFIELD", "bf", "SET", "u8", "8", "255", "INCRBY", "u8", "8", "1",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u8", "8", "-10",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u8", "8", "1000",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u8", "8", "1",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "u8", "8", "-256",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "u8", "8", "-257",
        ],
        // SET out of range: WRAP stores the low bits, SAT the limit, FAIL nothing
        &["BITFIELD", "bf", "SET", "i8", "0", "200", "GET", "i8", "0"],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "i8", "0", "200", "GET", "i8", "0",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "i8", "0", "-200", "GET", "i8", "0",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "FAIL", "SET", "i8", "0", "200", "GET", "i8", "0",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "u4", "0", "-1", "GET", "u4", "0",
        ],
        &["BITFIELD", "bf", "OVERFLOW", "FAIL", "SET", "u4", "0", "16"],
        &["BITFIELD", "bf", "SET", "u4", "0", "-1", "GET", "u8", "0"],
        // the overflow mode applies to the subcommands after it only
        &[
            "BITFIELD", "bf", "INCRBY", "u2", "100", "5", "OVERFLOW", "SAT", "INCRBY", "u2", "102",
            "5", "OVERFLOW", "FAIL", "INCRBY", "u2", "104", "5",
        ],
        // #N offsets are N * width
        &[
            "BITFIELD", "h", "SET", "u4", "#2", "15", "GET", "u4", "#2", "GET", "u8", "#1", "GET",
            "u12", "0",
        ],
        &["GET", "h"],
        &[
            "BITFIELD", "h", "INCRBY", "i5", "#3", "7", "GET", "i5", "#3",
        ],
        // widths up to i64 and u63, unaligned
        &[
            "BITFIELD", "w", "SET", "i64", "3", "-1", "GET", "i64", "3", "GET", "u63", "4",
        ],
        &["BITFIELD", "w", "INCRBY", "i64", "3", "1"],
        &[
            "BITFIELD",
            "w",
            "SET",
            "i64",
            "0",
            "9223372036854775807",
            "INCRBY",
            "i64",
            "0",
            "1",
        ],
        &[
            "BITFIELD",
            "w",
            "OVERFLOW",
            "SAT",
            "SET",
            "i64",
            "0",
            "9223372036854775807",
            "INCRBY",
            "i64",
            "0",
            "1",
        ],
        &[
            "BITFIELD",
            "w",
            "OVERFLOW",
            "SAT",
            "SET",
            "i64",
            "0",
            "-9223372036854775808",
            "INCRBY",
            "i64",
            "0",
            "-1",
        ],
        &[
            "BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "-1",
        ],
        &[
            "BITFIELD",
            "w",
            "SET",
            "u63",
            "1",
            "9223372036854775807",
            "INCRBY",
            "u63",
            "1",
            "1",
        ],
        &[
            "BITFIELD",
            "w",
            "OVERFLOW",
            "SAT",
            "INCRBY",
            "u63",
            "1",
            "9223372036854775807",
        ],
        &[
            "BITFIELD",
            "w",
            "OVERFLOW",
            "SAT",
            "INCRBY",
            "u63",
            "1",
            "-9223372036854775808",
        ],
        &[
            "BITFIELD", "w", "SET", "i1", "0", "1", "GET", "i1", "0", "GET", "u1", "0",
        ],
        &[
            "BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i1", "0", "5", "INCRBY", "i1", "0", "-5",
        ],
        &["GET", "w"],
        &["STRLEN", "w"],
        // reads of a missing key, past the end, with no subcommand
        &["BITFIELD", "missing", "GET", "u8", "0", "GET", "i16", "100"],
        &["EXISTS", "missing"],
        &[
            "BITFIELD",
            "bf",
            "GET",
            "u8",
            "4294967288",
            "GET",
            "i64",
            "1000",
        ],
        &["BITFIELD", "bf"],
        &["BITFIELD", "missing"],
        &["BITFIELD", "missing", "OVERFLOW", "SAT"],
        &["EXISTS", "missing"],
        // a FAIL-ed write still pads the string (and makes the key)
        &["BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "u2", "20", "10"],
        &["GET", "f"],
        // TTL kept
        &["SET", "t", "a", "PX", "100000"],
        &["BITFIELD", "t", "SET", "u8", "16", "65"],
        &["GET", "t"],
        &["EXPIRE", "t", "100", "XX"],
        // errors: nothing is done when any subcommand is wrong
        &["BITFIELD", "e", "GET", "u64", "0"],
        &["BITFIELD", "e", "GET", "i65", "0"],
        &["BITFIELD", "e", "GET", "i0", "0"],
        &["BITFIELD", "e", "GET", "x8", "0"],
        &["BITFIELD", "e", "GET", "I8", "0"],
        &["BITFIELD", "e", "GET", "i", "0"],
        &["BITFIELD", "e", "GET", "i8", "-1"],
        &["BITFIELD", "e", "GET", "i8", "#-1"],
        &["BITFIELD", "e", "GET", "i8", "#"],
        &["BITFIELD", "e", "GET", "i8", "4294967296"],
        &["BITFIELD", "e", "GET", "i8", "#536870912"],
        &["BITFIELD", "e", "GET", "i8", "x"],
        &["BITFIELD", "e", "SET", "i8", "0", "abc"],
        &["BITFIELD", "e", "INCRBY", "i8", "0", "1.5"],
        &["BITFIELD", "e", "SET", "i8", "0", "1", "OVERFLOW", "foo"],
        &["BITFIELD", "e", "SET", "i8", "0", "1", "DEL", "i8", "0"],
        &["BITFIELD", "e", "GET", "i8"],
        &["BITFIELD", "e", "SET", "i8", "0"],
        &["BITFIELD", "e", "OVERFLOW"],
        &["BITFIELD", "e", "SET", "i8", "0", "1", "GET", "u64", "0"],
        &["EXISTS", "e"],
        &["RPUSH", "list", "a"],
        &["BITFIELD", "list", "GET", "i8", "0"],
        &["BITFIELD", "list", "SET", "i8", "0", "1"],
        &["BITFIELD", "list"],
        &["BITFIELD"],
    ])
    .await;
}

#[tokio::test]
async fn bitfield_ro_reads_only() {
    run_both(&[
        &["SET", "k", "hello"],
        &[
            "BITFIELD_RO",
            "k",
            "GET",
            "u8",
            "0",
            "GET",
            "i4",
            "#3",
            "GET",
            "u63",
            "1",
        ],
        &["BITFIELD_RO", "missing", "GET", "u8", "0"],
        &["BITFIELD_RO", "k"],
        &["BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "u8", "0"],
        &["BITFIELD_RO", "k", "SET", "u8", "0", "1"],
        &[
            "BITFIELD_RO",
            "k",
            "GET",
            "u8",
            "0",
            "INCRBY",
            "u8",
            "0",
            "1",
        ],
        &["BITFIELD_RO", "missing", "SET", "u8", "0", "1"],
        &["EXISTS", "missing"],
        &["BITFIELD_RO", "k", "GET", "u64", "0"],
        &["BITFIELD_RO", "k", "FOO"],
        &["RPUSH", "list", "a"],
        &["BITFIELD_RO", "list", "GET", "u8", "0"],
        &["BITFIELD_RO", "list", "SET", "u8", "0", "1"],
        &["BITFIELD_RO"],
        &["GET", "k"],
    ])
    .await;
}

#[tokio::test]
async fn lcs_string_len_and_idx() {
    run_both(&[
        &["SET", "k1", "ohmytext"],
        &["SET", "k2", "mynewtext"],
        &["LCS", "k1", "k2"],
        &["LCS", "k1", "k2", "LEN"],
        &["LCS", "k1", "k2", "IDX"],
        &["LCS", "k1", "k2", "idx", "WITHMATCHLEN"],
        &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4"],
        &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
        &[
            "LCS",
            "k1",
            "k2",
            "IDX",
            "MINMATCHLEN",
            "-5",
            "WITHMATCHLEN",
        ],
        &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "100"],
        &["LCS", "k1", "k2", "LEN", "MINMATCHLEN", "2"],
        &["LCS", "k1", "k2", "WITHMATCHLEN"],
        &["LCS", "k1", "k2", "MINMATCHLEN", "3"],
        &["LCS", "k2", "k1", "IDX", "WITHMATCHLEN"],
        &["LCS", "k1", "k1", "IDX", "WITHMATCHLEN"],
        &["LCS", "k1", "k1"],
        &["SET", "a", "ABCBDAB"],
        &["SET", "b", "BDCABA"],
        &["LCS", "a", "b"],
        &["LCS", "a", "b", "IDX", "WITHMATCHLEN"],
        &["LCS", "b", "a", "IDX"],
        &["SET", "x", "xxxx"],
        &["LCS", "a", "x"],
        &["LCS", "a", "x", "IDX"],
        &["LCS", "a", "x", "LEN"],
        &["LCS", "k1", "missing"],
        &["LCS", "missing", "k1", "IDX"],
        &["LCS", "missing", "missing2", "LEN"],
        &["SET", "e", ""],
        &["LCS", "e", "k1", "IDX", "WITHMATCHLEN"],
        // errors
        &["LCS", "k1", "k2", "LEN", "IDX"],
        &["LCS", "k1", "k2", "FOO"],
        &["LCS", "k1", "k2", "MINMATCHLEN"],
        &["LCS", "k1", "k2", "MINMATCHLEN", "x"],
        &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "1.5"],
        &["RPUSH", "list", "a"],
        &["LCS", "k1", "list"],
        &["LCS", "list", "missing"],
        &["LCS", "list", "k1", "FOO"],
        &["LCS", "k1"],
    ])
    .await;
}

#[tokio::test]
async fn lcs_refuses_a_table_past_proto_max_bulk_len() {
    let big_a = "a".repeat(12_000);
    let big_b = "b".repeat(12_000);
    run_both(&[
        &["SET", "a", &big_a],
        &["SET", "b", &big_b],
        &["LCS", "a", "b"],
        &["LCS", "a", "b", "LEN"],
    ])
    .await;
}

#[tokio::test]
async fn command_getkeys_and_arity_errors_match() {
    run_both(&[
        &["COMMAND", "GETKEYS", "BITOP", "AND", "d", "a", "b"],
        &["COMMAND", "GETKEYS", "LCS", "a", "b", "IDX"],
        &["COMMAND", "GETKEYS", "SETBIT", "k", "1", "1"],
        &["COMMAND", "GETKEYS", "BITFIELD", "k", "GET", "u8", "0"],
        &["COMMAND", "GETKEYS", "BITFIELD_RO", "k", "GET", "u8", "0"],
        &["COMMAND", "GETKEYS", "BITCOUNT", "k"],
        &["COMMAND", "GETKEYS", "BITPOS", "k", "1"],
        &["COMMAND", "GETKEYS", "GETBIT", "k", "1"],
        &["BITOP", "AND"],
        &["BITPOS"],
        &["GETBIT", "k"],
        &["LCS"],
        &["BITFIELD_RO"],
    ])
    .await;
}

/// Inside MULTI the bit commands queue and run like the others.
#[tokio::test]
async fn bit_commands_in_a_transaction() {
    run_both(&[
        &["MULTI"],
        &["SETBIT", "k", "3", "1"],
        &["BITFIELD", "k", "INCRBY", "u4", "4", "3"],
        &["BITOP", "NOT", "d", "k"],
        &["BITCOUNT", "d"],
        &["LCS", "k", "d"],
        &["SETBIT", "k", "-1", "1"],
        &["EXEC"],
        &["GET", "k"],
    ])
    .await;
}
