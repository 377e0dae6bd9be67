//! FUNCTION, FCALL and FCALL_RO beside redis-server 7.0 (src/resp/commands/functions.rs,
//! src/resp/scripting/library.rs): with no libraries and with some, the same replies, errors
//! and DUMP bytes, payloads restored across the two servers; in auth mode `token` a scoped
//! token may read but not change the libraries.

use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};
use redis::Value;

use crate::common::q;
use crate::common::redis_ref::{bulk, Diff};
use crate::common::tokens::TokenServer;

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

/// Libraries beside redis-server: LOAD and its errors, FCALL / FCALL_RO and their flags, LIST,
/// STATS, DELETE, FLUSH (one function per library where the order of Redis's dict would show).
#[tokio::test]
async fn libraries_match_redis() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.script(LIBRARY_CASES).await;
    }
}

const LIBRARY_CASES: &[&[&str]] = &[
    &["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)"],
    &["FUNCTION", "LOAD", "#!lua name=rolib\nredis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}"],
    &["FUNCTION", "LOAD", "#!lua name=wlib\nredis.register_function('w', function(keys, args) return redis.call('set', keys[1], args[1]) end)"],
    &["FUNCTION", "LOAD", "#!lua name=badlib\nredis.register_function('bad', function(keys, args)\n  return redis.call('nosuch')\nend)"],
    &["FCALL", "myfunc", "0", "hello"],
    &["FCALL_RO", "ro", "1", "k"],
    &["FCALL_RO", "w", "1", "k", "v"],
    &["FCALL", "w", "1", "k", "v"],
    &["FCALL", "bad", "0"],
    &["FCALL", "ro", "1", "k"],
    &["FCALL", "nosuch", "0"],
    &["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('x', function() return 1 end)"],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib2\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('myfunc', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.call('set','a','b')"],
    &["FUNCTION", "LOAD", "#!lua name=bad-name\nredis.register_function('q', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib5 foo=bar\nredis.register_function('q', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua\nredis.register_function('q', function() return 1 end)"],
    // the metadata line is split as sdssplitargs splits: quotes, escapes, repeats, engines
    &["FUNCTION", "LOAD", "#!lua name=\"qlib\"\nredis.register_function('qf', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=\"un\nredis.register_function('q2', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=a name=b\nredis.register_function('q3', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#! name=elib\nredis.register_function('q4', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=nolf"],
    &["FUNCTION", "LOAD", "#!lua name=lib6\nredis.register_function('q', function() return 1 end"],
    &["FUNCTION", "LOAD", "REPLACE", "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 'replaced' end)"],
    &["FCALL", "myfunc", "0"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "mylib"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "rolib", "WITHCODE"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "DELETE", "wlib"],
    &["FUNCTION", "DELETE", "wlib"],
    &["FCALL", "w", "1", "k", "v"],
    &["MULTI"],
    &["FCALL", "myfunc", "0"],
    &["FCALL_RO", "ro", "1", "k"],
    &["EXEC"],
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "LIST"],
    &["FCALL", "myfunc", "0"],
];

/// FUNCTION DUMP payloads move libraries between Ferrite and redis-server both ways, with
/// Redis's restore policies.
#[tokio::test]
async fn function_dumps_restore_across_servers() {
    let mut d = Diff::start(false).await;
    let code =
        "#!lua name=mylib\nredis.register_function('f', function() return 'from a dump' end)";
    d.same(&["FUNCTION", "LOAD", code]).await;
    let theirs = bulk(&mut d.redis, &[b"FUNCTION", b"DUMP"]).await.unwrap();
    let ours = bulk(&mut d.ferrite, &[b"FUNCTION", b"DUMP"]).await.unwrap();
    // one library: the same bytes
    assert_eq!(ours, theirs);
    d.same(&["FUNCTION", "FLUSH"]).await;
    for policy in [None, Some(&b"APPEND"[..])] {
        let mut cmd: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &theirs];
        cmd.extend(policy);
        d.same_bin(&cmd).await;
    }
    d.same(&["FCALL", "f", "0"]).await;
    // restoring it again collides, unless REPLACE or FLUSH
    d.same_bin(&[b"FUNCTION", b"RESTORE", &theirs, b"REPLACE"])
        .await;
    d.same_bin(&[b"FUNCTION", b"RESTORE", &theirs, b"FLUSH"])
        .await;
    d.same(&["FUNCTION", "LIST", "WITHCODE"]).await;
    // a library that does not load is refused whole
    d.same(&["FUNCTION", "FLUSH"]).await;
    let broken = "#!lua name=broken\nredis.register_function('g', function() return 1 end";
    let payload = ferrite_rdb::functions::dump_functions(
        ferrite_rdb::Thresholds::default(),
        [code.as_bytes(), broken.as_bytes()].into_iter(),
    );
    d.same_bin(&[b"FUNCTION", b"RESTORE", &payload]).await;
    d.same(&["FUNCTION", "LIST"]).await;
}

/// In auth mode `token`: any token may list, dump, call (its keys checked first) and kill its
/// tenant's script; flushing, deleting, loading and restoring libraries needs a super-user.
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
    // KILL stops the tenant's own running script, as SCRIPT KILL does
    let e = q::<Value>(&mut c, &["FUNCTION", "KILL"]).await.unwrap_err();
    assert_eq!(e.code(), Some("NOTBUSY"), "{e}");
    for sub in [
        &["FLUSH"][..],
        &["DELETE", "lib"],
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
