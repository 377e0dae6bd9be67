//! Listpacks (Redis 7's compact sequence format), the body of small hashes, sorted sets and list
//! nodes in RDB version 10.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 = "count them"), the entries, and a
//! 0xFF terminator. An entry is an encoding byte (with its data) followed by a "backlen" that
//! encodes the entry's own length for backwards traversal. Integers are stored in the smallest
//! of seven encodings; strings that are canonical 64-bit integers are stored as integers, as
//! Redis's `lpAppend` does, so what we write matches redis-server byte for byte.

use crate::{DecodeError, Int64Str};

const HEADER: usize = 6;
const EOF: u8 = 0xff;

/// An element as stored: Redis hands integers back as integers, we hand both back as bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Element<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Element<'_> {
    /// The element as Redis would reply with it (integers in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Element::Str(s) => s.to_vec(),
            Element::Int(i) => i.to_string().into_bytes(),
        }
    }
}

/// Builds a listpack. Elements are appended in order.
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackWriter {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        ListpackWriter { buf, count: 0 }
    }

    /// Bytes the finished listpack would take now (header, entries, terminator): quicklist's
    /// `node->sz`.
    pub fn size(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Append `s`, stored as an integer when it is a canonical 64-bit integer.
    pub fn push(&mut self, s: &[u8]) {
        match s.parse_canonical_i64() {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            self.buf.push(0xc0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if (-32768..=32767).contains(&v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xe0 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = self.buf.len() - start;
        write_backlen(&mut self.buf, l);
        self.count += 1;
    }

    /// Append every entry of `other` (its header and terminator dropped).
    pub fn append(&mut self, other: ListpackWriter) {
        self.buf.extend_from_slice(&other.buf[HEADER..]);
        self.count += other.count;
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = if self.count < 65535 {
            self.count
        } else {
            65535
        } as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Bytes of an integer's encoding and data (`lpAppendInteger` picks the smallest form).
fn int_encoding_len(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    }
}

/// Bytes one integer entry takes (encoding, data and backlen).
pub fn int_entry_len(v: i64) -> usize {
    let l = int_encoding_len(v);
    l + backlen_size(l)
}

/// Bytes one string entry takes as [`ListpackWriter::push`] writes it (`lpAppend`: canonical
/// integers are stored as integers).
pub fn str_entry_len(s: &[u8]) -> usize {
    let l = match s.parse_canonical_i64() {
        Some(v) => int_encoding_len(v),
        None if s.len() < 64 => 1 + s.len(),
        None if s.len() < 4096 => 2 + s.len(),
        None => 5 + s.len(),
    };
    l + backlen_size(l)
}

/// `lpEncodeBacklen`: the entry length in 7-bit groups, most significant first, every byte but
/// the first flagged with 0x80, so it reads the same backwards.
fn write_backlen(buf: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        buf.push(if i == n - 1 { group } else { group | 128 });
    }
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Every element of the listpack `lp`, checked against its own header, terminator and
/// backlens (Redis's deep integrity check): a damaged payload is an error, never a panic.
pub fn parse(lp: &[u8]) -> Result<Vec<Element<'_>>, DecodeError> {
    if lp.len() < HEADER + 1 {
        return Err(DecodeError::Corrupt);
    }
    let total = u32::from_le_bytes(lp[0..4].try_into().unwrap()) as usize;
    let count = u16::from_le_bytes(lp[4..6].try_into().unwrap()) as usize;
    if total != lp.len() || lp[total - 1] != EOF {
        return Err(DecodeError::Corrupt);
    }
    let mut out = Vec::with_capacity(count.min(lp.len()));
    let mut p = HEADER;
    let end = total - 1;
    while p < end {
        let start = p;
        let need = |p: usize, n: usize| crate::take(lp, end, p, n);
        let b = lp[p];
        let el = if b & 0x80 == 0 {
            p += 1;
            Element::Int((b & 0x7f) as i64)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            let s = need(p + 1, n)?;
            p += 1 + n;
            Element::Str(s)
        } else if b & 0xe0 == 0xc0 {
            let lo = need(p + 1, 1)?[0];
            let u = (((b & 0x1f) as u64) << 8) | lo as u64;
            p += 2;
            // Sign-extend 13 bits.
            Element::Int(((u << 51) as i64) >> 51)
        } else if b & 0xf0 == 0xe0 {
            let lo = need(p + 1, 1)?[0];
            let n = (((b & 0x0f) as usize) << 8) | lo as usize;
            let s = need(p + 2, n)?;
            p += 2 + n;
            Element::Str(s)
        } else {
            match b {
                0xf0 => {
                    let n = u32::from_le_bytes(need(p + 1, 4)?.try_into().unwrap()) as usize;
                    let s = need(p + 5, n)?;
                    p += 5 + n;
                    Element::Str(s)
                }
                0xf1 => {
                    let v = i16::from_le_bytes(need(p + 1, 2)?.try_into().unwrap());
                    p += 3;
                    Element::Int(v as i64)
                }
                0xf2 => {
                    let d = need(p + 1, 3)?;
                    let v = i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8;
                    p += 4;
                    Element::Int(v as i64)
                }
                0xf3 => {
                    let v = i32::from_le_bytes(need(p + 1, 4)?.try_into().unwrap());
                    p += 5;
                    Element::Int(v as i64)
                }
                0xf4 => {
                    let v = i64::from_le_bytes(need(p + 1, 8)?.try_into().unwrap());
                    p += 9;
                    Element::Int(v)
                }
                _ => return Err(DecodeError::Corrupt),
            }
        };
        let l = p - start;
        let n = backlen_size(l);
        let mut expect = Vec::with_capacity(5);
        write_backlen(&mut expect, l);
        if need(p, n)? != &expect[..] {
            return Err(DecodeError::Corrupt);
        }
        p += n;
        out.push(el);
    }
    if count != 65535 && count != out.len() {
        return Err(DecodeError::Corrupt);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_the_smallest_encoding_and_read_back() {
        let values = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            -8_388_608,
            8_388_607,
            i32::MIN as i64,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ];
        let mut w = ListpackWriter::new();
        for v in values {
            w.push_int(v);
        }
        let lp = w.finish();
        let got: Vec<i64> = parse(&lp)
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Element::Int(i) => i,
                Element::Str(_) => panic!("string"),
            })
            .collect();
        assert_eq!(got, values);
    }

    #[test]
    fn strings_of_every_length_class_read_back() {
        let a = vec![b'a'; 63];
        let b = vec![b'b'; 64];
        let c = vec![b'c'; 4095];
        let d = vec![b'd'; 4096];
        let e = vec![b'e'; 20_000];
        let mut w = ListpackWriter::new();
        for s in [&a, &b, &c, &d, &e] {
            w.push(s);
        }
        w.push(b"007");
        w.push(b"-12");
        let lp = w.finish();
        let got = parse(&lp).unwrap();
        assert_eq!(got[0], Element::Str(&a));
        assert_eq!(got[4], Element::Str(&e));
        assert_eq!(got[5], Element::Str(b"007"));
        assert_eq!(got[6], Element::Int(-12));
    }

    #[test]
    fn entry_lengths_match_what_is_written() {
        for v in [
            0i64,
            127,
            128,
            -1,
            4095,
            -4097,
            40_000,
            9_000_000,
            3_000_000_000,
            i64::MIN,
        ] {
            let mut w = ListpackWriter::new();
            w.push_int(v);
            assert_eq!(int_entry_len(v), w.size() - HEADER - 1, "{v}");
        }
        for n in [0usize, 63, 64, 127, 128, 4095, 4096, 20_000] {
            let s = vec![b'x'; n];
            let mut w = ListpackWriter::new();
            w.push(&s);
            assert_eq!(str_entry_len(&s), w.size() - HEADER - 1, "{n}");
        }
        assert_eq!(str_entry_len(b"007"), 5);
        assert_eq!(str_entry_len(b"-12"), 3);
    }

    #[test]
    fn a_damaged_listpack_is_an_error() {
        let mut w = ListpackWriter::new();
        w.push(b"hello");
        w.push(b"12345");
        let lp = w.finish();
        for cut in 0..lp.len() {
            assert!(parse(&lp[..cut]).is_err());
        }
        for i in 0..lp.len() {
            for bit in 0..8 {
                let mut bad = lp.clone();
                bad[i] ^= 1 << bit;
                let _ = parse(&bad); // never panics
            }
        }
    }
}
