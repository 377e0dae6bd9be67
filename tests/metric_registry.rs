//! The metric table (src/admin/registry.rs) against a real server: every `# TYPE` line of
//! `/metrics` names a declared family exactly once, with its declared type and help, and every
//! declared family is there; INFO shows every declared field once, in its section, in table
//! order as one block, and no field twice; `/stats` has every declared path and nothing that is
//! not declared.

mod common;

use std::collections::HashMap;

use common::{q, TestServer};
use ferrite::admin::registry::{declarations, Declaration};
use serde_json::Value;

/// Problems with a `/metrics` text, measured against the table.
fn exposition_errors(text: &str, table: &[Declaration]) -> Vec<String> {
    let declared: HashMap<&str, &Declaration> = table
        .iter()
        .filter_map(|d| d.prom.map(|p| (p, d)))
        .collect();
    let mut errors = Vec::new();
    let mut typed: HashMap<&str, usize> = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            *typed.entry(name).or_default() += 1;
            match declared.get(name) {
                None => errors.push(format!("# TYPE of an undeclared family: {line}")),
                Some(d) if d.kind != kind => {
                    errors.push(format!("{name}: type {kind}, declared {}", d.kind))
                }
                Some(_) => {}
            }
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(d) = declared.get(name) {
                if d.help != help {
                    errors.push(format!("{name}: help {help:?}, declared {:?}", d.help));
                }
            }
        }
    }
    for (name, n) in &typed {
        if *n != 1 {
            errors.push(format!("{name}: {n} # TYPE lines"));
        }
    }
    for name in declared.keys() {
        if !typed.contains_key(name) {
            errors.push(format!("{name}: declared, not in /metrics"));
        }
    }
    errors
}

/// `INFO everything` as (section, [fields in order]).
fn info_sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.split("\r\n") {
        if let Some(name) = line.strip_prefix("# ") {
            out.push((name.to_ascii_lowercase(), Vec::new()));
        } else if let Some((field, _)) = line.split_once(':') {
            out.last_mut()
                .expect("a field before any section")
                .1
                .push(field.to_string());
        }
    }
    out
}

fn info_errors(text: &str, table: &[Declaration]) -> Vec<String> {
    let sections = info_sections(text);
    let mut errors = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (_, fields) in &sections {
        for f in fields {
            *seen.entry(f).or_default() += 1;
        }
    }
    for (f, n) in &seen {
        if *n != 1 {
            errors.push(format!("INFO field {f} appears {n} times"));
        }
    }
    // Per section: the table's fields, in table order, as one block.
    let mut wanted: Vec<(&str, Vec<&str>)> = Vec::new();
    for d in table {
        let Some((section, fields)) = &d.info else {
            continue;
        };
        match wanted.iter_mut().find(|(s, _)| s == section) {
            Some((_, list)) => list.extend(fields),
            None => wanted.push((section, fields.clone())),
        }
    }
    for (section, fields) in wanted {
        let Some((_, got)) = sections.iter().find(|(s, _)| s == section) else {
            errors.push(format!("INFO has no section {section}"));
            continue;
        };
        let Some(start) = got.iter().position(|f| f == fields[0]) else {
            errors.push(format!("INFO {section} lacks {}", fields[0]));
            continue;
        };
        let block: Vec<&str> = got[start..]
            .iter()
            .take(fields.len())
            .map(String::as_str)
            .collect();
        if block != fields {
            errors.push(format!(
                "INFO {section}: the table's fields {fields:?}, INFO has {block:?} there"
            ));
        }
    }
    errors
}

/// Every leaf of a JSON document as a dotted path (array elements as `[]`).
fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(x, p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                leaves(x, format!("{path}[]"), out);
            }
        }
        _ => out.push(path),
    }
}

fn stats_errors(doc: &Value, table: &[Declaration]) -> Vec<String> {
    let mut errors = Vec::new();
    for d in table {
        let Some(path) = d.stats else { continue };
        let v = path.split('.').try_fold(doc, |v, k| v.get(k));
        match v {
            None => errors.push(format!("/stats lacks {path}")),
            Some(v) if !d.stats_tree && !v.is_u64() => {
                errors.push(format!("/stats {path} is not a number: {v}"))
            }
            Some(_) => {}
        }
    }
    let mut all = Vec::new();
    leaves(doc, String::new(), &mut all);
    for leaf in all {
        let declared = table.iter().filter_map(|d| d.stats).any(|p| {
            leaf == p || leaf.starts_with(&format!("{p}.")) || leaf.starts_with(&format!("{p}["))
        });
        if !declared {
            errors.push(format!("/stats {leaf} is not in the table"));
        }
    }
    errors
}

#[tokio::test]
async fn metrics_info_and_stats_are_what_the_table_declares() {
    let srv = TestServer::start().await;
    let admin = srv.running.admin_addr.expect("admin endpoint enabled");
    let mut c = srv.client().await;
    // Traffic, so the labelled families have series.
    for i in 0..3 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]).await.unwrap();
        let _: Option<String> = q(&mut c, &["GET", &format!("k{i}")]).await.unwrap();
    }
    let _: i64 = q(&mut c, &["PUBLISH", "ch", "m"]).await.unwrap();
    let table = declarations();

    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ferrite_requests_total{protocol=\"resp\""));
    let errors = exposition_errors(&metrics, &table);
    assert!(errors.is_empty(), "{errors:#?}\n{metrics}");

    let info: String = q(&mut c, &["INFO", "everything"]).await.unwrap();
    let errors = info_errors(&info, &table);
    assert!(errors.is_empty(), "{errors:#?}\n{info}");

    let stats: Value = reqwest::get(format!("http://{admin}/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["caches"][0]["name"], "default", "{stats}");
    let errors = stats_errors(&stats, &table);
    assert!(errors.is_empty(), "{errors:#?}\n{stats}");
}

/// The checks above catch what they are for: a family rendered twice or undeclared, a declared
/// family missing, an INFO field twice or out of the table's order, an undeclared /stats key.
#[test]
fn the_checks_fail_on_a_broken_rendering() {
    let table = declarations();
    let name = table[0].prom.unwrap();
    let kind = table[0].kind;
    let help = table[0].help;
    let family = format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
    let twice = format!("{family}{family}# TYPE ferrite_undeclared gauge\n");
    let errors = exposition_errors(&twice, &table);
    assert!(
        errors.iter().any(|e| e.contains("2 # TYPE lines")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("undeclared")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("not in /metrics")),
        "{errors:?}"
    );

    let info = "# Stats\r\ntotal_commands_processed:1\r\ntotal_connections_received:1\r\n\
                # Server\r\ntotal_commands_processed:1\r\n";
    let errors = info_errors(info, &table);
    assert!(
        errors.iter().any(|e| e.contains("appears 2 times")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("INFO stats: the table's")),
        "{errors:?}"
    );

    let stats = serde_json::json!({"uptime_seconds": 1, "surprise": 2});
    let errors = stats_errors(&stats, &table);
    assert!(errors.iter().any(|e| e.contains("surprise")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("lacks")), "{errors:?}");
}
