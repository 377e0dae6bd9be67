//! Introspection commands compared with redis-server (issue 14): INFO commandstats /
//! errorstats / latencystats, SLOWLOG, LATENCY, MONITOR, CLIENT PAUSE / UNPAUSE / UNBLOCK /
//! REPLY / TRACKINGINFO / GETREDIR, DEBUG OBJECT / SET-ACTIVE-EXPIRE / ERROR.
//!
//! Timings differ between the servers, so replies holding durations or timestamps are parsed
//! and compared field by field; everything else byte for byte.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::redis_ref::Diff;
use crate::common::{info_fields, read_raw_line, read_raw_reply, RawConn};

/// One RESP2 reply, parsed (enough for these tests).
#[derive(Debug, Clone, PartialEq)]
enum Resp {
    Str(String),
    Int(i64),
    Err(String),
    Nil,
    Arr(Vec<Resp>),
}

fn parse(raw: &str) -> Resp {
    fn one(lines: &mut std::iter::Peekable<std::str::Split<'_, &str>>) -> Resp {
        let line = lines.next().expect("a line");
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Resp::Str(rest.to_string()),
            "-" => Resp::Err(rest.to_string()),
            ":" => Resp::Int(rest.parse().unwrap()),
            "$" => {
                if rest == "-1" {
                    Resp::Nil
                } else {
                    Resp::Str(lines.next().unwrap().to_string())
                }
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    Resp::Nil
                } else {
                    Resp::Arr((0..n).map(|_| one(lines)).collect())
                }
            }
            other => panic!("unexpected reply type {other:?} in {line:?}"),
        }
    }
    one(&mut raw.split("\r\n").peekable())
}

fn bulk_text(raw: &str) -> String {
    match parse(raw) {
        Resp::Str(s) => s,
        other => panic!("not a bulk string: {other:?}"),
    }
}

/// INFO's verbatim/bulk text, raw: the whole reply body.
fn info_body(raw: &str) -> String {
    raw.split_once("\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string()
}

/// INFO commandstats without the timing fields: name → "calls=..,rejected_calls=..,failed_calls=..".
fn commandstats(raw: &str) -> BTreeMap<String, String> {
    info_fields(&info_body(raw))
        .into_iter()
        .filter(|(k, _)| k.starts_with("cmdstat_"))
        .map(|(k, v)| {
            let kept: Vec<&str> = v.split(',').filter(|f| !f.starts_with("usec")).collect();
            (k, kept.join(","))
        })
        .collect()
}

fn section(raw: &str, prefix: &str) -> BTreeMap<String, String> {
    info_fields(&info_body(raw))
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .collect()
}

#[tokio::test]
async fn commandstats_and_errorstats_count_like_redis() {
    let mut d = Diff::start(false).await;
    d.same(&["CONFIG", "RESETSTAT"]).await;
    d.script(&[
        &["SET", "a", "b"],
        &["GET", "a"],
        &["CONFIG", "GET", "slowlog-max-len"],
        &["CLIENT", "GETNAME"],
    ])
    .await;
    for bad in [
        &["GET"][..],
        &["INCR", "a"],
        &["LPUSH", "a", "x"],
        &["NOSUCHCOMMAND", "x"],
        &["CONFIG", "NOSUCH"],
        &["DEBUG", "ERROR", "MYCODE something failed"],
        &["DEBUG", "ERROR", "NOSPACE"],
    ] {
        d.same_error(bad, true).await;
    }
    // A transaction: its commands counted when EXEC runs them, errors inside it included.
    d.script(&[
        &["MULTI"],
        &["SET", "s", "x"],
        &["LPUSH", "s", "y"],
        &["EXEC"],
        &["MULTI"],
        &["GET"],
        &["EXEC"],
    ])
    .await;
    let (f, r) = d.both(&["INFO", "commandstats"]).await;
    assert_eq!(commandstats(&f), commandstats(&r), "{f}\n{r}");
    assert!(commandstats(&f).contains_key("cmdstat_config|get"));
    let (f, r) = d.both(&["INFO", "errorstats"]).await;
    assert_eq!(section(&f, "errorstat_"), section(&r, "errorstat_"));
    let (f, r) = d.both(&["INFO", "stats"]).await;
    assert_eq!(
        section(&f, "total_error_replies"),
        section(&r, "total_error_replies")
    );
    // Every command with calls has latency percentiles, in Redis's format.
    let (f, _) = d.both(&["INFO", "latencystats"]).await;
    let lat = section(&f, "latency_percentiles_usec_");
    let get = &lat["latency_percentiles_usec_get"];
    let parts: Vec<&str> = get.split(',').collect();
    assert_eq!(parts.len(), 3, "{get}");
    assert!(parts[0].starts_with("p50=") && parts[2].starts_with("p99.9="));
    // RESETSTAT clears them, as in Redis.
    d.same(&["CONFIG", "RESETSTAT"]).await;
    let (f, r) = d.both(&["INFO", "errorstats"]).await;
    assert_eq!(section(&f, "errorstat_"), section(&r, "errorstat_"));
    assert!(section(&f, "errorstat_").is_empty());
    let (f, r) = d.both(&["INFO", "commandstats"]).await;
    assert_eq!(commandstats(&f), commandstats(&r));
    // INFO's section lists: default leaves the per-command ones out.
    let (f, _) = d.both(&["INFO"]).await;
    assert!(f.contains("# Errorstats") && !f.contains("# Commandstats"));
    let (f, _) = d.both(&["INFO", "all"]).await;
    assert!(f.contains("# Commandstats") && f.contains("# Latencystats"));
}

/// The arguments of each SLOWLOG GET entry, newest first, and its client name.
fn slowlog_args(raw: &str) -> Vec<(Vec<String>, String)> {
    let Resp::Arr(entries) = parse(raw) else {
        panic!("{raw}")
    };
    entries
        .into_iter()
        .map(|e| {
            let Resp::Arr(f) = e else { panic!() };
            assert_eq!(f.len(), 6);
            assert!(matches!(f[0], Resp::Int(_)) && matches!(f[1], Resp::Int(_)));
            let Resp::Arr(args) = &f[3] else { panic!() };
            let args = args
                .iter()
                .map(|a| match a {
                    Resp::Str(s) => s.clone(),
                    o => panic!("{o:?}"),
                })
                .collect();
            let Resp::Str(name) = &f[5] else { panic!() };
            (args, name.clone())
        })
        .collect()
}

#[tokio::test]
async fn slowlog_matches_redis() {
    let mut d = Diff::start(false).await;
    d.script(&[
        &["SLOWLOG", "RESET"],
        &["SLOWLOG", "LEN"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        &["CLIENT", "SETNAME", "tester"],
        &["SET", "k", "v"],
        &["GET", "k"],
    ])
    .await;
    // Redis's truncation: 32 arguments, 128 bytes each.
    let long = "x".repeat(200);
    let mut many = vec!["DEL"];
    let names: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    many.extend(names.iter().map(|s| s.as_str()));
    d.same(&many).await;
    d.same(&["SET", "big", &long]).await;
    // Credentials stay out of the log: a credential's CONFIG SET value, ACL SETUSER's user and
    // rules (refused here, where users are tokens: logged all the same).
    d.same(&["CONFIG", "SET", "masterauth", "secret"]).await;
    let _ = d.both(&["ACL", "SETUSER", "someone", "on", ">pw"]).await;
    let (f, r) = d.both(&["SLOWLOG", "GET", "-1"]).await;
    assert_eq!(slowlog_args(&f), slowlog_args(&r), "{f}\n{r}");
    let (f, r) = d.both(&["SLOWLOG", "GET", "2"]).await;
    assert_eq!(slowlog_args(&f), slowlog_args(&r));
    assert_eq!(slowlog_args(&f).len(), 2);
    d.same(&["SLOWLOG", "GET", "0"]).await;
    d.same(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"])
        .await;
    d.same(&["SLOWLOG", "RESET"]).await;
    d.same(&["SLOWLOG", "LEN"]).await;
    // Max length trims the oldest.
    d.script(&[
        &["CONFIG", "SET", "slowlog-max-len", "2"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        &["PING"],
        &["ECHO", "x"],
        &["SLOWLOG", "LEN"],
    ])
    .await;
    for bad in [
        &["SLOWLOG", "GET", "x"][..],
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "LEN", "x"],
        &["SLOWLOG", "RESET", "x"],
        &["SLOWLOG", "NOSUCH"],
    ] {
        d.same_error(bad, true).await;
    }
    d.same(&["SLOWLOG", "HELP"]).await;
}

#[tokio::test]
async fn latency_monitor_matches_redis() {
    let mut d = Diff::start(false).await;
    d.script(&[
        &["LATENCY", "LATEST"],
        &["LATENCY", "HISTORY", "command"],
        &["LATENCY", "RESET"],
        &["CONFIG", "SET", "latency-monitor-threshold", "15"],
        &["DEBUG", "SLEEP", "0.05"],
    ])
    .await;
    // Only the sleep is sure to pass the threshold (on a loaded machine another command may
    // too, on either server): look for its sample rather than count them.
    for raw in [
        d.both(&["LATENCY", "LATEST"]).await.0,
        d.both(&["LATENCY", "LATEST"]).await.1,
    ] {
        let Resp::Arr(events) = parse(&raw) else {
            panic!()
        };
        let command = events
            .iter()
            .find_map(|e| match e {
                Resp::Arr(e) if e[0] == Resp::Str("command".into()) => Some(e.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no command event: {raw}"));
        assert!(matches!(command[3], Resp::Int(ms) if ms >= 50), "{raw}");
    }
    let (f, r) = d.both(&["LATENCY", "HISTORY", "command"]).await;
    for raw in [&f, &r] {
        let Resp::Arr(samples) = parse(raw) else {
            panic!()
        };
        assert!(!samples.is_empty(), "{raw}");
    }
    let (f, _) = d.both(&["LATENCY", "GRAPH", "command"]).await;
    assert!(bulk_text(&f).starts_with("command - high"), "{f}");
    d.same(&["CONFIG", "SET", "latency-monitor-threshold", "0"])
        .await;
    // How many events each reset depends on what else was slow there.
    d.both(&["LATENCY", "RESET"]).await;
    d.same(&["LATENCY", "LATEST"]).await;
    for bad in [
        &["LATENCY", "GRAPH", "command"][..],
        &["LATENCY", "HISTORY"],
        &["LATENCY", "LATEST", "x"],
        &["LATENCY", "NOSUCH"],
    ] {
        d.same_error(bad, true).await;
    }
    d.same(&["LATENCY", "HELP"]).await;
    // HISTOGRAM: per command, its calls and a cumulative distribution.
    d.same(&["CONFIG", "RESETSTAT"]).await;
    d.same(&["SET", "h", "1"]).await;
    let (f, r) = d.both(&["LATENCY", "HISTOGRAM", "set", "nosuch"]).await;
    for raw in [&f, &r] {
        let Resp::Arr(m) = parse(raw) else { panic!() };
        assert_eq!(m[0], Resp::Str("set".into()), "{raw}");
        let Resp::Arr(h) = &m[1] else { panic!() };
        assert_eq!(h[0], Resp::Str("calls".into()));
        assert_eq!(h[1], Resp::Int(1));
        assert_eq!(h[2], Resp::Str("histogram_usec".into()));
    }
}

#[tokio::test]
async fn client_subcommands_match_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["CLIENT", "GETREDIR"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "UNBLOCK", "999999"],
            &["CLIENT", "UNPAUSE"],
            &["CLIENT", "PAUSE", "10", "WRITE"],
            &["CLIENT", "UNPAUSE"],
        ])
        .await;
        for bad in [
            &["CLIENT", "PAUSE"][..],
            &["CLIENT", "PAUSE", "abc"],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "PAUSE", "10", "foo"],
            &["CLIENT", "UNPAUSE", "x"],
            &["CLIENT", "UNBLOCK", "abc"],
            &["CLIENT", "UNBLOCK", "1", "foo"],
            &["CLIENT", "UNBLOCK", "1", "timeout", "x"],
            &["CLIENT", "REPLY"],
            &["CLIENT", "REPLY", "maybe"],
        ] {
            d.same_error(bad, true).await;
        }
    }
}

/// Nothing arrives on `c` for a while.
async fn silent(c: &mut RawConn, what: &str) {
    let got = tokio::time::timeout(Duration::from_millis(300), c.read_n(1)).await;
    assert!(
        got.is_err() || got.as_ref().is_ok_and(|b| b.is_empty()),
        "{what}: {got:?}"
    );
}

#[tokio::test]
async fn client_pause_holds_writes_until_unpause() {
    let mut d = Diff::start(false).await;
    let mut writer = d.another().await;
    d.same(&["SET", "k", "before"]).await;
    d.same(&["CLIENT", "PAUSE", "20000", "WRITE"]).await;
    // Reads go through; a write (and a PUBLISH) waits.
    writer.same(&["GET", "k"]).await;
    writer.send(&["SET", "k", "after"]).await;
    silent(
        &mut writer.ferrite,
        "ferrite answered a write during a pause",
    )
    .await;
    silent(&mut writer.redis, "redis answered a write during a pause").await;
    d.same(&["GET", "k"]).await;
    d.same(&["CLIENT", "UNPAUSE"]).await;
    writer.next_same("the held SET").await;
    d.same(&["GET", "k"]).await;
    // A pause ends by itself at its deadline.
    d.same(&["CLIENT", "PAUSE", "300", "ALL"]).await;
    writer.send(&["GET", "k"]).await;
    writer.next_same("the GET held until the deadline").await;
}

#[tokio::test]
async fn client_unblock_ends_a_blocking_command_like_redis() {
    let mut d = Diff::start(false).await;
    for how in ["TIMEOUT", "ERROR"] {
        let mut blocked = d.another().await;
        blocked.ferrite.cmd(&["CLIENT", "ID"]).await;
        let fid = read_raw_line(&mut blocked.ferrite).await[1..].to_string();
        blocked.redis.cmd(&["CLIENT", "ID"]).await;
        let rid = read_raw_line(&mut blocked.redis).await[1..].to_string();
        blocked.send(&["BLPOP", "nosuchlist", "0"]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        d.ferrite.cmd(&["CLIENT", "UNBLOCK", &fid, how]).await;
        d.redis.cmd(&["CLIENT", "UNBLOCK", &rid, how]).await;
        let f = read_raw_reply(&mut d.ferrite).await;
        let r = read_raw_reply(&mut d.redis).await;
        assert_eq!(f, r);
        assert_eq!(f, ":1\r\n");
        blocked.next_same(how).await;
        // Not blocked any more: 0.
        d.ferrite.cmd(&["CLIENT", "UNBLOCK", &fid]).await;
        assert_eq!(read_raw_reply(&mut d.ferrite).await, ":0\r\n");
    }
    let (f, r) = d.both(&["INFO", "errorstats"]).await;
    assert_eq!(section(&f, "errorstat_"), section(&r, "errorstat_"));
}

#[tokio::test]
async fn client_reply_off_and_skip_match_redis() {
    let mut d = Diff::start(false).await;
    let pipeline: &[&[&str]] = &[
        &["CLIENT", "REPLY", "OFF"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["NOSUCH"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "a"],
        &["INCR", "a"],
        &["CLIENT", "REPLY", "OFF"],
        &["CLIENT", "REPLY", "SKIP"],
        &["RESET"],
        &["GET", "a"],
    ];
    for c in pipeline {
        d.ferrite.cmd(c).await;
        d.redis.cmd(c).await;
    }
    // ON's OK, GET a, INCR a (after the skipped GET), RESET's RESET, GET a.
    for what in ["ON", "GET", "INCR", "RESET", "GET after RESET"] {
        let f = read_raw_reply(&mut d.ferrite).await;
        let r = read_raw_reply(&mut d.redis).await;
        assert_eq!(f, r, "{what}");
    }
    silent(&mut d.ferrite, "ferrite sent a reply that was off").await;
}

/// RESP3 pushes are not replies: SUBSCRIBE's confirmations, and the messages, arrive with
/// CLIENT REPLY OFF (Redis's TCL unit "PubSub messages with CLIENT REPLY OFF").
#[tokio::test]
async fn pushes_pass_client_reply_off_as_in_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let mut other = d.another().await;
        for c in [&["CLIENT", "REPLY", "OFF"][..], &["SUBSCRIBE", "channel"]] {
            d.ferrite.cmd(c).await;
            d.redis.cmd(c).await;
        }
        let f = read_raw_reply(&mut d.ferrite).await;
        let r = read_raw_reply(&mut d.redis).await;
        assert_eq!(f, r, "the subscribe confirmation");
        other.same(&["PUBLISH", "channel", "hello"]).await;
        let f = read_raw_reply(&mut d.ferrite).await;
        let r = read_raw_reply(&mut d.redis).await;
        assert_eq!(f, r, "the message");
    }
}

/// A MONITOR line without its timestamp and client address: `[db] "arg" ...`.
fn monitor_text(line: &str) -> String {
    let (_, rest) = line.split_once(" [").expect("a monitor line");
    let (db_addr, args) = rest.split_once("] ").unwrap();
    format!("[{}] {args}", db_addr.split(' ').next().unwrap())
}

#[tokio::test]
async fn monitor_shows_commands_like_redis() {
    let mut d = Diff::start(false).await;
    let mut other = d.another().await;
    d.same(&["MONITOR"]).await;
    other
        .same(&["SET", "k", "tab\there \"quoted\" \\ \u{1}"])
        .await;
    other.same(&["GET", "k"]).await;
    other.same(&["SELECT", "2"]).await;
    other.same(&["EXISTS", "k"]).await;
    // Admin commands are not shown (Redis leaves them out too).
    other.same(&["CONFIG", "GET", "slowlog-max-len"]).await;
    other.same(&["PING"]).await;
    for what in ["SET", "GET", "SELECT", "EXISTS", "PING"] {
        let f = read_raw_line(&mut d.ferrite).await;
        let r = read_raw_line(&mut d.redis).await;
        assert_eq!(monitor_text(&f), monitor_text(&r), "{what}: {f} / {r}");
        assert!(f.starts_with('+'), "{f}");
    }
    // A monitoring connection may not touch the keyspace.
    d.same_error(&["GET", "k"], true).await;
    d.same(&["RESET"]).await;
    other.same(&["PING"]).await;
    silent(&mut d.ferrite, "RESET left monitor mode").await;
}

/// A script's commands are shown after the EVAL (FCALL) that runs them, as client `lua`.
#[tokio::test]
async fn monitor_shows_script_commands_like_redis() {
    let mut d = Diff::start(false).await;
    let mut other = d.another().await;
    d.same(&["MONITOR"]).await;
    let script = "redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])";
    other.same(&["EVAL", script, "1", "mk"]).await;
    other
        .same(&["FUNCTION", "LOAD", "#!lua name=m\nredis.register_function('f', function(k) return redis.call('exists', k[1]) end)"])
        .await;
    other.same(&["FCALL", "f", "1", "mk"]).await;
    for what in ["EVAL", "SET", "GET", "FUNCTION", "FCALL", "EXISTS"] {
        let f = read_raw_line(&mut d.ferrite).await;
        let r = read_raw_line(&mut d.redis).await;
        assert_eq!(monitor_text(&f), monitor_text(&r), "{what}: {f} / {r}");
        assert!(
            f.contains(if matches!(what, "SET" | "GET" | "EXISTS") {
                "[0 lua]"
            } else {
                "[0 127.0.0.1:"
            }),
            "{what}: {f}"
        );
    }
}

#[tokio::test]
async fn debug_subcommands_match_redis() {
    let mut d = Diff::start(false).await;
    d.script(&[
        &["SET", "int", "12345"],
        &["SET", "str", "hello world"],
        &["RPUSH", "list", "a", "b", "c"],
        &["HSET", "hash", "f", "v"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    ])
    .await;
    for key in ["int", "str", "list", "hash"] {
        let (f, r) = d.both(&["DEBUG", "OBJECT", key]).await;
        let fields = |s: &str| -> Vec<String> {
            s.split(' ')
                .filter(|f| f.starts_with("encoding:") || f.starts_with("serializedlength:"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(fields(&f), fields(&r), "{key}: {f} / {r}");
        assert_eq!(fields(&f).len(), 2, "{f}");
    }
    d.same_error(&["DEBUG", "OBJECT", "nosuch"], true).await;
    d.same_error(&["DEBUG", "ERROR", "CUSTOM failure"], true)
        .await;
}

#[tokio::test]
async fn command_getkeysandflags_matches_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        for c in [
            &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"][..],
            &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "GET"],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "bitfield",
                "k",
                "GET",
                "u8",
                "0",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "bitfield",
                "k",
                "SET",
                "u8",
                "0",
                "1",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "lmove",
                "a",
                "b",
                "left",
                "right",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "sort",
                "k",
                "by",
                "x",
                "store",
                "d",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "zunionstore",
                "d",
                "2",
                "a",
                "b",
            ],
            &["COMMAND", "GETKEYSANDFLAGS", "mset", "a", "1", "b", "2"],
            &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
        ] {
            d.same(c).await;
        }
        for bad in [
            &["COMMAND", "GETKEYSANDFLAGS"][..],
            &["COMMAND", "GETKEYSANDFLAGS", "get"],
            &["COMMAND", "GETKEYSANDFLAGS", "nosuch", "k"],
            &["COMMAND", "GETKEYSANDFLAGS", "ping"],
        ] {
            d.same_error(bad, true).await;
        }
    }
}

/// Every container command's HELP, as Redis 7.0 words it (each ends in "Prints this help.").
/// Ferrite's own additions to a help text are allowed only where Ferrite has more (CLIENT,
/// DEBUG): those are compared by their last two lines.
#[tokio::test]
async fn help_texts_match_redis() {
    let mut d = Diff::start(false).await;
    for c in [
        "config", "command", "object", "memory", "pubsub", "xinfo", "xgroup", "slowlog", "latency",
        "acl", "function",
    ] {
        d.same(&[c, "HELP"]).await;
    }
    for c in ["client"] {
        let (f, r) = d.both(&[c, "HELP"]).await;
        let tail = |s: &str| {
            s.lines()
                .rev()
                .take(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(tail(&f), tail(&r), "{c} HELP");
    }
}

/// COMMAND INFO of every subcommand both servers list (`config|get`), byte for byte, and the
/// RESP3 types of a container's entry (key specs and subcommands are sets, as Redis sends).
#[tokio::test]
async fn command_info_of_subcommands_matches_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let (f, r) = d.both(&["COMMAND", "LIST"]).await;
        let names = |raw: &str| -> Vec<String> {
            raw.split("\r\n")
                .filter(|l| l.contains('|'))
                .map(str::to_string)
                .collect()
        };
        let redis_subs = names(&r);
        let shared: Vec<String> = names(&f)
            .into_iter()
            .filter(|n| redis_subs.contains(n))
            .collect();
        assert!(shared.len() > 60, "{}", shared.len());
        for n in &shared {
            d.same(&["COMMAND", "INFO", n]).await;
            d.same(&["COMMAND", "INFO", &n.to_uppercase()]).await;
        }
        d.same(&[
            "COMMAND",
            "INFO",
            "config|nosuch",
            "nosuch|get",
            "config|get|x",
        ])
        .await;
        if resp3 {
            // get: no subcommands, one key spec; both as sets.
            let (f, r) = d.both(&["COMMAND", "INFO", "get"]).await;
            assert_eq!(f, r);
        }
    }
}

/// DEBUG DIGEST-VALUE gives Redis's digest of each type (and of a missing key), and DEBUG
/// PROTOCOL each RESP3 type downgraded or not, byte for byte.
#[tokio::test]
async fn debug_digest_value_and_protocol_match_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["SET", "s", "hello"],
            &["SET", "n", "12345"],
            &["RPUSH", "l", "a", "b", "c"],
            &["SADD", "st", "x", "y", "z"],
            &["SADD", "ints", "1", "2", "3"],
            &["ZADD", "z", "1", "a", "2.5", "b", "0.1", "c"],
            &["HSET", "h", "f1", "v1", "f2", "v2"],
            &["SET", "e", "v", "EX", "100"],
            &["XADD", "x", "1-1", "a", "1", "b", "2"],
            &[
                "DEBUG",
                "DIGEST-VALUE",
                "s",
                "n",
                "l",
                "st",
                "ints",
                "z",
                "h",
                "e",
                "x",
                "nosuch",
            ],
            &["DEBUG", "DIGEST-VALUE"],
            &["DEBUG", "PROTOCOL", "string"],
            &["DEBUG", "PROTOCOL", "integer"],
            &["DEBUG", "PROTOCOL", "double"],
            &["DEBUG", "PROTOCOL", "bignum"],
            &["DEBUG", "PROTOCOL", "null"],
            &["DEBUG", "PROTOCOL", "array"],
            &["DEBUG", "PROTOCOL", "set"],
            &["DEBUG", "PROTOCOL", "map"],
            &["DEBUG", "PROTOCOL", "true"],
            &["DEBUG", "PROTOCOL", "false"],
            &["DEBUG", "PROTOCOL", "verbatim"],
            &["DEBUG", "PROTOCOL", "nosuch"],
        ])
        .await;
    }
}

/// CLIENT INFO / CLIENT LIST of the calling client: the fields that do not depend on the server
/// (addresses, ids, ages and buffer capacities aside) are Redis's: `cmd` names the subcommand in
/// full, `qbuf` is the request being run, no reply memory is pending.
#[tokio::test]
async fn client_info_fields_match_redis() {
    let mut d = Diff::start(false).await;
    let fields = |line: &str| -> BTreeMap<String, String> {
        line.trim()
            .split(' ')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| {
                [
                    "flags",
                    "db",
                    "sub",
                    "psub",
                    "multi",
                    "qbuf",
                    "omem",
                    "obl",
                    "oll",
                    "cmd",
                    "user",
                    "redir",
                    "resp",
                    "argv-mem",
                    "multi-mem",
                    "events",
                ]
                .contains(k)
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let (f, r) = d.both(&["CLIENT", "INFO"]).await;
    assert_eq!(fields(&f), fields(&r), "CLIENT INFO:\n{f}\n{r}");
    d.same(&["SET", "k", "v"]).await;
    let (f, r) = d.both(&["CLIENT", "LIST"]).await;
    assert_eq!(fields(&f), fields(&r), "CLIENT LIST:\n{f}\n{r}");
}

/// A client CLIENT PAUSE holds counts in INFO's `blocked_clients`, as in Redis (its TCL pause
/// unit waits for that count).
#[tokio::test]
async fn paused_clients_count_as_blocked_like_redis() {
    let mut d = Diff::start(false).await;
    let mut held = d.another().await;
    d.same(&["CLIENT", "PAUSE", "10000", "WRITE"]).await;
    held.send(&["SET", "k", "v"]).await;
    let count = |text: &str| crate::common::info_fields(text)["blocked_clients"].clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (f, r) = d.both(&["INFO", "clients"]).await;
        if count(&f) == "1" && count(&r) == "1" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{f}\n{r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Not held by a WRITE pause: reads, read-only scripts, commands of the wrong arity.
    let mut reader = d.another().await;
    reader.same(&["GET", "k"]).await;
    reader
        .same(&["EVAL", "#!lua flags=no-writes\nreturn 'ro'", "0"])
        .await;
    reader.same(&["SET", "k"]).await;
    d.same(&["CLIENT", "UNPAUSE"]).await;
    held.next_same("the held SET").await;
    let (f, r) = d.both(&["INFO", "clients"]).await;
    assert_eq!((count(&f), count(&r)), ("0".to_string(), "0".to_string()));
}
