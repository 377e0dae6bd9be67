//! Checks on the repository's own files that no compiler sees: merge-conflict markers left in
//! data files, and libFuzzer dictionaries that libFuzzer would refuse to load. A conflict left in
//! `fuzz/server_commands.dict` once passed every cargo gate and failed CI at its last step (the
//! fuzz run), after 16 minutes; this test catches it in the first.

use std::fs;
use std::path::{Path, PathBuf};

/// Folders that hold generated or downloaded files, not the project's own.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    "node_modules",
    "corpus",
    "artifacts",
    "coverage",
];

fn project_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.to_string_lossy().as_ref()) {
                project_files(&path, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_file_holds_merge_conflict_markers() {
    let mut files = Vec::new();
    project_files(&root(), &mut files);
    assert!(files.len() > 100, "walked too few files: {}", files.len());
    let mut found = Vec::new();
    for path in files {
        let Ok(text) = fs::read_to_string(&path) else {
            continue; // binary files (seeds, images) cannot hold a text conflict
        };
        for (n, line) in text.lines().enumerate() {
            if line.starts_with("<<<<<<< ") || line.starts_with(">>>>>>> ") {
                found.push(format!("{}:{}: {line}", path.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "merge-conflict markers:\n{}",
        found.join("\n")
    );
}

/// One line of a libFuzzer dictionary: blank, `# comment`, or `[name]"value"` where the value
/// uses only the escapes libFuzzer's ParseDictionaryFile accepts (`\\`, `\"`, `\xAB`).
fn dictionary_line_ok(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return true;
    }
    let Some(open) = line.find('"') else {
        return false;
    };
    let name = &line[..open];
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '=')
        || (!name.is_empty() && !name.ends_with('='))
    {
        return false;
    }
    let value = &line[open + 1..];
    let Some(body) = value.strip_suffix('"') else {
        return false;
    };
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => match bytes.get(i + 1) {
                Some(b'\\') | Some(b'"') => i += 2,
                Some(b'x') => {
                    let hex = bytes.get(i + 2..i + 4);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return false;
                    }
                    i += 4;
                }
                _ => return false,
            },
            b'"' => return false,
            _ => i += 1,
        }
    }
    true
}

#[test]
fn fuzz_dictionaries_parse_as_libfuzzer_reads_them() {
    let fuzz = root().join("fuzz");
    let mut dicts = 0;
    for entry in fs::read_dir(&fuzz).expect("fuzz/ exists").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "dict") {
            dicts += 1;
            let text = fs::read_to_string(&path).expect("dictionary is text");
            for (n, line) in text.lines().enumerate() {
                assert!(
                    dictionary_line_ok(line),
                    "{}:{}: libFuzzer cannot parse {line:?}",
                    path.display(),
                    n + 1
                );
            }
        }
    }
    assert!(dicts > 0, "no dictionaries found under fuzz/");
}

#[test]
fn dictionary_grammar_matches_libfuzzer() {
    for good in [
        "",
        "# c",
        "t1=\"set\"",
        "\"ABSTTL\"",
        "nl=\"\\x0A\"",
        "q=\"a\\\"b\\\\\"",
    ] {
        assert!(dictionary_line_ok(good), "{good:?}");
    }
    for bad in [
        "<<<<<<< HEAD",
        "=======",
        "t1=\"unterminated",
        "t1=\"a\"b\"",
        "bad name=\"x\"",
        "e=\"\\n\"",
        "h=\"\\x0\"",
    ] {
        assert!(!dictionary_line_ok(bad), "{bad:?}");
    }
}
