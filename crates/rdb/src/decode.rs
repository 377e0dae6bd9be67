//! Reading DUMP payloads. Everything here handles bytes from the network: every length is
//! checked against what is left, allocations are charged to a caller-given limit before they are
//! made, and a damaged payload is an error, never a panic.

use std::collections::HashSet;

use crate::crc64::crc64;
use crate::listpack::Element;
use crate::{intset, listpack, take, types, ziplist, DecodeError, RDB_VERSION};

/// A decoded value, in plain owned parts. Collections are never empty and hold no duplicates.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Box<crate::stream::StreamObject>),
}

/// What one decoded element is charged against the limit besides its bytes.
const PER_ELEMENT: usize = 32;

/// Check the footer of `payload` and decode the value in it, allocating at most about
/// `max_bytes` on the way.
pub fn decode(payload: &[u8], max_bytes: usize) -> Result<Object, DecodeError> {
    let body = verify(payload)?;
    let mut r = Reader {
        b: body,
        p: 0,
        budget: max_bytes,
    };
    let kind = r.byte()?;
    r.object(kind)
}

/// Redis's `verifyDumpPayload`: at least the footer, a version this server reads, and a CRC that
/// matches. Returns the payload without its footer.
pub fn verify(payload: &[u8]) -> Result<&[u8], DecodeError> {
    if payload.len() < 10 {
        return Err(DecodeError::Footer);
    }
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([rest[rest.len() - 2], rest[rest.len() - 1]]);
    if version > RDB_VERSION {
        return Err(DecodeError::Footer);
    }
    if crc64(0, rest) != u64::from_le_bytes(crc.try_into().unwrap()) {
        return Err(DecodeError::Footer);
    }
    Ok(&rest[..rest.len() - 2])
}

pub(crate) struct Reader<'a> {
    b: &'a [u8],
    p: usize,
    budget: usize,
}

/// A length or a special string encoding, as `rdbLoadLenByRef` reads them.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8], budget: usize) -> Self {
        Reader { b, p: 0, budget }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.p >= self.b.len()
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let s = take(self.b, self.b.len(), self.p, n)?;
        self.p += n;
        Ok(s)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn charge(&mut self, n: usize) -> Result<(), DecodeError> {
        self.budget = self
            .budget
            .checked_sub(n.saturating_add(PER_ELEMENT))
            .ok_or(DecodeError::TooLarge)?;
        Ok(())
    }

    fn len_or_enc(&mut self) -> Result<Len, DecodeError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.bytes(4)?.try_into().unwrap()) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.bytes(8)?.try_into().unwrap())),
                _ => return Err(DecodeError::Corrupt),
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// A count of elements: also bounded by what the payload can hold (each element takes at
    /// least one byte), so no claimed count reserves memory the bytes do not back.
    fn count(&mut self) -> Result<usize, DecodeError> {
        match self.len_or_enc()? {
            Len::Plain(0) => Err(DecodeError::Corrupt),
            Len::Plain(n) if n <= (self.b.len() - self.p) as u64 => Ok(n as usize),
            _ => Err(DecodeError::Corrupt),
        }
    }

    /// A count that may be 0 (stream nodes, groups, PELs), bounded like [`Self::count`].
    pub(crate) fn any_count(&mut self) -> Result<usize, DecodeError> {
        match self.len_or_enc()? {
            Len::Plain(n) if n <= (self.b.len() - self.p) as u64 => Ok(n as usize),
            _ => Err(DecodeError::Corrupt),
        }
    }

    /// `rdbGenericLoadStringObject`: plain, integer-encoded or LZF-compressed.
    pub(crate) fn string(&mut self) -> Result<Vec<u8>, DecodeError> {
        match self.len_or_enc()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| DecodeError::Corrupt)?;
                let s = self.bytes(n)?;
                self.charge(n)?;
                Ok(s.to_vec())
            }
            Len::Encoded(e @ 0..=2) => {
                let v = match e {
                    0 => self.byte()? as i8 as i64,
                    1 => i16::from_le_bytes(self.bytes(2)?.try_into().unwrap()) as i64,
                    _ => i32::from_le_bytes(self.bytes(4)?.try_into().unwrap()) as i64,
                };
                let s = v.to_string().into_bytes();
                self.charge(s.len())?;
                Ok(s)
            }
            Len::Encoded(3) => {
                let clen = self.plain_len()?;
                let ulen = self.plain_len()?;
                let c = self.bytes(clen)?;
                // LZF expands at most 88-fold (a 3-byte back reference copies 264 bytes): a
                // claimed length beyond that is a lie, refused before anything is allocated.
                if ulen == 0 || ulen / 88 > clen {
                    return Err(DecodeError::Corrupt);
                }
                self.charge(ulen)?;
                let out = lzf::decompress(c, ulen).map_err(|_| DecodeError::Corrupt)?;
                if out.len() != ulen {
                    return Err(DecodeError::Corrupt);
                }
                Ok(out)
            }
            Len::Encoded(_) => Err(DecodeError::Corrupt),
        }
    }

    pub(crate) fn plain_len(&mut self) -> Result<usize, DecodeError> {
        match self.len_or_enc()? {
            Len::Plain(n) => usize::try_from(n).map_err(|_| DecodeError::Corrupt),
            Len::Encoded(_) => Err(DecodeError::Corrupt),
        }
    }

    /// A string element that must be owned in the result (charged once more for its copy).
    pub(crate) fn element(&mut self, e: &Element<'_>) -> Result<Vec<u8>, DecodeError> {
        let v = e.to_vec();
        self.charge(v.len())?;
        Ok(v)
    }

    fn object(&mut self, kind: u8) -> Result<Object, DecodeError> {
        match kind {
            types::STRING => Ok(Object::Str(self.string()?)),
            types::LIST => {
                let n = self.count()?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(self.string()?);
                }
                Ok(Object::List(out))
            }
            types::SET => {
                let n = self.count()?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(self.string()?);
                }
                unique(out.iter().map(|m| &m[..]))?;
                Ok(Object::Set(out))
            }
            types::ZSET | types::ZSET_2 => {
                let n = self.count()?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.string()?;
                    let score = if kind == types::ZSET_2 {
                        f64::from_le_bytes(self.bytes(8)?.try_into().unwrap())
                    } else {
                        self.text_double()?
                    };
                    if score.is_nan() {
                        return Err(DecodeError::Corrupt);
                    }
                    out.push((m, score));
                }
                unique(out.iter().map(|(m, _)| &m[..]))?;
                Ok(Object::ZSet(out))
            }
            types::HASH => {
                let n = self.count()?;
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    let f = self.string()?;
                    let v = self.string()?;
                    out.push((f, v));
                }
                unique(out.iter().map(|(f, _)| &f[..]))?;
                Ok(Object::Hash(out))
            }
            types::SET_INTSET => {
                let blob = self.string()?;
                let ints = intset::parse(&blob)?;
                let mut out = Vec::with_capacity(ints.len());
                for i in ints {
                    let s = i.to_string().into_bytes();
                    self.charge(s.len())?;
                    out.push(s);
                }
                Ok(Object::Set(out))
            }
            types::LIST_ZIPLIST => {
                let blob = self.string()?;
                let items = ziplist::parse(&blob)?;
                Ok(Object::List(self.elements(&items)?))
            }
            types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
                let nodes = self.count()?;
                let mut out = Vec::new();
                for _ in 0..nodes {
                    let container = if kind == types::LIST_QUICKLIST_2 {
                        self.plain_len()?
                    } else {
                        2
                    };
                    let blob = self.string()?;
                    match container {
                        // PLAIN: the node is one element.
                        1 => out.push(blob),
                        2 => {
                            let items = if kind == types::LIST_QUICKLIST {
                                ziplist::parse(&blob)?
                            } else {
                                listpack::parse(&blob)?
                            };
                            // Redis refuses empty nodes too.
                            if items.is_empty() {
                                return Err(DecodeError::Corrupt);
                            }
                            out.extend(self.elements(&items)?);
                        }
                        _ => return Err(DecodeError::Corrupt),
                    }
                }
                Ok(Object::List(out))
            }
            types::HASH_ZIPLIST | types::HASH_LISTPACK => {
                let blob = self.string()?;
                let items = if kind == types::HASH_ZIPLIST {
                    ziplist::parse(&blob)?
                } else {
                    listpack::parse(&blob)?
                };
                if items.is_empty() || items.len() % 2 != 0 {
                    return Err(DecodeError::Corrupt);
                }
                let flat = self.elements(&items)?;
                let mut out = Vec::with_capacity(flat.len() / 2);
                let mut it = flat.into_iter();
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    out.push((f, v));
                }
                unique(out.iter().map(|(f, _)| &f[..]))?;
                Ok(Object::Hash(out))
            }
            types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
                let blob = self.string()?;
                let items = if kind == types::ZSET_ZIPLIST {
                    ziplist::parse(&blob)?
                } else {
                    listpack::parse(&blob)?
                };
                if items.is_empty() || items.len() % 2 != 0 {
                    return Err(DecodeError::Corrupt);
                }
                let mut out = Vec::with_capacity(items.len() / 2);
                for pair in items.chunks_exact(2) {
                    let m = self.element(&pair[0])?;
                    let score = match pair[1] {
                        Element::Int(i) => i as f64,
                        Element::Str(s) => parse_double(s)?,
                    };
                    out.push((m, score));
                }
                unique(out.iter().map(|(m, _)| &m[..]))?;
                Ok(Object::ZSet(out))
            }
            types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 => Ok(Object::Stream(Box::new(
                crate::stream::read(self, kind == types::STREAM_LISTPACKS_2)?,
            ))),
            // Zipmaps (Redis 2.x) and module values are not loaded.
            _ => Err(DecodeError::Corrupt),
        }
    }

    fn elements(&mut self, items: &[Element<'_>]) -> Result<Vec<Vec<u8>>, DecodeError> {
        let mut out = Vec::with_capacity(items.len());
        for e in items {
            out.push(self.element(e)?);
        }
        Ok(out)
    }

    /// `rdbLoadDoubleValue`: a length byte (253 nan, 254 +inf, 255 -inf) and ASCII digits.
    fn text_double(&mut self) -> Result<f64, DecodeError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_double(self.bytes(n as usize)?),
        }
    }
}

/// A score written as text (`%.17g`, an integer, `inf`): what `strtod` would accept of it.
fn parse_double(s: &[u8]) -> Result<f64, DecodeError> {
    let t = std::str::from_utf8(s).map_err(|_| DecodeError::Corrupt)?;
    let v = match t {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => t.parse::<f64>().map_err(|_| DecodeError::Corrupt)?,
    };
    if v.is_nan() {
        return Err(DecodeError::Corrupt);
    }
    Ok(v)
}

/// Redis refuses payloads with duplicate members or fields.
fn unique<'b>(items: impl Iterator<Item = &'b [u8]>) -> Result<(), DecodeError> {
    let mut seen = HashSet::new();
    for m in items {
        if !seen.insert(m) {
            return Err(DecodeError::Corrupt);
        }
    }
    Ok(())
}
