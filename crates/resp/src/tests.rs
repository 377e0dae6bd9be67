use super::*;
use proptest::prelude::*;

fn lim() -> ParseLimits {
    ParseLimits::default()
}

/// Parse every complete command in `input`; returns the commands and what is
/// left in the buffer, or the first error.
type Cmd = Vec<Vec<u8>>;

fn parse_all(input: &[u8], limits: &ParseLimits) -> Result<(Vec<Cmd>, Vec<u8>), String> {
    let mut buf = BytesMut::from(input);
    let mut args = Vec::new();
    let mut cmds = Vec::new();
    loop {
        match parse_command(&mut buf, limits, &mut args) {
            Ok(true) => cmds.push(args.iter().map(|a| a.to_vec()).collect()),
            Ok(false) => return Ok((cmds, buf.to_vec())),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn one(input: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (mut cmds, rest) = parse_all(input, &lim())?;
    assert_eq!(cmds.len(), 1, "expected exactly one command in {input:?}");
    assert!(rest.is_empty(), "leftover {rest:?}");
    Ok(cmds.remove(0))
}

fn v(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

#[test]
fn multibulk_ok() {
    assert_eq!(one(b"*1\r\n$3\r\nfoo\r\n").unwrap(), v(&["foo"]));
    assert_eq!(
        one(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n").unwrap(),
        v(&["SET", "k", ""])
    );
    // Binary payload containing CRLF and NUL.
    assert_eq!(
        one(b"*2\r\n$3\r\nGET\r\n$4\r\n\r\n\0x\r\n").unwrap(),
        vec![b"GET".to_vec(), b"\r\n\0x".to_vec()]
    );
}

#[test]
fn multibulk_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*\r\n", "invalid multibulk length"),
        (b"*01\r\n", "invalid multibulk length"),
        (b"*+1\r\n", "invalid multibulk length"),
        (b"* 1\r\n", "invalid multibulk length"),
        (b"*1048577\r\n", "invalid multibulk length"),
        (b"*99999999999999999999\r\n", "invalid multibulk length"),
        (b"*1\r\n+foo\r\n", "expected '$', got '+'"),
        (b"*1\r\nfoo\r\n", "expected '$', got 'f'"),
        (b"*1\r\n\r\n", "expected '$', got ' '"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$abc\r\n", "invalid bulk length"),
        (b"*1\r\n$\r\n", "invalid bulk length"),
        (b"*1\r\n$01\r\n", "invalid bulk length"),
        (b"*1\r\n$536870913\r\n", "invalid bulk length"),
        (b"*2\r\n$1\r\na\r\n:1\r\n", "expected '$', got ':'"),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_all(input, &lim()).unwrap_err(),
            *want,
            "input {input:?}"
        );
    }
    let e = ProtocolError("invalid bulk length".into());
    assert_eq!(e.message(), "ERR Protocol error: invalid bulk length");
}

#[test]
fn limits_are_configurable() {
    let l = ParseLimits {
        max_bulk_len: 3,
        max_multibulk_len: 2,
        max_inline_len: 16,
        unauthenticated: false,
    };
    assert!(parse_all(b"*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n", &l).is_ok());
    assert_eq!(
        parse_all(b"*1\r\n$4\r\nabcd\r\n", &l).unwrap_err(),
        "invalid bulk length"
    );
    assert_eq!(
        parse_all(b"*3\r\n", &l).unwrap_err(),
        "invalid multibulk length"
    );
    // Headers that never end are rejected once past the inline limit.
    assert_eq!(
        parse_all(&[b'*'; 18], &l).unwrap_err(),
        "too big mbulk count string"
    );
    let mut long_bulk_hdr = b"*1\r\n$".to_vec();
    long_bulk_hdr.extend_from_slice(&[b'1'; 20]);
    assert_eq!(
        parse_all(&long_bulk_hdr, &l).unwrap_err(),
        "too big bulk count string"
    );
    // A line longer than the limit is refused once the limit plus a CRLF arrived without a
    // newline, or once its newline arrives: the same answer however the bytes were split.
    assert_eq!(
        parse_all(&[b'a'; 18], &l).unwrap_err(),
        "too big inline request"
    );
    let mut long_line = vec![b'a'; 17];
    long_line.push(b'\n');
    assert_eq!(
        parse_all(&long_line, &l).unwrap_err(),
        "too big inline request"
    );
    // At the limit it is merely incomplete.
    assert_eq!(
        parse_all(&[b'a'; 16], &l).unwrap(),
        (vec![], vec![b'a'; 16])
    );
    let mut line = vec![b'a'; 16];
    line.extend_from_slice(b"\r\n");
    assert_eq!(parse_all(&line, &l).unwrap().0, vec![vec![vec![b'a'; 16]]]);
}

/// Found by the `resp_parse` fuzz target: a line of exactly the limit whose "\n" arrives in a
/// later read than its "\r" was refused, while the same bytes in one read were accepted.
#[test]
fn a_line_at_the_limit_is_accepted_however_it_is_split() {
    let l = ParseLimits {
        max_inline_len: 16,
        ..ParseLimits::default()
    };
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    buf.extend_from_slice(&[b'a'; 16]);
    buf.extend_from_slice(b"\r");
    assert_eq!(parse_command(&mut buf, &l, &mut args), Ok(false));
    buf.extend_from_slice(b"\n");
    assert_eq!(parse_command(&mut buf, &l, &mut args), Ok(true));
    assert_eq!(args, vec![Bytes::from(vec![b'a'; 16])]);
}

#[test]
fn default_limits() {
    let l = ParseLimits::default();
    assert_eq!(l.max_bulk_len, 512 << 20);
    assert_eq!(l.max_multibulk_len, 1 << 20);
    assert_eq!(l.max_inline_len, 64 << 10);
}

#[test]
fn skipped_frames() {
    let (cmds, rest) =
        parse_all(b"*0\r\n*-1\r\n\r\n\n   \r\n*1\r\n$4\r\nPING\r\n", &lim()).unwrap();
    assert_eq!(cmds, vec![v(&["PING"])]);
    assert!(rest.is_empty());
    // Skipped frames in front of an incomplete command are discarded.
    let (cmds, rest) = parse_all(b"*0\r\n\r\n*1\r\n$4\r\nPI", &lim()).unwrap();
    assert!(cmds.is_empty());
    assert_eq!(rest, b"*1\r\n$4\r\nPI");
}

#[test]
fn inline_commands() {
    let cases: &[(&[u8], &[&str])] = &[
        (b"PING\r\n", &["PING"]),
        (b"PING\n", &["PING"]),
        (b"  set   a  b \r\n", &["set", "a", "b"]),
        (b"set \"a b\" 'c'\r\n", &["set", "a b", "c"]),
        (b"set \"\" ''\r\n", &["set", "", ""]),
        (
            b"x \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n",
            &["x", "\n\r\t\u{8}\u{7}\\\"q"],
        ),
        (b"x \"\\x41\\x6a\\xzz\"\n", &["x", "Ajxzz"]),
        (b"x 'it\\'s' 'a\\b'\n", &["x", "it's", "a\\b"]),
        (b"x a\"b c\"\n", &["x", "ab c"]),
        (b"x\ty\x0bz\n", &["x", "y\u{b}z"]),
        (b"x y\0ignored\r\n", &["x", "y"]),
        (b"x\r\r\n", &["x"]),
    ];
    for (input, want) in cases {
        assert_eq!(one(input).unwrap(), v(want), "input {input:?}");
    }
    // \xHH can produce non-UTF-8 bytes.
    assert_eq!(
        one(b"x \"\\xff\\x00\"\n").unwrap(),
        vec![b"x".to_vec(), vec![0xff, 0]]
    );
    // Unquoted arguments are zero-copy slices of the frame.
    let mut buf = BytesMut::from(&b"GET key\r\n"[..]);
    let mut args = Vec::new();
    assert!(parse_command(&mut buf, &lim(), &mut args).unwrap());
    assert_eq!(
        args,
        vec![Bytes::from_static(b"GET"), Bytes::from_static(b"key")]
    );
}

#[test]
fn inline_errors() {
    let cases: &[&[u8]] = &[
        b"set \"a b\r\n",
        b"set 'a b\r\n",
        b"set \"a\"b\r\n",
        b"set 'a'b\r\n",
        b"set \"a\\\"\r\n",
        b"set \"a\0\"\r\n",
    ];
    for input in cases {
        assert_eq!(
            parse_all(input, &lim()).unwrap_err(),
            "unbalanced quotes in request",
            "input {input:?}"
        );
    }
}

#[test]
fn incomplete_leaves_buffer_untouched() {
    let input: &[u8] = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nPING\r\nset \"a b\" c\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n";
    let (all, rest) = parse_all(input, &lim()).unwrap();
    assert_eq!(all.len(), 4);
    assert!(rest.is_empty());
    for split in 0..=input.len() {
        let (first, rest) = parse_all(&input[..split], &lim()).unwrap();
        let consumed = split - rest.len();
        assert_eq!(&input[consumed..split], &rest[..], "split {split}");
        let mut tail = rest.clone();
        tail.extend_from_slice(&input[split..]);
        let (second, rest2) = parse_all(&tail, &lim()).unwrap();
        assert!(rest2.is_empty());
        let mut got = first;
        got.extend(second);
        assert_eq!(got, all, "split {split}");
    }
}

#[test]
fn bulk_hint() {
    assert_eq!(pending_bulk_hint(b""), None);
    assert_eq!(pending_bulk_hint(b"PING"), None);
    assert_eq!(pending_bulk_hint(b"*2\r\n$3\r\nSET"), Some(2));
    assert_eq!(pending_bulk_hint(b"*2\r\n$3"), None);
    assert_eq!(pending_bulk_hint(b"*2\r\n$3\r\nSET\r\n"), None);
    assert_eq!(pending_bulk_hint(b"*2\r\n$3\r\nSET\r\n$100\r\n"), Some(102));
    assert_eq!(
        pending_bulk_hint(b"*2\r\n$3\r\nSET\r\n$100\r\nabc"),
        Some(99)
    );
    assert_eq!(pending_bulk_hint(b"*1\r\n$3\r\nSET\r\n"), None);
    assert_eq!(pending_bulk_hint(b"*1\r\n$x\r\n"), None);
    // Beyond the default parse limit it is still a hint.
    assert_eq!(
        pending_bulk_hint(b"*1\r\n$1000000000\r\n"),
        Some(1_000_000_002)
    );
}

fn enc(cmds: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for c in cmds {
        let parts: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
        encode_array_of_bulks(&parts, &mut out);
    }
    out.to_vec()
}

proptest! {
    #[test]
    fn prop_split_pipeline(
        cmds in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
            1..6,
        ),
        split_frac in 0.0f64..=1.0,
    ) {
        let input = enc(&cmds);
        let split = ((input.len() as f64) * split_frac) as usize;
        let split = split.min(input.len());
        let (first, rest) = parse_all(&input[..split], &lim()).unwrap();
        // What was not parsed is still there, byte for byte.
        prop_assert_eq!(&input[split - rest.len()..split], &rest[..]);
        let mut tail = rest;
        tail.extend_from_slice(&input[split..]);
        let (second, rest2) = parse_all(&tail, &lim()).unwrap();
        prop_assert!(rest2.is_empty());
        let mut got = first;
        got.extend(second);
        prop_assert_eq!(got, cmds);
    }

    #[test]
    fn prop_garbage_never_panics(input in prop::collection::vec(any::<u8>(), 0..200)) {
        let small = ParseLimits { max_bulk_len: 50, max_multibulk_len: 8, max_inline_len: 64, unauthenticated: false };
        let mut buf = BytesMut::from(&input[..]);
        let mut args = Vec::new();
        let mut guard = 0;
        while let Ok(true) = parse_command(&mut buf, &small, &mut args) {
            prop_assert!(!args.is_empty());
            guard += 1;
            prop_assert!(guard <= input.len());
        }
        let _ = pending_bulk_hint(&input);
    }

    #[test]
    fn prop_garbage_headers(n in any::<i64>(), tail in prop::collection::vec(any::<u8>(), 0..20)) {
        let mut input = format!("*1\r\n${n}\r\n").into_bytes();
        input.extend_from_slice(&tail);
        let _ = parse_all(&input, &lim());
        let _ = pending_bulk_hint(&input);
    }

    #[test]
    fn prop_double_round_trips(d in any::<f64>()) {
        let s = double_to_string(d);
        if d.is_nan() {
            prop_assert_eq!(s, "nan");
        } else {
            let back: f64 = s.parse().unwrap();
            prop_assert_eq!(back.to_bits(), d.to_bits(), "{}", s);
        }
    }
}

fn w(resp3: bool, f: impl FnOnce(&mut ReplyWriter<'_>)) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut wr = ReplyWriter::new(&mut buf, resp3);
    assert_eq!(wr.resp3(), resp3);
    f(&mut wr);
    buf.to_vec()
}

#[test]
fn writer_exact_bytes() {
    type Case = (
        &'static str,
        fn(&mut ReplyWriter<'_>),
        &'static [u8],
        &'static [u8],
    );
    // (name, action, RESP2 bytes, RESP3 bytes)
    let cases: &[Case] = &[
        ("simple", |w| w.simple("PONG"), b"+PONG\r\n", b"+PONG\r\n"),
        (
            "simple crlf",
            |w| w.simple("a\r\nb"),
            b"+a  b\r\n",
            b"+a  b\r\n",
        ),
        ("ok", |w| w.ok(), b"+OK\r\n", b"+OK\r\n"),
        (
            "error",
            |w| w.error("ERR bad"),
            b"-ERR bad\r\n",
            b"-ERR bad\r\n",
        ),
        (
            "error crlf",
            |w| w.error("ERR a\r\nb\nc"),
            b"-ERR a  b c\r\n",
            b"-ERR a  b c\r\n",
        ),
        (
            "error dash",
            |w| w.error("-WRONGTYPE x"),
            b"-WRONGTYPE x\r\n",
            b"-WRONGTYPE x\r\n",
        ),
        ("int", |w| w.int(42), b":42\r\n", b":42\r\n"),
        ("int 0", |w| w.int(0), b":0\r\n", b":0\r\n"),
        ("int neg", |w| w.int(-7), b":-7\r\n", b":-7\r\n"),
        (
            "int min",
            |w| w.int(i64::MIN),
            b":-9223372036854775808\r\n",
            b":-9223372036854775808\r\n",
        ),
        (
            "int max",
            |w| w.int(i64::MAX),
            b":9223372036854775807\r\n",
            b":9223372036854775807\r\n",
        ),
        (
            "bulk",
            |w| w.bulk(b"hello"),
            b"$5\r\nhello\r\n",
            b"$5\r\nhello\r\n",
        ),
        ("bulk empty", |w| w.bulk(b""), b"$0\r\n\r\n", b"$0\r\n\r\n"),
        (
            "bulk binary",
            |w| w.bulk(b"a\r\n\0"),
            b"$4\r\na\r\n\0\r\n",
            b"$4\r\na\r\n\0\r\n",
        ),
        ("null", |w| w.null(), b"$-1\r\n", b"_\r\n"),
        ("null_array", |w| w.null_array(), b"*-1\r\n", b"_\r\n"),
        ("array", |w| w.array(3), b"*3\r\n", b"*3\r\n"),
        ("array 0", |w| w.array(0), b"*0\r\n", b"*0\r\n"),
        ("map", |w| w.map(2), b"*4\r\n", b"%2\r\n"),
        ("set", |w| w.set(5), b"*5\r\n", b"~5\r\n"),
        ("push", |w| w.push(3), b"*3\r\n", b">3\r\n"),
        ("double", |w| w.double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n"),
        ("double int", |w| w.double(3.0), b"$1\r\n3\r\n", b",3\r\n"),
        (
            "double inf",
            |w| w.double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        ),
        (
            "double nan",
            |w| w.double(f64::NAN),
            b"$3\r\nnan\r\n",
            b",nan\r\n",
        ),
        (
            "double exp",
            |w| w.double(1e300),
            b"$6\r\n1e+300\r\n",
            b",1e+300\r\n",
        ),
        ("bool t", |w| w.boolean(true), b":1\r\n", b"#t\r\n"),
        ("bool f", |w| w.boolean(false), b":0\r\n", b"#f\r\n"),
        (
            "verbatim",
            |w| w.verbatim("txt", "hi\nthere"),
            b"$8\r\nhi\nthere\r\n",
            b"=12\r\ntxt:hi\nthere\r\n",
        ),
        (
            "bulk_int",
            |w| w.bulk_int(-123),
            b"$4\r\n-123\r\n",
            b"$4\r\n-123\r\n",
        ),
        (
            "bulk_int min",
            |w| w.bulk_int(i64::MIN),
            b"$20\r\n-9223372036854775808\r\n",
            b"$20\r\n-9223372036854775808\r\n",
        ),
        (
            "raw",
            |w| w.raw(b">1\r\n+x\r\n"),
            b">1\r\n+x\r\n",
            b">1\r\n+x\r\n",
        ),
    ];
    for (name, f, r2, r3) in cases {
        assert_eq!(
            w(false, f),
            *r2,
            "{name} RESP2: {:?}",
            String::from_utf8_lossy(&w(false, f))
        );
        assert_eq!(
            w(true, f),
            *r3,
            "{name} RESP3: {:?}",
            String::from_utf8_lossy(&w(true, f))
        );
    }
}

#[test]
fn writer_sequence_appends() {
    let out = w(true, |w| {
        w.map(1);
        w.bulk(b"k");
        w.set(2);
        w.int(1);
        w.null();
    });
    assert_eq!(out, b"%1\r\n$1\r\nk\r\n~2\r\n:1\r\n_\r\n");
}

#[test]
fn encode_frames() {
    let mut out = BytesMut::new();
    encode_array_of_bulks(&[b"message", b"ch", b"hi"], &mut out);
    assert_eq!(&out[..], b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
    let mut out = BytesMut::new();
    encode_push_of_bulks(&[b"message", b"ch", b"hi"], true, &mut out);
    assert_eq!(&out[..], b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
    let mut out = BytesMut::new();
    encode_push_of_bulks(&[], false, &mut out);
    assert_eq!(&out[..], b"*0\r\n");
}

#[test]
fn unauthenticated_limits_are_redis_7s() {
    let pre = ParseLimits {
        unauthenticated: true,
        ..ParseLimits::default()
    };
    // Refused from the header alone, before any payload arrived.
    assert_eq!(
        parse_all(b"*11\r\n", &pre).unwrap_err(),
        "unauthenticated multibulk length"
    );
    assert_eq!(
        parse_all(b"*1\r\n$16385\r\n", &pre).unwrap_err(),
        "unauthenticated bulk length"
    );
    assert_eq!(
        parse_all(b"*1\r\n$500000000\r\n", &pre).unwrap_err(),
        "unauthenticated bulk length"
    );
    // The absolute limits come first, as in Redis.
    assert_eq!(
        parse_all(b"*3000000000\r\n", &pre).unwrap_err(),
        "invalid multibulk length"
    );
    // At the thresholds: accepted.
    let mut ten = b"*10\r\n".to_vec();
    for _ in 0..10 {
        ten.extend_from_slice(b"$1\r\na\r\n");
    }
    assert_eq!(parse_all(&ten, &pre).unwrap().0.len(), 1);
    let mut big = b"*1\r\n$16384\r\n".to_vec();
    big.extend_from_slice(&[b'x'; 16384]);
    big.extend_from_slice(b"\r\n");
    assert_eq!(parse_all(&big, &pre).unwrap().0.len(), 1);
    // Authenticated: no such limits.
    assert!(parse_all(b"*11\r\n", &lim()).is_ok());
}
