//! ACL beside redis-server 7.0 with auth off (Ferrite's mode `none` is Redis's `default` user,
//! byte for byte), Redis 7.0's categories (ACL CAT, COMMAND INFO, COMMAND LIST FILTERBY ACLCAT),
//! and in auth mode `token` what has no Redis counterpart: a token describes only itself, and
//! the ACL LOG records its denials for super-users only (src/resp/commands/acl.rs).

use std::collections::BTreeSet;

use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector, TopicGrant, TopicRole};
use redis::Value;

use crate::common::redis_ref::Diff;
use crate::common::tokens::TokenServer;
use crate::common::{q, RawConn};

#[tokio::test]
async fn acl_matches_redis_with_auth_off() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["ACL", "WHOAMI"],
            &["ACL", "USERS"],
            &["ACL", "LIST"],
            &["ACL", "GETUSER", "default"],
            &["ACL", "GETUSER", "nosuch"],
            &["ACL", "HELP"],
            &["ACL", "CAT"],
            &["ACL", "CAT", "nosuch"],
            &["ACL", "CAT", "@read"],
            &["ACL", "CAT", "a", "b"],
            &["ACL", "LOG"],
            &["ACL", "LOG", "5"],
            &["ACL", "LOG", "-1"],
            &["ACL", "LOG", "x"],
            &["ACL", "LOG", "RESET"],
            &["ACL", "LOG", "1", "2"],
            &["ACL", "GENPASS", "0"],
            &["ACL", "GENPASS", "4097"],
            &["ACL", "GENPASS", "x"],
            &["ACL", "GENPASS", "1", "2"],
            &["ACL", "DRYRUN", "default", "get", "k"],
            &["ACL", "DRYRUN", "default", "set", "k", "v"],
            &["ACL", "DRYRUN", "nosuch", "get", "k"],
            &["ACL", "DRYRUN", "default", "nosuchcmd", "k"],
            &["ACL", "DRYRUN", "default", "get"],
            &["ACL", "DRYRUN", "default", "config"],
            &["ACL", "DRYRUN", "default", "config", "nosuch"],
            &["ACL", "DRYRUN", "default", "config", "get", "x"],
            // arity of the command and of its subcommands, unknown subcommands
            &["ACL"],
            &["ACL", "nosuch"],
            &["ACL", "WHOAMI", "x"],
            &["ACL", "USERS", "x"],
            &["ACL", "LIST", "x"],
            &["ACL", "GETUSER"],
            &["ACL", "HELP", "x"],
            &["ACL", "DRYRUN", "default"],
            &["ACL", "SETUSER"],
            &["ACL", "DELUSER"],
            &["ACL", "LOAD", "x"],
            &["ACL", "SAVE", "x"],
            &["CONFIG", "GET", "acllog-max-len"],
            &["CONFIG", "SET", "acllog-max-len", "-1"],
            &["CONFIG", "SET", "acllog-max-len", "x"],
            &["CONFIG", "SET", "acllog-max-len", "5"],
            &["CONFIG", "GET", "acllog-max-len"],
            // inside MULTI
            &["MULTI"],
            &["ACL", "WHOAMI"],
            &["ACL", "LIST"],
            &["EXEC"],
        ])
        .await;
        // GENPASS: random hex, one character per 4 bits rounded up.
        for (bits, len) in [
            (None, 64),
            (Some("1"), 1),
            (Some("5"), 2),
            (Some("4096"), 1024),
        ] {
            let mut cmd = vec!["ACL", "GENPASS"];
            cmd.extend(bits);
            let (f, r) = d.both(&cmd).await;
            for reply in [&f, &r] {
                let body = reply.split("\r\n").nth(1).unwrap();
                assert_eq!(body.len(), len, "{cmd:?}: {reply:?}");
                assert!(body.bytes().all(|b| b.is_ascii_hexdigit()), "{reply:?}");
            }
        }
        let (a, _) = d.both(&["ACL", "GENPASS"]).await;
        let (b, _) = d.both(&["ACL", "GENPASS"]).await;
        assert_ne!(a, b, "GENPASS repeats itself");
    }
}

/// Refused, pointing to tokens (Redis would change its users; Ferrite's users are tokens).
#[tokio::test]
async fn user_changes_are_refused_with_a_pointer_to_tokens() {
    let mut d = Diff::start(false).await;
    for cmd in [
        &["ACL", "SETUSER", "alice", "on", ">pw"][..],
        &["ACL", "DELUSER", "alice"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE"],
    ] {
        d.ferrite.cmd(cmd).await;
        let r = crate::common::read_raw_reply(&mut d.ferrite).await;
        assert!(
            r.starts_with(&format!("-ERR ACL {} is not supported", cmd[1])) && r.contains("token"),
            "{cmd:?}: {r:?}"
        );
    }
    // Nothing changed: still only the default user.
    d.same(&["ACL", "USERS"]).await;
}

/// The names in `reply` (an array of bulk strings), as a set.
fn names(reply: &str) -> BTreeSet<String> {
    reply
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty() && !l.starts_with('$'))
        .map(String::from)
        .collect()
}

/// ACL CAT <category> and COMMAND LIST FILTERBY ACLCAT list what redis-server lists, for every
/// command and subcommand both have (Redis's order is its hash table's: compared as sets), and
/// COMMAND INFO gives every command Redis's categories in Redis's order.
#[tokio::test]
async fn categories_match_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        let cats = d.same(&["ACL", "CAT"]).await;
        let cats: Vec<String> = names(&cats).into_iter().collect();
        assert_eq!(cats.len(), 21);
        let mut ferrite = Vec::new();
        let mut redis = Vec::new();
        for c in &cats {
            let (f, r) = d.both(&["ACL", "CAT", c]).await;
            ferrite.push(names(&f));
            redis.push(names(&r));
            // COMMAND LIST FILTERBY ACLCAT answers the same as ACL CAT.
            let (lf, lr) = d.both(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", c]).await;
            assert_eq!(names(&lf), *ferrite.last().unwrap(), "{c}");
            assert_eq!(names(&lr), *redis.last().unwrap(), "{c}");
        }
        // Every command and subcommand is in some category (at least @fast or @slow).
        let known_here: BTreeSet<&String> = ferrite.iter().flatten().collect();
        let known_there: BTreeSet<&String> = redis.iter().flatten().collect();
        for (i, c) in cats.iter().enumerate() {
            let here: BTreeSet<&String> = ferrite[i]
                .iter()
                .filter(|n| known_there.contains(n))
                .collect();
            let there: BTreeSet<&String> =
                redis[i].iter().filter(|n| known_here.contains(n)).collect();
            assert_eq!(here, there, "ACL CAT {c}");
        }
        // Ferrite's own: FERRITE.*, TSUBSCRIBE/TUNSUBSCRIBE and Redis 7.2's CLIENT subcommands.
        let own: Vec<&&String> = known_here
            .iter()
            .filter(|n| !known_there.contains(*n))
            .collect();
        assert!(
            own.iter().all(|n| n.starts_with("ferrite.")
                || n.starts_with("tsub")
                || n.starts_with("tunsub")
                || ["client|setinfo", "client|no-touch"].contains(&n.as_str())),
            "{own:?}"
        );
        // COMMAND INFO: the categories (the 7th field) of every top-level command both have.
        for name in known_here.iter().filter(|n| !n.contains('|')) {
            if !known_there.contains(name) {
                continue;
            }
            let (f, r) = d.both(&["COMMAND", "INFO", name]).await;
            assert_eq!(categories_of(&f), categories_of(&r), "COMMAND INFO {name}");
        }
    }
}

/// The command's own categories in a COMMAND INFO reply (the first run of `@...` lines; those
/// of its subcommands, which Redis lists after, are not compared).
fn categories_of(reply: &str) -> Vec<&str> {
    reply
        .split("\r\n")
        .skip_while(|l| !l.starts_with("+@"))
        .take_while(|l| l.starts_with("+@"))
        .collect()
}

/// Every subcommand ACL CAT lists is one Ferrite implements (its answer is not "unknown
/// subcommand").
#[tokio::test]
async fn listed_subcommands_exist() {
    let d = Diff::start(false).await;
    let mut c = d.ferrite;
    c.cmd(&["ACL", "CAT", "slow"]).await;
    let slow = names(&crate::common::read_raw_reply(&mut c).await);
    c.cmd(&["ACL", "CAT", "connection"]).await;
    let conn = names(&crate::common::read_raw_reply(&mut c).await);
    let subs: Vec<&String> = slow
        .iter()
        .chain(&conn)
        .filter(|n| n.contains('|'))
        .collect();
    assert!(subs.len() > 50, "{subs:?}");
    for s in subs {
        let (cmd, sub) = s.split_once('|').unwrap();
        if (cmd, sub) == ("client", "kill") || (cmd, sub) == ("config", "set") {
            continue; // need arguments, checked by their own tests
        }
        c.cmd(&[cmd, sub]).await;
        let r = crate::common::read_raw_reply(&mut c).await;
        assert!(!r.contains("unknown subcommand '"), "{s}: {r:?}");
    }
}

// ---------------------------------------------------------------------------
// Auth mode `token`
// ---------------------------------------------------------------------------

const APP: &str = "app";

/// Read-write on keys `user:42:*` and subscribe on topics `user:42:*`, in cache `app`.
fn scoped() -> Permissions {
    Permissions::Explicit {
        caches: vec![CacheGrant {
            role: CacheRole::ReadWrite,
            cache: Some(APP.into()),
            items: Selector::Prefix("user:42:".into()),
        }],
        topics: vec![TopicGrant {
            role: TopicRole::SubscribeOnly,
            cache: Some(APP.into()),
            topics: Selector::Prefix("user:42:".into()),
        }],
    }
}

async fn authed(s: &TokenServer, token: &str) -> redis::aio::MultiplexedConnection {
    let mut c = s.srv.client().await;
    let ok: String = q(&mut c, &["AUTH", APP, token]).await.unwrap();
    assert_eq!(ok, "OK");
    c
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        Value::Array(a) | Value::Set(a) => {
            format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(","))
        }
        other => format!("{other:?}"),
    }
}

/// GETUSER's map as (field, value-as-text) pairs.
fn fields(v: &Value) -> Vec<(String, String)> {
    let items = match v {
        Value::Array(a) => a.clone(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        other => panic!("not a map: {other:?}"),
    };
    items
        .chunks(2)
        .map(|kv| (text(&kv[0]), text(&kv[1])))
        .collect()
}

#[tokio::test]
async fn a_token_describes_only_itself() {
    let s = TokenServer::start(&[APP]).await;
    let su = s.mint("admin", Permissions::SuperUser);
    let mine = s.mint("user-42", scoped());
    let theirs = s.mint("user-7", Permissions::SuperUser);
    // Another token is connected: nobody may learn of it.
    let _other = authed(&s, &theirs).await;
    let mut c = authed(&s, &mine).await;
    let who: String = q(&mut c, &["ACL", "WHOAMI"]).await.unwrap();
    assert_eq!(who, "user-42");
    let users: Vec<String> = q(&mut c, &["ACL", "USERS"]).await.unwrap();
    assert_eq!(users, ["user-42"]);
    let list: Vec<String> = q(&mut c, &["ACL", "LIST"]).await.unwrap();
    assert_eq!(list.len(), 1);
    let line = &list[0];
    assert!(
        line.starts_with("user user-42 on ~user:42:* resetchannels &user:42:* +@all -@admin "),
        "{line}"
    );
    // Super-user only commands, keyspace-wide ones, and publishing (subscribe-only topics).
    for rule in [
        "-info",
        "-flushall",
        "-keys",
        "-scan",
        "-function|flush",
        "-publish",
        "-psubscribe",
    ] {
        assert!(line.split(' ').any(|r| r == rule), "{rule}: {line}");
    }
    for rule in ["+acl|getuser", "+acl|list", "+lastsave"] {
        assert!(line.split(' ').any(|r| r == rule), "{rule}: {line}");
    }
    assert!(
        !line.contains("user-7") && !line.contains("user admin"),
        "{line}"
    );
    let me: Value = q(&mut c, &["ACL", "GETUSER", "user-42"]).await.unwrap();
    let f = fields(&me);
    let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("keys").as_deref(), Some("~user:42:*"));
    assert_eq!(get("channels").as_deref(), Some("&user:42:*"));
    assert!(get("commands").unwrap().starts_with("+@all -@admin"));
    assert_eq!(get("flags").as_deref(), Some("[on]"));
    assert_eq!(get("passwords").as_deref(), Some("[]"));
    assert_eq!(get("selectors").as_deref(), Some("[]"));
    // Other tokens (connected or not) and Redis's default user do not exist for it.
    for other in ["user-7", "admin", "default"] {
        let v: Value = q(&mut c, &["ACL", "GETUSER", other]).await.unwrap();
        assert_eq!(v, Value::Nil, "{other}");
        let e = q::<Value>(&mut c, &["ACL", "DRYRUN", other, "get", "x"])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
    }
    // DRYRUN of itself: the check the command would get, without running it.
    let ok: String = q(
        &mut c,
        &["ACL", "DRYRUN", "user-42", "SET", "user:42:a", "v"],
    )
    .await
    .unwrap();
    assert_eq!(ok, "OK");
    let no: String = q(&mut c, &["ACL", "DRYRUN", "user-42", "GET", "secret"])
        .await
        .unwrap();
    assert!(no.contains("no read permission on key 'secret'"), "{no}");
    let unset: Option<String> = q(&mut c, &["GET", "user:42:a"]).await.unwrap();
    assert_eq!(unset, None, "DRYRUN ran the command");
    // A super-user is its token id, with every permission; it does not see the others either.
    let mut a = authed(&s, &su).await;
    let list: Vec<String> = q(&mut a, &["ACL", "LIST"]).await.unwrap();
    assert_eq!(list, ["user admin on ~* &* +@all"]);
    let users: Vec<String> = q(&mut a, &["ACL", "USERS"]).await.unwrap();
    assert_eq!(users, ["admin"]);
    let v: Value = q(&mut a, &["ACL", "GETUSER", "user-42"]).await.unwrap();
    assert_eq!(v, Value::Nil);
    // Before AUTH: NOAUTH, as every command.
    let mut raw = RawConn::connect(s.srv.addr).await;
    raw.roundtrip(&["ACL", "WHOAMI"], b"-NOAUTH Authentication required.\r\n")
        .await;
}

/// One ACL LOG entry as its fields.
fn entry(v: &Value) -> Vec<(String, String)> {
    fields(v)
}

fn field<'a>(e: &'a [(String, String)], k: &str) -> &'a str {
    &e.iter().find(|(n, _)| n == k).expect(k).1
}

#[tokio::test]
async fn acl_log_records_denials_for_super_users_only() {
    let s = TokenServer::start(&[APP]).await;
    let su = s.mint("admin", Permissions::SuperUser);
    let mine = s.mint("user-42", scoped());
    let shared = &s.srv.running.shared;
    let mut c = authed(&s, &mine).await;
    // Denied: a key outside the scope (twice: one entry, count 2), a channel, a keyspace-wide
    // command, a super-user subcommand, a key inside MULTI.
    for _ in 0..2 {
        let e = q::<Value>(&mut c, &["GET", "secret"]).await.unwrap_err();
        assert_eq!(e.code(), Some("NOPERM"), "{e}");
    }
    q::<Value>(&mut c, &["PUBLISH", "user:42:x", "m"])
        .await
        .unwrap_err();
    q::<Value>(&mut c, &["KEYS", "*"]).await.unwrap_err();
    // The log itself is super-user only (Redis: ACL LOG is @admin @dangerous).
    let e = q::<Value>(&mut c, &["ACL", "LOG"]).await.unwrap_err();
    assert_eq!(e.code(), Some("NOPERM"), "{e}");
    assert!(
        e.to_string()
            .contains("'acl|log' requires a super-user token"),
        "{e}"
    );
    q::<Value>(&mut c, &["ACL", "LOG", "RESET"])
        .await
        .unwrap_err();
    let mut raw = RawConn::connect(s.srv.addr).await;
    raw.cmd(&["AUTH", APP, &mine]).await;
    raw.expect(b"+OK\r\n").await;
    raw.roundtrip(&["MULTI"], b"+OK\r\n").await;
    raw.cmd(&["SET", "other", "v"]).await;
    let r = crate::common::read_raw_reply(&mut raw).await;
    assert!(r.starts_with("-NOPERM"), "{r}");
    raw.roundtrip(&["DISCARD"], b"+OK\r\n").await;
    // A failed AUTH: logged under the username the client gave (the cache slot).
    raw.cmd(&["AUTH", APP, "not-a-token"]).await;
    let r = crate::common::read_raw_reply(&mut raw).await;
    assert!(r.starts_with("-WRONGPASS"), "{r}");
    assert!(
        shared.stats.acl_log_memory() > 0,
        "the log's memory is counted"
    );

    let mut a = authed(&s, &su).await;
    let log: Vec<Value> = q(&mut a, &["ACL", "LOG"]).await.unwrap();
    let log: Vec<Vec<(String, String)>> = log.iter().map(entry).collect();
    let keys: Vec<&str> = log[0].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info"
        ]
    );
    // Newest first.
    let summary: Vec<(&str, &str, &str, &str, &str)> = log
        .iter()
        .map(|e| {
            (
                field(e, "count"),
                field(e, "reason"),
                field(e, "context"),
                field(e, "object"),
                field(e, "username"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("1", "auth", "toplevel", "AUTH", APP),
            ("1", "key", "multi", "other", "user-42"),
            ("2", "command", "toplevel", "acl|log", "user-42"),
            ("1", "command", "toplevel", "keys", "user-42"),
            ("1", "channel", "toplevel", "user:42:x", "user-42"),
            ("2", "key", "toplevel", "secret", "user-42"),
        ]
    );
    assert!(
        field(&log[5], "client-info").contains(" cmd=get "),
        "{log:?}"
    );
    let age: f64 = field(&log[5], "age-seconds").parse().unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    let one: Vec<Value> = q(&mut a, &["ACL", "LOG", "1"]).await.unwrap();
    assert_eq!(one.len(), 1);
    // acllog-max-len bounds it (the oldest go at the next denial).
    let ok: String = q(&mut a, &["CONFIG", "SET", "acllog-max-len", "2"])
        .await
        .unwrap();
    assert_eq!(ok, "OK");
    q::<Value>(&mut c, &["GET", "another"]).await.unwrap_err();
    assert_eq!(shared.acl_log.len(), 2);
    let ok: String = q(&mut a, &["ACL", "LOG", "RESET"]).await.unwrap();
    assert_eq!(ok, "OK");
    let log: Vec<Value> = q(&mut a, &["ACL", "LOG"]).await.unwrap();
    assert!(log.is_empty());
    assert_eq!(
        shared.stats.acl_log_memory(),
        0,
        "RESET gives the memory back"
    );
}
