//! Client-side caching (CLIENT TRACKING) beside redis-server 7.0: the same invalidation pushes
//! (RESP3) and `__redis__:invalidate` messages (RESP2 with REDIRECT), OPTIN / OPTOUT / BCAST /
//! NOLOOP, FLUSHALL's null invalidation, CLIENT TRACKINGINFO / GETREDIR / CACHING and their
//! errors (src/resp/tracking.rs). Then what Redis has no counterpart for: a BCAST client only
//! hears of keys its token may read (gRPC writes invalidating RESP caches:
//! tests/grpc_cross_protocol.rs).

use crate::common::redis_ref::Diff;
use crate::common::{q, read_raw_reply};

/// After a write by the other connection: the next thing each tracking connection receives.
async fn next_push(d: &mut Diff) -> String {
    let f = read_raw_reply(&mut d.ferrite).await;
    let r = read_raw_reply(&mut d.redis).await;
    assert_eq!(f, r, "pushes differ");
    f
}

/// A `CLIENT ID` reply's id.
fn client_id(raw: &str) -> String {
    raw.trim_start_matches(':').trim().to_string()
}

/// Send `CLIENT TRACKING ON REDIRECT <id>` to each server, with the id of its own client (from
/// the `CLIENT ID` replies `fid` and `rid`); the replies are left to the caller.
async fn send_tracking_redirect(d: &mut Diff, fid: &str, rid: &str) {
    d.ferrite
        .cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &client_id(fid)])
        .await;
    d.redis
        .cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &client_id(rid)])
        .await;
}

#[tokio::test]
async fn invalidations_match_redis() {
    let mut d = Diff::start(true).await;
    let mut other = d.another().await;
    d.script(&[
        &["CLIENT", "TRACKING", "ON"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR"],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["MGET", "k", "k2"],
    ])
    .await;
    other.same(&["SET", "k", "v2"]).await;
    assert_eq!(
        next_push(&mut d).await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    // one-shot: a second write sends nothing until the key is read again
    other.same(&["SET", "k", "v3"]).await;
    d.same(&["PING"]).await;
    d.same(&["GET", "k"]).await;
    other.same(&["DEL", "k"]).await;
    next_push(&mut d).await;
    // k2 (read by MGET, missing) is tracked too
    other.same(&["SET", "k2", "x"]).await;
    next_push(&mut d).await;
    // FLUSHALL: a null invalidation
    d.same(&["GET", "k"]).await;
    other.same(&["FLUSHALL"]).await;
    next_push(&mut d).await;
    // the client's own writes invalidate too, unless NOLOOP
    d.same(&["GET", "own"]).await;
    d.same(&["SET", "own", "1"]).await;
    next_push(&mut d).await;
    d.script(&[
        &["CLIENT", "TRACKING", "ON", "NOLOOP"],
        &["GET", "own"],
        &["SET", "own", "2"],
        &["PING"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKINGINFO"],
        &["GET", "own"],
    ])
    .await;
    other.same(&["SET", "own", "3"]).await;
    d.same(&["PING"]).await;
}

#[tokio::test]
async fn tracking_modes_match_redis() {
    let mut d = Diff::start(true).await;
    let mut other = d.another().await;
    // OPTIN: only reads right after CLIENT CACHING YES
    d.script(&[
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["GET", "a"],
        &["CLIENT", "CACHING", "YES"],
        // (TRACKINGINFO is the command the flag applies to: it shows it, and uses it up)
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "CACHING", "YES"],
        &["GET", "b"],
        &["GET", "c"],
        &["CLIENT", "CACHING", "NO"],
    ])
    .await;
    other.same(&["SET", "a", "1"]).await;
    other.same(&["SET", "c", "1"]).await;
    other.same(&["SET", "b", "1"]).await;
    assert!(next_push(&mut d).await.contains("$1\r\nb\r\n"));
    d.same(&["PING"]).await;
    // OPTOUT: every read but the one after CLIENT CACHING NO
    d.script(&[
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "CACHING", "NO"],
        &["GET", "a"],
        &["GET", "b"],
    ])
    .await;
    other.same(&["SET", "a", "2"]).await;
    other.same(&["SET", "b", "2"]).await;
    assert!(next_push(&mut d).await.contains("$1\r\nb\r\n"));
    d.same(&["PING"]).await;
    // BCAST with prefixes: every key under them, nothing else
    d.script(&[
        &["CLIENT", "TRACKING", "OFF"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "job:",
        ],
        &["CLIENT", "TRACKINGINFO"],
    ])
    .await;
    other.same(&["SET", "user:1", "x"]).await;
    next_push(&mut d).await;
    other.same(&["SET", "other", "x"]).await;
    other.same(&["HSET", "job:9", "f", "v"]).await;
    next_push(&mut d).await;
    d.same(&["PING"]).await;
    // A BCAST client hears of one command's keys in one message per prefix (Redis: per loop
    // turn).
    other
        .same(&["MSET", "user:1", "a", "job:2", "b", "user:3", "c"])
        .await;
    // one message per prefix, in byte order: job: (one key), then user: (two)
    assert!(next_push(&mut d).await.contains("*1\r\n"));
    assert!(next_push(&mut d).await.contains("*2\r\n"));
    d.same(&["PING"]).await;
    // A script's declared keys are tracked once it runs a read-only command, not otherwise
    d.script(&[
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKING", "ON"],
        &["EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2"],
    ])
    .await;
    other.same(&["MSET", "k2", "1", "k1", "1"]).await;
    d.same(&["EVAL", "redis.call('get', 'k3')", "2", "k1", "k2"])
        .await;
    other.same(&["MSET", "k2", "2", "k1", "2"]).await;
    assert!(next_push(&mut d).await.contains("k2"));
    assert!(next_push(&mut d).await.contains("k1"));
    d.same(&["EVAL_RO", "redis.call('ping')", "1", "k1"]).await;
    other.same(&["SET", "k1", "3"]).await;
    d.same(&["PING"]).await;
    // NOLOOP hides the client's own writes, not an expiry its own read sets off
    d.script(&[
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP"],
        &["SET", "lazy", "v", "PX", "1"],
    ])
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let (f, r) = d.both(&["GET", "lazy"]).await;
    assert_eq!(f, r);
    let push = next_push(&mut d).await;
    assert!(push.contains("lazy"), "{push:?}");
    d.same(&["CLIENT", "TRACKING", "OFF"]).await;
    // plain tracking may turn to OPTIN (or OPTOUT) without OFF; only OPTIN <-> OPTOUT may not
    d.script(&[
        &["CLIENT", "TRACKING", "ON"],
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKING", "ON"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "OFF"],
    ])
    .await;
    // errors
    d.script(&[
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "CACHING", "YES"],
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab",
        ],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
        &["CLIENT", "TRACKING", "ON", "foo"],
        &["CLIENT", "TRACKING", "maybe"],
        &["CLIENT", "TRACKING"],
        &["CLIENT", "CACHING"],
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["CLIENT", "CACHING", "NO"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "TRACKING", "ON", "BCAST"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
    ])
    .await;
}

/// REDIRECT to the connection itself is accepted, and it receives its own invalidations (it
/// hung the server's worker before: the redirect check locked the connection's own mutex twice).
#[tokio::test]
async fn a_redirect_to_itself_works_like_redis() {
    let mut d = Diff::start(true).await;
    let mut other = d.another().await;
    let (fid, rid) = d.both(&["CLIENT", "ID"]).await;
    send_tracking_redirect(&mut d, &fid, &rid).await;
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        read_raw_reply(&mut d.ferrite),
    );
    assert_eq!(answer.await.expect("answered, not hung"), "+OK\r\n");
    assert_eq!(read_raw_reply(&mut d.redis).await, "+OK\r\n");
    d.same(&["GET", "k"]).await;
    other.same(&["SET", "k", "v"]).await;
    next_push(&mut d).await;
    d.same(&["PING"]).await;
}

/// RESP2 with REDIRECT: the receiving connection gets messages on `__redis__:invalidate`.
#[tokio::test]
async fn redirected_invalidations_match_redis() {
    let mut d = Diff::start(false).await;
    let mut receiver = d.another().await;
    let (fid, rid) = receiver.both(&["CLIENT", "ID"]).await;
    receiver.same(&["SUBSCRIBE", "__redis__:invalidate"]).await;
    send_tracking_redirect(&mut d, &fid, &rid).await;
    assert_eq!(read_raw_reply(&mut d.ferrite).await, "+OK\r\n");
    assert_eq!(read_raw_reply(&mut d.redis).await, "+OK\r\n");
    d.same(&["GET", "k"]).await;
    d.same(&["SET", "k", "v"]).await;
    assert_eq!(
        receiver.next_same("the invalidation message").await,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    d.same(&["FLUSHALL"]).await;
    receiver.next_same("the flush message").await;
}

/// A BCAST client of a scoped token hears only of keys that token may read, and REDIRECT
/// reaches only a connection of the same token.
#[tokio::test]
async fn tracking_stays_inside_the_token_scope() {
    use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};
    let s = crate::common::tokens::TokenServer::start(&["app"]).await;
    let token = s.mint(
        "user-42",
        Permissions::Explicit {
            caches: vec![CacheGrant {
                role: CacheRole::ReadWrite,
                cache: Some("app".into()),
                items: Selector::Prefix("user:42:".into()),
            }],
            topics: vec![],
        },
    );
    let admin = s.mint("admin", Permissions::SuperUser);
    let mut t = s.srv.raw().await;
    t.cmd(&["HELLO", "3", "AUTH", "app", &token]).await;
    read_raw_reply(&mut t).await;
    t.roundtrip(&["CLIENT", "TRACKING", "ON", "BCAST"], b"+OK\r\n")
        .await;
    let mut w = s.srv.client().await;
    let _: String = q(&mut w, &["AUTH", "app", &admin]).await.unwrap();
    let _: () = q(&mut w, &["SET", "user:7:secret", "x"]).await.unwrap();
    let _: () = q(&mut w, &["SET", "user:42:mine", "x"]).await.unwrap();
    assert_eq!(
        read_raw_reply(&mut t).await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nuser:42:mine\r\n"
    );
    let mut other = s.srv.client().await;
    let _: String = q(&mut other, &["AUTH", "app", &admin]).await.unwrap();
    let other_id: i64 = q(&mut other, &["CLIENT", "ID"]).await.unwrap();
    t.roundtrip(&["CLIENT", "TRACKING", "OFF"], b"+OK\r\n")
        .await;
    t.roundtrip(
        &[
            "CLIENT",
            "TRACKING",
            "ON",
            "REDIRECT",
            &other_id.to_string(),
        ],
        b"-ERR The client ID you want redirect to does not exist\r\n",
    )
    .await;
}

/// `tracking-table-max-keys`: past it, keys leave the table with an invalidation (so a client
/// never keeps a key the server no longer watches for it), and INFO counts what is tracked.
#[tokio::test]
async fn the_tracking_table_is_bounded() {
    let srv = crate::common::TestServer::start().await;
    let mut c = srv.client().await;
    let _: () = q(&mut c, &["CONFIG", "SET", "tracking-table-max-keys", "2"])
        .await
        .unwrap();
    let mut raw = srv.raw().await;
    raw.cmd(&["HELLO", "3"]).await;
    read_raw_reply(&mut raw).await;
    raw.roundtrip(&["CLIENT", "TRACKING", "ON"], b"+OK\r\n")
        .await;
    raw.roundtrip(&["MGET", "a", "b"], b"*2\r\n_\r\n_\r\n")
        .await;
    let info = crate::common::info(&mut c, "stats").await;
    assert_eq!(info["tracking_total_keys"], "2");
    raw.cmd(&["GET", "c"]).await;
    // c's reply, and the invalidation of the key dropped to make room (in either order: the
    // push is written on the connection's next turn)
    let mut got = vec![
        read_raw_reply(&mut raw).await,
        read_raw_reply(&mut raw).await,
    ];
    got.sort();
    assert_eq!(got[1], "_\r\n", "{got:?}");
    assert!(
        got[0].starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\n"),
        "{got:?}"
    );
    let info = crate::common::info(&mut c, "stats").await;
    assert_eq!(info["tracking_total_keys"], "2");
    let clients = crate::common::info(&mut c, "clients").await;
    assert_eq!(clients["tracking_clients"], "1");
}

/// A RESP3 tracking client whose REDIRECT target has gone is told `tracking-redir-broken` when
/// a key it tracks changes (Redis's TCL unit stops there without it).
#[tokio::test]
async fn a_broken_redirect_is_reported_like_redis() {
    let mut d = Diff::start(true).await;
    let mut other = d.another().await;
    let mut target = d.another().await;
    let (fid, rid) = target.both(&["CLIENT", "ID"]).await;
    send_tracking_redirect(&mut d, &fid, &rid).await;
    let (f, r) = (
        read_raw_reply(&mut d.ferrite).await,
        read_raw_reply(&mut d.redis).await,
    );
    assert_eq!(f, r, "TRACKING ON");
    other.same(&["SET", "key1", "1"]).await;
    d.same(&["GET", "key1"]).await;
    target.same(&["QUIT"]).await;
    drop(target);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    other.same(&["SET", "key1", "2"]).await;
    let f = read_raw_reply(&mut d.ferrite).await;
    let r = read_raw_reply(&mut d.redis).await;
    let shape = |raw: &str| {
        raw.replace(&client_id(&fid), "ID")
            .replace(&client_id(&rid), "ID")
    };
    assert_eq!(shape(&f), shape(&r));
    assert!(f.contains("tracking-redir-broken"), "{f:?}");
}

/// BCAST prefixes accumulate over CLIENT TRACKING ON calls and may not overlap the ones a
/// client already has; BCAST without a prefix tracks the empty one; INFO counts distinct
/// prefixes (Redis's tracking.tcl "BCAST with prefix collisions throw errors", "Tracking info
/// is correct", TRACKINGINFO in BCAST mode).
#[tokio::test]
async fn bcast_prefixes_accumulate_like_redis() {
    let mut d = Diff::start(true).await;
    d.same(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO",
    ])
    .await;
    d.same(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOO", "PREFIX", "BAR",
    ])
    .await;
    for p in ["FO", "BARB", "FOO", "F"] {
        d.same(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", p])
            .await;
    }
    d.same(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "BAZ"])
        .await;
    d.same(&["CLIENT", "TRACKINGINFO"]).await;
    // Two clients on one prefix: one prefix in the table.
    let mut other = d.another().await;
    other.both(&["HELLO", "3"]).await;
    other
        .same(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "BAZ"])
        .await;
    let (f, r) = d.both(&["INFO", "stats"]).await;
    let field = |s: &str| {
        s.split("\r\n")
            .find(|l| l.starts_with("tracking_total_prefixes:"))
            .map(str::to_string)
    };
    assert_eq!(field(&f), field(&r));
    assert_eq!(field(&f).as_deref(), Some("tracking_total_prefixes:3"));
    d.same(&["CLIENT", "TRACKING", "OFF"]).await;
    d.same(&["CLIENT", "TRACKING", "ON", "BCAST"]).await;
    d.same(&["CLIENT", "TRACKINGINFO"]).await;
    d.same(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "X"])
        .await;
}

/// DEBUG PAUSE-CRON stops the background expiry sweep, as it stops Redis's serverCron.
#[tokio::test]
async fn debug_pause_cron_stops_active_expiry_like_redis() {
    let mut d = Diff::start(false).await;
    d.same(&["DEBUG", "PAUSE-CRON", "1"]).await;
    d.same(&["SET", "k", "v", "PX", "10"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    d.same(&["DBSIZE"]).await;
    d.same(&["DEBUG", "PAUSE-CRON", "0"]).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (f, r) = d.both(&["DBSIZE"]).await;
        if f == ":0\r\n" && r == ":0\r\n" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{f} {r}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
