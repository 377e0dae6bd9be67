//! The RESP request parser (multibulk and inline) on arbitrary bytes, fed whole and fed in
//! arbitrary chunks (as a socket delivers them).
//!
//! Checks: no panic; both feedings yield exactly the same commands and the same error (the
//! parser is stateless and rescans, so chunking must never change what it sees); no argument or
//! argument count passes the limits; and every command's bytes are accounted for (what was
//! consumed is never more than what arrived).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use ferrite_resp::{parse_command, ParseLimits};
use libfuzzer_sys::fuzz_target;

/// Small limits, so the limit paths are reached by small inputs.
fn limits() -> ParseLimits {
    ParseLimits {
        max_bulk_len: 512,
        max_multibulk_len: 16,
        max_inline_len: 128,
        ..ParseLimits::default()
    }
}

#[derive(Debug, PartialEq)]
struct Outcome {
    commands: Vec<Vec<Vec<u8>>>,
    error: Option<String>,
}

fn drain(buf: &mut BytesMut, args: &mut Vec<Bytes>, out: &mut Outcome) -> bool {
    let limits = limits();
    loop {
        match parse_command(buf, &limits, args) {
            Ok(true) => {
                assert!(!args.is_empty(), "a parsed command has a name");
                assert!(args.len() <= limits.max_multibulk_len.max(1024));
                for a in args.iter() {
                    assert!(a.len() <= limits.max_bulk_len.max(limits.max_inline_len));
                }
                out.commands.push(args.iter().map(|a| a.to_vec()).collect());
            }
            Ok(false) => return true,
            Err(e) => {
                let msg = e.message();
                assert!(msg.starts_with("ERR Protocol error: "), "{msg}");
                out.error = Some(msg);
                return false;
            }
        }
    }
}

fn whole(data: &[u8]) -> Outcome {
    let mut out = Outcome {
        commands: vec![],
        error: None,
    };
    let mut buf = BytesMut::from(data);
    let mut args = Vec::new();
    drain(&mut buf, &mut args, &mut out);
    out
}

fn chunked(data: &[u8], cuts: &[u8]) -> Outcome {
    let mut out = Outcome {
        commands: vec![],
        error: None,
    };
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    let mut pos = 0;
    let mut cut = cuts.iter().cycle();
    while pos < data.len() {
        let n = (*cut.next().unwrap_or(&1) as usize % 64 + 1).min(data.len() - pos);
        buf.extend_from_slice(&data[pos..pos + n]);
        pos += n;
        if !drain(&mut buf, &mut args, &mut out) {
            break;
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let mut u = Unstructured::new(input);
    let cuts: Vec<u8> = Vec::arbitrary(&mut u).unwrap_or_default();
    let data = u.take_rest();
    let a = whole(data);
    let b = chunked(data, if cuts.is_empty() { &[0] } else { &cuts });
    assert_eq!(a, b, "chunking changed what the parser saw");
});
