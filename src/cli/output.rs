//! Writing results: human text or one JSON object per line (`--json`), and bytes shown either way.

use std::io::Write;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::error::CliError;

/// Where results go. Writes are flushed per line so a subscription piped into another program
/// shows each message as it arrives.
#[derive(Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// One result: `json` in --json mode, `human` otherwise.
    pub fn emit(&self, json: Value, human: impl FnOnce() -> String) -> Result<(), CliError> {
        if self.json {
            self.line(json.to_string().as_bytes())
        } else {
            self.line(human().as_bytes())
        }
    }

    /// Raw bytes followed by a newline (a value printed by `get`, which may be binary).
    pub fn line(&self, bytes: &[u8]) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }
}

/// Read all of stdin, refusing more than `limit` bytes (memory stays bounded whatever is piped in).
pub fn read_stdin(limit: usize) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)?;
    if buf.len() > limit {
        return Err(CliError::Usage(format!(
            "standard input is larger than {limit} bytes"
        )));
    }
    Ok(buf)
}

/// Put bytes into a JSON object as `"<name>": "text"` when they are UTF-8, otherwise as
/// `"<name>_base64": "..."`, so JSON output never loses or mangles binary data.
pub fn put_bytes(obj: &mut Map<String, Value>, name: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            obj.insert(name.to_string(), Value::String(s.to_string()));
        }
        Err(_) => {
            obj.insert(
                format!("{name}_base64"),
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
    }
}

/// Bytes for a human: UTF-8 text as it is, anything else as `base64:...`.
pub fn show_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => format!(
            "base64:{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
    }
}

/// Report a failure on stderr: a line of text, or in --json mode a JSON object
/// `{"error": message, "kind": ..., "exit_code": n}`.
pub fn report_error(json: bool, e: &CliError) {
    let mut err = std::io::stderr().lock();
    let _ = if json {
        writeln!(
            err,
            "{}",
            serde_json::json!({"error": e.to_string(), "kind": e.kind(), "exit_code": e.exit_code()})
        )
    } else if matches!(e, CliError::Miss(_)) {
        writeln!(err, "{e}")
    } else {
        writeln!(err, "error: {e}")
    };
}
