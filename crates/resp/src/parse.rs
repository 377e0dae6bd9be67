//! Request parsing: multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! The parser is stateless: every call rescans the (partial) command at the
//! front of the buffer. Headers are a handful of bytes and bulk payloads are
//! skipped by length, never scanned, so a rescan costs O(number of arguments),
//! not O(bytes). Statelessness keeps the connection code trivial (no parser
//! object to keep in sync with the buffer) and makes "incomplete" cheap to
//! signal: the buffer is simply left alone.
//!
//! A complete command is parsed in two passes over its headers: the first
//! validates it and finds its total length, the second runs after the frame
//! was split off and frozen and slices every argument out of it. This avoids
//! any intermediate list of offsets while keeping the arguments zero-copy.

use std::borrow::Cow;
use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// Limits applied while parsing requests (Redis defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest accepted bulk argument (Redis `proto-max-bulk-len`, 512 MiB).
    pub max_bulk_len: usize,
    /// Largest accepted multibulk argument count (1024 * 1024).
    pub max_multibulk_len: usize,
    /// Longest inline request line, and the longest a `*`/`$` header may grow
    /// without its CRLF before we give up (Redis `PROTO_INLINE_MAX_SIZE`, 64 KiB).
    pub max_inline_len: usize,
    /// The client has not authenticated (auth required): Redis 7 then also refuses a multibulk
    /// count above [`UNAUTH_MAX_MULTIBULK_LEN`] and a bulk length above [`UNAUTH_MAX_BULK_LEN`],
    /// from the header alone, so an unauthenticated client cannot make the server buffer more.
    pub unauthenticated: bool,
}

/// Most arguments in one command before AUTH (Redis `networking.c`: 10).
pub const UNAUTH_MAX_MULTIBULK_LEN: usize = 10;
/// Largest bulk argument before AUTH (Redis `networking.c`: 16384 bytes).
pub const UNAUTH_MAX_BULK_LEN: usize = 16384;

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
            unauthenticated: false,
        }
    }
}

/// A protocol error. `Display` gives the text after `"ERR Protocol error: "`,
/// using Redis 7's exact wording (e.g. `invalid multibulk length`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub Cow<'static, str>);

impl ProtocolError {
    /// The full error line to send to the client, without the leading `-` and
    /// the trailing CRLF: `ERR Protocol error: <detail>`.
    pub fn message(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }

    fn stat(s: &'static str) -> Self {
        ProtocolError(Cow::Borrowed(s))
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Outcome of scanning the front of the buffer without consuming it.
enum Scan {
    /// A complete multibulk command of `frame_len` bytes with `argc` > 0 args.
    Multibulk { frame_len: usize, argc: usize },
    /// A complete inline line: the frame is `frame_len` bytes and the line
    /// content (without `\r\n` / `\n`) is the first `line_len` bytes.
    Inline { frame_len: usize, line_len: usize },
    /// A no-op frame (`*0\r\n`, `*-1\r\n`) of this many bytes: Redis skips it.
    Skip(usize),
    /// More bytes are needed. `Some(n)` when we are inside a bulk payload and
    /// know at least `n` more bytes are required.
    Incomplete(Option<usize>),
}

/// Parse ONE complete command from the front of `buf`.
///
/// `args` is always cleared first.
/// - `Ok(true)`: a command was parsed; `args` holds its arguments (`args[0]` is
///   the command name) and its bytes were removed from `buf`. Arguments are
///   slices of the frozen frame (zero copy): storing one long-term keeps the
///   whole frame's allocation alive, so copy small values you retain.
/// - `Ok(false)`: `buf` does not yet hold a complete command. Nothing that
///   belongs to the incomplete command is consumed; only no-op frames in front
///   of it (empty inline lines, `*0`, `*-1`) may have been discarded, exactly
///   as Redis discards them.
/// - `Err(e)`: malformed input; reply `e.message()` and close the connection.
///   How much of `buf` was consumed is unspecified.
pub fn parse_command(
    buf: &mut BytesMut,
    limits: &ParseLimits,
    args: &mut Vec<Bytes>,
) -> Result<bool, ProtocolError> {
    args.clear();
    loop {
        let scan = if buf.is_empty() {
            return Ok(false);
        } else if buf[0] == b'*' {
            scan_multibulk(buf, limits)?
        } else {
            scan_inline(buf, limits)?
        };
        match scan {
            Scan::Incomplete(_) => return Ok(false),
            Scan::Skip(n) => buf.advance(n),
            Scan::Multibulk { frame_len, argc } => {
                let frame = buf.split_to(frame_len).freeze();
                fill_multibulk(&frame, argc, args);
                return Ok(true);
            }
            Scan::Inline {
                frame_len,
                line_len,
            } => {
                let frame = buf.split_to(frame_len).freeze();
                split_inline(&frame, line_len, args)?;
                if !args.is_empty() {
                    return Ok(true);
                }
                // A blank line: Redis ignores it, so keep going.
            }
        }
    }
}

/// How many more bytes the parser needs at minimum, when known: the front of
/// `buf` is a multibulk command whose headers are complete up to a bulk
/// payload that has not fully arrived. Lets the caller reserve capacity for a
/// large value once instead of growing the buffer read by read.
pub fn pending_bulk_hint(buf: &[u8]) -> Option<usize> {
    if buf.first() != Some(&b'*') {
        return None;
    }
    // Only the header-length bound matters here; the real limits are enforced
    // by `parse_command`.
    let limits = ParseLimits {
        max_bulk_len: usize::MAX,
        max_multibulk_len: usize::MAX,
        max_inline_len: ParseLimits::default().max_inline_len,
        unauthenticated: false,
    };
    match scan_multibulk(buf, &limits) {
        Ok(Scan::Incomplete(hint)) => hint,
        _ => None,
    }
}

/// Result of looking for a header line's `\r`.
enum Line {
    /// The `\r` is at this index and at least one byte follows it.
    Cr(usize),
    Incomplete,
}

/// Find the `\r` ending the header line that starts at `from`.
///
/// Mirrors Redis: the search is for `\r` alone and the byte after it is
/// skipped without being checked. The search window is bounded by
/// `max_inline_len` so that a header that never ends is rejected with
/// `too_big` instead of being rescanned forever.
#[inline]
fn find_header_cr(
    buf: &[u8],
    from: usize,
    max_inline_len: usize,
    too_big: &'static str,
) -> Result<Line, ProtocolError> {
    let rest = &buf[from..];
    let window = &rest[..rest.len().min(max_inline_len.saturating_add(1))];
    match window.iter().position(|&b| b == b'\r') {
        // Redis also needs the byte after '\r' before it takes the line.
        Some(i) if i + 1 < rest.len() => Ok(Line::Cr(from + i)),
        Some(_) => Ok(Line::Incomplete),
        None if rest.len() > max_inline_len => Err(ProtocolError::stat(too_big)),
        None => Ok(Line::Incomplete),
    }
}

/// Validate a multibulk command at the front of `buf` (which starts with `*`).
fn scan_multibulk(buf: &[u8], limits: &ParseLimits) -> Result<Scan, ProtocolError> {
    let cr = match find_header_cr(buf, 0, limits.max_inline_len, "too big mbulk count string")? {
        Line::Cr(cr) => cr,
        Line::Incomplete => return Ok(Scan::Incomplete(None)),
    };
    let count = match string2ll(&buf[1..cr]) {
        Some(n) if n <= 0 => return Ok(Scan::Skip(cr + 2)),
        Some(n) if (n as u64) <= limits.max_multibulk_len as u64 => n as usize,
        _ => return Err(ProtocolError::stat("invalid multibulk length")),
    };
    // Redis order: the absolute maximum first, then the pre-AUTH one.
    if limits.unauthenticated && count > UNAUTH_MAX_MULTIBULK_LEN {
        return Err(ProtocolError::stat("unauthenticated multibulk length"));
    }
    let mut pos = cr + 2;
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Scan::Incomplete(None));
        }
        let cr = match find_header_cr(buf, pos, limits.max_inline_len, "too big bulk count string")?
        {
            Line::Cr(cr) => cr,
            Line::Incomplete => return Ok(Scan::Incomplete(None)),
        };
        if buf[pos] != b'$' {
            return Err(expected_dollar(buf[pos]));
        }
        let len = match string2ll(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len as u64 => n as usize,
            _ => return Err(ProtocolError::stat("invalid bulk length")),
        };
        if limits.unauthenticated && len > UNAUTH_MAX_BULK_LEN {
            return Err(ProtocolError::stat("unauthenticated bulk length"));
        }
        pos = cr + 2;
        // Like Redis, the two bytes after the payload are assumed to be CRLF
        // and skipped unchecked.
        let end = pos.saturating_add(len).saturating_add(2);
        if end > buf.len() {
            return Ok(Scan::Incomplete(Some(end - buf.len())));
        }
        pos = end;
    }
    Ok(Scan::Multibulk {
        frame_len: pos,
        argc: count,
    })
}

#[cold]
fn expected_dollar(got: u8) -> ProtocolError {
    // Redis prints the raw byte with %c and then maps CR/LF to spaces so the
    // error line stays intact; we do the same (non-ASCII bytes become the
    // Latin-1 char, since the message must be a Rust string).
    let c = match got {
        b'\r' | b'\n' => ' ',
        b => char::from(b),
    };
    ProtocolError(Cow::Owned(format!("expected '$', got '{c}'")))
}

/// Second pass over an already validated multibulk frame: slice the args.
fn fill_multibulk(frame: &Bytes, argc: usize, args: &mut Vec<Bytes>) {
    args.reserve(argc);
    let mut pos = skip_line(frame, 0);
    for _ in 0..argc {
        let cr = pos + 1 + header_digits(&frame[pos + 1..]);
        let len = parse_validated_len(&frame[pos + 1..cr]);
        let start = cr + 2;
        args.push(frame.slice(start..start + len));
        pos = start + len + 2;
    }
}

/// Index just past the header line starting at `from` (validated to exist).
#[inline]
fn skip_line(frame: &[u8], from: usize) -> usize {
    from + header_digits(&frame[from..]) + 2
}

#[inline]
fn header_digits(s: &[u8]) -> usize {
    // Validated in the first pass: a '\r' is present.
    s.iter().position(|&b| b == b'\r').unwrap_or(s.len())
}

/// Digits of a length validated by `string2ll` (non-negative, no sign).
#[inline]
fn parse_validated_len(s: &[u8]) -> usize {
    s.iter()
        .fold(0usize, |acc, &d| acc * 10 + usize::from(d - b'0'))
}

/// Redis's `string2ll`: strict decimal i64 — no leading `+`, no leading zeros
/// (except "0" itself), no spaces, no "-0". Anything else is rejected, which is
/// what turns e.g. `*01\r\n` into "invalid multibulk length".
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Find the end of an inline request line at the front of `buf`.
fn scan_inline(buf: &[u8], limits: &ParseLimits) -> Result<Scan, ProtocolError> {
    // A line is at most max_inline_len bytes plus "\r\n"; bounding the search
    // keeps a never-ending line from being rescanned on every read.
    let window = &buf[..buf.len().min(limits.max_inline_len.saturating_add(2))];
    match window.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let line_len = if nl > 0 && buf[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            if line_len > limits.max_inline_len {
                return Err(ProtocolError::stat("too big inline request"));
            }
            Ok(Scan::Inline {
                frame_len: nl + 1,
                line_len,
            })
        }
        // Only once the whole window has arrived without a newline: checking the bytes seen so
        // far against the line limit alone refused a line of exactly max_inline_len bytes whose
        // "\n" came in a later read, while accepting it when it came in one read.
        None if window.len() == limits.max_inline_len.saturating_add(2) => {
            Err(ProtocolError::stat("too big inline request"))
        }
        None => Ok(Scan::Incomplete(None)),
    }
}

/// One inline argument being built: a contiguous slice of the frame while
/// possible (zero copy), an owned buffer once quoting/escapes break contiguity.
enum Token {
    Empty,
    Slice(usize, usize),
    Owned(Vec<u8>),
}

impl Token {
    #[inline]
    fn push_input(&mut self, line: &[u8], i: usize) {
        match self {
            Token::Empty => *self = Token::Slice(i, i + 1),
            Token::Slice(_, e) if *e == i => *e += 1,
            _ => self.push_byte(line, line[i]),
        }
    }

    fn push_byte(&mut self, line: &[u8], b: u8) {
        match self {
            Token::Owned(v) => v.push(b),
            Token::Empty => *self = Token::Owned(vec![b]),
            Token::Slice(s, e) => {
                let mut v = line[*s..*e].to_vec();
                v.push(b);
                *self = Token::Owned(v);
            }
        }
    }

    fn finish(self, frame: &Bytes) -> Bytes {
        match self {
            Token::Empty => Bytes::new(),
            Token::Slice(s, e) => frame.slice(s..e),
            Token::Owned(v) => Bytes::from(v),
        }
    }
}

/// C's `isspace` in the "C" locale.
#[inline]
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Split `line` with Redis's `sdssplitargs` rules (quotes, escapes, a NUL ending the line):
/// the words, or `None` for unbalanced quotes. For other lines Redis splits the same way
/// (a function library's `#!` metadata line).
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let frame = Bytes::copy_from_slice(line);
    let mut args = Vec::new();
    split_inline(&frame, frame.len(), &mut args).ok()?;
    Some(args)
}

/// Split an inline line with Redis's `sdssplitargs` rules, pushing into `args`.
///
/// The C code works on a NUL-terminated string, so a NUL byte ends the line;
/// we reproduce that by reading 0 past the end and truncating at the first NUL.
fn split_inline(
    frame: &Bytes,
    line_len: usize,
    args: &mut Vec<Bytes>,
) -> Result<(), ProtocolError> {
    let full = &frame[..line_len];
    let line = match full.iter().position(|&b| b == 0) {
        Some(nul) => &full[..nul],
        None => full,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let unbalanced = || ProtocolError::stat("unbalanced quotes in request");
    let mut p = 0;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let mut tok = Token::Empty;
        let (mut inq, mut insq, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        tok.push_byte(line, h * 16 + l);
                        p += 3;
                    } else {
                        // "\x" without two hex digits: the generic escape
                        // rule applies and yields a literal 'x'.
                        p += 1;
                        tok.push_byte(line, b'x');
                    }
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    let e = match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    tok.push_byte(line, e);
                } else if c == b'"' {
                    // The closing quote must be followed by a space or the end.
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(unbalanced());
                    }
                    done = true;
                } else if c == 0 {
                    return Err(unbalanced());
                } else {
                    tok.push_input(line, p);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    tok.push_byte(line, b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(unbalanced());
                    }
                    done = true;
                } else if c == 0 {
                    return Err(unbalanced());
                } else {
                    tok.push_input(line, p);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => tok.push_input(line, p),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(tok.finish(frame));
    }
}
