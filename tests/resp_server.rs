//! Server and connection-admin commands: PING, ECHO, TIME, INFO, CONFIG, COMMAND, CLIENT,
//! SHUTDOWN and friends, over raw RESP and the `redis` crate.

mod common;
use common::*;

use std::collections::HashMap;
use std::time::Duration;

use redis::Value;

// The raw helpers hold 64 KiB buffers across awaits; boxing them keeps each test's (debug
// build) stack frame small: unboxed, a long test overflows the 2 MiB test-thread stack.
async fn rt(c: &mut RawConn, parts: &[&str], expected: &[u8]) {
    Box::pin(c.roundtrip(parts, expected)).await
}

async fn exp(c: &mut RawConn, expected: &[u8]) {
    Box::pin(c.expect(expected)).await
}

fn int_field(f: &HashMap<String, String>, name: &str) -> u64 {
    f.get(name)
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn ping_echo_time() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(&mut r, &["PING"], b"+PONG\r\n").await;
    rt(&mut r, &["ping", "hello"], b"$5\r\nhello\r\n").await;
    rt(
        &mut r,
        &["PING", "a", "b"],
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    rt(&mut r, &["ECHO", "hi there"], b"$8\r\nhi there\r\n").await;
    rt(
        &mut r,
        &["ECHO"],
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["ECHO", "a", "b"],
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    )
    .await;

    let mut c = srv.client().await;
    let t: Vec<String> = q(&mut c, &["TIME"]).await.unwrap();
    assert_eq!(t.len(), 2);
    let secs: u64 = t[0].parse().unwrap();
    let micros: u64 = t[1].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2, "{secs} vs {now}");
    assert!(micros < 1_000_000);
    rt(
        &mut r,
        &["TIME", "x"],
        b"-ERR wrong number of arguments for 'time' command\r\n",
    )
    .await;
}

#[tokio::test]
async fn ping_in_subscribe_mode() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    r.cmd(&["SUBSCRIBE", "ch"]).await;
    exp(&mut r, b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n").await;
    rt(&mut r, &["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
    rt(&mut r, &["PING", "x"], b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n").await;

    // RESP3 has no subscribe-mode restriction: PING replies as usual.
    let mut r3 = srv.raw().await;
    r3.cmd(&["HELLO", "3"]).await;
    read_raw_reply(&mut r3).await;
    r3.cmd(&["SUBSCRIBE", "ch"]).await;
    exp(&mut r3, b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n").await;
    rt(&mut r3, &["PING"], b"+PONG\r\n").await;
    rt(&mut r3, &["PING", "x"], b"$1\r\nx\r\n").await;
}

#[tokio::test]
async fn info_sections_and_fields() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let text: String = q(&mut c, &["INFO"]).await.unwrap();
    assert!(
        text.starts_with("# Server\r\nredis_version:7.2.0\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n"));
    for header in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"] {
        assert!(text.contains(&format!("{header}\r\n")), "missing {header}");
    }
    // Sections are separated by an empty line, as in Redis.
    assert!(text.contains("\r\n\r\n# Clients\r\n"));
    let f = info_fields(&text);
    for name in [
        "redis_version",
        "ferrite_version",
        "redis_mode",
        "os",
        "arch_bits",
        "process_id",
        "run_id",
        "tcp_port",
        "uptime_in_seconds",
        "uptime_in_days",
        "connected_clients",
        "blocked_clients",
        "maxclients",
        "used_memory",
        "used_memory_human",
        "used_memory_rss",
        "maxmemory",
        "maxmemory_human",
        "maxmemory_policy",
        "mem_fragmentation_ratio",
        "total_connections_received",
        "total_commands_processed",
        "instantaneous_ops_per_sec",
        "total_net_input_bytes",
        "total_net_output_bytes",
        "rejected_connections",
        "expired_keys",
        "evicted_keys",
        "keyspace_hits",
        "keyspace_misses",
    ] {
        assert!(f.contains_key(name), "INFO lacks {name}");
    }
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["ferrite_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(f["process_id"], std::process::id().to_string());
    assert_eq!(f["run_id"], srv.running.shared.run_id);
    assert_eq!(f["run_id"].len(), 40);
    assert_eq!(f["tcp_port"], srv.addr.port().to_string());
    assert_eq!(f["arch_bits"], "64");
    assert_eq!(f["maxmemory"], (256u64 * 1024 * 1024).to_string());
    assert_eq!(f["maxmemory_human"], "256.00M");
    assert_eq!(f["maxmemory_policy"], "allkeys-lru");
    assert_eq!(f["maxclients"], "10000");
    assert!(int_field(&f, "connected_clients") >= 1);
    assert!(int_field(&f, "used_memory_rss") > 0);
    assert_eq!(int_field(&f, "blocked_clients"), 0);
    // Empty keyspace: header only.
    assert!(text.ends_with("# Keyspace\r\n"), "{text}");

    // One section only; unknown sections give an empty string.
    let server: String = q(&mut c, &["INFO", "server"]).await.unwrap();
    assert!(server.starts_with("# Server\r\n") && !server.contains("# Clients"));
    let two: String = q(&mut c, &["INFO", "CLIENTS", "memory"]).await.unwrap();
    assert!(
        two.starts_with("# Clients\r\n")
            && two.contains("\r\n\r\n# Memory\r\n")
            && !two.contains("# Server")
    );
    let none: String = q(&mut c, &["INFO", "nosuchsection"]).await.unwrap();
    assert_eq!(none, "");
    for all in ["all", "everything", "default"] {
        let t: String = q(&mut c, &["INFO", all]).await.unwrap();
        assert!(t.contains("# Server") && t.contains("# Keyspace"), "{all}");
    }
}

#[tokio::test]
async fn info_counts_hits_misses_keys_and_memory() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let before = info(&mut c, "stats").await;
    let _: () = q(&mut c, &["SET", "a", "1"]).await.unwrap();
    let _: () = q(&mut c, &["SET", "b", "2", "EX", "100"]).await.unwrap();
    let _: String = q(&mut c, &["GET", "a"]).await.unwrap();
    let _: String = q(&mut c, &["GET", "a"]).await.unwrap();
    let _: Option<String> = q(&mut c, &["GET", "missing"]).await.unwrap();
    let after = info(&mut c, "stats").await;
    assert_eq!(
        int_field(&after, "keyspace_hits") - int_field(&before, "keyspace_hits"),
        2
    );
    assert_eq!(
        int_field(&after, "keyspace_misses") - int_field(&before, "keyspace_misses"),
        1
    );
    assert!(
        int_field(&after, "total_commands_processed")
            >= int_field(&before, "total_commands_processed") + 5
    );
    assert!(
        int_field(&after, "total_net_input_bytes") > int_field(&before, "total_net_input_bytes")
    );
    assert!(int_field(&after, "total_connections_received") >= 1);

    let ks: String = q(&mut c, &["INFO", "keyspace"]).await.unwrap();
    assert_eq!(ks, "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n");

    let m = info(&mut c, "memory").await;
    assert!(int_field(&m, "used_memory") > 0);
    assert_eq!(
        int_field(&m, "used_memory"),
        srv.running.shared.store.budget().used()
    );

    // CONFIG RESETSTAT zeroes the counters.
    let _: () = q(&mut c, &["CONFIG", "RESETSTAT"]).await.unwrap();
    let reset = info(&mut c, "stats").await;
    assert_eq!(int_field(&reset, "keyspace_hits"), 0);
    assert_eq!(int_field(&reset, "keyspace_misses"), 0);
    assert!(int_field(&reset, "total_commands_processed") < 5);
}

#[tokio::test]
async fn info_resp3_is_verbatim_and_works_inside_exec() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    r.cmd(&["HELLO", "3"]).await;
    read_raw_reply(&mut r).await;
    r.cmd(&["INFO", "server"]).await;
    let reply = read_raw_reply(&mut r).await;
    assert!(
        reply.starts_with('=') && reply.contains("\r\ntxt:# Server\r\nredis_version:7.2.0\r\n"),
        "{reply}"
    );

    // Inside EXEC every shard is locked by the connection: INFO, CONFIG and friends must not
    // lock them again.
    let mut c = srv.client().await;
    let _: () = q(&mut c, &["SET", "k", "v"]).await.unwrap();
    let mut r = srv.raw().await;
    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    for cmd in [
        &["INFO"][..],
        &["INFO", "keyspace"],
        &["CONFIG", "RESETSTAT"],
        &["CONFIG", "SET", "maxmemory", "300mb"],
        &["GET", "k"],
    ] {
        rt(&mut r, cmd, b"+QUEUED\r\n").await;
    }
    r.cmd(&["EXEC"]).await;
    let reply = tokio::time::timeout(Duration::from_secs(5), read_raw_reply(&mut r))
        .await
        .expect("EXEC must not deadlock");
    assert!(reply.starts_with("*5\r\n"), "{reply}");
    assert!(
        reply.contains("db0:keys=1,expires=0,avg_ttl=0\r\n"),
        "{reply}"
    );
    assert!(reply.ends_with("+OK\r\n+OK\r\n$1\r\nv\r\n"), "{reply}");
    let m: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxmemory"]).await.unwrap();
    assert_eq!(
        m,
        vec!["maxmemory".to_string(), (300u64 * 1024 * 1024).to_string()]
    );
}

#[tokio::test]
async fn config_get_set() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxmemory"]).await.unwrap();
    assert_eq!(
        v,
        vec!["maxmemory".to_string(), (256u64 * 1024 * 1024).to_string()]
    );

    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "100mb"])
        .await
        .unwrap();
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxmemory"]).await.unwrap();
    assert_eq!(v, vec!["maxmemory", "104857600"]);
    assert_eq!(srv.running.shared.store.budget().limit(), 104857600);
    assert_eq!(info(&mut c, "memory").await["maxmemory"], "104857600");
    let _: () = q(&mut c, &["config", "set", "MAXMEMORY", "2000000"])
        .await
        .unwrap();
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxmemory"]).await.unwrap();
    assert_eq!(v[1], "2000000");

    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .await
        .unwrap();
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxmemory-policy"])
        .await
        .unwrap();
    assert_eq!(v, vec!["maxmemory-policy", "noeviction"]);
    assert_eq!(
        info(&mut c, "memory").await["maxmemory_policy"],
        "noeviction"
    );

    // Several pairs at once; CONFIG GET with patterns (case-insensitive) and several patterns.
    let _: () = q(
        &mut c,
        &["CONFIG", "SET", "maxclients", "50", "timeout", "30"],
    )
    .await
    .unwrap();
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "maxclients", "TIME*"])
        .await
        .unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v["maxclients"], "50");
    assert_eq!(v["timeout"], "30");
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "maxmemory*"]).await.unwrap();
    let mut keys: Vec<&String> = v.keys().collect();
    keys.sort();
    // Redis 7.0's five (the two it adds are reported, not applied).
    assert_eq!(
        keys,
        vec![
            "maxmemory",
            "maxmemory-clients",
            "maxmemory-eviction-tenacity",
            "maxmemory-policy",
            "maxmemory-samples"
        ]
    );
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "*"]).await.unwrap();
    for k in [
        "maxmemory",
        "maxmemory-policy",
        "maxmemory-samples",
        "maxclients",
        "timeout",
        "proto-max-bulk-len",
        "client-query-buffer-limit",
        "port",
        "bind",
        "save",
        "appendonly",
    ] {
        assert!(v.contains_key(k), "CONFIG GET * lacks {k}");
    }
    assert_eq!(v["port"], srv.addr.port().to_string());
    assert_eq!(v["bind"], "127.0.0.1");
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "save"]).await.unwrap();
    assert_eq!(v, vec!["save", ""]);
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "appendonly"]).await.unwrap();
    assert_eq!(v, vec!["appendonly", "no"]);
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "nosuch*"]).await.unwrap();
    assert!(v.is_empty());

    let mut r = srv.raw().await;
    rt(
        &mut r,
        &["CONFIG", "SET", "foo", "1"],
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CONFIG", "SET", "maxmemory", "lots"],
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CONFIG", "SET", "maxmemory-policy", "random"],
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CONFIG", "SET", "maxmemory"],
        b"-ERR wrong number of arguments for 'config|set' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CONFIG", "GET"],
        b"-ERR wrong number of arguments for 'config|get' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CONFIG"],
        b"-ERR wrong number of arguments for 'config' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CONFIG", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n",
    )
    .await;
    // All or nothing: a bad pair leaves the good one unapplied.
    rt(
        &mut r,
        &["CONFIG", "SET", "maxclients", "60", "foo", "1"],
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n",
    )
    .await;
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxclients"]).await.unwrap();
    assert_eq!(v[1], "50");

    // RESP3: a map.
    r.cmd(&["HELLO", "3"]).await;
    read_raw_reply(&mut r).await;
    rt(
        &mut r,
        &["CONFIG", "GET", "appendonly"],
        b"%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
    )
    .await;

    let help: Vec<String> = q(&mut c, &["CONFIG", "HELP"]).await.unwrap();
    assert!(help[0].starts_with("CONFIG <subcommand>"));
    assert!(help.iter().any(|l| l.starts_with("GET")));
}

#[tokio::test]
async fn config_set_lower_maxmemory_evicts() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let value = "x".repeat(1000);
    for i in 0..2000 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), &value]).await.unwrap();
    }
    assert!(srv.running.shared.store.budget().used() > 2_000_000);
    let _: () = q(&mut c, &["CONFIG", "SET", "maxmemory", "1mb"])
        .await
        .unwrap();
    assert!(srv.running.shared.store.budget().used() <= 1024 * 1024);
    let f = info(&mut c, "stats").await;
    assert!(int_field(&f, "evicted_keys") > 0);
}

#[tokio::test]
async fn command_introspection() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let count: i64 = q(&mut c, &["COMMAND", "COUNT"]).await.unwrap();
    assert!(count > 20);
    let all: Vec<Value> = q(&mut c, &["COMMAND"]).await.unwrap();
    assert_eq!(all.len() as i64, count);

    let info: Vec<Value> = q(&mut c, &["COMMAND", "INFO", "get", "NOSUCH", "ping"])
        .await
        .unwrap();
    assert_eq!(info.len(), 3);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else {
        panic!("{:?}", info[0])
    };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    let Value::Array(flags) = &get[2] else {
        panic!()
    };
    assert!(
        flags.contains(&Value::SimpleString("readonly".into())),
        "{flags:?}"
    );
    assert!(flags.contains(&Value::SimpleString("fast".into())));
    assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);
    let Value::Array(cats) = &get[6] else {
        panic!()
    };
    assert!(
        cats.contains(&Value::SimpleString("@read".into())),
        "{cats:?}"
    );
    let Value::Array(ping) = &info[2] else {
        panic!()
    };
    assert_eq!(ping[1], Value::Int(-1));
    assert_eq!(&ping[3..6], &[Value::Int(0), Value::Int(0), Value::Int(0)]);

    let cfg_info: Vec<Value> = q(&mut c, &["COMMAND", "INFO", "config"]).await.unwrap();
    let Value::Array(cfg) = &cfg_info[0] else {
        panic!()
    };
    let Value::Array(flags) = &cfg[2] else {
        panic!()
    };
    assert!(flags.contains(&Value::SimpleString("admin".into())));

    let list: Vec<String> = q(&mut c, &["COMMAND", "LIST"]).await.unwrap();
    // Subcommands too, as Redis 7 lists them; COMMAND COUNT counts commands.
    assert!(list.len() as i64 > count);
    for name in [
        "ping",
        "get",
        "config",
        "client",
        "info",
        "multi",
        "config|get",
    ] {
        assert!(list.contains(&name.to_string()), "{name}");
    }
    let mut cl: Vec<String> = q(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "c*nfig"],
    )
    .await
    .unwrap();
    cl.sort();
    assert_eq!(cl, vec!["config"]);
    let none: Vec<String> = q(&mut c, &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"])
        .await
        .unwrap();
    assert!(none.is_empty());
    let admin: Vec<String> = q(&mut c, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"])
        .await
        .unwrap();
    // Redis 7.0's answer: the subcommands of a command that has them (`config|get`).
    assert!(admin.contains(&"config|get".to_string()) && !admin.contains(&"get".to_string()));

    let docs: HashMap<String, Value> = q(&mut c, &["COMMAND", "DOCS", "get", "set", "nosuch"])
        .await
        .unwrap();
    assert_eq!(docs.len(), 2);
    assert!(docs.contains_key("get") && docs.contains_key("set"));
    let all_docs: HashMap<String, Value> = q(&mut c, &["COMMAND", "DOCS"]).await.unwrap();
    assert_eq!(all_docs.len() as i64, count);

    let keys: Vec<String> = q(&mut c, &["COMMAND", "GETKEYS", "SET", "a", "b"])
        .await
        .unwrap();
    assert_eq!(keys, vec!["a"]);
    let keys: Vec<String> = q(&mut c, &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"])
        .await
        .unwrap();
    assert_eq!(keys, vec!["a", "b"]);

    let mut r = srv.raw().await;
    rt(
        &mut r,
        &["COMMAND", "GETKEYS", "PING"],
        b"-ERR The command has no key arguments\r\n",
    )
    .await;
    rt(
        &mut r,
        &["COMMAND", "GETKEYS", "NOSUCH", "a"],
        b"-ERR Invalid command specified\r\n",
    )
    .await;
    rt(
        &mut r,
        &["COMMAND", "GETKEYS", "GET", "a", "b"],
        b"-ERR Invalid number of arguments specified for command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["COMMAND", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n",
    )
    .await;
    rt(
        &mut r,
        &["COMMAND", "COUNT", "x"],
        b"-ERR wrong number of arguments for 'command|count' command\r\n",
    )
    .await;
    rt(&mut r, &["COMMAND", "INFO", "nosuch"], b"*1\r\n$-1\r\n").await;
    // RESP3: flags are sets, DOCS is a map (of maps, sets and arrays).
    r.cmd(&["HELLO", "3"]).await;
    read_raw_reply(&mut r).await;
    r.cmd(&["COMMAND", "INFO", "ping"]).await;
    let reply = read_raw_reply(&mut r).await;
    assert!(
        reply.starts_with("*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n~"),
        "{reply}"
    );
    rt(
        &mut r,
        &["COMMAND", "DOCS", "ping"],
        // redis-server 7.0's bytes (tests/redis_diff/command_docs.rs compares every command).
        b"%1\r\n$4\r\nping\r\n%5\r\n$7\r\nsummary\r\n$15\r\nPing the server\r\n\
          $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n\
          $10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n%3\r\n\
          $4\r\nname\r\n$7\r\nmessage\r\n$4\r\ntype\r\n$6\r\nstring\r\n\
          $5\r\nflags\r\n~1\r\n+optional\r\n",
    )
    .await;
}

#[tokio::test]
async fn client_name_id_list_info() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(&mut r, &["CLIENT", "GETNAME"], b"$-1\r\n").await;
    rt(&mut r, &["CLIENT", "SETNAME", "worker-1"], b"+OK\r\n").await;
    rt(&mut r, &["CLIENT", "GETNAME"], b"$8\r\nworker-1\r\n").await;
    rt(
        &mut r,
        &["CLIENT", "SETNAME", "bad name"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CLIENT", "SETNAME", "bad\nname"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    rt(&mut r, &["CLIENT", "GETNAME"], b"$8\r\nworker-1\r\n").await;
    r.cmd(&["CLIENT", "ID"]).await;
    let id: u64 = read_raw_line(&mut r)
        .await
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!(id > 0);

    let mut c = srv.client().await;
    let list: String = q(&mut c, &["CLIENT", "LIST"]).await.unwrap();
    let ours: Vec<&str> = list
        .lines()
        .filter(|l| l.contains(" name=worker-1 "))
        .collect();
    assert_eq!(ours.len(), 1, "{list}");
    assert!(
        ours[0].starts_with(&format!("id={id} addr=127.0.0.1:")),
        "{}",
        ours[0]
    );
    assert!(
        ours[0].contains(" cmd=client|id ") || ours[0].contains(" cmd=client "),
        "{}",
        ours[0]
    );
    assert!(list.ends_with('\n'));
    assert!(list.lines().count() >= 2);
    let only: String = q(&mut c, &["CLIENT", "LIST", "ID", &id.to_string()])
        .await
        .unwrap();
    assert_eq!(only.lines().count(), 1);
    assert!(only.contains("name=worker-1"));
    let normal: String = q(&mut c, &["CLIENT", "LIST", "TYPE", "normal"])
        .await
        .unwrap();
    assert!(normal.contains("name=worker-1"));
    let pubsub: String = q(&mut c, &["CLIENT", "LIST", "TYPE", "pubsub"])
        .await
        .unwrap();
    assert_eq!(pubsub, "");
    let replicas: String = q(&mut c, &["CLIENT", "LIST", "TYPE", "replica"])
        .await
        .unwrap();
    assert_eq!(replicas, "");

    r.cmd(&["CLIENT", "INFO"]).await;
    let reply = read_raw_reply(&mut r).await;
    assert!(
        reply.contains(&format!("id={id} "))
            && reply.contains("name=worker-1")
            && reply.ends_with("\n\r\n")
    );

    // An empty name clears it.
    rt(&mut r, &["CLIENT", "SETNAME", ""], b"+OK\r\n").await;
    rt(&mut r, &["CLIENT", "GETNAME"], b"$-1\r\n").await;

    rt(
        &mut r,
        &["CLIENT", "SETINFO", "LIB-NAME", "mylib"],
        b"+OK\r\n",
    )
    .await;
    rt(&mut r, &["CLIENT", "SETINFO", "lib-ver", "1.0"], b"+OK\r\n").await;
    rt(
        &mut r,
        &["CLIENT", "SETINFO", "color", "red"],
        b"-ERR Unrecognized option 'color'\r\n",
    )
    .await;
    rt(&mut r, &["CLIENT", "NO-EVICT", "on"], b"+OK\r\n").await;
    rt(&mut r, &["CLIENT", "NO-TOUCH", "off"], b"+OK\r\n").await;
    rt(
        &mut r,
        &["CLIENT", "NO-EVICT", "maybe"],
        b"-ERR syntax error\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CLIENT", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CLIENT"],
        b"-ERR wrong number of arguments for 'client' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CLIENT", "SETNAME"],
        b"-ERR wrong number of arguments for 'client|setname' command\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CLIENT", "LIST", "TYPE", "weird"],
        b"-ERR Unknown client type 'weird'\r\n",
    )
    .await;
    rt(
        &mut r,
        &["CLIENT", "LIST", "ID", "abc"],
        b"-ERR Invalid client ID\r\n",
    )
    .await;
    let help: Vec<String> = q(&mut c, &["CLIENT", "HELP"]).await.unwrap();
    assert!(help[0].starts_with("CLIENT <subcommand>"));

    // RESP3: CLIENT LIST is a verbatim string.
    r.cmd(&["HELLO", "3"]).await;
    read_raw_reply(&mut r).await;
    r.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]).await;
    let reply = read_raw_reply(&mut r).await;
    assert!(
        reply.starts_with('=') && reply.contains("\r\ntxt:id="),
        "{reply}"
    );
}

#[tokio::test]
async fn client_kill_closes_other_connections() {
    let srv = TestServer::start().await;
    let mut me = srv.raw().await;
    let mut victim = srv.raw().await;
    victim.cmd(&["CLIENT", "ID"]).await;
    let vid = read_raw_line(&mut victim)
        .await
        .trim_start_matches(':')
        .to_string();
    rt(&mut me, &["CLIENT", "KILL", "ID", &vid], b":1\r\n").await;
    assert!(
        victim.is_closed().await,
        "killed client must be disconnected"
    );
    rt(&mut me, &["CLIENT", "KILL", "ID", &vid], b":0\r\n").await;
    rt(&mut me, &["PING"], b"+PONG\r\n").await;

    // By address, new form and old form.
    let mut v2 = srv.raw().await;
    rt(&mut v2, &["PING"], b"+PONG\r\n").await;
    let addr = v2.stream.local_addr().unwrap().to_string();
    rt(&mut me, &["CLIENT", "KILL", "ADDR", &addr], b":1\r\n").await;
    assert!(v2.is_closed().await);
    let mut v3 = srv.raw().await;
    rt(&mut v3, &["PING"], b"+PONG\r\n").await;
    let addr = v3.stream.local_addr().unwrap().to_string();
    rt(&mut me, &["CLIENT", "KILL", &addr], b"+OK\r\n").await;
    assert!(v3.is_closed().await);
    rt(
        &mut me,
        &["CLIENT", "KILL", "1.2.3.4:5"],
        b"-ERR No such client\r\n",
    )
    .await;

    // SKIPME defaults to yes: killing our own address through the new form kills nobody.
    let my_addr = me.stream.local_addr().unwrap().to_string();
    rt(&mut me, &["CLIENT", "KILL", "ADDR", &my_addr], b":0\r\n").await;
    rt(
        &mut me,
        &["CLIENT", "KILL", "ID", "0"],
        b"-ERR client-id should be greater than 0\r\n",
    )
    .await;
    rt(
        &mut me,
        &["CLIENT", "KILL", "ID", "1", "BOGUS", "x"],
        b"-ERR syntax error\r\n",
    )
    .await;
    // Three arguments is the old form: "ID" is taken as an address.
    rt(
        &mut me,
        &["CLIENT", "KILL", "ID"],
        b"-ERR No such client\r\n",
    )
    .await;
    rt(
        &mut me,
        &["CLIENT", "KILL", "ID", "1", "SKIPME"],
        b"-ERR syntax error\r\n",
    )
    .await;
    rt(&mut me, &["PING"], b"+PONG\r\n").await;

    // TYPE pubsub kills subscribers only.
    let mut sub = srv.raw().await;
    sub.cmd(&["SUBSCRIBE", "ch"]).await;
    exp(&mut sub, b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n").await;
    rt(&mut me, &["CLIENT", "KILL", "TYPE", "pubsub"], b":1\r\n").await;
    assert!(sub.is_closed().await);
    rt(&mut me, &["PING"], b"+PONG\r\n").await;

    // SKIPME no: a client can kill itself. (Redis sends ":1" before closing; Ferrite's
    // connection loop may close before flushing it, so only the close is checked.)
    me.cmd(&["CLIENT", "KILL", "ADDR", &my_addr, "SKIPME", "no"])
        .await;
    assert!(me.is_closed().await);
    let mut c = srv.client().await;
    let list: String = q(&mut c, &["CLIENT", "LIST"]).await.unwrap();
    assert!(!list.contains(&format!("addr={my_addr} ")), "{list}");
}

#[tokio::test]
async fn persistence_stubs_and_misc() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(&mut r, &["SAVE"], b"-ERR Ferrite does not persist data\r\n").await;
    rt(
        &mut r,
        &["BGSAVE"],
        b"-ERR Ferrite does not persist data\r\n",
    )
    .await;
    rt(&mut r, &["ROLE"], b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n").await;
    rt(&mut r, &["DEBUG", "SLEEP", "0"], b"+OK\r\n").await;
    rt(
        &mut r,
        &["DEBUG", "NOPE"],
        b"-ERR unknown subcommand 'NOPE'. Try DEBUG HELP.\r\n",
    )
    .await;
    let mut c = srv.client().await;
    let ls: i64 = q(&mut c, &["LASTSAVE"]).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(ls <= now && ls > now - 600, "{ls} vs {now}");
    let lol: String = q(&mut c, &["LOLWUT"]).await.unwrap();
    assert!(lol.contains("Redis ver. 7.2.0"));
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let srv = TestServer::start().await;
    let mut r = srv.raw().await;
    rt(
        &mut r,
        &["SHUTDOWN", "ABORT"],
        b"-ERR No shutdown in progress.\r\n",
    )
    .await;
    rt(&mut r, &["SHUTDOWN", "PLEASE"], b"-ERR syntax error\r\n").await;
    rt(
        &mut r,
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        b"-ERR syntax error\r\n",
    )
    .await;
    rt(&mut r, &["MULTI"], b"+OK\r\n").await;
    rt(
        &mut r,
        &["SHUTDOWN"],
        b"-ERR Command not allowed inside a transaction: 'shutdown'\r\n",
    )
    .await;
    rt(&mut r, &["DISCARD"], b"+OK\r\n").await;
    let mut other = srv.raw().await;
    rt(&mut other, &["PING"], b"+PONG\r\n").await;

    r.cmd(&["SHUTDOWN", "NOSAVE"]).await;
    assert!(
        r.is_closed().await,
        "the connection that asked is closed without a reply"
    );
    assert!(other.is_closed().await, "every connection is closed");
    tokio::time::timeout(Duration::from_secs(5), srv.running.wait())
        .await
        .expect("server stops");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if tokio::net::TcpStream::connect(srv.addr).await.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting connections after SHUTDOWN"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A field of one CLIENT LIST line, as a number.
fn client_field(line: &str, field: &str) -> u64 {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        .parse()
        .unwrap()
}

/// A large reply grows the reply buffer, which is given back as soon as the reply is written
/// out, not after an idle delay: it is charged to `maxmemory`, and holding it would evict keys
/// for nothing. (Before, it was kept until the connection stayed idle for 500 ms; the read
/// buffer of a large SET likewise, see `resp/buffers.rs`.)
#[tokio::test]
async fn a_grown_reply_buffer_is_given_back_once_written_out() {
    let srv = TestServer::start().await;
    let mut admin = srv.client().await;
    let mut reader = srv.raw().await;
    reader
        .roundtrip(&["CLIENT", "SETNAME", "bigreader"], b"+OK\r\n")
        .await;
    let big = "x".repeat(16 << 20);
    let _: () = q(&mut admin, &["SET", "big", &big]).await.unwrap();
    let sizes = |list: String| {
        let line = list
            .lines()
            .find(|l| l.contains(" name=bigreader "))
            .expect("the reader is listed")
            .to_string();
        // Redis's fields: the reply buffer's first 16 KiB are `rbs`, the rest `omem`.
        let (omem, rbs) = (client_field(&line, "omem"), client_field(&line, "rbs"));
        (omem + rbs, rbs)
    };
    // The reader asks for 16 MiB and reads none of it: the reply waits in its reply buffer
    // (what the socket took included: the allocation is what counts).
    reader.cmd(&["GET", "big"]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (omem, _) = sizes(q(&mut admin, &["CLIENT", "LIST"]).await.unwrap());
        if omem >= 16 << 20 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "omem={omem} while a 16 MiB reply is unread"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let header = format!("${}\r\n", big.len());
    let reply = reader.read_n(header.len() + big.len() + 2).await;
    assert_eq!(reply.len(), header.len() + big.len() + 2);
    assert!(reply.starts_with(header.as_bytes()) && reply.ends_with(b"x\r\n"));
    // Written out: both buffers are small again, well before the 500 ms a subscriber's buffer
    // is kept (`BUF_SHRINK_AFTER`). The server dropped it when its last write returned, before
    // this client had read the last bytes.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(250);
    loop {
        let (omem, rbs) = sizes(q(&mut admin, &["CLIENT", "LIST"]).await.unwrap());
        if omem <= 64 * 1024 && rbs <= 64 * 1024 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "buffers still omem={omem} rbs={rbs} after the reply was read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It still works, and grows again on demand.
    reader.cmd(&["GET", "big"]).await;
    let again = reader.read_n(header.len() + big.len() + 2).await;
    assert_eq!(again, reply);
}

/// A client that streams pipelined commands gets a larger read buffer (fewer, larger reads:
/// `STREAM_READ_MAX` in src/resp/buffers.rs), and gives it back once it has been quiet for
/// `BUF_SHRINK_AFTER` (500 ms): an idle connection holds the initial 16 KiB again.
#[tokio::test]
async fn a_streaming_clients_read_buffer_goes_back_once_quiet() {
    let srv = TestServer::start().await;
    let mut admin = srv.client().await;
    let mut c = srv.raw().await;
    c.roundtrip(&["CLIENT", "SETNAME", "streamer"], b"+OK\r\n")
        .await;
    let value = "v".repeat(1000);
    let mut pipeline = Vec::new();
    for i in 0..5000 {
        let key = format!("k{i}");
        pipeline.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1000\r\n{value}\r\n",
                key.len()
            )
            .as_bytes(),
        );
    }
    c.send(&pipeline).await;
    let replies = c.read_n(5 * 5000).await;
    assert_eq!(replies, b"+OK\r\n".repeat(5000));
    let rbs = |list: String| {
        let line = list
            .lines()
            .find(|l| l.contains(" name=streamer "))
            .expect("the client is listed")
            .to_string();
        // The read (query) buffer: `qbuf-free` of an idle client (nothing in it).
        client_field(&line, "qbuf-free")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = rbs(q(&mut admin, &["CLIENT", "LIST"]).await.unwrap());
        if now <= 16 * 1024 {
            break;
        }
        assert!(
            now <= 128 * 1024,
            "qbuf-free={now}: a streaming read buffer is capped"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "qbuf-free={now} long after the client went quiet"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.roundtrip(
        &["GET", "k4999"],
        format!("$1000\r\n{value}\r\n").as_bytes(),
    )
    .await;
}

/// `used_memory_dataset` is the stored data: the slow log and Lua, charged to the budget too,
/// are not in it (it read non-zero after FLUSHALL when a slow DEL had been logged).
#[tokio::test]
async fn used_memory_dataset_leaves_out_the_slow_log_and_lua() {
    let srv = TestServer::start().await;
    let mut c = srv.client().await;
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"])
        .await
        .unwrap();
    let _: () = q(&mut c, &["SET", "k", "v"]).await.unwrap();
    let _: i64 = q(&mut c, &["EVAL", "return 1", "0"]).await.unwrap();
    let _: () = q(&mut c, &["FLUSHALL"]).await.unwrap();
    let _: () = q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"])
        .await
        .unwrap();
    let len: i64 = q(&mut c, &["SLOWLOG", "LEN"]).await.unwrap();
    assert!(len > 0, "the slow log holds entries");
    let memory = info(&mut c, "memory").await;
    assert_eq!(memory["used_memory_dataset"], "0", "{memory:?}");
}
