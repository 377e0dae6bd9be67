//! COMMAND DOCS: redis-server 7.0's documentation replies, byte for byte.
//!
//! The documentation is data, parsed once from two files compiled in:
//! - `command_docs_redis.json`: what redis-server 7.0 answers to `COMMAND DOCS` over RESP3, for
//!   every Redis command, written by `scripts/gen_command_docs.py` (rerun it, never edit the
//!   file by hand). Where Ferrite differs from Redis (an argument it does not take), Redis's docs
//!   are kept: they describe the command Ferrite follows.
//! - `command_docs_ferrite.json`: Ferrite's own commands (FERRITE.*, TSUBSCRIBE, ...), written
//!   by hand in the same format, `"since": "ferrite"`.
//!
//! Each JSON value is one RESP3 node (the format is described in the script's header): a string
//! is a bulk string, a number an integer, an object a map, an array an array, `{"~": [...]}` a
//! set and `{"+": "..."}` a simple string. [`write`] replays a node through [`ReplyWriter`], so
//! RESP2 gets Redis's RESP2 forms (maps as flat arrays, sets as arrays) from the same tree.
//!
//! Ferrite answers only for the commands in its own table (`dispatch::table`); a container
//! command's subcommands (`config|get`) are Redis's, including those Ferrite does not implement.
//! Redis sends the top-level commands and each container's subcommands in its dict's hash order,
//! which changes with every start; Ferrite sends both in name order.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::resp::dispatch::{self, CommandSpec};

const REDIS_DOCS: &str = include_str!("command_docs_redis.json");
const FERRITE_DOCS: &str = include_str!("command_docs_ferrite.json");

/// One node of a reply tree, with its RESP3 type.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Bulk(Box<str>),
    Simple(Box<str>),
    Int(i64),
    Null,
    Array(Vec<Node>),
    Set(Vec<Node>),
    /// Bulk-string keys, in the order Redis sends them.
    Map(Vec<(Box<str>, Node)>),
}

impl Node {
    /// The value of a map's `key` (None for other nodes or a missing key).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a bulk string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Bulk(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a RESP3 node: string, integer, null, array, object, {\"~\": [..]} or {\"+\": \"..\"}",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Bulk(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(Node::Int)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = seq.next_element()? {
            v.push(n);
        }
        Ok(Node::Array(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut v: Vec<(Box<str>, Node)> = Vec::new();
        while let Some((k, n)) = map.next_entry::<String, Node>()? {
            if v.iter().any(|(seen, _)| **seen == *k) {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
            v.push((k.into(), n));
        }
        if let [(k, n)] = &mut v[..] {
            match (&**k, n) {
                ("~", Node::Array(items)) => return Ok(Node::Set(std::mem::take(items))),
                ("+", Node::Bulk(s)) => return Ok(Node::Simple(std::mem::take(s))),
                ("~", _) | ("+", _) => {
                    return Err(de::Error::custom(
                        "{\"~\": ..} takes an array, {\"+\": ..} a string",
                    ))
                }
                _ => {}
            }
        }
        Ok(Node::Map(v))
    }
}

#[derive(serde::Deserialize)]
struct DocsFile {
    commands: Node,
}

/// Every documented command (Redis's and Ferrite's), by lower-case name.
pub struct Docs {
    by_name: HashMap<Box<str>, Node>,
}

pub(crate) fn parse(file: &str, what: &str) -> Vec<(Box<str>, Node)> {
    let f: DocsFile =
        serde_json::from_str(file).unwrap_or_else(|e| panic!("{what}: not valid docs: {e}"));
    match f.commands {
        Node::Map(m) => m,
        _ => panic!("{what}: \"commands\" is not an object"),
    }
}

/// The parsed docs (parsed at the first use; the files are compiled in, so a bad file fails the
/// first COMMAND DOCS, and the tests, rather than a user's server later).
pub fn all() -> &'static Docs {
    static DOCS: OnceLock<Docs> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut by_name = HashMap::new();
        for (file, what) in [
            (REDIS_DOCS, "command_docs_redis.json"),
            (FERRITE_DOCS, "command_docs_ferrite.json"),
        ] {
            for (name, node) in parse(file, what) {
                assert!(
                    matches!(node, Node::Map(_)),
                    "{what}: the docs of {name} are not a map"
                );
                let prev = by_name.insert(name.clone(), node);
                assert!(prev.is_none(), "{what}: {name} is documented twice");
            }
        }
        // A command of the table without docs (the tests forbid it) gets its group alone
        // rather than nothing.
        for spec in dispatch::table().values() {
            by_name.entry(spec.name.into()).or_insert_with(|| {
                Node::Map(vec![("group".into(), Node::Bulk(spec.group.into()))])
            });
        }
        Docs { by_name }
    })
}

impl Docs {
    /// The docs map of the top-level command `name` (lower case): every command of Ferrite's
    /// table, and Redis's others.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.by_name.get(name)
    }

    /// Every documented top-level name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(|k| &**k)
    }
}

/// A COMMAND DOCS argument resolved as Redis's `lookupCommandBySds` does: `name` or
/// `container|subcommand` in any case (one level only), known to Ferrite's table; the full name
/// Redis replies with and the docs.
pub fn lookup(arg: &[u8]) -> Option<(&'static str, &'static Node)> {
    let arg = std::str::from_utf8(arg).ok()?;
    let mut parts = arg.split('|');
    let base = parts.next()?;
    let sub = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let spec = dispatch::lookup(base.as_bytes())?;
    let docs = all().get(spec.name)?;
    let Some(sub) = sub else {
        return Some((spec.name, docs));
    };
    let Some(Node::Map(subs)) = docs.get("subcommands") else {
        return None;
    };
    let full = format!("{}|{}", spec.name, sub.to_ascii_lowercase());
    subs.iter()
        .find(|(k, _)| **k == *full)
        .map(|(k, v)| (&**k, v))
}

/// Write `node` with its RESP3 type (RESP2 forms when the connection speaks RESP2).
pub fn write(w: &mut ReplyWriter<'_>, node: &Node) {
    match node {
        Node::Bulk(s) => w.bulk(s.as_bytes()),
        Node::Simple(s) => w.simple(s),
        Node::Int(n) => w.int(*n),
        Node::Null => w.null(),
        Node::Array(v) => {
            w.array(v.len());
            v.iter().for_each(|n| write(w, n));
        }
        Node::Set(v) => {
            w.set(v.len());
            v.iter().for_each(|n| write(w, n));
        }
        Node::Map(m) => {
            w.map(m.len());
            for (k, v) in m {
                w.bulk(k.as_bytes());
                write(w, v);
            }
        }
    }
}

/// `COMMAND DOCS [name ...]` (`names`: the arguments after DOCS). Without names every command of
/// `specs` (the whole table, in name order); with names, those found, in the order asked
/// (repeats repeated), the others skipped, as Redis does.
pub fn command_docs(specs: &[&'static CommandSpec], names: &[Bytes], w: &mut ReplyWriter<'_>) {
    if names.is_empty() {
        w.map(specs.len());
        for s in specs {
            w.bulk(s.name.as_bytes());
            match all().get(s.name) {
                Some(docs) => write(w, docs),
                None => w.map(0),
            }
        }
        return;
    }
    let found: Vec<(&str, &Node)> = names.iter().filter_map(|n| lookup(n)).collect();
    w.map(found.len());
    for (name, docs) in found {
        w.bulk(name.as_bytes());
        write(w, docs);
    }
}
