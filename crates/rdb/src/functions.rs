//! FUNCTION DUMP / RESTORE payloads: Redis 7.0's `RDB_OPCODE_FUNCTION2` records (one per
//! library: the opcode, then the library's code as an RDB string), then the RDB version and
//! the CRC-64 footer of DUMP payloads.

use crate::decode::{verify, Reader};
use crate::encode::Dump;
use crate::{DecodeError, Thresholds};

/// `RDB_OPCODE_FUNCTION2`.
pub const OPCODE_FUNCTION2: u8 = 245;
/// `RDB_OPCODE_FUNCTION_PRE_GA`: Redis 7.0's release candidates' format, refused by 7.0 too.
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// Why a payload was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum FunctionsError {
    /// Footer or encoding.
    Decode(DecodeError),
    /// A record that is not a library (Redis: "given type is not a function").
    NotAFunction,
    /// The pre-GA format.
    PreGa,
}

/// The payload of `codes` (each library's code), as `FUNCTION DUMP` writes it.
pub fn dump_functions<'a>(t: Thresholds, codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut d = Dump::empty(t);
    for code in codes {
        d.raw(&[OPCODE_FUNCTION2]);
        d.raw_string(code);
    }
    d.finish()
}

/// The libraries' codes of a `FUNCTION RESTORE` payload, allocating at most about `max_bytes`.
pub fn restore_functions(payload: &[u8], max_bytes: usize) -> Result<Vec<Vec<u8>>, FunctionsError> {
    let body = verify(payload).map_err(FunctionsError::Decode)?;
    let mut r = Reader::new(body, max_bytes);
    let mut out = Vec::new();
    while !r.at_end() {
        match r.byte().map_err(FunctionsError::Decode)? {
            OPCODE_FUNCTION2 => out.push(r.string().map_err(FunctionsError::Decode)?),
            OPCODE_FUNCTION_PRE_GA => return Err(FunctionsError::PreGa),
            _ => return Err(FunctionsError::NotAFunction),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_round_trip() {
        let long = "#!lua name=lib\n".to_string()
            + &"redis.register_function('f', function() return 1 end)\n".repeat(5);
        let codes: Vec<&[u8]> = vec![b"#!lua name=a\nx", long.as_bytes()];
        let p = dump_functions(Thresholds::default(), codes.iter().copied());
        let back = restore_functions(&p, 1 << 20).unwrap();
        assert_eq!(back, codes.iter().map(|c| c.to_vec()).collect::<Vec<_>>());
        // no libraries: the footer alone
        let empty = dump_functions(Thresholds::default(), std::iter::empty());
        assert_eq!(empty.len(), 10);
        assert_eq!(
            restore_functions(&empty, 1 << 20).unwrap(),
            Vec::<Vec<u8>>::new()
        );
        // a flipped byte fails the checksum; a value record is not a function
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert!(matches!(
            restore_functions(&bad, 1 << 20),
            Err(FunctionsError::Decode(_))
        ));
        let value = crate::Dump::string(Thresholds::default(), b"v");
        assert_eq!(
            restore_functions(&value, 1 << 20),
            Err(FunctionsError::NotAFunction)
        );
    }
}
