//! The key file and the revocation file beside it: the crate's only I/O.
//!
//! Key file: the HMAC secret as hex text (64 hex digits = 32 random bytes), mode 0600, created
//! on first start when missing. Hex rather than raw bytes so an operator can copy it between
//! machines with ordinary tools. Revocation file `<key file>.revoked`: one token id per line,
//! appended to; never rewritten, so concurrent appenders cannot lose each other's lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Shortest accepted secret (HS256 wants at least the hash size).
pub const MIN_KEY_BYTES: usize = 32;
/// Bytes of a newly created key.
const NEW_KEY_BYTES: usize = 32;
/// Largest revocation file read: bounds memory.
const MAX_REVOCATION_FILE: u64 = 64 * 1024 * 1024;

pub fn revocation_path(key_file: &Path) -> PathBuf {
    let mut s = key_file.as_os_str().to_os_string();
    s.push(".revoked");
    PathBuf::from(s)
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// Read the key, or create the file with a fresh random key if it does not exist.
pub fn load_or_create(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text).map_err(|e| invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(e),
    }
}

fn parse_key(text: &str) -> Result<Vec<u8>, String> {
    let hex = text.trim();
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the key file must hold the key as hex digits".into());
    }
    let key: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
        .collect();
    if key.len() < MIN_KEY_BYTES {
        return Err(format!(
            "the key is {} bytes; at least {MIN_KEY_BYTES} are required",
            key.len()
        ));
    }
    Ok(key)
}

fn create(path: &Path) -> std::io::Result<Vec<u8>> {
    use rand::RngCore;
    let mut key = vec![0u8; NEW_KEY_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    // create_new: two processes starting at once must not overwrite each other's key.
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(format!("{hex}\n").as_bytes())?;
            f.sync_all()?;
            Ok(key)
        }
        // Lost the race: use the winner's key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(e),
    }
}

/// (modified time, length) of a file, None when it does not exist.
pub fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

pub fn read_revocations(path: &Path) -> std::io::Result<Vec<String>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if f.metadata()?.len() > MAX_REVOCATION_FILE {
        return Err(invalid(format!(
            "{} is larger than {MAX_REVOCATION_FILE} bytes",
            path.display()
        )));
    }
    let text = std::io::read_to_string(f)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

pub fn append_revocation(path: &Path, token_id: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    // One write call per line: appends from several processes do not interleave.
    f.write_all(format!("{token_id}\n").as_bytes())?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_key_rules() {
        assert!(parse_key(&"ab".repeat(32)).is_ok());
        assert!(parse_key(&"ab".repeat(31)).is_err());
        assert!(parse_key("zz").is_err());
        assert_eq!(
            parse_key(&format!("{}\n", "01".repeat(32))).unwrap(),
            vec![1; 32]
        );
    }
}
