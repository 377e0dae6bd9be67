//! Scoped tokens against commands that used to read or change keys outside their scope, and
//! subscriptions or blocked commands that outlived their token (issue 12 finding 2).

use std::time::Duration;

use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector, TopicGrant, TopicRole};

use crate::common::tokens::TokenServer;
use crate::common::{try_read_line, RawConn};

const APP: &str = "app";
const OTHER: &str = "other";

/// The shared token-mode server, with `app` and `other` created.
struct AuthSrv(TokenServer);

async fn start() -> AuthSrv {
    AuthSrv(TokenServer::start(&[APP, OTHER]).await)
}

impl std::ops::Deref for AuthSrv {
    type Target = TokenServer;
    fn deref(&self) -> &TokenServer {
        &self.0
    }
}

impl AuthSrv {
    /// A connection authenticated into `cache` with `token` (RESP3 when `resp3`).
    async fn conn(&self, cache: &str, token: &str, resp3: bool) -> RawConn {
        let mut c = self.srv.raw().await;
        let proto = if resp3 { "3" } else { "2" };
        let r = call(&mut c, &["HELLO", proto, "AUTH", cache, token]).await;
        assert!(!matches!(r, R::Err(_)), "HELLO AUTH: {r:?}");
        c
    }
    async fn admin(&self) -> RawConn {
        let t = self.mint("admin", Permissions::SuperUser);
        self.conn(APP, &t, false).await
    }
}

fn cache(role: CacheRole, items: Selector) -> Permissions {
    Permissions::Explicit {
        caches: vec![CacheGrant {
            role,
            cache: Some(APP.into()),
            items,
        }],
        topics: vec![],
    }
}

fn topics(cache: Option<&str>, items: Selector) -> Permissions {
    Permissions::Explicit {
        caches: vec![],
        topics: vec![TopicGrant {
            role: TopicRole::PublishSubscribe,
            cache: cache.map(String::from),
            topics: items,
        }],
    }
}

fn prefix(p: &str) -> Selector {
    Selector::Prefix(p.into())
}

/// A reply, RESP2 or RESP3 (pushes included).
#[derive(Debug, Clone, PartialEq)]
enum R {
    Str(String),
    Int(i64),
    Nil,
    Err(String),
    Agg(Vec<R>),
}

impl R {
    fn is_err_with(&self, prefix: &str) -> bool {
        matches!(self, R::Err(e) if e.starts_with(prefix))
    }
}

/// The next reply, or None when nothing (complete) arrives within 5 s.
async fn next(c: &mut RawConn) -> Option<R> {
    let l = try_read_line(c).await?;
    let (t, rest) = l.split_at(1);
    Some(match t {
        "$" | "=" => {
            let n: i64 = rest.parse().unwrap();
            if n < 0 {
                return Some(R::Nil);
            }
            let body = Box::pin(c.read_n(n as usize + 2)).await;
            R::Str(String::from_utf8_lossy(&body[..n as usize]).into_owned())
        }
        ":" => R::Int(rest.parse().unwrap()),
        "_" => R::Nil,
        "+" | "," | "#" => R::Str(rest.into()),
        "-" | "!" => R::Err(rest.into()),
        "*" | "~" | "%" | ">" => {
            let n: i64 = rest.parse().unwrap();
            if n < 0 {
                return Some(R::Nil);
            }
            let n = if t == "%" { 2 * n } else { n };
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(Box::pin(next(c)).await?);
            }
            R::Agg(v)
        }
        other => panic!("unexpected reply type {other}"),
    })
}

async fn call(c: &mut RawConn, parts: &[&str]) -> R {
    c.cmd(parts).await;
    Box::pin(next(c)).await.expect("a reply within 5 s")
}

async fn seed_zsets(admin: &mut RawConn) {
    call(admin, &["ZADD", "secret:z", "7777", "FOREIGN-member"]).await;
    call(admin, &["ZADD", "mine:z", "1", "a"]).await;
}

fn denied(r: &R) -> bool {
    r.is_err_with("NOPERM")
}

#[tokio::test]
async fn zunion_family_checks_every_source_key() {
    let s = start().await;
    let mut admin = s.admin().await;
    seed_zsets(&mut admin).await;
    let tokens = [
        ("prefix", cache(CacheRole::ReadWrite, prefix("mine:"))),
        ("write-only", cache(CacheRole::WriteOnly, Selector::All)),
        ("topics-only", topics(Some(APP), Selector::All)),
    ];
    for (name, perms) in tokens {
        let t = s.mint(name, perms);
        let mut c = s.conn(APP, &t, false).await;
        for cmd in [
            &["ZUNION", "1", "secret:z", "WITHSCORES"][..],
            &["ZINTER", "1", "secret:z", "WITHSCORES"],
            &["ZDIFF", "1", "secret:z", "WITHSCORES"],
            &["ZINTERCARD", "1", "secret:z"],
            // a foreign key after an allowed one
            &["ZUNION", "2", "mine:z", "secret:z"],
        ] {
            let r = call(&mut c, cmd).await;
            assert!(denied(&r), "{name}: {cmd:?} answered {r:?}");
        }
    }
    // In scope, the read works.
    let t = s.mint("p2", cache(CacheRole::ReadWrite, prefix("mine:")));
    let mut c = s.conn(APP, &t, false).await;
    let r = call(&mut c, &["ZUNION", "1", "mine:z"]).await;
    assert_eq!(r, R::Agg(vec![R::Str("a".into())]));
}

#[tokio::test]
async fn zstore_family_checks_sources_not_only_the_destination() {
    let s = start().await;
    let mut admin = s.admin().await;
    seed_zsets(&mut admin).await;
    let t = s.mint("prefix", cache(CacheRole::ReadWrite, prefix("mine:")));
    let mut c = s.conn(APP, &t, false).await;
    for cmd in ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"] {
        let r = call(&mut c, &[cmd, "mine:copy", "1", "secret:z"]).await;
        assert!(denied(&r), "{cmd} answered {r:?}");
        let r = call(&mut c, &["ZRANGE", "mine:copy", "0", "-1", "WITHSCORES"]).await;
        assert_eq!(r, R::Agg(vec![]), "{cmd} copied the foreign set");
    }
    let r = call(&mut c, &["ZUNIONSTORE", "mine:copy", "1", "mine:z"]).await;
    assert_eq!(r, R::Int(1));
}

#[tokio::test]
async fn lmpop_needs_read_as_well_as_write() {
    let s = start().await;
    let mut admin = s.admin().await;
    call(&mut admin, &["RPUSH", "list", "FOREIGN-1", "FOREIGN-2"]).await;
    let t = s.mint("wo", cache(CacheRole::WriteOnly, Selector::All));
    let mut c = s.conn(APP, &t, false).await;
    for cmd in [
        &["LMPOP", "1", "list", "LEFT"][..],
        &["LMPOP", "1", "list", "RIGHT", "COUNT", "2"],
        &["BLMPOP", "0.01", "1", "list", "LEFT"],
    ] {
        let r = call(&mut c, cmd).await;
        assert!(denied(&r), "{cmd:?} answered {r:?}");
    }
    let r = call(&mut admin, &["LRANGE", "list", "0", "-1"]).await;
    assert_eq!(
        r,
        R::Agg(vec![R::Str("FOREIGN-1".into()), R::Str("FOREIGN-2".into())])
    );
}

#[tokio::test]
async fn malformed_numkeys_is_an_error_before_anything_runs() {
    let s = start().await;
    let t = s.mint("prefix", cache(CacheRole::ReadWrite, prefix("mine:")));
    let mut c = s.conn(APP, &t, false).await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZUNION", "0", "mine:a"],
            "ERR at least 1 input key is needed for 'zunion' command",
        ),
        (
            &["ZUNION", "x", "mine:a"],
            "ERR value is not an integer or out of range",
        ),
        (&["ZUNION", "3", "mine:a"], "ERR syntax error"),
        (
            &["ZUNIONSTORE", "mine:d", "2", "mine:a"],
            "ERR syntax error",
        ),
        (
            &["LMPOP", "0", "mine:a", "LEFT"],
            "ERR numkeys should be greater than 0",
        ),
        (&["LMPOP", "5", "mine:a", "LEFT"], "ERR syntax error"),
        (
            &["SINTERCARD", "0", "mine:a"],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["SINTERCARD", "3", "mine:a"],
            "ERR Number of keys can't be greater than number of args",
        ),
        (
            &["ZINTERCARD", "-1", "mine:a"],
            "ERR at least 1 input key is needed for 'zintercard' command",
        ),
    ];
    for (cmd, want) in cases {
        let r = call(&mut c, cmd).await;
        assert_eq!(r, R::Err(want.to_string()), "{cmd:?}");
    }
    // Inside MULTI it aborts the transaction like any queueing error.
    assert_eq!(call(&mut c, &["MULTI"]).await, R::Str("OK".into()));
    assert!(matches!(
        call(&mut c, &["ZUNION", "0", "mine:a"]).await,
        R::Err(_)
    ));
    assert!(call(&mut c, &["EXEC"]).await.is_err_with("EXECABORT"));
    // COMMAND GETKEYS follows the same key specs.
    let r = call(
        &mut c,
        &["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b"],
    )
    .await;
    assert_eq!(
        r,
        R::Agg(vec![
            R::Str("d".into()),
            R::Str("a".into()),
            R::Str("b".into())
        ])
    );
    let r = call(
        &mut c,
        &["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"],
    )
    .await;
    assert_eq!(r, R::Agg(vec![R::Str("a".into()), R::Str("b".into())]));
    let r = call(&mut c, &["COMMAND", "GETKEYS", "ZUNION", "0", "a"]).await;
    assert_eq!(
        r,
        R::Err("ERR Invalid arguments specified for command".into())
    );
    let r = call(&mut c, &["COMMAND", "GETKEYS", "PING"]).await;
    assert_eq!(r, R::Err("ERR The command has no key arguments".into()));
    // A shard channel is not a key (Redis's NOT_KEY spec).
    let r = call(&mut c, &["COMMAND", "GETKEYS", "SPUBLISH", "ch", "m"]).await;
    assert_eq!(r, R::Err("ERR The command has no key arguments".into()));
}

/// COMMAND INFO answers from the key specs in Redis 7's layout (RESP2: maps as flat arrays).
#[tokio::test]
async fn command_info_shows_the_key_specs() {
    let s = start().await;
    let mut c = s.admin().await;
    let r = call(&mut c, &["COMMAND", "INFO", "ZUNIONSTORE"]).await;
    let R::Agg(entries) = r else { panic!("{r:?}") };
    let R::Agg(info) = &entries[0] else { panic!() };
    assert_eq!(info.len(), 10);
    assert_eq!(info[0], R::Str("zunionstore".into()));
    assert_eq!(&info[3..6], &[R::Int(1), R::Int(1), R::Int(1)]);
    let R::Agg(flags) = &info[2] else { panic!() };
    assert!(flags.contains(&R::Str("movablekeys".into())), "{flags:?}");
    let s_ = |x: &str| R::Str(x.into());
    let spec = |flags: &[&str], begin: R, find: R| {
        R::Agg(vec![
            s_("flags"),
            R::Agg(flags.iter().map(|f| s_(f)).collect()),
            s_("begin_search"),
            begin,
            s_("find_keys"),
            find,
        ])
    };
    let index = |i| {
        R::Agg(vec![
            s_("type"),
            s_("index"),
            s_("spec"),
            R::Agg(vec![s_("index"), R::Int(i)]),
        ])
    };
    let expected = R::Agg(vec![
        spec(
            &["OW", "update"],
            index(1),
            R::Agg(vec![
                s_("type"),
                s_("range"),
                s_("spec"),
                R::Agg(vec![
                    s_("lastkey"),
                    R::Int(0),
                    s_("keystep"),
                    R::Int(1),
                    s_("limit"),
                    R::Int(0),
                ]),
            ]),
        ),
        spec(
            &["RO", "access"],
            index(2),
            R::Agg(vec![
                s_("type"),
                s_("keynum"),
                s_("spec"),
                R::Agg(vec![
                    s_("keynumidx"),
                    R::Int(0),
                    s_("firstkey"),
                    R::Int(1),
                    s_("keystep"),
                    R::Int(1),
                ]),
            ]),
        ),
    ]);
    assert_eq!(info[8], expected);
    // ZUNION: no legacy range, movable keys.
    let r = call(&mut c, &["COMMAND", "INFO", "ZUNION"]).await;
    let R::Agg(entries) = r else { panic!() };
    let R::Agg(info) = &entries[0] else { panic!() };
    assert_eq!(&info[3..6], &[R::Int(0), R::Int(0), R::Int(0)]);
}

/// Re-AUTH as a token that may not subscribe to a topic ends that subscription (with the
/// unsubscribe push); messages published afterwards are not delivered.
#[tokio::test]
async fn reauth_drops_subscriptions_the_new_token_may_not_have() {
    let s = start().await;
    let all = s.mint("all-topics", topics(None, Selector::All));
    let narrow = s.mint("narrow", topics(Some(APP), prefix("mine:")));
    let mut c = s.conn(APP, &all, true).await;
    let r = call(&mut c, &["SUBSCRIBE", "secret", "mine:t"]).await;
    assert!(matches!(r, R::Agg(_)), "{r:?}");
    assert!(matches!(Box::pin(next(&mut c)).await, Some(R::Agg(_))));
    // Re-AUTH as the narrow token: `secret` is dropped, `mine:t` kept.
    c.cmd(&["AUTH", &narrow]).await;
    let push = Box::pin(next(&mut c)).await.unwrap();
    assert_eq!(
        push,
        R::Agg(vec![
            R::Str("unsubscribe".into()),
            R::Str("secret".into()),
            R::Int(1)
        ])
    );
    assert_eq!(Box::pin(next(&mut c)).await, Some(R::Str("OK".into())));
    let mut admin = s.admin().await;
    assert_eq!(
        call(&mut admin, &["PUBLISH", "secret", "FOREIGN"]).await,
        R::Int(0)
    );
    call(&mut admin, &["PUBLISH", "mine:t", "hello"]).await;
    let msg = Box::pin(next(&mut c)).await.unwrap();
    assert_eq!(
        msg,
        R::Agg(vec![
            R::Str("message".into()),
            R::Str("mine:t".into()),
            R::Str("hello".into())
        ])
    );
    // The kept subscription is now the narrow token's: revoking it disconnects the subscriber
    // at its next message.
    assert_eq!(
        call(&mut admin, &["FERRITE.REVOKE", "narrow"]).await,
        R::Int(1)
    );
    call(&mut admin, &["PUBLISH", "mine:t", "after-revoke"]).await;
    assert!(c.is_closed().await, "the subscriber is disconnected");
}

/// Re-AUTH into another cache with a token for that cache only ends the first cache's
/// subscriptions and patterns.
#[tokio::test]
async fn reauth_into_another_cache_drops_the_first_cache_subscriptions() {
    let s = start().await;
    let app = s.mint("app-topics", topics(Some(APP), Selector::All));
    let other = s.mint("other-topics", topics(Some(OTHER), Selector::All));
    let mut c = s.conn(APP, &app, true).await;
    call(&mut c, &["SUBSCRIBE", "t"]).await;
    call(&mut c, &["PSUBSCRIBE", "p*"]).await;
    c.cmd(&["AUTH", OTHER, &other]).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(Box::pin(next(&mut c)).await.unwrap());
    }
    assert_eq!(
        got,
        vec![
            R::Agg(vec![
                R::Str("unsubscribe".into()),
                R::Str("t".into()),
                R::Int(1)
            ]),
            R::Agg(vec![
                R::Str("punsubscribe".into()),
                R::Str("p*".into()),
                R::Int(0)
            ]),
            R::Str("OK".into()),
        ]
    );
    let mut admin = s.admin().await;
    assert_eq!(
        call(&mut admin, &["PUBLISH", "t", "FOREIGN"]).await,
        R::Int(0)
    );
    assert_eq!(
        call(&mut admin, &["PUBLISH", "pq", "FOREIGN"]).await,
        R::Int(0)
    );
    // The connection is still usable.
    assert_eq!(call(&mut c, &["PING"]).await, R::Str("PONG".into()));
}

/// A BLPOP whose token is revoked while it waits is not served: the element stays, and the
/// client gets the NOAUTH error its next command would get.
#[tokio::test]
async fn blocked_pop_is_not_served_after_its_token_is_revoked() {
    let s = start().await;
    let t = s.mint("blocker", cache(CacheRole::ReadWrite, prefix("mine:")));
    let mut c = s.conn(APP, &t, false).await;
    c.cmd(&["BLPOP", "mine:l", "0"]).await;
    let mut admin = s.admin().await;
    // Let BLPOP block before revoking.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        call(&mut admin, &["FERRITE.REVOKE", "blocker"]).await,
        R::Int(1)
    );
    call(&mut admin, &["RPUSH", "mine:l", "v"]).await;
    let r = Box::pin(next(&mut c)).await.unwrap();
    assert!(r.is_err_with("NOAUTH Authentication required"), "{r:?}");
    assert_eq!(
        call(&mut admin, &["LRANGE", "mine:l", "0", "-1"]).await,
        R::Agg(vec![R::Str("v".into())])
    );
}

#[tokio::test]
async fn blocked_pop_is_not_served_after_its_token_expires() {
    let s = start().await;
    let t = s.mint_ttl("short", cache(CacheRole::ReadWrite, prefix("mine:")), 1);
    let mut c = s.conn(APP, &t, false).await;
    c.cmd(&["BLPOP", "mine:l", "0"]).await;
    // Expiry has one-second resolution: wait until the token is certainly past it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut admin = s.admin().await;
    call(&mut admin, &["RPUSH", "mine:l", "v"]).await;
    let r = Box::pin(next(&mut c)).await.unwrap();
    assert!(r.is_err_with("NOAUTH Authentication required"), "{r:?}");
    assert_eq!(call(&mut admin, &["LLEN", "mine:l"]).await, R::Int(1));
}
