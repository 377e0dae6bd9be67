//! COMMAND DOCS beside redis-server 7.0, in RESP2 and RESP3: every command both have (and every
//! subcommand of the containers Ferrite has) byte for byte, the all-commands form as a set of
//! entries, and the lookup rules (case, `container|subcommand`, unknown names skipped, repeats).
//! Redis sends the top-level commands and a container's subcommands in its dict's hash order,
//! which changes with every start; those two levels are compared as sets (Ferrite sends name
//! order), everything inside them byte for byte.
//!
//! `every_command_has_docs` needs no redis-server: each command of Ferrite's table must have a
//! documentation entry with a summary, so a new command without docs fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::common::redis_ref::Diff;
use crate::common::RawConn;
use ferrite::resp::commands::command_docs::{self, Node};
use ferrite::resp::dispatch::table;

/// A reply, kept as its raw bytes: scalars whole, aggregates as their header and items.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(Vec<u8>),
    Agg(Vec<u8>, Vec<Tree>),
}

impl Tree {
    fn bytes(&self, out: &mut Vec<u8>) {
        match self {
            Tree::Leaf(b) => out.extend_from_slice(b),
            Tree::Agg(h, items) => {
                out.extend_from_slice(h);
                items.iter().for_each(|t| t.bytes(out));
            }
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.bytes(&mut out);
        out
    }

    fn items(&self) -> &[Tree] {
        match self {
            Tree::Agg(_, items) => items,
            Tree::Leaf(b) => panic!("not an aggregate: {:?}", String::from_utf8_lossy(b)),
        }
    }

    /// The text of a bulk string leaf.
    fn text(&self) -> String {
        let Tree::Leaf(b) = self else {
            panic!("not a bulk string: {self:?}")
        };
        let s = String::from_utf8_lossy(b);
        assert!(s.starts_with('$'), "not a bulk string: {s:?}");
        let (_, body) = s.split_once("\r\n").unwrap();
        body.strip_suffix("\r\n").unwrap().to_string()
    }

    /// Sort the (name, docs) pairs of every `subcommands` map, wherever it is: the one level
    /// Redis sends in hash order inside a command's docs.
    fn canonical(mut self) -> Tree {
        if let Tree::Agg(_, items) = &mut self {
            let mut i = 0;
            while i < items.len() {
                items[i] = items[i].clone().canonical();
                if i.is_multiple_of(2) && i + 1 < items.len() && is_bulk(&items[i], "subcommands") {
                    if let Tree::Agg(_, subs) = &mut items[i + 1] {
                        *subs = sorted_pairs(std::mem::take(subs));
                    }
                }
                i += 1;
            }
        }
        self
    }
}

fn is_bulk(t: &Tree, s: &str) -> bool {
    matches!(t, Tree::Leaf(b) if b == format!("${}\r\n{s}\r\n", s.len()).as_bytes())
}

fn sorted_pairs(items: Vec<Tree>) -> Vec<Tree> {
    assert!(
        items.len().is_multiple_of(2),
        "a map of {} items",
        items.len()
    );
    let mut pairs: Vec<(Tree, Tree)> = Vec::new();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((k, v.canonical()));
    }
    pairs.sort_by_key(|(k, _)| k.to_bytes());
    pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()
}

/// Parse one reply at the start of `buf`: the tree and its length, or None if incomplete.
fn parse(buf: &[u8]) -> Option<(Tree, usize)> {
    let eol = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = &buf[..eol + 2];
    let n: i64 = std::str::from_utf8(&buf[1..eol]).ok()?.parse().unwrap_or(0);
    match buf[0] {
        b'$' | b'=' | b'!' if n >= 0 => {
            let end = eol + 2 + n as usize + 2;
            (buf.len() >= end).then(|| (Tree::Leaf(buf[..end].to_vec()), end))
        }
        b'*' | b'~' | b'%' | b'>' if n >= 0 => {
            let count = if buf[0] == b'%' { 2 * n } else { n } as usize;
            let mut pos = eol + 2;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let (t, len) = parse(&buf[pos..])?;
                items.push(t);
                pos += len;
            }
            Some((Tree::Agg(head.to_vec(), items), pos))
        }
        _ => Some((Tree::Leaf(head.to_vec()), eol + 2)),
    }
}

/// Send `parts` and read the whole reply (COMMAND DOCS sends hundreds of KiB: read in chunks,
/// not the byte-at-a-time helpers).
async fn call(c: &mut RawConn, parts: &[&str]) -> Tree {
    c.cmd(parts).await;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        if let Some((t, len)) = parse(&buf) {
            assert_eq!(len, buf.len(), "{parts:?}: bytes after the reply");
            return t;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), c.stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{parts:?}: no complete reply in 10 s"))
            .unwrap();
        assert!(n > 0, "{parts:?}: connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Both servers' replies to `parts`; with `canonical`, subcommand maps sorted by name.
async fn both(d: &mut Diff, parts: &[&str], canonical: bool) -> (Vec<u8>, Vec<u8>) {
    let f = call(&mut d.ferrite, parts).await;
    let r = call(&mut d.redis, parts).await;
    if canonical {
        (f.canonical().to_bytes(), r.canonical().to_bytes())
    } else {
        (f.to_bytes(), r.to_bytes())
    }
}

/// Both must answer `parts` with the same bytes (`canonical`: up to the subcommands' order).
async fn same(d: &mut Diff, parts: &[&str], canonical: bool, resp3: bool) {
    let (f, r) = both(d, parts, canonical).await;
    assert_eq!(
        String::from_utf8_lossy(&f),
        String::from_utf8_lossy(&r),
        "{parts:?} (resp3: {resp3}): ferrite (left) and redis-server (right) differ"
    );
}

/// COMMAND LIST's names on one server.
async fn list(c: &mut RawConn) -> BTreeSet<String> {
    call(c, &["COMMAND", "LIST"])
        .await
        .items()
        .iter()
        .map(Tree::text)
        .collect()
}

/// The names both servers have at the top level, and the subcommands (`container|sub`) Redis has
/// under the containers Ferrite has.
async fn shared_names(d: &mut Diff) -> (Vec<String>, Vec<String>) {
    let ferrite = list(&mut d.ferrite).await;
    let redis = list(&mut d.redis).await;
    let top: Vec<String> = ferrite
        .iter()
        .filter(|n| redis.contains(*n) && !n.contains('|'))
        .cloned()
        .collect();
    let subs: Vec<String> = redis
        .iter()
        .filter(|n| {
            n.split_once('|')
                .is_some_and(|(base, _)| ferrite.contains(base))
        })
        .cloned()
        .collect();
    (top, subs)
}

#[tokio::test]
async fn command_docs_per_command_matches_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let (top, subs) = shared_names(&mut d).await;
        assert!(top.len() > 200, "only {} shared commands", top.len());
        assert!(subs.len() > 50, "only {} shared subcommands", subs.len());
        for name in &top {
            // Containers (CONFIG, CLIENT, ...) carry a subcommands map in hash order.
            same(&mut d, &["COMMAND", "DOCS", name], true, resp3).await;
        }
        for name in &subs {
            same(&mut d, &["COMMAND", "DOCS", name], false, resp3).await;
            let upper = name.to_ascii_uppercase();
            same(&mut d, &["COMMAND", "DOCS", &upper], false, resp3).await;
        }
    }
}

#[tokio::test]
async fn command_docs_all_matches_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        // COMMAND LIST names subcommands too (`config|get`); DOCS has them inside their command.
        let ferrite_names: BTreeSet<String> = list(&mut d.ferrite)
            .await
            .into_iter()
            .filter(|n| !n.contains('|'))
            .collect();
        let redis_names = list(&mut d.redis).await;
        let f = call(&mut d.ferrite, &["COMMAND", "DOCS"]).await;
        let r = call(&mut d.redis, &["COMMAND", "DOCS"]).await;
        let header = |t: &Tree| match t {
            Tree::Agg(h, items) => (String::from_utf8_lossy(h).into_owned(), items.len()),
            Tree::Leaf(_) => panic!("COMMAND DOCS is not a map"),
        };
        let (fh, fitems) = header(&f);
        let pairs = if resp3 { fitems / 2 } else { fitems };
        assert_eq!(fh, format!("{}{pairs}\r\n", if resp3 { '%' } else { '*' }));
        let entries = |t: Tree| -> BTreeMap<String, Vec<u8>> {
            let items = t.items().to_vec();
            let n = items.len();
            let map: BTreeMap<String, Vec<u8>> = items
                .chunks(2)
                .map(|kv| (kv[0].text(), kv[1].clone().canonical().to_bytes()))
                .collect();
            assert_eq!(map.len() * 2, n, "a command listed twice");
            map
        };
        let f = entries(f);
        let r = entries(r);
        // Every command of Ferrite's table, nothing else.
        assert_eq!(f.keys().cloned().collect::<BTreeSet<_>>(), ferrite_names);
        let mut compared = 0;
        for (name, docs) in &f {
            if redis_names.contains(name) {
                assert_eq!(
                    String::from_utf8_lossy(docs),
                    String::from_utf8_lossy(&r[name]),
                    "COMMAND DOCS entry {name} (resp3: {resp3})"
                );
                compared += 1;
            }
        }
        assert!(compared > 200, "only {compared} entries compared");
        // Ferrite sends name order.
        let order: Vec<String> = f.keys().cloned().collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    }
}

#[tokio::test]
async fn command_docs_lookup_matches_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let cases: &[&[&str]] = &[
            &["COMMAND", "DOCS", "get"],
            &["COMMAND", "DOCS", "GET"],
            &["COMMAND", "DOCS", "gEt", "Set", "nosuch", "ZADD"],
            &["COMMAND", "DOCS", "nosuch"],
            &["COMMAND", "DOCS", "nosuch", "other"],
            &["COMMAND", "DOCS", ""],
            &["COMMAND", "DOCS", "get", "get", "GET"],
            &["COMMAND", "DOCS", "config|get"],
            &[
                "COMMAND",
                "DOCS",
                "CONFIG|GET",
                "Config|Set",
                "config|nosuch",
            ],
            &["COMMAND", "DOCS", "config|get|x"],
            &["COMMAND", "DOCS", "config|"],
            &["COMMAND", "DOCS", "|get"],
            &["COMMAND", "DOCS", "|"],
            &["COMMAND", "DOCS", "config||get"],
            &["COMMAND", "DOCS", "get|x", "get|", "set|get"],
            &["COMMAND", "DOCS", "nosuch|get"],
            &[
                "COMMAND",
                "DOCS",
                "client|list",
                "object|encoding",
                "xinfo|stream",
            ],
            &[
                "COMMAND",
                "DOCS",
                "command|docs",
                "pubsub|numsub",
                "memory|usage",
            ],
            &[
                "COMMAND",
                "DOCS",
                "xgroup|createconsumer",
                "client|no-evict",
            ],
            &["COMMAND", "DOCS", "set", "config|get", "set"],
            // Ferrite's own commands are not Redis's: skipped by both.
            &["COMMAND", "DOCS", "ferrite.revoke|x", "get"],
        ];
        for c in cases {
            same(&mut d, c, false, resp3).await;
        }
        // A container beside others: only its subcommand map's order differs.
        same(
            &mut d,
            &["COMMAND", "DOCS", "get", "CONFIG", "object", "set"],
            true,
            resp3,
        )
        .await;
        same(
            &mut d,
            &["COMMAND", "DOCS", "client", "client"],
            true,
            resp3,
        )
        .await;
    }
}

/// The text of a docs map's bulk field.
fn field<'a>(docs: &'a Node, key: &str) -> Option<&'a str> {
    docs.get(key).and_then(Node::as_str)
}

#[test]
fn every_command_has_docs() {
    let docs = command_docs::all();
    let mut missing = Vec::new();
    for spec in table().values() {
        let Some(d) = docs.get(spec.name) else {
            missing.push(spec.name);
            continue;
        };
        let ok = ["summary", "since", "group"]
            .iter()
            .all(|k| field(d, k).is_some_and(|s| !s.is_empty()));
        if !ok {
            missing.push(spec.name);
            continue;
        }
        // Ferrite's own commands: hand-written, `since` "ferrite", the table's group.
        if field(d, "since") == Some("ferrite") {
            assert_eq!(
                field(d, "group"),
                Some(spec.group),
                "{}: group differs from the command table's",
                spec.name
            );
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "commands without a COMMAND DOCS entry with summary, since and group (Ferrite's own \
         commands are documented in src/resp/commands/command_docs_ferrite.json): {missing:?}"
    );
    // No hand-written entry for a command Ferrite does not have.
    for name in docs.names() {
        let d = docs.get(name).unwrap();
        if field(d, "since") == Some("ferrite") {
            assert!(
                table().contains_key(name),
                "{name} is documented but not in the table"
            );
        }
    }
}

#[test]
fn docs_nodes_have_their_resp3_types() {
    let docs = command_docs::all();
    let set = docs.get("set").unwrap();
    let Some(Node::Set(history)) = set.get("history") else {
        panic!("SET's history is not a set: {set:?}")
    };
    assert!(matches!(&history[0], Node::Array(pair) if pair.len() == 2));
    let Some(Node::Array(args)) = set.get("arguments") else {
        panic!("SET's arguments are not an array")
    };
    assert_eq!(args[0].get("key_spec_index"), Some(&Node::Int(0)));
    assert_eq!(
        args[2].get("flags"),
        Some(&Node::Set(vec![Node::Simple("optional".into())]))
    );
    let Some(Node::Map(subs)) = docs.get("config").unwrap().get("subcommands") else {
        panic!("CONFIG has no subcommands map")
    };
    let names: Vec<&str> = subs.iter().map(|(k, _)| &**k).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.contains(&"config|get"));
}
