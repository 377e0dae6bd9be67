//! FUNCTION, FCALL and FCALL_RO beside redis-server 7.0 with no libraries loaded (Ferrite has
//! no scripting yet: src/resp/commands/functions.rs): the same replies, errors and DUMP bytes;
//! a library redis-server dumps is refused with a clear error; in auth mode `token` a scoped
//! token may read but not flush.

use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};
use redis::Value;

use crate::common::redis_ref::{bulk, Diff};
use crate::common::tokens::TokenServer;
use crate::common::{q, read_raw_reply};

#[tokio::test]
async fn functions_match_redis_with_no_libraries() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(&[
            &["FUNCTION", "FLUSH"],
            &["FUNCTION", "FLUSH", "ASYNC"],
            &["FUNCTION", "FLUSH", "sync"],
            &["FUNCTION", "FLUSH", "x"],
            &["FUNCTION", "FLUSH", "SYNC", "x"],
            &["FUNCTION", "LIST"],
            &["FUNCTION", "LIST", "WITHCODE"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "x*"],
            &["FUNCTION", "LIST", "libraryname", "x", "withcode"],
            &["FUNCTION", "LIST", "LIBRARYNAME"],
            &["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"],
            &["FUNCTION", "LIST", "foo"],
            &["FUNCTION", "STATS"],
            &["FUNCTION", "STATS", "x"],
            &["FUNCTION", "DELETE", "lib"],
            &["FUNCTION", "DELETE"],
            &["FUNCTION", "DELETE", "a", "b"],
            &["FUNCTION", "KILL"],
            &["FUNCTION", "KILL", "x"],
            &["FUNCTION", "DUMP"],
            &["FUNCTION", "DUMP", "x"],
            &["FUNCTION", "RESTORE"],
            &["FUNCTION", "RESTORE", "x"],
            &["FUNCTION", "RESTORE", "x", "FLUSH"],
            &["FUNCTION", "RESTORE", "x", "BAD"],
            &["FUNCTION", "RESTORE", "x", "FLUSH", "y"],
            &["FUNCTION", "LOAD"],
            &["FUNCTION", "LOAD", "x", "y", "z"],
            &["FUNCTION", "HELP"],
            &["FUNCTION", "HELP", "x"],
            &["FUNCTION", "nosuch"],
            &["FUNCTION"],
            // FCALL: arity, then "Function not found" whatever numkeys says (Redis looks the
            // function up first)
            &["FCALL"],
            &["FCALL", "f"],
            &["FCALL", "f", "0"],
            &["FCALL", "f", "x"],
            &["FCALL", "f", "-1"],
            &["FCALL", "f", "2", "a"],
            &["FCALL", "f", "1", "a", "arg"],
            &["FCALL_RO", "f", "0"],
            &["FCALL_RO", "f", "x"],
            &["FCALL_RO", "f", "1", "k", "a", "b"],
            // queued in MULTI (numkeys 0 is well formed), answered at EXEC
            &["MULTI"],
            &["FCALL", "f", "0"],
            &["FCALL_RO", "f", "1", "k"],
            &["FUNCTION", "FLUSH"],
            &["FUNCTION", "LIST"],
            &["EXEC"],
            &["COMMAND", "GETKEYS", "FCALL", "f", "2", "a", "b", "c"],
        ])
        .await;
        // DUMP of no libraries, restored with every policy.
        let dump = bulk(&mut d.ferrite, &[b"FUNCTION", b"DUMP"]).await.unwrap();
        let theirs = bulk(&mut d.redis, &[b"FUNCTION", b"DUMP"]).await.unwrap();
        assert_eq!(dump, theirs, "DUMP bytes");
        d.same_bin(&[b"FUNCTION", b"RESTORE", &dump]).await;
        for policy in ["FLUSH", "append", "REPLACE"] {
            d.same_bin(&[b"FUNCTION", b"RESTORE", &dump, policy.as_bytes()])
                .await;
        }
        // Damaged or foreign payloads: a flipped CRC byte, a newer RDB version, an older one
        // (accepted), a value that is not a function, too short.
        let seal = |body: &[u8], version: u16| {
            let mut p = body.to_vec();
            p.extend_from_slice(&version.to_le_bytes());
            let crc = ferrite_rdb::crc64::crc64(0, &p);
            p.extend_from_slice(&crc.to_le_bytes());
            p
        };
        let mut bad_crc = dump.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        for p in [
            bad_crc,
            seal(b"", 11),
            seal(b"", 9),
            seal(b"\x00\x01a", 10),
            dump[..9].to_vec(),
            b"\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        ] {
            d.same_bin(&[b"FUNCTION", b"RESTORE", &p]).await;
        }
        d.same(&["FUNCTION", "LIST"]).await;
    }
}

/// A payload holding a library (redis-server's own DUMP of one): refused, scripting is not
/// available; nothing is loaded.
#[tokio::test]
async fn restoring_a_library_says_scripting_is_unavailable() {
    let mut d = Diff::start(false).await;
    let code = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)";
    d.redis.cmd(&["FUNCTION", "LOAD", code]).await;
    assert_eq!(read_raw_reply(&mut d.redis).await, "$5\r\nmylib\r\n");
    let payload = bulk(&mut d.redis, &[b"FUNCTION", b"DUMP"]).await.unwrap();
    for policy in [None, Some(&b"REPLACE"[..])] {
        let mut cmd: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &payload];
        cmd.extend(policy);
        d.ferrite
            .send(&crate::common::redis_ref::encode(&cmd))
            .await;
        let r = read_raw_reply(&mut d.ferrite).await;
        assert!(r.starts_with("-ERR") && r.contains("scripting"), "{r:?}");
    }
    d.ferrite.cmd(&["FUNCTION", "LOAD", code]).await;
    let r = read_raw_reply(&mut d.ferrite).await;
    assert!(r.starts_with("-ERR") && r.contains("scripting"), "{r:?}");
    d.ferrite.roundtrip(&["FUNCTION", "LIST"], b"*0\r\n").await;
    d.ferrite
        .roundtrip(&["FCALL", "f", "0"], b"-ERR Function not found\r\n")
        .await;
}

/// In auth mode `token`: any token may list, dump and call (its keys checked first); flushing,
/// deleting, loading, restoring and killing the server-wide libraries needs a super-user.
#[tokio::test]
async fn scoped_tokens_read_functions_and_super_users_flush() {
    let s = TokenServer::start(&["app"]).await;
    let su = s.mint("admin", Permissions::SuperUser);
    let scoped = s.mint(
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
    let mut c = s.srv.client().await;
    let _: String = q(&mut c, &["AUTH", "app", &scoped]).await.unwrap();
    let list: Vec<Value> = q(&mut c, &["FUNCTION", "LIST"]).await.unwrap();
    assert!(list.is_empty());
    let _: Value = q(&mut c, &["FUNCTION", "STATS"]).await.unwrap();
    let _: Vec<u8> = q(&mut c, &["FUNCTION", "DUMP"]).await.unwrap();
    for sub in [
        &["FLUSH"][..],
        &["DELETE", "lib"],
        &["KILL"],
        &["LOAD", "x"],
        &["RESTORE", "x"],
    ] {
        let mut cmd = vec!["FUNCTION"];
        cmd.extend_from_slice(sub);
        let e = q::<Value>(&mut c, &cmd).await.unwrap_err();
        assert_eq!(e.code(), Some("NOPERM"), "{cmd:?}: {e}");
    }
    // FCALL's keys are checked as a write that reads (RW ACCESS UPDATE), FCALL_RO's as a read.
    for cmd in [
        &["FCALL", "f", "1", "secret"][..],
        &["FCALL_RO", "f", "1", "secret"],
    ] {
        let e = q::<Value>(&mut c, cmd).await.unwrap_err();
        assert_eq!(e.code(), Some("NOPERM"), "{cmd:?}: {e}");
    }
    for cmd in [
        &["FCALL", "f", "1", "user:42:k"][..],
        &["FCALL", "f", "0"],
        &["FCALL_RO", "f", "1", "user:42:k"],
    ] {
        let e = q::<Value>(&mut c, cmd).await.unwrap_err();
        assert!(e.to_string().contains("Function not found"), "{cmd:?}: {e}");
    }
    let mut a = s.srv.client().await;
    let _: String = q(&mut a, &["AUTH", "app", &su]).await.unwrap();
    let ok: String = q(&mut a, &["FUNCTION", "FLUSH"]).await.unwrap();
    assert_eq!(ok, "OK");
}
