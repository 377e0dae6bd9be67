//! Reply encoding straight into the connection's output buffer.
//!
//! Every method appends one complete RESP element (or an aggregate header)
//! with no intermediate allocation: numbers are formatted on the stack, and
//! RESP3-only types degrade to their conventional RESP2 forms so command code
//! can be written once for both protocols.

use bytes::{BufMut, BytesMut};

use crate::double::{fmt_double, DoubleBuf};

const CRLF: &[u8] = b"\r\n";

/// Reply encoder for one connection's output buffer.
pub struct ReplyWriter<'a> {
    /// The connection's output buffer; replies are appended to it.
    pub buf: &'a mut BytesMut,
    /// Whether the client negotiated RESP3 (`HELLO 3`).
    pub resp3: bool,
}

/// Append the decimal form of `n` (no allocation, no `fmt` machinery).
#[inline]
pub(crate) fn put_u64<B: BufMut>(out: &mut B, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&tmp[i..]);
}

#[inline]
pub(crate) fn put_i64<B: BufMut>(out: &mut B, n: i64) {
    if n < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, n.unsigned_abs());
}

/// `<prefix><n>\r\n`, the shape of every length/integer header.
#[inline]
fn put_header<B: BufMut>(out: &mut B, prefix: u8, n: u64) {
    out.put_u8(prefix);
    put_u64(out, n);
    out.put_slice(CRLF);
}

#[inline]
fn put_bulk<B: BufMut>(out: &mut B, b: &[u8]) {
    put_header(out, b'$', b.len() as u64);
    out.put_slice(b);
    out.put_slice(CRLF);
}

/// Append `prefix`, `s` with any CR/LF replaced by spaces, and CRLF.
/// Single-line replies must never contain a line break, or the client would
/// read the rest as a new reply.
#[inline]
fn put_line(out: &mut BytesMut, prefix: u8, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(prefix);
    if s.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            s.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.put_slice(s);
    }
    out.put_slice(CRLF);
}

impl<'a> ReplyWriter<'a> {
    /// Wrap `buf`; `resp3` selects RESP3 encodings for the typed replies.
    #[inline]
    pub fn new(buf: &'a mut BytesMut, resp3: bool) -> Self {
        ReplyWriter { buf, resp3 }
    }

    /// Whether RESP3 encodings are in use.
    #[inline]
    pub fn resp3(&self) -> bool {
        self.resp3
    }

    /// Simple string `+s\r\n` (CR/LF in `s` become spaces).
    #[inline]
    pub fn simple(&mut self, s: &str) {
        put_line(self.buf, b'+', s.as_bytes());
    }

    /// `+OK\r\n`.
    #[inline]
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// Error `-msg\r\n`. `msg` carries its own code (`ERR ...`,
    /// `WRONGTYPE ...`); a leading `-` is tolerated and not doubled. CR/LF in
    /// `msg` become spaces, as Redis does, so the reply can never be split.
    #[inline]
    pub fn error(&mut self, msg: &str) {
        let msg = msg.strip_prefix('-').unwrap_or(msg);
        put_line(self.buf, b'-', msg.as_bytes());
    }

    /// Integer `:n\r\n`.
    #[inline]
    pub fn int(&mut self, n: i64) {
        self.buf.reserve(24);
        self.buf.put_u8(b':');
        put_i64(self.buf, n);
        self.buf.put_slice(CRLF);
    }

    /// Bulk string `$len\r\n<b>\r\n`.
    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.reserve(b.len() + 32);
        put_bulk(self.buf, b);
    }

    /// Only the header `$len\r\n` of a bulk string: the caller supplies the `len` bytes and the
    /// closing CRLF itself (the server queues large pub/sub payloads by reference this way).
    #[inline]
    pub fn bulk_header(&mut self, len: usize) {
        self.buf.reserve(24);
        put_header(self.buf, b'$', len as u64);
    }

    /// Bytes in the underlying buffer so far.
    #[inline]
    pub fn written(&self) -> usize {
        self.buf.len()
    }

    /// Drop everything written after `mark` (a value of [`Self::written`]): a reply found to
    /// be too large half-way is replaced by an error (no-op when `mark` is past the end).
    #[inline]
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    /// Null bulk: RESP2 `$-1\r\n`, RESP3 `_\r\n`.
    #[inline]
    pub fn null(&mut self) {
        self.buf
            .put_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// Null array: RESP2 `*-1\r\n`, RESP3 `_\r\n`.
    #[inline]
    pub fn null_array(&mut self) {
        self.buf
            .put_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// Array header `*len\r\n`; the caller then writes `len` elements.
    #[inline]
    pub fn array(&mut self, len: usize) {
        self.buf.reserve(24);
        put_header(self.buf, b'*', len as u64);
    }

    /// Map header: RESP3 `%pairs\r\n`, RESP2 a flat `*(2*pairs)\r\n` array.
    /// The caller then writes key, value, key, value, ...
    #[inline]
    pub fn map(&mut self, pairs: usize) {
        self.buf.reserve(24);
        if self.resp3 {
            put_header(self.buf, b'%', pairs as u64);
        } else {
            put_header(self.buf, b'*', 2 * pairs as u64);
        }
    }

    /// Set header: RESP3 `~len\r\n`, RESP2 `*len\r\n`.
    #[inline]
    pub fn set(&mut self, len: usize) {
        self.buf.reserve(24);
        let prefix = if self.resp3 { b'~' } else { b'*' };
        put_header(self.buf, prefix, len as u64);
    }

    /// Push header (pub/sub messages): RESP3 `>len\r\n`, RESP2 `*len\r\n`.
    #[inline]
    pub fn push(&mut self, len: usize) {
        self.buf.reserve(24);
        let prefix = if self.resp3 { b'>' } else { b'*' };
        put_header(self.buf, prefix, len as u64);
    }

    /// Double: RESP3 `,<repr>\r\n`, RESP2 a bulk string of `<repr>`, where
    /// `<repr>` is [`crate::format_double`]'s Redis-compatible form.
    #[inline]
    pub fn double(&mut self, d: f64) {
        let mut tmp = DoubleBuf::new();
        fmt_double(d, &mut tmp);
        let repr = tmp.as_bytes();
        self.buf.reserve(repr.len() + 8);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(repr);
            self.buf.put_slice(CRLF);
        } else {
            put_bulk(self.buf, repr);
        }
    }

    /// Boolean: RESP3 `#t\r\n`/`#f\r\n`, RESP2 `:1\r\n`/`:0\r\n`.
    #[inline]
    pub fn boolean(&mut self, b: bool) {
        self.buf.put_slice(match (self.resp3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        });
    }

    /// Verbatim string: RESP3 `=<len>\r\n<fmt>:<text>\r\n`, RESP2 a bulk of
    /// `text`. `format` must be exactly 3 bytes (`txt`, `mkd`); other lengths
    /// are padded with spaces / truncated to keep the frame well-formed.
    pub fn verbatim(&mut self, format: &str, text: &str) {
        if !self.resp3 {
            return self.bulk(text.as_bytes());
        }
        debug_assert_eq!(format.len(), 3, "verbatim format must be 3 bytes");
        let mut f = [b' '; 3];
        for (d, s) in f.iter_mut().zip(format.bytes()) {
            *d = s;
        }
        self.buf.reserve(text.len() + 32);
        put_header(self.buf, b'=', (text.len() + 4) as u64);
        self.buf.put_slice(&f);
        self.buf.put_u8(b':');
        self.buf.put_slice(text.as_bytes());
        self.buf.put_slice(CRLF);
    }

    /// An integer rendered as a bulk string (`$2\r\n42\r\n`): what GET of a
    /// counter returns, since Redis values are strings.
    #[inline]
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = [0u8; 20];
        let mut cur = &mut tmp[..];
        put_i64(&mut cur, n);
        let len = 20 - cur.len();
        self.bulk(&tmp[..len]);
    }

    /// Pre-encoded bytes, appended as is (e.g. a pub/sub frame encoded once
    /// per publish and shared by all subscribers).
    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// Encode `*N\r\n` followed by each part as a bulk string: a full request
/// frame (tests, clients) or a pre-encoded RESP2 pub/sub message.
pub fn encode_array_of_bulks(parts: &[&[u8]], out: &mut BytesMut) {
    encode_aggregate(b'*', parts, out);
}

/// Like [`encode_array_of_bulks`] but with the push header a RESP3 client
/// expects for pub/sub messages (`>N`); `resp3 == false` gives `*N`.
pub fn encode_push_of_bulks(parts: &[&[u8]], resp3: bool, out: &mut BytesMut) {
    encode_aggregate(if resp3 { b'>' } else { b'*' }, parts, out);
}

fn encode_aggregate(prefix: u8, parts: &[&[u8]], out: &mut BytesMut) {
    let payload: usize = parts.iter().map(|p| p.len() + 24).sum();
    out.reserve(payload + 24);
    put_header(out, prefix, parts.len() as u64);
    for p in parts {
        put_bulk(out, p);
    }
}
