//! Numbered databases as caches (issue 14): `SELECT n` uses the cache `<cache>-db<n>`, which the
//! HTTP API (and gRPC) reach by that name; SELECT, MOVE, COPY ... DB and SWAPDB obey the
//! token's cache permissions; keyspace notifications of database n say `@n`.
//! The replies themselves are compared with redis-server in tests/redis_diff/databases.rs.

mod common;

use std::time::Duration;

use common::tokens::TokenServer;
use common::{q, read_raw_reply, TestServer};
use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};
use reqwest::StatusCode;

fn grant(caches: &[&str]) -> Permissions {
    Permissions::Explicit {
        caches: caches
            .iter()
            .map(|c| CacheGrant {
                role: CacheRole::ReadWrite,
                cache: Some((*c).into()),
                items: Selector::All,
            })
            .collect(),
        topics: vec![],
    }
}

/// What a RESP client writes in database 3 is the cache `default-db3` over HTTP, and what HTTP
/// writes there is what the RESP client reads; database 0 stays `default`.
#[tokio::test]
async fn a_selected_database_is_a_cache_the_http_api_reaches() {
    let srv = TestServer::start().await;
    let mut raw = srv.raw().await;
    raw.roundtrip(&["SET", "k", "zero"], b"+OK\r\n").await;
    raw.roundtrip(&["SELECT", "3"], b"+OK\r\n").await;
    raw.roundtrip(&["SET", "k", "three"], b"+OK\r\n").await;
    let base = format!("http://{}", srv.running.http_addr);
    let http = reqwest::Client::new();
    let get = |cache: &str| http.get(format!("{base}/cache/{cache}?key=k")).send();
    let r = get("default-db3").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), "three");
    assert_eq!(get("default").await.unwrap().bytes().await.unwrap(), "zero");
    let put = http
        .put(format!("{base}/cache/default-db3?key=h&ttl_seconds=60"))
        .body("from http")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    raw.roundtrip(&["GET", "h"], b"$9\r\nfrom http\r\n").await;
    // MOVE and SWAPDB move data between the caches, whose names keep their meaning.
    raw.roundtrip(&["MOVE", "h", "0"], b":1\r\n").await;
    raw.roundtrip(&["SWAPDB", "0", "3"], b"+OK\r\n").await;
    assert_eq!(
        get("default").await.unwrap().bytes().await.unwrap(),
        "three"
    );
    assert_eq!(
        get("default-db3").await.unwrap().bytes().await.unwrap(),
        "zero"
    );
    let moved = http
        .get(format!("{base}/cache/default-db3?key=h"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.bytes().await.unwrap(), "from http");
    // CLIENT INFO shows the database.
    raw.cmd(&["CLIENT", "INFO"]).await;
    let info = read_raw_reply(&mut raw).await;
    assert!(info.contains(" db=3 "), "{info}");
}

/// A token allowed on `app` only may not SELECT (or MOVE, COPY, SWAPDB into) `app-db1`; one
/// allowed on both may, and `app-db1` must exist (only super-users and the `default` cache's
/// databases create caches on first use).
#[tokio::test]
async fn databases_follow_the_tokens_cache_permissions() {
    let s = TokenServer::start(&["app"]).await;
    let only_app = s.mint("only-app", grant(&["app"]));
    let both = s.mint("both", grant(&["app", "app-db1"]));
    let mut c = s.srv.raw().await;
    c.roundtrip(&["AUTH", "app", &only_app], b"+OK\r\n").await;
    c.roundtrip(&["SET", "k", "v"], b"+OK\r\n").await;
    let noperm = "-NOPERM this token has no permission on cache 'app-db1'\r\n";
    for cmd in [
        &["SELECT", "1"][..],
        &["MOVE", "k", "1"],
        &["COPY", "k", "k", "DB", "1"],
        &["SWAPDB", "0", "1"],
    ] {
        c.cmd(cmd).await;
        assert_eq!(read_raw_reply(&mut c).await, noperm, "{cmd:?}");
    }
    c.roundtrip(&["SELECT", "0"], b"+OK\r\n").await;
    // Allowed, but app-db1 does not exist and this token may not create it.
    let mut d = s.srv.raw().await;
    d.roundtrip(&["AUTH", "app", &both], b"+OK\r\n").await;
    d.cmd(&["SELECT", "1"]).await;
    assert_eq!(
        read_raw_reply(&mut d).await,
        "-ERR cache 'app-db1' does not exist\r\n"
    );
    s.srv.running.shared.store.create_cache("app-db1").unwrap();
    d.roundtrip(&["MOVE", "k", "1"], b":1\r\n").await;
    d.roundtrip(&["SELECT", "1"], b"+OK\r\n").await;
    d.roundtrip(&["GET", "k"], b"$1\r\nv\r\n").await;
    // The first token still cannot read it there, and nothing else was created.
    assert!(s.srv.running.shared.store.cache("app-db2").is_none());
    assert!(s.srv.running.shared.store.cache("default-db1").is_none());
}

/// Keyspace notifications of database 2 are published as `__keyspace@2__` /
/// `__keyevent@2__`, in database 0's cache, so a subscriber in any database receives them.
#[tokio::test]
async fn notifications_name_the_database() {
    let srv = TestServer::start().await;
    let mut admin = srv.client().await;
    let _: () = q(
        &mut admin,
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
    )
    .await
    .unwrap();
    let mut sub = srv.raw().await;
    sub.cmd(&["PSUBSCRIBE", "__key*@*__:*"]).await;
    let _ = read_raw_reply(&mut sub).await;
    let mut w = srv.raw().await;
    w.roundtrip(&["SELECT", "2"], b"+OK\r\n").await;
    w.roundtrip(&["SET", "k", "v"], b"+OK\r\n").await;
    w.roundtrip(&["MOVE", "k", "0"], b":1\r\n").await;
    let mut got = Vec::new();
    for _ in 0..6 {
        let m = tokio::time::timeout(Duration::from_secs(5), read_raw_reply(&mut sub))
            .await
            .expect("a notification");
        let lines: Vec<&str> = m.split("\r\n").collect();
        got.push(format!("{} {}", lines[6], lines[8]));
    }
    assert_eq!(
        got,
        [
            "__keyspace@2__:k set",
            "__keyevent@2__:set k",
            "__keyspace@2__:k move_from",
            "__keyevent@2__:move_from k",
            "__keyspace@0__:k move_to",
            "__keyevent@0__:move_to k",
        ]
    );
}

/// Inside MULTI a queued SELECT moves the queued commands after it to that database, so they
/// are authorized against that database's cache: a token whose key grants differ between
/// `app` and `app-db1` cannot reach `app-db1` keys outside its grant by queueing them after a
/// SELECT (they were checked against `app` before EXEC locked several databases).
#[tokio::test]
async fn commands_queued_after_select_are_checked_against_that_database() {
    let s = TokenServer::start(&["app"]).await;
    s.srv.running.shared.store.create_cache("app-db1").unwrap();
    let perms = Permissions::Explicit {
        caches: vec![
            CacheGrant {
                role: CacheRole::ReadWrite,
                cache: Some("app".into()),
                items: Selector::All,
            },
            CacheGrant {
                role: CacheRole::ReadWrite,
                cache: Some("app-db1".into()),
                items: Selector::Prefix("mine:".into()),
            },
        ],
        topics: vec![],
    };
    let t = s.mint("split", perms);
    let mut c = s.srv.raw().await;
    c.roundtrip(&["AUTH", "app", &t], b"+OK\r\n").await;
    c.roundtrip(&["MULTI"], b"+OK\r\n").await;
    c.roundtrip(&["SET", "other", "in app"], b"+QUEUED\r\n")
        .await;
    c.roundtrip(&["SELECT", "1"], b"+QUEUED\r\n").await;
    c.roundtrip(&["SET", "mine:k", "ok"], b"+QUEUED\r\n").await;
    c.cmd(&["SET", "other", "outside the grant"]).await;
    let refused = read_raw_reply(&mut c).await;
    assert!(refused.starts_with("-NOPERM"), "{refused}");
    c.cmd(&["EXEC"]).await;
    assert!(read_raw_reply(&mut c).await.starts_with("-EXECABORT"));
    let db1 = s.srv.running.shared.store.cache("app-db1").unwrap();
    assert_eq!(db1.len(), 0, "nothing of the aborted transaction ran");
    // Within the grant it runs, in that database, and the connection stays there.
    c.roundtrip(&["MULTI"], b"+OK\r\n").await;
    c.roundtrip(&["SELECT", "1"], b"+QUEUED\r\n").await;
    c.roundtrip(&["SET", "mine:k", "ok"], b"+QUEUED\r\n").await;
    c.cmd(&["EXEC"]).await;
    assert_eq!(read_raw_reply(&mut c).await, "*2\r\n+OK\r\n+OK\r\n");
    c.roundtrip(&["GET", "mine:k"], b"$2\r\nok\r\n").await;
}

/// CLIENT LIST names the token a connection authenticated with (`user=`, Redis's field), and
/// CLIENT KILL USER reaches the connections of that token only.
#[tokio::test]
async fn client_list_and_kill_name_the_token() {
    let s = TokenServer::start(&["app"]).await;
    let admin_token = s.mint("the-admin", Permissions::SuperUser);
    let scoped = s.mint("the-scoped-one", grant(&["app"]));
    let mut admin = s.srv.raw().await;
    admin
        .roundtrip(&["AUTH", "app", &admin_token], b"+OK\r\n")
        .await;
    let mut c = s.srv.raw().await;
    c.roundtrip(&["AUTH", "app", &scoped], b"+OK\r\n").await;
    admin.cmd(&["CLIENT", "LIST"]).await;
    let list = read_raw_reply(&mut admin).await;
    assert!(list.contains(" user=the-scoped-one "), "{list}");
    assert!(list.contains(" user=the-admin "), "{list}");
    admin.cmd(&["CLIENT", "KILL", "USER", "nobody"]).await;
    assert_eq!(read_raw_reply(&mut admin).await, ":0\r\n");
    admin
        .cmd(&["CLIENT", "KILL", "USER", "the-scoped-one"])
        .await;
    assert_eq!(read_raw_reply(&mut admin).await, ":1\r\n");
    assert!(c.is_closed().await);
    // RESET forgets the token: Redis's `default` again.
    admin.roundtrip(&["RESET"], b"+RESET\r\n").await;
    admin
        .roundtrip(&["AUTH", "app", &admin_token], b"+OK\r\n")
        .await;
    let mut other = s.srv.raw().await;
    other.roundtrip(&["AUTH", "app", &scoped], b"+OK\r\n").await;
    other.roundtrip(&["RESET"], b"+RESET\r\n").await;
    admin.cmd(&["CLIENT", "LIST"]).await;
    let list = read_raw_reply(&mut admin).await;
    assert!(!list.contains("the-scoped-one"), "{list}");
    assert!(list.contains(" user=default "), "{list}");
}
